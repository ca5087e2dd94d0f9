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

typedef struct golden_prompt {
    const int32_t *ids; int n_ids;
    const float *last_logits;     /* (vocab) */
    const int32_t *greedy; int n_steps;
} golden_prompt;

static const void *golden_tensor(srt_weights *w, int prompt, const char *name, int64_t *len) {
    char full[128];
    snprintf(full, sizeof full, "p%d.%s", prompt, name);
    const srt_tensor_view *t = srt_weights_find(w, full);
    if (!t) return NULL;
    *len = t->shape[0];
    return t->data;
}

static srt_lm *load(const char *dir, const char *backend, int tp) {
    srt_lm_options opts = {.backend = backend, .n_threads = 1, .kv_block_size = 8, .kv_max_tokens = 512, .tp = tp};
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "load %s on %s tp=%d: %s", dir, backend, tp, srt_last_error());
    return lm;
}

/* Both prompts prefilled in one batch; logits (2, vocab) of their last tokens. */
static int prefill_last(srt_lm *lm, const golden_prompt *ps, int vocab, float *logits) {
    int seqs[2], lens[2] = {ps[0].n_ids, ps[1].n_ids};
    const int32_t *toks[2] = {ps[0].ids, ps[1].ids};
    for (int b = 0; b < 2; b++) TEST_CHECK(srt_lm_seq_open(lm, &seqs[b]) == SRT_OK, "seq_open: %s", srt_last_error());
    srt_status st = srt_lm_forward(lm, 2, seqs, toks, lens, 0, logits);
    TEST_CHECK(st == SRT_OK, "prefill: %s", srt_last_error());
    for (int b = 0; b < 2; b++) srt_lm_seq_close(lm, seqs[b]);
    (void)vocab;
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

static void run_model(const char *name, const char *backend, const int *tps, int n_tps) {
    char rel[128], dir[512], path[600], tag[128];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", name);
    test_src_path(rel, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    srt_weights *golden = NULL;
    TEST_CHECK(srt_weights_open_safetensors(path, &golden) == SRT_OK, "open %s: %s", path, srt_last_error());
    if (!golden) return;
    golden_prompt ps[2];
    int found = 1;
    for (int p = 0; p < 2; p++) {
        int64_t len = 0, steps = 0, dummy = 0;
        ps[p].ids = golden_tensor(golden, p, "ids", &len);
        ps[p].n_ids = (int)len;
        ps[p].last_logits = golden_tensor(golden, p, "prefill_last_logits", &dummy);
        ps[p].greedy = golden_tensor(golden, p, "greedy_ids", &steps);
        ps[p].n_steps = (int)steps;
        found &= ps[p].ids && ps[p].last_logits && ps[p].greedy;
    }
    TEST_CHECK(found, "%s: golden prompts p0, p1", name);
    srt_lm *base = found ? load(dir, backend, 1) : NULL;
    if (!base) { srt_weights_free(golden); return; }
    srt_lm_info info;
    srt_lm_get_info(base, &info);
    int vocab = info.vocab_size;
    float *want = malloc(sizeof(float) * 2 * vocab), *got = malloc(sizeof(float) * 2 * vocab);
    int base_ok = prefill_last(base, ps, vocab, want);
    srt_lm_free(base);
    for (int t = 0; base_ok && t < n_tps; t++) {
        snprintf(tag, sizeof tag, "%s/%s tp=%d", name, backend, tps[t]);
        srt_lm *lm = load(dir, backend, tps[t]);
        if (!lm) continue;
        srt_lm_info tp_info;
        srt_lm_get_info(lm, &tp_info);
        TEST_CHECK(tp_info.vocab_size == vocab && tp_info.n_heads == info.n_heads && tp_info.n_params == info.n_params,
                   "%s: info reports the whole model (%lld params, want %lld)", tag, (long long)tp_info.n_params,
                   (long long)info.n_params);
        if (prefill_last(lm, ps, vocab, got)) {
            for (int p = 0; p < 2; p++) {
                check_close(tag, "prefill last logits vs tp=1", got + (size_t)p * vocab, want + (size_t)p * vocab,
                            vocab, 1e-4);
                check_close(tag, "prefill last logits vs golden", got + (size_t)p * vocab, ps[p].last_logits, vocab,
                            1e-3);
            }
        }
        check_generate(lm, tag, ps);
        srt_lm_free(lm);
    }
    free(want);
    free(got);
    srt_weights_free(golden);
}

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
    test_comm_cpu();
    const char *backends[] = {"cpu-ref", "cpu"};
    const int orpheus_tps[] = {1, 2}, qwen_tps[] = {1, 2, 4};
    for (int b = 0; b < 2; b++) {
        run_model("tiny-orpheus", backends[b], orpheus_tps, 2);
        run_model("tiny-qwen2", backends[b], qwen_tps, 3);
    }
    test_bad_tp();
    TEST_MAIN_END();
}
