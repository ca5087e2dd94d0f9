/* test_gemm_bf16.c: the cpu backend's gemm with a PyTorch-Linear B (trans_b = 1), the decode path of the LM,
 * against cpu-ref on odd shapes: M 1, 7, 16, 33, 65 (both sides of the direct-kernel crossover
 * SRT_CPU_GEMM_DIRECT_MAX_M = 64), N in 1, 7, 33, 1025, K in 1, 7, 33, 47, 1025 (kernel tails: 4-row B tiles,
 * 3-row A tiles, 8-wide k vectors), B in bf16, f16 and f32, trans_a 0/1, alpha/beta, every leading dimension larger than its width.
 * C starts NaN when beta = 0 (must not leak) and C's padding columns must come back bit-identical.
 * The matrix runs once per kernel, forced through srt_cpu_gemm_kernels_set_max_isa: AVX-512 BF16 (bf16 B, M >= 2;
 * A as hi + lo bf16 pairs: the f32 tolerance below; and with A rounded to bf16: ATOL_BF16_ACT), AVX2/F16C, scalar.
 * The crossover is 64 (none for AVX-512 BF16 with bf16 activations), so M 65 takes panel + sgemm except there.
 * Last, the vdpbf16ps kernel through the backend's default precision (bf16), M 1 to 65 (its tile tails: below).
 *
 * Tolerance |got - ref| <= atol + rtol |ref|, atol = 1e-5 * max(1, sqrt(K / 128)), rtol = 1e-4: the reference
 * accumulates in double, the cpu backend in f32 in another order; both convert bf16/f16 to f32 exactly, so only
 * accumulation order differs. A is U(-1,1), B U(-1,1)/sqrt(K) (a real layer's scale), so the K products have
 * magnitude <= 1/sqrt(K) and the dot product is O(1); f32 rounding error of a K-term sum grows like
 * eps * sqrt(K) * (term size) ~ 6e-8 * 1 ~ 1e-7 here, i.e. 100x inside the bound at K = 128 and the bound grows as
 * sqrt(K) with the random-walk error (measured max errors are printed). The 1e-5 floor is what test_backend_ops
 * uses for K <= 130. */
#include "backend.h"
#include "cpu/cpu_gemm_kernels.h"
#include "weights/weights.h"
#include "gemm_run.h"
#include "testutil.h"

#define ATOL(K) (1e-5 * ((K) > 128 ? sqrt((K) / 128.0) : 1.0))
#define RTOL 1e-4
/* A rounded to bf16 (SNACRT_CPU_DPBF16=bf16): each product a*b is off by at most 2^-8 |a b| (bf16's unit
 * roundoff), and sum_k |a_k b_k| <= K * 1 * (1 / sqrt(K)) = sqrt(K) here, so the worst case adds 2^-8 sqrt(K). */
#define ATOL_BF16_ACT(K) (ATOL(K) + sqrt((double)(K)) / 256.0)
static int g_bf16_act = 0;   /* the case runs with bf16 activations: ATOL_BF16_ACT */

static const int g_ms[] = {1, 7, 16, 33, 65};
static const int g_dims[] = {1, 7, 33, 1025};
static const int g_ks[] = {1, 7, 33, 47, 1025};   /* 47 = 32 + 8 + 7: every loop of the M = 1 row kernel */

