/* http_server.c: libmicrohttpd wiring of `snacrt serve` (see http_server.h for the endpoints and the streaming
 * and cancellation policy).
 *
 * Threads: MHD polls on its own threads (epoll, a small pool); the engine calls on_audio on its scheduler thread.
 * Nothing ever blocks on a client: a request waiting for audio has its connection suspended
 * (MHD_suspend_connection) and on_audio resumes it when there is something to send (streaming) or when the
 * request is finished (whole-body responses). While a connection is suspended MHD cannot see the client leave,
 * so a watcher thread peeks at the socket of every suspended request (poll, POLLRDHUP) every 100 ms and cancels
 * the request when its client hung up: queued requests too, which get no engine callback before admission.
 *
 * Per-request state (req_state) is shared by up to three owners, counted in refs: the MHD request (released in
 * on_completed), the streaming response (released by its free callback) and the engine request (released by the
 * callback with done = 1).
 *
 * Connection limits (a slow client must not take the slots of others): at most max_connections open connections,
 * at most max_connections_per_client per client IP (both enforced by MHD at accept), and deadlines: a connection
 * must deliver a whole request head within header_timeout_s of opening (or of its previous response) and a
 * speech request's body within body_timeout_s of its head; MHD's own timeout is only an idle timeout, which a
 * client trickling one byte at a time never trips. Every connection is tracked (conn_track, from MHD's connection
 * notifications) and the watcher thread shuts down the socket of one past its deadline; MHD then sees the socket
 * end and closes the connection. A track leaves the list (under server->lock) in the CLOSED notification, before
 * MHD closes the fd, so the watcher never touches a reused descriptor.
 *
 * Locks: server->lock (counters, the active list) may be held while taking r->lock,
 * never the reverse; no lock is held across srt_tts_submit / srt_tts_cancel (the engine may call back). */
#include "serve/http_conn.h"
#include "audio/audio_speed.h"
#include "snacrt_audio.h"
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void log_line(srt_http_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(srt_http_server *s, const char *fmt, ...) {
    if (!s->cfg.log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_user, line);
}

/* Copy for the log: printable ASCII only. */
static void copy_printable(char *dst, size_t cap, const char *src) {
    size_t k = 0;
    for (; src && *src && k + 1 < cap; src++) dst[k++] = (*src >= 32 && *src < 127) ? *src : '?';
    dst[k] = 0;
}

/* ------------------------------------------------------------------ request state */

static req_state *req_new(srt_http_server *s, struct MHD_Connection *conn, const char *method, const char *url) {
    req_state *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (pthread_mutex_init(&r->lock, NULL)) { free(r); return NULL; }
    r->server = s;
    r->conn = conn;
    r->refs = 1;
    r->fd = -1;
    r->t_start = now_ms();
    copy_printable(r->method, sizeof r->method, method);
    copy_printable(r->path, sizeof r->path, url);
    return r;
}

static void req_release(req_state *r) {
    pthread_mutex_lock(&r->lock);
    int left = --r->refs;
    pthread_mutex_unlock(&r->lock);
    if (left > 0) return;
    pthread_mutex_destroy(&r->lock);
    srt_speech_request_free(&r->sreq);
    free(r->body);
    free(r->pcm);
    free(r->sbuf);
    srt_speech_stream_free(r->ss);
    srt_audio_speed_free(r->speed);
    srt_chat_route_free(r->chat);
    free(r);
}

/* Set the cancel reason once (r->lock held); returns 1 when newly set. */
static int mark_cancel(req_state *r, int reason) {
    if (r->cancel_reason) return 0;
    r->cancel_reason = reason;
    return 1;
}

static void count_cancel(srt_http_server *s, int reason) {
    pthread_mutex_lock(&s->lock);
    if (reason == CANCEL_CLIENT_GONE) s->counters.cancelled_client_gone++;
    else if (reason == CANCEL_OVERFLOW) s->counters.cancelled_overflow++;
    else if (reason == CANCEL_SHUTDOWN) s->counters.cancelled_shutdown++;
    pthread_mutex_unlock(&s->lock);
}

/* Resume a suspended connection (r->lock held). */
static void resume_locked(req_state *r) {
    if (!r->suspended) return;
    r->suspended = 0;
    MHD_resume_connection(r->conn);
}

/* Has the client hung up? Only asked while the connection is suspended (MHD is not watching it). */
static int client_hung_up(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* ------------------------------------------------------------------ connection deadlines */

static conn_track *track_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_track *)ci->socket_context : NULL;
}

/* Move a connection to another phase (deadline counted from now). */
static void track_phase(srt_http_server *s, struct MHD_Connection *conn, int phase) {
    conn_track *t = track_of(conn);
    if (!t) return;
    pthread_mutex_lock(&s->lock);
    t->phase = phase;
    t->deadline_ms = now_ms() + 1e3 * (phase == CT_BODY ? s->cfg.body_timeout_s : s->cfg.header_timeout_s);
    pthread_mutex_unlock(&s->lock);
}

