/* lm_rope_kv_store.cuh: rope(q), rope(k) and the KV-cache store of a prefill (or mixed) batch in one launch (the
 * rope_kv_store op, lm_ops.h): one thread per (token, head, two adjacent pairs i, i + 1: 8-byte accesses, when
 * head_dim % 4 == 0 and the rows are 8-byte aligned; else one pair) over the n_heads query heads then the n_kv_heads
 * key heads of each token. A query pair is rotated in place; a key pair is rotated in place and stored, with the
 * value pair (v[i], v[i + head_dim/2]), into the cache at slot[t] (rows with slot < 0 are not stored). The same
 * rotation as lm_rope.cuh (srt_rope_pair) and the same stores as lm_kv_store.cuh (srt_kv_put: f32, or bf16 to
 * nearest even), so q, k and both caches are bit-identical to rope + rope + kv_store. fp8 caches (a row scale per
 * (token, KV head)) take the three launches instead (backend_cuda_lm.c).
 * From the q|k|v product (srt_cuda_lm_rope_kv_store_from, the qkv_rope_store_attention op): q, k and v are read
 * from the rows (n_tokens, ld) of one fused projection's output (columns [0, n0) | [n0, n0 + n1) | the rest, the
 * layout cuBLAS writes), the rotated q written packed into attn.q, the keys and values only into the cache (a.k
 * is not written): the q|k|v scatter launch is gone, and the values are those of the scatter + this kernel. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_kv_dtype.cuh"
#include "cuda/lm_rope_pair.cuh"

/* Where the kernel reads q, k, v (row strides in floats) and whether it writes the rotated keys back to a.k. */
struct lm_rkv_src {
    const float *q, *k, *v;
    int64_t ld_q, ld_k, ld_v;
    int write_k;
};

/* two adjacent pairs (i, i + 1) of x (head_dim) rotated: 8-byte loads of x[i..i+1] and x[half + i..half + i + 1],
 * the results stored the same way into dst (may be x; NULL: not stored); the rotated values come back in y0
 * (x[i], x[i+1]) and y1 (the other half) */
__device__ __forceinline__ void lm_rkv_rotate2(const float *x, float *dst, int i, int half, int pos, float2 f,
                                               float2 *y0, float2 *y1) {
    const float2 a = srt_load8<float2>(x + i), b = srt_load8<float2>(x + half + i);
    srt_rope_pair(a.x, b.x, pos, f.x, &y0->x, &y1->x);
    srt_rope_pair(a.y, b.y, pos, f.y, &y0->y, &y1->y);
    if (!dst) return;
    srt_store8(dst + i, *y0);
    srt_store8(dst + half + i, *y1);
}

__device__ __forceinline__ void lm_rkv_put2(float *c, size_t i, float2 v) { srt_store8(c + i, v); }
__device__ __forceinline__ void lm_rkv_put2(uint16_t *c, size_t i, float2 v) {
    const unsigned w = srt_kv_f32_to_bf16(v.x) | (unsigned)srt_kv_f32_to_bf16(v.y) << 16;
#ifdef __CUDACC__
    *reinterpret_cast<unsigned *>(c + i) = w;
#else
    __builtin_memcpy(c + i, &w, 4);
#endif
}

