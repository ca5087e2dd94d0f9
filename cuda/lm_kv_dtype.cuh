/* lm_kv_dtype.cuh: elements of the paged KV cache (f32, bf16 or fp8 e4m3 bits, srt_kv_store_args.kv_dtype) on the
 * device: rounding f32 to bf16 (nearest even, NaN kept quiet) and to e4m3 (nearest even, saturating to 448, NaN ->
 * 0x7f; with the per-row power-of-two scale of srt_e4m3_row_scale), both bit-exact with host/dtype.c (software
 * conversion on every architecture: the same instructions on sm_80 and sm_90 and in tests/cudasim), widening, and loads of eight
 * consecutive head_dim elements (one 16-byte load of bf16, two of f32, when `vec`: the row is 16-byte aligned and
 * all eight exist; else element by element up to D). */
#ifndef SRT_CUDA_LM_KV_DTYPE_CUH
#define SRT_CUDA_LM_KV_DTYPE_CUH
#include "cuda/common.cuh"

__device__ __forceinline__ uint16_t srt_kv_f32_to_bf16(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
__device__ __forceinline__ float srt_kv_bf16_to_f32(unsigned h) { return __uint_as_float(h << 16); }

/* fp8 e4m3 (host/dtype.c srt_f32_to_e4m3 / srt_e4m3_to_f32 / srt_e4m3_row_scale, the same steps) */
__device__ __forceinline__ uint8_t srt_kv_f32_to_e4m3(float f) {
    const unsigned u = __float_as_uint(f), sign = (u >> 24) & 0x80u;
    unsigned a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return 0x7f;                                /* NaN */
    if (a < 0x3c800000u) return (uint8_t)(sign | (unsigned)rintf(__uint_as_float(a) * 512.0f));   /* subnormal */
    a += 0x7ffffu + ((a >> 20) & 1u);                                /* mantissa to 3 bits, nearest even */
    const unsigned code = (a >> 20) - (120u << 3);
    return (uint8_t)(sign | (code > 0x7eu ? 0x7eu : code));          /* saturate to 448 */
}
/* exact: the code's bits placed in an f32 (subnormal codes become f32 subnormals: no flush-to-zero in this
 * build) times 2^120; 0x7f / 0xff -> NaN */
__device__ __forceinline__ float srt_kv_e4m3_to_f32(unsigned c) {
    const float m = __uint_as_float((c & 0x7fu) << 20) * 0x1p120f;
    const float f = (c & 0x7fu) == 0x7fu ? __uint_as_float(0x7fc00000u) : m;
    return __uint_as_float(__float_as_uint(f) | (c & 0x80u) << 24);
}
__device__ __forceinline__ float srt_kv_e4m3_row_scale(float amax) {
    const float r = amax / 448.0f;
    if (r == 0.0f || !(r < INFINITY)) return 1.0f;
    const unsigned u = __float_as_uint(r);
    return __uint_as_float((u & 0x7fffffu) ? (u & 0x7f800000u) + 0x800000u : u);
}

__device__ __forceinline__ void srt_kv_put(float *cache, size_t i, float x) { cache[i] = x; }
__device__ __forceinline__ void srt_kv_put(uint16_t *cache, size_t i, float x) { cache[i] = srt_kv_f32_to_bf16(x); }
/* x as a store into a cache of this dtype and a load back would give it (the pointer only picks the dtype) */
__device__ __forceinline__ float srt_kv_round(const float *, float x) { return x; }
__device__ __forceinline__ float srt_kv_round(const uint16_t *, float x) { return srt_kv_bf16_to_f32(srt_kv_f32_to_bf16(x)); }
/* fp8: codes only (the caller applies the row scale); a store of a raw value is used by no path (the fused decode
 * prologue is not taken with an fp8 cache: backend_cuda_lm.c) but keeps the templates whole */
__device__ __forceinline__ void srt_kv_put(uint8_t *cache, size_t i, float x) { cache[i] = srt_kv_f32_to_e4m3(x); }
__device__ __forceinline__ float srt_kv_round(const uint8_t *, float x) { return srt_kv_e4m3_to_f32(srt_kv_f32_to_e4m3(x)); }
__device__ __forceinline__ float srt_kv_get(const uint8_t *cache, size_t i) { return srt_kv_e4m3_to_f32(cache[i]); }
__device__ __forceinline__ float srt_kv_get(const float *cache, size_t i) { return cache[i]; }
__device__ __forceinline__ float srt_kv_get(const uint16_t *cache, size_t i) { return srt_kv_bf16_to_f32(cache[i]); }

/* out[j] = row[d0 + j] for j < 8 (0 past D). */
__device__ __forceinline__ void srt_kv_load8(const float *row, int d0, int D, int vec, float out[8]) {
    if (vec) {
        const float4 x = srt_load16<float4>(row + d0), y = srt_load16<float4>(row + d0 + 4);
        out[0] = x.x; out[1] = x.y; out[2] = x.z; out[3] = x.w;
        out[4] = y.x; out[5] = y.y; out[6] = y.z; out[7] = y.w;
    } else {
        SRT_UNROLL
        for (int j = 0; j < 8; j++) out[j] = d0 + j < D ? row[d0 + j] : 0.0f;
    }
}
__device__ __forceinline__ void srt_kv_load8(const uint16_t *row, int d0, int D, int vec, float out[8]) {
    if (vec) {
        const uint4 x = srt_load16<uint4>(row + d0);
        const unsigned w[4] = {x.x, x.y, x.z, x.w};
        SRT_UNROLL
        for (int j = 0; j < 4; j++) {
            out[2 * j] = srt_kv_bf16_to_f32(w[j] & 0xffffu);
            out[2 * j + 1] = srt_kv_bf16_to_f32(w[j] >> 16);
        }
    } else {
        SRT_UNROLL
        for (int j = 0; j < 8; j++) out[j] = d0 + j < D ? srt_kv_bf16_to_f32(row[d0 + j]) : 0.0f;
    }
}

#endif
