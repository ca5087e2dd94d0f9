/* test_cudasim_lm_bf16.cpp: the cuda backend's default LM precision "bf16" (SNACRT_CUDA_LM_PRECISION,
 * cuda/backend_cuda.h) in the CUDA simulator: GEMMs with bf16 weights above the small-M rows round their f32
 * activations to bf16 once (gemm_split_bf16.cuh, lo half dropped) and run one bf16 x bf16 -> f32 tensor-core pass.
 *  1. The setting: bf16, exact and unset accepted (bf16 the default; small-M rows 3, exact 4), anything else refused
 *     at backend creation naming the variable and the value; SNACRT_CUDA_BF16_GEMM still overrides the GEMM mode.
 *  2. The gemm (bf16 B stored (N,K), the LM's Linear weights) against cpu-ref, M 1, 7, 33, 1025 x N 1, 7, 33, 1025
 *     x K 1, 7, 33, 1025 (M 1025 with K <= 33: the simulator runs the rounding kernel's M x K threads), alpha/beta,
 *     padded strides, in forward, reverse and random thread order:
 *     a. against cpu-ref on A rounded on the host (srt_f32_to_bf16: nearest even) within the f32 bound of the
 *        exact split path (test_cudasim_backend: only the summation order differs). Every 5th element of A is an
 *        exact tie (low 16 bits 0x8000, odd and even bf16 significands), so a wrong tie rule or a skipped K tail
 *        fails here;
 *     b. against cpu-ref on the f32 A within the bf16 bound derived below (what the rounding may cost);
 *     c. M 1 (<= the small-M rows) keeps f32 activations: bit for bit the exact backend; M > the small-M rows and
 *        K >= 33: differs from the exact backend (the single pass really runs).
 *  3. linear_fused (RMSNorm inside the rounding kernel, fused q|k|v scatter / interleaved gate|up + SwiGLU in the
 *     sum) at rows 7 and 33, K 33 (one element per thread) and 64 (16-byte paths), with and without the norm: equal
 *     to the unfused ops on the same backend (rmsnorm op, then one gemm over the fused weight; SwiGLU on the host
 *     with the kernel's formula): q|k|v bit for bit, SwiGLU within 2e-6 (expf).
 *  4. The tiny models (tests/data/llama) on "cuda" with precision bf16 and an f32 KV cache (the KV's own budget:
 *     test_lm_kv_bf16): each golden prompt's prefill differs from the exact path; teacher-forced batches of 7 and 33
 *     rows (every decode step one M 7 / M 33 forward): at each of the golden steps the golden logits (all at the
 *     prefill, the top 64 after) within the LM bound below, and the greedy pick a token whose golden logit is within
 *     2 x bound of the best: the golden id wherever the golden margin exceeds that. One thread order (random).
 *
 * GEMM bound (as test_cpu_lm_bf16). Rounding a_k to bf16 (8 significant bits, nearest) changes it by d_k a_k with
 * |d_k| <= u = 2^-8; B is bf16 on both sides and every bf16 x bf16 product is exact in f32, so the result differs
 * from the exact one by alpha sum_k d_k a_k b_k plus f32 accumulation error. With c_k = u |a_k b_k|: worst case
 * sum_k c_k; the d_k of random data are independent, zero-mean and bounded by c_k, so by Hoeffding
 * P(|sum| >= t) <= 2 exp(-t^2 / (2 sum_k c_k^2)); t = 8 sqrt(sum_k c_k^2) fails by chance with probability 2e-14
 * per element. Tolerance: |alpha| min(both) + the f32 bound of (a).
 * f32 bound (a), as test_cudasim_backend's split case with S = sum_k |a_k b_k|: |alpha| S sqrt(K) 2^-22 (f32
 * accumulation in another order on both sides, 4 sigma) + |beta C| 2^-22 + 1e-30.
 *
 * LM bound (as test_cpu_lm_bf16). A logit passes through G = 4 L + 1 GEMM stages with rounded activations (q|k|v, o,
 * gate|up, down per layer, the LM head); per stage a relative error of standard deviation u / sqrt 3 of the output's
 * scale, independent stages in quadrature: sqrt(G / 3) u of the logits' scale (their rms); 8 of those plus the
 * golden test's own 1e-3: tol = 8 sqrt(G / 3) u rms(golden logits) + 1e-3. Measured errors are printed. */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "snacrt.h"