/* vec: two pairs per thread (head_dim % 4 == 0, every row 8-byte aligned: the launcher checks), else one */
template <typename T>
__device__ __forceinline__ void lm_rope_kv_store_body(const srt_rope_store_attn_args &a, const lm_rkv_src &src,
                                                      int vec) {
    const srt_paged_attn_args &at = a.attn;
    const int D = at.head_dim, half = D / 2, nh = at.n_heads, nkv = at.n_kv_heads, heads = nh + nkv;
    const int per_head = vec ? half / 2 : half;
    const int64_t kv_dim = (int64_t)nkv * D, n = (int64_t)a.n_tokens * heads * per_head;
    T *kc = static_cast<T *>(const_cast<void *>(at.k_cache)), *vc = static_cast<T *>(const_cast<void *>(at.v_cache));
    srt_grid_stride(j, n) {
        const int64_t th = j / per_head, t = th / heads;
        const int i = (int)(j - th * per_head) * (vec ? 2 : 1), h = (int)(th - t * heads), pos = a.pos[t];
        const bool query = h < nh;
        const float *x = query ? src.q + t * src.ld_q + (int64_t)h * D : src.k + t * src.ld_k + (int64_t)(h - nh) * D;
        float *y = query ? const_cast<float *>(at.q) + (t * nh + h) * D
                         : src.write_k ? a.k + t * kv_dim + (int64_t)(h - nh) * D : nullptr;
        const int slot = query ? -1 : a.slot[t];
        const float *v = src.v + t * src.ld_v + (int64_t)(h - nh) * D;
        const size_t dst = slot < 0 ? 0 : (size_t)slot * (size_t)kv_dim + (size_t)(h - nh) * D + (size_t)i;
        if (vec) {
            float2 y0, y1;
            lm_rkv_rotate2(x, y, i, half, pos, srt_load8<float2>(a.inv_freq + i), &y0, &y1);
            if (slot < 0) continue;   /* a query, or a padding row: not stored */
            lm_rkv_put2(kc, dst, y0);
            lm_rkv_put2(kc, dst + half, y1);
            lm_rkv_put2(vc, dst, srt_load8<float2>(v + i));
            lm_rkv_put2(vc, dst + half, srt_load8<float2>(v + half + i));
            continue;
        }
        float y0, y1;
        srt_rope_pair(x[i], x[i + half], pos, a.inv_freq[i], &y0, &y1);
        if (y) {
            y[i] = y0;
            y[i + half] = y1;
        }
        if (slot < 0) continue;
        srt_kv_put(kc, dst, y0);
        srt_kv_put(kc, dst + half, y1);
        srt_kv_put(vc, dst, v[i]);
        srt_kv_put(vc, dst + half, v[i + half]);
    }
}

__global__ void lm_rope_kv_store_kernel(srt_rope_store_attn_args a, lm_rkv_src src, int vec) {
    if (a.attn.kv_dtype == SRT_BF16) lm_rope_kv_store_body<uint16_t>(a, src, vec);
    else lm_rope_kv_store_body<float>(a, src, vec);
}

static inline int lm_rkv_aligned8(const void *p) { return ((uintptr_t)p & 7u) == 0; }

/* f32 / bf16 caches only (the caller checks) */
static srt_status lm_rope_kv_store_launch(const srt_rope_store_attn_args *a, const lm_rkv_src &src,
                                          cudaStream_t stream) {
    const srt_paged_attn_args *at = &a->attn;
    const int vec = at->head_dim % 4 == 0 && lm_rkv_aligned8(at->q) && lm_rkv_aligned8(src.q) &&
                    lm_rkv_aligned8(src.k) && lm_rkv_aligned8(src.v) && src.ld_q % 2 == 0 && src.ld_k % 2 == 0 &&
                    src.ld_v % 2 == 0 && (!src.write_k || lm_rkv_aligned8(a->k)) && lm_rkv_aligned8(a->inv_freq) &&
                    lm_rkv_aligned8(at->k_cache) && lm_rkv_aligned8(at->v_cache);
    int64_t n = (int64_t)a->n_tokens * (at->n_heads + at->n_kv_heads) * (at->head_dim / (vec ? 4 : 2));
    if (n == 0) return SRT_OK;
    LAUNCH(lm_rope_kv_store_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a, src, vec);
    return SRT_LAUNCH_STATUS(lm_rope_kv_store_kernel);
}

extern "C" srt_status srt_cuda_lm_rope_kv_store(const srt_rope_store_attn_args *a, cudaStream_t stream) {
    const int64_t q_dim = (int64_t)a->attn.n_heads * a->attn.head_dim;
    const int64_t kv_dim = (int64_t)a->attn.n_kv_heads * a->attn.head_dim;
    const lm_rkv_src src = {a->attn.q, a->k, a->v, q_dim, kv_dim, kv_dim, 1};
    return lm_rope_kv_store_launch(a, src, stream);
}

extern "C" srt_status srt_cuda_lm_rope_kv_store_from(const srt_rope_store_attn_args *a, const float *qkv, int64_t ld,
                                                     cudaStream_t stream) {
    const int64_t q_dim = (int64_t)a->attn.n_heads * a->attn.head_dim;
    const int64_t kv_dim = (int64_t)a->attn.n_kv_heads * a->attn.head_dim;
    const lm_rkv_src src = {qkv, qkv + q_dim, qkv + q_dim + kv_dim, ld, ld, ld, 0};
    return lm_rope_kv_store_launch(a, src, stream);
}
