/* test_cudasim_lm.cpp: every language-model op (host/lm/lm_ops.h) of the "cuda" backend, run in the CUDA simulator
 * (tests/cudasim), against "cpu-ref" on odd shapes (1, 7, 33, 1025), in forward, reverse and random thread order.
 * KV cache in f32, bf16 and fp8 e4m3 (per (token, KV head) row scales). Paged attention: head_dim 16/20/64/128, GQA ratios 1/2/3/4/16, block sizes 5/7/16,
 * scrambled block tables, ragged batches
 * mixing decode (flash-decoding splits, contexts up to 1025), prefill and chunked prefill, and a sequence with no
 * queries; cache slots that no sequence owns hold NaN, so reading past a causal limit shows up.
 * Every device output is NaN-poisoned before the op (or holds its in-place input) and is followed by sentinels
 * that must survive; NaN/Inf where the reference is finite fails. Tolerances (atol + rtol*|ref|) sit beside each
 * check. Paged attention also runs with the forward's host plan (paged_attention_planned, launch sized past the
 * longest context); kv_store skips rows whose slot is negative (padding). rope_store_attention (the fused decode
 * launch) equals rope + kv_store + paged_attention on cuda bit for bit. Also: out-of-range embedding ids give
 * SRT_ERR_RANGE; the simulator must report no rule violation. */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"
}
#include "cudasim_api.h"
#include "tests/attn_bf16_tolerance.h"
#include "tests/testutil.h"
#include "tests/cudasim_dev.h"   /* test_dev_of, test_dev_free */
#include "tests/paged_layout.h"   /* test_paged_layout, test_paged_fill */
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <vector>

static srt_backend g_ref, g_cu;
static const srt_lm_ops *g_ref_lm, *g_cu_lm;
static const float SENTINEL = -7777.25f;
static const size_t TAIL = 37;                 /* sentinel floats after every output */
static std::vector<void *> g_dev;              /* device buffers of the current case */
static char g_case[160] = "";

static const double ELEM_ATOL = 1e-6, ELEM_RTOL = 1e-6;   /* one or two f32 roundings */
static const double NORM_ATOL = 1e-5, NORM_RTOL = 1e-5;   /* f32 sum of squares vs double (as test_lm_ops) */
static const double ROPE_ATOL = 1e-6, ROPE_RTOL = 1e-6;   /* double angle and rotation on both sides */
static const double SWIGLU_ATOL = 2e-6, SWIGLU_RTOL = 2e-6;   /* expf vs exp */
static const double ATTN_ATOL = 2e-5, ATTN_RTOL = 1e-4;   /* f32 online softmax over <= 1025 keys vs double */
/* bf16 KV cache: both sides read the same bf16 values (cpu-ref widens them exactly), so only the f32 arithmetic
 * differs: the f32 tolerance holds (except prefill rows at head_dim 16 / 32 / 64 / 128: tensor cores, see
 * attention_case). kv_store to bf16: the same round-to-nearest-even: exact. fp8 likewise: the same codes and
 * power-of-two scales (kv_store: codes and scales bit for bit); the scale multiplies once per position. */
/* fp8 after a rope whose f32 (cuda) and double (cpu-ref) results differ by an ulp: a value at a rounding boundary of
 * e4m3 may take the neighbouring code (2^-4 of it relative), so the fused cases get a looser bound: measured
 * 6e-8 at these seeds (no code flipped, printed per run); one flipped code of a 1.5-magnitude key moves an output
 * by < 2e-3 */
static const double ATTN_FP8_ROPE_ATOL = 2e-3, ATTN_FP8_ROPE_RTOL = 1e-3;

static void set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_case(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_case, sizeof g_case, fmt, ap);
    va_end(ap);
}

static std::vector<float> rnd(size_t n, uint64_t seed, float lo, float hi) {
    std::vector<float> v(n);
    test_fill_uniform(v.data(), n, seed, lo, hi);
    return v;
}

static void *dev_of(const void *host, size_t bytes, size_t tail_floats) {
    return test_dev_of(&g_cu, g_dev, host, bytes, tail_floats, SENTINEL, g_case);
}
static float *dev_in(const std::vector<float> &h) { return (float *)dev_of(h.data(), h.size() * sizeof(float), 0); }
static int32_t *dev_ints(const std::vector<int32_t> &h) {
    return (int32_t *)dev_of(h.data(), h.size() * sizeof(int32_t), 0);
}
/* An output buffer: `init` (or NaN poison when empty) followed by sentinels. */
static float *dev_out(size_t n, const std::vector<float> &init = {}) {
    std::vector<float> h = init.empty() ? std::vector<float>(n, NAN) : init;
    return (float *)dev_of(h.data(), n * sizeof(float), TAIL);
}

static void end_case() {
    test_dev_free(&g_cu, g_dev);
}

static void check_status(srt_status st, const char *what) {
    TEST_CHECK(st == SRT_OK, "%s %s: %s: %s", g_case, what, srt_status_name(st), srt_last_error());
}

/* Download n floats + sentinels, compare with ref (atol + rtol*|ref|), check the sentinels. */
static void check_out(const char *what, const float *dev, const std::vector<float> &ref, double atol, double rtol,
                      const std::vector<double> &elem_atol = {}) {
    std::vector<float> got(ref.size() + TAIL);
    check_status(g_cu.ops->sync(g_cu.ctx), "sync");
    g_cu.ops->download(g_cu.ctx, got.data(), dev, got.size() * sizeof(float));
    size_t worst = 0;
    double maxerr = 0;
    double excess = test_compare(got.data(), ref.data(), ref.size(), atol, rtol, &worst, &maxerr);
    if (!elem_atol.empty()) {   /* a tolerance per element instead of atol */
        excess = -INFINITY;
        for (size_t i = 0; i < ref.size(); i++) {
            double err = fabs((double)got[i] - (double)ref[i]);
            if (!std::isfinite(got[i]) && std::isfinite(ref[i])) err = INFINITY;
            const double e = err - (elem_atol[i] + rtol * fabs((double)ref[i]));
            if (e > excess) { excess = e; worst = i; }
        }
    }
    TEST_CHECK(excess <= 0, "%s %s [%s order]: element %zu is %.9g, reference %.9g (max abs err %.3g, atol %g rtol %g)",
               g_case, what, cudasim_order_name(cudasim_get_order()), worst, ref.empty() ? 0.0 : got[worst],
               ref.empty() ? 0.0 : ref[worst], maxerr, atol, rtol);
    int clobbered = 0;
    for (size_t i = 0; i < TAIL; i++) clobbered += got[ref.size() + i] != SENTINEL;
    TEST_CHECK(clobbered == 0, "%s %s: %d sentinels after the output were overwritten", g_case, what, clobbered);
}

