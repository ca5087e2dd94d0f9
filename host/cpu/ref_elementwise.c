/* ref_elementwise.c: reference GEMM, LayerNorm, transpose, local attention, pooling, residual-VQ search,
 * codebook gather, elementwise ops and the strided copy (plain loops, double accumulation). */
#include "cpu/ref_ops.h"
#include "weights/weights.h"
#include <float.h>
#include <string.h>

static inline double ref_load_b(const void *B, srt_dtype dt, size_t i) {
    switch (dt) {
    case SRT_BF16: return srt_bf16_to_f32(((const uint16_t *)B)[i]);
    case SRT_F16: return srt_f16_to_f32(((const uint16_t *)B)[i]);
    case SRT_I8: return ((const int8_t *)B)[i];        /* times b_scale[n] after the sum */
    default: return ((const float *)B)[i];
    }
}

srt_status srt_ref_gemm(void *ctx, const srt_gemm_args *a) {
    (void)ctx;
    for (int m = 0; m < a->M; m++)
        for (int n = 0; n < a->N; n++) {
            double acc = 0;
            for (int k = 0; k < a->K; k++) {
                double av = a->trans_a ? a->A[(size_t)k * a->lda + m] : a->A[(size_t)m * a->lda + k];
                double bv = a->trans_b ? ref_load_b(a->B, a->b_dtype, (size_t)n * a->ldb + k)
                                       : ref_load_b(a->B, a->b_dtype, (size_t)k * a->ldb + n);
                acc += av * bv;
            }
            if (a->b_dtype == SRT_I8) acc *= a->b_scale[n];
            float *c = &a->C[(size_t)m * a->ldc + n];
            *c = (float)(a->alpha * acc + (a->beta != 0.0f ? (double)a->beta * *c : 0.0));
        }
    return SRT_OK;
}

srt_status srt_ref_layernorm(void *ctx, const srt_layernorm_args *a) {
    (void)ctx;
    for (int r = 0; r < a->rows; r++) {
        const float *x = a->x + (size_t)r * a->dim;
        float *y = a->y + (size_t)r * a->dim;
        double mean = 0, var = 0;
        for (int i = 0; i < a->dim; i++) mean += x[i];
        mean /= a->dim;
        for (int i = 0; i < a->dim; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= a->dim;
        double inv = 1.0 / sqrt(var + a->eps);
        for (int i = 0; i < a->dim; i++)
            y[i] = (float)((x[i] - mean) * inv * a->gamma[i] + (a->beta ? a->beta[i] : 0.0));
    }
    return SRT_OK;
}

srt_status srt_ref_transpose(void *ctx, const srt_transpose_args *a) {
    (void)ctx;
    for (int b = 0; b < a->batch; b++) {
        const float *x = a->x + (size_t)b * a->rows * a->cols;
        float *y = a->y + (size_t)b * a->rows * a->cols;
        const float *res = a->residual ? a->residual + (size_t)b * a->rows * a->cols : NULL;
        for (int r = 0; r < a->rows; r++)
            for (int c = 0; c < a->cols; c++) {
                size_t o = (size_t)c * a->rows + r;
                y[o] = x[(size_t)r * a->cols + c] + (res ? res[o] : 0.0f);
            }
    }
    return SRT_OK;
}

srt_status srt_ref_local_attention(void *ctx, const srt_local_attn_args *a) {
    (void)ctx;
    int H = a->heads, D = a->head_dim, W = a->window, C = H * D;
    double *q = malloc(sizeof(double) * (size_t)W * D), *k = malloc(sizeof(double) * (size_t)W * D);
    double *p = malloc(sizeof(double) * W);
    if (!q || !k || !p) { free(q); free(k); free(p); return srt_error(SRT_ERR_NOMEM, "local_attention: no memory"); }
    double scale = 1.0 / sqrt((double)D);
    int half = D / 2;
    for (int b = 0; b < a->batch; b++)
        for (int w0 = 0; w0 < a->len; w0 += W)
            for (int h = 0; h < H; h++) {
                /* rotary on q and k: x*cos + rotate_half(x)*sin, freq j = 10000^(-2j/D), duplicated halves */
                for (int n = 0; n < W; n++) {
                    const float *row = a->qkv + ((size_t)b * a->len + w0 + n) * 3 * C;
                    for (int d = 0; d < D; d++) {
                        int j = d % half;
                        double inv_freq = 1.0 / pow(10000.0, (2.0 * j) / D);
                        double ang = n * inv_freq, cs = cos(ang), sn = sin(ang);
                        double qd = row[h * D + d], kd = row[C + h * D + d];
                        double qr = d < half ? -row[h * D + d + half] : row[h * D + d - half];
                        double kr = d < half ? -row[C + h * D + d + half] : row[C + h * D + d - half];
                        q[n * D + d] = qd * cs + qr * sn;
                        k[n * D + d] = kd * cs + kr * sn;
                    }
                }
                for (int n = 0; n < W; n++) {
                    double mx = -DBL_MAX, sum = 0;
                    for (int m = 0; m < W; m++) {
                        double s = 0;
                        for (int d = 0; d < D; d++) s += q[n * D + d] * k[m * D + d];
                        p[m] = s * scale;
                        if (p[m] > mx) mx = p[m];
                    }
                    for (int m = 0; m < W; m++) { p[m] = exp(p[m] - mx); sum += p[m]; }
                    float *out = a->out + ((size_t)b * a->len + w0 + n) * C + h * D;
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int m = 0; m < W; m++)
                            acc += p[m] * a->qkv[((size_t)b * a->len + w0 + m) * 3 * C + 2 * C + h * D + d];
                        out[d] = (float)(acc / sum);
                    }
                }
            }
    free(q); free(k); free(p);
    return SRT_OK;
}