/* Shut down the sockets of connections past their head or body deadline (server->lock held). */
static void cut_overdue_locked(srt_http_server *s) {
    double t = now_ms();
    for (conn_track *c = s->conns; c; c = c->next) {
        if (c->cut || c->phase == CT_BUSY || t < c->deadline_ms || c->fd < 0) continue;
        c->cut = 1;
        s->counters.timed_out++;
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* ------------------------------------------------------------------ watcher thread */

/* Every PEEK_INTERVAL_MS: cut the connections past their deadline (cut_overdue_locked); cancel the submitted requests whose connection is suspended and whose client hung up.
 * A suspended connection stays open (MHD does not touch it), so its fd is valid while r->lock shows suspended. */
static void *watch_main(void *arg) {
    srt_http_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += PEEK_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->watch_cv, &s->lock, &ts);
        if (s->watch_stop) break;
        cut_overdue_locked(s);
        uint64_t ids[64];
        int n_ids = 0;
        for (req_state *r = s->active; r && n_ids < 64; r = r->next) {
            pthread_mutex_lock(&r->lock);
            if (r->suspended && r->submitted && !r->engine_done && !r->cancel_reason && client_hung_up(r->fd)) {
                mark_cancel(r, CANCEL_CLIENT_GONE);
                s->counters.cancelled_client_gone++;
                ids[n_ids++] = r->id;
            }
            pthread_mutex_unlock(&r->lock);
        }
        if (!n_ids) continue;
        pthread_mutex_unlock(&s->lock);   /* the engine may call back (on_audio takes s->lock) */
        for (int i = 0; i < n_ids; i++) srt_tts_cancel(s->engine, ids[i]);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void watcher_stop(srt_http_server *s) {
    if (!s->watcher_started) return;
    pthread_mutex_lock(&s->lock);
    s->watch_stop = 1;
    pthread_cond_signal(&s->watch_cv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->watcher, NULL);
    s->watcher_started = 0;
}

/* ------------------------------------------------------------------ engine callback (engine thread) */

static int sbuf_append(req_state *r, const uint8_t *bytes, size_t add, size_t max) {
    size_t pending = r->s_len - r->s_head;
    if (pending + add > max) return -1;
    if (r->s_len + add > r->s_cap) {
        if (r->s_head > 0) {
            memmove(r->sbuf, r->sbuf + r->s_head, pending);
            r->s_head = 0;
            r->s_len = pending;
        }
        if (r->s_len + add > r->s_cap) {
            size_t cap = r->s_cap ? r->s_cap * 2 : 65536;
            while (cap < r->s_len + add) cap *= 2;
            uint8_t *grown = realloc(r->sbuf, cap);
            if (!grown) return -2;
            r->sbuf = grown;
            r->s_cap = cap;
        }
    }
    if (add) memcpy(r->sbuf + r->s_len, bytes, add);
    r->s_len += add;
    return 0;
}

static int pcm_append(req_state *r, const float *pcm, int64_t n) {
    if (r->n_pcm + n > r->cap_pcm) {
        int64_t cap = r->cap_pcm ? r->cap_pcm * 2 : 65536;
        while (cap < r->n_pcm + n) cap *= 2;
        float *grown = realloc(r->pcm, (size_t)cap * sizeof(float));
        if (!grown) return -1;
        r->pcm = grown;
        r->cap_pcm = cap;
    }
    memcpy(r->pcm + r->n_pcm, pcm, (size_t)n * sizeof(float));
    r->n_pcm += n;
    return 0;
}

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *stats) {
    req_state *r = user;
    srt_http_server *s = r->server;
    double t = now_ms();
    int first = 0, newly_backlogged = 0, cancel = 0, newly_cancelled = 0;
    pthread_mutex_lock(&r->lock);
    if (r->speed && !r->mhd_gone && !r->cancel_reason) {   /* time-stretched audio replaces the engine's */
        if (srt_audio_speed_push(r->speed, pcm, n > 0 && pcm ? n : 0, done && status == SRT_OK, &pcm, &n) != SRT_OK)
            newly_cancelled = mark_cancel(r, CANCEL_NOMEM), n = 0;
    }
    if (n > 0 && pcm) {
        if (r->t_first_audio == 0) r->t_first_audio = t, first = 1;
        r->samples += n;
        if (!r->mhd_gone && !r->cancel_reason) {
            if (r->sreq.stream) {
                const uint8_t *b;
                size_t nb;
                int rc = srt_speech_stream_push(r->ss, pcm, n, &b, &nb) != SRT_OK ? -2
                       : sbuf_append(r, b, nb, s->cfg.stream_buffer_max);
                if (rc) newly_cancelled = mark_cancel(r, rc == -1 ? CANCEL_OVERFLOW : CANCEL_NOMEM);
                else if (!r->backlogged && r->s_len - r->s_head > s->cfg.stream_buffer_soft)
                    r->backlogged = newly_backlogged = 1;
            } else if (pcm_append(r, pcm, n)) {
                newly_cancelled = mark_cancel(r, CANCEL_NOMEM);
            }
        }
    }
    int reason = r->cancel_reason;
    cancel = r->cancel_reason || r->mhd_gone;
    if (done && status == SRT_OK && r->sreq.stream && r->ss && !r->mhd_gone && !r->cancel_reason) {
        const uint8_t *b;   /* the encoder's tail (and the SSE done event) */
        size_t nb;
        int rc = srt_speech_stream_finish(r->ss, stats, &b, &nb) != SRT_OK ? -2
               : sbuf_append(r, b, nb, s->cfg.stream_buffer_max + 65536);
        if (rc) {
            newly_cancelled = mark_cancel(r, rc == -1 ? CANCEL_OVERFLOW : CANCEL_NOMEM);
            reason = r->cancel_reason;
        }
    }
    if (done) {
        r->engine_done = 1;
        r->engine_status = status;
        if (stats) r->stats = *stats;
        if (status != SRT_OK && status != SRT_ERR_CANCELLED)
            snprintf(r->engine_error, sizeof r->engine_error, "%s",
                     srt_last_error()[0] ? srt_last_error() : srt_status_name(status));
    }
    if (done || r->cancel_reason || (r->sreq.stream && n > 0)) resume_locked(r);
    pthread_mutex_unlock(&r->lock);

    if (newly_cancelled && reason != CANCEL_NOMEM) count_cancel(s, reason);
    if (first || newly_backlogged || done) {
        pthread_mutex_lock(&s->lock);
        if (first) srt_http_counters_observe_ttfa(&s->counters, (t - r->t_start) / 1e3);
        if (newly_backlogged) s->counters.streams_backlogged++;
        if (done) {
            s->counters.active_speech--;
            if (status == SRT_OK && s->sample_rate > 0 && t > r->t_start)
                srt_http_counters_observe_rtf(&s->counters, (double)r->samples / s->sample_rate / ((t - r->t_start) / 1e3));
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (done) {
        req_release(r);   /* the engine's reference; r may be gone now */
        return 0;
    }
    return cancel;
}

/* ------------------------------------------------------------------ responses */

static void add_common_headers(const srt_http_server *s, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (s->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cors_origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                "X-Snacrt-Sample-Rate, X-Snacrt-Request-Id, X-Snacrt-Note");
        if (strcmp(s->cors_origin, "*")) MHD_add_response_header(resp, "Vary", "Origin");
    }
}

static enum MHD_Result queue(req_state *r, int status, struct MHD_Response *resp) {
    if (!resp) return MHD_NO;
    add_common_headers(r->server, resp);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) {
        r->status = status;
        r->phase = PH_REPLIED;
    }
    return ok;
}

static struct MHD_Response *text_response(char *text, const char *content_type) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(text); return NULL; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return resp;
}

