/* cpu_rows.c: vectorized row kernels of the cpu backend: Snake (x + sin^2(a x)/a with a range-reduced
 * polynomial sin/cos), masked copy and tanh. AVX2+FMA paths are compiled with target attributes and chosen at
 * run time (the build has no -march flag); scalar fallbacks give the same results to ~1e-7.
 *
 * sin^2 without libm: y = a*x is reduced by the nearest multiple k of pi/2 (three-part Cody-Waite constants,
 * plus the exact rounding residual of a*x from an FMA), r in [-pi/4, pi/4]; sin^2(y) = sin^2(r) for even k and
 * cos^2(r) for odd k (no sign needed). Polynomials are Cephes' sinf/cosf (about 1 ulp on [-pi/4, pi/4]).
 * Lanes with |y| > 1e4 (or Inf/NaN) take the scalar double path so huge inputs stay exact. Row tails run through
 * the vector code on a padded copy, and only the big lanes themselves go scalar, so every value's result is the
 * same wherever it sits in a row (batch-invariance of the ops that call these). */
#include "cpu/cpu_ops.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

static int g_force_scalar = 0;
void srt_cpu_force_scalar(int on) { g_force_scalar = on; }

int srt_cpu_has_avx2(void) {
    static int cached = -1;
    if (g_force_scalar) return 0;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

static inline float snake_scalar(float x, float alpha, float inv_alpha) {
    double s = sin((double)alpha * x);
    return (float)(x + inv_alpha * s * s);
}

#define SNAKE_BIG 1e4f

__attribute__((target("avx2,fma"))) static inline __m256 sin2_avx2(__m256 a, __m256 x) {
    const __m256 two_over_pi = _mm256_set1_ps(0.636619772367581343f);
    __m256 y = _mm256_mul_ps(a, x);
    __m256 y_err = _mm256_fmsub_ps(a, x, y);                 /* a*x - fl(a*x), exact */
    __m256 k = _mm256_round_ps(_mm256_mul_ps(y, two_over_pi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.5703125f), y);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(4.837512969970703125e-4f), r);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(7.54978995489188216e-8f), r);
    r = _mm256_add_ps(r, y_err);
    __m256 z = _mm256_mul_ps(r, r);
    /* sin(r) = r + r^3 (s1 + z (s2 + z s3)) */
    __m256 ps = _mm256_fmadd_ps(_mm256_set1_ps(-1.9515295891e-4f), z, _mm256_set1_ps(8.3321608736e-3f));
    ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(-1.6666654611e-1f));
    ps = _mm256_fmadd_ps(_mm256_mul_ps(ps, z), r, r);
    /* cos(r) = 1 - z/2 + z^2 (c1 + z (c2 + z c3)) */
    __m256 pc = _mm256_fmadd_ps(_mm256_set1_ps(2.443315711809948e-5f), z, _mm256_set1_ps(-1.388731625493765e-3f));
    pc = _mm256_fmadd_ps(pc, z, _mm256_set1_ps(4.166664568298827e-2f));
    pc = _mm256_fmadd_ps(_mm256_mul_ps(pc, z), z, _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.0f)));
    __m256i odd = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 31);
    __m256 v = _mm256_blendv_ps(ps, pc, _mm256_castsi256_ps(odd));
    return _mm256_mul_ps(v, v);
}

__attribute__((target("avx2,fma"))) static void snake_row_avx2(float *dst, const float *src, int n, float alpha,
                                                                float inv_alpha) {
    const __m256 va = _mm256_set1_ps(alpha), vinv = _mm256_set1_ps(inv_alpha);
    const __m256 big = _mm256_set1_ps(SNAKE_BIG), absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        __m256 ay = _mm256_and_ps(_mm256_mul_ps(va, x), absmask);
        /* not (|y| <= big) catches big values, Inf and NaN: those lanes (only) take the scalar path, so a
         * value's result never depends on its neighbours */
        int big_lanes = _mm256_movemask_ps(_mm256_cmp_ps(ay, big, _CMP_NLE_UQ));
        _mm256_storeu_ps(dst + i, _mm256_fmadd_ps(vinv, sin2_avx2(va, x), x));
        if (big_lanes)
            for (int j = 0; j < 8; j++)
                if (big_lanes >> j & 1) dst[i + j] = snake_scalar(src[i + j], alpha, inv_alpha);
    }
    if (i < n) {
        float tmp[8] = {0};
        memcpy(tmp, src + i, sizeof(float) * (size_t)(n - i));
        snake_row_avx2(tmp, tmp, 8, alpha, inv_alpha);
        memcpy(dst + i, tmp, sizeof(float) * (size_t)(n - i));
    }
}

void srt_cpu_snake_row(float *dst, const float *src, int n, int valid, float alpha) {
    if (valid > n) valid = n;
    if (valid < 0) valid = 0;
    float inv_alpha = 1.0f / (alpha + 1e-9f);
    if (srt_cpu_has_avx2()) snake_row_avx2(dst, src, valid, alpha, inv_alpha);
    else
        for (int i = 0; i < valid; i++) dst[i] = snake_scalar(src[i], alpha, inv_alpha);
    if (n > valid) memset(dst + valid, 0, sizeof(float) * (size_t)(n - valid));
}

void srt_cpu_mask_row(float *dst, const float *src, int n, int valid) {
    if (valid > n) valid = n;
    if (valid < 0) valid = 0;
    if (dst != src && valid) memcpy(dst, src, sizeof(float) * (size_t)valid);
    if (n > valid) memset(dst + valid, 0, sizeof(float) * (size_t)(n - valid));
}

/* tanh: Cephes tanhf's odd polynomial for |x| < 0.625, else 1 - 2/(exp(2|x|)+1) with a Cephes expf. */
__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) static void tanh_row_avx2(float *dst, const float *src, int64_t n) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        __m256 ax = _mm256_min_ps(_mm256_and_ps(x, absmask), _mm256_set1_ps(9.0f));
        __m256 sign = _mm256_andnot_ps(absmask, x);
        __m256 e = exp_avx2(_mm256_add_ps(ax, ax));
        __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                                   _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
        __m256 z = _mm256_mul_ps(x, x);
        __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
        __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
        __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
        __m256 v = _mm256_blendv_ps(_mm256_or_ps(big, sign), small, is_small);
        /* NaN in, NaN out */
        v = _mm256_blendv_ps(v, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        _mm256_storeu_ps(dst + i, v);
    }
    if (i < n) {   /* the tail through the same vector code: a value's result never depends on its position */
        float tmp[8] = {0};
        memcpy(tmp, src + i, sizeof(float) * (size_t)(n - i));
        tanh_row_avx2(tmp, tmp, 8);
        memcpy(dst + i, tmp, sizeof(float) * (size_t)(n - i));
    }
}

void srt_cpu_tanh_row(float *dst, const float *src, int64_t n) {
    if (srt_cpu_has_avx2()) tanh_row_avx2(dst, src, n);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = tanhf(src[i]);
}
