/* lm_generate.c: srt_lm_generate: a batch of requests run together: prompts prefilled (in chunks of at most
 * max_batch_tokens tokens per forward), then one decode step per round for every unfinished sequence, each
 * sampled by its own sampler (own RNG stream), until its stop id, max_tokens or the model's context end.
 * Admission: a prompt longer than the context, or one request needing more KV blocks than the whole cache, is an
 * error naming the request before any work; requests that fit alone but not together run in consecutive waves,
 * in order, each wave holding what the cache holds (results do not depend on the waves: sampling is per request).
 * The first token after a prompt is picked on the host from downloaded logits; decode steps use the backend's sample op when it has one, so the
 * logits stay on the device and only the picked ids come back (srt_lm_sample_rows, lm_sample_step.c; the same
 * ids: one definition, sample_pick.c). */
#include "lm/lm_model.h"
#include "lm/sample_pick.h"
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

static srt_status emit(gen_state *g, const srt_lm_request *req, srt_lm_output *out, int32_t id) {
    out->ids[out->n_ids++] = id;
    g->next = id;
    if (is_stop(&req->sampling, id)) { g->done = 1; out->finish = SRT_FINISH_STOP; }
    else if ((int)out->n_ids >= g->max_tokens) { g->done = 1; out->finish = SRT_FINISH_LENGTH; }
    return SRT_OK;
}

/* Sample one id. One process per tensor-parallel rank: rank 0's id replaces every process's own pick, so all
 * processes feed the same tokens and finish together (lockstep). */
static srt_status sample_shared(srt_lm *lm, srt_sampler *sampler, const float *logits, int32_t *id) {
    SRT_TRY(srt_sampler_sample(sampler, logits, id));
    return srt_lm_tp_share_ids(lm, id, 1);
}

/* Prefill every prompt: batches of whole prompts or prompt chunks, at most max_batch_tokens tokens each. */
static srt_status prefill_all(srt_lm *lm, int n, const srt_lm_request *reqs, gen_state *g, srt_lm_output *outs,
                              float *logits, int *batch_seq, const int32_t **batch_tok, int *batch_n, int *batch_req) {
    for (;;) {
        int nb = 0, budget = lm->max_batch_tokens;
        for (int r = 0; r < n && budget > 0; r++) {
            if (g[r].prefilled == reqs[r].n_prompt) continue;
            int take = (int)(reqs[r].n_prompt - g[r].prefilled);
            if (take > budget) take = budget;
            batch_seq[nb] = g[r].seq_id;
            batch_tok[nb] = reqs[r].prompt + g[r].prefilled;
            batch_n[nb] = take;
            batch_req[nb++] = r;
            budget -= take;
        }
        if (!nb) return SRT_OK;
        SRT_TRY(srt_lm_forward(lm, nb, batch_seq, batch_tok, batch_n, 0, logits));
        for (int b = 0; b < nb; b++) {
            int r = batch_req[b];
            g[r].prefilled += (size_t)batch_n[b];
            if (g[r].prefilled < reqs[r].n_prompt) continue;
            int32_t id;
            SRT_TRY(sample_shared(lm, g[r].sampler, logits + (size_t)b * lm->cfg.vocab, &id));
            SRT_TRY(emit(&g[r], &reqs[r], &outs[r], id));
        }
    }
}

