/* test_cudasim_qkv_attention.cpp: the qkv_rope_store_attention op (host/lm/lm_ops.h: the fused q|k|v projection,
 * rope, KV store and paged attention of one layer as one step) of the "cuda" backend in the CUDA simulator, default
 * LM precision bf16, in forward, reverse and random thread order, on batches of 1, 7, 33 and 1025 new tokens
 * (prefill, chunked prefill after a cached context, a decode row beside a prefill, decode only):
 *  1. bit for bit the two ops it replaces on the same backend (linear_fused, then rope_store_attention): attention
 *     output and both caches; and the o projection's gemm right after it (A = the attention output) bit for bit the
 *     same gemm after the two ops. Where the fusions apply (LM precision bf16, more rows than the small-M limit, f32 /
 *     bf16 cache) the op takes one launch fewer than the two ops (the rope + store reads the q|k|v product: no
 *     scatter launch), and where the tensor-core prefill kernel writes every row (bf16 cache, head_dim 16..128, no
 *     decode row) the gemm after it one launch fewer (it takes the kernel's bf16 output: no rounding launch).
 *  2. against cpu-ref (which has no such op: the dispatch runs its linear_fused, rope, kv_store and paged_attention)
 *     within the bound below, on the cases without the RMSNorm (norm_w NULL) whose x is bf16 already, so that both
 *     sides multiply the same activations (the normalized rows' own rounding is linear_fused's, checked against
 *     cpu-ref in test_cudasim_gemm_small_m / test_cudasim_lm_bf16; here the norm cases are held to bit equality with
 *     the two ops). A cache slot no sequence owns holds NaN; outputs are NaN-poisoned and followed by sentinels.
 *
 * Bound (cuda vs cpu-ref, every output element of a case), u = 2^-8 (bf16 nearest: 8 significant bits):
 *   q|k|v: the same bf16 x bf16 products (exact in f32) summed in f32 in other orders: |dy_j| <= e_j =
 *     K 2^-24 sum_k |x_k w_jk|; per part e = the largest e_j.
 *   rope mixes two elements with |cos|, |sin| <= 1 (both sides in double): dq <= 2 e_q, dk <= 2 e_k.
 *   bf16 cache: both sides round k and v to bf16; values that close may still round to neighbours, one bf16 step
 *     apart (<= 2^-7 of the value): dv = e_v + 2^-7 max|v|; in the scores that is at most c 2^-7 max_j sum_d |q_d
 *     k_jd| (c = 1/sqrt(D)) on top of c (max|q|_1 dk + max|k|_1 dq + D dq dk) =: Delta. An f32 cache: no step.
 *   Perturbed scores move the softmax-weighted output by at most (e^(2 Delta) - 1) max|v|, perturbed values by dv.
 *   The tensor-core prefill kernel's own error (bf16 cache, head_dim 16..128): attn_bf16_tolerance.h's bound with
 *     u (Q and P rounded), taken globally: max|v| (e^(2 c (u + D 2^-24) max sum|q k|) - 1 + u).
 *   tol = dv + (e^(2 Delta) - 1) max|v| + the kernel's bound + 2e-5 + 1e-4 |ref| (test_cudasim_lm's f32 attention).
 * A worst-case bound; the measured error is printed beside it.
 *  3. The tiny Orpheus model (tests/data/llama/tiny-orpheus: no q/k/v biases, head_dim 16) on "cuda", precision bf16,
 *     bf16 KV cache, with the op's fusions (the default) and without (SNACRT_CUDA_PREFILL_FUSE=0): each golden
 *     prompt prefilled in chunks of 5 then teacher-forced through its greedy ids: every logit bit for bit, and
 *     2 x n_layers launches fewer per prefill chunk of more than the small-M rows. One thread order (random). */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"
}
#include "cuda/backend_cuda.h"   /* SRT_CUDA_SMALL_M_ROWS_DEFAULT */
#include "cudasim_api.h"
#include "tests/testutil.h"
extern "C" {
#include "snacrt.h"
}
#include "tests/lm_golden_teacher.h"   /* after testutil.h, snacrt.h, weights.h; U_BF16 (2^-8) */
#include "tests/cudasim_dev.h"   /* test_dev_of, test_dev_free, test_cudasim_order_end */
#include "tests/paged_layout.h"   /* test_paged_fill */
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

