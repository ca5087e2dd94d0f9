/* test_cudasim_lm_tp.cpp: tensor parallelism on the simulated "cuda" backend over NCCL (tests/cudasim/nccl.cpp,
 * cuda/comm_nccl.c).
 *  - the NCCL substitute: 3 thread ranks joining by unique id (ncclCommInitRank); ncclAllReduce equals the
 *    rank-order sum bit for bit on every rank (twice: deterministic), ncclAllGather lays slices out by rank,
 *    mismatched counts fail on every rank, ncclCommAbort releases ranks waiting in a collective;
 *  - the srt_comm over NCCL with device buffers: all_reduce_sum / all_gather, and abort gives SRT_ERR_CANCELLED;
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
#include <vector>

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

    /* abort: ranks 1 and 2 wait in an all-reduce rank 0 never joins; rank 0 aborts; both return ncclRemoteError */
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
    TEST_CHECK(ncclCommAbort(comms[0]) == ncclSuccess, "ncclCommAbort");
    for (int r = 1; r < N_RANKS; r++) {
        pthread_join(wt[r - 1], nullptr);
        TEST_CHECK(waiters[r - 1].result == ncclRemoteError, "rank %d all-reduce after abort returned %d", r,
                   waiters[r - 1].result);
        ncclCommDestroy(comms[r]);
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
    TEST_CHECK(srt_comm_nccl_devices(N_RANKS, 0, devices) == SRT_OK && devices[0] == 0 && devices[2] == 0,
               "devices: every rank on the one simulated device: %s", srt_last_error());
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

/* ---- tiny models ---- */

struct golden_prompt {
    const int32_t *ids; int n_ids;
    const float *last_logits;     /* (vocab) */
    const int32_t *greedy; int n_steps;
};

static const void *golden_tensor(srt_weights *w, int prompt, const char *name, int64_t *len) {
    char full[128];
    snprintf(full, sizeof full, "p%d.%s", prompt, name);
    const srt_tensor_view *t = srt_weights_find(w, full);
    if (!t) return nullptr;
    *len = t->shape[0];
    return t->data;
}

static srt_lm *load(const char *dir, int tp) {
    srt_lm_options opts = {};
    opts.backend = "cuda";
    opts.n_threads = 1;
    opts.kv_block_size = 8;
    opts.kv_max_tokens = 512;
    opts.tp = tp;
    srt_lm *lm = nullptr;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "load %s on cuda tp=%d: %s", dir, tp, srt_last_error());
    return lm;
}

/* Both prompts prefilled in one batch; logits (2, vocab) of their last tokens. */
static int prefill_last(srt_lm *lm, const golden_prompt *ps, float *logits) {
    int seqs[2], lens[2] = {ps[0].n_ids, ps[1].n_ids};
    const int32_t *toks[2] = {ps[0].ids, ps[1].ids};
    for (int b = 0; b < 2; b++) TEST_CHECK(srt_lm_seq_open(lm, &seqs[b]) == SRT_OK, "seq_open: %s", srt_last_error());
    srt_status st = srt_lm_forward(lm, 2, seqs, toks, lens, 0, logits);
    TEST_CHECK(st == SRT_OK, "prefill: %s", srt_last_error());
    for (int b = 0; b < 2; b++) srt_lm_seq_close(lm, seqs[b]);
    return st == SRT_OK;
}

static void check_close(const char *tag, const char *what, const float *got, const float *want, int n, double tol) {
    size_t wi;
    double maxerr;
    double worst = test_compare(got, want, (size_t)n, tol, 0, &wi, &maxerr);
    TEST_CHECK(worst <= 0, "%s: %s: id %zu got %g want %g (max err %g, tolerance %g)", tag, what, wi,
               (double)got[wi], (double)want[wi], maxerr, tol);
}

