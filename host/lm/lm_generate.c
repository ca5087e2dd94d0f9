/* lm_generate.c: srt_lm_generate: a batch of requests run together: prompts prefilled (in chunks of at most
 * max_batch_tokens tokens per forward), then one decode step per round for every unfinished sequence, each
 * sampled by its own sampler (own RNG stream), until its stop id, max_tokens or the model's context end.
 * Admission: a prompt longer than the context, or one request needing more KV blocks than the whole cache, is an
 * error naming the request before any work; requests that fit alone but not together run in consecutive waves,
 * in order, each wave holding what the cache holds (results do not depend on the waves: sampling is per request).
 * Each step goes through the step scheduler (lm_step.c, shared with the speech engine): the first token after a
 * prompt is picked on the host from downloaded logits; decode steps use the backend's sample op when it has one, so
 * the logits stay on the device and only the picked ids come back (srt_lm_sample_rows, lm_sample_step.c; the same
 * ids: one definition, sample_pick.c). */
#include "lm/lm_model.h"
#include "lm/lm_step.h"
#include "lm/tp_group.h"
#include <string.h>

typedef struct gen_state {
    int seq_id;
    srt_sampler *sampler;
    size_t prefilled;         /* prompt tokens already in the cache */
    int32_t next;             /* last sampled token, fed at the next step */
    int max_tokens;           /* effective_max_tokens of its request */
    int done;
} gen_state;

/* One wave's requests, their states and outputs: the step scheduler's client (owner = request index). */
typedef struct gen_wave {
    srt_lm *lm;
    const srt_lm_request *reqs;
    srt_lm_output *outs;
    gen_state *g;
} gen_wave;

static int is_stop(const srt_sampling_params *p, int32_t id) {
    for (int i = 0; i < p->n_stop_ids; i++) if (p->stop_ids[i] == id) return 1;
    return 0;
}

/* Tokens request `req` may generate: its max_tokens (default 256), cut so every fed token has a position below
 * max_position (the last generated token is never fed: prompt + max - 1 positions). */
static int effective_max_tokens(const srt_lm *lm, const srt_lm_request *req) {
    int64_t max_tokens = req->sampling.max_tokens > 0 ? req->sampling.max_tokens : 256;
    int64_t room = (int64_t)lm->cfg.max_position - (int64_t)req->n_prompt + 1;
    return (int)(max_tokens < room ? max_tokens : room);
}

/* KV blocks request `req` holds at its longest. */
static int request_blocks(const srt_lm *lm, const srt_lm_request *req) {
    return srt_lm_kv_blocks_for(lm, (int)req->n_prompt + effective_max_tokens(lm, req) - 1);
}

/* File request r's new id. */
static srt_status emit(void *user, int r, int32_t id) {
    gen_wave *w = user;
    gen_state *g = &w->g[r];
    srt_lm_output *out = &w->outs[r];
    out->ids[out->n_ids++] = id;
    g->next = id;
    if (is_stop(&w->reqs[r].sampling, id)) { g->done = 1; out->finish = SRT_FINISH_STOP; }
    else if ((int)out->n_ids >= g->max_tokens) { g->done = 1; out->finish = SRT_FINISH_LENGTH; }
    return SRT_OK;
}

/* Host pick. One process per tensor-parallel rank: rank 0's id replaces every process's own pick, so all
 * processes feed the same tokens and finish together (lockstep). */
static srt_status pick_shared(void *user, int r, float *logits, int32_t *id) {
    gen_wave *w = user;
    SRT_TRY(srt_sampler_sample(w->g[r].sampler, logits, id));
    return srt_lm_tp_share_ids(w->lm, id, 1);
}

/* One wave: every prompt prefilled first (steps of whole prompts or prompt chunks, at most max_batch_tokens
 * tokens each, the first token picked on the host), then one decode step per round for every unfinished request
 * (picked on the device when it can). A failure ends the wave (no fail callback). */
