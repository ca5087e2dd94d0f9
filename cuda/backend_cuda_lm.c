/* backend_cuda_lm.c: the language-model op table of the "cuda" backend (srt_backend_ops.lm; semantics in
 * host/lm/lm_ops.h). Kernels are in cuda/lm_*.cuh; the transformer's GEMMs use the main table's gemm (cublas.c).
 * paged_attention reads the batch's n_q / ctx_len back to the host (2 * n_seqs ints, one stream sync) to check
 * them and size its grids; embedding syncs once to report an out-of-range token id. */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/lm_kernels.h"
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

/* Host copies of n_q and ctx_len: check them and derive the launch plan. */
static srt_status attn_plan(srt_cuda_ctx *c, const srt_paged_attn_args *a, srt_cuda_attn_plan *plan) {
    memset(plan, 0, sizeof *plan);
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
    srt_paged_attn_args h = *a;
    h.n_q = host;
    h.ctx_len = host + n;
    if (st == SRT_OK) st = srt_check_paged_attn_args(&h);
    for (int s = 0; st == SRT_OK && s < n; s++) {
        if (h.n_q[s] > plan->max_n_q) plan->max_n_q = h.n_q[s];
        if (h.ctx_len[s] > plan->max_ctx) plan->max_ctx = h.ctx_len[s];
        plan->any_decode |= h.n_q[s] == 1;
        plan->any_prefill |= h.n_q[s] > 1;
    }
    free(host);
    return st;
}

static srt_status cu_paged_attention(void *ctx, const srt_paged_attn_args *a) {
    srt_cuda_ctx *c = ctx;
    if (a->n_seqs < 0) return srt_error(SRT_ERR_INVALID_ARG, "paged_attention: %d sequences", a->n_seqs);
    if (a->n_seqs == 0) return SRT_OK;
    srt_cuda_attn_plan plan;
    SRT_TRY(attn_plan(c, a, &plan));
    size_t n_part = srt_cuda_lm_attn_partials_floats(a, &plan);
    void *partials = NULL;
    if (n_part) SRT_TRY(srt_cuda_scratch(c, 1, n_part * sizeof(float), &partials));
    return srt_cuda_lm_paged_attention(a, &plan, partials, c->stream);
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
};
