/* lm_rope_pair.cuh: one rotate-half rotary pair, the arithmetic shared by lm_rope.cuh and the fused prologue of
 * lm_paged_attention.cuh (so both give the same bits): (x0, x1) rotated by pos * inv_freq, the angle and its
 * sine / cosine in double as cpu-ref does (positions reach 1e5, where an f32 angle is off by ~1e-2 rad). */
#ifndef SRT_CUDA_LM_ROPE_PAIR_CUH
#define SRT_CUDA_LM_ROPE_PAIR_CUH
#include "cuda/common.cuh"

__device__ __forceinline__ void srt_rope_pair(float x0_, float x1_, int pos, float inv_freq, float *y0, float *y1) {
    double angle = (double)pos * (double)inv_freq;
    double c = cos(angle), s = sin(angle);
    double x0 = x0_, x1 = x1_;
    *y0 = (float)(x0 * c - x1 * s);
    *y1 = (float)(x1 * c + x0 * s);
}
#endif
