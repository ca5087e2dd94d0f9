/* tts_replicas.c: data-parallel engine replicas behind one srt_tts_engine handle (srt_tts_config.devices /
 * replicas): the device list is cut into replicas of tp devices each (or host thread groups), each a whole engine
 * (scheduler thread, LM tensor parallel over its devices, codec). The router (this file) sends each request to
 * the up replica with the most free KV capacity and wraps its callback to keep the books:
 *   capacity (tokens) = the replica's KV cache size (kv_max_tokens, or max_running * (max_tokens + 512) as the
 *   engine sizes it); demand = the sum over its unfinished requests of prompt estimate + max_tokens.
 * Conversations (srt_chat_submit) are routed the same way: their events are wrapped like speech's audio (the DONE
 * event is the end), a lost one ends with a DONE event carrying SRT_ERR_BACKEND.
 * A request stays on its replica (its id carries the replica: id = inner id * 64 + replica). A replica fails when a
 * request ends with SRT_ERR_BACKEND (or the test hook SNACRT_TEST_FAIL_REPLICA=K:N fires at replica K's N-th audio
 * callback): its other requests end at once with SRT_ERR_BACKEND naming the replica (their engine requests are
 * cancelled by the maintenance thread and their later callbacks swallowed), it takes no new requests, and once its
 * last callback has returned the maintenance thread frees it and loads it again. Other replicas never wait on it.
 * Lock order: router mutex, then an engine's own mutex (srt_tts_get_metrics); callbacks to the caller are made
 * without the router mutex. */
#include "tts/tts_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_REPLICAS 64

typedef struct route route;

typedef struct replica {
    int index;
    char label[64];                    /* "cuda:2-3", "cpu#1" */
    char backend[32];                  /* its engine's backend ("cuda:2", "cpu") */
    int n_threads;
    srt_tts_engine *engine;            /* NULL while restarting or down */
    srt_tts_replica_state state;
    int64_t capacity, demand;
    int active;                        /* routes whose engine request has not ended */
    route *routes;                     /* those routes (doubly linked) */
    int64_t failures, restarts, audio_calls, fail_at;
    srt_tts_metrics retired;           /* counters of engines freed at restarts */
} replica;

struct tts_replicas {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srt_tts_config cfg;                /* the facade's (its strings live in the facade engine) */
    int n;
    replica r[MAX_REPLICAS];
    pthread_t thread;
    int thread_started, stop;
    int64_t rejected;                  /* submits refused with no replica up */
};

struct route {
    tts_replicas *rs;
    int replica;
    int64_t demand;
    srt_tts_audio_cb cb;               /* speech, or */
    srt_chat_cb chat_cb;               /* a conversation */
    void *user;
    uint64_t inner_id;
    int submitted;                     /* srt_tts_submit returned (inner_id valid) */
    int ended;                         /* the caller got its final callback (failure path) */
    int inner_done;                    /* the engine's final callback came */
    int cancel_sent;
    route *prev, *next;
};

/* ---------------------------------------------------------------- device lists */

/* "cuda:0-3,6" -> devs; "cuda" -> 0. Returns the count or -1. */
int tts_parse_cuda_list(const char *s, int *devs, int cap) {
    if (!s[0]) { devs[0] = 0; return 1; }
    if (s[0] != ':') return -1;
    int n = 0;
    const char *p = s + 1;
    for (;;) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || errno || a < 0 || a > 1023) return -1;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b > 1023) return -1;
            p = end;
        }
        for (long d = a; d <= b; d++) {
            if (n == cap) return -1;
            devs[n++] = (int)d;
        }
        if (!*p) return n;
        if (*p != ',') return -1;
        p++;
    }
}

