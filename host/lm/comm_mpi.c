/* comm_mpi.c: the tensor-parallel communicator over MPI: each process is one rank of a group split from
 * MPI_COMM_WORLD (consecutive world ranks, tp per group; the groups are data-parallel replicas). Buffers are host
 * memory. all_reduce_sum is computed so that it is bit-identical to comm_cpu.c's rank-order sum (MPI_Allreduce's
 * order is implementation-defined): small buffers are all-gathered and every rank sums the copies in rank order;
 * large ones are reduce-scattered by hand (an all-to-all of chunks, each chunk summed in rank order by its owner)
 * then all-gathered. Every collective is a non-blocking MPI call waited on together with a posted receive of an
 * abort notice (on a duplicate of the group communicator), so a rank that aborts releases the others with
 * SRT_ERR_CANCELLED instead of leaving them blocked. MPI errors are returned (MPI_ERRORS_RETURN), not fatal. */
#include "lm/comm.h"

#ifdef SNACRT_HAVE_MPI
#include <limits.h>
#include <mpi.h>
#include <pthread.h>

#define ABORT_TAG 7301                /* on the control communicator: an abort notice (the sender is its source) */
#define GATHER_SUM_MAX_FLOATS 4096    /* all-reduce up to this many floats: one all-gather (size * count each) */

typedef struct mpi_rank {
    srt_comm comm;            /* comm.impl points back here */
    MPI_Comm group;           /* the tensor-parallel group */
    MPI_Comm control;         /* duplicate of group: abort notices only */
    MPI_Request abort_recv;   /* posted receive of a notice; MPI_REQUEST_NULL once one arrived */
    int notice;               /* its buffer (content unused: the sender is in the status) */
    int abort_from;           /* the rank that aborted, -1 while none did */
    int aborted;              /* this rank aborted or was told to */
    int pending;              /* a collective was left unfinished by an abort: the communicators stay allocated */
    float *scratch;           /* (size, chunk) received copies or chunks */
    float *chunk;             /* (chunk) this rank's summed chunk */
    size_t scratch_cap, chunk_cap;   /* floats */
    int *counts, *displs;     /* (2, size) chunk counts and offsets of a reduce-scatter: sent, then received */
} mpi_rank;

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_group_failed;   /* a group of this process was aborted (here or by another process) */

/* At exit, when snacrt initialized MPI. After a failed group MPI_Finalize is skipped: it would wait for processes
 * that may never get there (stuck in a collective or in NCCL), whereas leaving without it makes mpirun end the job. */
static void finalize_at_exit(void) {
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (!finalized && !g_group_failed) MPI_Finalize();
}

static srt_status mpi_failed(int rc, const char *call, int rank) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return srt_error(SRT_ERR_BACKEND, "%s failed on tensor-parallel rank %d: %s", call, rank, text);
}

#define MPI_TRY(call, rank) \
    do { int mpi_rc_ = (call); if (mpi_rc_ != MPI_SUCCESS) return mpi_failed(mpi_rc_, #call, rank); } while (0)

/* MPI_Init_thread once per process (MPI_Finalize at exit), unless the application did it (and finalizes). */
static srt_status mpi_start(void) {
    pthread_mutex_lock(&g_init_lock);
    int initialized = 0, finalized = 0, rc = MPI_SUCCESS;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized && !finalized) {
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc == MPI_SUCCESS) atexit(finalize_at_exit);
    }
    pthread_mutex_unlock(&g_init_lock);
    if (finalized) return srt_error(SRT_ERR_BACKEND, "MPI was already finalized in this process");
    if (rc != MPI_SUCCESS) return srt_error(SRT_ERR_BACKEND, "MPI_Init_thread failed (error %d): is this process "
                                            "started by mpirun or srun?", rc);
    return SRT_OK;
}

static srt_status cancelled(const mpi_rank *r, const char *what) {
    if (r->abort_from >= 0 && r->abort_from != r->comm.rank)
        return srt_error(SRT_ERR_CANCELLED, "MPI %s on tensor-parallel rank %d: rank %d failed", what, r->comm.rank,
                         r->abort_from);
    return srt_error(SRT_ERR_CANCELLED, "MPI %s on tensor-parallel rank %d: the group was aborted", what,
                     r->comm.rank);
}

