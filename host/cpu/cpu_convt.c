/* cpu_convt.c: fast conv_transpose1d for the cpu backend (groups 1, kernel == 2*stride: every SNAC upsampler).
 * Output position p receives input frame q = (p+padding)/stride at tap r = (p+padding)%stride and frame q-1 at
 * tap r+stride. Per (batch item, chunk of frames [q0, q1)) the frames q0-1 .. q1-1 are masked and Snake'd into
 * a (in_ch, n+1) buffer (frames outside the signal are zero columns), one sgemm gives
 * cols (n+1, out_ch*kernel) = frames^T @ W, and the outputs owned by the chunk are gathered from two columns:
 * no overlap between chunks, so threads never write the same element. Other shapes use the reference. */
#include "cpu/cpu_ops.h"
#include "cpu/ref_ops.h"
#include <cblas.h>
#include <string.h>

srt_status srt_cpu_conv_transpose1d(void *vctx, const srt_convt1d_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    SRT_TRY(srt_check_convt1d_args(a));
    if (a->groups != 1 || a->kernel != 2 * a->stride || a->in_len == 0) return srt_ref_conv_transpose1d(vctx, a);
    const int s = a->stride, K = a->kernel, pad = a->padding, Cin = a->in_ch, Cout = a->out_ch;
    const int out_len = a->out_len, in_len = a->in_len, nt = ctx->n_threads;
    const int NK = Cout * K;
    if (out_len == 0) return SRT_OK;
    const int n_q = (out_len - 1 + pad) / s + 1;   /* frame slots that own output positions */
    int fq = 262144 / NK;                          /* frames per chunk: cols about 1 MB */
    int fair = (int)srt_ceil_div64((int64_t)n_q * a->batch, 4 * nt);
    if (fq > fair) fq = fair;
    if (fq > 1024) fq = 1024;
    if (fq < 4) fq = 4;
    const int n_chunks = (int)srt_ceil_div64(n_q, fq);
    const int64_t n_jobs = (int64_t)a->batch * n_chunks;
    int failed = 0;

#pragma omp parallel num_threads(nt)
    {
        float *frames = malloc(sizeof(float) * (size_t)Cin * (fq + 1));   /* (Cin, fq+1) */
        float *cols = malloc(sizeof(float) * (size_t)(fq + 1) * NK);     /* (fq+1, Cout*K) */
        if (!frames || !cols) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic)
        for (int64_t job = 0; job < n_jobs; job++) {
            if (failed) continue;
            int b = (int)(job / n_chunks), chunk = (int)(job % n_chunks);
            int q0 = chunk * fq, q1 = q0 + fq < n_q ? q0 + fq : n_q;
            int nf = q1 - q0 + 1;                       /* frames q0-1 .. q1-1 */
            int valid = a->in_valid ? a->in_valid[b] : in_len;
            if (valid > in_len) valid = in_len;
            int start = q0 - 1;
            int lo = start < 0 ? -start : 0, hi = in_len - start < nf ? in_len - start : nf;
            if (hi < lo) hi = lo;
            for (int i = 0; i < Cin; i++) {
                float *dst = frames + (size_t)i * nf;
                const float *xr = a->x + ((size_t)b * Cin + i) * in_len;
                if (lo) memset(dst, 0, sizeof(float) * (size_t)lo);
                if (hi > lo) {
                    if (a->in_alpha) srt_cpu_snake_row(dst + lo, xr + start + lo, hi - lo, valid - start - lo, a->in_alpha[i]);
                    else srt_cpu_mask_row(dst + lo, xr + start + lo, hi - lo, valid - start - lo);
                }
                if (nf > hi) memset(dst + hi, 0, sizeof(float) * (size_t)(nf - hi));
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nf, NK, Cin, 1.0f, frames, nf, a->w, NK, 0.0f, cols, NK);
            /* gather: frame slot q (column j = q - q0 + 1) and the previous frame (column j-1) */
            for (int o = 0; o < Cout; o++) {
                float *yr = a->y + ((size_t)b * Cout + o) * out_len;
                float bo = a->bias ? a->bias[o] : 0.0f;
                for (int q = q0; q < q1; q++) {
                    const float *cur = cols + (size_t)(q - q0 + 1) * NK + (size_t)o * K;   /* taps 0..s-1 */
                    const float *prev = cols + (size_t)(q - q0) * NK + (size_t)o * K + s;  /* taps s..2s-1 */
                    int p0 = q * s - pad;
                    int r0 = p0 < 0 ? -p0 : 0, r1 = out_len - p0 < s ? out_len - p0 : s;
                    for (int r = r0; r < r1; r++) yr[p0 + r] = bo + cur[r] + prev[r];
                }
            }
        }
        free(frames);
        free(cols);
    }
    if (failed) return srt_error(SRT_ERR_NOMEM, "conv_transpose1d: no memory for a chunk of %d frames", fq);
    return SRT_OK;
}
