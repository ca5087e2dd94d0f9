/* lm_step.h: the step scheduler shared by srt_lm_generate (lm_generate.c) and the speech / conversation engine
 * (host/tts/tts_sched.c): one step of a batch of sequences is
 *   srt_lm_step_begin      a new batch with a budget of prompt tokens for prefill rows
 *   srt_lm_step_add_decode a generating sequence: its last token (one row, always sampled)
 *   srt_lm_step_add_prefill the next chunk of a prompt (as much as the budget holds; sampled when it completes it)
 *   srt_lm_step_run        one srt_lm_forward of all rows, then a token picked for every row that samples:
 *                          on the host from downloaded logits (the client's pick), or on the LM's backend
 *                          (srt_lm_sample_rows: only the ids come back), and filed by the client.
 * Which rows go into a step (admission, ordering) is the caller's policy; a sequence's KV sequence and sampler
 * are opened and closed together (srt_lm_step_open / srt_lm_step_close). */
#ifndef SRT_LM_STEP_H
#define SRT_LM_STEP_H

#include "snacrt.h"
#include "lm/sample_pick.h"

/* What the caller does per row; owner is the caller's index given when the row was added. */
typedef struct srt_lm_step_client {
    void *user;
    /* Host path: pick owner's next id from its logits row (host, (vocab), may be changed in place). */
    srt_status (*pick)(void *user, int owner, float *row, int32_t *id);
    /* File the id just picked for owner (its sampler has accepted it). */
    srt_status (*file)(void *user, int owner, int32_t id);
    /* Device path with a mask: owner's position mask (the rows the host pick would mask the same way). */
    void (*mask)(void *user, int owner, srt_mask_row *m);
    /* A row's failure (the forward's, the pick's, the filing's). NULL: the step stops at the first failure and
     * returns it. */
    void (*fail)(void *user, int owner, srt_status st);
} srt_lm_step_client;

/* Rows of one step and the work arrays of both sampling paths (sized for cap rows at init). */
typedef struct srt_lm_step {
    srt_lm *lm;
    int cap, vocab;
    int n_rows;
    int budget;                        /* prompt tokens prefill rows may still take this step */
    int *seq, *n_new, *owner;          /* (cap) per row */
    const int32_t **tok;               /* (cap) */
    size_t **prefilled;                /* (cap) prefill rows: the owner's count of prompt tokens in the cache */
    size_t *n_prompt;                  /* (cap) prefill rows: the prompt's length */
    srt_sampler **samplers;            /* (cap) the row's sampler; at run NULL for rows not sampled this step */
    srt_mask_row *mask;                /* (cap) device path with a mask */
    int32_t *ids;                      /* (cap) device path: the picked ids */
    float *logits;                     /* (cap, vocab) host path: the downloaded rows */
    srt_lm_sampling dev;               /* srt_lm_sample_rows work arrays */
} srt_lm_step;

/* Work arrays for up to cap rows of lm's vocabulary; *s zeroed first. */
srt_status srt_lm_step_init(srt_lm_step *s, srt_lm *lm, int cap);
void srt_lm_step_free(srt_lm_step *s);

void srt_lm_step_begin(srt_lm_step *s, int prefill_budget);
void srt_lm_step_add_decode(srt_lm_step *s, int seq_id, const int32_t *token, srt_sampler *sampler, int owner);
/* Add the next chunk of prompt[*prefilled .. n_prompt) that fits the budget (*prefilled advances at run, when
 * the forward has put it in the cache). Returns whether budget is left for more prefill rows. */
int srt_lm_step_add_prefill(srt_lm_step *s, int seq_id, const int32_t *prompt, size_t n_prompt, size_t *prefilled,
                            srt_sampler *sampler, int owner);

/* Run the step's rows: on_device picks on the LM's backend (srt_lm_samples_on_device(lm, masked) must hold;
 * masked: each sampled row masked by client->mask), otherwise on the host by client->pick. *n_tokens (may be
 * NULL): ids filed. Without client->fail the first failure is returned; with it, failures go to the rows. */
srt_status srt_lm_step_run(srt_lm_step *s, int on_device, int masked, const srt_lm_step_client *client,
                           int64_t *n_tokens);

/* A sequence for a prompt: its KV sequence and a sampler of sp that has counted the prompt. On failure nothing
 * stays open (*seq_id -1, *sampler NULL). */
srt_status srt_lm_step_open(srt_lm *lm, const srt_sampling_params *sp, const int32_t *prompt, size_t n_prompt,
                            srt_sampler **sampler, int *seq_id);
/* Give both back (its KV blocks free again); safe on what is already closed. */
void srt_lm_step_close(srt_lm *lm, srt_sampler **sampler, int *seq_id);

#endif
