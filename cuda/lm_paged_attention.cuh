/* lm_paged_attention.cuh: causal attention over the paged KV cache (semantics: srt_paged_attn_args in
 * host/lm/lm_ops.h). Query head h reads kv head h / (n_heads / n_kv_heads) (GQA); scale 1/sqrt(head_dim);
 * softmax in f32 with a running max. Three kernels:
 *   decode   (sequences with n_q == 1) flash-decoding: grid (split, head, seq); a block of DEC_WARPS warps
 *            covers DEC_SPLIT context positions, each warp a strided subset of them: lanes split head_dim, the
 *            q.k dot is a warp-shuffle sum, each warp keeps its own running max / sum / accumulator, and the
 *            warps merge through shared memory. A sequence of one split writes its output at once; otherwise
 *            the block writes (acc[head_dim], max, sum) to `partials` and
 *   combine  merges the splits of each (seq, head) with the usual rescaling by exp(max_i - max).
 *   prefill  (sequences with n_q > 1, i.e. prefill and chunked prefill) grid (query tile, head, seq), one
 *            thread per query row of a PF_QTILE tile (query and accumulator in registers); the block walks
 *            the context in PF_KTILE-position tiles of keys and values staged in shared memory up to the
 *            causal limit of its last query, each thread running an online softmax up to its own limit. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

#define DEC_WARPS 4                                    /* warps per decode block */
#define DEC_SPLIT 128                                  /* context positions per decode split */
#define DEC_PER_LANE (SRT_CUDA_LM_MAX_HEAD_DIM / 32)   /* head_dim elements per lane */
#define PF_QTILE 32                                    /* query rows per prefill block (one thread each) */
#define PF_KTILE 32                                    /* context positions per shared-memory tile */

/* Row of kv head kvh at position p of a sequence whose block table is `blocks`. */
__device__ __forceinline__ const float *lm_kv_row(const float *cache, const int32_t *blocks, int p, int block_size,
                                                  int kv_dim, int kvh, int head_dim) {
    size_t slot = (size_t)blocks[p / block_size] * block_size + p % block_size;
    return cache + slot * kv_dim + (size_t)kvh * head_dim;
}

/* grid (n_splits, n_heads, n_seqs), block 32*DEC_WARPS, smem DEC_WARPS*head_dim floats.
 * partials: (n_seqs, n_heads, n_splits, head_dim + 2) = (acc..., max, sum) of each split. */
