/* bench_tts.c: speech generation speed for Orpheus-3B dimensions on this machine's CPU, printed as one JSON object.
 *   bench_tts [--layers 2,4] [--batches 1,8,32] [--steps 6] [--context 64] [--engine-tokens 21] [--models DIR]
 *             [--src REPO] [--device cpu] [--no-engine]
 * - Makes random-weight models once (tools/make_llama_model / make_snac_model next to this binary): Llama-3.2-3B
 *   dimensions with the Orpheus vocabulary (hidden 3072, 24/8 heads, FFN 8192, vocab 156940, bf16) at each depth
 *   of --layers (the full 28 layers is ~6.5 GB and slow here), plus the full-size 24 kHz SNAC codec; the tokenizer
 *   is tests/data/llama/tiny-orpheus/tokenizer.json (symlinked).
 * - LM: decode step time at each batch (srt_lm_forward, context ~ prompt + a few hundred tokens) for each depth;
 *   the full-depth step time is extrapolated linearly in the layer count from the two shallowest depths
 *   (t(L) = fixed + L * per_layer; the fixed part is embedding + LM head + logits copy).
 * - Codec: streaming decode cost per frame group (2048 samples, 85.3 ms) at 1 and 8 streams per push.
 * - Real-time streams: a stream needs 7 tokens per 85.3 ms = 82 tokens/s; at batch B one step takes
 *   T(B) + (B / 7) * t_group (each stream finishes a group every 7 steps), so B streams are real time while
 *   1 / that >= 82. Reported for the full depth from the measured batches (interpolated in B).
 * - Engine: the whole engine (scheduler + sampler + masking + streaming codec) at each batch on the shallowest
 *   model: tokens/s and time to first audio, for the scheduler's overhead over the bare forward.
 * Run with the machine's OpenBLAS safety settings removed: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE. */
#include "snacrt.h"
#include "snacrt_tts.h"
#include "bench_common.h"
#include <omp.h>
#include <pthread.h>

#define FULL_LAYERS 28
#define TOKENS_PER_S_REALTIME (7.0 / (2048.0 / 24000.0))   /* 82.03 */

static int ensure_lm(const char *argv0, const char *models, const char *src, int layers, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/orpheus3b_L%d", models, layers);
    char args[PATH_MAX + 128];
    snprintf(args, sizeof args, "--dims 3b --vocab 156940 --layers %d --out '%s' >&2", layers, dir);
    if (bench_make_model("bench_tts", argv0, models, dir, "make_llama_model", args)) return 1;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (access(path, R_OK) != 0) {
        char target[PATH_MAX + 64];
        snprintf(target, sizeof target, "%s/tests/data/llama/tiny-orpheus/tokenizer.json", src);
        char *abs = realpath(target, NULL);
        if (!abs || symlink(abs, path)) {
            fprintf(stderr, "bench_tts: cannot link %s (give --src REPO)\n", target);
            free(abs);
            return 1;
        }
        free(abs);
    }
    return 0;
}

/* Mean decode step time at batch B with a context of ctx tokens per sequence. */
static double lm_step_s(srt_lm *lm, int B, int ctx, int steps) {
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    float *logits = malloc(sizeof(float) * (size_t)B * (size_t)info.vocab_size);
    int *seqs = malloc(sizeof(int) * (size_t)B), *lens = malloc(sizeof(int) * (size_t)B);
    const int32_t **toks = malloc(sizeof *toks * (size_t)B);
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)ctx), *next = malloc(sizeof(int32_t) * (size_t)B);
    for (int i = 0; i < ctx; i++) prompt[i] = 128266 + (i * 7919) % 28672;
    double dt = -1;
    int ok = 1;
    for (int b = 0; b < B; b++) { srt_lm_seq_open(lm, &seqs[b]); toks[b] = prompt; lens[b] = ctx; }
    /* prefill in slices the LM accepts */
    for (int b = 0; b < B && ok; b++) ok = srt_lm_forward(lm, 1, &seqs[b], &toks[b], &lens[b], 0, logits) == SRT_OK;
    for (int b = 0; b < B; b++) { next[b] = 128266 + b; toks[b] = &next[b]; lens[b] = 1; }
    if (ok) ok = srt_lm_forward(lm, B, seqs, toks, lens, 0, logits) == SRT_OK;      /* warm-up */
    double t0 = now_s();
    for (int s = 0; s < steps && ok; s++) ok = srt_lm_forward(lm, B, seqs, toks, lens, 0, logits) == SRT_OK;
    if (ok) dt = (now_s() - t0) / steps;
    else fprintf(stderr, "bench_tts: forward: %s\n", srt_last_error());
    for (int b = 0; b < B; b++) srt_lm_seq_close(lm, seqs[b]);
    free(logits); free(seqs); free(lens); free(toks); free(prompt); free(next);
    return dt;
}

