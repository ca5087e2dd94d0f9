/* attn_online_softmax.cuh: one online-softmax step of the tensor-core attention kernels (FlashAttention-2 style),
 * shared by the codec's local attention (local_attention.cuh) and the LM's prefill attention (lm_prefill_attention.cuh).
 * A warp owns 16 rows; this lane holds rows A (accumulator elements 0, 1) and B (2, 3) of the m16n8 layouts.
 * In:  sc (16, 8 NT) raw scores of one key tile (masked keys -inf; at least one finite key per row), NT n-tiles.
 * Out: sc = P = exp2(S c - m c) in place; m (running max of the raw scores) raised to the tile's; l (this lane's part
 *      of the running sum) and o (16, 8 ND) output accumulator rescaled by exp2((m_old - m_new) c), l += P's row sums.
 * c is the softmax scale times log2 e. */
#ifndef SRT_CUDA_ATTN_ONLINE_SOFTMAX_CUH
#define SRT_CUDA_ATTN_ONLINE_SOFTMAX_CUH
#include "cuda/common.cuh"

template <int NT, int ND>
__device__ __forceinline__ void srt_attn_online_softmax(float (&sc)[NT][4], float (&o)[ND][4], float &mA, float &mB,
                                                        float &lA, float &lB, float c) {
    float tA = -INFINITY, tB = -INFINITY;              /* the tile's row maxima (raw scores) */
    SRT_UNROLL
    for (int j = 0; j < NT; j++) {
        tA = fmaxf(tA, fmaxf(sc[j][0], sc[j][1]));
        tB = fmaxf(tB, fmaxf(sc[j][2], sc[j][3]));
    }
    tA = fmaxf(tA, __shfl_xor_sync(0xffffffffu, tA, 1));
    tA = fmaxf(tA, __shfl_xor_sync(0xffffffffu, tA, 2));
    tB = fmaxf(tB, __shfl_xor_sync(0xffffffffu, tB, 1));
    tB = fmaxf(tB, __shfl_xor_sync(0xffffffffu, tB, 2));
    const float nA = fmaxf(mA, tA), nB = fmaxf(mB, tB);   /* finite: every row has a finite key in its first tile */
    const float corrA = exp2f((mA - nA) * c), corrB = exp2f((mB - nB) * c);   /* 0 on the first tile */
    mA = nA;
    mB = nB;
    const float mcA = nA * c, mcB = nB * c;
    float sA = 0.0f, sB = 0.0f;
    SRT_UNROLL
    for (int j = 0; j < NT; j++) {                     /* P = exp2(S c - m c), in place */
        sc[j][0] = exp2f(fmaf(sc[j][0], c, -mcA));
        sc[j][1] = exp2f(fmaf(sc[j][1], c, -mcA));
        sc[j][2] = exp2f(fmaf(sc[j][2], c, -mcB));
        sc[j][3] = exp2f(fmaf(sc[j][3], c, -mcB));
        sA += sc[j][0] + sc[j][1];
        sB += sc[j][2] + sc[j][3];
    }
    lA = lA * corrA + sA;
    lB = lB * corrB + sB;
    SRT_UNROLL
    for (int n = 0; n < ND; n++) {
        o[n][0] *= corrA;
        o[n][1] *= corrA;
        o[n][2] *= corrB;
        o[n][3] *= corrB;
    }
}

#endif
