/* lm_paged_attention.cuh: causal attention over the paged KV cache (semantics: srt_paged_attn_args in
 * host/lm/lm_ops.h), the cache in f32, bf16 or fp8 e4m3 (kv_dtype; fp8: per (token, KV head) row scales, applied once
 * per position: to the dot product of K's codes, to the softmax weight of V's codes). Query head h reads kv head h / (n_heads / n_kv_heads)
 * (GQA); scale 1/sqrt(head_dim); softmax in f32 with a running max. Three kernels:
 *   decode   (sequences with n_q == 1) flash-decoding grouped by KV head: grid (split, kv head x head chunk, seq);
 *            a block serves all the query heads of a GQA group (G = 1, 2, 3, 4 exactly, or up to 8 of them: one
 *            kernel per G, larger groups take several chunks), so each K and V row of its split is read once. The
 *            queries (scaled) sit in shared memory, read as float4s per position (not hoisted: registers hold only
 *            the accumulators, capped by __launch_bounds__ so 5-6 blocks fit an SM at G <= 3); each lane issues the
 *            K and V loads of 2 positions (bf16, kept packed until used) or of 1 (f32) before using any. A split covers
 *            split_len consecutive context positions (chosen on the host so the grid has >= DEC_TARGET_BLOCKS
 *            blocks: four per SM of an H100). Lanes: a row group of `row_lanes` lanes (a power of two >= head_dim / 8)
 *            holds one position, each lane 8 consecutive head_dim elements, loaded with one 16-byte load (bf16) or
 *            two (f32), K and V issued together; a warp holds 32 / row_lanes positions, the block DEC_WARPS warps'
 *            worth, walking the split by a fixed stride with the (block, offset) of its position carried along
 *            (no division per position); with an fp8 cache (head_dim > 16) a warp's trip covers consecutive
 *            positions instead (4 x 32 / row_lanes): one lane per position loads its K row scale, another its V
 *            row scale, and the lanes take theirs by shuffles (one scale load per trip, not one per position and
 *            lane). Each row group keeps a
 *            running max / sum / accumulator per head; row
 *            groups merge by shuffles, warps through shared memory. A sequence of one split writes its output at
 *            once; otherwise the block writes (acc[head_dim], max, sum) per head to `partials`, and the last
 *            block of its (seq, head chunk) to arrive (a per-unit counter, reset by that block) merges the splits
 *            in split order with the usual rescaling by exp(max_i - max): the same sums whatever the block order.
 *            Fused prologue (lm_decode_fuse.k set: the rope_store_attention op): the block rotates its queries and
 *            the new token's key into shared memory itself (rope, the same arithmetic as lm_rope.cuh), takes the
 *            new key / value (rounded through the cache dtype) from there at position ctx - 1 instead of the
 *            cache, and split 0 of each (seq, KV head) stores them into the cache: rope, rope and kv_store need no
 *            launches.
 *   combine  (without counters) merges the splits in a second launch, the same arithmetic.
 *   prefill  (sequences with n_q > 1, i.e. prefill and chunked prefill) grid (query tile, head, seq),
 *            FlashAttention-style: a block holds a PF_QTILE-query tile's Q, output accumulator, scores and running
 *            softmax state in shared memory (no per-thread arrays, so no local memory) and walks the context in
 *            PF_KTILE-position K and V tiles up to the causal limit of its last query (plain FMA, no tensor cores):
 *            the f32 cache and head dims other than 16 / 32 / 64 / 128; the bf16 cache at those takes the
 *            tensor-core kernel of lm_prefill_attention.cuh. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_kv_dtype.cuh"
#include "cuda/lm_prefill_attention.cuh"
#include "cuda/lm_rope_pair.cuh"

#if !defined(__CUDACC__) && !defined(__threadfence)
#define __threadfence() ((void)0)      /* the simulator runs a launch's blocks on one OS thread */
#endif

#define DEC_WARPS 4                                    /* warps per decode block */
#define DEC_THREADS (32 * DEC_WARPS)
#define DEC_VEC 8                                      /* head_dim elements per lane */
#define DEC_MAX_G 8                                    /* query heads per decode block */
/* resident blocks per SM ptxas must allow (a register cap, sm_90 ptxas -v: 72 at G 1, 80 at G 2, 96 at G 3, 128 at G 4, spills 0 / 4 / 4 / 0 bytes;
 * G 8 holds 64 accumulators) */
#define DEC_MIN_BLOCKS(G) ((G) <= 2 ? 6 : (G) <= 3 ? 5 : (G) <= 4 ? 4 : 2)
/* fp8 KV (4 positions per trip, their row scales): 80 / 96 registers spilled ~100 bytes at G 2 / 3, so one block less */
#define DEC_MIN_BLOCKS_FP8(G) ((G) <= 1 ? 6 : (G) <= 3 ? 4 : (G) <= 4 ? 3 : 2)
#define DEC_TARGET_BLOCKS 528                          /* 4 blocks per SM of a 132-SM H100 */
#define DEC_MIN_SPLIT 32                               /* context positions per split, at least */
#define PF_QTILE 16                                    /* query rows per prefill block (35 KB of shared at D 128) */
#define PF_KTILE 32                                    /* context positions per shared-memory tile */
#define PF_THREADS 128                                 /* threads per prefill block */