/* Fill rs->r[*].backend / label / n_threads from cfg (devices, replicas, tp, n_threads). */
static srt_status plan_replicas(tts_replicas *rs, const srt_tts_config *c) {
    const char *d = c->devices ? c->devices : c->backend ? c->backend : "cpu";
    int tp = c->tp > 1 ? c->tp : 1;
    if (!strncmp(d, "cuda", 4)) {
        int devs[MAX_REPLICAS * 8];
        int n = tts_parse_cuda_list(d + 4, devs, (int)(sizeof devs / sizeof devs[0]));
        if (n < 1)
            return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': expected cuda:N, cuda:A-B or a comma list of those", d);
        if (n % tp)
            return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': %d device(s) do not split into replicas of --tp %d", d,
                             n, tp);
        if (n / tp > MAX_REPLICAS) return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': more than %d replicas", d,
                                                    MAX_REPLICAS);
        if (c->replicas > 1 && c->replicas != n / tp)
            return srt_error(SRT_ERR_INVALID_ARG, "devices '%s' with --tp %d make %d replica(s), not %d", d, tp, n / tp,
                             c->replicas);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                if (devs[i] == devs[j]) return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': cuda:%d twice", d, devs[i]);
        rs->n = n / tp;
        for (int k = 0; k < rs->n; k++) {
            int first = devs[k * tp];
            for (int r = 1; r < tp; r++)
                if (devs[k * tp + r] != first + r)
                    return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': replica %d's %d devices must be consecutive "
                                     "(cuda:%d..cuda:%d)", d, k, tp, first, first + tp - 1);
            replica *rep = &rs->r[k];
            snprintf(rep->backend, sizeof rep->backend, "cuda:%d", first);
            if (tp > 1) snprintf(rep->label, sizeof rep->label, "cuda:%d-%d", first, first + tp - 1);
            else snprintf(rep->label, sizeof rep->label, "cuda:%d", first);
            rep->n_threads = c->n_threads;
        }
        return SRT_OK;
    }
    if (strcmp(d, "cpu") && strcmp(d, "cpu-ref"))
        return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': expected cpu, cpu-ref or cuda:LIST", d);
    rs->n = c->replicas > 1 ? c->replicas : 1;
    if (rs->n > MAX_REPLICAS) return srt_error(SRT_ERR_INVALID_ARG, "%d replicas: at most %d", rs->n, MAX_REPLICAS);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = c->n_threads > 0 ? c->n_threads : cores > 0 ? (int)cores : 1;
    for (int k = 0; k < rs->n; k++) {
        replica *rep = &rs->r[k];
        snprintf(rep->backend, sizeof rep->backend, "%s", d);
        snprintf(rep->label, sizeof rep->label, "%s#%d", d, k);
        rep->n_threads = threads / rs->n > 0 ? threads / rs->n : 1;   /* a thread group per replica */
    }
    return SRT_OK;
}

static srt_status load_replica(tts_replicas *rs, replica *rep, srt_tts_engine **out) {
    srt_tts_config c = rs->cfg;
    c.devices = NULL;
    c.replicas = 0;
    c.backend = rep->backend;
    c.n_threads = rep->n_threads;
    srt_status st = srt_tts_engine_create(&c, out);
    if (st != SRT_OK) return srt_error_prefix(st, "replica %d (%s): ", rep->index, rep->label);
    return SRT_OK;
}

/* ---------------------------------------------------------------- failure and the maintenance thread */

