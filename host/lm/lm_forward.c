/* lm_forward.c: one transformer forward over a batch of sequences (prefill, prefill chunks and decode mixed),
 * written once against the backend op table: embedding -> n_layers x (rmsnorm, q/k/v (+bias), rope, paged KV
 * store + attention, o_proj + residual, rmsnorm, swiglu MLP + residual) -> final norm -> LM head (f32 logits).
 * Without biases the fused q|k|v projection and the rope / store / attention go to the backend as one op
 * (qkv_rope_store_attention: a backend may pass the projection's output to its rope without scattering it).
 * The batch's indices (ids, positions, slots, block tables, lengths) are uploaded once per forward, and the
 * attention gets a host-side plan (lengths known from the KV cache bookkeeping), so no op reads the device back.
 * A decode-only batch on a backend that records forwards (ops->graph_run: CUDA graphs) is padded to a bucket of
 * sequences (batch_bucket: exact to 8, then multiples of 8 to 64, then of 32: no power-of-two cliff) and of context
 * capacity (256, 512, ...): padding rows have no queries and a negative
 * KV slot, so one recording per bucket is replayed step after step with new device-side indices. */
#include "lm/lm_model.h"
#include "lm/tp_group.h"
#include <string.h>

void srt_lm_scratch_free(srt_lm *lm) {
    srt_lm_scratch *s = &lm->scratch;
    void *bufs[] = {s->x, s->h, s->q, s->att, s->k, s->v, s->gate, s->up, s->last, s->logits, s->gathered, s->ids,
                    s->pos, s->slot, s->q_start, s->n_q, s->ctx_len, s->last_row, s->block_table};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) lm->be.ops->free(lm->be.ctx, bufs[i]);
    unsigned epoch = s->epoch;
    memset(s, 0, sizeof *s);
    s->epoch = epoch + 1;
}

static srt_status realloc_buf(srt_lm *lm, void **buf, size_t bytes) {
    lm->scratch.epoch++;
    if (*buf) lm->be.ops->free(lm->be.ctx, *buf);
    *buf = NULL;
    return lm->be.ops->alloc(lm->be.ctx, bytes ? bytes : 4, buf);
}

/* Grow the scratch to hold n_tokens rows, n_seqs sequences of up to n_blocks blocks and n_logit_rows logits. */
static srt_status scratch_reserve(srt_lm *lm, int n_tokens, int n_seqs, int n_blocks, int n_logit_rows) {
    srt_lm_scratch *s = &lm->scratch;
    const srt_lm_config *c = &lm->cfg;
    size_t f = sizeof(float), T = (size_t)n_tokens;
    if (n_tokens > s->cap_tokens) {
        T = (size_t)(n_tokens > 2 * s->cap_tokens ? n_tokens : 2 * s->cap_tokens);
        size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
        SRT_TRY(realloc_buf(lm, (void **)&s->x, T * c->hidden * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->h, T * c->hidden * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->q, T * q_dim * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->att, T * q_dim * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->k, T * kv_dim * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->v, T * kv_dim * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->gate, T * c->intermediate * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->up, T * c->intermediate * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->ids, T * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->pos, T * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->slot, T * 4));
        s->cap_tokens = (int)T;
    }
    if (n_seqs > s->cap_seqs || n_blocks > s->cap_blocks) {
        int seqs = n_seqs > s->cap_seqs ? n_seqs : s->cap_seqs, blocks = n_blocks > s->cap_blocks ? 2 * n_blocks : s->cap_blocks;
        SRT_TRY(realloc_buf(lm, (void **)&s->q_start, (size_t)seqs * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->n_q, (size_t)seqs * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->ctx_len, (size_t)seqs * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->last_row, (size_t)seqs * 4));
        SRT_TRY(realloc_buf(lm, (void **)&s->block_table, (size_t)seqs * blocks * 4));
        s->cap_seqs = seqs;
        s->cap_blocks = blocks;
    }
    if (n_logit_rows > s->cap_logit_rows) {
        SRT_TRY(realloc_buf(lm, (void **)&s->last, (size_t)n_logit_rows * c->hidden * f));
        SRT_TRY(realloc_buf(lm, (void **)&s->logits, (size_t)n_logit_rows * c->vocab * f));
        if (lm->comm)
            SRT_TRY(realloc_buf(lm, (void **)&s->gathered, (size_t)lm->comm->size * n_logit_rows * c->vocab * f));
        s->cap_logit_rows = n_logit_rows;
    }
    return SRT_OK;
}

