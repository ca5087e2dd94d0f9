/* lm_golden_teacher.h: the teacher-forced golden check of an LM whose GEMMs round activations to bf16, shared by
 * tests/test_cpu_lm_bf16.c ("cpu") and tests/test_cudasim_lm_bf16.cpp ("cuda" through the simulator): a golden
 * prompt's tensors (tests/data/llama/<model>/golden.safetensors) with its LM bound, the pair of models a cudasim test
 * compares (loaded with and without an environment setting; also tests/test_cudasim_qkv_attention.cpp), whether its
 * prefill differs from the exact path, one step against the golden logits, and teacher-forced batches of 7 and 33
 * rows. The bound is
 * derived at the top of either test: tol = 8 sqrt(G / 3) u rms(golden logits) + 1e-3 with G = 4 L + 1 GEMM stages
 * and u = 2^-8. tests/lm_tp_check.h takes lm_golden_tensor from here; the error-budget tests of int8 weights and of
 * bf16 / fp8 KV caches (tests/test_lm_int8.c, tests/test_lm_kv_bf16.c) the golden files and lm_golden_run_steps.
 * Include after testutil.h, snacrt.h and weights/weights.h (C or C++). */
#ifndef SRT_LM_GOLDEN_TEACHER_H
#define SRT_LM_GOLDEN_TEACHER_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U_BF16 (1.0 / 256.0)   /* 2^-8: bf16 unit roundoff (8 significant bits, round to nearest) */

typedef struct lm_golden_prompt {
    const int32_t *ids, *greedy, *top_ids;   /* (n_ids), (n_steps), (n_steps, 64) */
    const float *last, *top;                 /* prefill_last_logits (vocab), step_top64_logits (n_steps, 64) */
    int n_ids, n_steps;
    double tol;                              /* the LM bound for this prompt */
} lm_golden_prompt;

/* golden tensor "p<p>.<name>" (NULL when absent); *len = its first dimension */
static inline const void *lm_golden_tensor(srt_weights *w, int p, const char *name, int64_t *len) {
    char full[128];
    snprintf(full, sizeof full, "p%d.%s", p, name);
    const srt_tensor_view *t = srt_weights_find(w, full);
    if (!t) return NULL;
    *len = t->shape[0];
    return t->data;
}

/* prompt p's ids (*n_ids) and golden greedy ids (*n_steps) in golden; 0 (a failed check naming the model) when
 * either is missing */
static inline int lm_golden_prompt_ids(srt_weights *golden, int p, const char *name, const int32_t **ids, int *n_ids,
                                       const int32_t **greedy, int *n_steps) {
    int64_t len = 0, steps = 0;
    *ids = (const int32_t *)lm_golden_tensor(golden, p, "ids", &len);
    *greedy = (const int32_t *)lm_golden_tensor(golden, p, "greedy_ids", &steps);
    TEST_CHECK(*ids && *greedy, "%s: golden prompt %d", name, p);
    *n_ids = (int)len;
    *n_steps = (int)steps;
    return *ids && *greedy;
}

static inline int lm_golden_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* Model tests/data/llama/<name>: its folder into dir (dir_size bytes) and its golden tensors, NULL (after a failed
 * check) when they cannot be opened. */
static inline srt_weights *lm_golden_open(const char *name, char *dir, size_t dir_size) {
    char rel[128], path[600];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", name);
    test_src_path(rel, dir, dir_size);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    srt_weights *golden = NULL;
    TEST_CHECK(srt_weights_open_safetensors(path, &golden) == SRT_OK, "open %s: %s", path, srt_last_error());
    return golden;
}

/* The model in dir loaded twice on backend (KV cache blocks of 8, 2048 tokens of kv_dtype), the pair a golden test
 * compares: *first while the environment variable env is value, then *second with env unset (the default). SRT_OK
 * or the first failure (a model not loaded is left as it was). */
static inline srt_status lm_golden_load_pair(const char *dir, const char *backend, const char *kv_dtype, const char *env,
                                             const char *value, srt_lm **first, srt_lm **second) {
    srt_lm_options opts;
    memset(&opts, 0, sizeof opts);
    opts.backend = backend;
    opts.kv_block_size = 8;
    opts.kv_max_tokens = 2048;
    opts.kv_dtype = kv_dtype;
    setenv(env, value, 1);
    srt_status st = srt_lm_load(dir, &opts, first);
    unsetenv(env);
    if (st == SRT_OK) st = srt_lm_load(dir, &opts, second);
    return st;
}

