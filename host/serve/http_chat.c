/* http_chat.c: see http_chat.h. Requests are checked field by field (messages, content parts, input_audio decoded
 * from base64 through libsndfile with the byte and duration limits), answers are built with cJSON. */
#include "serve/http_chat.h"
#include "snacrt_audio.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bad(srt_http_error *err, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(srt_http_error *err, const char *param, const char *fmt, ...) {
    err->status = 400;
    err->type = "invalid_request_error";
    err->code = NULL;
    err->param = param && !strncmp(param, "messages[", 9) ? "messages" : param;   /* always a literal */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int too_large(srt_http_error *err, const char *param, const char *what, double got, double max) {
    srt_http_error_set(err, 413, "invalid_request_error", "%s: %.0f is over the limit of %.0f", what, got, max);
    err->param = param && !strncmp(param, "messages[", 9) ? "messages" : param;
    return -1;
}

void srt_chat_body_free(srt_chat_body *b) {
    if (!b) return;
    for (int t = 0; b->turns && t < b->n_turns; t++) {
        for (int k = 0; k < b->turns[t].n_parts; k++) {
            free((char *)b->turns[t].parts[k].text);
            free((float *)b->turns[t].parts[k].pcm);
        }
        free((srt_chat_input_part *)b->turns[t].parts);
    }
    free(b->turns);
    free(b->model);
    free(b->voice);
    memset(b, 0, sizeof *b);
}

/* Decode a base64 audio file into PCM at lim->audio_rate, within the byte and (running) duration limits. */
static int decode_audio(const char *b64, const char *param, const srt_chat_limits *lim, size_t *bytes_used,
                        double *seconds_used, float **pcm, int64_t *n, int *rate, srt_http_error *err) {
    if (!lim->max_audio_bytes) return bad(err, param, "audio input is not accepted by this server");
    size_t len = strlen(b64);
    if (!strncmp(b64, "data:", 5)) {
        const char *comma = memchr(b64, ',', len);
        if (!comma) return bad(err, param, "a data: URL without ',' before the base64");
        len -= (size_t)(comma + 1 - b64);
        b64 = comma + 1;
    }
    if (*bytes_used + len / 4 * 3 > lim->max_audio_bytes + 3)
        return too_large(err, param, "input audio bytes", (double)(*bytes_used + len / 4 * 3),
                         (double)lim->max_audio_bytes);
    uint8_t *bytes = NULL;
    size_t nb = 0, at = 0;
    int rc = srt_base64_decode(b64, len, &bytes, &nb, &at);
    if (rc == -2) return srt_http_error_set(err, 500, "server_error", "out of memory");
    if (rc) return bad(err, param, "not valid base64 (at character %zu)", at);
    *bytes_used += nb;
    if (*bytes_used > lim->max_audio_bytes) {
        free(bytes);
        return too_large(err, param, "input audio bytes", (double)*bytes_used, (double)lim->max_audio_bytes);
    }
    double left = lim->max_audio_seconds - *seconds_used;
    srt_audio_read_options opt = {.max_seconds = left > 0 ? left : 1e-3};
    srt_audio_source_info info;
    srt_status st = srt_audio_read_memory_opts(bytes, nb, param, lim->audio_rate > 0 ? lim->audio_rate : 0, &opt, pcm,
                                               n, &info);
    free(bytes);
    if (st == SRT_ERR_NOMEM) return srt_http_error_set(err, 500, "server_error", "out of memory");
    if (st == SRT_ERR_RANGE) {
        srt_http_error_set(err, 413, "invalid_request_error", "%.200s (all input audio together: at most %g s)",
                           srt_last_error(), lim->max_audio_seconds);
        err->param = "messages";
        return -1;
    }
    if (st != SRT_OK) return bad(err, param, "%.300s", srt_last_error());
    *rate = lim->audio_rate > 0 ? lim->audio_rate : info.sample_rate;
    if (*n <= 0) { free(*pcm); *pcm = NULL; return bad(err, param, "the audio holds no samples"); }
    *seconds_used += (double)*n / *rate;
    return 0;
}

