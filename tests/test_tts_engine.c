/* test_tts_engine.c: the speech engine (host/tts/tts_*.c) on the tiny random-weight models (tests/data/llama/
 * tiny-orpheus + tests/data/snac/tiny24), Orpheus layout: seeded requests give the same tokens and audio alone and
 * in a batch of 16; streamed audio equals the offline decode of the generated codes; every token obeys the
 * position mask; chunked prefill equals unchunked; a tiny KV cache queues requests without changing them;
 * cancellation (callback and srt_tts_cancel); queue full, unknown voice, oversized text; sentence splitting;
 * an audio prompt (hello.wav encoded into the prompt); end-of-speech forced through the logits callback (finish
 * "stop", the partial frame group dropped, stats). Sampling on the LM's backend (mask_rows + sample ops, only ids
 * downloaded) gives the tokens and audio of the host path (forced by a logits callback that changes nothing), with
 * and without the position mask, on "cpu" and with the whole engine on "cuda" (the simulator in a cudasim build;
 * skipped without a device); the metrics count which path each step took. */
#include "tts/tts_internal.h"
#include "snacrt_audio.h"
#include "testutil.h"
#include <pthread.h>
#include <unistd.h>

#define MAX_TOKENS (7 * 20 + 3)     /* random weights rarely end the speech: 20 groups + a partial one */

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *pcm; int64_t n, cap;
    int32_t *tokens; int *piece; int64_t n_tok, cap_tok;
    int done, calls;
    srt_status status;
    srt_tts_stats stats;
    int cancel_after_calls;         /* > 0: the callback returns nonzero at that audio call */
    int eos_at[4];                  /* > 0: force end-of-speech as token eos_at[piece] of that piece (1-based) */
    int32_t eos_id;                 /* > 0: on_logits controls end-of-speech (this id) */
    char error[256];
} collector;

static void col_init(collector *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}
static void col_free(collector *c) {
    free(c->pcm); free(c->tokens); free(c->piece);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    collector *c = user;
    pthread_mutex_lock(&c->mu);
    if (n > 0) {
        if (c->n + n > c->cap) {
            c->cap = (c->n + n) * 2;
            c->pcm = realloc(c->pcm, sizeof(float) * (size_t)c->cap);
        }
        memcpy(c->pcm + c->n, pcm, sizeof(float) * (size_t)n);
        c->n += n;
        c->calls++;
    }
    int cancel = c->cancel_after_calls > 0 && c->calls >= c->cancel_after_calls;
    if (done) {
        c->done = 1;
        c->status = status;
        if (st) c->stats = *st;
        snprintf(c->error, sizeof c->error, "%s", srt_last_error());
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return cancel;
}

static void on_token(void *user, int piece, int32_t token) {
    collector *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->n_tok == c->cap_tok) {
        c->cap_tok = c->cap_tok ? 2 * c->cap_tok : 256;
        c->tokens = realloc(c->tokens, sizeof(int32_t) * (size_t)c->cap_tok);
        c->piece = realloc(c->piece, sizeof(int) * (size_t)c->cap_tok);
    }
    c->tokens[c->n_tok] = token;
    c->piece[c->n_tok++] = piece;
    pthread_mutex_unlock(&c->mu);
}

/* Logits callback: end-of-speech certain at the chosen token of each piece that has one, impossible elsewhere
 * (the random model samples it now and then on its own). */
static void on_logits(void *user, int piece, int n_gen, float *logits, int vocab) {
    collector *c = user;
    if (c->eos_id <= 0 || c->eos_id >= vocab) return;
    logits[c->eos_id] = piece < 4 && c->eos_at[piece] == n_gen + 1 ? 1e30f : -INFINITY;
}

/* A logits callback that changes nothing: it only forces the host path (rows downloaded and sampled there). */
static void noop_logits(void *user, int piece, int n_gen, float *logits, int vocab) {
    (void)user; (void)piece; (void)n_gen; (void)logits; (void)vocab;
}

static void col_wait(collector *c) {
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static char lm_dir[1024], codec_dir[1024];

static srt_tts_engine *make_engine(int max_running, int64_t kv_max_tokens, int prefill_chunk, int max_queue,
                                   int max_piece_chars) {
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = "orpheus";
    cfg.n_threads = 2;
    cfg.max_running = max_running;
    cfg.kv_max_tokens = kv_max_tokens;
    cfg.prefill_chunk = prefill_chunk;
    cfg.max_queue = max_queue;
    cfg.max_piece_chars = max_piece_chars;
    cfg.sampling.max_tokens = MAX_TOKENS;
    srt_tts_engine *e = NULL;
    srt_status st = srt_tts_engine_create(&cfg, &e);
    TEST_CHECK(st == SRT_OK, "engine create: %s", srt_last_error());
    return e;
}

static srt_sampling_params sampling(uint64_t seed) {
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 1.0f;
    sp.top_p = 0.95f;
    sp.repetition_penalty = 1.1f;
    sp.max_tokens = MAX_TOKENS;
    sp.seed = seed;
    return sp;
}

static const char *texts[] = {
    "Hello there, this is a test.", "The quick brown fox jumps over the lazy dog.", "One two three.",
    "A somewhat longer sentence to make the prompt a little longer than the others in this batch.",
};

static srt_status submit(srt_tts_engine *e, collector *c, const char *text, const char *voice,
                         const srt_sampling_params *sp, uint64_t *id) {
    srt_tts_request req = {.text = text, .voice = voice, .sampling = sp, .on_token = on_token};
    return srt_tts_submit(e, &req, on_audio, c, id);
}

/* The request's generated codes (whole groups per piece, end-of-speech and partial groups left out). */
static int codes_of(const srt_layout *l, const collector *c, srt_codes *codes) {
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(c->n_tok + 1));
    size_t n = 0;
    for (int64_t i = 0; i < c->n_tok;) {
        int64_t j = i;
        while (j < c->n_tok && c->piece[j] == c->piece[i]) j++;
        int64_t k = i;
        for (; k + 7 <= j; k += 7) {
            int ok = 1;
            for (int p = 0; p < 7; p++) ok &= c->tokens[k + p] != l->end_of_speech;
            if (!ok) break;
            memcpy(ids + n, c->tokens + k, sizeof(int32_t) * 7);
            n += 7;
        }
        i = j;
    }
    srt_status st = srt_layout_ids_to_codes(l, ids, n, codes);
    free(ids);
    return st == SRT_OK ? 0 : -1;
}

