/* test_cudasim_lm_tp.cpp: tensor parallelism on the simulated "cuda" backend over NCCL (tests/cudasim/nccl.cpp,
 * cuda/comm_nccl.c).
 *  - the NCCL substitute: 3 thread ranks joining by unique id (ncclCommInitRank); ncclAllReduce equals the
 *    rank-order sum bit for bit on every rank (twice: deterministic), ncclAllGather lays slices out by rank,
 *    mismatched counts fail on every rank, ncclCommAbort is local as in NCCL (it releases a wait on the aborted
 *    comm only; the others see ncclCommGetAsyncError == ncclRemoteError);
 *  - the srt_comm over NCCL with device buffers: all_reduce_sum / all_gather, and abort gives SRT_ERR_CANCELLED;
 *  - a failure injected on one rank of a TP = 2 and a TP = 4 group (that rank aborts instead of joining an
 *    all-reduce the others wait in): every other rank leaves its all-reduce / barrier with SRT_ERR_CANCELLED naming
 *    the failed rank (with the caller-only abort of before they would wait forever: a watchdog fails the test);
 *  - tiny-orpheus tp = 1, 2 and tiny-qwen2 tp = 1, 2, 4 on "cuda": prefill last logits (both golden prompts in one
 *    batch) within 1e-4 of tp = 1 and 1e-3 of the golden prefill_last_logits; greedy ids identical to greedy_ids;
 *    every KV block given back; the simulator reports no rule violation. */
