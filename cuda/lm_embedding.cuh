/* lm_embedding.cuh: y[t,:] = table[ids[t],:] widened to f32 from an f32, f16 or bf16 table (integer-only
 * conversion, bit-exact with host/dtype.c). An out-of-range id writes zeros and records the lowest bad token
 * index in *bad_token with atomicMin (the backend reports it as SRT_ERR_RANGE). */
#include "cuda/common.cuh"
#include "cuda/f16_bits.cuh"
#include "cuda/lm_kernels.h"


__global__ void lm_embedding_kernel(srt_embedding_args a, int *bad_token) {
    int64_t n = (int64_t)a.n_tokens * a.dim;
    srt_grid_stride(j, n) {
        int t = (int)(j / a.dim), i = (int)(j % a.dim);
        int id = a.ids[t];
        if (id < 0 || id >= a.n_rows) {
            if (i == 0) atomicMin(bad_token, t);
            a.y[j] = 0.0f;
            continue;
        }
        size_t src = (size_t)id * a.dim + i;
        if (a.dtype == SRT_F32) a.y[j] = ((const float *)a.table)[src];
        else if (a.dtype == SRT_BF16) a.y[j] = __uint_as_float((unsigned)((const uint16_t *)a.table)[src] << 16);
        else a.y[j] = srt_f16_bits_to_f32(((const uint16_t *)a.table)[src]);
    }
}

extern "C" srt_status srt_cuda_lm_embedding(const srt_embedding_args *a, int *bad_token, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_tokens * a->dim;
    if (n == 0) return SRT_OK;
    LAUNCH(lm_embedding_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a, bad_token);
    return SRT_LAUNCH_STATUS(lm_embedding_kernel);
}
