/* test_lm_golden.c: the Llama-family decoder against the reference golden data (tests/data/llama/tiny-orpheus,
 * tiny-qwen2; see tests/data/GOLDEN.md) on each backend in SNACRT_TEST_BACKENDS (default "cpu-ref,cpu"):
 *  - prefill logits of the last token within 1e-3 of prefill_last_logits, logsumexp of every position within 1e-3;
 *  - greedy ids identical to greedy_ids; at each greedy step (logits after feeding greedy_ids[i]) the golden top-64
 *    logits within 1e-3 and step_logsumexp within 1e-3;
 *  - the prompts of a model run together in one batch (different lengths) give what they give alone (1e-5);
 *  - prefill in chunks of 5 tokens (KV blocks of 8, so chunks straddle blocks) gives what one prefill gives (1e-5);
 *  - srt_lm_generate (greedy, batched) returns greedy_ids. */
#include "testutil.h"
#include "snacrt.h"
#include "weights/weights.h"

#define MAX_PROMPTS 2

typedef struct golden_prompt {
    const int32_t *ids; int n_ids;
    const float *last_logits;     /* (vocab) */
    const float *prefill_lse;     /* (n_ids) */
    const int32_t *greedy; int n_steps;
    const int32_t *top_ids;       /* (n_steps, 64) */
    const float *top_logits;      /* (n_steps, 64) */
    const float *step_lse;        /* (n_steps) */
    float *single_steps;          /* (n_steps + 1, vocab): row 0 prefill-last, row i+1 after feeding greedy[i] */
} golden_prompt;

static const void *golden_tensor(srt_weights *w, const char *prompt, const char *name, int64_t *len) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", prompt, name);
    const srt_tensor_view *t = srt_weights_find(w, full);
    if (!t) return NULL;
    *len = t->shape[0];
    return t->data;
}

static double logsumexp(const float *x, int n) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) s += exp((double)x[i] - mx);
    return mx + log(s);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* Prefill prompt p alone (in chunks of `chunk` tokens, 0 = one call with all logits), then teacher-force the
 * golden greedy ids. Rows of `steps` (n_steps + 1, vocab) receive the logits. Checks against the golden data when
 * check_golden. */
static void run_single(srt_lm *lm, const char *tag, golden_prompt *p, int vocab, int chunk, int check_golden,
                       float *steps) {
    int seq;
    TEST_CHECK(srt_lm_seq_open(lm, &seq) == SRT_OK, "%s: seq_open: %s", tag, srt_last_error());
    if (chunk == 0) {
        float *all = malloc(sizeof(float) * (size_t)p->n_ids * vocab);
        const int32_t *toks = p->ids;
        srt_status st = srt_lm_forward(lm, 1, &seq, &toks, &p->n_ids, 1, all);
        TEST_CHECK(st == SRT_OK, "%s: prefill: %s", tag, srt_last_error());
        if (check_golden) {
            double worst_lse = 0;
            for (int t = 0; t < p->n_ids; t++) {
                double e = fabs(logsumexp(all + (size_t)t * vocab, vocab) - p->prefill_lse[t]);
                if (e > worst_lse) worst_lse = e;
            }
            TEST_CHECK(worst_lse <= 1e-3, "%s: prefill logsumexp off by %g (tolerance 1e-3)", tag, worst_lse);
        }
        memcpy(steps, all + (size_t)(p->n_ids - 1) * vocab, sizeof(float) * vocab);
        free(all);
    } else {
        for (int done = 0; done < p->n_ids; done += chunk) {
            int take = p->n_ids - done < chunk ? p->n_ids - done : chunk;
            const int32_t *toks = p->ids + done;
            TEST_CHECK(srt_lm_forward(lm, 1, &seq, &toks, &take, 0, steps) == SRT_OK, "%s: chunk at %d: %s", tag,
                       done, srt_last_error());
        }
    }
    TEST_CHECK(srt_lm_seq_length(lm, seq) == p->n_ids, "%s: cached length %d, want %d", tag,
               srt_lm_seq_length(lm, seq), p->n_ids);
    if (check_golden) {
        size_t wi;
        double maxerr;
        double worst = test_compare(steps, p->last_logits, (size_t)vocab, 1e-3, 0, &wi, &maxerr);
        TEST_CHECK(worst <= 0, "%s: last prefill logits: id %zu got %g want %g (max err %g, tolerance 1e-3)", tag, wi,
                   (double)steps[wi], (double)p->last_logits[wi], maxerr);
        TEST_CHECK(argmax(steps, vocab) == p->greedy[0], "%s: first greedy id %d, want %d", tag, argmax(steps, vocab),
                   p->greedy[0]);
    }
    for (int i = 0; i < p->n_steps; i++) {
        float *row = steps + (size_t)(i + 1) * vocab;
        const int32_t *tok = &p->greedy[i];
        int one = 1;
        TEST_CHECK(srt_lm_forward(lm, 1, &seq, &tok, &one, 0, row) == SRT_OK, "%s: decode step %d: %s", tag, i,
                   srt_last_error());
        if (!check_golden) continue;
        double worst = 0;
        for (int j = 0; j < 64; j++) {
            double e = fabs(row[p->top_ids[i * 64 + j]] - p->top_logits[i * 64 + j]);
            if (e > worst) worst = e;
        }
        TEST_CHECK(worst <= 1e-3, "%s: step %d top-64 logits off by %g (tolerance 1e-3)", tag, i, worst);
        double lse_err = fabs(logsumexp(row, vocab) - p->step_lse[i]);
        TEST_CHECK(lse_err <= 1e-3, "%s: step %d logsumexp off by %g (tolerance 1e-3)", tag, i, lse_err);
        if (i + 1 < p->n_steps)
            TEST_CHECK(argmax(row, vocab) == p->greedy[i + 1], "%s: greedy id %d is %d, want %d", tag, i + 1,
                       argmax(row, vocab), p->greedy[i + 1]);
    }
    srt_lm_seq_close(lm, seq);
}