/* Streamed audio of c equals srt_codec_decode of its codes (within atol). */
static void check_offline_tol(srt_codec *codec, const srt_layout *l, const collector *c, const char *what,
                              double atol) {
    srt_codes codes;
    if (codes_of(l, c, &codes)) { TEST_CHECK(0, "%s: codes: %s", what, srt_last_error()); return; }
    float *audio = NULL;
    int64_t n = 0;
    srt_status st = srt_codec_decode(codec, 1, &codes, -1, &audio, &n);
    TEST_CHECK(st == SRT_OK, "%s: offline decode: %s", what, srt_last_error());
    TEST_CHECK(n == c->n && n == codes.n_frames[0] * 2048, "%s: streamed %lld samples, offline %lld, groups %lld", what,
               (long long)c->n, (long long)n, (long long)codes.n_frames[0]);
    if (st == SRT_OK && n == c->n) {
        double err;
        double worst = test_compare(c->pcm, audio, (size_t)n, atol, 0, NULL, &err);
        TEST_CHECK(worst <= 0, "%s: streamed vs offline max error %g", what, err);
    }
    free(audio);
    srt_codes_free(&codes);
}

static void check_offline(srt_codec *codec, const srt_layout *l, const collector *c, const char *what) {
    check_offline_tol(codec, l, c, what, 1e-5);
}

static int same_output(const collector *a, const collector *b) {
    if (getenv("TTS_TEST_DEBUG")) {
        int64_t ft = -1, fs = -1;
        double maxd = 0;
        for (int64_t i = 0; i < a->n_tok && i < b->n_tok && ft < 0; i++) if (a->tokens[i] != b->tokens[i]) ft = i;
        for (int64_t i = 0; i < a->n && i < b->n; i++) {
            double d = fabs((double)a->pcm[i] - b->pcm[i]);
            if (d > 0 && fs < 0) fs = i;
            if (d > maxd) maxd = d;
        }
        fprintf(stderr, "  first token diff %lld, first sample diff %lld, max diff %g\n", (long long)ft, (long long)fs, maxd);
    }
    /* tokens identical; audio identical up to float rounding: the batched codec push sums in an order that may
     * depend on which other streams share the call (differences of about 1e-7 seen) */
    double err = 0;
    return a->n_tok == b->n_tok && !memcmp(a->tokens, b->tokens, sizeof(int32_t) * (size_t)a->n_tok) &&
           a->n == b->n && test_compare(a->pcm, b->pcm, (size_t)a->n, 1e-6, 0, NULL, &err) <= 0;
}

static collector alone[4];            /* seed 100 + i, texts[i], voice tara: reference runs */

static void run_alone(srt_tts_engine *e) {
    for (int i = 0; i < 4; i++) {
        col_init(&alone[i]);
        srt_sampling_params sp = sampling(100 + (uint64_t)i);
        TEST_CHECK(submit(e, &alone[i], texts[i], "tara", &sp, NULL) == SRT_OK, "submit: %s", srt_last_error());
        col_wait(&alone[i]);
        TEST_CHECK(alone[i].status == SRT_OK, "alone %d: %s (%s)", i, srt_status_name(alone[i].status),
                   alone[i].error);
        TEST_CHECK(alone[i].n_tok == MAX_TOKENS || alone[i].stats.finish == SRT_FINISH_STOP, "alone %d: %lld tokens", i,
                   (long long)alone[i].n_tok);
        TEST_CHECK(alone[i].n > 0 && alone[i].n == alone[i].stats.samples, "alone %d: %lld samples (stats %lld)", i,
                   (long long)alone[i].n, (long long)alone[i].stats.samples);
        TEST_CHECK(alone[i].stats.frames * 2048 == alone[i].n, "alone %d: %lld frames, %lld samples", i,
                   (long long)alone[i].stats.frames, (long long)alone[i].n);
    }
}

static srt_tts_metrics metrics_of(srt_tts_engine *e) {
    srt_tts_metrics m;
    srt_tts_get_metrics(e, &m);
    return m;
}

/* Requests seed 100 + i, texts[i] (i < n) submitted together, with the no-op logits callback (host sampling) or
 * without (device sampling); all waited for. */
static void run_set(srt_tts_engine *e, collector *c, int n, int host_path) {
    for (int i = 0; i < n; i++) {
        col_init(&c[i]);
        srt_sampling_params sp = sampling(100 + (uint64_t)i);
        srt_tts_request req = {.text = texts[i], .voice = "tara", .sampling = &sp, .on_token = on_token,
                               .on_logits = host_path ? noop_logits : NULL};
        TEST_CHECK(srt_tts_submit(e, &req, on_audio, &c[i], NULL) == SRT_OK, "submit: %s", srt_last_error());
    }
    for (int i = 0; i < n; i++) {
        col_wait(&c[i]);
        TEST_CHECK(c[i].status == SRT_OK, "request %d (%s path): %s (%s)", i, host_path ? "host" : "device",
                   srt_status_name(c[i].status), c[i].error);
    }
}