typedef srt_cuda_attn_fuse lm_decode_fuse;   /* the fused prologue's inputs (lm_kernels.h) */

/* Decode launch shape, a function of the plan only (a recorded step replays it for shorter contexts). */
typedef struct lm_decode_shape {
    int G, n_sub;             /* heads per block (1, 2, 4, 8), chunks per GQA group */
    int row_lanes, split_len, n_splits;
} lm_decode_shape;

static lm_decode_shape lm_decode_shape_of(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan) {
    lm_decode_shape sh;
    int group = a->n_heads / a->n_kv_heads;
    sh.G = group <= 4 ? group : 8;                         /* 1, 2, 3, 4 exactly (no idle accumulators) or 8 */
    sh.n_sub = (group + sh.G - 1) / sh.G;
    int chunks = (a->head_dim + DEC_VEC - 1) / DEC_VEC;
    for (sh.row_lanes = 1; sh.row_lanes < chunks; sh.row_lanes *= 2) {}
    int64_t units = (int64_t)a->n_seqs * a->n_kv_heads * sh.n_sub;
    int64_t want = (DEC_TARGET_BLOCKS + units - 1) / units;          /* splits per sequence */
    int max_ctx = plan->max_ctx < 1 ? 1 : plan->max_ctx;
    int64_t len = (max_ctx + want - 1) / want;
    len = (len + DEC_MIN_SPLIT - 1) / DEC_MIN_SPLIT * DEC_MIN_SPLIT;
    sh.split_len = (int)len;
    sh.n_splits = (int)((max_ctx + len - 1) / len);
    return sh;
}

/* out[d] = the merge of the `n` splits' partials (n, D + 2) = (acc..., max, sum) of one (seq, head), element d:
 * rescaled by exp(max_i - max), summed in split order (volatile: written by other blocks of the launch). */
__device__ __forceinline__ void lm_attn_merge_splits(const float *part_, int n, int D, int d, float *out) {
    const volatile float *part = part_;
    float mx = -INFINITY, sum = 0.0f, o = 0.0f;
    for (int i = 0; i < n; i++) mx = fmaxf(mx, part[i * (D + 2) + D]);
    for (int i = 0; i < n; i++) sum += part[i * (D + 2) + D + 1] * expf(part[i * (D + 2) + D] - mx);
    for (int i = 0; i < n; i++) o += part[i * (D + 2) + d] * expf(part[i * (D + 2) + D] - mx);
    out[d] = o / sum;
}

/* Eight consecutive cache elements d0 .. d0+7 of one row as loaded, kept packed until used (bf16: one uint4, 4
 * registers), widened per element by at(j); 0 past D. The row may be in global or shared memory. */
template <typename T> struct lm_kv8;
template <> struct lm_kv8<float> {
    float4 x, y;
    __device__ __forceinline__ float at(int j) const {
        const float e[8] = {x.x, x.y, x.z, x.w, y.x, y.y, y.z, y.w};
        return e[j];
    }
};
template <> struct lm_kv8<uint8_t> {
    uint2 x;                                           /* fp8 e4m3 codes: one 8-byte load, widened per element */
    __device__ __forceinline__ float at(int j) const { return srt_kv_e4m3_to_f32((j < 4 ? x.x : x.y) >> (8 * (j & 3)) & 0xffu); }
};
template <> struct lm_kv8<uint16_t> {
    uint4 x;
    __device__ __forceinline__ float at(int j) const {
        const unsigned w[4] = {x.x, x.y, x.z, x.w};
        return srt_kv_bf16_to_f32(j & 1 ? w[j >> 1] >> 16 : w[j >> 1] & 0xffffu);
    }
};
__device__ __forceinline__ void lm_kv8_load(const float *row, int d0, int D, int vec, lm_kv8<float> &r) {
    if (vec) {
        r.x = srt_load16<float4>(row + d0);
        r.y = srt_load16<float4>(row + d0 + 4);
    } else {
        float t[8];
        SRT_UNROLL
        for (int j = 0; j < 8; j++) t[j] = d0 + j < D ? row[d0 + j] : 0.0f;
        r.x = float4{t[0], t[1], t[2], t[3]};
        r.y = float4{t[4], t[5], t[6], t[7]};
    }
}
__device__ __forceinline__ void lm_kv8_load(const uint16_t *row, int d0, int D, int vec, lm_kv8<uint16_t> &r) {
    if (vec) {
        r.x = srt_load16<uint4>(row + d0);
    } else {
        unsigned t[8];
        SRT_UNROLL
        for (int j = 0; j < 8; j++) t[j] = d0 + j < D ? row[d0 + j] : 0u;
        r.x = uint4{t[0] | t[1] << 16, t[2] | t[3] << 16, t[4] | t[5] << 16, t[6] | t[7] << 16};
    }
}
__device__ __forceinline__ void lm_kv8_load(const uint8_t *row, int d0, int D, int vec, lm_kv8<uint8_t> &r) {
    if (vec) {
        r.x = *reinterpret_cast<const uint2 *>(row + d0);
    } else {
        unsigned t[8];
        SRT_UNROLL
        for (int j = 0; j < 8; j++) t[j] = d0 + j < D ? row[d0 + j] : 0u;
        r.x = uint2{t[0] | t[1] << 8 | t[2] << 16 | t[3] << 24, t[4] | t[5] << 8 | t[6] << 16 | t[7] << 24};
    }
}
__device__ __forceinline__ void lm_kv8_zero(lm_kv8<uint8_t> &r) { r.x = uint2{0u, 0u}; }
__device__ __forceinline__ void lm_kv8_zero(lm_kv8<float> &r) { r.x = r.y = float4{0.0f, 0.0f, 0.0f, 0.0f}; }
__device__ __forceinline__ void lm_kv8_zero(lm_kv8<uint16_t> &r) { r.x = uint4{0u, 0u, 0u, 0u}; }