static int role_of(const char *s) {
    if (!strcmp(s, "system") || !strcmp(s, "developer")) return SRT_CHAT_SYSTEM;
    if (!strcmp(s, "user")) return SRT_CHAT_USER;
    if (!strcmp(s, "assistant")) return SRT_CHAT_ASSISTANT;
    return -1;
}

static int parse_content(const cJSON *content, int t, const srt_chat_limits *lim, srt_chat_body *out,
                         srt_chat_message *m, size_t *text_bytes, size_t *audio_bytes, srt_http_error *err) {
    char param[64];                    /* named in messages; err->param stays "messages" (a literal) */
    snprintf(param, sizeof param, "messages[%d].content", t);
    int n = cJSON_IsString(content) ? 1 : cJSON_IsArray(content) ? cJSON_GetArraySize(content) : -1;
    if (n < 0 && (cJSON_IsNull(content) || !content)) n = 0;   /* an assistant turn may have no content */
    if (n < 0) return bad(err, param, "'%s' must be a string or an array of parts", param);
    if (n > 64) return bad(err, param, "'%s' has %d parts (at most 64)", param, n);
    srt_chat_input_part *parts = calloc((size_t)(n ? n : 1), sizeof *parts);
    if (!parts) return srt_http_error_set(err, 500, "server_error", "out of memory");
    m->parts = parts;
    if (cJSON_IsString(content)) {
        *text_bytes += strlen(content->valuestring);
        if (!(parts[0].text = strdup(content->valuestring))) return srt_http_error_set(err, 500, "server_error", "oom");
        m->n_parts = 1;
        return 0;
    }
    for (int k = 0; k < n; k++) {
        const cJSON *p = cJSON_GetArrayItem(content, k);
        snprintf(param, sizeof param, "messages[%d].content[%d]", t, k);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type))
            return bad(err, param, "'%s' must be an object with a string 'type'", param);
        if (!strcmp(type->valuestring, "text")) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (!cJSON_IsString(text)) return bad(err, param, "'%s.text' must be a string", param);
            *text_bytes += strlen(text->valuestring);
            if (!(parts[k].text = strdup(text->valuestring))) return srt_http_error_set(err, 500, "server_error", "oom");
        } else if (!strcmp(type->valuestring, "input_audio")) {
            const cJSON *ia = cJSON_GetObjectItemCaseSensitive(p, "input_audio");
            const cJSON *data = cJSON_GetObjectItemCaseSensitive(ia, "data");
            if (!cJSON_IsObject(ia) || !cJSON_IsString(data))
                return bad(err, param, "'%s.input_audio.data' must be a base64 string", param);
            float *pcm = NULL;
            int64_t ns = 0;
            int rate = 0;
            if (decode_audio(data->valuestring, param, lim, audio_bytes, &out->audio_seconds, &pcm, &ns, &rate, err))
                return -1;
            parts[k] = (srt_chat_input_part){NULL, pcm, ns, rate};
        } else {
            return bad(err, param, "'%s.type' must be \"text\" or \"input_audio\", not \"%.32s\"", param,
                       type->valuestring);
        }
        m->n_parts = k + 1;
    }
    return 0;
}

static int parse_messages(const cJSON *root, const srt_chat_limits *lim, srt_chat_body *out, srt_http_error *err) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : -1;
    if (n < 1) return bad(err, "messages", "'messages' must be a non-empty array");
    if (lim->max_turns > 0 && n > lim->max_turns)
        return too_large(err, "messages", "messages", n, lim->max_turns);
    out->turns = calloc((size_t)n, sizeof *out->turns);
    if (!out->turns) return srt_http_error_set(err, 500, "server_error", "out of memory");
    size_t text_bytes = 0, audio_bytes = 0;
    for (int t = 0; t < n; t++) {
        const cJSON *m = cJSON_GetArrayItem(msgs, t);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        char param[48];
        snprintf(param, sizeof param, "messages[%d].role", t);
        int r = cJSON_IsString(role) ? role_of(role->valuestring) : -1;
        if (!cJSON_IsObject(m) || r < 0)
            return bad(err, param, "'%s' must be \"system\", \"developer\", \"user\" or \"assistant\"", param);
        out->turns[out->n_turns].role = r;
        if (parse_content(cJSON_GetObjectItemCaseSensitive(m, "content"), t, lim, out, &out->turns[out->n_turns++],
                          &text_bytes, &audio_bytes, err))
            return -1;
        if (lim->max_text_bytes && text_bytes > lim->max_text_bytes)
            return too_large(err, "messages", "text bytes in messages", (double)text_bytes, (double)lim->max_text_bytes);
    }
    return 0;
}