extern "C" {
#include "lm/comm.h"
#include "snacrt.h"
#include "weights/weights.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <pthread.h>
#include <ctime>

enum { N_RANKS = 3, N_FLOATS = 1000, GATHER = 4 };

/* ---- the NCCL substitute alone ---- */

struct nccl_job {
    ncclUniqueId id;
    int rank;
    float send[N_FLOATS], sum[N_FLOATS], sum2[N_FLOATS], gathered[N_RANKS * GATHER];
    ncclResult_t init, reduce, reduce2, gather, mismatch, destroy;
};

static void *nccl_rank(void *arg) {
    nccl_job *j = static_cast<nccl_job *>(arg);
    ncclComm_t comm = nullptr;
    j->init = ncclCommInitRank(&comm, N_RANKS, j->id, j->rank);
    if (j->init != ncclSuccess) return nullptr;
    test_fill_uniform(j->send, N_FLOATS, 300 + (uint64_t)j->rank, -1.0f, 1.0f);
    j->reduce = ncclAllReduce(j->send, j->sum, N_FLOATS, ncclFloat, ncclSum, comm, nullptr);
    memcpy(j->sum2, j->send, sizeof j->sum2);
    j->reduce2 = ncclAllReduce(j->sum2, j->sum2, N_FLOATS, ncclFloat, ncclSum, comm, nullptr);   /* in place */
    ncclGroupStart();
    j->gather = ncclAllGather(j->send, j->gathered, GATHER, ncclFloat, comm, nullptr);
    ncclGroupEnd();
    j->mismatch = ncclAllReduce(j->send, j->sum2, (size_t)(1 + j->rank), ncclFloat, ncclSum, comm, nullptr);
    j->destroy = ncclCommDestroy(comm);
    return nullptr;
}

struct abort_job { ncclComm_t comm; float buf[4]; ncclResult_t result; };

static void *wait_in_all_reduce(void *arg) {
    abort_job *j = static_cast<abort_job *>(arg);
    j->result = ncclAllReduce(j->buf, j->buf, 4, ncclFloat, ncclSum, j->comm, nullptr);
    return nullptr;
}

static void test_nccl_substitute(void) {
    static nccl_job jobs[N_RANKS];
    ncclUniqueId id;
    TEST_CHECK(ncclGetUniqueId(&id) == ncclSuccess, "ncclGetUniqueId");
    pthread_t threads[N_RANKS];
    for (int r = 0; r < N_RANKS; r++) {
        jobs[r].id = id;
        jobs[r].rank = r;
        pthread_create(&threads[r], nullptr, nccl_rank, &jobs[r]);
    }
    for (int r = 0; r < N_RANKS; r++) pthread_join(threads[r], nullptr);
    int exact = 1, gathered_ok = 1;
    for (int r = 0; r < N_RANKS; r++) {
        const nccl_job &j = jobs[r];
        TEST_CHECK(j.init == ncclSuccess && j.reduce == ncclSuccess && j.reduce2 == ncclSuccess &&
                   j.gather == ncclSuccess && j.destroy == ncclSuccess, "rank %d: init %d reduce %d/%d gather %d "
                   "destroy %d", r, j.init, j.reduce, j.reduce2, j.gather, j.destroy);
        TEST_CHECK(j.mismatch == ncclInvalidUsage, "rank %d: all-reduce with different counts per rank gives "
                   "ncclInvalidUsage (got %d: %s)", r, j.mismatch, ncclGetErrorString(j.mismatch));
        for (int i = 0; i < N_FLOATS; i++) {
            float want = jobs[0].send[i];
            for (int q = 1; q < N_RANKS; q++) want += jobs[q].send[i];
            exact &= j.sum[i] == want && j.sum2[i] == want;
        }
        for (int q = 0; q < N_RANKS; q++)
            for (int i = 0; i < GATHER; i++) gathered_ok &= j.gathered[q * GATHER + i] == jobs[q].send[i];
    }
    TEST_CHECK(exact, "ncclAllReduce (out of place and in place) equals the rank-order sum bit for bit on every rank");
    TEST_CHECK(gathered_ok, "ncclAllGather places rank q's slice at q * sendcount on every rank");

    /* abort is local: ranks 1 and 2 wait in an all-reduce rank 0 never joins; rank 0 aborts; they see the async
     * error and leave once their own comms are aborted (ncclRemoteError) */
    ncclComm_t comms[N_RANKS];
    int devs[N_RANKS] = {0, 0, 0};
    TEST_CHECK(ncclCommInitAll(comms, N_RANKS, devs) == ncclSuccess, "ncclCommInitAll");
    int rank = -1, count = 0;
    ncclCommUserRank(comms[2], &rank);
    ncclCommCount(comms[2], &count);
    TEST_CHECK(rank == 2 && count == N_RANKS, "ncclCommInitAll: comm 2 is rank %d of %d", rank, count);
    static abort_job waiters[2];
    pthread_t wt[2];
    for (int r = 1; r < N_RANKS; r++) {
        waiters[r - 1].comm = comms[r];
        pthread_create(&wt[r - 1], nullptr, wait_in_all_reduce, &waiters[r - 1]);
    }
    /* abort only once both waiters are blocked in their all-reduce (a fixed sleep raced a loaded machine: a
     * waiter that arrived after its own comm's abort got ncclInvalidUsage) */
    struct timespec poll = {0, 1000 * 1000};
    for (int i = 0; i < 60000 && cudasim_nccl_waiting(comms[0]) < N_RANKS - 1; i++) nanosleep(&poll, nullptr);
    TEST_CHECK(cudasim_nccl_waiting(comms[0]) == N_RANKS - 1, "ranks 1 and 2 wait in their all-reduce (%d waiting)",
               cudasim_nccl_waiting(comms[0]));
    TEST_CHECK(ncclCommAbort(comms[0]) == ncclSuccess, "ncclCommAbort");
    for (int r = 1; r < N_RANKS; r++) {
        ncclResult_t async = ncclSuccess;
        TEST_CHECK(ncclCommGetAsyncError(comms[r], &async) == ncclSuccess && async == ncclRemoteError,
                   "rank %d: async error after rank 0's abort is %d", r, (int)async);
        ncclCommAbort(comms[r]);
    }
    for (int r = 1; r < N_RANKS; r++) {
        pthread_join(wt[r - 1], nullptr);
        TEST_CHECK(waiters[r - 1].result == ncclRemoteError, "rank %d all-reduce after abort returned %d", r,
                   waiters[r - 1].result);
    }
}

/* ---- the srt_comm over NCCL (cuda/comm_nccl.c), device buffers ---- */

struct comm_job {
    srt_comm *comm;
    float send[N_FLOATS], sum[N_FLOATS], gathered[N_RANKS * GATHER];
    srt_status reduce_st, gather_st;
};

static void *comm_rank(void *arg) {
    comm_job *j = static_cast<comm_job *>(arg);
    test_fill_uniform(j->send, N_FLOATS, 500 + (uint64_t)j->comm->rank, -1.0f, 1.0f);
    float *send_dev = nullptr, *sum_dev = nullptr, *gathered_dev = nullptr;
    cudaMalloc((void **)&send_dev, sizeof j->send);
    cudaMalloc((void **)&sum_dev, sizeof j->sum);
    cudaMalloc((void **)&gathered_dev, sizeof j->gathered);
    cudaMemcpy(send_dev, j->send, sizeof j->send, cudaMemcpyHostToDevice);
    j->reduce_st = j->comm->ops->all_reduce_sum(j->comm, send_dev, sum_dev, N_FLOATS, nullptr);
    j->gather_st = j->comm->ops->all_gather(j->comm, send_dev, gathered_dev, GATHER, nullptr);
    cudaMemcpy(j->sum, sum_dev, sizeof j->sum, cudaMemcpyDeviceToHost);
    cudaMemcpy(j->gathered, gathered_dev, sizeof j->gathered, cudaMemcpyDeviceToHost);
    cudaFree(send_dev);
    cudaFree(sum_dev);
    cudaFree(gathered_dev);
    return nullptr;
}

static void *wait_in_barrier(void *arg) {
    srt_comm *c = static_cast<srt_comm *>(arg);
    return reinterpret_cast<void *>(static_cast<intptr_t>(c->ops->barrier(c)));
}

static void test_comm_nccl(void) {
    int devices[N_RANKS];
    srt_comm *comms[N_RANKS] = {nullptr, nullptr, nullptr};
    int n_dev = 1;
    cudaGetDeviceCount(&n_dev);   /* 1, or CUDASIM_DEVICES: rank r on device r mod the count */
    TEST_CHECK(srt_comm_nccl_devices(N_RANKS, 0, devices) == SRT_OK && devices[0] == 0 && devices[2] == 2 % n_dev,
               "devices: rank r on device r mod %d: %s", n_dev, srt_last_error());
    srt_status st = srt_comm_nccl_create_group(N_RANKS, devices, comms);
    TEST_CHECK(st == SRT_OK, "NCCL comm group: %s", srt_last_error());
    if (st != SRT_OK) return;
    static comm_job jobs[N_RANKS];
    pthread_t threads[N_RANKS];
    for (int r = 0; r < N_RANKS; r++) {
        jobs[r].comm = comms[r];
        pthread_create(&threads[r], nullptr, comm_rank, &jobs[r]);
    }
    for (int r = 0; r < N_RANKS; r++) pthread_join(threads[r], nullptr);
    int exact = 1, gathered_ok = 1;
    for (int r = 0; r < N_RANKS; r++) {
        TEST_CHECK(jobs[r].reduce_st == SRT_OK && jobs[r].gather_st == SRT_OK, "srt_comm rank %d collectives failed",
                   r);
        for (int i = 0; i < N_FLOATS; i++) {
            float want = jobs[0].send[i];
            for (int q = 1; q < N_RANKS; q++) want += jobs[q].send[i];
            exact &= jobs[r].sum[i] == want;
        }
        for (int q = 0; q < N_RANKS; q++)
            for (int i = 0; i < GATHER; i++) gathered_ok &= jobs[r].gathered[q * GATHER + i] == jobs[q].send[i];
    }
    TEST_CHECK(exact, "srt_comm NCCL all_reduce_sum equals the rank-order sum on every rank");
    TEST_CHECK(gathered_ok, "srt_comm NCCL all_gather places rank q's slice at q * count");

    pthread_t waiters[2];
    for (int r = 1; r < N_RANKS; r++) pthread_create(&waiters[r - 1], nullptr, wait_in_barrier, comms[r]);
    comms[0]->ops->abort(comms[0]);
    for (int r = 1; r < N_RANKS; r++) {
        void *ret;
        pthread_join(waiters[r - 1], &ret);
        TEST_CHECK((srt_status)(intptr_t)ret == SRT_ERR_CANCELLED, "srt_comm rank %d barrier after abort returned %d",
                   r, (int)(intptr_t)ret);
    }
    for (int r = 0; r < N_RANKS; r++) comms[r]->ops->destroy(comms[r]);
}

/* ---- a failure injected on one rank: every rank leaves with SRT_ERR_CANCELLED naming it ---- */

struct fault_job {
    srt_comm *comm;
    int failing;              /* this rank fails: it aborts instead of joining the all-reduce */
    float *buf;               /* device (4) */
    srt_status reduce_st, barrier_st;
    char msg[256];
};

static void *fault_rank(void *arg) {
    fault_job *j = static_cast<fault_job *>(arg);
    if (j->failing) {
        struct timespec pause = {0, 20 * 1000 * 1000};   /* let the others enter their all-reduce first */
        nanosleep(&pause, nullptr);
        j->comm->ops->abort(j->comm);
        return nullptr;
    }
    j->reduce_st = j->comm->ops->all_reduce_sum(j->comm, j->buf, j->buf, 4, nullptr);
    snprintf(j->msg, sizeof j->msg, "%s", srt_last_error());
    j->barrier_st = j->comm->ops->barrier(j->comm);
    return nullptr;
}

static void test_fault_across_ranks(int size, int failing) {
    int devices[4];
    srt_comm *comms[4] = {nullptr, nullptr, nullptr, nullptr};
    TEST_CHECK(srt_comm_nccl_devices(size, 0, devices) == SRT_OK, "devices: %s", srt_last_error());
    srt_status st = srt_comm_nccl_create_group(size, devices, comms);
    TEST_CHECK(st == SRT_OK, "NCCL comm group of %d: %s", size, srt_last_error());
    if (st != SRT_OK) return;
    static fault_job jobs[4];
    pthread_t threads[4];
    for (int r = 0; r < size; r++) {
        jobs[r] = fault_job();
        jobs[r].comm = comms[r];
        jobs[r].failing = r == failing;
        cudaMalloc((void **)&jobs[r].buf, 4 * sizeof(float));
        cudaMemset(jobs[r].buf, 0, 4 * sizeof(float));
        pthread_create(&threads[r], nullptr, fault_rank, &jobs[r]);
    }
    /* watchdog: a rank still waiting after 20 s would hang on a GPU */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    int hung = 0;
    for (int r = 0; r < size; r++) {
        if (pthread_timedjoin_np(threads[r], nullptr, &deadline) != 0) { hung++; continue; }
        if (r == failing) continue;
        char want[64];
        snprintf(want, sizeof want, "aborted by rank %d", failing);
        TEST_CHECK(jobs[r].reduce_st == SRT_ERR_CANCELLED && strstr(jobs[r].msg, want),
                   "TP=%d, rank %d failed: rank %d all-reduce returned %s (%s), want SRT_ERR_CANCELLED naming it",
                   size, failing, r, srt_status_name(jobs[r].reduce_st), jobs[r].msg);
        TEST_CHECK(jobs[r].barrier_st == SRT_ERR_CANCELLED, "TP=%d: rank %d barrier after the failure returned %s",
                   size, r, srt_status_name(jobs[r].barrier_st));
    }
    TEST_CHECK(hung == 0, "TP=%d, rank %d failed: %d rank(s) still waiting in a collective after 20 s", size, failing,
               hung);
    if (hung) return;         /* leave the stuck threads' comms alone */
    for (int r = 0; r < size; r++) {
        cudaFree(jobs[r].buf);
        comms[r]->ops->destroy(comms[r]);
    }
}

/* ---- tiny models: the shared tensor-parallel golden check on "cuda" ---- */
#include "tests/lm_tp_check.h"

int main(void) {
    test_nccl_substitute();
    test_comm_nccl();
    test_fault_across_ranks(2, 1);
    test_fault_across_ranks(4, 2);
    test_fault_across_ranks(4, 0);
    setenv("SNACRT_KV_DTYPE", "f32", 1);   /* the golden tolerances hold for f32 KV (bf16: test_lm_kv_bf16) */
    setenv("SNACRT_CUDA_LM_PRECISION", "exact", 1);   /* and f32-level GEMMs (the bf16 default: test_cudasim_lm_bf16) */
    const int orpheus_tps[] = {1, 2}, qwen_tps[] = {1, 2, 4};
    lm_tp_run_model("tiny-orpheus", "cuda", orpheus_tps, 2);
    lm_tp_run_model("tiny-qwen2", "cuda", qwen_tps, 3);
    TEST_CHECK(cudasim_error_count() == 0, "simulator rule violations: %s", cudasim_last_error());
    TEST_MAIN_END();
}
