/* mpi_tp_check.c: checks of multi-process tensor parallelism, run under mpirun by tests/test_lm_mpi.sh (not a
 * ctest of its own: it needs the launcher). Every process prints "rank R: N passed, N failed" and exits 1 on a
 * failure, so mpirun's exit code tells.
 *   mpi_tp_check comm            the MPI communicator (host/lm/comm_mpi.c), the world as one group:
 *       all_reduce_sum bit-identical to the CPU thread communicator (comm_cpu.c) on the same per-rank data, sizes
 *       1, 7, 33, 1025 (one all-gather) and 4097, 20000 (reduce-scatter + all-gather), separate and in place;
 *       all_gather layout (separate and in place); broadcast from rank 0 and from the last rank; abort: the last
 *       rank aborts while the others wait in a barrier, which returns SRT_ERR_CANCELLED; a new group works after.
 *   mpi_tp_check model DIR TP    a tiny model (tests/data/llama) with srt_lm_options.mpi and tensor-parallel size TP
 *       (world size a multiple of TP: the other groups are data-parallel replicas): srt_lm_info placement; both
 *       golden prompts prefilled in one batch: last logits bit-identical to TP thread ranks in one process, within
 *       1e-4 of tp = 1 and 1e-3 of the golden logits; greedy srt_lm_generate ids = greedy_ids; srt_lm_tp_share_ids
 *       hands every process rank 0's ids; sampled ids (temperature 1, top-k 50) identical to the thread ranks'. */
#include "testutil.h"
#include "snacrt.h"
#include "lm/comm.h"
#include "lm/tp_group.h"
#include "weights/weights.h"
#include <mpi.h>
#include <pthread.h>

static int g_rank;            /* world rank, for messages */

/* ---- the communicator ---- */

/* Rank q's data of a case: magnitudes spread over 1e-3 .. 1e3 so that the summation order shows in the bits. */
static void rank_data(int q, size_t n, float *x) {
    uint64_t s = 1000003u * (uint64_t)n + 7919u * (uint64_t)q + 1;
    for (size_t i = 0; i < n; i++) {
        float m = test_rand_uniform(&s, -1.0f, 1.0f);
        int e = (int)(test_rng_next(&s) % 7) - 3;
        x[i] = m * powf(10.0f, (float)e);
    }
}

typedef struct cpu_job {
    srt_comm *comm;
    const float *send;
    float *recv;
    size_t n;
    srt_status st;
} cpu_job;

static void *cpu_reduce(void *arg) {
    cpu_job *j = arg;
    j->st = j->comm->ops->all_reduce_sum(j->comm, j->send, j->recv, j->n, NULL);
    return NULL;
}

/* What comm_cpu.c's group of `size` threads gives rank `me` for the same per-rank data. */
static int cpu_reference(int size, int me, const float *all, size_t n, float *out) {
    srt_comm *comms[16];
    cpu_job jobs[16];
    pthread_t threads[16];
    float *recv = malloc(sizeof(float) * (size_t)size * n);
    if (!recv || srt_comm_cpu_create_group(size, comms) != SRT_OK) { free(recv); return 0; }
    for (int q = 0; q < size; q++) {
        jobs[q] = (cpu_job){comms[q], all + (size_t)q * n, recv + (size_t)q * n, n, SRT_OK};
        pthread_create(&threads[q], NULL, cpu_reduce, &jobs[q]);
    }
    int ok = 1;
    for (int q = 0; q < size; q++) { pthread_join(threads[q], NULL); ok &= jobs[q].st == SRT_OK; }
    memcpy(out, recv + (size_t)me * n, sizeof(float) * n);
    for (int q = 0; q < size; q++) comms[q]->ops->destroy(comms[q]);
    free(recv);
    return ok;
}

