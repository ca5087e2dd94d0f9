/* example.c: a client of the installed snacrt library, using only the public API (#include <snacrt.h>).
 * It encodes and decodes a batch of two signals with a SNAC codec, generates a batch of two continuations with a
 * Llama-family LM, and runs the TTS engine on one sentence (PCM arrives through a callback).
 *
 *   cc example.c $(pkg-config --cflags --libs snacrt) -o example            # shared library
 *   cc example.c $(pkg-config --static --cflags --libs snacrt | sed 's/-lsnacrt/-l:libsnacrt.a/') -o example
 *   ./example CODEC_DIR LM_DIR [OUT.wav]    # e.g. tests/data/snac/tiny24 tests/data/llama/tiny-orpheus
 * Exit status 0 when every step worked; on a failure it prints srt_last_error() and exits 1. */
#include <snacrt.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, srt_status st) {
    fprintf(stderr, "example: %s: %s: %s\n", what, srt_status_name(st), srt_last_error());
    return 1;
}

/* ---- 1. codec: encode a batch of two signals of different lengths, decode them back */
static int codec_demo(const char *codec_dir) {
    srt_codec_options opts = {.backend = "cpu", .n_threads = 2};
    srt_codec *codec = NULL;
    srt_status st = srt_codec_load(codec_dir, &opts, &codec);
    if (st != SRT_OK) return fail("codec load", st);
    srt_codec_info info;
    srt_codec_get_info(codec, &info);

    int64_t n[2] = {info.sample_rate / 2, info.sample_rate / 3};   /* 0.5 s and 0.33 s */
    float *sig[2];
    for (int b = 0; b < 2; b++) {
        sig[b] = malloc(sizeof(float) * (size_t)n[b]);
        int64_t period = info.sample_rate / (220 * (b + 1));      /* a triangle wave at 220 / 440 Hz */
        for (int64_t i = 0; i < n[b]; i++) {
            int64_t k = i % period;
            sig[b][i] = 0.3f * (float)(k < period / 2 ? 4 * k - period : 3 * period - 4 * k) / (float)period;
        }
    }
    srt_codes codes[2];
    const float *const in[2] = {sig[0], sig[1]};
    st = srt_codec_encode(codec, 2, in, n, codes, NULL, NULL);
    int rc = 0;
    if (st != SRT_OK) { rc = fail("encode", st); goto out_sig; }
    float *audio[2] = {NULL, NULL};
    int64_t n_out[2] = {0, 0};
    st = srt_codec_decode(codec, 2, codes, -1, audio, n_out);
    if (st != SRT_OK) rc = fail("decode", st);
    for (int b = 0; b < 2 && st == SRT_OK; b++) {
        printf("codec: signal %d: %lld samples -> %d levels, %lld coarse codes -> %lld samples\n", b, (long long)n[b],
               codes[b].n_levels, (long long)codes[b].n_frames[0], (long long)n_out[b]);
        if (n_out[b] != n[b]) { fprintf(stderr, "example: decoded length %lld != %lld\n", (long long)n_out[b], (long long)n[b]); rc = 1; }
    }
    for (int b = 0; b < 2; b++) { free(audio[b]); srt_codes_free(&codes[b]); }
out_sig:
    for (int b = 0; b < 2; b++) free(sig[b]);
    srt_codec_free(codec);
    return rc;
}

