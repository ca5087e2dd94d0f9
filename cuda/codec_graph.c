/* codec_graph.c: recorded codec passes of the "cuda" backend (srt_backend_ops.graph_run): a SNAC encode or decode
 * body (host/snac/codec_api.c, one per batch bucket and length bucket) is captured into a CUDA graph by
 * lm_graph.c's table (first call eager, second recorded, later replayed) and replayed with one cudaGraphLaunch.
 * Two things the body hands to its ops change from call to call without changing the key; each call therefore
 * first runs the body as a host-only "shadow" pass (every op returns at once, nothing is enqueued):
 *   in_valid     every op's valid lengths (host arrays) are collected, in call order, into one table that is
 *                uploaded with one copy before the pass; the ops then read their row of the device table, so a
 *                replay sees this call's lengths (no per-op pageable copy, which a graph could not hold either);
 *   allocations  the body's work buffers come from a list of preallocated blocks kept across calls (block i serves
 *                the body's i-th allocation and only grows), so nothing is allocated on the hot path and the
 *                pointers a recording holds stay valid and unused by anyone else.
 * The recording's key is the caller's key mixed with the blocks' and the table's addresses and the precision. */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/lm_kernels.h"
#include <string.h>

enum { CG_MAX_BLOCKS = 64 };

typedef struct codec_graph {
    srt_cuda_block held[CG_MAX_BLOCKS];   /* the body's work buffers, by allocation order */
    int n_held, n_used;                   /* blocks; allocations of the current pass */
    int *vt_host;                         /* in_valid table of the current call (host) */
    int *vt_dev;                          /* its device copy */
    size_t vt_cap, vt_dev_cap, vt_used;   /* ints: host table, device table, used by the current pass */
    srt_codec_graph_body body;            /* the body of the current call, run by run_pass */
    void *arg;
} codec_graph;

void srt_cuda_codec_graph_free(srt_cuda_ctx *c) {
    codec_graph *g = c->codec_graph;
    if (!g) return;
    for (int i = 0; i < g->n_held; i++) srt_cuda_pool_free(&c->pool, g->held[i].ptr);
    if (g->vt_dev) srt_cuda_pool_free(&c->pool, g->vt_dev);
    free(g->vt_host);
    free(g);
    c->codec_graph = NULL;
}

srt_status srt_cuda_cg_alloc(srt_cuda_ctx *c, size_t bytes, void **ptr) {
    codec_graph *g = c->codec_graph;
    int i = g->n_used;
    if (c->cg_mode == SRT_CUDA_CG_RUN) {   /* the shadow pass made the same allocations */
        if (i >= g->n_held || g->held[i].bytes < bytes)
            return srt_error(SRT_ERR_BACKEND, "recorded codec pass: allocation %d of %zu bytes differs from its "
                             "shadow pass", i, bytes);
    } else {
        if (i >= CG_MAX_BLOCKS)
            return srt_error(SRT_ERR_BACKEND, "recorded codec pass: more than %d work buffers", CG_MAX_BLOCKS);
        if (i < g->n_held && g->held[i].bytes < bytes) {           /* grow block i (its recordings go stale) */
            srt_cuda_pool_free(&c->pool, g->held[i].ptr);
            g->held[i].ptr = NULL;
            g->held[i].bytes = 0;
            SRT_TRY(srt_cuda_pool_alloc(&c->pool, bytes, &g->held[i].ptr));
            g->held[i].bytes = bytes;
        }
        if (i >= g->n_held) {
            srt_cuda_block b = {NULL, bytes};
            SRT_TRY(srt_cuda_pool_alloc(&c->pool, bytes, &b.ptr));
            g->held[g->n_held++] = b;
            i = g->n_held - 1;
        }
    }
    g->n_used = i + 1;
    *ptr = g->held[i].ptr;
    return SRT_OK;
}

int srt_cuda_cg_free(srt_cuda_ctx *c, void *ptr) {
    codec_graph *g = c->codec_graph;
    for (int i = 0; i < g->n_held; i++)
        if (g->held[i].ptr == ptr) return 1;   /* kept for the next call */
    return 0;
}

