/* test_cpu_lm_fast.c: the fast cpu LM ops that bench_lm_ops times (host/cpu/cpu_lm.c: paged attention with GQA
 * head groups, RMSNorm, RoPE, sampling) against cpu-ref (host/cpu/ref_lm.c), called through the two tables
 * directly (whatever the backend wiring), on odd shapes 1, 7, 33, 1025 (widths, context lengths, token counts,
 * vocabularies) from fixed seeds. Tolerances are written beside each comparison. */
#include "testutil.h"
#include "lm/lm_ops.h"

static const srt_lm_ops *ref_ops = &srt_cpu_ref_lm_ops, *fast_ops = &srt_cpu_lm_ops;
static const int g_odd[] = {1, 7, 33, 1025};

static void test_rmsnorm(int rows, int dim) {
    float *x = test_alloc_uniform((size_t)rows * dim, 1 + rows + dim, -3, 3), *w = test_alloc_uniform(dim, 2, 0.5f, 1.5f);
    float *y0 = calloc((size_t)rows * dim, 4), *y1 = calloc((size_t)rows * dim, 4);
    srt_rmsnorm_args a = {rows, dim, 1e-5f, x, w, y0};
    TEST_CHECK(ref_ops->rmsnorm(NULL, &a) == SRT_OK, "ref rmsnorm");
    a.y = y1;
    TEST_CHECK(fast_ops->rmsnorm(NULL, &a) == SRT_OK, "cpu rmsnorm");
    /* f32 sum of squares in 4 chains vs double: relative error ~ dim * 2^-24 of the scale at most */
    test_expect_close("rmsnorm", dim, y1, y0, (size_t)rows * dim, 1e-5, 1e-5);
    free(x); free(w); free(y0); free(y1);
}

static void test_rope(int n_tokens, int heads, int head_dim) {
    size_t n = (size_t)n_tokens * heads * head_dim;
    float *x0 = test_alloc_uniform(n, 3 + n_tokens, -2, 2), *x1 = malloc(n * 4);
    memcpy(x1, x0, n * 4);
    float *inv_freq = malloc(sizeof(float) * head_dim / 2);
    for (int i = 0; i < head_dim / 2; i++) inv_freq[i] = (float)pow(500000.0, -2.0 * i / head_dim);
    int32_t *pos = malloc(sizeof(int32_t) * n_tokens);
    for (int t = 0; t < n_tokens; t++) pos[t] = (t * 4099 + 2047) % 131072;   /* long-context positions */
    srt_rope_args a = {n_tokens, heads, head_dim, pos, inv_freq, x0};
    TEST_CHECK(ref_ops->rope(NULL, &a) == SRT_OK, "ref rope");
    a.x = x1;
    TEST_CHECK(fast_ops->rope(NULL, &a) == SRT_OK, "cpu rope");
    test_expect_close("rope", n_tokens, x1, x0, n, 2e-6, 2e-6);   /* f32 cos/sin of a double angle, f32 rotation */
    free(x0); free(x1); free(inv_freq); free(pos);
}

/* Decode (one query per sequence) or prefill over contexts of ctx + s tokens, blocks in a scrambled order. */
static void test_attention(int n_seqs, int ctx, int prefill, int heads, int kv_heads, int head_dim, int block_size) {
    int kv_dim = kv_heads * head_dim, max_blocks = 0, total_blocks = 0, n_tokens = 0;
    int32_t *q_start = malloc(4 * (size_t)n_seqs), *nq = malloc(4 * (size_t)n_seqs), *len = malloc(4 * (size_t)n_seqs);
    for (int s = 0; s < n_seqs; s++) {
        len[s] = ctx + s;
        nq[s] = prefill ? len[s] : 1;
        int nb = (len[s] + block_size - 1) / block_size;
        if (nb > max_blocks) max_blocks = nb;
        total_blocks += nb;
        q_start[s] = n_tokens;
        n_tokens += nq[s];
    }
    int32_t *table = calloc((size_t)n_seqs * max_blocks, sizeof(int32_t));
    for (int s = 0, next = 0; s < n_seqs; s++)
        for (int b = 0; b < (len[s] + block_size - 1) / block_size; b++, next++)
            table[s * max_blocks + b] = (int32_t)((next * 7 + 3) % total_blocks);   /* a permutation unless 7 | total */
    size_t cache_n = (size_t)total_blocks * block_size * kv_dim, qn = (size_t)n_tokens * heads * head_dim;
    float *kc = test_alloc_uniform(cache_n, 11, -1, 1), *vc = test_alloc_uniform(cache_n, 12, -1, 1), *q = test_alloc_uniform(qn, 13, -2, 2);
    float *o0 = calloc(qn, 4), *o1 = calloc(qn, 4);
    srt_paged_attn_args a = {n_seqs, heads, kv_heads, head_dim, block_size, max_blocks, q, kc, vc, table,
                             q_start, nq, len, o0, SRT_F32, NULL, NULL};
    TEST_CHECK(ref_ops->paged_attention(NULL, &a) == SRT_OK, "ref paged_attention");
    a.out = o1;
    TEST_CHECK(fast_ops->paged_attention(NULL, &a) == SRT_OK, "cpu paged_attention");
    char what[96];
    snprintf(what, sizeof what, "paged_attention %s seqs %d heads %d/%d head_dim %d block %d",
             prefill ? "prefill" : "decode", n_seqs, heads, kv_heads, head_dim, block_size);
    test_expect_close(what, ctx, o1, o0, qn, 2e-6, 1e-5);   /* f32 scores and softmax vs double: outputs are averages of
                                                        * values in [-1, 1], errors ~ 1e-7 */
    free(q_start); free(nq); free(len); free(table); free(kc); free(vc); free(q); free(o0); free(o1);
}

