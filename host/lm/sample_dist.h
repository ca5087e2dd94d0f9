/* sample_dist.h: the arithmetic of the sampling distribution (srt_sample_row in lm_ops.h), shared by the host
 * (sampler.c, sample_pick.c, cpu-ref) and the CUDA kernel (cuda/lm_sample.cuh) so both pick the same token:
 *   srt_sample_penalize  repetition penalty then frequency/presence subtraction (fmaf: one rounding everywhere)
 *   srt_sample_key       monotone u32 key of a logit (rank order; -0 == +0)
 *   srt_sample_weight    w = exp((l - best) * inv_temp) from IEEE single operations and fmaf only, no libm exp
 *                        (libm and CUDA expf differ in the last bit; this one is bit-identical on both)
 *   srt_sample_fixed     W = floor(w * 2^40): integer weights, so sums are exact in any order
 *   srt_sample_target / srt_sample_draw  the top-p target and the drawn point, from a double product
 * Device code: __fmul_rn / __fadd_rn keep nvcc from fusing a multiply and an add into an fma the host lacks. */
#ifndef SRT_SAMPLE_DIST_H
#define SRT_SAMPLE_DIST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define SRT_SAMPLE_FN static __host__ __device__ __forceinline__
#else
#define SRT_SAMPLE_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define SRT_FMUL(a, b) __fmul_rn((a), (b))
#define SRT_FSUB(a, b) __fsub_rn((a), (b))
#else
#define SRT_FMUL(a, b) ((a) * (b))
#define SRT_FSUB(a, b) ((a) - (b))
#endif

/* Fixed-point scale of the weights: 2^40 (a vocabulary of 2^23 ids sums below 2^63). */
#define SRT_SAMPLE_ONE 1099511627776.0f

SRT_SAMPLE_FN float srt_sample_penalize(float l, float rep, float sub) {
    return l > 0.0f ? SRT_FSUB(l / rep, sub) : fmaf(l, rep, -sub);
}

SRT_SAMPLE_FN uint32_t srt_sample_key(float l) {
    uint32_t u;
    if (l == 0.0f) return 0x80000000u;
#if defined(__CUDA_ARCH__)
    u = __float_as_uint(l);
#else
    memcpy(&u, &l, sizeof u);
#endif
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* The logit of a key (the inverse of srt_sample_key; 0 for the zero key). */
SRT_SAMPLE_FN float srt_sample_unkey(uint32_t k) {
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float l;
#if defined(__CUDA_ARCH__)
    l = __uint_as_float(u);
#else
    memcpy(&l, &u, sizeof l);
#endif
    return l;
}

/* e^x for x <= 0 (Cody-Waite reduction, Cephes polynomial; about 1 ulp); 0 below -80, 1 at 0. */
SRT_SAMPLE_FN float srt_sample_exp(float x) {
    if (!(x > -80.0f)) return 0.0f;
    if (x >= 0.0f) return 1.0f;
    float n = rintf(SRT_FMUL(x, 1.44269504088896341f));
    float r = fmaf(n, -0.693145751953125f, x);
    r = fmaf(n, -1.42860682030941723212e-6f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, SRT_FMUL(r, r), r);
    y = y + 1.0f;
    uint32_t bits = (uint32_t)((int)n + 127) << 23;   /* 2^n, n in [-116, 0]: normal, the product is exact */
    float scale;
#if defined(__CUDA_ARCH__)
    scale = __uint_as_float(bits);
#else
    memcpy(&scale, &bits, sizeof scale);
#endif
    return SRT_FMUL(y, scale);
}

SRT_SAMPLE_FN float srt_sample_weight(float l, float best, float inv_temp) {
    return srt_sample_exp(SRT_FMUL(SRT_FSUB(l, best), inv_temp));
}

SRT_SAMPLE_FN uint64_t srt_sample_fixed(float w) { return (uint64_t)SRT_FMUL(w, SRT_SAMPLE_ONE); }

/* Top-p target: floor(top_p * total), at least 1. */
SRT_SAMPLE_FN uint64_t srt_sample_target(float top_p, uint64_t total) {
    uint64_t t = (uint64_t)((double)top_p * (double)total);
    return t < 1 ? 1 : t;
}

/* The drawn point in [0, total): floor(u * total). */
SRT_SAMPLE_FN uint64_t srt_sample_draw(double u, uint64_t total) {
    uint64_t t = (uint64_t)(u * (double)total);
    return t >= total ? total - 1 : t;
}

#endif