srt_status srt_cuda_cg_valid(srt_cuda_ctx *c, const int *in_valid, int batch, int in_len, const int **dev) {
    codec_graph *g = c->codec_graph;
    if (c->cg_mode == SRT_CUDA_CG_SHADOW) {
        if (g->vt_used + (size_t)batch > g->vt_cap) {
            size_t cap = (g->vt_used + (size_t)batch) * 2 + 256;
            int *h = realloc(g->vt_host, cap * sizeof(int));
            if (!h) return srt_error(SRT_ERR_NOMEM, "recorded codec pass: no memory for the valid-length table");
            g->vt_host = h;
            g->vt_cap = cap;
        }
        for (int b = 0; b < batch; b++) {
            int v = in_valid[b];
            g->vt_host[g->vt_used + (size_t)b] = v < 0 ? 0 : v > in_len ? in_len : v;
        }
        *dev = NULL;                 /* the op returns at once */
    } else {
        if (g->vt_used + (size_t)batch > g->vt_dev_cap)
            return srt_error(SRT_ERR_BACKEND, "recorded codec pass: more valid lengths than its shadow pass");
        *dev = g->vt_dev + g->vt_used;
    }
    g->vt_used += (size_t)batch;
    return SRT_OK;
}

/* The body as lm_graph.c runs it (eagerly, or while recording): allocations and valid rows from the start. */
static srt_status run_pass(void *arg) {
    srt_cuda_ctx *c = arg;
    codec_graph *g = c->codec_graph;
    g->n_used = 0;
    g->vt_used = 0;
    return g->body(g->arg);
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

srt_status srt_cuda_codec_graph_run(void *ctx, uint64_t key, srt_codec_graph_body body, void *arg) {
    srt_cuda_ctx *c = ctx;
    srt_status on = srt_cuda_lm_graph_run(ctx, 0, NULL, NULL);   /* SNACRT_CUDA_GRAPHS, capture available */
    if (!body) return on;
    if (on != SRT_OK) return body(arg);
    if (!c->codec_graph) {
        c->codec_graph = srt_calloc(1, sizeof(codec_graph), "recorded codec passes");
        if (!c->codec_graph) return SRT_ERR_NOMEM;
    }
    codec_graph *g = c->codec_graph;
    g->body = body;
    g->arg = arg;
    /* shadow pass: the valid table and the work buffers, nothing enqueued */
    g->n_used = 0;
    g->vt_used = 0;
    c->cg_mode = SRT_CUDA_CG_SHADOW;
    srt_status st = body(arg);
    c->cg_mode = 0;
    SRT_TRY(st);
    if (g->vt_used > g->vt_dev_cap || !g->vt_dev) {    /* grow the device table (its recordings go stale) */
        if (g->vt_dev) srt_cuda_pool_free(&c->pool, g->vt_dev);
        g->vt_dev = NULL;
        g->vt_dev_cap = 0;
        size_t cap = g->vt_cap > 256 ? g->vt_cap : 256;
        SRT_TRY(srt_cuda_pool_alloc(&c->pool, cap * sizeof(int), (void **)&g->vt_dev));
        g->vt_dev_cap = cap;
    }
    if (g->vt_used) SRT_TRY(srt_cuda_upload(c, g->vt_dev, g->vt_host, g->vt_used * sizeof(int)));
    uint64_t k = mix(mix(mix(key, (uint64_t)(uintptr_t)g->vt_dev), (uint64_t)c->precision), (uint64_t)g->n_used);
    for (int i = 0; i < g->n_used; i++) k = mix(k, (uint64_t)(uintptr_t)g->held[i].ptr);
    size_t shadow_rows = g->vt_used;
    int shadow_allocs = g->n_used;
    c->cg_mode = SRT_CUDA_CG_RUN;
    st = srt_cuda_lm_graph_run(ctx, k, run_pass, c);
    c->cg_mode = 0;
    if (st == SRT_OK && (g->vt_used != shadow_rows || g->n_used != shadow_allocs))
        return srt_error(SRT_ERR_BACKEND, "recorded codec pass: the body ran differently from its shadow pass");
    return st;
}