static void expect_same(const char *tag, const float *got, const float *want, size_t n) {
    size_t wi;
    double maxerr;
    double worst = test_compare(got, want, n, 1e-5, 0, &wi, &maxerr);
    TEST_CHECK(worst <= 0, "%s: element %zu got %g want %g (max err %g, tolerance 1e-5)", tag, wi, (double)got[wi],
               (double)want[wi], maxerr);
}

/* All prompts together: one prefill batch of different lengths, then batched teacher-forced decode steps. */
static void run_batched(srt_lm *lm, const char *tag, golden_prompt *ps, int n, int vocab) {
    int seqs[MAX_PROMPTS], lens[MAX_PROMPTS], ones[MAX_PROMPTS];
    const int32_t *toks[MAX_PROMPTS];
    float *logits = malloc(sizeof(float) * MAX_PROMPTS * vocab);
    for (int b = 0; b < n; b++) {
        TEST_CHECK(srt_lm_seq_open(lm, &seqs[b]) == SRT_OK, "%s: seq_open", tag);
        toks[b] = ps[b].ids; lens[b] = ps[b].n_ids; ones[b] = 1;
    }
    TEST_CHECK(srt_lm_forward(lm, n, seqs, toks, lens, 0, logits) == SRT_OK, "%s: batched prefill: %s", tag,
               srt_last_error());
    for (int b = 0; b < n; b++) expect_same(tag, logits + (size_t)b * vocab, ps[b].single_steps, (size_t)vocab);
    int n_steps = ps[0].n_steps;
    for (int i = 0; i < n_steps; i++) {
        for (int b = 0; b < n; b++) toks[b] = &ps[b].greedy[i];
        TEST_CHECK(srt_lm_forward(lm, n, seqs, toks, ones, 0, logits) == SRT_OK, "%s: batched step %d: %s", tag, i,
                   srt_last_error());
        for (int b = 0; b < n; b++)
            expect_same(tag, logits + (size_t)b * vocab, ps[b].single_steps + (size_t)(i + 1) * vocab, (size_t)vocab);
    }
    for (int b = 0; b < n; b++) srt_lm_seq_close(lm, seqs[b]);
    free(logits);
}

