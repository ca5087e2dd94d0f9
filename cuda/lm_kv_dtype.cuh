/* lm_kv_dtype.cuh: elements of the paged KV cache (f32 or bf16 bits, srt_kv_store_args.kv_dtype) on the device:
 * rounding f32 to bf16 (nearest even, NaN kept quiet: bit-exact with host/dtype.c), widening, and loads of eight
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

__device__ __forceinline__ void srt_kv_put(float *cache, size_t i, float x) { cache[i] = x; }
__device__ __forceinline__ void srt_kv_put(uint16_t *cache, size_t i, float x) { cache[i] = srt_kv_f32_to_bf16(x); }
/* x as a store into a cache of this dtype and a load back would give it (the pointer only picks the dtype) */
__device__ __forceinline__ float srt_kv_round(const float *, float x) { return x; }
__device__ __forceinline__ float srt_kv_round(const uint16_t *, float x) { return srt_kv_bf16_to_f32(srt_kv_f32_to_bf16(x)); }
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
