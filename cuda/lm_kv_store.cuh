/* lm_kv_store.cuh: k_cache[slot[t], :] = k[t, :] and v_cache[slot[t], :] = v[t, :] in the cache's dtype (f32, or
 * bf16 rounded to nearest even); one thread per element. Rows with slot[t] < 0 (padding rows of a recorded decode
 * step) are skipped. fp8 e4m3: one warp per (token, KV head) row: the row's largest magnitude by a warp max
 * (exact, any order), its power-of-two scale into k_scale / v_scale, each element divided by it (exact) and
 * rounded to e4m3 (lm_kv_dtype.cuh, bit-exact with host/dtype.c). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_kv_dtype.cuh"

template <typename T>
__device__ __forceinline__ void lm_kv_store_body(const srt_kv_store_args &a) {
    int64_t n = (int64_t)a.n_tokens * a.kv_dim;
    T *kc = static_cast<T *>(a.k_cache), *vc = static_cast<T *>(a.v_cache);
    srt_grid_stride(j, n) {
        int64_t t = j / a.kv_dim, i = j % a.kv_dim;
        if (a.slot[t] < 0) continue;
        size_t dst = (size_t)a.slot[t] * a.kv_dim + i;
        srt_kv_put(kc, dst, a.k[j]);
        srt_kv_put(vc, dst, a.v[j]);
    }
}

__global__ void lm_kv_store_kernel(srt_kv_store_args a) {
    if (a.kv_dtype == SRT_BF16) lm_kv_store_body<uint16_t>(a);
    else lm_kv_store_body<float>(a);
}

/* one warp per (token, KV head): grid-stride over n_tokens * n_kv_heads rows */
__global__ void lm_kv_store_fp8_kernel(srt_kv_store_args a) {
    const int D = a.head_dim, nkv = a.kv_dim / D, lane = threadIdx.x & 31;
    const int64_t n_rows = (int64_t)a.n_tokens * nkv, warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t r = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5); r < n_rows; r += warps) {
        const int64_t t = r / nkv;
        const int h = (int)(r - t * nkv), slot = a.slot[t];
        if (slot < 0) continue;                                       /* uniform per warp */
        const float *k = a.k + t * a.kv_dim + (size_t)h * D, *v = a.v + t * a.kv_dim + (size_t)h * D;
        float km = 0.0f, vm = 0.0f;
        for (int d = lane; d < D; d += 32) { km = fmaxf(km, fabsf(k[d])); vm = fmaxf(vm, fabsf(v[d])); }
        for (int o = 16; o > 0; o >>= 1) {
            km = fmaxf(km, __shfl_xor_sync(0xffffffffu, km, o));
            vm = fmaxf(vm, __shfl_xor_sync(0xffffffffu, vm, o));
        }
        const float ks = srt_kv_e4m3_row_scale(km), vs = srt_kv_e4m3_row_scale(vm);
        const int blk = slot / a.block_size, off = slot - blk * a.block_size;
        const size_t si = ((size_t)blk * nkv + h) * a.block_size + off, dst = (size_t)slot * a.kv_dim + (size_t)h * D;
        if (lane == 0) { a.k_scale[si] = ks; a.v_scale[si] = vs; }
        uint8_t *kc = static_cast<uint8_t *>(a.k_cache) + dst, *vc = static_cast<uint8_t *>(a.v_cache) + dst;
        for (int d = lane; d < D; d += 32) {
            kc[d] = srt_kv_f32_to_e4m3(k[d] / ks);
            vc[d] = srt_kv_f32_to_e4m3(v[d] / vs);
        }
    }
}

extern "C" srt_status srt_cuda_lm_kv_store(const srt_kv_store_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_tokens * a->kv_dim;
    if (n == 0) return SRT_OK;
    if (a->kv_dtype == SRT_F8E4M3) {
        int64_t warps = (int64_t)a->n_tokens * (a->kv_dim / a->head_dim);
        LAUNCH(lm_kv_store_fp8_kernel, srt_blocks_for(warps * 32), SRT_BLOCK, 0, stream, *a);
        return SRT_LAUNCH_STATUS(lm_kv_store_fp8_kernel);
    }
    LAUNCH(lm_kv_store_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_kv_store_kernel);
}
