/* cpu_convt.c: fast conv_transpose1d for the cpu backend (groups 1, kernel == 2*stride: every SNAC upsampler).
 * Output position p receives input frame q = (p+padding)/stride at tap r = (p+padding)%stride and frame q-1 at
 * tap r+stride. Jobs are (batch item, chunk of frames [q0, q1), chunk of output channels [o0, o1)): the frames
 * q0-1 .. q1-1 are masked and Snake'd into a (in_ch, n+1) buffer (frames outside the signal are zero columns), the
 * fixed-order GEMM (cpu_gemm_fixed.h) gives every (frame, channel, tap) column value as one FMA chain over the input
 * channels in order, and the outputs owned by the job are gathered from two columns as (bias + tap r) + tap r+s.
 * So each output sample has one fixed arithmetic whatever the batch, the padded length, the chunking or the
 * threads. The GEMM runs with the frames as its N dimension when a chunk has enough of them (W^T @ frames) and as
 * its M dimension otherwise (frames^T @ W; short signals): the same chains, only the tiling differs. Weights the
 * caller marks w_static are packed once (as W^T, cpu_wcache.c) and always taken as the GEMM's A. No overlap
 * between jobs' outputs, so threads never write the same element. Other shapes use the reference.
 * Frames that read as zero (before 0, at or past the valid length) are left out of the GEMM: their columns would
 * be chains of fma(w, 0, +0) = +0 (finite weights), so the gather adds a literal 0.0f in their place and every
 * output keeps its arithmetic (a streaming push's window of 5 frames had 2 such columns at block 0). When the output
 * channels are split into several jobs and the chunks' frames are small (a streaming push), the masked, Snake'd
 * frames are built once per chunk in a first pass and shared by the jobs, not once per job. */
#include "cpu/cpu_ops.h"
#include "cpu/cpu_gemm_fixed.h"
#include "cpu/ref_ops.h"
#include <string.h>

#define CONVT_FRAMES_MAX 255       /* frame slots per chunk (chunk 0: 256): at most 256 real frames, GEMM panels of 256 */
#define CONVT_COLS_MAX 262144      /* floats of the per-job column buffer (1 MB) */
#define CONVT_FRAMES_AS_N_MIN 32   /* below this many frames in a chunk they are the GEMM's rows */

#define CONVT_SHARED_MAX_FLOATS (1 << 21)   /* frames built once for all jobs up to 8 MB */

/* Frame slots [q0, q1) of chunk c (chunk 0: fq + 1 slots, the others fq). */
static void chunk_slots(int c, int fq, int n_q, int *q0, int *q1) {
    *q0 = c ? fq + 1 + (c - 1) * fq : 0;
    *q1 = *q0 + (c ? fq : fq + 1);
    if (*q1 > n_q) *q1 = n_q;
}

/* The real (non-zero) frames of frame slots [q0, q1) of item b: frames [*f0, *f1) of q0-1 .. q1-1. */
static void real_frames(const srt_convt1d_args *a, int b, int q0, int q1, int *f0, int *f1) {
    int valid = a->in_valid ? a->in_valid[b] : a->in_len;
    if (valid > a->in_len) valid = a->in_len;
    if (valid < 0) valid = 0;
    *f0 = q0 - 1 < 0 ? 0 : q0 - 1;
    *f1 = q1 < valid ? q1 : valid;
    if (*f1 < *f0) *f1 = *f0;
}

/* frames (Cin, nf): item b's input frames [f0, f0 + nf) (all real), masked and Snake'd. */
static void build_frames(const srt_convt1d_args *a, int b, int f0, int nf, float *frames) {
    int valid = a->in_valid ? a->in_valid[b] : a->in_len;
    for (int i = 0; i < a->in_ch; i++) {
        float *dst = frames + (size_t)i * nf;
        const float *xr = a->x + ((size_t)b * a->in_ch + i) * a->in_len + f0;
        if (a->in_alpha) srt_cpu_snake_row(dst, xr, nf, valid - f0, a->in_alpha[i]);
        else srt_cpu_mask_row(dst, xr, nf, valid - f0);
    }
}