__global__ void lm_attn_decode_kernel(srt_paged_attn_args a, int n_splits, float *partials) {
    __shared__ float warp_max[DEC_WARPS], warp_sum[DEC_WARPS];
    SRT_DYN_SHARED(float, warp_acc);                   /* (DEC_WARPS, head_dim) */
    int split = blockIdx.x, h = blockIdx.y, s = blockIdx.z;
    if (a.n_q[s] != 1) return;
    int ctx = a.ctx_len[s], p0 = split * DEC_SPLIT, p1 = min(ctx, p0 + DEC_SPLIT);
    if (p0 >= ctx) return;
    int D = a.head_dim, kvh = h / (a.n_heads / a.n_kv_heads), kv_dim = a.n_kv_heads * D;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int32_t *blocks = a.block_table + (size_t)s * a.max_blocks;
    const float *q = a.q + ((size_t)a.q_start[s] * a.n_heads + h) * D;   /* (head_dim) */
    float scale = rsqrtf((float)D), qr[DEC_PER_LANE], acc[DEC_PER_LANE];
    for (int r = 0; r < DEC_PER_LANE; r++) {
        int d = lane + 32 * r;
        qr[r] = d < D ? q[d] * scale : 0.0f;
        acc[r] = 0.0f;
    }
    float mx = -INFINITY, sum = 0.0f;
    for (int p = p0 + warp; p < p1; p += DEC_WARPS) {
        const float *k = lm_kv_row(a.k_cache, blocks, p, a.block_size, kv_dim, kvh, D);
        const float *v = lm_kv_row(a.v_cache, blocks, p, a.block_size, kv_dim, kvh, D);
        float dot = 0.0f;
        for (int r = 0; r < DEC_PER_LANE; r++) if (lane + 32 * r < D) dot += qr[r] * k[lane + 32 * r];
        dot = srt_warp_sum(dot);
        float new_mx = fmaxf(mx, dot), corr = expf(mx - new_mx), w = expf(dot - new_mx);
        sum = sum * corr + w;
        for (int r = 0; r < DEC_PER_LANE; r++) if (lane + 32 * r < D) acc[r] = acc[r] * corr + w * v[lane + 32 * r];
        mx = new_mx;
    }
    if (lane == 0) { warp_max[warp] = mx; warp_sum[warp] = sum; }
    for (int r = 0; r < DEC_PER_LANE; r++) if (lane + 32 * r < D) warp_acc[warp * D + lane + 32 * r] = acc[r];
    __syncthreads();
    float block_max = -INFINITY, block_sum = 0.0f;     /* warp 0 always has a position: block_max is finite */
    for (int w = 0; w < DEC_WARPS; w++) block_max = fmaxf(block_max, warp_max[w]);
    for (int w = 0; w < DEC_WARPS; w++)
        if (warp_max[w] != -INFINITY) block_sum += warp_sum[w] * expf(warp_max[w] - block_max);
    int own_splits = (ctx + DEC_SPLIT - 1) / DEC_SPLIT;
    float *out = a.out + ((size_t)a.q_start[s] * a.n_heads + h) * D;     /* (head_dim) */
    float *part = partials + (((size_t)s * a.n_heads + h) * n_splits + split) * (D + 2);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < DEC_WARPS; w++)
            if (warp_max[w] != -INFINITY) o += warp_acc[w * D + d] * expf(warp_max[w] - block_max);
        if (own_splits == 1) out[d] = o / block_sum;
        else part[d] = o;
    }
    if (own_splits > 1 && threadIdx.x == 0) { part[D] = block_max; part[D + 1] = block_sum; }
}

/* grid (n_heads, n_seqs), block head_dim rounded up to 32 (at most 128). */
__global__ void lm_attn_combine_kernel(srt_paged_attn_args a, int n_splits, const float *partials) {
    int h = blockIdx.x, s = blockIdx.y, D = a.head_dim;
    if (a.n_q[s] != 1) return;
    int own_splits = (a.ctx_len[s] + DEC_SPLIT - 1) / DEC_SPLIT;
    if (own_splits <= 1) return;
    const float *part = partials + ((size_t)s * a.n_heads + h) * n_splits * (D + 2);   /* (n_splits, D + 2) */
    float mx = -INFINITY, sum = 0.0f;
    for (int i = 0; i < own_splits; i++) mx = fmaxf(mx, part[i * (D + 2) + D]);
    for (int i = 0; i < own_splits; i++) sum += part[i * (D + 2) + D + 1] * expf(part[i * (D + 2) + D] - mx);
    float *out = a.out + ((size_t)a.q_start[s] * a.n_heads + h) * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float o = 0.0f;
        for (int i = 0; i < own_splits; i++) o += part[i * (D + 2) + d] * expf(part[i * (D + 2) + D] - mx);
        out[d] = o / sum;
    }
}