#include "weights/weights.h"
#include "tests/gemm_run.h"   /* test_run_gemm */
}
#include "cuda/backend_cuda.h"   /* the context fields and SRT_CUDA_SMALL_M_ROWS_DEFAULT (C++-safe outside) */
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/lm_golden_teacher.h"   /* after testutil.h, snacrt.h, weights.h; U_BF16 */
#include <cmath>
#include <cstring>
#include <vector>

static srt_backend g_ref, g_exact, g_bf16;

/* ---- 1. the setting ---- */
static void check_setting() {
    static const char *ok[] = {"exact", "bf16", ""};
    srt_backend be;
    for (int i = 0; i < 3; i++) {
        setenv("SNACRT_CUDA_LM_PRECISION", ok[i], 1);
        srt_status st = srt_backend_create("cuda", 0, &be);
        TEST_CHECK(st == SRT_OK, "SNACRT_CUDA_LM_PRECISION=%s refused: %s", ok[i], srt_last_error());
        if (st != SRT_OK) continue;
        const srt_cuda_ctx *c = (const srt_cuda_ctx *)be.ctx;
        int want = i == 0 ? SRT_CUDA_LM_EXACT : SRT_CUDA_LM_BF16;   /* "" = unset: the default */
        int gemm = i == 0 ? SRT_CUDA_BF16_GEMM_SPLIT : SRT_CUDA_BF16_GEMM_SINGLE;
        int rows = i == 0 ? SRT_CUDA_SMALL_M_ROWS_EXACT : SRT_CUDA_SMALL_M_ROWS_DEFAULT;   /* each mode's crossover */
        TEST_CHECK(c->lm_precision == want && c->bf16_gemm == gemm && c->small_m_rows == rows,
                   "SNACRT_CUDA_LM_PRECISION=%s: precision %d gemm %d small-M rows %d", ok[i], c->lm_precision,
                   c->bf16_gemm, c->small_m_rows);
        srt_backend_destroy(&be);
    }
    setenv("SNACRT_CUDA_LM_PRECISION", "bf17", 1);
    srt_status st = srt_backend_create("cuda", 0, &be);
    const char *msg = srt_last_error();
    TEST_CHECK(st == SRT_ERR_INVALID_ARG && strstr(msg, "SNACRT_CUDA_LM_PRECISION") && strstr(msg, "bf17"),
               "SNACRT_CUDA_LM_PRECISION=bf17: status %d, message '%s'", (int)st, msg);
    if (st == SRT_OK) srt_backend_destroy(&be);
    setenv("SNACRT_CUDA_LM_PRECISION", "bf16", 1);   /* the comparison override still wins */
    setenv("SNACRT_CUDA_BF16_GEMM", "split", 1);
    st = srt_backend_create("cuda", 0, &be);
    TEST_CHECK(st == SRT_OK && ((const srt_cuda_ctx *)be.ctx)->bf16_gemm == SRT_CUDA_BF16_GEMM_SPLIT,
               "SNACRT_CUDA_BF16_GEMM=split over precision bf16: %s", st == SRT_OK ? "not split" : srt_last_error());
    if (st == SRT_OK) srt_backend_destroy(&be);
    unsetenv("SNACRT_CUDA_BF16_GEMM");
    unsetenv("SNACRT_CUDA_LM_PRECISION");
}

/* ---- 2. the gemm ---- */
/* A's k-th element of row m: uniform in [-1, 1], every 5th an exact bf16 tie (a bf16 value plus half its last
 * place), the tie's lower neighbour alternating between even and odd significands */