/* Sampling: the same ids as cpu-ref (exact: both implement the one fixed-point distribution of lm_ops.h). */
static void test_sample(int n_rows, int vocab) {
    float *orig = test_alloc_uniform((size_t)n_rows * vocab, 20 + vocab, -6, 6);
    float *l0 = malloc(sizeof(float) * n_rows * vocab), *l1 = malloc(sizeof(float) * n_rows * vocab);
    srt_sample_row *rows = calloc(n_rows, sizeof *rows);
    srt_sample_penalty pen[3] = {{0, 0.0f}, {vocab / 2, 0.5f}, {vocab - 1, 1.0f}};
    int32_t *ids0 = malloc(4 * (size_t)n_rows), *ids1 = malloc(4 * (size_t)n_rows);
    for (int r = 0; r < n_rows; r++) {
        srt_sample_row *w = &rows[r];
        w->begin = r % 3 == 2 && vocab > 2 ? 1 : 0;
        w->end = vocab;
        w->inv_temp = r % 4 == 0 ? 0.0f : 1.0f / (0.5f + 0.25f * (r % 3));   /* greedy every 4th row */
        w->top_k = r % 2 ? 5 + r : 0;
        w->top_p = r % 3 == 1 ? 0.9f : 0.0f;
        w->min_p = r % 5 == 3 ? 0.05f : 0.0f;
        w->rep_penalty = r % 2 ? 1.3f : 1.0f;
        w->pen_start = 0;
        w->n_pen = vocab >= 3 ? 3 : 0;
        w->u = (r + 0.37) / (n_rows + 0.5);
    }
    for (int rep = 0; rep < 2; rep++) {
        memcpy(rep ? l1 : l0, orig, sizeof(float) * n_rows * vocab);
        srt_sample_args a = {n_rows, vocab, rep ? l1 : l0, rows, pen, rep ? ids1 : ids0};
        TEST_CHECK((rep ? fast_ops : ref_ops)->sample(NULL, &a) == SRT_OK, "%s sample vocab %d", rep ? "cpu" : "ref",
                   vocab);
    }
    for (int r = 0; r < n_rows; r++)
        TEST_CHECK(ids0[r] == ids1[r], "sample vocab %d row %d: cpu id %d, cpu-ref id %d", vocab, r, ids1[r], ids0[r]);
    free(orig); free(l0); free(l1); free(rows); free(ids0); free(ids1);
}

int main(void) {
    for (int i = 0; i < 4; i++) {
        int n = g_odd[i];
        test_rmsnorm(n == 1025 ? 3 : 8, n);            /* widths 1, 7, 33, 1025 */
        test_rmsnorm(n, 2048);                          /* rows 1, 7, 33, 1025 at the 1B width (threads past 128K) */
        test_rope(n, 3, 64);
        test_rope(n, 2, 6);
        /* decode over contexts 1, 7, 33, 1025 (+ s): Llama-3.2 group of 4, then odd head_dim and block sizes */
        test_attention(3, n, 0, 8, 2, 64, 16);
        test_attention(2, n, 0, 6, 3, 7, 5);
        test_attention(2, n, 0, 3, 3, 33, 1);           /* no GQA: groups of one */
        test_sample(9, n);
    }
    test_attention(2, 33, 1, 8, 2, 64, 16);             /* prefill: every query row its own causal length */
    test_attention(1, 7, 1, 4, 1, 9, 3);
    test_sample(8, 128256);                             /* the Llama 3 vocabulary */
    TEST_MAIN_END();
}
