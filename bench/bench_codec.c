/* bench_codec.c: SNAC encode/decode speed per architecture and backend, printed as JSON lines.
 * Models: random-weight folders with the published dimensions (tools/make_snac_model; made on demand into
 * MODELS_DIR/snac_<arch> with the make_snac_model program found next to this one). Input: a 30 s speech-like
 * signal (voiced harmonics with a gliding pitch, syllable envelope, a little noise) at the model rate.
 * Backends: "cpu" (batch 1 and batch 4) and "cpu-ref" (a short input only: it is plain loops).
 * FLOPs are counted analytically from the graph (convolutions, transposed convolutions, attention, VQ search;
 * elementwise ops not counted).
 * Usage: bench_codec [--models DIR] [--arch 24khz,32khz,44khz] [--seconds 30] [--ref-seconds 0.1]
 *                    [--threads N] [--batch 4] [--no-ref]
 * Best numbers: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_codec (see bench/README.md). */
#include "snacrt.h"
#include "bench_common.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- analytic FLOPs (multiply-add = 2) for n padded input samples ---- */
typedef struct flops { double enc, dec; } flops;

static double conv_f(double in, double out, double k, double groups, double out_len) {
    return 2.0 * out * (in / groups) * k * out_len;
}

static flops count_flops(const srt_codec_info *I, double n) {
    flops f = {0, 0};
    double L = n, d = I->encoder_dim;
    f.enc += conv_f(1, d, 7, 1, L);
    for (int i = 0; i < I->n_rates; i++) {
        for (int u = 0; u < 3; u++) f.enc += conv_f(d, d, 7, I->depthwise ? d : 1, L) + conv_f(d, d, 1, 1, L);
        L /= I->encoder_rates[i];
        f.enc += conv_f(d, 2 * d, 2 * I->encoder_rates[i], 1, L);
        d *= 2;
    }
    double T = L, lat = I->latent_dim, dim = I->codebook_dim, attn = 0;
    if (I->attn_window) attn = 2 * T * d * 3 * d + 2 * T * d * d + 4 * T * I->attn_window * d;
    f.enc += attn + conv_f(d, d, 7, I->depthwise ? d : 1, T);
    for (int l = 0; l < I->n_levels; l++) {
        double Tl = T / I->vq_strides[l];
        f.enc += conv_f(lat, dim, 1, 1, Tl) + 2 * Tl * I->codebook_size * dim + conv_f(dim, lat, 1, 1, Tl);
    }
    for (int l = 0; l < I->n_levels; l++) f.dec += conv_f(I->codebook_dim, lat, 1, 1, T / I->vq_strides[l]);
    f.dec += conv_f(lat, lat, 7, I->depthwise ? lat : 1, T) + conv_f(lat, I->decoder_dim, 1, 1, T);
    double c = I->decoder_dim;
    if (I->attn_window) f.dec += 2 * T * c * 3 * c + 2 * T * c * c + 4 * T * I->attn_window * c;
    L = T;
    for (int i = 0; i < I->n_rates; i++) {
        double s = I->decoder_rates[i], o = c / 2;
        f.dec += 2.0 * c * o * 2 * s * L;   /* transposed conv */
        L *= s;
        f.dec += conv_f(o, o, 1, 1, L);      /* noise linear */
        for (int u = 0; u < 3; u++) f.dec += conv_f(o, o, 7, I->depthwise ? o : 1, L) + conv_f(o, o, 1, 1, L);
        c = o;
    }
    f.dec += conv_f(c, 1, 7, 1, L);
    return f;
}

