/* test_cudasim_prefill_attention.cpp: the tensor-core prefill attention (cuda/lm_prefill_attention.cuh: bf16 KV
 * cache, head_dim 16 / 32 / 64 / 128) of the "cuda" backend, run in the CUDA simulator (tests/cudasim) in forward,
 * reverse and random thread order, against cpu-ref's paged_attention, with the tolerance derived in
 * tests/attn_bf16_tolerance.h (Q and P rounded to bf16) per output row. Odd shapes: query lengths 2, 7, 33, 130, 131
 * (the 64-row tiles of a GQA group end mid-group and mid-query), contexts with a cached prefix (chunked prefill,
 * causal limits inside a key tile), group sizes 1, 2, 3, 4 and 6, head_dim 128, 64 and 16, block sizes 5, 7 and 16,
 * scrambled block tables, decode rows (n_q 1) and an empty sequence in the same batch. Cache slots no sequence owns
 * hold NaN (reads past a limit show up); outputs are NaN-poisoned and followed by sentinels. The same shapes with
 * the f32 cache stay on the FMA kernel and hold the f32 tolerance (forward order). The simulator must report no rule
 * violation. */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"
}
#include "cudasim_api.h"
#include "tests/attn_bf16_tolerance.h"
#include "tests/testutil.h"
#include "tests/cudasim_dev.h"   /* test_dev_of, test_dev_free */
#include "tests/paged_layout.h"   /* test_paged_layout */
#include <algorithm>
#include <cstring>
#include <vector>

static srt_backend g_ref, g_cu;
static const float SENTINEL = -7777.25f;
static const size_t TAIL = 37;
static const double ATTN_ATOL = 2e-5, ATTN_RTOL = 1e-4;   /* the f32 cache (test_cudasim_lm) */
static std::vector<void *> g_dev;

static void *dev_of(const void *host, size_t bytes, size_t tail_floats) {
    return test_dev_of(&g_cu, g_dev, host, bytes, tail_floats, SENTINEL, "prefill attention");
}
template <typename T> static T *dev_in(const std::vector<T> &h) {
    return (T *)dev_of(h.data(), h.size() * sizeof(T), 0);
}

struct seq { int n_q, ctx; };

