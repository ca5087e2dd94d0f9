/* bench_replicas.c: the speech engine over 1, 2, 4 CPU replicas (thread groups of --threads / R threads each,
 * srt_tts_config.devices = "cpu", replicas = R) behind one handle: S concurrent seeded requests, each generating
 * --tokens tokens; per replica count the wall time, total tokens/s, streams (requests) per second and the mean time
 * to first audio. Printed as one JSON object. Same requests for every R (the outputs are identical by construction;
 * only the speed changes).
 *   bench_replicas [--lm DIR] [--codec DIR] [--replicas 1,2,4] [--streams 16] [--tokens 28] [--threads N] [--tp 1]
 * Default models: the tiny test models (tests/data, run from the repo root): they measure the router and scheduler
 * more than the LM. On a loaded machine compare only numbers from one run. */
#include "snacrt.h"
#include "snacrt_tts.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_common.h"

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
    double first_audio_sum;
    int64_t tokens;
} waiter;

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    (void)pcm; (void)n;
    waiter *w = user;
    if (!done) return 0;
    pthread_mutex_lock(&w->mu);
    w->done++;
    if (status != SRT_OK) w->failed++;
    if (st) { w->first_audio_sum += st->first_audio_ms; w->tokens += st->generated_tokens; }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int main(int argc, char **argv) {
    const char *lm = "tests/data/llama/tiny-orpheus", *codec = "tests/data/snac/tiny24", *reps = "1,2,4";
    int streams = 16, tokens = 28, tp = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 0 ? (int)cores : 1;
    const bench_opt opts[] = {{"--lm", BENCH_STR, &lm, 0}, {"--codec", BENCH_STR, &codec, 0},
                              {"--replicas", BENCH_STR, &reps, 0}, {"--streams", BENCH_INT, &streams, 0},
                              {"--tokens", BENCH_INT, &tokens, 0}, {"--threads", BENCH_INT, &threads, 0},
                              {"--tp", BENCH_INT, &tp, 0}};
    if (bench_parse_opts("bench_replicas", NULL, argc, argv, 1, opts, BENCH_N_OPTS(opts))) return 2;
    if (streams < 1 || tokens < 1 || threads < 1 || tp < 1) { fprintf(stderr, "bench_replicas: bad value\n"); return 2; }
    printf("{\"bench\":\"replicas\",\"lm\":\"%s\",\"streams\":%d,\"tokens\":%d,\"threads\":%d,\"tp\":%d,\"runs\":[",
           lm, streams, tokens, threads, tp);
    const char *texts[] = {"Hello there.", "The quick brown fox.", "One, two, three!", "Good morning to you."};
    int first = 1;
    for (const char *p = reps; *p;) {
        int r = atoi(p);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
        if (r < 1) continue;
        srt_tts_config cfg;
        srt_tts_config_defaults(&cfg);
        cfg.lm_dir = lm;
        cfg.codec_dir = codec;
        cfg.devices = "cpu";
        cfg.replicas = r;
        cfg.tp = tp;
        cfg.n_threads = threads;
        cfg.max_running = streams;
        cfg.sampling.max_tokens = tokens;
        srt_tts_engine *e = NULL;
        srt_status st = srt_tts_engine_create(&cfg, &e);
        if (st != SRT_OK) { fprintf(stderr, "bench_replicas: %s\n", srt_last_error()); return 1; }
        waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
        double t0 = now_s();
        for (int i = 0; i < streams; i++) {
            srt_sampling_params sp = cfg.sampling;
            sp.seed = 100 + (uint64_t)i;
            sp.max_tokens = tokens;
            sp.stop_ids = NULL;
            srt_tts_request req = {.text = texts[i % 4], .voice = NULL, .sampling = &sp};
            if (srt_tts_submit(e, &req, on_audio, &w, NULL) != SRT_OK) {
                fprintf(stderr, "bench_replicas: submit: %s\n", srt_last_error());
                return 1;
            }
        }
        pthread_mutex_lock(&w.mu);
        while (w.done < streams) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        double wall = now_s() - t0;
        printf("%s{\"replicas\":%d,\"threads_per_replica\":%d,\"wall_s\":%.3f,\"tokens\":%lld,\"tokens_per_s\":%.1f,"
               "\"streams_per_s\":%.3f,\"first_audio_ms_avg\":%.1f,\"failed\":%d}", first ? "" : ",", r,
               threads / r > 0 ? threads / r : 1, wall, (long long)w.tokens, (double)w.tokens / wall,
               (double)streams / wall, w.first_audio_sum / streams, w.failed);
        fflush(stdout);
        first = 0;
        srt_tts_engine_free(e);
    }
    printf("]}\n");
    return 0;
}
