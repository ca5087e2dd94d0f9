/* bench_gpu_model.c: runs the real CUDA kernel sources through the simulator (tests/cudasim) with its traffic
 * counters on and prints, per simulated run, every launch's counters and the host-side counts (copies,
 * synchronizations, graph replays) as one JSON line. bench/gpu_model.py turns these runs into modeled H100 / A100
 * times (device data in bench/devices/ (one JSON per GPU)), scales them to the full shapes and prints the per-kernel and
 * per-workload JSON; `bench/gpu_model.py --roofline` writes bench/ROOFLINE.md. See bench/GPU_MODEL.md.
 * Runs (full widths; what is shortened is scaled by gpu_model.py, and the JSON says so):
 *   codec_encode / codec_decode  SNAC 24/32/44 kHz, `--seconds` of audio (0.5), simulated at batch 1 and 2
 *                                (the counters of item-independent kernels are affine in the batch: exact
 *                                extrapolation to 16 and 64), or at `--codec-batches` (up to 8; each line says
 *                                "codec_batches"; gpu_model.py extrapolates from the two largest: 1,2,4 for the
 *                                tensor-core convs that put 2 column tiles of the batch in a block, whose counters
 *                                are affine in the batch from 2 items on)
 *   codec_stream                 a streaming decoder push of one group for 1 and 2 streams (extrapolated to 64),
 *                                after 1 + lookahead groups; also the lookahead and the push that emits the
 *                                first audio (first_audio_groups, first_audio_samples)
 *   lm_decode / lm_prefill       Llama-3.2-1B and Orpheus-3B widths with 1 and 2 layers (depth: the difference
 *                                is one layer) and a short vocabulary (the LM head's counters are linear in its
 *                                rows), decode at `--batches` (1,8,16; up to 256; without 64, gpu_model.py
 *                                extrapolates it from 8 and 16) after a `--decode-context` (1) token prompt per
 *                                sequence (prefilled 4,096 tokens at a time; gpu_model.py adds the KV reads up to a
 *                                512-token context), prefill of each `--prompt-len` (512; a comma list) at batch 1
 *   lm_attention                 one layer's rope + KV store + decode attention (rope_store_attention, as the
 *                                forward calls it) at Orpheus-3B widths (24 query heads, 8 KV
 *                                heads, head_dim 128, KV blocks of 16 scattered over the cache) with `--attn-context`
 *                                (1000) tokens of context per sequence, batch 1, 8, 64 (or `--attn-batches`), KV
 *                                cache f32, bf16 and fp8 (`--attn-kv`; model "3b-f32" / "3b-bf16" / "3b-fp8"): the
 *                                op called directly, no model, so the context is real
 * The cuBLAS substitute skips its arithmetic (CUDASIM_GEMM_SKIP=1: outputs zero; its counters are exact from the
 * shapes), so the run costs what the simulated kernels cost. Only in a simulator build (-DSNACRT_CUDASIM=ON).
 * SNACRT_CUDA_IGEMM_PLAN_BATCH=64 (unless set): the implicit-GEMM convs of the batch 1 and 2 runs plan as at batch 64
 * (split ranges folded in the block where 64 items fill the GPU), so the extrapolation to 64 describes that plan.
 * --smoke (the ctest): 24 kHz only, 0.05 s of audio, no streaming push, a tiny LM with a 16-token prompt.
 * --precision fp32|tf32|bf16: the codec's dense convs (srt_codec_options.precision; default fp32).
 * --sample-blocks K (or env CUDASIM_SAMPLE_BLOCKS=K): sampled mode (tests/cudasim/sample.cpp): per launch only K
 *   representative blocks run and the counters are scaled to the grid; every run's JSON says "sampled_blocks": K
 *   (0: every block ran) and every launch its blocks_run. For large shapes that do not finish otherwise; the
 *   figures are approximate (bench/GPU_MODEL.md says where) and no output value is right.
 * Usage: bench_gpu_model [--models DIR] [--smoke] [--only codec|lm|attn] [--seconds S] [--prompt-len N] [--precision P]
 *                        [--decode-context N] [--attn-context N] [--attn-batches 1,8,64] [--attn-kv f32,bf16,fp8] [--lm 1b,3b] [--sample-blocks K] [--batches 1,8,64,256] [--codec-batches 1,2,4] [--lm-layers 1|2 (one of the two runs: split a long
 *                        run over two processes)] [--arch 24khz,32khz,44khz] */
#include "snacrt.h"
#include "bench_common.h"
#include "lm/lm_ops.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef SNACRT_WITH_CUDASIM
#include "tests/cudasim/cudasim_api.h"
#endif

