/* bench_cuda_codec.c: SNAC encode/decode speed on the "cuda" backend, batch 1, 16, 64 and 256 items of
 * `--seconds` (default 1 s) each, printed as JSON lines (x-real-time = seconds of audio per wall second).
 * Models: random-weight folders with the published dimensions (tools/make_snac_model, made on demand into
 * MODELS_DIR/snac_<arch> with the make_snac_model program found next to this one). A warm-up run of the same
 * batch precedes each timed run (steady state: the device memory pool is filled, cuBLAS plans are cached).
 * On a machine without a GPU it prints {"skipped": ...} and exits 0. See bench/ROOFLINE.md for the bounds.
 * Usage: bench_cuda_codec [--models DIR] [--arch 24khz,32khz,44khz] [--seconds 1] [--batches 1,16,64,256]
 *                         [--device cuda:0]     (SNACRT_CUDA_TF32=1 for TF32 tensor-core convolutions) */
#include "snacrt.h"
#include "bench_common.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int run(srt_codec *codec, const char *arch, const char *device, int batch, double seconds) {
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int64_t n = (int64_t)(seconds * info.sample_rate);
    float **audio = calloc((size_t)batch, sizeof *audio), **out = calloc((size_t)batch, sizeof *out);
    int64_t *lens = calloc((size_t)batch, sizeof *lens), *n_out = calloc((size_t)batch, sizeof *n_out);
    srt_codes *codes = calloc((size_t)batch, sizeof *codes);
    int rc = !audio || !out || !lens || !n_out || !codes;
    for (int b = 0; !rc && b < batch; b++) {
        lens[b] = n;
        audio[b] = malloc(sizeof(float) * (size_t)n);
        if (!audio[b]) { rc = 1; break; }
        speech_like(audio[b], n, info.sample_rate, (uint64_t)b + 1);
    }
    double t_enc = 0, t_dec = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {   /* pass 0: warm-up */
        for (int b = 0; b < batch; b++) srt_codes_free(&codes[b]);
        double t0 = now_s();
        if (srt_codec_encode(codec, batch, (const float *const *)audio, lens, codes, NULL, NULL) != SRT_OK) {
            fprintf(stderr, "bench_cuda_codec: encode (%s, batch %d): %s\n", arch, batch, srt_last_error());
            rc = 1;
            break;
        }
        t_enc = now_s() - t0;
        for (int b = 0; b < batch; b++) { free(out[b]); out[b] = NULL; }
        t0 = now_s();
        if (srt_codec_decode(codec, batch, codes, -1, out, n_out) != SRT_OK) {
            fprintf(stderr, "bench_cuda_codec: decode (%s, batch %d): %s\n", arch, batch, srt_last_error());
            rc = 1;
            break;
        }
        t_dec = now_s() - t0;
    }
    if (!rc) {
        double audio_s = (double)batch * n / info.sample_rate;
        const char *tf32 = getenv("SNACRT_CUDA_TF32");
        printf("{\"model\": \"snac_%s\", \"backend\": \"%s\", \"tf32\": %d, \"batch\": %d, \"audio_seconds\": %.3f, "
               "\"encode_wall_s\": %.5f, \"encode_xrt\": %.1f, \"decode_wall_s\": %.5f, \"decode_xrt\": %.1f}\n",
               arch, device, tf32 && atoi(tf32) > 0, batch, audio_s, t_enc, audio_s / t_enc, t_dec, audio_s / t_dec);
        fflush(stdout);
    }
    for (int b = 0; b < batch && codes; b++) {
        if (audio) free(audio[b]);
        if (out) free(out[b]);
        srt_codes_free(&codes[b]);
    }
    free(audio); free(out); free(lens); free(n_out); free(codes);
    return rc;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *archs = "24khz,32khz,44khz", *batches = "1,16,64,256";
    const char *device = "cuda";
    double seconds = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) archs = argv[++i];
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else {
            fprintf(stderr, "usage: bench_cuda_codec [--models DIR] [--arch 24khz,32khz,44khz] [--seconds S] "
                            "[--batches 1,16,64,256] [--device cuda:N]\n");
            return 2;
        }
    }
    char list[256];
    snprintf(list, sizeof list, "%s", archs);
    int rc = 0;
    for (char *save = NULL, *arch = strtok_r(list, ",", &save); arch; arch = strtok_r(NULL, ",", &save)) {
        char dir[PATH_MAX];
        if (ensure_model("bench_cuda_codec", argv[0], models, arch, dir, sizeof dir)) { rc = 1; continue; }
        srt_codec_options opts = {.backend = device};
        srt_codec *codec = NULL;
        srt_status st = srt_codec_load(dir, &opts, &codec);
        if (st == SRT_ERR_NO_DEVICE) {
            printf("{\"skipped\": \"no CUDA device\", \"device\": \"%s\"}\n", device);
            fprintf(stderr, "bench_cuda_codec: %s\n", srt_last_error());
            return 0;
        }
        if (st != SRT_OK) {
            fprintf(stderr, "bench_cuda_codec: loading %s on %s: %s\n", dir, device, srt_last_error());
            rc = 1;
            continue;
        }
        char blist[128];
        snprintf(blist, sizeof blist, "%s", batches);
        for (char *s2 = NULL, *b = strtok_r(blist, ",", &s2); b; b = strtok_r(NULL, ",", &s2))
            if (atoi(b) > 0) rc |= run(codec, arch, device, atoi(b), seconds);
        srt_codec_free(codec);
    }
    return rc;
}
