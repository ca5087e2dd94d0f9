/* backend_check.c: the argument checks of every backend op, run once by the dispatch layer (backend_dispatch.c)
 * for all backends (declared in backend_check.h). Counts must be >= 0 and pointers set whenever the op touches
 * any element; the checks read host arrays only (device arrays are the backend's, see backend_check.h). */
#include "backend_check.h"
#include <math.h>
#include <stdio.h>

#define BAD(...) srt_error(SRT_ERR_INVALID_ARG, __VA_ARGS__)

srt_status srt_check_conv1d_args(const srt_conv1d_args *a) {
    if (a->batch < 1 || a->in_ch < 1 || a->out_ch < 1 || a->in_len < 0 || a->out_len < 0 || a->kernel < 1 ||
        a->stride < 1 || a->dilation < 1 || a->padding < 0 || a->groups < 1 || a->in_ch % a->groups ||
        a->out_ch % a->groups || !a->x || !a->w || !a->y)
        return BAD("conv1d: bad arguments (batch %d, in %d, out %d, len %d, k %d, stride %d, dil %d, pad %d, "
                   "groups %d)", a->batch, a->in_ch, a->out_ch, a->in_len, a->kernel, a->stride, a->dilation,
                   a->padding, a->groups);
    if (a->x == a->y) return BAD("conv1d: y must not alias x");
    int64_t span = (int64_t)a->in_len + 2 * a->padding - (int64_t)a->dilation * (a->kernel - 1) - 1;
    int64_t expect = span < 0 ? 0 : span / a->stride + 1;
    if (expect != a->out_len)
        return BAD("conv1d: out_len %d but the arguments give %lld", a->out_len, (long long)expect);
    return SRT_OK;
}

srt_status srt_check_convt1d_args(const srt_convt1d_args *a) {
    if (a->batch < 1 || a->in_ch < 1 || a->out_ch < 1 || a->in_len < 0 || a->out_len < 0 || a->kernel < 1 ||
        a->stride < 1 || a->padding < 0 || a->groups < 1 || a->in_ch % a->groups || a->out_ch % a->groups ||
        !a->x || !a->w || !a->y)
        return BAD("conv_transpose1d: bad arguments (batch %d, in %d, out %d, len %d, k %d, stride %d, pad %d, "
                   "groups %d)", a->batch, a->in_ch, a->out_ch, a->in_len, a->kernel, a->stride, a->padding,
                   a->groups);
    int64_t base = ((int64_t)a->in_len - 1) * a->stride - 2 * a->padding + a->kernel;
    if (a->in_len > 0 && (a->out_len < base || a->out_len >= base + a->stride))
        return BAD("conv_transpose1d: out_len %d not in [%lld, %lld)", a->out_len, (long long)base,
                   (long long)(base + a->stride));
    return SRT_OK;
}

srt_status srt_check_snake_args(const srt_snake_args *a) {
    if (a->batch < 0 || a->ch < 0 || a->len < 0 ||
        (((int64_t)a->batch * a->ch * a->len) != 0 && (!a->x || !a->alpha || !a->y)))
        return BAD("snake: batch %d ch %d len %d", a->batch, a->ch, a->len);
    return SRT_OK;
}

srt_status srt_check_gemm_args(const srt_gemm_args *a) {
    if (a->M < 0 || a->N < 0 || a->K < 0 || !a->A || !a->B || !a->C ||
        (a->b_dtype != SRT_F32 && a->b_dtype != SRT_BF16 && a->b_dtype != SRT_F16 && a->b_dtype != SRT_I8))
        return BAD("gemm: bad arguments (M %d N %d K %d, B dtype %s)", a->M, a->N, a->K, srt_dtype_name(a->b_dtype));
    if (a->b_dtype == SRT_I8 && (!a->trans_b || !a->b_scale))
        return BAD("gemm: int8 B needs trans_b (a (N,K) Linear weight) and its per-channel b_scale (N)");
    int a_row = a->trans_a ? a->M : a->K, b_row = a->trans_b ? a->K : a->N;
    if ((a->M && a->K && a->lda < a_row) || (a->K && a->N && a->ldb < b_row) || (a->M && a->N && a->ldc < a->N))
        return BAD("gemm: leading dimensions lda %d ldb %d ldc %d too small for M %d N %d K %d", a->lda, a->ldb,
                   a->ldc, a->M, a->N, a->K);
    return SRT_OK;
}

