/* bench_tokenize.c: end-to-end speed of dataset tokenization (srt_ds_run, what `snacrt tokenize` runs) against
 * pure encode speed on the same audio, printed as one JSON object.
 * Model: the full-size random-weight snac_24khz (tools/make_snac_model, made on demand into MODELS_DIR like
 * bench_codec). Corpus: --files speech-like recordings (bench_common.h) of 8..20 s, about --minutes in total, at
 * 16 / 22.05 / 44.1 / 48 kHz, mono and stereo, WAV and FLAC, written into a temp folder.
 * Measured, alternating (the machine's load drifts): pure encode (each file read + resampled untimed, then
 * srt_codec_encode alone, batch 1, after a warm-up on a fresh codec), then --repeat times: a tokenize run
 * (default options: cpu, all cores, 2 readers; wall time includes listing and the model load) followed by a pure
 * encode run. Each tokenize run's x-real-time is divided by the mean of the pure runs around it; the median of
 * these ratios is reported. The last tokenize run's summary gives the split of time between the stages (busy
 * seconds of the readers: decode + mix + resample; of the encoder; of the writer: shard files + fsync + index).
 * Usage: bench_tokenize [--models DIR] [--minutes 4] [--files 16] [--readers 2] [--reader-nice N] [--threads 0]
 *                       [--batch-seconds S] [--chunk-seconds S] [--repeat 2] [--keep] [--device cpu|cuda|cuda:0,2]
 * (--device cuda: the pure-encode reference runs on the first device, tokenize on every listed one.)
 * Best numbers: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_tokenize (see bench/README.md). */
#include "snacrt.h"
#include "bench_common.h"
#include "snacrt_audio.h"
#include "snacrt_dataset.h"
#include <errno.h>
#include <ftw.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Write n_files recordings into dir; returns the total audio seconds (-1 on failure). */
static double make_corpus(const char *dir, int n_files, double minutes) {
    static const int rates[4] = {16000, 22050, 44100, 48000};
    double total = 0, mean = minutes * 60.0 / n_files;
    for (int i = 0; i < n_files; i++) {
        int rate = rates[i % 4], stereo = i % 2;
        double sec = mean * (0.6 + 0.8 * (double)((i * 7) % 11) / 10.0);
        if (sec < 1) sec = 1;
        int64_t n = (int64_t)(sec * rate);
        float *x = malloc(sizeof(float) * (size_t)n);
        if (!x) return -1;
        speech_like(x, n, rate, (uint64_t)i + 1);
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/rec%03d.%s", dir, i, i % 3 == 0 ? "flac" : "wav");
        srt_status st;
        if (stereo) {
            /* a stereo file: the mono signal on both channels (sox), mono when sox is missing */
            char mono[PATH_MAX + 96];
            snprintf(mono, sizeof mono, "%s.mono.wav", path);
            st = srt_audio_write(mono, x, n, rate, SRT_AUDIO_S16);
            char cmd[3 * PATH_MAX + 256];
            snprintf(cmd, sizeof cmd, "sox '%s' -c 2 '%s' 2> /dev/null", mono, path);
            if (st == SRT_OK && system(cmd) != 0) st = srt_audio_write(path, x, n, rate, SRT_AUDIO_S16);
            remove(mono);
        } else {
            st = srt_audio_write(path, x, n, rate, SRT_AUDIO_S16);
        }
        free(x);
        if (st != SRT_OK) { fprintf(stderr, "bench_tokenize: %s\n", srt_last_error()); return -1; }
        total += sec;
    }
    return total;
}

