/* vq_nearest.cuh: residual-VQ nearest code, score = -(|e|^2 - 2 e.c + |c|^2) as cpu-ref; ties go to the lowest
 * index; margin = best - second.
 *
 * vq_nearest_kernel / vq_nearest_warp_kernel (codebook dim <= VQT_MAX_DIM, every SNAC model: dim 8; 8 threads
 * per frame, or a warp per frame below VQT_SMALL_FRAMES frames): a block takes VQT_FRAMES consecutive
 * frames (of the flattened (batch, len)) and walks the codebook in VQT_CODES-row tiles staged once per block into
 * shared memory with coalesced loads (a warp reads 128 contiguous bytes), so the codebook crosses L2 once per
 * VQT_FRAMES frames instead of once per frame with one 4-byte word used per 32-byte sector. Thread tid scores frame
 * tid / VQT_SPLIT against the tile rows r = tid % VQT_SPLIT (mod VQT_SPLIT); the frame's normalized latent stays in
 * registers (fixed-size, unrolled: no local memory); |c|^2 is computed once per tile row. The VQT_SPLIT lanes of a
 * frame merge their (best, index, second) with shuffles. Every frame's sums run in the same order whatever the
 * batch or the block (batch invariant); FMA, not tensor cores: the search is ~0.1 of the FMA bound, its traffic was
 * the cost.
 * vq_nearest_wide_kernel (larger dims): one block per frame, each thread a strided share of the codebook. */
#include "cuda/common.cuh"

static const int VQ_THREADS = 128;
#define VQT_MAX_DIM 8                    /* latent dims held in registers */
#define VQT_THREADS 256
#define VQT_SMALL_FRAMES 2048            /* fewer frames in a launch: a warp per frame (more threads per frame) */
#define VQT_ROW (VQT_MAX_DIM + 1)        /* shared row stride: the 8 rows a warp reads hit distinct banks */
#define VQT_CODES 256                    /* codebook rows per shared tile */

struct vq_best { float best, second; int index; };

__device__ __forceinline__ vq_best vq_merge(vq_best a, vq_best b) {
    bool b_wins = b.best > a.best || (b.best == a.best && b.index < a.index);
    vq_best w = b_wins ? b : a, l = b_wins ? a : b;
    w.second = fmaxf(w.second, l.best);
    return w;
}

/* merge over lanes lane ^ o for o < width (a power of two): every lane of the group gets the group's triple */
__device__ __forceinline__ vq_best vq_merge_lanes(vq_best mine, int width) {
    for (int o = width >> 1; o > 0; o >>= 1) {
        vq_best other;
        other.best = __shfl_xor_sync(0xffffffffu, mine.best, o);
        other.second = __shfl_xor_sync(0xffffffffu, mine.second, o);
        other.index = __shfl_xor_sync(0xffffffffu, mine.index, o);
        mine = vq_merge(mine, other);
    }
    return mine;
}

/* grid ceil(batch*len / (VQT_THREADS / SPLIT)), block VQT_THREADS, SPLIT threads per frame; dim <= VQT_MAX_DIM.
 * The split changes only which thread scores which code, not a frame's arithmetic (nor the merged result: the
 * merge is order-free), so the codes stay batch invariant across the two instances. */
