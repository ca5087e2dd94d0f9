/* bench_gemm.c: the cpu backend's gemm at decode shapes (C (M,N) = A (M,K) @ B^T, B a bf16 (N,K) Linear weight
 * with Llama-3.2-1B dims), comparing the direct small-M kernel with panel-convert + sgemm at each M, to place the
 * crossover (SRT_CPU_GEMM_DIRECT_MAX_M). Reports GB/s of weight bytes read and GFLOP/s. Prints one JSON object.
 * Each M runs with every instruction set of the kernels this CPU has (isa: avx512bf16 -- bf16 B, A rounded
 * to bf16 (the cpu backend's default precision) or with --form hilo A as bf16 hi + lo pairs --, avx2,
 * scalar with --scalar) side by side; cpu_ms is the process CPU time of the best rep (with --threads 1 a load-proof
 * measure on a shared machine, where wall time is not).
 *   bench_gemm [--ms 1,2,4,8,16,32,64] [--dtype bf16|f16|f32] [--reps 5] [--threads 0 (all cores)] [--scalar 0]
 *              [--form bf16|hilo] */
#include "backend.h"
#include "cpu/cpu_gemm_kernels.h"
#include "weights/weights.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_common.h"

int main(int argc, char **argv) {
    const char *ms_arg = "1,2,4,8,12,16,24,32,64", *dtype_arg = "bf16";
    int reps = 5, threads = 0, scalar = 0, hilo = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ms")) ms_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--dtype")) dtype_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--scalar")) scalar = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--form")) hilo = !strcmp(argv[i + 1], "hilo");
        else { fprintf(stderr, "bench_gemm: unknown option %s\n", argv[i]); return 2; }
    }
    srt_dtype dt = !strcmp(dtype_arg, "f32") ? SRT_F32 : !strcmp(dtype_arg, "f16") ? SRT_F16 : SRT_BF16;
    size_t esize = srt_dtype_size(dt);
    /* (N, K) of the 1B model's projections: q/o, k/v, gate/up, down */
    /* the AVX-512 rows: --form bf16 (default) or hilo */
    int dp_mode = hilo ? SRT_CPU_DPBF16_HILO : SRT_CPU_DPBF16_BF16ACT;
    static const int shapes[][2] = {{2048, 2048}, {512, 2048}, {8192, 2048}, {2048, 8192}};
    const int n_shapes = 4, max_m = 64;
    srt_backend be;
    if (srt_backend_create("cpu", threads, &be) != SRT_OK) { fprintf(stderr, "bench_gemm: %s\n", srt_last_error()); return 1; }
    size_t max_b = (size_t)8192 * 2048;
    void *B = malloc(max_b * esize);
    float *A = malloc(sizeof(float) * max_m * 8192), *C = malloc(sizeof(float) * max_m * 8192);
    if (!B || !A || !C) { fprintf(stderr, "bench_gemm: out of memory\n"); return 1; }
    uint64_t s = 12345;
    for (size_t i = 0; i < max_b; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float v = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.05f;
        if (dt == SRT_F32) ((float *)B)[i] = v;
        else ((uint16_t *)B)[i] = dt == SRT_BF16 ? srt_f32_to_bf16(v) : srt_f32_to_f16(v);
    }
    /* B stands for the LM's weights, which it marks static (kept in the kernel's panels across calls) */
    if (be.ops->mark_static) be.ops->mark_static(be.ctx, B, max_b * esize);
    for (int i = 0; i < max_m * 8192; i++) A[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    printf("{\"dtype\":\"%s\",\"threads\":%d,\"runs\":[", srt_dtype_name(dt), threads);
    int first = 1;
    for (const char *p = ms_arg; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL) {
        int M = atoi(p);
        if (M < 1 || M > max_m) continue;
        for (int isa = SRT_CPU_ISA_AVX512BF16; isa >= (scalar ? SRT_CPU_ISA_SCALAR : SRT_CPU_ISA_AVX2); isa--)
        for (int path = 0; path < 2; path++) {   /* 0 direct, 1 panel + sgemm */
            srt_cpu_gemm_kernels_set_max_isa(isa);
            /* M 1 with bf16 activations: the backend's own precision (bf16 unless SNACRT_CPU_LM_PRECISION=exact) */
            srt_cpu_gemm_set_dpbf16(isa != SRT_CPU_ISA_AVX512BF16 ? SRT_CPU_DPBF16_OFF
                                    : M == 1 && !hilo             ? SRT_CPU_DPBF16_AUTO
                                                                  : dp_mode);
            if (isa == SRT_CPU_ISA_AVX512BF16 && (!srt_cpu_gemm_has_avx512bf16() || dt != SRT_BF16 || (M < 2 && hilo)))
                continue;
            srt_cpu_gemm_set_direct_max_m(path == 0 ? max_m : 0);
            double total_s = 0, total_cpu = 0, bytes = 0, flops = 0;
            for (int sh = 0; sh < n_shapes; sh++) {
                int N = shapes[sh][0], K = shapes[sh][1];
                srt_gemm_args g = {M, N, K, 0, 1, 1.0f, 0.0f, A, K, B, K, dt, C, N, NULL};
                be.ops->gemm(be.ctx, &g);   /* warm-up */
                double best = 1e30, best_cpu = 0;
                for (int r = 0; r < reps; r++) {
                    double t0 = now_s(), c0 = cpu_s();
                    if (be.ops->gemm(be.ctx, &g) != SRT_OK) { fprintf(stderr, "bench_gemm: %s\n", srt_last_error()); return 1; }
                    double dt_s = now_s() - t0;
                    if (dt_s < best) { best = dt_s; best_cpu = cpu_s() - c0; }
                }
                total_s += best;
                total_cpu += best_cpu;
                bytes += (double)N * K * esize;
                flops += 2.0 * M * N * K;
            }
            const char *isa_names[] = {"scalar", "avx2", dp_mode == SRT_CPU_DPBF16_HILO ? "avx512bf16-hilo"
                                                                                        : "avx512bf16-bf16act"};
            printf("%s{\"M\":%d,\"isa\":\"%s\",\"path\":\"%s\",\"ms\":%.3f,\"cpu_ms\":%.3f,\"weight_gb_per_s\":%.2f,"
                   "\"gflop_per_s\":%.2f}", first ? "" : ",", M, isa_names[isa], path ? "panel_sgemm" : "direct",
                   total_s * 1e3, total_cpu * 1e3, bytes / total_s * 1e-9, flops / total_s * 1e-9);
            first = 0;
            fflush(stdout);
        }
    }
    srt_cpu_gemm_kernels_set_max_isa(SRT_CPU_ISA_AVX512BF16);
    srt_cpu_gemm_set_dpbf16(-1);
    printf("]}\n");
    srt_cpu_gemm_set_direct_max_m(-1);
    srt_backend_destroy(&be);
    free(A); free(B); free(C);
    return 0;
}
