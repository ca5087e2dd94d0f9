/* cpu_conv.c: fast conv1d for the cpu backend.
 *  - dense and grouped convs: per (batch item, group, time chunk) the input span is masked and Snake'd once per
 *    element into a thread-local buffer, unrolled (im2col) when kernel > 1 or stride > 1, and multiplied by the
 *    weight matrix (out_ch/groups, in_ch/groups * kernel; packed once per call, or once for all calls when the
 *    caller marks it w_static: cpu_wcache.c) with the fixed-order GEMM
 *    (cpu_gemm_fixed.h) into the output. Each output element is one FMA chain over (in channel, tap) in order,
 *    started from residual + bias (residual may alias y), whatever the chunking: results do not depend on the
 *    batch, the padded length or the thread count. Jobs are (batch item, group, time chunk, output channels);
 *  - depthwise (groups == in_ch == out_ch): a padded Snake'd row per (batch, channel) and a direct FMA loop (the
 *    same chain for vector and tail positions).
 * Threads: OpenMP over the jobs. */
#include "cpu/cpu_ops.h"
#include "cpu/ref_ops.h"
#include "cpu/cpu_gemm_fixed.h"
#include <immintrin.h>
#include <string.h>

/* dst[j] = snake?(mask(x[start + j])) for j < span; positions outside [0, in_len) or >= valid read as 0. */
static void load_input_span(float *dst, int span, const float *x_row, int in_len, int start, int valid,
                            const float *alpha) {
    int lo = start < 0 ? -start : 0;
    if (lo > span) lo = span;
    int hi = in_len - start;
    if (hi > span) hi = span;
    if (hi < lo) hi = lo;
    if (lo) memset(dst, 0, sizeof(float) * (size_t)lo);
    if (hi > lo) {
        int v = valid - (start + lo);
        if (alpha) srt_cpu_snake_row(dst + lo, x_row + start + lo, hi - lo, v, *alpha);
        else srt_cpu_mask_row(dst + lo, x_row + start + lo, hi - lo, v);
    }
    if (span > hi) memset(dst + hi, 0, sizeof(float) * (size_t)(span - hi));
}

#define CONV_MIN_ROWS 48    /* output channels per job at least when they are split */
#define CONV_PREPACK_MIN_JOBS 3   /* jobs sharing weight rows from which the weights are packed once per call */

static int valid_of(const int *in_valid, int b, int in_len) {
    int v = in_valid ? in_valid[b] : in_len;
    return v > in_len ? in_len : (v < 0 ? 0 : v);
}

/* ---- dense / grouped ---- */
/* The GEMM's B for (item b, group g, columns [t0, t0+tn)): the masked, Snake'd input rows (cin_g, tn) when
 * kernel == stride == 1, else their unrolling (cin_g*K, tn). Uses x in place when nothing needs copying; else
 * span_buf (cin_g, span) and, for the unrolling, col (R, tn). */
static void build_b(const srt_conv1d_args *a, int b, int g, int t0, int tn, float *span_buf, float *col,
                    const float **B, int *ldb) {
    const int cin_g = a->in_ch / a->groups, K = a->kernel;
    const int valid = valid_of(a->in_valid, b, a->in_len);
    const float *xb = a->x + ((size_t)b * a->in_ch + (size_t)g * cin_g) * a->in_len;   /* (cin_g, in_len) */
    if (K == 1 && a->stride == 1 && a->padding == 0 && !a->in_alpha && valid >= t0 + tn) {
        *B = xb + t0;
        *ldb = a->in_len;
        return;
    }
    const int start = t0 * a->stride - a->padding, span = (tn - 1) * a->stride + a->dilation * (K - 1) + 1;
    for (int i = 0; i < cin_g; i++)
        load_input_span(span_buf + (size_t)i * span, span, xb + (size_t)i * a->in_len, a->in_len, start, valid,
                        a->in_alpha ? a->in_alpha + g * cin_g + i : NULL);
    if (K == 1 && a->stride == 1) {
        *B = span_buf;
        *ldb = span;
        return;
    }
    for (int i = 0; i < cin_g; i++)
        for (int k = 0; k < K; k++) {
            const float *src = span_buf + (size_t)i * span + (size_t)k * a->dilation;
            float *dst = col + ((size_t)i * K + k) * tn;
            if (a->stride == 1) memcpy(dst, src, sizeof(float) * (size_t)tn);
            else
                for (int t = 0; t < tn; t++) dst[t] = src[(size_t)t * a->stride];
        }
    *B = col;
    *ldb = tn;
}