/* The same seeded requests sampled on the host (logits downloaded) and on the LM's backend: identical tokens and
 * audio, and each run took only its own path (counted in the metrics, so neither side passes vacuously). */
static void check_paths_agree(srt_tts_engine *e, const char *what, int n, const collector *ref) {
    collector host[4], dev[4];
    srt_tts_metrics m0 = metrics_of(e);
    run_set(e, host, n, 1);
    srt_tts_metrics m1 = metrics_of(e);
    run_set(e, dev, n, 0);
    srt_tts_metrics m2 = metrics_of(e);
    TEST_CHECK(m1.sample_steps_host > m0.sample_steps_host && m1.sample_steps_device == m0.sample_steps_device,
               "%s: the logits callback forces host sampling (%lld host steps, %lld device steps)", what,
               (long long)(m1.sample_steps_host - m0.sample_steps_host),
               (long long)(m1.sample_steps_device - m0.sample_steps_device));
    TEST_CHECK(m2.sample_steps_device > m1.sample_steps_device && m2.sample_steps_host == m1.sample_steps_host,
               "%s: without callbacks every step samples on the device (%lld device steps, %lld host steps)", what,
               (long long)(m2.sample_steps_device - m1.sample_steps_device),
               (long long)(m2.sample_steps_host - m1.sample_steps_host));
    for (int i = 0; i < n; i++) {
        TEST_CHECK(host[i].n_tok > 0 && same_output(&host[i], &dev[i]), "%s: request %d: host path %lld tokens, "
                   "device path %lld tokens: same tokens and audio", what, i, (long long)host[i].n_tok,
                   (long long)dev[i].n_tok);
        if (ref) TEST_CHECK(same_output(&dev[i], &ref[i]), "%s: request %d equals its reference run", what, i);
        col_free(&host[i]);
        col_free(&dev[i]);
    }
}

/* The whole engine on "cuda" (LM kernels incl. mask_rows + sample, and the codec, in the simulator), shorter
 * requests (the simulator is slow): device and host sampling agree exactly; the tokens are the start of the cpu
 * runs (the logits agree to float rounding: a flipped draw would need a u within ~1e-6 of a boundary) and the
 * audio is the cpu codec's offline decode of them within 1e-4. */
static void test_device_sampling_cuda(srt_codec *cpu_codec) {
    srt_backend probe;
    srt_status st = srt_backend_create("cuda", 0, &probe);
    if (st == SRT_ERR_NO_DEVICE) { printf("skip the engine on cuda: %s\n", srt_last_error()); return; }
    TEST_CHECK(st == SRT_OK, "cuda backend: %s", srt_last_error());
    if (st != SRT_OK) return;
    srt_backend_destroy(&probe);
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = "orpheus";
    cfg.backend = "cuda";
    cfg.n_threads = 2;
    cfg.max_running = 2;
    cfg.sampling.max_tokens = 7 * 6 + 2;
    srt_tts_engine *e = NULL;
    st = srt_tts_engine_create(&cfg, &e);
    TEST_CHECK(st == SRT_OK, "engine on cuda: %s", srt_last_error());
    if (st != SRT_OK) return;
    collector c[2][2];                      /* [host path, device path][request] */
    for (int path = 0; path < 2; path++) {
        for (int i = 0; i < 2; i++) {
            col_init(&c[path][i]);
            srt_sampling_params sp = sampling(100 + (uint64_t)i);
            sp.max_tokens = 7 * 6 + 2;
            srt_tts_request req = {.text = texts[i], .voice = "tara", .sampling = &sp, .on_token = on_token,
                                   .on_logits = path == 0 ? noop_logits : NULL};
            TEST_CHECK(srt_tts_submit(e, &req, on_audio, &c[path][i], NULL) == SRT_OK, "cuda submit: %s",
                       srt_last_error());
        }
        for (int i = 0; i < 2; i++) col_wait(&c[path][i]);
        srt_tts_metrics m = metrics_of(e);
        TEST_CHECK(path == 0 ? m.sample_steps_host > 0 && m.sample_steps_device == 0 : m.sample_steps_device > 0,
                   "cuda, %s path: %lld device steps, %lld host steps", path ? "device" : "host",
                   (long long)m.sample_steps_device, (long long)m.sample_steps_host);
    }
    for (int i = 0; i < 2; i++) {
        collector *h = &c[0][i], *d = &c[1][i];
        TEST_CHECK(h->status == SRT_OK && d->status == SRT_OK, "cuda request %d: %s / %s (%s%s)", i,
                   srt_status_name(h->status), srt_status_name(d->status), h->error, d->error);
        TEST_CHECK(d->n_tok > 0 && same_output(h, d), "cuda: request %d: host and device sampling agree (%lld / %lld "
                   "tokens)", i, (long long)h->n_tok, (long long)d->n_tok);
        TEST_CHECK(d->n_tok <= alone[i].n_tok &&
                   !memcmp(d->tokens, alone[i].tokens, sizeof(int32_t) * (size_t)d->n_tok),
                   "cuda: request %d: its %lld tokens start the cpu run", i, (long long)d->n_tok);
        char what[64];
        snprintf(what, sizeof what, "cuda request %d vs the cpu codec", i);
        /* 44 tokens are 6 frame groups: the seeds give no early end-of-speech, so audio always comes out and the
         * CUDA-vs-CPU audio check always runs */
        TEST_CHECK(d->stats.frames >= 1 && d->n == d->stats.frames * 2048, "%s: %lld frames (want >= 1), %lld samples",
                   what, (long long)d->stats.frames, (long long)d->n);
        check_offline_tol(cpu_codec, e->layout, d, what, 1e-4);
        col_free(h);
        col_free(d);
    }
    srt_tts_engine_free(e);
}