static void fill_a(std::vector<float> &A, uint64_t seed) {
    test_fill_uniform(A.data(), A.size(), seed, -1, 1);
    for (size_t i = 0; i < A.size(); i += 5) {
        uint32_t u;
        memcpy(&u, &A[i], 4);
        u = (u & 0xffff0000u) | 0x8000u;
        if ((i / 5) % 2) u ^= 0x10000u;   /* flip the lower neighbour's last significand bit */
        memcpy(&A[i], &u, 4);
    }
}

static void gemm_case(int M, int N, int K, float alpha, float beta, int pad, uint64_t seed) {
    const int lda = K + pad % 3, ldb = K + 1 + pad % 5, ldc = N + 1 + pad % 2;
    const size_t na = (size_t)M * lda, nb = (size_t)N * ldb, nc = (size_t)M * ldc;
    std::vector<float> A(na), Bf(nb), C0(nc);
    fill_a(A, seed);
    test_fill_uniform(Bf.data(), nb, seed + 1, -1 / sqrtf((float)K), 1 / sqrtf((float)K));
    test_fill_uniform(C0.data(), nc, seed + 2, -1, 1);
    std::vector<uint16_t> Bh(nb);
    for (size_t i = 0; i < nb; i++) Bh[i] = srt_f32_to_bf16(Bf[i]);
    if (beta == 0.0f)
        for (float &v : C0) v = NAN;   /* write-only: NaN must not leak */
    const int small = SRT_CUDA_SMALL_M_ROWS_DEFAULT, rounded = M > small;
    std::vector<float> A16 = A;   /* A as the backend multiplies it */
    if (rounded)
        for (float &v : A16) v = srt_bf16_to_f32(srt_f32_to_bf16(v));
    char what[160];
    snprintf(what, sizeof what, "gemm M%d N%d K%d alpha %g beta %g lda %d ldb %d ldc %d [%s order]", M, N, K, alpha,
             beta, lda, ldb, ldc, cudasim_order_name(cudasim_get_order()));
    std::vector<float> ref = C0, ref16 = C0, exact = C0, got = C0;
    srt_gemm_args g = {M, N, K, 0, 1, alpha, beta, A.data(), lda, Bh.data(), ldb, SRT_BF16, nullptr, ldc, nullptr};
    TEST_CHECK(test_run_gemm(&g_ref, g, na, nb * 2, ref.data(), nc) == SRT_OK, "%s: cpu-ref: %s", what,
               srt_last_error());
    TEST_CHECK(test_run_gemm(&g_exact, g, na, nb * 2, exact.data(), nc) == SRT_OK, "%s: exact: %s", what,
               srt_last_error());
    TEST_CHECK(test_run_gemm(&g_bf16, g, na, nb * 2, got.data(), nc) == SRT_OK, "%s: bf16: %s", what, srt_last_error());
    g.A = A16.data();
    TEST_CHECK(test_run_gemm(&g_ref, g, na, nb * 2, ref16.data(), nc) == SRT_OK, "%s: cpu-ref (A16): %s", what,
               srt_last_error());
    int bad_a = 0, bad_b = 0, differs = 0, pad_bad = 0;
    for (int m = 0; m < M; m++) {
        const float *a = &A[(size_t)m * lda];
        for (int n = 0; n < ldc; n++) {
            const size_t i = (size_t)m * ldc + n;
            if (n >= N) { pad_bad += memcmp(&got[i], &C0[i], 4) != 0; continue; }
            const uint16_t *b = &Bh[(size_t)n * ldb];
            double S = 0, s2 = 0;   /* sum |a_k b_k|, sum c_k^2 */
            for (int k = 0; k < K; k++) {
                double p = fabs((double)a[k] * srt_bf16_to_f32(b[k]));
                S += p;
                s2 += (U_BF16 * p) * (U_BF16 * p);
            }
            const double f32 = fabs(alpha) * S * sqrt((double)K) * ldexp(1, -22) +
                               (beta != 0.0f ? fabs(beta * C0[i]) * ldexp(1, -22) : 0.0) + 1e-30;
            const double hoeffding = 8 * sqrt(s2), worst_case = U_BF16 * S;
            const double bf16 = fabs(alpha) * (worst_case < hoeffding ? worst_case : hoeffding) + f32;
            const double ea = fabs((double)got[i] - ref16[i]), eb = fabs((double)got[i] - ref[i]);
            if (!(ea <= f32) && !bad_a++)
                TEST_CHECK(0, "%s: C[%d][%d] %.9g, cpu-ref on bf16(A) %.9g (error %.3g > f32 bound %.3g)", what, m, n,
                           got[i], ref16[i], ea, f32);
            if (!(eb <= bf16) && !bad_b++)
                TEST_CHECK(0, "%s: C[%d][%d] %.9g, cpu-ref %.9g (error %.3g > bf16 bound %.3g)", what, m, n, got[i],
                           ref[i], eb, bf16);
            differs |= memcmp(&got[i], &exact[i], 4) != 0;
        }
    }
    TEST_CHECK(!pad_bad, "%s: %d C padding elements written", what, pad_bad);
    if (!rounded)
        TEST_CHECK(!differs, "%s: precision bf16 differs from exact at <= %d rows (f32 activations there)", what, small);
    else if (K >= 33)
        TEST_CHECK(differs, "%s: precision bf16 gave the exact result bit for bit: the single pass did not run", what);
}

