/* vq_nearest.cuh: residual-VQ nearest code. One block (VQ_THREADS) per frame: the frame's latent is normalized
 * into shared memory, each thread scores a strided share of the codebook keeping (best, index, second), and the
 * block merges those triples with warp shuffles, then across warps through shared memory.
 * score = -(|e|^2 - 2 e.c + |c|^2) as cpu-ref; ties go to the lowest index; margin = best - second. */
#include "cuda/common.cuh"

static const int VQ_THREADS = 128;

struct vq_best { float best, second; int index; };

__device__ __forceinline__ vq_best vq_merge(vq_best a, vq_best b) {
    bool b_wins = b.best > a.best || (b.best == a.best && b.index < a.index);
    vq_best w = b_wins ? b : a, l = b_wins ? a : b;
    w.second = fmaxf(w.second, l.best);
    return w;
}

/* grid (batch*len), block VQ_THREADS, dynamic smem = dim floats */
__global__ void vq_nearest_kernel(srt_vq_args a) {
    SRT_DYN_SHARED(float, e);   /* (dim) normalized latent of this frame */
    __shared__ float scratch[32];
    __shared__ vq_best warp_best[32];
    int frame = blockIdx.x, b = frame / a.len, t = frame % a.len;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < a.dim; d += blockDim.x) {
        float v = a.z[((size_t)b * a.dim + d) * a.len + t];
        e[d] = v;
        ss += v * v;
    }
    float nrm = fmaxf(sqrtf(srt_block_sum(ss, scratch)), 1e-12f);
    float e2_part = 0.0f;
    for (int d = threadIdx.x; d < a.dim; d += blockDim.x) { e[d] /= nrm; e2_part += e[d] * e[d]; }
    float e2 = srt_block_sum(e2_part, scratch);   /* ends with a barrier: e is complete */
    vq_best mine = {-INFINITY, -INFINITY, 0x7fffffff};
    for (int i = threadIdx.x; i < a.n_codes; i += blockDim.x) {
        const float *c = a.codebook_n + (size_t)i * a.dim;
        float dot = 0.0f, c2 = 0.0f;
        for (int d = 0; d < a.dim; d++) { dot += e[d] * c[d]; c2 += c[d] * c[d]; }
        vq_best cand = {-(e2 - 2.0f * dot + c2), -INFINITY, i};
        mine = vq_merge(mine, cand);
    }
    for (int o = 16; o > 0; o >>= 1) {
        vq_best other;
        other.best = __shfl_xor_sync(0xffffffffu, mine.best, o);
        other.second = __shfl_xor_sync(0xffffffffu, mine.second, o);
        other.index = __shfl_xor_sync(0xffffffffu, mine.index, o);
        mine = vq_merge(mine, other);
    }
    if ((threadIdx.x & 31) == 0) warp_best[threadIdx.x >> 5] = mine;
    __syncthreads();
    if (threadIdx.x == 0) {
        vq_best all = warp_best[0];
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) all = vq_merge(all, warp_best[w]);
        a.codes[frame] = all.index;
        if (a.margin) a.margin[frame] = all.best - all.second;
    }
}

extern "C" srt_status srt_cuda_vq_nearest(const srt_vq_args *a, cudaStream_t stream) {
    if ((size_t)a->dim * sizeof(float) > 48 * 1024)
        return srt_error(SRT_ERR_UNSUPPORTED, "vq_nearest: codebook dim %d too large for shared memory", a->dim);
    int64_t frames = (int64_t)a->batch * a->len;
    if (frames == 0) return SRT_OK;
    LAUNCH(vq_nearest_kernel, (unsigned)frames, VQ_THREADS, (size_t)a->dim * sizeof(float), stream, *a);
    return SRT_LAUNCH_STATUS(vq_nearest_kernel);
}
