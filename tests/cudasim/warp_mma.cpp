/* warp_mma.cpp: the warp-wide tensor-core products of sim_mma.h (fragment layouts documented there). Each lane
 * hands its fragment pointers to cudasim::warp_op; the last lane to arrive builds A and B from the 32 lanes'
 * fragments and writes every lane's D = A B + C, each output summed in fp32 in k order starting from C (the same
 * sums, in the same order, as one lane fetching its operands by shuffles). This file is not instrumented: the
 * fragments are registers on a GPU, so the product moves no counted memory. */
#include "cudasim.h"
#include "tests/cudasim/sim_mma.h"

namespace cudasim {
namespace {
struct MmaLane { float *c; const uint32_t *a, *b; };

/* A (16, 8) and B (8, 8) from the tf32 fragments: a0 A[g][t], a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4];
 * b0 B[t][g], b1 B[t+4][g] (lane = 4 g + t) */
void warp_tf32(void *const args[32]) {
    float A[16][8], B[8][8];
    for (int l = 0; l < 32; l++) {
        const MmaLane *m = static_cast<const MmaLane *>(args[l]);
        int g = l >> 2, t = l & 3;
        A[g][t] = bits_f32(m->a[0]); A[g + 8][t] = bits_f32(m->a[1]);
        A[g][t + 4] = bits_f32(m->a[2]); A[g + 8][t + 4] = bits_f32(m->a[3]);
        B[t][g] = bits_f32(m->b[0]); B[t + 4][g] = bits_f32(m->b[1]);
    }
    for (int l = 0; l < 32; l++) {
        float *c = static_cast<const MmaLane *>(args[l])->c;
        int g = l >> 2, t = l & 3;
        float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
        for (int k = 0; k < 8; k++) {
            c0 += A[g][k] * B[k][2 * t];
            c1 += A[g][k] * B[k][2 * t + 1];
            c2 += A[g + 8][k] * B[k][2 * t];
            c3 += A[g + 8][k] * B[k][2 * t + 1];
        }
        c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
    }
}

/* bf16, two per register (lower k in the low half): a0 A[g][2t..2t+1], a1 A[g+8][2t..], a2 A[g][2t+8..],
 * a3 A[g+8][2t+8..]; b0 B[2t..2t+1][g], b1 B[2t+8..2t+9][g] */
inline float bf_lo(uint32_t r) { return bits_f32(r << 16); }
inline float bf_hi(uint32_t r) { return bits_f32(r & 0xffff0000u); }
void warp_bf16(void *const args[32]) {
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        const MmaLane *m = static_cast<const MmaLane *>(args[l]);
        int g = l >> 2, k = 2 * (l & 3);
        A[g][k] = bf_lo(m->a[0]); A[g][k + 1] = bf_hi(m->a[0]);
        A[g + 8][k] = bf_lo(m->a[1]); A[g + 8][k + 1] = bf_hi(m->a[1]);
        A[g][k + 8] = bf_lo(m->a[2]); A[g][k + 9] = bf_hi(m->a[2]);
        A[g + 8][k + 8] = bf_lo(m->a[3]); A[g + 8][k + 9] = bf_hi(m->a[3]);
        B[k][g] = bf_lo(m->b[0]); B[k + 1][g] = bf_hi(m->b[0]);
        B[k + 8][g] = bf_lo(m->b[1]); B[k + 9][g] = bf_hi(m->b[1]);
    }
    for (int l = 0; l < 32; l++) {
        float *c = static_cast<const MmaLane *>(args[l])->c;
        int g = l >> 2, t = l & 3;
        float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
        for (int k = 0; k < 16; k++) {
            c0 += A[g][k] * B[k][2 * t];
            c1 += A[g][k] * B[k][2 * t + 1];
            c2 += A[g + 8][k] * B[k][2 * t];
            c3 += A[g + 8][k] * B[k][2 * t + 1];
        }
        c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
    }
}
} /* namespace */

void mma_m16n8k8_tf32(float c[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line) {
    MmaLane m = {c, a, b};
    warp_op(warp_tf32, &m, "mma.sync.m16n8k8.tf32", file, line);
}
void mma_m16n8k16_bf16(float c[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line) {
    MmaLane m = {c, a, b};
    warp_op(warp_bf16, &m, "mma.sync.m16n8k16.bf16", file, line);
}
} /* namespace cudasim */
