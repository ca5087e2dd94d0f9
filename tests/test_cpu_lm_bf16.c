/* test_cpu_lm_bf16.c: the cpu backend's default LM precision "bf16" (SNACRT_CPU_LM_PRECISION, host/cpu/cpu_ops.h):
 * bf16 weights times activations rounded to bf16 (vdpbf16ps) for every M on AVX-512 BF16 CPUs.
 *  1. The setting: exact and bf16 accepted, anything else refused at backend creation naming the variable and value.
 *  2. The gemm (bf16 B stored (N,K), the LM's Linear weights) against cpu-ref on odd shapes, M 1, 7, 33, 130 x
 *     N 1, 7, 33, 1025 x K 1, 7, 33, 1025, alpha/beta, padded strides, within the bound derived below; once with the
 *     best kernels this CPU has and once capped at AVX2 (a CPU without AVX-512 BF16: the fallback must equal the
 *     exact backend bit for bit; SNACRT_CPU_MAX_ISA=avx2 runs the whole test that way). Where the bf16 kernel runs,
 *     results must differ from the exact backend (the default really takes the path), and a row's result must not
 *     depend on M (row 69 of M 130 == that row alone: the kernel takes 64-row blocks).
 *  3. The tiny models (tests/data/llama) on "cpu" with precision bf16: each golden prompt's prefill differs from the
 *     exact path (the kernel runs; equal where it cannot); teacher-forced batches of 7 and 33 rows (every decode step
 *     one M 7 / M 33 forward): at each of the 12 golden steps the golden logits (all at the prefill, the top 64
 *     after) within the LM bound below, and the greedy pick a token whose golden logit is within 2 x bound of the
 *     best: the golden id wherever the golden margin exceeds that; greedy srt_lm_generate on 33 rows: rows of one
 *     prompt identical, and greedy_ids up to the first step whose golden margin is within 2 x bound.
 *
 * GEMM bound. Rounding a_k to bf16 (round to nearest even, 8 significant bits) changes it by d_k a_k with
 * |d_k| <= u = 2^-8; B is bf16 on both sides and every bf16 x bf16 product is exact in f32, so the bf16 result
 * differs from the exact one by alpha * sum_k d_k a_k b_k plus f32 accumulation error. With c_k = u |a_k b_k|:
 *  - worst case |sum| <= sum_k c_k (grows like K);
 *  - the d_k of random data are independent, zero-mean and bounded by c_k, so by Hoeffding
 *    P(|sum| >= t) <= 2 exp(-t^2 / (2 sum_k c_k^2)); t = 8 sqrt(sum_k c_k^2) (grows like sqrt(K)) fails by chance
 *    with probability 2e-14 per element (~5e5 elements checked).
 * Tolerance per element: |alpha| min(both) + the f32 bound of test_gemm_bf16 (ATOL(K) + RTOL |ref|).
 *
 * LM bound. A logit passes through G = 4 L + 1 GEMM stages with rounded activations (q/k/v, o, gate/up, down per
 * layer, the LM head). Per stage the rounding adds sum_k d_k a_k b_k to an output sum_k a_k b_k: with d_k about
 * uniform in [-u, u] (standard deviation u / sqrt 3) and random signs, a relative error of standard deviation
 * u / sqrt 3 of the output's scale whatever K. Independent stages add in quadrature, giving sqrt(G / 3) u of the
 * logits' scale (their rms over the vocabulary); 8 of those (the Hoeffding factor above) plus the golden test's
 * own 1e-3 against the reference: tol = 8 sqrt(G / 3) u rms(golden logits) + 1e-3. Measured errors are printed. */
#include "backend.h"
#include "cpu/cpu_gemm_kernels.h"
#include "cpu/cpu_ops.h"
#include "snacrt.h"
#include "gemm_run.h"
#include "testutil.h"
#include "weights/weights.h"
#include "lm_golden_teacher.h"   /* after testutil.h, snacrt.h, weights.h; U_BF16 */

#define ATOL(K) (1e-5 * ((K) > 128 ? sqrt((K) / 128.0) : 1.0))
#define RTOL 1e-4