/* ---------------------------------------------------------------- rmsnorm, rope */
static void rmsnorm_case(int rows, int dim, bool in_place, uint64_t seed) {
    set_case("rmsnorm rows %d dim %d%s", rows, dim, in_place ? " in place" : "");
    std::vector<float> x = rnd((size_t)rows * dim, seed, -3, 3), w = rnd((size_t)dim, seed + 1, 0.5f, 1.5f);
    std::vector<float> yref(x.size());
    srt_rmsnorm_args r = {rows, dim, 1e-5f, x.data(), w.data(), yref.data()};
    check_status(srt_op_rmsnorm(&g_ref, &r), "cpu-ref rmsnorm");
    float *dy = dev_out(x.size(), in_place ? x : std::vector<float>());
    srt_rmsnorm_args c = {rows, dim, 1e-5f, in_place ? dy : dev_in(x), dev_in(w), dy};
    check_status(srt_op_rmsnorm(&g_cu, &c), "cuda rmsnorm");
    check_out("y", dy, yref, NORM_ATOL, NORM_RTOL);
    end_case();
}

static void rope_case(int n_tokens, int heads, int head_dim, uint64_t seed) {
    set_case("rope tokens %d heads %d head_dim %d", n_tokens, heads, head_dim);
    std::vector<float> x = rnd((size_t)n_tokens * heads * head_dim, seed, -2, 2), xref = x;
    std::vector<float> inv_freq((size_t)head_dim / 2);
    for (int i = 0; i < head_dim / 2; i++) inv_freq[(size_t)i] = (float)pow(500000.0, -2.0 * i / head_dim);
    std::vector<int32_t> pos((size_t)n_tokens);
    for (int t = 0; t < n_tokens; t++) pos[(size_t)t] = t * 4099 % 131072;   /* 0 first, large ones later */
    srt_rope_args r = {n_tokens, heads, head_dim, pos.data(), inv_freq.data(), xref.data()};
    check_status(srt_op_rope(&g_ref, &r), "cpu-ref rope");
    float *dx = dev_out(x.size(), x);
    srt_rope_args c = {n_tokens, heads, head_dim, dev_ints(pos), dev_in(inv_freq), dx};
    check_status(srt_op_rope(&g_cu, &c), "cuda rope");
    check_out("x", dx, xref, ROPE_ATOL, ROPE_RTOL);
    end_case();
}

/* ---------------------------------------------------------------- kv_store */
/* The cache bytes of f32 values in dtype dt (bf16: rounded to nearest even); back to f32 for comparisons. */
static std::vector<float> cache_bytes(const std::vector<float> &x, srt_dtype dt) {
    if (dt == SRT_F32) return x;
    if (dt == SRT_F8E4M3) {          /* raw codes only (no scaling): cache_fp8 makes a scaled cache */
        std::vector<float> out((x.size() + 3) / 4);
        uint8_t *c = reinterpret_cast<uint8_t *>(out.data());
        for (size_t i = 0; i < x.size(); i++) c[i] = srt_f32_to_e4m3(x[i]);
        return out;
    }
    std::vector<float> out((x.size() + 1) / 2);
    uint16_t *h = reinterpret_cast<uint16_t *>(out.data());
    for (size_t i = 0; i < x.size(); i++) h[i] = srt_f32_to_bf16(x[i]);
    return out;
}

/* An fp8 cache of the f32 rows x (n_slots, kv_dim) as kv_store would write it: per (slot, KV head) row the
 * power-of-two scale (into scale, (n_slots / block_size, kv_dim / head_dim, block_size)) and the codes; a row
 * holding NaN (a slot no sequence owns) gets NaN codes and a NaN scale. */
static std::vector<float> cache_fp8(const std::vector<float> &x, int kv_dim, int head_dim, int block_size,
                                    std::vector<float> &scale) {
    size_t n_slots = x.size() / (size_t)kv_dim, nkv = (size_t)(kv_dim / head_dim);
    std::vector<float> out((x.size() + 3) / 4);
    uint8_t *c = reinterpret_cast<uint8_t *>(out.data());
    scale.assign((n_slots + (size_t)block_size - 1) / (size_t)block_size * (size_t)block_size * nkv, NAN);
    for (size_t sl = 0; sl < n_slots; sl++)
        for (size_t h = 0; h < nkv; h++) {
            const float *r = &x[sl * (size_t)kv_dim + h * (size_t)head_dim];
            float amax = 0;
            bool nan = false;
            for (int d = 0; d < head_dim; d++) { amax = std::max(amax, std::fabs(r[d])); nan |= std::isnan(r[d]); }
            float s = nan ? NAN : srt_e4m3_row_scale(amax);
            scale[(sl / (size_t)block_size * nkv + h) * (size_t)block_size + sl % (size_t)block_size] = s;
            for (int d = 0; d < head_dim; d++)
                c[sl * (size_t)kv_dim + h * (size_t)head_dim + (size_t)d] = nan ? 0x7f : srt_f32_to_e4m3(r[d] / s);
        }
    return out;
}

