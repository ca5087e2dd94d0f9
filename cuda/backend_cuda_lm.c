/* backend_cuda_lm.c: the language-model op table of the "cuda" backend (srt_backend_ops.lm; semantics in
 * host/lm/lm_ops.h). Kernels are in cuda/lm_*.cuh; the transformer's GEMMs use the main table's gemm (cublas.c).
 * paged_attention_planned sizes its grids from the forward's host plan (no device read: a decode step launches
 * every layer without waiting); plain paged_attention reads n_q / ctx_len back (2 * n_seqs ints, one sync).
 * embedding syncs once to report an out-of-range token id, except while a stream capture records the forward
 * (the forward checked the ids on the host). sample stages the rows and penalties, launches lm_sample.cuh and
 * reads back only the ids; rope_store_attention runs rope, KV store and decode attention as one launch (the
 * decode kernel's fused prologue; with an fp8 KV cache as two: rope + rope + the fp8 store in one launch,
 * lm_rope_kv_store_fp8.cuh, then attention) and the decode kernel merges its own splits (no combine launch); mask_rows stages its rows and launches lm_mask_rows.cuh (no sync). graph_run (recorded decode steps) is in lm_graph.c.
 * qkv_rope_store_attention (prefill) hands the q|k|v product straight to the rope + store and the attention's bf16
 * output to the o projection (cu_qkv_rope_store_attention).
 * linear_fused (RMSNorm + fused q|k|v, interleaved gate|up + SwiGLU) is one gemm_small_m.cuh launch (norm prologue, epilogue)
 * for half weights and <= srt_cuda_small_m_limit rows; above it bf16 weights (single / split mode) take lm_linear_split.c
 * (one rounding / split with the norm, one GEMM, one sum with the epilogue), others the parts as GEMMs (srt_linear_fused_by_ops).
 * int8 weights (docs/int8-weights.md) take the int8 small-M kernel up to SRT_CUDA_GEMM_ROWS_MAX_M rows, above it a
 * bf16 copy of the fused weight (dequant_i8.cuh) and the bf16 path. */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/kernels.h"
#include "cuda/lm_kernels.h"
#include "backend_check.h"
#include <stdlib.h>
#include <string.h>

static srt_status cu_rmsnorm(void *ctx, const srt_rmsnorm_args *a) { return srt_cuda_lm_rmsnorm(a, ((srt_cuda_ctx *)ctx)->stream); }
static srt_status cu_rope(void *ctx, const srt_rope_args *a) { return srt_cuda_lm_rope(a, ((srt_cuda_ctx *)ctx)->stream); }
static srt_status cu_kv_store(void *ctx, const srt_kv_store_args *a) { return srt_cuda_lm_kv_store(a, ((srt_cuda_ctx *)ctx)->stream); }
static srt_status cu_swiglu(void *ctx, const srt_swiglu_args *a) { return srt_cuda_lm_swiglu(a, ((srt_cuda_ctx *)ctx)->stream); }
static srt_status cu_add_bias(void *ctx, const srt_add_bias_args *a) { return srt_cuda_lm_add_bias(a, ((srt_cuda_ctx *)ctx)->stream); }
static srt_status cu_gather_rows(void *ctx, const srt_gather_rows_args *a) { return srt_cuda_lm_gather_rows(a, ((srt_cuda_ctx *)ctx)->stream); }

static srt_status cu_embedding(void *ctx, const srt_embedding_args *a) {
    srt_cuda_ctx *c = ctx;
    if ((int64_t)a->n_tokens * a->dim == 0) return srt_cuda_lm_embedding(a, c->flag_dev, c->stream);
    enum cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    SRT_CHECK_CUDA(cudaStreamIsCapturing(c->stream, &capture));
    if (capture != cudaStreamCaptureStatusNone) return srt_cuda_lm_embedding(a, c->flag_dev, c->stream);
    SRT_CHECK_CUDA(cudaMemsetAsync(c->flag_dev, 0x7f, sizeof(int), c->stream));
    SRT_TRY(srt_cuda_lm_embedding(a, c->flag_dev, c->stream));
    int bad = 0;
    SRT_CHECK_CUDA(cudaMemcpyAsync(&bad, c->flag_dev, sizeof bad, cudaMemcpyDeviceToHost, c->stream));
    SRT_CHECK_CUDA(cudaStreamSynchronize(c->stream));
    if (bad != 0x7f7f7f7f) {
        int32_t id = 0;
        SRT_CHECK_CUDA(cudaMemcpy(&id, a->ids + bad, sizeof id, cudaMemcpyDeviceToHost));
        return srt_error(SRT_ERR_RANGE, "embedding: token id %d at position %d outside [0, %d)", (int)id, bad,
                         a->n_rows);
    }
    return SRT_OK;
}