static void check_all_reduce(srt_comm *c, size_t n) {
    int size = c->size, me = c->rank;
    float *all = malloc(sizeof(float) * (size_t)size * n);      /* (size, n) every rank's data */
    float *want = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n), *inplace = malloc(sizeof(float) * n);
    for (int q = 0; q < size; q++) rank_data(q, n, all + (size_t)q * n);
    TEST_CHECK(cpu_reference(size, me, all, n, want), "rank %d: CPU reference group, n=%zu", g_rank, n);
    srt_status st = c->ops->all_reduce_sum(c, all + (size_t)me * n, got, n, NULL);
    TEST_CHECK(st == SRT_OK, "rank %d: MPI all_reduce_sum n=%zu: %s", g_rank, n, srt_last_error());
    TEST_CHECK(!memcmp(got, want, sizeof(float) * n), "rank %d: MPI all_reduce_sum (n=%zu) bit-identical to comm_cpu",
               g_rank, n);
    memcpy(inplace, all + (size_t)me * n, sizeof(float) * n);
    st = c->ops->all_reduce_sum(c, inplace, inplace, n, NULL);
    TEST_CHECK(st == SRT_OK && !memcmp(inplace, want, sizeof(float) * n),
               "rank %d: in-place all_reduce_sum (n=%zu) bit-identical to comm_cpu", g_rank, n);
    if (size >= 3 && n >= 1025) {   /* the data is order-sensitive: the reverse order gives other bits somewhere */
        int differs = 0;
        for (size_t i = 0; i < n && !differs; i++) {
            float rev = all[(size_t)(size - 1) * n + i];
            for (int q = size - 2; q >= 0; q--) rev += all[(size_t)q * n + i];
            differs = rev != want[i];
        }
        TEST_CHECK(differs, "rank %d: n=%zu: test data sensitive to the summation order", g_rank, n);
    }
    free(all); free(want); free(got); free(inplace);
}

static void check_gather_broadcast(srt_comm *c) {
    int size = c->size, me = c->rank;
    float send[5], *recv = malloc(sizeof(float) * 5 * (size_t)size);
    for (int i = 0; i < 5; i++) send[i] = (float)(100 * me + i);
    srt_status st = c->ops->all_gather(c, send, recv, 5, NULL);
    int ok = st == SRT_OK;
    for (int q = 0; ok && q < size; q++)
        for (int i = 0; i < 5; i++) ok &= recv[q * 5 + i] == (float)(100 * q + i);
    TEST_CHECK(ok, "rank %d: all_gather puts rank q's slice at q * count (%s)", g_rank, srt_last_error());
    for (int i = 0; i < 5 * size; i++) recv[i] = -1.0f;
    memcpy(recv + 5 * me, send, sizeof send);
    st = c->ops->all_gather(c, recv + 5 * me, recv, 5, NULL);
    ok = st == SRT_OK;
    for (int q = 0; ok && q < size; q++)
        for (int i = 0; i < 5; i++) ok &= recv[q * 5 + i] == (float)(100 * q + i);
    TEST_CHECK(ok, "rank %d: in-place all_gather", g_rank);
    free(recv);

    for (int root = 0; root < size; root += size - 1 > 0 ? size - 1 : 1) {
        int32_t ids[3] = {-1, -1, -1};
        if (me == root) { ids[0] = 11 + root; ids[1] = 22; ids[2] = 156939; }
        st = c->ops->broadcast(c, ids, sizeof ids, root);
        TEST_CHECK(st == SRT_OK && ids[0] == 11 + root && ids[1] == 22 && ids[2] == 156939,
                   "rank %d: broadcast from rank %d gave %d,%d,%d (%s)", g_rank, root, ids[0], ids[1], ids[2],
                   srt_last_error());
    }
}

