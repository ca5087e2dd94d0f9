/* transpose.cuh: per item y (cols, rows) = x (rows, cols)^T (+ residual), 32x32 tiles through shared memory
 * (33 columns: no bank conflicts), block (32, 8); reads and writes coalesced. */
#include "cuda/common.cuh"

static const int TR_TILE = 32, TR_ROWS = 8;

__global__ void transpose_kernel(srt_transpose_args a) {
    __shared__ float tile[32][33];
    size_t plane = (size_t)a.rows * a.cols;
    const float *x = a.x + blockIdx.z * plane;
    float *y = a.y + blockIdx.z * plane;
    const float *res = a.residual ? a.residual + blockIdx.z * plane : NULL;
    int c0 = blockIdx.x * TR_TILE, r0 = blockIdx.y * TR_TILE;
    for (int j = threadIdx.y; j < TR_TILE; j += TR_ROWS) {
        int r = r0 + j, c = c0 + threadIdx.x;
        if (r < a.rows && c < a.cols) tile[j][threadIdx.x] = x[(size_t)r * a.cols + c];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TR_TILE; j += TR_ROWS) {
        int c = c0 + j, r = r0 + threadIdx.x;   /* output row c, column r */
        if (r < a.rows && c < a.cols) {
            size_t o = (size_t)c * a.rows + r;
            y[o] = tile[threadIdx.x][j] + (res ? res[o] : 0.0f);
        }
    }
}

extern "C" srt_status srt_cuda_transpose(const srt_transpose_args *a, cudaStream_t stream) {
    if ((int64_t)a->batch * a->rows * a->cols == 0) return SRT_OK;
    if (a->batch > 65535) return srt_error(SRT_ERR_UNSUPPORTED, "transpose: batch %d > 65535", a->batch);
    dim3 grid((unsigned)((a->cols + TR_TILE - 1) / TR_TILE), (unsigned)((a->rows + TR_TILE - 1) / TR_TILE), (unsigned)a->batch);
    LAUNCH(transpose_kernel, grid, dim3(TR_TILE, TR_ROWS), 0, stream, *a);
    return SRT_LAUNCH_STATUS(transpose_kernel);
}
