/* backend_dispatch.c: the one way the graphs (host/snac, host/lm, host/tts) call a backend op: srt_op_<op> checks
 * the arguments once for every backend (backend_check.c), then calls the backend's table. An entry a table
 * leaves NULL is reported as SRT_ERR_UNSUPPORTED naming the op and the backend. Declared in backend.h (codec ops)
 * and lm/lm_ops.h (LM ops). */
#include "backend_check.h"

#define MISSING(b, op) srt_error(SRT_ERR_UNSUPPORTED, "backend %s has no %s op", (b)->ops->name, op)

srt_status srt_op_conv1d(const srt_backend *b, const srt_conv1d_args *a) {
    SRT_TRY(srt_check_conv1d_args(a));
    if (!b->ops->conv1d) return MISSING(b, "conv1d");
    if (a->res_ld && a->res_ld != a->out_len) {
        if (!b->ops->conv1d_res_ld)
            return srt_error(SRT_ERR_UNSUPPORTED, "conv1d: backend %s takes no residual row stride (res_ld %d, "
                             "out_len %d)", b->ops->name, a->res_ld, a->out_len);
        if (!a->residual || a->res_ld < a->out_len || a->residual == a->y)
            return srt_error(SRT_ERR_INVALID_ARG, "conv1d: residual row stride %d with out_len %d (residual %p, "
                             "y %p)", a->res_ld, a->out_len, (const void *)a->residual, (const void *)a->y);
    }
    return b->ops->conv1d(b->ctx, a);
}

srt_status srt_op_conv_transpose1d(const srt_backend *b, const srt_convt1d_args *a) {
    SRT_TRY(srt_check_convt1d_args(a));
    if (!b->ops->conv_transpose1d) return MISSING(b, "conv_transpose1d");
    return b->ops->conv_transpose1d(b->ctx, a);
}

srt_status srt_op_snake(const srt_backend *b, const srt_snake_args *a) {
    SRT_TRY(srt_check_snake_args(a));
    if (!b->ops->snake) return MISSING(b, "snake");
    return b->ops->snake(b->ctx, a);
}

srt_status srt_op_gemm(const srt_backend *b, const srt_gemm_args *a) {
    SRT_TRY(srt_check_gemm_args(a));
    if (!b->ops->gemm) return MISSING(b, "gemm");
    return b->ops->gemm(b->ctx, a);
}

srt_status srt_op_layernorm(const srt_backend *b, const srt_layernorm_args *a) {
    SRT_TRY(srt_check_layernorm_args(a));
    if (!b->ops->layernorm) return MISSING(b, "layernorm");
    return b->ops->layernorm(b->ctx, a);
}

srt_status srt_op_transpose(const srt_backend *b, const srt_transpose_args *a) {
    SRT_TRY(srt_check_transpose_args(a));
    if (!b->ops->transpose) return MISSING(b, "transpose");
    return b->ops->transpose(b->ctx, a);
}

srt_status srt_op_local_attention(const srt_backend *b, const srt_local_attn_args *a) {
    SRT_TRY(srt_check_local_attn_args(a));
    if (!b->ops->local_attention) return MISSING(b, "local_attention");
    return b->ops->local_attention(b->ctx, a);
}

srt_status srt_op_avgpool(const srt_backend *b, const srt_avgpool_args *a) {
    SRT_TRY(srt_check_avgpool_args(a));
    if (!b->ops->avgpool) return MISSING(b, "avgpool");
    return b->ops->avgpool(b->ctx, a);
}

srt_status srt_op_upsample_add(const srt_backend *b, const srt_upsample_add_args *a) {
    SRT_TRY(srt_check_upsample_add_args(a));
    if (!b->ops->upsample_add) return MISSING(b, "upsample_add");
    return b->ops->upsample_add(b->ctx, a);
}

srt_status srt_op_vq_nearest(const srt_backend *b, const srt_vq_args *a) {
    SRT_TRY(srt_check_vq_args(a));
    if (!b->ops->vq_nearest) return MISSING(b, "vq_nearest");
    return b->ops->vq_nearest(b->ctx, a);
}

srt_status srt_op_embed(const srt_backend *b, const srt_embed_args *a) {
    SRT_TRY(srt_check_embed_args(a));
    if (!b->ops->embed) return MISSING(b, "embed");
    return b->ops->embed(b->ctx, a);
}

srt_status srt_op_copy2d(const srt_backend *b, const srt_copy2d_args *a) {
    SRT_TRY(srt_check_copy2d_args(a));
    if (!b->ops->copy2d) return MISSING(b, "copy2d");
    return b->ops->copy2d(b->ctx, a);
}

