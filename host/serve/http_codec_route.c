/* http_codec_route.c: the codec endpoints of `snacrt serve`, for any client (the web page's codec view uses them):
 *   POST /v1/codec/encode[?format=F]   body: an audio file (any format libsndfile reads: wav, flac, ogg, mp3, ...),
 *                                      at most max_audio_bytes and codec_max_seconds; answer: its SNAC codes in
 *                                      format F (json (default), laion, laion-4097, laion-hash, orpheus, npy:
 *                                      include/snacrt_codes.h), with X-Snacrt-Frames / X-Snacrt-Levels
 *   POST /v1/codec/decode[?format=F][&response_format=R]
 *                                      body: codes in format F (auto (default) detects it); answer: the decoded
 *                                      audio as R (wav (default), pcm, flac, mp3, opus), X-Snacrt-Samples
 * The codec is the server's own handle on the CPU (loaded from srt_http_config.codec_dir on the first call, so a
 * server that never gets one pays nothing), used by one request at a time; the call runs on the MHD thread, its
 * size bounded by the limits above. Every refusal is a 400 (413 for sizes) naming the field or limit. */
#include "serve/http_conn.h"
#include "snacrt_audio.h"
#include "snacrt_codes.h"
#include "audio/audio_encode.h"
#include "common.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CODEC_THREADS 2

struct codec_srv {
    pthread_mutex_t lock;          /* the handle below: one request at a time */
    char *dir;                     /* srt_http_config.codec_dir copy, or NULL: the endpoints are off */
    srt_codec *codec;              /* loaded on first use */
    srt_codec_info info;
    char load_error[256];          /* a failed load, reported to every later request */
};

srt_status srt_codec_route_init(srt_http_server *s, const char *codec_dir) {
    struct codec_srv *c = srt_calloc(1, sizeof *c, "codec endpoints");
    if (!c) return SRT_ERR_NOMEM;
    if (pthread_mutex_init(&c->lock, NULL)) { free(c); return srt_error(SRT_ERR_NOMEM, "codec endpoints: mutex"); }
    if (codec_dir && codec_dir[0] && !(c->dir = srt_strdup(codec_dir))) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return SRT_ERR_NOMEM;
    }
    s->codec_srv = c;
    return SRT_OK;
}

void srt_codec_route_free(srt_http_server *s) {
    struct codec_srv *c = s->codec_srv;
    if (!c) return;
    srt_codec_free(c->codec);
    pthread_mutex_destroy(&c->lock);
    free(c->dir);
    free(c);
    s->codec_srv = NULL;
}

static enum MHD_Result refuse(req_state *r, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result refuse(req_state *r, int status, const char *param, const char *fmt, ...) {
    srt_http_error err;
    srt_http_error_set(&err, status, status >= 500 ? "server_error" : "invalid_request_error", "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    err.param = param;
    return srt_conn_reply_error(r, &err, NULL);
}

static enum MHD_Result reply_bytes(req_state *r, void *data, size_t n, const char *content_type,
                                   const char *const *headers) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) { free(data); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; headers && headers[i]; i += 2) MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return srt_conn_queue(r, 200, resp);
}

/* The loaded codec (c->lock held), or NULL with the reason in *why. */
static srt_codec *get_codec(struct codec_srv *c, const char **why) {
    if (!c->dir) { *why = "the codec endpoints are off: the server was started without a codec folder"; return NULL; }
    if (!c->codec && !c->load_error[0]) {
        srt_codec_options opt = {.backend = "cpu", .n_threads = CODEC_THREADS};
        if (srt_codec_load(c->dir, &opt, &c->codec) != SRT_OK || srt_codec_get_info(c->codec, &c->info) != SRT_OK) {
            snprintf(c->load_error, sizeof c->load_error, "the codec cannot be loaded: %s", srt_last_error());
            srt_codec_free(c->codec);
            c->codec = NULL;
        }
    }
    *why = c->load_error;
    return c->codec;
}

