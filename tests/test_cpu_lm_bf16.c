/* test_cpu_lm_bf16.c: the cpu backend's default LM precision "bf16" (SNACRT_CPU_LM_PRECISION, host/cpu/cpu_ops.h):
 * bf16 weights times activations rounded to bf16 (vdpbf16ps) for M <= 64 on AVX-512 BF16 CPUs.
 *  1. The setting: exact and bf16 accepted, anything else refused at backend creation naming the variable and value.
 *  2. The gemm (bf16 B stored (N,K), the LM's Linear weights) against cpu-ref on odd shapes, M 1, 7, 33, 64 x
 *     N 1, 7, 33, 1025 x K 1, 7, 33, 1025, alpha/beta, padded strides, within the bound derived below; once with the
 *     best kernels this CPU has and once capped at AVX2 (a CPU without AVX-512 BF16: the fallback must equal the
 *     exact backend bit for bit). Where the bf16 kernel runs, results must differ from the exact backend (the
 *     default really takes the path), and a row's result must not depend on M (row 5 of M 33 == that row alone).
 *  3. The tiny models (tests/data/llama) on "cpu" with precision bf16: prefill logits of each golden prompt within
 *     the LM bound below of prefill_last_logits, and greedy srt_lm_generate on batches of 7 and 33 rows (decode M 7
 *     and 33: the bf16 kernel) returning greedy_ids wherever the golden margin between the best and second logit
 *     exceeds twice that bound.
 *
 * GEMM bound. Rounding a_k to bf16 (round to nearest even, 8 significant bits) changes it by d_k a_k with
 * |d_k| <= u = 2^-9; B is bf16 on both sides and every bf16 x bf16 product is exact in f32, so the bf16 result
 * differs from the exact one by alpha * sum_k d_k a_k b_k plus f32 accumulation error. With c_k = u |a_k b_k|:
 *  - worst case |sum| <= sum_k c_k (grows like K);
 *  - the d_k of random data are independent, zero-mean and bounded by c_k, so by Hoeffding
 *    P(|sum| >= t) <= 2 exp(-t^2 / (2 sum_k c_k^2)); t = 8 sqrt(sum_k c_k^2) (grows like sqrt(K)) fails by chance
 *    with probability 2e-14 per element (~5e5 elements checked).
 * Tolerance per element: |alpha| min(both) + the f32 bound of test_gemm_bf16 (ATOL(K) + RTOL |ref|).
 *
 * LM bound. Each logit passes through G = 4 L + 1 bf16-rounded GEMM stages (q/k/v, o, gate/up, down per layer, the
 * LM head); each adds a relative error whose Hoeffding 8-sigma bound is 8 u of the stage's output scale (the sqrt(K)
 * of the sum cancels against the sum's own sqrt(K) growth for random signs), and independent stages add in
 * quadrature: tol = 8 u sqrt(G) max_j |golden logit_j| (+ the golden test's 1e-3). Measured errors are printed. */
#include "backend.h"
#include "cpu/cpu_gemm_kernels.h"
#include "cpu/cpu_ops.h"
#include "snacrt.h"
#include "testutil.h"
#include "weights/weights.h"