#ifndef SNACRT_WITH_CUDASIM
int main(void) {
    printf("{\"skipped\": \"bench_gpu_model needs the simulator build (-DSNACRT_CUDASIM=ON -DSNACRT_CUDA=OFF)\"}\n");
    return 0;
}
#else
static const char *g_precision = NULL;   /* --precision: the codec's dense convs (fp32 | tf32 | bf16) */

/* The settings a run was made with: the codec precision and the opt-in environment flags of the cuda backend
 * (gpu_model.py keeps runs with different settings apart). */
static void settings(char *out, size_t cap) {
    static const char *flags[] = {"SNACRT_CUDA_BF16_GEMM", "SNACRT_CUDA_TF32", "SNACRT_KV_DTYPE",
                                  "SNACRT_CUDA_FP32_IGEMM", "SNACRT_CUDA_SMALL_M_ROWS", "SNACRT_CUDA_GRAPHS",
                                  "SNACRT_CUDA_LM_PRECISION", "SNACRT_LM_WEIGHTS"};
    int n = snprintf(out, cap, "precision=%s", g_precision ? g_precision : "default");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && n > 0 && (size_t)n < cap; i++) {
        const char *v = getenv(flags[i]);
        if (v && *v && !strpbrk(v, "\"\\")) n += snprintf(out + n, cap - (size_t)n, " %s=%s", flags[i], v);
    }
}

/* One run's JSON line; `extra` (NULL or ",\"key\":value...") is added after the settings. */
static void print_run_x(const char *workload, const char *model, int batch, double audio_s, int layers, int vocab,
                        int tokens, double seconds, const char *extra) {
    cudasim_host_stats h;
    cudasim_host_stats_get(&h);
    char set[256];
    settings(set, sizeof set);
    printf("{\"workload\":\"%s\",\"model\":\"%s\",\"batch\":%d,\"audio_s\":%.4f,\"layers\":%d,\"vocab\":%d,"
           "\"tokens\":%d,\"sim_seconds\":%.2f,\"sampled_blocks\":%d,\"settings\":\"%s\"%s,\"host\":{\"launches\":%llu,\"gemms\":%llu,\"graph_launches\":%llu,"
           "\"h2d_bytes\":%llu,\"h2d_sync\":%llu,\"h2d_async\":%llu,\"d2h_bytes\":%llu,\"d2h_sync\":%llu,"
           "\"d2h_async\":%llu,\"d2d_bytes\":%llu,\"stream_syncs\":%llu,\"device_syncs\":%llu,\"event_syncs\":%llu},"
           "\"launches\":[", workload, model, batch, audio_s, layers, vocab, tokens, seconds, cudasim_get_sample_blocks(), set, extra ? extra : "",
           (unsigned long long)h.launches, (unsigned long long)h.gemms, (unsigned long long)h.graph_launches,
           (unsigned long long)h.h2d_bytes, (unsigned long long)h.h2d_sync, (unsigned long long)h.h2d_async,
           (unsigned long long)h.d2h_bytes, (unsigned long long)h.d2h_sync, (unsigned long long)h.d2h_async,
           (unsigned long long)h.d2d_bytes, (unsigned long long)h.stream_syncs, (unsigned long long)h.device_syncs,
           (unsigned long long)h.event_syncs);
    size_t n = cudasim_launch_stats_count();
    for (size_t i = 0; i < n; i++) {
        const cudasim_launch_stats *s = cudasim_launch_stats_at(i);
        printf("%s[\"%s\",%u,%u,%u,%u,%u,%u,%llu,%llu,%d,%d,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
               "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.0f,%d,%llu]",
               i ? "," : "", s->name, s->grid[0], s->grid[1], s->grid[2], s->block[0], s->block[1], s->block[2],
               (unsigned long long)s->dyn_smem, (unsigned long long)s->static_smem, s->is_gemm, s->unit,
               (unsigned long long)s->gld_bytes, (unsigned long long)s->gst_bytes,
               (unsigned long long)s->gld_requests, (unsigned long long)s->gst_requests,
               (unsigned long long)s->gld_sectors, (unsigned long long)s->gst_sectors,
               (unsigned long long)s->gld_unique, (unsigned long long)s->gst_unique,
               (unsigned long long)s->sh_requests, (unsigned long long)s->sh_bytes,
               (unsigned long long)s->sh_wavefronts, (unsigned long long)s->local_bytes,
               (unsigned long long)s->atomics, (unsigned long long)s->atomic_requests,
               (unsigned long long)s->atomic_same_addr, (unsigned long long)s->barriers,
               (unsigned long long)s->threads, (unsigned long long)s->ld4_lanes, s->flops, s->in_graph,
               (unsigned long long)s->blocks_run);
    }
    printf("]}\n");
    fflush(stdout);
    cudasim_counters_reset();
}

