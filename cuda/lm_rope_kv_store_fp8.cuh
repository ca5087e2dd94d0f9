/* lm_rope_kv_store_fp8.cuh: rope(q), rope(k) and the store into an fp8 e4m3 KV cache in one launch (the
 * rope_kv_store op with kv_dtype fp8, lm_ops.h; also the first launch of a decode step's rope_store_attention, whose
 * fused attention prologue keeps no row scales). One warp per (token, head) row over the n_heads query heads, then
 * the n_kv_heads key heads of each token; lane l holds the rotary pairs (i, i + head_dim/2), i = l, l + 32, ...
 * (4-byte accesses: a warp reads 128 consecutive bytes); a lane issues all its loads of the row (x, inv_freq and,
 * when the row is stored, v) before the math. A query row is rotated in place. A key row is rotated in
 * place and stored with its value row as lm_kv_store_fp8_kernel stores them: the row's largest magnitude (of the
 * rotated key) by a warp max, its power-of-two scale into k_scale / v_scale ((n_blocks, n_kv_heads, block_size)),
 * each element divided by it (exact) and rounded to e4m3. The same rotation (srt_rope_pair) and the same stores as
 * rope + rope + kv_store, so q, k, the codes and the scales are bit-identical to those three launches. Rows with
 * slot[t] < 0 (padding rows of a recorded decode step) are rotated, not stored. head_dim <=
 * SRT_CUDA_RKV_FP8_MAX_HEAD_DIM (the caller checks; larger heads take the three launches). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_kv_dtype.cuh"
#include "cuda/lm_rope_pair.cuh"

#define LM_RKV8_PAIRS (SRT_CUDA_RKV_FP8_MAX_HEAD_DIM / 64)   /* rotary pairs per lane */

__device__ __forceinline__ float lm_rkv8_warp_max(float m) {
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    return m;
}

/* grid-stride over n_tokens * (n_heads + n_kv_heads) rows, one warp each */
__global__ void lm_rope_kv_store_fp8_kernel(srt_rope_store_attn_args a) {
    const srt_paged_attn_args &at = a.attn;
    const int D = at.head_dim, half = D / 2, nh = at.n_heads, nkv = at.n_kv_heads, heads = nh + nkv;
    const int lane = threadIdx.x & 31, bs = at.block_size;
    const int64_t kv_dim = (int64_t)nkv * D, n_rows = (int64_t)a.n_tokens * heads;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t r = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5); r < n_rows; r += warps) {
        const int64_t t = r / heads;
        const int h = (int)(r - t * heads), pos = a.pos[t];
        const bool query = h < nh;                                    /* uniform per warp */
        const int slot = query ? -1 : a.slot[t];
        const bool store = slot >= 0;                                 /* a key row with a slot: uniform per warp */
        float *x = query ? const_cast<float *>(at.q) + (t * nh + h) * D : a.k + t * kv_dim + (int64_t)(h - nh) * D;
        const float *v = a.v + t * kv_dim + (int64_t)(query ? 0 : h - nh) * D;
        /* every load of the row first (x, inv_freq and, when stored, v: up to 5 per pair in flight), then the math */
        float x0[LM_RKV8_PAIRS], x1[LM_RKV8_PAIRS], f[LM_RKV8_PAIRS], v0[LM_RKV8_PAIRS], v1[LM_RKV8_PAIRS];
        SRT_UNROLL
        for (int j = 0; j < LM_RKV8_PAIRS; j++) {
            const int i = lane + 32 * j;
            x0[j] = x1[j] = f[j] = v0[j] = v1[j] = 0.0f;
            if (i >= half) continue;
            x0[j] = x[i];
            x1[j] = x[i + half];
            f[j] = a.inv_freq[i];
            if (store) {
                v0[j] = v[i];
                v1[j] = v[i + half];
            }
        }
        float km = 0.0f, vm = 0.0f;
        SRT_UNROLL
        for (int j = 0; j < LM_RKV8_PAIRS; j++) {                    /* rotated in place: x0 / x1 hold the result */
            const int i = lane + 32 * j;
            if (i >= half) continue;
            float y0, y1;
            srt_rope_pair(x0[j], x1[j], pos, f[j], &y0, &y1);
            x0[j] = y0;
            x1[j] = y1;
            x[i] = y0;
            x[i + half] = y1;
            km = fmaxf(km, fmaxf(fabsf(y0), fabsf(y1)));
            vm = fmaxf(vm, fmaxf(fabsf(v0[j]), fabsf(v1[j])));
        }
        if (!store) continue;                                         /* a query, or a padding row */
        km = lm_rkv8_warp_max(km);
        vm = lm_rkv8_warp_max(vm);
        const float ks = srt_kv_e4m3_row_scale(km), vs = srt_kv_e4m3_row_scale(vm);
        const int blk = slot / bs, off = slot - blk * bs, kvh = h - nh;
        const size_t si = ((size_t)blk * nkv + kvh) * bs + off, dst = (size_t)slot * kv_dim + (size_t)kvh * D;
        if (lane == 0) { const_cast<float *>(at.k_scale)[si] = ks; const_cast<float *>(at.v_scale)[si] = vs; }
        uint8_t *kc = static_cast<uint8_t *>(const_cast<void *>(at.k_cache)) + dst;
        uint8_t *vc = static_cast<uint8_t *>(const_cast<void *>(at.v_cache)) + dst;
        SRT_UNROLL
        for (int j = 0; j < LM_RKV8_PAIRS; j++) {
            const int i = lane + 32 * j;
            if (i >= half) continue;
            kc[i] = srt_kv_f32_to_e4m3(x0[j] / ks);
            kc[i + half] = srt_kv_f32_to_e4m3(x1[j] / ks);
            vc[i] = srt_kv_f32_to_e4m3(v0[j] / vs);
            vc[i + half] = srt_kv_f32_to_e4m3(v1[j] / vs);
        }
    }
}

extern "C" srt_status srt_cuda_lm_rope_kv_store_fp8(const srt_rope_store_attn_args *a, cudaStream_t stream) {
    const srt_paged_attn_args *at = &a->attn;
    if (at->head_dim > SRT_CUDA_RKV_FP8_MAX_HEAD_DIM || at->head_dim % 2 || at->kv_dtype != SRT_F8E4M3)
        return srt_error(SRT_ERR_UNSUPPORTED, "rope_kv_store fp8: head_dim %d (even, <= %d), dtype %d", at->head_dim,
                         SRT_CUDA_RKV_FP8_MAX_HEAD_DIM, (int)at->kv_dtype);
    const int64_t rows = (int64_t)a->n_tokens * (at->n_heads + at->n_kv_heads);
    if (rows == 0) return SRT_OK;
    LAUNCH(lm_rope_kv_store_fp8_kernel, srt_blocks_for(rows * 32), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_rope_kv_store_fp8_kernel);
}