static void unlink_route(replica *rep, route *t) {
    if (t->prev) t->prev->next = t->next;
    else rep->routes = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* A caller to call back (copied: the route may be freed meanwhile). */
typedef struct lost_cb { srt_tts_audio_cb cb; srt_chat_cb chat_cb; void *user; route *t; } lost_cb;

/* Mark rep failed (router locked): its routes not yet ended are marked ended and their callbacks returned in out[]
 * for the caller to make without the lock. */
static int fail_replica(tts_replicas *rs, replica *rep, lost_cb *out, int cap) {
    if (rep->state != SRT_TTS_REPLICA_UP) return 0;
    rep->state = SRT_TTS_REPLICA_DRAINING;
    rep->failures++;
    int n = 0;
    for (route *t = rep->routes; t; t = t->next)
        if (!t->ended && n < cap) { t->ended = 1; out[n++] = (lost_cb){t->cb, t->chat_cb, t->user, t}; }
    pthread_cond_broadcast(&rs->cv);
    return n;
}

/* The caller's final callback of a request lost with its replica (on that replica's engine thread). */
static void end_lost(const lost_cb *t, const char *label, int index, const char *why) {
    srt_error(SRT_ERR_BACKEND, "replica %d (%s) failed (%s): the request was lost with it; other replicas go on, "
              "retry it", index, label, why);
    if (t->chat_cb) {
        srt_chat_stats none = {0};
        srt_chat_event ev = {.kind = SRT_CHAT_EV_DONE, .text = "", .status = SRT_ERR_BACKEND, .stats = &none};
        t->chat_cb(t->user, &ev);
        return;
    }
    srt_tts_stats none;
    memset(&none, 0, sizeof none);
    t->cb(t->user, NULL, 0, 1, SRT_ERR_BACKEND, &none);
}

static void add_metrics(srt_tts_metrics *to, const srt_tts_metrics *m) {
    to->requests_total += m->requests_total;
    to->requests_ok += m->requests_ok;
    to->requests_failed += m->requests_failed;
    to->requests_cancelled += m->requests_cancelled;
    to->requests_rejected += m->requests_rejected;
    to->requests_cancelled_queued += m->requests_cancelled_queued;
    to->queue_depth += m->queue_depth;
    to->running += m->running;
    to->generated_tokens_total += m->generated_tokens_total;
    to->samples_total += m->samples_total;
    to->dropped_frames_total += m->dropped_frames_total;
    to->tokens_per_s += m->tokens_per_s;
    if (m->first_audio_ms_max > to->first_audio_ms_max) to->first_audio_ms_max = m->first_audio_ms_max;
    to->sample_steps_device += m->sample_steps_device;
    to->sample_steps_host += m->sample_steps_host;
}

static void *maintain_main(void *arg) {
    tts_replicas *rs = arg;
    pthread_mutex_lock(&rs->mu);
    while (!rs->stop) {
        int worked = 0;
        for (int k = 0; k < rs->n && !rs->stop; k++) {
            replica *rep = &rs->r[k];
            if (rep->state != SRT_TTS_REPLICA_DRAINING) continue;
            /* cancel the engine requests of routes already ended for the caller */
            uint64_t ids[256];
            int n_ids = 0;
            for (route *t = rep->routes; t && n_ids < 256; t = t->next)
                if (t->submitted && !t->inner_done && !t->cancel_sent) { t->cancel_sent = 1; ids[n_ids++] = t->inner_id; }
            if (n_ids) {
                srt_tts_engine *e = rep->engine;          /* alive: rep->active > 0 */
                pthread_mutex_unlock(&rs->mu);
                for (int i = 0; i < n_ids; i++) srt_tts_cancel(e, ids[i]);
                pthread_mutex_lock(&rs->mu);
                worked = 1;
            }
            if (rep->active) continue;
            rep->state = SRT_TTS_REPLICA_RESTARTING;
            srt_tts_engine *old = rep->engine;
            rep->engine = NULL;
            srt_tts_metrics m;
            srt_tts_get_metrics(old, &m);
            add_metrics(&rep->retired, &m);
            pthread_mutex_unlock(&rs->mu);
            srt_tts_engine_free(old);
            srt_tts_engine *fresh = NULL;
            srt_status st = load_replica(rs, rep, &fresh);
            pthread_mutex_lock(&rs->mu);
            if (st == SRT_OK) {
                rep->engine = fresh;
                rep->demand = 0;
                rep->restarts++;
                rep->state = rs->stop ? SRT_TTS_REPLICA_RESTARTING : SRT_TTS_REPLICA_UP;
            } else {
                rep->state = SRT_TTS_REPLICA_DOWN;
            }
            worked = 1;
        }
        if (!worked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&rs->cv, &rs->mu, &ts);
        }
    }
    pthread_mutex_unlock(&rs->mu);
    return NULL;
}

/* ---------------------------------------------------------------- the wrapped callback */

/* The books of one callback of route t (audio: it carries samples; done: the engine's last for it). Returns 1 when
 * the caller is to get it (0: the caller already had its end, swallow it); *free_it: free t after forwarding;
 * lost[]: other routes of a replica that failed now, to end after forwarding (end_lost). */
typedef struct route_books { lost_cb lost[1024]; int n_lost, free_it; char why[200]; } route_books;

static int route_event(route *t, int audio, int done, srt_status status, route_books *b) {
    tts_replicas *rs = t->rs;
    replica *rep = &rs->r[t->replica];
    lost_cb *lost = b->lost;
    int n_lost = 0;
    char *why = b->why;
    why[0] = 0;
    pthread_mutex_lock(&rs->mu);
    if (!t->ended && audio && rep->fail_at && ++rep->audio_calls == rep->fail_at) {
        snprintf(why, sizeof b->why, "injected by SNACRT_TEST_FAIL_REPLICA at its audio callback %lld",
                 (long long)rep->fail_at);
        rep->fail_at = 0;
        n_lost = fail_replica(rs, rep, lost, 1024);   /* t among them */
    } else if (!t->ended && done && status == SRT_ERR_BACKEND && rep->state == SRT_TTS_REPLICA_UP) {
        snprintf(why, sizeof b->why, "%s", srt_last_error());
        lost_cb all[1024];
        int k = fail_replica(rs, rep, all, 1024);
        for (int i = 0; i < k; i++) {
            if (all[i].t == t) t->ended = 0;        /* t ends below with its own error */
            else lost[n_lost++] = all[i];
        }
    }
    int self_lost = t->ended;                        /* the caller has (or gets below) its end: swallow */
    int free_it = 0;
    if (done) {
        t->inner_done = 1;
        unlink_route(rep, t);
        rep->active--;
        rep->demand -= t->demand;
        free_it = t->submitted;
        pthread_cond_broadcast(&rs->cv);
    }
    pthread_mutex_unlock(&rs->mu);
    b->n_lost = n_lost;
    b->free_it = free_it;
    return !self_lost;
}

