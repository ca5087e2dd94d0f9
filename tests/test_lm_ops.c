/* test_lm_ops.c: every language-model op of the "cpu" backend against "cpu-ref" (host/cpu/ref_lm.c) on odd
 * shapes (1, 7, 33, 1025) from fixed seeds; tolerances are written beside each comparison. Also checks the ops
 * against hand-computed values where that is easy (rope at position 0, swiglu, embedding dtypes). */
#include "testutil.h"
#include "backend.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"

static srt_backend ref_be, fast_be;
static const srt_lm_ops *ref_ops, *fast_ops;

static void test_rmsnorm(int rows, int dim) {
    float *x = test_alloc_uniform((size_t)rows * dim, 1 + rows + dim, -3, 3), *w = test_alloc_uniform(dim, 2, 0.5f, 1.5f);
    float *y0 = calloc((size_t)rows * dim, 4), *y1 = calloc((size_t)rows * dim, 4);
    srt_rmsnorm_args a = {rows, dim, 1e-5f, x, w, y0};
    TEST_CHECK(srt_op_rmsnorm(&ref_be, &a) == SRT_OK, "ref rmsnorm");
    a.y = y1;
    TEST_CHECK(srt_op_rmsnorm(&fast_be, &a) == SRT_OK, "cpu rmsnorm");
    test_expect_close("rmsnorm", dim, y1, y0, (size_t)rows * dim, 1e-5, 1e-5);   /* f32 sum of squares vs double */
    free(x); free(w); free(y0); free(y1);
}

static void test_rope(int n_tokens, int heads, int head_dim) {
    size_t n = (size_t)n_tokens * heads * head_dim;
    float *x0 = test_alloc_uniform(n, 3 + n_tokens, -2, 2), *x1 = malloc(n * 4), *orig = malloc(n * 4);
    memcpy(x1, x0, n * 4);
    memcpy(orig, x0, n * 4);
    float *inv_freq = malloc(sizeof(float) * head_dim / 2);
    for (int i = 0; i < head_dim / 2; i++) inv_freq[i] = (float)pow(500000.0, -2.0 * i / head_dim);
    int32_t *pos = malloc(sizeof(int32_t) * n_tokens);
    for (int t = 0; t < n_tokens; t++) pos[t] = t * 37 % 131072;   /* position 0 first, large ones later */
    srt_rope_args a = {n_tokens, heads, head_dim, pos, inv_freq, x0};
    TEST_CHECK(srt_op_rope(&ref_be, &a) == SRT_OK, "ref rope");
    a.x = x1;
    TEST_CHECK(srt_op_rope(&fast_be, &a) == SRT_OK, "cpu rope");
    test_expect_close("rope", n_tokens, x1, x0, n, 2e-6, 2e-6);   /* f32 rotation of a double angle */
    /* position 0 is the identity */
    test_expect_close("rope at position 0", n_tokens, x0, orig, (size_t)heads * head_dim, 0, 0);
    free(x0); free(x1); free(orig); free(inv_freq); free(pos);
}

static void test_swiglu_bias_gather(int n) {
    float *g = test_alloc_uniform(n, 5, -6, 6), *u = test_alloc_uniform(n, 6, -2, 2), *y0 = calloc(n, 4), *y1 = calloc(n, 4);
    srt_swiglu_args a = {n, g, u, y0};
    TEST_CHECK(srt_op_swiglu(&ref_be, &a) == SRT_OK, "ref swiglu");
    a.out = y1;
    TEST_CHECK(srt_op_swiglu(&fast_be, &a) == SRT_OK, "cpu swiglu");
    test_expect_close("swiglu", n, y1, y0, n, 1e-6, 1e-6);   /* expf vs exp */
    double want = g[0] / (1.0 + exp(-g[0])) * u[0];
    TEST_CHECK(fabs(y0[0] - want) < 1e-6, "swiglu value %g want %g", (double)y0[0], want);

    int rows = 3, cols = n;
    float *x0 = test_alloc_uniform((size_t)rows * cols, 7, -1, 1), *x1 = malloc(sizeof(float) * rows * cols), *b = test_alloc_uniform(cols, 8, -1, 1);
    memcpy(x1, x0, sizeof(float) * rows * cols);
    srt_add_bias_args ab = {rows, cols, b, x0};
    TEST_CHECK(srt_op_add_bias(&ref_be, &ab) == SRT_OK, "ref add_bias");
    ab.x = x1;
    TEST_CHECK(srt_op_add_bias(&fast_be, &ab) == SRT_OK, "cpu add_bias");
    test_expect_close("add_bias", n, x1, x0, (size_t)rows * cols, 0, 0);   /* one f32 add: exact */

    int32_t idx[2] = {2, 0};
    float *r0 = calloc(2 * (size_t)cols, 4), *r1 = calloc(2 * (size_t)cols, 4);
    srt_gather_rows_args gr = {2, cols, idx, x0, r0};
    TEST_CHECK(srt_op_gather_rows(&ref_be, &gr) == SRT_OK, "ref gather_rows");
    gr.y = r1;
    TEST_CHECK(srt_op_gather_rows(&fast_be, &gr) == SRT_OK, "cpu gather_rows");
    test_expect_close("gather_rows", n, r1, r0, 2 * (size_t)cols, 0, 0);
    test_expect_close("gather_rows picks row 2", n, r0, x0 + 2 * (size_t)cols, cols, 0, 0);
    free(g); free(u); free(y0); free(y1); free(x0); free(x1); free(b); free(r0); free(r1);
}

