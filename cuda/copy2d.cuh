/* copy2d.cuh: strided block copy y[r * y_ld + c] = x[r * x_ld + c] over (rows, cols) floats (x_ld 0 repeats one
 * row); one thread per element, consecutive threads on consecutive columns (coalesced). copy2d_batch: n such
 * blocks in one launch (grid.y = block, descriptors in device memory), e.g. every stream's window of a streaming
 * decoder stage. */
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

/* items (n) in device memory; blockIdx.y picks the block (+ y0), grid.x strides over its rows * cols. Each thread
 * loads COPY2D_ILP elements (a grid stride apart: still coalesced) before storing any, so a warp has that many
 * loads in flight (bench/gpu_model.py LOADS_IN_FLIGHT). The descriptor is read once per thread block (one thread,
 * into shared memory), not once per warp: for small blocks those reads were most of the kernel's sectors. */
#define COPY2D_ILP 4
__global__ void copy2d_batch_kernel(const srt_copy2d_args *items, int y0) {
    __shared__ srt_copy2d_args sa;
    if (threadIdx.x == 0) sa = items[y0 + blockIdx.y];
    __syncthreads();
    const srt_copy2d_args a = sa;
    int64_t total = (int64_t)a.rows * a.cols, step = (int64_t)blockDim.x * gridDim.x;
    for (int64_t i0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i0 < total; i0 += COPY2D_ILP * step) {
        float v[COPY2D_ILP];
        SRT_UNROLL
        for (int u = 0; u < COPY2D_ILP; u++) {
            int64_t i = i0 + u * step;
            v[u] = i < total ? a.x[(i / a.cols) * a.x_ld + i % a.cols] : 0.0f;
        }
        SRT_UNROLL
        for (int u = 0; u < COPY2D_ILP; u++) {
            int64_t i = i0 + u * step;
            if (i < total) a.y[(i / a.cols) * a.y_ld + i % a.cols] = v[u];
        }
    }
}

extern "C" srt_status srt_cuda_copy2d_batch(const srt_copy2d_args *items_dev, int n, int64_t max_total,
                                            cudaStream_t stream) {
    if (n == 0 || max_total == 0) return SRT_OK;
    unsigned gx = srt_blocks_for((max_total + COPY2D_ILP - 1) / COPY2D_ILP);
    if (gx > 64) gx = 64;   /* larger blocks loop: the grid stays (64, n) */
    for (int y0 = 0; y0 < n; y0 += 65535) {
        unsigned gy = (unsigned)(n - y0 < 65535 ? n - y0 : 65535);
        LAUNCH(copy2d_batch_kernel, dim3(gx, gy), SRT_BLOCK, 0, stream, items_dev, y0);
    }
    return SRT_LAUNCH_STATUS(copy2d_batch_kernel);
}