/* ---- 1. the setting ---- */
static void check_setting(void) {
    static const char *ok[] = {"exact", "bf16", ""};
    srt_backend be;
    for (int i = 0; i < 3; i++) {
        setenv("SNACRT_CPU_LM_PRECISION", ok[i], 1);
        srt_status st = srt_backend_create("cpu", 1, &be);
        TEST_CHECK(st == SRT_OK, "SNACRT_CPU_LM_PRECISION=%s refused: %s", ok[i], srt_last_error());
        if (st == SRT_OK) {
            int want = i == 0 ? SRT_CPU_LM_EXACT : SRT_CPU_LM_BF16;   /* "" = unset: the default */
            TEST_CHECK(((srt_cpu_ctx *)be.ctx)->lm_precision == want, "SNACRT_CPU_LM_PRECISION=%s: precision %d",
                       ok[i], ((srt_cpu_ctx *)be.ctx)->lm_precision);
            srt_backend_destroy(&be);
        }
    }
    setenv("SNACRT_CPU_LM_PRECISION", "bf17", 1);
    srt_status st = srt_backend_create("cpu", 1, &be);
    const char *msg = srt_last_error();
    TEST_CHECK(st == SRT_ERR_INVALID_ARG && strstr(msg, "SNACRT_CPU_LM_PRECISION") && strstr(msg, "bf17"),
               "SNACRT_CPU_LM_PRECISION=bf17: status %d, message '%s'", (int)st, msg);
    if (st == SRT_OK) srt_backend_destroy(&be);
    unsetenv("SNACRT_CPU_LM_PRECISION");
}

/* ---- 2. the gemm ---- */
/* be[0] cpu-ref, be[1] cpu exact, be[2] cpu bf16. Returns the largest error of bf16 against ref as a fraction of
 * its bound. */
static double gemm_case(srt_backend be[3], int dp_kernel, int M, int N, int K, float alpha, float beta, int pad,
                        uint64_t seed) {
    int lda = K + 1 + pad % 3, ldb = K + 1 + pad % 5, ldc = N + 1 + pad % 2;
    size_t na = (size_t)M * lda, nb = (size_t)N * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *Bf = malloc(nb * 4), *C0 = malloc(nc * 4);
    float *out[3] = {malloc(nc * 4), malloc(nc * 4), malloc(nc * 4)};
    uint16_t *Bh = malloc(nb * 2);
    test_fill_uniform(A, na, seed, -1, 1);
    test_fill_uniform(Bf, nb, seed + 1, -1 / sqrtf((float)K), 1 / sqrtf((float)K));
    test_fill_uniform(C0, nc, seed + 2, -1, 1);
    for (size_t i = 0; i < nb; i++) Bh[i] = srt_f32_to_bf16(Bf[i]);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++) C0[i] = NAN;   /* write-only: NaN must not leak */
    char what[160];
    snprintf(what, sizeof what, "%s gemm M%d N%d K%d alpha %g beta %g lda %d ldb %d ldc %d",
             dp_kernel ? "avx512bf16" : "fallback", M, N, K, alpha, beta, lda, ldb, ldc);
    for (int r = 0; r < 3; r++) {
        memcpy(out[r], C0, nc * 4);
        srt_gemm_args g = {M, N, K, 0, 1, alpha, beta, A, lda, Bh, ldb, SRT_BF16, NULL, ldc, NULL};
        srt_status st = test_run_gemm(&be[r], g, na, nb * 2, out[r], nc);
        TEST_CHECK(st == SRT_OK, "%s: backend %d: %s", what, r, srt_last_error());
    }
    double worst = 0;
    int bad = 0, differs = 0;
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * lda;
        for (int n = 0; n < N; n++) {
            const uint16_t *b = Bh + (size_t)n * ldb;
            double s1 = 0, s2 = 0;   /* sum c_k, sum c_k^2 */
            for (int k = 0; k < K; k++) {
                double c = U_BF16 * fabs((double)a[k] * srt_bf16_to_f32(b[k]));
                s1 += c;
                s2 += c * c;
            }
            double hoeffding = 8 * sqrt(s2), rounding = fabs(alpha) * (s1 < hoeffding ? s1 : hoeffding);
            size_t i = (size_t)m * ldc + n;
            double ref = out[0][i], got = out[2][i];
            double tol = rounding + ATOL(K) + RTOL * fabs(ref), err = fabs(got - ref);
            if (!(err <= tol)) {
                if (!bad) TEST_CHECK(0, "%s: C[%d][%d] got %.9g want %.9g (error %.3g > bound %.3g)", what, m, n, got,
                                     ref, err, tol);
                bad = 1;
            } else if (err / tol > worst) {
                worst = err / tol;
            }
            differs |= memcmp(&out[1][i], &out[2][i], 4) != 0;
        }
    }
    int pad_ok = 1;   /* padding columns untouched */
    for (int m = 0; m < M; m++)
        pad_ok &= !memcmp(out[2] + (size_t)m * ldc + N, C0 + (size_t)m * ldc + N, (size_t)(ldc - N) * 4);
    TEST_CHECK(pad_ok, "%s: C padding columns were written", what);
    if (!dp_kernel)   /* exact path: bit for bit the exact backend */
        TEST_CHECK(!differs, "%s: precision bf16 differs from exact where it must take the exact path", what);
    else if (K >= 33)   /* rounding 33+ random activations to bf16 changes some of the M x N results */
        TEST_CHECK(differs, "%s: precision bf16 gave the exact result bit for bit: the bf16 kernel did not run", what);
    free(A); free(Bf); free(Bh); free(C0); free(out[0]); free(out[1]); free(out[2]);
    return worst;
}

