/* chat_demux.h: the output demultiplexer of a conversation's answer: each generated token goes to the text
 * stream (UTF-8 exactly as the tokenizer's byte-level decoding gives it, never a character cut between tokens)
 * or into the current audio segment's frame group, and the layout's switch tokens move between the two
 * (chat.output: start_audio, end_audio, end_of_turn). It also says what may be sampled next (srt_mask_row). */
#ifndef SRT_CHAT_DEMUX_H
#define SRT_CHAT_DEMUX_H

#include "tts/layout.h"
#include "lm/lm_ops.h"
#include "snacrt_tokenizer.h"

/* What one token did. text points into the demux (valid until the next push). */
typedef struct srt_demux_event {
    const char *text; size_t n_text;   /* complete UTF-8 text that became final with this token (may be empty) */
    int audio_begin, audio_end;        /* an audio segment began / ended with this token */
    int group;                         /* 1: the demux's group[] holds a complete frame group (codes by position) */
    int dropped;                       /* frame groups dropped by this token (invalid code, or a partial group) */
    int end;                           /* the answer is over (end of turn, or end of audio in an audio-only answer) */
} srt_demux_event;

typedef struct srt_chat_demux {
    const srt_layout *layout;
    const srt_tokenizer *tok;
    int codebook_size;                 /* the codec's codes per position */
    int modes;                         /* SRT_MODE_* this answer may use (request and layout) */
    int mode;                          /* current: SRT_MODE_TEXT or SRT_MODE_AUDIO */
    int done;
    int segments;                      /* audio segments begun */
    int pos, group_bad;
    int32_t group[SRT_LAYOUT_MAX_POSITIONS];
    unsigned char held[4]; int n_held; /* the start of a character whose remaining bytes are still to come */
    char *buf; size_t cap;             /* token bytes, then the text handed out */
    int64_t text_tokens, audio_tokens;
} srt_chat_demux;

/* modes: what the request asks for (SRT_MODE_* bits), kept to the layout's; none left is SRT_ERR_UNSUPPORTED. */
srt_status srt_chat_demux_init(srt_chat_demux *d, const srt_layout *layout, const srt_tokenizer *tok,
                               int codebook_size, int modes);
void srt_chat_demux_free(srt_chat_demux *d);
/* File one generated token. */
srt_status srt_chat_demux_push(srt_chat_demux *d, int32_t token, srt_demux_event *ev);
/* The end of generation without an end token (max_tokens): flush held bytes (as U+FFFD) and any partial group. */
srt_status srt_chat_demux_finish(srt_chat_demux *d, srt_demux_event *ev);
/* What the next token may be: text mode: no audio ids (nor start_audio when audio is not asked for);
 * audio mode: the current position's ids whose code the codec has, and end_audio. */
void srt_chat_demux_mask(const srt_chat_demux *d, int32_t vocab, srt_mask_row *m);

#endif