static srt_status generate_wave(srt_lm *lm, int n, const srt_lm_request *reqs, srt_lm_output *outs, gen_state *g,
                                srt_lm_step *step) {
    for (int r = 0; r < n; r++) {
        g[r].max_tokens = effective_max_tokens(lm, &reqs[r]);
        outs[r].ids = srt_malloc(sizeof(int32_t) * (size_t)g[r].max_tokens, "generated ids");
        if (!outs[r].ids) return SRT_ERR_NOMEM;
        SRT_TRY(srt_lm_step_open(lm, &reqs[r].sampling, reqs[r].prompt, reqs[r].n_prompt, &g[r].sampler,
                                 &g[r].seq_id));
    }
    gen_wave w = {lm, reqs, outs, g};
    srt_lm_step_client client = {.user = &w, .pick = pick_shared, .file = emit};
    for (;;) {
        int prefilling = 0;
        srt_lm_step_begin(step, lm->max_batch_tokens);
        for (int r = 0; r < n; r++) {
            if (g[r].prefilled == reqs[r].n_prompt) continue;
            prefilling = 1;
            if (!srt_lm_step_add_prefill(step, g[r].seq_id, reqs[r].prompt, reqs[r].n_prompt, &g[r].prefilled,
                                         g[r].sampler, r))
                break;
        }
        for (int r = 0; r < n && !prefilling; r++)
            if (!g[r].done) srt_lm_step_add_decode(step, g[r].seq_id, &g[r].next, g[r].sampler, r);
        if (!step->n_rows) return SRT_OK;
        SRT_TRY(srt_lm_step_run(step, !prefilling && srt_lm_samples_on_device(lm, 0), 0, &client, NULL));
    }
}

/* Every request must fit the context and, alone, the KV cache. */
static srt_status check_requests(const srt_lm *lm, int n, const srt_lm_request *reqs) {
    for (int r = 0; r < n; r++) {
        if (!reqs[r].prompt || reqs[r].n_prompt < 1)
            return srt_error(SRT_ERR_INVALID_ARG, "generate: request %d has an empty prompt", r);
        if (reqs[r].n_prompt > (size_t)lm->cfg.max_position)
            return srt_error(SRT_ERR_RANGE, "generate: request %d: the prompt has %zu tokens, more than the model's "
                             "context of %d (max_position_embeddings)", r, reqs[r].n_prompt, lm->cfg.max_position);
        int need = request_blocks(lm, &reqs[r]);
        if (need > lm->kv->n_blocks)
            return srt_error(SRT_ERR_FULL, "generate: request %d needs %d KV blocks of %d tokens (%zu prompt + %d new "
                             "tokens), the whole cache has %d: lower max_tokens or enlarge the cache", r, need,
                             lm->kv->block_size, reqs[r].n_prompt, effective_max_tokens(lm, &reqs[r]), lm->kv->n_blocks);
    }
    return SRT_OK;
}

/* Requests [first, end) that fit the free KV cache together (at least one: each fits the empty cache alone). */
static int wave_end(const srt_lm *lm, int first, int n, const srt_lm_request *reqs) {
    int64_t blocks = 0;
    int end = first;
    while (end < n) {
        blocks += request_blocks(lm, &reqs[end]);
        if (end > first && blocks > lm->kv->n_free) break;
        end++;
    }
    return end;
}

static void close_wave(srt_lm *lm, gen_state *g, int n) {
    for (int r = 0; r < n; r++) srt_lm_step_close(lm, &g[r].sampler, &g[r].seq_id);
}

srt_status srt_lm_generate(srt_lm *lm, int n_requests, const srt_lm_request *requests, srt_lm_output *outputs) {
    if (n_requests < 1) return srt_error(SRT_ERR_INVALID_ARG, "generate: no requests");
    memset(outputs, 0, sizeof *outputs * (size_t)n_requests);
    SRT_TRY(check_requests(lm, n_requests, requests));
    size_t n = (size_t)n_requests;
    gen_state *g = srt_calloc(n, sizeof *g, "generate state");
    srt_lm_step step;
    srt_status st = srt_lm_step_init(&step, lm, n_requests);
    if (st == SRT_OK && !g) st = SRT_ERR_NOMEM;
    if (st == SRT_OK) {
        for (size_t r = 0; r < n; r++) g[r].seq_id = -1;
        for (int first = 0; first < n_requests && st == SRT_OK;) {
            int end = wave_end(lm, first, n_requests, requests);
            st = generate_wave(lm, end - first, requests + first, outputs + first, g + first, &step);
            close_wave(lm, g + first, end - first);
            first = end;
        }
    }
    srt_lm_step_free(&step);
    if (g) close_wave(lm, g, n_requests);
    if (st != SRT_OK)
        for (size_t r = 0; r < n; r++) srt_lm_output_free(&outputs[r]);
    free(g);
    return st;
}

void srt_lm_output_free(srt_lm_output *out) {
    if (!out) return;
    free(out->ids);
    out->ids = NULL;
    out->n_ids = 0;
}
