/* bench_tokenize_long.c: peak memory of `snacrt tokenize` on long recordings with the full-size snac_24khz model
 * (random weights from tools/make_snac_model, see bench_common.h): for each length a synthetic speech-like 24 kHz
 * 16-bit mono WAV is written block by block, then tokenized in a child process (srt_ds_run with the default,
 * memory-budget-derived chunk unless --chunk-seconds is given) whose peak RSS (VmHWM of /proc/self/status) and
 * speed are reported. --tar puts the recording in a WebDataset tar as one member (read through a window of the
 * archive, never whole). Peak RSS must not grow with the length: the JSON gives the growth per hour between the
 * shortest and the longest run and the peak extrapolated to 2 hours.
 * Usage: bench_tokenize_long [--models DIR] [--minutes 3,30] [--threads 0] [--chunk-seconds S] [--memory-mb M]
 *                            [--tar] [--keep]
 * Best numbers: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_tokenize_long (see bench/README.md). */
#include "snacrt.h"
#include "bench_common.h"
#include "snacrt_dataset.h"
#include <sndfile.h>
#include <sys/wait.h>

/* A speech-like recording of `seconds` at `rate`, written in 10 s blocks (the signal is never held whole). */
static int write_wav(const char *path, double seconds, int rate) {
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) { fprintf(stderr, "bench_tokenize_long: cannot write %s: %s\n", path, sf_strerror(NULL)); return -1; }
    int64_t total = (int64_t)(seconds * rate), block = 10 * (int64_t)rate;
    float *x = malloc(sizeof(float) * (size_t)block);
    int rc = x ? 0 : -1;
    for (int64_t at = 0, k = 0; rc == 0 && at < total; at += block, k++) {
        int64_t n = total - at < block ? total - at : block;
        speech_like(x, n, rate, 1000 + (uint64_t)k);   /* a new seed per block: the pitch glide restarts */
        if (sf_write_float(sf, x, n) != n) rc = -1;
    }
    free(x);
    sf_close(sf);
    return rc;
}

/* Wrap a file as member "long000.wav" of a one-sample tar (ustar headers written here). */
static int write_tar(const char *tar_path, const char *member_path) {
    FILE *in = fopen(member_path, "rb"), *out = fopen(tar_path, "wb");
    if (!in || !out) { if (in) fclose(in); if (out) fclose(out); return -1; }
    fseeko(in, 0, SEEK_END);
    long long size = (long long)ftello(in);
    fseeko(in, 0, SEEK_SET);
    unsigned char h[512] = {0};
    snprintf((char *)h, 100, "long000.wav");
    snprintf((char *)h + 100, 8, "0000644");
    snprintf((char *)h + 108, 8, "0000000");
    snprintf((char *)h + 116, 8, "0000000");
    snprintf((char *)h + 124, 12, "%011llo", size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    int rc = fwrite(h, 1, 512, out) == 512 ? 0 : -1;
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0) if (fwrite(buf, 1, n, out) != n) rc = -1;
    static const unsigned char zeros[1024];
    size_t pad = (size_t)((512 - size % 512) % 512);
    if (rc == 0 && fwrite(zeros, 1, pad + 1024, out) != pad + 1024) rc = -1;
    fclose(in);
    if (fclose(out) != 0) rc = -1;
    return rc;
}

static long vm_hwm_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    fclose(f);
    return kb;
}

typedef struct result {
    double minutes, wall, xrt, chunk_seconds;
    long hwm_kb;
    int ok;
} result;