/* Streaming decode time per group with n streams pushing one group each per call. */
static double codec_group_s(srt_codec *codec, int n, int pushes) {
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    srt_codec_stream **st = calloc((size_t)n, sizeof *st);
    srt_codes *chunks = calloc((size_t)n, sizeof *chunks);
    int *final = calloc((size_t)n, sizeof(int));
    float **audio = calloc((size_t)n, sizeof *audio);
    int64_t *n_out = calloc((size_t)n, sizeof *n_out);
    int32_t codes[3][4];
    uint64_t rng = 12345;
    for (int i = 0; i < n; i++) {
        srt_codec_stream_open(codec, -1, &st[i]);
        chunks[i].n_levels = info.n_levels;
        for (int L = 0; L < info.n_levels; L++) {
            chunks[i].n_frames[L] = info.vq_strides[0] / info.vq_strides[L];
            chunks[i].codes[L] = codes[L];
        }
    }
    double t = 0;
    for (int p = 0; p < pushes + 2; p++) {
        for (int L = 0; L < 3; L++)
            for (int k = 0; k < 4; k++) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; codes[L][k] = (int32_t)(rng % (uint64_t)info.codebook_size); }
        double t0 = now_s();
        if (srt_codec_stream_push(n, st, chunks, final, audio, n_out) != SRT_OK) {
            fprintf(stderr, "bench_tts: codec push: %s\n", srt_last_error());
            t = -1;
            break;
        }
        if (p >= 2) t += now_s() - t0;       /* the first pushes only fill the lookahead */
        for (int i = 0; i < n; i++) { free(audio[i]); audio[i] = NULL; }
    }
    for (int i = 0; i < n; i++) srt_codec_stream_free(st[i]);
    free(st); free(chunks); free(final); free(audio); free(n_out);
    return t < 0 ? -1 : t / pushes / n;
}

typedef struct engine_wait { pthread_mutex_t mu; pthread_cond_t cv; int left; double first_ms_sum; int n_first; } engine_wait;

static int bench_cb(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    (void)pcm; (void)n; (void)status;
    engine_wait *w = user;
    if (!done) return 0;
    pthread_mutex_lock(&w->mu);
    if (st && st->first_audio_ms > 0) { w->first_ms_sum += st->first_audio_ms; w->n_first++; }
    w->left--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* The whole engine at batch B: B requests of `tokens` tokens each submitted together. */
static int engine_run(const char *lm_dir, const char *codec_dir, const char *device, int B, int tokens, double *tok_s,
                      double *first_ms, int *lookahead) {
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.backend = device;
    cfg.max_running = B;
    cfg.sampling.max_tokens = tokens;
    srt_tts_engine *e = NULL;
    if (srt_tts_engine_create(&cfg, &e) != SRT_OK) { fprintf(stderr, "bench_tts: engine: %s\n", srt_last_error()); return 1; }
    *lookahead = srt_tts_lookahead(e);
    engine_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, B, 0, 0};
    srt_sampling_params sp = cfg.sampling;
    double t0 = now_s();
    for (int i = 0; i < B; i++) {
        sp.seed = (uint64_t)i;
        srt_tts_request req = {.text = "Hello there, this is a benchmark of streaming speech.", .sampling = &sp};
        if (srt_tts_submit(e, &req, bench_cb, &w, NULL) != SRT_OK) {
            fprintf(stderr, "bench_tts: submit: %s\n", srt_last_error());
            pthread_mutex_lock(&w.mu); w.left--; pthread_mutex_unlock(&w.mu);
        }
    }
    pthread_mutex_lock(&w.mu);
    while (w.left > 0) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    double wall = now_s() - t0;
    srt_tts_metrics m;
    srt_tts_get_metrics(e, &m);
    *tok_s = (double)m.generated_tokens_total / wall;
    *first_ms = w.n_first ? w.first_ms_sum / w.n_first : -1;
    srt_tts_engine_free(e);
    return 0;
}

