/* lm_add_bias.cuh: x[r,:] += bias for every row, one thread per element (grid-stride). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

__global__ void lm_add_bias_kernel(srt_add_bias_args a) {
    int64_t n = (int64_t)a.rows * a.cols;
    srt_grid_stride(i, n) a.x[i] += a.bias[i % a.cols];
}

extern "C" srt_status srt_cuda_lm_add_bias(const srt_add_bias_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->rows * a->cols;
    if (n == 0) return SRT_OK;
    LAUNCH(lm_add_bias_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_add_bias_kernel);
}