srt_status srt_op_copy2d_batch(const srt_backend *b, const srt_copy2d_batch_args *a) {
    SRT_TRY(srt_check_copy2d_batch_args(a));
    if (b->ops->copy2d_batch) return b->ops->copy2d_batch(b->ctx, a);
    if (!b->ops->copy2d) return MISSING(b, "copy2d");
    for (int i = 0; i < a->n; i++) SRT_TRY(b->ops->copy2d(b->ctx, &a->items[i]));
    return SRT_OK;
}

srt_status srt_op_unary(const srt_backend *b, const srt_unary_args *a) {
    SRT_TRY(srt_check_unary_args(a));
    if (!b->ops->unary) return MISSING(b, "unary");
    return b->ops->unary(b->ctx, a);
}

srt_status srt_op_axpby(const srt_backend *b, const srt_axpby_args *a) {
    SRT_TRY(srt_check_axpby_args(a));
    if (!b->ops->axpby) return MISSING(b, "axpby");
    return b->ops->axpby(b->ctx, a);
}

srt_status srt_op_noise_add(const srt_backend *b, const srt_noise_add_args *a) {
    SRT_TRY(srt_check_noise_add_args(a));
    if (!b->ops->noise_add) return MISSING(b, "noise_add");
    return b->ops->noise_add(b->ctx, a);
}

srt_status srt_op_codec_graph_run(const srt_backend *b, uint64_t key, srt_codec_graph_body body, void *arg) {
    if (!b->ops->graph_run) return body ? body(arg) : SRT_ERR_UNSUPPORTED;   /* no recording: run it eagerly */
    return b->ops->graph_run(b->ctx, key, body, arg);
}

/* ---- language-model ops (b->ops->lm) ---- */
static const srt_lm_ops *lm_ops(const srt_backend *b) {
    static const srt_lm_ops none;
    return b->ops->lm ? b->ops->lm : &none;
}

srt_status srt_op_rmsnorm(const srt_backend *b, const srt_rmsnorm_args *a) {
    SRT_TRY(srt_check_rmsnorm_args(a));
    if (!lm_ops(b)->rmsnorm) return MISSING(b, "rmsnorm");
    return lm_ops(b)->rmsnorm(b->ctx, a);
}

srt_status srt_op_rope(const srt_backend *b, const srt_rope_args *a) {
    SRT_TRY(srt_check_rope_args(a));
    if (!lm_ops(b)->rope) return MISSING(b, "rope");
    return lm_ops(b)->rope(b->ctx, a);
}

srt_status srt_op_kv_store(const srt_backend *b, const srt_kv_store_args *a) {
    SRT_TRY(srt_check_kv_store_args(a));
    if (!lm_ops(b)->kv_store) return MISSING(b, "kv_store");
    return lm_ops(b)->kv_store(b->ctx, a);
}

srt_status srt_op_swiglu(const srt_backend *b, const srt_swiglu_args *a) {
    SRT_TRY(srt_check_swiglu_args(a));
    if (!lm_ops(b)->swiglu) return MISSING(b, "swiglu");
    return lm_ops(b)->swiglu(b->ctx, a);
}

srt_status srt_op_embedding(const srt_backend *b, const srt_embedding_args *a) {
    SRT_TRY(srt_check_embedding_args(a));
    if (!lm_ops(b)->embedding) return MISSING(b, "embedding");
    return lm_ops(b)->embedding(b->ctx, a);
}

srt_status srt_op_add_bias(const srt_backend *b, const srt_add_bias_args *a) {
    SRT_TRY(srt_check_add_bias_args(a));
    if (!lm_ops(b)->add_bias) return MISSING(b, "add_bias");
    return lm_ops(b)->add_bias(b->ctx, a);
}

srt_status srt_op_gather_rows(const srt_backend *b, const srt_gather_rows_args *a) {
    SRT_TRY(srt_check_gather_rows_args(a));
    if (!lm_ops(b)->gather_rows) return MISSING(b, "gather_rows");
    return lm_ops(b)->gather_rows(b->ctx, a);
}

srt_status srt_op_sample(const srt_backend *b, const srt_sample_args *a) {
    SRT_TRY(srt_check_sample_args(a));
    if (!lm_ops(b)->sample) return MISSING(b, "sample");
    return lm_ops(b)->sample(b->ctx, a);
}

srt_status srt_op_mask_rows(const srt_backend *b, const srt_mask_rows_args *a) {
    SRT_TRY(srt_check_mask_rows_args(a));
    if (!lm_ops(b)->mask_rows) return MISSING(b, "mask_rows");
    return lm_ops(b)->mask_rows(b->ctx, a);
}

