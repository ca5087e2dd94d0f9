/* comm_cpu.c: the CPU communicator: ranks are threads of one process sharing a group struct. A collective posts
 * each rank's buffer pointer, meets at a barrier, lets every rank read all posted buffers (summing in rank order
 * 0..size-1 into a private accumulator), meets again, then writes its own result. Deterministic; abortable. */
#include "lm/comm.h"
#include <pthread.h>
#include <string.h>

typedef struct cpu_group {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int size, arrived, aborted, handles_left;
    unsigned generation;
    const float **posted;     /* (size) each rank's send buffer of the current collective */
    float **scratch;          /* (size) per-rank accumulators */
    size_t *scratch_cap;      /* (size) floats */
} cpu_group;

static srt_status group_barrier(cpu_group *g) {
    pthread_mutex_lock(&g->lock);
    if (g->aborted) { pthread_mutex_unlock(&g->lock); return srt_error(SRT_ERR_CANCELLED, "comm: group aborted"); }
    unsigned gen = g->generation;
    if (++g->arrived == g->size) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cond);
    } else {
        while (gen == g->generation && !g->aborted) pthread_cond_wait(&g->cond, &g->lock);
    }
    int aborted = g->aborted;
    pthread_mutex_unlock(&g->lock);
    return aborted ? srt_error(SRT_ERR_CANCELLED, "comm: another rank failed during a collective") : SRT_OK;
}

static srt_status reserve_scratch(cpu_group *g, int rank, size_t count) {
    if (g->scratch_cap[rank] >= count) return SRT_OK;
    float *grown = realloc(g->scratch[rank], sizeof(float) * count);
    if (!grown) return srt_error(SRT_ERR_NOMEM, "comm: %zu-float accumulator of rank %d", count, rank);
    g->scratch[rank] = grown;
    g->scratch_cap[rank] = count;
    return SRT_OK;
}

/* Run a collective's read phase between two barriers; on a local failure the group is aborted. */
static srt_status cpu_all_reduce_sum(srt_comm *c, const float *send, float *recv, size_t count, void *stream) {
    (void)stream;
    cpu_group *g = c->impl;
    srt_status st = reserve_scratch(g, c->rank, count);
    if (st != SRT_OK) { c->ops->abort(c); return st; }
    g->posted[c->rank] = send;
    SRT_TRY(group_barrier(g));
    float *acc = g->scratch[c->rank];      /* (count) */
    memcpy(acc, g->posted[0], sizeof(float) * count);
    for (int r = 1; r < g->size; r++) {
        const float *x = g->posted[r];
        for (size_t i = 0; i < count; i++) acc[i] += x[i];
    }
    SRT_TRY(group_barrier(g));             /* nobody overwrites a posted buffer before all have read it */
    memcpy(recv, acc, sizeof(float) * count);
    return SRT_OK;
}

static srt_status cpu_all_gather(srt_comm *c, const float *send, float *recv, size_t send_count, void *stream) {
    (void)stream;
    cpu_group *g = c->impl;
    g->posted[c->rank] = send;
    SRT_TRY(group_barrier(g));
    for (int r = 0; r < g->size; r++)
        if (recv + (size_t)r * send_count != g->posted[r])
            memcpy(recv + (size_t)r * send_count, g->posted[r], sizeof(float) * send_count);
    return group_barrier(g);
}

static srt_status cpu_barrier(srt_comm *c) { return group_barrier(c->impl); }

static void cpu_abort(srt_comm *c) {
    cpu_group *g = c->impl;
    pthread_mutex_lock(&g->lock);
    g->aborted = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void group_free(cpu_group *g) {
    for (int r = 0; g->scratch && r < g->size; r++) free(g->scratch[r]);
    free(g->scratch); free(g->scratch_cap); free(g->posted);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void cpu_destroy(srt_comm *c) {
    if (!c) return;
    cpu_group *g = c->impl;
    pthread_mutex_lock(&g->lock);
    int last = --g->handles_left == 0;
    pthread_mutex_unlock(&g->lock);
    if (last) group_free(g);
    free(c);
}

static const srt_comm_ops cpu_comm_ops = {cpu_all_reduce_sum, cpu_all_gather, cpu_barrier, cpu_abort, cpu_destroy,
                                         NULL, NULL};

srt_status srt_comm_cpu_create_group(int size, srt_comm **comms) {
    if (size < 1) return srt_error(SRT_ERR_INVALID_ARG, "comm: group size %d", size);
    for (int r = 0; r < size; r++) comms[r] = NULL;
    cpu_group *g = srt_calloc(1, sizeof *g, "comm group");
    if (!g) return SRT_ERR_NOMEM;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->size = size;
    g->posted = srt_calloc((size_t)size, sizeof *g->posted, "comm group");
    g->scratch = srt_calloc((size_t)size, sizeof *g->scratch, "comm group");
    g->scratch_cap = srt_calloc((size_t)size, sizeof *g->scratch_cap, "comm group");
    if (!g->posted || !g->scratch || !g->scratch_cap) { group_free(g); return SRT_ERR_NOMEM; }
    for (int r = 0; r < size; r++) {
        comms[r] = srt_calloc(1, sizeof **comms, "comm handle");
        if (!comms[r]) {
            for (int q = 0; q < r; q++) { free(comms[q]); comms[q] = NULL; }
            group_free(g);
            return SRT_ERR_NOMEM;
        }
        comms[r]->ops = &cpu_comm_ops;
        comms[r]->rank = r;
        comms[r]->size = size;
        comms[r]->impl = g;
    }
    g->handles_left = size;
    return SRT_OK;
}
