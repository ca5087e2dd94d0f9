/* http_request.c: the pure half of the HTTP server's input side: routing, the bearer-token check (constant
 * time), UTF-8 validation, base64, and parsing + validating a POST /v1/audio/speech JSON body (its "audio" field
 * decoded by libsndfile from memory). No engine, no sockets. */
#include "serve/http_server.h"
#include "audio/audio_encode.h"
#include "snacrt_audio.h"
#include "common.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int srt_http_error_set(srt_http_error *err, int status, const char *type, const char *fmt, ...) {
    if (!err) return -1;
    err->status = status;
    err->type = type;
    err->code = err->param = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------ routing */

typedef struct route_entry {
    const char *path;
    srt_http_route route;
    const char *method;      /* the one method served ("GET" routes also answer HEAD) */
    const char *allow;       /* Allow header for a 405 */
} route_entry;

static const route_entry ROUTES[] = {
    {"/", SRT_ROUTE_PAGE, "GET", "GET, HEAD"},
    {"/index.html", SRT_ROUTE_PAGE, "GET", "GET, HEAD"},
    {"/health", SRT_ROUTE_HEALTH, "GET", "GET, HEAD"},
    {"/metrics", SRT_ROUTE_METRICS, "GET", "GET, HEAD"},
    {"/v1/models", SRT_ROUTE_MODELS, "GET", "GET, HEAD"},
    {"/v1/voices", SRT_ROUTE_VOICES, "GET", "GET, HEAD"},
    {"/v1/audio/speech", SRT_ROUTE_SPEECH, "POST", "POST"},
    {"/v1/chat/completions", SRT_ROUTE_CHAT, "POST", "POST"},
    {"/v1/audio/transcriptions", SRT_ROUTE_TRANSCRIPTIONS, "POST", "POST"},
    {"/v1/codec/encode", SRT_ROUTE_CODEC_ENCODE, "POST", "POST"},
    {"/v1/codec/decode", SRT_ROUTE_CODEC_DECODE, "POST", "POST"},
};

srt_http_route srt_http_route_match(const char *method, const char *path, const char **allow, srt_http_error *err) {
    if (allow) *allow = NULL;
    if (!method || !path) {
        srt_http_error_set(err, 400, "invalid_request_error", "malformed request");
        return SRT_ROUTE_NONE;
    }
    static const route_entry MODEL = {"/v1/models/", SRT_ROUTE_MODEL, "GET", "GET, HEAD"};
    for (size_t i = 0; i <= sizeof ROUTES / sizeof ROUTES[0]; i++) {
        const route_entry *re = i < sizeof ROUTES / sizeof ROUTES[0] ? &ROUTES[i] : &MODEL;
        if (re == &MODEL ? strncmp(path, MODEL.path, strlen(MODEL.path)) || !path[strlen(MODEL.path)]
                         : strcmp(path, re->path))
            continue;
        if (!strcmp(method, re->method) || (!strcmp(re->method, "GET") && !strcmp(method, "HEAD")))
            return re->route;
        if (allow) *allow = re->allow;
        srt_http_error_set(err, 405, "invalid_request_error", "method %.32s not allowed on %.64s (allowed: %s)",
                           method, path, re->allow);
        return SRT_ROUTE_NONE;
    }
    srt_http_error_set(err, 404, "not_found_error",
                       "no such endpoint: %.96s (POST /v1/audio/speech, /v1/codec/encode|decode, GET "
                       "/v1/models[/ID], /v1/voices, /health, /metrics, /)", path);
    return SRT_ROUTE_NONE;
}

const char *srt_http_route_label(srt_http_route route) {
    switch (route) {
    case SRT_ROUTE_PAGE: return "/";
    case SRT_ROUTE_HEALTH: return "/health";
    case SRT_ROUTE_METRICS: return "/metrics";
    case SRT_ROUTE_MODELS: return "/v1/models";
    case SRT_ROUTE_MODEL: return "/v1/models/{id}";
    case SRT_ROUTE_VOICES: return "/v1/voices";
    case SRT_ROUTE_SPEECH: return "/v1/audio/speech";
    case SRT_ROUTE_CHAT: return "/v1/chat/completions";
    case SRT_ROUTE_TRANSCRIPTIONS: return "/v1/audio/transcriptions";
    case SRT_ROUTE_CODEC_ENCODE: return "/v1/codec/encode";
    case SRT_ROUTE_CODEC_DECODE: return "/v1/codec/decode";
    default: return "other";
    }
}