static srt_status generate_inner(srt_lm *lm, int n, const srt_lm_request *reqs, srt_lm_output *outs, gen_state *g,
                                 float *logits, int *batch_seq, const int32_t **batch_tok, int *batch_n,
                                 int *batch_req, srt_lm_sampling *dev, srt_sampler **batch_sampler,
                                 int32_t *batch_ids) {
    for (int r = 0; r < n; r++) {
        g[r].max_tokens = effective_max_tokens(lm, &reqs[r]);
        outs[r].ids = srt_malloc(sizeof(int32_t) * (size_t)g[r].max_tokens, "generated ids");
        if (!outs[r].ids) return SRT_ERR_NOMEM;
        SRT_TRY(srt_sampler_create(&reqs[r].sampling, lm->cfg.vocab, &g[r].sampler));
        SRT_TRY(srt_sampler_add_prompt(g[r].sampler, reqs[r].prompt, reqs[r].n_prompt));
        SRT_TRY(srt_lm_seq_open(lm, &g[r].seq_id));
    }
    SRT_TRY(prefill_all(lm, n, reqs, g, outs, logits, batch_seq, batch_tok, batch_n, batch_req));
    for (;;) {
        int nb = 0;
        for (int r = 0; r < n; r++) {
            if (g[r].done) continue;
            batch_seq[nb] = g[r].seq_id;
            batch_tok[nb] = &g[r].next;
            batch_n[nb] = 1;
            batch_req[nb++] = r;
        }
        if (!nb) return SRT_OK;
        if (srt_lm_samples_on_device(lm, 0)) {   /* one device holds the whole logits rows: only ids come back */
            SRT_TRY(srt_lm_forward(lm, nb, batch_seq, batch_tok, batch_n, 0, NULL));
            for (int b = 0; b < nb; b++) batch_sampler[b] = g[batch_req[b]].sampler;
            SRT_TRY(srt_lm_sample_rows(lm, dev, nb, batch_sampler, NULL, batch_ids));
            for (int b = 0; b < nb; b++) {
                int r = batch_req[b];
                SRT_TRY(emit(&g[r], &reqs[r], &outs[r], batch_ids[b]));
            }
            continue;
        }
        SRT_TRY(srt_lm_forward(lm, nb, batch_seq, batch_tok, batch_n, 0, logits));
        for (int b = 0; b < nb; b++) {
            int r = batch_req[b];
            int32_t id;
            SRT_TRY(sample_shared(lm, g[r].sampler, logits + (size_t)b * lm->cfg.vocab, &id));
            SRT_TRY(emit(&g[r], &reqs[r], &outs[r], id));
        }
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
    for (int r = 0; r < n; r++) {
        srt_sampler_free(g[r].sampler);
        g[r].sampler = NULL;
        if (g[r].seq_id >= 0) srt_lm_seq_close(lm, g[r].seq_id);
        g[r].seq_id = -1;
    }
}

srt_status srt_lm_generate(srt_lm *lm, int n_requests, const srt_lm_request *requests, srt_lm_output *outputs) {
    if (n_requests < 1) return srt_error(SRT_ERR_INVALID_ARG, "generate: no requests");
    memset(outputs, 0, sizeof *outputs * (size_t)n_requests);
    SRT_TRY(check_requests(lm, n_requests, requests));
    size_t n = (size_t)n_requests;
    gen_state *g = srt_calloc(n, sizeof *g, "generate state");
    float *logits = srt_malloc(sizeof(float) * n * (size_t)lm->cfg.vocab, "generate logits");
    int *ints = srt_malloc(sizeof(int) * 3 * n, "generate batch");
    const int32_t **batch_tok = srt_malloc(sizeof *batch_tok * n, "generate batch");
    srt_sampler **batch_sampler = srt_malloc(sizeof *batch_sampler * n, "generate batch samplers");
    int32_t *batch_ids = srt_malloc(sizeof(int32_t) * n, "generate sampled ids");
    srt_lm_sampling dev = {0};
    srt_status st = SRT_ERR_NOMEM;
    if (g && logits && ints && batch_tok && batch_sampler && batch_ids) {
        for (size_t r = 0; r < n; r++) g[r].seq_id = -1;
        st = SRT_OK;
        for (int first = 0; first < n_requests && st == SRT_OK;) {
            int end = wave_end(lm, first, n_requests, requests);
            st = generate_inner(lm, end - first, requests + first, outputs + first, g + first, logits, ints,
                                batch_tok, ints + n, ints + 2 * n, &dev, batch_sampler, batch_ids);
            close_wave(lm, g + first, end - first);
            first = end;
        }
    }
    srt_lm_sampling_free(&dev);
    free(batch_sampler); free(batch_ids);
    if (g) close_wave(lm, g, n_requests);
    if (st != SRT_OK)
        for (size_t r = 0; r < n; r++) srt_lm_output_free(&outputs[r]);
    free(g); free(logits); free(ints); free(batch_tok);
    return st;
}

void srt_lm_output_free(srt_lm_output *out) {
    if (!out) return;
    free(out->ids);
    out->ids = NULL;
    out->n_ids = 0;
}
