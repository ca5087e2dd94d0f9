/* lm_rope_kv_store.cuh: rope(q), rope(k) and the KV-cache store of a prefill (or mixed) batch in one launch (the
 * rope_kv_store op, lm_ops.h): one thread per (token, head, pair i) over the n_heads query heads then the n_kv_heads
 * key heads of each token. A query pair is rotated in place; a key pair is rotated in place and stored, with the
 * value pair (v[i], v[i + head_dim/2]), into the cache at slot[t] (rows with slot < 0 are not stored). The same
 * rotation as lm_rope.cuh (srt_rope_pair) and the same stores as lm_kv_store.cuh (srt_kv_put: f32, or bf16 to
 * nearest even), so q, k and both caches are bit-identical to rope + rope + kv_store. fp8 caches (a row scale per
 * (token, KV head)) take the three launches instead (backend_cuda_lm.c). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_kv_dtype.cuh"
#include "cuda/lm_rope_pair.cuh"

template <typename T>
__device__ __forceinline__ void lm_rope_kv_store_body(const srt_rope_store_attn_args &a) {
    const srt_paged_attn_args &at = a.attn;
    const int D = at.head_dim, half = D / 2, nh = at.n_heads, nkv = at.n_kv_heads, heads = nh + nkv;
    const int64_t kv_dim = (int64_t)nkv * D, n = (int64_t)a.n_tokens * heads * half;
    T *kc = static_cast<T *>(const_cast<void *>(at.k_cache)), *vc = static_cast<T *>(const_cast<void *>(at.v_cache));
    srt_grid_stride(j, n) {
        const int i = (int)(j % half);
        const int64_t th = j / half, t = th / heads;
        const int h = (int)(th - t * heads);
        const int pos = a.pos[t];
        const float inv_freq = a.inv_freq[i];
        float y0, y1;
        if (h < nh) {                                   /* a query pair: rotated in place */
            float *x = const_cast<float *>(at.q) + (t * nh + h) * D;   /* (head_dim) */
            srt_rope_pair(x[i], x[i + half], pos, inv_freq, &y0, &y1);
            x[i] = y0;
            x[i + half] = y1;
            continue;
        }
        const int64_t off = t * kv_dim + (int64_t)(h - nh) * D;   /* key head h - nh of token t */
        float *k = a.k + off;
        srt_rope_pair(k[i], k[i + half], pos, inv_freq, &y0, &y1);
        k[i] = y0;
        k[i + half] = y1;
        const int slot = a.slot[t];
        if (slot < 0) continue;
        const size_t dst = (size_t)slot * (size_t)kv_dim + (size_t)(h - nh) * D + (size_t)i;
        srt_kv_put(kc, dst, y0);
        srt_kv_put(kc, dst + half, y1);
        srt_kv_put(vc, dst, a.v[off + i]);
        srt_kv_put(vc, dst + half, a.v[off + i + half]);
    }
}

__global__ void lm_rope_kv_store_kernel(srt_rope_store_attn_args a) {
    if (a.attn.kv_dtype == SRT_BF16) lm_rope_kv_store_body<uint16_t>(a);
    else lm_rope_kv_store_body<float>(a);
}

/* f32 / bf16 caches only (the caller checks) */
extern "C" srt_status srt_cuda_lm_rope_kv_store(const srt_rope_store_attn_args *a, cudaStream_t stream) {
    const srt_paged_attn_args *at = &a->attn;
    int64_t n = (int64_t)a->n_tokens * (at->n_heads + at->n_kv_heads) * (at->head_dim / 2);
    if (n == 0) return SRT_OK;
    LAUNCH(lm_rope_kv_store_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_rope_kv_store_kernel);
}