static int get_num(const cJSON *root, const char *f, double lo, double hi, int integer, int *has, double *v,
                   srt_http_error *err) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, f);
    *has = 0;
    if (!x || cJSON_IsNull(x)) return 0;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || (integer && x->valuedouble != floor(x->valuedouble)) ||
        x->valuedouble < lo || x->valuedouble > hi)
        return bad(err, f, "'%s' must be a%s number in [%g, %g]", f, integer ? "n integer" : "", lo, hi);
    *has = 1;
    *v = x->valuedouble;
    return 0;
}

static int parse_options(const cJSON *root, const srt_chat_limits *lim, srt_chat_body *out, srt_http_error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(model)) return bad(err, "model", "'model' must be a string");
    int known = !lim->models;
    for (const char *const *m = lim->models; m && *m; m++) known |= !strcmp(*m, model->valuestring);
    if (!known) {
        srt_http_error_set(err, 404, "invalid_request_error", "the model '%.100s' does not exist", model->valuestring);
        err->code = "model_not_found";
        err->param = "model";
        return -1;
    }
    if (!(out->model = strdup(model->valuestring))) return srt_http_error_set(err, 500, "server_error", "oom");
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modalities"), *x;
    out->modalities = SRT_CHAT_TEXT;
    if (mods && !cJSON_IsNull(mods)) {
        if (!cJSON_IsArray(mods) || !cJSON_GetArraySize(mods))
            return bad(err, "modalities", "'modalities' must be [\"text\"] or [\"text\", \"audio\"]");
        out->modalities = 0;
        cJSON_ArrayForEach(x, mods) {
            if (cJSON_IsString(x) && !strcmp(x->valuestring, "text")) out->modalities |= SRT_CHAT_TEXT;
            else if (cJSON_IsString(x) && !strcmp(x->valuestring, "audio")) out->modalities |= SRT_CHAT_AUDIO;
            else return bad(err, "modalities", "'modalities' holds only \"text\" and \"audio\"");
        }
    }
    if ((out->modalities & SRT_CHAT_AUDIO) && !(lim->modalities & SRT_CHAT_AUDIO))
        return bad(err, "modalities", "this model cannot answer with audio");
    if (!(out->modalities & SRT_CHAT_AUDIO) && !(lim->modalities & SRT_CHAT_TEXT))
        return bad(err, "modalities", "this model answers with audio only: ask for [\"text\", \"audio\"]");
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(root, "audio");
    if (audio && !cJSON_IsNull(audio)) {
        if (!cJSON_IsObject(audio)) return bad(err, "audio", "'audio' must be an object {\"voice\", \"format\"}");
        const cJSON *voice = cJSON_GetObjectItemCaseSensitive(audio, "voice");
        const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(audio, "format");
        if (voice && !cJSON_IsString(voice)) return bad(err, "audio.voice", "'audio.voice' must be a string");
        if (voice && !(out->voice = strdup(voice->valuestring))) return srt_http_error_set(err, 500, "server_error", "oom");
        if (fmt) {
            const char *f = cJSON_IsString(fmt) ? fmt->valuestring : "";
            if (!strcmp(f, "wav")) out->audio_format = SRT_HTTP_WAV;
            else if (!strcmp(f, "pcm16") || !strcmp(f, "pcm")) out->audio_format = SRT_HTTP_PCM;
            else if (!strcmp(f, "flac")) out->audio_format = SRT_HTTP_FLAC;
            else return bad(err, "audio.format", "'audio.format' must be wav, pcm16 or flac");
        }
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (stream && !cJSON_IsNull(stream) && !cJSON_IsBool(stream)) return bad(err, "stream", "'stream' must be a boolean");
    out->stream = cJSON_IsTrue(stream);
    if (out->stream && (out->modalities & SRT_CHAT_AUDIO) && out->audio_format == SRT_HTTP_FLAC)
        return bad(err, "audio.format", "streamed audio is pcm16: flac needs the whole signal");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    out->include_usage = cJSON_IsObject(so) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    double v;
    int has;
    if (get_num(root, "seed", 0, 9007199254740991.0, 1, &has, &v, err)) return -1;
    if ((out->has_seed = has)) out->seed = (uint64_t)v;
    if (get_num(root, "temperature", 0, 2, 0, &has, &v, err)) return -1;
    if ((out->has_temperature = has)) out->temperature = (float)v;
    if (get_num(root, "top_p", 0, 1, 0, &has, &v, err)) return -1;
    if ((out->has_top_p = has)) out->top_p = (float)v;
    const char *mt = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens") ? "max_completion_tokens"
                                                                                     : "max_tokens";
    if (get_num(root, mt, 1, lim->max_tokens > 0 ? lim->max_tokens : 1 << 20, 1, &has, &v, err)) return -1;
    if ((out->has_max_tokens = has)) out->max_tokens = (int)v;
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(root, "logit_bias");
    if (lb && !cJSON_IsNull(lb)) {
        if (!cJSON_IsObject(lb)) return bad(err, "logit_bias", "'logit_bias' must be an object {\"token id\": bias}");
        cJSON_ArrayForEach(x, lb) {
            char *end = NULL;
            long id = strtol(x->string, &end, 10);
            if (!x->string[0] || *end || id < 0 || id > INT32_MAX)
                return bad(err, "logit_bias", "'logit_bias' keys are token ids (got '%.32s')", x->string);
            if (!cJSON_IsNumber(x) || !(x->valuedouble >= -100 && x->valuedouble <= 100))
                return bad(err, "logit_bias", "'logit_bias' values are numbers from -100 to 100");
            if (out->n_bias == SRT_CHAT_MAX_BIAS)
                return bad(err, "logit_bias", "'logit_bias' holds at most %d ids", SRT_CHAT_MAX_BIAS);
            out->bias_ids[out->n_bias] = (int32_t)id;
            out->bias[out->n_bias++] = (float)x->valuedouble;
        }
    }
    return 0;
}