/* ---- 2. language model: two prompts generated together (greedy), ids and text printed */
static int lm_demo(const char *lm_dir) {
    srt_lm_options opts = {.backend = "cpu", .n_threads = 2};
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(lm_dir, &opts, &lm);
    if (st != SRT_OK) return fail("lm load", st);
    const char *prompts[2] = {"Hello", "The quick brown fox"};
    srt_lm_request req[2];
    srt_lm_output out[2] = {{0}, {0}};
    int32_t *ids[2] = {NULL, NULL};
    int rc = 0;
    for (int r = 0; r < 2; r++) {
        size_t n_ids = 0;
        st = srt_lm_encode(lm, prompts[r], 1, &ids[r], &n_ids);
        if (st != SRT_OK) { rc = fail("tokenize", st); goto out; }
        srt_sampling_defaults(&req[r].sampling);
        req[r].sampling.temperature = 0;         /* greedy */
        req[r].sampling.max_tokens = 8;
        req[r].prompt = ids[r];
        req[r].n_prompt = n_ids;
    }
    st = srt_lm_generate(lm, 2, req, out);
    if (st != SRT_OK) { rc = fail("generate", st); goto out; }
    for (int r = 0; r < 2; r++) {
        char *text = NULL;
        st = srt_lm_decode(lm, out[r].ids, out[r].n_ids, 0, &text);
        if (st != SRT_OK) { rc = fail("detokenize", st); break; }
        printf("lm: \"%s\" -> %zu ids (%s)\n", prompts[r], out[r].n_ids,
               out[r].finish == SRT_FINISH_STOP ? "stop" : "length");
        free(text);
        if (out[r].n_ids == 0) { fprintf(stderr, "example: no ids generated\n"); rc = 1; }
    }
out:
    for (int r = 0; r < 2; r++) { free(ids[r]); srt_lm_output_free(&out[r]); }
    srt_lm_free(lm);
    return rc;
}

/* ---- 3. TTS engine: submit a sentence, collect the PCM the engine thread hands to the callback */
typedef struct pcm_sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *pcm;
    int64_t n;
    int done;
    srt_status status;
} pcm_sink;

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *stats) {
    pcm_sink *s = user;
    (void)stats;
    pthread_mutex_lock(&s->mu);
    float *grown = n > 0 ? realloc(s->pcm, sizeof(float) * (size_t)(s->n + n)) : s->pcm;
    if (grown) {
        for (int64_t i = 0; i < n; i++) grown[s->n + i] = pcm[i];
        s->pcm = grown;
        s->n += n;
    }
    if (done) { s->done = 1; s->status = status; pthread_cond_signal(&s->cv); }
    pthread_mutex_unlock(&s->mu);
    return grown ? 0 : 1;   /* out of memory: cancel */
}

static int tts_demo(const char *codec_dir, const char *lm_dir, const char *out_path) {
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = "orpheus";
    cfg.n_threads = 2;
    cfg.sampling.max_tokens = 7 * 8 + 2;       /* a few frame groups are enough for a demo */
    srt_tts_engine *engine = NULL;
    srt_status st = srt_tts_engine_create(&cfg, &engine);
    if (st != SRT_OK) return fail("tts engine", st);

    pcm_sink sink = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.seed = 42;
    sp.max_tokens = cfg.sampling.max_tokens;
    srt_tts_request req = {.text = "Hello from the snacrt example.", .sampling = &sp};
    uint64_t id = 0;
    int rc = 0;
    st = srt_tts_submit(engine, &req, on_audio, &sink, &id);
    if (st != SRT_OK) { rc = fail("tts submit", st); goto out; }
    pthread_mutex_lock(&sink.mu);
    while (!sink.done) pthread_cond_wait(&sink.cv, &sink.mu);
    pthread_mutex_unlock(&sink.mu);
    if (sink.status != SRT_OK) { rc = fail("tts request", sink.status); goto out; }
    printf("tts: request %llu: %lld samples at %d Hz\n", (unsigned long long)id, (long long)sink.n,
           srt_tts_sample_rate(engine));
    if (out_path) {
        st = srt_audio_write(out_path, sink.pcm, sink.n, srt_tts_sample_rate(engine), SRT_AUDIO_S16);
        if (st != SRT_OK) rc = fail("write", st);
    }
out:
    srt_tts_engine_free(engine);
    free(sink.pcm);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: example CODEC_DIR LM_DIR [OUT.wav]\n");
        return 2;
    }
    int rc = codec_demo(argv[1]);
    if (!rc) rc = lm_demo(argv[2]);
    if (!rc) rc = tts_demo(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
    if (!rc) printf("example: ok\n");
    return rc;
}