/* Wait for `req` or an abort notice, whichever comes first. `req` may be MPI_REQUEST_NULL (nothing to wait for). */
static srt_status wait_or_abort(mpi_rank *r, MPI_Request *req, const char *what) {
    if (r->aborted) {
        if (*req != MPI_REQUEST_NULL) r->pending = 1;
        return cancelled(r, what);
    }
    MPI_Request both[2] = {*req, r->abort_recv};
    int index = MPI_UNDEFINED;
    MPI_Status status;
    int rc = MPI_Waitany(2, both, &index, &status);
    *req = both[0];
    r->abort_recv = both[1];
    if (rc != MPI_SUCCESS) return mpi_failed(rc, what, r->comm.rank);
    if (index == 1) {             /* a notice: the collective fails unless it has completed meanwhile */
        r->aborted = 1;
        r->abort_from = status.MPI_SOURCE;
        g_group_failed = 1;
        int done = 0;
        if (*req != MPI_REQUEST_NULL && MPI_Test(req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) return SRT_OK;
        if (*req != MPI_REQUEST_NULL) r->pending = 1;
        return cancelled(r, what);
    }
    return SRT_OK;
}

/* Counts MPI takes are ints, and the gathered buffer (size, count) is indexed through them. */
static srt_status check_count(const mpi_rank *r, size_t count) {
    if (count > (size_t)INT_MAX / (size_t)r->comm.size)
        return srt_error(SRT_ERR_RANGE, "MPI collective of %zu floats on %d ranks: above the int counts MPI takes",
                         count, r->comm.size);
    return SRT_OK;
}

static srt_status reserve(float **buf, size_t *cap, size_t floats) {
    if (*cap >= floats) return SRT_OK;
    float *grown = realloc(*buf, sizeof(float) * (floats ? floats : 1));
    if (!grown) return srt_error(SRT_ERR_NOMEM, "MPI comm: %zu-float buffer", floats);
    *buf = grown;
    *cap = floats;
    return SRT_OK;
}

/* out[i] = copies[0][i] + copies[1][i] + ... in rank order (comm_cpu.c's order), copies (size, stride). */
static void sum_rank_order(const float *copies, int size, size_t stride, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        float acc = copies[i];
        for (int q = 1; q < size; q++) acc += copies[(size_t)q * stride + i];
        out[i] = acc;
    }
}

static srt_status gather_sum(mpi_rank *r, const float *send, float *recv, size_t count) {
    int size = r->comm.size, n = (int)count;
    if (r->aborted) return cancelled(r, "all-reduce");
    SRT_TRY(reserve(&r->scratch, &r->scratch_cap, (size_t)size * count));
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_TRY(MPI_Iallgather(send, n, MPI_FLOAT, r->scratch, n, MPI_FLOAT, r->group, &req), r->comm.rank);
    SRT_TRY(wait_or_abort(r, &req, "all-reduce (all-gather)"));
    sum_rank_order(r->scratch, size, count, count, recv);  /* (size, count) -> (count) */
    return SRT_OK;
}

/* Chunk q = [displs[q], displs[q] + counts[q]) of the buffer belongs to rank q. */
static srt_status scatter_sum_gather(mpi_rank *r, const float *send, float *recv, size_t count) {
    int size = r->comm.size, me = r->comm.rank;
    if (r->aborted) return cancelled(r, "all-reduce");
    for (int q = 0, at = 0; q < size; q++) {
        r->counts[q] = (int)(count / (size_t)size) + (q < (int)(count % (size_t)size));
        r->displs[q] = at;
        at += r->counts[q];
    }
    int mine = r->counts[me];
    SRT_TRY(reserve(&r->scratch, &r->scratch_cap, (size_t)size * mine));
    SRT_TRY(reserve(&r->chunk, &r->chunk_cap, (size_t)mine));
    int *recv_counts = r->counts + size, *recv_displs = r->displs + size;    /* (size) each */
    for (int q = 0; q < size; q++) { recv_counts[q] = mine; recv_displs[q] = q * mine; }
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_TRY(MPI_Ialltoallv(send, r->counts, r->displs, MPI_FLOAT, r->scratch, recv_counts, recv_displs, MPI_FLOAT,
                           r->group, &req), me);
    SRT_TRY(wait_or_abort(r, &req, "all-reduce (reduce-scatter)"));
    sum_rank_order(r->scratch, size, (size_t)mine, (size_t)mine, r->chunk);  /* (size, mine) -> (mine) */
    MPI_TRY(MPI_Iallgatherv(r->chunk, mine, MPI_FLOAT, recv, r->counts, r->displs, MPI_FLOAT, r->group, &req), me);
    return wait_or_abort(r, &req, "all-reduce (all-gather)");
}

