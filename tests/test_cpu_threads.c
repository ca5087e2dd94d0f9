/* test_cpu_threads.c: the cpu backend's thread count governs every parallel region of its LM ops and gemm
 * (srt_lm_options.n_threads / bench_lm --threads), and the LM reports it (srt_lm_info.n_threads, .lm_precision).
 * Deterministic check: OpenMP's default is raised to 4 (omp_set_num_threads), so a region without the backend's
 * num_threads would start pool threads; libgomp keeps its pool threads alive, so the process's thread count
 * (/proc/self/task) after running every op on shapes past their parallel thresholds tells how many ran:
 *   n_threads 1: no new thread; then n_threads 2: exactly one new thread (not 3).
 * Also: srt_lm_options.lm_precision "exact" / "bf16" are reported back and an unknown name is refused by name. */
#include "testutil.h"
#include "backend.h"
#include "lm/lm_ops.h"
#include "snacrt.h"
#include <dirent.h>
#include <omp.h>

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Every LM op of the cpu table and a bf16 gemm, each on a shape that passes its parallel threshold. */
static void run_ops(const srt_backend *be) {
    const srt_lm_ops *o = be->ops->lm;
    void *ctx = be->ctx;
    enum { ROWS = 64, DIM = 2048, SEQS = 2, HEADS = 4, KVH = 2, HD = 64, BS = 16, VOCAB = 512 };
    float *x = test_alloc_uniform((size_t)ROWS * DIM, 1, -1, 1), *w = test_alloc_uniform(DIM, 2, 0.5f, 1.5f);
    float *y = calloc((size_t)ROWS * DIM, 4);
    srt_rmsnorm_args rn = {ROWS, DIM, 1e-5f, x, w, y};   /* 64 x 2048 = 2^17 elements */
    TEST_CHECK(o->rmsnorm(ctx, &rn) == SRT_OK, "rmsnorm");
    float inv_freq[HD / 2];
    for (int i = 0; i < HD / 2; i++) inv_freq[i] = 1.0f / (float)(i + 1);
    int32_t pos[ROWS];
    for (int t = 0; t < ROWS; t++) pos[t] = t;
    srt_rope_args rp = {ROWS, HEADS, HD, pos, inv_freq, x};
    TEST_CHECK(o->rope(ctx, &rp) == SRT_OK, "rope");
    int32_t table[SEQS] = {0, 1}, q_start[SEQS] = {0, 1}, nq[SEQS] = {1, 1}, len[SEQS] = {5, 9};
    float *kc = test_alloc_uniform((size_t)SEQS * BS * KVH * HD, 3, -1, 1);
    float *vc = test_alloc_uniform((size_t)SEQS * BS * KVH * HD, 4, -1, 1);
    srt_paged_attn_args pa = {SEQS, HEADS, KVH, HD, BS, 1, x, kc, vc, table, q_start, nq, len, y, SRT_F32, NULL, NULL};
    TEST_CHECK(o->paged_attention(ctx, &pa) == SRT_OK, "paged_attention");
    srt_swiglu_args sw = {(int64_t)ROWS * DIM / 2, x, x + ROWS * DIM / 2, y};
    TEST_CHECK(o->swiglu(ctx, &sw) == SRT_OK, "swiglu");
    int32_t ids[ROWS];
    for (int t = 0; t < ROWS; t++) ids[t] = t % 7;
    srt_embedding_args em = {ROWS, DIM / 4, 7, SRT_F32, x, ids, y};   /* table (7, 512): x has 64 x 2048 */
    TEST_CHECK(o->embedding(ctx, &em) == SRT_OK, "embedding");
    srt_add_bias_args ab = {ROWS, DIM, w, y};
    TEST_CHECK(o->add_bias(ctx, &ab) == SRT_OK, "add_bias");
    srt_sample_row rows[4];
    for (int r = 0; r < 4; r++)
        rows[r] = (srt_sample_row){.begin = 0, .end = VOCAB, .inv_temp = 1.0f, .top_p = 1.0f, .rep_penalty = 1.0f,
                                   .u = 0.25 * r};
    int32_t picked[4];
    srt_sample_args sa = {4, VOCAB, y, rows, NULL, picked};
    TEST_CHECK(o->sample(ctx, &sa) == SRT_OK, "sample: %s", srt_last_error());
    /* gemm: bf16 B (N, K) at decode and prefill widths (the direct kernel and the panel path) */
    enum { N = 2048, K = 256 };
    uint16_t *B = malloc(sizeof(uint16_t) * N * K);
    for (int i = 0; i < N * K; i++) B[i] = 0x3f80 + (uint16_t)(i % 64);
    for (int M = 8; M <= 64; M *= 8) {
        srt_gemm_args g = {.M = M, .N = N, .K = K, .alpha = 1, .A = x, .lda = K, .B = B, .ldb = K,
                           .b_dtype = SRT_BF16, .trans_b = 1, .C = y, .ldc = N};
        TEST_CHECK(srt_op_gemm(be, &g) == SRT_OK, "gemm M %d: %s", M, srt_last_error());
    }
    free(x); free(w); free(y); free(kc); free(vc); free(B);
}

