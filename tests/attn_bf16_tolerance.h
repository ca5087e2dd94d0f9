/* attn_bf16_tolerance.h: the tolerance of the tensor-core prefill attention (cuda/lm_prefill_attention.cuh: bf16
 * KV cache, Q and P rounded to bf16, f32 accumulation) against the exact attention (cpu-ref: the same bf16 K / V
 * widened exactly, f32 queries, f32 / double arithmetic), for one output row, derived from its inputs:
 *
 *   u = 2^-9 (bf16 round to nearest), e32 = 2^-24 (f32); scale c = 1/sqrt(D); keys j = 0 .. n-1 visible to the row.
 *   Scores: the kernel's s'_j = c sum_d bf16(q_d) k_jd with |bf16(q_d) - q_d| <= u |q_d|, summed in f32 (mma):
 *     |s'_j - s_j| <= Delta = c (u + D e32) max_j sum_d |q_d k_jd|.
 *   Softmax weights of perturbed scores: w'_j = w_j e^(d_j) / sum_i w_i e^(d_i), |d| <= Delta, so
 *     |w'_j - w_j| <= w_j (e^(2 Delta) - 1)  ->  |sum_j (w'_j - w_j) v_j| <= (e^(2 Delta) - 1) max_j |v_j|.
 *   P rounded to bf16 for P V (the row sum l stays f32 of the unrounded p): each term's relative error <= u, so
 *     |sum_j p~_j v_j / l - sum_j w'_j v_j| <= u max_j |v_j|.
 *   f32 parts (exp2, the running rescale, accumulating <= n terms) and the reference's own error: the f32 attention
 *     tolerance of test_cudasim_lm (2e-5 + 1e-4 |ref|).
 *   tol = max_j |v_j| (e^(2 Delta) - 1 + u) + 2e-5 + 1e-4 |ref|.
 * A worst-case bound (the measured errors are printed beside it); dropping the causal mask or the online rescale
 * gives errors of the size of the outputs (seen failing). */
#ifndef SRT_TESTS_ATTN_BF16_TOLERANCE_H
#define SRT_TESTS_ATTN_BF16_TOLERANCE_H
#include <math.h>

static const double ATTN_BF16_TC_ATOL = 2e-5, ATTN_BF16_TC_RTOL = 1e-4;

/* The row's absolute tolerance without the |ref| term: q (D) the query, key_row(j) / val_row(j) the widened cache
 * rows (D floats) of its n visible keys; u_qk the relative error of one product q_d k_jd before the f32 sum (here
 * u: Q rounded), u_pv that of one term p_j v_jd (u: P rounded). Other kernels pass their own (the SNAC local
 * attention, tests/test_cudasim_local_attention.cpp: Q, K, V and P all rounded). */
template <typename KeyRow, typename ValRow>
static double attn_tc_tol(const float *q, int D, int n, KeyRow key_row, ValRow val_row, double u_qk, double u_pv) {
    const double e32 = ldexp(1.0, -24);
    double qk_max = 0.0, v_max = 0.0;
    for (int j = 0; j < n; j++) {
        const float *k = key_row(j), *v = val_row(j);
        double acc = 0.0;
        for (int d = 0; d < D; d++) {
            acc += fabs((double)q[d] * k[d]);
            v_max = fmax(v_max, fabs((double)v[d]));
        }
        qk_max = fmax(qk_max, acc);
    }
    const double delta = (u_qk + D * e32) * qk_max / sqrt((double)D);
    return v_max * (expm1(2.0 * delta) + u_pv) + ATTN_BF16_TC_ATOL;
}
template <typename KeyRow, typename ValRow>
static double attn_bf16_tc_tol(const float *q, int D, int n, KeyRow key_row, ValRow val_row) {
    const double u = ldexp(1.0, -9);
    return attn_tc_tol(q, D, n, key_row, val_row, u, u);
}
#endif