int srt_http_route_needs_auth(srt_http_route route) {
    return route == SRT_ROUTE_MODELS || route == SRT_ROUTE_MODEL || route == SRT_ROUTE_VOICES ||
           route == SRT_ROUTE_SPEECH || route == SRT_ROUTE_CHAT || route == SRT_ROUTE_TRANSCRIPTIONS ||
           route == SRT_ROUTE_CODEC_ENCODE || route == SRT_ROUTE_CODEC_DECODE;
}

/* ------------------------------------------------------------------ authentication */

int srt_http_bearer_ok(const char *authorization, const char *key) {
    if (!key) return 0;
    size_t nk = strlen(key);
    const char *given = "";
    int scheme_ok = 0;
    if (authorization) {
        const char *p = authorization;
        while (*p == ' ' || *p == '\t') p++;
        if (!strncasecmp(p, "Bearer", 6) && (p[6] == ' ' || p[6] == '\t')) {
            scheme_ok = 1;
            p += 6;
            while (*p == ' ' || *p == '\t') p++;
            given = p;
        }
    }
    size_t ng = strlen(given);
    while (ng > 0 && (given[ng - 1] == ' ' || given[ng - 1] == '\t')) ng--;
    /* Touch every key byte whatever the input: time depends on the key's length only. */
    volatile unsigned char diff = (unsigned char)(ng != nk);
    for (size_t i = 0; i < nk; i++) {
        unsigned char g = i < ng ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)key[i]);
    }
    return scheme_ok && nk > 0 && diff == 0;
}

/* ------------------------------------------------------------------ UTF-8 */

int srt_utf8_count(const char *s, size_t n, size_t *chars) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, count = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) { i++; count++; continue; }
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
        else return -1;
        if (n - i < len) return -1;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return -1;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += len;
        count++;
    }
    if (chars) *chars = count;
    return 0;
}

void srt_utf8_sanitize(const char *in, char *out, size_t cap) {
    size_t n = strlen(in), i = 0, k = 0;
    if (cap == 0) return;
    while (i < n && k + 1 < cap) {
        size_t len = 1;
        unsigned c = (unsigned char)in[i];
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3;
        else if (c >= 0xF0 && c <= 0xF4) len = 4;
        if (c < 0x80 || (len > 1 && i + len <= n && srt_utf8_count(in + i, len, NULL) == 0)) {
            if (k + len >= cap) break;
            memcpy(out + k, in + i, len);
            k += len;
            i += len;
        } else {
            out[k++] = '?';
            i++;
        }
    }
    out[k] = 0;
}

/* ------------------------------------------------------------------ base64 */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

size_t srt_base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

int srt_base64_decode(const char *in, size_t n, uint8_t **out, size_t *n_out, size_t *bad_at) {
    size_t cap = srt_base64_decoded_max(n), k = 0, pad_at = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) { if (bad_at) *bad_at = 0; return -2; }
    uint32_t acc = 0;
    int bits = 0, quad = 0, pads = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        int v = c == '=' ? -2 : b64_value(c), ok;
        if (v == -2) {                 /* padding: only after 2 or 3 characters of a group, and completing it */
            if (!pads) pad_at = i;
            pads++;
            ok = quad >= 2 && quad + pads <= 4;
        } else {
            ok = v >= 0 && !pads;      /* a base64 character, not after the padding */
        }
        if (!ok) {
            free(buf);
            if (bad_at) *bad_at = i;
            return -1;
        }
        if (v < 0) continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        quad = (quad + 1) % 4;
        if (bits >= 8) {
            bits -= 8;
            buf[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* quad 1: a lone 6-bit character cannot end the data; padding, when given, must complete the group */
    if (quad == 1 || (pads && quad + pads != 4)) {
        free(buf);
        if (bad_at) *bad_at = pads ? pad_at : n;
        return -1;
    }
    *out = buf;
    *n_out = k;
    return 0;
}

/* ------------------------------------------------------------------ speech request */

void srt_speech_request_free(srt_speech_request *req) {
    if (!req) return;
    free(req->model);
    free(req->input);
    free(req->voice);
    free(req->instructions);
    free(req->audio_transcript);
    free(req->audio);
    memset(req, 0, sizeof *req);
}

static const char *json_type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* A 400 invalid_request_error (printf message); returns -1. */
static int bad(srt_http_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(srt_http_error *err, const char *fmt, ...) {
    err->status = 400;
    err->type = "invalid_request_error";
    err->code = err->param = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* A number field in [lo, hi] (NULL = absent: *has = 0). */
static int get_number(const cJSON *root, const char *field, double lo, double hi, int integer, int *has,
                      double *out, srt_http_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, field);
    *has = 0;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v)) return bad(err, "'%s' must be a number, not %s", field, json_type_name(v));
    double x = v->valuedouble;
    if (!isfinite(x)) return bad(err, "'%s' must be a finite number", field);
    if (integer && x != floor(x)) return bad(err, "'%s' must be an integer", field);
    if (x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, " (%.17g .. %.17g)", lo, hi);
        return bad(err, "'%s' is out of range%s", field, range);
    }
    *has = 1;
    *out = x;
    return 0;
}