/* Check the host copies of n_q / ctx_len and derive the launch plan; capacity: contexts the launch must cover. */
static srt_status plan_from_host(const srt_paged_attn_args *a, const int32_t *n_q, const int32_t *ctx_len,
                                 int capacity, srt_cuda_attn_plan *plan) {
    memset(plan, 0, sizeof *plan);
    SRT_TRY(srt_check_paged_attn_seqs(a, n_q, ctx_len));   /* the dispatch layer could not read them */
    for (int s = 0; s < a->n_seqs; s++) {
        if (n_q[s] > plan->max_n_q) plan->max_n_q = n_q[s];
        if (ctx_len[s] > plan->max_ctx) plan->max_ctx = ctx_len[s];
        plan->any_decode |= n_q[s] == 1;
        plan->any_prefill |= n_q[s] > 1;
    }
    if (capacity > a->max_blocks * a->block_size)
        return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: context capacity %d beyond the block tables' %d",
                         capacity, a->max_blocks * a->block_size);
    if (capacity > plan->max_ctx) plan->max_ctx = capacity;
    return SRT_OK;
}

static srt_status launch_attention(srt_cuda_ctx *c, const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan,
                                   const srt_cuda_attn_fuse *fuse) {
    size_t n_part = srt_cuda_lm_attn_partials_floats(a, plan);
    void *partials = NULL;
    if (n_part) SRT_TRY(srt_cuda_scratch(c, 1, n_part * sizeof(float), &partials));
    return srt_cuda_lm_paged_attention(a, plan, partials, c->attn_counters, fuse, c->stream);
}

