/* http_response.c: the pure half of the HTTP server's output side: the WAV header (whole and streaming), whole
 * response bodies in wav / pcm (s16le) / flac (libsndfile virtual IO into memory), and the JSON documents
 * (errors, /v1/models, /v1/voices). Samples become 16-bit exactly as the file writers do
 * (srt_audio_encode_s16le), so every format carries the same integers. */
#include "serve/http_server.h"
#include "snacrt_audio.h"
#include "common.h"
#include "audio/audio_encode.h"
#include <cjson/cJSON.h>
#include <sndfile.h>

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

void srt_wav_header(uint8_t out[44], int sample_rate, int64_t n_samples) {
    uint32_t data_bytes = 0xFFFFFFFFu, riff_bytes = 0xFFFFFFFFu;
    if (n_samples >= 0 && n_samples <= (int64_t)(0xFFFFFFFFu - 36) / 2) {
        data_bytes = (uint32_t)(n_samples * 2);
        riff_bytes = data_bytes + 36;
    }
    memcpy(out, "RIFF", 4);
    put_u32(out + 4, riff_bytes);
    memcpy(out + 8, "WAVEfmt ", 8);
    put_u32(out + 16, 16);                          /* fmt chunk size */
    put_u16(out + 20, 1);                           /* PCM */
    put_u16(out + 22, 1);                           /* mono */
    put_u32(out + 24, (uint32_t)sample_rate);
    put_u32(out + 28, (uint32_t)sample_rate * 2);   /* byte rate */
    put_u16(out + 32, 2);                           /* block align */
    put_u16(out + 34, 16);                          /* bits per sample */
    memcpy(out + 36, "data", 4);
    put_u32(out + 40, data_bytes);
}

const char *srt_http_audio_mime(srt_http_audio_format format) {
    return srt_audio_codec_mime((srt_audio_codec)format);
}

/* ------------------------------------------------------------------ FLAC into memory */

typedef struct mem_file {
    uint8_t *data;            /* (cap) bytes, size of them written */
    sf_count_t size, cap, pos;
    int failed;
} mem_file;

static sf_count_t mem_len(void *u) { return ((mem_file *)u)->size; }
static sf_count_t mem_tell(void *u) { return ((mem_file *)u)->pos; }
static sf_count_t mem_seek(sf_count_t off, int whence, void *u) {
    mem_file *f = u;
    sf_count_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->size : 0;
    if (base + off < 0) return -1;
    f->pos = base + off;
    return f->pos;
}
static sf_count_t mem_read(void *ptr, sf_count_t count, void *u) {
    mem_file *f = u;
    sf_count_t n = f->pos < f->size ? f->size - f->pos : 0;
    if (n > count) n = count;
    if (n > 0) memcpy(ptr, f->data + f->pos, (size_t)n);
    f->pos += n;
    return n;
}
static sf_count_t mem_write(const void *ptr, sf_count_t count, void *u) {
    mem_file *f = u;
    if (count <= 0) return 0;
    if (f->pos + count > f->cap) {
        sf_count_t cap = f->cap ? f->cap : 65536;
        while (cap < f->pos + count) cap *= 2;
        uint8_t *grown = realloc(f->data, (size_t)cap);
        if (!grown) { f->failed = 1; return 0; }
        f->data = grown;
        f->cap = cap;
    }
    if (f->pos > f->size) memset(f->data + f->size, 0, (size_t)(f->pos - f->size));
    memcpy(f->data + f->pos, ptr, (size_t)count);
    f->pos += count;
    if (f->pos > f->size) f->size = f->pos;
    return count;
}

static srt_status encode_flac(const float *pcm, int64_t n, int rate, uint8_t **out, size_t *n_out) {
    SF_VIRTUAL_IO vio = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    mem_file f = {0};
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &f);
    if (!sf) {
        free(f.data);
        return srt_error(SRT_ERR_FORMAT, "flac encoder: %s", sf_strerror(NULL));
    }
    short block[4096];
    srt_status st = SRT_OK;
    for (int64_t i = 0; i < n && st == SRT_OK; i += 4096) {
        int64_t k = n - i < 4096 ? n - i : 4096;
        for (int64_t j = 0; j < k; j++) block[j] = srt_audio_float_to_s16(pcm[i + j]);
        if (sf_write_short(sf, block, k) != k)
            st = srt_error(SRT_ERR_IO, "flac encoder: %s", sf_strerror(sf));
    }
    if (sf_close(sf) != 0 && st == SRT_OK) st = srt_error(SRT_ERR_IO, "flac encoder: closing failed");
    if (f.failed && st == SRT_OK) st = srt_error(SRT_ERR_NOMEM, "flac encoder: out of memory");
    if (st != SRT_OK) { free(f.data); return st; }
    *out = f.data;
    *n_out = (size_t)f.size;
    return SRT_OK;
}