/* Every token has its frame position's range (audio ids with a code < 256) or is end-of-speech. */
static void check_mask(const srt_layout *l, const collector *c, const char *what) {
    int bad = 0, pos = 0, piece = -1;
    for (int64_t i = 0; i < c->n_tok; i++) {
        if (c->piece[i] != piece) { piece = c->piece[i]; pos = 0; }
        int32_t t = c->tokens[i];
        if (t == l->end_of_speech) { pos = 0; continue; }
        int32_t lo = 128266 + pos * 4096;
        if (t < lo || t >= lo + 256) bad++;
        pos = (pos + 1) % 7;
    }
    TEST_CHECK(bad == 0, "%s: %d tokens outside their position's range", what, bad);
}

static void test_batch_and_stream(srt_tts_engine *e, srt_codec *codec) {
    collector batch[16];
    srt_sampling_params sp[16];
    for (int i = 0; i < 16; i++) {
        col_init(&batch[i]);
        sp[i] = sampling(i < 4 ? 100 + (uint64_t)i : 500 + (uint64_t)i);
        TEST_CHECK(submit(e, &batch[i], texts[i % 4], "tara", &sp[i], NULL) == SRT_OK, "batch submit %d: %s", i,
                   srt_last_error());
    }
    for (int i = 0; i < 16; i++) col_wait(&batch[i]);
    for (int i = 0; i < 4; i++)
        TEST_CHECK(same_output(&batch[i], &alone[i]), "request %d: batch of 16 vs alone: tokens %lld/%lld samples "
                   "%lld/%lld", i, (long long)batch[i].n_tok, (long long)alone[i].n_tok, (long long)batch[i].n,
                   (long long)alone[i].n);
    int distinct = 0;
    for (int i = 5; i < 16; i++) distinct += batch[i].n_tok != batch[4].n_tok ||
                                             memcmp(batch[i].tokens, batch[4].tokens, sizeof(int32_t) * 7);
    TEST_CHECK(distinct > 0, "different seeds give different tokens");
    srt_tts_metrics m;
    srt_tts_get_metrics(e, &m);
    int64_t tokens = 0, samples = 0;
    for (int i = 0; i < 16; i++) { tokens += batch[i].n_tok; samples += batch[i].n; }
    for (int i = 0; i < 4; i++) { tokens += alone[i].n_tok; samples += alone[i].n; }
    TEST_CHECK(m.requests_total == 20 && m.requests_ok == 20 && m.running == 0 && m.queue_depth == 0 &&
               m.generated_tokens_total == tokens && m.samples_total == samples && m.tokens_per_s > 0 &&
               m.first_audio_ms_avg > 0 && m.first_audio_ms_max >= m.first_audio_ms_avg && m.rtf_avg > 0,
               "metrics: ok %lld running %d queue %d tokens %lld (want %lld) samples %lld (want %lld) %.1f tok/s",
               (long long)m.requests_ok, m.running, m.queue_depth, (long long)m.generated_tokens_total,
               (long long)tokens, (long long)m.samples_total, (long long)samples, m.tokens_per_s);
    srt_layout *l = e->layout;
    int64_t n_frames = 0;
    int n_stop = 0;
    for (int i = 0; i < 16; i++) {
        char what[64];
        snprintf(what, sizeof what, "batch request %d", i);
        check_mask(l, &batch[i], what);
        if (batch[i].stats.frames > 0) check_offline(codec, l, &batch[i], what);
        if (batch[i].stats.finish == SRT_FINISH_LENGTH)
            TEST_CHECK(batch[i].stats.dropped_frames == 1, "%s: the trailing partial group is dropped (%lld)", what,
                       (long long)batch[i].stats.dropped_frames);
        TEST_CHECK(batch[i].stats.frames * 2048 == batch[i].n && batch[i].stats.lookahead_frames == srt_tts_lookahead(e),
                   "%s: %lld frames, %lld samples, lookahead %d", what, (long long)batch[i].stats.frames,
                   (long long)batch[i].n, batch[i].stats.lookahead_frames);
        if (batch[i].n > 0) TEST_CHECK(batch[i].stats.first_audio_ms > 0, "%s: first audio time", what);
        n_frames += batch[i].stats.frames;
        n_stop += batch[i].stats.finish == SRT_FINISH_STOP;
        col_free(&batch[i]);
    }
    TEST_CHECK(n_frames >= 16 * 10, "the batch made audio (%lld frames, %d requests ended by end-of-speech)",
               (long long)n_frames, n_stop);
}

/* prefill_chunk 4 (many chunks, mixed with decode tokens) gives the same output as whole prompts. */
static void test_chunked_prefill(void) {
    srt_tts_engine *e = make_engine(4, 0, 4, 0, 0);
    if (!e) return;
    collector c[4];
    srt_sampling_params sp[4];
    for (int i = 0; i < 4; i++) {
        col_init(&c[i]);
        sp[i] = sampling(100 + (uint64_t)i);
        TEST_CHECK(submit(e, &c[i], texts[i], "tara", &sp[i], NULL) == SRT_OK, "submit: %s", srt_last_error());
    }
    for (int i = 0; i < 4; i++) {
        col_wait(&c[i]);
        TEST_CHECK(c[i].stats.prompt_tokens > 4, "prompt %lld tokens > prefill_chunk", (long long)c[i].stats.prompt_tokens);
        TEST_CHECK(same_output(&c[i], &alone[i]), "request %d: chunked prefill (4) vs whole", i);
        col_free(&c[i]);
    }
    srt_tts_engine_free(e);
}

