/* lm_step.c: the step scheduler (lm_step.h) of srt_lm_generate and the speech / conversation engine: batch
 * assembly with prefill chunking under a token budget, one srt_lm_forward per step, the sampling dispatch (host
 * pick from downloaded logits, or the LM's backend picking from the logits it kept: srt_lm_sample_rows; the same
 * ids either way, one definition in sample_pick.c), filing each id, and a sequence's KV sequence + sampler
 * opened and closed together. */
#include "lm/lm_step.h"
#include "lm/lm_model.h"
#include <string.h>

srt_status srt_lm_step_init(srt_lm_step *s, srt_lm *lm, int cap) {
    memset(s, 0, sizeof *s);
    s->lm = lm;
    s->cap = cap;
    s->vocab = lm->cfg.vocab;
    size_t n = (size_t)cap;
    s->seq = srt_malloc(sizeof(int) * n, "step batch");
    s->n_new = srt_malloc(sizeof(int) * n, "step batch");
    s->owner = srt_malloc(sizeof(int) * n, "step batch");
    s->tok = srt_malloc(sizeof *s->tok * n, "step batch");
    s->prefilled = srt_malloc(sizeof *s->prefilled * n, "step batch");
    s->n_prompt = srt_malloc(sizeof *s->n_prompt * n, "step batch");
    s->samplers = srt_malloc(sizeof *s->samplers * n, "step samplers");
    s->mask = srt_malloc(sizeof *s->mask * n, "step masks");
    s->ids = srt_malloc(sizeof *s->ids * n, "step sampled ids");
    s->logits = srt_malloc(sizeof(float) * n * (size_t)s->vocab, "step logits");
    if (!s->seq || !s->n_new || !s->owner || !s->tok || !s->prefilled || !s->n_prompt || !s->samplers || !s->mask ||
        !s->ids || !s->logits) {
        srt_lm_step_free(s);
        return SRT_ERR_NOMEM;
    }
    return SRT_OK;
}

void srt_lm_step_free(srt_lm_step *s) {
    free(s->seq); free(s->n_new); free(s->owner); free((void *)s->tok); free(s->prefilled); free(s->n_prompt);
    free(s->samplers); free(s->mask); free(s->ids); free(s->logits);
    srt_lm_sampling_free(&s->dev);
    memset(s, 0, sizeof *s);
}

void srt_lm_step_begin(srt_lm_step *s, int prefill_budget) {
    s->n_rows = 0;
    s->budget = prefill_budget;
}

static void add_row(srt_lm_step *s, int seq_id, const int32_t *tok, int n_new, size_t *prefilled, size_t n_prompt,
                    srt_sampler *sampler, int owner) {
    int b = s->n_rows++;
    s->seq[b] = seq_id;
    s->tok[b] = tok;
    s->n_new[b] = n_new;
    s->prefilled[b] = prefilled;
    s->n_prompt[b] = n_prompt;
    s->samplers[b] = sampler;
    s->owner[b] = owner;
}

void srt_lm_step_add_decode(srt_lm_step *s, int seq_id, const int32_t *token, srt_sampler *sampler, int owner) {
    add_row(s, seq_id, token, 1, NULL, 0, sampler, owner);
}

int srt_lm_step_add_prefill(srt_lm_step *s, int seq_id, const int32_t *prompt, size_t n_prompt, size_t *prefilled,
                            srt_sampler *sampler, int owner) {
    if (s->budget <= 0) return 0;
    size_t left = n_prompt - *prefilled;
    int take = left < (size_t)s->budget ? (int)left : s->budget;
    add_row(s, seq_id, prompt + *prefilled, take, prefilled, n_prompt, sampler, owner);
    s->budget -= take;
    return s->budget > 0;
}

/* Whether row b takes a token this step (decoding, or its prompt complete with this chunk); advances the
 * prefill count of a prefill row (its chunk is in the cache). */
static int row_samples(srt_lm_step *s, int b) {
    if (!s->prefilled[b]) return 1;
    *s->prefilled[b] += (size_t)s->n_new[b];
    return *s->prefilled[b] == s->n_prompt[b];
}