static int in_list(const char *const *list, const char *s) {
    for (; list && *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

static void join_list(const char *const *list, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (; list && *list && used + 1 < cap; list++) {
        int k = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", *list);
        if (k < 0) break;
        used += (size_t)k;
    }
    if (used >= cap && cap > 4) strcpy(buf + cap - 4, "...");
}

/* An optional string field of at most max_input_chars characters: *out malloc'd, NULL when absent, null or "". */
static int get_text(const cJSON *root, const char *name, const srt_speech_limits *lim, char **out,
                    srt_http_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return bad(err, "'%s' must be a string, not %s", name, json_type_name(v));
    size_t n_chars = 0;
    if (srt_utf8_count(v->valuestring, strlen(v->valuestring), &n_chars))
        return bad(err, "'%s' is not valid UTF-8", name);
    if (n_chars > (size_t)lim->max_input_chars)
        return srt_http_error_set(err, 400, "invalid_request_error", "'%s' is too long: %zu characters (at most %d)",
                                  name, n_chars, lim->max_input_chars);
    if (v->valuestring[0] && !(*out = strdup(v->valuestring)))
        return srt_http_error_set(err, 500, "server_error", "out of memory");
    return 0;
}

/* "audio": base64 of an audio file -> out->audio (mono f32 at its own rate). Last of the fields: the costly one. */
static int parse_audio(const cJSON *root, const srt_speech_limits *lim, srt_speech_request *out, srt_http_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "audio");
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v))
        return bad(err, "'audio' must be a string (a base64-encoded audio file), not %s", json_type_name(v));
    if (!lim->max_audio_bytes) return bad(err, "'audio' is not accepted by this server");
    const char *b64 = v->valuestring;
    size_t n = strlen(b64);
    if (!strncmp(b64, "data:", 5)) {           /* a data: URL ("data:audio/wav;base64,....") */
        const char *comma = memchr(b64, ',', n);
        if (!comma || comma - b64 < 12 || strncmp(comma - 7, ";base64", 7))
            return bad(err, "'audio' is a data: URL without ';base64,'");
        n -= (size_t)(comma + 1 - b64);
        b64 = comma + 1;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += !strchr(" \t\r\n", b64[i]);
    if (chars == 0) return bad(err, "'audio' is empty");
    if (chars / 4 * 3 > lim->max_audio_bytes)  /* before decoding anything; the exact size is checked below */
        return srt_http_error_set(err, 413, "invalid_request_error",
                                  "'audio' is too large: about %zu bytes of audio file (at most %zu)", chars / 4 * 3,
                                  lim->max_audio_bytes);
    uint8_t *bytes = NULL;
    size_t n_bytes = 0, at = 0;
    int rc = srt_base64_decode(b64, n, &bytes, &n_bytes, &at);
    if (rc == -2) return srt_http_error_set(err, 500, "server_error", "out of memory");
    if (rc) return bad(err, "'audio' is not valid base64 (at character %zu)", at + (size_t)(b64 - v->valuestring));
    if (n_bytes > lim->max_audio_bytes) {
        free(bytes);
        return srt_http_error_set(err, 413, "invalid_request_error",
                                  "'audio' is too large: %zu bytes of audio file (at most %zu)", n_bytes,
                                  lim->max_audio_bytes);
    }
    srt_audio_source_info info;
    /* the duration limit is checked from the file's header before any sample is decoded (and while decoding), and
     * the samples come out at the codec's rate: memory is bounded by the limits, whatever the compression ratio */
    srt_audio_read_options opt = {.max_seconds = lim->max_audio_seconds};
    srt_status st = srt_audio_read_memory_opts(bytes, n_bytes, "the 'audio' field", lim->audio_rate > 0 ? lim->audio_rate : 0,
                                               &opt, &out->audio, &out->n_audio, &info);
    free(bytes);
    if (st == SRT_ERR_NOMEM) return srt_http_error_set(err, 500, "server_error", "out of memory");
    if (st == SRT_ERR_RANGE) return srt_http_error_set(err, 413, "invalid_request_error", "%.300s", srt_last_error());
    if (st != SRT_OK) return bad(err, "%.300s", srt_last_error());   /* "the 'audio' field: cannot read as ..." */
    out->audio_rate = lim->audio_rate > 0 ? lim->audio_rate : info.sample_rate;
    if (out->n_audio <= 0 || out->audio_rate <= 0) return bad(err, "'audio' holds no samples");
    return 0;
}