static srt_status mpi_all_reduce_sum(srt_comm *c, const float *send, float *recv, size_t count, void *stream) {
    (void)stream;
    mpi_rank *r = c->impl;
    SRT_TRY(check_count(r, count));
    if (c->size == 1) {
        if (recv != send) memcpy(recv, send, sizeof(float) * count);
        return r->aborted ? cancelled(r, "all-reduce") : SRT_OK;
    }
    srt_status st = count <= GATHER_SUM_MAX_FLOATS ? gather_sum(r, send, recv, count)
                                                   : scatter_sum_gather(r, send, recv, count);
    if (st != SRT_OK && st != SRT_ERR_CANCELLED) c->ops->abort(c);
    return st;
}

static srt_status mpi_all_gather(srt_comm *c, const float *send, float *recv, size_t send_count, void *stream) {
    (void)stream;
    mpi_rank *r = c->impl;
    if (r->aborted) return cancelled(r, "all-gather");   /* an aborted rank never joins a collective again */
    SRT_TRY(check_count(r, send_count));
    const void *from = send == recv + (size_t)c->rank * send_count ? MPI_IN_PLACE : (const void *)send;
    MPI_Request req = MPI_REQUEST_NULL;
    int n = (int)send_count;
    int rc = MPI_Iallgather(from, n, MPI_FLOAT, recv, n, MPI_FLOAT, r->group, &req);
    srt_status st = rc == MPI_SUCCESS ? wait_or_abort(r, &req, "all-gather")
                                      : mpi_failed(rc, "MPI_Iallgather", c->rank);
    if (st != SRT_OK && st != SRT_ERR_CANCELLED) c->ops->abort(c);
    return st;
}

static srt_status mpi_barrier(srt_comm *c) {
    mpi_rank *r = c->impl;
    if (r->aborted) return cancelled(r, "barrier");
    MPI_Request req = MPI_REQUEST_NULL;
    int rc = MPI_Ibarrier(r->group, &req);
    return rc == MPI_SUCCESS ? wait_or_abort(r, &req, "barrier") : mpi_failed(rc, "MPI_Ibarrier", c->rank);
}

static srt_status mpi_broadcast(srt_comm *c, void *buf, size_t bytes, int root) {
    mpi_rank *r = c->impl;
    if (r->aborted) return cancelled(r, "broadcast");
    if (bytes > INT_MAX) return srt_error(SRT_ERR_RANGE, "MPI broadcast of %zu bytes", bytes);
    if (root < 0 || root >= c->size) return srt_error(SRT_ERR_INVALID_ARG, "MPI broadcast from rank %d of %d", root,
                                                      c->size);
    MPI_Request req = MPI_REQUEST_NULL;
    int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, root, r->group, &req);
    srt_status st = rc == MPI_SUCCESS ? wait_or_abort(r, &req, "broadcast") : mpi_failed(rc, "MPI_Ibcast", c->rank);
    if (st != SRT_OK && st != SRT_ERR_CANCELLED) c->ops->abort(c);
    return st;
}

/* Tell every other rank (a small message each, never waited for), then fail this rank's own collectives too. */
static void mpi_abort(srt_comm *c) {
    mpi_rank *r = c->impl;
    if (r->aborted) return;
    r->aborted = 1;
    r->abort_from = c->rank;
    g_group_failed = 1;
    static const int notice[1] = {0};   /* static: outlives the sends, which are never waited for */
    for (int q = 0; q < c->size; q++) {
        if (q == c->rank) continue;
        MPI_Request req;
        if (MPI_Isend(notice, 1, MPI_INT, q, ABORT_TAG, r->control, &req) == MPI_SUCCESS) MPI_Request_free(&req);
    }
}