/* One case: cpu against cpu-ref; returns the max abs error of the M x N block. */
static double check_case(srt_backend *ref, srt_backend *cpu, const char *isa, int M, int N, int K, int ta,
                         srt_dtype dt, float alpha, float beta, int pad, uint64_t seed) {
    int lda = (ta ? M : K) + 1 + pad % 3, ldb = K + 1 + pad % 5, ldc = N + 1 + pad % 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)N * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *Bf = malloc(nb * 4), *C0 = malloc(nc * 4), *out[2] = {malloc(nc * 4), malloc(nc * 4)};
    uint16_t *Bh = malloc(nb * 2);
    test_fill_uniform(A, na, seed, -1, 1);
    test_fill_uniform(Bf, nb, seed + 1, -1 / sqrtf((float)K), 1 / sqrtf((float)K));
    test_fill_uniform(C0, nc, seed + 2, -1, 1);
    for (size_t i = 0; i < nb; i++)
        Bh[i] = dt == SRT_BF16 ? srt_f32_to_bf16(Bf[i]) : dt == SRT_F16 ? srt_f32_to_f16(Bf[i]) : 0;
    if (beta == 0.0f)   /* C is write-only when beta is 0: NaN there must not leak */
        for (size_t i = 0; i < nc; i++) C0[i] = NAN;
    srt_status st[2];
    for (int r = 0; r < 2; r++) {
        memcpy(out[r], C0, nc * 4);
        srt_gemm_args g = {M, N, K, ta, 1, alpha, beta, A, lda, dt == SRT_F32 ? (void *)Bf : (void *)Bh, ldb, dt,
                           NULL, ldc, NULL};
        st[r] = test_run_gemm(r ? cpu : ref, g, na, nb * srt_dtype_size(dt), out[r], nc);
    }
    char what[160];
    snprintf(what, sizeof what, "%s gemm M%d N%d K%d ta%d %s alpha %g beta %g lda %d ldb %d ldc %d", isa, M, N, K,
             ta, srt_dtype_name(dt), alpha, beta, lda, ldb, ldc);
    TEST_CHECK(st[0] == SRT_OK && st[1] == SRT_OK, "%s: status (%s)", what, srt_last_error());
    int pad_ok = 1;   /* padding columns untouched (bitwise: they hold NaN when beta = 0) */
    for (int m = 0; m < M; m++)
        pad_ok &= !memcmp(out[1] + (size_t)m * ldc + N, C0 + (size_t)m * ldc + N, (size_t)(ldc - N) * 4);
    TEST_CHECK(pad_ok, "%s: C padding columns were written", what);
    float *got = malloc((size_t)M * N * 4), *want = malloc((size_t)M * N * 4);
    for (int m = 0; m < M; m++) {
        memcpy(got + (size_t)m * N, out[1] + (size_t)m * ldc, (size_t)N * 4);
        memcpy(want + (size_t)m * N, out[0] + (size_t)m * ldc, (size_t)N * 4);
    }
    double max_err;
    size_t wi;
    double excess = test_compare(got, want, (size_t)M * N, g_bf16_act && dt == SRT_BF16 ? ATOL_BF16_ACT(K) : ATOL(K),
                                 RTOL, &wi, &max_err);
    TEST_CHECK(excess <= 0, "%s: element %zu got %g want %g (max abs err %g)", what, wi, got[wi], want[wi], max_err);
    free(A); free(Bf); free(Bh); free(C0); free(out[0]); free(out[1]); free(got); free(want);
    return max_err;
}

/* The vdpbf16ps kernel on a B the backend may keep in panels (mark_static: the LM's weights, packed once into
 * cpu_wcache.c) against the same B unmarked (packed per call, chunk by chunk): bit-identical, as the layout and the
 * arithmetic are the same. And batch invariance: every row of the M-row result bit-identical to that row alone
 * (M = 1: the GEMV tiles), the property test_chat_engine's mixed batches rely on. Returns the number of rows that
 * differed. */