/* With a host plan, its n_q / ctx_len are checked here and the planned entry is used when the table has one.
 * Without one, a host-memory backend's arrays are checked here; a device backend checks them once read back. */
srt_status srt_op_paged_attention(const srt_backend *b, const srt_paged_attn_args *a, const srt_attn_host_plan *plan) {
    const srt_lm_ops *o = lm_ops(b);
    if (plan) {
        SRT_TRY(srt_check_paged_attn_args(a, 0));
        if (a->n_seqs && (!plan->n_q || !plan->ctx_len))
            return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: %d sequences without a host plan", a->n_seqs);
        SRT_TRY(srt_check_paged_attn_seqs(a, plan->n_q, plan->ctx_len));
        if ((int64_t)plan->ctx_capacity > (int64_t)a->max_blocks * a->block_size)
            return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: context capacity %d beyond the block tables' %lld",
                             plan->ctx_capacity, (long long)a->max_blocks * a->block_size);
        if (o->paged_attention_planned) return o->paged_attention_planned(b->ctx, a, plan);
    }
    SRT_TRY(srt_check_paged_attn_args(a, b->ops->host_memory));
    if (!o->paged_attention) return MISSING(b, "paged_attention");
    return o->paged_attention(b->ctx, a);
}

srt_status srt_op_rope_store_attention(const srt_backend *b, const srt_rope_store_attn_args *a,
                                       const srt_attn_host_plan *plan) {
    const srt_paged_attn_args *at = &a->attn;
    int decode_only = plan && (at->n_seqs == 0 || plan->n_q) && lm_ops(b)->rope_store_attention;
    for (int s = 0; decode_only && s < at->n_seqs; s++) decode_only = plan->n_q[s] <= 1;
    if (decode_only) {
        if (a->n_tokens < 0 || !a->k || !a->v || !a->pos || !a->slot || !a->inv_freq)
            return srt_error(SRT_ERR_INVALID_ARG, "rope_store_attention: %d tokens, missing k/v/pos/slot/inv_freq",
                             a->n_tokens);
        SRT_TRY(srt_check_paged_attn_args(at, 0));
        SRT_TRY(srt_check_paged_attn_seqs(at, plan->n_q, plan->ctx_len));
        if ((int64_t)plan->ctx_capacity > (int64_t)at->max_blocks * at->block_size)
            return srt_error(SRT_ERR_INVALID_ARG, "rope_store_attention: context capacity %d beyond the block "
                             "tables' %lld", plan->ctx_capacity, (long long)at->max_blocks * at->block_size);
        return lm_ops(b)->rope_store_attention(b->ctx, a, plan);
    }
    int kv_dim = at->n_kv_heads * at->head_dim;
    srt_rope_args rq = {a->n_tokens, at->n_heads, at->head_dim, a->pos, a->inv_freq, (float *)at->q};
    srt_rope_args rk = {a->n_tokens, at->n_kv_heads, at->head_dim, a->pos, a->inv_freq, a->k};
    srt_kv_store_args st = {a->n_tokens, kv_dim, a->k, a->v, a->slot, (void *)at->k_cache, (void *)at->v_cache,
                            at->kv_dtype, at->head_dim, at->block_size, (float *)at->k_scale, (float *)at->v_scale};
    if (lm_ops(b)->rope_kv_store) {   /* the three as one step */
        SRT_TRY(srt_check_rope_args(&rq));
        SRT_TRY(srt_check_rope_args(&rk));
        SRT_TRY(srt_check_kv_store_args(&st));
        SRT_TRY(lm_ops(b)->rope_kv_store(b->ctx, a));
    } else {
        SRT_TRY(srt_op_rope(b, &rq));
        SRT_TRY(srt_op_rope(b, &rk));
        SRT_TRY(srt_op_kv_store(b, &st));
    }
    return srt_op_paged_attention(b, at, plan);
}

srt_status srt_op_graph_run(const srt_backend *b, uint64_t key, srt_lm_graph_body body, void *arg) {
    if (!lm_ops(b)->graph_run) return MISSING(b, "graph_run");
    return lm_ops(b)->graph_run(b->ctx, key, body, arg);
}