/* Prompt p of `golden` into *g with its LM bound for a model of n_layers layers and vocab tokens; 0 (a failed
 * check naming the model) when a tensor is missing. */
static inline int lm_golden_prompt_load(srt_weights *golden, int p, const char *name, int n_layers, int vocab,
                                        lm_golden_prompt *g) {
    int64_t len = 0, steps = 0, d = 0;
    g->ids = (const int32_t *)lm_golden_tensor(golden, p, "ids", &len);
    g->last = (const float *)lm_golden_tensor(golden, p, "prefill_last_logits", &d);
    g->greedy = (const int32_t *)lm_golden_tensor(golden, p, "greedy_ids", &steps);
    g->top = (const float *)lm_golden_tensor(golden, p, "step_top64_logits", &d);
    g->top_ids = (const int32_t *)lm_golden_tensor(golden, p, "step_top64_ids", &d);
    g->n_ids = (int)len;
    g->n_steps = (int)steps;
    TEST_CHECK(g->ids && g->last && g->greedy && g->top && g->top_ids, "%s p%d: golden tensors", name, p);
    if (!g->ids || !g->last || !g->greedy || !g->top || !g->top_ids) return 0;
    const int G = 4 * n_layers + 1;
    double ss = 0;
    for (int j = 0; j < vocab; j++) ss += (double)g->last[j] * g->last[j];
    g->tol = 8 * sqrt(G / 3.0) * U_BF16 * sqrt(ss / vocab) + 1e-3;
    return 1;
}

/* Prompt p (g) prefilled alone on lm and on exact (the same model at precision exact): 1 when the last logits differ
 * anywhere (lm's own path ran), 0 when they are equal bit for bit. */
static inline int lm_golden_prefill_differs(srt_lm *lm, srt_lm *exact, const char *name, int p,
                                            const lm_golden_prompt *g, int vocab) {
    float *lg[2] = {(float *)calloc((size_t)vocab, sizeof(float)), (float *)calloc((size_t)vocab, sizeof(float))};
    for (int e = 0; e < 2; e++) {
        int seq;
        srt_lm *m = e ? exact : lm;
        TEST_CHECK(srt_lm_seq_open(m, &seq) == SRT_OK, "%s p%d: seq_open: %s", name, p, srt_last_error());
        const int32_t *toks = g->ids;
        srt_status st = srt_lm_forward(m, 1, &seq, &toks, &g->n_ids, 0, lg[e]);
        TEST_CHECK(st == SRT_OK, "%s p%d: prefill: %s", name, p, srt_last_error());
        srt_lm_seq_close(m, seq);
    }
    int differ = memcmp(lg[0], lg[1], sizeof(float) * (size_t)vocab) != 0;
    free(lg[0]);
    free(lg[1]);
    return differ;
}

/* Step i of a prompt in one row of a batch (logits of the prefill for i = 0, after feeding greedy[i - 1] else)
 * against the golden logits: every golden logit of the step (all for i = 0, the top 64 else) within tol, and the
 * greedy pick a token whose golden logit is within 2 tol of the best (so exactly the golden id where the golden
 * margin exceeds 2 tol). Returns 1 when the pick is the golden id. */
static inline int lm_golden_check_step(const char *tag, const lm_golden_prompt *g, int i, const float *row, int vocab,
                                       double *worst) {
    int pick = lm_golden_argmax(row, vocab);
    double err = 0, pick_logit = -INFINITY, best;
    if (i == 0) {
        for (int j = 0; j < vocab; j++) err = fabs(row[j] - g->last[j]) > err ? fabs(row[j] - g->last[j]) : err;
        best = g->last[lm_golden_argmax(g->last, vocab)];
        pick_logit = g->last[pick];
    } else {
        const float *tl = g->top + (size_t)(i - 1) * 64;
        const int32_t *ti = g->top_ids + (size_t)(i - 1) * 64;
        for (int j = 0; j < 64; j++) {
            err = fabs(row[ti[j]] - tl[j]) > err ? fabs(row[ti[j]] - tl[j]) : err;
            if (ti[j] == pick) pick_logit = tl[j];
        }
        best = tl[0];
    }
    if (err > *worst) *worst = err;
    TEST_CHECK(err <= g->tol, "%s step %d: logits off by %g (bound %g)", tag, i, err, g->tol);
    TEST_CHECK(pick_logit >= best - 2 * g->tol, "%s step %d: picked %d, golden logit %g, best %g (bound %g)", tag, i,
               pick, pick_logit, best, g->tol);
    return pick == g->greedy[i];
}