static int check_comm(void) {
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    srt_comm *c = NULL;
    srt_comm_place place;
    srt_status st = srt_comm_mpi_create(world, &c, &place);
    TEST_CHECK(st == SRT_OK, "rank %d: srt_comm_mpi_create(%d): %s", g_rank, world, srt_last_error());
    if (st != SRT_OK) return 0;
    TEST_CHECK(c->rank == g_rank && c->size == world && place.world_rank == g_rank && place.world_size == world &&
               place.dp_rank == 0 && place.dp_size == 1 && place.local_size >= 1 && place.local_rank < place.local_size,
               "rank %d: placement rank %d/%d dp %d/%d local %d/%d", g_rank, c->rank, c->size, place.dp_rank,
               place.dp_size, place.local_rank, place.local_size);
    const size_t sizes[] = {1, 7, 33, 1025, 4097, 20000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_all_reduce(c, sizes[i]);
    check_gather_broadcast(c);

    /* abort: the last rank aborts instead of joining the barrier; everyone else is released with CANCELLED. First
     * all leave the broadcast (an abort racing with a collective may cancel it where it has not completed yet). */
    MPI_Barrier(MPI_COMM_WORLD);
    if (c->rank == world - 1) {
        c->ops->abort(c);
        st = c->ops->barrier(c);
        TEST_CHECK(st == SRT_ERR_CANCELLED, "rank %d: barrier after own abort: %s", g_rank, srt_status_name(st));
    } else if (world > 1) {
        st = c->ops->barrier(c);
        TEST_CHECK(st == SRT_ERR_CANCELLED, "rank %d: barrier while rank %d aborts: %s", g_rank, world - 1,
                   srt_status_name(st));
        TEST_CHECK(strstr(srt_last_error(), "failed") != NULL, "rank %d: message names the failed rank: %s", g_rank,
                   srt_last_error());
        float x = 1.0f;
        st = c->ops->all_reduce_sum(c, &x, &x, 1, NULL);
        TEST_CHECK(st == SRT_ERR_CANCELLED, "rank %d: all-reduce after the abort: %s", g_rank, srt_status_name(st));
    }
    c->ops->destroy(c);

    /* a fresh group is unaffected by the aborted one */
    st = srt_comm_mpi_create(world, &c, &place);
    TEST_CHECK(st == SRT_OK, "rank %d: second group: %s", g_rank, srt_last_error());
    if (st != SRT_OK) return 0;
    float x = (float)(g_rank + 1), want = (float)world * (float)(world + 1) / 2;
    st = c->ops->all_reduce_sum(c, &x, &x, 1, NULL);
    TEST_CHECK(st == SRT_OK && x == want, "rank %d: second group all-reduce gave %g want %g (%s)", g_rank, (double)x,
               (double)want, srt_last_error());
    c->ops->destroy(c);

    /* world size not a multiple of the group size */
    if (world > 1) {
        st = srt_comm_mpi_create(world + 1, &c, &place);
        TEST_CHECK(st == SRT_ERR_INVALID_ARG && !c && strstr(srt_last_error(), "not a multiple"),
                   "rank %d: group of %d over %d processes refused: %s", g_rank, world + 1, world, srt_last_error());
    }
    return 1;
}

/* ---- a model ---- */
#include "lm_tp_check.h"

static srt_lm *load_opts(const char *dir, int tp, int mpi) {
    srt_lm_options opts;
    memset(&opts, 0, sizeof opts);
    opts.backend = "cpu";
    opts.n_threads = 1;
    opts.kv_block_size = 8;
    opts.kv_max_tokens = 512;
    opts.tp = tp;
    opts.mpi = mpi;
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "rank %d: load %s tp=%d mpi=%d: %s", g_rank, dir, tp, mpi, srt_last_error());
    return lm;
}

/* Sampled ids of prompt p0 (temperature 1, top-k 50, seed 5). */
static int sample_ids(srt_lm *lm, const golden_prompt *p, int32_t *ids, int n) {
    srt_lm_request req;
    srt_sampling_defaults(&req.sampling);
    req.sampling.temperature = 1.0f;
    req.sampling.top_k = 50;
    req.sampling.seed = 5;
    req.sampling.max_tokens = n;
    req.prompt = p->ids;
    req.n_prompt = (size_t)p->n_ids;
    srt_lm_output out;
    srt_status st = srt_lm_generate(lm, 1, &req, &out);
    TEST_CHECK(st == SRT_OK && (int)out.n_ids == n, "rank %d: sampled generate: %s", g_rank, srt_last_error());
    if (st != SRT_OK) return 0;
    memcpy(ids, out.ids, sizeof(int32_t) * (size_t)n);
    srt_lm_output_free(&out);
    return 1;
}

