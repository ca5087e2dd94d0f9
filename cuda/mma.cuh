/* mma.cuh: the warp-level tensor-core instructions of the codec kernels, as inline PTX under nvcc (sm_80+) and
 * as tests/cudasim/sim_mma.h in the simulator (same fragment layouts, documented there):
 *   srt_mma_tf32(c, a, b)   mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, c += A (16x8) B (8x8)
 *   srt_mma_bf16(c, a, b)   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, c += A (16x16) B (16x8)
 *   srt_tf32_bits(x)        x rounded to tf32 (cvt.rna.tf32.f32), as a 32-bit register
 *   srt_bf16x2_bits(lo, hi) two floats rounded to bf16 (nearest even), packed (lo in the low half)
 *   srt_mma_stage_c(ys, pitch, c, g, t)  a lane's m16n8 accumulator c into the 16x8 tile at ys (row pitch in floats):
 *                           rows g and g + 8, columns 2t and 2t + 1 (g = lane / 4, t = lane % 4), two 8-byte stores
 * Every lane of the warp must execute each mma (warp-synchronous). */
#ifndef SRT_CUDA_MMA_CUH
#define SRT_CUDA_MMA_CUH
#include "cuda/common.cuh"

#ifdef __CUDACC__
#include <cuda_bf16.h>
__device__ __forceinline__ uint32_t srt_tf32_bits(float x) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}
__device__ __forceinline__ uint32_t srt_bf16x2_bits(float lo, float hi) {
    return (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(lo)) |
           ((uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(hi)) << 16);
}
__device__ __forceinline__ void srt_mma_tf32(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void srt_mma_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
#include "tests/cudasim/sim_mma.h"
inline uint32_t srt_tf32_bits(float x) { return sim_cvt_rna_tf32(x); }
inline uint32_t srt_bf16x2_bits(float lo, float hi) {
    return (uint32_t)sim_f32_to_bf16_rn(lo) | ((uint32_t)sim_f32_to_bf16_rn(hi) << 16);
}
inline void srt_mma_tf32(float c[4], const uint32_t a[4], const uint32_t b[2]) { sim_mma_m16n8k8_tf32(c, a, b); }
inline void srt_mma_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) { sim_mma_m16n8k16_bf16(c, a, b); }
#endif

__device__ __forceinline__ void srt_mma_stage_c(float *ys, int pitch, const float c[4], int g, int t) {
    SRT_UNROLL
    for (int h = 0; h < 2; h++) {
        float2 v;
        v.x = c[2 * h];
        v.y = c[2 * h + 1];
        srt_store8(&ys[(g + 8 * h) * pitch + 2 * t], v);
    }
}
#endif