/* Teacher-forced batches of 7 and 33 rows on lm (row b runs prompt b % 2 of gp; every decode step is one M 7 / M 33
 * forward feeding the golden greedy ids): each row checked at each step both prompts have (lm_golden_check_step);
 * prints the worst error and how often the pick was the golden id. `label` goes into that line. */
static inline void lm_golden_teacher_force(srt_lm *lm, const char *name, const char *label,
                                           const lm_golden_prompt gp[2], int vocab) {
    static const int rows[] = {7, 33};
    char tag[160];
    for (int r = 0; r < 2; r++) {
        const int B = rows[r];
        int seqs[33], lens[33], ones[33], agree = 0, checked = 0;
        const int32_t *toks[33];
        float *logits = (float *)malloc(sizeof(float) * (size_t)B * vocab);
        double worst = 0;
        for (int b = 0; b < B; b++) {
            TEST_CHECK(srt_lm_seq_open(lm, &seqs[b]) == SRT_OK, "%s: seq_open: %s", name, srt_last_error());
            toks[b] = gp[b % 2].ids;
            lens[b] = gp[b % 2].n_ids;
            ones[b] = 1;
        }
        srt_status st = srt_lm_forward(lm, B, seqs, toks, lens, 0, logits);
        TEST_CHECK(st == SRT_OK, "%s %d rows: prefill: %s", name, B, srt_last_error());
        const int n_steps = gp[0].n_steps < gp[1].n_steps ? gp[0].n_steps : gp[1].n_steps;
        for (int i = 0; st == SRT_OK && i < n_steps; i++) {
            for (int b = 0; b < B; b++, checked++) {
                snprintf(tag, sizeof tag, "%s %d rows, row %d (p%d)", name, B, b, b % 2);
                agree += lm_golden_check_step(tag, &gp[b % 2], i, logits + (size_t)b * vocab, vocab, &worst);
            }
            if (i + 1 == n_steps) break;
            for (int b = 0; b < B; b++) toks[b] = &gp[b % 2].greedy[i];
            st = srt_lm_forward(lm, B, seqs, toks, ones, 0, logits);
            TEST_CHECK(st == SRT_OK, "%s %d rows: step %d: %s", name, B, i, srt_last_error());
        }
        for (int b = 0; b < B; b++) srt_lm_seq_close(lm, seqs[b]);
        printf("%s %d rows (teacher-forced%s): logits max error %.3g (bounds p0 %.3g, p1 %.3g); greedy id = golden at "
               "%d of %d steps, the others within 2 x bound\n", name, B, label, worst, gp[0].tol, gp[1].tol, agree,
               checked);
        free(logits);
    }
}

/* rows (n_steps + 1, vocab): the logits of the last prompt position (the n_ids prompt ids fed in forwards of at most
 * `chunk` ids), then after feeding greedy[i] (teacher forcing), on a new sequence of lm; 0 when a forward fails. */
static inline int lm_golden_run_steps(srt_lm *lm, const int32_t *ids, int n_ids, int chunk, const int32_t *greedy,
                                      int n_steps, int vocab, float *rows) {
    int seq;
    if (srt_lm_seq_open(lm, &seq) != SRT_OK) return 0;
    int ok = 1, one = 1;
    for (int i0 = 0; ok && i0 < n_ids; i0 += chunk) {
        const int32_t *toks = ids + i0;
        int n = n_ids - i0 < chunk ? n_ids - i0 : chunk;
        ok = srt_lm_forward(lm, 1, &seq, &toks, &n, 0, rows) == SRT_OK;
    }
    for (int i = 0; ok && i < n_steps; i++) {
        const int32_t *tok = &greedy[i];
        ok = srt_lm_forward(lm, 1, &seq, &tok, &one, 0, rows + (size_t)(i + 1) * vocab) == SRT_OK;
    }
    srt_lm_seq_close(lm, seq);
    return ok;
}

#endif
