/* cublas.cpp: CPU substitutes, resolved at link time, for the cuBLAS calls snacrt uses:
 * cublasCreate/Destroy/SetStream/SetMathMode/SetWorkspace, cublasSgemm, cublasSgemmStridedBatched, cublasGemmEx.
 * On a stream that captures a graph (runtime.cpp) a GEMM is recorded (pointers, sizes and alpha/beta by value).
 * Column-major with transposes, leading dimensions, alpha/beta (beta == 0 never reads C), fp32 accumulation;
 * GemmEx accepts f32, bf16 and f16 operands (converted to f32; A and B of one type, as cuBLAS requires) and f32
 * output. Pointer mode host only. CUDASIM_GEMM_SKIP=1 (bench/bench_gpu_model: only the counters matter) skips the
 * arithmetic: C = beta * C (zero when beta == 0); so does sampled mode (cudasim_set_sample_blocks). The counters
 * (FLOPs 2mnk x batch, each operand once) come from the shapes either way. */
#include <cublas_v2.h>
#include "counters.h"
#include "cudasim_api.h"
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

namespace cudasim {   /* runtime.cpp */
bool capturing(cudaStream_t stream);
void record_op(cudaStream_t stream, const char *what, std::function<void()> op);
}

struct cublasContext { cudaStream_t stream; cublasMath_t math; };

namespace {
bool skip_arithmetic() {
    static int skip = -1;
    if (skip < 0) { const char *e = getenv("CUDASIM_GEMM_SKIP"); skip = e && atoi(e) ? 1 : 0; }
    return skip == 1 || cudasim_get_sample_blocks() > 0;   /* sampled mode: results are wrong anyway */
}
/* C (m x n, ld ldc) = beta * C, when the arithmetic is skipped. */
void scale_c(int m, int n, float beta, float *C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] = beta == 0.0f ? 0.0f : beta * C[(size_t)j * ldc + i];
}
/* Gather op(X) (rows x cols, column-major, leading dim ld) into a dense row-major float copy. */
template <class Load>
void gather(std::vector<float> &out, cublasOperation_t op, int rows, int cols, int ld, Load load) {
    out.resize((size_t)rows * cols);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = op == CUBLAS_OP_N ? load((size_t)c * ld + r) : load((size_t)r * ld + c);
}

float bf16_to_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { int e = -1; do { e++; man <<= 1; } while (!(man & 0x400u)); u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13); }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f; memcpy(&f, &u, 4); return f;
}

bool load_fn(cudaDataType t, const void *p, std::vector<float> &out, cublasOperation_t op, int rows, int cols, int ld) {
    switch (t) {
    case CUDA_R_32F: { const float *x = (const float *)p; gather(out, op, rows, cols, ld, [x](size_t i) { return x[i]; }); return true; }
    case CUDA_R_16BF: { const uint16_t *x = (const uint16_t *)p; gather(out, op, rows, cols, ld, [x](size_t i) { return bf16_to_f32(x[i]); }); return true; }
    case CUDA_R_16F: { const uint16_t *x = (const uint16_t *)p; gather(out, op, rows, cols, ld, [x](size_t i) { return f16_to_f32(x[i]); }); return true; }
    default: return false;
    }
}

/* C (m x n, ld ldc) = alpha * opA (m x k, row-major dense) @ opB (k x n, row-major dense) + beta * C. */
void gemm_dense(int m, int n, int k, float alpha, const std::vector<float> &a, const std::vector<float> &b, float beta,
                float *C, int ldc) {
    std::vector<float> acc((size_t)n);
    for (int i = 0; i < m; i++) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int l = 0; l < k; l++) {
            float av = a[(size_t)i * k + l];
            const float *brow = &b[(size_t)l * n];
            for (int j = 0; j < n; j++) acc[(size_t)j] += av * brow[j];
        }
        for (int j = 0; j < n; j++) {
            float *c = &C[(size_t)j * ldc + i];
            *c = beta == 0.0f ? alpha * acc[(size_t)j] : alpha * acc[(size_t)j] + beta * *c;
        }
    }
}

