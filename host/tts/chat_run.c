/* chat_run.c: srt_chat_run, the blocking way to use conversations: submit a set of requests at once (they share
 * the engine's batch), collect each answer's text and audio segments, wait for all. */
#include "snacrt_chat.h"
#include "common.h"
#include <pthread.h>

typedef struct run_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
    void (*on_done)(void *, int, const srt_chat_result *);
    void *user;
} run_state;

typedef struct run_slot { run_state *run; srt_chat_result *res; int index; int64_t *cap; int oom; } run_slot;

static int grow_bytes(void **p, size_t need, size_t *cap, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int on_event(void *user, const srt_chat_event *ev) {
    run_slot *s = user;
    srt_chat_result *r = s->res;
    if (ev->kind == SRT_CHAT_EV_TEXT) {
        char *t = realloc(r->text, r->n_text + ev->n_text + 1);
        if (!t) { s->oom = 1; return 1; }
        memcpy(t + r->n_text, ev->text, ev->n_text);
        r->n_text += ev->n_text;
        t[r->n_text] = 0;
        r->text = t;
    } else if (ev->kind == SRT_CHAT_EV_AUDIO || ev->kind == SRT_CHAT_EV_AUDIO_END) {
        while (r->n_segments <= ev->segment) {
            size_t cap = (size_t)r->n_segments, n = cap + 1;
            float **seg = realloc(r->segments, n * sizeof *seg);
            if (seg) r->segments = seg;
            int64_t *ns = realloc(r->n_samples, n * sizeof *ns);
            if (ns) r->n_samples = ns;
            int64_t *caps = realloc(s->cap, n * sizeof *caps);
            if (caps) s->cap = caps;
            if (!seg || !ns || !caps) { s->oom = 1; return 1; }
            r->segments[cap] = NULL;
            r->n_samples[cap] = 0;
            s->cap[cap] = 0;
            r->n_segments++;
        }
        if (ev->kind == SRT_CHAT_EV_AUDIO && ev->n_samples > 0) {
            int g = ev->segment;
            size_t cap = (size_t)s->cap[g];
            if (grow_bytes((void **)&r->segments[g], (size_t)(r->n_samples[g] + ev->n_samples), &cap, sizeof(float))) {
                s->oom = 1;
                return 1;
            }
            s->cap[g] = (int64_t)cap;
            memcpy(r->segments[g] + r->n_samples[g], ev->pcm, sizeof(float) * (size_t)ev->n_samples);
            r->n_samples[g] += ev->n_samples;
        }
    } else if (ev->kind == SRT_CHAT_EV_DONE) {
        r->status = s->oom ? SRT_ERR_NOMEM : ev->status;
        snprintf(r->error, sizeof r->error, "%s", s->oom ? "out of memory collecting the answer" :
                                                   ev->status == SRT_OK ? "" : srt_last_error());
        r->stats = *ev->stats;
        if (!r->text && (r->text = malloc(1))) r->text[0] = 0;
        run_state *run = s->run;
        if (run->on_done) run->on_done(run->user, s->index, r);
        pthread_mutex_lock(&run->mu);
        run->left--;
        pthread_cond_broadcast(&run->cv);
        pthread_mutex_unlock(&run->mu);
    }
    return 0;
}

srt_status srt_chat_run(srt_tts_engine *e, int n, const srt_chat_request *reqs, srt_chat_result *results,
                        void (*on_done)(void *, int, const srt_chat_result *), void *user) {
    if (n < 1 || !reqs || !results) return srt_error(SRT_ERR_INVALID_ARG, "srt_chat_run: no requests");
    memset(results, 0, sizeof *results * (size_t)n);
    run_slot *slots = srt_calloc((size_t)n, sizeof *slots, "chat run");
    if (!slots) return SRT_ERR_NOMEM;
    run_state run = {.on_done = on_done, .user = user};
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.cv, NULL);
    srt_status st = SRT_OK;
    for (int i = 0; i < n; i++) {
        slots[i] = (run_slot){&run, &results[i], i, NULL, 0};
        pthread_mutex_lock(&run.mu);
        run.left++;
        pthread_mutex_unlock(&run.mu);
        st = srt_chat_submit(e, &reqs[i], on_event, &slots[i], NULL);
        if (st != SRT_OK) {
            srt_error_prefix(st, "request %d: ", i);
            pthread_mutex_lock(&run.mu);
            run.left--;
            pthread_mutex_unlock(&run.mu);
            results[i].status = st;
            snprintf(results[i].error, sizeof results[i].error, "%s", srt_last_error());
            break;
        }
    }
    pthread_mutex_lock(&run.mu);
    while (run.left > 0) pthread_cond_wait(&run.cv, &run.mu);
    pthread_mutex_unlock(&run.mu);
    for (int i = 0; i < n; i++) free(slots[i].cap);
    free(slots);
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv);
    return st;
}

void srt_chat_result_free(srt_chat_result *r) {
    if (!r) return;
    free(r->text);
    for (int i = 0; i < r->n_segments; i++) free(r->segments[i]);
    free(r->segments);
    free(r->n_samples);
    memset(r, 0, sizeof *r);
}