static void kv_store_case(srt_dtype dt, int n_tokens, int kv_dim, int n_slots, uint64_t seed, int head_dim = 0,
                          int block_size = 0) {
    set_case("kv_store %s tokens %d kv_dim %d slots %d head_dim %d block %d", srt_dtype_name(dt), n_tokens, kv_dim,
             n_slots, head_dim, block_size);
    std::vector<float> k = rnd((size_t)n_tokens * kv_dim, seed, -1, 1), v = rnd(k.size(), seed + 1, -1, 1);
    std::vector<float> kc = rnd((size_t)n_slots * kv_dim, seed + 2, -1, 1), vc = rnd(kc.size(), seed + 3, -1, 1);
    std::vector<int32_t> slot((size_t)n_slots);
    for (int i = 0; i < n_slots; i++) slot[(size_t)i] = i;
    uint64_t rng = seed;
    for (int i = n_slots - 1; i > 0; i--) std::swap(slot[(size_t)i], slot[test_rng_next(&rng) % (uint64_t)(i + 1)]);
    slot.resize((size_t)n_tokens);   /* distinct scrambled slots */
    if (n_tokens > 2) slot[1] = -1;  /* a padding row: not stored */
    if (dt != SRT_F32) { kc = cache_bytes(kc, dt); vc = cache_bytes(vc, dt); }   /* the cache as raw words */
    std::vector<float> kref = kc, vref = vc;
    size_t n_scale = dt == SRT_F8E4M3 ? (size_t)(n_slots + block_size - 1) / block_size * block_size * (kv_dim / head_dim) : 0;
    std::vector<float> ks = rnd(n_scale, seed + 4, 0, 1), vs = rnd(n_scale, seed + 5, 0, 1), ksref = ks, vsref = vs;
    srt_kv_store_args r = {n_tokens, kv_dim, k.data(), v.data(), slot.data(), kref.data(), vref.data(), dt,
                           head_dim, block_size, n_scale ? ksref.data() : nullptr, n_scale ? vsref.data() : nullptr};
    check_status(srt_op_kv_store(&g_ref, &r), "cpu-ref kv_store");
    float *dk = dev_out(kc.size(), kc), *dv = dev_out(vc.size(), vc);
    float *dks = n_scale ? dev_out(n_scale, ks) : nullptr, *dvs = n_scale ? dev_out(n_scale, vs) : nullptr;
    srt_kv_store_args c = {n_tokens, kv_dim, dev_in(k), dev_in(v), dev_ints(slot), dk, dv, dt, head_dim, block_size,
                           dks, dvs};
    check_status(srt_op_kv_store(&g_cu, &c), "cuda kv_store");
    check_out("k_cache", dk, kref, 0, 0);   /* copies: exact */
    check_out("v_cache", dv, vref, 0, 0);
    if (n_scale) {                          /* fp8: the same scales, bit for bit */
        check_out("k_scale", dks, ksref, 0, 0);
        check_out("v_scale", dvs, vsref, 0, 0);
    }
    end_case();
}

/* ---------------------------------------------------------------- paged attention */
struct attn_seq { int n_q, ctx; };

/* f32 cache values as a bf16 cache holds them */
static std::vector<float> cache_widened(const std::vector<float> &x) {
    std::vector<float> w(x.size());
    for (size_t i = 0; i < x.size(); i++) w[i] = srt_bf16_to_f32(srt_f32_to_bf16(x[i]));
    return w;
}

/* Per output element: the derived bound (attn_bf16_tolerance.h) on the rows of sequences with n_q > 1, ATTN_ATOL on
 * the others. q: the case's queries; kw / vw the widened cache. */
static std::vector<double> prefill_bf16_row_atol(const std::vector<attn_seq> &seqs, int n_heads, int n_kv_heads, int D,
                                                 int block_size, int max_blocks, const std::vector<int32_t> &table,
                                                 const std::vector<float> &kw, const std::vector<float> &vw,
                                                 const std::vector<float> &q) {
    std::vector<double> atol(q.size(), ATTN_ATOL);
    const int kv_dim = n_kv_heads * D, G = n_heads / n_kv_heads;
    for (size_t s = 0, t0 = 0; s < seqs.size(); t0 += (size_t)seqs[s].n_q, s++) {
        if (seqs[s].n_q < 2) continue;
        auto slot_of = [&](int p) {
            return (size_t)table[s * max_blocks + (size_t)(p / block_size)] * block_size + (size_t)(p % block_size);
        };
        for (int i = 0; i < seqs[s].n_q; i++)
            for (int h = 0; h < n_heads; h++) {
                const size_t row = ((t0 + (size_t)i) * n_heads + (size_t)h) * D;
                const size_t off = (size_t)(h / G) * D;
                const double tol = attn_bf16_tc_tol(&q[row], D, seqs[s].ctx - seqs[s].n_q + i + 1,
                                                    [&](int j) { return &kw[slot_of(j) * kv_dim + off]; },
                                                    [&](int j) { return &vw[slot_of(j) * kv_dim + off]; });
                for (int d = 0; d < D; d++) atol[row + (size_t)d] = tol;
            }
    }
    return atol;
}