/* After the caller's callback (end_lost resets the error it may have read). */
static void route_after(route *t, route_books *b) {
    replica *rep = &t->rs->r[t->replica];
    for (int i = 0; i < b->n_lost; i++) end_lost(&b->lost[i], rep->label, rep->index, b->why);
    if (b->free_it) free(t);
}

static int route_cb(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *stats) {
    route *t = user;
    route_books books, *b = &books;
    int ret = 1;
    srt_tts_audio_cb cb = t->cb;
    void *cb_user = t->user;
    if (route_event(t, n > 0, done, status, b)) ret = cb(cb_user, pcm, n, done, status, stats);
    route_after(t, b);
    return ret;
}

static int chat_route_cb(void *user, const srt_chat_event *ev) {
    route *t = user;
    route_books books, *b = &books;
    int ret = 0, done = ev->kind == SRT_CHAT_EV_DONE;
    srt_chat_cb cb = t->chat_cb;
    void *cb_user = t->user;
    if (route_event(t, ev->kind == SRT_CHAT_EV_AUDIO && ev->n_samples > 0, done, done ? ev->status : SRT_OK, b))
        ret = cb(cb_user, ev);
    route_after(t, b);
    return ret;
}

/* ---------------------------------------------------------------- API */

int tts_replicas_wanted(const srt_tts_config *c) { return c->devices != NULL || c->replicas > 1; }

static int64_t replica_capacity(const srt_tts_config *c) {
    int max_tokens = c->sampling.max_tokens > 0 ? c->sampling.max_tokens : 1200;
    return c->kv_max_tokens > 0 ? c->kv_max_tokens : (int64_t)(c->max_running ? c->max_running : 16) * (max_tokens + 512);
}

srt_status tts_replicas_create(srt_tts_engine *e) {
    tts_replicas *rs = srt_calloc(1, sizeof *rs, "tts replicas");
    if (!rs) return SRT_ERR_NOMEM;
    e->rep = rs;
    rs->cfg = e->cfg;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    SRT_TRY(plan_replicas(rs, &e->cfg));
    int fail_k = -1;
    long long fail_n = 0;
    const char *hook = getenv("SNACRT_TEST_FAIL_REPLICA");
    if (hook && sscanf(hook, "%d:%lld", &fail_k, &fail_n) != 2) fail_k = -1;
    for (int k = 0; k < rs->n; k++) {
        replica *rep = &rs->r[k];
        rep->index = k;
        rep->capacity = replica_capacity(&e->cfg);
        rep->fail_at = k == fail_k && fail_n > 0 ? fail_n : 0;
        SRT_TRY(load_replica(rs, rep, &rep->engine));
        rep->state = SRT_TTS_REPLICA_UP;
    }
    /* what the facade answers itself: the first replica's codec and layout facts */
    srt_tts_engine *first = rs->r[0].engine;
    SRT_TRY(srt_layout_load(e->cfg.layout, e->cfg.lm_dir, &e->layout));
    e->codec_info = first->codec_info;
    e->lookahead = first->lookahead;
    e->group_samples = first->group_samples;
    if (pthread_create(&rs->thread, NULL, maintain_main, rs))
        return srt_error(SRT_ERR_BACKEND, "could not start the replica maintenance thread");
    rs->thread_started = 1;
    return SRT_OK;
}

void tts_replicas_free(tts_replicas *rs) {
    if (!rs) return;
    if (rs->thread_started) {
        pthread_mutex_lock(&rs->mu);
        rs->stop = 1;
        pthread_cond_broadcast(&rs->cv);
        pthread_mutex_unlock(&rs->mu);
        pthread_join(rs->thread, NULL);
    }
    for (int k = 0; k < rs->n; k++) {
        srt_tts_engine_free(rs->r[k].engine);      /* cancels what runs: the callbacks free the routes */
        rs->r[k].engine = NULL;
    }
    pthread_mutex_destroy(&rs->mu);
    pthread_cond_destroy(&rs->cv);
    free(rs);
}