/* out (rows, m->rows) = x (rows, m->cols) @ m^T, plus beta * out (beta 1: residual add in place). */
static srt_status linear(srt_lm *lm, const float *x, int rows, const srt_lm_matrix *m, float beta, float *out) {
    srt_gemm_args g = {.M = rows, .N = m->rows, .K = m->cols, .trans_a = 0, .trans_b = 1, .alpha = 1.0f,
                       .beta = beta, .A = x, .lda = m->cols, .B = m->data, .ldb = m->cols, .b_dtype = m->dtype,
                       .C = out, .ldc = m->rows, .b_scale = m->scale};
    return srt_op_gemm(&lm->be, &g);
}

static srt_status add_bias(srt_lm *lm, float *x, int rows, int cols, const float *bias) {
    if (!bias) return SRT_OK;
    srt_add_bias_args a = {rows, cols, bias, x};
    return srt_op_add_bias(&lm->be, &a);
}

/* Sum of every rank's buf (no-op without tensor parallelism). */
static srt_status all_reduce(srt_lm *lm, float *buf, size_t n) {
    if (!lm->comm) return SRT_OK;
    SRT_TRY(lm->be.ops->sync(lm->be.ctx));
    return lm->comm->ops->all_reduce_sum(lm->comm, buf, buf, n, NULL);
}

/* x += in @ m^T. Tensor parallel: m is row-parallel (this rank's input features), so the partial products go to
 * `partial` (rows, hidden), are all-reduced, then added to the residual x. */
static srt_status add_projection(srt_lm *lm, const float *in, int rows, const srt_lm_matrix *m, float *partial) {
    float *x = lm->scratch.x;     /* (rows, hidden) */
    if (!lm->comm) return linear(lm, in, rows, m, 1.0f, x);
    SRT_TRY(linear(lm, in, rows, m, 0.0f, partial));
    SRT_TRY(all_reduce(lm, partial, (size_t)rows * m->rows));
    srt_axpby_args add = {(int64_t)rows * m->rows, 1.0f, 1.0f, partial, x};
    return srt_op_axpby(&lm->be, &add);
}

/* What one forward hands to the ops (the body of a recorded step: nothing here may change between replays of
 * one key without the key changing). */
typedef struct fwd_launch {
    srt_lm *lm;
    int T, n_seqs, max_blocks, logit_rows, all_logits;
    srt_attn_host_plan attn;          /* host copies of n_q / ctx_len and the context capacity */
} fwd_launch;

