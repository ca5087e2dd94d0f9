/* lm_linear_split.c: the fused projections (lm_ops.h srt_linear_fused_args) of the "cuda" backend above the small-M
 * rows, for bf16 weights in bf16_gemm single mode (LM precision bf16: the normalized activations rounded to bf16 in
 * the norm kernel) or split mode (exact: hi + lo): one split (the RMSNorm prologue inside it), one tensor-core GEMM
 * over the whole fused weight (q|k|v rows, or interleaved gate|up rows), one sum that scatters q / k / v or applies
 * SwiGLU (cublas.c srt_cuda_gemm_split, gemm_split_bf16.cuh). Three launches instead of the 7-8 of
 * srt_linear_fused_by_ops (norm, a split + GEMM + sum per part, swiglu); the same values (the norm's sums in
 * lm_rmsnorm.cuh's order, each output column the same dot product). x_normed is not written.
 * srt_cuda_linear_qkv_product: the first two of those for q|k|v in single mode, the product left unscattered for the
 * qkv_rope_store_attention op (its rope reads q, k and v from it: the sum launch is gone). */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/kernels.h"
#include "lm/lm_ops.h"

srt_status srt_cuda_linear_fused_split(srt_cuda_ctx *c, const srt_linear_fused_args *a) {
    srt_gemm_args g = {.M = a->rows, .N = a->N, .K = a->K, .trans_b = 1, .alpha = 1.0f, .A = a->x, .lda = a->K,
                       .B = a->w, .ldb = a->K, .b_dtype = a->w_dtype};
    srt_cuda_split_sum_args ep = {.alpha = 1.0f, .y0 = a->y0};
    if (a->mode == SRT_LINEAR_SWIGLU) {
        ep.mode = SRT_SMALL_M_SWIGLU;
    } else {
        ep.mode = SRT_SMALL_M_SPLIT3;
        ep.n0 = a->n0;
        ep.n1 = a->n1;
        ep.y1 = a->y1;
        ep.y2 = a->y2;
    }
    return srt_cuda_gemm_split(c, &g, a->norm_w, a->eps, &ep);
}

srt_status srt_cuda_linear_qkv_product(srt_cuda_ctx *c, const srt_linear_fused_args *a, const float **qkv) {
    *qkv = NULL;
    if (a->mode != SRT_LINEAR_SPLIT3 || a->w_dtype != SRT_BF16 || c->bf16_gemm != SRT_CUDA_BF16_GEMM_SINGLE ||
        a->rows <= c->small_m_rows)
        return SRT_OK;
    /* as srt_cuda_gemm_split's scratch: A2 (rows, K) bf16, then C2 (rows, N) f32; one chunk only */
    size_t a2_bytes = ((size_t)a->rows * a->K * sizeof(uint16_t) + 255) & ~(size_t)255;
    size_t c2_bytes = (size_t)a->rows * a->N * sizeof(float);
    if (a2_bytes + c2_bytes > c->scratch_cap) return SRT_OK;
    void *buf = NULL;
    SRT_TRY(srt_cuda_scratch(c, 0, a2_bytes + c2_bytes, &buf));
    uint16_t *a2 = buf;                                   /* (rows, K) bf16 */
    float *c2 = (float *)((char *)buf + a2_bytes);        /* (rows, N) */
    SRT_TRY(srt_cuda_split_bf16_rows(a->x, a->K, a->rows, a->K, a->norm_w, a->eps, 0, a2, c->stream));
    const float one = 1.0f, zero = 0.0f;
    SRT_CHECK_CUBLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, a->N, a->rows, a->K, &one, a->w, CUDA_R_16BF,
                                  a->K, a2, CUDA_R_16BF, a->K, &zero, c2, CUDA_R_32F, a->N, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
    *qkv = c2;
    return SRT_OK;
}