static srt_backend g_ref, g_cu;
static std::vector<void *> g_dev;
static const float SENTINEL = -7777.25f;
static const size_t TAIL = 37;
static const double ULP_BF16 = 1.0 / 128, E32 = 1.0 / 16777216;   /* a bf16 step (<= 2^-7 of the value), f32 u */
static const double ATTN_ATOL = 2e-5, ATTN_RTOL = 1e-4;   /* f32 online softmax vs double (test_cudasim_lm) */

static void *dev_of(const void *host, size_t bytes, size_t tail, const char *what) {
    return test_dev_of(&g_cu, g_dev, host, bytes, tail, SENTINEL, what);
}
static std::vector<float> down(const void *dev, size_t n) {
    std::vector<float> h(n);
    TEST_CHECK(g_cu.ops->sync(g_cu.ctx) == SRT_OK && g_cu.ops->download(g_cu.ctx, h.data(), dev, n * 4) == SRT_OK,
               "download: %s", srt_last_error());
    return h;
}
static std::vector<float> cache_bf16(const std::vector<float> &x) {   /* the cache as raw bf16 words */
    std::vector<float> out((x.size() + 1) / 2);
    uint16_t *h = reinterpret_cast<uint16_t *>(out.data());
    for (size_t i = 0; i < x.size(); i++) h[i] = srt_f32_to_bf16(x[i]);
    return out;
}
static float cache_at(const std::vector<float> &c, srt_dtype dt, size_t i) {
    return dt == SRT_BF16 ? srt_bf16_to_f32(reinterpret_cast<const uint16_t *>(c.data())[i]) : c[i];
}

/* heads nh / nkv of head_dim D over hidden K; ctxs: each sequence's context after the op, n_new: its new tokens
 * (at most the context) */