int srt_chat_body_parse(const char *body, size_t n, const srt_chat_limits *lim, srt_chat_body *out,
                        srt_http_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(body, n);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(err, NULL, "the body must be a JSON object");
    }
    int rc = parse_options(root, lim, out, err);
    if (!rc) rc = parse_messages(root, lim, out, err);   /* last: decoding audio is the costly part */
    cJSON_Delete(root);
    if (rc) srt_chat_body_free(out);
    return rc;
}

void srt_chat_body_request(const srt_chat_body *b, const srt_sampling_params *defaults, srt_sampling_params *sp,
                           srt_chat_request *req) {
    *sp = *defaults;
    if (b->has_seed) sp->seed = b->seed;
    if (b->has_temperature) sp->temperature = b->temperature;
    if (b->has_top_p) sp->top_p = b->top_p;
    if (b->has_max_tokens) sp->max_tokens = b->max_tokens;
    *req = (srt_chat_request){.turns = b->turns, .n_turns = b->n_turns, .modalities = b->modalities,
                              .voice = b->voice, .sampling = sp};
}

/* ---- answers */

static char *b64_encode(const uint8_t *in, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static cJSON *usage_json(const srt_chat_stats *s) {
    cJSON *u = cJSON_CreateObject();
    int64_t completion = s->text_tokens + s->audio_tokens;
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)s->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(s->prompt_tokens + completion));
    cJSON *p = cJSON_AddObjectToObject(u, "prompt_tokens_details");   /* text (and template) vs input audio ids */
    cJSON_AddNumberToObject(p, "text_tokens", (double)(s->prompt_tokens - s->prompt_audio_tokens));
    cJSON_AddNumberToObject(p, "audio_tokens", (double)s->prompt_audio_tokens);
    cJSON *d = cJSON_AddObjectToObject(u, "completion_tokens_details");
    cJSON_AddNumberToObject(d, "text_tokens", (double)s->text_tokens);
    cJSON_AddNumberToObject(d, "audio_tokens", (double)s->audio_tokens);
    return u;
}

