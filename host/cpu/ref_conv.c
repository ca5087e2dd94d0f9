/* ref_conv.c: reference conv1d, conv_transpose1d and Snake (plain loops, double accumulation). Arguments are
 * checked by the dispatch layer (host/backend_check.c). */
#include "cpu/ref_ops.h"

/* Input value after masking and the optional Snake. */
static inline double ref_input(const float *row, int t, int valid, const float *alpha, int c) {
    if (t < 0 || t >= valid) return 0.0;
    double x = row[t];
    if (alpha) {
        double al = alpha[c];
        double s = sin(al * x);
        x = x + (1.0 / (al + 1e-9)) * s * s;
    }
    return x;
}

srt_status srt_ref_conv1d(void *ctx, const srt_conv1d_args *a) {
    (void)ctx;
    int cin_g = a->in_ch / a->groups, cout_g = a->out_ch / a->groups;
    for (int b = 0; b < a->batch; b++) {
        int valid = a->in_valid ? a->in_valid[b] : a->in_len;
        if (valid > a->in_len) valid = a->in_len;
        for (int oc = 0; oc < a->out_ch; oc++) {
            int g = oc / cout_g;
            for (int t = 0; t < a->out_len; t++) {
                double acc = a->bias ? a->bias[oc] : 0.0;
                for (int icg = 0; icg < cin_g; icg++) {
                    int ic = g * cin_g + icg;
                    const float *row = a->x + ((size_t)b * a->in_ch + ic) * a->in_len;
                    const float *wr = a->w + ((size_t)oc * cin_g + icg) * a->kernel;
                    for (int k = 0; k < a->kernel; k++) {
                        int ti = t * a->stride - a->padding + k * a->dilation;
                        acc += (double)wr[k] * ref_input(row, ti, valid, a->in_alpha, ic);
                    }
                }
                size_t o = ((size_t)b * a->out_ch + oc) * a->out_len + t;
                if (a->residual) acc += a->residual[o];
                a->y[o] = (float)acc;
            }
        }
    }
    return SRT_OK;
}

srt_status srt_ref_conv_transpose1d(void *ctx, const srt_convt1d_args *a) {
    (void)ctx;
    int cin_g = a->in_ch / a->groups, cout_g = a->out_ch / a->groups;
    /* gather form: y[oc, t] = sum over ic, k with t + padding = ti*stride + k */
    for (int b = 0; b < a->batch; b++) {
        int valid = a->in_valid ? a->in_valid[b] : a->in_len;
        if (valid > a->in_len) valid = a->in_len;
        for (int oc = 0; oc < a->out_ch; oc++) {
            int g = oc / cout_g, ocg = oc % cout_g;
            for (int t = 0; t < a->out_len; t++) {
                double acc = a->bias ? a->bias[oc] : 0.0;
                for (int icg = 0; icg < cin_g; icg++) {
                    int ic = g * cin_g + icg;
                    const float *row = a->x + ((size_t)b * a->in_ch + ic) * a->in_len;
                    const float *wr = a->w + ((size_t)ic * cout_g + ocg) * a->kernel;
                    for (int k = 0; k < a->kernel; k++) {
                        int num = t + a->padding - k;
                        if (num < 0 || num % a->stride) continue;
                        int ti = num / a->stride;
                        if (ti >= a->in_len) continue;
                        acc += (double)wr[k] * ref_input(row, ti, valid, a->in_alpha, ic);
                    }
                }
                a->y[((size_t)b * a->out_ch + oc) * a->out_len + t] = (float)acc;
            }
        }
    }
    return SRT_OK;
}

srt_status srt_ref_snake(void *ctx, const srt_snake_args *a) {
    (void)ctx;
    for (int b = 0; b < a->batch; b++)
        for (int c = 0; c < a->ch; c++) {
            double al = a->alpha[c];
            size_t base = ((size_t)b * a->ch + c) * a->len;
            for (int t = 0; t < a->len; t++) {
                double x = a->x[base + t], s = sin(al * x);
                a->y[base + t] = (float)(x + (1.0 / (al + 1e-9)) * s * s);
            }
        }
    return SRT_OK;
}