static int run(const char *dir, const char *arch, const char *backend, int threads, int batch, double seconds) {
    srt_codec_options opts = {.backend = backend, .n_threads = threads};
    srt_codec *codec = NULL;
    if (srt_codec_load(dir, &opts, &codec) != SRT_OK) {
        fprintf(stderr, "bench_codec: loading %s on %s: %s\n", dir, backend, srt_last_error());
        return 1;
    }
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int64_t n = (int64_t)(seconds * info.sample_rate);
    float *audio[8];
    int64_t lens[8];
    srt_codes codes[8];
    memset(codes, 0, sizeof codes);
    for (int b = 0; b < batch; b++) {
        lens[b] = n;
        audio[b] = malloc(sizeof(float) * (size_t)n);
        speech_like(audio[b], n, info.sample_rate, (uint64_t)b + 1);
    }
    int rc = 0;
    /* warm-up (page faults of the workspaces, thread pools): the same batch for the fast backends (steady state
     * of a server), a short slice for the slow reference */
    int full_warm = strcmp(backend, "cpu-ref") != 0;
    int64_t warm_n[8];
    for (int b = 0; b < batch; b++) warm_n[b] = full_warm ? n : (info.pad_multiple < n ? info.pad_multiple : n);
    srt_codes warm[8];
    memset(warm, 0, sizeof warm);
    if (srt_codec_encode(codec, batch, (const float *const *)audio, warm_n, warm, NULL, NULL) == SRT_OK) {
        float *wa[8] = {0};
        int64_t wn[8];
        if (srt_codec_decode(codec, batch, warm, -1, wa, wn) == SRT_OK)
            for (int b = 0; b < batch; b++) free(wa[b]);
    }
    for (int b = 0; b < batch; b++) srt_codes_free(&warm[b]);
    double t0 = now_s();
    if (srt_codec_encode(codec, batch, (const float *const *)audio, lens, codes, NULL, NULL) != SRT_OK) {
        fprintf(stderr, "bench_codec: encode (%s, %s): %s\n", arch, backend, srt_last_error());
        rc = 1;
    }
    double t_enc = now_s() - t0;
    float *out[8] = {0};
    int64_t n_out[8];
    double t_dec = 0;
    if (!rc) {
        t0 = now_s();
        if (srt_codec_decode(codec, batch, codes, -1, out, n_out) != SRT_OK) {
            fprintf(stderr, "bench_codec: decode (%s, %s): %s\n", arch, backend, srt_last_error());
            rc = 1;
        }
        t_dec = now_s() - t0;
    }
    if (!rc) {
        double padded = ceil((double)n / info.pad_multiple) * info.pad_multiple;
        flops f = count_flops(&info, padded);
        double audio_s = (double)batch * n / info.sample_rate;
        printf("{\"model\": \"snac_%s\", \"backend\": \"%s\", \"threads\": %d, \"batch\": %d, \"audio_seconds\": %.3f, "
               "\"encode_wall_s\": %.4f, \"encode_xrt\": %.2f, \"encode_gflops\": %.1f, \"encode_gflop_per_audio_s\": %.2f, "
               "\"decode_wall_s\": %.4f, \"decode_xrt\": %.2f, \"decode_gflops\": %.1f, \"decode_gflop_per_audio_s\": %.2f}\n",
               arch, backend, threads, batch, audio_s, t_enc, audio_s / t_enc, batch * f.enc / t_enc * 1e-9,
               f.enc / (padded / info.sample_rate) * 1e-9, t_dec, audio_s / t_dec, batch * f.dec / t_dec * 1e-9,
               f.dec / (padded / info.sample_rate) * 1e-9);
        fflush(stdout);
    }
    for (int b = 0; b < batch; b++) {
        free(audio[b]);
        free(out[b]);
        srt_codes_free(&codes[b]);
    }
    srt_codec_free(codec);
    return rc;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *archs = "24khz,32khz,44khz";
    double seconds = 30, ref_seconds = 0.1;
    int threads = 0, batch = 4, no_ref = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) archs = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--ref-seconds") && i + 1 < argc) ref_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-ref")) no_ref = 1;
        else {
            fprintf(stderr, "usage: bench_codec [--models DIR] [--arch 24khz,32khz,44khz] [--seconds S] "
                            "[--ref-seconds S] [--threads N] [--batch B] [--no-ref]\n");
            return 2;
        }
    }
    if (batch < 1 || batch > 8 || seconds <= 0) {
        fprintf(stderr, "bench_codec: batch must be 1..8 and seconds > 0\n");
        return 2;
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    char list[256];
    snprintf(list, sizeof list, "%s", archs);
    int rc = 0;
    for (char *arch = strtok(list, ","); arch; arch = strtok(NULL, ",")) {
        char dir[PATH_MAX];
        if (ensure_model("bench_codec", argv[0], models, arch, dir, sizeof dir)) { rc = 1; continue; }
        if (!no_ref) rc |= run(dir, arch, "cpu-ref", threads, 1, ref_seconds);
        rc |= run(dir, arch, "cpu", threads, 1, seconds);
        if (batch > 1) rc |= run(dir, arch, "cpu", threads, batch, seconds);
    }
    return rc;
}