static void prefill_case(srt_dtype dt, int n_heads, int n_kv_heads, int D, int block_size, const std::vector<seq> &seqs,
                         uint64_t seed) {
    char name[200];
    snprintf(name, sizeof name, "prefill attention %s heads %d/%d head_dim %d block %d, %zu seqs (first n_q %d ctx %d)",
             srt_dtype_name(dt), n_heads, n_kv_heads, D, block_size, seqs.size(), seqs[0].n_q, seqs[0].ctx);
    const int n_seqs = (int)seqs.size(), kv_dim = n_kv_heads * D, G = n_heads / n_kv_heads;
    int max_blocks, n_blocks;
    std::vector<int32_t> table, q_start, n_q, ctx_len;
    const int n_tokens =
        test_paged_layout(seqs, block_size, seed, &max_blocks, &n_blocks, table, q_start, n_q, ctx_len);
    std::vector<float> kc((size_t)n_blocks * block_size * kv_dim, NAN), vc = kc;
    std::vector<float> kvals(kc.size()), vvals(kc.size());
    test_fill_uniform(kvals.data(), kvals.size(), seed + 1, -1.5f, 1.5f);
    test_fill_uniform(vvals.data(), vvals.size(), seed + 2, -1.0f, 1.0f);
    for (int s = 0; s < n_seqs; s++) {
        for (int p = 0; p < seqs[(size_t)s].ctx; p++) {
            size_t slot = (size_t)table[(size_t)s * max_blocks + p / block_size] * block_size + p % block_size;
            for (int i = 0; i < kv_dim; i++) {   /* the values the cache holds (bf16: rounded), widened */
                float k = kvals[slot * kv_dim + i], v = vvals[slot * kv_dim + i];
                if (dt == SRT_BF16) {
                    k = srt_bf16_to_f32(srt_f32_to_bf16(k));
                    v = srt_bf16_to_f32(srt_f32_to_bf16(v));
                }
                kc[slot * kv_dim + i] = k;
                vc[slot * kv_dim + i] = v;
            }
        }
    }
    std::vector<float> kbytes = kc, vbytes = vc;   /* the cache as stored */
    if (dt == SRT_BF16) {
        kbytes.assign((kc.size() + 1) / 2, 0.0f);
        vbytes.assign((vc.size() + 1) / 2, 0.0f);
        uint16_t *hk = reinterpret_cast<uint16_t *>(kbytes.data()), *hv = reinterpret_cast<uint16_t *>(vbytes.data());
        for (size_t i = 0; i < kc.size(); i++) { hk[i] = srt_f32_to_bf16(kc[i]); hv[i] = srt_f32_to_bf16(vc[i]); }
    }
    std::vector<float> q((size_t)n_tokens * n_heads * D), ref(q.size());
    test_fill_uniform(q.data(), q.size(), seed + 3, -1.5f, 1.5f);
    srt_paged_attn_args r = {n_seqs, n_heads, n_kv_heads, D, block_size, max_blocks, q.data(), kbytes.data(),
                             vbytes.data(), table.data(), q_start.data(), n_q.data(), ctx_len.data(), ref.data(), dt, nullptr, nullptr};
    srt_status st = srt_op_paged_attention(&g_ref, &r, nullptr);
    TEST_CHECK(st == SRT_OK, "%s: cpu-ref: %s", name, srt_last_error());

    /* per-element tolerance: bf16 prefill rows the derived bound, decode rows (FMA kernel) and f32 the f32 one */
    std::vector<double> atol(q.size(), ATTN_ATOL);
    const bool tc = dt == SRT_BF16 && (D == 16 || D == 32 || D == 64 || D == 128);
    for (int s = 0; s < n_seqs && tc; s++) {
        if (n_q[(size_t)s] < 2) continue;
        for (int i = 0; i < n_q[(size_t)s]; i++)
            for (int h = 0; h < n_heads; h++) {
                const size_t row = ((size_t)(q_start[(size_t)s] + i) * n_heads + h) * D;
                const int kvh = h / G, n_keys = ctx_len[(size_t)s] - n_q[(size_t)s] + i + 1;
                auto slot_of = [&](int p) {
                    return (size_t)table[(size_t)s * max_blocks + p / block_size] * block_size + p % block_size;
                };
                const double tol = attn_bf16_tc_tol(
                    &q[row], D, n_keys, [&](int j) { return &kc[slot_of(j) * kv_dim + (size_t)kvh * D]; },
                    [&](int j) { return &vc[slot_of(j) * kv_dim + (size_t)kvh * D]; });
                for (int d = 0; d < D; d++) atol[row + (size_t)d] = tol;
            }
    }

    std::vector<float> poison(q.size(), NAN);
    float *dout = (float *)dev_of(poison.data(), poison.size() * sizeof(float), TAIL);
    srt_paged_attn_args c = {n_seqs, n_heads, n_kv_heads, D, block_size, max_blocks, dev_in(q), dev_in(kbytes),
                             dev_in(vbytes), dev_in(table), dev_in(q_start), dev_in(n_q), dev_in(ctx_len), dout, dt, nullptr, nullptr};
    int max_ctx = 0;
    for (int x : ctx_len) max_ctx = std::max(max_ctx, x);
    srt_attn_host_plan plan = {n_q.data(), ctx_len.data(), max_ctx};
    st = srt_op_paged_attention(&g_cu, &c, &plan);
    TEST_CHECK(st == SRT_OK, "%s: cuda: %s", name, srt_last_error());
    st = g_cu.ops->sync(g_cu.ctx);
    TEST_CHECK(st == SRT_OK, "%s: sync: %s", name, srt_last_error());
    std::vector<float> got(q.size() + TAIL);
    g_cu.ops->download(g_cu.ctx, got.data(), dout, got.size() * sizeof(float));
    size_t worst = 0, bad = 0;
    double worst_excess = -INFINITY, max_err = 0.0, max_tol = 0.0;
    for (size_t e = 0; e < q.size(); e++) {
        double err = fabs((double)got[e] - ref[e]);
        if (!std::isfinite(got[e])) err = INFINITY;
        const double excess = err - (atol[e] + ATTN_RTOL * fabs((double)ref[e]));
        if (excess > 0) bad++;
        if (excess > worst_excess) { worst_excess = excess; worst = e; }
        max_err = std::max(max_err, err);
        max_tol = std::max(max_tol, atol[e]);
    }
    TEST_CHECK(bad == 0, "%s [%s order]: %zu elements out of tolerance, worst %zu (token %zu head %zu d %zu): %.9g, "
               "reference %.9g, tolerance %.3g", name, cudasim_order_name(cudasim_get_order()), bad, worst,
               worst / ((size_t)n_heads * D), worst / D % n_heads, worst % D, got[worst], ref[worst], atol[worst]);
    int clobbered = 0;
    for (size_t i = 0; i < TAIL; i++) clobbered += got[q.size() + i] != SENTINEL;
    TEST_CHECK(clobbered == 0, "%s: %d sentinels after the output overwritten", name, clobbered);
    if (cudasim_get_order() == CUDASIM_FORWARD)
        printf("%s: max error %.3g (largest derived tolerance %.3g)\n", name, max_err, max_tol);
    test_dev_free(&g_cu, g_dev);
}

static void all_cases(srt_dtype dt) {
    /* Orpheus-3B's group of 3 at head_dim 128: a fresh prompt of 130 (rows 390: the last tile holds 6 rows), a
     * chunk of 7 after a cached prefix of 33, a decode row, an empty sequence */
    prefill_case(dt, 6, 2, 128, 16, {{130, 130}, {7, 40}, {1, 50}, {0, 9}}, 100);
    /* group 1, head_dim 64, block 7: 33 fresh; 131 queries after a prefix of 69 (limits inside key tiles) */
    prefill_case(dt, 2, 2, 64, 7, {{33, 33}, {131, 200}}, 200);
    /* group 2: prefix of 64 (a tile boundary), two-query chunk */
    prefill_case(dt, 4, 2, 64, 16, {{33, 97}, {2, 2}, {7, 7}}, 300);
    /* group 4, head_dim 128: 65 fresh, 16 after a prefix of 134 */
    prefill_case(dt, 4, 1, 128, 16, {{65, 65}, {16, 150}}, 400);
    /* group 6 (tiles end mid-group): head_dim 64 and 128 */
    prefill_case(dt, 12, 2, 64, 16, {{7, 7}, {33, 70}}, 500);
    prefill_case(dt, 6, 1, 128, 7, {{130, 130}}, 600);
    /* head_dim 16 (the golden tiny models): warps 2 and 3 stage nothing */
    prefill_case(dt, 2, 1, 16, 5, {{33, 33}, {70, 100}}, 700);
}

int main(void) {
    srt_status st = test_cudasim_backends(&g_ref, &g_cu);
    if (st != SRT_OK) TEST_MAIN_END();
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 777);
        int failed_before = test_failed_count;
        all_cases(SRT_BF16);
        if (order == CUDASIM_FORWARD) all_cases(SRT_F32);   /* the FMA kernel, unchanged: one order */
        test_cudasim_order_end(order, failed_before);
    }
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
