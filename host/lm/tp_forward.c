/* tp_forward.c: one forward of a tensor-parallel group: the batch is checked and KV blocks reserved on every rank
 * of this process (all-or-nothing on the first one first), then each rank runs srt_lm_forward_compute on its own
 * thread (the first on the caller's; with one process per rank, only that one), meeting in the communicator's
 * collectives; the first local rank's gathered logit slices (tp, rows, vocab slice) are put back in vocabulary
 * order (rows, vocab). A failing rank aborts the group; its error is the one reported. Also the sharing of rank 0's
 * sampled ids between processes (srt_lm_tp_share_ids). */
#include "lm/tp_group.h"
#include <pthread.h>
#include <string.h>

typedef struct rank_job {
    srt_lm *rank;
    int n_seqs, n_tokens, all_logits;
    const int *seq_ids, *n_new;
    const int32_t *const *tokens;
    float *gathered;          /* host (tp, rows, vocab slice) on rank 0, else NULL */
    srt_status status;
    char message[512];        /* the rank's srt_last_error (thread-local on its own thread) */
} rank_job;

static void *run_rank(void *arg) {
    rank_job *j = arg;
    srt_comm *comm = j->rank->comm;
    j->status = comm->ops->enter_thread ? comm->ops->enter_thread(comm) : SRT_OK;
    if (j->status == SRT_OK)
        j->status = srt_lm_forward_compute(j->rank, j->n_seqs, j->seq_ids, j->tokens, j->n_new, j->n_tokens,
                                           j->all_logits, j->gathered);
    if (j->status != SRT_OK) {
        snprintf(j->message, sizeof j->message, "tensor-parallel rank %d: %s", j->rank->comm->rank, srt_last_error());
        j->rank->comm->ops->abort(j->rank->comm);
    }
    return NULL;
}

static srt_status reserve_all(srt_lm_tp *tp, int n_seqs, const int *seq_ids, const int *n_new) {
    SRT_TRY(srt_kv_reserve(tp->ranks[0]->kv, n_seqs, seq_ids, n_new));
    for (int r = 1; r < tp->n_local; r++) {
        srt_status st = srt_kv_reserve(tp->ranks[r]->kv, n_seqs, seq_ids, n_new);
        if (st != SRT_OK) return srt_error_prefix(SRT_ERR_BACKEND, "rank %d's KV cache diverged from rank 0's: ", r);
    }
    return SRT_OK;
}

/* Run every rank; the first root-cause error (not a CANCELLED echo of it) is re-raised on this thread. */
static srt_status run_ranks(srt_lm_tp *tp, rank_job *jobs) {
    pthread_t *threads = srt_calloc((size_t)tp->n_local, sizeof *threads, "tensor-parallel threads");
    if (!threads) return SRT_ERR_NOMEM;
    int started = 1;
    for (; started < tp->n_local; started++)
        if (pthread_create(&threads[started], NULL, run_rank, &jobs[started])) break;
    if (started < tp->n_local) {                 /* could not start every rank: make the started ones give up */
        tp->ranks[0]->comm->ops->abort(tp->ranks[0]->comm);
        jobs[0].status = srt_error(SRT_ERR_BACKEND, "tensor parallel: could not start the thread of rank %d",
                                   started);
        snprintf(jobs[0].message, sizeof jobs[0].message, "%s", srt_last_error());
    } else {
        run_rank(&jobs[0]);
    }
    for (int r = 1; r < started; r++) pthread_join(threads[r], NULL);
    free(threads);
    const rank_job *cause = NULL;
    for (int r = 0; r < tp->n_local && (!cause || cause->status == SRT_ERR_CANCELLED); r++)
        if (jobs[r].status != SRT_OK && (!cause || jobs[r].status != SRT_ERR_CANCELLED)) cause = &jobs[r];
    return cause ? srt_error(cause->status, "%s", cause->message) : SRT_OK;
}

srt_status srt_lm_tp_forward(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                             const int *n_new, int all_logits, float *logits) {
    srt_lm_tp *tp = lm->tp;
    int T = 0;
    SRT_TRY(srt_lm_check_batch(lm, n_seqs, seq_ids, tokens, n_new, &T));
    int rows = all_logits ? T : n_seqs, slice = tp->ranks[0]->cfg.vocab, vocab = lm->cfg.vocab;
    size_t need = (size_t)tp->size * rows * slice;
    if (need > tp->gathered_cap) {
        float *grown = realloc(tp->gathered, sizeof(float) * need);
        if (!grown) return srt_error(SRT_ERR_NOMEM, "tensor parallel: %zu gathered logits", need);
        tp->gathered = grown;
        tp->gathered_cap = need;
    }
    SRT_TRY(reserve_all(tp, n_seqs, seq_ids, n_new));
    rank_job *jobs = srt_calloc((size_t)tp->n_local, sizeof *jobs, "tensor-parallel jobs");
    if (!jobs) return SRT_ERR_NOMEM;
    for (int r = 0; r < tp->n_local; r++)
        jobs[r] = (rank_job){.rank = tp->ranks[r], .n_seqs = n_seqs, .n_tokens = T, .all_logits = all_logits,
                             .seq_ids = seq_ids, .n_new = n_new, .tokens = tokens,
                             .gathered = r == 0 ? tp->gathered : NULL};
    srt_status st = run_ranks(tp, jobs);
    free(jobs);
    SRT_TRY(st);
    for (int row = 0; row < rows; row++)       /* (tp, rows, slice) -> (rows, vocab) */
        for (int r = 0; r < tp->size; r++) {
            int n = vocab - r * slice < slice ? vocab - r * slice : slice;
            if (n > 0)
                memcpy(logits + (size_t)row * vocab + (size_t)r * slice,
                       tp->gathered + ((size_t)r * rows + row) * slice, sizeof(float) * (size_t)n);
        }
    for (int r = 0; r < tp->n_local; r++)
        for (int b = 0; b < n_seqs; b++) tp->ranks[r]->kv->seqs[seq_ids[b]].n_tokens += n_new[b];
    return SRT_OK;
}

srt_status srt_lm_tp_share_ids(srt_lm *lm, int32_t *ids, int n) {
    if (!lm->tp || !lm->tp->mpi || lm->tp->size < 2 || n < 1) return SRT_OK;
    srt_comm *comm = lm->tp->ranks[0]->comm;
    if (!comm->ops->broadcast)
        return srt_error(SRT_ERR_UNSUPPORTED, "tensor parallel: this communicator cannot broadcast sampled ids");
    return comm->ops->broadcast(comm, ids, sizeof(int32_t) * (size_t)n, 0);
}
