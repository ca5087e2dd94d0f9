/* copy2d.cuh: strided block copy y[r * y_ld + c] = x[r * x_ld + c] over (rows, cols) floats (x_ld 0 repeats one
 * row); one thread per element, consecutive threads on consecutive columns (coalesced). */
#include "cuda/common.cuh"

__global__ void copy2d_kernel(srt_copy2d_args a) {
    int64_t total = (int64_t)a.rows * a.cols;
    srt_grid_stride(i, total) {
        int64_t r = i / a.cols, c = i % a.cols;
        a.y[r * a.y_ld + c] = a.x[r * a.x_ld + c];
    }
}

extern "C" srt_status srt_cuda_copy2d(const srt_copy2d_args *a, cudaStream_t stream) {
    int64_t total = (int64_t)a->rows * a->cols;
    if (total == 0) return SRT_OK;
    LAUNCH(copy2d_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(copy2d_kernel);
}
