/* test_cudasim_local_attention.cpp: the SNAC LocalMHA core (cuda/local_attention.cuh) of the "cuda" backend in the
 * CUDA simulator (tests/cudasim), in forward, reverse and random thread order, against cpu-ref's local_attention:
 *  - precision tf32 and bf16: the tensor-core kernels (Q, K, V and P rounded to the mma format, f32 sums) within a
 *    tolerance derived per output row (tests/attn_bf16_tolerance.h, attn_tc_tol: u_qk = 2u + 2^-17 for q and k
 *    rounded plus the fast rotary's sin / cos, u_pv = 2u for v and p rounded; u = 2^-11 tf32, 2^-9 bf16). The
 *    bound on sum_d |q_d k_d| of the rotated rows uses the rotation-invariant pair norms (|q_j|, |q_j+D/2|), so the
 *    test needs no rotary of its own. Shapes: the 32 / 44 kHz models' window 32 x head_dim 64; window 33 (a second,
 *    one-key tile) at head_dim 16; window 70 (two query tiles, three key tiles) at head_dim 32; window 17 at
 *    head_dim 128; head_dim 8 (no tensor-core kernel: the FMA kernel).
 *  - precision fp32: the FMA kernel (the golden path), f32 tolerance, forward order.
 *  - batch invariance: in every mode an item's outputs alone equal its outputs in the batch, bit for bit.
 * Outputs are NaN-poisoned and followed by sentinels; the simulator must report no rule violation. */
extern "C" {
#include "backend.h"
}
#include "cudasim_api.h"
#include "tests/attn_bf16_tolerance.h"
#include "tests/testutil.h"
#include "tests/cudasim_dev.h"
#include <cmath>
#include <cstring>
#include <vector>

static srt_backend g_ref, g_cu;
static const float SENTINEL = -7777.25f;
static const size_t TAIL = 37;
static std::vector<void *> g_dev;

static float *dev_of(const std::vector<float> &h, size_t tail) {
    return (float *)test_dev_of(&g_cu, g_dev, h.data(), h.size() * sizeof(float), tail, SENTINEL, "local attention");
}

/* outputs of the cuda backend for qkv (batch, len, 3 H D), NaN-poisoned before, sentinels checked after */
static std::vector<float> run_cuda(const char *name, int B, int len, int H, int D, int W, const std::vector<float> &qkv) {
    const size_t n_out = (size_t)B * len * H * D;
    std::vector<float> poison(n_out, NAN), got(n_out + TAIL);
    float *dout = dev_of(poison, TAIL);
    srt_local_attn_args c = {B, len, H, D, W, dev_of(qkv, 0), dout};
    srt_status st = srt_op_local_attention(&g_cu, &c);
    TEST_CHECK(st == SRT_OK, "%s: cuda: %s", name, srt_last_error());
    g_cu.ops->download(g_cu.ctx, got.data(), dout, got.size() * sizeof(float));
    int clobbered = 0;
    for (size_t i = 0; i < TAIL; i++) clobbered += got[n_out + i] != SENTINEL;
    TEST_CHECK(clobbered == 0, "%s: %d sentinels after the output overwritten", name, clobbered);
    got.resize(n_out);
    test_dev_free(&g_cu, g_dev);
    return got;
}

