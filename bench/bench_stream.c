/* bench_stream.c: streaming SNAC decode cost (srt_codec_stream_push) against the offline decode, printed as JSON.
 * Model: a random-weight folder with the published dimensions (tools/make_snac_model; made on demand into
 * MODELS_DIR/snac_<arch>). Codes: random (fixed seed). Measured on one backend:
 *   offline: srt_codec_decode of N groups (batch 1), ms per group;
 *   stream x1: one stream, one group per push, ms per group (steady state and with the final flush);
 *   stream x S: S streams pushed together one group each per call (batched), ms per call and per stream-group;
 *   time to first audio: wall time of the pushes a fresh stream needs before audio comes out (decoder compute
 *   only; the codes' own arrival time is first_audio_groups groups of audio: the first final sample);
 *   real-time factor: audio seconds decoded per wall second (xRT).
 * Each cost is also given in process CPU seconds ("cpu_" fields): on a loaded machine wall times of many small
 * ops swing widely, CPU time much less (it still counts OpenMP threads spinning at barriers).
 * Usage: bench_stream [--models DIR] [--arch 24khz] [--groups 48] [--streams 16] [--threads N] [--backend cpu] */
#include "snacrt.h"
#include "bench_common.h"
#include <limits.h>

static void random_codes(const srt_codec_info *I, int64_t n_groups, uint64_t seed, srt_codes *c) {
    memset(c, 0, sizeof *c);
    c->n_levels = I->n_levels;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 17;
    for (int l = 0; l < I->n_levels; l++) {
        c->n_frames[l] = n_groups * (I->vq_strides[0] / I->vq_strides[l]);
        c->codes[l] = malloc(sizeof(int32_t) * (size_t)c->n_frames[l]);
        for (int64_t i = 0; i < c->n_frames[l]; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            c->codes[l][i] = (int32_t)(s % (uint64_t)I->codebook_size);
        }
    }
}

static srt_codes group_of(const srt_codec_info *I, const srt_codes *all, int64_t g) {
    srt_codes k;
    memset(&k, 0, sizeof k);
    k.n_levels = I->n_levels;
    for (int l = 0; l < I->n_levels; l++) {
        int64_t per = I->vq_strides[0] / I->vq_strides[l];
        k.n_frames[l] = per;
        k.codes[l] = all->codes[l] + g * per;
    }
    return k;
}

/* Push groups [0, n) one per call to `ns` fresh streams together; returns wall seconds of all pushes and the
 * seconds until stream 0's first audio. */
