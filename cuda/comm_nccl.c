/* comm_nccl.c: the tensor-parallel communicator (host/lm/comm.h) over NCCL, for ranks on the "cuda" backend.
 * Rank r is one ncclComm of a clique made by ncclCommInitAll on the listed devices (ranks are threads of one
 * process), or, one process per rank (srt_comm_nccl_create_mpi), by ncclCommInitRank with rank 0's ncclUniqueId
 * broadcast over the process's MPI communicator (host/lm/comm_mpi.c), which then also carries the host-side
 * broadcast, barrier and abort notices between processes. Buffers are device memory and
 * collectives are enqueued on the stream of the rank's backend (srt_comm_nccl_bind), ordered with its kernels.
 * Built when SNACRT_WITH_NCCL is defined: the nvcc build with -DSNACRT_NCCL=ON (real libnccl) and the simulator
 * build (tests/cudasim/nccl.cpp). abort (a rank that hit an error) marks the group with the failing rank, so every
 * rank's next or failing collective reports SRT_ERR_CANCELLED naming it, and calls ncclCommAbort on every rank's
 * ncclComm of an in-process group (ncclCommAbort is local: a peer waiting in a collective for the failed rank would
 * otherwise hang), or tells the other processes over MPI. The barrier (the one host wait of a collective) polls
 * its stream and ncclCommGetAsyncError, aborting the group on an asynchronous NCCL error, on a peer's abort, or
 * after SNACRT_NCCL_TIMEOUT_S seconds (default 600). */
#include "lm/comm.h"

#ifdef SNACRT_WITH_NCCL
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include <nccl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct nccl_rank nccl_rank;
typedef struct nccl_group {
    atomic_int aborted;
    atomic_int failed_rank;   /* the first rank that aborted, -1 while none */
    atomic_int handles;       /* the group is freed with its last rank handle */
    int size;
    nccl_rank **ranks;        /* (size) the ranks of an in-process group (NULL one process per rank) */
} nccl_group;

struct nccl_rank {
    srt_comm comm;            /* comm.impl points back here */
    nccl_group *group;
    ncclComm_t nccl;          /* invalid once comm_aborted */
    atomic_int comm_aborted;  /* ncclCommAbort was called on nccl (by any rank's thread) */
    int device;
    cudaStream_t stream;      /* the backend's stream (srt_comm_nccl_bind); 0 until bound */
    float *barrier_dev;       /* (1) device scratch of barrier */
    srt_comm *host;           /* one process per rank: the MPI communicator of the group (owned), else NULL */
};

static srt_status cancelled(const nccl_rank *r, const char *what) {
    int failed = atomic_load(&r->group->failed_rank);
    if (failed < 0) return srt_error(SRT_ERR_CANCELLED, "NCCL %s on rank %d: the tensor-parallel group was aborted",
                                     what, r->comm.rank);
    return srt_error(SRT_ERR_CANCELLED, "NCCL %s on rank %d: the tensor-parallel group was aborted by rank %d (the "
                     "rank that failed)", what, r->comm.rank, failed);
}

static int rank_dead(nccl_rank *r) { return atomic_load(&r->group->aborted) || atomic_load(&r->comm_aborted); }

/* ncclCommAbort on r's comm, once, from whichever thread gets here first. */
static void abort_rank_comm(nccl_rank *r) {
    if (!atomic_exchange(&r->comm_aborted, 1) && r->nccl) ncclCommAbort(r->nccl);
}

/* Status of a collective that returned `result`: CANCELLED when the group was aborted meanwhile. */
static srt_status check_collective(const nccl_rank *r, ncclResult_t result, const char *call, int line) {
    if (result == ncclSuccess) return SRT_OK;
    if (atomic_load(&r->group->aborted)) return cancelled(r, call);
    return srt_error(SRT_ERR_BACKEND, "%s failed at %s:%d on rank %d: NCCL result %d (%s)", call, __FILE__, line,
                     r->comm.rank, (int)result, ncclGetErrorString(result));
}

static srt_status nccl_all_reduce_sum(srt_comm *c, const float *send, float *recv, size_t count, void *stream) {
    nccl_rank *r = c->impl;
    if (rank_dead(r)) return cancelled(r, "all-reduce");
    cudaStream_t s = stream ? (cudaStream_t)stream : r->stream;
    return check_collective(r, ncclAllReduce(send, recv, count, ncclFloat, ncclSum, r->nccl, s), "ncclAllReduce",
                            __LINE__);
}

