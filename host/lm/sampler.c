/* sampler.c: per-sequence token sampling: allowed-id range, repetition / frequency / presence penalties,
 * temperature, top-k, top-p, min-p (applied in that order, like Hugging Face's warpers), one xoshiro256**
 * stream per sequence. Top-k and top-p use partial selection (quickselect + sorting only the head), never a
 * sort of the whole vocabulary. */
#include "common.h"
#include <math.h>
#include <string.h>

typedef struct candidate { float logit; float weight; int32_t id; } candidate;   /* weight = exp(logit - max) */

struct srt_sampler {
    srt_sampling_params p;
    int vocab;
    uint64_t rng[4];
    uint8_t *in_prompt;       /* (vocab) 1 if the id occurred in the prompt */
    int32_t *out_count;       /* (vocab) occurrences in the output */
    int32_t *seen;            /* ids with in_prompt or out_count set, each once */
    int n_seen;
    candidate *cand;          /* (vocab) work space */
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
    s->cand = srt_malloc(sizeof(candidate) * (size_t)vocab_size, "sampler candidates");
    int32_t *stops = p->n_stop_ids ? srt_malloc(sizeof(int32_t) * (size_t)p->n_stop_ids, "sampler stop ids") : NULL;
    if (!s->in_prompt || !s->out_count || !s->seen || !s->cand || (p->n_stop_ids && !stops)) {
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
    free(s->in_prompt); free(s->out_count); free(s->seen); free(s->cand); free(s);
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

/* Candidates sorted by logit descending, then id ascending. */
static int better(const candidate *a, const candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}
static void swap_cand(candidate *a, candidate *b) { candidate t = *a; *a = *b; *b = t; }

/* Rearrange c[0..n) so its k best come first (in any order). Deterministic quickselect (median of three). */
static void select_top(candidate *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi && k > lo && k <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (better(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (better(&c[hi], &c[lo])) swap_cand(&c[hi], &c[lo]);
        if (better(&c[hi], &c[mid])) swap_cand(&c[hi], &c[mid]);
        candidate pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (better(&c[i], &pivot)) i++;
            while (better(&pivot, &c[j])) j--;
            if (i <= j) { swap_cand(&c[i], &c[j]); i++; j--; }
        }
        if (k <= j) hi = j;          /* the boundary lies in the left part */
        else if (k >= i) lo = i;
        else break;                  /* c[j+1..i-1] equal the pivot: boundary inside */
    }
}

static int cmp_cand(const void *a, const void *b) {
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* Keep the smallest head of c (by rank) whose weight reaches top_p of the total; returns its length.
 * One pass bins the candidates by logit below the max (bins of 1/16 over 32 units); whole bins above the one where
 * the mass crosses the target are kept unsorted, only the crossing bin is sorted. When the crossing lies beyond
 * the binned range, growing heads (64, 128, ...) are selected and sorted instead. */
#define TOP_P_BINS 512
#define TOP_P_BINS_PER_UNIT 16.0f
static int top_p_cut(candidate *c, int n, float max_logit, double total, double top_p) {
    double target = top_p * total, cum = 0, mass[TOP_P_BINS + 1] = {0};
    for (int i = 0; i < n; i++) {
        float d = (max_logit - c[i].logit) * TOP_P_BINS_PER_UNIT;
        mass[d < TOP_P_BINS ? (int)d : TOP_P_BINS] += c[i].weight;
    }
    int cross = 0;
    while (cross < TOP_P_BINS && cum + mass[cross] < target) cum += mass[cross++];
    if (cross < TOP_P_BINS) {
        int kept = 0, n_cross;
        for (int i = 0; i < n; i++) {   /* bins above the crossing first, then the crossing bin */
            float d = (max_logit - c[i].logit) * TOP_P_BINS_PER_UNIT;
            if (d < cross) swap_cand(&c[i], &c[kept++]);
        }
        n_cross = kept;
        for (int i = kept; i < n; i++) {
            float d = (max_logit - c[i].logit) * TOP_P_BINS_PER_UNIT;
            if (d < cross + 1) swap_cand(&c[i], &c[n_cross++]);
        }
        qsort(c + kept, (size_t)(n_cross - kept), sizeof *c, cmp_cand);
        for (int i = kept; i < n_cross; i++) {
            cum += c[i].weight;
            if (cum >= target) return i + 1;
        }
        return n_cross;
    }
    cum = 0;
    int done = 0, chunk = 64;
    while (done < n) {
        int take = chunk < n - done ? chunk : n - done;
        select_top(c + done, n - done, take);
        qsort(c + done, (size_t)take, sizeof *c, cmp_cand);
        for (int i = done; i < done + take; i++) {
            cum += c[i].weight;
            if (cum >= target) return i + 1;
        }
        done += take;
        chunk *= 2;
    }
    return n;
}

static double total_weight(const candidate *c, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += c[i].weight;
    return total;
}

srt_status srt_sampler_sample(srt_sampler *s, const float *logits, int32_t *token) {
    const srt_sampling_params *p = &s->p;
    int begin = 0, end = s->vocab;
    if (p->allowed_end > p->allowed_begin) { begin = p->allowed_begin; end = p->allowed_end; }
    candidate *c = s->cand;
    int n = 0;
    for (int id = begin; id < end; id++) { c[n].logit = logits[id]; c[n].id = id; n++; }
    /* penalties touch only ids seen before: apply them through the index of each id in c */
    int rep = p->repetition_penalty > 0 && p->repetition_penalty != 1.0f;
    for (int i = 0; i < s->n_seen; i++) {
        int32_t id = s->seen[i];
        if (id < begin || id >= end) continue;
        float *l = &c[id - begin].logit;
        if (rep) *l = *l > 0 ? *l / p->repetition_penalty : *l * p->repetition_penalty;
        int count = s->out_count[id];
        if (count) *l -= (float)count * p->frequency_penalty + p->presence_penalty;
    }
    for (int i = 0; i < n; i++)
        if (isnan(c[i].logit)) return srt_error(SRT_ERR_RANGE, "sampler: logit of id %d is NaN", c[i].id);
    int best = 0;
    for (int i = 1; i < n; i++) if (better(&c[i], &c[best])) best = i;
    int32_t chosen = c[best].id;
    if (p->temperature > 0) {
        float inv_t = 1.0f / p->temperature, max_logit = c[best].logit * inv_t;
        for (int i = 0; i < n; i++) {
            c[i].logit *= inv_t;
            c[i].weight = expf(c[i].logit - max_logit);
        }
        if (p->top_k > 0 && p->top_k < n) { select_top(c, n, p->top_k); n = p->top_k; }
        if (p->top_p > 0 && p->top_p < 1) n = top_p_cut(c, n, max_logit, total_weight(c, n), p->top_p);
        if (p->min_p > 0) {             /* p_i >= min_p * p_max  <=>  weight_i >= min_p (p_max has weight 1) */
            int kept = 0;
            for (int i = 0; i < n; i++) if (c[i].weight >= p->min_p) c[kept++] = c[i];
            n = kept;
        }
        double u = rng_uniform(s->rng) * total_weight(c, n), cum = 0;
        chosen = c[n - 1].id;
        for (int i = 0; i < n; i++) {
            cum += c[i].weight;
            if (u < cum) { chosen = c[i].id; break; }
        }
    }
    note_seen(s, chosen);
    s->out_count[chosen]++;
    *token = chosen;
    return SRT_OK;
}