char *srt_chat_completion_json(const char *id, const char *model, long long created, const srt_chat_body *b,
                               const srt_chat_result *res, int sample_rate) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", "chat.completion");
    cJSON_AddNumberToObject(root, "created", (double)created);
    cJSON_AddStringToObject(root, "model", model);
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    const char *text = res->text ? res->text : "";
    char *data = NULL;
    if (b->modalities & SRT_CHAT_AUDIO) {
        int64_t total = 0;
        for (int s = 0; s < res->n_segments; s++) total += res->n_samples[s];
        float *all = malloc(sizeof(float) * (size_t)(total ? total : 1));
        int64_t k = 0;
        for (int s = 0; all && s < res->n_segments; s++) {
            memcpy(all + k, res->segments[s], sizeof(float) * (size_t)res->n_samples[s]);
            k += res->n_samples[s];
        }
        uint8_t *bytes = NULL;
        size_t nb = 0;
        if (all && srt_http_encode_audio(b->audio_format, all, total, sample_rate, &bytes, &nb) == SRT_OK)
            data = b64_encode(bytes, nb);
        free(bytes);
        free(all);
        cJSON_AddNullToObject(msg, "content");
        cJSON *audio = cJSON_AddObjectToObject(msg, "audio");
        char aid[96];
        snprintf(aid, sizeof aid, "audio_%s", id);
        cJSON_AddStringToObject(audio, "id", aid);
        cJSON_AddStringToObject(audio, "data", data ? data : "");
        cJSON_AddStringToObject(audio, "transcript", text);
        cJSON_AddNumberToObject(audio, "expires_at", (double)(created + 3600));
    } else {
        cJSON_AddStringToObject(msg, "content", text);
    }
    cJSON_AddStringToObject(choice, "finish_reason", res->stats.finish == SRT_FINISH_LENGTH ? "length" : "stop");
    cJSON_AddItemToObject(root, "usage", usage_json(&res->stats));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    free(data);
    return out;
}

char *srt_chat_chunk_sse(const char *id, const char *model, long long created, const srt_chat_body *b, int first,
                         const char *text, size_t n_text, const float *pcm, int64_t n_pcm,
                         const char *finish_reason, const srt_chat_stats *stats) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(root, "created", (double)created);
    cJSON_AddStringToObject(root, "model", model);
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    if (!(stats && !finish_reason)) {       /* a usage-only chunk has no choices */
        cJSON *choice = cJSON_CreateObject();
        cJSON_AddItemToArray(choices, choice);
        cJSON_AddNumberToObject(choice, "index", 0);
        cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
        if (first) cJSON_AddStringToObject(delta, "role", "assistant");
        char *t = NULL, *data = NULL;
        if (n_text && (t = malloc(n_text + 1))) { memcpy(t, text, n_text); t[n_text] = 0; }
        if (n_pcm > 0) {
            uint8_t *s16 = malloc((size_t)n_pcm * 2);
            for (int64_t i = 0; s16 && i < n_pcm; i++) {
                float x = pcm[i] < -1 ? -1 : pcm[i] > 1 ? 1 : pcm[i];
                int16_t v = (int16_t)lrintf(x * 32767.0f);
                s16[2 * i] = (uint8_t)(v & 0xFF);
                s16[2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
            }
            if (s16) data = b64_encode(s16, (size_t)n_pcm * 2);
            free(s16);
        }
        if (b->modalities & SRT_CHAT_AUDIO) {
            if (t || data) {
                cJSON *audio = cJSON_AddObjectToObject(delta, "audio");
                if (first) {
                    char aid[96];
                    snprintf(aid, sizeof aid, "audio_%s", id);
                    cJSON_AddStringToObject(audio, "id", aid);
                }
                if (t) cJSON_AddStringToObject(audio, "transcript", t);
                if (data) cJSON_AddStringToObject(audio, "data", data);
            }
        } else if (t) {
            cJSON_AddStringToObject(delta, "content", t);
        }
        free(t);
        free(data);
        if (finish_reason) cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
        else cJSON_AddNullToObject(choice, "finish_reason");
    }
    if (stats) cJSON_AddItemToObject(root, "usage", usage_json(stats));
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t len = strlen(json);
    char *out = malloc(len + 9);
    if (out) snprintf(out, len + 9, "data: %s\n\n", json);
    free(json);
    return out;
}