static srt_status layer_forward(srt_lm *lm, int l, const fwd_launch *f) {
    int T = f->T, n_seqs = f->n_seqs, max_blocks = f->max_blocks;
    const srt_lm_config *c = &lm->cfg;
    const srt_lm_layer *L = &lm->layers[l];
    srt_lm_scratch *s = &lm->scratch;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;

    /* rope(q), rope(k), KV store, attention: one launch on a backend that fuses them for decode batches */
    srt_rope_store_attn_args rsa = {
        .attn = {n_seqs, c->n_heads, c->n_kv_heads, c->head_dim, lm->kv->block_size, max_blocks, s->q, lm->kv->k[l],
                 lm->kv->v[l], s->block_table, s->q_start, s->n_q, s->ctx_len, s->att, lm->kv->dtype,
                 lm->kv->k_scale ? lm->kv->k_scale[l] : NULL, lm->kv->v_scale ? lm->kv->v_scale[l] : NULL},
        .n_tokens = T, .k = s->k, .v = s->v, .pos = s->pos, .slot = s->slot, .inv_freq = lm->inv_freq};
    if (L->wqkv.data) {       /* RMSNorm + q | k | v in one GEMM over the fused weight */
        srt_linear_fused_args qkv = {T, L->wqkv.rows, L->wqkv.cols, SRT_LINEAR_SPLIT3, L->wq.rows, L->wk.rows, s->x,
                                     L->wqkv.data, L->wqkv.dtype, s->q, s->k, s->v, L->attn_norm, c->rms_eps, s->h,
                                     L->wqkv.scale};
        if (!L->bq && !L->bk && !L->bv) {   /* no biases between: projection to attention as one step (prefill) */
            SRT_TRY(srt_op_qkv_rope_store_attention(&lm->be, &qkv, &rsa, &f->attn));
        } else {
            SRT_TRY(srt_op_linear_fused(&lm->be, &qkv));
            SRT_TRY(add_bias(lm, s->q, T, q_dim, L->bq));
            SRT_TRY(add_bias(lm, s->k, T, kv_dim, L->bk));
            SRT_TRY(add_bias(lm, s->v, T, kv_dim, L->bv));
            SRT_TRY(srt_op_rope_store_attention(&lm->be, &rsa, &f->attn));
        }
    } else {
        srt_rmsnorm_args norm = {T, c->hidden, c->rms_eps, s->x, L->attn_norm, s->h};
        SRT_TRY(srt_op_rmsnorm(&lm->be, &norm));
        SRT_TRY(linear(lm, s->h, T, &L->wq, 0.0f, s->q));
        SRT_TRY(linear(lm, s->h, T, &L->wk, 0.0f, s->k));
        SRT_TRY(linear(lm, s->h, T, &L->wv, 0.0f, s->v));
        SRT_TRY(add_bias(lm, s->q, T, q_dim, L->bq));
        SRT_TRY(add_bias(lm, s->k, T, kv_dim, L->bk));
        SRT_TRY(add_bias(lm, s->v, T, kv_dim, L->bv));
        SRT_TRY(srt_op_rope_store_attention(&lm->be, &rsa, &f->attn));
    }
    SRT_TRY(add_projection(lm, s->att, T, &L->wo, s->h));        /* x += o_proj(att) */

    srt_rmsnorm_args norm2 = {T, c->hidden, c->rms_eps, s->x, L->mlp_norm, s->h};
    if (L->w_gate_up.data) {  /* RMSNorm + silu(gate) * up from one GEMM over the interleaved weight */
        srt_linear_fused_args mlp = {T, L->w_gate_up.rows, L->w_gate_up.cols, SRT_LINEAR_SWIGLU, 0, 0, s->x,
                                     L->w_gate_up.data, L->w_gate_up.dtype, s->gate, s->up, NULL, L->mlp_norm,
                                     c->rms_eps, s->h, L->w_gate_up.scale};
        SRT_TRY(srt_op_linear_fused(&lm->be, &mlp));
    } else {
        SRT_TRY(srt_op_rmsnorm(&lm->be, &norm2));
        SRT_TRY(linear(lm, s->h, T, &L->w_gate, 0.0f, s->gate));
        SRT_TRY(linear(lm, s->h, T, &L->w_up, 0.0f, s->up));
        srt_swiglu_args act = {(int64_t)T * c->intermediate, s->gate, s->up, s->gate};
        SRT_TRY(srt_op_swiglu(&lm->be, &act));
    }
    return add_projection(lm, s->gate, T, &L->w_down, s->h);    /* x += down(silu(gate) * up) */
}

/* Host-side index arrays of one batch (uploaded to the scratch; n_q / ctx_len also serve as the attention's host
 * plan). With padding, sequences n_seqs .. n_pad-1 are empty rows: token 0 at position 0, KV slot -1 (not
 * stored), no queries, a zero block table. */
typedef struct batch_indices {
    int32_t *host;            /* one allocation holding the arrays below */
    int32_t *ids, *pos, *slot, *q_start, *n_q, *ctx_len, *last_row, *table;
} batch_indices;

