/* tts_internal.h: the engine's private state, shared by its files:
 *   tts_engine.c   create/free, submit, cancel, metrics (the API side, any thread)
 *   tts_sched.c    the scheduler thread: admission, the step's rows (run by lm/lm_step.c), finishing requests
 *   tts_sample.c   per-token logic: position masking, sampling, frame-group assembly, pieces
 *   tts_audio.c    batched streaming decode of the frame groups and delivery to the callbacks
 *   tts_request.c  request copies, prompts (text pieces + audio prompt), freeing
 *   tts_text.c     sentence splitting
 *   tts_replicas.c data-parallel replicas behind one handle (a facade engine with rep set)
 *   tts_chat.c     conversations: submit, prompt of the turns, the answer's demultiplexer and events */
#ifndef SRT_TTS_INTERNAL_H
#define SRT_TTS_INTERNAL_H

#include "snacrt_tts.h"
#include "snacrt_chat.h"
#include "tts/chat_demux.h"
#include "tts/layout.h"
#include "common.h"
#include "lm/lm_step.h"
#include <pthread.h>

/* QUEUED: not admitted; NEXT_PIECE: admitted, the current piece not started; PREFILL: prompt going into the cache;
 * DECODE: generating; FLUSH: all pieces generated, the codec stream's tail still to come. */
typedef enum tts_phase { TTS_QUEUED = 0, TTS_NEXT_PIECE, TTS_PREFILL, TTS_DECODE, TTS_FLUSH } tts_phase;

typedef struct tts_req {
    uint64_t id;
    struct tts_req *next;              /* queue link */
    srt_tts_audio_cb cb;
    srt_tts_token_cb on_token;
    srt_tts_logits_cb on_logits;
    void *user;
    srt_sampling_params sp;            /* stop_ids dropped: end-of-speech ends a piece */
    char *voice;                       /* resolved voice (NULL: the layout has none) */
    char **pieces; int n_pieces;       /* the text cut at sentence boundaries */
    float *audio_in; int64_t n_audio_in; int audio_rate;
    char *audio_text;                  /* transcript of audio_in (voice cloning) or NULL */
    char *instructions;                /* srt_tts_request.instructions or NULL */
    int cancel;                        /* set by srt_tts_cancel (engine thread reads it under the lock) */
    double t_submit;                   /* ms, monotonic */

    /* set at admission (engine thread only) */
    int32_t **prompts; size_t *n_prompts;   /* (n_pieces) prompt ids of each piece */
    int reserved_blocks;               /* KV blocks held for this request while it runs */
    int piece;                         /* piece being generated */
    tts_phase phase;
    int seq_id;                        /* -1 when none */
    srt_sampler *sampler;
    size_t prefilled;                  /* prompt tokens of the current piece in the cache */
    int32_t next_token;                /* last sampled token, fed at the next step */
    int n_gen;                         /* tokens generated in the current piece */
    int pos;                           /* position of the next token in its frame group */
    int group_bad;                     /* the current group holds an invalid token */
    int32_t group[SRT_LAYOUT_MAX_POSITIONS];     /* codes of the current group by position */
    srt_codes pending;                 /* complete groups not yet pushed to the codec (capacity below) */
    int64_t pending_groups, pending_cap;
    srt_codec_stream *stream;
    int got_audio;
    int admitted;                      /* holds reserved_blocks of the engine's reservation */
    int finished;                      /* done: the scheduler delivers final_status and frees it */
    srt_status final_status;
    char final_error[512];             /* the message of a failure, re-recorded before the last callback */
    srt_tts_stats stats;
    struct tts_chat *chat;             /* a conversation's answer (tts_chat.c); NULL for speech */
} tts_req;

#define TTS_RATE_SLOTS 128

typedef struct tts_replicas tts_replicas;

struct srt_tts_engine {
    srt_tts_config cfg;                /* paths/strings copied */
    tts_replicas *rep;                 /* non-NULL: a facade over replicas (tts_replicas.c); only cfg, layout,
                                          codec_info, lookahead and group_samples below are set */
    srt_lm *lm;
    srt_backend host;                  /* "cpu": masks and samples the rows the host path downloaded */
    srt_codec *codec;
    srt_lm_info lm_info;
    srt_codec_info codec_info;
    srt_layout *layout;
    int lookahead;
    int64_t group_samples;
    int max_batch_tokens;
    int32_t mask_lo, mask_hi;          /* every id that may follow start-of-speech lies in [mask_lo, mask_hi) */

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;                /* guards everything down to the metrics */
    pthread_cond_t cv;
    int stop;
    tts_req *queue_head, *queue_tail;
    int queue_len;
    uint64_t next_id;
    uint64_t *cancel_ids; int n_cancel, cap_cancel;
    int n_waiting_shared;              /* 1 while a request taken from the queue waits for KV room */
    srt_tts_metrics m;                 /* counters; averages computed from the sums below */
    double first_audio_sum, rtf_sum;
    int64_t first_audio_count, rtf_count;
    double rate_t[TTS_RATE_SLOTS]; int64_t rate_tokens[TTS_RATE_SLOTS]; int rate_next;

    /* scheduler thread only */
    tts_req *waiting;                  /* taken from the queue, prompts built, waiting for KV room */
    tts_req **running; int n_running;
    int reserved_blocks;               /* sum over running requests */
    srt_lm_step step;                  /* rows of the step and both sampling paths' work arrays (lm/lm_step.h) */
};