srt_status srt_ref_avgpool(void *ctx, const srt_avgpool_args *a) {
    (void)ctx;
    int out_len = a->len / a->kernel;
    for (int b = 0; b < a->batch; b++)
        for (int c = 0; c < a->ch; c++) {
            const float *x = a->x + ((size_t)b * a->ch + c) * a->len;
            float *y = a->y + ((size_t)b * a->ch + c) * out_len;
            for (int t = 0; t < out_len; t++) {
                double s = 0;
                for (int k = 0; k < a->kernel; k++) s += x[t * a->kernel + k];
                y[t] = (float)(s / a->kernel);
            }
        }
    return SRT_OK;
}

srt_status srt_ref_upsample_add(void *ctx, const srt_upsample_add_args *a) {
    (void)ctx;
    size_t out_len = (size_t)a->len * a->factor;
    for (int b = 0; b < a->batch; b++)
        for (int c = 0; c < a->ch; c++) {
            const float *x = a->x + ((size_t)b * a->ch + c) * a->len;
            size_t base = ((size_t)b * a->ch + c) * out_len;
            for (size_t t = 0; t < out_len; t++) {
                float v = a->scale * x[t / a->factor];
                a->y[base + t] += v;
                if (a->acc) a->acc[base + t] -= v;
            }
        }
    return SRT_OK;
}

srt_status srt_ref_vq_nearest(void *ctx, const srt_vq_args *a) {
    (void)ctx;
    double *e = malloc(sizeof(double) * (size_t)a->dim);
    if (!e) return srt_error(SRT_ERR_NOMEM, "vq_nearest: no memory");
    for (int b = 0; b < a->batch; b++)
        for (int t = 0; t < a->len; t++) {
            double nrm = 0;
            for (int d = 0; d < a->dim; d++) {
                e[d] = a->z[((size_t)b * a->dim + d) * a->len + t];
                nrm += e[d] * e[d];
            }
            nrm = sqrt(nrm);
            if (nrm < 1e-12) nrm = 1e-12;
            double e2 = 0;
            for (int d = 0; d < a->dim; d++) { e[d] /= nrm; e2 += e[d] * e[d]; }
            double best = -DBL_MAX, second = -DBL_MAX;
            int best_i = 0;
            for (int i = 0; i < a->n_codes; i++) {
                const float *c = a->codebook_n + (size_t)i * a->dim;
                double dot = 0, c2 = 0;
                for (int d = 0; d < a->dim; d++) { dot += e[d] * c[d]; c2 += (double)c[d] * c[d]; }
                double score = -(e2 - 2 * dot + c2);
                if (score > best) { second = best; best = score; best_i = i; }
                else if (score > second) second = score;
            }
            a->codes[(size_t)b * a->len + t] = best_i;
            if (a->margin) a->margin[(size_t)b * a->len + t] = (float)(best - second);
        }
    free(e);
    return SRT_OK;
}

srt_status srt_ref_embed(void *ctx, const srt_embed_args *a) {
    (void)ctx;
    for (int b = 0; b < a->batch; b++)
        for (int t = 0; t < a->len; t++) {
            int32_t code = a->codes[(size_t)b * a->len + t];
            if (code < 0 || code >= a->n_codes)
                return srt_error(SRT_ERR_RANGE, "code %d at item %d frame %d is outside [0, %d)", code, b, t,
                                 a->n_codes);
            for (int d = 0; d < a->dim; d++)
                a->y[((size_t)b * a->dim + d) * a->len + t] = a->codebook[(size_t)code * a->dim + d];
        }
    return SRT_OK;
}

srt_status srt_ref_unary(void *ctx, const srt_unary_args *a) {
    (void)ctx;
    for (int64_t i = 0; i < a->n; i++) {
        float x = a->x[i];
        switch (a->op) {
        case SRT_UNARY_TANH: a->y[i] = (float)tanh(x); break;
        case SRT_UNARY_COPY: a->y[i] = x; break;
        case SRT_UNARY_SCALE: a->y[i] = x * a->scale; break;
        default: return srt_error(SRT_ERR_INVALID_ARG, "unary: unknown op %d", (int)a->op);
        }
    }
    return SRT_OK;
}

srt_status srt_ref_axpby(void *ctx, const srt_axpby_args *a) {
    (void)ctx;
    for (int64_t i = 0; i < a->n; i++) a->y[i] = (float)((double)a->a * a->x[i] + (double)a->b * a->y[i]);
    return SRT_OK;
}

srt_status srt_ref_noise_add(void *ctx, const srt_noise_add_args *a) {
    (void)ctx;
    for (int b = 0; b < a->batch; b++)
        for (int c = 0; c < a->ch; c++)
            for (int t = 0; t < a->len; t++) {
                size_t i = ((size_t)b * a->ch + c) * a->len + t;
                a->x[i] += a->noise[(size_t)b * a->len + t] * a->h[i];
            }
    return SRT_OK;
}

srt_status srt_ref_copy2d(void *ctx, const srt_copy2d_args *a) {
    (void)ctx;
    for (int r = 0; r < a->rows; r++)
        for (int c = 0; c < a->cols; c++) a->y[(size_t)r * a->y_ld + c] = a->x[(size_t)r * a->x_ld + c];
    return SRT_OK;
}