static srt_status conv_gemm(const srt_cpu_ctx *ctx, const srt_conv1d_args *a) {
    const int G = a->groups, cin_g = a->in_ch / G, cout_g = a->out_ch / G, K = a->kernel;
    const int R = cin_g * K;                      /* rows of the unrolled input */
    const int out_len = a->out_len, nt = ctx->n_threads;
    const int ldr = a->res_ld ? a->res_ld : out_len;   /* residual row stride */
    if (out_len == 0) return SRT_OK;
    /* Chunk sizes only shape the work split (each output's arithmetic is fixed whatever they are).
     * Time chunk: unrolled block about 512 KB, at least 4 jobs per thread when the signal allows (whole GEMM
     * panels of 32 columns); when that leaves too few jobs (short signals) the output channels are split too,
     * and the unrolled inputs are then built once into a shared buffer (a first parallel pass) instead of once
     * per job. */
    int tc = 131072 / R;
    if (tc > 4096) tc = 4096;
    int fair = (int)srt_ceil_div64((int64_t)out_len * a->batch * G, 4 * nt);
    if (tc > fair) tc = fair;
    tc = (tc + 31) / 32 * 32;   /* whole panels of the GEMM's widest vector tile */
    if (tc < 32) tc = 32;
    if (tc > (out_len + 31) / 32 * 32) tc = (out_len + 31) / 32 * 32;
    const int n_chunks = (int)srt_ceil_div64(out_len, tc);
    const int64_t n_bt = (int64_t)a->batch * G * n_chunks;   /* (item, group, time chunk) */
    int oc = cout_g;   /* output channels per job */
    while (oc >= 2 * CONV_MIN_ROWS && n_bt * srt_ceil_div64(cout_g, oc) < 4 * nt)
        oc = (int)(srt_ceil_div64(srt_ceil_div64(oc, 2), SRT_GEMM_FIXED_ROW_ALIGN) * SRT_GEMM_FIXED_ROW_ALIGN);
    const int n_ochunks = (int)srt_ceil_div64(cout_g, oc);
    const int64_t n_jobs = n_bt * n_ochunks;
    const int span_max = (tc - 1) * a->stride + a->dilation * (K - 1) + 1;
    const int shared = n_ochunks > 1;
    const size_t slot = (size_t)R * tc > (size_t)cin_g * span_max ? (size_t)R * tc : (size_t)cin_g * span_max;
    /* When at least CONV_PREPACK_MIN_JOBS jobs use the same weight rows, the weights of each group are packed once
     * for all of them (G x (cout_g, R)); otherwise each job packs its rows block by block in cache. */
    /* Weights marked static come packed from the backend's cache (packed on their first use). */
    const float *cached = a->w_static ? srt_cpu_wcache_get(ctx->wcache, a->w, G, cout_g, R, R, 1, (ptrdiff_t)cout_g * R)
                                      : NULL;
    const int prepack = cached || (int64_t)a->batch * n_chunks >= CONV_PREPACK_MIN_JOBS;
    const size_t pk_floats = prepack ? srt_cpu_gemm_fixed_a_floats(cout_g, R) : 0;
    const int pk_parts = prepack && !cached ? srt_cpu_gemm_fixed_a_parts(cout_g, R) : 0;
    float *wpk = NULL, *bsh = NULL;   /* packed weights (when not cached); shared unrolled inputs (n_bt, slot) */
    const float **bsh_ptr = NULL;     /* (n_bt) the B of each (item, group, chunk) and its row stride */
    int *bsh_ld = NULL;
    srt_status st = SRT_OK;
    if (prepack && !cached && !(wpk = srt_cpu_scratch_alloc(ctx, sizeof(float) * pk_floats * G))) {
        st = srt_error(SRT_ERR_NOMEM, "conv1d: no memory for the packed weights (%d x %d floats)", a->out_ch, R);
        goto done;
    }
    if (shared) {
        bsh = srt_cpu_scratch_alloc(ctx, sizeof(float) * slot * n_bt);
        bsh_ptr = srt_calloc((size_t)n_bt, sizeof *bsh_ptr, "conv1d inputs");
        bsh_ld = srt_calloc((size_t)n_bt, sizeof *bsh_ld, "conv1d inputs");
        if (!bsh || !bsh_ptr || !bsh_ld) {
            st = srt_error(SRT_ERR_NOMEM, "conv1d: no memory for the unrolled inputs (%lld x %zu floats)", (long long)n_bt, slot);
            goto done;
        }
    }
    int failed = 0;

#pragma omp parallel num_threads(nt)
    {
        float *span_buf = srt_cpu_scratch_alloc(ctx, sizeof(float) * (size_t)cin_g * span_max);   /* (cin_g, span) */
        float *col = shared ? NULL : srt_cpu_scratch_alloc(ctx, sizeof(float) * (size_t)R * tc);  /* (cin_g*K, tc) */
        float *ws = srt_cpu_scratch_alloc(ctx, sizeof(float) * srt_cpu_gemm_fixed_ws_floats());
        if (!span_buf || (!shared && !col) || !ws) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic)
        for (int part = 0; part < G * pk_parts; part++)
            srt_cpu_gemm_fixed_pack_a(wpk + (size_t)(part / pk_parts) * pk_floats, cout_g, R,
                                      a->w + (size_t)(part / pk_parts) * cout_g * R, R, 1, part % pk_parts);
        if (shared) {
#pragma omp for schedule(dynamic)
            for (int64_t bt = 0; bt < n_bt; bt++) {
                if (failed) continue;
                int chunk = (int)(bt % n_chunks), g = (int)(bt / n_chunks % G), b = (int)(bt / n_chunks / G);
                int t0 = chunk * tc, tn = out_len - t0 < tc ? out_len - t0 : tc;
                float *dst = bsh + (size_t)bt * slot;
                /* rows read in place go straight to the slot; an unrolling goes there from span_buf */
                if (K == 1 && a->stride == 1) build_b(a, b, g, t0, tn, dst, NULL, &bsh_ptr[bt], &bsh_ld[bt]);
                else build_b(a, b, g, t0, tn, span_buf, dst, &bsh_ptr[bt], &bsh_ld[bt]);
            }
        }
#pragma omp for schedule(dynamic)
        for (int64_t job = 0; job < n_jobs; job++) {
            if (failed) continue;
            int ochunk = (int)(job % n_ochunks);
            int64_t bt = job / n_ochunks;
            int chunk = (int)(bt % n_chunks), g = (int)(bt / n_chunks % G), b = (int)(bt / n_chunks / G);
            int t0 = chunk * tc, tn = out_len - t0 < tc ? out_len - t0 : tc;
            int o0 = ochunk * oc, on = cout_g - o0 < oc ? cout_g - o0 : oc;
            const int oy = g * cout_g + o0;                                          /* first output channel */
            float *yb = a->y + ((size_t)b * a->out_ch + oy) * out_len + t0;           /* (on, tn) */
            const float *rb = a->residual ? a->residual + ((size_t)b * a->out_ch + oy) * ldr + t0 : NULL;
            const float *B;
            int ldb;
            if (shared) {
                B = bsh_ptr[bt];
                ldb = bsh_ld[bt];
            } else {
                build_b(a, b, g, t0, tn, span_buf, col, &B, &ldb);
            }
            /* chains start from residual + bias (rb may be yb itself) */
            const float *bias = a->bias ? a->bias + oy : NULL;
            if (prepack)
                srt_cpu_gemm_fixed_packed((cached ? cached : wpk) + (size_t)g * pk_floats, cout_g, R, o0, on, tn, B, ldb, 1, yb, out_len, rb,
                                          ldr, bias, ws);
            else
                srt_cpu_gemm_fixed(on, tn, R, a->w + (size_t)oy * R, R, 1, B, ldb, 1, yb, out_len, rb, ldr, bias, ws);
        }
        srt_cpu_scratch_free(ctx, span_buf);
        srt_cpu_scratch_free(ctx, col);
        srt_cpu_scratch_free(ctx, ws);
    }
    if (failed) st = srt_error(SRT_ERR_NOMEM, "conv1d: no memory for the unrolled input (%d x %d floats)", R, tc);