/* A KV cache for two requests at a time: the others queue and all equal their alone-runs. */
static void test_kv_exhaustion(void) {
    /* a request holds ceil((prompt + 143) / 16) blocks: about 11-12; 24 blocks fit two */
    srt_tts_engine *e = make_engine(8, 24 * 16, 0, 0, 0);
    if (!e) return;
    collector c[8];
    srt_sampling_params sp[8];
    double sub_before[8], sub_after[8];   /* the engine's clock (tts_now_ms) around each submit */
    for (int i = 0; i < 8; i++) {
        col_init(&c[i]);
        sp[i] = sampling(100 + (uint64_t)(i % 4));
        sub_before[i] = tts_now_ms();
        TEST_CHECK(submit(e, &c[i], texts[i % 4], "tara", &sp[i], NULL) == SRT_OK, "submit: %s", srt_last_error());
        sub_after[i] = tts_now_ms();
    }
    int max_running = 0;
    for (int i = 0; i < 8; i++) {
        for (;;) {
            srt_tts_metrics m;
            srt_tts_get_metrics(e, &m);
            if (m.running > max_running) max_running = m.running;
            pthread_mutex_lock(&c[i].mu);
            int done = c[i].done;
            pthread_mutex_unlock(&c[i].mu);
            if (done) break;
            usleep(2000);
        }
    }
    TEST_CHECK(max_running >= 1 && max_running <= 2, "at most two requests run in a 24-block cache (saw %d)", max_running);
    /* only two fit, so the other six can only be admitted after the first request finished. On the engine's
     * clock: request i was admitted at submit_i + queue_ms <= sub_after[i] + queue_ms, the first finish was at
     * min_j submit_j + total_ms >= min_j sub_before[j] + total_ms; so at least six must have the first bound at or
     * above the second, however the submissions and steps were spread in time (no "within a few ms" assumed). */
    double first_done = 1e30;
    for (int i = 0; i < 8; i++)
        if (sub_before[i] + c[i].stats.total_ms < first_done) first_done = sub_before[i] + c[i].stats.total_ms;
    int waited = 0;
    for (int i = 0; i < 8; i++) waited += sub_after[i] + c[i].stats.queue_ms >= first_done;
    TEST_CHECK(waited >= 6, "requests waited for KV room: %d of 8 admitted no earlier than the first finish (want 6)",
               waited);
    for (int i = 0; i < 8; i++) {
        TEST_CHECK(c[i].status == SRT_OK && same_output(&c[i], &alone[i % 4]), "request %d under KV pressure: %s, same "
                   "output as alone", i, srt_status_name(c[i].status));
        col_free(&c[i]);
    }
    /* a request that can never fit fails with a message, not silently */
    collector big;
    col_init(&big);
    srt_sampling_params sp_big = sampling(1);
    sp_big.max_tokens = 7 * 100;
    TEST_CHECK(submit(e, &big, "Too long for this cache.", NULL, &sp_big, NULL) == SRT_OK, "submit big");
    col_wait(&big);
    TEST_CHECK(big.status == SRT_ERR_RANGE && strstr(big.error, "KV"), "oversized request: %s '%s'",
               srt_status_name(big.status), big.error);
    col_free(&big);
    srt_tts_engine_free(e);
}

/* Cancel one request from its callback and one with srt_tts_cancel; the others are unchanged. */
static void test_cancel(void) {
    srt_tts_engine *e = make_engine(4, 0, 0, 0, 0);
    if (!e) return;
    collector c[4];
    srt_sampling_params sp[4];
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        col_init(&c[i]);
        sp[i] = sampling(100 + (uint64_t)i);
        if (i == 1) c[i].cancel_after_calls = 2;
    }
    for (int i = 0; i < 4; i++)
        TEST_CHECK(submit(e, &c[i], texts[i], "tara", &sp[i], &ids[i]) == SRT_OK, "submit: %s", srt_last_error());
    srt_tts_cancel(e, ids[3]);
    for (int i = 0; i < 4; i++) col_wait(&c[i]);
    TEST_CHECK(c[1].status == SRT_ERR_CANCELLED && c[1].calls == 2 && c[1].n < alone[1].n,
               "callback cancel: %s after %d calls, %lld samples", srt_status_name(c[1].status), c[1].calls,
               (long long)c[1].n);
    TEST_CHECK(c[3].status == SRT_ERR_CANCELLED || c[3].status == SRT_OK, "srt_tts_cancel: %s",
               srt_status_name(c[3].status));
    TEST_CHECK(c[3].status == SRT_ERR_CANCELLED, "srt_tts_cancel right after submit cancels (got %s)",
               srt_status_name(c[3].status));
    TEST_CHECK(same_output(&c[0], &alone[0]) && same_output(&c[2], &alone[2]), "the others are unchanged");
    srt_tts_cancel(e, ids[0]);             /* finished: a no-op */
    srt_tts_cancel(e, 987654);             /* unknown: a no-op */
    srt_tts_metrics m;
    srt_tts_get_metrics(e, &m);
    TEST_CHECK(m.requests_cancelled == 2 && m.requests_ok == 2, "metrics: %lld cancelled, %lld ok",
               (long long)m.requests_cancelled, (long long)m.requests_ok);
    for (int i = 0; i < 4; i++) col_free(&c[i]);
    /* freeing the engine cancels a running request */
    collector run;
    col_init(&run);
    srt_sampling_params sp_run = sampling(3);
    TEST_CHECK(submit(e, &run, texts[0], NULL, &sp_run, NULL) == SRT_OK, "submit");
    srt_tts_engine_free(e);
    TEST_CHECK(run.done && (run.status == SRT_ERR_CANCELLED || run.status == SRT_OK), "engine free ends requests: %d %s",
               run.done, srt_status_name(run.status));
    col_free(&run);
}

