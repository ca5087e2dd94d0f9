/* bench_lm.c: Llama-family decoder speed on a backend (cpu or cuda): prefill and decode tokens/s at several batch
 * sizes, and decode as a fraction of the memory-bandwidth bound (a decode step reads all weights once plus every
 * sequence's KV cache). The bandwidth is this machine's best 2-thread read rate on the CPU (a decode step only reads;
 * the STREAM-like triad is printed too), and on a GPU the device's peak from cudaDeviceGetAttribute (2 x memory
 * clock x bus width: the HBM bound). Prints one JSON object.
 *   bench_lm MODEL_DIR [--device cpu|cuda|cuda:N] [--batches 1,8,64] [--prompt-len 16] [--decode-steps 4]
 *            [--threads 0 (all cores)]
 * "threads" is the backend's own count (srt_lm_info.n_threads: every parallel region of a step runs on it; the
 * bandwidth probes below use OpenMP's default, before the timed steps), "cpu_lm_precision" the backend's
 * (srt_lm_info.lm_precision; "n/a" off the cpu backend).
 * decode_cpu_s_per_step is the process CPU time of a decode step (with --threads 1 the load-proof measure on a
 * shared machine: decode_cpu_tok_s = batch / that). The cpu kernels' instruction set: SNACRT_CPU_MAX_ISA
 * (avx512bf16, avx2, scalar) and SNACRT_CPU_LM_PRECISION=exact|bf16 (bf16 by default: host/cpu/cpu_ops.h).
 * Decode steps are timed after two untimed ones (a CUDA device records its decode graph there) and leave the
 * logits on the device, as srt_lm_generate does with the backend's sample op. Without a GPU, --device cuda
 * prints {"device": ..., "error": "no CUDA device ..."} and exits 1.
 * Make a model with tools/make_llama_model --dims 1b --out DIR (2.5 GB; --layers N for shorter runs). */
#include "snacrt.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef SNACRT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif
#include "bench_common.h"

/* Best of 5 triad passes a = b + s*c over 3 x 64 MB of doubles; bytes counted: 3 per element touched. */
static double triad_gb_per_s(void) {
    size_t n = (size_t)8 << 20;
    double *a = malloc(n * 8), *b = malloc(n * 8), *c = malloc(n * 8), best = 0;
    if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) { a[i] = 0; b[i] = (double)i; c[i] = 1.0 / (double)(i + 1); }
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        #pragma omp parallel for
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
        double dt = now_s() - t0, gbs = 3.0 * 8.0 * (double)n / dt * 1e-9;
        if (gbs > best) best = gbs;
    }
    volatile double sink = a[n / 2];
    (void)sink;
    free(a); free(b); free(c);
    return best;
}

/* Best of 5 read-only passes (a sum) over 512 MB of doubles: what a decode step does to the weights, so the bound
 * of decode; the triad above (2 reads + 1 write, write-allocate not counted) is reported beside it. */
static double read_gb_per_s(void) {
    size_t n = (size_t)64 << 20;
    double *a = malloc(n * 8), best = 0, total = 0;
    if (!a) return 0;
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) a[i] = (double)(i & 1023);
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s(), s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        #pragma omp parallel for reduction(+ : s0, s1, s2, s3)
        for (size_t i = 0; i < n; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3]; }
        double dt = now_s() - t0, gbs = 8.0 * (double)n / dt * 1e-9;
        total += s0 + s1 + s2 + s3;
        if (gbs > best) best = gbs;
    }
    volatile double sink = total;
    (void)sink;
    free(a);
    return best;
}

/* Peak memory bandwidth of CUDA device `device` in GB/s (0 when unknown: no device, or the simulator). */
static double cuda_peak_gb_per_s(int device) {
#ifdef SNACRT_WITH_CUDA
    int clock_khz = 0, bus_bits = 0;
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) * 1e-9;   /* double data rate */
#else
    (void)device;
    return 0;