static const char *arg(req_state *r, const char *key) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result encode(req_state *r, struct codec_srv *c, srt_codec *codec) {
    srt_http_server *s = r->server;
    const char *fname = arg(r, "format");
    srt_codes_format fmt = SRT_CODES_JSON;
    if (fname && (srt_codes_format_parse(fname, &fmt) != SRT_OK || fmt == SRT_CODES_AUTO))
        return refuse(r, 400, "format", "unsupported codes format '%.32s' (supported: json, laion, laion-4097, "
                      "laion-hash, orpheus, npy)", fname);
    if (!s->max_audio)
        return refuse(r, 400, NULL, "audio input is disabled on this server (max_audio_bytes < 0)");
    if (!r->body_len)
        return refuse(r, 400, "body", "the body must be an audio file (wav, flac, ogg, mp3, ...)");
    if (r->body_len > s->max_audio)
        return refuse(r, 413, "body", "the audio file is larger than the limit of %zu bytes", s->max_audio);
    srt_audio_read_options ro = {.max_seconds = s->cfg.codec_max_seconds, .allow_nonfinite = 0};
    float *pcm = NULL;
    int64_t n = 0;
    srt_status st = srt_audio_read_memory_opts(r->body, r->body_len, "the request body", c->info.sample_rate, &ro,
                                               &pcm, &n, NULL);
    if (st != SRT_OK) return refuse(r, st == SRT_ERR_RANGE ? 413 : 400, "body", "%s", srt_last_error());
    if (n <= 0) { free(pcm); return refuse(r, 400, "body", "the audio file holds no samples"); }
    srt_codes codes = {0};
    const float *sig = pcm;
    st = srt_codec_encode(codec, 1, &sig, &n, &codes, NULL, NULL);
    free(pcm);
    char *data = NULL;
    size_t size = 0;
    if (st == SRT_OK) st = srt_codes_serialize(&c->info, &codes, fmt, &data, &size);
    char frames[32], levels[16];
    snprintf(frames, sizeof frames, "%lld", (long long)codes.n_frames[0]);
    snprintf(levels, sizeof levels, "%d", codes.n_levels);
    srt_codes_free(&codes);
    if (st != SRT_OK) return refuse(r, 500, NULL, "encoding failed: %s", srt_last_error());
    const char *headers[] = {"X-Snacrt-Frames", frames, "X-Snacrt-Levels", levels, NULL};
    return reply_bytes(r, data, size, fmt == SRT_CODES_JSON ? "application/json"
                                      : fmt == SRT_CODES_NPY ? "application/octet-stream"
                                                             : "text/plain; charset=utf-8", headers);
}

static enum MHD_Result decode(req_state *r, struct codec_srv *c, srt_codec *codec) {
    srt_http_server *s = r->server;
    const char *fname = arg(r, "format"), *rname = arg(r, "response_format");
    srt_codes_format fmt = SRT_CODES_AUTO;
    if (fname && srt_codes_format_parse(fname, &fmt) != SRT_OK)
        return refuse(r, 400, "format", "unsupported codes format '%.32s' (supported: auto, json, laion, "
                      "laion-4097, laion-hash, orpheus, npy)", fname);
    int af = rname ? srt_audio_codec_from_name(rname) : SRT_CODEC_WAV;
    if (af < 0)
        return refuse(r, 400, "response_format", "unsupported response_format '%.32s' (supported: wav, pcm, flac, "
                      "mp3, opus)", rname);
    if (!r->body_len)
        return refuse(r, 400, "body", "the body must hold codes (json, laion, orpheus or npy)");
    srt_codes codes = {0};
    if (srt_codes_parse(&c->info, r->body, r->body_len, fmt, "the request body", &codes) != SRT_OK)
        return refuse(r, 400, "body", "%s", srt_last_error());
    int L = codes.n_levels - 1;
    double seconds = (double)codes.n_frames[L] * c->info.hop_length / c->info.sample_rate;
    if (seconds > s->cfg.codec_max_seconds) {
        srt_codes_free(&codes);
        return refuse(r, 413, "body", "the codes hold %.1f s of audio, more than the limit of %g s", seconds,
                      s->cfg.codec_max_seconds);
    }
    float *pcm = NULL;
    int64_t n = 0;
    srt_status st = srt_codec_decode(codec, 1, &codes, -1, &pcm, &n);
    srt_codes_free(&codes);
    uint8_t *body = NULL;
    size_t n_body = 0;
    if (st == SRT_OK)
        st = srt_http_encode_audio((srt_http_audio_format)af, pcm, n, c->info.sample_rate, &body, &n_body);
    free(pcm);
    if (st != SRT_OK) return refuse(r, 500, NULL, "decoding failed: %s", srt_last_error());
    char samples[32], rate[16];
    snprintf(samples, sizeof samples, "%lld", (long long)n);
    snprintf(rate, sizeof rate, "%d", c->info.sample_rate);
    const char *headers[] = {"X-Snacrt-Samples", samples, "X-Snacrt-Sample-Rate", rate, NULL};
    return reply_bytes(r, body, n_body, srt_http_audio_mime((srt_http_audio_format)af), headers);
}

enum MHD_Result srt_codec_route_reply(req_state *r) {
    struct codec_srv *c = r->server->codec_srv;
    const char *why = "the codec endpoints are off";
    if (r->body) r->body[r->body_len] = 0;      /* room for it is always there (http_server.c) */
    pthread_mutex_lock(&c->lock);
    srt_codec *codec = get_codec(c, &why);
    enum MHD_Result res = !codec ? refuse(r, 503, NULL, "%s", why)
                          : r->route == SRT_ROUTE_CODEC_ENCODE ? encode(r, c, codec) : decode(r, c, codec);
    pthread_mutex_unlock(&c->lock);
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    return res;
}
