/* http_server.h: `snacrt serve`: an OpenAI-compatible text-to-speech HTTP server over the TTS engine
 * (include/snacrt_tts.h), on libmicrohttpd. The wiring (http_server.c) is thin; everything that can be a pure function is
 * one, declared here and tested without an engine (tests/test_serve_http.c):
 *   http_request.c   routing, bearer-token check, JSON body -> validated srt_speech_request
 *   http_response.c  WAV header, whole-body audio encoding (wav, pcm s16le, flac via libsndfile virtual IO),
 *                    JSON documents (errors, /v1/models, /v1/voices, /health)
 *   http_metrics.c   counters, the time-to-first-audio histogram and the Prometheus text exposition
 *   http_page.c      the web page served at "/" (generated from web/index.html by web/embed_page.py)
 *
 * Endpoints: POST /v1/audio/speech, POST /v1/chat/completions and POST /v1/audio/transcriptions (with a layout
 * that has a "chat" section: http_chat_route.c), GET /v1/models, GET /v1/models/{id}, GET /v1/voices, GET /health,
 * GET /metrics, GET /; OPTIONS anywhere when CORS is on (cors_origin).
 * Errors are OpenAI's {"error":{"message":...,"type":...,"param":...,"code":"..."}} with a 4xx/5xx status.
 *
 * Streaming (stream_format "audio" or "sse", or stream=true; mp3, opus, wav or pcm): the response is chunked and
 * fed from a per-request byte buffer that the engine callback appends to (it never blocks) after encoding the new
 * samples (srt_speech_stream: LAME / libsndfile on the engine thread, a few percent of a frame's time) and, for
 * "speed", time-stretching them (libsonic). Client sockets get a fixed send buffer (socket_send_buffer), so
 * the kernel holds a bounded amount for a slow reader and the rest stays visible to us. Above stream_buffer_soft
 * bytes of unsent audio the client counts as backlogged
 * (metric); above stream_buffer_max the request is cancelled and the stream ends without its final chunk, so a
 * stalled reader costs bounded memory and never stalls the engine or other clients. stream=true with flac is
 * rejected (400): FLAC's header is only final once the whole signal is known. A client that goes away gets its
 * request cancelled: MHD's completion callback sees it while MHD watches the connection; while the connection is
 * suspended (the request queued or waiting for audio) a watcher thread peeks at its socket every 100 ms, so a
 * request still in the engine's queue is removed before it is ever admitted.
 *
 * Audio prompt: "audio" in the request body holds a whole audio file (any format libsndfile reads: WAV, FLAC,
 * OGG, ...) in base64 (optionally as a data: URL); it is decoded and encoded by the codec into the layout's audio
 * tokens in the prompt, exactly as `snacrt tts --audio FILE`; with "audio_transcript" (`--audio-text`) the clip
 * and its transcript are placed as a prior turn instead (voice cloning, the layout's "clone" section). */
#ifndef SRT_HTTP_SERVER_H
#define SRT_HTTP_SERVER_H

#include "snacrt_serve.h"
#include "snacrt_tts.h"
#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

/* The server itself (srt_http_config, start / port / stop / free) is public API: include/snacrt_serve.h. */

/* ------------------------------------------------------------------ errors and routing (http_request.c) */

typedef struct srt_http_error {
    int status;                    /* HTTP status */
    const char *type;              /* "invalid_request_error", "authentication_error", "not_found_error", ... (the
                                      JSON says OpenAI's type: see srt_http_error_json) */
    const char *code;              /* OpenAI's string code ("model_not_found", ...); NULL = derived from status */
    const char *param;             /* the request field at fault, or NULL */
    char message[320];
} srt_http_error;