/* A 16-byte shared-memory load that the compiler may not hoist out of the position loop (nvcc would otherwise keep
 * the block's queries in registers across it: G x 8 of them). */
__device__ __forceinline__ float4 lm_lds4(const float4 *p) {
#ifdef __CUDACC__
    float4 v;
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(a));
    return v;
#else
    return *p;
#endif
}

template <typename T, int G>
__device__ __forceinline__ void lm_attn_decode_body(const srt_paged_attn_args &a, lm_decode_shape sh,
                                                    float *partials, int *counters, const lm_decode_fuse &fz) {
    __shared__ float warp_max[DEC_WARPS][G], warp_sum[DEC_WARPS][G];
    __shared__ int last_block;
    __shared__ float4 q_sh4[G][SRT_CUDA_LM_MAX_HEAD_DIM / 4];         /* the block's queries x scale (rotated when
                                                                         fused), 0 past ng and D: (G, head_dim) */
    __shared__ float4 kv_new4[2][SRT_CUDA_LM_MAX_HEAD_DIM / 4];       /* fused: the new key (rotated) and value as
                                                                         the cache holds them: (2, MAX_HEAD_DIM) T */
    SRT_DYN_SHARED(float, warp_acc);                   /* (DEC_WARPS, G, head_dim) */
    float *q_sh = reinterpret_cast<float *>(&q_sh4[0][0]);
    T *kv_new = reinterpret_cast<T *>(&kv_new4[0][0]);
    constexpr int U = sizeof(T) == 1 ? 4 : sizeof(T) == 2 ? 2 : 1;   /* positions per trip: 64 bytes of K / V in flight */
    constexpr bool FP8 = sizeof(T) == 1;               /* row scales per position (fp8 is never fused) */
    const int split = blockIdx.x, s = blockIdx.z;
    if (a.n_q[s] != 1) return;
    const int ctx = a.ctx_len[s], p0 = split * sh.split_len, p1 = min(ctx, p0 + sh.split_len);
    if (p0 >= ctx) return;
    const int group = a.n_heads / a.n_kv_heads, kvh = blockIdx.y / sh.n_sub, sub = blockIdx.y - kvh * sh.n_sub;
    const int h0 = kvh * group + sub * G, ng = min(G, group - sub * G);   /* this block's heads h0 .. h0+ng-1 */
    const int D = a.head_dim, kv_dim = a.n_kv_heads * D, bs = a.block_size, vec = (D % DEC_VEC) == 0;
    const int DQ = (D + DEC_VEC - 1) / DEC_VEC * DEC_VEC;               /* q_sh row length read by the lanes */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, rows = 32 / sh.row_lanes;
    const int c = lane & (sh.row_lanes - 1), rg = lane / sh.row_lanes, d0 = c * DEC_VEC;
    const int32_t *blocks = a.block_table + (size_t)s * a.max_blocks;
    const float *q = a.q + ((size_t)a.q_start[s] * a.n_heads + h0) * D;   /* (ng, head_dim) */
    const float scale = rsqrtf((float)D);
    const int fused = fz.k != nullptr;
    /* the queries into shared memory, scaled (fused: rope of the queries and of the new key first, once per element,
     * srt_rope_pair: the bits of a rope launch; the new key and value rounded through the cache dtype as a store +
     * load would give them). Registers hold only the accumulators: the lanes read q_sh as float4s per position. */
    const int row_q = a.q_start[s], half = D / 2;
    for (int e = threadIdx.x; e < (G + 1) * DQ; e += blockDim.x) {
        const int g = e / DQ, d = e - g * DQ, i = d < half ? d : d - half;
        if (d >= D || (g < G && g >= ng)) {
            if (g < G) q_sh[g * SRT_CUDA_LM_MAX_HEAD_DIM + d] = 0.0f;
            continue;
        }
        if (!fused) {
            if (g < G) q_sh[g * SRT_CUDA_LM_MAX_HEAD_DIM + d] = q[g * D + d] * scale;
            continue;
        }
        const float *x = g < G ? q + g * D : fz.k + (size_t)row_q * kv_dim + (size_t)kvh * D;
        float y0, y1;
        srt_rope_pair(x[i], x[i + half], fz.pos[row_q], fz.inv_freq[i], &y0, &y1);
        const float y = d < half ? y0 : y1;
        if (g < G) {
            q_sh[g * SRT_CUDA_LM_MAX_HEAD_DIM + d] = y * scale;
        } else {
            srt_kv_put(kv_new, d, y);
            srt_kv_put(kv_new, SRT_CUDA_LM_MAX_HEAD_DIM + d, fz.v[(size_t)row_q * kv_dim + (size_t)kvh * D + d]);
        }
    }
    __syncthreads();
    if (fused) {
        const int slot = fz.slot[row_q];
        if (split == 0 && sub == 0 && slot >= 0) {                    /* one writer per (seq, KV head) */
            T *kw = static_cast<T *>(const_cast<void *>(a.k_cache)), *vw = static_cast<T *>(const_cast<void *>(a.v_cache));
            const size_t dst = (size_t)slot * kv_dim + (size_t)kvh * D;
            for (int d = threadIdx.x; d < D; d += blockDim.x) {
                kw[dst + d] = kv_new[d];                              /* already in the cache dtype */
                vw[dst + d] = kv_new[SRT_CUDA_LM_MAX_HEAD_DIM + d];
            }
        }
    }
    float acc[G][DEC_VEC], mx[G], sum[G];
    SRT_UNROLL
    for (int g = 0; g < G; g++) {
        SRT_UNROLL
        for (int j = 0; j < DEC_VEC; j++) acc[g][j] = 0.0f;
        mx[g] = -INFINITY;
        sum[g] = 0.0f;
    }
    const T *kc = static_cast<const T *>(a.k_cache) + (size_t)kvh * D;
    const T *vc = static_cast<const T *>(a.v_cache) + (size_t)kvh * D;
    const int stride = DEC_WARPS * rows;
    /* fp8 with 2 U rows <= 32 (head_dim > 16): a warp's trip covers U rows consecutive positions (trip u holds
     * pw + u rows + rg), so their row scales are one run: lane i < U rows loads the K scale of position pw + i, lane
     * U rows + i its V scale (one load each, not one per position and lane) and the lanes take theirs by shuffles.
     * Otherwise (and for f32 / bf16) position u of a trip is pw + rg + u stride: the warps interleave by rows. */
    constexpr int UR_MAX = 16;                                        /* U rows <= 16: 2 U rows lanes */
    const int scale_lanes = FP8 && 2 * U * rows <= 2 * UR_MAX, ustep = scale_lanes ? rows : stride;
    const int wstart = p0 + warp * (scale_lanes ? U * rows : rows);
    int p = wstart + rg, b = p / bs, off = p - b * bs;                /* one division per thread */
    const int step_b = ustep / bs, step_off = ustep - step_b * bs;
    int cur_b = -1, cur_blk = 0;                                      /* the KV block of the last position loaded */
    /* U positions per trip: all their K and V loads are issued before the first is used (loads in flight) */
    for (int pw = wstart; pw < p1; pw += U * stride) {              /* uniform per warp */
        lm_kv8<T> k[U], v[U];
        int valid[U];
        float ksc[U], vsc[U];                                         /* fp8 row scales (1 otherwise) */
        float sc = 1.0f;                                              /* scale_lanes: this lane's scale */
        if (scale_lanes) {
            p = pw + rg;                                              /* the trip's first position: re-seated */
            b = p / bs;
            off = p - b * bs;
            const int ur = U * rows, i = lane < ur ? lane : lane - ur, pl = pw + i;
            if (lane < 2 * ur && pl < p1) {
                const int bl = pl / bs;
                const size_t si = ((size_t)blocks[bl] * a.n_kv_heads + kvh) * bs + (pl - bl * bs);
                sc = lane < ur ? a.k_scale[si] : a.v_scale[si];
            }
        }
        SRT_UNROLL
        for (int u = 0; u < U; u++) {
            valid[u] = p < p1;
            ksc[u] = vsc[u] = 1.0f;
            if (scale_lanes) {                                        /* uniform: every lane shuffles */
                ksc[u] = __shfl_sync(0xffffffffu, sc, u * rows + rg);
                vsc[u] = __shfl_sync(0xffffffffu, sc, U * rows + u * rows + rg);
            }
            if (valid[u] && d0 < D && fused && p == ctx - 1) {        /* the new token: from shared memory */
                lm_kv8_load(kv_new, d0, D, vec, k[u]);
                lm_kv8_load(kv_new + SRT_CUDA_LM_MAX_HEAD_DIM, d0, D, vec, v[u]);
            } else if (valid[u] && d0 < D) {
                if (b != cur_b) { cur_b = b; cur_blk = blocks[b]; }    /* the table entry read once per block */
                const size_t row = ((size_t)cur_blk * bs + off) * kv_dim;
                lm_kv8_load(kc + row, d0, D, vec, k[u]);              /* K and V requested together */
                lm_kv8_load(vc + row, d0, D, vec, v[u]);
                if (FP8 && !scale_lanes) {
                    const size_t si = ((size_t)cur_blk * a.n_kv_heads + kvh) * bs + off;
                    ksc[u] = a.k_scale[si];
                    vsc[u] = a.v_scale[si];
                }
            } else {
                lm_kv8_zero(k[u]);
                lm_kv8_zero(v[u]);
            }
            p += ustep;                                               /* next position: carry, no division */
            b += step_b;
            off += step_off;
            if (off >= bs) { off -= bs; b++; }
        }
        float dot[U][G];
        SRT_UNROLL
        for (int g = 0; g < G; g++) {                                 /* each query read serves the U positions */
            const float4 qa = lm_lds4(&q_sh4[g][d0 / 4]), qb = lm_lds4(&q_sh4[g][d0 / 4 + 1]);
            const float qv[DEC_VEC] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
            SRT_UNROLL
            for (int u = 0; u < U; u++) {
                float t = 0.0f;
                SRT_UNROLL
                for (int j = 0; j < DEC_VEC; j++) t += qv[j] * k[u].at(j);
                dot[u][g] = FP8 ? t * ksc[u] : t;
            }
        }
        SRT_UNROLL
        for (int u = 0; u < U; u++) {
            for (int o = sh.row_lanes / 2; o > 0; o >>= 1)
                SRT_UNROLL
                for (int g = 0; g < G; g++) dot[u][g] += __shfl_xor_sync(0xffffffffu, dot[u][g], o);
            if (valid[u]) {
                SRT_UNROLL
                for (int g = 0; g < G; g++) {
                    const float new_mx = fmaxf(mx[g], dot[u][g]), corr = expf(mx[g] - new_mx), w = expf(dot[u][g] - new_mx);
                    sum[g] = sum[g] * corr + w;
                    const float wv = FP8 ? w * vsc[u] : w;
                    SRT_UNROLL
                    for (int j = 0; j < DEC_VEC; j++) acc[g][j] = acc[g][j] * corr + wv * v[u].at(j);
                    mx[g] = new_mx;
                }
            }
        }
    }
    for (int o = sh.row_lanes; o < 32; o <<= 1) {                    /* merge the row groups of the warp */
        SRT_UNROLL
        for (int g = 0; g < G; g++) {
            const float omx = __shfl_xor_sync(0xffffffffu, mx[g], o), osum = __shfl_xor_sync(0xffffffffu, sum[g], o);
            const float m = fmaxf(mx[g], omx);
            const float cs = mx[g] == -INFINITY ? 0.0f : expf(mx[g] - m);
            const float co = omx == -INFINITY ? 0.0f : expf(omx - m);
            sum[g] = sum[g] * cs + osum * co;
            SRT_UNROLL
            for (int j = 0; j < DEC_VEC; j++) {
                const float oacc = __shfl_xor_sync(0xffffffffu, acc[g][j], o);
                acc[g][j] = acc[g][j] * cs + oacc * co;
            }
            mx[g] = m;
        }
    }
    if (rg == 0) {
        SRT_UNROLL
        for (int g = 0; g < G; g++) {
            if (lane == 0) { warp_max[warp][g] = mx[g]; warp_sum[warp][g] = sum[g]; }
            SRT_UNROLL
            for (int j = 0; j < DEC_VEC; j++)
                if (d0 + j < D) warp_acc[(warp * G + g) * D + d0 + j] = acc[g][j];
        }
    }
    __syncthreads();
    const int own_splits = (ctx + sh.split_len - 1) / sh.split_len;
    for (int i = threadIdx.x; i < ng * D; i += blockDim.x) {
        const int g = i / D, d = i - g * D;
        float block_max = -INFINITY, block_sum = 0.0f, o = 0.0f;   /* warp 0 always has a position */
        for (int w = 0; w < DEC_WARPS; w++) block_max = fmaxf(block_max, warp_max[w][g]);
        for (int w = 0; w < DEC_WARPS; w++)
            if (warp_max[w][g] != -INFINITY) {
                const float e = expf(warp_max[w][g] - block_max);
                block_sum += warp_sum[w][g] * e;
                o += warp_acc[(w * G + g) * D + d] * e;
            }
        const int h = h0 + g;
        if (own_splits == 1) {
            a.out[((size_t)a.q_start[s] * a.n_heads + h) * D + d] = o / block_sum;
        } else {
            float *part = partials + (((size_t)s * a.n_heads + h) * sh.n_splits + split) * (D + 2);
            part[d] = o;
            if (d == 0) { part[D] = block_max; part[D + 1] = block_sum; }
        }
    }
    if (own_splits == 1 || !counters) return;
    /* the last block of this (seq, head chunk) merges every split's partials, in split order */
    int *counter = counters + (size_t)s * gridDim.y + blockIdx.y;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last_block = atomicAdd(counter, 1) == own_splits - 1;
    __syncthreads();
    if (!last_block) return;
    __threadfence();
    for (int i = threadIdx.x; i < ng * D; i += blockDim.x) {
        const int g = i / D, d = i - g * D, h = h0 + g;
        lm_attn_merge_splits(partials + ((size_t)s * a.n_heads + h) * sh.n_splits * (D + 2), own_splits, D, d,
                             a.out + ((size_t)a.q_start[s] * a.n_heads + h) * D);
    }
    if (threadIdx.x == 0) *counter = 0;                                /* ready for the next launch */
}

