/* bench_chat_mix.c: tokens/s of one engine serving speech alone, then a mixed batch of speech, spoken chat (text and
 * audio out) and transcription (audio in, text out) requests together (layout spoken-chat, one continuous batch).
 *   bench_chat_mix [-m LM_DIR] [--codec SNAC_DIR] [--requests N] [--tokens T] [--threads N] [--src DIR]
 * Defaults: the tiny random-weight models of the source tree, 12 requests, 64 tokens each. Prints one JSON line
 * per phase: {"phase", "requests", "tokens", "seconds", "tokens_per_s"}. Compare phases of one run only. */
#include "snacrt.h"
#include "snacrt_chat.h"
#include "snacrt_audio.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_common.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int left, failures;

static void finished(srt_status st) {
    pthread_mutex_lock(&mu);
    left--;
    failures += st != SRT_OK;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}
static int on_audio(void *u, const float *p, int64_t n, int done, srt_status st, const srt_tts_stats *s) {
    (void)u; (void)p; (void)n; (void)s;
    if (done) finished(st);
    return 0;
}
static int on_chat(void *u, const srt_chat_event *ev) {
    (void)u;
    if (ev->kind == SRT_CHAT_EV_DONE) finished(ev->status);
    return 0;
}

/* kinds[i]: 0 speech, 1 chat, 2 transcription. */
static int run_phase(srt_tts_engine *e, const char *name, int n, const int *kinds, const srt_sampling_params *sp,
                     const float *pcm, int64_t n_pcm, int rate) {
    srt_tts_metrics m0, m1;
    srt_tts_get_metrics(e, &m0);
    double t0 = now_s();
    left = n;
    failures = 0;
    srt_chat_input_part audio = {NULL, pcm, n_pcm, rate}, q = {"What is this?", NULL, 0, 0};
    srt_chat_input_part chat_parts[2] = {audio, q};
    srt_chat_message chat = {SRT_CHAT_USER, chat_parts, 2}, asr = {SRT_CHAT_USER, &audio, 1};
    for (int i = 0; i < n; i++) {
        srt_sampling_params s = *sp;
        s.seed = (uint64_t)i + 1;
        srt_status st;
        if (kinds[i] == 0) {
            srt_tts_request r = {.text = "Hello there, this is a benchmark sentence.", .sampling = &s};
            st = srt_tts_submit(e, &r, on_audio, NULL, NULL);
        } else {
            srt_chat_request r = {.turns = kinds[i] == 1 ? &chat : &asr, .n_turns = 1, .sampling = &s,
                                  .modalities = kinds[i] == 1 ? SRT_CHAT_TEXT | SRT_CHAT_AUDIO : SRT_CHAT_TEXT};
            st = srt_chat_submit(e, &r, on_chat, NULL, NULL);
        }
        if (st != SRT_OK) { fprintf(stderr, "bench_chat_mix: submit: %s\n", srt_last_error()); return 1; }
    }
    pthread_mutex_lock(&mu);
    while (left > 0) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    double dt = now_s() - t0;
    srt_tts_get_metrics(e, &m1);
    long long tokens = (long long)(m1.generated_tokens_total - m0.generated_tokens_total);
    printf("{\"phase\": \"%s\", \"requests\": %d, \"failed\": %d, \"tokens\": %lld, \"seconds\": %.3f, "
           "\"tokens_per_s\": %.1f}\n", name, n, failures, tokens, dt, tokens / dt);
    fflush(stdout);
    return failures != 0;
}

int main(int argc, char **argv) {
    const char *src = ".", *lm = NULL, *codec = NULL;
    int n = 12, tokens = 64, threads = 0;
    const bench_opt opts[] = {{"-m", BENCH_STR, &lm, 0}, {"--codec", BENCH_STR, &codec, 0},
                              {"--requests", BENCH_INT, &n, 0}, {"--tokens", BENCH_INT, &tokens, 0},
                              {"--threads", BENCH_INT, &threads, 0}, {"--src", BENCH_STR, &src, 0}};
    if (bench_parse_opts("bench_chat_mix", NULL, argc, argv, 1, opts, BENCH_N_OPTS(opts))) return 2;
    if (n < 3 || tokens < 1) { fprintf(stderr, "bench_chat_mix: --requests >= 3, --tokens >= 1\n"); return 2; }
    char lm_buf[1024], codec_buf[1024], wav[1024];
    snprintf(lm_buf, sizeof lm_buf, "%s/tests/data/llama/tiny-orpheus", src);
    snprintf(codec_buf, sizeof codec_buf, "%s/tests/data/snac/tiny24", src);
    snprintf(wav, sizeof wav, "%s/tests/data/speech/hello.wav", src);
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm ? lm : lm_buf;
    cfg.codec_dir = codec ? codec : codec_buf;
    cfg.layout = "spoken-chat";
    cfg.n_threads = threads;
    cfg.max_running = n;
    srt_tts_engine *e = NULL;
    float *pcm = NULL;
    int64_t n_pcm = 0;
    srt_audio_source_info info;
    if (srt_tts_engine_create(&cfg, &e) != SRT_OK || srt_audio_read(wav, 0, &pcm, &n_pcm, &info) != SRT_OK) {
        fprintf(stderr, "bench_chat_mix: %s\n", srt_last_error());
        srt_tts_engine_free(e);
        return 1;
    }
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 1.0f;
    sp.max_tokens = tokens;
    int *kinds = calloc((size_t)n, sizeof *kinds);
    int rc = run_phase(e, "speech", n, kinds, &sp, pcm, n_pcm, info.sample_rate);
    for (int i = 0; i < n; i++) kinds[i] = i % 3;
    rc |= run_phase(e, "mixed", n, kinds, &sp, pcm, n_pcm, info.sample_rate);
    free(kinds);
    free(pcm);
    srt_tts_engine_free(e);
    return rc;
}