#endif
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lm MODEL_DIR [--device cpu|cuda|cuda:N] [--batches 1,8,64] [--prompt-len 16] "
                "[--decode-steps 4] [--threads 0]\n");
        return 2;
    }
    const char *model_dir = argv[1], *device = "cpu", *batches_arg = "1,8,64";
    int prompt_len = 16, decode_steps = 4, n_threads = 0;
    const bench_opt args[] = {{"--device", BENCH_STR, &device, 0}, {"--batches", BENCH_STR, &batches_arg, 0},
                              {"--prompt-len", BENCH_INT, &prompt_len, 0},
                              {"--decode-steps", BENCH_INT, &decode_steps, 0},
                              {"--threads", BENCH_INT, &n_threads, 0}};
    if (bench_parse_opts("bench_lm", NULL, argc, argv, 2, args, BENCH_N_OPTS(args))) return 2;
    if (prompt_len < 1 || decode_steps < 1) { fprintf(stderr, "bench_lm: --prompt-len and --decode-steps >= 1\n"); return 2; }
    int batches[16], n_batches = 0, max_batch = 1;
    for (const char *s = batches_arg; *s && n_batches < 16;) {
        batches[n_batches] = atoi(s);
        if (batches[n_batches] < 1) { fprintf(stderr, "bench_lm: bad batch list %s\n", batches_arg); return 2; }
        if (batches[n_batches] > max_batch) max_batch = batches[n_batches];
        n_batches++;
        s = strchr(s, ',');
        if (!s) break;
        s++;
    }
    enum { WARMUP_STEPS = 2 };
    int is_cuda = !strncmp(device, "cuda", 4), ctx = prompt_len + WARMUP_STEPS + decode_steps;
    srt_lm_options opts = {.backend = device, .kv_block_size = 16, .kv_max_tokens = (int64_t)max_batch * (ctx + 16),
                           .max_batch_tokens = max_batch * prompt_len,
                           .n_threads = n_threads};
    srt_lm *lm = NULL;
    double t0 = now_s();
    srt_status st = srt_lm_load(model_dir, &opts, &lm);
    if (st != SRT_OK) {
        const char *msg = srt_last_error();
        printf("{\"model\":\"%s\",\"device\":\"%s\",\"error\":\"%s: ", model_dir, device, srt_status_name(st));
        for (const char *p = msg; *p; p++) printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        printf("\"}\n");
        fprintf(stderr, "bench_lm: %s\n", msg);
        return 1;
    }
    double load_s = now_s() - t0;
    double triad = is_cuda ? 0 : triad_gb_per_s();
    double bandwidth = is_cuda ? cuda_peak_gb_per_s(device[4] == ':' ? atoi(device + 5) : 0) : read_gb_per_s();
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    double weight_bytes = 2.0 * (double)info.n_params;   /* bf16 */
    printf("{\"model\":\"%s\",\"device\":\"%s\",\"cpu_lm_precision\":\"%s\",\"threads\":%d,\"n_params\":%lld,"
           "\"layers\":%d,\"hidden\":%d,\"load_s\":%.3f,\"%s\":%.2f,\"triad_gb_per_s\":%.2f,\"prompt_len\":%d,"
           "\"decode_steps\":%d,\"runs\":[",
           model_dir, device, info.lm_precision[0] ? info.lm_precision : "n/a", info.n_threads,
           (long long)info.n_params, info.n_layers, info.hidden_size,
           load_s, is_cuda ? "hbm_peak_gb_per_s" : "read_gb_per_s", bandwidth, triad, prompt_len, decode_steps);
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)prompt_len);
    for (int i = 0; i < prompt_len; i++) prompt[i] = (int32_t)((i * 7919 + 13) % info.vocab_size);
    float *logits = malloc(sizeof(float) * (size_t)max_batch * info.vocab_size);
    int *seqs = malloc(sizeof(int) * max_batch), *lens = malloc(sizeof(int) * max_batch);
    const int32_t **toks = malloc(sizeof *toks * max_batch);
    int32_t *next = malloc(sizeof(int32_t) * max_batch);
    int rc = 0;
    for (int bi = 0; bi < n_batches && !rc; bi++) {
        int B = batches[bi];
        for (int b = 0; b < B; b++) { srt_lm_seq_open(lm, &seqs[b]); toks[b] = prompt; lens[b] = prompt_len; }
        double tp = now_s();
        if (srt_lm_forward(lm, B, seqs, toks, lens, 0, logits) != SRT_OK) { rc = 1; break; }
        double prefill_s = now_s() - tp;
        for (int b = 0; b < B; b++) { next[b] = 1 + b; toks[b] = &next[b]; lens[b] = 1; }
        for (int s = 0; s < WARMUP_STEPS && !rc; s++)
            if (srt_lm_forward(lm, B, seqs, toks, lens, 0, NULL) != SRT_OK) rc = 1;
        double td = now_s(), cd = cpu_s();
        for (int s = 0; s < decode_steps && !rc; s++)
            if (srt_lm_forward(lm, B, seqs, toks, lens, 0, NULL) != SRT_OK) rc = 1;
        double decode_s = (now_s() - td) / decode_steps, decode_cpu = (cpu_s() - cd) / decode_steps;
        for (int b = 0; b < B; b++) srt_lm_seq_close(lm, seqs[b]);
        if (rc) break;
        /* bytes one decode step must read: all weights + each sequence's KV cache (f32) */
        double kv_bytes = 2.0 * 4.0 * info.n_layers * info.n_kv_heads * info.head_dim * (double)ctx * B;
        double step_bytes = weight_bytes + kv_bytes, decode_tok_s = B / decode_s;
        printf("%s{\"batch\":%d,\"prefill_tok_s\":%.2f,\"prefill_s\":%.4f,\"decode_tok_s\":%.2f,\"decode_step_s\":%.5f,"
               "\"decode_cpu_s_per_step\":%.5f,\"decode_cpu_tok_s\":%.2f,\"decode_gb_per_step\":%.4f", bi ? "," : "", B,
               B * prompt_len / prefill_s, prefill_s, decode_tok_s, decode_s, decode_cpu, B / decode_cpu,
               step_bytes * 1e-9);
        if (bandwidth > 0) {
            double bound_tok_s = B * bandwidth * 1e9 / step_bytes;
            printf(",\"decode_bound_tok_s\":%.2f,\"decode_fraction_of_bound\":%.4f}", bound_tok_s,
                   decode_tok_s / bound_tok_s);
        } else {
            printf(",\"decode_bound_tok_s\":null,\"decode_fraction_of_bound\":null}");
        }
        fflush(stdout);
    }
    printf("]}\n");
    if (rc) fprintf(stderr, "bench_lm: %s\n", srt_last_error());
    free(prompt); free(logits); free(seqs); free(lens); free(toks); free(next);
    srt_lm_free(lm);
    return rc;
}
