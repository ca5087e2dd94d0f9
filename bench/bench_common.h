/* bench_common.h: helpers shared by the codec benchmarks: a monotonic clock, a deterministic speech-like test
 * signal, and making a random-weight model with tools/make_snac_model (next to the bench binary) when missing. */
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