static int check_static_invariant(srt_backend *bf, int M, int N, int K, float alpha, float beta, uint64_t seed) {
    const int lda = K + 3, ldb = K + 1, ldc = N + 2;
    size_t na = (size_t)M * lda, nb = (size_t)N * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *Bf = malloc(nb * 4), *C0 = malloc(nc * 4), *out[3];
    uint16_t *Bh = malloc(nb * 2);
    test_fill_uniform(A, na, seed, -1, 1);
    test_fill_uniform(Bf, nb, seed + 1, -1 / sqrtf((float)K), 1 / sqrtf((float)K));
    test_fill_uniform(C0, nc, seed + 2, -1, 1);
    for (size_t i = 0; i < nb; i++) Bh[i] = srt_f32_to_bf16(Bf[i]);
    void *dA = NULL, *dB[2] = {NULL, NULL}, *dC = NULL;
    srt_status st = srt_backend_alloc_upload(bf, A, na * 4, &dA);
    for (int i = 0; i < 2 && st == SRT_OK; i++) st = srt_backend_alloc_upload(bf, Bh, nb * 2, &dB[i]);
    if (st == SRT_OK) st = srt_backend_alloc_upload(bf, C0, nc * 4, &dC);
    TEST_CHECK(st == SRT_OK && bf->ops->mark_static, "static B M%d N%d K%d: upload (%s)", M, N, K, srt_last_error());
    if (st == SRT_OK && bf->ops->mark_static) bf->ops->mark_static(bf->ctx, dB[0], nb * 2);   /* dB[1]: per call */
    for (int r = 0; r < 3; r++) {   /* 0: static B, 1: per-call B, 2: static B one row at a time */
        out[r] = malloc(nc * 4);
        for (int m0 = 0; m0 < M && st == SRT_OK; m0 += r == 2 ? 1 : M) {
            int rows = r == 2 ? 1 : M;
            st = bf->ops->upload(bf->ctx, dC, C0, nc * 4);
            srt_gemm_args g = {rows, N, K, 0, 1, alpha, beta, (const float *)dA + (size_t)m0 * lda, lda, dB[r == 1],
                               ldb, SRT_BF16, (float *)dC + (size_t)m0 * ldc, ldc, NULL};
            if (st == SRT_OK) st = srt_op_gemm(bf, &g);
            if (st == SRT_OK) st = bf->ops->download(bf->ctx, out[r] + (size_t)m0 * ldc, (float *)dC + (size_t)m0 * ldc,
                                                   (size_t)rows * ldc * 4 - (size_t)(ldc - N) * 4);
        }
        TEST_CHECK(st == SRT_OK, "static B M%d N%d K%d run %d: %s", M, N, K, r, srt_last_error());
    }
    int bad = 0;
    for (int m = 0; m < M; m++) {
        int same_pack = !memcmp(out[0] + (size_t)m * ldc, out[1] + (size_t)m * ldc, (size_t)N * 4);
        int same_alone = !memcmp(out[0] + (size_t)m * ldc, out[2] + (size_t)m * ldc, (size_t)N * 4);
        TEST_CHECK(same_pack, "M%d N%d K%d row %d: static (cached panels) and per-call B differ", M, N, K, m);
        TEST_CHECK(same_alone, "M%d N%d K%d row %d: differs from the row computed alone (batch invariance)", M, N, K, m);
        bad += !same_pack || !same_alone;
    }
    if (dA) bf->ops->free(bf->ctx, dA);
    for (int i = 0; i < 2; i++) if (dB[i]) bf->ops->free(bf->ctx, dB[i]);
    if (dC) bf->ops->free(bf->ctx, dC);
    free(A); free(Bf); free(Bh); free(C0); free(out[0]); free(out[1]); free(out[2]);
    return bad;
}