#define U_BF16 (1.0 / 512.0)   /* 2^-9: bf16 unit roundoff */
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
static srt_status run_gemm(srt_backend *be, srt_gemm_args g, size_t a_floats, size_t b_bytes, float *C_host,
                           size_t c_floats) {
    void *A = NULL, *B = NULL, *C = NULL;
    srt_status st = srt_backend_alloc_upload(be, g.A, a_floats * 4, &A);
    if (st == SRT_OK) st = srt_backend_alloc_upload(be, g.B, b_bytes, &B);
    if (st == SRT_OK) st = srt_backend_alloc_upload(be, C_host, c_floats * 4, &C);
    if (st == SRT_OK) {
        g.A = A; g.B = B; g.C = C;
        st = srt_op_gemm(be, &g);
        if (st == SRT_OK) st = be->ops->sync(be->ctx);
        if (st == SRT_OK) st = be->ops->download(be->ctx, C_host, C, c_floats * 4);
    }
    if (A) be->ops->free(be->ctx, A);
    if (B) be->ops->free(be->ctx, B);
    if (C) be->ops->free(be->ctx, C);
    return st;
}

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
        srt_gemm_args g = {M, N, K, 0, 1, alpha, beta, A, lda, Bh, ldb, SRT_BF16, NULL, ldc};
        srt_status st = run_gemm(&be[r], g, na, nb * 2, out[r], nc);
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
    static const int ms[] = {1, 7, 33, 64}, dims[] = {1, 7, 33, 1025};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    srt_backend be[3];
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &be[0]) == SRT_OK, "cpu-ref: %s", srt_last_error());
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    TEST_CHECK(srt_backend_create("cpu", 0, &be[1]) == SRT_OK, "cpu exact: %s", srt_last_error());
    setenv("SNACRT_CPU_LM_PRECISION", "bf16", 1);
    TEST_CHECK(srt_backend_create("cpu", 0, &be[2]) == SRT_OK, "cpu bf16: %s", srt_last_error());
    unsetenv("SNACRT_CPU_LM_PRECISION");
    /* the best this CPU has, then capped at AVX2 (what a CPU without AVX-512 BF16 runs) */
    for (int pass = 0; pass < 2; pass++) {
        srt_cpu_gemm_kernels_set_max_isa(pass == 0 ? SRT_CPU_ISA_AVX512BF16 : SRT_CPU_ISA_AVX2);
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
        /* batch invariance: row 5 of an M 33 product (the f32 fallback: M 7, its direct kernel's range is M <= 32)
         * == the same row alone (M 1), bit for bit */
        const int M = dp ? 33 : 7, N = 1025, K = 1025;
        float *A = malloc(sizeof(float) * M * K), *C = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * N);
        uint16_t *B = malloc(2 * (size_t)N * K);
        test_fill_uniform(A, (size_t)M * K, 31, -1, 1);
        for (size_t i = 0; i < (size_t)N * K; i++) B[i] = srt_f32_to_bf16(((int)(i % 61) - 30) / 30.0f / 32.0f);
        srt_gemm_args g = {M, N, K, 0, 1, 1.0f, 0.0f, A, K, B, K, SRT_BF16, NULL, N};
        srt_status st = run_gemm(&be[2], g, (size_t)M * K, 2 * (size_t)N * K, C, (size_t)M * N);
        g.M = 1;
        g.A = A + 5 * K;
        if (st == SRT_OK) st = run_gemm(&be[2], g, K, 2 * (size_t)N * K, C1, N);
        TEST_CHECK(st == SRT_OK && !memcmp(C1, C + 5 * N, sizeof(float) * N),
                   "%s: row 5 of M %d differs from the row alone (status %d)", dp ? "avx512bf16" : "fallback", M,
                   (int)st);
        free(A); free(B); free(C); free(C1);
    }
    srt_cpu_gemm_kernels_set_max_isa(SRT_CPU_ISA_AVX512BF16);
    for (int i = 0; i < 3; i++) srt_backend_destroy(&be[i]);
}

