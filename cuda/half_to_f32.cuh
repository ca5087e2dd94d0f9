/* half_to_f32.cuh: widen bf16 or IEEE f16 bit patterns to f32 (the B operand of gemm before cublasSgemm).
 * Integer-only conversion, bit-exact with host/dtype.c. */
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