srt_status srt_http_encode_audio(srt_http_audio_format format, const float *pcm, int64_t n, int sample_rate,
                                 uint8_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (n < 0 || sample_rate <= 0) return srt_error(SRT_ERR_INVALID_ARG, "encode audio: bad length or rate");
    if (format == SRT_HTTP_FLAC) return encode_flac(pcm, n, sample_rate, out, n_out);
    if (format == SRT_HTTP_MP3 || format == SRT_HTTP_OPUS)
        return srt_audio_encode_all((srt_audio_codec)format, pcm, n, sample_rate, out, n_out);
    size_t head = format == SRT_HTTP_WAV ? 44 : 0;
    uint8_t *buf = srt_malloc(head + (size_t)n * 2 + 1, "audio response body");
    if (!buf) return SRT_ERR_NOMEM;
    if (head) srt_wav_header(buf, sample_rate, n);
    srt_audio_encode_s16le(pcm, n, buf + head);
    *out = buf;
    *n_out = head + (size_t)n * 2;
    return SRT_OK;
}

/* ------------------------------------------------------------------ JSON documents */

static char *print_and_free(cJSON *root) {
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* OpenAI-style string code of an error that did not set one. */
static const char *default_code(const srt_http_error *err) {
    switch (err->status) {
    case 400: return "invalid_request";
    case 401: return "invalid_api_key";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "request_too_large";
    case 500: return "internal_error";
    case 503: return "server_overloaded";
    default: return err->status >= 500 ? "server_error" : "invalid_request";
    }
}

char *srt_http_error_json(const srt_http_error *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON *e = root ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (!e) { cJSON_Delete(root); return NULL; }
    char msg[sizeof err->message];
    srt_utf8_sanitize(err->message, msg, sizeof msg);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", err->status >= 500 ? "server_error" : "invalid_request_error");
    if (err->param) cJSON_AddStringToObject(e, "param", err->param);
    else cJSON_AddNullToObject(e, "param");
    cJSON_AddStringToObject(e, "code", err->code ? err->code : default_code(err));
    return print_and_free(root);
}

static void add_voices(cJSON *obj, const char *const *voices) {
    cJSON *arr = cJSON_AddArrayToObject(obj, "voices");
    for (; arr && voices && *voices; voices++) cJSON_AddItemToArray(arr, cJSON_CreateString(*voices));
}

static cJSON *model_object(const char *model, const char *const *voices, int sample_rate) {
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddStringToObject(m, "id", model);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "snacrt");
    cJSON_AddNumberToObject(m, "sample_rate", sample_rate);
    add_voices(m, voices);
    return m;
}

char *srt_http_models_json(const char *const *models, const char *const *voices, int sample_rate) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (; data && models && *models; models++) {
        cJSON *m = model_object(*models, voices, sample_rate);
        if (!m) break;
        cJSON_AddItemToArray(data, m);
    }
    return print_and_free(root);
}

char *srt_http_model_json(const char *model, const char *const *voices, int sample_rate) {
    cJSON *m = model_object(model, voices, sample_rate);
    return m ? print_and_free(m) : NULL;
}

char *srt_http_voices_json(const char *const *voices, const char *const *aliases, const char *const *tags,
                           int sample_rate) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    add_voices(root, voices);
    cJSON *al = cJSON_AddObjectToObject(root, "aliases");
    for (; al && aliases && aliases[0] && aliases[1]; aliases += 2) cJSON_AddStringToObject(al, aliases[0], aliases[1]);
    cJSON *tg = cJSON_AddArrayToObject(root, "tags");
    for (; tg && tags && *tags; tags++) cJSON_AddItemToArray(tg, cJSON_CreateString(*tags));
    cJSON_AddNumberToObject(root, "sample_rate", sample_rate);
    return print_and_free(root);
}

_Static_assert((int)SRT_HTTP_WAV == (int)SRT_CODEC_WAV && (int)SRT_HTTP_PCM == (int)SRT_CODEC_PCM &&
               (int)SRT_HTTP_FLAC == (int)SRT_CODEC_FLAC && (int)SRT_HTTP_MP3 == (int)SRT_CODEC_MP3 &&
               (int)SRT_HTTP_OPUS == (int)SRT_CODEC_OPUS, "srt_http_audio_format mirrors srt_audio_codec");
