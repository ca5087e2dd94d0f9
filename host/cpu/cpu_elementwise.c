/* cpu_elementwise.c: the cpu backend's lighter ops, OpenMP-threaded loops (vectorized by the compiler or through the
 * row kernels): Snake, LayerNorm, transpose(+residual), local attention, avgpool, upsample_add, residual-VQ
 * search, codebook gather, unary, axpby, noise_add, strided copy (copy2d). */
#include "cpu/cpu_ops.h"
#include <float.h>
#include <math.h>
#include <string.h>

srt_status srt_cpu_snake(void *vctx, const srt_snake_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t rows = (int64_t)a->batch * a->ch;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        srt_cpu_snake_row(a->y + (size_t)r * a->len, a->x + (size_t)r * a->len, a->len, a->len, a->alpha[r % a->ch]);
    return SRT_OK;
}

srt_status srt_cpu_layernorm(void *vctx, const srt_layernorm_args *a) {
    const srt_cpu_ctx *ctx = vctx;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int r = 0; r < a->rows; r++) {
        const float *x = a->x + (size_t)r * a->dim;
        float *y = a->y + (size_t)r * a->dim;
        double mean = 0, var = 0;
        for (int i = 0; i < a->dim; i++) mean += x[i];
        mean /= a->dim;
        for (int i = 0; i < a->dim; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= a->dim;
        float inv = (float)(1.0 / sqrt(var + a->eps)), m = (float)mean;
        for (int i = 0; i < a->dim; i++) y[i] = (x[i] - m) * inv * a->gamma[i] + (a->beta ? a->beta[i] : 0.0f);
    }
    return SRT_OK;
}

#define TR_BLOCK 32
srt_status srt_cpu_transpose(void *vctx, const srt_transpose_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int rb = (a->rows + TR_BLOCK - 1) / TR_BLOCK, cb = (a->cols + TR_BLOCK - 1) / TR_BLOCK;
    int64_t n_tiles = (int64_t)a->batch * rb * cb;
    size_t plane = (size_t)a->rows * a->cols;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t tile = 0; tile < n_tiles; tile++) {
        int b = (int)(tile / ((int64_t)rb * cb)), r0 = (int)(tile / cb % rb) * TR_BLOCK, c0 = (int)(tile % cb) * TR_BLOCK;
        const float *x = a->x + b * plane;
        float *y = a->y + b * plane;
        const float *res = a->residual ? a->residual + b * plane : NULL;
        int r1 = r0 + TR_BLOCK < a->rows ? r0 + TR_BLOCK : a->rows, c1 = c0 + TR_BLOCK < a->cols ? c0 + TR_BLOCK : a->cols;
        for (int c = c0; c < c1; c++)
            for (int r = r0; r < r1; r++) {
                size_t o = (size_t)c * a->rows + r;
                y[o] = x[(size_t)r * a->cols + c] + (res ? res[o] : 0.0f);
            }
    }
    return SRT_OK;
}

