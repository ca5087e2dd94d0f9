/* test_chat_engine.c: conversations in the TTS engine (snacrt_chat.h) on the tiny random-weight models
 * (tiny-orpheus + tiny24), layout spoken-chat. The answer is scripted through the logits callback (each row
 * checked to allow the scripted token under the demultiplexer's mask, then the token forced): text with "€"
 * split over three byte tokens comes out whole; two audio segments each get their PCM (equal to the offline
 * decode of their codes) and an AUDIO_END; stats count text and audio tokens. Then a mixed batch: a speech
 * request, a text+audio chat with an audio turn (hello.wav) and a text-only chat run together and give the
 * tokens each gives alone; errors: a role the layout lacks, an empty conversation. */
#include "tts/tts_internal.h"
#include "snacrt_audio.h"
#include "testutil.h"
#include <math.h>
#include <pthread.h>

#define A0 128266

typedef struct chat_col {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[4096]; size_t n_text;
    int text_events, euro_whole;
    float *pcm[4]; int64_t n_pcm[4];
    int seg_end[4], bad_segment;
    int32_t tokens[2048]; int n_tok;
    const int32_t *script; int n_script;
    int mask_violation;
    int done;
    srt_status status;
    srt_chat_stats stats;
    char error[256];
} chat_col;