int main(void) {
    /* f32 tolerances: the exact path unless a case forces a vdpbf16ps form (the bf16 default: test_cpu_lm_bf16.c) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    srt_backend ref, cpu;
    if (srt_backend_create("cpu-ref", 1, &ref) != SRT_OK || srt_backend_create("cpu", 0, &cpu) != SRT_OK) {
        fprintf(stderr, "backend: %s\n", srt_last_error());
        return 1;
    }
    static const srt_dtype dts[] = {SRT_BF16, SRT_F16, SRT_F32};
    static const float betas[] = {0.0f, 1.0f, 0.5f, 0.5f};
    /* every kernel this machine has, the fastest first: AVX-512 BF16 (hi/lo A, then A rounded to bf16), AVX2, scalar */
    static const struct { const char *name; int max_isa, bf16_act; } isas[] = {
        {"avx512bf16", SRT_CPU_ISA_AVX512BF16, 0}, {"avx512bf16-bf16act", SRT_CPU_ISA_AVX512BF16, 1},
        {"avx2", SRT_CPU_ISA_AVX2, 0}, {"scalar", SRT_CPU_ISA_SCALAR, 0}};
    for (int v = 0; v < 4; v++) {
        srt_cpu_gemm_kernels_set_max_isa(isas[v].max_isa);
        srt_cpu_gemm_set_dpbf16(isas[v].bf16_act ? SRT_CPU_DPBF16_BF16ACT : SRT_CPU_DPBF16_HILO);
        if (v < 2 && !srt_cpu_gemm_has_avx512bf16()) {
            printf("%s: not available on this CPU, skipped\n", isas[v].name);
            continue;
        }
        g_bf16_act = isas[v].bf16_act;
        const char *isa = isas[v].name;
        double worst_err[3] = {0, 0, 0};
        int count = 0;
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 4; ni++)
                for (int ki = 0; ki < 5; ki++)
                    for (int di = 0; di < 3; di++, count++) {
                        if (g_bf16_act && di != 0) continue;   /* the mode only changes bf16 B */
                        float alpha = count % 3 == 0 ? -0.75f : 1.0f, beta = betas[count % 4];
                        double err = check_case(&ref, &cpu, isa, g_ms[mi], g_dims[ni], g_ks[ki], count % 2, dts[di],
                                                alpha, beta, count, 4242 + 3 * (uint64_t)count);
                        if (err > worst_err[di]) worst_err[di] = err;
                    }
        printf("%s: max abs error vs cpu-ref over %d cases: bf16 %.3g, f16 %.3g, f32 %.3g\n", isa, count,
               worst_err[0], worst_err[1], worst_err[2]);
    }
    g_bf16_act = 0;
    srt_cpu_gemm_set_dpbf16(-1);
    srt_cpu_gemm_kernels_force_scalar(0);

    /* The direct kernel itself at M = 65 (normally panel + sgemm): raise the crossover. */
    srt_cpu_gemm_set_direct_max_m(128);
    double err = check_case(&ref, &cpu, "direct", 65, 1025, 1025, 0, SRT_BF16, 1.0f, 0.0f, 0, 99);
    printf("direct kernel at M 65: max abs error %.3g\n", err);
    srt_cpu_gemm_set_direct_max_m(-1);

    /* The vdpbf16ps kernel as the backend's default precision runs it (bf16 activations for every M, M 1
     * included): its tiles are 8 rows of A x 3 panels of 16 weight rows (tails of 4, 2, 1 rows of A and 2, 1
     * panels, a last panel cut short by masks), 1 x 3 at M 1, chunks of 48 weight rows, 64-row blocks of A.
     * M 1, 7 (4+2+1), 13 (8+4+1), 33 (4x8+1), 65 (two blocks); N 7 (one panel of 7), 1025 (21 chunks of 48 + 17
     * rows: a 2-panel group, the second holding 1); K 47 (23 pairs + the odd last element), 1025 (the same, long).
     * Tolerance ATOL_BF16_ACT(K): A rounded to bf16, f32 accumulation (derivation above): each output is one f32
     * chain of K/2 vdpbf16ps steps, whose rounding (~2^-24 sqrt(K/2) here) is far inside it.
     * Then the same shapes with B marked static (panels kept in the backend's cache) against per-call panels, and
     * each row against itself alone (check_static_invariant). */
    if (srt_cpu_gemm_has_avx512bf16()) {
        setenv("SNACRT_CPU_LM_PRECISION", "bf16", 1);
        srt_backend bf;
        TEST_CHECK(srt_backend_create("cpu", 0, &bf) == SRT_OK, "cpu backend (bf16): %s", srt_last_error());
        static const int bms[] = {1, 7, 13, 33, 65}, bns[] = {7, 1025}, bks[] = {47, 1025};
        double worst = 0;
        int n_cases = 0;
        g_bf16_act = 1;
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 2; ni++)
                for (int ki = 0; ki < 2; ki++, n_cases++) {
                    char what[64];
                    snprintf(what, sizeof what, "bf16 default M %d", bms[mi]);
                    double e = check_case(&ref, &bf, what, bms[mi], bns[ni], bks[ki], n_cases % 2, SRT_BF16,
                                          n_cases % 3 ? 1.0f : -0.75f, betas[n_cases % 4], n_cases, 777 + (uint64_t)n_cases);
                    if (e > worst) worst = e;
                }
        g_bf16_act = 0;
        printf("bf16 default precision: max abs error vs cpu-ref over %d cases %.3g\n", n_cases, worst);
        int bad = 0, n_inv = 0;
        for (int mi = 0; mi < 5; mi++)
            for (int ni = 0; ni < 2; ni++)
                for (int ki = 0; ki < 2; ki++, n_inv++)
                    bad += check_static_invariant(&bf, bms[mi], bns[ni], bks[ki], n_inv % 3 ? 1.0f : -0.75f,
                                                  betas[n_inv % 4], 555 + (uint64_t)n_inv);
        printf("bf16 default precision: static vs per-call B and each row alone, %d cases: %d rows differ\n", n_inv,
               bad);
        srt_backend_destroy(&bf);
        setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    }
    srt_backend_destroy(&ref);
    srt_backend_destroy(&cpu);
    TEST_MAIN_END();
}