static void test_rejections(void) {
    srt_tts_engine *e = make_engine(1, 0, 0, 2, 0);
    if (!e) return;
    collector c[12];
    int accepted = 0, full = 0;
    srt_sampling_params sp = sampling(7);
    for (int i = 0; i < 12; i++) {
        col_init(&c[i]);
        srt_status st = submit(e, &c[i], texts[0], NULL, &sp, NULL);
        if (st == SRT_OK) accepted++;
        else if (st == SRT_ERR_FULL) { full++; c[i].done = 1; }
    }
    TEST_CHECK(full >= 12 - 4 && accepted >= 2, "queue of 2: %d accepted, %d full", accepted, full);
    collector bad;
    col_init(&bad);
    TEST_CHECK(submit(e, &bad, "Hi.", "nobody", &sp, NULL) == SRT_ERR_NOT_FOUND, "unknown voice: NOT_FOUND");
    TEST_CHECK(strstr(srt_last_error(), "nobody") != NULL, "message names the voice: %s", srt_last_error());
    char *huge = malloc(5000);
    memset(huge, 'a', 4999);
    huge[4999] = 0;
    TEST_CHECK(submit(e, &bad, huge, NULL, &sp, NULL) == SRT_ERR_RANGE, "oversized text: RANGE");
    free(huge);
    TEST_CHECK(submit(e, &bad, "   ", NULL, &sp, NULL) == SRT_ERR_INVALID_ARG, "empty text: INVALID_ARG");
    srt_sampling_params wrong = sp;
    wrong.top_p = 2;
    TEST_CHECK(submit(e, &bad, "Hi.", NULL, &wrong, NULL) == SRT_ERR_INVALID_ARG, "top_p 2: INVALID_ARG");
    for (int i = 0; i < 12; i++) col_wait(&c[i]);
    for (int i = 0; i < 12; i++) col_free(&c[i]);
    col_free(&bad);
    srt_tts_metrics m;
    srt_tts_get_metrics(e, &m);
    TEST_CHECK(m.requests_rejected == full + 4, "metrics: %lld rejected", (long long)m.requests_rejected);
    srt_tts_engine_free(e);
}

static void test_split(srt_codec *codec) {
    char **p;
    int n;
    const char *text = "First sentence. Second one!  Third?\nA fourth line without a stop\n\nLast: e.g. 3.5 apples.";
    TEST_CHECK(srt_tts_split_text(text, 30, &p, &n) == SRT_OK, "split");
    const char *want[] = {"First sentence. Second one!", "Third?", "A fourth line without a stop",
                          "Last: e.g. 3.5 apples."};
    TEST_CHECK(n == 4, "4 pieces (got %d)", n);
    for (int i = 0; i < n && i < 4; i++) TEST_CHECK(!strcmp(p[i], want[i]), "piece %d '%s' want '%s'", i, p[i], want[i]);
    tts_free_pieces(p, n);
    TEST_CHECK(srt_tts_split_text("aaaa bbbb cccc dddd", 9, &p, &n) == SRT_OK && n == 2 && !strcmp(p[0], "aaaa bbbb") &&
               !strcmp(p[1], "cccc dddd"), "long sentence cut at spaces");
    tts_free_pieces(p, n);
    TEST_CHECK(srt_tts_split_text("abcdefghij", 4, &p, &n) == SRT_OK && n == 3 && !strcmp(p[2], "ij"),
               "no spaces: cut at the limit");
    tts_free_pieces(p, n);

    /* a 3-piece request through the engine: pieces in order, audio continuous, equal to the offline decode */
    srt_tts_engine *e = make_engine(2, 0, 0, 0, 16);
    if (!e) return;
    collector c;
    col_init(&c);
    srt_sampling_params sp = sampling(11);
    sp.max_tokens = 7 * 6 + 2;
    TEST_CHECK(submit(e, &c, "Good morning. How are you? Fine, thanks.", "leo", &sp, NULL) == SRT_OK, "submit");
    col_wait(&c);
    TEST_CHECK(c.status == SRT_OK && c.stats.pieces == 3 && c.n_tok == 3 * sp.max_tokens && c.piece[c.n_tok - 1] == 2,
               "3 pieces: %s, %d pieces, %lld tokens", srt_status_name(c.status), c.stats.pieces, (long long)c.n_tok);
    TEST_CHECK(c.stats.frames == 18 && c.stats.dropped_frames == 3 && c.n == 18 * 2048, "frames %lld dropped %lld",
               (long long)c.stats.frames, (long long)c.stats.dropped_frames);
    check_mask(e->layout, &c, "pieces");
    check_offline(codec, e->layout, &c, "pieces");
    col_free(&c);
    srt_tts_engine_free(e);
}

