/* test_lm_sample_op.c: the sample op of "cpu-ref" (full sort) and "cpu" (srt_sample_pick, rows in parallel) against
 * the host sampler (srt_sampler_sample) without the CUDA simulator (tests/test_cudasim_sample.cpp adds "cuda"):
 * the same id for every row and step, with temperature, top-k / top-p / min-p, penalties, ties and -inf logits;
 * srt_check_sample_args refuses bad rows. The mask_rows op of "cpu" against "cpu-ref" (bit-exact: it only writes
 * -inf) on vocabularies 1, 7, 33, 1025 and 156940 with 1, 7 and 33 rows of mixed clear / keep ranges and keep ids;
 * srt_check_mask_rows_args refuses bad rows. */
#include "testutil.h"
#include "backend.h"
#include "lm/lm_ops.h"
#include "lm/sample_pick.h"
#include "lm_mask_cases.h"

static srt_backend g_ref, g_cpu;

static void fill(float *x, int n, uint64_t seed, int ties) {
    test_fill_uniform(x, (size_t)n, seed, -5, 5);
    for (int i = 0; i < n; i++) {
        if (ties) x[i] = floorf(x[i]) * 0.5f;
        if (i % 11 == 5) x[i] = -INFINITY;
    }
}

static void run(const char *label, int vocab, int batch, int steps, srt_sampling_params p, int ties) {
    srt_sampler *host[8], *plan[8];
    int32_t prompt[5] = {1 % vocab, 4 % vocab, 9 % vocab, 4 % vocab, 0};
    for (int b = 0; b < batch; b++) {
        p.seed = 100 + (uint64_t)b;
        srt_sampler_create(&p, vocab, &host[b]);
        srt_sampler_create(&p, vocab, &plan[b]);
        srt_sampler_add_prompt(host[b], prompt, 5);
        srt_sampler_add_prompt(plan[b], prompt, 5);
    }
    float *logits = malloc(sizeof(float) * (size_t)batch * vocab), *copy = malloc(sizeof(float) * (size_t)batch * vocab);
    srt_sample_penalty *pen = malloc(sizeof *pen * (size_t)(batch * vocab + 1));
    for (int step = 0; step < steps; step++) {
        srt_sample_row rows[8];
        int32_t want[8], got[8];
        int start = 0;
        for (int b = 0; b < batch; b++) {
            fill(logits + (size_t)b * vocab, vocab, 7919u * (uint64_t)step + (uint64_t)b, ties);
            srt_sampler_sample(host[b], logits + (size_t)b * vocab, &want[b]);
            srt_sampler_plan(plan[b], start, &rows[b], pen + start);
            start += rows[b].n_pen;
        }
        srt_backend *bes[2] = {&g_ref, &g_cpu};
        for (int k = 0; k < 2; k++) {
            memcpy(copy, logits, sizeof(float) * (size_t)batch * vocab);
            srt_sample_args a = {batch, vocab, copy, rows, pen, got};
            srt_status st = srt_op_sample(bes[k], &a);
            TEST_CHECK(st == SRT_OK, "%s step %d: %s: %s", label, step, bes[k]->ops->name, srt_last_error());
            for (int b = 0; st == SRT_OK && b < batch; b++)
                TEST_CHECK(got[b] == want[b], "%s step %d row %d: %s picked %d, the sampler %d", label, step, b,
                           bes[k]->ops->name, got[b], want[b]);
        }
        for (int b = 0; b < batch; b++) srt_sampler_accept(plan[b], want[b]);
    }
    for (int b = 0; b < batch; b++) { srt_sampler_free(host[b]); srt_sampler_free(plan[b]); }
    free(logits); free(copy); free(pen);
}

static void mask_case(int vocab, int n_rows, uint64_t seed) {
    uint64_t s = seed;
    srt_mask_row *rows = malloc(sizeof *rows * (size_t)n_rows);
    size_t n = (size_t)n_rows * (size_t)vocab;
    float *x = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    for (int r = 0; r < n_rows; r++) rows[r] = test_random_mask_row(vocab, &s);
    test_fill_uniform(x, n, seed, -4, 4);
    for (size_t i = 0; i < n; i += 97) x[i] = (i / 97) % 2 ? INFINITY : NAN;   /* kept as they are unless cleared */
    memcpy(want, x, sizeof(float) * n);
    memcpy(got, x, sizeof(float) * n);
    srt_mask_rows_args a = {n_rows, vocab, want, rows};
    TEST_CHECK(srt_op_mask_rows(&g_ref, &a) == SRT_OK, "mask_rows cpu-ref: %s", srt_last_error());
    a.logits = got;
    TEST_CHECK(srt_op_mask_rows(&g_cpu, &a) == SRT_OK, "mask_rows cpu: %s", srt_last_error());
    size_t diff = 0, cleared = 0;
    for (size_t i = 0; i < n; i++) {
        diff += memcmp(&got[i], &want[i], sizeof(float)) != 0;
        cleared += want[i] == -INFINITY;
    }
    TEST_CHECK(diff == 0, "mask_rows vocab %d, %d rows: %zu of %zu logits differ between cpu and cpu-ref", vocab,
               n_rows, diff, n);
    if (n_rows >= 7 && vocab >= 33) TEST_CHECK(cleared > 0, "mask_rows vocab %d, %d rows: something cleared", vocab, n_rows);
    free(rows); free(x); free(want); free(got);
}

