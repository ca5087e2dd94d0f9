/* snacrt_chat.h (public API): conversations with a model that hears and speaks, run by the TTS engine
 * (snacrt_tts.h) in the same continuous batch as speech requests. A request is a list of turns (system, user,
 * assistant), each a list of parts: text, or audio (mono PCM, resampled and encoded by the codec into the
 * layout's audio ids). The layout's "chat" section (layouts/README.md) frames the prompt and says how the answer
 * switches between text and audio. The answer streams back as events: text (UTF-8, whole characters), audio
 * (PCM of the current audio segment, through the exact streaming decoder), segment ends, and the end. */
#ifndef SNACRT_CHAT_H
#define SNACRT_CHAT_H

#include "snacrt_tts.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum srt_chat_role_id { SRT_CHAT_SYSTEM = 0, SRT_CHAT_USER = 1, SRT_CHAT_ASSISTANT = 2 } srt_chat_role_id;
enum { SRT_CHAT_TEXT = 1, SRT_CHAT_AUDIO = 2 };      /* modalities (bits) */

typedef struct srt_chat_input_part {
    const char *text;               /* a text part (UTF-8), or NULL for an audio part */
    const float *pcm;               /* an audio part: mono samples at rate Hz */
    int64_t n_samples;
    int rate;
} srt_chat_input_part;

typedef struct srt_chat_message {
    int role;                       /* srt_chat_role_id */
    const srt_chat_input_part *parts;
    int n_parts;
} srt_chat_message;

typedef struct srt_chat_request {
    const srt_chat_message *turns;
    int n_turns;
    int modalities;                 /* SRT_CHAT_TEXT | SRT_CHAT_AUDIO bits the answer may use; 0 = the layout's */
    const char *voice;              /* NULL = the layout's default */
    const srt_sampling_params *sampling; /* NULL = engine defaults (stop ids are ignored: the layout ends turns) */
    srt_tts_token_cb on_token;      /* optional, as for speech (piece is 0) */
    srt_tts_logits_cb on_logits;    /* optional: sees (and may change) each masked logits row before sampling */
} srt_chat_request;

typedef enum srt_chat_event_kind {
    SRT_CHAT_EV_TEXT = 0,           /* text, n_text bytes of whole UTF-8 characters */
    SRT_CHAT_EV_AUDIO,              /* pcm, n_samples of audio segment `segment` */
    SRT_CHAT_EV_AUDIO_END,          /* audio segment `segment` is complete */
    SRT_CHAT_EV_DONE                /* the last event: status, stats */
} srt_chat_event_kind;

typedef struct srt_chat_stats {
    int64_t prompt_tokens, text_tokens, audio_tokens;
    int64_t frames, dropped_frames, samples;
    int segments;                   /* audio segments in the answer */
    int finish;                     /* SRT_FINISH_STOP (end of turn) or SRT_FINISH_LENGTH */
    double first_token_ms, total_ms;
    int64_t prompt_audio_tokens;    /* of prompt_tokens: the audio ids of the input audio parts (the rest is text
                                     * and template) */
} srt_chat_stats;

typedef struct srt_chat_event {
    srt_chat_event_kind kind;
    const char *text; size_t n_text;
    const float *pcm; int64_t n_samples;
    int segment;                    /* 0-based audio segment of AUDIO / AUDIO_END events */
    srt_status status;              /* DONE: SRT_OK, SRT_ERR_CANCELLED or the failure (srt_last_error() holds it) */
    const srt_chat_stats *stats;    /* DONE */
} srt_chat_event;

/* Return nonzero to cancel the request. Called from the engine's thread; the DONE event comes last. */
typedef int (*srt_chat_cb)(void *user, const srt_chat_event *ev);

/* Queue a conversation's answer (everything is copied). Bad input (unknown voice, a role or audio the layout
 * cannot take, too many turns or too much audio): an error naming it, nothing queued. Cancel: srt_tts_cancel. */
srt_status srt_chat_submit(srt_tts_engine *engine, const srt_chat_request *req, srt_chat_cb cb, void *user,
                           uint64_t *request_id);
/* Blocking helper (the CLI's): submit n requests together (one batch), wait for all, collect each answer. */
typedef struct srt_chat_result {
    char *text; size_t n_text;        /* the whole text (NUL-terminated) */
    float **segments;                  /* PCM of each audio segment at srt_tts_sample_rate */
    int64_t *n_samples;
    int n_segments;
    srt_status status;                 /* of this request */
    char error[256];
    srt_chat_stats stats;
} srt_chat_result;
/* on_done (optional): called as each request finishes (index, its result), e.g. for a progress bar. Returns
 * SRT_OK when every request was answered (results[i].status says each), else the first submit error. */
srt_status srt_chat_run(srt_tts_engine *engine, int n, const srt_chat_request *reqs, srt_chat_result *results,
                        void (*on_done)(void *user, int index, const srt_chat_result *result), void *user);
void srt_chat_result_free(srt_chat_result *result);

/* The layout's answer modalities (SRT_CHAT_* bits; 0 when it has no "chat" section). */
int srt_chat_modalities(const srt_tts_engine *engine);

#ifdef __cplusplus
}
#endif
#endif