/* hello.wav encoded into the prompt: prompt = text prompt + start/end of speech around 7 ids per group. */
static void test_audio_in(srt_tts_engine *e) {
    char path[1024];
    float *audio = NULL;
    int64_t n = 0;
    srt_status st = srt_audio_read(test_src_path("tests/data/speech/hello.wav", path, sizeof path), 0, &audio, &n, NULL);
    TEST_CHECK(st == SRT_OK, "read hello.wav: %s", srt_last_error());
    if (st != SRT_OK) return;
    srt_audio_source_info info;
    free(audio);
    srt_audio_read(path, 0, &audio, &n, &info);
    float *at24 = NULL;
    int64_t n24 = 0;
    srt_audio_resample(audio, n, info.sample_rate, 24000, &at24, &n24);
    srt_codes codes = {0};
    const float *sig = at24;
    TEST_CHECK(srt_codec_encode(e->codec, 1, &sig, &n24, &codes, NULL, NULL) == SRT_OK, "encode: %s", srt_last_error());
    collector c;
    col_init(&c);
    srt_sampling_params sp = sampling(5);
    sp.max_tokens = 7 * 4;
    srt_tts_request req = {.text = "Hello.", .sampling = &sp, .on_token = on_token, .audio_in = audio,
                           .n_audio_in = n, .audio_in_rate = info.sample_rate};
    TEST_CHECK(srt_tts_submit(e, &req, on_audio, &c, NULL) == SRT_OK, "submit with audio: %s", srt_last_error());
    col_wait(&c);
    collector plain;
    col_init(&plain);
    TEST_CHECK(submit(e, &plain, "Hello.", NULL, &sp, NULL) == SRT_OK, "submit");
    col_wait(&plain);
    TEST_CHECK(c.status == SRT_OK && c.n == 4 * 2048, "audio prompt request: %s, %lld samples (%s)",
               srt_status_name(c.status), (long long)c.n, c.error);
    TEST_CHECK(c.stats.prompt_tokens == plain.stats.prompt_tokens + 7 * codes.n_frames[0] + 2,
               "prompt with audio %lld = %lld + 7 x %lld groups + 2", (long long)c.stats.prompt_tokens,
               (long long)plain.stats.prompt_tokens, (long long)codes.n_frames[0]);
    TEST_CHECK(!(c.n_tok == plain.n_tok && !memcmp(c.tokens, plain.tokens, sizeof(int32_t) * (size_t)c.n_tok)),
               "the audio prompt changes the output");
    /* the layout builds the same prompt the engine used: check the audio ids are in it */
    int32_t *ids = NULL, *aud = NULL;
    size_t n_ids = 0, n_aud = 0;
    srt_layout_codes_to_ids(e->layout, &codes, &aud, &n_aud);
    TEST_CHECK(srt_layout_build_prompt(e->layout, e->lm, NULL, "Hello.", aud, n_aud, &ids, &n_ids) == SRT_OK &&
               (int64_t)n_ids == c.stats.prompt_tokens, "prompt rebuilt: %zu ids", n_ids);
    int found = 0;
    for (size_t i = 0; i + n_aud <= n_ids && !found; i++) found = !memcmp(ids + i, aud, sizeof(int32_t) * n_aud);
    TEST_CHECK(found && n_aud > 0, "the audio ids are in the prompt");
    free(ids); free(aud);
    srt_codes_free(&codes);
    free(audio); free(at24);
    col_free(&c); col_free(&plain);
}

/* End-of-speech made certain by the logits callback: after 3 whole groups and 2 tokens of a 4th (the partial group
 * is dropped), and right after 2 whole groups (nothing dropped). */
static void test_end_of_speech(srt_tts_engine *e, srt_codec *codec) {
    const int32_t eos = e->layout->end_of_speech;
    TEST_CHECK(eos == 128258, "orpheus end-of-speech is 128258 (%d)", eos);
    struct { int at, frames, dropped; } cases[] = {{7 * 3 + 3, 3, 1}, {7 * 2 + 1, 2, 0}};
    for (int k = 0; k < 2; k++) {
        collector c;
        col_init(&c);
        c.eos_at[0] = cases[k].at;
        c.eos_id = eos;
        srt_sampling_params sp = sampling(21 + (uint64_t)k);
        srt_tts_request req = {.text = texts[k], .voice = "tara", .sampling = &sp, .on_token = on_token,
                               .on_logits = on_logits};
        TEST_CHECK(srt_tts_submit(e, &req, on_audio, &c, NULL) == SRT_OK, "submit: %s", srt_last_error());
        col_wait(&c);
        char what[64];
        snprintf(what, sizeof what, "end-of-speech at token %d", cases[k].at);
        TEST_CHECK(c.status == SRT_OK && c.stats.finish == SRT_FINISH_STOP, "%s: %s, finish %d (want stop)", what,
                   srt_status_name(c.status), c.stats.finish);
        TEST_CHECK(c.n_tok == cases[k].at && c.tokens[c.n_tok - 1] == eos && c.stats.generated_tokens == cases[k].at,
                   "%s: %lld tokens (stats %lld), the last %d", what, (long long)c.n_tok,
                   (long long)c.stats.generated_tokens, c.n_tok ? c.tokens[c.n_tok - 1] : -1);
        int64_t early_eos = 0;
        for (int64_t i = 0; i + 1 < c.n_tok; i++) early_eos += c.tokens[i] == eos;
        TEST_CHECK(early_eos == 0, "%s: no end-of-speech before the forced one (%lld)", what, (long long)early_eos);
        TEST_CHECK(c.stats.frames == cases[k].frames && c.stats.dropped_frames == cases[k].dropped &&
                   c.stats.samples == cases[k].frames * 2048 && c.n == c.stats.samples && c.stats.pieces == 1,
                   "%s: frames %lld (want %d), dropped %lld (want %d), samples %lld / delivered %lld", what,
                   (long long)c.stats.frames, cases[k].frames, (long long)c.stats.dropped_frames, cases[k].dropped,
                   (long long)c.stats.samples, (long long)c.n);
        check_mask(e->layout, &c, what);
        check_offline(codec, e->layout, &c, what);
        col_free(&c);
    }
}