/* grid (n_splits, n_kv_heads * n_sub, n_seqs), block DEC_THREADS, smem DEC_WARPS * G * head_dim floats.
 * partials: (n_seqs, n_heads, n_splits, head_dim + 2) = (acc..., max, sum) of each split. One kernel per G. */
#define LM_ATTN_DECODE_KERNEL(G)                                                                                  \
    __global__ void __launch_bounds__(DEC_THREADS, DEC_MIN_BLOCKS(G))                                             \
    lm_attn_decode_g##G##_kernel(srt_paged_attn_args a, lm_decode_shape sh, float *partials, int *counters,      \
                                 lm_decode_fuse fz) {                                                             \
        if (a.kv_dtype == SRT_BF16) lm_attn_decode_body<uint16_t, G>(a, sh, partials, counters, fz);              \
        else lm_attn_decode_body<float, G>(a, sh, partials, counters, fz);                                        \
    }                                                                                                             \
    /* fp8 KV: its own kernel (its own registers in ptxas, its own loads-in-flight in bench/gpu_model.py) */      \
    __global__ void __launch_bounds__(DEC_THREADS, DEC_MIN_BLOCKS_FP8(G))                                         \
    lm_attn_decode_fp8_g##G##_kernel(srt_paged_attn_args a, lm_decode_shape sh, float *partials, int *counters,  \
                                     lm_decode_fuse fz) {                                                         \
        lm_attn_decode_body<uint8_t, G>(a, sh, partials, counters, fz);                                           \
    }