bool bad_dims(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb, int ldc) {
    if (m < 0 || n < 0 || k < 0) return true;
    if (lda < (ta == CUBLAS_OP_N ? m : k) || lda < 1) return true;
    if (ldb < (tb == CUBLAS_OP_N ? k : n) || ldb < 1) return true;
    if (ldc < m || ldc < 1) return true;
    return (ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T);
}
} // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) { *handle = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH}; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) { delete handle; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) { handle->stream = stream; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) { handle->math = mode; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t bytes) {
    (void)workspace; (void)bytes;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}
const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(simulated error)";
    }
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc) {
    return cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float *alpha, const float *A, int lda,
                                         long long int strideA, const float *B, int ldb, long long int strideB,
                                         const float *beta, float *C, int ldc, long long int strideC, int batchCount) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bad_dims(transa, transb, m, n, k, lda, ldb, ldc) || batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (cudasim::capturing(handle->stream)) {
        float al = *alpha, be = *beta;
        cudasim::record_op(handle->stream, "cublasSgemmStridedBatched", [=]() {
            cublasContext plain{nullptr, CUBLAS_DEFAULT_MATH};
            cublasSgemmStridedBatched(&plain, transa, transb, m, n, k, &al, A, lda, strideA, B, ldb, strideB, &be, C,
                                      ldc, strideC, batchCount);
        });
        return CUBLAS_STATUS_SUCCESS;
    }
    cudasim::counters_gemm(batchCount > 1 ? "cublasSgemmStridedBatched" : "cublasSgemm", m, n, k, batchCount, 4, 4,
                           *beta != 0.0f, handle->math == CUBLAS_TF32_TENSOR_OP_MATH ? 1 : 0);
    if (skip_arithmetic()) {
        for (int i = 0; i < batchCount; i++) scale_c(m, n, *beta, C + i * strideC, ldc);
        return CUBLAS_STATUS_SUCCESS;
    }
    std::vector<float> a, b;
    for (int i = 0; i < batchCount; i++) {
        load_fn(CUDA_R_32F, A + i * strideA, a, transa, m, k, lda);
        load_fn(CUDA_R_32F, B + i * strideB, b, transb, k, n, ldb);
        gemm_dense(m, n, k, *alpha, a, b, *beta, C + i * strideC, ldc);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    (void)algo;
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bad_dims(transa, transb, m, n, k, lda, ldb, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
    if (Atype != Btype) return CUBLAS_STATUS_NOT_SUPPORTED;   /* as real cuBLAS: one dtype for A and B */
    if (Ctype != CUDA_R_32F || (computeType != CUBLAS_COMPUTE_32F && computeType != CUBLAS_COMPUTE_32F_FAST_TF32 &&
                                computeType != CUBLAS_COMPUTE_32F_FAST_16BF))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (cudasim::capturing(handle->stream)) {
        float al = *(const float *)alpha, be = *(const float *)beta;
        cudasim::record_op(handle->stream, "cublasGemmEx", [=]() {
            cublasContext plain{nullptr, CUBLAS_DEFAULT_MATH};
            cublasGemmEx(&plain, transa, transb, m, n, k, &al, A, Atype, lda, B, Btype, ldb, &be, C, Ctype, ldc,
                         computeType, algo);
        });
        return CUBLAS_STATUS_SUCCESS;
    }
    int ab = Atype == CUDA_R_32F ? 4 : 2;
    int unit = ab == 2 ? 2 : computeType == CUBLAS_COMPUTE_32F_FAST_TF32 || handle->math == CUBLAS_TF32_TENSOR_OP_MATH ? 1 : 0;
    cudasim::counters_gemm(ab == 2 ? (Atype == CUDA_R_16BF ? "cublasGemmEx(bf16)" : "cublasGemmEx(f16)")
                                   : "cublasGemmEx(f32)", m, n, k, 1, ab, ab, *(const float *)beta != 0.0f, unit);
    if (skip_arithmetic()) {
        scale_c(m, n, *(const float *)beta, (float *)C, ldc);
        return CUBLAS_STATUS_SUCCESS;
    }
    std::vector<float> a, b;
    if (!load_fn(Atype, A, a, transa, m, k, lda) || !load_fn(Btype, B, b, transb, k, n, ldb))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    gemm_dense(m, n, k, *(const float *)alpha, a, b, *(const float *)beta, (float *)C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