static void print_run(const char *workload, const char *model, int batch, double audio_s, int layers, int vocab,
                      int tokens, double seconds) {
    print_run_x(workload, model, batch, audio_s, layers, vocab, tokens, seconds, NULL);
}

/* sampled mode: the VQ search ran in a few blocks only, so the codes are garbage; decode valid codes spread over the
 * codebook instead (its lookups' traffic depends on which rows are read) */
static void valid_codes(srt_codes *codes, int batch, const srt_codec_info *info) {
    for (int b = 0; b < batch && cudasim_get_sample_blocks() > 0; b++)
        for (int l = 0; l < codes[b].n_levels; l++)
            for (int f = 0; f < codes[b].n_frames[l]; f++)
                codes[b].codes[l][f] = (int32_t)(((uint64_t)f * 7919u + (uint64_t)l * 104729u + (uint64_t)b * 31u) %
                                                 (uint64_t)info->codebook_size);
}

/* SNACRT_CUDA_GRAPHS (cuda/lm_graph.c): recorded passes unless it is 0 */
static int graphs_on(void) {
    const char *v = getenv("SNACRT_CUDA_GRAPHS");
    return !(v && *v && atoi(v) == 0);
}

#define CODEC_MAX_BATCH 8
static int g_codec_batches[CODEC_MAX_BATCH] = {1, 2}, g_n_codec_batches = 2;
static char g_codec_batches_json[64] = ",\"codec_batches\":\"1,2\"";   /* added to every codec run line */