static int parse_list(const char *s, int *out, int max) {
    int n = 0;
    while (s && *s && n < max) {
        out[n++] = atoi(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

int main(int argc, char **argv) {
    const char *models = "/tmp/snacrt_bench_models", *device = "cpu", *src = getenv("SNACRT_SRC");
    const char *layers_arg = "2,4", *batches_arg = "1,8,32";
    int steps = 6, engine_tokens = 21, run_engine = 1, ctx = 64;
    if (!src) src = ".";
    const bench_opt opts[] = {{"--no-engine", BENCH_FLAG, &run_engine, 0}, {"--layers", BENCH_STR, &layers_arg, 0},
                              {"--batches", BENCH_STR, &batches_arg, 0}, {"--steps", BENCH_INT, &steps, 0},
                              {"--engine-tokens", BENCH_INT, &engine_tokens, 0}, {"--context", BENCH_INT, &ctx, 0},
                              {"--models", BENCH_STR, &models, 0}, {"--src", BENCH_STR, &src, 0},
                              {"--device", BENCH_STR, &device, 0}};
    if (bench_parse_opts("bench_tts", NULL, argc, argv, 1, opts, BENCH_N_OPTS(opts))) return 2;
    int layers[8], batches[8];
    int n_layers = parse_list(layers_arg, layers, 8), n_batches = parse_list(batches_arg, batches, 8);
    if (n_layers < 1 || n_batches < 1 || steps < 1) { fprintf(stderr, "bench_tts: bad --layers/--batches/--steps\n"); return 2; }
    int max_batch = 1;
    for (int b = 0; b < n_batches; b++) if (batches[b] > max_batch) max_batch = batches[b];

    char codec_dir[PATH_MAX];
    if (ensure_model("bench_tts", argv[0], models, "24khz", codec_dir, sizeof codec_dir)) return 1;
    srt_codec_options co = {.backend = device};
    srt_codec *codec = NULL;
    if (srt_codec_load(codec_dir, &co, &codec) != SRT_OK) { fprintf(stderr, "bench_tts: %s\n", srt_last_error()); return 1; }
    double group1 = codec_group_s(codec, 1, 8), group8 = codec_group_s(codec, 8, 4);
    srt_codec_free(codec);

    printf("{\"device\":\"%s\",\"threads\":%d,\"model\":{\"hidden\":3072,\"layers_full\":%d,\"heads\":24,\"kv_heads\":8,"
           "\"ffn\":8192,\"vocab\":156940,\"dtype\":\"bf16\"},\"context\":%d,\"realtime_tokens_per_s\":%.2f,"
           "\"codec\":{\"model\":\"snac_24khz (random weights, published dims)\",\"group_samples\":2048,"
           "\"group_decode_ms_1_stream\":%.3f,\"group_decode_ms_8_streams\":%.3f},",
           device, omp_get_max_threads(), FULL_LAYERS, ctx, TOKENS_PER_S_REALTIME, group1 * 1e3, group8 * 1e3);
    /* step[l][b] */
    double step[8][8];
    char lm_dirs[8][PATH_MAX];
    printf("\"lm\":[");
    for (int li = 0; li < n_layers; li++) {
        if (ensure_lm(argv[0], models, src, layers[li], lm_dirs[li], sizeof lm_dirs[li])) return 1;
        srt_lm_options lo = {.backend = device, .kv_max_tokens = (int64_t)max_batch * (ctx + 64),
                             .max_batch_tokens = ctx > max_batch ? ctx : max_batch};
        srt_lm *lm = NULL;
        if (srt_lm_load(lm_dirs[li], &lo, &lm) != SRT_OK) { fprintf(stderr, "bench_tts: %s\n", srt_last_error()); return 1; }
        for (int bi = 0; bi < n_batches; bi++) {
            step[li][bi] = lm_step_s(lm, batches[bi], ctx, steps);
            printf("%s{\"layers\":%d,\"batch\":%d,\"step_s\":%.4f,\"tokens_per_s\":%.2f}", li || bi ? "," : "",
                   layers[li], batches[bi], step[li][bi], batches[bi] / step[li][bi]);
            fflush(stdout);
        }
        srt_lm_free(lm);
    }
    printf("],\"full_depth\":[");
    double full[8];
    for (int bi = 0; bi < n_batches; bi++) {
        double per_layer, fixed;
        if (n_layers >= 2 && layers[1] != layers[0]) {
            per_layer = (step[1][bi] - step[0][bi]) / (layers[1] - layers[0]);
            fixed = step[0][bi] - per_layer * layers[0];
        } else {                                    /* one depth: assume everything scales with the layers */
            per_layer = step[0][bi] / layers[0];
            fixed = 0;
        }
        full[bi] = fixed + per_layer * FULL_LAYERS;
        double with_codec = full[bi] + batches[bi] / 7.0 * group8;
        double per_stream = 1.0 / with_codec;
        printf("%s{\"batch\":%d,\"step_s\":%.4f,\"fixed_s\":%.4f,\"per_layer_s\":%.5f,\"tokens_per_s\":%.2f,"
               "\"tokens_per_s_per_stream_with_codec\":%.3f,\"fraction_of_realtime\":%.4f}", bi ? "," : "",
               batches[bi], full[bi], fixed, per_layer, batches[bi] / full[bi], per_stream,
               per_stream / TOKENS_PER_S_REALTIME);
    }
    /* largest B (interpolating the step time linearly between measured batches) with per-stream rate >= 82 */
    int streams = 0;
    for (int B = 1; B <= batches[n_batches - 1]; B++) {   /* batches ascending */
        double t = full[0];
        if (n_batches > 1 && B > batches[0]) {
            int k = 0;
            while (k + 2 < n_batches && B > batches[k + 1]) k++;
            t = full[k] + (full[k + 1] - full[k]) * (B - batches[k]) / (double)(batches[k + 1] - batches[k]);
        }
        if (1.0 / (t + B / 7.0 * group8) >= TOKENS_PER_S_REALTIME) streams = B;
    }
    printf("],\"realtime_streams_full_depth\":%d", streams);
    if (run_engine) {
        printf(",\"engine\":[");
        for (int bi = 0; bi < n_batches; bi++) {
            double tok_s = 0, first_ms = 0;
            int lookahead = 0;
            if (engine_run(lm_dirs[0], codec_dir, device, batches[bi], engine_tokens, &tok_s, &first_ms, &lookahead))
                break;
            printf("%s{\"layers\":%d,\"batch\":%d,\"tokens_each\":%d,\"tokens_per_s\":%.2f,"
                   "\"bare_forward_tokens_per_s\":%.2f,\"first_audio_ms\":%.1f,\"lookahead_frames\":%d}", bi ? "," : "",
                   layers[0], batches[bi], engine_tokens, tok_s, batches[bi] / step[0][bi], first_ms, lookahead);
            fflush(stdout);
        }
        printf("]");
    }
    printf("}\n");
    return 0;
}
