/* cpu_gemm.c: the gemm op of the cpu backend.
 *  - f32 B: the fixed-order GEMM (cpu_gemm_fixed.h) on blocks of C shared by the threads: every element is one
 *    FMA chain over k, then alpha * dot (+ beta * C), so a row's result never depends on M (the batch), N, the
 *    blocking or the threads (the codec's attention projections).
 *  - bf16/f16 B with small M and B stored (N,K) (decode: the LM's Linear weights): the direct kernel of
 *    cpu_gemm_avx512.c (bf16 B, AVX-512 BF16 CPUs, the backend's precision "bf16", the default: A rounded to
 *    bf16, vdpbf16ps on B in k-pair panels -- packed once for weights the caller marked static (the backend's
 *    mark_static: the LM's), else per chunk --; every M, in blocks of 64 rows) or cpu_gemm_kernels.c (f32 A,
 *    exact, M <= SRT_CPU_GEMM_DIRECT_MAX_M) streams B once, converting in registers; threads split N.
 *  - bf16/f16 B otherwise: each thread converts panels of GEMM_PANEL columns of op(B) to f32 (exact, vectorized)
 *    and runs sgemm on them with all M rows, so each weight is converted once per call and the f32 copy of B never
 *    exists whole. */
#include "cpu/cpu_gemm_fixed.h"
#include "cpu/cpu_gemm_kernels.h"
#include "cpu/cpu_ops.h"
#include "weights/weights.h"
#include <cblas.h>
#include <limits.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define GEMM_PANEL 64
#define DP_BLOCK_M 64       /* rows of A per pass of the vdpbf16ps kernel over a chunk of B */
#define FIXED_BLOCK_M 192   /* f32 path: C blocks handed to threads (multiples of the fixed kernel's tiles) */
#define FIXED_BLOCK_N 256

static srt_status gemm_check(const srt_gemm_args *a) {
    if (a->M < 0 || a->N < 0 || a->K < 0 || !a->A || !a->B || !a->C ||
        (a->b_dtype != SRT_F32 && a->b_dtype != SRT_BF16 && a->b_dtype != SRT_F16))
        return srt_error(SRT_ERR_INVALID_ARG, "gemm: bad arguments (M %d N %d K %d, B dtype %s)", a->M, a->N, a->K,
                         srt_dtype_name(a->b_dtype));
    return SRT_OK;
}

static void convert_row(float *dst, const uint16_t *src, int n, srt_dtype dt) {
    srt_cpu_half_to_f32_row(dst, src, n, dt);
}

/* C[:, n0:n1] for a 16-bit B, in panels. */
static void gemm_half_cols(const srt_gemm_args *a, int n0, int n1, float *panel /* (GEMM_PANEL*K) */) {
    const uint16_t *B = a->B;
    for (int p0 = n0; p0 < n1; p0 += GEMM_PANEL) {
        int pn = n1 - p0 < GEMM_PANEL ? n1 - p0 : GEMM_PANEL;
        if (a->trans_b) {   /* B stored (N, K): rows p0.. are panel rows, panel (pn, K) */
            for (int j = 0; j < pn; j++) convert_row(panel + (size_t)j * a->K, B + (size_t)(p0 + j) * a->ldb, a->K, a->b_dtype);
        } else {            /* B stored (K, N): panel (K, pn) */
            for (int k = 0; k < a->K; k++) convert_row(panel + (size_t)k * pn, B + (size_t)k * a->ldb + p0, pn, a->b_dtype);
        }
        cblas_sgemm(CblasRowMajor, a->trans_a ? CblasTrans : CblasNoTrans, a->trans_b ? CblasTrans : CblasNoTrans,
                    a->M, pn, a->K, a->alpha, a->A, a->lda, panel, a->trans_b ? a->K : pn, a->beta, a->C + p0, a->ldc);
    }
}

