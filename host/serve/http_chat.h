/* http_chat.h: the pure parts of OpenAI's audio chat API for `snacrt serve` (no engine, no sockets; tested by
 * tests/test_serve_chat.c):
 *   POST /v1/chat/completions   JSON body -> validated conversation (messages with content as a string or parts
 *                               {"type":"text"} / {"type":"input_audio","input_audio":{"data":BASE64,"format"}}),
 *                               modalities, audio {voice, format}, sampling, max_completion_tokens, stream;
 *                               the answer as a chat.completion document or chat.completion.chunk SSE events
 *   POST /v1/audio/transcriptions  multipart/form-data (file, model, response_format json|text|verbose_json,
 *                               language, prompt, temperature) -> a request; the answer as json / text /
 *                               verbose_json
 * Errors fill an srt_http_error (OpenAI's error object via srt_http_error_json), naming the field. */
#ifndef SRT_HTTP_CHAT_H
#define SRT_HTTP_CHAT_H

#include "serve/http_server.h"
#include "snacrt_chat.h"

typedef struct srt_chat_limits {
    int max_turns;                 /* > 0: messages per request */
    int max_tokens;                /* > 0: bound of max_completion_tokens */
    size_t max_text_bytes;         /* > 0: all text content together */
    size_t max_audio_bytes;        /* decoded input_audio bytes per request (0: audio refused) */
    double max_audio_seconds;      /* > 0: all input audio together */
    int audio_rate;                /* > 0: input audio is decoded straight to this rate (the codec's) */
    int modalities;                /* SRT_CHAT_* the engine's layout can answer with */
    const char *const *models;     /* accepted "model" names (NULL = any) */
} srt_chat_limits;

#define SRT_CHAT_MAX_BIAS 300      /* logit_bias entries (OpenAI's bound) */

typedef struct srt_chat_body {
    char *model;
    srt_chat_message *turns; int n_turns;   /* parts owned (text and pcm malloc'd) */
    int modalities;                /* SRT_CHAT_* asked for (default: text) */
    char *voice;                   /* "audio.voice" or NULL */
    srt_http_audio_format audio_format;     /* "audio.format": wav (default) | pcm | flac */
    int stream, include_usage;     /* "stream", "stream_options.include_usage" */
    int has_seed, has_temperature, has_top_p, has_max_tokens;
    uint64_t seed; float temperature, top_p; int max_tokens;
    double audio_seconds;          /* input audio in all turns */
    int n_bias;                    /* "logit_bias" {"token id": -100..100}, added to the masked logits (a masked id
                                      stays forbidden) */
    int32_t bias_ids[SRT_CHAT_MAX_BIAS]; float bias[SRT_CHAT_MAX_BIAS];
} srt_chat_body;

int srt_chat_body_parse(const char *body, size_t n, const srt_chat_limits *lim, srt_chat_body *out,
                        srt_http_error *err);
void srt_chat_body_free(srt_chat_body *b);
/* The engine request (pointers into b; sampling filled from defaults and the body's fields). */
void srt_chat_body_request(const srt_chat_body *b, const srt_sampling_params *defaults, srt_sampling_params *sp,
                           srt_chat_request *req);

/* The non-streamed answer: {"id","object":"chat.completion","created","model","choices":[{"index":0,"message":
 * {"role":"assistant","content":TEXT|null,"audio":{"id","data":BASE64,"transcript":TEXT,"expires_at"}?},
 * "finish_reason":"stop"|"length"}],"usage":{...}}. With audio asked for, the text is the audio's transcript and
 * content is null (as OpenAI's audio models answer); the audio is all segments joined, encoded as audio_format. */
char *srt_chat_completion_json(const char *id, const char *model, long long created, const srt_chat_body *b,
                               const srt_chat_result *res, int sample_rate);
/* usage: prompt_tokens, completion_tokens, total_tokens, completion_tokens_details {text_tokens, audio_tokens}. */
/* One SSE event "data: {chat.completion.chunk}\n\n" (malloc'd): a delta of text (content, or audio.transcript
 * when audio is asked for), or of audio (pcm: n samples -> base64 of s16le), or the finish (finish_reason and,
 * when stats is given, usage). first: the first chunk also says role "assistant". */
char *srt_chat_chunk_sse(const char *id, const char *model, long long created, const srt_chat_body *b, int first,
                         const char *text, size_t n_text, const float *pcm, int64_t n_pcm,
                         const char *finish_reason, const srt_chat_stats *stats);

/* ---- transcriptions */

typedef enum srt_transcript_format { SRT_TRANSCRIPT_JSON = 0, SRT_TRANSCRIPT_TEXT, SRT_TRANSCRIPT_VERBOSE } srt_transcript_format;

typedef struct srt_transcription_body {
    char *model, *language, *prompt;
    srt_transcript_format format;
    int has_temperature; float temperature;
    float *pcm; int64_t n_pcm; int rate;
} srt_transcription_body;

/* content_type: the request's Content-Type (multipart/form-data; boundary=...). */
int srt_transcription_parse(const char *content_type, const char *body, size_t n, const srt_chat_limits *lim,
                            srt_transcription_body *out, srt_http_error *err);
void srt_transcription_body_free(srt_transcription_body *b);
/* The answer's body (malloc'd) and its MIME type. */
char *srt_transcription_response(const srt_transcription_body *b, const char *text, const char **mime);

/* One part of a multipart/form-data body (pointers into the body). */
typedef struct srt_form_part { char name[64]; char filename[256]; const char *data; size_t n; } srt_form_part;
/* Split body by the boundary of content_type; at most max parts. Returns the count, or -1 with a 400 in err. */
int srt_form_parse(const char *content_type, const char *body, size_t n, srt_form_part *parts, int max,
                   srt_http_error *err);

#endif