static void qkv_case(srt_dtype dt, int nh, int nkv, int D, int K, const std::vector<int> &ctxs,
                     const std::vector<int> &n_new, bool norm, uint64_t seed) {
    char what[200];
    int T_all = 0;
    for (int n : n_new) T_all += n;
    snprintf(what, sizeof what, "qkv_rope_store_attn %s heads %d/%d D %d K %d norm %d, %zu seqs, %d new [%s order]",
             srt_dtype_name(dt), nh, nkv, D, K, (int)norm, ctxs.size(), T_all, cudasim_order_name(cudasim_get_order()));
    const int bs = 7, n_seqs = (int)ctxs.size(), q_dim = nh * D, kv_dim = nkv * D, N = q_dim + 2 * kv_dim;
    int max_blocks = 1;
    for (int c : ctxs) max_blocks = std::max(max_blocks, (c + bs - 1) / bs);
    const int n_blocks = n_seqs * max_blocks + 2;
    std::vector<int32_t> perm((size_t)n_blocks), table((size_t)n_seqs * max_blocks), q_start, n_q, ctx_len, pos, slot;
    for (int i = 0; i < n_blocks; i++) perm[(size_t)i] = i;
    uint64_t rng = seed;
    for (int i = n_blocks - 1; i > 0; i--) std::swap(perm[(size_t)i], perm[test_rng_next(&rng) % (uint64_t)(i + 1)]);
    std::vector<float> kc((size_t)n_blocks * bs * kv_dim, NAN), vc = kc, kvals(kc.size()), vvals(kc.size());
    test_fill_uniform(kvals.data(), kvals.size(), seed + 1, -1.5f, 1.5f);
    test_fill_uniform(vvals.data(), vvals.size(), seed + 2, -1, 1);
    int T = 0;
    for (int s = 0, next = 0; s < n_seqs; s++) {
        const int ctx = ctxs[(size_t)s], nq = std::min(ctx, n_new[(size_t)s]);
        q_start.push_back(T);
        n_q.push_back(nq);
        ctx_len.push_back(ctx);
        for (int b = 0; b < max_blocks; b++) table[(size_t)s * max_blocks + b] = perm[(size_t)next++];
        test_paged_fill(&table[(size_t)s * max_blocks], bs, ctx, nq, kv_dim, kvals, vvals, kc, vc, pos, slot);
        T += nq;
    }
    if (dt == SRT_BF16) { kc = cache_bf16(kc); vc = cache_bf16(vc); }
    std::vector<float> x((size_t)T * K), nw(K), W((size_t)N * K), Wo((size_t)24 * q_dim), inv_freq((size_t)D / 2);
    test_fill_uniform(x.data(), x.size(), seed + 3, -1, 1);
    if (!norm)   /* the activations bf16 already: the rounding kernel leaves them as they are */
        for (float &v : x) v = srt_bf16_to_f32(srt_f32_to_bf16(v));
    test_fill_uniform(nw.data(), nw.size(), seed + 4, 0.5f, 1.5f);
    test_fill_uniform(W.data(), W.size(), seed + 5, -2 / sqrtf((float)K), 2 / sqrtf((float)K));
    test_fill_uniform(Wo.data(), Wo.size(), seed + 6, -0.2f, 0.2f);
    for (int i = 0; i < D / 2; i++) inv_freq[(size_t)i] = (float)pow(500000.0, -2.0 * i / D);
    std::vector<uint16_t> Wh(W.size()), Woh(Wo.size());
    for (size_t i = 0; i < W.size(); i++) { Wh[i] = srt_f32_to_bf16(W[i]); W[i] = srt_bf16_to_f32(Wh[i]); }
    for (size_t i = 0; i < Wo.size(); i++) Woh[i] = srt_f32_to_bf16(Wo[i]);
    srt_attn_host_plan plan = {n_q.data(), ctx_len.data(), max_blocks * bs};

    /* cpu-ref: the dispatch's two ops */
    std::vector<float> qr((size_t)T * q_dim), kr((size_t)T * kv_dim), vr(kr.size()), xn((size_t)T * K);
    std::vector<float> kcr = kc, vcr = vc, oref(qr.size());
    srt_linear_fused_args lr = {T, N, K, SRT_LINEAR_SPLIT3, q_dim, kv_dim, x.data(), Wh.data(), SRT_BF16, qr.data(),
                                kr.data(), vr.data(), norm ? nw.data() : nullptr, 1e-5f, xn.data(), nullptr};
    srt_rope_store_attn_args rr = {{n_seqs, nh, nkv, D, bs, max_blocks, qr.data(), kcr.data(), vcr.data(),
                                    table.data(), q_start.data(), n_q.data(), ctx_len.data(), oref.data(), dt, nullptr,
                                    nullptr},
                                   T, kr.data(), vr.data(), pos.data(), slot.data(), inv_freq.data()};
    TEST_CHECK(srt_op_qkv_rope_store_attention(&g_ref, &lr, &rr, &plan) == SRT_OK, "%s: cpu-ref: %s", what,
               srt_last_error());

    /* cuda: the two ops (fused 0), then the op (fused 1); each followed by the o projection's gemm */
    std::vector<float> out[2], kout[2], vout[2], proj[2];
    unsigned long long launches[2], gemm_launches[2];
    for (int fused = 0; fused < 2; fused++) {
        std::vector<float> poison((size_t)T * q_dim, NAN);
        float *dx = (float *)dev_of(x.data(), x.size() * 4, 0, what);
        float *dq = (float *)dev_of(poison.data(), poison.size() * 4, 0, what);
        float *dk = (float *)dev_of(poison.data(), (size_t)T * kv_dim * 4, 0, what);
        float *dv = (float *)dev_of(poison.data(), (size_t)T * kv_dim * 4, 0, what);
        float *dout = (float *)dev_of(poison.data(), poison.size() * 4, TAIL, what);
        std::vector<float> xn_poison(xn.size(), NAN);
        float *dxn = (float *)dev_of(xn_poison.data(), xn.size() * 4, 0, what);
        void *dkc = dev_of(kc.data(), kc.size() * 4, 0, what), *dvc = dev_of(vc.data(), vc.size() * 4, 0, what);
        std::vector<float> zeros((size_t)T * 24, 0.0f);
        float *dproj = (float *)dev_of(zeros.data(), zeros.size() * 4, TAIL, what);
        auto ints = [&](const std::vector<int32_t> &v) { return (int32_t *)dev_of(v.data(), v.size() * 4, 0, what); };
        void *dw = dev_of(Wh.data(), Wh.size() * 2, 0, what);
        srt_linear_fused_args lc = {T, N, K, SRT_LINEAR_SPLIT3, q_dim, kv_dim, dx, dw, SRT_BF16, dq, dk, dv,
                                    norm ? (float *)dev_of(nw.data(), nw.size() * 4, 0, what) : nullptr, 1e-5f,
                                    dxn, nullptr};
        srt_rope_store_attn_args rc = {{n_seqs, nh, nkv, D, bs, max_blocks, dq, dkc, dvc, ints(table), ints(q_start),
                                        ints(n_q), ints(ctx_len), dout, dt, nullptr, nullptr},
                                       T, dk, dv, ints(pos), ints(slot),
                                       (float *)dev_of(inv_freq.data(), inv_freq.size() * 4, 0, what)};
        srt_gemm_args g = {T, 24, q_dim, 0, 1, 1.0f, 0.0f, dout, q_dim, dev_of(Woh.data(), Woh.size() * 2, 0, what),
                           q_dim, SRT_BF16, dproj, 24, nullptr};
        unsigned long long before = cudasim_launch_count();
        srt_status st = fused ? srt_op_qkv_rope_store_attention(&g_cu, &lc, &rc, &plan)
                              : srt_op_linear_fused(&g_cu, &lc);
        if (!fused && st == SRT_OK) st = srt_op_rope_store_attention(&g_cu, &rc, &plan);
        TEST_CHECK(st == SRT_OK, "%s: cuda (%s): %s", what, fused ? "op" : "two ops", srt_last_error());
        launches[fused] = cudasim_launch_count() - before;
        before = cudasim_launch_count();
        TEST_CHECK(srt_op_gemm(&g_cu, &g) == SRT_OK, "%s: o projection: %s", what, srt_last_error());
        gemm_launches[fused] = cudasim_launch_count() - before;
        out[fused] = down(dout, qr.size() + TAIL);
        kout[fused] = down(dkc, kc.size());
        vout[fused] = down(dvc, vc.size());
        proj[fused] = down(dproj, zeros.size() + TAIL);
        test_dev_free(&g_cu, g_dev);
    }
    TEST_CHECK(!memcmp(out[0].data(), out[1].data(), out[0].size() * 4) &&
               !memcmp(kout[0].data(), kout[1].data(), kc.size() * 4) &&
               !memcmp(vout[0].data(), vout[1].data(), vc.size() * 4),
               "%s: output / caches differ from linear_fused + rope_store_attention on cuda", what);
    TEST_CHECK(!memcmp(proj[0].data(), proj[1].data(), proj[0].size() * 4),
               "%s: the o projection after the op differs from the one after the two ops", what);
    bool prefill = false, decode = false;
    for (int s = 0; s < n_seqs; s++) { prefill |= n_q[(size_t)s] > 1; decode |= n_q[(size_t)s] == 1; }
    const bool product = prefill && T > SRT_CUDA_SMALL_M_ROWS_DEFAULT;
    const bool hand = product && !decode && dt == SRT_BF16 && (D == 16 || D == 32 || D == 64 || D == 128);
    TEST_CHECK(launches[1] + (product ? 1 : 0) == launches[0] && gemm_launches[1] + (hand ? 1 : 0) == gemm_launches[0],
               "%s: the op took %llu launches (the two ops %llu), the gemm after it %llu (after the two ops %llu); "
               "fusions expected: product %d, bf16 hand-off %d", what, launches[1], launches[0], gemm_launches[1],
               gemm_launches[0], (int)product, (int)hand);
    for (size_t i = 0; i < TAIL; i++)
        TEST_CHECK(out[1][qr.size() + i] == SENTINEL && proj[1][(size_t)T * 24 + i] == SENTINEL,
                   "%s: sentinel %zu after the output overwritten", what, i);

    if (norm) {
        printf("%s: bit for bit the two ops (cpu-ref not compared: the norm's rounding)\n", what);
        return;
    }
    /* the bound against cpu-ref (header) */
    auto part_err = [&](int c0, int c1) {
        double e = 0;
        for (int t = 0; t < T; t++)
            for (int j = c0; j < c1; j++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += fabs((double)x[(size_t)t * K + k] * W[(size_t)j * K + k]);
                e = std::max(e, K * E32 * acc);
            }
        return e;
    };
    const double e_q = part_err(0, q_dim), e_k = part_err(q_dim, q_dim + kv_dim), e_v = part_err(q_dim + kv_dim, N);
    double q1 = 0, k1 = 0, kmax = 0, vmax = 0;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            double a = 0;
            for (int d = 0; d < D; d++) a += fabs(qr[((size_t)t * nh + h) * D + d]);
            q1 = std::max(q1, a);
        }
    const size_t n_slots = (size_t)n_blocks * bs;
    for (size_t sl = 0; sl < n_slots; sl++)
        for (int h = 0; h < nkv; h++) {
            double a = 0;
            for (int d = 0; d < D; d++) {
                const size_t i = sl * kv_dim + (size_t)h * D + d;
                const double kk = fabs(cache_at(kcr, dt, i)), vv = fabs(cache_at(vcr, dt, i));
                if (std::isnan(kk) || std::isnan(vv)) continue;   /* a slot no sequence owns */
                a += kk;
                kmax = std::max(kmax, kk);
                vmax = std::max(vmax, vv);
            }
            k1 = std::max(k1, a);
        }
    const double qk1 = q1 * kmax, c = 1 / sqrt((double)D), step = dt == SRT_BF16 ? ULP_BF16 : 0.0;
    const double dq = 2 * e_q, dk = 2 * e_k, dv = e_v + step * vmax;
    const double delta = c * (q1 * dk + k1 * dq + D * dq * dk) + c * step * qk1;
    const bool tc = prefill && dt == SRT_BF16 && (D == 16 || D == 32 || D == 64 || D == 128);
    const double kern = tc ? vmax * (expm1(2 * c * (U_BF16 + D * E32) * qk1) + U_BF16) : 0;
    const double atol = dv + expm1(2 * delta) * vmax + kern + ATTN_ATOL;
    size_t worst = 0;
    double maxerr = 0, excess = test_compare(out[1].data(), oref.data(), oref.size(), atol, ATTN_RTOL, &worst, &maxerr);
    printf("%s: max |cuda - cpu-ref| %.3g, bound %.3g\n", what, maxerr, atol);
    TEST_CHECK(excess <= 0, "%s: element %zu is %.9g, cpu-ref %.9g (max abs err %.3g, bound %.3g)", what, worst,
               out[1][worst], oref[worst], maxerr, atol);
}