/* Without a host plan: read n_q and ctx_len back (one stream sync). */
static srt_status cu_paged_attention(void *ctx, const srt_paged_attn_args *a) {
    srt_cuda_ctx *c = ctx;
    if (a->n_seqs < 0) return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: %d sequences", a->n_seqs);
    if (a->n_seqs == 0) return SRT_OK;
    int n = a->n_seqs;
    int32_t *host = srt_malloc(sizeof(int32_t) * 2 * (size_t)n, "paged_attention n_q/ctx_len staging");
    if (!host) return SRT_ERR_NOMEM;
    srt_status st = SRT_OK;
    cudaError_t e = cudaMemcpyAsync(host, a->n_q, sizeof(int32_t) * (size_t)n, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(host + n, a->ctx_len, sizeof(int32_t) * (size_t)n, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess)
        st = srt_error(srt_cuda_status_of(e), "paged_attention: reading n_q/ctx_len of %d sequences: %s (%s)", n,
                       cudaGetErrorName(e), cudaGetErrorString(e));
    srt_cuda_attn_plan plan;
    if (st == SRT_OK) st = plan_from_host(a, host, host + n, 0, &plan);
    free(host);
    SRT_TRY(st);
    return launch_attention(c, a, &plan, NULL);
}

static srt_status cu_paged_attention_planned(void *ctx, const srt_paged_attn_args *a, const srt_attn_host_plan *hp) {
    srt_cuda_ctx *c = ctx;
    if (a->n_seqs < 0 || (a->n_seqs > 0 && (!hp->n_q || !hp->ctx_len)))
        return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: %d sequences without a host plan", a->n_seqs);
    if (a->n_seqs == 0) return SRT_OK;
    srt_cuda_attn_plan plan;
    SRT_TRY(plan_from_host(a, hp->n_q, hp->ctx_len, hp->ctx_capacity, &plan));
    return launch_attention(c, a, &plan, NULL);
}

/* Prefill / mixed batches (the dispatch checked the args): rope, rope and the KV store in one launch
 * (lm_rope_kv_store.cuh; an fp8 cache, a row scale per token and KV head: lm_rope_kv_store_fp8.cuh, one warp per
 * row); fp8 heads above SRT_CUDA_RKV_FP8_MAX_HEAD_DIM as the three launches. */
static srt_status cu_rope_kv_store(void *ctx, const srt_rope_store_attn_args *a) {
    srt_cuda_ctx *c = ctx;
    const srt_paged_attn_args *at = &a->attn;
    if (at->kv_dtype != SRT_F8E4M3) return srt_cuda_lm_rope_kv_store(a, c->stream);
    if (at->head_dim <= SRT_CUDA_RKV_FP8_MAX_HEAD_DIM) return srt_cuda_lm_rope_kv_store_fp8(a, c->stream);
    srt_rope_args rq = {a->n_tokens, at->n_heads, at->head_dim, a->pos, a->inv_freq, (float *)at->q};
    srt_rope_args rk = {a->n_tokens, at->n_kv_heads, at->head_dim, a->pos, a->inv_freq, a->k};
    srt_kv_store_args st = {a->n_tokens, at->n_kv_heads * at->head_dim, a->k, a->v, a->slot, (void *)at->k_cache,
                            (void *)at->v_cache, at->kv_dtype, at->head_dim, at->block_size, (float *)at->k_scale,
                            (float *)at->v_scale};
    SRT_TRY(srt_cuda_lm_rope(&rq, c->stream));
    SRT_TRY(srt_cuda_lm_rope(&rk, c->stream));
    return srt_cuda_lm_kv_store(&st, c->stream);
}

/* Decode-only batches (the dispatch checked the plan): rope, KV store and attention in the decode kernel. */
static srt_status cu_rope_store_attention(void *ctx, const srt_rope_store_attn_args *a, const srt_attn_host_plan *hp) {
    srt_cuda_ctx *c = ctx;
    if (a->attn.n_seqs == 0) return SRT_OK;
    srt_cuda_attn_plan plan;
    SRT_TRY(plan_from_host(&a->attn, hp->n_q, hp->ctx_len, hp->ctx_capacity, &plan));
    if (a->attn.kv_dtype == SRT_F8E4M3) {   /* the fused prologue keeps no row scales: rope + store, attention */
        SRT_TRY(cu_rope_kv_store(ctx, a));
        return launch_attention(c, &a->attn, &plan, NULL);
    }
    srt_cuda_attn_fuse fuse = {a->k, a->v, a->pos, a->slot, a->inv_freq};
    return launch_attention(c, &a->attn, &plan, &fuse);
}

/* Prefill / mixed batches (the dispatch checked every argument): q|k|v, rope, KV store and attention. In LM
 * precision bf16 above the small-M rows (f32 / bf16 caches): the norm + rounding and the GEMM leave the q|k|v product
 * in scratch slot 0 (srt_cuda_linear_qkv_product), the rope + store reads it (no scatter launch), and when the
 * tensor-core prefill kernel writes every row of out (no decode rows, the sequences' n_q summing to n_tokens) its
 * epilogue also writes bf16(out) into slot 0 and hands it to the next GEMM (the o projection; cublas.c): four
 * launches where the parts take six. Otherwise the parts as the ops do them. */
static srt_status cu_linear_fused(void *ctx, const srt_linear_fused_args *a);
static srt_status cu_qkv_rope_store_attention(void *ctx, const srt_linear_fused_args *lin,
                                              const srt_rope_store_attn_args *a, const srt_attn_host_plan *hp) {
    srt_cuda_ctx *c = ctx;
    const srt_paged_attn_args *at = &a->attn;
    srt_cuda_attn_plan plan;
    SRT_TRY(plan_from_host(at, hp->n_q, hp->ctx_len, hp->ctx_capacity, &plan));
    const float *qkv = NULL;
    if (at->kv_dtype != SRT_F8E4M3 && c->prefill_fuse) SRT_TRY(srt_cuda_linear_qkv_product(c, lin, &qkv));
    if (qkv) {
        SRT_TRY(srt_cuda_lm_rope_kv_store_from(a, qkv, lin->N, c->stream));
    } else {
        SRT_TRY(cu_linear_fused(ctx, lin));
        SRT_TRY(cu_rope_kv_store(ctx, a));
    }
    int64_t rows = 0;
    for (int s = 0; s < at->n_seqs; s++) rows += hp->n_q[s];
    const int hand_off = qkv && !plan.any_decode && plan.any_prefill && rows == a->n_tokens &&
                         srt_cuda_lm_prefill_tc_fits(at);
    const int64_t cols = (int64_t)at->n_heads * at->head_dim;
    void *buf = NULL;
    if (hand_off) {   /* slot 0 held the product the rope has read (stream order) */
        SRT_TRY(srt_cuda_scratch(c, 0, (size_t)rows * cols * sizeof(uint16_t), &buf));
        plan.out_bf16 = buf;
    }
    SRT_TRY(launch_attention(c, at, &plan, NULL));
    if (hand_off) {
        c->swiglu_of = at->out;
        c->swiglu_bf16 = buf;
        c->swiglu_rows = rows;
        c->swiglu_cols = cols;
    }
    return SRT_OK;
}

/* Stage rows + penalties in one device buffer, pick on the device, read back the ids only. */
static srt_status cu_sample(void *ctx, const srt_sample_args *a) {
    srt_cuda_ctx *c = ctx;
    if (a->n_rows == 0) return SRT_OK;
    size_t n_pen = 0;
    for (int r = 0; r < a->n_rows; r++) {
        size_t end = (size_t)a->rows[r].pen_start + (size_t)a->rows[r].n_pen;
        if (end > n_pen) n_pen = end;
    }
    size_t rows_bytes = sizeof(srt_sample_row) * (size_t)a->n_rows, pen_bytes = sizeof(srt_sample_penalty) * n_pen;
    size_t pen_off = (rows_bytes + 255) / 256 * 256, ids_off = pen_off + (pen_bytes + 255) / 256 * 256;
    char *dev = NULL;
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, ids_off + sizeof(int32_t) * (size_t)a->n_rows, (void **)&dev));
    srt_status st = SRT_OK;
    cudaError_t e = cudaMemcpyAsync(dev, a->rows, rows_bytes, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess && pen_bytes)
        e = cudaMemcpyAsync(dev + pen_off, a->pen, pen_bytes, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess)
        st = srt_cuda_lm_sample(a->logits, a->n_rows, a->vocab, (const srt_sample_row *)dev,
                                (const srt_sample_penalty *)(dev + pen_off), (int32_t *)(dev + ids_off), c->stream);
    if (e == cudaSuccess && st == SRT_OK)
        e = cudaMemcpyAsync(a->ids, dev + ids_off, sizeof(int32_t) * (size_t)a->n_rows, cudaMemcpyDeviceToHost,
                            c->stream);
    if (e == cudaSuccess && st == SRT_OK) e = cudaStreamSynchronize(c->stream);
    srt_cuda_pool_free(&c->pool, dev);
    if (e != cudaSuccess)
        return srt_error(srt_cuda_status_of(e), "sample: %d rows: %s (%s)", a->n_rows, cudaGetErrorName(e),
                         cudaGetErrorString(e));
    SRT_TRY(st);
    for (int r = 0; r < a->n_rows; r++)
        if (a->ids[r] < 0)
            return srt_error(SRT_ERR_RANGE, "sample: row %d: logit of id %d is NaN", r, -1 - a->ids[r]);
    return SRT_OK;
}

