/* snacrt_serve.h (public API): `snacrt serve`, an OpenAI-compatible text-to-speech HTTP server over a TTS engine
 * (snacrt_tts.h), on libmicrohttpd: configure, start, stop. Endpoints: POST /v1/audio/speech, GET /v1/models,
 * GET /v1/models/{id}, GET /v1/voices, GET /health, GET /metrics, GET / (a web page); errors are OpenAI's
 * {"error":{...}} documents. The server's internals (routing, request parsing, responses, metrics) are in
 * host/serve/http_server.h. */
#ifndef SNACRT_SERVE_H
#define SNACRT_SERVE_H

#include "snacrt.h"
#include "snacrt_tts.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ server (http_server.c) */

typedef struct srt_http_server srt_http_server;

/* One log line per request ("POST /v1/audio/speech 200 41.2 ms"; a finished speech request adds the engine's
 * timeline: "(id 7: 6 frames, queued 0.1 ms, first audio at 20.3 ms, done at 38.0 ms)", times from its submit),
 * called on a server thread. */
typedef void (*srt_http_log_fn)(void *user, const char *line);

typedef struct srt_http_config {
    const char *host;              /* numeric IPv4 or IPv6 address to bind (NULL = "127.0.0.1") */
    int port;                      /* 0 = any free port (srt_http_server_port tells which) */
    const char *api_key;           /* NULL or "": no authentication; else the /v1/ endpoints need "Authorization: Bearer KEY" */
    const char *model_id;          /* the model folder's name, always accepted (NULL = "snacrt") */
    const char *const *served_model_names; /* NULL-terminated names a request's "model" may use (vLLM's
                                      --served-model-name), listed first in /v1/models; NULL or empty: "tts-1" and
                                      "tts-1-hd". Any other model is a 404 "model_not_found". */
    const char *cors_origin;       /* NULL or "": no CORS headers; else Access-Control-Allow-Origin on every
                                      response and OPTIONS preflight answered (204) on every path */
    int max_tokens;                /* a request's max_tokens default and upper bound (0 = sampling.max_tokens) */
    int max_input_chars;           /* longest "input" in characters (0 = 4096) */
    size_t max_body_bytes;         /* largest request body (0 = 6 * max_input_chars + 16384, plus the base64 size
                                      of max_audio_bytes) */
    int64_t max_audio_bytes;       /* largest "audio" field, decoded bytes (0 = 4 MiB, < 0 = the field is refused) */
    size_t stream_buffer_soft;     /* streaming backlog above which a client counts as slow (0 = 256 KiB) */
    size_t stream_buffer_max;      /* backlog at which a streaming request is cancelled (0 = 8 MiB) */
    int socket_send_buffer;        /* SO_SNDBUF of client connections, bytes (0 = 128 KiB, < 0 = the kernel's
                                      autotuning, which lets loopback clients buffer megabytes unseen) */
    int n_threads;                 /* libmicrohttpd polling threads (0 = 2) */
    int connection_timeout_s;      /* idle connection timeout (0 = 60) */
    int header_timeout_s;          /* a connection must send a whole request head within this many seconds of
                                      opening (or of its previous response), else it is closed (0 = 10) */
    int body_timeout_s;            /* a request body must arrive whole within this many seconds of its head (0 = 60) */
    int max_connections;           /* open connections at most (0 = 512) */
    int max_connections_per_client;/* open connections per client IP address at most (0 = 128, a quarter of the
                                      default slots: one client, or one proxy, cannot take them all) */
    double max_audio_seconds;      /* longest "audio" prompt, checked from the file's header before decoding and
                                      again while decoding (0 = 600) */
    const char *codec_dir;         /* SNAC folder for POST /v1/codec/encode|decode (the server's own CPU handle,
                                      loaded on first use); NULL: those endpoints answer 503 */
    double codec_max_seconds;      /* longest audio those endpoints take or give (0 = 60) */
    srt_sampling_params sampling;  /* request defaults (the engine's: srt_tts_config.sampling) */
    srt_http_log_fn log;           /* NULL: no request log */
    void *log_user;
} srt_http_config;

/* Bind, listen and serve on internal threads. Failures (address in use, bad host): SRT_ERR_IO naming the address. */
srt_status srt_http_server_start(srt_tts_engine *engine, const srt_http_config *cfg, srt_http_server **out);
/* The port actually bound. */
int srt_http_server_port(const srt_http_server *server);
/* Graceful stop: stop accepting, cancel queued and running speech requests (their clients get a 503 or a cut
 * stream), wait up to grace_ms for them to end, close all connections and join the threads. The server's memory
 * stays valid (engine callbacks may still refer to it) until srt_http_server_free, which must come after
 * srt_tts_engine_free. */
void srt_http_server_stop(srt_http_server *server, int grace_ms);
void srt_http_server_free(srt_http_server *server);

#ifdef __cplusplus
}
#endif

#endif
