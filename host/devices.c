/* devices.c: srt_list_devices: the CPU (model, online cores, the SIMD extensions our kernels dispatch on, physical
 * memory) and the CUDA devices (cuda/devices_cuda.c, or, in a build without CUDA, the answer that says so), for
 * `snacrt devices`. */
#include "backend.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The "model name" line of /proc/cpuinfo (x86) or "Model" / "Hardware" (ARM); "" when absent. */
static void cpu_model(char *out, size_t size) {
    out[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5) && strncmp(line, "Hardware", 8)) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        snprintf(out, size, "%s", colon);
        out[strcspn(out, "\r\n")] = 0;
        break;
    }
    fclose(f);
}

static void append(char *out, size_t size, const char *word) {
    size_t len = strlen(out);
    if (len + strlen(word) + 2 > size) return;
    snprintf(out + len, size - len, "%s%s", len ? " " : "", word);
}

/* The SIMD extensions the cpu backend checks at run time (host/cpu: AVX2+FMA GEMMs and rows, F16C conversions,
 * AVX-512 and AVX-512 BF16 GEMMs). */
static void cpu_features(char *out, size_t size) {
    out[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) append(out, size, "sse4.2");
    if (__builtin_cpu_supports("avx")) append(out, size, "avx");
    if (__builtin_cpu_supports("avx2")) append(out, size, "avx2");
    if (__builtin_cpu_supports("fma")) append(out, size, "fma");
#if !(defined(__clang__) && __clang_major__ < 15)   /* clang 14 (the fuzz build) knows no "f16c" here */
    if (__builtin_cpu_supports("f16c")) append(out, size, "f16c");
#endif
    if (__builtin_cpu_supports("avx512f")) append(out, size, "avx512f");
    if (__builtin_cpu_supports("avx512bw")) append(out, size, "avx512bw");
    if (__builtin_cpu_supports("avx512vl")) append(out, size, "avx512vl");
    if (__builtin_cpu_supports("avx512bf16")) append(out, size, "avx512bf16");
    if (!out[0]) append(out, size, "none (scalar kernels)");
#elif defined(__aarch64__)
    append(out, size, "neon (scalar kernels)");
#else
    append(out, size, "none (scalar kernels)");
#endif
}

srt_status srt_list_devices(srt_device_info *devs, int cap, int *n, char *cuda_note, size_t note_size) {
    if (!devs || !n || cap < 1) return srt_error(SRT_ERR_INVALID_ARG, "srt_list_devices: devs, n and cap >= 1 needed");
    *n = 0;
    srt_device_info *cpu = &devs[0];
    memset(cpu, 0, sizeof *cpu);
    snprintf(cpu->name, sizeof cpu->name, "cpu");
    cpu_model(cpu->model, sizeof cpu->model);
    if (!cpu->model[0]) snprintf(cpu->model, sizeof cpu->model, "unknown CPU");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu->cores = cores > 0 ? (int)cores : 1;
    cpu_features(cpu->features, sizeof cpu->features);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    cpu->memory_bytes = pages > 0 && page > 0 ? (int64_t)pages * page : 0;
    int n_cuda = 0;
    SRT_TRY(srt_cuda_list_devices(devs + 1, cap - 1, &n_cuda, cuda_note, note_size));
    srt_build_info b;
    srt_get_build_info(&b);
    for (int i = 0; i < n_cuda; i++) devs[1 + i].simulated = b.cudasim && !b.cuda;
    *n = 1 + n_cuda;
    return SRT_OK;
}
