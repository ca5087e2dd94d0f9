/* http_conn.h (internal to host/serve): the per-connection request state of `snacrt serve` and the pieces of
 * http_server.c's suspend / resume / streaming / cancellation machinery that endpoint handlers in other files use
 * (http_chat_route.c: /v1/chat/completions and /v1/audio/transcriptions). http_server.c's header comment explains
 * the threads, the reference counting of req_state and the lock order. */
#ifndef SRT_HTTP_CONN_H
#define SRT_HTTP_CONN_H

#include "serve/http_server.h"
#include "audio/audio_speed.h"
#include <microhttpd.h>
#include <pthread.h>

enum { PH_START = 0, PH_BODY, PH_WAIT, PH_STREAM, PH_REPLIED };
enum { CANCEL_NONE = 0, CANCEL_CLIENT_GONE, CANCEL_OVERFLOW, CANCEL_SHUTDOWN, CANCEL_NOMEM };

#define PEEK_INTERVAL_MS 100
#define DEFAULT_MAX_AUDIO_BYTES ((int64_t)4 << 20)
#define BODY_DISCARD_MAX ((size_t)16 << 20)   /* oversized bodies are read and dropped up to this, then cut */

typedef struct req_state req_state;
typedef struct chat_state chat_state;   /* http_chat_route.c */

enum { CT_HEAD = 0, CT_BODY, CT_BUSY };
typedef struct conn_track {
    int fd;
    int phase;                     /* CT_HEAD: waiting for a request head; CT_BODY: reading a body; CT_BUSY: no deadline */
    double deadline_ms;            /* CT_HEAD / CT_BODY: shut the socket down after this (now_ms clock) */
    int cut;                       /* shut down already */
    struct conn_track *prev, *next;
} conn_track;

struct srt_http_server {
    struct MHD_Daemon *daemon;
    srt_tts_engine *engine;
    srt_http_config cfg;           /* copy; strings below owned */
    char *host, *api_key, *model_id, *cors_origin;
    char **models;                 /* accepted model names, NULL-terminated: served names (or "tts-1", "tts-1-hd"),
                                      then model_id */
    const char *const *voices, *const *voice_aliases;
    int sample_rate, port;
    size_t max_body, max_audio;    /* max_audio 0: the "audio" field is refused */
    pthread_mutex_t lock;          /* counters, active, stopping, watch_stop */
    srt_http_counters counters;
    req_state *active;             /* speech requests submitted (or being submitted) and not completed on MHD */
    int stopping;
    pthread_t watcher;             /* peeks at suspended connections (watch_main) */
    pthread_cond_t watch_cv;
    int watcher_started, watch_stop;
    conn_track *conns;             /* every open connection (server->lock) */
    struct codec_srv *codec_srv;   /* the codec endpoints' state (http_codec_route.c) */
};

struct req_state {
    srt_http_server *server;
    struct MHD_Connection *conn;
    pthread_mutex_t lock;
    int refs;                      /* MHD request + streaming response + engine request */
    srt_http_route route;
    char method[16], path[160];
    double t_start;
    int phase, status;             /* status: the HTTP status queued (0 = none yet) */
    /* request body */
    char *body;                    /* (body_cap) bytes, body_len used */
    size_t body_len, body_cap, body_seen;
    int body_too_large;
    /* speech */
    srt_speech_request sreq;
    int in_active, submitted, engine_done, mhd_gone, suspended, cancel_reason;
    uint64_t id;
    srt_status engine_status;
    srt_tts_stats stats;
    char engine_error[256];
    int fd;                        /* the client's socket (peeked while suspended) */
    double t_first_audio;
    int64_t samples;
    float *pcm;                    /* whole-body responses: (n_pcm) samples so far */
    int64_t n_pcm, cap_pcm;
    uint8_t *sbuf;                 /* streaming: bytes [s_head, s_len) not yet sent, (s_cap) allocated */
    size_t s_head, s_len, s_cap;
    int backlogged;
    srt_speech_stream *ss;         /* streaming: the body's encoder (and SSE framing), used on the engine thread */
    srt_audio_speed *speed;        /* "speed" != 1: time-stretch before encoding (engine thread) */
    int ttfb_seen;                 /* the first body byte went out (metric) */
    chat_state *chat;              /* chat / transcription routes: their state (http_chat_route.c), or NULL */
    int stream_started;            /* streamed non-speech body: bytes are waiting in sbuf (send the headers) */
    req_state *prev, *next;        /* server->active */
};

/* ---- shared by http_server.c and the handlers (r->lock / server->lock as http_server.c says) */
double srt_conn_now_ms(void);
void srt_conn_release(req_state *r);                       /* drop one reference */
int srt_conn_mark_cancel(req_state *r, int reason);        /* r->lock held; 1 when newly set */
void srt_conn_count_cancel(srt_http_server *s, int reason);
void srt_conn_resume_locked(req_state *r);                 /* r->lock held */
/* Append to the streaming buffer (r->lock held): 0, -1 over max pending bytes, -2 out of memory. */
int srt_conn_sbuf_append(req_state *r, const uint8_t *bytes, size_t add, size_t max);
enum MHD_Result srt_conn_reply_error(req_state *r, const srt_http_error *err, const char *allow);
enum MHD_Result srt_conn_reply_json(req_state *r, int status, char *json, const char *content_type);
/* Queue a response (common headers added; resp destroyed); MHD_NO when resp is NULL. */
enum MHD_Result srt_conn_queue(req_state *r, int status, struct MHD_Response *resp);
/* Put r on the active list and take the engine's reference; -1 (a 503 queued) when the server is stopping. */
int srt_conn_enter(req_state *r, enum MHD_Result *reply);
/* After the engine's submit: failure undoes srt_conn_enter and answers the error; success waits for the answer. */
enum MHD_Result srt_conn_submitted(req_state *r, srt_status st, uint64_t id);

/* http_chat_route.c */
enum MHD_Result srt_chat_route_start(req_state *r);        /* the body is in: parse, submit */
enum MHD_Result srt_chat_route_reply(req_state *r);        /* the engine is done (OK): the whole answer */
void srt_chat_route_free(chat_state *c);

/* http_codec_route.c: POST /v1/codec/encode and /v1/codec/decode */
srt_status srt_codec_route_init(srt_http_server *s, const char *codec_dir);
void srt_codec_route_free(srt_http_server *s);
enum MHD_Result srt_codec_route_reply(req_state *r);       /* the body is in: answer at once */

#endif
