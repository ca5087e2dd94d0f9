/* gemm_split_bf16.cuh: the two small kernels around the default GEMM of bf16 weights above the small-M rows
 * (cuda/cublas.c, gemm_split_bf16): A (M,K) f32 is split into A_hi = bf16(A) and A_lo = bf16(A - A_hi), stacked as one
 * (2M, K) bf16 matrix for one cublasGemmEx (bf16 x bf16 -> f32) that reads the weights once; the two halves of its
 * result (2M, N) are then summed into C. A_hi + A_lo is A to ~2^-17 relative (two 8-bit significands), so C is
 * within f32 rounding of the widen-to-f32 path, at bf16 tensor-core speed. Rounding as host/dtype.c (nearest even). */
#include "cuda/common.cuh"

/* f32 bits -> bf16 bits, round to nearest even, NaN kept quiet (as f32_to_bf16_rows_kernel, half_to_f32.cuh) */
__device__ __forceinline__ uint16_t srt_split_round_bf16(unsigned u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* dst rows [0, rows) = hi, rows [rows, 2 rows) = lo, each (rows, cols) packed bf16; src (rows, cols) f32, row
 * stride ld. A finite value that would round to infinity keeps its truncation as hi (the remainder goes to lo);
 * Inf / NaN get lo 0, so hi + lo is the value itself. */
__global__ void split_bf16_rows_kernel(const float *src, int64_t ld, int64_t rows, int64_t cols, uint16_t *dst) {
    srt_grid_stride(i, rows * cols) {
        float a = src[(i / cols) * ld + i % cols];
        unsigned u = __float_as_uint(a);
        uint16_t hi = srt_split_round_bf16(u), lo = 0;
        if ((u & 0x7f800000u) != 0x7f800000u) {                    /* finite */
            if ((hi & 0x7f80u) == 0x7f80u) hi = (uint16_t)(u >> 16);   /* rounded up to Inf: truncate instead */
            lo = srt_split_round_bf16(__float_as_uint(a - __uint_as_float((unsigned)hi << 16)));
        }
        dst[i] = hi;
        dst[rows * cols + i] = lo;
    }
}

extern "C" srt_status srt_cuda_split_bf16_rows(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                               uint16_t *dst, cudaStream_t stream) {
    if (rows * cols == 0) return SRT_OK;
    LAUNCH(split_bf16_rows_kernel, srt_blocks_for(rows * cols), SRT_BLOCK, 0, stream, src, ld, rows, cols, dst);
    return SRT_LAUNCH_STATUS(split_bf16_rows_kernel);
}

/* C (rows, cols; row stride ldc) = alpha (C2[r] + C2[rows + r]) + beta C, C2 (2 rows, cols) packed; beta 0 never
 * reads C */
__global__ void sum_split_rows_kernel(const float *c2, int64_t rows, int64_t cols, float alpha, float beta, float *C,
                                      int64_t ldc) {
    srt_grid_stride(i, rows * cols) {
        float *y = C + (i / cols) * ldc + i % cols;
        float v = alpha * (c2[i] + c2[rows * cols + i]);
        *y = beta == 0.0f ? v : v + beta * *y;
    }
}

extern "C" srt_status srt_cuda_sum_split_rows(const float *c2, int64_t rows, int64_t cols, float alpha, float beta,
                                              float *C, int64_t ldc, cudaStream_t stream) {
    if (rows * cols == 0) return SRT_OK;
    LAUNCH(sum_split_rows_kernel, srt_blocks_for(rows * cols), SRT_BLOCK, 0, stream, c2, rows, cols, alpha, beta, C,
           ldc);
    return SRT_LAUNCH_STATUS(sum_split_rows_kernel);
}