/* u: the mma input format's unit roundoff, 0 for precision fp32 (FMA kernel, f32 tolerance) */
static void attn_case(const char *mode, double u, int B, int windows, int H, int D, int W, uint64_t seed) {
    char name[160];
    snprintf(name, sizeof name, "local attention %s batch %d windows %d heads %d head_dim %d window %d", mode, B,
             windows, H, D, W);
    const int len = windows * W, C = H * D;
    std::vector<float> qkv((size_t)B * len * 3 * C), ref((size_t)B * len * C);
    test_fill_uniform(qkv.data(), qkv.size(), seed, -2.0f, 2.0f);
    srt_local_attn_args r = {B, len, H, D, W, qkv.data(), ref.data()};
    TEST_CHECK(srt_op_local_attention(&g_ref, &r) == SRT_OK, "%s: cpu-ref: %s", name, srt_last_error());
    std::vector<float> got = run_cuda(name, B, len, H, D, W, qkv);
    /* pair norms: |rot(x)_j|, |rot(x)_j+D/2| <= |(x_j, x_j+D/2)|, so sum_d |q_d k_d| <= sum_j |q pair| |k pair| */
    auto pairs = [&](const float *x) {
        std::vector<float> p((size_t)D);
        for (int j = 0; j < D / 2; j++)
            p[(size_t)j] = p[(size_t)j + D / 2] = (float)(hypot(x[j], x[j + D / 2]) / sqrt(2.0));
        return p;
    };
    size_t bad = 0, worst = 0;
    double worst_excess = -INFINITY, max_err = 0.0, max_tol = 0.0;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < len; n++)
            for (int h = 0; h < H; h++) {
                const float *row = qkv.data() + ((size_t)b * len + n) * 3 * C;
                double atol = 1e-4;                              /* fp32: the f32 tolerance of the FMA kernel */
                if (u > 0) {
                    const int w0 = n / W * W;
                    std::vector<float> q = pairs(row + h * D);
                    std::vector<std::vector<float>> k((size_t)W);
                    for (int j = 0; j < W; j++) k[(size_t)j] = pairs(row + ((size_t)(w0 + j - n) * 3 + 1) * C + h * D);
                    auto key_row = [&](int j) { return k[(size_t)j].data(); };
                    auto val_row = [&](int j) { return row + ((size_t)(w0 + j - n) * 3 + 2) * C + h * D; };
                    atol = attn_tc_tol(q.data(), D, W, key_row, val_row, 2 * u + ldexp(1.0, -17), 2 * u);
                }
                for (int d = 0; d < D; d++) {
                    const size_t e = (((size_t)b * len + n) * H + h) * D + d;
                    double err = std::isfinite(got[e]) ? fabs((double)got[e] - ref[e]) : INFINITY;
                    const double excess = err - (atol + ATTN_BF16_TC_RTOL * fabs((double)ref[e]));
                    if (excess > 0) bad++;
                    if (excess > worst_excess) { worst_excess = excess; worst = e; }
                    max_err = fmax(max_err, err);
                    max_tol = fmax(max_tol, atol);
                }
            }
    TEST_CHECK(bad == 0, "%s [%s order]: %zu elements out of tolerance, worst %zu: %.9g, reference %.9g", name,
               cudasim_order_name(cudasim_get_order()), bad, worst, got[worst], ref[worst]);
    if (B > 1) {   /* batch invariance: the last item alone */
        std::vector<float> one(qkv.end() - (ptrdiff_t)len * 3 * C, qkv.end());
        std::vector<float> alone = run_cuda(name, 1, len, H, D, W, one);
        TEST_CHECK(!memcmp(alone.data(), got.data() + (size_t)(B - 1) * len * C, alone.size() * sizeof(float)),
                   "%s: the last item alone differs from the batch's", name);
    }
    if (cudasim_get_order() == CUDASIM_FORWARD)
        printf("%s: max error %.3g (largest derived tolerance %.3g)\n", name, max_err, max_tol);
}

static void all_cases(const char *mode, double u) {
    attn_case(mode, u, 2, 2, 2, 64, 32, 100);    /* the 32 / 44 kHz models' shape */
    attn_case(mode, u, 1, 2, 3, 16, 33, 200);    /* a second key tile of one key */
    attn_case(mode, u, 2, 1, 1, 32, 70, 300);    /* two query tiles, three key tiles */
    attn_case(mode, u, 1, 1, 2, 128, 17, 400);
    attn_case(mode, u, 2, 2, 2, 8, 7, 500);      /* head_dim 8: the FMA kernel in every mode */
}

int main(void) {
    srt_status st = test_cudasim_backends(&g_ref, &g_cu);
    if (st != SRT_OK) TEST_MAIN_END();
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    const struct { const char *name; double u; } modes[2] = {{"tf32", ldexp(1.0, -11)}, {"bf16", ldexp(1.0, -9)}};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 777);
        int failed_before = test_failed_count;
        for (const auto &m : modes) {
            TEST_CHECK(srt_backend_set_precision(&g_cu, m.name) == SRT_OK, "precision %s: %s", m.name, srt_last_error());
            all_cases(m.name, m.u);
        }
        if (order == CUDASIM_FORWARD) {   /* the FMA kernel, unchanged: one order */
            TEST_CHECK(srt_backend_set_precision(&g_cu, "fp32") == SRT_OK, "precision fp32: %s", srt_last_error());
            all_cases("fp32", 0.0);
        }
        test_cudasim_order_end(order, failed_before);
    }
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