static srt_status upload_indices(srt_lm *lm, int n_seqs, int n_pad, const int *seq_ids, const int32_t *const *tokens,
                                 const int *n_new, int T, int max_blocks, int all_logits, batch_indices *bi) {
    srt_lm_scratch *s = &lm->scratch;
    const srt_kv_cache *kv = lm->kv;
    size_t n_ints = 3 * (size_t)T + 4 * (size_t)n_pad + (size_t)n_pad * max_blocks;
    int32_t *host = srt_calloc(n_ints ? n_ints : 1, sizeof(int32_t), "lm batch indices");
    if (!host) return SRT_ERR_NOMEM;
    bi->host = host;
    int32_t *ids = host, *pos = ids + T, *slot = pos + T, *q_start = slot + T, *n_q = q_start + n_pad;
    int32_t *ctx_len = n_q + n_pad, *last_row = ctx_len + n_pad, *table = last_row + n_pad;
    *bi = (batch_indices){host, ids, pos, slot, q_start, n_q, ctx_len, last_row, table};
    int row = 0;
    for (int b = 0; b < n_seqs; b++) {
        const srt_kv_seq *seq = &kv->seqs[seq_ids[b]];
        q_start[b] = row;
        n_q[b] = n_new[b];
        ctx_len[b] = seq->n_tokens + n_new[b];
        last_row[b] = row + n_new[b] - 1;
        memcpy(table + (size_t)b * max_blocks, seq->blocks, sizeof(int32_t) * (size_t)seq->n_blocks);
        for (int i = 0; i < n_new[b]; i++, row++) {
            int p = seq->n_tokens + i;
            ids[row] = tokens[b][i];
            if (lm->comm) {       /* vocabulary-parallel embedding: ids outside this rank's slice read the zero row */
                int local = ids[row] - lm->vocab_start;
                ids[row] = local >= 0 && local < lm->vocab_len ? local : lm->embed.rows - 1;
            }
            pos[row] = p;
            slot[row] = seq->blocks[p / kv->block_size] * kv->block_size + p % kv->block_size;
        }
    }
    for (int b = n_seqs; b < n_pad; b++, row++) {   /* padding: one empty token row each */
        q_start[b] = row;
        last_row[b] = row;
        slot[row] = -1;
    }
    const srt_backend_ops *o = lm->be.ops;
    void *ctx = lm->be.ctx;
    srt_status st = o->upload(ctx, s->ids, ids, 4 * (size_t)T);
    if (st == SRT_OK) st = o->upload(ctx, s->pos, pos, 4 * (size_t)T);
    if (st == SRT_OK) st = o->upload(ctx, s->slot, slot, 4 * (size_t)T);
    if (st == SRT_OK) st = o->upload(ctx, s->q_start, q_start, 4 * (size_t)n_pad);
    if (st == SRT_OK) st = o->upload(ctx, s->n_q, n_q, 4 * (size_t)n_pad);
    if (st == SRT_OK) st = o->upload(ctx, s->ctx_len, ctx_len, 4 * (size_t)n_pad);
    if (st == SRT_OK && !all_logits) st = o->upload(ctx, s->last_row, last_row, 4 * (size_t)n_pad);
    if (st == SRT_OK) st = o->upload(ctx, s->block_table, table, 4 * (size_t)n_pad * max_blocks);
    return st;
}

