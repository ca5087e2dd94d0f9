/* cpu_gemm.c: the gemm op of the cpu backend. f32 B: cblas_sgemm on per-thread slices of the larger of M and N.
 * bf16/f16 B: each thread converts panels of 64 columns of op(B) to f32 (exact conversions) and runs sgemm on
 * them, so the f32 copy of B never exists whole. */
#include "cpu/cpu_ops.h"
#include "weights/weights.h"
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define GEMM_PANEL 64

static srt_status gemm_check(const srt_gemm_args *a) {
    if (a->M < 0 || a->N < 0 || a->K < 0 || !a->A || !a->B || !a->C ||
        (a->b_dtype != SRT_F32 && a->b_dtype != SRT_BF16 && a->b_dtype != SRT_F16))
        return srt_error(SRT_ERR_INVALID_ARG, "gemm: bad arguments (M %d N %d K %d, B dtype %s)", a->M, a->N, a->K,
                         srt_dtype_name(a->b_dtype));
    return SRT_OK;
}

static void convert_row(float *dst, const uint16_t *src, int n, srt_dtype dt) {
    if (dt == SRT_BF16)
        for (int i = 0; i < n; i++) dst[i] = srt_bf16_to_f32(src[i]);
    else
        for (int i = 0; i < n; i++) dst[i] = srt_f16_to_f32(src[i]);
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

srt_status srt_cpu_gemm(void *vctx, const srt_gemm_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    SRT_TRY(gemm_check(a));
    if (a->M == 0 || a->N == 0) return SRT_OK;
    int nt = ctx->n_threads;
    /* small problems: one thread */
    if ((double)a->M * a->N * a->K < 2e5) nt = 1;
    int failed = 0;
    if (a->b_dtype == SRT_F32) {
        int split_n = a->N >= a->M;
        int total = split_n ? a->N : a->M;
#pragma omp parallel num_threads(nt)
        {
            int tid = 0, T = 1;
#ifdef _OPENMP
            tid = omp_get_thread_num();
            T = omp_get_num_threads();
#endif
            int per = (total + T - 1) / T;
            per = (per + 15) / 16 * 16;
            int lo = tid * per, hi = lo + per < total ? lo + per : total;
            if (lo < hi) {
                const float *B = a->B;
                if (split_n)
                    cblas_sgemm(CblasRowMajor, a->trans_a ? CblasTrans : CblasNoTrans,
                                a->trans_b ? CblasTrans : CblasNoTrans, a->M, hi - lo, a->K, a->alpha, a->A, a->lda,
                                a->trans_b ? B + (size_t)lo * a->ldb : B + lo, a->ldb, a->beta, a->C + lo, a->ldc);
                else
                    cblas_sgemm(CblasRowMajor, a->trans_a ? CblasTrans : CblasNoTrans,
                                a->trans_b ? CblasTrans : CblasNoTrans, hi - lo, a->N, a->K, a->alpha,
                                a->trans_a ? a->A + lo : a->A + (size_t)lo * a->lda, a->lda, B, a->ldb, a->beta,
                                a->C + (size_t)lo * a->ldc, a->ldc);
            }
        }
        return SRT_OK;
    }
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