LM_ATTN_DECODE_KERNEL(1)
LM_ATTN_DECODE_KERNEL(2)
LM_ATTN_DECODE_KERNEL(3)
LM_ATTN_DECODE_KERNEL(4)
LM_ATTN_DECODE_KERNEL(8)

/* grid (n_heads, n_seqs), block head_dim rounded up to 32 (at most 128): the merge as a second launch (no
 * counters, or more (seq, head chunk) units than they hold). */
__global__ void lm_attn_combine_kernel(srt_paged_attn_args a, lm_decode_shape sh, const float *partials) {
    int h = blockIdx.x, s = blockIdx.y, D = a.head_dim;
    if (a.n_q[s] != 1) return;
    int own_splits = (a.ctx_len[s] + sh.split_len - 1) / sh.split_len;
    if (own_splits <= 1) return;
    const float *part = partials + ((size_t)s * a.n_heads + h) * sh.n_splits * (D + 2);   /* (n_splits, D + 2) */
    float *out = a.out + ((size_t)a.q_start[s] * a.n_heads + h) * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) lm_attn_merge_splits(part, own_splits, D, d, out);
}

/* grid (ceil(max_n_q / PF_QTILE), n_heads, n_seqs), block PF_THREADS, smem lm_prefill_smem_floats(head_dim).
 * FlashAttention-style tiles, all in shared memory (no per-thread arrays): Q (PF_QTILE, D) scaled, one K-or-V tile
 * (PF_KTILE, D + 1: the pad spreads a column over the banks), O (PF_QTILE, D), S / P (PF_QTILE, PF_KTILE), and per
 * row the running max, sum and the tile's rescale factor. Per key tile: K staged, S = Q K^T with the causal mask,
 * one warp per row updates max / sum and turns S into P, V staged into the same buffer, O = O * rescale + P V. */