static void check_gemm(void) {
    static const int ms[] = {1, 7, 33, 130}, dims[] = {1, 7, 33, 1025};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    srt_backend be[3];
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &be[0]) == SRT_OK, "cpu-ref: %s", srt_last_error());
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    TEST_CHECK(srt_backend_create("cpu", 0, &be[1]) == SRT_OK, "cpu exact: %s", srt_last_error());
    setenv("SNACRT_CPU_LM_PRECISION", "bf16", 1);
    TEST_CHECK(srt_backend_create("cpu", 0, &be[2]) == SRT_OK, "cpu bf16: %s", srt_last_error());
    unsetenv("SNACRT_CPU_LM_PRECISION");
    /* the best this CPU has (and SNACRT_CPU_MAX_ISA allows: =avx2 runs this whole test as a CPU without AVX-512 BF16
     * would), then capped at AVX2 */
    const int isa0 = srt_cpu_gemm_kernels_max_isa();
    for (int pass = 0; pass < 2; pass++) {
        srt_cpu_gemm_kernels_set_max_isa(pass == 0 ? isa0 : SRT_CPU_ISA_AVX2);
        int dp = srt_cpu_gemm_has_avx512bf16();
        if (pass == 0 && !dp) printf("AVX-512 BF16: not on this CPU; the bf16 precision runs the fallback\n");
        double worst = 0;
        int count = 0;
        for (int mi = 0; mi < 4; mi++)
            for (int ni = 0; ni < 4; ni++)
                for (int ki = 0; ki < 4; ki++, count++) {
                    float alpha = count % 3 == 0 ? -0.75f : 1.0f, beta = betas[count % 3];
                    double w = gemm_case(be, dp, ms[mi], dims[ni], dims[ki], alpha, beta, count,
                                         777 + 5 * (uint64_t)count);
                    if (w > worst) worst = w;
                }
        printf("%s: %d gemm cases, largest error %.3f of its bound\n", dp ? "avx512bf16" : "fallback", count, worst);
        /* the bf16 kernel's batch invariance: row 69 of an M 130 product == the same row alone (M 1), bit for bit */
        if (!dp) continue;
        const int M = 130, N = 1025, K = 1025, R = 69;
        float *A = malloc(sizeof(float) * M * K), *C = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * N);
        uint16_t *B = malloc(2 * (size_t)N * K);
        test_fill_uniform(A, (size_t)M * K, 31, -1, 1);
        for (size_t i = 0; i < (size_t)N * K; i++) B[i] = srt_f32_to_bf16(((int)(i % 61) - 30) / 30.0f / 32.0f);
        srt_gemm_args g = {M, N, K, 0, 1, 1.0f, 0.0f, A, K, B, K, SRT_BF16, NULL, N, NULL};
        srt_status st = test_run_gemm(&be[2], g, (size_t)M * K, 2 * (size_t)N * K, C, (size_t)M * N);
        g.M = 1;
        g.A = A + R * K;
        if (st == SRT_OK) st = test_run_gemm(&be[2], g, K, 2 * (size_t)N * K, C1, N);
        TEST_CHECK(st == SRT_OK && !memcmp(C1, C + R * N, sizeof(float) * N),
                   "avx512bf16: row %d of M %d differs from the row alone (status %d)", R, M, (int)st);
        free(A); free(B); free(C); free(C1);
    }
    srt_cpu_gemm_kernels_set_max_isa(isa0);
    for (int i = 0; i < 3; i++) srt_backend_destroy(&be[i]);
}