/* Upload the rows (stream-ordered: the pool block is handed out again only to later work on the same stream)
 * and mask on the device; no sync, nothing comes back. */
static srt_status cu_mask_rows(void *ctx, const srt_mask_rows_args *a) {
    srt_cuda_ctx *c = ctx;
    int max_width = 0;
    for (int r = 0; r < a->n_rows; r++) {
        int w = a->rows[r].clear_end - a->rows[r].clear_begin;
        if (w > max_width) max_width = w;
    }
    if (max_width == 0) return SRT_OK;
    size_t bytes = sizeof(srt_mask_row) * (size_t)a->n_rows;
    srt_mask_row *dev = NULL;
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, bytes, (void **)&dev));
    cudaError_t e = cudaMemcpyAsync(dev, a->rows, bytes, cudaMemcpyHostToDevice, c->stream);
    srt_status st = SRT_OK;
    if (e == cudaSuccess) st = srt_cuda_lm_mask_rows(a->logits, a->n_rows, a->vocab, dev, max_width, c->stream);
    srt_cuda_pool_free(&c->pool, dev);
    if (e != cudaSuccess)
        return srt_error(srt_cuda_status_of(e), "mask_rows: %d rows: %s (%s)", a->n_rows, cudaGetErrorName(e),
                         cudaGetErrorString(e));
    return st;
}