srt_status srt_lm_check_batch(const srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                              const int *n_new, int *n_tokens) {
    int64_t T = 0;
    if (n_seqs < 1) return srt_error(SRT_ERR_INVALID_ARG, "lm forward: empty batch");
    for (int b = 0; b < n_seqs; b++) {
        SRT_TRY(srt_kv_seq_check(lm->kv, seq_ids[b]));
        if (n_new[b] < 1 || !tokens[b])
            return srt_error(SRT_ERR_INVALID_ARG, "lm forward: sequence %d has %d new tokens", seq_ids[b], n_new[b]);
        int end = lm->kv->seqs[seq_ids[b]].n_tokens + n_new[b];
        if (end > lm->cfg.max_position)
            return srt_error(SRT_ERR_RANGE, "lm forward: sequence %d would reach position %d, beyond "
                             "max_position_embeddings %d", seq_ids[b], end, lm->cfg.max_position);
        for (int i = 0; i < n_new[b]; i++)
            if (tokens[b][i] < 0 || tokens[b][i] >= lm->cfg.vocab)
                return srt_error(SRT_ERR_RANGE, "lm forward: sequence %d token %d is id %d, outside the vocabulary "
                                 "[0, %d)", seq_ids[b], i, tokens[b][i], lm->cfg.vocab);
        T += n_new[b];
    }
    if (T > lm->max_batch_tokens)
        return srt_error(SRT_ERR_RANGE, "lm forward: %lld tokens in one call, max_batch_tokens is %d", (long long)T,
                         lm->max_batch_tokens);
    *n_tokens = (int)T;
    return SRT_OK;
}

srt_status srt_lm_forward(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                          const int *n_new, int all_logits, float *logits) {
    if (lm->tp) return srt_lm_tp_forward(lm, n_seqs, seq_ids, tokens, n_new, all_logits, logits);
    int T = 0;
    SRT_TRY(srt_lm_check_batch(lm, n_seqs, seq_ids, tokens, n_new, &T));
    SRT_TRY(srt_kv_reserve(lm->kv, n_seqs, seq_ids, n_new));
    SRT_TRY(srt_lm_forward_compute(lm, n_seqs, seq_ids, tokens, n_new, T, all_logits, logits));
    for (int b = 0; b < n_seqs; b++) lm->kv->seqs[seq_ids[b]].n_tokens += n_new[b];
    return SRT_OK;
}

/* Embedding, the layers, and the LM head over the uploaded batch: the part a backend may record and replay. */
static srt_status forward_body(void *arg) {
    const fwd_launch *f = arg;
    srt_lm *lm = f->lm;
    const srt_lm_config *c = &lm->cfg;
    srt_lm_scratch *s = &lm->scratch;
    srt_embedding_args emb = {f->T, c->hidden, lm->embed.rows, lm->embed.dtype, lm->embed.data, s->ids, s->x};
    SRT_TRY(srt_op_embedding(&lm->be, &emb));
    SRT_TRY(all_reduce(lm, s->x, (size_t)f->T * c->hidden));   /* tensor parallel: each row comes from one rank */
    for (int l = 0; l < c->n_layers; l++) SRT_TRY(layer_forward(lm, l, f));

    const float *rows = s->x;
    if (!f->all_logits && f->T != f->n_seqs) {   /* one token per sequence: row b is already sequence b's last */
        srt_gather_rows_args g = {f->n_seqs, c->hidden, s->last_row, s->x, s->last};
        SRT_TRY(srt_op_gather_rows(&lm->be, &g));
        rows = s->last;
    }
    srt_rmsnorm_args norm = {f->logit_rows, c->hidden, c->rms_eps, rows, lm->final_norm,
                             s->last == rows ? s->last : s->h};
    SRT_TRY(srt_op_rmsnorm(&lm->be, &norm));
    return linear(lm, norm.y, f->logit_rows, &lm->lm_head, 0.0f, s->logits);
}

/* Recording buckets: batch (batch_bucket) up to this; context capacity from this up to the cache's. */
enum { GRAPH_MAX_BATCH = 512, GRAPH_MIN_CTX = 256, GRAPH_MAX_CTX = 1 << 27 };

/* Sequences a recorded step is padded to: 1..8 exact, then multiples of 8 up to 64, then multiples of 32 (at most
 * 12% padding rows above 8, where a padded row costs its share of a compute-bound step, against up to 50% with
 * powers of two). */
static int batch_bucket(int n) {
    if (n <= 8) return n;
    if (n <= 64) return (n + 7) / 8 * 8;
    return (n + 31) / 32 * 32;
}