static void all_cases() {
    for (int norm = 0; norm < 2; norm++) {   /* without the norm: against cpu-ref too */
        qkv_case(SRT_BF16, 4, 2, 16, 40, {7}, {7}, norm, 100);               /* prefill: both fusions */
        qkv_case(SRT_BF16, 6, 2, 32, 33, {40, 33}, {7, 33}, norm, 200);      /* chunked prefill, K 33 (scalar paths) */
        qkv_case(SRT_BF16, 4, 2, 16, 40, {12, 1030}, {1, 1}, norm, 300);     /* decode only: the two ops */
        qkv_case(SRT_BF16, 4, 2, 16, 40, {12, 40}, {1, 33}, norm, 400);      /* a decode row beside a prefill */
        qkv_case(SRT_F32, 4, 4, 20, 40, {33}, {33}, norm, 500);              /* f32 cache, head_dim 20: FMA kernel */
        qkv_case(SRT_F32, 4, 2, 16, 40, {40}, {33}, norm, 550);              /* f32 cache, head_dim 16: FMA kernel */
        qkv_case(SRT_BF16, 2, 1, 16, 24, {1025}, {1025}, norm, 600);         /* a long prefill */
        qkv_case(SRT_BF16, 4, 2, 16, 40, {2}, {2}, norm, 700);               /* 2 rows: small-M (no product) */
    }
}