/* The scale of cache row `slot`, KV head kvh: the fp8 row scale ((n_blocks, n_kv_heads, block_size) layout), else 1. */
template <typename T>
__device__ __forceinline__ float lm_kv_row_scale(const float *scale, const srt_paged_attn_args &a, size_t slot, int kvh) {
    if (sizeof(T) != 1) return 1.0f;
    const size_t blk = slot / a.block_size;
    return scale[(blk * a.n_kv_heads + kvh) * a.block_size + (slot - blk * a.block_size)];
}

template <typename T>
__device__ __forceinline__ void lm_attn_prefill_body(const srt_paged_attn_args &a) {
    SRT_DYN_SHARED(float, smem);
    const int h = blockIdx.y, s = blockIdx.z, n_q = a.n_q[s], i0 = blockIdx.x * PF_QTILE;
    if (n_q < 2 || i0 >= n_q) return;
    const int D = a.head_dim, DP = D + 1, kvh = h / (a.n_heads / a.n_kv_heads), kv_dim = a.n_kv_heads * D;
    const int first = a.ctx_len[s] - n_q;                  /* position of query 0 */
    const int rows = min(PF_QTILE, n_q - i0), tile_last = first + i0 + rows - 1;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int32_t *blocks = a.block_table + (size_t)s * a.max_blocks;
    float *qs = smem, *kv = qs + PF_QTILE * D, *os = kv + PF_KTILE * DP, *ps = os + PF_QTILE * D;
    float *row_max = ps + PF_QTILE * PF_KTILE, *row_sum = row_max + PF_QTILE, *row_corr = row_sum + PF_QTILE;
    const float scale = rsqrtf((float)D);
    const T *kc = static_cast<const T *>(a.k_cache), *vc = static_cast<const T *>(a.v_cache);
    for (int e = tid; e < PF_QTILE * D; e += blockDim.x) {
        const int i = e / D, d = e - i * D;
        qs[e] = i < rows ? a.q[((size_t)(a.q_start[s] + i0 + i) * a.n_heads + h) * D + d] * scale : 0.0f;
        os[e] = 0.0f;
    }
    if (tid < PF_QTILE) { row_max[tid] = -INFINITY; row_sum[tid] = 0.0f; }
    for (int t0 = 0; t0 <= tile_last; t0 += PF_KTILE) {
        const int n = min(PF_KTILE, tile_last + 1 - t0);
        __syncthreads();                                   /* the previous tile's V is consumed */
        for (int e = tid; e < n * D; e += blockDim.x) {    /* K tile */
            const int j = e / D, d = e - j * D, p = t0 + j;
            const size_t slot = (size_t)blocks[p / a.block_size] * a.block_size + p % a.block_size;
            kv[j * DP + d] = srt_kv_get(kc, slot * kv_dim + (size_t)kvh * D + d) * lm_kv_row_scale<T>(a.k_scale, a, slot, kvh);
        }
        __syncthreads();
        for (int e = tid; e < PF_QTILE * PF_KTILE; e += blockDim.x) {   /* S = Q K^T, causal */
            const int i = e / PF_KTILE, j = e - i * PF_KTILE;
            float dot = -INFINITY;
            if (i < rows && j < n && t0 + j <= first + i0 + i) {
                dot = 0.0f;
                for (int d = 0; d < D; d++) dot += qs[i * D + d] * kv[j * DP + d];
            }
            ps[e] = dot;
        }
        __syncthreads();
        for (int i = warp; i < rows; i += blockDim.x / 32) {   /* online softmax, one warp per row */
            const float sc = lane < PF_KTILE ? ps[i * PF_KTILE + lane] : -INFINITY;
            float mx = sc;
            for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float old = row_max[i], nmx = fmaxf(old, mx);   /* finite: key 0 is in every row's first tile */
            const float w = sc == -INFINITY ? 0.0f : expf(sc - nmx);
            const float tile_sum = srt_warp_sum(w);
            if (lane < PF_KTILE) ps[i * PF_KTILE + lane] = w;
            if (lane == 0) {
                const float corr = old == -INFINITY ? 0.0f : expf(old - nmx);
                row_corr[i] = corr;
                row_sum[i] = row_sum[i] * corr + tile_sum;
                row_max[i] = nmx;
            }
        }
        __syncthreads();
        for (int e = tid; e < n * D; e += blockDim.x) {    /* V tile into the same buffer */
            const int j = e / D, d = e - j * D, p = t0 + j;
            const size_t slot = (size_t)blocks[p / a.block_size] * a.block_size + p % a.block_size;
            kv[j * DP + d] = srt_kv_get(vc, slot * kv_dim + (size_t)kvh * D + d) * lm_kv_row_scale<T>(a.v_scale, a, slot, kvh);
        }
        __syncthreads();
        for (int e = tid; e < rows * D; e += blockDim.x) {   /* O = O * corr + P V */
            const int i = e / D, d = e - i * D;
            float o = os[e] * row_corr[i];
            for (int j = 0; j < n; j++) o += ps[i * PF_KTILE + j] * kv[j * DP + d];
            os[e] = o;
        }
    }
    __syncthreads();
    for (int e = tid; e < rows * D; e += blockDim.x) {
        const int i = e / D, d = e - i * D;
        a.out[((size_t)(a.q_start[s] + i0 + i) * a.n_heads + h) * D + d] = os[e] / row_sum[i];
    }
}

