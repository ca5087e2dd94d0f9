/* noise_add.cuh: SNAC NoiseBlock tail, x (batch, ch, len) += noise (batch, len) * h (batch, ch, len). */
#include "cuda/common.cuh"

__global__ void noise_add_kernel(const float *noise, const float *h, float *x, int ch, int len, int64_t total) {
    srt_grid_stride(i, total) {
        int64_t b = i / ((int64_t)ch * len);
        x[i] += noise[b * len + i % len] * h[i];
    }
}

extern "C" srt_status srt_cuda_noise_add(const srt_noise_add_args *a, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->ch * a->len;
    if (total == 0) return SRT_OK;
    LAUNCH(noise_add_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, a->noise, a->h, a->x, a->ch, a->len, total);
    return SRT_LAUNCH_STATUS(noise_add_kernel);
}