static void attention_case(srt_dtype dt, const char *label, int n_heads, int n_kv_heads, int head_dim,
                           int block_size, const std::vector<attn_seq> &seqs, uint64_t seed) {
    set_case("paged_attention %s %s (heads %d/%d, head_dim %d, block %d, %zu seqs)", srt_dtype_name(dt), label,
             n_heads, n_kv_heads, head_dim, block_size, seqs.size());
    int n_seqs = (int)seqs.size(), kv_dim = n_kv_heads * head_dim, max_blocks, n_blocks;
    /* a scrambled permutation of the cache blocks, dealt out to the sequences */
    std::vector<int32_t> table, q_start, n_q, ctx_len;
    int n_tokens = test_paged_layout(seqs, block_size, seed, &max_blocks, &n_blocks, table, q_start, n_q, ctx_len);
    std::vector<float> kc = std::vector<float>((size_t)n_blocks * block_size * kv_dim, NAN), vc = kc;
    std::vector<float> kvals = rnd(kc.size(), seed + 1, -1.5f, 1.5f), vvals = rnd(vc.size(), seed + 2, -1, 1);
    for (int s = 0; s < n_seqs; s++) {
        for (int p = 0; p < seqs[(size_t)s].ctx; p++) {   /* only owned positions get values; the rest stay NaN */
            size_t slot = (size_t)table[(size_t)s * max_blocks + p / block_size] * block_size + p % block_size;
            for (int i = 0; i < kv_dim; i++) {
                kc[slot * kv_dim + i] = kvals[slot * kv_dim + i];
                vc[slot * kv_dim + i] = vvals[slot * kv_dim + i];
            }
        }
    }
    /* bf16 cache at head_dim 16 / 32 / 64 / 128: prefill rows run on tensor cores (Q and P rounded to bf16): their
     * tolerance is derived per row in tests/attn_bf16_tolerance.h; every other row keeps the f32 one */
    const bool tc_rows = dt == SRT_BF16 && (head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 128);
    const std::vector<float> kw = tc_rows ? cache_widened(kc) : std::vector<float>();
    const std::vector<float> vw = tc_rows ? cache_widened(vc) : std::vector<float>();
    std::vector<float> ks, vs;               /* fp8 row scales */
    if (dt == SRT_F8E4M3) {
        kc = cache_fp8(kc, kv_dim, head_dim, block_size, ks);
        vc = cache_fp8(vc, kv_dim, head_dim, block_size, vs);
    } else {
        kc = cache_bytes(kc, dt);   /* NaN stays NaN in bf16 */
        vc = cache_bytes(vc, dt);
    }
    std::vector<float> q = rnd((size_t)n_tokens * n_heads * head_dim, seed + 3, -1.5f, 1.5f);
    const std::vector<double> row_atol = tc_rows ? prefill_bf16_row_atol(seqs, n_heads, n_kv_heads, head_dim,
                                                                         block_size, max_blocks, table, kw, vw, q)
                                                 : std::vector<double>();
    std::vector<float> oref(q.size());
    srt_paged_attn_args r = {n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks, q.data(), kc.data(),
                             vc.data(), table.data(), q_start.data(), n_q.data(), ctx_len.data(), oref.data(), dt,
                             ks.empty() ? nullptr : ks.data(), vs.empty() ? nullptr : vs.data()};
    check_status(srt_op_paged_attention(&g_ref, &r, nullptr), "cpu-ref paged_attention");
    float *dout = dev_out(oref.size());
    srt_paged_attn_args c = {n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks, dev_in(q), dev_in(kc),
                             dev_in(vc), dev_ints(table), dev_ints(q_start), dev_ints(n_q), dev_ints(ctx_len), dout,
                             dt, ks.empty() ? nullptr : dev_in(ks), vs.empty() ? nullptr : dev_in(vs)};
    check_status(srt_op_paged_attention(&g_cu, &c, nullptr), "cuda paged_attention");
    check_out("out", dout, oref, ATTN_ATOL, ATTN_RTOL, row_atol);
    /* the same with the forward's host plan (no device read), the launch sized for the block tables' capacity */
    TEST_CHECK(g_cu_lm->paged_attention_planned != nullptr, "cuda has paged_attention_planned");
    if (g_cu_lm->paged_attention_planned) {
        srt_attn_host_plan plan = {n_q.data(), ctx_len.data(), max_blocks * block_size};
        c.out = dout = dev_out(oref.size());
        check_status(srt_op_paged_attention(&g_cu, &c, &plan), "cuda paged_attention_planned");
        check_out("out (planned)", dout, oref, ATTN_ATOL, ATTN_RTOL, row_atol);
    }
    end_case();
}

/* rope_store_attention (decode batches): rope(q), rope(k), kv_store and paged_attention as one fused launch.
 * The new token's cache slot starts NaN (reverse order runs the last split before split 0 stores it: a block
 * reading the cache there instead of its registers fails). Checked against cpu-ref (which runs the four ops) within
 * the attention tolerance, and bit for bit against the same four ops on the cuda backend: output and both caches.
 * n_new > 1: each sequence appends up to n_new tokens (prefill, chunked prefill): the dispatch runs rope_kv_store
 * (lm_rope_kv_store.cuh: one launch for rope, rope and the store) and the attention: two launches (f32 / bf16). */
static std::vector<float> download_floats(const void *dev, size_t n) {
    std::vector<float> h(n);
    check_status(g_cu.ops->sync(g_cu.ctx), "sync");
    g_cu.ops->download(g_cu.ctx, h.data(), dev, n * sizeof(float));
    return h;
}