/* int8 weights above the small-M rows: the whole fused weight widened to bf16 with its scales (dequant_i8.cuh, scratch
 * slot 1), then the bf16 path. */
static srt_status linear_fused_i8_wide(srt_cuda_ctx *c, const srt_linear_fused_args *a) {
    void *buf = NULL;
    SRT_TRY(srt_cuda_scratch(c, 1, (size_t)a->N * a->K * sizeof(uint16_t), &buf));
    SRT_TRY(srt_cuda_dequant_i8_bf16(a->w, a->K, a->w_scale, a->N, a->K, buf, c->stream));
    srt_linear_fused_args b = *a;
    b.w = buf;
    b.w_dtype = SRT_BF16;
    b.w_scale = NULL;
    return cu_linear_fused(c, &b);
}

static srt_status cu_linear_fused(void *ctx, const srt_linear_fused_args *a) {
    srt_cuda_ctx *c = ctx;
    c->swiglu_of = NULL;   /* a SwiGLU hand-off (cublas.c) serves only the GEMM right after it */
    if (a->w_dtype == SRT_I8 && a->rows > srt_cuda_small_m_limit(c, SRT_I8)) return linear_fused_i8_wide(c, a);
    if (a->w_dtype == SRT_BF16 && srt_cuda_bf16_tensor_cores(c) && a->rows > c->small_m_rows)
        return srt_cuda_linear_fused_split(c, a);
    if (a->w_dtype == SRT_F32 || a->rows > srt_cuda_small_m_limit(c, a->w_dtype))
        return srt_linear_fused_by_ops(ctx, srt_cuda_gemm, cu_swiglu, cu_rmsnorm, a);
    srt_cuda_small_m_args s = {
        .g = {.M = a->rows, .N = a->N, .K = a->K, .trans_b = 1, .alpha = 1.0f, .A = a->x, .lda = a->K, .B = a->w,
              .ldb = a->K, .b_dtype = a->w_dtype, .b_scale = a->w_scale},
        .mode = a->mode == SRT_LINEAR_SWIGLU ? SRT_SMALL_M_SWIGLU : SRT_SMALL_M_SPLIT3, .n0 = a->n0, .n1 = a->n1,
        .y0 = a->y0, .y1 = a->y1, .y2 = a->y2, .ws = c->small_m_ws, .counters = c->small_m_counters,
        .norm_w = a->norm_w, .eps = a->eps};
    return srt_cuda_gemm_small_m(&s, c->stream);
}

const srt_lm_ops srt_cuda_lm_ops = {
    .rmsnorm = cu_rmsnorm,
    .rope = cu_rope,
    .kv_store = cu_kv_store,
    .paged_attention = cu_paged_attention,
    .swiglu = cu_swiglu,
    .embedding = cu_embedding,
    .add_bias = cu_add_bias,
    .gather_rows = cu_gather_rows,
    .paged_attention_planned = cu_paged_attention_planned,
    .sample = cu_sample,
    .mask_rows = cu_mask_rows,
    .graph_run = srt_cuda_lm_graph_run,
    .linear_fused = cu_linear_fused,
    .rope_store_attention = cu_rope_store_attention,
    .rope_kv_store = cu_rope_kv_store,
    .qkv_rope_store_attention = cu_qkv_rope_store_attention,
    .kv_dtype = SRT_BF16,
};