static int64_t estimate_demand(const tts_replicas *rs, const srt_tts_request *req) {
    int max_tokens = req->sampling && req->sampling->max_tokens > 0 ? req->sampling->max_tokens
                     : rs->cfg.sampling.max_tokens > 0 ? rs->cfg.sampling.max_tokens : 1200;
    int64_t prompt = (req->text ? (int64_t)strlen(req->text) / 2 : 0) + 32;
    if (req->audio_in && req->audio_in_rate > 0) prompt += req->n_audio_in * 100 / req->audio_in_rate;
    return prompt + max_tokens;
}

static int64_t estimate_chat_demand(const tts_replicas *rs, const srt_chat_request *req) {
    int max_tokens = req->sampling && req->sampling->max_tokens > 0 ? req->sampling->max_tokens
                     : rs->cfg.sampling.max_tokens > 0 ? rs->cfg.sampling.max_tokens : 1200;
    int64_t prompt = 32;
    for (int t = 0; t < req->n_turns; t++)
        for (int k = 0; k < req->turns[t].n_parts; k++) {
            const srt_chat_input_part *p = &req->turns[t].parts[k];
            if (p->text) prompt += (int64_t)strlen(p->text) / 2 + 8;
            else if (p->rate > 0) prompt += p->n_samples * 100 / p->rate;
        }
    return prompt + max_tokens;
}

/* The engine submit of one kind of request (speech or conversation) to a replica's engine, with the wrapped
 * callback and route t as its user. */
typedef srt_status (*inner_submit_fn)(srt_tts_engine *e, const void *req, route *t, uint64_t *inner);

static srt_status submit_speech(srt_tts_engine *e, const void *req, route *t, uint64_t *inner) {
    return srt_tts_submit(e, req, route_cb, t, inner);
}

static srt_status submit_chat(srt_tts_engine *e, const void *req, route *t, uint64_t *inner) {
    return srt_chat_submit(e, req, chat_route_cb, t, inner);
}

/* Route to the up replica with the most free KV capacity; when its queue is full (SRT_ERR_FULL) try the next, so a
 * request is refused only when every up replica is full. */
static srt_status submit_routed(tts_replicas *rs, const void *req, int64_t demand, inner_submit_fn submit,
                                srt_tts_audio_cb cb, srt_chat_cb chat_cb, void *user, uint64_t *request_id) {
    if (request_id) *request_id = 0;
    int tried[MAX_REPLICAS] = {0};
    srt_status st = SRT_ERR_FULL;
    for (int attempt = 0; attempt < rs->n; attempt++) {
        route *t = srt_calloc(1, sizeof *t, "tts route");
        if (!t) return SRT_ERR_NOMEM;
        t->rs = rs;
        t->cb = cb;
        t->chat_cb = chat_cb;
        t->user = user;
        t->demand = demand;
        pthread_mutex_lock(&rs->mu);
        int best = -1;
        for (int k = 0; k < rs->n; k++) {
            const replica *rep = &rs->r[k];
            if (rep->state != SRT_TTS_REPLICA_UP || tried[k]) continue;
            if (best < 0 || rep->capacity - rep->demand > rs->r[best].capacity - rs->r[best].demand) best = k;
        }
        if (best < 0) {
            rs->rejected++;
            pthread_mutex_unlock(&rs->mu);
            free(t);
            if (attempt) return st;              /* the last replica's SRT_ERR_FULL (its message stands) */
            return srt_error(SRT_ERR_FULL, "no engine replica is up (%d failed or restarting)", rs->n);
        }
        tried[best] = 1;
        replica *rep = &rs->r[best];
        t->replica = best;
        t->next = rep->routes;
        if (rep->routes) rep->routes->prev = t;
        rep->routes = t;
        rep->active++;
        rep->demand += t->demand;
        srt_tts_engine *engine = rep->engine;    /* stays alive while rep->active > 0 */
        pthread_mutex_unlock(&rs->mu);
        uint64_t inner = 0;
        st = submit(engine, req, t, &inner);
        pthread_mutex_lock(&rs->mu);
        int free_it = 0;
        if (st != SRT_OK) {
            unlink_route(rep, t);
            rep->active--;
            rep->demand -= t->demand;
            free_it = 1;
            pthread_cond_broadcast(&rs->cv);
        } else {
            t->inner_id = inner;
            t->submitted = 1;
            free_it = t->inner_done;             /* it ended before we got here */
            if (request_id) *request_id = inner * MAX_REPLICAS + (uint64_t)best;
        }
        pthread_mutex_unlock(&rs->mu);
        if (free_it) free(t);
        if (st != SRT_ERR_FULL) return st;
    }
    return st;
}

