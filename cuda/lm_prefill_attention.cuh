/* lm_prefill_attention.cuh: prefill attention (the sequences with n_q > 1 of a paged_attention op: prefill and
 * chunked prefill) on bf16 tensor cores, FlashAttention-2 style, for the bf16 KV cache at head_dim 16, 32, 64 or
 * 128 (128: Orpheus-3B, 64: Llama-3.2-1B, 16: the golden tiny models, whose bf16-KV checks so run through it).
 * fp8 caches are not handled here.
 * lm_paged_attention.cuh dispatches here (lm_prefill_tc_fits); its FMA prefill kernel keeps the f32 cache (the exact
 * tests) and the other head dims.
 *
 * Rows: the (query, head) pairs of one KV head's GQA group, query-major: row r of a sequence is query r / G of
 * head kvh * G + r % G (G = n_heads / n_kv_heads), so the G heads of a group share every K and V tile. Grid
 * (ceil(max_n_q * G / PFT_ROWS), n_kv_heads, n_seqs), the heaviest (last) row tiles first; block PFT_THREADS = 4
 * warps, warp w owns rows 16w .. 16w + 15 of the block's PFT_ROWS. Per warp, all in registers (fixed-size arrays
 * indexed by unrolled constants only: no local memory):
 *   Q     the warp's 16 rows as m16n8k16 A fragments (bf16), D / 4 registers, loaded once from the f32 queries;
 *   S     16 x PFT_KEYS scores (f32 mma accumulators), 32 registers;
 *   O     16 x D output accumulator (f32), D / 2 registers;
 *   m, l  running max (of the raw scores) and this lane's part of the running sum, for its 2 rows.
 * The block walks the context in PFT_KEYS-position tiles up to the causal limit of its last row: K (key, d) and V
 * transposed (d, key) are staged into shared memory from the paged cache with 16-byte loads (a thread: two keys x
 * D / 32 chunks of 8 elements, D 16: warps 0 and 1 only; a warp instruction reads 16 keys x 32 contiguous bytes),
 * positions past the limit as zeros. S = Q K^T (mma); the causal mask (key > query position -> -inf) only on tiles that reach past the block's
 * first query; online softmax in f32 (exp2 with the scale 1/sqrt(D) x log2 e folded in; O and l rescaled by
 * exp2(m_old - m_new)); P rounded to bf16 as the A fragments of O += P V (the S accumulator layout of two adjacent
 * n-tiles is the A layout of one k-step). Output O / l (f32), the row sum reduced over the 4 lanes of a row.
 * Shared rows are padded by 8 bf16 so the fragment reads (8 rows x 4 words) hit 32 distinct banks.
 * With out_bf16 set the epilogue also stores bf16(O / l) (srt_kv_f32_to_bf16: nearest even, as the GEMMs' rounding
 * kernel gemm_split_bf16.cuh) at the same offsets: the o projection's A without a rounding launch (cublas.c).
 * Precision: Q and P are rounded to bf16 (K and V are bf16 already); products exact, sums in f32. The error bound
 * and the tolerance derived from it are written beside the test (tests/test_cudasim_prefill_attention.cpp). */
#ifndef SRT_CUDA_LM_PREFILL_ATTENTION_CUH
#define SRT_CUDA_LM_PREFILL_ATTENTION_CUH
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/mma.cuh"
#include "cuda/attn_online_softmax.cuh"
#include "cuda/lm_kv_dtype.cuh"
#ifndef __CUDACC__
#include "tests/cudasim/cudasim_api.h"
#endif

#define PFT_ROWS 64                                    /* (query, head) rows per block, 16 per warp */
#define PFT_KEYS 64                                    /* context positions per K / V tile */
#define PFT_THREADS 128
#define PFT_PAD 4                                      /* 32-bit words of pad per shared row (8 bf16) */

template <int D> struct alignas(16) lm_pft_tiles {
    uint32_t k[PFT_KEYS][D / 2 + PFT_PAD];             /* K tile (key, d): bf16 pairs along d */
    uint32_t vt[D][PFT_KEYS / 2 + PFT_PAD];            /* V tile transposed (d, key): bf16 pairs along key */
};