/* ---- transcriptions */

int srt_form_parse(const char *content_type, const char *body, size_t n, srt_form_part *parts, int max,
                   srt_http_error *err) {
    const char *b = content_type ? strstr(content_type, "boundary=") : NULL;
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) || !b)
        return bad(err, NULL, "the body must be multipart/form-data with a boundary");
    b += 9;
    char boundary[200] = "--";
    size_t bl = strcspn(b, "; \t");
    if (*b == '"') { b++; bl = strcspn(b, "\""); }
    if (!bl || bl > 190) return bad(err, NULL, "bad multipart boundary");
    memcpy(boundary + 2, b, bl);
    boundary[bl + 2] = 0;
    bl += 2;
    int count = 0;
    const char *p = memmem(body, n, boundary, bl), *end = body + n;
    if (!p) return bad(err, NULL, "the multipart body has no boundary line");
    for (;;) {
        p += bl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return count;      /* the closing boundary */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return bad(err, NULL, "bad multipart boundary line");
        p += 2;
        const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!head_end) return bad(err, NULL, "a multipart part without a header end");
        if (count == max) return bad(err, NULL, "more than %d multipart parts", max);
        srt_form_part *f = &parts[count];
        memset(f, 0, sizeof *f);
        for (const char *h = p; h < head_end;) {
            const char *eol = memmem(h, (size_t)(head_end - h + 2), "\r\n", 2);
            size_t hl = (size_t)(eol - h);
            if (hl > 20 && !strncasecmp(h, "Content-Disposition:", 20)) {
                const char *keys[2] = {" name=\"", "filename=\""};
                char *dst[2] = {f->name, f->filename};
                size_t cap[2] = {sizeof f->name, sizeof f->filename};
                for (int k = 0; k < 2; k++) {
                    const char *v = memmem(h, hl, keys[k], strlen(keys[k]));
                    if (k == 0 && !v) v = memmem(h, hl, ";name=\"", 7);
                    if (!v) continue;
                    v = memchr(v, '"', (size_t)(h + hl - v)) + 1;
                    const char *q = memchr(v, '"', (size_t)(h + hl - v));
                    size_t vl = q ? (size_t)(q - v) : 0;
                    if (vl >= cap[k]) vl = cap[k] - 1;
                    memcpy(dst[k], v, vl);
                    dst[k][vl] = 0;
                }
            }
            h = eol + 2;
        }
        f->data = head_end + 4;
        const char *next = NULL;
        for (const char *s = f->data; s + bl + 2 <= end; s++) {
            s = memchr(s, '\r', (size_t)(end - s));
            if (!s || s + bl + 2 > end) break;
            if (s[1] == '\n' && !memcmp(s + 2, boundary, bl)) { next = s; break; }
        }
        if (!next) return bad(err, NULL, "a multipart part is not closed by the boundary");
        f->n = (size_t)(next - f->data);
        count++;
        p = next + 2;
    }
}