/* The layout's voice a request's name stands for (a voice or an alias, case-insensitive), or NULL. */
static const char *find_voice(const srt_speech_limits *lim, const char *name) {
    for (const char *const *v = lim->voices; v && *v; v++)
        if (!strcasecmp(*v, name)) return *v;
    for (const char *const *a = lim->voice_aliases; a && a[0] && a[1]; a += 2)
        if (!strcasecmp(a[0], name)) {
            for (const char *const *v = lim->voices; v && *v; v++)
                if (!strcmp(*v, a[1])) return *v;
        }
    return NULL;
}

static int parse_fields(const cJSON *root, const srt_speech_limits *lim, srt_speech_request *out,
                        srt_http_error *err) {
    char list[200];
    /* model */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!v) return bad(err, "missing required field '%s'", "model");
    if (!cJSON_IsString(v)) return bad(err, "'%s' must be a string, not %s", "model", json_type_name(v));
    if (lim->models && !in_list(lim->models, v->valuestring)) {
        join_list(lim->models, list, sizeof list);
        srt_http_error_set(err, 404, "invalid_request_error", "The model '%.64s' does not exist (available: %s)",
                           v->valuestring, list);
        err->code = "model_not_found";
        err->param = "model";
        return -1;
    }
    out->model = strdup(v->valuestring);
    /* input */
    v = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!v) return bad(err, "missing required field '%s'", "input");
    if (!cJSON_IsString(v)) return bad(err, "'%s' must be a string, not %s", "input", json_type_name(v));
    size_t chars = 0, len = strlen(v->valuestring);
    if (srt_utf8_count(v->valuestring, len, &chars)) return bad(err, "'%s' is not valid UTF-8", "input");
    size_t k = 0;
    while (k < len && strchr(" \t\r\n", v->valuestring[k])) k++;
    if (k == len) return bad(err, "'%s' is empty", "input");
    if (chars > (size_t)lim->max_input_chars)
        return srt_http_error_set(err, 400, "invalid_request_error",
                                  "'input' is too long: %zu characters (at most %d)", chars, lim->max_input_chars);
    out->input = strdup(v->valuestring);
    /* voice */
    v = cJSON_GetObjectItemCaseSensitive(root, "voice");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) return bad(err, "'%s' must be a string, not %s", "voice", json_type_name(v));
        const char *voice = find_voice(lim, v->valuestring);
        if (!voice) {
            join_list(lim->voices, list, sizeof list);
            srt_http_error_set(err, 400, "invalid_request_error", "unknown voice '%.64s' (available: %s%s)",
                               v->valuestring, list[0] ? list : "none",
                               lim->voice_aliases && lim->voice_aliases[0] ? ", or an alias in GET /v1/voices" : "");
            err->code = "invalid_value";
            err->param = "voice";
            return -1;
        }
        out->voice = strdup(voice);
        if (!out->voice) return srt_http_error_set(err, 500, "server_error", "out of memory");
    }
    /* instructions (OpenAI's gpt-4o-mini-tts): placed where the layout has a slot, else accepted and noted */
    if (get_text(root, "instructions", lim, &out->instructions, err)) return -1;
    /* audio_transcript: the transcript of "audio" (voice cloning; checked against "audio" below) */
    if (get_text(root, "audio_transcript", lim, &out->audio_transcript, err)) return -1;
    /* response_format */
    v = cJSON_GetObjectItemCaseSensitive(root, "response_format");
    out->format = SRT_HTTP_MP3;   /* OpenAI's default */
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) return bad(err, "'%s' must be a string, not %s", "response_format", json_type_name(v));
        int f = srt_audio_codec_from_name(v->valuestring);
        if (f < 0 || strcmp(v->valuestring, srt_audio_codec_name(f))) {
            srt_http_error_set(err, 400, "invalid_request_error",
                               "unsupported response_format '%.32s' (supported: mp3, opus, wav, pcm, flac)",
                               v->valuestring);
            err->code = "invalid_value";
            err->param = "response_format";
            return -1;
        }
        out->format = (srt_http_audio_format)f;
    }
    /* stream, stream_format */
    v = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v)) return bad(err, "'%s' must be a boolean, not %s", "stream", json_type_name(v));
        out->stream = cJSON_IsTrue(v);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "stream_format");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "audio") && strcmp(v->valuestring, "sse")))
            return bad(err, "'stream_format' must be \"audio\" or \"sse\"");
        out->stream = 1;
        out->sse = !strcmp(v->valuestring, "sse");
    }
    if (out->stream && out->format == SRT_HTTP_FLAC)
        return srt_http_error_set(err, 400, "invalid_request_error",
                                  "streaming supports response_format mp3, opus, wav or pcm; flac needs the whole "
                                  "signal before its header is final, so request it without streaming");
    /* numbers */
    int has;
    double x;
    if (get_number(root, "speed", 0.25, 4.0, 0, &has, &x, err)) return -1;
    out->speed = has ? x : 1.0;
    out->speed_ignored = has && x != 1.0;
    if (get_number(root, "seed", 0, 9007199254740991.0, 1, &out->has_seed, &x, err)) return -1;
    if (out->has_seed) out->seed = (uint64_t)x;
    if (get_number(root, "temperature", 0, 10, 0, &out->has_temperature, &x, err)) return -1;
    if (out->has_temperature) out->temperature = (float)x;
    if (get_number(root, "top_p", 0, 1, 0, &out->has_top_p, &x, err)) return -1;
    if (out->has_top_p) out->top_p = (float)x;
    if (get_number(root, "repetition_penalty", 1e-3, 10, 0, &out->has_repetition_penalty, &x, err)) return -1;
    if (out->has_repetition_penalty) out->repetition_penalty = (float)x;
    if (get_number(root, "max_tokens", 1, lim->max_tokens > 0 ? lim->max_tokens : 1e9, 1, &out->has_max_tokens, &x,
                   err))
        return -1;
    if (out->has_max_tokens) out->max_tokens = (int)x;
    if (!out->model || !out->input) return srt_http_error_set(err, 500, "server_error", "out of memory");
    if (parse_audio(root, lim, out, err)) return -1;
    if (out->audio_transcript && !out->audio)
        return bad(err, "'audio_transcript' is the transcript of a reference clip: it needs 'audio' (the clip, "
                   "base64)");
    return 0;
}

