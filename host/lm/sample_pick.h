/* sample_pick.h: the host side of token sampling shared by the sampler (sampler.c), the CPU sample ops
 * (host/cpu) and the generation loop (lm_generate.c):
 *   srt_sample_pick       one row of logits + an srt_sample_row -> the picked id (partial selection, no full sort)
 *   srt_sampler_plan      a sampler's next srt_sample_row and penalty list (draws u from its RNG stream)
 *   srt_sampler_accept    record the picked id as output (counts for the penalties)
 *   srt_lm_sample_rows    after srt_lm_forward(..., logits NULL): mask, pick on the backend, accept (lm_sample_step.c)
 * The distribution itself is documented at srt_sample_row (lm_ops.h); its arithmetic is sample_dist.h. */
#ifndef SRT_SAMPLE_PICK_H
#define SRT_SAMPLE_PICK_H

#include "lm/lm_ops.h"

typedef struct srt_sample_cand {
    float l;                  /* penalized logit */
    float w;                  /* weight in [0, 1] */
    uint64_t fixed;           /* W = floor(w * 2^40) */
    int32_t id;
} srt_sample_cand;

/* Work space of srt_sample_pick for rows of up to cap allowed ids. */
typedef struct srt_sample_work {
    srt_sample_cand *c, *sel; /* (cap) each */
    int cap;
} srt_sample_work;

srt_status srt_sample_work_reserve(srt_sample_work *w, int n);
void srt_sample_work_free(srt_sample_work *w);

/* The id row picks from logits (vocab); pen: the penalty list row->pen_start indexes into.
 * SRT_ERR_RANGE naming the id when a logit in the allowed range is NaN. */
srt_status srt_sample_pick(const float *logits, const srt_sample_row *row, const srt_sample_penalty *pen,
                           srt_sample_work *work, int32_t *id);

/* Number of penalty entries srt_sampler_plan writes for s. */
int srt_sampler_n_penalties(const srt_sampler *s);
/* Fill row (pen_start = pen_start) and pen[0 .. srt_sampler_n_penalties) for the next token of s; draws u from
 * the sequence's RNG stream when the temperature is > 0 (the greedy path leaves the stream untouched). */
void srt_sampler_plan(srt_sampler *s, int pen_start, srt_sample_row *row, srt_sample_penalty *pen);
/* One token of s picked by backend b's sample op from logits (b's memory, (vocab), used as work space): plan,
 * srt_op_sample, accept -- the id srt_sampler_sample gives for the same row. */
srt_status srt_sampler_sample_on(srt_sampler *s, const srt_backend *b, float *logits, int32_t *token);
/* Record id as emitted (output counts); SRT_ERR_RANGE for an id outside the vocabulary. */
srt_status srt_sampler_accept(srt_sampler *s, int32_t id);

/* Host work arrays of srt_lm_sample_rows, grown on demand; zero-initialize, free with srt_lm_sampling_free. */
typedef struct srt_lm_sampling {
    srt_sample_row *rows;     /* (cap_rows) */
    srt_sample_penalty *pen;  /* (cap_pen) */
    int cap_rows;
    size_t cap_pen;
} srt_lm_sampling;
void srt_lm_sampling_free(srt_lm_sampling *w);

/* Whether lm can pick tokens from the logits a forward leaves on its backend: one device holds whole logits rows
 * (no tensor parallelism) and the backend has the sample op (and mask_rows when with_mask). Otherwise callers
 * download the logits (srt_lm_forward with a host array) and sample on the host. */
int srt_lm_samples_on_device(const srt_lm *lm, int with_mask);

/* Pick the next token of each of the n_rows rows the last srt_lm_forward(..., logits NULL) left in
 * lm->scratch.logits: mask (mask: host (n_rows) or NULL for none), then row r sampled by samplers[r] -- the id the
 * host sampler (srt_sampler_sample) gives for the same (masked) row -- and accepted by it. samplers[r] NULL: row r
 * is not sampled this step (ids[r] = -1, no sampler touched). ids: host (n_rows). Only the ids come back. */
srt_status srt_lm_sample_rows(srt_lm *lm, srt_lm_sampling *w, int n_rows, srt_sampler *const *samplers,
                              const srt_mask_row *mask, int32_t *ids);

#endif