static int codec_runs(const char *argv0, const char *models, const char *arch, double seconds, int stream) {
    char dir[PATH_MAX];
    if (ensure_model("bench_gpu_model", argv0, models, arch, dir, sizeof dir)) return 1;
    srt_codec_options opts = {.backend = "cuda", .precision = g_precision};
    srt_codec *codec = NULL;
    if (srt_codec_load(dir, &opts, &codec) != SRT_OK) {
        fprintf(stderr, "bench_gpu_model: loading %s: %s\n", dir, srt_last_error());
        return 1;
    }
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int64_t n = (int64_t)(seconds * info.sample_rate);
    int rc = 0;
    for (int bi = 0; bi < g_n_codec_batches && !rc; bi++) {
        int batch = g_codec_batches[bi];
        float *audio[CODEC_MAX_BATCH] = {NULL}, *out[CODEC_MAX_BATCH] = {NULL};
        int64_t lens[CODEC_MAX_BATCH], n_out[CODEC_MAX_BATCH] = {0};
        for (int b = 0; b < CODEC_MAX_BATCH; b++) lens[b] = n;
        srt_codes codes[CODEC_MAX_BATCH];
        memset(codes, 0, sizeof codes);
        for (int b = 0; b < batch; b++) {
            audio[b] = malloc(sizeof(float) * (size_t)n);
            speech_like(audio[b], n, info.sample_rate, (uint64_t)b + 1);
        }
        /* untimed: with CUDA graphs on (the default) the first call of a shape runs eagerly and the second records
         * it; the measured call replays, as every later call of a batch job does */
        int warm = graphs_on() ? 2 : 0;
        for (int w = 0; w < warm && !rc; w++) {
            srt_codes tmp[CODEC_MAX_BATCH];
            float *dec[CODEC_MAX_BATCH] = {NULL};
            int64_t nd[CODEC_MAX_BATCH];
            if (srt_codec_encode(codec, batch, (const float *const *)audio, lens, tmp, NULL, NULL) != SRT_OK) rc = 1;
            if (!rc) valid_codes(tmp, batch, &info);
            if (!rc && srt_codec_decode(codec, batch, tmp, -1, dec, nd) != SRT_OK) rc = 1;
            for (int b = 0; b < batch; b++) { srt_codes_free(&tmp[b]); free(dec[b]); }
        }
        cudasim_counters_reset();
        double t0 = now_s();
        if (!rc && srt_codec_encode(codec, batch, (const float *const *)audio, lens, codes, NULL, NULL) != SRT_OK) rc = 1;
        if (!rc) print_run_x("codec_encode", arch, batch, seconds, 0, 0, 0, now_s() - t0, g_codec_batches_json);
        if (!rc) valid_codes(codes, batch, &info);
        t0 = now_s();
        if (!rc && srt_codec_decode(codec, batch, codes, -1, out, n_out) != SRT_OK) rc = 1;
        if (!rc) print_run_x("codec_decode", arch, batch, seconds, 0, 0, 0, now_s() - t0, g_codec_batches_json);
        /* streaming: open `batch` streams, push one group each (the steady-state push of a live stream) */
        srt_codec_stream *st[CODEC_MAX_BATCH] = {NULL};
        for (int b = 0; b < batch && !rc && stream; b++)
            if (srt_codec_stream_open(codec, 0, &st[b]) != SRT_OK) rc = 1;
        if (!rc && stream) {
            int L = info.n_levels, groups = 1 + srt_codec_stream_lookahead(st[0]);
            srt_codes chunk[CODEC_MAX_BATCH];
            memset(chunk, 0, sizeof chunk);
            int fin[CODEC_MAX_BATCH] = {0};
            float *aout[CODEC_MAX_BATCH] = {NULL};
            int64_t nout[CODEC_MAX_BATCH] = {0};
            for (int b = 0; b < batch; b++) {
                chunk[b].n_levels = L;
                for (int l = 0; l < L; l++) {
                    int nf = groups * info.vq_strides[0] / info.vq_strides[l];
                    chunk[b].n_frames[l] = nf;
                    chunk[b].codes[l] = calloc((size_t)nf, sizeof(int32_t));
                }
            }
            /* warm-up: the first audio's push (first_audio_groups groups: its samples are the first audio), then the
             * rest of 1 + lookahead groups, so the measured push is a steady one */
            const int G = srt_codec_stream_first_audio_groups(st[0]);
            int64_t first_samples = 0;
            for (int part = 0; part < 2 && !rc; part++) {
                int ng = part ? groups - G : G;
                for (int b = 0; b < batch; b++)
                    for (int l = 0; l < L; l++) chunk[b].n_frames[l] = ng * info.vq_strides[0] / info.vq_strides[l];
                if (srt_codec_stream_push(batch, st, chunk, fin, aout, nout) != SRT_OK) rc = 1;
                if (!part) first_samples = nout[0];
                for (int b = 0; b < batch; b++) { free(aout[b]); aout[b] = NULL; }
            }
            for (int b = 0; b < batch && !rc; b++)
                for (int l = 0; l < L; l++) chunk[b].n_frames[l] = info.vq_strides[0] / info.vq_strides[l];
            /* with graphs on, the first one-group push runs eagerly and the second records it: the measured push
             * replays, as every later push of a live stream does */
            for (int w = 0; w < warm && !rc; w++) {
                if (srt_codec_stream_push(batch, st, chunk, fin, aout, nout) != SRT_OK) rc = 1;
                for (int b = 0; b < batch; b++) { free(aout[b]); aout[b] = NULL; }
            }
            cudasim_counters_reset();
            t0 = now_s();
            if (!rc && srt_codec_stream_push(batch, st, chunk, fin, aout, nout) != SRT_OK) rc = 1;
            /* tokens: the groups of the warm-up (1 + lookahead); first_audio_groups / _samples: the push that emits
             * a new stream's first (final) samples, and how many it emits */
            char extra[256];
            snprintf(extra, sizeof extra, ",\"lookahead\":%d,\"first_audio_groups\":%d,\"first_audio_samples\":%lld,"
                     "\"first_audio_s\":%.5f%s", srt_codec_stream_lookahead(st[0]), G, (long long)first_samples,
                     (double)first_samples / info.sample_rate, g_codec_batches_json);
            if (!rc)
                print_run_x("codec_stream", arch, batch,
                            (double)srt_codec_stream_group_samples(st[0]) / info.sample_rate, 0, 0, groups,
                            now_s() - t0, extra);
            for (int b = 0; b < batch; b++) {
                free(aout[b]);
                for (int l = 0; l < L; l++) free(chunk[b].codes[l]);
            }
        }
        for (int b = 0; b < batch; b++) {
            srt_codec_stream_free(st[b]);
            free(audio[b]);
            free(out[b]);
            srt_codes_free(&codes[b]);
        }
    }
    if (rc) fprintf(stderr, "bench_gpu_model: %s: %s\n", arch, srt_last_error());
    srt_codec_free(codec);
    return rc;
}

#define MAX_DECODE_BATCH 256
#define PREFILL_CHUNK_TOKENS 4096

static int make_lm(const char *argv0, const char *models, const char *dims, int layers, int vocab, char *dir,
                   size_t cap) {
    snprintf(dir, cap, "%s/llama_%s_l%d_v%d", models, dims, layers, vocab);
    char args[PATH_MAX + 128];
    snprintf(args, sizeof args, "--dims %s --layers %d --vocab %d --out '%s' > /dev/null", dims, layers, vocab, dir);
    return bench_make_model("bench_gpu_model", argv0, models, dir, "make_llama_model", args);
}

