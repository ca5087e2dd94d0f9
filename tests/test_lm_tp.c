/* test_lm_tp.c: tensor parallelism (host/lm/tp_*.c, host/lm/comm_cpu.c).
 *  - the CPU communicator: all_reduce_sum of 3 thread-ranks equals the rank-order sum bit for bit on every rank,
 *    all_gather lays slices out by rank, abort releases a rank waiting in a collective;
 *  - tiny-orpheus tp = 1, 2 and tiny-qwen2 tp = 1, 2, 4 on cpu-ref and cpu: prefill last logits (both golden
 *    prompts in one batch) within 1e-4 of tp = 1 and within 1e-3 of the golden prefill_last_logits; greedy ids from
 *    srt_lm_generate identical to greedy_ids; every KV block given back;
 *  - a tp the model's heads cannot be split by is refused with SRT_ERR_UNSUPPORTED. */
#include "testutil.h"
#include "snacrt.h"
#include "lm/comm.h"
#include "weights/weights.h"
#include <pthread.h>

#define N_RANKS 3
#define N_FLOATS 1000

typedef struct comm_job {
    srt_comm *comm;
    float send[N_FLOATS], sum[N_FLOATS], gathered[N_RANKS * 4];
    srt_status reduce_st, gather_st;
} comm_job;

static void *comm_rank(void *arg) {
    comm_job *j = arg;
    test_fill_uniform(j->send, N_FLOATS, 100 + (uint64_t)j->comm->rank, -1.0f, 1.0f);
    j->reduce_st = j->comm->ops->all_reduce_sum(j->comm, j->send, j->sum, N_FLOATS, NULL);
    j->gather_st = j->comm->ops->all_gather(j->comm, j->send, j->gathered, 4, NULL);
    return NULL;
}

static void *wait_in_barrier(void *arg) {
    srt_comm *c = arg;
    srt_status st = c->ops->barrier(c);
    return (void *)(intptr_t)st;
}

static void test_comm_cpu(void) {
    srt_comm *comms[N_RANKS];
    TEST_CHECK(srt_comm_cpu_create_group(N_RANKS, comms) == SRT_OK, "comm group: %s", srt_last_error());
    static comm_job jobs[N_RANKS];
    pthread_t threads[N_RANKS];
    for (int r = 0; r < N_RANKS; r++) {
        jobs[r].comm = comms[r];
        pthread_create(&threads[r], NULL, comm_rank, &jobs[r]);
    }
    for (int r = 0; r < N_RANKS; r++) pthread_join(threads[r], NULL);
    int exact = 1, gathered_ok = 1;
    for (int r = 0; r < N_RANKS; r++) {
        TEST_CHECK(jobs[r].reduce_st == SRT_OK && jobs[r].gather_st == SRT_OK, "rank %d collectives failed", r);
        for (int i = 0; i < N_FLOATS; i++) {
            float want = jobs[0].send[i];
            for (int q = 1; q < N_RANKS; q++) want += jobs[q].send[i];
            exact &= jobs[r].sum[i] == want;
        }
        for (int q = 0; q < N_RANKS; q++)
            for (int i = 0; i < 4; i++) gathered_ok &= jobs[r].gathered[q * 4 + i] == jobs[q].send[i];
    }
    TEST_CHECK(exact, "all_reduce_sum equals the rank-order sum on every rank");
    TEST_CHECK(gathered_ok, "all_gather places rank q's slice at q * count on every rank");

    /* abort: ranks 1 and 2 wait in a barrier rank 0 never reaches; rank 0 aborts; both return CANCELLED */
    pthread_t waiters[2];
    for (int r = 1; r < N_RANKS; r++) pthread_create(&waiters[r - 1], NULL, wait_in_barrier, comms[r]);
    comms[0]->ops->abort(comms[0]);
    for (int r = 1; r < N_RANKS; r++) {
        void *ret;
        pthread_join(waiters[r - 1], &ret);
        TEST_CHECK((srt_status)(intptr_t)ret == SRT_ERR_CANCELLED, "rank %d barrier after abort returned %d", r,
                   (int)(intptr_t)ret);
    }
    for (int r = 0; r < N_RANKS; r++) comms[r]->ops->destroy(comms[r]);
}

#include "lm_tp_check.h"

static void test_bad_tp(void) {
    char dir[512];
    test_src_path("tests/data/llama/tiny-qwen2", dir, sizeof dir);
    srt_lm_options opts = {.backend = "cpu-ref", .n_threads = 1, .tp = 3};
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_ERR_UNSUPPORTED && !lm, "tp=3 on 4 heads: status %s", srt_status_name(st));
    TEST_CHECK(strstr(srt_last_error(), "num_attention_heads 4") != NULL, "message names the heads: %s",
               srt_last_error());
}

int main(void) {
    /* the cpu backend's exact path: the golden tolerances are f32's (the bf16 default: test_cpu_lm_bf16.c) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    test_comm_cpu();
    const char *backends[] = {"cpu-ref", "cpu"};
    const int orpheus_tps[] = {1, 2}, qwen_tps[] = {1, 2, 4};
    for (int b = 0; b < 2; b++) {
        lm_tp_run_model("tiny-orpheus", backends[b], orpheus_tps, 2);
        lm_tp_run_model("tiny-qwen2", backends[b], qwen_tps, 3);
    }
    test_bad_tp();
    TEST_MAIN_END();
}