static void run_generate(srt_lm *lm, const char *tag, golden_prompt *ps, int n) {
    srt_lm_request reqs[MAX_PROMPTS];
    srt_lm_output outs[MAX_PROMPTS];
    for (int b = 0; b < n; b++) {
        srt_sampling_defaults(&reqs[b].sampling);
        reqs[b].sampling.temperature = 0;
        reqs[b].sampling.max_tokens = ps[b].n_steps;
        reqs[b].prompt = ps[b].ids;
        reqs[b].n_prompt = (size_t)ps[b].n_ids;
    }
    srt_status st = srt_lm_generate(lm, n, reqs, outs);
    TEST_CHECK(st == SRT_OK, "%s: generate: %s", tag, srt_last_error());
    if (st != SRT_OK) return;
    for (int b = 0; b < n; b++) {
        TEST_CHECK((int)outs[b].n_ids == ps[b].n_steps && outs[b].finish == SRT_FINISH_LENGTH,
                   "%s: prompt %d generated %zu ids", tag, b, outs[b].n_ids);
        int same = (int)outs[b].n_ids == ps[b].n_steps;
        for (int i = 0; same && i < ps[b].n_steps; i++) same = outs[b].ids[i] == ps[b].greedy[i];
        TEST_CHECK(same, "%s: prompt %d: generate's greedy ids differ from greedy_ids", tag, b);
        srt_lm_output_free(&outs[b]);
    }
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 1024 / 8, "%s: generate gave back every KV block (%d free)", tag,
               srt_lm_kv_free_blocks(lm));
}

static void run_model(const char *name, const char *backend) {
    char rel[128], dir[512], golden_path[600], tag[96];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", name);
    test_src_path(rel, dir, sizeof dir);
    snprintf(golden_path, sizeof golden_path, "%s/golden.safetensors", dir);
    srt_weights *golden = NULL;
    TEST_CHECK(srt_weights_open_safetensors(golden_path, &golden) == SRT_OK, "open %s: %s", golden_path,
               srt_last_error());
    srt_lm_options opts = {.backend = backend, .kv_block_size = 8, .kv_max_tokens = 1024};
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "load %s on %s: %s", name, backend, srt_last_error());
    if (!golden || st != SRT_OK) { srt_weights_free(golden); return; }
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    int vocab = info.vocab_size, n = 0;
    golden_prompt ps[MAX_PROMPTS];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < MAX_PROMPTS; i++) {
        char pk[8];
        snprintf(pk, sizeof pk, "p%d", i);
        int64_t len = 0, steps = 0, dummy = 0;
        golden_prompt *p = &ps[n];
        if (!(p->ids = golden_tensor(golden, pk, "ids", &len))) break;
        p->n_ids = (int)len;
        p->last_logits = golden_tensor(golden, pk, "prefill_last_logits", &dummy);
        p->prefill_lse = golden_tensor(golden, pk, "prefill_logsumexp", &dummy);
        p->greedy = golden_tensor(golden, pk, "greedy_ids", &steps);
        p->n_steps = (int)steps;
        p->top_ids = golden_tensor(golden, pk, "step_top64_ids", &dummy);
        p->top_logits = golden_tensor(golden, pk, "step_top64_logits", &dummy);
        p->step_lse = golden_tensor(golden, pk, "step_logsumexp", &dummy);
        p->single_steps = malloc(sizeof(float) * (size_t)(steps + 1) * vocab);
        n++;
    }
    TEST_CHECK(n == 2, "%s: two golden prompts (found %d)", name, n);
    for (int i = 0; i < n; i++) {
        snprintf(tag, sizeof tag, "%s/%s p%d", name, backend, i);
        run_single(lm, tag, &ps[i], vocab, 0, 1, ps[i].single_steps);
        float *chunked = malloc(sizeof(float) * (size_t)(ps[i].n_steps + 1) * vocab);
        snprintf(tag, sizeof tag, "%s/%s p%d chunked", name, backend, i);
        run_single(lm, tag, &ps[i], vocab, 5, 0, chunked);
        expect_same(tag, chunked, ps[i].single_steps, (size_t)(ps[i].n_steps + 1) * vocab);
        free(chunked);
    }
    snprintf(tag, sizeof tag, "%s/%s batched", name, backend);
    run_batched(lm, tag, ps, n, vocab);
    snprintf(tag, sizeof tag, "%s/%s generate", name, backend);
    run_generate(lm, tag, ps, n);
    for (int i = 0; i < n; i++) free(ps[i].single_steps);
    srt_lm_free(lm);
    srt_weights_free(golden);
}

int main(void) {
    /* the cpu backend's exact path: these tolerances are f32's (the bf16 default: test_cpu_lm_bf16.c) */
    setenv("SNACRT_CPU_LM_PRECISION", "exact", 1);
    TEST_FOR_EACH_BACKEND(be, "cpu-ref,cpu") {
        run_model("tiny-qwen2", be);
        run_model("tiny-orpheus", be);
    }
    TEST_MAIN_END();
}