template <int SPLIT> __device__ __forceinline__ void vq_nearest_tiled(const srt_vq_args &a) {
    const int VQT_SPLIT = SPLIT, VQT_FRAMES = VQT_THREADS / SPLIT;
    __shared__ float cb[VQT_CODES * VQT_ROW];            /* codebook rows (tile row, dim), row stride VQT_ROW */
    __shared__ float c2s[VQT_CODES];                     /* |c|^2 of the tile rows */
    const int tid = threadIdx.x, dim = a.dim, part = tid % VQT_SPLIT;
    const int frames = a.batch * a.len, frame = (int)blockIdx.x * VQT_FRAMES + tid / VQT_SPLIT;   /* < 2^31 */
    const bool live = frame < frames;
    const int fr = live ? frame : frames - 1;            /* padding lanes score the last frame, store nothing */
    const int b = fr / a.len, t = fr % a.len;            /* 32-bit: no division call (stack frame) */
    float e[VQT_MAX_DIM];
    float ss = 0.0f;
    SRT_UNROLL
    for (int d = 0; d < VQT_MAX_DIM; d++) {
        e[d] = d < dim ? a.z[((size_t)b * dim + d) * a.len + t] : 0.0f;
        ss += e[d] * e[d];
    }
    const float nrm = fmaxf(sqrtf(ss), 1e-12f);
    float e2 = 0.0f;
    SRT_UNROLL
    for (int d = 0; d < VQT_MAX_DIM; d++) { e[d] /= nrm; e2 += e[d] * e[d]; }
    vq_best mine = {-INFINITY, -INFINITY, 0x7fffffff};
    for (int i0 = 0; i0 < a.n_codes; i0 += VQT_CODES) {
        const int rows = min(VQT_CODES, a.n_codes - i0);
        __syncthreads();                                 /* the previous tile is consumed */
        const float *src = a.codebook_n + (size_t)i0 * dim;
        for (int i = tid; i < rows * dim; i += VQT_THREADS) cb[i / dim * VQT_ROW + i % dim] = src[i];
        __syncthreads();
        for (int r = tid; r < rows; r += VQT_THREADS) {
            float c2 = 0.0f;
            for (int d = 0; d < dim; d++) c2 += cb[r * VQT_ROW + d] * cb[r * VQT_ROW + d];
            c2s[r] = c2;
        }
        __syncthreads();
        for (int r = part; r < rows; r += VQT_SPLIT) {
            const float *c = cb + r * VQT_ROW;
            float dot = 0.0f;
            SRT_UNROLL
            for (int d = 0; d < VQT_MAX_DIM; d++)
                if (d < dim) dot += e[d] * c[d];
            vq_best cand = {-(e2 - 2.0f * dot + c2s[r]), -INFINITY, i0 + r};
            mine = vq_merge(mine, cand);
        }
    }
    mine = vq_merge_lanes(mine, VQT_SPLIT);
    if (live && part == 0) {
        a.codes[frame] = mine.index;
        if (a.margin) a.margin[frame] = mine.best - mine.second;
    }
}
__global__ void __launch_bounds__(VQT_THREADS) vq_nearest_kernel(srt_vq_args a) { vq_nearest_tiled<8>(a); }
__global__ void __launch_bounds__(VQT_THREADS) vq_nearest_warp_kernel(srt_vq_args a) { vq_nearest_tiled<32>(a); }

/* grid (batch*len), block VQ_THREADS, dynamic smem = dim floats */
__global__ void vq_nearest_wide_kernel(srt_vq_args a) {
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
    mine = vq_merge_lanes(mine, 32);
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
    if (a->dim <= VQT_MAX_DIM && frames < VQT_SMALL_FRAMES) {
        LAUNCH(vq_nearest_warp_kernel, (unsigned)((frames + 7) / 8), VQT_THREADS, 0, stream, *a);
        return SRT_LAUNCH_STATUS(vq_nearest_warp_kernel);
    }
    if (a->dim <= VQT_MAX_DIM && frames <= 0x7fffffff - VQT_THREADS) {
        LAUNCH(vq_nearest_kernel, (unsigned)((frames + 31) / 32), VQT_THREADS, 0, stream, *a);
        return SRT_LAUNCH_STATUS(vq_nearest_kernel);
    }
    LAUNCH(vq_nearest_wide_kernel, (unsigned)frames, VQ_THREADS, (size_t)a->dim * sizeof(float), stream, *a);
    return SRT_LAUNCH_STATUS(vq_nearest_wide_kernel);
}