static enum MHD_Result reply_error(req_state *r, const srt_http_error *err, const char *allow) {
    char *json = srt_http_error_json(err);
    struct MHD_Response *resp;
    if (json) {
        resp = text_response(json, "application/json");
    } else {
        static const char fallback[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
        resp = MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback, MHD_RESPMEM_PERSISTENT);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    if (!resp) return MHD_NO;
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (err->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (err->status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return queue(r, err->status, resp);
}

static enum MHD_Result reply_simple_error(req_state *r, int status, const char *type, const char *msg) {
    srt_http_error err;
    srt_http_error_set(&err, status, type, "%s", msg);
    return reply_error(r, &err, NULL);
}

/* CORS preflight: 204 allowing the methods and the headers a browser client sends (no auth: browsers send
 * preflights without credentials). */
static enum MHD_Result reply_preflight(req_state *r) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-Lang, "
                            "X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Runtime, "
                            "X-Stainless-Runtime-Version, X-Stainless-Retry-Count, X-Stainless-Timeout");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    return queue(r, 204, resp);
}

static enum MHD_Result reply_get(req_state *r) {
    srt_http_server *s = r->server;
    char *text = NULL;
    switch (r->route) {
    case SRT_ROUTE_PAGE: {
        struct MHD_Response *resp = MHD_create_response_from_buffer(srt_http_page_html_len, (void *)srt_http_page_html,
                                                                    MHD_RESPMEM_PERSISTENT);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        return queue(r, 200, resp);
    }
    case SRT_ROUTE_HEALTH: {
        srt_tts_metrics m;
        srt_tts_get_metrics(s->engine, &m);
        pthread_mutex_lock(&s->lock);
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        text = malloc(160);
        if (!text) return MHD_NO;
        snprintf(text, 160, "{\"status\":\"%s\",\"queue_depth\":%d,\"running\":%d,\"sample_rate\":%d}",
                 stopping ? "stopping" : "ok", m.queue_depth, m.running, s->sample_rate);
        return queue(r, stopping ? 503 : 200, text_response(text, "application/json"));
    }
    case SRT_ROUTE_METRICS: {
        srt_tts_metrics m;
        srt_tts_get_metrics(s->engine, &m);
        srt_http_counters *c = malloc(sizeof *c);
        if (!c) return MHD_NO;
        pthread_mutex_lock(&s->lock);
        *c = s->counters;
        pthread_mutex_unlock(&s->lock);
        text = srt_http_metrics_append_replicas(srt_http_metrics_text(c, &m), s->engine);
        free(c);
        if (!text) return MHD_NO;
        return queue(r, 200, text_response(text, "text/plain; version=0.0.4; charset=utf-8"));
    }
    case SRT_ROUTE_MODELS:
        text = srt_http_models_json((const char *const *)s->models, s->voices, s->sample_rate);
        break;
    case SRT_ROUTE_MODEL: {
        const char *id = r->path + strlen("/v1/models/");
        for (char **m = s->models; *m && !text; m++)
            if (!strcmp(*m, id)) text = srt_http_model_json(*m, s->voices, s->sample_rate);
        if (!text) {
            srt_http_error err;
            srt_http_error_set(&err, 404, "invalid_request_error", "The model '%.64s' does not exist", id);
            err.code = "model_not_found";
            err.param = "model";
            return reply_error(r, &err, NULL);
        }
        break;
    }
    case SRT_ROUTE_VOICES:
        text = srt_http_voices_json(s->voices, s->voice_aliases, srt_tts_tags(s->engine), s->sample_rate);
        break;
    default:
        return reply_simple_error(r, 500, "server_error", "unroutable request");
    }
    if (!text) return MHD_NO;
    return queue(r, 200, text_response(text, "application/json"));
}

static void add_audio_headers(req_state *r, struct MHD_Response *resp) {
    char num[32];
    if (r->route != SRT_ROUTE_SPEECH) {   /* a streamed chat answer: server-sent events */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->sreq.sse ? "text/event-stream" : srt_http_audio_mime(r->sreq.format));
    snprintf(num, sizeof num, "%d", r->server->sample_rate);
    MHD_add_response_header(resp, "X-Snacrt-Sample-Rate", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->id);
    MHD_add_response_header(resp, "X-Snacrt-Request-Id", num);
    if (r->sreq.instructions && r->sreq.instructions[0])
        MHD_add_response_header(resp, srt_tts_takes_instructions(r->server->engine, r->sreq.audio_transcript != NULL)
                                          ? "X-Snacrt-Instructions" : "X-Snacrt-Note",
                                srt_tts_takes_instructions(r->server->engine, r->sreq.audio_transcript != NULL)
                                    ? "placed in the prompt"
                                    : "instructions are ignored: the layout has no slot for them");
    if (r->speed) {
        snprintf(num, sizeof num, "%g", r->sreq.speed);
        MHD_add_response_header(resp, "X-Snacrt-Speed", num);
    }
}

/* ------------------------------------------------------------------ whole-body speech */

static enum MHD_Result reply_speech_body(req_state *r) {
    srt_http_server *s = r->server;
    pthread_mutex_lock(&r->lock);
    srt_status st = r->engine_status;
    int reason = r->cancel_reason;
    pthread_mutex_unlock(&r->lock);
    if (st == SRT_ERR_CANCELLED || reason) {
        if (reason == CANCEL_NOMEM) return reply_simple_error(r, 500, "server_error", "out of memory");
        return reply_simple_error(r, 503, "overloaded_error", reason == CANCEL_SHUTDOWN ? "the server is shutting down"
                                                                                       : "the request was cancelled");
    }
    if (st != SRT_OK) {
        srt_http_error err;
        if (st == SRT_ERR_RANGE || st == SRT_ERR_INVALID_ARG || st == SRT_ERR_UNSUPPORTED || st == SRT_ERR_FORMAT)
            /* the request itself cannot be served (e.g. it needs more KV-cache blocks than the cache holds) */
            srt_http_error_set(&err, st == SRT_ERR_RANGE ? 413 : 400, "invalid_request_error", "%s", r->engine_error);
        else
            srt_http_error_set(&err, 500, "server_error", "generation failed: %s", r->engine_error);
        return reply_error(r, &err, NULL);
    }
    if (r->route != SRT_ROUTE_SPEECH) return srt_chat_route_reply(r);
    uint8_t *body = NULL;
    size_t n_body = 0;
    if (srt_http_encode_audio(r->sreq.format, r->pcm, r->n_pcm, s->sample_rate, &body, &n_body) != SRT_OK) {
        srt_http_error err;
        srt_http_error_set(&err, 500, "server_error", "encoding the audio failed: %s", srt_last_error());
        return reply_error(r, &err, NULL);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(n_body, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(body); return MHD_NO; }
    pthread_mutex_lock(&s->lock);
    srt_http_counters_observe_ttfb(&s->counters, (now_ms() - r->t_start) / 1e3);
    pthread_mutex_unlock(&s->lock);
    add_audio_headers(r, resp);
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)r->stats.frames);
    MHD_add_response_header(resp, "X-Snacrt-Frames", num);
    snprintf(num, sizeof num, "%lld", (long long)r->stats.dropped_frames);
    MHD_add_response_header(resp, "X-Snacrt-Dropped-Frames", num);
    snprintf(num, sizeof num, "%lld", (long long)r->stats.generated_tokens);
    MHD_add_response_header(resp, "X-Snacrt-Tokens", num);
    snprintf(num, sizeof num, "%lld", (long long)r->n_pcm);
    MHD_add_response_header(resp, "X-Snacrt-Samples", num);
    MHD_add_response_header(resp, "X-Snacrt-Finish", r->stats.finish == SRT_FINISH_STOP ? "stop" : "length");
    return queue(r, 200, resp);
}

