/* lm_tp_check.h: the tensor-parallel golden check shared by tests/test_lm_tp.c (CPU backends) and
 * tests/test_cudasim_lm_tp.cpp ("cuda" through the simulator): for a tiny model, prefill both golden prompts in one
 * batch at each tp and compare the last logits with tp = 1 (1e-4) and with the golden prefill_last_logits (1e-3);
 * greedy ids from srt_lm_generate must equal greedy_ids and every KV block must come back.
 * Include after testutil.h, snacrt.h and weights/weights.h (C or C++). */
#ifndef SRT_LM_TP_CHECK_H
#define SRT_LM_TP_CHECK_H

#include <stdlib.h>
#include <string.h>
#include "lm_golden_teacher.h"   /* lm_golden_tensor */

typedef struct golden_prompt {
    const int32_t *ids; int n_ids;
    const float *last_logits;     /* (vocab) */
    const int32_t *greedy; int n_steps;
} golden_prompt;

static inline srt_lm *load(const char *dir, const char *backend, int tp) {
    srt_lm_options opts;
    memset(&opts, 0, sizeof opts);
    opts.backend = backend;
    opts.n_threads = 1;
    opts.kv_block_size = 8;
    opts.kv_max_tokens = 512;
    opts.tp = tp;
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "load %s on %s tp=%d: %s", dir, backend, tp, srt_last_error());
    return lm;
}

/* Both prompts prefilled in one batch; logits (2, vocab) of their last tokens. */
static inline int prefill_last(srt_lm *lm, const golden_prompt *ps, int vocab, float *logits) {
    int seqs[2], lens[2] = {ps[0].n_ids, ps[1].n_ids};
    const int32_t *toks[2] = {ps[0].ids, ps[1].ids};
    for (int b = 0; b < 2; b++) TEST_CHECK(srt_lm_seq_open(lm, &seqs[b]) == SRT_OK, "seq_open: %s", srt_last_error());
    srt_status st = srt_lm_forward(lm, 2, seqs, toks, lens, 0, logits);
    TEST_CHECK(st == SRT_OK, "prefill: %s", srt_last_error());
    for (int b = 0; b < 2; b++) srt_lm_seq_close(lm, seqs[b]);
    (void)vocab;
    return st == SRT_OK;
}

static inline void check_close(const char *tag, const char *what, const float *got, const float *want, int n, double tol) {
    size_t wi;
    double maxerr;
    double worst = test_compare(got, want, (size_t)n, tol, 0, &wi, &maxerr);
    TEST_CHECK(worst <= 0, "%s: %s: id %zu got %g want %g (max err %g, tolerance %g)", tag, what, wi,
               (double)got[wi], (double)want[wi], maxerr, tol);
}

static inline void check_generate(srt_lm *lm, const char *tag, const golden_prompt *ps) {
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

static inline void lm_tp_run_model(const char *name, const char *backend, const int *tps, int n_tps) {
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
        ps[p].ids = (const int32_t *)lm_golden_tensor(golden, p, "ids", &len);
        ps[p].n_ids = (int)len;
        ps[p].last_logits = (const float *)lm_golden_tensor(golden, p, "prefill_last_logits", &dummy);
        ps[p].greedy = (const int32_t *)lm_golden_tensor(golden, p, "greedy_ids", &steps);
        ps[p].n_steps = (int)steps;
        found &= ps[p].ids && ps[p].last_logits && ps[p].greedy;
    }
    TEST_CHECK(found, "%s: golden prompts p0, p1", name);
    srt_lm *base = found ? load(dir, backend, 1) : NULL;
    if (!base) { srt_weights_free(golden); return; }
    srt_lm_info info;
    srt_lm_get_info(base, &info);
    int vocab = info.vocab_size;
    float *want = (float *)malloc(sizeof(float) * 2 * vocab), *got = (float *)malloc(sizeof(float) * 2 * vocab);
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

#endif