/* Fill err (printf message; code and param NULL) and return -1. */
int srt_http_error_set(srt_http_error *err, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef enum srt_http_route {
    SRT_ROUTE_NONE = 0,            /* unknown path: 404 */
    SRT_ROUTE_PAGE,                /* GET / */
    SRT_ROUTE_HEALTH,              /* GET /health */
    SRT_ROUTE_METRICS,             /* GET /metrics */
    SRT_ROUTE_MODELS,              /* GET /v1/models */
    SRT_ROUTE_VOICES,              /* GET /v1/voices */
    SRT_ROUTE_SPEECH,              /* POST /v1/audio/speech */
    SRT_ROUTE_MODEL,               /* GET /v1/models/{id} */
    SRT_ROUTE_CHAT,                /* POST /v1/chat/completions (http_chat_route.c) */
    SRT_ROUTE_TRANSCRIPTIONS,      /* POST /v1/audio/transcriptions (http_chat_route.c) */
    SRT_ROUTE_CODEC_ENCODE,        /* POST /v1/codec/encode (http_codec_route.c) */
    SRT_ROUTE_CODEC_DECODE,        /* POST /v1/codec/decode (http_codec_route.c) */
    SRT_ROUTE_COUNT
} srt_http_route;

/* Route a request. Returns the route of the path; sets err to 404 (unknown path) or 405 (known path, wrong
 * method: *allow names the methods for the Allow header) and returns SRT_ROUTE_NONE on failure. HEAD is
 * accepted wherever GET is. */
srt_http_route srt_http_route_match(const char *method, const char *path, const char **allow, srt_http_error *err);
/* Label of a route for metrics ("/v1/audio/speech", ..., "other"). */
const char *srt_http_route_label(srt_http_route route);
/* Does this route need the API key (the /v1/ endpoints)? */
int srt_http_route_needs_auth(srt_http_route route);

/* Does an Authorization header value carry "Bearer <key>"? The comparison takes time depending only on the
 * key's length, not on where the values differ. NULL header: no. */
int srt_http_bearer_ok(const char *authorization, const char *key);

/* Validate UTF-8 (no overlongs, surrogates or code points above U+10FFFF) and count code points.
 * Returns 0 and sets *chars, or -1. */
int srt_utf8_count(const char *s, size_t n, size_t *chars);
/* Copy a NUL-terminated string into out (cap bytes, NUL-terminated, cut at a character boundary), replacing each
 * byte that does not start a valid UTF-8 sequence with '?'. */
void srt_utf8_sanitize(const char *in, char *out, size_t cap);

/* ------------------------------------------------------------------ speech requests (http_request.c) */

/* The same values as srt_audio_codec (host/audio/audio_encode.h), which encodes them. */
typedef enum srt_http_audio_format {
    SRT_HTTP_WAV = 0, SRT_HTTP_PCM, SRT_HTTP_FLAC, SRT_HTTP_MP3, SRT_HTTP_OPUS
} srt_http_audio_format;

typedef struct srt_speech_limits {
    const char *const *voices;     /* NULL-terminated list of voices; NULL or empty = the request may not name one
                                      other than the default */
    const char *const *models;     /* NULL-terminated list of accepted model names (NULL = any); another name is a
                                      404 with code "model_not_found" */
    int max_input_chars;           /* > 0 */
    int max_tokens;                /* > 0: bound of the request's max_tokens */
    size_t max_audio_bytes;        /* largest decoded "audio" field (0: the field is refused) */
    double max_audio_seconds;      /* > 0: longest "audio" prompt, refused (413) from the file's header before any
                                      sample is decoded, and while decoding for files whose header has no length */
    int audio_rate;                /* > 0: the prompt is decoded straight to this rate (the codec's), so its memory
                                      is max_audio_seconds * audio_rate floats whatever the file's own rate */
    const char *const *voice_aliases; /* NULL-terminated pairs (alias, voice) or NULL (srt_tts_voice_aliases) */
} srt_speech_limits;

typedef struct srt_speech_request {
    char *model, *input, *voice;   /* malloc'd; voice NULL = the default voice */
    char *instructions;            /* "instructions" (at most max_input_chars characters), malloc'd, or NULL: placed
                                      into the prompt where the layout has a slot (X-Snacrt-Instructions), else
                                      accepted and reported in X-Snacrt-Note */
    srt_http_audio_format format;  /* "response_format": mp3 (default, as OpenAI's) | opus (Ogg) | wav | pcm | flac */
    int stream;                    /* streamed: "stream": true or "stream_format": "audio" / "sse" */
    int sse;                       /* "stream_format": "sse": server-sent events (srt_speech_stream) */
    double speed;                  /* "speed" (0.25 .. 4, default 1): time-stretch without pitch change (libsonic,
                                      host/audio/audio_speed.h), streamed too; the response says X-Snacrt-Speed */
    int speed_ignored;             /* speed given and != 1 (the name is historical: the speed is applied) */
    int has_seed, has_temperature, has_top_p, has_repetition_penalty, has_max_tokens;
    uint64_t seed;                 /* 0 .. 2^53 - 1 */
    float temperature;             /* 0 .. 10 (0 = greedy) */
    float top_p;                   /* 0 .. 1 (0 or 1 = off) */
    float repetition_penalty;      /* > 0 .. 10 */
    int max_tokens;                /* 1 .. limits.max_tokens */
    float *audio;                  /* "audio": the decoded audio prompt, mono f32 (n_audio) at audio_rate Hz, or
                                      NULL; malloc'd */
    int64_t n_audio;
    int audio_rate;
    char *audio_transcript;        /* "audio_transcript": the transcript of "audio" (voice cloning: the clip and its
                                      transcript placed as a prior turn, the layout's "clone"); malloc'd or NULL;
                                      without "audio" a 400 */
} srt_speech_request;

/* Parse and validate a POST /v1/audio/speech body (n bytes, need not be NUL-terminated). Checks: UTF-8, no NUL,
 * a JSON object; "model" (string, accepted) and "input" (non-empty string of at most max_input_chars
 * characters) required; "voice" a voice or an alias (case-insensitive; out->voice is the layout's voice); "response_format" one of
 * mp3|opus|wav|pcm|flac (aac: a 400 naming these); "stream" boolean; "stream_format" "audio" (streams the encoded
 * file as it is made) or "sse" (OpenAI's speech.audio.delta / speech.audio.done events), neither with flac;
 * numbers finite, in range and of the right type; "audio" a string of
 * base64 (whitespace ignored, padding optional, a "data:...;base64," prefix allowed) of at most max_audio_bytes
 * decoded bytes (else 413) that libsndfile reads as audio; "audio_transcript" a string that needs "audio". Unknown fields are ignored. Returns 0, or -1 with a
 * 400 (413) in err (out is then empty); messages name the field. */
int srt_speech_request_parse(const char *body, size_t n, const srt_speech_limits *limits, srt_speech_request *out,
                             srt_http_error *err);
void srt_speech_request_free(srt_speech_request *req);
/* Decode base64 (RFC 4648 standard alphabet; ASCII whitespace skipped; '=' padding optional but only at the end).
 * *out malloc'd (n_out bytes; at least 1 byte allocated). Returns 0; -1 on a bad character or length, with
 * *bad_at = the offending offset in the input (out untouched); -2 when out of memory. */
int srt_base64_decode(const char *in, size_t n, uint8_t **out, size_t *n_out, size_t *bad_at);
/* Upper bound of the decoded size of n base64 characters. */
size_t srt_base64_decoded_max(size_t n);
/* The sampling parameters of a request: defaults overridden by the fields it gave. */
void srt_speech_request_sampling(const srt_speech_request *req, const srt_sampling_params *defaults,
                                 srt_sampling_params *out);
/* Does the request set any sampling field? */
int srt_speech_request_has_sampling(const srt_speech_request *req);

/* ------------------------------------------------------------------ responses (http_response.c) */

/* 44-byte canonical WAV header, mono s16le. n_samples < 0: streaming, sizes set to 0xFFFFFFFF ("unknown"). */
void srt_wav_header(uint8_t out[44], int sample_rate, int64_t n_samples);
/* MIME type of a format ("audio/wav", "audio/pcm", "audio/flac", "audio/mpeg", "audio/ogg"). */
const char *srt_http_audio_mime(srt_http_audio_format format);
/* Encode a whole mono signal as a response body: WAV (header + s16le), raw s16le, FLAC 16-bit, mp3 or Ogg/Opus
 * (srt_audio_encode_all). *out malloc'd. */
srt_status srt_http_encode_audio(srt_http_audio_format format, const float *pcm, int64_t n, int sample_rate,
                                 uint8_t **out, size_t *n_out);
/* {"error":{"message":...,"type":...,"param":...,"code":...}} as OpenAI's API answers, malloc'd (NULL on allocation
 * failure). type is OpenAI's: "invalid_request_error" for 4xx (authentication_error and not_found_error included),
 * "server_error" for 5xx. code is a string: err->code, else from the status: 400 invalid_request, 401
 * invalid_api_key, 404 not_found, 405 method_not_allowed, 413 request_too_large, 500 internal_error, 503
 * server_overloaded. param is null unless set. Bytes of the message that are not UTF-8 (a path or name echoed
 * back) become '?', so the document is always valid JSON. */
char *srt_http_error_json(const srt_http_error *err);
/* GET /v1/models: {"object":"list","data":[{"id":...,"object":"model","owned_by":"snacrt","voices":[...]}...]} */
char *srt_http_models_json(const char *const *models, const char *const *voices, int sample_rate);
/* GET /v1/models/{id}: the one model object of the list above. */
char *srt_http_model_json(const char *model, const char *const *voices, int sample_rate);
/* GET /v1/voices: {"voices":[...],"aliases":{"alloy":"tara",...},"tags":["<laugh>",...],"sample_rate":...}
 * (aliases: NULL-terminated pairs or NULL; tags: the layout's, NULL-terminated, or NULL) */
char *srt_http_voices_json(const char *const *voices, const char *const *aliases, const char *const *tags,
                           int sample_rate);

/* ------------------------------------------------------------------ streamed speech bodies (http_speech_stream.c) */

/* The body of a streamed speech response, made as the audio comes: the encoded file's bytes (sse = 0) or OpenAI's
 * server-sent events (sse = 1): `data: {"type":"speech.audio.delta","audio":"<base64 of the next bytes>"}` and
 * last `data: {"type":"speech.audio.done","usage":{"input_tokens":..,"output_tokens":..,"total_tokens":..}}`.
 * push / finish hand out the next bytes to send (*data valid until the next call). flac cannot be streamed. */
typedef struct srt_speech_stream srt_speech_stream;
srt_status srt_speech_stream_open(srt_http_audio_format format, int sse, int sample_rate, srt_speech_stream **out);
srt_status srt_speech_stream_push(srt_speech_stream *s, const float *pcm, int64_t n, const uint8_t **data,
                                  size_t *n_data);
srt_status srt_speech_stream_finish(srt_speech_stream *s, const srt_tts_stats *stats, const uint8_t **data,
                                    size_t *n_data);
void srt_speech_stream_free(srt_speech_stream *s);

/* ------------------------------------------------------------------ metrics (http_metrics.c) */

#define SRT_HTTP_TTFA_BUCKETS 10   /* time-to-first-audio histogram upper bounds, seconds (last = +Inf) */
#define SRT_HTTP_MAX_STATUS_SERIES 96

typedef struct srt_http_status_count { srt_http_route route; int status; int64_t count; } srt_http_status_count;

typedef struct srt_http_counters {
    srt_http_status_count by_status[SRT_HTTP_MAX_STATUS_SERIES]; int n_by_status;
    int64_t ttfa_bucket[SRT_HTTP_TTFA_BUCKETS];  /* cumulative counts as exposed: observations <= bound */
    double ttfa_sum_s; int64_t ttfa_count;
    int64_t ttfb_bucket[SRT_HTTP_TTFA_BUCKETS];  /* time to the first byte of a speech body handed to the socket */
    double ttfb_sum_s; int64_t ttfb_count;
    double rtf_sum; int64_t rtf_count;           /* audio seconds / wall seconds of finished speech requests */
    int64_t cancelled_client_gone, cancelled_overflow, cancelled_shutdown;
    int64_t streams_backlogged;                  /* streaming clients whose backlog went over the soft bound */
    int64_t rejected_full;                       /* 503 because the engine queue was full */
    int64_t timed_out;                           /* connections cut for missing their head or body deadline */
    int64_t active_requests;                     /* HTTP requests being handled */
    int64_t active_speech;                       /* speech requests submitted and not finished */
} srt_http_counters;

extern const double srt_http_ttfa_bounds[SRT_HTTP_TTFA_BUCKETS];

/* Count one finished HTTP request. */
void srt_http_counters_add_status(srt_http_counters *c, srt_http_route route, int status);
/* Record one time to first audio (seconds) and one real-time factor. */
void srt_http_counters_observe_ttfa(srt_http_counters *c, double seconds);
void srt_http_counters_observe_rtf(srt_http_counters *c, double rtf);
/* Record one time to first byte (seconds) of a speech response body: streamed, its first audio bytes handed to
 * the socket; whole, the body queued. */
void srt_http_counters_observe_ttfb(srt_http_counters *c, double seconds);
/* Prometheus text exposition (version 0.0.4) of the server counters and the engine metrics; malloc'd. */
char *srt_http_metrics_text(const srt_http_counters *c, const srt_tts_metrics *m);

/* Append the per-replica families (labelled by replica and devices) of an engine with replicas to a metrics text
 * (realloc'd; returned unchanged without replicas) (http_metrics_replicas.c). */
char *srt_http_metrics_append_replicas(char *text, srt_tts_engine *engine);

/* ------------------------------------------------------------------ web page (http_page.c) */

extern const char srt_http_page_html[];
extern const size_t srt_http_page_html_len;

#endif
