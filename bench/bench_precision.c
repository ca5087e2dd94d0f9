/* bench_precision.c: what the precision modes of the dense convs (fp32 | tf32 | bf16, srt_codec_options.precision)
 * do to the codec's results: per level, the fraction of codes identical to the fp32 encode, and the SNR of the
 * decode of the fp32 codes in each mode against the fp32 decode. Prints one JSON object; bench/PRECISION.md holds
 * the table (bench/precision_corpus.sh makes the espeak-ng corpus and runs this).
 * Usage: bench_precision [-m MODEL_DIR (tests/data/snac/tiny24)] [--device cuda] [--seconds S (2: each file cut
 *        to S seconds; the simulator is slow)] AUDIO...
 * The fastest mode whose codes stay >= 99% identical at every level is named ("recommended"). */
#include "snacrt.h"
#include "snacrt_audio.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_MODES 3
static const char *MODES[N_MODES] = {"fp32", "tf32", "bf16"};

int main(int argc, char **argv) {
    const char *model = "tests/data/snac/tiny24", *device = "cuda";
    double seconds = 2.0;
    const char *files[256];
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (n_files < 256) files[n_files++] = argv[i];
    }
    if (!n_files) {
        fprintf(stderr, "usage: bench_precision [-m MODEL_DIR] [--device cuda] [--seconds S] AUDIO...\n");
        return 2;
    }
    srt_codec *codec[N_MODES] = {0};
    for (int m = 0; m < N_MODES; m++) {
        srt_codec_options o = {.backend = device, .precision = MODES[m]};
        if (srt_codec_load(model, &o, &codec[m]) != SRT_OK) {
            fprintf(stderr, "bench_precision: %s: %s\n", MODES[m], srt_last_error());
            return 1;
        }
    }
    srt_codec_info info;
    srt_codec_get_info(codec[0], &info);
    int64_t same[N_MODES][8] = {{0}}, total[8] = {0};
    double sig = 0, err[N_MODES] = {0}, worst_snr[N_MODES];
    for (int m = 0; m < N_MODES; m++) worst_snr[m] = INFINITY;
    double audio_s = 0;
    for (int f = 0; f < n_files; f++) {
        float *x = NULL;
        int64_t n = 0;
        if (srt_audio_read(files[f], info.sample_rate, &x, &n, NULL) != SRT_OK) {
            fprintf(stderr, "bench_precision: %s: %s\n", files[f], srt_last_error());
            return 1;
        }
        if (seconds > 0 && n > (int64_t)(seconds * info.sample_rate)) n = (int64_t)(seconds * info.sample_rate);
        audio_s += (double)n / info.sample_rate;
        const float *xs[1] = {x};
        srt_codes codes[N_MODES];
        for (int m = 0; m < N_MODES; m++)
            if (srt_codec_encode(codec[m], 1, xs, &n, &codes[m], NULL, NULL) != SRT_OK) {
                fprintf(stderr, "bench_precision: encode %s: %s\n", MODES[m], srt_last_error());
                return 1;
            }
        for (int l = 0; l < info.n_levels; l++) {
            total[l] += codes[0].n_frames[l];
            for (int m = 0; m < N_MODES; m++)
                for (int64_t t = 0; t < codes[0].n_frames[l]; t++) same[m][l] += codes[m].codes[l][t] == codes[0].codes[l][t];
        }
        float *y[N_MODES];
        int64_t ny[N_MODES];
        for (int m = 0; m < N_MODES; m++)
            if (srt_codec_decode(codec[m], 1, &codes[0], -1, &y[m], &ny[m]) != SRT_OK) {
                fprintf(stderr, "bench_precision: decode %s: %s\n", MODES[m], srt_last_error());
                return 1;
            }
        double s = 0;
        for (int64_t i = 0; i < ny[0]; i++) s += (double)y[0][i] * y[0][i];
        sig += s;
        for (int m = 0; m < N_MODES; m++) {
            double e = 0;
            for (int64_t i = 0; i < ny[0] && i < ny[m]; i++) e += ((double)y[m][i] - y[0][i]) * ((double)y[m][i] - y[0][i]);
            err[m] += e;
            double snr = e > 0 ? 10 * log10(s / e) : INFINITY;
            if (snr < worst_snr[m]) worst_snr[m] = snr;
            free(y[m]);
        }
        for (int m = 0; m < N_MODES; m++) srt_codes_free(&codes[m]);
        free(x);
    }
    const char *recommended = "fp32";
    printf("{\"model\":\"%s\",\"device\":\"%s\",\"files\":%d,\"audio_s\":%.2f,\"modes\":{", model, device, n_files, audio_s);
    for (int m = 1; m < N_MODES; m++) {
        int ok = 1;
        printf("%s\"%s\":{\"codes_identical\":[", m > 1 ? "," : "", MODES[m]);
        for (int l = 0; l < info.n_levels; l++) {
            double fr = total[l] ? (double)same[m][l] / total[l] : 1.0;
            ok &= fr >= 0.99;
            printf("%s%.4f", l ? "," : "", fr);
        }
        double snr = err[m] > 0 ? 10 * log10(sig / err[m]) : INFINITY;
        printf("],\"decode_snr_db\":%.1f,\"worst_file_snr_db\":%.1f}", isinf(snr) ? 999.0 : snr,
               isinf(worst_snr[m]) ? 999.0 : worst_snr[m]);
        if (ok) recommended = MODES[m];   /* modes are listed slowest first */
    }
    printf("},\"recommended\":\"%s\"}\n", recommended);
    for (int m = 0; m < N_MODES; m++) srt_codec_free(codec[m]);
    return 0;
}