static void mpi_destroy(srt_comm *c) {
    if (!c) return;
    mpi_rank *r = c->impl;
    if (r->abort_recv != MPI_REQUEST_NULL) {
        MPI_Cancel(&r->abort_recv);
        MPI_Wait(&r->abort_recv, MPI_STATUS_IGNORE);
    }
    if (!r->pending) {            /* an unfinished collective still references them: MPI_Finalize cleans up */
        if (r->control != MPI_COMM_NULL) MPI_Comm_free(&r->control);
        if (r->group != MPI_COMM_NULL) MPI_Comm_free(&r->group);
    }
    free(r->scratch);
    free(r->chunk);
    free(r->counts);
    free(r->displs);
    free(r);
}

static const srt_comm_ops mpi_comm_ops = {
    .all_reduce_sum = mpi_all_reduce_sum,
    .all_gather = mpi_all_gather,
    .barrier = mpi_barrier,
    .abort = mpi_abort,
    .destroy = mpi_destroy,
    .enter_thread = NULL,
    .broadcast = mpi_broadcast,
};

/* World, group and node placement of this process. */
static srt_status split_world(int tp, mpi_rank *r, srt_comm_place *place) {
    int world_rank = 0, world_size = 0;
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank), 0);
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &world_size), 0);
    if (world_size % tp)
        return srt_error(SRT_ERR_INVALID_ARG, "multi-process tensor parallelism: %d MPI process(es) is not a multiple "
                         "of the tensor-parallel size %d (launch with mpirun -np %d, or srun -n %d)", world_size, tp,
                         tp, tp);
    MPI_TRY(MPI_Comm_split(MPI_COMM_WORLD, world_rank / tp, world_rank, &r->group), world_rank % tp);
    MPI_Comm_set_errhandler(r->group, MPI_ERRORS_RETURN);
    MPI_TRY(MPI_Comm_dup(r->group, &r->control), world_rank % tp);
    MPI_Comm_set_errhandler(r->control, MPI_ERRORS_RETURN);
    MPI_Comm node = MPI_COMM_NULL;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node), 0);
    int local_rank = 0, local_size = 1;
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    *place = (srt_comm_place){world_rank, world_size, world_rank / tp, world_size / tp, local_rank, local_size};
    MPI_Comm_rank(r->group, &r->comm.rank);
    return SRT_OK;
}

srt_status srt_comm_mpi_create(int tp, srt_comm **comm, srt_comm_place *place) {
    *comm = NULL;
    if (tp < 1) return srt_error(SRT_ERR_INVALID_ARG, "MPI comm: group size %d", tp);
    SRT_TRY(mpi_start());
    mpi_rank *r = srt_calloc(1, sizeof *r, "MPI comm");
    if (!r) return SRT_ERR_NOMEM;
    r->comm = (srt_comm){.ops = &mpi_comm_ops, .rank = 0, .size = tp, .impl = r};
    r->group = r->control = MPI_COMM_NULL;
    r->abort_recv = MPI_REQUEST_NULL;
    r->abort_from = -1;
    r->counts = srt_calloc(2 * (size_t)tp, sizeof(int), "MPI comm");
    r->displs = srt_calloc(2 * (size_t)tp, sizeof(int), "MPI comm");
    srt_status st = r->counts && r->displs ? split_world(tp, r, place) : SRT_ERR_NOMEM;
    if (st == SRT_OK) {
        int rc = MPI_Irecv(&r->notice, 1, MPI_INT, MPI_ANY_SOURCE, ABORT_TAG, r->control, &r->abort_recv);
        if (rc != MPI_SUCCESS) st = mpi_failed(rc, "MPI_Irecv", r->comm.rank);
    }
    if (st != SRT_OK) { mpi_destroy(&r->comm); return st; }
    *comm = &r->comm;
    return SRT_OK;
}

#else   /* no MPI in this build */

srt_status srt_comm_mpi_create(int tp, srt_comm **comm, srt_comm_place *place) {
    (void)tp;
    (void)place;
    *comm = NULL;
    return srt_error(SRT_ERR_UNSUPPORTED, "multi-process tensor parallelism (--mpi) needs MPI: this build has none "
                     "(install libopenmpi-dev and configure with -DSNACRT_MPI=ON)");
}

#endif
