/* sample_pick.h: the host side of token sampling shared by the sampler (sampler.c), the CPU sample ops
 * (host/cpu) and the generation loop (lm_generate.c):
 *   srt_sample_pick       one row of logits + an srt_sample_row -> the picked id (partial selection, no full sort)
 *   srt_sampler_plan      a sampler's next srt_sample_row and penalty list (draws u from its RNG stream)
 *   srt_sampler_accept    record the picked id as output (counts for the penalties)
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
/* Record id as emitted (output counts); SRT_ERR_RANGE for an id outside the vocabulary. */
srt_status srt_sampler_accept(srt_sampler *s, int32_t id);

#endif