static void check_gemm() {
    static const int ms[] = {1, 7, 33, 1025}, dims[] = {1, 7, 33, 1025};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int count = 0;
    for (int mi = 0; mi < 4; mi++)
        for (int ni = 0; ni < 4; ni++)
            for (int ki = 0; ki < 4; ki++) {
                if (ms[mi] == 1025 && dims[ki] > 33) continue;
                float alpha = count % 3 == 0 ? -0.75f : 1.0f, beta = betas[count % 3];
                gemm_case(ms[mi], dims[ni], dims[ki], alpha, beta, count, 900 + 7 * (uint64_t)count);
                count++;
            }
    /* the 16-byte rounding path (K a multiple of 8, rows 16-byte aligned) */
    gemm_case(9, 40, 1024, 1.0f, 1.0f, 0, 77);
    gemm_case(33, 16, 64, 0.5f, 0.0f, 0, 78);
}

/* ---- 3. linear_fused == the unfused ops ---- */
static void *dev_copy(srt_backend *be, const void *host, size_t bytes, std::vector<void *> &keep) {
    void *d = nullptr;
    TEST_CHECK(srt_backend_alloc_upload(be, host, bytes ? bytes : 4, &d) == SRT_OK, "upload: %s", srt_last_error());
    keep.push_back(d);
    return d;
}

static std::vector<float> download(srt_backend *be, const void *dev, size_t n) {
    std::vector<float> h(n);
    TEST_CHECK(be->ops->sync(be->ctx) == SRT_OK && be->ops->download(be->ctx, h.data(), dev, n * 4) == SRT_OK,
               "download: %s", srt_last_error());
    return h;
}

/* The SwiGLU hand-off (cuda/cublas.c): a gemm right after a gate|up linear_fused whose A is its output y0 (rows, I)
 * takes the bf16 rows the sum wrote (one launch fewer: no rounding kernel) and equals, bit for bit, the same gemm on
 * a copy of y0 (a different pointer: the rounding kernel runs). A gemm after the hand-off was taken, or after y0 was
 * uploaded anew (an upload drops the hand-off), rounds y0 itself (the new values show). */