static srt_status nccl_all_gather(srt_comm *c, const float *send, float *recv, size_t send_count, void *stream) {
    nccl_rank *r = c->impl;
    if (rank_dead(r)) return cancelled(r, "all-gather");
    cudaStream_t s = stream ? (cudaStream_t)stream : r->stream;
    return check_collective(r, ncclAllGather(send, recv, send_count, ncclFloat, r->nccl, s), "ncclAllGather",
                            __LINE__);
}

static void nccl_abort(srt_comm *c);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait for r's stream by polling it and the comm's asynchronous error: an NCCL error, a peer's abort or the
 * timeout aborts the whole group (so no rank stays in a collective) and returns the reason. */
static srt_status wait_stream(nccl_rank *r, const char *what) {
    const char *env = getenv("SNACRT_NCCL_TIMEOUT_S");
    double timeout = env && atof(env) > 0 ? atof(env) : 600.0, t0 = now_s();
    for (;;) {
        cudaError_t e = cudaStreamQuery(r->stream);
        if (e == cudaSuccess) return rank_dead(r) ? cancelled(r, what) : SRT_OK;
        if (e != cudaErrorNotReady) {
            nccl_abort(&r->comm);
            return srt_error(srt_cuda_status_of(e), "NCCL %s on rank %d: stream error %s (%s); the group is aborted",
                             what, r->comm.rank, cudaGetErrorName(e), cudaGetErrorString(e));
        }
        if (rank_dead(r)) return cancelled(r, what);
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(r->nccl, &async) == ncclSuccess && async != ncclSuccess && async != ncclInProgress) {
            nccl_abort(&r->comm);
            return srt_error(SRT_ERR_BACKEND, "NCCL %s on rank %d: asynchronous error %d (%s); the group is aborted",
                             what, r->comm.rank, (int)async, ncclGetErrorString(async));
        }
        if (now_s() - t0 > timeout) {
            nccl_abort(&r->comm);
            return srt_error(SRT_ERR_BACKEND, "NCCL %s on rank %d: no progress in %.0f s (SNACRT_NCCL_TIMEOUT_S); the "
                             "group is aborted", what, r->comm.rank, timeout);
        }
        struct timespec pause = {0, 100000};      /* 0.1 ms */
        nanosleep(&pause, NULL);
    }
}

/* Across processes the barrier meets over MPI (after this rank's queued work), where an abort notice reaches it. */
static srt_status nccl_barrier(srt_comm *c) {
    nccl_rank *r = c->impl;
    if (rank_dead(r)) return cancelled(r, "barrier");
    if (r->host) {
        SRT_TRY(wait_stream(r, "barrier"));
        return r->host->ops->barrier(r->host);
    }
    SRT_TRY(check_collective(r, ncclAllReduce(r->barrier_dev, r->barrier_dev, 1, ncclFloat, ncclSum, r->nccl,
                                              r->stream), "ncclAllReduce (barrier)", __LINE__));
    return wait_stream(r, "barrier");
}

/* Host memory, over MPI: only ranks that are processes have it (one caller drives all thread ranks). */
static srt_status nccl_broadcast(srt_comm *c, void *buf, size_t bytes, int root) {
    nccl_rank *r = c->impl;
    if (!r->host) return srt_error(SRT_ERR_UNSUPPORTED, "NCCL broadcast: only between processes (ranks over MPI)");
    if (rank_dead(r)) return cancelled(r, "broadcast");
    return r->host->ops->broadcast(r->host, buf, bytes, root);
}

static void nccl_abort(srt_comm *c) {
    nccl_rank *r = c->impl;
    nccl_group *g = r->group;
    int none = -1;
    atomic_compare_exchange_strong(&g->failed_rank, &none, c->rank);
    atomic_store(&g->aborted, 1);
    abort_rank_comm(r);
    for (int q = 0; g->ranks && q < g->size; q++)   /* every rank's comm: a peer waiting for r is released */
        if (g->ranks[q]) abort_rank_comm(g->ranks[q]);
    if (r->host) r->host->ops->abort(r->host);    /* tell the other processes */
}

