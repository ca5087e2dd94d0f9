/* lm_rope.cuh: in-place rotary embedding, rotate-half layout: one thread per (token, head, pair i) rotates
 * (x[i], x[i + head_dim/2]) by pos[t] * inv_freq[i] (srt_rope_pair: angle, sine and cosine in double). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "cuda/lm_rope_pair.cuh"

__global__ void lm_rope_kernel(srt_rope_args a) {
    int half = a.head_dim / 2;
    int64_t n = (int64_t)a.n_tokens * a.n_heads * half;
    srt_grid_stride(j, n) {
        int i = (int)(j % half);
        int64_t th = j / half;                   /* token * n_heads + head */
        int t = (int)(th / a.n_heads);
        float *x = a.x + th * a.head_dim;        /* (head_dim) */
        float y0, y1;
        srt_rope_pair(x[i], x[i + half], a.pos[t], a.inv_freq[i], &y0, &y1);
        x[i] = y0;
        x[i + half] = y1;
    }
}

extern "C" srt_status srt_cuda_lm_rope(const srt_rope_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_tokens * a->n_heads * (a->head_dim / 2);
    if (n == 0) return SRT_OK;
    LAUNCH(lm_rope_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_rope_kernel);
}