static int stream_run(srt_codec *codec, const srt_codec_info *I, const srt_codes *codes, int ns, int64_t n,
                      double *wall, double *first_audio, double *steady, double *cpu) {
    srt_codec_stream **s = calloc((size_t)ns, sizeof *s);
    srt_codes *k = calloc((size_t)ns, sizeof *k);
    int *fin = calloc((size_t)ns, sizeof *fin);
    float **a = calloc((size_t)ns, sizeof *a);
    int64_t *cnt = calloc((size_t)ns, sizeof *cnt);
    int rc = 0;
    for (int i = 0; i < ns; i++)
        if (srt_codec_stream_open(codec, -1, &s[i]) != SRT_OK) { rc = 1; goto out; }
    int la = srt_codec_stream_lookahead(s[0]);
    double t0 = now_s(), c0 = cpu_s(), t_steady0 = 0;
    *first_audio = -1;
    for (int64_t g = 0; g < n; g++) {
        if (g == la + 1) t_steady0 = now_s();
        for (int i = 0; i < ns; i++) {
            k[i] = group_of(I, &codes[i], g);
            fin[i] = g == n - 1;
        }
        if (g == n - 1) *steady = (now_s() - t_steady0) / (double)(n - 1 - (la + 1));
        if (srt_codec_stream_push(ns, s, k, fin, a, cnt) != SRT_OK) {
            fprintf(stderr, "bench_stream: push: %s\n", srt_last_error());
            rc = 1;
            goto out;
        }
        if (*first_audio < 0 && cnt[0] > 0) *first_audio = now_s() - t0;
        for (int i = 0; i < ns; i++) free(a[i]);
    }
    *wall = now_s() - t0;
    *cpu = cpu_s() - c0;
out:
    for (int i = 0; i < ns; i++) srt_codec_stream_free(s[i]);
    free(s); free(k); free(fin); free(a); free(cnt);
    return rc;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *arch = "24khz", *backend = "cpu";
    int64_t n = 48;
    int ns = 16, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc) ns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
        else {
            fprintf(stderr, "usage: bench_stream [--models DIR] [--arch 24khz] [--groups N] [--streams S] "
                            "[--threads N] [--backend cpu]\n");
            return 2;
        }
    }
    if (ns < 1 || ns > 256) { fprintf(stderr, "bench_stream: streams must be 1..256\n"); return 2; }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    char dir[PATH_MAX];
    if (ensure_model("bench_stream", argv[0], models, arch, dir, sizeof dir)) return 1;
    srt_codec_options opts = {.backend = backend, .n_threads = threads};
    srt_codec *codec = NULL;
    if (srt_codec_load(dir, &opts, &codec) != SRT_OK) {
        fprintf(stderr, "bench_stream: loading %s on %s: %s\n", dir, backend, srt_last_error());
        return 1;
    }
    srt_codec_info I;
    srt_codec_get_info(codec, &I);
    srt_codec_stream *probe = NULL;
    if (srt_codec_stream_open(codec, -1, &probe) != SRT_OK) {
        fprintf(stderr, "bench_stream: %s\n", srt_last_error());
        return 1;
    }
    int la = srt_codec_stream_lookahead(probe), fa = srt_codec_stream_first_audio_groups(probe);
    int64_t gs = srt_codec_stream_group_samples(probe);
    srt_codec_stream_free(probe);
    int64_t unit = 1;                           /* offline decode needs whole attention windows */
    if (I.attn_window) {
        int64_t a = I.attn_window, b = I.vq_strides[0];
        while (b) { int64_t t = a % b; a = b; b = t; }
        unit = I.attn_window / a;
    }
    if (n % unit) n += unit - n % unit;
    if (n < la + 3) n = la + 3;
    srt_codes *codes = calloc((size_t)ns, sizeof *codes);
    for (int i = 0; i < ns; i++) random_codes(&I, n, 1 + (uint64_t)i, &codes[i]);
    double group_ms = 1000.0 * gs / I.sample_rate;
    int rc = 0;

    /* warm-up: thread pools, page faults */
    double w1, f1, st1, c1;
    float *out = NULL;
    int64_t n_out = 0;
    if (srt_codec_decode(codec, 1, codes, -1, &out, &n_out) != SRT_OK) {
        fprintf(stderr, "bench_stream: decode: %s\n", srt_last_error());
        return 1;
    }
    free(out);
    rc |= stream_run(codec, &I, codes, 1, la + 4, &w1, &f1, &st1, &c1);

    double t0 = now_s(), c0 = cpu_s();
    rc |= srt_codec_decode(codec, 1, codes, -1, &out, &n_out) != SRT_OK;
    double t_off = now_s() - t0, c_off = cpu_s() - c0;
    free(out);
    double t_offb = 0, c_offb = 0;
    {
        float **outs = calloc((size_t)ns, sizeof *outs);
        int64_t *nos = calloc((size_t)ns, sizeof *nos);
        t0 = now_s();
        c0 = cpu_s();
        rc |= srt_codec_decode(codec, ns, codes, -1, outs, nos) != SRT_OK;
        t_offb = now_s() - t0;
        c_offb = cpu_s() - c0;
        for (int i = 0; i < ns; i++) free(outs[i]);
        free(outs); free(nos);
    }
    double wall1 = 0, first1 = 0, steady1 = 0, wallb = 0, firstb = 0, steadyb = 0, cpu1 = 0, cpub = 0;
    rc |= stream_run(codec, &I, codes, 1, n, &wall1, &first1, &steady1, &cpu1);
    rc |= stream_run(codec, &I, codes, ns, n, &wallb, &firstb, &steadyb, &cpub);
    if (rc) { fprintf(stderr, "bench_stream: a run failed: %s\n", srt_last_error()); }
    double audio_s = (double)n * gs / I.sample_rate;
    printf("{\"model\": \"snac_%s\", \"backend\": \"%s\", \"threads\": %d, \"groups\": %lld, \"group_ms_audio\": %.2f, "
           "\"lookahead_groups\": %d, "
           "\"offline_ms_per_group\": %.3f, \"offline_batched_ms_per_stream_group\": %.3f, "
           "\"stream1_ms_per_group\": %.3f, \"stream1_steady_ms_per_push\": %.3f, \"stream1_vs_offline\": %.3f, "
           "\"streams\": %d, \"streamN_ms_per_push\": %.3f, \"streamN_steady_ms_per_push\": %.3f, "
           "\"streamN_ms_per_stream_group\": %.3f, \"streamN_vs_offline_batched\": %.3f, "
           "\"time_to_first_audio_compute_ms\": %.2f, \"time_to_first_audio_codes_ms\": %.1f, "
           "\"time_to_first_audio_batched_compute_ms\": %.2f, "
           "\"offline_xrt\": %.2f, \"stream1_xrt\": %.2f, \"streamN_xrt\": %.2f, "
           "\"cpu_offline_ms_per_group\": %.3f, \"cpu_offline_batched_ms_per_stream_group\": %.3f, "
           "\"cpu_stream1_ms_per_group\": %.3f, \"cpu_streamN_ms_per_stream_group\": %.3f}\n",
           arch, backend, threads, (long long)n, group_ms, la,
           1000 * t_off / n, 1000 * t_offb / (n * ns),
           1000 * wall1 / n, 1000 * steady1, wall1 / t_off,
           ns, 1000 * wallb / n, 1000 * steadyb, 1000 * wallb / (n * ns), wallb / t_offb,
           1000 * first1, fa * group_ms, 1000 * firstb,
           audio_s / t_off, audio_s / wall1, audio_s * ns / wallb,
           1000 * c_off / n, 1000 * c_offb / (n * ns), 1000 * cpu1 / n, 1000 * cpub / (n * ns));
    for (int i = 0; i < ns; i++) srt_codes_free(&codes[i]);
    free(codes);
    srt_codec_free(codec);
    return rc;
}