srt_status srt_cpu_local_attention(void *vctx, const srt_local_attn_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    const int H = a->heads, D = a->head_dim, W = a->window, C = H * D, half = D / 2;
    /* rotary tables (W, half) */
    float *cos_t = malloc(sizeof(float) * (size_t)W * half), *sin_t = malloc(sizeof(float) * (size_t)W * half);
    if (!cos_t || !sin_t) {
        free(cos_t); free(sin_t);
        return srt_error(SRT_ERR_NOMEM, "local_attention: no memory for rotary tables");
    }
    for (int n = 0; n < W; n++)
        for (int j = 0; j < half; j++) {
            double ang = n / pow(10000.0, (2.0 * j) / D);
            cos_t[n * half + j] = (float)cos(ang);
            sin_t[n * half + j] = (float)sin(ang);
        }
    int64_t n_jobs = (int64_t)a->batch * (a->len / W) * H;
    float scale = (float)(1.0 / sqrt((double)D));
    int failed = 0;
#pragma omp parallel num_threads(ctx->n_threads)
    {
        float *q = malloc(sizeof(float) * (size_t)W * D), *k = malloc(sizeof(float) * (size_t)W * D);
        float *p = malloc(sizeof(float) * (size_t)W), *acc = malloc(sizeof(float) * (size_t)D);
        if (!q || !k || !p || !acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t job = 0; job < n_jobs; job++) {
            if (failed) continue;
            int h = (int)(job % H);
            int64_t w0 = job / H * W;   /* first row (batch*len index) of the window */
            for (int n = 0; n < W; n++) {
                const float *row = a->qkv + (size_t)(w0 + n) * 3 * C;
                const float *cs = cos_t + n * half, *sn = sin_t + n * half;
                for (int j = 0; j < half; j++) {
                    float q1 = row[h * D + j], q2 = row[h * D + j + half];
                    float k1 = row[C + h * D + j], k2 = row[C + h * D + j + half];
                    q[n * D + j] = (q1 * cs[j] - q2 * sn[j]) * scale;
                    q[n * D + j + half] = (q2 * cs[j] + q1 * sn[j]) * scale;
                    k[n * D + j] = k1 * cs[j] - k2 * sn[j];
                    k[n * D + j + half] = k2 * cs[j] + k1 * sn[j];
                }
            }
            for (int n = 0; n < W; n++) {
                float mx = -FLT_MAX, sum = 0;
                for (int m = 0; m < W; m++) {
                    float sc = 0;
                    for (int d = 0; d < D; d++) sc += q[n * D + d] * k[m * D + d];
                    p[m] = sc;
                    if (sc > mx) mx = sc;
                }
                for (int m = 0; m < W; m++) { p[m] = expf(p[m] - mx); sum += p[m]; }
                for (int d = 0; d < D; d++) acc[d] = 0;
                for (int m = 0; m < W; m++) {
                    const float *v = a->qkv + (size_t)(w0 + m) * 3 * C + 2 * C + h * D;
                    for (int d = 0; d < D; d++) acc[d] += p[m] * v[d];
                }
                float *out = a->out + (size_t)(w0 + n) * C + h * D;
                float inv = 1.0f / sum;
                for (int d = 0; d < D; d++) out[d] = acc[d] * inv;
            }
        }
        free(q); free(k); free(p); free(acc);
    }
    free(cos_t); free(sin_t);
    if (failed) return srt_error(SRT_ERR_NOMEM, "local_attention: no memory for a window");
    return SRT_OK;
}

srt_status srt_cpu_avgpool(void *vctx, const srt_avgpool_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int out_len = a->len / a->kernel;
    int64_t rows = (int64_t)a->batch * a->ch;
    float inv = 1.0f / a->kernel;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = a->x + (size_t)r * a->len;
        float *y = a->y + (size_t)r * out_len;
        for (int t = 0; t < out_len; t++) {
            float s = 0;
            for (int k = 0; k < a->kernel; k++) s += x[t * a->kernel + k];
            y[t] = s * inv;
        }
    }
    return SRT_OK;
}

srt_status srt_cpu_upsample_add(void *vctx, const srt_upsample_add_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t rows = (int64_t)a->batch * a->ch;
    size_t out_len = (size_t)a->len * a->factor;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = a->x + (size_t)r * a->len;
        float *y = a->y + (size_t)r * out_len;
        float *acc = a->acc ? a->acc + (size_t)r * out_len : NULL;
        for (int t = 0; t < a->len; t++) {
            float v = a->scale * x[t];
            float *yt = y + (size_t)t * a->factor;
            for (int f = 0; f < a->factor; f++) yt[f] += v;
            if (acc)
                for (int f = 0; f < a->factor; f++) acc[(size_t)t * a->factor + f] -= v;
        }
    }
    return SRT_OK;
}

/* Scores in double like the reference (codes must agree exactly unless the best-vs-second gap is tiny). */
srt_status srt_cpu_vq_nearest(void *vctx, const srt_vq_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    const int dim = a->dim, nc = a->n_codes;
    double *c2 = malloc(sizeof(double) * (size_t)(nc ? nc : 1));   /* (n_codes) squared row norms */
    if (!c2) return srt_error(SRT_ERR_NOMEM, "vq_nearest: no memory");
    for (int i = 0; i < nc; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)a->codebook_n[(size_t)i * dim + d] * a->codebook_n[(size_t)i * dim + d];
        c2[i] = s;
    }
    int64_t frames = (int64_t)a->batch * a->len;
    int failed = 0;
