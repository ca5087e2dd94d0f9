/* half_to_f32.cuh: widen bf16 or IEEE f16 bit patterns to f32 (the B operand of gemm before cublasSgemm), and
 * round f32 rows to bf16 (the A operand of the bf16 tensor-core gemm). Integer-only, bit-exact with host/dtype.c. */
#include "cuda/common.cuh"
#include "cuda/f16_bits.cuh"


__global__ void half_to_f32_kernel(const uint16_t *src, float *dst, int64_t n, int is_bf16) {
    srt_grid_stride(i, n) {
        unsigned h = src[i];
        dst[i] = is_bf16 ? __uint_as_float(h << 16) : srt_f16_bits_to_f32(h);
    }
}

extern "C" srt_status srt_cuda_half_to_f32(const uint16_t *src, float *dst, int64_t n, int is_bf16, cudaStream_t stream) {
    if (n == 0) return SRT_OK;
    LAUNCH(half_to_f32_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, src, dst, n, is_bf16);
    return SRT_LAUNCH_STATUS(half_to_f32_kernel);
}

/* dst (rows, cols) bf16, packed = src (rows, cols) f32 with row stride ld; round to nearest even, NaN kept quiet */
__global__ void f32_to_bf16_rows_kernel(const float *src, int64_t ld, int64_t rows, int64_t cols, uint16_t *dst) {
    srt_grid_stride(i, rows * cols) {
        unsigned u = __float_as_uint(src[(i / cols) * ld + i % cols]);
        if ((u & 0x7fffffffu) > 0x7f800000u) dst[i] = (uint16_t)((u >> 16) | 0x40u);
        else dst[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

extern "C" srt_status srt_cuda_f32_to_bf16_rows(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                                uint16_t *dst, cudaStream_t stream) {
    if (rows * cols == 0) return SRT_OK;
    LAUNCH(f32_to_bf16_rows_kernel, srt_blocks_for(rows * cols), SRT_BLOCK, 0, stream, src, ld, rows, cols, dst);
    return SRT_LAUNCH_STATUS(f32_to_bf16_rows_kernel);
}
