/* lm_rmsnorm.cuh: y[r,:] = x[r,:] / sqrt(mean(x[r,:]^2) + eps) * w. One block (RMS_THREADS) per row; the sum
 * of squares is reduced with warp shuffles then across warps (srt_block_sum). y may equal x: each thread
 * rewrites only the elements it read itself, after the reduction. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

static const int RMS_THREADS = 256;

__global__ void lm_rmsnorm_kernel(srt_rmsnorm_args a) {
    __shared__ float scratch[32];
    const float *x = a.x + (size_t)blockIdx.x * a.dim;   /* (dim) */
    float *y = a.y + (size_t)blockIdx.x * a.dim;         /* (dim) */
    float ss = 0.0f;
    for (int i = threadIdx.x; i < a.dim; i += blockDim.x) ss += x[i] * x[i];
    float inv = rsqrtf(srt_block_sum(ss, scratch) / (float)a.dim + a.eps);
    for (int i = threadIdx.x; i < a.dim; i += blockDim.x) y[i] = x[i] * inv * a.w[i];
}

extern "C" srt_status srt_cuda_lm_rmsnorm(const srt_rmsnorm_args *a, cudaStream_t stream) {
    if (a->rows == 0) return SRT_OK;
    LAUNCH(lm_rmsnorm_kernel, (unsigned)a->rows, RMS_THREADS, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_rmsnorm_kernel);
}