#pragma omp parallel num_threads(ctx->n_threads)
    {
        double *e = malloc(sizeof(double) * (size_t)(dim ? dim : 1));
        if (!e) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t f = 0; f < frames; f++) {
            if (failed) continue;
            int b = (int)(f / a->len), t = (int)(f % a->len);
            double nrm = 0;
            for (int d = 0; d < dim; d++) {
                e[d] = a->z[((size_t)b * dim + d) * a->len + t];
                nrm += e[d] * e[d];
            }
            nrm = sqrt(nrm);
            if (nrm < 1e-12) nrm = 1e-12;
            double e2 = 0;
            for (int d = 0; d < dim; d++) { e[d] /= nrm; e2 += e[d] * e[d]; }
            double best = -DBL_MAX, second = -DBL_MAX;
            int best_i = 0;
            for (int i = 0; i < nc; i++) {
                const float *c = a->codebook_n + (size_t)i * dim;
                double dot = 0;
                for (int d = 0; d < dim; d++) dot += e[d] * c[d];
                double score = -(e2 - 2 * dot + c2[i]);
                if (score > best) { second = best; best = score; best_i = i; }
                else if (score > second) second = score;
            }
            a->codes[f] = best_i;
            if (a->margin) a->margin[f] = (float)(best - second);
        }
        free(e);
    }
    free(c2);
    if (failed) return srt_error(SRT_ERR_NOMEM, "vq_nearest: no memory");
    return SRT_OK;
}

srt_status srt_cpu_embed(void *vctx, const srt_embed_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t n = (int64_t)a->batch * a->len;
    for (int64_t f = 0; f < n; f++)
        if (a->codes[f] < 0 || a->codes[f] >= a->n_codes)
            return srt_error(SRT_ERR_RANGE, "code %d at item %d frame %d is outside [0, %d)", a->codes[f],
                             (int)(f / (a->len ? a->len : 1)), (int)(f % (a->len ? a->len : 1)), a->n_codes);
    int64_t rows = (int64_t)a->batch * a->dim;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int b = (int)(r / a->dim), d = (int)(r % a->dim);
        const int32_t *codes = a->codes + (size_t)b * a->len;
        float *y = a->y + (size_t)r * a->len;
        for (int t = 0; t < a->len; t++) y[t] = a->codebook[(size_t)codes[t] * a->dim + d];
    }
    return SRT_OK;
}

#define ELEM_BLOCK 16384
srt_status srt_cpu_unary(void *vctx, const srt_unary_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t n_blocks = (a->n + ELEM_BLOCK - 1) / ELEM_BLOCK;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t i0 = blk * ELEM_BLOCK, n = a->n - i0 < ELEM_BLOCK ? a->n - i0 : ELEM_BLOCK;
        const float *x = a->x + i0;
        float *y = a->y + i0;
        if (a->op == SRT_UNARY_TANH) srt_cpu_tanh_row(y, x, n);
        else if (a->op == SRT_UNARY_COPY) { if (x != y) memmove(y, x, sizeof(float) * (size_t)n); }
        else for (int64_t i = 0; i < n; i++) y[i] = x[i] * a->scale;
    }
    return SRT_OK;
}

srt_status srt_cpu_axpby(void *vctx, const srt_axpby_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t n_blocks = (a->n + ELEM_BLOCK - 1) / ELEM_BLOCK;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t i0 = blk * ELEM_BLOCK, i1 = a->n - i0 < ELEM_BLOCK ? a->n : i0 + ELEM_BLOCK;
        for (int64_t i = i0; i < i1; i++) a->y[i] = a->a * a->x[i] + a->b * a->y[i];
    }
    return SRT_OK;
}

srt_status srt_cpu_noise_add(void *vctx, const srt_noise_add_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int64_t rows = (int64_t)a->batch * a->ch;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int b = (int)(r / a->ch);
        const float *nz = a->noise + (size_t)b * a->len, *h = a->h + (size_t)r * a->len;
        float *x = a->x + (size_t)r * a->len;
        for (int t = 0; t < a->len; t++) x[t] += nz[t] * h[t];
    }
    return SRT_OK;
}

/* Row by row with memcpy; threads only for blocks large enough to pay for the fork. */
srt_status srt_cpu_copy2d(void *vctx, const srt_copy2d_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    int par = (int64_t)a->rows * a->cols >= (1 << 16) && a->rows > 1;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(static) if (par)
    for (int r = 0; r < a->rows; r++)
        memcpy(a->y + (size_t)r * a->y_ld, a->x + (size_t)r * a->x_ld, sizeof(float) * (size_t)a->cols);
    return SRT_OK;
}