/* Largest M sent to the direct kernel (measured crossover against panel + sgemm: bench/bench_gemm.c). */
static int g_direct_max_m = SRT_CPU_GEMM_DIRECT_MAX_M;

void srt_cpu_gemm_set_direct_max_m(int max_m) { g_direct_max_m = max_m < 0 ? SRT_CPU_GEMM_DIRECT_MAX_M : max_m; }

/* The vdpbf16ps form this call takes (SRT_CPU_DPBF16_OFF: the f32 kernels) for bf16 B on AVX-512 BF16: the test /
 * bench override when set (M >= 2), else bf16 activations for every M when the backend's precision is bf16. */
static int dp_form(const srt_cpu_ctx *ctx, const srt_gemm_args *a) {
    if (a->b_dtype != SRT_BF16 || !srt_cpu_gemm_has_avx512bf16()) return SRT_CPU_DPBF16_OFF;
    int forced = srt_cpu_gemm_dpbf16();
    if (forced != SRT_CPU_DPBF16_AUTO) return a->M >= 2 ? forced : SRT_CPU_DPBF16_OFF;
    return ctx->lm_precision == SRT_CPU_LM_BF16 ? SRT_CPU_DPBF16_BF16ACT : SRT_CPU_DPBF16_OFF;
}

/* Small M, B stored (N,K): threads share N in chunks of rows. With trans_a, A (K,M) is
 * first packed to (M,K) (small: M is small). dp: dp_form's answer. */