/* grid (ceil(max_n_q / PF_QTILE), n_heads, n_seqs), block PF_QTILE, smem 2*PF_KTILE*head_dim floats. */
__global__ void lm_attn_prefill_kernel(srt_paged_attn_args a) {
    SRT_DYN_SHARED(float, tile);                       /* keys (PF_KTILE, head_dim) then values (PF_KTILE, head_dim) */
    int h = blockIdx.y, s = blockIdx.z, n_q = a.n_q[s], i0 = blockIdx.x * PF_QTILE;
    if (n_q < 2 || i0 >= n_q) return;
    int D = a.head_dim, kvh = h / (a.n_heads / a.n_kv_heads), kv_dim = a.n_kv_heads * D;
    int first = a.ctx_len[s] - n_q;                    /* position of query 0 */
    int i = i0 + (int)threadIdx.x, active = i < n_q;
    int last = first + i;                              /* this query attends to 0..last */
    int tile_last = first + min(n_q, i0 + PF_QTILE) - 1;
    const int32_t *blocks = a.block_table + (size_t)s * a.max_blocks;
    float *keys = tile, *vals = tile + PF_KTILE * D;
    float q[SRT_CUDA_LM_MAX_HEAD_DIM], acc[SRT_CUDA_LM_MAX_HEAD_DIM];
    size_t row = ((size_t)(a.q_start[s] + i) * a.n_heads + h) * D;
    float scale = rsqrtf((float)D);
    if (active)
        for (int d = 0; d < D; d++) { q[d] = a.q[row + d] * scale; acc[d] = 0.0f; }
    float mx = -INFINITY, sum = 0.0f;
    for (int t0 = 0; t0 <= tile_last; t0 += PF_KTILE) {
        int n = min(PF_KTILE, tile_last + 1 - t0);
        for (int j = threadIdx.x; j < n * D; j += blockDim.x) {
            int p = t0 + j / D, d = j % D;
            keys[j] = lm_kv_row(a.k_cache, blocks, p, a.block_size, kv_dim, kvh, D)[d];
            vals[j] = lm_kv_row(a.v_cache, blocks, p, a.block_size, kv_dim, kvh, D)[d];
        }
        __syncthreads();
        int mine = active ? min(n, last + 1 - t0) : 0;
        for (int j = 0; j < mine; j++) {
            float dot = 0.0f;
            for (int d = 0; d < D; d++) dot += q[d] * keys[j * D + d];
            float new_mx = fmaxf(mx, dot), corr = expf(mx - new_mx), w = expf(dot - new_mx);
            sum = sum * corr + w;
            for (int d = 0; d < D; d++) acc[d] = acc[d] * corr + w * vals[j * D + d];
            mx = new_mx;
        }
        __syncthreads();
    }
    if (active)
        for (int d = 0; d < D; d++) a.out[row + d] = acc[d] / sum;
}

static int lm_attn_splits(const srt_cuda_attn_plan *plan) {
    int n = (plan->max_ctx + DEC_SPLIT - 1) / DEC_SPLIT;
    return n < 1 ? 1 : n;
}

extern "C" size_t srt_cuda_lm_attn_partials_floats(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan) {
    int n_splits = lm_attn_splits(plan);
    if (!plan->any_decode || n_splits == 1) return 0;
    return (size_t)a->n_seqs * a->n_heads * n_splits * (a->head_dim + 2);
}

extern "C" srt_status srt_cuda_lm_paged_attention(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan,
                                                  float *partials, cudaStream_t stream) {
    int D = a->head_dim;
    if (D > SRT_CUDA_LM_MAX_HEAD_DIM || a->n_heads > 65535 || a->n_seqs > 65535)
        return srt_error(SRT_ERR_UNSUPPORTED, "paged_attention: head_dim %d (max %d), %d heads, %d sequences "
                         "(max 65535 each) exceed the CUDA kernels' limits", D, SRT_CUDA_LM_MAX_HEAD_DIM, a->n_heads,
                         a->n_seqs);
    if (a->n_seqs == 0) return SRT_OK;
    if (plan->any_decode) {
        int n_splits = lm_attn_splits(plan);
        dim3 grid((unsigned)n_splits, (unsigned)a->n_heads, (unsigned)a->n_seqs);
        LAUNCH(lm_attn_decode_kernel, grid, 32 * DEC_WARPS, (size_t)DEC_WARPS * D * sizeof(float), stream, *a,
               n_splits, partials);
        SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_kernel));
        if (n_splits > 1) {
            dim3 cgrid((unsigned)a->n_heads, (unsigned)a->n_seqs);
            LAUNCH(lm_attn_combine_kernel, cgrid, (unsigned)((D + 31) / 32 * 32), 0, stream, *a, n_splits, partials);
            SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_combine_kernel));
        }
    }
    if (plan->any_prefill) {
        dim3 grid((unsigned)((plan->max_n_q + PF_QTILE - 1) / PF_QTILE), (unsigned)a->n_heads, (unsigned)a->n_seqs);
        LAUNCH(lm_attn_prefill_kernel, grid, PF_QTILE, (size_t)2 * PF_KTILE * D * sizeof(float), stream, *a);
        SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_kernel));
    }
    return SRT_OK;
}