static void check_lm_options(void) {
    char dir[512];
    test_src_path("tests/data/llama/tiny-qwen2", dir, sizeof dir);
    srt_lm *lm = NULL;
    srt_lm_options opts = {.backend = "cpu", .kv_max_tokens = 256};
    /* srt_lm_info reports the asked thread count and precision; env: SNACRT_CPU_LM_PRECISION while loading (the
     * option wins over the environment) */
    static const struct { int n_threads; const char *precision, *env; } asked[] = {{1, "exact", NULL},
                                                                                    {2, "bf16", "exact"}};
    for (int i = 0; i < 2; i++) {
        opts.n_threads = asked[i].n_threads;
        opts.lm_precision = asked[i].precision;
        if (asked[i].env) setenv("SNACRT_CPU_LM_PRECISION", asked[i].env, 1);
        TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_OK, "load: %s", srt_last_error());
        if (asked[i].env) unsetenv("SNACRT_CPU_LM_PRECISION");
        if (lm) {
            srt_lm_info info;
            srt_lm_get_info(lm, &info);
            TEST_CHECK(info.n_threads == opts.n_threads, "srt_lm_info.n_threads %d, asked %d", info.n_threads,
                       opts.n_threads);
            TEST_CHECK(!strcmp(info.lm_precision, opts.lm_precision), "lm_precision '%s', asked %s", info.lm_precision,
                       opts.lm_precision);
            srt_lm_free(lm);
            lm = NULL;
        }
    }
    opts.lm_precision = "fp8";
    TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_ERR_INVALID_ARG && !lm, "lm_precision fp8 must be refused");
    TEST_CHECK(strstr(srt_last_error(), "'fp8'") != NULL, "the error names the value: %s", srt_last_error());
    opts.backend = "cpu-ref";
    TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_ERR_INVALID_ARG && !lm, "fp8 refused on cpu-ref too");
}

int main(void) {
    omp_set_num_threads(4);   /* what a region without the backend's num_threads would take */
    srt_backend one, two;
    TEST_CHECK(srt_backend_create("cpu", 1, &one) == SRT_OK, "cpu backend, 1 thread");
    TEST_CHECK(one.n_threads == 1, "backend reports %d threads, asked 1", one.n_threads);
    int base = count_threads();
    TEST_CHECK(base >= 1, "read /proc/self/task");
    run_ops(&one);
    int after1 = count_threads();
    TEST_CHECK(after1 == base, "n_threads 1: %d threads started by the ops (a parallel region ignores the backend's "
               "count)", after1 - base);
    TEST_CHECK(srt_backend_create("cpu", 2, &two) == SRT_OK, "cpu backend, 2 threads");
    TEST_CHECK(two.n_threads == 2, "backend reports %d threads, asked 2", two.n_threads);
    run_ops(&two);
    int after2 = count_threads();
    TEST_CHECK(after2 == base + 1, "n_threads 2: %d threads started (expected 1: one OpenMP pool thread beside this "
               "one; more means a region took OpenMP's default 4)", after2 - base);
    srt_backend_destroy(&one);
    srt_backend_destroy(&two);
    check_lm_options();
    TEST_MAIN_END();
}