static srt_status gemm_direct(const srt_cpu_ctx *ctx, const srt_gemm_args *a, int nt, int dp) {
    const float *A = a->A;
    int lda = a->lda;
    float *packed = NULL;   /* (M, K) */
    if (a->trans_a) {
        packed = malloc(sizeof(float) * (size_t)a->M * (a->K ? a->K : 1));
        if (!packed) return srt_error(SRT_ERR_NOMEM, "gemm: no memory to pack A (M %d K %d)", a->M, a->K);
        for (int k = 0; k < a->K; k++)
            for (int m = 0; m < a->M; m++) packed[(size_t)m * a->K + k] = a->A[(size_t)k * a->lda + m];
        A = packed;
        lda = a->K;
    }
    /* vdpbf16ps (dp_form): A packed once as bf16 (hi, or hi/lo pairs), shared by the threads; B in k-pair panels
     * (cpu_gemm_kernels.h): kept across calls when static (the LM's weights: the backend's mark_static, cpu_wcache.c), else packed per chunk
     * by the thread that takes it (the same layout, so the same results) */
    uint16_t *hi = NULL, *lo = NULL;   /* (M, KP(K)) each */
    const uint32_t *panels = NULL;     /* (N, K) in panels, or NULL */
    if (dp != SRT_CPU_DPBF16_OFF) {
        size_t n = (size_t)a->M * SRT_CPU_GEMM_BF16X2_KP(a->K);
        /* from the backend's scratch pool, not malloc: a fresh 64 KB-1 MB malloc per call came back from the
         * kernel as new pages (glibc's mmap / heap trimming), page faults in every GEMM of the first steps */
        hi = srt_cpu_scratch_alloc(ctx, sizeof(uint16_t) * (dp == SRT_CPU_DPBF16_HILO ? 2 : 1) * (n ? n : 1));
        if (!hi) {
            free(packed);
            return srt_error(SRT_ERR_NOMEM, "gemm: no memory to pack A as bf16 (M %d K %d)", a->M, a->K);
        }
        lo = dp == SRT_CPU_DPBF16_BF16ACT ? NULL : hi + n;
        srt_cpu_gemm_pack_a_bf16x2(a->M, a->K, A, lda, hi, lo);
        const size_t b_bytes = sizeof(uint16_t) * ((size_t)(a->N - 1) * a->ldb + a->K);
        if (srt_cpu_wcache_is_static(ctx->wcache, a->B, b_bytes))
            panels = srt_cpu_wcache_get_panels(ctx->wcache, a->B, a->N, a->K, a->ldb, nt);
    }
    /* chunks of whole tiles (48 rows: the vdpbf16ps kernel's groups of 3 panels of 16 (and 4 at M 1), the AVX2
     * kernel's 4-row tiles), >= ~128 KB of B each, handed out dynamically: on a shared machine a thread that loses
     * its core does not hold the others at the barrier */
    size_t row_bytes = (size_t)(a->K ? a->K : 1) * srt_dtype_size(a->b_dtype);
    int chunk = (int)((128u << 10) / row_bytes);
    chunk = chunk < 48 ? 48 : chunk / 48 * 48;
    int n_chunks = (a->N + chunk - 1) / chunk;
    if (n_chunks < nt) nt = n_chunks;
    const size_t kp = SRT_CPU_GEMM_BF16X2_KP(a->K);
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        uint32_t *own = NULL;   /* this thread's chunk in panels when B has no cached ones */
        if (hi && !panels && !(own = srt_cpu_scratch_alloc(ctx, sizeof(uint32_t) * SRT_CPU_GEMM_PANEL_WORDS(chunk, a->K)))) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < n_chunks; c++) {
            int n0 = c * chunk, n1 = n0 + chunk < a->N ? n0 + chunk : a->N;
            if (!hi) {
                srt_cpu_gemm_rows(a->M, a->K, a->alpha, a->beta, A, lda, a->B, a->ldb, a->b_dtype, a->C, a->ldc, n0, n1);
                continue;
            }
            int give_up;
#pragma omp atomic read
            give_up = failed;
            if (give_up) continue;
            const uint32_t *P = panels ? panels + SRT_CPU_GEMM_PANEL_WORDS(n0, a->K) : own;
            if (!panels) srt_cpu_gemm_pack_b_panels(a->B, a->ldb, a->K, n0, n1, own);
            /* blocks of DP_BLOCK_M rows, so the chunk of B (L2) and a block of A stay in cache at any M */
            for (int m0 = 0; m0 < a->M; m0 += DP_BLOCK_M) {
                int bm = a->M - m0 < DP_BLOCK_M ? a->M - m0 : DP_BLOCK_M;
                srt_cpu_gemm_rows_bf16p(bm, a->K, a->alpha, a->beta, hi + m0 * kp, lo ? lo + m0 * kp : NULL, P,
                                        a->C + (size_t)m0 * a->ldc, a->ldc, n0, n1);
            }
        }
        srt_cpu_scratch_free(ctx, own);
    }
    free(packed);
    srt_cpu_scratch_free(ctx, hi);
    if (failed) return srt_error(SRT_ERR_NOMEM, "gemm: no memory for a chunk of B in panels (%d rows, K %d)", chunk, a->K);
    return SRT_OK;
}

/* f32 B: blocks of C (FIXED_BLOCK_M x FIXED_BLOCK_N) handed out dynamically; dot = the fixed chain from 0, then
 * C = alpha * dot (+ beta * C when beta != 0), through a per-thread tile unless alpha == 1 and beta == 0. */