/* Row b failed with st: reported to the client (SRT_OK returned, the step goes on) or returned. */
static srt_status row_failed(const srt_lm_step *s, const srt_lm_step_client *c, int b, srt_status st) {
    if (!c->fail) return st;
    c->fail(c->user, s->owner[b], st);
    return SRT_OK;
}

/* Host path: every row's logits downloaded, each sampled row picked by the client. */
static srt_status run_host(srt_lm_step *s, const srt_lm_step_client *c, int64_t *tokens) {
    srt_status st = srt_lm_forward(s->lm, s->n_rows, s->seq, s->tok, s->n_new, 0, s->logits);
    for (int b = 0; b < s->n_rows; b++) {
        if (st != SRT_OK) { SRT_TRY(row_failed(s, c, b, st)); continue; }
        if (!row_samples(s, b)) continue;
        int32_t id;
        srt_status s2 = c->pick(c->user, s->owner[b], s->logits + (size_t)b * (size_t)s->vocab, &id);
        if (s2 == SRT_OK) s2 = c->file(c->user, s->owner[b], id);
        if (s2 != SRT_OK) SRT_TRY(row_failed(s, c, b, s2));
        else (*tokens)++;
    }
    return SRT_OK;
}

/* Device path: the logits stay on the LM's backend, masked there (masked) and sampled by each row's sampler;
 * only the ids come back and are filed as the host path files them. */
static srt_status run_device(srt_lm_step *s, int masked, const srt_lm_step_client *c, int64_t *tokens) {
    srt_status st = srt_lm_forward(s->lm, s->n_rows, s->seq, s->tok, s->n_new, 0, NULL);
    if (st == SRT_OK) {
        for (int b = 0; b < s->n_rows; b++) {
            int take = row_samples(s, b);
            if (!take) s->samplers[b] = NULL;
            if (!masked) continue;
            if (take) c->mask(c->user, s->owner[b], &s->mask[b]);
            else s->mask[b] = (srt_mask_row){0, 0, 0, 0, -1};   /* nothing cleared */
        }
        st = srt_lm_sample_rows(s->lm, &s->dev, s->n_rows, s->samplers, masked ? s->mask : NULL, s->ids);
    }
    for (int b = 0; b < s->n_rows; b++) {
        if (st != SRT_OK) { SRT_TRY(row_failed(s, c, b, st)); continue; }
        if (!s->samplers[b]) continue;
        srt_status s2 = c->file(c->user, s->owner[b], s->ids[b]);
        if (s2 != SRT_OK) SRT_TRY(row_failed(s, c, b, s2));
        else (*tokens)++;
    }
    return SRT_OK;
}

srt_status srt_lm_step_run(srt_lm_step *s, int on_device, int masked, const srt_lm_step_client *client,
                           int64_t *n_tokens) {
    int64_t tokens = 0;
    srt_status st = SRT_OK;
    if (s->n_rows > 0)
        st = on_device ? run_device(s, masked, client, &tokens) : run_host(s, client, &tokens);
    if (n_tokens) *n_tokens = tokens;
    return st;
}

srt_status srt_lm_step_open(srt_lm *lm, const srt_sampling_params *sp, const int32_t *prompt, size_t n_prompt,
                            srt_sampler **sampler, int *seq_id) {
    *sampler = NULL;
    *seq_id = -1;
    srt_status st = srt_sampler_create(sp, lm->cfg.vocab, sampler);
    if (st == SRT_OK) st = srt_sampler_add_prompt(*sampler, prompt, n_prompt);
    int id = -1;
    if (st == SRT_OK) st = srt_lm_seq_open(lm, &id);
    if (st == SRT_OK) *seq_id = id;
    else srt_lm_step_close(lm, sampler, seq_id);
    return st;
}

void srt_lm_step_close(srt_lm *lm, srt_sampler **sampler, int *seq_id) {
    if (*seq_id >= 0) srt_lm_seq_close(lm, *seq_id);
    *seq_id = -1;
    srt_sampler_free(*sampler);
    *sampler = NULL;
}