void srt_transcription_body_free(srt_transcription_body *b) {
    if (!b) return;
    free(b->model); free(b->language); free(b->prompt); free(b->pcm);
    memset(b, 0, sizeof *b);
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

int srt_transcription_parse(const char *content_type, const char *body, size_t n, const srt_chat_limits *lim,
                            srt_transcription_body *out, srt_http_error *err) {
    memset(out, 0, sizeof *out);
    srt_form_part parts[16];
    int np = srt_form_parse(content_type, body, n, parts, 16, err);
    if (np < 0) return -1;
    const srt_form_part *file = NULL;
    int rc = 0;
    for (int i = 0; i < np && !rc; i++) {
        const srt_form_part *f = &parts[i];
        if (!strcmp(f->name, "file")) file = f;
        else if (!strcmp(f->name, "model")) rc = !(out->model = dup_n(f->data, f->n));
        else if (!strcmp(f->name, "language")) rc = !(out->language = dup_n(f->data, f->n));
        else if (!strcmp(f->name, "prompt")) rc = !(out->prompt = dup_n(f->data, f->n));
        else if (!strcmp(f->name, "response_format")) {
            if (f->n == 4 && !memcmp(f->data, "json", 4)) out->format = SRT_TRANSCRIPT_JSON;
            else if (f->n == 4 && !memcmp(f->data, "text", 4)) out->format = SRT_TRANSCRIPT_TEXT;
            else if (f->n == 12 && !memcmp(f->data, "verbose_json", 12)) out->format = SRT_TRANSCRIPT_VERBOSE;
            else { rc = bad(err, "response_format", "'response_format' must be json, text or verbose_json"); break; }
        } else if (!strcmp(f->name, "temperature")) {
            char buf[32] = "";
            memcpy(buf, f->data, f->n < 31 ? f->n : 31);
            char *e = NULL;
            double t = strtod(buf, &e);
            if (e == buf || *e || !(t >= 0 && t <= 2)) { rc = bad(err, "temperature", "'temperature' must be in [0, 2]"); break; }
            out->has_temperature = 1;
            out->temperature = (float)t;
        }
    }
    if (rc > 0) rc = srt_http_error_set(err, 500, "server_error", "out of memory");
    if (!rc && !out->model) rc = bad(err, "model", "'model' is required");
    if (!rc && !file) rc = bad(err, "file", "'file' (the audio file) is required");
    if (!rc && lim->models) {
        int known = 0;
        for (const char *const *m = lim->models; *m; m++) known |= !strcmp(*m, out->model);
        if (!known) {
            srt_http_error_set(err, 404, "invalid_request_error", "the model '%.100s' does not exist", out->model);
            err->code = "model_not_found";
            err->param = "model";
            rc = -1;
        }
    }
    if (!rc && file->n > lim->max_audio_bytes)
        rc = too_large(err, "file", "'file' bytes", (double)file->n, (double)lim->max_audio_bytes);
    if (!rc) {
        srt_audio_read_options opt = {.max_seconds = lim->max_audio_seconds};
        srt_audio_source_info info;
        srt_status st = srt_audio_read_memory_opts(file->data, file->n, "the 'file' field", lim->audio_rate, &opt,
                                                   &out->pcm, &out->n_pcm, &info);
        if (st == SRT_ERR_RANGE) {
            srt_http_error_set(err, 413, "invalid_request_error", "%.300s", srt_last_error());
            err->param = "file";
            rc = -1;
        } else if (st != SRT_OK) rc = bad(err, "file", "%.300s", srt_last_error());
        else if (out->n_pcm <= 0) rc = bad(err, "file", "the audio file holds no samples");
        out->rate = lim->audio_rate > 0 ? lim->audio_rate : info.sample_rate;
    }
    if (rc) srt_transcription_body_free(out);
    return rc;
}

char *srt_transcription_response(const srt_transcription_body *b, const char *text, const char **mime) {
    if (b->format == SRT_TRANSCRIPT_TEXT) {
        *mime = "text/plain; charset=utf-8";
        size_t n = strlen(text);
        char *out = malloc(n + 2);
        if (out) snprintf(out, n + 2, "%s\n", text);
        return out;
    }
    *mime = "application/json";
    cJSON *root = cJSON_CreateObject();
    if (b->format == SRT_TRANSCRIPT_VERBOSE) {
        cJSON_AddStringToObject(root, "task", "transcribe");
        cJSON_AddStringToObject(root, "language", b->language ? b->language : "unknown");
        cJSON_AddNumberToObject(root, "duration", b->rate > 0 ? (double)b->n_pcm / b->rate : 0);
    }
    cJSON_AddStringToObject(root, "text", text);
    if (b->format == SRT_TRANSCRIPT_VERBOSE) cJSON_AddArrayToObject(root, "segments");
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}