double tts_now_ms(void);

/* tts_text.c: cut text into pieces of at most max_chars bytes at sentence ends (. ! ? followed by space or end,
 * and newlines), packing consecutive sentences while they fit; a longer sentence is cut at its last space (or at
 * a UTF-8 character boundary). Pieces are trimmed; none is empty. *pieces is malloc'd (tts_free_pieces). */
srt_status srt_tts_split_text(const char *text, int max_chars, char ***pieces, int *n_pieces);
void tts_free_pieces(char **pieces, int n);

/* tts_request.c */
srt_status tts_req_create(srt_tts_engine *e, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                          tts_req **out);
/* Build each piece's prompt (encoding the audio prompt first) and the KV reservation. */
srt_status tts_req_prepare(srt_tts_engine *e, tts_req *r);
/* Give back the request's sequence, sampler and stream (not the reservation) and free it. */
void tts_req_free(srt_tts_engine *e, tts_req *r);
/* Start the current piece: open its sequence and sampler. */
srt_status tts_req_start_piece(srt_tts_engine *e, tts_req *r);
/* End the current piece: close its sequence, drop its sampler and any partial group. */
void tts_req_end_piece(srt_tts_engine *e, tts_req *r);

/* tts_chat.c: a conversation request's own state and steps. */
typedef struct tts_chat {
    srt_chat_cb cb;
    void *user;
    srt_chat_message *turns; int n_turns;   /* deep copies */
    int modalities;
    srt_chat_demux demux;
    int seg_flush;                     /* the current audio segment ended: final codec push, then AUDIO_END */
    int64_t seg_groups;                /* frame groups queued into the current stream */
    int segment;                       /* audio segment whose PCM is being delivered */
    int got_token;
    int64_t prompt_audio;              /* audio ids of the input audio parts in the prompt */
    srt_chat_stats stats;
} tts_chat;
srt_status tts_chat_prepare(srt_tts_engine *e, tts_req *r);
void tts_chat_free(tts_req *r);
void tts_chat_mask_row(const srt_tts_engine *e, const tts_req *r, srt_mask_row *m);
srt_status tts_chat_file_token(srt_tts_engine *e, tts_req *r, int32_t t);
/* Before the codec push: 1 when r needs none this step (no stream data: a segment or answer end is settled). */
int tts_chat_settle(srt_tts_engine *e, tts_req *r);
/* After a final codec push of r's stream. */
void tts_chat_segment_done(srt_tts_engine *e, tts_req *r);
/* Shared with tts_chat.c: encode PCM into layout ids; enqueue a created request; append r->group to pending;
 * end the current piece. */
srt_status tts_encode_audio(srt_tts_engine *e, const float *pcm, int64_t n, int rate, int32_t **ids, size_t *n_ids);
srt_status tts_enqueue(srt_tts_engine *e, tts_req *r, uint64_t *request_id);
srt_status tts_queue_group(srt_tts_engine *e, tts_req *r);
void tts_end_piece(srt_tts_engine *e, tts_req *r, int finish);
/* Check the prompts' lengths and set the KV reservation. */
srt_status tts_req_reserve(srt_tts_engine *e, tts_req *r);
srt_status tts_check_sampling(const srt_sampling_params *p);

/* tts_sample.c: sample the next token of r from its logits row (masked in place) and handle it:
 * tts_pick_token (mask, on_logits, host sampler) then tts_file_token. */
srt_status tts_sample_token(srt_tts_engine *e, tts_req *r, float *row);
srt_status tts_pick_token(srt_tts_engine *e, tts_req *r, float *row, int32_t *t);
/* File the token t just sampled for r (its sampler already accepted it): frame group, end-of-speech, max_tokens. */
srt_status tts_file_token(srt_tts_engine *e, tts_req *r, int32_t t);
/* The layout's position mask of r's next token as a mask_rows row (the same ids as the host path's mask). */
void tts_mask_row(const srt_tts_engine *e, const tts_req *r, srt_mask_row *m);

/* tts_audio.c: push pending groups (and final flushes) of every running request in one codec call and deliver the
 * audio; a request whose callback asks to cancel gets cancel = 1. */
srt_status tts_audio_push(srt_tts_engine *e);

/* tts_replicas.c: the facade's side of create / free / submit / cancel / metrics. */
int tts_replicas_wanted(const srt_tts_config *c);
/* "cuda:0-3,6" -> devs (after "cuda"; "" -> device 0). Returns the count or -1 (tts_replicas.c). */
int tts_parse_cuda_list(const char *after_cuda, int *devs, int cap);
srt_status tts_replicas_create(srt_tts_engine *facade);
void tts_replicas_free(tts_replicas *rs);
srt_status tts_replicas_submit(tts_replicas *rs, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                               uint64_t *request_id);
srt_status tts_replicas_chat_submit(tts_replicas *rs, const srt_chat_request *req, srt_chat_cb cb, void *user,
                                    uint64_t *request_id);
void tts_replicas_cancel(tts_replicas *rs, uint64_t id);
void tts_replicas_metrics(tts_replicas *rs, srt_tts_metrics *m);

/* tts_sched.c: the scheduler thread. */
void *tts_sched_main(void *arg);
/* Mark r failed (its final callback gets st and the current error message). */
void tts_mark_failed(tts_req *r, srt_status st);
/* Deliver the final callback and record metrics; frees r. */
void tts_finish(srt_tts_engine *e, tts_req *r, srt_status status);

#endif
