/* layernorm.cuh: row-wise LayerNorm, one block (LN_THREADS) per row, two passes over the row in global
 * memory (mean, then the centred variance: no cancellation), block reductions with warp shuffles.
 * y may equal x: each thread rewrites only the elements it read itself, after both reductions. */
#include "cuda/common.cuh"

static const int LN_THREADS = 256;

__global__ void layernorm_kernel(srt_layernorm_args a) {
    __shared__ float scratch[32];
    const float *x = a.x + (size_t)blockIdx.x * a.dim;
    float *y = a.y + (size_t)blockIdx.x * a.dim;
    float s = 0.0f;
    for (int i = threadIdx.x; i < a.dim; i += blockDim.x) s += x[i];
    float mean = srt_block_sum(s, scratch) / (float)a.dim;
    float v = 0.0f;
    for (int i = threadIdx.x; i < a.dim; i += blockDim.x) { float d = x[i] - mean; v += d * d; }
    float inv = rsqrtf(srt_block_sum(v, scratch) / (float)a.dim + a.eps);
    for (int i = threadIdx.x; i < a.dim; i += blockDim.x)
        y[i] = (x[i] - mean) * inv * a.gamma[i] + (a.beta ? a.beta[i] : 0.0f);
}

extern "C" srt_status srt_cuda_layernorm(const srt_layernorm_args *a, cudaStream_t stream) {
    if (a->rows == 0) return SRT_OK;
    LAUNCH(layernorm_kernel, (unsigned)a->rows, LN_THREADS, 0, stream, *a);
    return SRT_LAUNCH_STATUS(layernorm_kernel);
}