__global__ void __launch_bounds__(PF_THREADS) lm_attn_prefill_kernel(srt_paged_attn_args a) {
    if (a.kv_dtype == SRT_BF16) lm_attn_prefill_body<uint16_t>(a);
    else if (a.kv_dtype == SRT_F8E4M3) lm_attn_prefill_body<uint8_t>(a);
    else lm_attn_prefill_body<float>(a);
}

static size_t lm_prefill_smem_floats(int D) {
    return (size_t)PF_QTILE * D * 2 + (size_t)PF_KTILE * (D + 1) + PF_QTILE * PF_KTILE + 3 * PF_QTILE;
}

extern "C" size_t srt_cuda_lm_attn_partials_floats(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan) {
    if (!plan->any_decode) return 0;
    lm_decode_shape sh = lm_decode_shape_of(a, plan);
    if (sh.n_splits == 1) return 0;
    return (size_t)a->n_seqs * a->n_heads * sh.n_splits * (a->head_dim + 2);
}

extern "C" srt_status srt_cuda_lm_paged_attention(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan,
                                                  float *partials, int *counters, const srt_cuda_attn_fuse *fuse,
                                                  cudaStream_t stream) {
    int D = a->head_dim;
    if (D > SRT_CUDA_LM_MAX_HEAD_DIM || a->n_heads > 65535 || a->n_seqs > 65535)
        return srt_error(SRT_ERR_UNSUPPORTED, "paged_attention: head_dim %d (max %d), %d heads, %d sequences "
                         "(max 65535 each) exceed the CUDA kernels' limits", D, SRT_CUDA_LM_MAX_HEAD_DIM, a->n_heads,
                         a->n_seqs);
    if (fuse && plan->any_prefill)
        return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: the fused rope / KV store is for decode-only batches");
    if (a->n_seqs == 0) return SRT_OK;
    if (plan->any_decode) {
        lm_decode_shape sh = lm_decode_shape_of(a, plan);
        dim3 grid((unsigned)sh.n_splits, (unsigned)(a->n_kv_heads * sh.n_sub), (unsigned)a->n_seqs);
        size_t smem = (size_t)DEC_WARPS * sh.G * D * sizeof(float);
        /* the kernel merges its splits itself when the counters cover every (seq, head chunk) */
        int *ctr = sh.n_splits > 1 && (int64_t)grid.y * grid.z <= SRT_CUDA_ATTN_COUNTERS ? counters : NULL;
        lm_decode_fuse fz = fuse ? *fuse : lm_decode_fuse{};
        switch (a->kv_dtype == SRT_F8E4M3 ? -sh.G : sh.G) {
        case -1: LAUNCH(lm_attn_decode_fp8_g1_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_fp8_g1_kernel)); break;
        case -2: LAUNCH(lm_attn_decode_fp8_g2_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_fp8_g2_kernel)); break;
        case -3: LAUNCH(lm_attn_decode_fp8_g3_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_fp8_g3_kernel)); break;
        case -4: LAUNCH(lm_attn_decode_fp8_g4_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_fp8_g4_kernel)); break;
        case -8: LAUNCH(lm_attn_decode_fp8_g8_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_fp8_g8_kernel)); break;
        case 1: LAUNCH(lm_attn_decode_g1_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_g1_kernel)); break;
        case 2: LAUNCH(lm_attn_decode_g2_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_g2_kernel)); break;
        case 3: LAUNCH(lm_attn_decode_g3_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_g3_kernel)); break;
        case 4: LAUNCH(lm_attn_decode_g4_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_g4_kernel)); break;
        default: LAUNCH(lm_attn_decode_g8_kernel, grid, DEC_THREADS, smem, stream, *a, sh, partials, ctr, fz);
                 SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_decode_g8_kernel)); break;
        }
        if (sh.n_splits > 1 && !ctr) {
            dim3 cgrid((unsigned)a->n_heads, (unsigned)a->n_seqs);
            LAUNCH(lm_attn_combine_kernel, cgrid, (unsigned)((D + 31) / 32 * 32), 0, stream, *a, sh, partials);
            SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_combine_kernel));
        }
    }
    if (plan->any_prefill && lm_prefill_tc_fits(a)) {   /* bf16 cache, head_dim 16..128: tensor cores */
        SRT_TRY(lm_prefill_tc_launch(a, plan, stream));
    } else if (plan->any_prefill) {
        dim3 grid((unsigned)((plan->max_n_q + PF_QTILE - 1) / PF_QTILE), (unsigned)a->n_heads, (unsigned)a->n_seqs);
        LAUNCH(lm_attn_prefill_kernel, grid, PF_THREADS, lm_prefill_smem_floats(D) * sizeof(float), stream, *a);
        SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_kernel));
    }
    return SRT_OK;
}