/* 8 bytes of f32 (two consecutive elements) in one access */
__device__ __forceinline__ float2 lm_pft_ld2(const float *p) { return srt_load8<float2>(p); }
__device__ __forceinline__ void lm_pft_st2(float *p, float x, float y) { srt_store8(p, float2{x, y}); }
/* two bf16 (x low) in one 4-byte store */
__device__ __forceinline__ void lm_pft_st2_bf16(uint16_t *p, float x, float y) {
    const unsigned w = srt_kv_f32_to_bf16(x) | (unsigned)srt_kv_f32_to_bf16(y) << 16;
#ifdef __CUDACC__
    *reinterpret_cast<unsigned *>(p) = w;
#else
    __builtin_memcpy(p, &w, 4);
#endif
}

template <int D>
__device__ __forceinline__ void lm_attn_prefill_tc_body(const srt_paged_attn_args &a, uint16_t *out_bf16) {
    __shared__ lm_pft_tiles<D> sm;
    const int G = a.n_heads / a.n_kv_heads, kvh = blockIdx.y, s = blockIdx.z, n_q = a.n_q[s];
    const int rows_total = n_q * G, R0 = (int)(gridDim.x - 1 - blockIdx.x) * PFT_ROWS;
    if (n_q < 2 || R0 >= rows_total) return;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5, g = lane >> 2, t = lane & 3;
    const int first = a.ctx_len[s] - n_q;                              /* position of query 0 */
    const int pos_min = first + R0 / G;                                /* the block's first query position */
    const int kv_end = first + min(n_q - 1, (R0 + PFT_ROWS - 1) / G) + 1;   /* keys the block's rows may see */
    const int kv_dim = a.n_kv_heads * D;
    const int32_t *blocks = a.block_table + (size_t)s * a.max_blocks;
    const uint16_t *kc = static_cast<const uint16_t *>(a.k_cache), *vc = static_cast<const uint16_t *>(a.v_cache);

    /* this lane's two rows (g and g + 8 of its warp): query position (padding rows: the last query's) and q row */
    const int rA = R0 + 16 * w + g, rB = rA + 8;
    const int iA = min(rA / G, n_q - 1), iB = min(rB / G, n_q - 1);
    const int posA = first + iA, posB = first + iB;
    const size_t offA = ((size_t)(a.q_start[s] + iA) * a.n_heads + kvh * G + rA % G) * D;
    const size_t offB = ((size_t)(a.q_start[s] + iB) * a.n_heads + kvh * G + rB % G) * D;
    const bool okA = rA < rows_total, okB = rB < rows_total;

    uint32_t qf[D / 16][4];                            /* Q (16, D) as A fragments, bf16 */
    SRT_UNROLL
    for (int kk = 0; kk < D / 16; kk++) {
        const int d = 16 * kk + 2 * t;
        const float2 a0 = okA ? lm_pft_ld2(a.q + offA + d) : float2{0.0f, 0.0f};
        const float2 a1 = okB ? lm_pft_ld2(a.q + offB + d) : float2{0.0f, 0.0f};
        const float2 a2 = okA ? lm_pft_ld2(a.q + offA + d + 8) : float2{0.0f, 0.0f};
        const float2 a3 = okB ? lm_pft_ld2(a.q + offB + d + 8) : float2{0.0f, 0.0f};
        qf[kk][0] = srt_bf16x2_bits(a0.x, a0.y);
        qf[kk][1] = srt_bf16x2_bits(a1.x, a1.y);
        qf[kk][2] = srt_bf16x2_bits(a2.x, a2.y);
        qf[kk][3] = srt_bf16x2_bits(a3.x, a3.y);
    }
    float o[D / 8][4];                                 /* O (16, D): n-tile n holds columns 8n .. 8n + 7 */
    SRT_UNROLL
    for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float mA = -INFINITY, mB = -INFINITY, lA = 0.0f, lB = 0.0f;
    const float c = rsqrtf((float)D) * 1.4426950408889634f;    /* scale x log2 e */

    /* staging: this thread's key pair kp (keys 2kp, 2kp + 1 of the tile) and chunk parity */
    const int kp = ((w & 1) << 4) | (lane >> 1), cpar = lane & 1;
    for (int t0 = 0; t0 < kv_end; t0 += PFT_KEYS) {
        __syncthreads();                               /* the previous tile is consumed */
        {
            const int p0 = t0 + 2 * kp, p1 = p0 + 1;
            const uint16_t *k0 = nullptr, *k1 = nullptr, *v0 = nullptr, *v1 = nullptr;
            if (p0 < kv_end) {
                const size_t slot = (size_t)blocks[p0 / a.block_size] * a.block_size + p0 % a.block_size;
                k0 = kc + slot * kv_dim + (size_t)kvh * D;
                v0 = vc + slot * kv_dim + (size_t)kvh * D;
            }
            if (p1 < kv_end) {
                const size_t slot = (size_t)blocks[p1 / a.block_size] * a.block_size + p1 % a.block_size;
                k1 = kc + slot * kv_dim + (size_t)kvh * D;
                v1 = vc + slot * kv_dim + (size_t)kvh * D;
            }
            SRT_UNROLL
            for (int it = 0; it < (D + 31) / 32; it++) {
                const int cp = (w >> 1) + 2 * it;              /* chunk pair: warps 0, 1 take the even ones */
                if (D % 32 != 0 && cp >= D / 16) break;        /* D 16: warps 2, 3 stage nothing */
                const int ch = 2 * cp + cpar;                  /* 8-element chunk of the row */
                const uint4 z = uint4{0u, 0u, 0u, 0u};
                const uint4 ka = k0 ? srt_load16<uint4>(k0 + 8 * ch) : z, kb = k1 ? srt_load16<uint4>(k1 + 8 * ch) : z;
                const uint4 va = v0 ? srt_load16<uint4>(v0 + 8 * ch) : z, vb = v1 ? srt_load16<uint4>(v1 + 8 * ch) : z;
                srt_store16(&sm.k[2 * kp][4 * ch], ka);
                srt_store16(&sm.k[2 * kp + 1][4 * ch], kb);
                const uint32_t x[4] = {va.x, va.y, va.z, va.w}, y[4] = {vb.x, vb.y, vb.z, vb.w};
                SRT_UNROLL
                for (int j = 0; j < 4; j++) {          /* d = 8ch + 2j, 8ch + 2j + 1: (key 2kp, key 2kp + 1) pairs */
                    sm.vt[8 * ch + 2 * j][kp] = (x[j] & 0xffffu) | (y[j] << 16);
                    sm.vt[8 * ch + 2 * j + 1][kp] = (x[j] >> 16) | (y[j] & 0xffff0000u);
                }
            }
        }
        __syncthreads();

        float sc[PFT_KEYS / 8][4];                     /* S (16, PFT_KEYS): n-tile j holds keys t0 + 8j .. + 7 */
        SRT_UNROLL
        for (int j = 0; j < PFT_KEYS / 8; j++) sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.0f;
        SRT_UNROLL
        for (int kk = 0; kk < D / 16; kk++) {
            SRT_UNROLL
            for (int j = 0; j < PFT_KEYS / 8; j++) {
                const uint32_t b[2] = {sm.k[8 * j + g][8 * kk + t], sm.k[8 * j + g][8 * kk + t + 4]};
                srt_mma_bf16(sc[j], qf[kk], b);
            }
        }
        if (t0 + PFT_KEYS - 1 > pos_min) {             /* a diagonal tile: mask keys past each row's position */
            SRT_UNROLL
            for (int j = 0; j < PFT_KEYS / 8; j++) {
                const int key = t0 + 8 * j + 2 * t;
                if (key > posA) sc[j][0] = -INFINITY;
                if (key + 1 > posA) sc[j][1] = -INFINITY;
                if (key > posB) sc[j][2] = -INFINITY;
                if (key + 1 > posB) sc[j][3] = -INFINITY;
            }
        }
        srt_attn_online_softmax(sc, o, mA, mB, lA, lB, c);   /* finite max: key 0 is in every row's first tile */
        SRT_UNROLL
        for (int kk = 0; kk < PFT_KEYS / 16; kk++) {   /* O += P V, keys t0 + 16kk .. + 15 */
            const uint32_t pf[4] = {srt_bf16x2_bits(sc[2 * kk][0], sc[2 * kk][1]),
                                    srt_bf16x2_bits(sc[2 * kk][2], sc[2 * kk][3]),
                                    srt_bf16x2_bits(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                                    srt_bf16x2_bits(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
            SRT_UNROLL
            for (int n = 0; n < D / 8; n++) {
                const uint32_t b[2] = {sm.vt[8 * n + g][8 * kk + t], sm.vt[8 * n + g][8 * kk + t + 4]};
                srt_mma_bf16(o[n], pf, b);
            }
        }
    }
    lA += __shfl_xor_sync(0xffffffffu, lA, 1);
    lA += __shfl_xor_sync(0xffffffffu, lA, 2);
    lB += __shfl_xor_sync(0xffffffffu, lB, 1);
    lB += __shfl_xor_sync(0xffffffffu, lB, 2);
    const float invA = 1.0f / lA, invB = 1.0f / lB;
    SRT_UNROLL
    for (int n = 0; n < D / 8; n++) {
        const float x0 = o[n][0] * invA, x1 = o[n][1] * invA, x2 = o[n][2] * invB, x3 = o[n][3] * invB;
        if (okA) lm_pft_st2(a.out + offA + 8 * n + 2 * t, x0, x1);
        if (okB) lm_pft_st2(a.out + offB + 8 * n + 2 * t, x2, x3);
        if (!out_bf16) continue;
        if (okA) lm_pft_st2_bf16(out_bf16 + offA + 8 * n + 2 * t, x0, x1);
        if (okB) lm_pft_st2_bf16(out_bf16 + offB + 8 * n + 2 * t, x2, x3);
    }
}

#define LM_PFT_KERNEL(name, D)                                                                                   \
    __global__ void __launch_bounds__(PFT_THREADS) name(srt_paged_attn_args a, uint16_t *out_bf16) {               \
        lm_attn_prefill_tc_body<D>(a, out_bf16);                                                                   \
    }
LM_PFT_KERNEL(lm_attn_prefill_tc16_kernel, 16)
LM_PFT_KERNEL(lm_attn_prefill_tc32_kernel, 32)
LM_PFT_KERNEL(lm_attn_prefill_tc64_kernel, 64)
LM_PFT_KERNEL(lm_attn_prefill_tc128_kernel, 128)

/* Whether the tensor-core kernel takes this op's prefill sequences. */
static inline bool lm_prefill_tc_fits(const srt_paged_attn_args *a) {
    const int D = a->head_dim;
    return a->kv_dtype == SRT_BF16 && (D == 16 || D == 32 || D == 64 || D == 128);
}
extern "C" int srt_cuda_lm_prefill_tc_fits(const srt_paged_attn_args *a) { return lm_prefill_tc_fits(a); }

/* The prefill sequences (n_q > 1) of `a` (lm_prefill_tc_fits). */
static srt_status lm_prefill_tc_launch(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan,
                                       cudaStream_t stream) {
    const int G = a->n_heads / a->n_kv_heads;
    const int64_t tiles = ((int64_t)plan->max_n_q * G + PFT_ROWS - 1) / PFT_ROWS;
    if (tiles > 0x7fffffff)
        return srt_error(SRT_ERR_UNSUPPORTED, "paged_attention: %d queries x %d heads per KV head exceed the "
                         "prefill kernel's grid", plan->max_n_q, G);
    dim3 grid((unsigned)tiles, (unsigned)a->n_kv_heads, (unsigned)a->n_seqs);
    switch (a->head_dim) {
    case 16: LAUNCH(lm_attn_prefill_tc16_kernel, grid, PFT_THREADS, 0, stream, *a, plan->out_bf16);
             SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_tc16_kernel)); break;
    case 32: LAUNCH(lm_attn_prefill_tc32_kernel, grid, PFT_THREADS, 0, stream, *a, plan->out_bf16);
             SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_tc32_kernel)); break;
    case 64: LAUNCH(lm_attn_prefill_tc64_kernel, grid, PFT_THREADS, 0, stream, *a, plan->out_bf16);
             SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_tc64_kernel)); break;
    default: LAUNCH(lm_attn_prefill_tc128_kernel, grid, PFT_THREADS, 0, stream, *a, plan->out_bf16);
             SRT_TRY(SRT_LAUNCH_STATUS(lm_attn_prefill_tc128_kernel)); break;
    }
#ifndef __CUDACC__
    /* the simulator's counters: the useful FLOPs (2 x D per score, 2 x D per P V term, causal keys only) on bf16
     * tensor cores (device arrays are host memory in the simulator; a captured launch drops the note) */
    double keys = 0.0;
    for (int s = 0; s < a->n_seqs; s++) {
        const double nq = a->n_q[s], first = a->ctx_len[s] - nq;
        if (nq >= 2) keys += nq * first + nq * (nq + 1) / 2;
    }
    cudasim_note_flops("lm_attn_prefill_tc", 4.0 * a->head_dim * a->n_heads * keys, 2);
#endif
    return SRT_OK;
}
#endif
