/* local_attention.cuh: SNAC LocalMHA core. One block per (window, head, item); thread n is query n of the
 * window. The block loads the window's rotary-embedded keys and its values into shared memory (2*window*head_dim
 * floats), then each thread keeps its rotated query and output accumulator in registers and runs an online
 * softmax over the window's keys (no score matrix). Rotary: rotate-half layout, base 10000, positions 0..window-1. */
#include "cuda/common.cuh"

static const int ATTN_MAX_HEAD_DIM = 128;

__device__ __forceinline__ float rotary_at(const float *v, int d, int half, int pos, int head_dim) {
    int j = d % half;
    float inv_freq = powf(10000.0f, -(2.0f * (float)j) / (float)head_dim);
    float ang = (float)pos * inv_freq;
    float rot = d < half ? -v[d + half] : v[d - half];
    return v[d] * cosf(ang) + rot * sinf(ang);
}

/* grid (len/window, heads, batch), block = window rounded up to 32; smem = 2*window*head_dim floats */
__global__ void local_attention_kernel(srt_local_attn_args a) {
    SRT_DYN_SHARED(float, kv);     /* keys (window, head_dim) then values (window, head_dim) */
    int W = a.window, D = a.head_dim, C = a.heads * D, half = D / 2;
    int w0 = blockIdx.x * W, h = blockIdx.y, b = blockIdx.z;
    const float *base = a.qkv + ((size_t)b * a.len + w0) * 3 * C;
    float *keys = kv, *vals = kv + (size_t)W * D;
    for (int i = threadIdx.x; i < W * D; i += blockDim.x) {
        int m = i / D, d = i % D;
        const float *row = base + (size_t)m * 3 * C;
        keys[i] = rotary_at(row + C + h * D, d, half, m, D);
        vals[i] = row[2 * C + h * D + d];
    }
    __syncthreads();
    int n = threadIdx.x;
    if (n >= W) return;
    float q[ATTN_MAX_HEAD_DIM], acc[ATTN_MAX_HEAD_DIM];
    const float *qrow = base + (size_t)n * 3 * C + h * D;
    float scale = rsqrtf((float)D);
    for (int d = 0; d < D; d++) { q[d] = rotary_at(qrow, d, half, n, D) * scale; acc[d] = 0.0f; }
    float mx = -INFINITY, sum = 0.0f;
    for (int m = 0; m < W; m++) {
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * keys[m * D + d];
        float new_mx = fmaxf(mx, s);
        float corr = expf(mx - new_mx), p = expf(s - new_mx);
        sum = sum * corr + p;
        for (int d = 0; d < D; d++) acc[d] = acc[d] * corr + p * vals[m * D + d];
        mx = new_mx;
    }
    float *out = a.out + ((size_t)b * a.len + w0 + n) * C + h * D;
    for (int d = 0; d < D; d++) out[d] = acc[d] / sum;
}

extern "C" srt_status srt_cuda_local_attention(const srt_local_attn_args *a, cudaStream_t stream) {
    int W = a->window, D = a->head_dim;
    if (D > ATTN_MAX_HEAD_DIM || W > 1024 || (size_t)2 * W * D * sizeof(float) > 48 * 1024 || a->heads > 65535 ||
        a->batch > 65535)
        return srt_error(SRT_ERR_UNSUPPORTED, "local_attention: window %d x head_dim %d (heads %d, batch %d) exceeds the "
                         "kernel's limits (head_dim <= %d, 2*window*head_dim floats <= 48 KiB)", W, D, a->heads,
                         a->batch, ATTN_MAX_HEAD_DIM);
    if (a->len == 0 || a->batch == 0) return SRT_OK;
    dim3 grid((unsigned)(a->len / W), (unsigned)a->heads, (unsigned)a->batch);
    unsigned threads = (unsigned)((W + 31) / 32 * 32);
    LAUNCH(local_attention_kernel, grid, threads, (size_t)2 * W * D * sizeof(float), stream, *a);
    return SRT_LAUNCH_STATUS(local_attention_kernel);
}