/* Called again after a resume: answer if the engine is done (or we are stopping), else wait again. */
static enum MHD_Result start_stream_response(req_state *r);

/* A streaming request sends its 200 and headers with its first audio (or a successful end), so a request the
 * engine refuses before any audio (one that cannot fit the KV cache, a bad audio prompt) still gets its 4xx. */
static enum MHD_Result continue_speech(req_state *r) {
    pthread_mutex_lock(&r->lock);
    if (r->sreq.stream && (r->samples > 0 || r->stream_started || (r->engine_done && r->engine_status == SRT_OK && !r->cancel_reason))) {
        pthread_mutex_unlock(&r->lock);
        return start_stream_response(r);
    }
    if (!r->engine_done && !r->cancel_reason) {
        r->suspended = 1;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&r->lock);
    return reply_speech_body(r);
}

/* ------------------------------------------------------------------ streaming speech */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    req_state *r = cls;
    pthread_mutex_lock(&r->lock);
    size_t avail = r->s_len - r->s_head;
    if (avail > 0) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, r->sbuf + r->s_head, n);
        r->s_head += n;
        if (r->s_head == r->s_len) r->s_head = r->s_len = 0;
        int first = !r->ttfb_seen;
        r->ttfb_seen = 1;
        pthread_mutex_unlock(&r->lock);
        if (first) {
            srt_http_server *s = r->server;
            pthread_mutex_lock(&s->lock);
            srt_http_counters_observe_ttfb(&s->counters, (now_ms() - r->t_start) / 1e3);
            pthread_mutex_unlock(&s->lock);
        }
        return (ssize_t)n;
    }
    if (r->engine_done || r->cancel_reason) {
        int ok = r->engine_done && r->engine_status == SRT_OK && !r->cancel_reason;
        pthread_mutex_unlock(&r->lock);
        return ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void stream_free(void *cls) { req_release(cls); }

static enum MHD_Result start_stream_response(req_state *r) {
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, r,
                                                                  stream_free);
    if (!resp) return MHD_NO;
    pthread_mutex_lock(&r->lock);
    r->refs++;                     /* the response's reference, released by stream_free */
    pthread_mutex_unlock(&r->lock);
    add_audio_headers(r, resp);
    enum MHD_Result ok = queue(r, 200, resp);
    if (ok == MHD_YES) r->phase = PH_STREAM;
    return ok;
}