static int lm_runs(const char *argv0, const char *models, const char *dims, int vocab, const int *prompt_lens,
                   int n_prompts, int decode_prompt, const int *batches, int n_batches, int only_layers) {
    int rc = 0;
    for (int layers = 1; layers <= 2 && !rc; layers++) {
        if (only_layers && layers != only_layers) continue;
        char dir[PATH_MAX];
        if (make_lm(argv0, models, dims, layers, vocab, dir, sizeof dir)) return 1;
        int max_batch = 1;
        for (int i = 0; i < n_batches; i++) max_batch = batches[i] > max_batch ? batches[i] : max_batch;
        int prompt_len = 1;
        for (int i = 0; i < n_prompts; i++) prompt_len = prompt_lens[i] > prompt_len ? prompt_lens[i] : prompt_len;
        /* the decode contexts are prefilled PREFILL_CHUNK_TOKENS at a time (bounded activations at batch 256) */
        int chunk_seqs = PREFILL_CHUNK_TOKENS / decode_prompt > 0 ? PREFILL_CHUNK_TOKENS / decode_prompt : 1;
        int max_tokens = prompt_len > chunk_seqs * decode_prompt ? prompt_len : chunk_seqs * decode_prompt;
        if (max_tokens < max_batch) max_tokens = max_batch;
        int64_t per_seq = ((int64_t)decode_prompt + 3 + 15) / 16 * 16 + 16;
        srt_lm_options opts = {.backend = "cuda", .kv_block_size = 16,
                               .kv_max_tokens = (int64_t)max_batch * per_seq + prompt_len + 64,
                               .max_batch_tokens = max_tokens};
        srt_lm *lm = NULL;
        if (srt_lm_load(dir, &opts, &lm) != SRT_OK) {
            fprintf(stderr, "bench_gpu_model: loading %s: %s\n", dir, srt_last_error());
            return 1;
        }
        int n_prompt = prompt_len > decode_prompt ? prompt_len : decode_prompt;
        int32_t *prompt = malloc(sizeof(int32_t) * (size_t)n_prompt);
        for (int i = 0; i < n_prompt; i++) prompt[i] = (int32_t)((i * 7919 + 13) % vocab);
        int seqs[MAX_DECODE_BATCH], lens[MAX_DECODE_BATCH];
        const int32_t *toks[MAX_DECODE_BATCH];
        int32_t next[MAX_DECODE_BATCH];
        /* one decode step per batch, each sequence at decode_prompt + 3 tokens of context */
        for (int bi = 0; bi < n_batches && !rc; bi++) {
            int B = batches[bi];
            for (int b = 0; b < B; b++) { srt_lm_seq_open(lm, &seqs[b]); toks[b] = prompt; lens[b] = decode_prompt; }
            /* the contexts' prefill is set-up, not measured: in sampled mode with the fewest blocks */
            int k_sample = cudasim_get_sample_blocks();
            if (k_sample) cudasim_set_sample_blocks(3);
            for (int b0 = 0; b0 < B && !rc; b0 += chunk_seqs)
                if (srt_lm_forward(lm, B - b0 < chunk_seqs ? B - b0 : chunk_seqs, seqs + b0, toks + b0, lens + b0, 0,
                                   NULL) != SRT_OK)
                    rc = 1;
            cudasim_set_sample_blocks(k_sample);
            for (int b = 0; b < B; b++) { next[b] = 1 + b; toks[b] = &next[b]; lens[b] = 1; }
            for (int s = 0; s < 2 && !rc; s++)   /* untimed: a CUDA device records its decode graph here */
                if (srt_lm_forward(lm, B, seqs, toks, lens, 0, NULL) != SRT_OK) rc = 1;
            cudasim_counters_reset();
            double t0 = now_s();
            if (!rc && srt_lm_forward(lm, B, seqs, toks, lens, 0, NULL) != SRT_OK) rc = 1;
            if (!rc) print_run("lm_decode", dims, B, 0, layers, vocab, decode_prompt + 3, now_s() - t0);
            for (int b = 0; b < B; b++) srt_lm_seq_close(lm, seqs[b]);
        }
        /* prefill of each prompt length, batch 1 */
        for (int pi = 0; pi < n_prompts && !rc; pi++) {
            srt_lm_seq_open(lm, &seqs[0]);
            toks[0] = prompt;
            lens[0] = prompt_lens[pi];
            cudasim_counters_reset();
            double t0 = now_s();
            if (srt_lm_forward(lm, 1, seqs, toks, lens, 0, NULL) != SRT_OK) rc = 1;
            if (!rc) print_run("lm_prefill", dims, 1, 0, layers, vocab, prompt_lens[pi], now_s() - t0);
            srt_lm_seq_close(lm, seqs[0]);
        }
        if (rc) fprintf(stderr, "bench_gpu_model: lm %s: %s\n", dims, srt_last_error());
        free(prompt);
        srt_lm_free(lm);
    }
    return rc;
}

