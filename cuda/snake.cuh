/* snake.cuh: y = x + 1/(alpha+1e-9) * sin(alpha*x)^2 with a per-channel alpha; y may equal x. */
#include "cuda/common.cuh"

__global__ void snake_kernel(const float *x, const float *alpha, float *y, int ch, int len, int64_t total) {
    srt_grid_stride(i, total) y[i] = srt_snake_dev(x[i], alpha[(i / len) % ch]);
}

extern "C" srt_status srt_cuda_snake(const srt_snake_args *a, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->ch * a->len;
    if (total == 0) return SRT_OK;
    LAUNCH(snake_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, a->x, a->alpha, a->y, a->ch, a->len, total);
    return SRT_LAUNCH_STATUS(snake_kernel);
}
