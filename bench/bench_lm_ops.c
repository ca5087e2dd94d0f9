/* bench_lm_ops.c: the cpu backend's LM ops (host/cpu/cpu_lm.c) against the cpu-ref ones (host/cpu/ref_lm.c) side
 * by side in one run, called directly through the two tables: paged attention (decode: one query per sequence over
 * a long context), RMSNorm, RoPE and sampling, at Llama-3.2-1B widths. Prints one JSON object: per op the best-of-N
 * wall seconds per call of each table, the speedup ref / cpu, and the same in process CPU time.
 *   bench_lm_ops [--batch 8] [--ctx 2048] [--reps 5]
 * Shapes: 32 query heads, 8 kv heads, head_dim 64 (q width 2048), block size 16; RMSNorm of (batch, 2048);
 * RoPE of the batch's q rows at position ctx-1; sampling (temperature 0.8, top_k 50, top_p 0.95) over 128256
 * logits per row. OpenMP threads: OMP_NUM_THREADS (default: all cores). */
#include "lm/lm_ops.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_common.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(float lo, float hi) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return lo + (hi - lo) * (float)((g_rng >> 40) * (1.0 / 16777216.0));
}
static float *rnd(size_t n, float lo, float hi) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (!x) { fprintf(stderr, "bench_lm_ops: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
    return x;
}

/* Best wall seconds per call of op(ctx, args) over reps calls (after one warm-up), and the least process CPU
 * seconds of a call (with OMP_NUM_THREADS=1 the load-proof measure on a shared machine); restore() runs untimed. */
typedef srt_status (*op_fn)(const srt_lm_ops *ops, void *args);
typedef struct timing { double wall, cpu; } timing;
static timing best_time(const srt_lm_ops *ops, op_fn fn, void *args, void (*restore)(void *), int reps) {
    timing best = {1e30, 1e30};
    for (int r = 0; r <= reps; r++) {
        if (restore) restore(args);
        double t0 = now_s(), c0 = cpu_s();
        if (fn(ops, args) != SRT_OK) { fprintf(stderr, "bench_lm_ops: op failed: %s\n", srt_last_error()); exit(1); }
        double dt = now_s() - t0, dc = cpu_s() - c0;
        if (r > 0 && dt < best.wall) best.wall = dt;
        if (r > 0 && dc < best.cpu) best.cpu = dc;
    }
    return best;
}

static srt_status call_attn(const srt_lm_ops *o, void *a) { return o->paged_attention(NULL, a); }
static srt_status call_rms(const srt_lm_ops *o, void *a) { return o->rmsnorm(NULL, a); }
static srt_status call_rope(const srt_lm_ops *o, void *a) { return o->rope(NULL, a); }

typedef struct sample_bench { srt_sample_args a; const float *orig; } sample_bench;
static srt_status call_sample(const srt_lm_ops *o, void *p) { return o->sample(NULL, &((sample_bench *)p)->a); }
static void restore_sample(void *p) {   /* sample overwrites the logits (work space) */
    sample_bench *s = p;
    memcpy(s->a.logits, s->orig, sizeof(float) * (size_t)s->a.n_rows * s->a.vocab);
}

static void report(const char *name, timing ref, timing cpu, int last) {
    printf("  \"%s\": {\"ref_s\": %.6f, \"cpu_s\": %.6f, \"speedup\": %.2f, \"ref_cpu_time_s\": %.6f, "
           "\"cpu_cpu_time_s\": %.6f, \"cpu_time_speedup\": %.2f}%s\n", name, ref.wall, cpu.wall, ref.wall / cpu.wall,
           ref.cpu, cpu.cpu, ref.cpu / cpu.cpu, last ? "" : ",");
}

int main(int argc, char **argv) {
    int batch = 8, ctx = 2048, reps = 5;
    const bench_opt opts[] = {{"--batch", BENCH_INT, &batch, 0}, {"--ctx", BENCH_INT, &ctx, 0},
                              {"--reps", BENCH_INT, &reps, 0}};
    if (bench_parse_opts("bench_lm_ops", "bench_lm_ops [--batch 8] [--ctx 2048] [--reps 5]", argc, argv, 1, opts,
                         BENCH_N_OPTS(opts)))
        return 2;
    if (batch < 1 || ctx < 1 || reps < 1) { fprintf(stderr, "bench_lm_ops: batch, ctx, reps >= 1\n"); return 2; }
    const srt_lm_ops *ref = &srt_cpu_ref_lm_ops, *cpu = &srt_cpu_lm_ops;
    const int H = 32, KVH = 8, D = 64, dim = H * D, kv_dim = KVH * D, bs = 16, vocab = 128256;
    const int max_blocks = (ctx + bs - 1) / bs;

    /* paged attention, decode: block tables interleave the sequences' blocks as a real cache does */
    size_t n_slots = (size_t)batch * max_blocks * bs;
    float *kc = rnd(n_slots * kv_dim, -1, 1), *vc = rnd(n_slots * kv_dim, -1, 1);
    float *q = rnd((size_t)batch * dim, -1, 1), *out = malloc(sizeof(float) * (size_t)batch * dim);
    int32_t *bt = malloc(sizeof(int32_t) * (size_t)batch * max_blocks), *qs = malloc(4 * (size_t)batch),
            *nq = malloc(4 * (size_t)batch), *cl = malloc(4 * (size_t)batch);
    for (int s = 0; s < batch; s++) {
        for (int b = 0; b < max_blocks; b++) bt[(size_t)s * max_blocks + b] = b * batch + s;
        qs[s] = s; nq[s] = 1; cl[s] = ctx;
    }
    srt_paged_attn_args attn = {batch, H, KVH, D, bs, max_blocks, q, kc, vc, bt, qs, nq, cl, out, SRT_F32, NULL, NULL};
    timing attn_ref = best_time(ref, call_attn, &attn, NULL, reps), attn_cpu = best_time(cpu, call_attn, &attn, NULL, reps);

    float *x = rnd((size_t)batch * dim, -3, 3), *w = rnd(dim, 0.5f, 1.5f), *y = malloc(sizeof(float) * (size_t)batch * dim);
    srt_rmsnorm_args rms = {batch, dim, 1e-5f, x, w, y};
    timing rms_ref = best_time(ref, call_rms, &rms, NULL, reps * 20), rms_cpu = best_time(cpu, call_rms, &rms, NULL, reps * 20);

    float inv_freq[32];
    for (int i = 0; i < D / 2; i++) inv_freq[i] = (float)pow(500000.0, -2.0 * i / D);
    int32_t *pos = malloc(4 * (size_t)batch);
    for (int s = 0; s < batch; s++) pos[s] = ctx - 1;
    srt_rope_args rope = {batch, H, D, pos, inv_freq, q};
    timing rope_ref = best_time(ref, call_rope, &rope, NULL, reps * 20), rope_cpu = best_time(cpu, call_rope, &rope, NULL, reps * 20);

    float *orig = rnd((size_t)batch * vocab, -8, 8), *logits = malloc(sizeof(float) * (size_t)batch * vocab);
    srt_sample_row *rows = calloc((size_t)batch, sizeof *rows);
    int32_t *ids = malloc(4 * (size_t)batch);
    for (int s = 0; s < batch; s++)
        rows[s] = (srt_sample_row){0, vocab, 1.0f / 0.8f, 50, 0.95f, 0, 1.0f, 0, 0, (s + 0.5) / batch};
    sample_bench sb = {{batch, vocab, logits, rows, NULL, ids}, orig};
    timing smp_ref = best_time(ref, call_sample, &sb, restore_sample, reps),
           smp_cpu = best_time(cpu, call_sample, &sb, restore_sample, reps);

    printf("{\"bench\": \"lm_ops\", \"threads\": %d, \"batch\": %d, \"ctx\": %d, \"heads\": %d, \"kv_heads\": %d, "
           "\"head_dim\": %d, \"vocab\": %d,\n", omp_get_max_threads(), batch, ctx, H, KVH, D, vocab);
    report("paged_attention_decode", attn_ref, attn_cpu, 0);
    report("rmsnorm", rms_ref, rms_cpu, 0);
    report("rope", rope_ref, rope_cpu, 0);
    report("sample_topk50_topp095", smp_ref, smp_cpu, 1);
    printf("}\n");
    free(kc); free(vc); free(q); free(out); free(bt); free(qs); free(nq); free(cl);
    free(x); free(w); free(y); free(pos); free(orig); free(logits); free(rows); free(ids);
    return 0;
}