/* ---- 3. the tiny models (tests/lm_golden_teacher.h) ---- */
/* best - second best of x[0..n) */
static double margin(const float *x, int n) {
    double b1 = -INFINITY, b2 = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (x[i] > b1) { b2 = b1; b1 = x[i]; }
        else if (x[i] > b2) b2 = x[i];
    }
    return b1 - b2;
}

static void check_model(const char *name) {
    char dir[512];
    srt_weights *golden = lm_golden_open(name, dir, sizeof dir);
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 8, .kv_max_tokens = 4096};
    srt_lm *lm = NULL, *exact = NULL;   /* precision bf16; exact (only to see the bf16 kernel ran) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    srt_status st = srt_lm_load(dir, &opts, &exact);
    setenv("SNACRT_CPU_LM_PRECISION", "bf16", 1);
    if (st == SRT_OK) st = srt_lm_load(dir, &opts, &lm);
    unsetenv("SNACRT_CPU_LM_PRECISION");
    TEST_CHECK(st == SRT_OK, "load %s: %s", name, srt_last_error());
    if (!golden || st != SRT_OK) { srt_lm_free(exact); srt_weights_free(golden); return; }
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
        /* the bf16 kernel runs (prefill M = prompt length): logits differ from the exact path */
        int differ = lm_golden_prefill_differs(lm, exact, name, p, g, vocab);
        if (srt_cpu_gemm_has_avx512bf16())
            TEST_CHECK(differ, "%s p%d: precision bf16 gave the exact logits bit for bit: no bf16 kernel", name, p);
        else
            TEST_CHECK(!differ, "%s p%d: precision bf16 without its kernel differs from exact", name, p);
    }
    lm_golden_teacher_force(lm, name, "", gp, vocab);
    /* greedy srt_lm_generate on 33 rows: rows of one prompt agree (a row's logits do not depend on the batch), and
     * follow greedy_ids up to the first step whose golden margin is within 2 x bound (where a bf16 pick may flip) */
    enum { B = 33 };
    srt_lm_request reqs[B];
    srt_lm_output outs[B];
    for (int b = 0; b < B; b++) {
        srt_sampling_defaults(&reqs[b].sampling);
        reqs[b].sampling.temperature = 0;
        reqs[b].sampling.max_tokens = gp[b % 2].n_steps;
        reqs[b].prompt = gp[b % 2].ids;
        reqs[b].n_prompt = (size_t)gp[b % 2].n_ids;
    }
    st = srt_lm_generate(lm, B, reqs, outs);
    TEST_CHECK(st == SRT_OK, "%s generate: %s", name, srt_last_error());
    for (int b = 0; st == SRT_OK && b < B; b++) {
        const lm_golden_prompt *g = &gp[b % 2];
        TEST_CHECK((int)outs[b].n_ids == g->n_steps, "%s generate: row %d: %zu ids", name, b, outs[b].n_ids);
        if (b >= 2)
            TEST_CHECK(outs[b].n_ids == outs[b % 2].n_ids &&
                           !memcmp(outs[b].ids, outs[b % 2].ids, sizeof(int32_t) * outs[b].n_ids),
                       "%s generate: row %d differs from row %d (same prompt)", name, b, b % 2);
        for (int i = 0; i < (int)outs[b].n_ids && i < g->n_steps; i++) {
            double m = i == 0 ? margin(g->last, vocab) : g->top[(size_t)(i - 1) * 64] - g->top[(size_t)(i - 1) * 64 + 1];
            if (m <= 2 * g->tol) break;
            TEST_CHECK(outs[b].ids[i] == g->greedy[i], "%s generate: row %d step %d: id %d, golden %d (margin %g)",
                       name, b, i, outs[b].ids[i], g->greedy[i], m);
        }
    }
    for (int b = 0; st == SRT_OK && b < B; b++) srt_lm_output_free(&outs[b]);
    srt_lm_free(lm);
    srt_lm_free(exact);
    srt_weights_free(golden);
}

int main(void) {
    check_setting();
    check_gemm();
    check_model("tiny-qwen2");
    check_model("tiny-orpheus");
    TEST_MAIN_END();
}
