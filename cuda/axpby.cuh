/* axpby.cuh: y = a*x + b*y over n floats. */
#include "cuda/common.cuh"

__global__ void axpby_kernel(float a, float b, const float *x, float *y, int64_t n) {
    srt_grid_stride(i, n) y[i] = a * x[i] + b * y[i];
}

extern "C" srt_status srt_cuda_axpby(const srt_axpby_args *a, cudaStream_t stream) {
    if (a->n == 0) return SRT_OK;
    LAUNCH(axpby_kernel, srt_blocks_for(a->n), SRT_BLOCK, 0, stream, a->a, a->b, a->x, a->y, a->n);
    return SRT_LAUNCH_STATUS(axpby_kernel);
}