/* ------------------------------------------------------------------ submitting */

static void active_remove_locked(srt_http_server *s, req_state *r) {
    if (!r->in_active) return;
    if (r->prev) r->prev->next = r->next;
    else s->active = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->in_active = 0;
}

static enum MHD_Result start_speech(req_state *r) {
    srt_http_server *s = r->server;
    srt_http_error err;
    if (r->route == SRT_ROUTE_CODEC_ENCODE || r->route == SRT_ROUTE_CODEC_DECODE) return srt_codec_route_reply(r);
    if (r->route != SRT_ROUTE_SPEECH) return srt_chat_route_start(r);
    srt_speech_limits lim = {.voices = s->voices, .models = (const char *const *)s->models,
                             .max_input_chars = s->cfg.max_input_chars, .max_tokens = s->cfg.max_tokens,
                             .max_audio_bytes = s->max_audio, .max_audio_seconds = s->cfg.max_audio_seconds,
                             .audio_rate = s->sample_rate, .voice_aliases = s->voice_aliases};
    int rc = srt_speech_request_parse(r->body, r->body_len, &lim, &r->sreq, &err);
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    if (rc) return reply_error(r, &err, NULL);

    srt_sampling_params sp;
    srt_speech_request_sampling(&r->sreq, &s->cfg.sampling, &sp);
    srt_tts_request treq = {.text = r->sreq.input, .voice = r->sreq.voice,
                            .sampling = srt_speech_request_has_sampling(&r->sreq) ? &sp : NULL,
                            .audio_in = r->sreq.audio, .n_audio_in = r->sreq.n_audio,
                            .audio_in_rate = r->sreq.audio_rate, .audio_text = r->sreq.audio_transcript,
                            .instructions = r->sreq.instructions};
    if (r->sreq.speed != 1.0 && srt_audio_speed_open(s->sample_rate, r->sreq.speed, &r->speed) != SRT_OK) {
        srt_http_error_set(&err, 500, "server_error", "speed: %s", srt_last_error());
        return reply_error(r, &err, NULL);
    }
    if (r->sreq.stream) {          /* the encoder; a header (wav, Ogg's opus head) goes out first */
        const uint8_t *b;
        size_t nb;
        if (srt_speech_stream_open(r->sreq.format, r->sreq.sse, s->sample_rate, &r->ss) != SRT_OK) {
            srt_http_error_set(&err, 500, "server_error", "cannot stream this format: %s", srt_last_error());
            return reply_error(r, &err, NULL);
        }
        if (srt_speech_stream_push(r->ss, NULL, 0, &b, &nb) != SRT_OK || sbuf_append(r, b, nb, SIZE_MAX))
            return MHD_NO;
    }
    enum MHD_Result reply;
    if (srt_conn_enter(r, &reply)) return reply;
    uint64_t id = 0;
    srt_status st = srt_tts_submit(s->engine, &treq, on_audio, r, &id);
    free(r->sreq.audio);           /* the engine keeps its own copy */
    r->sreq.audio = NULL;
    r->sreq.n_audio = 0;
    return srt_conn_submitted(r, st, id);
}

int srt_conn_enter(req_state *r, enum MHD_Result *reply) {
    srt_http_server *s = r->server;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        *reply = reply_simple_error(r, 503, "overloaded_error", "the server is shutting down");
        return -1;
    }
    r->next = s->active;
    if (s->active) s->active->prev = r;
    s->active = r;
    r->in_active = 1;
    s->counters.active_speech++;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&r->lock);
    r->refs++;                     /* the engine's reference */
    pthread_mutex_unlock(&r->lock);
    return 0;
}

enum MHD_Result srt_conn_submitted(req_state *r, srt_status st, uint64_t id) {
    srt_http_server *s = r->server;
    srt_http_error err;
    if (st != SRT_OK) {
        const char *msg = srt_last_error()[0] ? srt_last_error() : srt_status_name(st);
        pthread_mutex_lock(&s->lock);
        active_remove_locked(s, r);
        s->counters.active_speech--;
        if (st == SRT_ERR_FULL) s->counters.rejected_full++;
        pthread_mutex_unlock(&s->lock);
        req_release(r);            /* the engine never took it */
        if (st == SRT_ERR_FULL)
            srt_http_error_set(&err, 503, "overloaded_error", "the server is busy (request queue full): retry later");
        else if (st == SRT_ERR_RANGE || st == SRT_ERR_NOT_FOUND || st == SRT_ERR_INVALID_ARG ||
                 st == SRT_ERR_UNSUPPORTED)   /* e.g. an audio prompt for a layout without an audio slot */
            srt_http_error_set(&err, 400, "invalid_request_error", "%s", msg);
        else
            srt_http_error_set(&err, 500, "server_error", "%s", msg);
        return reply_error(r, &err, NULL);
    }
    pthread_mutex_lock(&r->lock);
    r->id = id;
    r->submitted = 1;
    int shutdown = r->cancel_reason == CANCEL_SHUTDOWN;
    pthread_mutex_unlock(&r->lock);
    if (shutdown) srt_tts_cancel(s->engine, id);
    r->phase = PH_WAIT;
    return continue_speech(r);
}