static void rope_store_attention_case(srt_dtype dt, int n_heads, int n_kv_heads, int head_dim, int block_size,
                                      const std::vector<int> &ctxs, uint64_t seed, int n_new = 1) {
    set_case("rope_store_attention %s (heads %d/%d, head_dim %d, block %d, %zu seqs, %d new)", srt_dtype_name(dt),
             n_heads, n_kv_heads, head_dim, block_size, ctxs.size(), n_new);
    int n_seqs = (int)ctxs.size(), kv_dim = n_kv_heads * head_dim, max_blocks = 0, n_tokens = 0;
    for (int c : ctxs) max_blocks = std::max(max_blocks, (c + block_size - 1) / block_size);
    max_blocks += 1;
    int n_blocks = n_seqs * max_blocks + 3;
    std::vector<int32_t> perm((size_t)n_blocks);
    for (int i = 0; i < n_blocks; i++) perm[(size_t)i] = i;
    uint64_t rng = seed;
    for (int i = n_blocks - 1; i > 0; i--) std::swap(perm[(size_t)i], perm[test_rng_next(&rng) % (uint64_t)(i + 1)]);
    std::vector<int32_t> table((size_t)n_seqs * max_blocks), q_start, n_q, ctx_len, pos, slot;
    std::vector<float> kc((size_t)n_blocks * block_size * kv_dim, NAN), vc = kc;
    std::vector<float> kvals = rnd(kc.size(), seed + 1, -1.5f, 1.5f), vvals = rnd(vc.size(), seed + 2, -1, 1);
    for (int s = 0, next = 0; s < n_seqs; s++) {
        int ctx = ctxs[(size_t)s], nq = std::min(ctx, n_new);   /* ctx 0: a sequence without a query */
        q_start.push_back(n_tokens);
        n_q.push_back(nq);
        ctx_len.push_back(ctx);
        for (int b = 0; b < max_blocks; b++) table[(size_t)s * max_blocks + b] = perm[(size_t)next++];
        /* the new tokens' slots stay NaN until the op stores them */
        test_paged_fill(&table[(size_t)s * max_blocks], block_size, ctx, nq, kv_dim, kvals, vvals, kc, vc, pos, slot);
        n_tokens += nq;
    }
    std::vector<float> ks, vs;               /* fp8 row scales (the new tokens' NaN until stored) */
    if (dt == SRT_F8E4M3) {
        kc = cache_fp8(kc, kv_dim, head_dim, block_size, ks);
        vc = cache_fp8(vc, kv_dim, head_dim, block_size, vs);
    } else {
        kc = cache_bytes(kc, dt);
        vc = cache_bytes(vc, dt);
    }
    std::vector<float> q = rnd((size_t)n_tokens * n_heads * head_dim, seed + 3, -1.5f, 1.5f);
    std::vector<float> k = rnd((size_t)n_tokens * kv_dim, seed + 4, -1.5f, 1.5f), v = rnd(k.size(), seed + 5, -1, 1);
    std::vector<float> inv_freq((size_t)head_dim / 2);
    for (int i = 0; i < head_dim / 2; i++) inv_freq[(size_t)i] = (float)pow(500000.0, -2.0 * i / head_dim);
    srt_attn_host_plan plan = {n_q.data(), ctx_len.data(), max_blocks * block_size};

    std::vector<float> qr = q, kr = k, kcr = kc, vcr = vc, oref(q.size()), ksr = ks, vsr = vs;
    const bool fp8 = dt == SRT_F8E4M3;
    srt_rope_store_attn_args r = {{n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks, qr.data(), kcr.data(),
                                   vcr.data(), table.data(), q_start.data(), n_q.data(), ctx_len.data(), oref.data(), dt,
                                   fp8 ? ksr.data() : nullptr, fp8 ? vsr.data() : nullptr},
                                  n_tokens, kr.data(), v.data(), pos.data(), slot.data(), inv_freq.data()};
    check_status(srt_op_rope_store_attention(&g_ref, &r, &plan), "cpu-ref rope_store_attention");

    TEST_CHECK(g_cu_lm->rope_store_attention != nullptr, "cuda has rope_store_attention");
    std::vector<float> out[2], kout[2], vout[2], ksout[2], vsout[2], qout[2], krot[2];
    unsigned long long launches[2] = {0, 0};
    for (int fused = 0; fused < 2; fused++) {   /* the four ops on cuda, then the fused op */
        float *dq = dev_in(q), *dk = dev_in(k), *dkc = dev_in(kc), *dvc = dev_in(vc), *dout = dev_out(q.size());
        float *dks = fp8 ? dev_in(ks) : nullptr, *dvs = fp8 ? dev_in(vs) : nullptr;
        srt_rope_store_attn_args c = {{n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks, dq, dkc, dvc,
                                       dev_ints(table), dev_ints(q_start), dev_ints(n_q), dev_ints(ctx_len), dout, dt,
                                       dks, dvs},
                                      n_tokens, dk, dev_in(v), dev_ints(pos), dev_ints(slot), dev_in(inv_freq)};
        const unsigned long long launches_before = cudasim_launch_count();
        if (fused) {
            check_status(srt_op_rope_store_attention(&g_cu, &c, &plan), "cuda rope_store_attention");
        } else {
            srt_rope_args rq = {n_tokens, n_heads, head_dim, c.pos, c.inv_freq, dq};
            srt_rope_args rk = {n_tokens, n_kv_heads, head_dim, c.pos, c.inv_freq, dk};
            srt_kv_store_args st = {n_tokens, kv_dim, dk, c.v, c.slot, dkc, dvc, dt, head_dim, block_size, dks, dvs};
            check_status(srt_op_rope(&g_cu, &rq), "cuda rope q");
            check_status(srt_op_rope(&g_cu, &rk), "cuda rope k");
            check_status(srt_op_kv_store(&g_cu, &st), "cuda kv_store");
            check_status(srt_op_paged_attention(&g_cu, &c.attn, &plan), "cuda paged_attention");
        }
        launches[fused] = cudasim_launch_count() - launches_before;
        out[fused] = download_floats(dout, q.size() + TAIL);
        kout[fused] = download_floats(dkc, kc.size());
        qout[fused] = download_floats(dq, q.size());
        krot[fused] = download_floats(dk, k.size());
        vout[fused] = download_floats(dvc, vc.size());
        if (fp8) { ksout[fused] = download_floats(dks, ks.size()); vsout[fused] = download_floats(dvs, vs.size()); }
    }
    TEST_CHECK(!fp8 || (!memcmp(ksout[0].data(), ksout[1].data(), ks.size() * sizeof(float)) &&
                        !memcmp(vsout[0].data(), vsout[1].data(), vs.size() * sizeof(float))),
               "%s [%s order]: fused fp8 row scales differ from rope + kv_store on cuda", g_case,
               cudasim_order_name(cudasim_get_order()));
    size_t worst = 0;
    double maxerr = 0, excess = test_compare(out[1].data(), oref.data(), oref.size(), fp8 ? ATTN_FP8_ROPE_ATOL : ATTN_ATOL,
                                             fp8 ? ATTN_FP8_ROPE_RTOL : ATTN_RTOL, &worst, &maxerr);
    if (fp8) printf("%s [%s order]: max |out - cpu-ref| %.3g\n", g_case, cudasim_order_name(cudasim_get_order()), maxerr);
    TEST_CHECK(excess <= 0, "%s out [%s order]: element %zu is %.9g, reference %.9g (max abs err %.3g)", g_case,
               cudasim_order_name(cudasim_get_order()), worst, out[1][worst], oref[worst], maxerr);
    TEST_CHECK(memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0,
               "%s [%s order]: fused output differs from rope + kv_store + paged_attention on cuda", g_case,
               cudasim_order_name(cudasim_get_order()));
    TEST_CHECK(memcmp(kout[0].data(), kout[1].data(), kc.size() * sizeof(float)) == 0 &&
               memcmp(vout[0].data(), vout[1].data(), vc.size() * sizeof(float)) == 0,
               "%s [%s order]: fused KV cache differs from rope + kv_store on cuda", g_case,
               cudasim_order_name(cudasim_get_order()));
    /* fp8 (decode too, whose fused prologue keeps no row scales): rope + rope + the store in one launch
     * (lm_rope_kv_store_fp8.cuh), then attention */
    TEST_CHECK(!fp8 || launches[1] + 2 == launches[0], "%s: fp8 rope_store_attention took %llu launches, the four "
               "ops %llu (rope, rope and the fp8 store should be one)", g_case, launches[1], launches[0]);
    if (n_new > 1) {   /* the rotated q and k the op leaves behind (the decode prologue keeps them in registers) */
        TEST_CHECK(launches[1] + 2 == launches[0], "%s: rope_store_attention took %llu launches, the four ops "
                   "%llu (rope, rope and the store should be one)", g_case, launches[1], launches[0]);
        TEST_CHECK(memcmp(qout[0].data(), qout[1].data(), q.size() * sizeof(float)) == 0 &&
                   memcmp(krot[0].data(), krot[1].data(), k.size() * sizeof(float)) == 0,
                   "%s [%s order]: fused rotated q / k differ from rope + rope on cuda", g_case,
                   cudasim_order_name(cudasim_get_order()));
        TEST_CHECK(test_compare(qout[1].data(), qr.data(), q.size(), ROPE_ATOL, ROPE_RTOL, nullptr, nullptr) <= 0 &&
                   test_compare(krot[1].data(), kr.data(), k.size(), ROPE_ATOL, ROPE_RTOL, nullptr, nullptr) <= 0,
                   "%s [%s order]: rotated q / k differ from cpu-ref", g_case, cudasim_order_name(cudasim_get_order()));
    }
    end_case();
}

