/* lm_kv_store.cuh: k_cache[slot[t], :] = k[t, :] and v_cache[slot[t], :] = v[t, :] in the cache's dtype (f32, or
 * bf16 rounded to nearest even); one thread per element. Rows with slot[t] < 0 (padding rows of a recorded decode
 * step) are skipped. */
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

extern "C" srt_status srt_cuda_lm_kv_store(const srt_kv_store_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_tokens * a->kv_dim;
    if (n == 0) return SRT_OK;
    LAUNCH(lm_kv_store_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_kv_store_kernel);
}
