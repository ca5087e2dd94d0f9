/* upsample_add.cuh: y (batch, ch, len*factor) += scale * repeat_interleave(x, factor); acc -= the same (optional). */
#include "cuda/common.cuh"

__global__ void upsample_add_kernel(const float *x, float *y, float *acc, float scale, int len, int factor, int64_t total) {
    srt_grid_stride(i, total) {
        int64_t out_len = (int64_t)len * factor;
        int64_t row = i / out_len;
        float v = scale * x[row * len + (i % out_len) / factor];
        y[i] += v;
        if (acc) acc[i] -= v;
    }
}

extern "C" srt_status srt_cuda_upsample_add(const srt_upsample_add_args *a, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->ch * a->len * a->factor;
    if (total == 0) return SRT_OK;
    LAUNCH(upsample_add_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, a->x, a->y, a->acc, a->scale, a->len,
           a->factor, total);
    return SRT_LAUNCH_STATUS(upsample_add_kernel);
}