static void attention_bad_args() {
    set_case("paged_attention with more queries than cached tokens");
    std::vector<int32_t> table = {0}, q_start = {0}, n_q = {3}, ctx_len = {2};
    std::vector<float> q(3 * 16, 0.5f), kc(8 * 16, 0.5f);
    float *dout = dev_out(q.size());
    srt_paged_attn_args c = {1, 1, 1, 16, 8, 1, dev_in(q), dev_in(kc), dev_in(kc), dev_ints(table), dev_ints(q_start),
                             dev_ints(n_q), dev_ints(ctx_len), dout, SRT_F32, nullptr, nullptr};
    srt_status st = srt_op_paged_attention(&g_cu, &c, nullptr);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG, "%s: got %s (%s), want SRT_ERR_INVALID_ARG", g_case, srt_status_name(st),
               srt_last_error());
    end_case();
}

/* rope_kv_store called directly (head_dim D) with a padding row (slot -1: rotated, not stored; its cache row keeps
 * its values) equals rope + rope + kv_store on cuda bit for bit: q, k and both caches. */
static void rope_kv_store_padding_case(srt_dtype dt, int D) {
    const int n_tokens = 7, nh = 3, nkv = 1, kv_dim = nkv * D, n_slots = 9;
    const bool fp8 = dt == SRT_F8E4M3;
    set_case("rope_kv_store %s padding row (tokens %d, heads %d/%d, head_dim %d)", srt_dtype_name(dt), n_tokens, nh,
             nkv, D);
    std::vector<float> q = rnd((size_t)n_tokens * nh * D, 9980, -2, 2), k = rnd((size_t)n_tokens * kv_dim, 9981, -2, 2);
    std::vector<float> v = rnd(k.size(), 9982, -1, 1), ks, vs;   /* fp8: row scales, (1 block, nkv, 16) */
    std::vector<float> kc = rnd((size_t)n_slots * kv_dim, 9983, -1, 1), vc;
    if (fp8) {
        vc = cache_fp8(kc, kv_dim, D, 16, vs);
        kc = cache_fp8(kc, kv_dim, D, 16, ks);
    } else {
        kc = cache_bytes(kc, dt);
        vc = kc;
    }
    std::vector<float> inv_freq((size_t)D / 2);
    for (int i = 0; i < D / 2; i++) inv_freq[(size_t)i] = (float)pow(500000.0, -2.0 * i / D);
    std::vector<int32_t> pos = {0, 5, 6, 7, 70000, 9, 10}, slot = {3, -1, 0, 8, 1, 2, 6};
    std::vector<float> got[2][6];
    unsigned long long launches[2] = {0, 0};
    for (int fused = 0; fused < 2; fused++) {
        float *dq = dev_in(q), *dk = dev_in(k), *dkc = dev_in(kc), *dvc = dev_in(vc);
        float *dks = fp8 ? dev_in(ks) : nullptr, *dvs = fp8 ? dev_in(vs) : nullptr;
        srt_rope_store_attn_args a = {{1, nh, nkv, D, 16, 1, dq, dkc, dvc, nullptr, nullptr, nullptr, nullptr, nullptr,
                                       dt, dks, dvs},
                                      n_tokens, dk, dev_in(v), dev_ints(pos), dev_ints(slot), dev_in(inv_freq)};
        const unsigned long long launches_before = cudasim_launch_count();
        if (fused) {
            check_status(g_cu_lm->rope_kv_store(g_cu.ctx, &a), "cuda rope_kv_store");
        } else {
            srt_rope_args rq = {n_tokens, nh, D, a.pos, a.inv_freq, dq}, rk = {n_tokens, nkv, D, a.pos, a.inv_freq, dk};
            srt_kv_store_args st = {n_tokens, kv_dim, dk, a.v, a.slot, dkc, dvc, dt, D, 16, dks, dvs};
            check_status(srt_op_rope(&g_cu, &rq), "cuda rope q");
            check_status(srt_op_rope(&g_cu, &rk), "cuda rope k");
            check_status(srt_op_kv_store(&g_cu, &st), "cuda kv_store");
        }
        launches[fused] = cudasim_launch_count() - launches_before;
        got[fused][0] = download_floats(dq, q.size());
        got[fused][1] = download_floats(dk, k.size());
        got[fused][2] = download_floats(dkc, kc.size());
        got[fused][3] = download_floats(dvc, vc.size());
        if (fp8) { got[fused][4] = download_floats(dks, ks.size()); got[fused][5] = download_floats(dvs, vs.size()); }
    }
    for (int i = 0; i < 6; i++)
        TEST_CHECK(!memcmp(got[0][i].data(), got[1][i].data(), got[0][i].size() * sizeof(float)),
                   "%s [%s order]: output %d (q, k, k cache, v cache, k scales, v scales) differs from rope + rope + "
                   "kv_store on cuda", g_case, cudasim_order_name(cudasim_get_order()), i);
    TEST_CHECK(launches[1] == 1 && launches[0] == 3, "%s: rope_kv_store took %llu launches (1), the three ops %llu",
               g_case, launches[1], launches[0]);
    end_case();
}