done:
    srt_cpu_scratch_free(ctx, wpk);
    srt_cpu_scratch_free(ctx, bsh);
    free(bsh_ptr);
    free(bsh_ld);
    return st;
}

/* ---- depthwise ---- */
__attribute__((target("avx2,fma"))) static void dw_row_avx2(float *y, const float *xp, const float *w, int K, int dil,
                                                             int n, float bias, const float *res) {
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        __m256 acc = _mm256_set1_ps(bias);
        for (int k = 0; k < K; k++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(w[k]), _mm256_loadu_ps(xp + t + k * dil), acc);
        if (res) acc = _mm256_add_ps(acc, _mm256_loadu_ps(res + t));
        _mm256_storeu_ps(y + t, acc);
    }
    for (; t < n; t++) {
        float acc = bias;
        for (int k = 0; k < K; k++) acc = fmaf(w[k], xp[t + k * dil], acc);
        y[t] = res ? acc + res[t] : acc;
    }
}

static void dw_row_scalar(float *y, const float *xp, const float *w, int K, int dil, int stride, int n, float bias,
                          const float *res) {
    for (int t = 0; t < n; t++) {
        float acc = bias;
        const float *xt = xp + (size_t)t * stride;
        for (int k = 0; k < K; k++) acc += w[k] * xt[k * dil];
        y[t] = res ? acc + res[t] : acc;
    }
}

