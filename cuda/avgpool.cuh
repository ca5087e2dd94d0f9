/* avgpool.cuh: y (batch, ch, len/kernel) = mean over non-overlapping windows of x (batch, ch, len). */
#include "cuda/common.cuh"

__global__ void avgpool_kernel(const float *x, float *y, int len, int kernel, int out_len, int64_t total) {
    srt_grid_stride(i, total) {
        int64_t row = i / out_len;
        const float *src = x + row * len + (i % out_len) * kernel;
        float s = 0.0f;
        for (int k = 0; k < kernel; k++) s += src[k];
        y[i] = s / (float)kernel;
    }
}

extern "C" srt_status srt_cuda_avgpool(const srt_avgpool_args *a, cudaStream_t stream) {
    int out_len = a->len / a->kernel;
    int64_t total = (int64_t)a->batch * a->ch * out_len;
    if (total == 0) return SRT_OK;
    LAUNCH(avgpool_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, a->x, a->y, a->len, a->kernel, out_len, total);
    return SRT_LAUNCH_STATUS(avgpool_kernel);
}