srt_status srt_check_layernorm_args(const srt_layernorm_args *a) {
    if (a->rows < 0 || a->dim < 1 || (a->rows && (!a->x || !a->gamma || !a->y)))
        return BAD("layernorm: rows %d dim %d", a->rows, a->dim);
    return SRT_OK;
}

srt_status srt_check_transpose_args(const srt_transpose_args *a) {
    if (a->batch < 0 || a->rows < 0 || a->cols < 0 ||
        (((int64_t)a->batch * a->rows * a->cols) != 0 && (!a->x || !a->y)))
        return BAD("transpose: batch %d rows %d cols %d", a->batch, a->rows, a->cols);
    if (a->x == a->y) return BAD("transpose: x and y must not alias");
    return SRT_OK;
}

srt_status srt_check_local_attn_args(const srt_local_attn_args *a) {
    if (a->batch < 0 || a->heads < 1 || a->head_dim < 2 || a->window < 1 || a->len < 0 || a->len % a->window ||
        a->head_dim % 2 || (((int64_t)a->batch * a->len) != 0 && (!a->qkv || !a->out)))
        return BAD("local_attention: len %d not a multiple of window %d (head_dim %d, heads %d)", a->len, a->window,
                   a->head_dim, a->heads);
    return SRT_OK;
}

srt_status srt_check_avgpool_args(const srt_avgpool_args *a) {
    if (a->batch < 0 || a->ch < 0 || a->len < 0 || a->kernel < 1 ||
        (((int64_t)a->batch * a->ch * a->len) != 0 && (!a->x || !a->y)))
        return BAD("avgpool: batch %d ch %d len %d kernel %d", a->batch, a->ch, a->len, a->kernel);
    return SRT_OK;
}

srt_status srt_check_upsample_add_args(const srt_upsample_add_args *a) {
    if (a->batch < 0 || a->ch < 0 || a->len < 0 || a->factor < 1 ||
        (((int64_t)a->batch * a->ch * a->len) != 0 && (!a->x || !a->y)))
        return BAD("upsample_add: batch %d ch %d len %d factor %d", a->batch, a->ch, a->len, a->factor);
    return SRT_OK;
}

srt_status srt_check_vq_args(const srt_vq_args *a) {
    if (a->batch < 0 || a->len < 0 || a->dim < 1 || a->n_codes < 1 ||
        (((int64_t)a->batch * a->len) != 0 && (!a->z || !a->codebook_n || !a->codes)))
        return BAD("vq_nearest: batch %d dim %d len %d, %d codes", a->batch, a->dim, a->len, a->n_codes);
    return SRT_OK;
}

srt_status srt_check_embed_args(const srt_embed_args *a) {
    if (a->batch < 0 || a->dim < 0 || a->len < 0 || a->n_codes < 1 ||
        (((int64_t)a->batch * a->dim * a->len) != 0 && (!a->codebook || !a->codes || !a->y)))
        return BAD("embed: batch %d dim %d len %d, %d codes", a->batch, a->dim, a->len, a->n_codes);
    return SRT_OK;
}

srt_status srt_check_unary_args(const srt_unary_args *a) {
    if (a->op != SRT_UNARY_TANH && a->op != SRT_UNARY_COPY && a->op != SRT_UNARY_SCALE)
        return BAD("unary: unknown op %d", (int)a->op);
    if (a->n < 0 || (a->n && (!a->x || !a->y))) return BAD("unary: n %lld", (long long)a->n);
    return SRT_OK;
}

srt_status srt_check_axpby_args(const srt_axpby_args *a) {
    if (a->n < 0 || (a->n && (!a->x || !a->y))) return BAD("axpby: n %lld", (long long)a->n);
    return SRT_OK;
}

srt_status srt_check_noise_add_args(const srt_noise_add_args *a) {
    if (a->batch < 0 || a->ch < 0 || a->len < 0 ||
        (((int64_t)a->batch * a->ch * a->len) != 0 && (!a->noise || !a->h || !a->x)))
        return BAD("noise_add: batch %d ch %d len %d", a->batch, a->ch, a->len);
    return SRT_OK;
}

