/* sim_mma.h: the warp-level tensor-core instructions that cuda/mma.cuh uses, emulated for the simulator with the
 * exact PTX fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k8 / m16n8k16"), so a kernel written
 * against the real fragments gives the same results here as its layout promises, and a wrong layout fails:
 *   mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32    D (16x8) = A (16x8, tf32) B (8x8, tf32) + C
 *   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32   D (16x8) = A (16x16, bf16) B (16x8, bf16) + C
 * Lane l: g = l/4, t = l%4. tf32: a0 A[g][t], a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4]; b0 B[t][g], b1 B[t+4][g].
 * bf16 (two per 32-bit register, the lower index in the low half): a0 A[g][2t..2t+1], a1 A[g+8][2t..], a2
 * A[g][2t+8..], a3 A[g+8][2t+8..]; b0 B[2t..2t+1][g], b1 B[2t+8..2t+9][g]. D/C: c0 (g, 2t), c1 (g, 2t+1),
 * c2 (g+8, 2t), c3 (g+8, 2t+1).
 * The instruction is one warp-wide operation of the scheduler (cudasim::warp_op, the whole warp must execute it, as
 * on the GPU): once the 32 lanes have arrived, the last one gathers A and B from the lanes' fragments and computes
 * every lane's four outputs (warp_mma.cpp, outside the counted kernel code: registers, no memory traffic), each
 * summed in fp32 in k order starting from C. Products of tf32 or bf16 values
 * are exact in fp32; the order and width of the hardware's internal sum are unspecified (it may keep more bits):
 * results agree with a GPU to fp32 rounding of a k-term sum, not bit for bit.
 * Rounding to the input formats: tf32 round to nearest, ties away (cvt.rna.tf32.f32); bf16 round to nearest even
 * (__float2bfloat16_rn). */
#ifndef CUDASIM_SIM_MMA_H
#define CUDASIM_SIM_MMA_H
#include "cudasim.h"
#include <cstdint>
#include <cstring>

namespace cudasim {
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
/* warp_mma.cpp: c += A B for the calling lane's fragments, once the whole warp has called it */
void mma_m16n8k8_tf32(float c[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line);
void mma_m16n8k16_bf16(float c[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line);
} /* namespace cudasim */

/* tf32 bits of x (low 13 mantissa bits zero): round to nearest, ties away from zero; Inf / NaN kept */
inline uint32_t sim_cvt_rna_tf32(float x) {
    uint32_t u = cudasim::f32_bits(x);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;
    return (u + 0x1000u) & 0xffffe000u;
}

/* bf16 bits of x: round to nearest even (NaN stays NaN) */
inline uint16_t sim_f32_to_bf16_rn(float x) {
    uint32_t u = cudasim::f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline void sim_mma_m16n8k8_tf32(float c[4], const uint32_t a[4], const uint32_t b[2],
                                 const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::mma_m16n8k8_tf32(c, a, b, file, line);
}
inline void sim_mma_m16n8k16_bf16(float c[4], const uint32_t a[4], const uint32_t b[2],
                                  const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::mma_m16n8k16_bf16(c, a, b, file, line);
}
#endif