srt_status srt_cpu_conv_transpose1d(void *vctx, const srt_convt1d_args *a) {
    const srt_cpu_ctx *ctx = vctx;
    if (a->groups != 1 || a->kernel != 2 * a->stride || a->in_len == 0) return srt_ref_conv_transpose1d(vctx, a);
    const int s = a->stride, K = a->kernel, pad = a->padding, Cin = a->in_ch, Cout = a->out_ch;
    const int out_len = a->out_len, nt = ctx->n_threads;
    const int NK = Cout * K;
    if (out_len == 0) return SRT_OK;
    const int n_q = (out_len - 1 + pad) / s + 1;   /* frame slots that own output positions */
    /* chunk sizes only shape the work split: every output's arithmetic is fixed whatever they are */
    int fq = n_q < CONVT_FRAMES_MAX ? n_q : CONVT_FRAMES_MAX;
    int oc = CONVT_COLS_MAX / (K * (fq + 1));
    if (oc < 1) oc = 1;
    if (oc > Cout) oc = Cout;
    /* chunk 0 holds fq + 1 slots (its frame -1 is a zero column), the others fq: fq + 1 real frames each, whole
     * GEMM panels at fq = 255 */
    const int n_fchunks = n_q <= fq + 1 ? 1 : 1 + (int)srt_ceil_div64(n_q - fq - 1, fq);
    while (oc > 8 && (int64_t)a->batch * n_fchunks * srt_ceil_div64(Cout, oc) < 4 * nt) oc = (oc + 1) / 2;
    /* Static weights: W^T (Cout*K, Cin) packed once (cpu_wcache.c); a job's rows then start at a multiple of the
     * packing's row alignment. */
    const float *wpk = a->w_static ? srt_cpu_wcache_get(ctx->wcache, a->w, 1, NK, Cin, 1, NK, 0) : NULL;
    if (wpk) {
        int unit = SRT_GEMM_FIXED_ROW_ALIGN / (int)srt_gcd64(K, SRT_GEMM_FIXED_ROW_ALIGN);
        oc = (oc + unit - 1) / unit * unit;
        if (oc > Cout) oc = Cout;
    }
    const int n_ochunks = (int)srt_ceil_div64(Cout, oc);
    const int64_t n_bf = (int64_t)a->batch * n_fchunks, n_jobs = n_bf * n_ochunks;
    /* several jobs per chunk and small chunks: the frames of every (item, chunk) once, in a first pass */
    const size_t slot = (size_t)Cin * (fq + 1);
    const int shared = n_ochunks > 1 && (double)slot * n_bf <= CONVT_SHARED_MAX_FLOATS;
    float *fsh = shared ? srt_cpu_scratch_alloc(ctx, sizeof(float) * slot * n_bf) : NULL;   /* (n_bf, Cin, nf) */
    int failed = shared && !fsh;

#pragma omp parallel num_threads(nt)
    {
        float *frames = shared ? NULL : srt_cpu_scratch_alloc(ctx, sizeof(float) * slot);    /* (Cin, nf) */
        float *cols = srt_cpu_scratch_alloc(ctx, sizeof(float) * (size_t)(fq + 1) * oc * K);  /* (nf, oc*K) or (oc*K, nf) */
        float *ws = srt_cpu_scratch_alloc(ctx, sizeof(float) * srt_cpu_gemm_fixed_ws_floats());
        if ((!shared && !frames) || !cols || !ws) {
#pragma omp atomic write
            failed = 1;
        }
        if (shared) {
#pragma omp for schedule(dynamic)
            for (int64_t bf = 0; bf < n_bf; bf++) {
                if (failed) continue;
                int b = (int)(bf / n_fchunks), q0, q1;
                chunk_slots((int)(bf % n_fchunks), fq, n_q, &q0, &q1);
                int f0, f1;
                real_frames(a, b, q0, q1, &f0, &f1);
                build_frames(a, b, f0, f1 - f0, fsh + (size_t)bf * slot);
            }
        }
#pragma omp for schedule(dynamic)
        for (int64_t job = 0; job < n_jobs; job++) {
            if (failed) continue;
            int ochunk = (int)(job % n_ochunks), fchunk = (int)(job / n_ochunks % n_fchunks);
            int64_t bf = job / n_ochunks;
            int b = (int)(bf / n_fchunks);
            int q0, q1;
            chunk_slots(fchunk, fq, n_q, &q0, &q1);
            int o0 = ochunk * oc, o1 = o0 + oc < Cout ? o0 + oc : Cout, ncol = (o1 - o0) * K;
            int f0, f1;   /* real frames of q0-1 .. q1-1; the others are zero columns, left out */
            real_frames(a, b, q0, q1, &f0, &f1);
            const int nf = f1 - f0;
            const float *fr = shared ? fsh + (size_t)bf * slot : frames;
            if (!shared && nf) build_frames(a, b, f0, nf, frames);
            /* col(j, n) = sum_i frames[i][j] * W[i][o0*K + n], frame f0 + j, j < nf, column n < ncol */
            const float *wc = a->w + (size_t)o0 * K;
            ptrdiff_t cs_f = 1, cs_n = nf;   /* strides of cols over frames and columns */
            if (!nf) {
            } else if (wpk) {                    /* the same, W^T from the cache */
                srt_cpu_gemm_fixed_packed(wpk, NK, Cin, o0 * K, ncol, nf, fr, nf, 1, cols, nf, NULL, 0, NULL, ws);
            } else if (nf >= CONVT_FRAMES_AS_N_MIN) {   /* cols (ncol, nf) = W^T (ncol, Cin) @ frames (Cin, nf) */
                srt_cpu_gemm_fixed(ncol, nf, Cin, wc, 1, NK, fr, nf, 1, cols, nf, NULL, 0, NULL, ws);
            } else {                             /* cols (nf, ncol) = frames^T (nf, Cin) @ W (Cin, ncol) */
                srt_cpu_gemm_fixed(nf, ncol, Cin, fr, 1, nf, wc, NK, 1, cols, ncol, NULL, 0, NULL, ws);
                cs_f = ncol;
                cs_n = 1;
            }
            /* gather: frame slot q's taps 0..s-1 and frame q-1's taps s..2s-1 (0.0f for a zero frame) */
            const int cur_ok0 = f0 > q0 ? f0 : q0, cur_ok1 = f1 < q1 ? f1 : q1;            /* q with frame q real */
            const int prev_ok0 = f0 + 1 > q0 ? f0 + 1 : q0, prev_ok1 = f1 + 1 < q1 ? f1 + 1 : q1;   /* q-1 real */
            for (int o = o0; o < o1; o++) {
                float *yr = a->y + ((size_t)b * Cout + o) * out_len;
                float bo = a->bias ? a->bias[o] : 0.0f;
                const float *co = cols + (ptrdiff_t)(o - o0) * K * cs_n;
                /* slots [qa, qb) have both frames real (all but the chunk's ends) */
                const int qa = cur_ok0 > prev_ok0 ? cur_ok0 : prev_ok0, qb = cur_ok1 < prev_ok1 ? cur_ok1 : prev_ok1;
                for (int q = q0; q < q1; q++) {
                    const int p0 = q * s - pad;
                    const int r0 = p0 < 0 ? -p0 : 0, r1 = out_len - p0 < s ? out_len - p0 : s;
                    if (q >= qa && q < qb) {
                        const float *cur = co + (ptrdiff_t)(q - f0) * cs_f;
                        const float *prev = co + (ptrdiff_t)(q - 1 - f0) * cs_f + (ptrdiff_t)s * cs_n;
                        for (int r = r0; r < r1; r++) yr[p0 + r] = bo + cur[r * cs_n] + prev[r * cs_n];
                        continue;
                    }
                    const int has_cur = q >= cur_ok0 && q < cur_ok1, has_prev = q >= prev_ok0 && q < prev_ok1;
                    const float *cur = has_cur ? co + (ptrdiff_t)(q - f0) * cs_f : NULL;
                    const float *prev = has_prev ? co + (ptrdiff_t)(q - 1 - f0) * cs_f + (ptrdiff_t)s * cs_n : NULL;
                    for (int r = r0; r < r1; r++)
                        yr[p0 + r] = cur && prev ? bo + cur[r * cs_n] + prev[r * cs_n]
                                     : cur       ? bo + cur[r * cs_n] + 0.0f
                                     : prev      ? bo + 0.0f + prev[r * cs_n]
                                                 : bo + 0.0f + 0.0f;
                }
            }
        }
        srt_cpu_scratch_free(ctx, frames);
        srt_cpu_scratch_free(ctx, cols);
        srt_cpu_scratch_free(ctx, ws);
    }
    srt_cpu_scratch_free(ctx, fsh);
    if (failed) return srt_error(SRT_ERR_NOMEM, "conv_transpose1d: no memory for a chunk of %d frames", fq);
    return SRT_OK;
}