/* Multi-piece: the first piece ends by end-of-speech mid-group, the second by max_tokens. */
static void test_split_stop(srt_codec *codec) {
    srt_tts_engine *e = make_engine(2, 0, 0, 0, 16);
    if (!e) return;
    collector c;
    col_init(&c);
    c.eos_at[0] = 7 + 4;            /* piece 0: 1 group + 3 tokens, then end-of-speech */
    c.eos_id = e->layout->end_of_speech;
    srt_sampling_params sp = sampling(31);
    sp.max_tokens = 7 * 2;          /* piece 1: 2 whole groups, ends by length */
    srt_tts_request req = {.text = "Good morning. How are you?", .voice = "leo", .sampling = &sp,
                           .on_token = on_token, .on_logits = on_logits};
    TEST_CHECK(srt_tts_submit(e, &req, on_audio, &c, NULL) == SRT_OK, "submit: %s", srt_last_error());
    col_wait(&c);
    int64_t in_piece0 = 0;
    for (int64_t i = 0; i < c.n_tok; i++) in_piece0 += c.piece[i] == 0;
    TEST_CHECK(c.status == SRT_OK && c.stats.pieces == 2 && in_piece0 == 11 && c.n_tok == 11 + 14 &&
               c.tokens[10] == c.eos_id && c.stats.finish == SRT_FINISH_LENGTH,
               "2 pieces, stop then length: %s, %d pieces, %lld + %lld tokens, finish %d", srt_status_name(c.status),
               c.stats.pieces, (long long)in_piece0, (long long)(c.n_tok - in_piece0), c.stats.finish);
    TEST_CHECK(c.stats.frames == 3 && c.stats.dropped_frames == 1 && c.n == 3 * 2048 && c.stats.samples == c.n,
               "2 pieces: frames %lld (want 3), dropped %lld (want 1), %lld samples", (long long)c.stats.frames,
               (long long)c.stats.dropped_frames, (long long)c.n);
    check_offline(codec, e->layout, &c, "stop then length");
    col_free(&c);
    srt_tts_engine_free(e);
}

/* A layout without masking: the random model samples mostly non-audio ids, so frame groups are invalid: they are
 * dropped and counted, and the request still completes. The layout comes from a .json path. */
static void test_unmasked(void) {
    char path[] = "/tmp/test_tts_layout_XXXXXX";
    int fd = mkstemp(path);
    TEST_CHECK(fd >= 0, "temp file");
    if (fd < 0) return;
    char *text = strdup(srt_layout_builtin("orpheus"));
    char *mask = strstr(text, "\"mask\": true");
    TEST_CHECK(mask != NULL, "orpheus has a mask field");
    if (mask) memcpy(mask, "\"mask\":false", 12);
    TEST_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write layout");
    close(fd);
    free(text);
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = path;
    cfg.n_threads = 2;
    srt_tts_engine *e = NULL;
    TEST_CHECK(srt_tts_engine_create(&cfg, &e) == SRT_OK, "engine with a layout file: %s", srt_last_error());
    if (e) {
        TEST_CHECK(!e->layout->mask && !strcmp(e->layout->source, path), "layout from %s", e->layout->source);
        collector c;
        col_init(&c);
        srt_sampling_params sp = sampling(9);
        sp.max_tokens = 7 * 5;
        TEST_CHECK(submit(e, &c, "Unmasked.", NULL, &sp, NULL) == SRT_OK, "submit");
        col_wait(&c);
        int64_t outside = 0;
        for (int64_t i = 0; i < c.n_tok; i++) outside += c.tokens[i] < 128266;
        TEST_CHECK(c.status == SRT_OK && outside > 0 && c.stats.dropped_frames >= 1 &&
                   c.stats.frames * 2048 == c.n && c.stats.frames + c.stats.dropped_frames == (c.n_tok + 6) / 7,
                   "unmasked: %s, %lld non-audio tokens of %lld, %lld frames, %lld dropped", srt_status_name(c.status),
                   (long long)outside, (long long)c.n_tok, (long long)c.stats.frames, (long long)c.stats.dropped_frames);
        col_free(&c);
        check_paths_agree(e, "unmasked layout", 2, NULL);
        srt_tts_engine_free(e);
    }
    remove(path);
}

int main(void) {
    /* the cpu backend's exact path: cuda (f32-accurate split-bf16 GEMMs) and cpu must sample the same tokens (the bf16
     * default: test_cpu_lm_bf16.c) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    setenv("SNACRT_CUDA_LM_PRECISION", "exact", 1);   /* likewise cuda's split hi + lo (default bf16: test_cudasim_lm_bf16) */
    test_src_path("tests/data/llama/tiny-orpheus", lm_dir, sizeof lm_dir);
    test_src_path("tests/data/snac/tiny24", codec_dir, sizeof codec_dir);
    srt_codec *codec = NULL;
    srt_codec_options co = {.backend = "cpu", .n_threads = 2};
    TEST_CHECK(srt_codec_load(codec_dir, &co, &codec) == SRT_OK, "codec: %s", srt_last_error());
    srt_tts_engine *e = make_engine(16, 0, 0, 0, 0);
    if (!e || !codec) TEST_MAIN_END();
    TEST_CHECK(srt_tts_sample_rate(e) == 24000 && srt_tts_group_samples(e) == 2048, "rate %d, group %lld",
               srt_tts_sample_rate(e), (long long)srt_tts_group_samples(e));
    const char *const *voices = srt_tts_voices(e);
    TEST_CHECK(voices && voices[0] && !strcmp(voices[0], "tara") && voices[8] == NULL, "voices");
    run_alone(e);
    srt_tts_metrics m = metrics_of(e);
    TEST_CHECK(m.sample_steps_device > 0 && m.sample_steps_host == 0, "cpu: the reference runs sample on the device "
               "(%lld device steps, %lld host steps)", (long long)m.sample_steps_device, (long long)m.sample_steps_host);
    for (int i = 0; i < 4; i++) check_mask(e->layout, &alone[i], "alone");
    check_offline(codec, e->layout, &alone[0], "alone 0");
    test_batch_and_stream(e, codec);
    test_audio_in(e);
    test_end_of_speech(e, codec);
    check_paths_agree(e, "cpu", 4, alone);
    srt_tts_engine_free(e);
    test_chunked_prefill();
    test_kv_exhaustion();
    test_cancel();
    test_rejections();
    test_split(codec);
    test_split_stop(codec);
    test_unmasked();
    test_device_sampling_cuda(codec);
    for (int i = 0; i < 4; i++) col_free(&alone[i]);
    srt_codec_free(codec);
    TEST_MAIN_END();
}
