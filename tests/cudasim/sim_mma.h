/* sim_mma.h: the warp-level tensor-core instructions that cuda/mma.cuh uses, emulated for the simulator with the
 * exact PTX fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k8 / m16n8k16"), so a kernel written
 * against the real fragments gives the same results here as its layout promises, and a wrong layout fails:
 *   mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32    D (16x8) = A (16x8, tf32) B (8x8, tf32) + C
 *   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32   D (16x8) = A (16x16, bf16) B (16x8, bf16) + C
 * Lane l: g = l/4, t = l%4. tf32: a0 A[g][t], a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4]; b0 B[t][g], b1 B[t+4][g].
 * bf16 (two per 32-bit register, the lower index in the low half): a0 A[g][2t..2t+1], a1 A[g+8][2t..], a2
 * A[g][2t+8..], a3 A[g+8][2t+8..]; b0 B[2t..2t+1][g], b1 B[2t+8..2t+9][g]. D/C: c0 (g, 2t), c1 (g, 2t+1),
 * c2 (g+8, 2t), c3 (g+8, 2t+1).
 * Each lane fetches the operands of its four outputs from the other lanes with __shfl_sync (the whole warp must
 * execute the call, as on the GPU), then sums in fp32 in k order starting from C. Products of tf32 or bf16 values
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
/* 64-bit shuffle of two 32-bit registers from lane src */
inline void shfl2(uint32_t lo, uint32_t hi, int src, uint32_t *olo, uint32_t *ohi) {
    uint64_t v = __shfl_sync(0xffffffffu, (uint64_t)lo | ((uint64_t)hi << 32), src);
    *olo = (uint32_t)v;
    *ohi = (uint32_t)(v >> 32);
}
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

inline void sim_mma_m16n8k8_tf32(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    int lane = (int)(threadIdx.x % 32), g = lane >> 2, t = lane & 3;
    float ag[8], ag8[8], b0[8], b1[8];   /* A[g][k], A[g+8][k], B[k][2t], B[k][2t+1] */
    for (int kk = 0; kk < 4; kk++) {
        uint32_t x0, x1, y0, y1, z0, z1, w0, w1;
        cudasim::shfl2(a[0], a[2], g * 4 + kk, &x0, &x1);          /* A[g][kk], A[g][kk+4] */
        cudasim::shfl2(a[1], a[3], g * 4 + kk, &y0, &y1);          /* A[g+8][kk], A[g+8][kk+4] */
        cudasim::shfl2(b[0], b[1], (2 * t) * 4 + kk, &z0, &z1);    /* B[kk][2t], B[kk+4][2t] */
        cudasim::shfl2(b[0], b[1], (2 * t + 1) * 4 + kk, &w0, &w1);
        ag[kk] = cudasim::bits_f32(x0); ag[kk + 4] = cudasim::bits_f32(x1);
        ag8[kk] = cudasim::bits_f32(y0); ag8[kk + 4] = cudasim::bits_f32(y1);
        b0[kk] = cudasim::bits_f32(z0); b0[kk + 4] = cudasim::bits_f32(z1);
        b1[kk] = cudasim::bits_f32(w0); b1[kk + 4] = cudasim::bits_f32(w1);
    }
    for (int k = 0; k < 8; k++) {
        c[0] += ag[k] * b0[k];
        c[1] += ag[k] * b1[k];
        c[2] += ag8[k] * b0[k];
        c[3] += ag8[k] * b1[k];
    }
}

inline void sim_mma_m16n8k16_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    int lane = (int)(threadIdx.x % 32), g = lane >> 2, t = lane & 3;
    float ag[16], ag8[16], b0[16], b1[16];
    auto lo = [](uint32_t r) { return cudasim::bits_f32(r << 16); };
    auto hi = [](uint32_t r) { return cudasim::bits_f32(r & 0xffff0000u); };
    for (int tt = 0; tt < 4; tt++) {
        uint32_t x0, x1, y0, y1, z0, z1, w0, w1;
        cudasim::shfl2(a[0], a[2], g * 4 + tt, &x0, &x1);          /* A[g][2tt..2tt+1], A[g][2tt+8..2tt+9] */
        cudasim::shfl2(a[1], a[3], g * 4 + tt, &y0, &y1);
        cudasim::shfl2(b[0], b[1], (2 * t) * 4 + tt, &z0, &z1);    /* B[2tt..2tt+1][2t], B[2tt+8..][2t] */
        cudasim::shfl2(b[0], b[1], (2 * t + 1) * 4 + tt, &w0, &w1);
        int k = 2 * tt;
        ag[k] = lo(x0); ag[k + 1] = hi(x0); ag[k + 8] = lo(x1); ag[k + 9] = hi(x1);
        ag8[k] = lo(y0); ag8[k + 1] = hi(y0); ag8[k + 8] = lo(y1); ag8[k + 9] = hi(y1);
        b0[k] = lo(z0); b0[k + 1] = hi(z0); b0[k + 8] = lo(z1); b0[k + 9] = hi(z1);
        b1[k] = lo(w0); b1[k + 1] = hi(w0); b1[k + 8] = lo(w1); b1[k + 9] = hi(w1);
    }
    for (int k = 0; k < 16; k++) {
        c[0] += ag[k] * b0[k];
        c[1] += ag[k] * b1[k];
        c[2] += ag8[k] * b0[k];
        c[3] += ag8[k] * b1[k];
    }
}
#endif
