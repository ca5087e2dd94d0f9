/* ds_segment.c: where to split a long recording (--max-seconds): at the quietest 20 ms frame of the second half
 * of the allowed span when it is quiet (below -40 dBFS RMS, or below 10% of the span's median frame RMS), else a
 * fixed-length cut at the limit. */
#include "dataset/ds_internal.h"
#include "common.h"
#include <math.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int64_t srt_ds_find_cut(const float *audio, int64_t n_avail, int sample_rate, int64_t max_samples) {
    if (n_avail <= max_samples) return n_avail;
    if (max_samples <= 0) return n_avail;                /* no limit */
    int64_t frame = sample_rate > 0 ? sample_rate / 50 : 0;
    int64_t n_frames = frame > 0 ? max_samples / frame : 0;
    if (!audio || n_frames < 2) return max_samples;
    double *rms = malloc(sizeof(double) * 2 * (size_t)n_frames);   /* (n_frames) RMS, then a sorted copy */
    if (!rms) return max_samples;
    for (int64_t k = 0; k < n_frames; k++) {
        const float *x = audio + k * frame;
        double s = 0;
        for (int64_t i = 0; i < frame; i++) s += (double)x[i] * x[i];
        rms[k] = sqrt(s / (double)frame);
    }
    double *sorted = rms + n_frames;
    memcpy(sorted, rms, sizeof(double) * (size_t)n_frames);
    qsort(sorted, (size_t)n_frames, sizeof(double), cmp_double);
    double median = n_frames % 2 ? sorted[n_frames / 2] : 0.5 * (sorted[n_frames / 2 - 1] + sorted[n_frames / 2]);
    /* quietest frame starting in the second half; on ties the latest (the longest segment) */
    int64_t best = -1;
    for (int64_t k = n_frames - 1; k >= 0 && k * frame >= max_samples / 2; k--)
        if (best < 0 || rms[k] < rms[best]) best = k;
    int64_t cut = max_samples;
    if (best >= 0) {
        double quiet = 0.01;                             /* -40 dBFS */
        if (rms[best] < quiet || rms[best] < 0.1 * median) cut = best * frame + frame / 2;
    }
    free(rms);
    if (cut <= 0 || cut > max_samples) cut = max_samples;
    return cut;
}