/* Does the JSON text hold a \u0000 escape (cJSON would cut the string there)? An escape is a backslash preceded
 * by an even number of backslashes. */
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 6 <= n; i++) {
        if (s[i] != '\\' || memcmp(s + i + 1, "u0000", 5)) continue;
        size_t k = 0;
        while (k < i && s[i - 1 - k] == '\\') k++;
        if (k % 2 == 0) return 1;
    }
    return 0;
}

int srt_speech_request_parse(const char *body, size_t n, const srt_speech_limits *limits, srt_speech_request *out,
                             srt_http_error *err) {
    memset(out, 0, sizeof *out);
    if (!body || n == 0) return bad(err, "the request body is empty: expected a JSON object");
    if (memchr(body, 0, n)) return bad(err, "the request body contains a NUL byte");
    if (srt_utf8_count(body, n, NULL)) return bad(err, "the request body is not valid UTF-8");
    if (has_nul_escape(body, n)) return bad(err, "the request body contains a NUL character (\\u0000)");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, n, &end, 0);
    if (!root) {
        size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
        return srt_http_error_set(err, 400, "invalid_request_error", "malformed JSON in the request body (near byte %zu)",
                                  at);
    }
    /* only whitespace may follow the value */
    for (const char *p = end; p && p < body + n; p++)
        if (!strchr(" \t\r\n", *p)) {
            cJSON_Delete(root);
            return srt_http_error_set(err, 400, "invalid_request_error",
                                      "malformed JSON in the request body (trailing data at byte %zu)",
                                      (size_t)(p - body));
        }
    int rc;
    if (!cJSON_IsObject(root))
        rc = bad(err, "the request body must be a JSON object, not %s", json_type_name(root));
    else
        rc = parse_fields(root, limits, out, err);
    cJSON_Delete(root);
    if (rc) srt_speech_request_free(out);
    return rc;
}

int srt_speech_request_has_sampling(const srt_speech_request *req) {
    return req->has_seed || req->has_temperature || req->has_top_p || req->has_repetition_penalty ||
           req->has_max_tokens;
}

void srt_speech_request_sampling(const srt_speech_request *req, const srt_sampling_params *defaults,
                                 srt_sampling_params *out) {
    *out = *defaults;
    if (req->has_seed) out->seed = req->seed;
    if (req->has_temperature) out->temperature = req->temperature;
    if (req->has_top_p) out->top_p = req->top_p;
    if (req->has_repetition_penalty) out->repetition_penalty = req->repetition_penalty;
    if (req->has_max_tokens) out->max_tokens = req->max_tokens;
}