/* ---- 3. the tiny models ---- */
static const void *golden_tensor(srt_weights *w, int p, const char *name, int64_t *len) {
    char full[128];
    snprintf(full, sizeof full, "p%d.%s", p, name);
    const srt_tensor_view *t = srt_weights_find(w, full);
    if (!t) return NULL;
    *len = t->shape[0];
    return t->data;
}

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
    char rel[128], dir[512], path[600];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", name);
    test_src_path(rel, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    srt_weights *golden = NULL;
    TEST_CHECK(srt_weights_open_safetensors(path, &golden) == SRT_OK, "open %s: %s", path, srt_last_error());
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
    const int vocab = info.vocab_size, G = 4 * info.n_layers + 1;
    const int32_t *ids[2], *greedy[2];
    int n_ids[2], n_steps[2];
    double tol[2];
    int need[2][64];   /* need[p][i]: step i's golden margin exceeds 2 tol (ids must agree there) */
    for (int p = 0; p < 2; p++) {
        int64_t len = 0, steps = 0, d = 0;
        ids[p] = golden_tensor(golden, p, "ids", &len);
        const float *last = golden_tensor(golden, p, "prefill_last_logits", &d);
        greedy[p] = golden_tensor(golden, p, "greedy_ids", &steps);
        const float *top = golden_tensor(golden, p, "step_top64_logits", &d);
        TEST_CHECK(ids[p] && last && greedy[p] && top && steps <= 64, "%s p%d: golden tensors", name, p);
        if (!ids[p] || !last || !greedy[p] || !top || steps > 64) {
            srt_lm_free(lm); srt_lm_free(exact); srt_weights_free(golden);
            return;
        }
        n_ids[p] = (int)len;
        n_steps[p] = (int)steps;
        double scale = 0;
        for (int j = 0; j < vocab; j++) scale = fabs(last[j]) > scale ? fabs(last[j]) : scale;
        tol[p] = 8 * U_BF16 * sqrt((double)G) * scale + 1e-3;
        /* prefill (M = prompt length <= 64: the bf16 kernel): last logits against the golden ones */
        float *logits = malloc(sizeof(float) * (size_t)vocab), *exact_logits = malloc(sizeof(float) * (size_t)vocab);
        for (int e = 0; e < 2; e++) {
            int seq;
            srt_lm *m = e ? exact : lm;
            TEST_CHECK(srt_lm_seq_open(m, &seq) == SRT_OK, "%s p%d: seq_open: %s", name, p, srt_last_error());
            const int32_t *toks = ids[p];
            st = srt_lm_forward(m, 1, &seq, &toks, &n_ids[p], 0, e ? exact_logits : logits);
            TEST_CHECK(st == SRT_OK, "%s p%d: prefill: %s", name, p, srt_last_error());
            srt_lm_seq_close(m, seq);
        }
        if (srt_cpu_gemm_has_avx512bf16() && n_ids[p] <= 64)
            TEST_CHECK(memcmp(logits, exact_logits, sizeof(float) * (size_t)vocab),
                       "%s p%d: precision bf16 gave the exact logits bit for bit: the bf16 kernel did not run", name, p);
        else
            TEST_CHECK(!memcmp(logits, exact_logits, sizeof(float) * (size_t)vocab),
                       "%s p%d: precision bf16 without its kernel differs from exact", name, p);
        double err = 0;
        for (int j = 0; j < vocab; j++) err = fabs(logits[j] - last[j]) > err ? fabs(logits[j] - last[j]) : err;
        TEST_CHECK(err <= tol[p], "%s p%d: prefill logits off by %g (bound %g)", name, p, err, tol[p]);
        printf("%s p%d: prompt %d tokens, prefill logits max error %.3g (bound %.3g, G %d, max |logit| %.3g)\n", name,
               p, n_ids[p], err, tol[p], G, scale);
        free(logits);
        free(exact_logits);
        need[p][0] = margin(last, vocab) > 2 * tol[p];
        for (int i = 1; i < n_steps[p]; i++)   /* greedy[i] follows the logits after feeding greedy[i - 1] */
            need[p][i] = top[(size_t)(i - 1) * 64] - top[(size_t)(i - 1) * 64 + 1] > 2 * tol[p];
    }
    /* greedy generate on 7 and 33 rows (alternating prompts): decode steps run M 7 and 33 */
    static const int rows[] = {7, 33};
    for (int r = 0; r < 2; r++) {
        int B = rows[r], checked = 0;
        srt_lm_request *reqs = calloc((size_t)B, sizeof *reqs);
        srt_lm_output *outs = calloc((size_t)B, sizeof *outs);
        for (int b = 0; b < B; b++) {
            srt_sampling_defaults(&reqs[b].sampling);
            reqs[b].sampling.temperature = 0;
            reqs[b].sampling.max_tokens = n_steps[b % 2];
            reqs[b].prompt = ids[b % 2];
            reqs[b].n_prompt = (size_t)n_ids[b % 2];
        }
        st = srt_lm_generate(lm, B, reqs, outs);
        TEST_CHECK(st == SRT_OK, "%s %d rows: generate: %s", name, B, srt_last_error());
        for (int b = 0; st == SRT_OK && b < B; b++) {
            int p = b % 2;
            TEST_CHECK((int)outs[b].n_ids == n_steps[p], "%s %d rows: row %d generated %zu ids", name, B, b,
                       outs[b].n_ids);
            /* ids agree up to the first step whose golden margin is within 2 tol (after a legitimate flip the
             * continuations differ) */
            for (int i = 0; i < n_steps[p] && i < (int)outs[b].n_ids && need[p][i]; i++, checked++)
                TEST_CHECK(outs[b].ids[i] == greedy[p][i], "%s %d rows: row %d step %d: id %d, golden %d", name, B,
                           b, i, outs[b].ids[i], greedy[p][i]);
            srt_lm_output_free(&outs[b]);
        }
        printf("%s %d rows: %d greedy ids compared\n", name, B, checked);
        TEST_CHECK(checked >= B * 4, "%s %d rows: only %d greedy ids had a golden margin above 2 x bound", name, B,
                   checked);
        free(reqs);
        free(outs);
    }
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