static void attention_cases(srt_dtype dt) {
    /* decode only: contexts 1, 7, 129 (two splits), 1025 (nine splits); GQA 2, head_dim 64, block 16 */
    attention_case(dt, "decode", 4, 2, 64, 16, {{1, 1}, {1, 7}, {1, 129}, {1, 1025}}, 9100);
    /* decode, GQA 4, head_dim 16, block 7, one split boundary exactly (ctx 128, 256) */
    attention_case(dt, "decode", 4, 1, 16, 7, {{1, 128}, {1, 256}, {1, 33}}, 9200);
    /* whole prefill: prompts of 1, 7, 33 tokens (a one-token prompt is a decode), GQA 4, head_dim 16, block 7 */
    attention_case(dt, "prefill", 4, 1, 16, 7, {{7, 7}, {33, 33}, {1, 1}}, 9300);
    /* ragged mix: chunked prefill (33 new at 70, 5 new at 12), decode at 1025, a sequence with no queries; GQA 1 */
    attention_case(dt, "mixed", 2, 2, 64, 16, {{33, 70}, {1, 1025}, {0, 9}, {5, 12}}, 9400);
    /* prefill of 65 queries (three query tiles) at context 100, GQA 2, head_dim 128, block 16 */
    attention_case(dt, "prefill tiles", 2, 1, 128, 16, {{65, 100}, {1, 40}}, 9500);
    /* a 1025-token prompt in one prefill (33 query tiles, 33 key tiles), GQA 2, head_dim 16, block 16 */
    attention_case(dt, "long prefill", 2, 1, 16, 16, {{1025, 1025}}, 9600);
    /* GQA 3 (Orpheus-3B: 24/8 heads) takes the 3-head kernel; GQA 6 the 8-head kernel with a partial chunk; GQA 16
     * two 8-head chunks; head_dim 20 (not a multiple of 8: element loads), block 5 */
    attention_case(dt, "decode odd groups", 6, 2, 128, 16, {{1, 1}, {1, 33}, {1, 1025}}, 9700);
    attention_case(dt, "decode group 6", 12, 2, 64, 16, {{1, 1}, {1, 7}, {1, 33}, {1, 1025}}, 9750);
    attention_case(dt, "decode wide group", 16, 1, 20, 5, {{1, 7}, {1, 300}}, 9800);
    if (dt == SRT_F32) attention_bad_args();
    /* fused rope + KV store + decode attention: contexts 1 (the new token alone), 7, 129 (splits), 1025, and a
     * sequence without a query; GQA 3 (odd group) and 1; head_dim 128 and 20 (no 16-byte loads) */
    rope_store_attention_case(dt, 6, 2, 128, 16, {1, 7, 0, 129, 1025}, 9900);
    rope_store_attention_case(dt, 2, 2, 20, 5, {33, 1, 300}, 9950);
    /* prefill and chunked prefill (up to 9 new tokens; contexts 1, 9, 40 and none): rope + store in one launch;
     * GQA 3 and 1, head_dim 20 and 40 (the FMA attention: the f32 tolerance holds for every cache dtype) */
    rope_store_attention_case(dt, 6, 2, 40, 16, {9, 1, 0, 40}, 9960, 9);
    rope_store_attention_case(dt, 2, 2, 20, 5, {33, 7}, 9970, 33);
    rope_kv_store_padding_case(dt, 16);   /* two pairs per thread (8-byte accesses); fp8: a warp per row */
    rope_kv_store_padding_case(dt, 18);   /* head_dim % 4 != 0: one pair per thread */
    if (dt == SRT_F8E4M3) {
        rope_kv_store_padding_case(dt, 128);   /* Orpheus' head_dim: two pairs per lane */
        rope_kv_store_padding_case(dt, 256);   /* the largest fp8 head: four pairs per lane */
    }
}

/* ---------------------------------------------------------------- swiglu, embedding, add_bias, gather_rows */
static void swiglu_case(int64_t n, int alias, uint64_t seed) {
    set_case("swiglu n %lld alias %d", (long long)n, alias);
    std::vector<float> g = rnd((size_t)n, seed, -8, 8), u = rnd((size_t)n, seed + 1, -2, 2), yref((size_t)n);
    srt_swiglu_args r = {n, g.data(), u.data(), yref.data()};
    check_status(srt_op_swiglu(&g_ref, &r), "cpu-ref swiglu");
    float *dg = alias == 1 ? dev_out((size_t)n, g) : dev_in(g), *du = alias == 2 ? dev_out((size_t)n, u) : dev_in(u);
    float *dy = alias == 1 ? dg : alias == 2 ? du : dev_out((size_t)n);
    srt_swiglu_args c = {n, dg, du, dy};
    check_status(srt_op_swiglu(&g_cu, &c), "cuda swiglu");
    check_out("out", dy, yref, SWIGLU_ATOL, SWIGLU_RTOL);
    end_case();
}

