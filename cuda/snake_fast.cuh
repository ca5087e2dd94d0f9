/* snake_fast.cuh: Snake with a fast range-reduced sin, the same arithmetic as the CPU backend's AVX2 row
 * (host/cpu/cpu_rows.c sin2_avx2): y = a*x with its exact rounding error, Cody-Waite reduction by pi/2 in three
 * parts, minimax sin / cos polynomials on [-pi/4, pi/4]; |a*x| > 1e4, Inf and NaN take the accurate sinf
 * (srt_snake_dev). No Payne-Hanek reduction (no local-memory array) on the hot path. */
#ifndef SRT_CUDA_SNAKE_FAST_CUH
#define SRT_CUDA_SNAKE_FAST_CUH
#include "cuda/common.cuh"

/* sin(a*x)^2 for |a*x| <= 1e4 */
__device__ __forceinline__ float srt_sin2_fast(float a, float x) {
    float y = a * x;
    float y_err = fmaf(a, x, -y);                 /* a*x - fl(a*x), exact */
    float k = rintf(y * 0.636619772367581343f);
    float r = fmaf(-k, 1.5703125f, y);
    r = fmaf(-k, 4.837512969970703125e-4f, r);
    r = fmaf(-k, 7.54978995489188216e-8f, r);
    r = r + y_err;
    float z = r * r;
    float ps = fmaf(-1.9515295891e-4f, z, 8.3321608736e-3f);
    ps = fmaf(ps, z, -1.6666654611e-1f);
    ps = fmaf(ps * z, r, r);
    float pc = fmaf(2.443315711809948e-5f, z, -1.388731625493765e-3f);
    pc = fmaf(pc, z, 4.166664568298827e-2f);
    pc = fmaf(pc * z, z, fmaf(-0.5f, z, 1.0f));
    float v = ((int)k & 1) ? pc : ps;
    return v * v;
}

__device__ __forceinline__ float srt_snake_fast_dev(float x, float alpha) {
    if (!(fabsf(alpha * x) <= 1e4f)) return srt_snake_dev(x, alpha);
    return fmaf(1.0f / (alpha + 1e-9f), srt_sin2_fast(alpha, x), x);
}
#endif