static void test_embedding(int n_tokens, int dim) {
    int n_rows = 1025;
    float *table = test_alloc_uniform((size_t)n_rows * dim, 9, -1, 1);
    uint16_t *t_bf16 = malloc(sizeof(uint16_t) * n_rows * dim), *t_f16 = malloc(sizeof(uint16_t) * n_rows * dim);
    for (size_t i = 0; i < (size_t)n_rows * dim; i++) { t_bf16[i] = srt_f32_to_bf16(table[i]); t_f16[i] = srt_f32_to_f16(table[i]); }
    int32_t *ids = malloc(sizeof(int32_t) * n_tokens);
    for (int t = 0; t < n_tokens; t++) ids[t] = (t * 389 + 11) % n_rows;
    float *y0 = calloc((size_t)n_tokens * dim, 4), *y1 = calloc((size_t)n_tokens * dim, 4);
    const void *tables[3] = {table, t_bf16, t_f16};
    srt_dtype dts[3] = {SRT_F32, SRT_BF16, SRT_F16};
    for (int k = 0; k < 3; k++) {
        srt_embedding_args a = {n_tokens, dim, n_rows, dts[k], tables[k], ids, y0};
        TEST_CHECK(srt_op_embedding(&ref_be, &a) == SRT_OK, "ref embedding %s", srt_dtype_name(dts[k]));
        a.y = y1;
        TEST_CHECK(srt_op_embedding(&fast_be, &a) == SRT_OK, "cpu embedding %s", srt_dtype_name(dts[k]));
        test_expect_close("embedding", n_tokens, y1, y0, (size_t)n_tokens * dim, 0, 0);   /* exact conversion */
        /* the row of token 0 matches the f32 table within the dtype's rounding */
        test_expect_close("embedding vs f32 table", n_tokens, y0, table + (size_t)ids[0] * dim, dim,
                     k == 0 ? 0 : 1e-6, k == 1 ? 1.0 / 256 : 1.0 / 2048);
    }
    ids[n_tokens - 1] = n_rows;   /* out of range: both fail */
    srt_embedding_args bad = {n_tokens, dim, n_rows, SRT_F32, table, ids, y0};
    TEST_CHECK(srt_op_embedding(&ref_be, &bad) == SRT_ERR_RANGE, "ref embedding rejects id %d", n_rows);
    TEST_CHECK(srt_op_embedding(&fast_be, &bad) == SRT_ERR_RANGE, "cpu embedding rejects id %d", n_rows);
    free(table); free(t_bf16); free(t_f16); free(ids); free(y0); free(y1);
}

/* Paged attention over sequences whose context lengths are `lens`, with n_q new tokens each (prefill when
 * n_q == ctx_len, decode when 1, a chunk otherwise). Blocks are handed out in a scrambled order. */
static void test_attention(int n_seqs, const int *lens, const int *n_q, int heads, int kv_heads, int head_dim,
                           int block_size) {
    int kv_dim = kv_heads * head_dim, max_blocks = 0, total_blocks = 0, n_tokens = 0;
    for (int s = 0; s < n_seqs; s++) {
        int nb = (lens[s] + block_size - 1) / block_size;
        if (nb > max_blocks) max_blocks = nb;
        total_blocks += nb;
        n_tokens += n_q[s];
    }
    int32_t *table = calloc((size_t)n_seqs * max_blocks, sizeof(int32_t));
    int32_t q_start[8], nq[8], ctx[8];
    for (int s = 0, next = 0, row = 0; s < n_seqs; s++) {
        for (int b = 0; b < (lens[s] + block_size - 1) / block_size; b++, next++)
            table[s * max_blocks + b] = (int32_t)((next * 7 + 3) % total_blocks);   /* 7 is prime to totals used */
        q_start[s] = row; nq[s] = n_q[s]; ctx[s] = lens[s];
        row += n_q[s];
    }
    size_t cache_n = (size_t)total_blocks * block_size * kv_dim;
    float *kc = test_alloc_uniform(cache_n, 11, -1, 1), *vc = test_alloc_uniform(cache_n, 12, -1, 1);
    float *q = test_alloc_uniform((size_t)n_tokens * heads * head_dim, 13, -2, 2);
    float *o0 = calloc((size_t)n_tokens * heads * head_dim, 4), *o1 = calloc((size_t)n_tokens * heads * head_dim, 4);
    srt_paged_attn_args a = {n_seqs, heads, kv_heads, head_dim, block_size, max_blocks, q, kc, vc, table,
                             q_start, nq, ctx, o0, SRT_F32, NULL, NULL};
    TEST_CHECK(srt_op_paged_attention(&ref_be, &a, NULL) == SRT_OK, "ref paged_attention");
    a.out = o1;
    TEST_CHECK(srt_op_paged_attention(&fast_be, &a, NULL) == SRT_OK, "cpu paged_attention");
    test_expect_close("paged_attention", lens[0], o1, o0, (size_t)n_tokens * heads * head_dim, 2e-6, 1e-5);  /* f32 softmax */
    /* the first query of a full prefill sees only position 0: its output is v at position 0 */
    if (n_q[0] == lens[0]) {
        int32_t slot0 = table[0] * block_size;
        for (int h = 0; h < heads; h++)
            test_expect_close("attention at position 0 = v0", lens[0], o0 + (size_t)h * head_dim,
                         vc + (size_t)slot0 * kv_dim + (size_t)(h / (heads / kv_heads)) * head_dim, head_dim, 1e-6, 0);
    }
    free(table); free(kc); free(vc); free(q); free(o0); free(o1);
}

