/* lm_graph.c: recorded decode steps of the "cuda" backend (srt_lm_ops.graph_run): a forward body is captured
 * from the backend's stream into a CUDA graph and replayed with one cudaGraphLaunch per step, instead of some
 * ten launches per layer. Per key (the forward's bucket of batch size and context capacity plus its buffers'
 * epoch, host/lm/lm_forward.c), in a small least-recently-used table:
 *   first call    run the body eagerly (buffers reach their sizes; nothing may allocate while recording)
 *   second call   record it (stream capture, relaxed mode), instantiate, launch
 *   later calls   launch the recording, as long as the backend's work buffers (srt_cuda_scratch) are the ones
 *                 it captured; otherwise drop it and start again.
 * A capture that fails (an op synchronized, or a work buffer moved while recording) runs the body eagerly
 * instead; a failing capture API turns recording off for the context. SNACRT_CUDA_GRAPHS=0 turns it off. */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/lm_kernels.h"
#include <stdlib.h>
#include <string.h>

enum { GRAPH_ENTRIES = 32 };   /* batch buckets (lm_forward.c) x context buckets in use */
static const size_t CUBLAS_WORKSPACE_BYTES = (size_t)32 << 20;

typedef struct graph_entry {
    uint64_t key, last_use;
    int used, warm;           /* slot holds key; the body ran eagerly once for it */
    cudaGraphExec_t exec;     /* NULL until recorded */
    void *scratch[SRT_CUDA_SCRATCH_SLOTS];          /* the work buffers the recording uses */
    size_t scratch_bytes[SRT_CUDA_SCRATCH_SLOTS];
} graph_entry;

typedef struct cuda_graphs {
    int enabled;
    uint64_t clock;
    uint64_t n_eager, n_captured, n_replayed;
    void *cublas_workspace;
    graph_entry entries[GRAPH_ENTRIES];
} cuda_graphs;

static void entry_clear(graph_entry *e) {
    if (e->exec) cudaGraphExecDestroy(e->exec);
    memset(e, 0, sizeof *e);
}

void srt_cuda_lm_graphs_free(void *graphs) {
    cuda_graphs *g = graphs;
    if (!g) return;
    for (int i = 0; i < GRAPH_ENTRIES; i++) entry_clear(&g->entries[i]);
    free(g);
}

static int same_scratch(const graph_entry *e, const srt_cuda_ctx *c) {
    for (int i = 0; i < SRT_CUDA_SCRATCH_SLOTS; i++)
        if (e->scratch[i] != c->scratch[i] || e->scratch_bytes[i] != c->scratch_bytes[i]) return 0;
    return 1;
}

static void note_scratch(graph_entry *e, const srt_cuda_ctx *c) {
    memcpy(e->scratch, c->scratch, sizeof e->scratch);
    memcpy(e->scratch_bytes, c->scratch_bytes, sizeof e->scratch_bytes);
}

static srt_status graphs_of(srt_cuda_ctx *c, cuda_graphs **out) {
    if (!c->lm_graphs) {
        cuda_graphs *g = srt_calloc(1, sizeof *g, "CUDA graph table");
        if (!g) return SRT_ERR_NOMEM;
        const char *env = getenv("SNACRT_CUDA_GRAPHS");
        g->enabled = !(env && *env && atoi(env) == 0);
        c->lm_graphs = g;
        if (g->enabled) {   /* cuBLAS inside a capture: a fixed workspace, so it never allocates while recording */
            srt_status st = srt_cuda_pool_alloc(&c->pool, CUBLAS_WORKSPACE_BYTES, &g->cublas_workspace);
            if (st != SRT_OK ||
                cublasSetWorkspace(c->blas, g->cublas_workspace, CUBLAS_WORKSPACE_BYTES) != CUBLAS_STATUS_SUCCESS)
                g->enabled = 0;     /* run every forward eagerly */
        }
    }
    *out = c->lm_graphs;
    return SRT_OK;
}

static graph_entry *entry_for(cuda_graphs *g, uint64_t key) {
    graph_entry *lru = &g->entries[0];
    for (int i = 0; i < GRAPH_ENTRIES; i++) {
        graph_entry *e = &g->entries[i];
        if (e->used && e->key == key) return e;
        if (!e->used || (lru->used && e->last_use < lru->last_use)) lru = e;
    }
    entry_clear(lru);
    lru->used = 1;
    lru->key = key;
    return lru;
}

/* Record body into e->exec; *recorded = 0 when the recording is unusable (nothing ran: run it eagerly). */
static srt_status record(srt_cuda_ctx *c, cuda_graphs *g, graph_entry *e, srt_lm_graph_body body, void *arg,
                         int *recorded) {
    *recorded = 0;
    graph_entry before;
    note_scratch(&before, c);
    cudaError_t err = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeRelaxed);
    if (err != cudaSuccess) {
        cudaGetLastError();
        g->enabled = 0;
        return SRT_OK;
    }
    srt_status st = body(arg);
    cudaGraph_t graph = NULL;
    err = cudaStreamEndCapture(c->stream, &graph);
    if (st != SRT_OK || err != cudaSuccess || !same_scratch(&before, c)) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();                    /* a broken capture leaves a sticky error */
        if (st == SRT_OK && err != cudaSuccess) g->enabled = 0;   /* an op that cannot be recorded */
        e->warm = 0;
        return st;
    }
    err = cudaGraphInstantiate(&e->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
        e->exec = NULL;
        return srt_error(srt_cuda_status_of(err), "recording a decode step: cudaGraphInstantiate: %s (%s)",
                         cudaGetErrorName(err), cudaGetErrorString(err));
    }
    note_scratch(e, c);
    g->n_captured++;
    *recorded = 1;
    return SRT_OK;
}

srt_status srt_cuda_lm_graph_run(void *ctx, uint64_t key, srt_lm_graph_body body, void *arg) {
    srt_cuda_ctx *c = ctx;
    cuda_graphs *g = NULL;
    SRT_TRY(graphs_of(c, &g));
    if (!body) return g->enabled ? SRT_OK : SRT_ERR_UNSUPPORTED;
    if (!g->enabled) return body(arg);
    graph_entry *e = entry_for(g, key);
    e->last_use = ++g->clock;
    if (e->exec && !same_scratch(e, c)) {      /* a work buffer moved since: the recording is stale */
        cudaGraphExecDestroy(e->exec);
        e->exec = NULL;
        e->warm = 0;
    }
    if (!e->exec && e->warm) {
        int recorded;
        SRT_TRY(record(c, g, e, body, arg, &recorded));
        if (!recorded) {
            g->n_eager++;
            SRT_TRY(body(arg));
            e->warm = 1;
            return SRT_OK;
        }
    }
    if (e->exec) {
        SRT_CHECK_CUDA(cudaGraphLaunch(e->exec, c->stream));
        g->n_replayed++;
        return SRT_OK;
    }
    g->n_eager++;
    SRT_TRY(body(arg));
    e->warm = 1;
    return SRT_OK;
}
