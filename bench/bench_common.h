/* bench_common.h: helpers shared by the benchmarks: a monotonic clock and the process CPU time, `--name value`
 * option parsing from a table, a deterministic speech-like test signal, and making a random-weight model with
 * tools/make_snac_model (next to the bench binary) when missing. */
#ifndef SRT_BENCH_COMMON_H
#define SRT_BENCH_COMMON_H

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads): with one thread a load-proof measure on a shared machine. */
static inline double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One `--name value` option: BENCH_STR stores the argument (const char *), BENCH_INT its atoi (int), BENCH_FLAG
 * takes no value and stores `value` (int; for options like --no-engine). */
typedef enum { BENCH_STR, BENCH_INT, BENCH_FLAG } bench_opt_kind;
typedef struct {
    const char *name;
    bench_opt_kind kind;
    void *dst;
    int value;
} bench_opt;

/* Parse argv[first..] against opts (n entries). An unknown option or a missing value: a message naming `who`
 * and the option on stderr, the usage line when given, and 2 (the benches' exit code for bad arguments). */
static inline int bench_parse_opts(const char *who, const char *usage, int argc, char **argv, int first,
                                   const bench_opt *opts, int n) {
    for (int i = first; i < argc; i++) {
        const bench_opt *o = NULL;
        for (int k = 0; k < n && !o; k++)
            if (!strcmp(argv[i], opts[k].name)) o = &opts[k];
        if (!o || (o->kind != BENCH_FLAG && i + 1 >= argc)) {
            fprintf(stderr, "%s: %s %s\n", who, o ? "a value is missing after" : "unknown option", argv[i]);
            if (usage) fprintf(stderr, "usage: %s\n", usage);
            return 2;
        }
        if (o->kind == BENCH_FLAG) *(int *)o->dst = o->value;
        else if (o->kind == BENCH_INT) *(int *)o->dst = atoi(argv[++i]);
        else *(const char **)o->dst = argv[++i];
    }
    return 0;
}
#define BENCH_N_OPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Voiced harmonics with a gliding pitch, a syllable envelope and a little noise (deterministic per seed). */
static inline void speech_like(float *x, int64_t n, int rate, uint64_t seed) {
    double phase = 0;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double f0 = 140 + 40 * sin(2 * M_PI * 0.7 * t) + 15 * sin(2 * M_PI * 3.1 * t);
        phase += 2 * M_PI * f0 / rate;
        double v = 0;
        for (int h = 1; h <= 12; h++) v += sin(h * phase) / h * (1.0 + 0.8 * sin(2 * M_PI * (0.3 * h + 0.2) * t));
        double env = pow(fabs(sin(2 * M_PI * 2.1 * t)), 0.6);
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        double noise = ((s >> 11) * (1.0 / 9007199254740992.0) - 0.5) * 0.02;
        x[i] = (float)(0.25 * env * v + noise);
    }
}

/* Make a random-weight model in `dir` with a maker program beside argv0 (tools/make_*_model) unless
 * dir/model.safetensors exists: runs '<argv0's folder><tool>' <args>. 0 on success. */
static inline int bench_make_model(const char *who, const char *argv0, const char *models, const char *dir,
                                   const char *tool, const char *args) {
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    if (access(probe, R_OK) == 0) return 0;
    mkdir(models, 0755);
    char bindir[PATH_MAX];
    snprintf(bindir, sizeof bindir, "%s", argv0);
    char *slash = strrchr(bindir, '/');
    if (slash) slash[1] = 0; else strcpy(bindir, "./");
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s%s' %s", bindir, tool, args);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s: could not make a model with %s\n", who, cmd);
        return 1;
    }
    return 0;
}

/* The random-weight SNAC model of `arch` (24khz, 32khz, 44khz) in models/snac_<arch>. */
static inline int ensure_model(const char *who, const char *argv0, const char *models, const char *arch, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/snac_%s", models, arch);
    char args[PATH_MAX + 64];
    snprintf(args, sizeof args, "%s '%s'", arch, dir);
    return bench_make_model(who, argv0, models, dir, "make_snac_model", args);
}

#endif