static int check_model(const char *dir, int tp) {
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    char path[600], tag[160];
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    snprintf(tag, sizeof tag, "rank %d: %s mpi tp=%d", g_rank, dir, tp);
    srt_weights *golden = NULL;
    TEST_CHECK(srt_weights_open_safetensors(path, &golden) == SRT_OK, "open %s: %s", path, srt_last_error());
    if (!golden) return 0;
    golden_prompt ps[2];
    for (int p = 0; p < 2; p++) {
        int64_t len = 0, steps = 0, dummy = 0;
        ps[p].ids = (const int32_t *)lm_golden_tensor(golden, p, "ids", &len);
        ps[p].n_ids = (int)len;
        ps[p].last_logits = (const float *)lm_golden_tensor(golden, p, "prefill_last_logits", &dummy);
        ps[p].greedy = (const int32_t *)lm_golden_tensor(golden, p, "greedy_ids", &steps);
        ps[p].n_steps = (int)steps;
    }
    srt_lm *one = load_opts(dir, 1, 0), *threads = load_opts(dir, tp, 0), *procs = load_opts(dir, tp, 1);
    int ok = one && threads && procs;
    if (ok) {
        srt_lm_info info;
        srt_lm_get_info(procs, &info);
        int vocab = info.vocab_size;
        TEST_CHECK(info.tp_size == tp && info.tp_rank == g_rank % tp && info.dp_size == world / tp &&
                   info.dp_rank == g_rank / tp, "%s: info tp %d/%d dp %d/%d", tag, info.tp_rank, info.tp_size,
                   info.dp_rank, info.dp_size);
        float *want1 = malloc(sizeof(float) * 2 * vocab), *want_t = malloc(sizeof(float) * 2 * vocab);
        float *got = malloc(sizeof(float) * 2 * vocab);
        if (prefill_last(one, ps, vocab, want1) && prefill_last(threads, ps, vocab, want_t) &&
            prefill_last(procs, ps, vocab, got)) {
            TEST_CHECK(!memcmp(got, want_t, sizeof(float) * 2 * vocab),
                       "%s: prefill last logits bit-identical to %d thread ranks", tag, tp);
            for (int p = 0; p < 2; p++) {
                check_close(tag, "prefill last logits vs tp=1", got + (size_t)p * vocab, want1 + (size_t)p * vocab,
                            vocab, 1e-4);
                check_close(tag, "prefill last logits vs golden", got + (size_t)p * vocab, ps[p].last_logits, vocab,
                            1e-3);
            }
        }
        check_generate(procs, tag, ps);
        int32_t picks[2] = {1000 + info.tp_rank, 7}, want_picks[2] = {1000, 7};   /* rank 0's win everywhere */
        TEST_CHECK(srt_lm_tp_share_ids(procs, picks, 2) == SRT_OK && !memcmp(picks, want_picks, sizeof picks),
                   "%s: srt_lm_tp_share_ids gives rank 0's ids (%d, %d): %s", tag, picks[0], picks[1],
                   srt_last_error());
        int32_t a[12], b[12];
        if (sample_ids(threads, &ps[0], a, 12) && sample_ids(procs, &ps[0], b, 12))
            TEST_CHECK(!memcmp(a, b, sizeof a), "%s: sampled ids identical to the thread ranks'", tag);
        free(want1); free(want_t); free(got);
    }
    srt_lm_free(procs);
    srt_lm_free(threads);
    srt_lm_free(one);
    srt_weights_free(golden);
    return ok;
}

int main(int argc, char **argv) {
    /* the cpu backend's exact path: the golden tolerances are f32's (the bf16 default: test_cpu_lm_bf16.c) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);   /* the application owns MPI here */
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    if (argc >= 2 && !strcmp(argv[1], "comm")) {
        check_comm();
    } else if (argc >= 4 && !strcmp(argv[1], "model")) {
        check_model(argv[2], atoi(argv[3]));
    } else {
        fprintf(stderr, "usage: mpirun -np N mpi_tp_check comm | model DIR TP\n");
        MPI_Finalize();
        return 2;
    }
    printf("rank %d: ", g_rank);
    MPI_Finalize();
    TEST_MAIN_END();
}
