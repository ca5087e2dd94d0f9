/* sampler.c: per-sequence token sampling state: parameters, one xoshiro256** stream per sequence, the prompt and
 * output history for the penalties. Each token: srt_sampler_plan turns the state into an srt_sample_row (allowed
 * range, penalties, temperature, top-k, top-p, min-p, the uniform draw u) and srt_sample_pick (sample_pick.c)
 * picks the id -- the same definition the backends' sample op implements, so a device that samples its own
 * logits (lm_generate.c) picks exactly what this sampler would. */
#include "common.h"
#include "lm/sample_pick.h"
#include <math.h>
#include <string.h>

struct srt_sampler {
    srt_sampling_params p;
    int vocab;
    uint64_t rng[4];
    uint8_t *in_prompt;       /* (vocab) 1 if the id occurred in the prompt */
    int32_t *out_count;       /* (vocab) occurrences in the output */
    int32_t *seen;            /* ids with in_prompt or out_count set, each once */
    int n_seen;
    srt_sample_penalty *pen;  /* (vocab) penalty list of the next token */
    srt_sample_work work;
};

void srt_sampling_defaults(srt_sampling_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->repetition_penalty = 1.0f;
    p->max_tokens = 256;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t xoshiro_next(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}
/* Uniform in [0, 1) with 53 bits. */
static double rng_uniform(uint64_t *s) { return (double)(xoshiro_next(s) >> 11) * (1.0 / 9007199254740992.0); }

srt_status srt_sampler_create(const srt_sampling_params *p, int vocab_size, srt_sampler **out) {
    *out = NULL;
    if (vocab_size < 1) return srt_error(SRT_ERR_INVALID_ARG, "sampler: vocabulary size %d", vocab_size);
    if (p->n_stop_ids < 0 || (p->n_stop_ids > 0 && !p->stop_ids))
        return srt_error(SRT_ERR_INVALID_ARG, "sampler: %d stop ids without an array", p->n_stop_ids);
    if (p->allowed_end > p->allowed_begin && (p->allowed_begin < 0 || p->allowed_end > vocab_size))
        return srt_error(SRT_ERR_RANGE, "sampler: allowed range [%d, %d) outside the vocabulary [0, %d)",
                         p->allowed_begin, p->allowed_end, vocab_size);
    srt_sampler *s = srt_calloc(1, sizeof *s, "sampler");
    if (!s) return SRT_ERR_NOMEM;
    s->p = *p;
    s->p.stop_ids = NULL;       /* copied below: the caller's array may not outlive the sampler */
    s->vocab = vocab_size;
    s->in_prompt = srt_calloc((size_t)vocab_size, 1, "sampler history");
    s->out_count = srt_calloc((size_t)vocab_size, sizeof(int32_t), "sampler counts");
    s->seen = srt_malloc(sizeof(int32_t) * (size_t)vocab_size, "sampler history");
    s->pen = srt_malloc(sizeof(srt_sample_penalty) * (size_t)vocab_size, "sampler penalties");
    int32_t *stops = p->n_stop_ids ? srt_malloc(sizeof(int32_t) * (size_t)p->n_stop_ids, "sampler stop ids") : NULL;
    if (!s->in_prompt || !s->out_count || !s->seen || !s->pen || (p->n_stop_ids && !stops)) {
        free(stops);
        srt_sampler_free(s);
        return SRT_ERR_NOMEM;
    }
    if (p->n_stop_ids) memcpy(stops, p->stop_ids, sizeof(int32_t) * (size_t)p->n_stop_ids);
    s->p.stop_ids = stops;
    uint64_t seed = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
    *out = s;
    return SRT_OK;
}

void srt_sampler_free(srt_sampler *s) {
    if (!s) return;
    free((void *)s->p.stop_ids);
    free(s->in_prompt); free(s->out_count); free(s->seen); free(s->pen);
    srt_sample_work_free(&s->work);
    free(s);
}

static void note_seen(srt_sampler *s, int32_t id) {
    if (!s->in_prompt[id] && !s->out_count[id]) s->seen[s->n_seen++] = id;
}

srt_status srt_sampler_add_prompt(srt_sampler *s, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= s->vocab)
            return srt_error(SRT_ERR_RANGE, "sampler: prompt id %d outside [0, %d)", ids[i], s->vocab);
        note_seen(s, ids[i]);
        s->in_prompt[ids[i]] = 1;
    }
    return SRT_OK;
}

static float repetition(const srt_sampling_params *p) {
    return p->repetition_penalty > 0 && p->repetition_penalty != 1.0f ? p->repetition_penalty : 1.0f;
}

int srt_sampler_n_penalties(const srt_sampler *s) {
    const srt_sampling_params *p = &s->p;
    if (repetition(p) == 1.0f && p->frequency_penalty == 0 && p->presence_penalty == 0) return 0;
    return s->n_seen;
}

void srt_sampler_plan(srt_sampler *s, int pen_start, srt_sample_row *row, srt_sample_penalty *pen) {
    const srt_sampling_params *p = &s->p;
    memset(row, 0, sizeof *row);
    row->begin = 0;
    row->end = s->vocab;
    if (p->allowed_end > p->allowed_begin) { row->begin = p->allowed_begin; row->end = p->allowed_end; }
    row->inv_temp = p->temperature > 0 ? 1.0f / p->temperature : 0.0f;
    if (!isfinite(row->inv_temp)) row->inv_temp = 0.0f;     /* a subnormal temperature: greedy */
    row->top_k = p->top_k;
    row->top_p = p->top_p;
    row->min_p = p->min_p;
    row->rep_penalty = repetition(p);
    row->pen_start = pen_start;
    int n = srt_sampler_n_penalties(s);
    for (int i = 0; i < n; i++) {
        int32_t id = s->seen[i], count = s->out_count[id];
        pen[i].id = id;
        pen[i].sub = count ? (float)count * p->frequency_penalty + p->presence_penalty : 0.0f;
    }
    row->n_pen = n;
    row->u = p->temperature > 0 ? rng_uniform(s->rng) : 0.0;
}

srt_status srt_sampler_accept(srt_sampler *s, int32_t id) {
    if (id < 0 || id >= s->vocab) return srt_error(SRT_ERR_RANGE, "sampler: id %d outside [0, %d)", id, s->vocab);
    note_seen(s, id);
    s->out_count[id]++;
    return SRT_OK;
}

srt_status srt_sampler_sample_on(srt_sampler *s, const srt_backend *b, float *logits, int32_t *token) {
    srt_sample_row row;
    srt_sampler_plan(s, 0, &row, s->pen);
    int32_t id = -1;
    srt_sample_args a = {1, s->vocab, logits, &row, s->pen, &id};
    SRT_TRY(srt_op_sample(b, &a));
    SRT_TRY(srt_sampler_accept(s, id));
    *token = id;
    return SRT_OK;
}

srt_status srt_sampler_sample(srt_sampler *s, const float *logits, int32_t *token) {
    srt_sample_row row;
    srt_sampler_plan(s, 0, &row, s->pen);
    int32_t id;
    SRT_TRY(srt_sample_pick(logits, &row, s->pen, &s->work, &id));
    SRT_TRY(srt_sampler_accept(s, id));
    *token = id;
    return SRT_OK;
}