static void swiglu_hand_off(srt_backend *be, const srt_linear_fused_args *f, int rows, int I, uint64_t seed,
                            const char *what, std::vector<void *> &keep) {
    const int N2 = 24;
    float *y0 = f->y0;
    std::vector<float> W2((size_t)N2 * I), zeros((size_t)rows * N2, 0.0f);
    test_fill_uniform(W2.data(), W2.size(), seed, -0.05f, 0.05f);
    std::vector<uint16_t> W2h(W2.size());
    for (size_t i = 0; i < W2.size(); i++) W2h[i] = srt_f32_to_bf16(W2[i]);
    void *dw2 = dev_copy(be, W2h.data(), W2h.size() * 2, keep);
    float *d[3];
    unsigned long long launches[3];
    for (int i = 0; i < 3; i++) d[i] = (float *)dev_copy(be, zeros.data(), zeros.size() * 4, keep);
    std::vector<float> y = download(be, y0, (size_t)rows * I);
    float *ycopy = (float *)dev_copy(be, y.data(), y.size() * 4, keep);
    const float *as[3] = {y0, ycopy, y0};   /* hand-off, copy, y0 again (the hand-off was used up) */
    /* the uploads above dropped the hand-off: the op again (the same y0), then the gemms */
    TEST_CHECK(srt_op_linear_fused(be, f) == SRT_OK, "%s: fused again: %s", what, srt_last_error());
    for (int i = 0; i < 3; i++) {
        srt_gemm_args g = {rows, N2, I, 0, 1, 1.0f, 0.0f, as[i], I, dw2, I, SRT_BF16, d[i], N2, nullptr};
        const unsigned long long before = cudasim_launch_count();
        TEST_CHECK(srt_op_gemm(be, &g) == SRT_OK, "%s: down gemm %d: %s", what, i, srt_last_error());
        launches[i] = cudasim_launch_count() - before;
    }
    std::vector<float> r[3];
    for (int i = 0; i < 3; i++) r[i] = download(be, d[i], zeros.size());
    TEST_CHECK(!memcmp(r[0].data(), r[1].data(), zeros.size() * 4) && !memcmp(r[2].data(), r[1].data(), zeros.size() * 4),
               "%s: the gemm on the SwiGLU hand-off differs from the gemm on a copy of y0", what);
    TEST_CHECK(launches[0] + 1 == launches[1] && launches[2] == launches[1],
               "%s: the hand-off gemm took %llu launches, a copy's %llu, y0 again %llu", what, launches[0],
               launches[1], launches[2]);
    /* new values uploaded into y0 after another gate|up: the next gemm must see them */
    TEST_CHECK(srt_op_linear_fused(be, f) == SRT_OK, "%s: fused again: %s", what, srt_last_error());
    std::vector<float> y2(y.size());
    for (size_t i = 0; i < y.size(); i++) y2[i] = -2.0f * y[i] + 0.125f;
    TEST_CHECK(be->ops->upload(be->ctx, y0, y2.data(), y2.size() * 4) == SRT_OK, "%s: upload", what);
    float *ycopy2 = (float *)dev_copy(be, y2.data(), y2.size() * 4, keep);
    for (int i = 0; i < 2; i++) {
        srt_gemm_args g = {rows, N2, I, 0, 1, 1.0f, 0.0f, i ? ycopy2 : y0, I, dw2, I, SRT_BF16, d[i], N2, nullptr};
        TEST_CHECK(srt_op_gemm(be, &g) == SRT_OK, "%s: gemm after upload: %s", what, srt_last_error());
    }
    r[0] = download(be, d[0], zeros.size());
    r[1] = download(be, d[1], zeros.size());
    TEST_CHECK(!memcmp(r[0].data(), r[1].data(), zeros.size() * 4), "%s: a gemm on y0 after an upload into it "
               "differs from one on a copy of the new values", what);
    TEST_CHECK(be->ops->upload(be->ctx, y0, y.data(), y.size() * 4) == SRT_OK, "%s: upload back", what);
}

