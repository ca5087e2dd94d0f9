/* lm_gather_rows.cuh: y[i,:] = x[idx[i],:], one thread per output element (grid-stride); y must not alias x. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

__global__ void lm_gather_rows_kernel(srt_gather_rows_args a) {
    int64_t n = (int64_t)a.n_out * a.cols;
    srt_grid_stride(j, n) {
        int64_t i = j / a.cols, c = j % a.cols;
        a.y[j] = a.x[(size_t)a.idx[i] * a.cols + c];
    }
}

extern "C" srt_status srt_cuda_lm_gather_rows(const srt_gather_rows_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_out * a->cols;
    if (n == 0) return SRT_OK;
    LAUNCH(lm_gather_rows_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_gather_rows_kernel);
}