static void test_kv_store(int n_tokens, int kv_dim) {
    int n_slots = n_tokens * 3;
    float *k = test_alloc_uniform((size_t)n_tokens * kv_dim, 14, -1, 1), *v = test_alloc_uniform((size_t)n_tokens * kv_dim, 15, -1, 1);
    float *c[4];
    for (int i = 0; i < 4; i++) c[i] = test_alloc_uniform((size_t)n_slots * kv_dim, 16, -1, 1);
    int32_t *slot = malloc(sizeof(int32_t) * n_tokens);
    for (int t = 0; t < n_tokens; t++) slot[t] = (t * 5 + 1) % n_slots;
    srt_kv_store_args a = {n_tokens, kv_dim, k, v, slot, c[0], c[1], SRT_F32, 0, 0, NULL, NULL};
    TEST_CHECK(srt_op_kv_store(&ref_be, &a) == SRT_OK, "ref kv_store");
    a.k_cache = c[2]; a.v_cache = c[3];
    TEST_CHECK(srt_op_kv_store(&fast_be, &a) == SRT_OK, "cpu kv_store");
    test_expect_close("kv_store k", n_tokens, c[2], c[0], (size_t)n_slots * kv_dim, 0, 0);
    test_expect_close("kv_store v", n_tokens, c[3], c[1], (size_t)n_slots * kv_dim, 0, 0);
    test_expect_close("kv_store lands at its slot", n_tokens, c[0] + (size_t)slot[n_tokens - 1] * kv_dim,
                 k + (size_t)(n_tokens - 1) * kv_dim, kv_dim, 0, 0);
    free(k); free(v); free(slot);
    for (int i = 0; i < 4; i++) free(c[i]);
}

int main(void) {
    TEST_CHECK(srt_backend_create("cpu-ref", 0, &ref_be) == SRT_OK, "create cpu-ref: %s", srt_last_error());
    TEST_CHECK(srt_backend_create("cpu", 0, &fast_be) == SRT_OK, "create cpu: %s", srt_last_error());
    ref_ops = ref_be.ops->lm;
    fast_ops = fast_be.ops->lm;
    TEST_CHECK(ref_ops && fast_ops, "both CPU backends fill the lm table");
    if (!ref_ops || !fast_ops) TEST_MAIN_END();
    const int shapes[] = {1, 7, 33, 1025};
    for (int i = 0; i < 4; i++) {
        int n = shapes[i];
        test_rmsnorm(n, n == 1 ? 1 : 33);
        test_rmsnorm(3, n);
        test_rope(n, 3, 16);
        test_swiglu_bias_gather(n);
        test_embedding(n, 33);
        test_kv_store(n, 24);
    }
    /* prefill (different lengths), decode, chunked prefill, GQA 4:1 and 1:1, block sizes 16 and 7 */
    int lens_a[4] = {1, 7, 33, 1025}, nq_prefill[4] = {1, 7, 33, 1025};
    test_attention(4, lens_a, nq_prefill, 4, 1, 16, 16);
    int nq_decode[4] = {1, 1, 1, 1};
    test_attention(4, lens_a, nq_decode, 6, 2, 32, 7);
    int lens_c[3] = {33, 1025, 7}, nq_chunk[3] = {33, 17, 5};
    test_attention(3, lens_c, nq_chunk, 2, 2, 8, 16);
    srt_backend_destroy(&ref_be);
    srt_backend_destroy(&fast_be);
    TEST_MAIN_END();
}