static int next_pow2(int n, int at_least) {
    int p = at_least;
    while (p < n) p *= 2;
    return p;
}

/* Whether this batch goes through a recorded step: decode only (one new token each, last-token logits), no tensor
 * parallelism, and a backend that records (graph_run(NULL) says whether recording is on). */
static int use_graph(srt_lm *lm, int n_seqs, const int *n_new, int all_logits) {
    if (!lm->ops->graph_run || lm->comm || all_logits || n_seqs > GRAPH_MAX_BATCH ||
        (int64_t)lm->kv->n_blocks * lm->kv->block_size >= GRAPH_MAX_CTX) return 0;
    for (int b = 0; b < n_seqs; b++) if (n_new[b] != 1) return 0;
    return srt_op_graph_run(&lm->be, 0, NULL, NULL) == SRT_OK;
}

srt_status srt_lm_forward_compute(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                                  const int *n_new, int T, int all_logits, float *logits) {
    const srt_lm_config *c = &lm->cfg;
    srt_lm_scratch *s = &lm->scratch;
    void *ctx = lm->be.ctx;
    int max_blocks = 1, max_ctx = 1;
    for (int b = 0; b < n_seqs; b++) {
        const srt_kv_seq *seq = &lm->kv->seqs[seq_ids[b]];
        if (seq->n_blocks > max_blocks) max_blocks = seq->n_blocks;
        if (seq->n_tokens + n_new[b] > max_ctx) max_ctx = seq->n_tokens + n_new[b];
    }
    int graph = use_graph(lm, n_seqs, n_new, all_logits);
    int n_pad = n_seqs, T_pad = T, ctx_capacity = max_ctx;
    if (graph) {
        int bs = lm->kv->block_size, cache_tokens = lm->kv->n_blocks * bs;
        n_pad = T_pad = batch_bucket(n_seqs);
        ctx_capacity = next_pow2(max_ctx, GRAPH_MIN_CTX);
        if (ctx_capacity > cache_tokens) ctx_capacity = cache_tokens > max_ctx ? cache_tokens : max_ctx;
        max_blocks = (ctx_capacity + bs - 1) / bs;
    }
    int logit_rows = all_logits ? T : n_pad;
    SRT_TRY(scratch_reserve(lm, T_pad, n_pad, max_blocks, logit_rows));
    batch_indices bi = {0};
    srt_status st = upload_indices(lm, n_seqs, n_pad, seq_ids, tokens, n_new, T_pad, max_blocks, all_logits, &bi);
    fwd_launch f = {lm, T_pad, n_pad, max_blocks, logit_rows, all_logits, {bi.n_q, bi.ctx_len, ctx_capacity}};
    if (st == SRT_OK && graph) {
        /* the key names every host value the body hands to the ops: the scratch buffers' epoch, the batch bucket
         * and the context capacity (the block table width follows from it) */
        uint64_t key = (uint64_t)s->epoch << 40 | (uint64_t)n_pad << 28 | (uint64_t)ctx_capacity;
        st = srt_op_graph_run(&lm->be, key, forward_body, &f);
    } else if (st == SRT_OK) {
        st = forward_body(&f);
    }
    free(bi.host);
    SRT_TRY(st);
    if (all_logits) logit_rows = T;
    else logit_rows = n_seqs;         /* padding rows follow the real ones */
    const float *out = s->logits;     /* (logit_rows, vocab) */
    size_t n_out = (size_t)logit_rows * c->vocab;
    if (lm->comm) {                   /* vocabulary-parallel LM head: gather every rank's slice */
        SRT_TRY(lm->be.ops->sync(ctx));
        SRT_TRY(lm->comm->ops->all_gather(lm->comm, s->logits, s->gathered, n_out, NULL));
        out = s->gathered;            /* (tp, logit_rows, vocab slice) */
        n_out *= (size_t)lm->comm->size;
    }
    if (logits) SRT_TRY(lm->be.ops->download(ctx, logits, out, sizeof(float) * n_out));
    return lm->be.ops->sync(ctx);
}