static srt_status conv_depthwise(const srt_cpu_ctx *ctx, const srt_conv1d_args *a) {
    const int C = a->in_ch, K = a->kernel, out_len = a->out_len;
    if (out_len == 0) return SRT_OK;
    const int span = (out_len - 1) * a->stride + a->dilation * (K - 1) + 1;
    const int use_avx2 = ctx->has_avx2 && a->stride == 1;
    const int64_t n_rows = (int64_t)a->batch * C;
    int failed = 0;
#pragma omp parallel num_threads(ctx->n_threads)
    {
        float *xp = srt_cpu_scratch_alloc(ctx, sizeof(float) * (size_t)span);   /* (span) padded, Snake'd input row */
        if (!xp) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t row = 0; row < n_rows; row++) {
            if (failed) continue;
            int b = (int)(row / C), c = (int)(row % C);
            load_input_span(xp, span, a->x + (size_t)row * a->in_len, a->in_len, -a->padding,
                            valid_of(a->in_valid, b, a->in_len), a->in_alpha ? a->in_alpha + c : NULL);
            float *y = a->y + (size_t)row * out_len;
            const float *res = a->residual ? a->residual + (size_t)row * (a->res_ld ? a->res_ld : out_len) : NULL;
            float bias = a->bias ? a->bias[c] : 0.0f;
            if (use_avx2) dw_row_avx2(y, xp, a->w + (size_t)c * K, K, a->dilation, out_len, bias, res);
            else dw_row_scalar(y, xp, a->w + (size_t)c * K, K, a->dilation, a->stride, out_len, bias, res);
        }
        srt_cpu_scratch_free(ctx, xp);
    }
    if (failed) return srt_error(SRT_ERR_NOMEM, "conv1d: no memory for a padded row of %d floats", span);
    return SRT_OK;
}

srt_status srt_cpu_conv1d(void *vctx, const srt_conv1d_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    if (a->groups == a->in_ch && a->in_ch == a->out_ch && a->groups > 1) return conv_depthwise(ctx, a);
    return conv_gemm(ctx, a);
}