static void fused_case(int rows, int K, int swiglu, int norm, uint64_t seed) {
    srt_backend *be = &g_bf16;
    /* gate|up at K 33: 41 outputs per row (not a multiple of 4: the sum's one-element path) */
    const int n0 = swiglu ? 0 : 24, n1 = swiglu ? 0 : 8, N = swiglu ? 2 * (K == 33 ? 41 : 40) : n0 + n1 + 8, I = N / 2;
    char what[128];
    snprintf(what, sizeof what, "linear_fused %s rows %d K %d norm %d [%s order]", swiglu ? "gate|up" : "q|k|v", rows,
             K, norm, cudasim_order_name(cudasim_get_order()));
    std::vector<float> x((size_t)rows * K), W((size_t)N * K), nw(K);
    fill_a(x, seed);
    test_fill_uniform(W.data(), W.size(), seed + 1, -0.05f, 0.05f);
    test_fill_uniform(nw.data(), nw.size(), seed + 2, 0.5f, 1.5f);
    std::vector<uint16_t> Wh(W.size());
    for (size_t i = 0; i < W.size(); i++) Wh[i] = srt_f32_to_bf16(W[i]);
    std::vector<void *> keep;
    float *dx = (float *)dev_copy(be, x.data(), x.size() * 4, keep);
    void *dw = dev_copy(be, Wh.data(), Wh.size() * 2, keep);
    float *dnw = norm ? (float *)dev_copy(be, nw.data(), nw.size() * 4, keep) : nullptr;
    std::vector<float> zeros((size_t)rows * N, 0.0f);
    float *y0 = (float *)dev_copy(be, zeros.data(), zeros.size() * 4, keep);
    float *y1 = (float *)dev_copy(be, zeros.data(), zeros.size() * 4, keep);
    float *y2 = (float *)dev_copy(be, zeros.data(), zeros.size() * 4, keep);
    float *xn = (float *)dev_copy(be, zeros.data(), (size_t)rows * K * 4, keep);
    srt_linear_fused_args f = {rows, N, K, swiglu ? SRT_LINEAR_SWIGLU : SRT_LINEAR_SPLIT3, n0, n1, dx, dw, SRT_BF16,
                               y0, y1, swiglu ? nullptr : y2, dnw, 1e-5f, xn, nullptr};
    TEST_CHECK(srt_op_linear_fused(be, &f) == SRT_OK, "%s: fused: %s", what, srt_last_error());
    if (swiglu) swiglu_hand_off(be, &f, rows, I, seed + 3, what, keep);
    /* unfused: rmsnorm op (when norm), one gemm over the whole fused weight */
    const float *a = dx;
    if (norm) {
        float *dn = (float *)dev_copy(be, zeros.data(), (size_t)rows * K * 4, keep);
        srt_rmsnorm_args r = {rows, K, 1e-5f, dx, dnw, dn};
        TEST_CHECK(srt_op_rmsnorm(be, &r) == SRT_OK, "%s: rmsnorm: %s", what, srt_last_error());
        a = dn;
    }
    float *dc = (float *)dev_copy(be, zeros.data(), zeros.size() * 4, keep);
    srt_gemm_args g = {rows, N, K, 0, 1, 1.0f, 0.0f, a, K, dw, K, SRT_BF16, dc, N, nullptr};
    TEST_CHECK(srt_op_gemm(be, &g) == SRT_OK, "%s: gemm: %s", what, srt_last_error());
    std::vector<float> C = download(be, dc, (size_t)rows * N);
    int bad = 0;
    if (swiglu) {
        std::vector<float> got = download(be, y0, (size_t)rows * I);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < I; j++) {
                float gt = C[(size_t)r * N + 2 * j], up = C[(size_t)r * N + 2 * j + 1];
                float want = gt / (1.0f + expf(-gt)) * up, v = got[(size_t)r * I + j];
                if (!(fabs(v - want) <= 2e-6 * (1 + fabs(want))) && !bad++)
                    TEST_CHECK(0, "%s: y[%d][%d] %.9g, unfused %.9g", what, r, j, v, want);
            }
    } else {
        const int n2 = N - n0 - n1;
        std::vector<float> q = download(be, y0, (size_t)rows * n0), k = download(be, y1, (size_t)rows * n1),
                           v = download(be, y2, (size_t)rows * n2);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < N; c++) {
                float got = c < n0 ? q[(size_t)r * n0 + c] : c < n0 + n1 ? k[(size_t)r * n1 + c - n0]
                                                                       : v[(size_t)r * n2 + c - n0 - n1];
                if (memcmp(&got, &C[(size_t)r * N + c], 4) && !bad++)
                    TEST_CHECK(0, "%s: column %d of row %d %.9g, unfused %.9g", what, c, r, got, C[(size_t)r * N + c]);
            }
    }
    for (void *d : keep) be->ops->free(be->ctx, d);
}

