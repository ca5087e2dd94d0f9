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

static inline int ensure_model(const char *who, const char *argv0, const char *models, const char *arch, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/snac_%s", models, arch);
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/model.safetensors", dir);
    if (access(cfg, R_OK) == 0) return 0;
    mkdir(models, 0755);
    char tool[PATH_MAX];
    snprintf(tool, sizeof tool, "%s", argv0);
    char *slash = strrchr(tool, '/');
    if (slash) slash[1] = 0; else strcpy(tool, "./");
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%smake_snac_model' %s '%s'", tool, arch, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s: could not make the %s model with %s\n", who, arch, cmd);
        return 1;
    }
    return 0;
}

#endif
