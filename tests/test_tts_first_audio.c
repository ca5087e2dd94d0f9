/* test_tts_first_audio.c: what the step scheduler (host/tts/tts_sched.c) does for a request that joins a running
 * batch, counted in steps, not in time (bench/GPU_MODEL.md section 4b models exactly this):
 *   - it is admitted at the next step boundary and its whole prompt goes into that step together with the decode
 *     rows of the running requests (chunked prefill mixed into the step), so its first token comes out of the first
 *     step after it was submitted: no separate prefill step, no waiting for the batch to drain;
 *   - its first audio is delivered right after the step that completes its G-th frame group, G =
 *     srt_codec_stream_first_audio_groups (the streaming decoder emits every final sample, not whole groups), so
 *     first audio = 1 step with the prompt + (7 G - 1) decode steps + the codec push of that same step.
 * A running request A (tiny-orpheus + tiny24, seeded) submits B from its token callback (the engine thread) at its
 * k-th token; A's token count when B's first token and first audio arrive says how many steps B waited. */
#include "snacrt.h"
#include "snacrt_tts.h"
#include "testutil.h"
#include <pthread.h>

#define K_SUBMIT 3                 /* A's token at which B is submitted */
#define MAX_TOKENS (7 * 12)

typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srt_tts_engine *e;
    int64_t a_tokens;              /* A's tokens so far */
    int64_t a_at_b_token;          /* A's tokens when B's first token came (-1: not yet) */
    int64_t a_at_b_audio;          /* A's tokens when B's first audio came (-1: not yet) */
    int64_t b_tokens;
    int done[2];
    srt_status status[2];
    srt_tts_stats stats[2];
    srt_status submit_b;
} shared;

typedef struct who { shared *s; int i; } who;
static who g_who[2];

static srt_sampling_params sampling(uint64_t seed) {
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 1.0f;
    sp.top_p = 0.95f;
    sp.max_tokens = MAX_TOKENS;
    sp.seed = seed;
    return sp;
}

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    who *w = user;
    shared *s = w->s;
    (void)pcm;
    pthread_mutex_lock(&s->mu);
    if (w->i == 1 && n > 0 && s->a_at_b_audio < 0) s->a_at_b_audio = s->a_tokens;
    if (done) {
        s->done[w->i] = 1;
        s->status[w->i] = status;
        if (st) s->stats[w->i] = *st;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void submit_one(shared *s, int i, uint64_t seed, const char *text);

static void on_token(void *user, int piece, int32_t token) {
    who *w = user;
    shared *s = w->s;
    (void)piece; (void)token;
    pthread_mutex_lock(&s->mu);
    int submit_b = 0;
    if (w->i == 0) submit_b = ++s->a_tokens == K_SUBMIT;
    else if (s->b_tokens++ == 0) s->a_at_b_token = s->a_tokens;
    pthread_mutex_unlock(&s->mu);
    if (submit_b) submit_one(s, 1, 200, "A second request joins the batch.");   /* from the engine thread */
}

static void submit_one(shared *s, int i, uint64_t seed, const char *text) {
    srt_sampling_params sp = sampling(seed);
    srt_tts_request req = {.text = text, .voice = "tara", .sampling = &sp, .on_token = on_token};
    uint64_t id = 0;
    srt_status st = srt_tts_submit(s->e, &req, on_audio, &g_who[i], &id);
    if (i == 1) s->submit_b = st;
    TEST_CHECK(st == SRT_OK, "submit %d: %s", i, srt_last_error());
}

int main(void) {
    char lm_dir[1024], codec_dir[1024];
    test_src_path("tests/data/llama/tiny-orpheus", lm_dir, sizeof lm_dir);
    test_src_path("tests/data/snac/tiny24", codec_dir, sizeof codec_dir);

    /* G from the streaming decoder itself */
    srt_codec *codec = NULL;
    srt_codec_options co = {.backend = "cpu", .n_threads = 1};
    TEST_CHECK(srt_codec_load(codec_dir, &co, &codec) == SRT_OK, "codec: %s", srt_last_error());
    if (!codec) TEST_MAIN_END();
    srt_codec_stream *cs = NULL;
    TEST_CHECK(srt_codec_stream_open(codec, -1, &cs) == SRT_OK, "stream: %s", srt_last_error());
    const int G = srt_codec_stream_first_audio_groups(cs), la = srt_codec_stream_lookahead(cs);
    srt_codec_stream_free(cs);
    srt_codec_free(codec);
    printf("tiny24: first audio after %d groups (lookahead %d)\n", G, la);
    TEST_CHECK(G >= 1 && G <= la + 1 && 7 * G + K_SUBMIT < MAX_TOKENS, "G %d, lookahead %d", G, la);

    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = "orpheus";
    cfg.n_threads = 2;
    cfg.max_running = 4;
    cfg.sampling.max_tokens = MAX_TOKENS;
    shared s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.a_at_b_token = s.a_at_b_audio = -1;
    g_who[0] = (who){&s, 0};
    g_who[1] = (who){&s, 1};
    srt_status st = srt_tts_engine_create(&cfg, &s.e);
    TEST_CHECK(st == SRT_OK, "engine create: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();

    submit_one(&s, 0, 100, "Hello there, this is the request that is already running.");
    pthread_mutex_lock(&s.mu);
    while (!(s.done[0] && (s.done[1] || s.submit_b != SRT_OK || s.a_tokens < K_SUBMIT)))
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    srt_tts_engine_free(s.e);

    TEST_CHECK(s.status[0] == SRT_OK && s.status[1] == SRT_OK, "statuses %d %d", s.status[0], s.status[1]);
    /* A must still be generating when B's first audio comes, or its token count stops being a step counter */
    TEST_CHECK(s.stats[0].generated_tokens >= K_SUBMIT + 7 * G, "A generated %lld tokens (needs %d)",
               (long long)s.stats[0].generated_tokens, K_SUBMIT + 7 * G);
    TEST_CHECK(s.stats[1].dropped_frames == 0, "B dropped %lld frame groups", (long long)s.stats[1].dropped_frames);
    TEST_CHECK(s.a_at_b_token == K_SUBMIT + 1, "B's first token came with A's token %lld: expected %d (B's prompt "
               "in the first step after its submission, beside A's decode row)", (long long)s.a_at_b_token,
               K_SUBMIT + 1);
    TEST_CHECK(s.stats[1].first_audio_tokens == 7 * G, "B's first audio came after %lld of its tokens: expected "
               "7 x %d (the push of the step that completes group %d)", (long long)s.stats[1].first_audio_tokens, G, G);
    TEST_CHECK(s.a_at_b_audio == K_SUBMIT + 7 * G, "B's first audio came with A's token %lld: expected %d = %d + "
               "7 x %d (1 step with the prompt, %d decode steps)", (long long)s.a_at_b_audio, K_SUBMIT + 7 * G,
               K_SUBMIT, G, 7 * G - 1);
    printf("B: first token at A's token %lld, first audio at A's token %lld (%lld of B's tokens, %.1f ms); frame "
           "groups dropped A %lld B %lld\n", (long long)s.a_at_b_token, (long long)s.a_at_b_audio,
           (long long)s.stats[1].first_audio_tokens, s.stats[1].first_audio_ms, (long long)s.stats[0].dropped_frames,
           (long long)s.stats[1].dropped_frames);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    TEST_MAIN_END();
}