srt_status srt_check_copy2d_args(const srt_copy2d_args *a) {
    if (a->rows < 0 || a->cols < 0 || a->x_ld < 0 || (a->rows > 1 && a->y_ld < a->cols) ||
        ((int64_t)a->rows * a->cols != 0 && (!a->x || !a->y)))
        return BAD("copy2d: rows %d cols %d x_ld %lld y_ld %lld", a->rows, a->cols, (long long)a->x_ld,
                   (long long)a->y_ld);
    if ((int64_t)a->rows * a->cols == 0) return SRT_OK;
    uintptr_t x0 = (uintptr_t)a->x, y0 = (uintptr_t)a->y;   /* byte ranges touched */
    uintptr_t x1 = x0 + sizeof(float) * (uintptr_t)((a->rows - 1) * a->x_ld + a->cols);
    uintptr_t y1 = y0 + sizeof(float) * (uintptr_t)((a->rows - 1) * a->y_ld + a->cols);
    if (x0 < y1 && y0 < x1) return BAD("copy2d: x and y overlap");
    return SRT_OK;
}

/* Each block as copy2d; that blocks do not overlap each other is the caller's contract (strided blocks interleave,
 * e.g. two column ranges of one window, so bounding ranges cannot tell). */
srt_status srt_check_copy2d_batch_args(const srt_copy2d_batch_args *a) {
    if (a->n < 0 || (a->n > 0 && !a->items)) return BAD("copy2d_batch: n %d items %p", a->n, (const void *)a->items);
    for (int i = 0; i < a->n; i++) {
        srt_status st = srt_check_copy2d_args(&a->items[i]);
        if (st != SRT_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", srt_last_error());
            return srt_error(st, "copy2d_batch: block %d: %s", i, why);
        }
    }
    return SRT_OK;
}

/* ---- language-model ops ---- */

srt_status srt_check_rmsnorm_args(const srt_rmsnorm_args *a) {
    if (a->rows < 0 || a->dim < 1 || (a->rows && (!a->x || !a->w || !a->y)))
        return BAD("rmsnorm: rows %d dim %d", a->rows, a->dim);
    return SRT_OK;
}

srt_status srt_check_rope_args(const srt_rope_args *a) {
    if (a->n_tokens < 0 || a->n_heads < 1 || a->head_dim < 2 || a->head_dim % 2 ||
        (a->n_tokens && (!a->pos || !a->inv_freq || !a->x)))
        return BAD("rope: tokens %d heads %d head_dim %d (head_dim must be even)", a->n_tokens, a->n_heads,
                   a->head_dim);
    return SRT_OK;
}

srt_status srt_check_kv_store_args(const srt_kv_store_args *a) {
    if (a->n_tokens < 0 || a->kv_dim < 1 ||
        (a->n_tokens && (!a->k || !a->v || !a->slot || !a->k_cache || !a->v_cache)))
        return BAD("kv_store: tokens %d kv_dim %d", a->n_tokens, a->kv_dim);
    if (a->kv_dtype != SRT_F32 && a->kv_dtype != SRT_BF16 && a->kv_dtype != SRT_F8E4M3)
        return BAD("kv_store: KV cache dtype %s (f32, bf16 or f8e4m3)", srt_dtype_name(a->kv_dtype));
    if (a->kv_dtype == SRT_F8E4M3 && (a->head_dim < 1 || a->kv_dim % a->head_dim || a->block_size < 1 ||
                                      (a->n_tokens && (!a->k_scale || !a->v_scale))))
        return BAD("kv_store: fp8 KV cache with head_dim %d, kv_dim %d, block_size %d%s", a->head_dim, a->kv_dim,
                   a->block_size, !a->k_scale || !a->v_scale ? ", no row scales" : "");
    return SRT_OK;
}

srt_status srt_check_paged_attn_seqs(const srt_paged_attn_args *a, const int32_t *n_q, const int32_t *ctx_len) {
    for (int s = 0; s < a->n_seqs; s++)
        if (n_q[s] < 0 || n_q[s] > ctx_len[s] || (int64_t)ctx_len[s] > (int64_t)a->max_blocks * a->block_size)
            return BAD("paged_attention: sequence %d has %d queries, %d cached tokens, room for %lld", s, n_q[s],
                       ctx_len[s], (long long)a->max_blocks * a->block_size);
    return SRT_OK;
}