/* Pure encode of every file alone (reading untimed): audio seconds per encode second. */
static double pure_encode(srt_codec *codec, const char *dir, int n_files, double *audio_s) {
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    double busy = 0, audio = 0;
    for (int i = -1; i < n_files; i++) {      /* i = -1: warm-up on file 0 */
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/rec%03d.%s", dir, i < 0 ? 0 : i, (i < 0 ? 0 : i) % 3 == 0 ? "flac" : "wav");
        float *x = NULL;
        int64_t n = 0;
        if (srt_audio_read(path, info.sample_rate, &x, &n, NULL) != SRT_OK) { fprintf(stderr, "%s\n", srt_last_error()); return -1; }
        const float *items[1] = {x};
        srt_codes codes;
        double t0 = now_s();
        srt_status st = srt_codec_encode(codec, 1, items, &n, &codes, NULL, NULL);
        double dt = now_s() - t0;
        free(x);
        if (st != SRT_OK) { fprintf(stderr, "%s\n", srt_last_error()); return -1; }
        srt_codes_free(&codes);
        if (i >= 0) { busy += dt; audio += (double)n / info.sample_rate; }
    }
    *audio_s = audio;
    return audio / busy;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Pure encode with a freshly loaded codec (as the tokenize run gets one). */
static double pure_run(const char *model, const srt_codec_options *opts, const char *corpus, int n_files) {
    srt_codec *codec = NULL;
    if (srt_codec_load(model, opts, &codec) != SRT_OK) { fprintf(stderr, "%s\n", srt_last_error()); return -1; }
    double audio = 0, xrt = pure_encode(codec, corpus, n_files, &audio);
    srt_codec_free(codec);
    return xrt;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models";
    const char *device = "cpu";
    double minutes = 4, batch_seconds = 0, chunk_seconds = 0;
    int n_files = 16, readers = 2, threads = 0, keep = 0, reader_nice = -1, repeat = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--models") && v) { models = v; i++; }
        else if (!strcmp(a, "--minutes") && v) { minutes = atof(v); i++; }
        else if (!strcmp(a, "--files") && v) { n_files = atoi(v); i++; }
        else if (!strcmp(a, "--readers") && v) { readers = atoi(v); i++; }
        else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
        else if (!strcmp(a, "--reader-nice") && v) { reader_nice = atoi(v); i++; }
        else if (!strcmp(a, "--batch-seconds") && v) { batch_seconds = atof(v); i++; }
        else if (!strcmp(a, "--chunk-seconds") && v) { chunk_seconds = atof(v); i++; }
        else if (!strcmp(a, "--repeat") && v) { repeat = atoi(v); i++; }
        else if (!strcmp(a, "--device") && v) { device = v; i++; }
        else if (!strcmp(a, "--keep")) keep = 1;
        else {
            fprintf(stderr, "usage: bench_tokenize [--models DIR] [--minutes 4] [--files 16] [--readers 2] [--reader-nice N]\n"
                            "                      [--threads 0] [--batch-seconds S] [--chunk-seconds S] [--repeat 2] [--keep]\n"
                            "                      [--device cpu|cuda|cuda:0,2]\n");
            return 2;
        }
    }
    if (n_files < 1 || minutes <= 0 || repeat < 1 || repeat > 16) {
        fprintf(stderr, "bench_tokenize: need --files >= 1, --minutes > 0, --repeat 1..16\n");
        return 2;
    }
    char model[PATH_MAX];
    if (ensure_model("bench_tokenize", argv[0], models, "24khz", model, sizeof model)) return 1;
    char work[] = "/tmp/bench_tokenize.XXXXXX";
    if (!mkdtemp(work)) { perror("bench_tokenize: mkdtemp"); return 1; }
    char corpus[64];
    snprintf(corpus, sizeof corpus, "%s/corpus", work);
    mkdir(corpus, 0755);
    int rc = 1;
    if (make_corpus(corpus, n_files, minutes) < 0) goto cleanup;
    /* the pure-encode reference runs on the first listed device ("cuda:0,2" -> "cuda:0") */
    char first_device[32];
    snprintf(first_device, sizeof first_device, "%s", device);
    first_device[strcspn(first_device, ",")] = 0;
    srt_codec_options opts = {.backend = first_device, .n_threads = threads};
    /* pure, tokenize, pure, tokenize, ..., pure: each tokenize run is compared with the pure runs around it */
    double pure[17], xrt[16], ratio[16];
    srt_ds_summary s;
    srt_ds_run_options o;
    const char *inputs[1] = {corpus};
    if ((pure[0] = pure_run(model, &opts, corpus, n_files)) < 0) goto cleanup;
    for (int r = 0; r < repeat; r++) {
        char out[96];
        snprintf(out, sizeof out, "%s/out%d", work, r);
        srt_ds_run_defaults(&o);
        o.model_dir = model;
        o.out_dir = out;
        o.inputs = inputs;
        o.n_inputs = 1;
        o.n_readers = readers;
        o.n_threads = threads;
        o.device = device;
        if (reader_nice >= 0) o.reader_nice = reader_nice;
        if (batch_seconds > 0) o.batch_seconds = batch_seconds;
        if (chunk_seconds > 0) o.chunk_seconds = chunk_seconds;
        double t0 = now_s();
        if (srt_ds_run(&o, &s) != SRT_OK) { fprintf(stderr, "bench_tokenize: %s\n", srt_last_error()); goto cleanup; }
        xrt[r] = s.progress.audio_seconds / (now_s() - t0);
        if (s.progress.items != n_files || s.progress.errors) {
            fprintf(stderr, "bench_tokenize: %lld items, %lld errors (expected %d, 0)\n", (long long)s.progress.items,
                    (long long)s.progress.errors, n_files);
            goto cleanup;
        }
        if ((pure[r + 1] = pure_run(model, &opts, corpus, n_files)) < 0) goto cleanup;
        ratio[r] = xrt[r] / (0.5 * (pure[r] + pure[r + 1]));
    }
    double sorted[16];
    memcpy(sorted, ratio, sizeof(double) * (size_t)repeat);
    qsort(sorted, (size_t)repeat, sizeof(double), compare_double);
    double median = repeat % 2 ? sorted[repeat / 2] : 0.5 * (sorted[repeat / 2 - 1] + sorted[repeat / 2]);
    /* stages of the last tokenize run */
    const srt_ds_progress *p = &s.progress;
    double busy_sum = s.read_busy_seconds + s.encode_busy_seconds + s.write_busy_seconds;
    double load[3] = {0, 0, 0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) { if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1; fclose(la); }
    printf("{\"bench\": \"tokenize\", \"model\": \"snac_24khz\", \"backend\": \"%s\", \"threads\": %d, "
           "\"readers\": %d, \"reader_nice\": %d, \"batch_seconds\": %.1f, \"chunk_seconds\": %.1f,\n"
           " \"files\": %d, \"audio_seconds\": %.3f, \"tokenize_xrt\": [",
           device, threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN), readers, o.reader_nice,
           s.batch_seconds, s.chunk_seconds, n_files, p->audio_seconds);   /* the sizes used (auto resolved) */
    for (int r = 0; r < repeat; r++) printf("%s%.2f", r ? ", " : "", xrt[r]);
    printf("], \"pure_encode_xrt\": [");
    for (int r = 0; r <= repeat; r++) printf("%s%.2f", r ? ", " : "", pure[r]);
    printf("],\n \"tokenize_vs_pure\": [");
    for (int r = 0; r < repeat; r++) printf("%s%.3f", r ? ", " : "", ratio[r]);
    printf("], \"tokenize_vs_pure_median\": %.3f,\n", median);
    printf(" \"stages\": {\"read_busy_s\": %.3f, \"encode_busy_s\": %.3f, \"write_busy_s\": %.3f, \"read_share\": %.4f, "
           "\"encode_share\": %.4f, \"write_share\": %.4f, \"encode_busy_xrt\": %.2f, \"wall_s\": %.3f},\n"
           " \"peak_rss_mb\": %.1f, \"load_average\": [%.2f, %.2f, %.2f]}\n",
           s.read_busy_seconds, s.encode_busy_seconds, s.write_busy_seconds, s.read_busy_seconds / busy_sum,
           s.encode_busy_seconds / busy_sum, s.write_busy_seconds / busy_sum,
           s.encode_busy_seconds > 0 ? p->audio_seconds / s.encode_busy_seconds : 0, p->wall_seconds,
           (double)s.peak_rss_kb / 1024.0, load[0], load[1], load[2]);
    rc = 0;
cleanup:
    if (keep) fprintf(stderr, "bench_tokenize: kept %s\n", work);
    else nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