static void embedding_case(srt_dtype dtype, int n_tokens, int dim, int n_rows, uint64_t seed) {
    set_case("embedding %s tokens %d dim %d rows %d", srt_dtype_name(dtype), n_tokens, dim, n_rows);
    std::vector<float> table = rnd((size_t)n_rows * dim, seed, -2, 2);
    table[0] = 1e-6f;   /* an f16 subnormal */
    std::vector<uint16_t> half(table.size());
    for (size_t i = 0; i < table.size(); i++)
        half[i] = dtype == SRT_BF16 ? srt_f32_to_bf16(table[i]) : srt_f32_to_f16(table[i]);
    const void *host_table = dtype == SRT_F32 ? (const void *)table.data() : (const void *)half.data();
    size_t table_bytes = table.size() * srt_dtype_size(dtype);
    std::vector<int32_t> ids((size_t)n_tokens);
    for (int t = 0; t < n_tokens; t++) ids[(size_t)t] = (t * 7 + 3) % n_rows;
    ids[0] = 0;
    std::vector<float> yref((size_t)n_tokens * dim);
    srt_embedding_args r = {n_tokens, dim, n_rows, dtype, host_table, ids.data(), yref.data()};
    check_status(srt_op_embedding(&g_ref, &r), "cpu-ref embedding");
    float *dy = dev_out(yref.size());
    int32_t *dids = dev_ints(ids);
    srt_embedding_args c = {n_tokens, dim, n_rows, dtype, dev_of(host_table, table_bytes, 0), dids, dy};
    check_status(srt_op_embedding(&g_cu, &c), "cuda embedding");
    check_out("y", dy, yref, 0, 0);   /* conversions are exact */
    /* an id past the table (and a later negative one): SRT_ERR_RANGE naming the first */
    std::vector<int32_t> bad = ids;
    bad[(size_t)(n_tokens - 1)] = n_rows;
    if (n_tokens > 2) bad[(size_t)n_tokens - 2] = -1;
    c.ids = dev_ints(bad);
    srt_status st = srt_op_embedding(&g_cu, &c);
    const char *msg = srt_last_error();
    char want[64];
    snprintf(want, sizeof want, "position %d ", n_tokens > 2 ? n_tokens - 2 : n_tokens - 1);
    TEST_CHECK(st == SRT_ERR_RANGE && strstr(msg, want), "%s with a bad id: %s (%s), want SRT_ERR_RANGE naming %s",
               g_case, srt_status_name(st), msg, want);
    end_case();
}

static void add_bias_gather_case(int rows, int cols, uint64_t seed) {
    set_case("add_bias rows %d cols %d", rows, cols);
    std::vector<float> x = rnd((size_t)rows * cols, seed, -1, 1), b = rnd((size_t)cols, seed + 1, -1, 1), xref = x;
    srt_add_bias_args r = {rows, cols, b.data(), xref.data()};
    check_status(srt_op_add_bias(&g_ref, &r), "cpu-ref add_bias");
    float *dx = dev_out(x.size(), x);
    srt_add_bias_args c = {rows, cols, dev_in(b), dx};
    check_status(srt_op_add_bias(&g_cu, &c), "cuda add_bias");
    check_out("x", dx, xref, ELEM_ATOL, ELEM_RTOL);
    end_case();

    set_case("gather_rows rows %d cols %d", rows, cols);
    std::vector<int32_t> idx;
    for (int i = rows - 1; i >= 0; i -= 2) idx.push_back(i);   /* last row first, every other row */
    idx.push_back(0);
    std::vector<float> yref(idx.size() * (size_t)cols);
    srt_gather_rows_args rg = {(int)idx.size(), cols, idx.data(), x.data(), yref.data()};
    check_status(srt_op_gather_rows(&g_ref, &rg), "cpu-ref gather_rows");
    float *dy = dev_out(yref.size());
    srt_gather_rows_args cg = {(int)idx.size(), cols, dev_ints(idx), dev_in(x), dy};
    check_status(srt_op_gather_rows(&g_cu, &cg), "cuda gather_rows");
    check_out("y", dy, yref, 0, 0);
    end_case();
}

static void all_cases() {
    rmsnorm_case(1, 1, false, 100);
    rmsnorm_case(7, 1025, false, 110);
    rmsnorm_case(33, 33, true, 120);
    rope_case(1, 1, 16, 200);
    rope_case(7, 3, 64, 210);
    rope_case(33, 2, 128, 220);
    kv_store_case(SRT_F32, 1, 16, 7, 300);
    kv_store_case(SRT_F32, 33, 64, 49, 310);
    kv_store_case(SRT_BF16, 33, 64, 49, 320);
    kv_store_case(SRT_BF16, 7, 33, 49, 330);
    kv_store_case(SRT_F8E4M3, 33, 64, 49, 340, 16, 8);   /* 4 KV heads, scales (7, 4, 8) */
    kv_store_case(SRT_F8E4M3, 7, 40, 49, 350, 20, 5);    /* head_dim 20 */
    kv_store_case(SRT_F8E4M3, 1, 128, 7, 360, 128, 16);  /* one row of Orpheus' head_dim */
    attention_cases(SRT_F32);
    attention_cases(SRT_BF16);
    attention_cases(SRT_F8E4M3);
    swiglu_case(1, 0, 400);
    swiglu_case(1025, 1, 410);
    swiglu_case(33, 2, 420);
    embedding_case(SRT_F32, 7, 33, 11, 500);
    embedding_case(SRT_F16, 33, 7, 40, 510);
    embedding_case(SRT_BF16, 1, 1025, 3, 520);
    add_bias_gather_case(7, 33, 600);
    add_bias_gather_case(1, 1025, 610);
}

int main(void) {
    srt_status st = test_cudasim_backends(&g_ref, &g_cu);
    if (st != SRT_OK) TEST_MAIN_END();
    g_ref_lm = g_ref.ops->lm;
    g_cu_lm = g_cu.ops->lm;
    TEST_CHECK(g_ref_lm && g_cu_lm, "lm op tables: cpu-ref %p cuda %p", (const void *)g_ref_lm, (const void *)g_cu_lm);
    if (!g_ref_lm || !g_cu_lm) TEST_MAIN_END();
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 4321);
        int failed_before = test_failed_count;
        all_cases();
        TEST_CHECK(cudasim_check_redzones() == 0, "%s order: out-of-bounds writes: %s", cudasim_order_name(order),
                   cudasim_last_error());
        TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        printf("%s order: %d failures, %llu launches and %llu simulated threads so far\n", cudasim_order_name(order),
               test_failed_count - failed_before, (unsigned long long)cudasim_launch_count(),
               (unsigned long long)cudasim_thread_count());
        cudasim_clear_error();
    }
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
