/* test_lm_sample_op.c: the sample op of "cpu-ref" (full sort) and "cpu" (srt_sample_pick, rows in parallel) against
 * the host sampler (srt_sampler_sample) without the CUDA simulator (tests/test_cudasim_sample.cpp adds "cuda"):
 * the same id for every row and step, with temperature, top-k / top-p / min-p, penalties, ties and -inf logits;
 * srt_check_sample_args refuses bad rows. */
#include "testutil.h"
#include "backend.h"
#include "lm/lm_ops.h"
#include "lm/sample_pick.h"

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
            srt_status st = bes[k]->ops->lm->sample(bes[k]->ctx, &a);
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
    TEST_CHECK(g_cpu.ops->lm->sample(g_cpu.ctx, &a) == SRT_ERR_INVALID_ARG, "allowed range past the vocabulary");
    bad.end = 4;
    bad.u = 1.0;
    TEST_CHECK(g_ref.ops->lm->sample(g_ref.ctx, &a) == SRT_ERR_INVALID_ARG, "u = 1 refused");
    srt_backend_destroy(&g_cpu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