static void mask_rows_tests(void) {
    int vocabs[] = {1, 7, 33, 1025, 156940}, batches[] = {1, 7, 33};
    for (int v = 0; v < 5; v++)
        for (int b = 0; b < 3; b++) mask_case(vocabs[v], batches[b], 1000u * (uint64_t)v + (uint64_t)b + 1);
    /* the Orpheus position mask: clear the speech range except one position's codes and end-of-speech */
    int vocab = 156940;
    float *x = malloc(sizeof(float) * (size_t)vocab);
    for (int i = 0; i < vocab; i++) x[i] = 1.0f;
    srt_mask_row m = {128258, 156938, 128266 + 4096 * 3, 128266 + 4096 * 3 + 4096, 128258};
    srt_mask_rows_args a = {1, vocab, x, &m};
    TEST_CHECK(srt_op_mask_rows(&g_cpu, &a) == SRT_OK, "orpheus mask");
    int ok = 1;
    for (int i = 0; i < vocab; i++) {
        int kept = i < 128258 || i == 128258 || (i >= m.keep_begin && i < m.keep_end) || i >= 156938;
        ok &= kept ? x[i] == 1.0f : x[i] == -INFINITY;
    }
    TEST_CHECK(ok, "orpheus position mask: exactly the other positions' ids cleared");
    /* argument checks */
    srt_mask_row bad[] = {{0, 157000, 0, 0, -1}, {5, 4, 0, 0, -1}, {0, 4, 3, 2, -1}, {0, 4, 0, 0, vocab}, {-1, 4, 0, 0, -1}};
    for (int k = 0; k < 5; k++) {
        a.rows = &bad[k];
        TEST_CHECK(srt_op_mask_rows(&g_ref, &a) == SRT_ERR_INVALID_ARG &&
                   srt_op_mask_rows(&g_cpu, &a) == SRT_ERR_INVALID_ARG, "bad mask row %d refused", k);
    }
    free(x);
}

static srt_sampling_params params(float t, int k, float top_p, float min_p) {
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.temperature = t; p.top_k = k; p.top_p = top_p; p.min_p = min_p;
    return p;
}

int main(void) {
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &g_ref) == SRT_OK, "cpu-ref: %s", srt_last_error());
    TEST_CHECK(srt_backend_create("cpu", 2, &g_cpu) == SRT_OK, "cpu: %s", srt_last_error());
    run("greedy", 33, 7, 3, params(0, 0, 1, 0), 1);
    run("temperature", 7, 3, 5, params(0.7f, 0, 1, 0), 0);
    run("top-k 40 ties", 1025, 7, 3, params(1, 40, 1, 0), 1);
    run("top-p 0.8 ties", 1025, 7, 3, params(1, 0, 0.8f, 0), 1);
    run("top-p 0.999", 1025, 2, 3, params(1.5f, 0, 0.999f, 0), 0);
    run("all three", 1025, 7, 3, params(0.9f, 50, 0.9f, 0.05f), 1);
    srt_sampling_params pen = params(1, 0, 0.95f, 0);
    pen.repetition_penalty = 1.3f; pen.frequency_penalty = 0.5f; pen.presence_penalty = 0.25f;
    pen.allowed_begin = 2; pen.allowed_end = 30;
    run("penalties, allowed range", 33, 7, 8, pen, 0);
    /* argument checks */
    float x[4] = {0, 1, 2, 3};
    int32_t id;
    srt_sample_row bad = {0, 5, 1.0f, 0, 1.0f, 0, 1.0f, 0, 0, 0.5};   /* end past the vocabulary */
    srt_sample_args a = {1, 4, x, &bad, NULL, &id};
    TEST_CHECK(srt_op_sample(&g_cpu, &a) == SRT_ERR_INVALID_ARG, "allowed range past the vocabulary");
    bad.end = 4;
    bad.u = 1.0;
    TEST_CHECK(srt_op_sample(&g_ref, &a) == SRT_ERR_INVALID_ARG, "u = 1 refused");
    mask_rows_tests();
    srt_backend_destroy(&g_cpu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