/* ------------------------------------------------------------------ for the handlers in other files (http_conn.h) */

double srt_conn_now_ms(void) { return now_ms(); }
void srt_conn_release(req_state *r) { req_release(r); }
int srt_conn_mark_cancel(req_state *r, int reason) { return mark_cancel(r, reason); }
void srt_conn_count_cancel(srt_http_server *s, int reason) { count_cancel(s, reason); }
void srt_conn_resume_locked(req_state *r) { resume_locked(r); }
int srt_conn_sbuf_append(req_state *r, const uint8_t *bytes, size_t add, size_t max) {
    return sbuf_append(r, bytes, add, max);
}
enum MHD_Result srt_conn_reply_error(req_state *r, const srt_http_error *err, const char *allow) {
    return reply_error(r, err, allow);
}
enum MHD_Result srt_conn_queue(req_state *r, int status, struct MHD_Response *resp) { return queue(r, status, resp); }
enum MHD_Result srt_conn_reply_json(req_state *r, int status, char *json, const char *content_type) {
    if (!json) return reply_simple_error(r, 500, "server_error", "out of memory");
    return queue(r, status, text_response(json, content_type));
}

/* ------------------------------------------------------------------ MHD callbacks */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    srt_http_server *s = cls;
    req_state *r = *con_cls;
    if (!r) {
        r = req_new(s, conn, method, url);
        if (!r) return MHD_NO;
        *con_cls = r;
        track_phase(s, conn, CT_BUSY);   /* the head is in; a speech body gets its own deadline below */
        pthread_mutex_lock(&s->lock);
        s->counters.active_requests++;
        pthread_mutex_unlock(&s->lock);
        const char *allow = NULL;
        srt_http_error err;
        if (s->cors_origin && !strcmp(method, "OPTIONS")) return reply_preflight(r);
        r->route = srt_http_route_match(method, url, &allow, &err);
        if (s->api_key && srt_http_route_needs_auth(r->route) &&
            !srt_http_bearer_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                                s->api_key))
            return reply_simple_error(r, 401, "authentication_error",
                                      "missing or invalid API key: send 'Authorization: Bearer <key>'");
        if (r->route == SRT_ROUTE_NONE) return reply_error(r, &err, allow);
        if (r->route != SRT_ROUTE_SPEECH && r->route != SRT_ROUTE_CHAT && r->route != SRT_ROUTE_TRANSCRIPTIONS &&
            r->route != SRT_ROUTE_CODEC_ENCODE && r->route != SRT_ROUTE_CODEC_DECODE)
            return reply_get(r);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || end == cl || v > s->max_body) {
                srt_http_error_set(&err, 413, "invalid_request_error", "request body too large (at most %zu bytes)",
                                   s->max_body);
                return reply_error(r, &err, NULL);
            }
        }
        r->phase = PH_BODY;
        track_phase(s, conn, CT_BODY);
        return MHD_YES;
    }
    if (r->phase == PH_BODY && *upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        r->body_seen += n;
        if (r->body_too_large || r->body_len + n > s->max_body) {
            r->body_too_large = 1;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return r->body_seen > s->max_body + BODY_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1) cap *= 2;
            char *grown = realloc(r->body, cap);
            if (!grown) return MHD_NO;
            r->body = grown;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }
    if (*upload_size > 0) {        /* a body after an early answer: drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->phase == PH_BODY) {
        if (r->body_too_large) {
            srt_http_error err;
            srt_http_error_set(&err, 413, "invalid_request_error", "request body too large (at most %zu bytes)",
                               s->max_body);
            return reply_error(r, &err, NULL);
        }
        track_phase(s, conn, CT_BUSY);
        return start_speech(r);
    }
    if (r->phase == PH_WAIT) return continue_speech(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srt_http_server *s = cls;
    track_phase(s, conn, CT_HEAD);   /* kept alive: the next request head has header_timeout_s */
    req_state *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    pthread_mutex_lock(&r->lock);
    r->mhd_gone = 1;
    r->suspended = 0;              /* MHD is done with the connection: never resume it again */
    int cancel = r->submitted && !r->engine_done, newly = 0;
    if (cancel) newly = mark_cancel(r, CANCEL_CLIENT_GONE);
    int reason = r->cancel_reason, status = r->status;
    uint64_t id = r->id;
    char engine_note[224] = "";    /* a finished speech request: the engine's timeline */
    if (r->engine_done && r->engine_status == SRT_OK && r->route == SRT_ROUTE_SPEECH)
        snprintf(engine_note, sizeof engine_note, " (id %llu: %lld frames, queued %.1f ms, first audio at %.1f ms "
                 "after %lld of %lld tokens, done at %.1f ms)", (unsigned long long)id, (long long)r->stats.frames,
                 r->stats.queue_ms, r->stats.first_audio_ms, (long long)r->stats.first_audio_tokens,
                 (long long)r->stats.generated_tokens, r->stats.total_ms);
    pthread_mutex_unlock(&r->lock);
    if (cancel) srt_tts_cancel(s->engine, id);
    if (newly) count_cancel(s, reason);

    double ms = now_ms() - r->t_start;
    pthread_mutex_lock(&s->lock);
    s->counters.active_requests--;
    srt_http_counters_add_status(&s->counters, r->route, status);
    active_remove_locked(s, r);
    pthread_mutex_unlock(&s->lock);

    const char *note = "";
    if (reason == CANCEL_CLIENT_GONE) note = " (cancelled: client went away)";
    else if (reason == CANCEL_OVERFLOW) note = " (cancelled: client too slow, stream buffer full)";
    else if (reason == CANCEL_SHUTDOWN) note = " (cancelled: shutdown)";
    else if (reason == CANCEL_NOMEM) note = " (cancelled: out of memory)";
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) note = " (connection closed early)";
    log_line(s, "%s %s %d %.1f ms%s%s", r->method, r->path, status, ms, engine_note, note);
    req_release(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    srt_http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_track *t = *socket_context;
        if (!t) return;
        pthread_mutex_lock(&s->lock);
        if (t->prev) t->prev->next = t->next;
        else s->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&s->lock);
        free(t);
        *socket_context = NULL;
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci && s->cfg.socket_send_buffer > 0)
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &s->cfg.socket_send_buffer, sizeof(int));
    conn_track *t = calloc(1, sizeof *t);
    if (!t) return;                /* untracked: only MHD's idle timeout applies */
    t->fd = ci ? ci->connect_fd : -1;
    t->phase = CT_HEAD;
    t->deadline_ms = now_ms() + 1e3 * s->cfg.header_timeout_s;
    pthread_mutex_lock(&s->lock);
    t->next = s->conns;
    if (s->conns) s->conns->prev = t;
    s->conns = t;
    pthread_mutex_unlock(&s->lock);
    *socket_context = t;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    srt_http_server *s = cls;
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    log_line(s, "libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------------ start / stop */

static srt_status open_listener(const char *host, int port, int *fd_out, int *port_out, int *ipv6) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof *a4;
        *ipv6 = 0;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof *a6;
        *ipv6 = 1;
    } else {
        return srt_error(SRT_ERR_INVALID_ARG, "--host '%s': not a numeric IPv4 or IPv6 address", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return srt_error(SRT_ERR_IO, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 256)) {
        int e = errno;
        close(fd);
        return srt_error(SRT_ERR_IO, "cannot listen on %s port %d: %s", host, port, strerror(e));
    }
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    *port_out = port;
    if (!getsockname(fd, (struct sockaddr *)&got, &got_len))
        *port_out = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                    : ((struct sockaddr_in *)&got)->sin_port);
    *fd_out = fd;
    return SRT_OK;
}

