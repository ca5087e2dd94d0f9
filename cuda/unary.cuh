/* unary.cuh: y = op(x) elementwise (tanh, copy, scale); y may equal x. */
#include "cuda/common.cuh"

__global__ void unary_kernel(int op, float scale, const float *x, float *y, int64_t n) {
    srt_grid_stride(i, n) {
        float v = x[i];
        y[i] = op == SRT_UNARY_TANH ? tanhf(v) : op == SRT_UNARY_SCALE ? v * scale : v;
    }
}

extern "C" srt_status srt_cuda_unary(const srt_unary_args *a, cudaStream_t stream) {
    if (a->n == 0) return SRT_OK;
    LAUNCH(unary_kernel, srt_blocks_for(a->n), SRT_BLOCK, 0, stream, (int)a->op, a->scale, a->x, a->y, a->n);
    return SRT_LAUNCH_STATUS(unary_kernel);
}