static void check_fused() {
    static const int rows[] = {7, 33}, ks[] = {33, 64};
    for (int ri = 0; ri < 2; ri++)
        for (int ki = 0; ki < 2; ki++)
            for (int sw = 0; sw < 2; sw++)
                for (int norm = 0; norm < 2; norm++)
                    fused_case(rows[ri], ks[ki], sw, norm, 500 + (uint64_t)(ri * 8 + ki * 4 + sw * 2 + norm));
}

/* ---- 4. the tiny models (tests/lm_golden_teacher.h) ---- */
static void check_model(const char *name) {
    char dir[512];
    srt_weights *golden = lm_golden_open(name, dir, sizeof dir);
    srt_lm *lm = nullptr, *exact = nullptr;   /* precision bf16 (the default), exact */
    srt_status st = lm_golden_load_pair(dir, "cuda", "f32", "SNACRT_CUDA_LM_PRECISION", "exact", &exact, &lm);
    TEST_CHECK(st == SRT_OK, "load %s: %s", name, srt_last_error());
    if (!golden || st != SRT_OK) { srt_lm_free(lm); srt_lm_free(exact); srt_weights_free(golden); return; }
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    const int vocab = info.vocab_size;
    lm_golden_prompt gp[2];
    for (int p = 0; p < 2; p++) {
        lm_golden_prompt *g = &gp[p];
        if (!lm_golden_prompt_load(golden, p, name, info.n_layers, vocab, g)) {
            srt_lm_free(lm); srt_lm_free(exact); srt_weights_free(golden);
            return;
        }
        /* the single pass runs (prefill M = prompt length > the small-M rows): logits differ from the exact path */
        int differ = lm_golden_prefill_differs(lm, exact, name, p, g, vocab);
        if (g->n_ids > SRT_CUDA_SMALL_M_ROWS_DEFAULT)
            TEST_CHECK(differ, "%s p%d: precision bf16 gave the exact logits bit for bit: no single pass", name, p);
    }
    lm_golden_teacher_force(lm, name, ", cuda bf16", gp, vocab);
    srt_lm_free(lm);
    srt_lm_free(exact);
    srt_weights_free(golden);
}

int main(void) {
    unsetenv("SNACRT_CUDA_BF16_GEMM");
    check_setting();
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &g_ref) == SRT_OK, "cpu-ref: %s", srt_last_error());
    setenv("SNACRT_CUDA_LM_PRECISION", "exact", 1);
    srt_status st = srt_backend_create("cuda", 0, &g_exact);
    unsetenv("SNACRT_CUDA_LM_PRECISION");
    if (st == SRT_OK) st = srt_backend_create("cuda", 0, &g_bf16);
    TEST_CHECK(st == SRT_OK, "cuda in the simulator build: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 4242);
        int failed_before = test_failed_count;
        check_gemm();
        check_fused();
        TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        printf("%s order: %d failures\n", cudasim_order_name(order), test_failed_count - failed_before);
        cudasim_clear_error();
    }
    srt_backend_destroy(&g_exact);
    srt_backend_destroy(&g_bf16);
    srt_backend_destroy(&g_ref);
    check_model("tiny-qwen2");
    check_model("tiny-orpheus");
    TEST_CHECK(cudasim_error_count() == 0, "models: the simulator reported: %s", cudasim_last_error());
    TEST_MAIN_END();
}