/* The accepted model names: the served names (default "tts-1", "tts-1-hd"), then the folder's name, without
 * repeats. Returns 0 when out of memory. */
static int build_models(srt_http_server *s, const char *const *served) {
    static const char *const fallback[] = {"tts-1", "tts-1-hd", NULL};
    if (!served || !served[0]) served = fallback;
    int n = 0;
    while (served[n]) n++;
    s->models = calloc((size_t)n + 2, sizeof *s->models);
    if (!s->models || !s->model_id) return 0;
    int k = 0;
    for (int i = 0; i <= n; i++) {
        const char *name = i < n ? served[i] : s->model_id;
        int dup = !name[0];
        for (int j = 0; j < k; j++) dup |= !strcmp(s->models[j], name);
        if (!dup && !(s->models[k++] = srt_strdup(name))) return 0;
    }
    return 1;
}

/* Free the strings the server owns (not the server). */
static void free_owned(srt_http_server *s) {
    free(s->host); free(s->api_key); free(s->model_id); free(s->cors_origin);
    for (char **m = s->models; m && *m; m++) free(*m);
    free(s->models);
    srt_codec_route_free(s);
}

srt_status srt_http_server_start(srt_tts_engine *engine, const srt_http_config *cfg, srt_http_server **out) {
    *out = NULL;
    if (!engine || !cfg || cfg->port < 0 || cfg->port > 65535)
        return srt_error(SRT_ERR_INVALID_ARG, "http server: bad engine or port");
    srt_http_server *s = srt_calloc(1, sizeof *s, "http server");
    if (!s) return SRT_ERR_NOMEM;
    s->engine = engine;
    s->cfg = *cfg;
    s->host = srt_strdup(cfg->host ? cfg->host : "127.0.0.1");
    s->api_key = cfg->api_key && cfg->api_key[0] ? srt_strdup(cfg->api_key) : NULL;
    s->model_id = srt_strdup(cfg->model_id ? cfg->model_id : "snacrt");
    s->cors_origin = cfg->cors_origin && cfg->cors_origin[0] ? srt_strdup(cfg->cors_origin) : NULL;
    s->cfg.cors_origin = s->cors_origin;
    s->cfg.served_model_names = NULL;
    int models_ok = build_models(s, cfg->served_model_names);
    s->cfg.host = s->host;
    s->cfg.api_key = s->api_key;
    s->cfg.model_id = s->model_id;
    if (s->cfg.max_tokens <= 0) s->cfg.max_tokens = s->cfg.sampling.max_tokens > 0 ? s->cfg.sampling.max_tokens : 1200;
    s->cfg.sampling.max_tokens = s->cfg.max_tokens;
    if (s->cfg.max_input_chars <= 0) s->cfg.max_input_chars = 4096;
    int64_t max_audio = s->cfg.max_audio_bytes ? s->cfg.max_audio_bytes : DEFAULT_MAX_AUDIO_BYTES;
    s->max_audio = max_audio > 0 ? (size_t)max_audio : 0;
    s->max_body = s->cfg.max_body_bytes ? s->cfg.max_body_bytes
                                        : (size_t)s->cfg.max_input_chars * 6 + 16384 + (s->max_audio + 2) / 3 * 4;
    if (!s->cfg.stream_buffer_soft) s->cfg.stream_buffer_soft = 256 * 1024;
    if (!s->cfg.stream_buffer_max) s->cfg.stream_buffer_max = 8u << 20;
    if (s->cfg.stream_buffer_max < 4096) s->cfg.stream_buffer_max = 4096;
    if (s->cfg.n_threads <= 0) s->cfg.n_threads = 2;
    if (s->cfg.socket_send_buffer == 0) s->cfg.socket_send_buffer = 128 * 1024;
    if (s->cfg.connection_timeout_s <= 0) s->cfg.connection_timeout_s = 60;
    if (s->cfg.header_timeout_s <= 0) s->cfg.header_timeout_s = 10;
    if (s->cfg.body_timeout_s <= 0) s->cfg.body_timeout_s = 60;
    if (s->cfg.max_connections <= 0) s->cfg.max_connections = 512;
    if (s->cfg.max_connections_per_client <= 0) s->cfg.max_connections_per_client = 128;
    if (s->cfg.max_audio_seconds <= 0) s->cfg.max_audio_seconds = 600;
    if (s->cfg.codec_max_seconds <= 0) s->cfg.codec_max_seconds = 60;
    s->cfg.codec_dir = NULL;                    /* owned by the codec endpoints' state */
    s->voices = srt_tts_voices(engine);
    s->voice_aliases = srt_tts_voice_aliases(engine);
    s->sample_rate = srt_tts_sample_rate(engine);
    pthread_condattr_t ca;
    int cv_ok = !pthread_condattr_init(&ca);
    if (cv_ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cv_ok = !pthread_cond_init(&s->watch_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (srt_codec_route_init(s, cfg->codec_dir) != SRT_OK ||
        !s->host || !s->model_id || !models_ok || (cfg->cors_origin && cfg->cors_origin[0] && !s->cors_origin) ||
        (cfg->api_key && cfg->api_key[0] && !s->api_key) || !cv_ok ||
        pthread_mutex_init(&s->lock, NULL)) {
        if (cv_ok) pthread_cond_destroy(&s->watch_cv);
        free_owned(s); free(s);
        return srt_error(SRT_ERR_NOMEM, "http server: out of memory");
    }
    int fd = -1, ipv6 = 0;
    srt_status st = open_listener(s->host, cfg->port, &fd, &s->port, &ipv6);
    if (st != SRT_OK) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->watch_cv);
        free_owned(s); free(s);
        return st;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.connection_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_connections_per_client, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, s->cfg.n_threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->watch_cv);
        free_owned(s); free(s);
        return srt_error(SRT_ERR_IO, "cannot start the HTTP server (libmicrohttpd) on %s port %d", cfg->host, cfg->port);
    }
    if (pthread_create(&s->watcher, NULL, watch_main, s)) {
        srt_http_server_free(s);
        return srt_error(SRT_ERR_BACKEND, "http server: could not start the connection watcher thread");
    }
    s->watcher_started = 1;
    *out = s;
    return SRT_OK;
}