srt_status tts_replicas_submit(tts_replicas *rs, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                               uint64_t *request_id) {
    if (request_id) *request_id = 0;
    if (!req || !cb) return srt_error(SRT_ERR_INVALID_ARG, "srt_tts_submit: no request or callback");
    return submit_routed(rs, req, estimate_demand(rs, req), submit_speech, cb, NULL, user, request_id);
}

srt_status tts_replicas_chat_submit(tts_replicas *rs, const srt_chat_request *req, srt_chat_cb cb, void *user,
                                    uint64_t *request_id) {
    if (request_id) *request_id = 0;
    if (!req || !cb) return srt_error(SRT_ERR_INVALID_ARG, "chat submit needs a request and a callback");
    return submit_routed(rs, req, estimate_chat_demand(rs, req), submit_chat, NULL, cb, user, request_id);
}

void tts_replicas_cancel(tts_replicas *rs, uint64_t id) {
    int k = (int)(id % MAX_REPLICAS);
    uint64_t inner = id / MAX_REPLICAS;
    pthread_mutex_lock(&rs->mu);
    if (k < rs->n && rs->r[k].state == SRT_TTS_REPLICA_UP) {
        /* the engine stays alive while one of its routes is active: look for this one */
        for (route *t = rs->r[k].routes; t; t = t->next)
            if (t->submitted && t->inner_id == inner && !t->inner_done) { srt_tts_cancel(rs->r[k].engine, inner); break; }
    }
    pthread_mutex_unlock(&rs->mu);
}

void tts_replicas_metrics(tts_replicas *rs, srt_tts_metrics *m) {
    memset(m, 0, sizeof *m);
    double fa_sum = 0, rtf_sum = 0;
    int64_t fa_n = 0, rtf_n = 0;
    pthread_mutex_lock(&rs->mu);
    for (int k = 0; k < rs->n; k++) {
        replica *rep = &rs->r[k];
        add_metrics(m, &rep->retired);
        if (!rep->engine) continue;
        srt_tts_metrics one;
        srt_tts_get_metrics(rep->engine, &one);
        add_metrics(m, &one);
        fa_sum += one.first_audio_ms_avg * (double)one.requests_ok;
        fa_n += one.requests_ok;
        rtf_sum += one.rtf_avg * (double)one.requests_ok;
        rtf_n += one.requests_ok;
    }
    m->requests_rejected += rs->rejected;
    pthread_mutex_unlock(&rs->mu);
    m->first_audio_ms_avg = fa_n ? fa_sum / (double)fa_n : 0;
    m->rtf_avg = rtf_n ? rtf_sum / (double)rtf_n : 0;
}

int srt_tts_replica_count(const srt_tts_engine *e) { return e && e->rep ? e->rep->n : 0; }

srt_status srt_tts_get_replica_info(srt_tts_engine *e, int i, srt_tts_replica_info *info) {
    memset(info, 0, sizeof *info);
    if (!e || !e->rep || i < 0 || i >= e->rep->n)
        return srt_error(SRT_ERR_RANGE, "replica %d: the engine has %d", i, srt_tts_replica_count(e));
    tts_replicas *rs = e->rep;
    pthread_mutex_lock(&rs->mu);
    replica *rep = &rs->r[i];
    snprintf(info->devices, sizeof info->devices, "%s", rep->label);
    info->state = rep->state;
    info->failures = rep->failures;
    info->restarts = rep->restarts;
    info->kv_capacity_tokens = rep->capacity;
    info->kv_demand_tokens = rep->demand;
    info->active = rep->active;
    info->metrics = rep->retired;
    if (rep->engine) {
        srt_tts_metrics one;
        srt_tts_get_metrics(rep->engine, &one);
        add_metrics(&info->metrics, &one);
        info->metrics.first_audio_ms_avg = one.first_audio_ms_avg;
        info->metrics.rtf_avg = one.rtf_avg;
    }
    pthread_mutex_unlock(&rs->mu);
    return SRT_OK;
}