static void nccl_destroy(srt_comm *c) {
    if (!c) return;
    nccl_rank *r = c->impl;
    cudaSetDevice(r->device);
    if (r->nccl && !atomic_exchange(&r->comm_aborted, 1)) ncclCommDestroy(r->nccl);
    cudaFree(r->barrier_dev);
    if (r->host) r->host->ops->destroy(r->host);
    nccl_group *g = r->group;
    if (g->ranks) g->ranks[r->comm.rank] = NULL;
    if (atomic_fetch_sub(&g->handles, 1) == 1) {
        free(g->ranks);
        free(g);
    }
    free(r);
}

static srt_status nccl_enter_thread(srt_comm *c) {
    nccl_rank *r = c->impl;
    SRT_CHECK_CUDA(cudaSetDevice(r->device));
    return SRT_OK;
}

static const srt_comm_ops nccl_comm_ops = {
    .all_reduce_sum = nccl_all_reduce_sum,
    .all_gather = nccl_all_gather,
    .barrier = nccl_barrier,
    .abort = nccl_abort,
    .destroy = nccl_destroy,
    .enter_thread = nccl_enter_thread,
    .broadcast = nccl_broadcast,
};

srt_status srt_comm_nccl_devices(int size, int first_device, int *devices) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count < 1) {
        cudaGetLastError();
        return srt_error(SRT_ERR_NO_DEVICE, "tensor parallelism over NCCL: no CUDA device available "
                         "(cudaGetDeviceCount: %s); use --device cpu", e == cudaSuccess ? "0 devices" :
                         cudaGetErrorString(e));
    }
    if (first_device < 0 || first_device >= count)
        return srt_error(SRT_ERR_NO_DEVICE, "tensor parallelism: cuda:%d does not exist (%d device(s))", first_device,
                         count);
    for (int r = 0; r < size; r++) devices[r] = (first_device + r) % count;
    return SRT_OK;
}

static srt_status init_ranks(nccl_rank **ranks, int size, const int *devices) {
    ncclComm_t *nccl = srt_calloc((size_t)size, sizeof *nccl, "NCCL communicators");
    if (!nccl) return SRT_ERR_NOMEM;
    ncclResult_t res = ncclCommInitAll(nccl, size, devices);
    if (res != ncclSuccess) {
        free(nccl);
        return srt_error(SRT_ERR_BACKEND, "ncclCommInitAll(%d ranks) failed at %s:%d: NCCL result %d (%s)", size,
                         __FILE__, __LINE__, (int)res, ncclGetErrorString(res));
    }
    for (int r = 0; r < size; r++) ranks[r]->nccl = nccl[r];
    free(nccl);
    for (int r = 0; r < size; r++) {
        SRT_CHECK_CUDA(cudaSetDevice(devices[r]));
        SRT_CHECK_CUDA(cudaMalloc((void **)&ranks[r]->barrier_dev, sizeof(float)));
        SRT_CHECK_CUDA(cudaMemset(ranks[r]->barrier_dev, 0, sizeof(float)));
    }
    return SRT_OK;
}

srt_status srt_comm_nccl_create_group(int size, const int *devices, srt_comm **comms) {
    if (size < 1) return srt_error(SRT_ERR_INVALID_ARG, "NCCL group of %d ranks", size);
    nccl_group *g = srt_calloc(1, sizeof *g, "NCCL group");
    if (!g) return SRT_ERR_NOMEM;
    atomic_init(&g->aborted, 0);
    atomic_init(&g->failed_rank, -1);
    atomic_init(&g->handles, 0);
    g->size = size;
    g->ranks = srt_calloc((size_t)size, sizeof *g->ranks, "NCCL group ranks");
    if (!g->ranks) { free(g); return SRT_ERR_NOMEM; }
    nccl_rank **ranks = srt_calloc((size_t)size, sizeof *ranks, "NCCL ranks");
    srt_status st = ranks ? SRT_OK : SRT_ERR_NOMEM;
    int made = 0;             /* rank handles holding the group */
    for (int r = 0; st == SRT_OK && r < size; r++, made++) {
        ranks[r] = srt_calloc(1, sizeof *ranks[r], "NCCL rank");
        if (!ranks[r]) { st = SRT_ERR_NOMEM; break; }
        ranks[r]->comm = (srt_comm){.ops = &nccl_comm_ops, .rank = r, .size = size, .impl = ranks[r]};
        ranks[r]->group = g;
        ranks[r]->device = devices[r];
        atomic_init(&ranks[r]->comm_aborted, 0);
        g->ranks[r] = ranks[r];
        atomic_fetch_add(&g->handles, 1);
    }
    if (st == SRT_OK) st = init_ranks(ranks, size, devices);
    for (int r = 0; ranks && r < size; r++) {
        if (st == SRT_OK) comms[r] = &ranks[r]->comm;
        else if (ranks[r]) nccl_destroy(&ranks[r]->comm);
    }
    if (made == 0) { free(g->ranks); free(g); }
    free(ranks);
    return st;
}