static void col_init(chat_col *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}
static void col_free(chat_col *c) {
    for (int i = 0; i < 4; i++) free(c->pcm[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static int on_event(void *user, const srt_chat_event *ev) {
    chat_col *c = user;
    pthread_mutex_lock(&c->mu);
    if (ev->kind == SRT_CHAT_EV_TEXT && c->n_text + ev->n_text < sizeof c->text) {
        memcpy(c->text + c->n_text, ev->text, ev->n_text);
        c->n_text += ev->n_text;
        c->text_events++;
        if (ev->n_text == 3 && !memcmp(ev->text, "\xE2\x82\xAC", 3)) c->euro_whole = 1;
    } else if (ev->kind == SRT_CHAT_EV_AUDIO) {
        if (ev->segment < 0 || ev->segment > 3 || c->seg_end[ev->segment]) c->bad_segment = 1;
        else {
            int s = ev->segment;
            c->pcm[s] = realloc(c->pcm[s], sizeof(float) * (size_t)(c->n_pcm[s] + ev->n_samples));
            memcpy(c->pcm[s] + c->n_pcm[s], ev->pcm, sizeof(float) * (size_t)ev->n_samples);
            c->n_pcm[s] += ev->n_samples;
        }
    } else if (ev->kind == SRT_CHAT_EV_AUDIO_END) {
        if (ev->segment < 0 || ev->segment > 3) c->bad_segment = 1;
        else c->seg_end[ev->segment]++;
    } else if (ev->kind == SRT_CHAT_EV_DONE) {
        c->done = 1;
        c->status = ev->status;
        c->stats = *ev->stats;
        snprintf(c->error, sizeof c->error, "%s", srt_last_error());
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static void on_token(void *user, int piece, int32_t t) {
    chat_col *c = user;
    (void)piece;
    if (c->n_tok < 2048) c->tokens[c->n_tok++] = t;
}

/* Force the scripted token (after checking the mask allows it). */
static void on_logits(void *user, int piece, int n_gen, float *row, int vocab) {
    chat_col *c = user;
    (void)piece;
    if (n_gen >= c->n_script) return;
    int32_t t = c->script[n_gen];
    if (t < 0 || t >= vocab || isinf(row[t])) c->mask_violation = 1;
    else row[t] = 1e30f;
}

static void wait_done(chat_col *c) {
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static char lm_dir[1024], codec_dir[1024];

static srt_tts_engine *make_engine(const char *layout) {
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = layout;
    cfg.n_threads = 2;
    cfg.max_running = 4;
    cfg.sampling.max_tokens = 64;
    srt_tts_engine *e = NULL;
    TEST_CHECK(srt_tts_engine_create(&cfg, &e) == SRT_OK, "engine (%s): %s", layout, srt_last_error());
    return e;
}

/* PCM of segment s equals the offline decode of the scripted codes (groups of 7 ids). */
static void check_segment(srt_tts_engine *e, const chat_col *c, int s, const int32_t *ids, size_t n_ids) {
    srt_codes codes;
    TEST_CHECK(srt_layout_ids_to_codes(e->layout, ids, n_ids, &codes) == SRT_OK, "codes: %s", srt_last_error());
    float *audio = NULL;
    int64_t n = 0;
    TEST_CHECK(srt_codec_decode(e->codec, 1, &codes, -1, &audio, &n) == SRT_OK, "decode: %s", srt_last_error());
    TEST_CHECK(n == c->n_pcm[s] && n == codes.n_frames[0] * 2048, "segment %d: %lld samples, offline %lld", s,
               (long long)c->n_pcm[s], (long long)n);
    if (n == c->n_pcm[s]) {
        double err;
        TEST_CHECK(test_compare(c->pcm[s], audio, (size_t)n, 1e-5, 0, NULL, &err) <= 0,
                   "segment %d streamed = offline (max error %g)", s, err);
    }
    free(audio);
    srt_codes_free(&codes);
}

static void test_scripted(srt_tts_engine *e) {
    /* "Hello" "€"(3 byte tokens) | audio: 2 groups | "Hi" | audio: 1 group + 2 ids (dropped) | <|eot_id|> */
    int32_t g1[14], g2[7];
    for (int i = 0; i < 14; i++) g1[i] = A0 + (i % 7) * 4096 + 11 * i + 3;
    for (int i = 0; i < 7; i++) g2[i] = A0 + i * 4096 + 100 + i;
    int32_t script[64];
    int n = 0;
    script[n++] = 9906; script[n++] = 158; script[n++] = 224; script[n++] = 105;
    script[n++] = 128257;
    for (int i = 0; i < 14; i++) script[n++] = g1[i];
    script[n++] = 128258;
    script[n++] = 13347;
    script[n++] = 128257;
    for (int i = 0; i < 7; i++) script[n++] = g2[i];
    script[n++] = A0 + 5; script[n++] = A0 + 4096 + 5;
    script[n++] = 128258;
    script[n++] = 128009;
    chat_col c;
    col_init(&c);
    c.script = script;
    c.n_script = n;
    srt_chat_input_part part = {.text = "Hi"};
    srt_chat_message turn = {SRT_CHAT_USER, &part, 1};
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 0;
    sp.repetition_penalty = 1;
    sp.max_tokens = 64;
    srt_chat_request req = {.turns = &turn, .n_turns = 1, .sampling = &sp, .on_token = on_token,
                            .on_logits = on_logits};
    TEST_CHECK(srt_chat_submit(e, &req, on_event, &c, NULL) == SRT_OK, "submit: %s", srt_last_error());
    wait_done(&c);
    TEST_CHECK(c.status == SRT_OK, "scripted answer: %s", c.error);
    TEST_CHECK(!c.mask_violation, "every scripted token was allowed by the mask");
    TEST_CHECK(c.n_tok == n && !memcmp(c.tokens, script, sizeof(int32_t) * (size_t)n), "the script was generated "
               "(%d of %d tokens)", c.n_tok, n);
    TEST_CHECK(!strcmp(c.text, "Hello\xE2\x82\xACHi") && c.euro_whole, "text '%s', the euro sign in one event", c.text);
    TEST_CHECK(!c.bad_segment && c.seg_end[0] == 1 && c.seg_end[1] == 1 && !c.seg_end[2], "two segments ended once each");
    check_segment(e, &c, 0, g1, 14);
    check_segment(e, &c, 1, g2, 7);
    TEST_CHECK(c.stats.segments == 2 && c.stats.text_tokens == 5 && c.stats.audio_tokens == 23 &&
               c.stats.frames == 3 && c.stats.dropped_frames == 1 && c.stats.finish == SRT_FINISH_STOP &&
               c.stats.prompt_tokens == 12 - 1 + 0 && c.stats.samples == c.n_pcm[0] + c.n_pcm[1],
               "stats: segments %d text %lld audio %lld frames %lld dropped %lld prompt %lld", c.stats.segments,
               (long long)c.stats.text_tokens, (long long)c.stats.audio_tokens, (long long)c.stats.frames,
               (long long)c.stats.dropped_frames, (long long)c.stats.prompt_tokens);
    col_free(&c);
}

typedef struct tts_col { pthread_mutex_t mu; pthread_cond_t cv; int done; srt_status st; int32_t tok[2048]; int n; } tts_col;
static int tts_cb(void *user, const float *pcm, int64_t n, int done, srt_status st, const srt_tts_stats *s) {
    tts_col *c = user;
    (void)pcm; (void)n; (void)s;
    if (done) {
        pthread_mutex_lock(&c->mu);
        c->done = 1;
        c->st = st;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return 0;
}
static void tts_tok(void *user, int piece, int32_t t) {
    tts_col *c = user;
    (void)piece;
    if (c->n < 2048) c->tok[c->n++] = t;
}

/* A speech request, a text+audio chat with an audio turn and a text-only chat: together as alone. */
static void test_mixed(srt_tts_engine *e) {
    char path[1024];
    float *pcm = NULL;
    int64_t n_pcm = 0;
    srt_audio_source_info info;
    TEST_CHECK(srt_audio_read(test_src_path("tests/data/speech/hello.wav", path, sizeof path), 0, &pcm, &n_pcm, &info)
               == SRT_OK, "hello.wav: %s", srt_last_error());
    if (!pcm) return;
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 1.0f;
    sp.max_tokens = 40;
    srt_chat_input_part p_audio = {.pcm = pcm, .n_samples = n_pcm, .rate = info.sample_rate};
    srt_chat_input_part p_text = {.text = "What is this?"};
    srt_chat_input_part parts[2] = {p_audio, p_text};
    srt_chat_message turn = {SRT_CHAT_USER, parts, 2};
    chat_col alone[2], mixed[2];
    tts_col ta, tm;
    for (int round = 0; round < 2; round++) {
        chat_col *cc = round ? mixed : alone;
        tts_col *tc = round ? &tm : &ta;
        memset(tc, 0, sizeof *tc);
        pthread_mutex_init(&tc->mu, NULL);
        pthread_cond_init(&tc->cv, NULL);
        for (int k = 0; k < 2; k++) {
            col_init(&cc[k]);
            sp.seed = 7 + (uint64_t)k;
            srt_chat_request req = {.turns = &turn, .n_turns = 1, .sampling = &sp, .on_token = on_token,
                                    .modalities = k ? SRT_CHAT_TEXT : SRT_CHAT_TEXT | SRT_CHAT_AUDIO};
            TEST_CHECK(srt_chat_submit(e, &req, on_event, &cc[k], NULL) == SRT_OK, "chat %d: %s", k, srt_last_error());
            if (!round) wait_done(&cc[k]);
        }
        sp.seed = 9;
        srt_tts_request tr = {.text = "Hello there.", .sampling = &sp, .on_token = tts_tok};
        TEST_CHECK(srt_tts_submit(e, &tr, tts_cb, tc, NULL) == SRT_OK, "speech: %s", srt_last_error());
        pthread_mutex_lock(&tc->mu);
        while (!tc->done) pthread_cond_wait(&tc->cv, &tc->mu);
        pthread_mutex_unlock(&tc->mu);
        for (int k = 0; k < 2; k++) wait_done(&cc[k]);
    }
    for (int k = 0; k < 2; k++) {
        TEST_CHECK(alone[k].status == SRT_OK && mixed[k].status == SRT_OK, "chat %d ok: %s %s", k, alone[k].error,
                   mixed[k].error);
        TEST_CHECK(alone[k].n_tok > 0 && alone[k].n_tok == mixed[k].n_tok &&
                   !memcmp(alone[k].tokens, mixed[k].tokens, sizeof(int32_t) * (size_t)alone[k].n_tok) &&
                   !strcmp(alone[k].text, mixed[k].text), "chat %d: the same %d tokens in the mixed batch", k,
                   alone[k].n_tok);
        TEST_CHECK(alone[k].stats.prompt_tokens > 30, "chat %d: the audio turn is in the prompt (%lld tokens)", k,
                   (long long)alone[k].stats.prompt_tokens);
        for (int i = 0; i < alone[k].n_tok; i++)
            if (k == 1 && alone[k].tokens[i] >= 128257) { TEST_CHECK(0, "the text-only chat generated an audio id"); break; }
        col_free(&alone[k]);
        col_free(&mixed[k]);
    }
    TEST_CHECK(ta.st == SRT_OK && tm.st == SRT_OK && ta.n == tm.n && !memcmp(ta.tok, tm.tok, sizeof(int32_t) * (size_t)ta.n),
               "speech: the same %d tokens beside the chats", ta.n);
    free(pcm);
}

static void test_errors(srt_tts_engine *e) {
    srt_chat_input_part part = {.text = "Hi"};
    srt_chat_message turn = {7, &part, 1};
    srt_chat_request req = {.turns = &turn, .n_turns = 1};
    chat_col c;
    col_init(&c);
    TEST_CHECK(srt_chat_submit(e, &req, on_event, &c, NULL) == SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), "turn 0"),
               "unknown role: %s", srt_last_error());
    req.n_turns = 0;
    TEST_CHECK(srt_chat_submit(e, &req, on_event, &c, NULL) == SRT_ERR_INVALID_ARG, "no turns: %s", srt_last_error());
    col_free(&c);
}

int main(void) {
    test_src_path("tests/data/llama/tiny-orpheus", lm_dir, sizeof lm_dir);
    test_src_path("tests/data/snac/tiny24", codec_dir, sizeof codec_dir);
    srt_tts_engine *e = make_engine("spoken-chat");
    if (e) {
        test_scripted(e);
        test_mixed(e);
        test_errors(e);
        srt_tts_engine_free(e);
    }
    TEST_MAIN_END();
}