/* ---- 3. the tiny model, fused == unfused ---- */
static void model_case(const char *name) {
    char dir[512];
    srt_weights *golden = lm_golden_open(name, dir, sizeof dir);
    srt_lm *lm[2] = {nullptr, nullptr};   /* [0] without the fusions, [1] with */
    srt_status st = lm_golden_load_pair(dir, "cuda", "bf16", "SNACRT_CUDA_PREFILL_FUSE", "0", &lm[0], &lm[1]);
    TEST_CHECK(st == SRT_OK && golden, "load %s: %s", name, srt_last_error());
    if (st == SRT_OK && golden) {
        srt_lm_info info;
        srt_lm_get_info(lm[1], &info);
        const int vocab = info.vocab_size, chunk = 5;
        for (int p = 0; p < 2; p++) {
            lm_golden_prompt g;
            if (!lm_golden_prompt_load(golden, p, name, info.n_layers, vocab, &g)) break;
            std::vector<float> rows[2];
            unsigned long long launches[2];
            for (int f = 0; f < 2; f++) {
                rows[f].assign((size_t)(g.n_steps + 1) * vocab, NAN);
                const unsigned long long before = cudasim_launch_count();
                TEST_CHECK(lm_golden_run_steps(lm[f], g.ids, g.n_ids, chunk, g.greedy, g.n_steps, vocab,
                                               rows[f].data()),
                           "%s p%d: forward (fusions %d): %s", name, p, f, srt_last_error());
                launches[f] = cudasim_launch_count() - before;
            }
            int fused_chunks = 0;
            for (int i0 = 0; i0 < g.n_ids; i0 += chunk)
                fused_chunks += std::min(chunk, g.n_ids - i0) > SRT_CUDA_SMALL_M_ROWS_DEFAULT;
            TEST_CHECK(!memcmp(rows[0].data(), rows[1].data(), rows[0].size() * 4),
                       "%s p%d: logits with the prefill fusions differ from those without", name, p);
            TEST_CHECK(launches[1] + 2ull * info.n_layers * fused_chunks == launches[0],
                       "%s p%d: %llu launches with the fusions, %llu without (%d layers, %d prefill chunks)", name, p,
                       launches[1], launches[0], info.n_layers, fused_chunks);
            printf("%s p%d: %d ids in chunks of %d + %d steps: logits bit for bit, launches %llu -> %llu\n", name,
                   p, g.n_ids, chunk, g.n_steps, launches[0], launches[1]);
        }
    }
    srt_lm_free(lm[0]);
    srt_lm_free(lm[1]);
    srt_weights_free(golden);
}

int main(void) {
    srt_status st = test_cudasim_backends(&g_ref, &g_cu);
    if (st != SRT_OK) TEST_MAIN_END();
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 2468);
        int failed_before = test_failed_count;
        all_cases();
        test_cudasim_order_end(order, failed_before);
    }
    cudasim_set_order(CUDASIM_RANDOM, 1357);
    int failed_before = test_failed_count;
    model_case("tiny-orpheus");
    test_cudasim_order_end(CUDASIM_RANDOM, failed_before);
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
