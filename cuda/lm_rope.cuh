/* lm_rope.cuh: in-place rotary embedding, rotate-half layout: one thread per (token, head, pair i) rotates
 * (x[i], x[i + head_dim/2]) by pos[t] * inv_freq[i]. The angle and its sine/cosine are computed in double, as
 * cpu-ref does: positions reach 1e5 and an f32 angle would be off by ~1e-2 rad there. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

__global__ void lm_rope_kernel(srt_rope_args a) {
    int half = a.head_dim / 2;
    int64_t n = (int64_t)a.n_tokens * a.n_heads * half;
    srt_grid_stride(j, n) {
        int i = (int)(j % half);
        int64_t th = j / half;                   /* token * n_heads + head */
        int t = (int)(th / a.n_heads);
        float *x = a.x + th * a.head_dim;        /* (head_dim) */
        double angle = (double)a.pos[t] * (double)a.inv_freq[i];
        double c = cos(angle), s = sin(angle);
        double x0 = x[i], x1 = x[i + half];
        x[i] = (float)(x0 * c - x1 * s);
        x[i + half] = (float)(x1 * c + x0 * s);
    }
}

extern "C" srt_status srt_cuda_lm_rope(const srt_rope_args *a, cudaStream_t stream) {
    int64_t n = (int64_t)a->n_tokens * a->n_heads * (a->head_dim / 2);
    if (n == 0) return SRT_OK;
    LAUNCH(lm_rope_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_rope_kernel);
}