srt_status srt_check_paged_attn_args(const srt_paged_attn_args *a, int host_memory) {
    if (a->n_seqs < 0 || a->n_heads < 1 || a->n_kv_heads < 1 || a->head_dim < 1 || a->block_size < 1 ||
        a->max_blocks < 0 || a->n_heads % a->n_kv_heads)
        return BAD("paged_attention: bad shape (%d sequences, heads %d, kv heads %d, head_dim %d, block_size %d)",
                   a->n_seqs, a->n_heads, a->n_kv_heads, a->head_dim, a->block_size);
    if (a->n_seqs && (!a->q || !a->k_cache || !a->v_cache || !a->block_table || !a->q_start || !a->n_q ||
                      !a->ctx_len || !a->out))
        return BAD("paged_attention: %d sequences with a NULL tensor", a->n_seqs);
    if (a->kv_dtype != SRT_F32 && a->kv_dtype != SRT_BF16 && a->kv_dtype != SRT_F8E4M3)
        return BAD("paged_attention: KV cache dtype %s (f32, bf16 or f8e4m3)", srt_dtype_name(a->kv_dtype));
    if (a->kv_dtype == SRT_F8E4M3 && a->n_seqs && (!a->k_scale || !a->v_scale))
        return BAD("paged_attention: fp8 KV cache without row scales");
    return host_memory ? srt_check_paged_attn_seqs(a, a->n_q, a->ctx_len) : SRT_OK;
}

srt_status srt_check_swiglu_args(const srt_swiglu_args *a) {
    if (a->n < 0 || (a->n && (!a->gate || !a->up || !a->out))) return BAD("swiglu: n %lld", (long long)a->n);
    return SRT_OK;
}

srt_status srt_check_embedding_args(const srt_embedding_args *a) {
    if (a->dtype != SRT_F32 && a->dtype != SRT_F16 && a->dtype != SRT_BF16)
        return srt_error(SRT_ERR_UNSUPPORTED, "embedding: table dtype %s", srt_dtype_name(a->dtype));
    if (a->n_tokens < 0 || a->dim < 0 || a->n_rows < 0 ||
        (((int64_t)a->n_tokens * a->dim) != 0 && (!a->table || !a->ids || !a->y)))
        return BAD("embedding: tokens %d dim %d rows %d", a->n_tokens, a->dim, a->n_rows);
    return SRT_OK;
}

srt_status srt_check_add_bias_args(const srt_add_bias_args *a) {
    if (a->rows < 0 || a->cols < 0 || (((int64_t)a->rows * a->cols) != 0 && (!a->bias || !a->x)))
        return BAD("add_bias: rows %d cols %d", a->rows, a->cols);
    return SRT_OK;
}

srt_status srt_check_gather_rows_args(const srt_gather_rows_args *a) {
    if (a->n_out < 0 || a->cols < 0 || (((int64_t)a->n_out * a->cols) != 0 && (!a->idx || !a->x || !a->y)))
        return BAD("gather_rows: n_out %d cols %d", a->n_out, a->cols);
    if (a->n_out && a->cols && a->x == a->y) return BAD("gather_rows: y must not alias x");
    return SRT_OK;
}

srt_status srt_check_sample_args(const srt_sample_args *a) {
    if (a->n_rows < 0 || a->vocab < 1 || (a->n_rows && (!a->logits || !a->rows || !a->ids)))
        return BAD("sample: %d rows of vocabulary %d", a->n_rows, a->vocab);
    for (int r = 0; r < a->n_rows; r++) {
        const srt_sample_row *row = &a->rows[r];
        if (row->begin < 0 || row->end <= row->begin || row->end > a->vocab || row->n_pen < 0 || row->pen_start < 0 ||
            (row->n_pen && !a->pen) || !(row->inv_temp >= 0 && row->inv_temp < INFINITY) || !(row->u >= 0 && row->u < 1))
            return BAD("sample: row %d: allowed [%d, %d) of vocabulary %d, %d penalties, inv_temp %g, u %g", r,
                       row->begin, row->end, a->vocab, row->n_pen, row->inv_temp, row->u);
    }
    return SRT_OK;
}

srt_status srt_check_mask_rows_args(const srt_mask_rows_args *a) {
    if (a->n_rows < 0 || a->vocab < 1 || (a->n_rows && (!a->logits || !a->rows)))
        return BAD("mask_rows: %d rows of vocabulary %d", a->n_rows, a->vocab);
    for (int r = 0; r < a->n_rows; r++) {
        const srt_mask_row *m = &a->rows[r];
        if (m->clear_begin < 0 || m->clear_end < m->clear_begin || m->clear_end > a->vocab || m->keep_begin < 0 ||
            m->keep_end < m->keep_begin || m->keep_end > a->vocab || m->keep_id < -1 || m->keep_id >= a->vocab)
            return BAD("mask_rows: row %d: clear [%d, %d), keep [%d, %d) and %d, vocabulary %d", r, m->clear_begin,
                       m->clear_end, m->keep_begin, m->keep_end, m->keep_id, a->vocab);
    }
    return SRT_OK;
}