srt_status srt_comm_nccl_local_device(int first_device, int local_rank, int *device) {
    int devices[1];
    SRT_TRY(srt_comm_nccl_devices(1, first_device, devices));    /* checks the device count and first_device */
    int count = 0;
    SRT_CHECK_CUDA(cudaGetDeviceCount(&count));
    *device = (first_device + local_rank) % count;
    return SRT_OK;
}

/* One process per rank: a group of one local handle around an ncclComm joined by unique id. */
srt_status srt_comm_nccl_create_mpi(srt_comm *host, int device, srt_comm **comms) {
    *comms = NULL;
    nccl_group *g = srt_calloc(1, sizeof *g, "NCCL group");
    nccl_rank *r = srt_calloc(1, sizeof *r, "NCCL rank");
    if (!g || !r) {
        free(g);
        free(r);
        host->ops->abort(host);
        host->ops->destroy(host);
        return SRT_ERR_NOMEM;
    }
    atomic_init(&g->aborted, 0);
    atomic_init(&g->failed_rank, -1);
    atomic_init(&g->handles, 1);
    g->size = host->size;
    atomic_init(&r->comm_aborted, 0);
    r->comm = (srt_comm){.ops = &nccl_comm_ops, .rank = host->rank, .size = host->size, .impl = r};
    r->group = g;
    r->device = device;
    r->host = host;               /* nccl_destroy frees it from here on */
    srt_status st = SRT_OK;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    cudaError_t ce = cudaSetDevice(device);
    if (ce != cudaSuccess) st = srt_error(SRT_ERR_BACKEND, "cudaSetDevice(%d) on tensor-parallel rank %d: %s", device,
                                          host->rank, cudaGetErrorString(ce));
    if (st == SRT_OK && host->rank == 0) {
        ncclResult_t res = ncclGetUniqueId(&id);
        if (res != ncclSuccess) st = srt_error(SRT_ERR_BACKEND, "ncclGetUniqueId failed: NCCL result %d (%s)", (int)res,
                                               ncclGetErrorString(res));
    }
    if (st != SRT_OK) host->ops->abort(host);         /* the others wait in the broadcast below */
    else st = host->ops->broadcast(host, &id, sizeof id, 0);
    if (st == SRT_OK) {
        ncclResult_t res = ncclCommInitRank(&r->nccl, host->size, id, host->rank);
        if (res != ncclSuccess) {
            r->nccl = NULL;
            st = srt_error(SRT_ERR_BACKEND, "ncclCommInitRank(rank %d of %d, cuda:%d) failed at %s:%d: NCCL result %d "
                           "(%s)", host->rank, host->size, device, __FILE__, __LINE__, (int)res,
                           ncclGetErrorString(res));
        }
    }
    if (st == SRT_OK && cudaMalloc((void **)&r->barrier_dev, sizeof(float)) != cudaSuccess)
        st = srt_error(SRT_ERR_NOMEM, "NCCL barrier scratch on cuda:%d", device);
    if (st == SRT_OK && cudaMemset(r->barrier_dev, 0, sizeof(float)) != cudaSuccess)
        st = srt_error(SRT_ERR_BACKEND, "cudaMemset of the NCCL barrier scratch on cuda:%d", device);
    if (st != SRT_OK) {
        nccl_abort(&r->comm);
        nccl_destroy(&r->comm);
        return st;
    }
    *comms = &r->comm;
    return SRT_OK;
}

void srt_comm_nccl_bind(srt_comm *c, const srt_backend *be) {
    nccl_rank *r = c->impl;
    r->stream = ((const srt_cuda_ctx *)be->ctx)->stream;
}

#else
typedef int srt_comm_nccl_not_built;   /* SNACRT_WITH_NCCL off: host/lm refuses tp > 1 on cuda */
#endif