/* lm_attention runs (see the top comment); the cache holds zeros (traffic does not depend on the values). */
static int attn_runs(int ctx, const int *batches, int n_batches, unsigned dt_mask) {
    enum { H = 24, KVH = 8, D = 128, BS = 16 };
    srt_backend be;
    if (srt_backend_create("cuda", 0, &be) != SRT_OK) {
        fprintf(stderr, "bench_gpu_model: cuda backend: %s\n", srt_last_error());
        return 1;
    }
    int rc = 0;
    const srt_dtype dts[3] = {SRT_F32, SRT_BF16, SRT_F8E4M3};
    const char *dt_tags[3] = {"3b-f32", "3b-bf16", "3b-fp8"};
    for (int di = 0; di < 3 && !rc; di++)
        for (int bi = 0; bi < n_batches && !rc; bi++) {
            if (!(dt_mask >> di & 1)) continue;
            int B = batches[bi], max_blocks = (ctx + BS - 1) / BS;
            size_t cache_bytes = srt_dtype_size(dts[di]) * (size_t)B * max_blocks * BS * KVH * D;
            size_t scale_bytes = dts[di] == SRT_F8E4M3 ? sizeof(float) * (size_t)B * max_blocks * BS * KVH : 0;
            int32_t *table = malloc(sizeof(int32_t) * (size_t)B * max_blocks), *slot = malloc(sizeof(int32_t) * B);
            int32_t *q_start = malloc(sizeof(int32_t) * B), *n_q = malloc(sizeof(int32_t) * B);
            int32_t *ctx_len = malloc(sizeof(int32_t) * B);
            float *q = calloc((size_t)B * H * D, sizeof(float)), *kv = calloc((size_t)B * KVH * D, sizeof(float));
            for (int s = 0; s < B; s++) {
                for (int b = 0; b < max_blocks; b++) table[(size_t)s * max_blocks + b] = b * B + s;   /* interleaved */
                q_start[s] = s; n_q[s] = 1; ctx_len[s] = ctx;
                slot[s] = table[(size_t)s * max_blocks + (ctx - 1) / BS] * BS + (ctx - 1) % BS;
            }
            void *kc = NULL, *vc = NULL, *dq = NULL, *dkv = NULL, *dout = NULL, *dtab = NULL, *dslot = NULL;
            void *dqs = NULL, *dnq = NULL, *dctx = NULL, *ksc = NULL, *vsc = NULL;
            srt_status st = srt_backend_alloc_zero(&be, cache_bytes, &kc);
            if (st == SRT_OK && scale_bytes) st = srt_backend_alloc_zero(&be, scale_bytes, &ksc);
            if (st == SRT_OK && scale_bytes) st = srt_backend_alloc_zero(&be, scale_bytes, &vsc);
            if (st == SRT_OK) st = srt_backend_alloc_zero(&be, cache_bytes, &vc);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, q, sizeof(float) * (size_t)B * H * D, &dq);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, kv, sizeof(float) * (size_t)B * KVH * D, &dkv);
            if (st == SRT_OK) st = srt_backend_alloc_zero(&be, sizeof(float) * (size_t)B * H * D, &dout);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, table, sizeof(int32_t) * (size_t)B * max_blocks, &dtab);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, slot, sizeof(int32_t) * B, &dslot);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, q_start, sizeof(int32_t) * B, &dqs);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, n_q, sizeof(int32_t) * B, &dnq);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, ctx_len, sizeof(int32_t) * B, &dctx);
            /* rope + KV store + attention as the forward calls them (one fused launch on cuda) */
            int32_t *pos = malloc(sizeof(int32_t) * B);
            float inv_freq[D / 2];
            for (int s = 0; s < B && pos; s++) pos[s] = ctx - 1;
            for (int i = 0; i < D / 2; i++) inv_freq[i] = (float)pow(500000.0, -2.0 * i / D);
            void *dpos = NULL, *dfreq = NULL;
            if (!pos) st = SRT_ERR_NOMEM;
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, pos, sizeof(int32_t) * B, &dpos);
            if (st == SRT_OK) st = srt_backend_alloc_upload(&be, inv_freq, sizeof inv_freq, &dfreq);
            srt_rope_store_attn_args rsa = {
                .attn = {B, H, KVH, D, BS, max_blocks, dq, kc, vc, dtab, dqs, dnq, dctx, dout, dts[di], ksc, vsc},
                .n_tokens = B, .k = dkv, .v = dkv, .pos = dpos, .slot = dslot, .inv_freq = dfreq};
            srt_attn_host_plan plan = {n_q, ctx_len, ctx};
            cudasim_counters_reset();
            double t0 = now_s();
            if (st == SRT_OK) st = srt_op_rope_store_attention(&be, &rsa, &plan);
            if (st == SRT_OK) st = be.ops->sync(be.ctx);
            if (st == SRT_OK) print_run("lm_attention", dt_tags[di], B, 0, 1, 0, ctx,
                                        now_s() - t0);
            else { fprintf(stderr, "bench_gpu_model: attention batch %d: %s\n", B, srt_last_error()); rc = 1; }
            void *bufs[14] = {kc, vc, dq, dkv, dout, dtab, dslot, dqs, dnq, dctx, dpos, dfreq, ksc, vsc};
            for (int i = 0; i < 14; i++) if (bufs[i]) be.ops->free(be.ctx, bufs[i]);
            free(table); free(slot); free(q_start); free(n_q); free(ctx_len); free(q); free(kv); free(pos);
        }
    srt_backend_destroy(&be);
    return rc;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *only = "", *lm_dims = "1b,3b", *archs = "24khz,32khz,44khz";
    int smoke = 0, decode_prompt = 1, only_layers = 0, attn_ctx = 1000;
    const char *attn_batches = NULL, *attn_kv = "f32,bf16,fp8";
    const char *prompt_arg = "512";   /* prefill lengths, comma separated */
    int prompt_lens[8], n_prompts = 0;
    const char *batches_arg = "1,8,16";
    const char *codec_batches_arg = NULL;
    const char *sample_env = getenv("CUDASIM_SAMPLE_BLOCKS");
    int sample = sample_env ? atoi(sample_env) : 0;   /* sampled mode: blocks per launch (0: every block) */
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--prompt-len") && i + 1 < argc) prompt_arg = argv[++i];
        else if (!strcmp(argv[i], "--decode-context") && i + 1 < argc) decode_prompt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lm") && i + 1 < argc) lm_dims = argv[++i];
        else if (!strcmp(argv[i], "--lm-layers") && i + 1 < argc) only_layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) archs = argv[++i];
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches_arg = argv[++i];
        else if (!strcmp(argv[i], "--codec-batches") && i + 1 < argc) codec_batches_arg = argv[++i];
        else if (!strcmp(argv[i], "--attn-context") && i + 1 < argc) attn_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--attn-batches") && i + 1 < argc) attn_batches = argv[++i];
        else if (!strcmp(argv[i], "--attn-kv") && i + 1 < argc) attn_kv = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) g_precision = argv[++i];
        else if (!strcmp(argv[i], "--sample-blocks") && i + 1 < argc) sample = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--smoke")) smoke = 1;
        else {
            fprintf(stderr, "usage: bench_gpu_model [--models DIR] [--smoke] [--only codec|lm|attn] [--seconds S] "
                            "[--prompt-len N] [--attn-context N] [--attn-batches 1,8,64] [--attn-kv f32,bf16,fp8] [--decode-context N] [--lm 1b,3b] [--lm-layers 1|2] "
                            "[--batches 1,8,16] [--codec-batches 1,2,4] [--arch 24khz,...] [--precision fp32|tf32|bf16] [--sample-blocks K]\n");
            return 2;
        }
    }
    char list[128];
    snprintf(list, sizeof list, "%s", prompt_arg);
    for (char *sv = NULL, *p = strtok_r(list, ",", &sv); p && n_prompts < 8; p = strtok_r(NULL, ",", &sv))
        prompt_lens[n_prompts++] = atoi(p);
    if (codec_batches_arg) {   /* --codec-batches 1,2,4: increasing, each in [1, CODEC_MAX_BATCH] */
        g_n_codec_batches = 0;
        snprintf(list, sizeof list, "%s", codec_batches_arg);
        for (char *sv = NULL, *b = strtok_r(list, ",", &sv); b; b = strtok_r(NULL, ",", &sv)) {
            int v = atoi(b);
            if (v < 1 || v > CODEC_MAX_BATCH || g_n_codec_batches == CODEC_MAX_BATCH ||
                (g_n_codec_batches && v <= g_codec_batches[g_n_codec_batches - 1]) || strpbrk(b, "\"\\")) {
                fprintf(stderr, "bench_gpu_model: --codec-batches %s: increasing batches in [1, %d]\n",
                        codec_batches_arg, CODEC_MAX_BATCH);
                return 2;
            }
            g_codec_batches[g_n_codec_batches++] = v;
        }
        if (g_n_codec_batches < 2) {
            fprintf(stderr, "bench_gpu_model: --codec-batches %s: at least two batches\n", codec_batches_arg);
            return 2;
        }
        snprintf(g_codec_batches_json, sizeof g_codec_batches_json, ",\"codec_batches\":\"%s\"", codec_batches_arg);
    }
    int bad_prompt = n_prompts == 0;
    for (int i = 0; i < n_prompts; i++) bad_prompt |= prompt_lens[i] < 1 || prompt_lens[i] > 4096;
    if (bad_prompt || decode_prompt < 1 || decode_prompt > 4096 || attn_ctx < 1 || attn_ctx > 131072) {
        fprintf(stderr, "bench_gpu_model: --prompt-len (a comma list) and --decode-context in [1, 4096], "
                        "--attn-context in [1, 131072]\n");
        return 2;
    }
    setenv("CUDASIM_GEMM_SKIP", "1", 1);
    /* the codec's batch 1 and 2 runs are extrapolated to batch 64: the implicit GEMMs plan their split folding for
     * 64 items (cuda/conv_igemm.cuh; the same bits at any batch) */
    setenv("SNACRT_CUDA_IGEMM_PLAN_BATCH", "64", 0);
    cudasim_counters_enable(1);
    cudasim_set_sample_blocks(sample);
    if (smoke) {
        seconds = seconds < 0.05 ? seconds : 0.05;
        for (int i = 0; i < n_prompts; i++) prompt_lens[i] = prompt_lens[i] < 16 ? prompt_lens[i] : 16;
        decode_prompt = decode_prompt < 8 ? decode_prompt : 8;
        archs = "24khz";
        lm_dims = "tiny";
    }
    int rc = 0;
    if (!*only || !strcmp(only, "codec")) {
        snprintf(list, sizeof list, "%s", archs);
        for (char *sv = NULL, *a = strtok_r(list, ",", &sv); a; a = strtok_r(NULL, ",", &sv))
            rc |= codec_runs(argv[0], models, a, seconds, !smoke);
    }
    if (!*only || !strcmp(only, "lm")) {
        int dec[8], n_dec = 0;   /* decode batches (gpu_model.py extrapolates 64 from 8 and 16 when 64 is not run) */
        snprintf(list, sizeof list, "%s", batches_arg);
        for (char *sv = NULL, *b = strtok_r(list, ",", &sv); b && n_dec < 8; b = strtok_r(NULL, ",", &sv))
            if (atoi(b) >= 1 && atoi(b) <= MAX_DECODE_BATCH) dec[n_dec++] = atoi(b);
        snprintf(list, sizeof list, "%s", lm_dims);
        for (char *sv = NULL, *d = strtok_r(list, ",", &sv); d; d = strtok_r(NULL, ",", &sv))
            rc |= lm_runs(argv[0], models, d, strcmp(d, "tiny") ? 4096 : 512, prompt_lens, n_prompts, decode_prompt,
                          dec, n_dec, only_layers);
    }
    if (!*only || !strcmp(only, "attn")) {
        int attn_b[8] = {1, 8, 64}, n_attn = 3;
        if (attn_batches) {   /* --attn-batches 64,256 */
            n_attn = 0;
            snprintf(list, sizeof list, "%s", attn_batches);
            for (char *sv = NULL, *b = strtok_r(list, ",", &sv); b && n_attn < 8; b = strtok_r(NULL, ",", &sv))
                if (atoi(b) >= 1 && atoi(b) <= MAX_DECODE_BATCH) attn_b[n_attn++] = atoi(b);
        }
        unsigned mask = 0;    /* --attn-kv f32,bf16,fp8 (default all three) */
        snprintf(list, sizeof list, "%s", attn_kv);
        for (char *sv = NULL, *k = strtok_r(list, ",", &sv); k; k = strtok_r(NULL, ",", &sv))
            mask |= !strcmp(k, "f32") ? 1u : !strcmp(k, "bf16") ? 2u : !strcmp(k, "fp8") ? 4u : 0u;
        rc |= attn_runs(smoke ? 33 : attn_ctx, attn_b, smoke ? 1 : n_attn, mask ? mask : 7u);
    }
    return rc;
}
#endif