int srt_http_server_port(const srt_http_server *server) { return server ? server->port : 0; }

void srt_http_server_stop(srt_http_server *s, int grace_ms) {
    if (!s || !s->daemon) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);
    watcher_stop(s);               /* everything left is cancelled below */
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    double deadline = now_ms() + (grace_ms > 0 ? grace_ms : 0);
    for (;;) {
        /* cancel everything the engine still runs (again each round: a request may have been mid-submit) */
        uint64_t ids[64];
        int n_ids = 0, newly = 0, any_active = 0;
        pthread_mutex_lock(&s->lock);
        for (req_state *r = s->active; r; r = r->next) {
            any_active = 1;
            pthread_mutex_lock(&r->lock);
            if (!r->engine_done) newly += mark_cancel(r, CANCEL_SHUTDOWN);
            if (r->submitted && !r->engine_done && n_ids < 64) ids[n_ids++] = r->id;
            resume_locked(r);   /* a waiting request answers 503 now, a stream sends what it has and ends */
            pthread_mutex_unlock(&r->lock);
        }
        s->counters.cancelled_shutdown += newly;
        pthread_mutex_unlock(&s->lock);
        for (int i = 0; i < n_ids; i++) srt_tts_cancel(s->engine, ids[i]);
        if (!any_active || now_ms() > deadline) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* nothing may stay suspended when MHD stops */
    pthread_mutex_lock(&s->lock);
    int resumed = 0;
    for (req_state *r = s->active; r; r = r->next) {
        pthread_mutex_lock(&r->lock);
        resumed |= r->suspended;
        resume_locked(r);
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&s->lock);
    if (resumed) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

void srt_http_server_free(srt_http_server *s) {
    if (!s) return;
    if (s->daemon) srt_http_server_stop(s, 0);
    watcher_stop(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->watch_cv);
    free_owned(s);
    free(s);
}