static srt_status check_linear_fused(const srt_linear_fused_args *a) {
    if (a->rows < 0 || a->N < 1 || a->K < 1 || !a->x || !a->w || !a->y0 ||
        (a->mode != SRT_LINEAR_SPLIT3 && a->mode != SRT_LINEAR_SWIGLU) ||
        (a->mode == SRT_LINEAR_SPLIT3 && (a->n0 < 0 || a->n1 < 0 || a->n0 + a->n1 > a->N || !a->y1 || !a->y2)) ||
        (a->mode == SRT_LINEAR_SWIGLU && (a->N % 2 || !a->y1)) || (a->norm_w && (!a->x_normed || a->eps < 0)) ||
        (a->w_dtype == SRT_I8 && !a->w_scale))
        return srt_error(SRT_ERR_INVALID_ARG, "linear_fused: mode %d, %d rows, N %d (n0 %d, n1 %d), K %d", a->mode,
                         a->rows, a->N, a->n0, a->n1, a->K);
    return SRT_OK;
}

srt_status srt_op_linear_fused(const srt_backend *b, const srt_linear_fused_args *a) {
    SRT_TRY(check_linear_fused(a));
    if (a->rows == 0) return SRT_OK;
    if (lm_ops(b)->linear_fused) return lm_ops(b)->linear_fused(b->ctx, a);
    if (!b->ops->gemm || !lm_ops(b)->swiglu || !lm_ops(b)->rmsnorm) return MISSING(b, "gemm/swiglu/rmsnorm");
    return srt_linear_fused_by_ops(b->ctx, b->ops->gemm, lm_ops(b)->swiglu, lm_ops(b)->rmsnorm, a);
}

/* The backend's op takes batches with a prefill sequence, after every check the two ops would make (the attention's
 * with the plan, the rope / store's as rope_store_attention's prefill path); anything else runs the two ops. */
srt_status srt_op_qkv_rope_store_attention(const srt_backend *b, const srt_linear_fused_args *lin,
                                           const srt_rope_store_attn_args *a, const srt_attn_host_plan *plan) {
    const srt_paged_attn_args *at = &a->attn;
    SRT_TRY(check_linear_fused(lin));
    int64_t q_dim = (int64_t)at->n_heads * at->head_dim, kv_dim = (int64_t)at->n_kv_heads * at->head_dim;
    if (lin->mode != SRT_LINEAR_SPLIT3 || lin->rows != a->n_tokens || lin->n0 != q_dim || lin->n1 != kv_dim ||
        lin->N != q_dim + 2 * kv_dim || lin->y0 != at->q || lin->y1 != a->k || lin->y2 != a->v)
        return srt_error(SRT_ERR_INVALID_ARG, "qkv_rope_store_attention: the projection (mode %d, %d rows, N %d = "
                         "%d + %d + rest) must be q | k | v of the attention's %d tokens (%lld + %lld + %lld), "
                         "written to its q, k, v", lin->mode, lin->rows, lin->N, lin->n0, lin->n1, a->n_tokens,
                         (long long)q_dim, (long long)kv_dim, (long long)kv_dim);
    int prefill = 0;
    for (int s = 0; plan && plan->n_q && s < at->n_seqs; s++) prefill |= plan->n_q[s] > 1;
    if (!prefill || !lm_ops(b)->qkv_rope_store_attention || a->n_tokens == 0) {
        SRT_TRY(srt_op_linear_fused(b, lin));
        return srt_op_rope_store_attention(b, a, plan);
    }
    if (!a->k || !a->v || !a->pos || !a->slot || !a->inv_freq)
        return srt_error(SRT_ERR_INVALID_ARG, "qkv_rope_store_attention: %d tokens, missing k/v/pos/slot/inv_freq",
                         a->n_tokens);
    srt_rope_args rq = {a->n_tokens, at->n_heads, at->head_dim, a->pos, a->inv_freq, (float *)at->q};
    srt_rope_args rk = {a->n_tokens, at->n_kv_heads, at->head_dim, a->pos, a->inv_freq, a->k};
    srt_kv_store_args st = {a->n_tokens, (int)kv_dim, a->k, a->v, a->slot, (void *)at->k_cache, (void *)at->v_cache,
                            at->kv_dtype, at->head_dim, at->block_size, (float *)at->k_scale, (float *)at->v_scale};
    SRT_TRY(srt_check_rope_args(&rq));
    SRT_TRY(srt_check_rope_args(&rk));
    SRT_TRY(srt_check_kv_store_args(&st));
    SRT_TRY(srt_check_paged_attn_args(at, 0));
    SRT_TRY(srt_check_paged_attn_seqs(at, plan->n_q, plan->ctx_len));
    if ((int64_t)plan->ctx_capacity > (int64_t)at->max_blocks * at->block_size)
        return srt_error(SRT_ERR_INVALID_ARG, "qkv_rope_store_attention: context capacity %d beyond the block "
                         "tables' %lld", plan->ctx_capacity, (long long)at->max_blocks * at->block_size);
    return lm_ops(b)->qkv_rope_store_attention(b->ctx, lin, a, plan);
}