static srt_status gemm_f32_fixed(const srt_cpu_ctx *ctx, const srt_gemm_args *a, int nt) {
    const ptrdiff_t a_rs = a->trans_a ? 1 : a->lda, a_cs = a->trans_a ? a->lda : 1;
    const ptrdiff_t b_rs = a->trans_b ? 1 : a->ldb, b_cs = a->trans_b ? a->ldb : 1;
    const int direct = a->alpha == 1.0f && a->beta == 0.0f;
    const int nbm = (a->M + FIXED_BLOCK_M - 1) / FIXED_BLOCK_M, nbn = (a->N + FIXED_BLOCK_N - 1) / FIXED_BLOCK_N;
    const int64_t n_blocks = (int64_t)nbm * nbn;
    if (n_blocks < nt) nt = (int)n_blocks;
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        float *ws = srt_cpu_scratch_alloc(ctx, sizeof(float) * srt_cpu_gemm_fixed_ws_floats());
        float *tile = direct ? NULL : srt_cpu_scratch_alloc(ctx, sizeof(float) * FIXED_BLOCK_M * FIXED_BLOCK_N); /* (bm, bn) */
        if (!ws || (!direct && !tile)) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int give_up;
#pragma omp atomic read
            give_up = failed;
            if (give_up) continue;
            int m0 = (int)(blk / nbn) * FIXED_BLOCK_M, n0 = (int)(blk % nbn) * FIXED_BLOCK_N;
            int bm = a->M - m0 < FIXED_BLOCK_M ? a->M - m0 : FIXED_BLOCK_M;
            int bn = a->N - n0 < FIXED_BLOCK_N ? a->N - n0 : FIXED_BLOCK_N;
            const float *A = a->A + m0 * a_rs;
            const float *B = (const float *)a->B + n0 * b_cs;
            float *C = a->C + (size_t)m0 * a->ldc + n0;
            if (direct) {
                srt_cpu_gemm_fixed(bm, bn, a->K, A, a_rs, a_cs, B, b_rs, b_cs, C, a->ldc, NULL, 0, NULL, ws);
                continue;
            }
            srt_cpu_gemm_fixed(bm, bn, a->K, A, a_rs, a_cs, B, b_rs, b_cs, tile, bn, NULL, 0, NULL, ws);
            for (int m = 0; m < bm; m++) {
                float *c = C + (size_t)m * a->ldc;
                const float *t = tile + (size_t)m * bn;
                if (a->beta != 0.0f)
                    for (int n = 0; n < bn; n++) c[n] = a->alpha * t[n] + a->beta * c[n];
                else
                    for (int n = 0; n < bn; n++) c[n] = a->alpha * t[n];
            }
        }
        srt_cpu_scratch_free(ctx, ws);
        srt_cpu_scratch_free(ctx, tile);
    }
    if (failed) return srt_error(SRT_ERR_NOMEM, "gemm: no memory for the f32 workspaces (M %d N %d K %d)", a->M, a->N, a->K);
    return SRT_OK;
}

srt_status srt_cpu_gemm(void *vctx, const srt_gemm_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    SRT_TRY(gemm_check(a));
    if (a->M == 0 || a->N == 0) return SRT_OK;
    int nt = ctx->n_threads;
    /* small problems: one thread */
    if ((double)a->M * a->N * a->K < 2e5) nt = 1;
    if (a->b_dtype == SRT_F32) return gemm_f32_fixed(ctx, a, nt);
    /* the AVX-512 BF16 kernel with bf16 activations beats panel + sgemm at M 64 (bench_gemm: 1.8x) and takes every
     * M (in 64-row blocks), so a row's result never depends on the batch; hi/lo and AVX2 go to 32 */
    const int dp = dp_form(ctx, a);
    int direct_max = g_direct_max_m;
    if (g_direct_max_m == SRT_CPU_GEMM_DIRECT_MAX_M && dp == SRT_CPU_DPBF16_BF16ACT) direct_max = INT_MAX;
    if (a->trans_b && a->M <= direct_max) return gemm_direct(ctx, a, nt, dp);
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        int tid = 0, T = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        T = omp_get_num_threads();
#endif
        int per = (a->N + T - 1) / T;
        per = (per + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
        int lo = tid * per, hi = lo + per < a->N ? lo + per : a->N;
        float *panel = malloc(sizeof(float) * (size_t)GEMM_PANEL * (a->K ? a->K : 1));
        if (!panel) {
#pragma omp atomic write
            failed = 1;
        } else if (lo < hi) {
            gemm_half_cols(a, lo, hi, panel);
        }
        free(panel);
    }
    if (failed) return srt_error(SRT_ERR_NOMEM, "gemm: no memory for a B panel (K %d)", a->K);
    return SRT_OK;
}