/* Tokenize `input` into out_dir in a child process: its VmHWM is this run's alone. */
static int run_child(const char *model, const char *input, const char *out_dir, int threads, double chunk,
                     double memory_mb, result *r) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fd[0]);
        srt_ds_run_options o;
        srt_ds_run_defaults(&o);
        const char *inputs[1] = {input};
        o.model_dir = model;
        o.out_dir = out_dir;
        o.inputs = inputs;
        o.n_inputs = 1;
        o.n_threads = threads;
        if (chunk > 0) o.chunk_seconds = chunk;
        if (memory_mb > 0) o.memory_mb = memory_mb;
        srt_ds_summary s;
        double t0 = now_s();
        srt_status st = srt_ds_run(&o, &s);
        result cr = {.wall = now_s() - t0, .hwm_kb = vm_hwm_kb(), .chunk_seconds = s.chunk_seconds,
                     .ok = st == SRT_OK && s.progress.items == 1 && s.progress.errors == 0};
        cr.xrt = cr.wall > 0 ? s.progress.audio_seconds / cr.wall : 0;
        if (st != SRT_OK) fprintf(stderr, "bench_tokenize_long: %s\n", srt_last_error());
        ssize_t w = write(fd[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fd[1]);
    result cr;
    ssize_t got = read(fd[0], &cr, sizeof cr);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof cr || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    cr.minutes = r->minutes;
    *r = cr;
    return cr.ok ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *minutes_list = "3,30";
    int threads = 0, keep = 0, tar = 0;
    double chunk = 0, memory_mb = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--models") && v) { models = v; i++; }
        else if (!strcmp(a, "--minutes") && v) { minutes_list = v; i++; }
        else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
        else if (!strcmp(a, "--chunk-seconds") && v) { chunk = atof(v); i++; }
        else if (!strcmp(a, "--memory-mb") && v) { memory_mb = atof(v); i++; }
        else if (!strcmp(a, "--tar")) tar = 1;
        else if (!strcmp(a, "--keep")) keep = 1;
        else {
            fprintf(stderr, "usage: bench_tokenize_long [--models DIR] [--minutes 3,30] [--threads 0] "
                            "[--chunk-seconds S] [--memory-mb M] [--tar] [--keep]\n");
            return 2;
        }
    }
    char model[PATH_MAX];
    if (ensure_model("bench_tokenize_long", argv[0], models, "24khz", model, sizeof model)) return 1;
    char work[] = "/tmp/snacrt_bench_long_XXXXXX";
    if (!mkdtemp(work)) { perror("mkdtemp"); return 1; }
    result runs[16];
    int n_runs = 0, rc = 0;
    for (const char *p = minutes_list; *p && n_runs < 16 && rc == 0;) {
        double minutes = atof(p);
        char wav[PATH_MAX + 64], in[PATH_MAX + 64], out[PATH_MAX + 64];
        snprintf(wav, sizeof wav, "%s/long%g.wav", work, minutes);
        snprintf(in, sizeof in, "%s/long%g.tar", work, minutes);
        snprintf(out, sizeof out, "%s/out%g", work, minutes);
        if (write_wav(wav, minutes * 60, 24000)) { rc = 1; break; }
        if (tar && write_tar(in, wav)) { fprintf(stderr, "bench_tokenize_long: cannot write %s\n", in); rc = 1; break; }
        if (tar) unlink(wav);
        result *r = &runs[n_runs];
        r->minutes = minutes;
        if (run_child(model, tar ? in : wav, out, threads, chunk, memory_mb, r)) {
            fprintf(stderr, "bench_tokenize_long: the %g min run failed\n", minutes);
            rc = 1;
            break;
        }
        fprintf(stderr, "bench_tokenize_long: %g min: peak RSS %.1f MB, %.2fx real time, chunk %.2f s\n", minutes,
                r->hwm_kb / 1024.0, r->xrt, r->chunk_seconds);
        n_runs++;
        if (!keep) { unlink(tar ? in : wav); char cmd[PATH_MAX + 80]; snprintf(cmd, sizeof cmd, "rm -rf '%s'", out); if (system(cmd)) {} }
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    if (rc == 0 && n_runs > 0) {
        const result *a = &runs[0], *b = &runs[n_runs - 1];
        double growth = b->minutes > a->minutes ? (b->hwm_kb - a->hwm_kb) / 1024.0 / (b->minutes - a->minutes) * 60 : 0;
        double peak = 0;
        for (int i = 0; i < n_runs; i++) if (runs[i].hwm_kb / 1024.0 > peak) peak = runs[i].hwm_kb / 1024.0;
        double extrapolated = peak + (growth > 0 ? growth * (120 - b->minutes) / 60 : 0);
        printf("{\"bench\": \"tokenize_long\", \"model\": \"snac_24khz\", \"input\": \"%s\", \"threads\": %d, "
               "\"chunk_seconds\": %.2f,\n \"runs\": [", tar ? "tar member" : "wav file",
               threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN), a->chunk_seconds);
        for (int i = 0; i < n_runs; i++)
            printf("%s{\"minutes\": %g, \"peak_rss_mb\": %.1f, \"x_real_time\": %.2f, \"wall_seconds\": %.1f}",
                   i ? ", " : "", runs[i].minutes, runs[i].hwm_kb / 1024.0, runs[i].xrt, runs[i].wall);
        printf("],\n \"growth_mb_per_hour\": %.1f, \"extrapolated_2h_peak_mb\": %.1f, \"under_1_gib\": %s}\n", growth,
               extrapolated, extrapolated < 1024 ? "true" : "false");
    }
    if (!keep) rmdir(work);
    else fprintf(stderr, "bench_tokenize_long: kept %s\n", work);
    return rc;
}
