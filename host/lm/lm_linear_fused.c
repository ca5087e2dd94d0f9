/* lm_linear_fused.c: srt_linear_fused_by_ops, the fused-weight projections (lm_ops.h: srt_linear_fused_args) as
 * plain gemm calls on views of the fused weight: q | k | v as three GEMMs on row ranges; gate / up (interleaved
 * rows) as two GEMMs with row stride 2K, then swiglu; an RMSNorm prologue as an rmsnorm call first. Used by backends without a linear_fused op (the CPU ones)
 * and by the cuda op above its small-M kernel's row limit. */
#include "lm/lm_ops.h"

srt_status srt_linear_fused_by_ops(void *ctx, srt_status (*gemm)(void *, const srt_gemm_args *),
                                   srt_status (*swiglu)(void *, const srt_swiglu_args *),
                                   srt_status (*rmsnorm)(void *, const srt_rmsnorm_args *),
                                   const srt_linear_fused_args *a) {
    size_t es = srt_dtype_size(a->w_dtype);
    const char *w = a->w;
    const float *x = a->x;
    if (a->norm_w) {
        srt_rmsnorm_args norm = {a->rows, a->K, a->eps, a->x, a->norm_w, a->x_normed};
        SRT_TRY(rmsnorm(ctx, &norm));
        x = a->x_normed;
    }
    srt_gemm_args g = {.M = a->rows, .K = a->K, .trans_b = 1, .alpha = 1.0f, .A = x, .lda = a->K,
                       .b_dtype = a->w_dtype};
    if (a->w_dtype == SRT_I8 && a->mode == SRT_LINEAR_SWIGLU)   /* the interleaved rows' scales have stride 2 */
        return srt_error(SRT_ERR_UNSUPPORTED, "linear_fused: int8 gate|up weights need the backend's own op");
    if (a->mode == SRT_LINEAR_SPLIT3) {
        int n[3] = {a->n0, a->n1, a->N - a->n0 - a->n1}, row0 = 0;
        float *y[3] = {a->y0, a->y1, a->y2};
        for (int i = 0; i < 3; i++) {
            if (n[i] == 0) continue;
            g.N = n[i];
            g.B = w + (size_t)row0 * a->K * es;
            g.ldb = a->K;
            g.C = y[i];
            g.ldc = n[i];
            g.b_scale = a->w_scale ? a->w_scale + row0 : NULL;
            SRT_TRY(gemm(ctx, &g));
            row0 += n[i];
        }
        return SRT_OK;
    }
    int half = a->N / 2;      /* (rows, half) each: gate -> y0, up -> y1 */
    g.N = half;
    g.ldb = 2 * a->K;
    g.ldc = half;
    g.B = w;
    g.C = a->y0;
    SRT_TRY(gemm(ctx, &g));
    g.B = w + (size_t)a->K * es;
    g.C = a->y1;
    SRT_TRY(gemm(ctx, &g));
    srt_swiglu_args act = {(int64_t)a->rows * half, a->y0, a->y1, a->y0};
    return swiglu(ctx, &act);
}