static void check_generate(srt_lm *lm, const char *tag, const golden_prompt *ps) {
    srt_lm_request reqs[2];
    srt_lm_output outs[2];
    for (int b = 0; b < 2; b++) {
        srt_sampling_defaults(&reqs[b].sampling);
        reqs[b].sampling.temperature = 0;
        reqs[b].sampling.max_tokens = ps[b].n_steps;
        reqs[b].prompt = ps[b].ids;
        reqs[b].n_prompt = (size_t)ps[b].n_ids;
    }
    srt_status st = srt_lm_generate(lm, 2, reqs, outs);
    TEST_CHECK(st == SRT_OK, "%s: generate: %s", tag, srt_last_error());
    if (st != SRT_OK) return;
    for (int b = 0; b < 2; b++) {
        int same = (int)outs[b].n_ids == ps[b].n_steps;
        for (int i = 0; same && i < ps[b].n_steps; i++) same = outs[b].ids[i] == ps[b].greedy[i];
        TEST_CHECK(same, "%s: prompt %d: greedy ids differ from greedy_ids (%zu ids)", tag, b, outs[b].n_ids);
        srt_lm_output_free(&outs[b]);
    }
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 512 / 8, "%s: every KV block given back (%d free)", tag,
               srt_lm_kv_free_blocks(lm));
}

static void run_model(const char *name, const int *tps, int n_tps) {
    char rel[128], dir[512], path[600], tag[128];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", name);
    test_src_path(rel, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    srt_weights *golden = nullptr;
    TEST_CHECK(srt_weights_open_safetensors(path, &golden) == SRT_OK, "open %s: %s", path, srt_last_error());
    if (!golden) return;
    golden_prompt ps[2];
    int found = 1;
    for (int p = 0; p < 2; p++) {
        int64_t len = 0, steps = 0, dummy = 0;
        ps[p].ids = static_cast<const int32_t *>(golden_tensor(golden, p, "ids", &len));
        ps[p].n_ids = (int)len;
        ps[p].last_logits = static_cast<const float *>(golden_tensor(golden, p, "prefill_last_logits", &dummy));
        ps[p].greedy = static_cast<const int32_t *>(golden_tensor(golden, p, "greedy_ids", &steps));
        ps[p].n_steps = (int)steps;
        found &= ps[p].ids && ps[p].last_logits && ps[p].greedy;
    }
    TEST_CHECK(found, "%s: golden prompts p0, p1", name);
    srt_lm *base = found ? load(dir, 1) : nullptr;
    if (!base) { srt_weights_free(golden); return; }
    srt_lm_info info;
    srt_lm_get_info(base, &info);
    int vocab = info.vocab_size;
    std::vector<float> want((size_t)2 * vocab), got((size_t)2 * vocab);
    int base_ok = prefill_last(base, ps, want.data());
    srt_lm_free(base);
    for (int t = 0; base_ok && t < n_tps; t++) {
        snprintf(tag, sizeof tag, "%s/cuda tp=%d", name, tps[t]);
        srt_lm *lm = load(dir, tps[t]);
        if (!lm) continue;
        if (prefill_last(lm, ps, got.data())) {
            for (int p = 0; p < 2; p++) {
                check_close(tag, "prefill last logits vs tp=1", got.data() + (size_t)p * vocab,
                            want.data() + (size_t)p * vocab, vocab, 1e-4);
                check_close(tag, "prefill last logits vs golden", got.data() + (size_t)p * vocab, ps[p].last_logits,
                            vocab, 1e-3);
            }
        }
        check_generate(lm, tag, ps);
        srt_lm_free(lm);
        printf("%s: done\n", tag);
    }
    srt_weights_free(golden);
}

int main(void) {
    test_nccl_substitute();
    test_comm_nccl();
    const int orpheus_tps[] = {1, 2}, qwen_tps[] = {1, 2, 4};
    run_model("tiny-orpheus", orpheus_tps, 2);
    run_model("tiny-qwen2", qwen_tps, 3);
    TEST_CHECK(cudasim_error_count() == 0, "simulator rule violations: %s", cudasim_last_error());
    TEST_MAIN_END();
}
