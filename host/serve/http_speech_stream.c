/* http_speech_stream.c: the body of a streamed speech response, built as the audio comes (pure: no sockets).
 * stream_format "audio": the encoded file's bytes as the encoder (host/audio/audio_encode.h) hands them out.
 * stream_format "sse": OpenAI's server-sent events, one `data: {"type":"speech.audio.delta","audio":"<base64>"}`
 * per piece of encoded bytes (each delta decodes on its own) and a final
 * `data: {"type":"speech.audio.done","usage":{"input_tokens":..,"output_tokens":..,"total_tokens":..}}`. */
#include "serve/http_server.h"
#include "audio/audio_encode.h"
#include "common.h"
#include <stdio.h>

struct srt_speech_stream {
    srt_audio_encoder *enc;
    int sse;
    char *out;                   /* sse: the events made by the last call, (n_out) bytes, (cap_out) allocated */
    size_t n_out, cap_out;
};

srt_status srt_speech_stream_open(srt_http_audio_format format, int sse, int sample_rate, srt_speech_stream **out) {
    *out = NULL;
    if (!srt_audio_codec_streams((srt_audio_codec)format))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s cannot be streamed", srt_audio_codec_name((srt_audio_codec)format));
    srt_speech_stream *s = srt_calloc(1, sizeof *s, "a speech stream");
    if (!s) return SRT_ERR_NOMEM;
    s->sse = sse;
    srt_status st = srt_audio_encoder_open((srt_audio_codec)format, sample_rate, -1, &s->enc);
    if (st != SRT_OK) { free(s); return st; }
    *out = s;
    return SRT_OK;
}

static srt_status out_reserve(srt_speech_stream *s, size_t add) {
    if (s->n_out + add + 1 <= s->cap_out) return SRT_OK;
    size_t cap = s->cap_out ? s->cap_out : 4096;
    while (cap < s->n_out + add + 1) cap *= 2;
    char *grown = realloc(s->out, cap);
    if (!grown) return srt_error(SRT_ERR_NOMEM, "speech stream: out of memory");
    s->out = grown;
    s->cap_out = cap;
    return SRT_OK;
}

static srt_status out_text(srt_speech_stream *s, const char *text) {
    size_t n = strlen(text);
    SRT_TRY(out_reserve(s, n));
    memcpy(s->out + s->n_out, text, n + 1);
    s->n_out += n;
    return SRT_OK;
}

static srt_status out_delta(srt_speech_stream *s, const uint8_t *b, size_t n) {
    static const char a64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n == 0) return SRT_OK;
    SRT_TRY(out_text(s, "data: {\"type\":\"speech.audio.delta\",\"audio\":\""));
    SRT_TRY(out_reserve(s, (n + 2) / 3 * 4 + 8));
    char *o = s->out + s->n_out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
        *o++ = a64[v >> 18 & 63];
        *o++ = a64[v >> 12 & 63];
        *o++ = i + 1 < n ? a64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? a64[v & 63] : '=';
    }
    s->n_out = (size_t)(o - s->out);
    return out_text(s, "\"}\n\n");
}

/* Hand out what the encoder made since the last call (wrapped in an event when sse). */
static srt_status hand_out(srt_speech_stream *s, const uint8_t **data, size_t *n) {
    const uint8_t *b;
    size_t k;
    srt_audio_encoder_take(s->enc, &b, &k);
    if (!s->sse) { *data = b; *n = k; return SRT_OK; }
    SRT_TRY(out_delta(s, b, k));
    *data = s->out ? (const uint8_t *)s->out : b;   /* never NULL */
    *n = s->n_out;
    return SRT_OK;
}

srt_status srt_speech_stream_push(srt_speech_stream *s, const float *pcm, int64_t n, const uint8_t **data,
                                  size_t *n_data) {
    *data = NULL;
    *n_data = 0;
    s->n_out = 0;
    if (n > 0) SRT_TRY(srt_audio_encoder_push(s->enc, pcm, n));
    return hand_out(s, data, n_data);
}

srt_status srt_speech_stream_finish(srt_speech_stream *s, const srt_tts_stats *stats, const uint8_t **data,
                                    size_t *n_data) {
    *data = NULL;
    *n_data = 0;
    s->n_out = 0;
    SRT_TRY(srt_audio_encoder_finish(s->enc));
    SRT_TRY(hand_out(s, data, n_data));
    if (!s->sse) return SRT_OK;
    char done[200];
    long long in = stats ? (long long)stats->prompt_tokens : 0, gen = stats ? (long long)stats->generated_tokens : 0;
    snprintf(done, sizeof done,
             "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld,"
             "\"total_tokens\":%lld}}\n\n", in, gen, in + gen);
    SRT_TRY(out_text(s, done));
    *data = (const uint8_t *)s->out;
    *n_data = s->n_out;
    return SRT_OK;
}

void srt_speech_stream_free(srt_speech_stream *s) {
    if (!s) return;
    srt_audio_encoder_free(s->enc);
    free(s->out);
    free(s);
}
