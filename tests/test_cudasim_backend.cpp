/* test_cudasim_backend.cpp: every codec op of the "cuda" backend, run in the CUDA simulator (tests/cudasim),
 * against "cpu-ref" on random inputs of odd shapes (1, 7, 33, 1025), in forward, reverse and random thread order.
 * Covers the SNAC conv shapes: dense k7 p3; depthwise k7 dilation 1/3/9; strided k=2s, s in {2,3,4,8},
 * p=ceil(s/2); transposed likewise with output_padding s%2; grouped (depthwise down/up-sampling); Snake on the
 * input, in_valid with NaN poison in the masked tail, residual (separate and aliasing y); the implicit-GEMM dense
 * convs over several tiles, and their batch invariance (an item's outputs bit-identical alone and in a batch).
 * Every device output is NaN-poisoned before the op and followed by sentinels that must survive; NaN/Inf in an
 * output whose reference is finite fails. Tolerances (atol + rtol*|ref|) are written beside each check. */
extern "C" {
#include "backend.h"
#include "weights/weights.h"
#include "cuda/kernels.h"   /* srt_cuda_igemm_set_fold_blocks */
}
#include "cuda/backend_cuda.h"   /* the context fields and SRT_CUDA_SMALL_M_ROWS_DEFAULT (C++-safe outside) */
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/cudasim_dev.h"   /* test_dev_of, test_dev_free */
#include <vector>

static srt_backend g_ref, g_cu;
static const float SENTINEL = -7777.25f;
static const size_t TAIL = 37;                 /* sentinel floats after every output */
static std::vector<void *> g_dev;              /* device buffers of the current case */
static const char *g_case = "";

/* fp32 accumulation over at most ~7200 terms of magnitude ~1/sqrt(fan_in) against a double reference. */
static const double CONV_ATOL = 3e-5, CONV_RTOL = 1e-4;
/* Tensor-core modes of the dense convs (inputs rounded once: tf32 2^-11, bf16 2^-8 relative; outputs O(1), a few
 * hundred terms): about 10 x sqrt(terms) x the rounding x |w x| as bound */
static const double TF32_ATOL = 2e-3, TF32_RTOL = 2e-3;
static const double BF16_ATOL = 1.5e-2, BF16_RTOL = 1e-2;
static double g_conv_atol = CONV_ATOL, g_conv_rtol = CONV_RTOL;   /* of the mode under test */
static const double ELEM_ATOL = 1e-6, ELEM_RTOL = 1e-6;     /* elementwise: one or two roundings */
static const double RED_ATOL = 2e-5, RED_RTOL = 1e-4;       /* reductions (layernorm, gemm, attention) */

static std::vector<float> rnd(size_t n, uint64_t seed, float lo, float hi) {
    std::vector<float> v(n);
    test_fill_uniform(v.data(), n, seed, lo, hi);
    return v;
}

static void *dev_of(const void *host, size_t bytes, size_t tail_floats) {
    return test_dev_of(&g_cu, g_dev, host, bytes, tail_floats, SENTINEL, g_case);
}
static float *dev_in(const std::vector<float> &h) { return (float *)dev_of(h.data(), h.size() * sizeof(float), 0); }
/* An output buffer: `init` (or NaN poison when empty) followed by sentinels. */
static float *dev_out(size_t n, const std::vector<float> &init = {}) {
    std::vector<float> h = init.empty() ? std::vector<float>(n, NAN) : init;
    return (float *)dev_of(h.data(), n * sizeof(float), TAIL);
}

static void end_case() {
    test_dev_free(&g_cu, g_dev);
}

/* Download n floats + sentinels, compare with ref (atol + rtol*|ref|), check the sentinels. */
static void check_out(const char *what, const float *dev, const std::vector<float> &ref, double atol, double rtol) {
    std::vector<float> got(ref.size() + TAIL);
    srt_status st = g_cu.ops->sync(g_cu.ctx);
    TEST_CHECK(st == SRT_OK, "%s %s: sync: %s", g_case, what, srt_last_error());
    g_cu.ops->download(g_cu.ctx, got.data(), dev, got.size() * sizeof(float));
    size_t worst = 0;
    double maxerr = 0;
    double excess = test_compare(got.data(), ref.data(), ref.size(), atol, rtol, &worst, &maxerr);
    TEST_CHECK(excess <= 0, "%s %s [%s order]: element %zu is %.9g, reference %.9g (max abs err %.3g, atol %g rtol %g)",
               g_case, what, cudasim_order_name(cudasim_get_order()), worst, ref.empty() ? 0.0 : got[worst],
               ref.empty() ? 0.0 : ref[worst], maxerr, atol, rtol);
    int clobbered = 0;
    for (size_t i = 0; i < TAIL; i++) clobbered += got[ref.size() + i] != SENTINEL;
    TEST_CHECK(clobbered == 0, "%s %s: %d sentinels after the output were overwritten", g_case, what, clobbered);
}

static void check_status(srt_status st, const char *what) {
    TEST_CHECK(st == SRT_OK, "%s %s: %s: %s", g_case, what, srt_status_name(st), srt_last_error());
}

/* ---------------------------------------------------------------- conv1d */
enum { RES_NONE = 0, RES_SEPARATE, RES_ALIAS };

static void conv1d_case(const char *name, int B, int Cin, int Cout, int L, int K, int S, int D, int P, int G,
                        bool use_bias, bool use_alpha, bool use_valid, int res, uint64_t seed) {
    g_case = name;
    int out_len = (L + 2 * P - D * (K - 1) - 1) / S + 1;
    int cin_g = Cin / G;
    std::vector<int> valid((size_t)B);
    for (int b = 0; b < B; b++) valid[(size_t)b] = b == 0 ? L + 3 : (L * (b + 1)) / (B + 2);   /* > L is clamped */
    std::vector<float> x = rnd((size_t)B * Cin * L, seed, -1, 1);
    if (use_valid)   /* NaN poison where the mask must hide the input */
        for (int b = 0; b < B; b++)
            for (int c = 0; c < Cin; c++)
                for (int t = valid[(size_t)b]; t < L; t++) x[((size_t)b * Cin + c) * L + t] = NAN;
    float wscale = 1.0f / sqrtf((float)(cin_g * K));
    std::vector<float> w = rnd((size_t)Cout * cin_g * K, seed + 1, -wscale, wscale);
    std::vector<float> bias = rnd((size_t)Cout, seed + 2, -0.5f, 0.5f), alpha = rnd((size_t)Cin, seed + 3, 0.2f, 2.0f);
    std::vector<float> resid = rnd((size_t)B * Cout * out_len, seed + 4, -1, 1);

    srt_conv1d_args a = {};
    a.batch = B; a.in_ch = Cin; a.out_ch = Cout; a.in_len = L; a.out_len = out_len;
    a.kernel = K; a.stride = S; a.dilation = D; a.padding = P; a.groups = G;
    a.in_valid = use_valid ? valid.data() : nullptr;
    std::vector<float> yref = res == RES_ALIAS ? resid : std::vector<float>(resid.size());
    srt_conv1d_args r = a;
    r.x = x.data(); r.w = w.data(); r.bias = use_bias ? bias.data() : nullptr; r.in_alpha = use_alpha ? alpha.data() : nullptr;
    r.residual = res == RES_SEPARATE ? resid.data() : res == RES_ALIAS ? yref.data() : nullptr;
    r.y = yref.data();
    check_status(srt_op_conv1d(&g_ref, &r), "cpu-ref conv1d");

    srt_conv1d_args c = a;
    c.x = dev_in(x); c.w = dev_in(w); c.bias = use_bias ? dev_in(bias) : nullptr;
    c.in_alpha = use_alpha ? dev_in(alpha) : nullptr;
    c.y = dev_out(resid.size(), res == RES_ALIAS ? resid : std::vector<float>());
    c.residual = res == RES_SEPARATE ? dev_in(resid) : res == RES_ALIAS ? c.y : nullptr;
    check_status(srt_op_conv1d(&g_cu, &c), "cuda conv1d");
    check_out("y", c.y, yref, g_conv_atol, g_conv_rtol);
    end_case();
}

/* kernel 2S, padding P (< 0: ceil(S/2), SNAC's), output_padding S % 2 */
static void convt1d_case(const char *name, int B, int Cin, int Cout, int L, int S, int G, bool use_bias, bool use_alpha,
                         bool use_valid, uint64_t seed, int P = -1) {
    g_case = name;
    int K = 2 * S, OP = S % 2;
    if (P < 0) P = (S + 1) / 2;
    int out_len = (L - 1) * S - 2 * P + K + OP;
    int cout_g = Cout / G;
    std::vector<int> valid((size_t)B);
    for (int b = 0; b < B; b++) valid[(size_t)b] = b == 0 ? L : (L * (b + 1)) / (B + 2);
    std::vector<float> x = rnd((size_t)B * Cin * L, seed, -1, 1);
    if (use_valid)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < Cin; c++)
                for (int t = valid[(size_t)b]; t < L; t++) x[((size_t)b * Cin + c) * L + t] = NAN;
    float wscale = 1.0f / sqrtf((float)(Cin / G * 2));
    std::vector<float> w = rnd((size_t)Cin * cout_g * K, seed + 1, -wscale, wscale);
    std::vector<float> bias = rnd((size_t)Cout, seed + 2, -0.5f, 0.5f), alpha = rnd((size_t)Cin, seed + 3, 0.2f, 2.0f);
    srt_convt1d_args a = {};
    a.batch = B; a.in_ch = Cin; a.out_ch = Cout; a.in_len = L; a.out_len = out_len;
    a.kernel = K; a.stride = S; a.padding = P; a.groups = G;
    a.in_valid = use_valid ? valid.data() : nullptr;
    std::vector<float> yref((size_t)B * Cout * out_len);
    srt_convt1d_args r = a;
    r.x = x.data(); r.w = w.data(); r.bias = use_bias ? bias.data() : nullptr; r.in_alpha = use_alpha ? alpha.data() : nullptr;
    r.y = yref.data();
    check_status(srt_op_conv_transpose1d(&g_ref, &r), "cpu-ref conv_transpose1d");
    srt_convt1d_args c = a;
    c.x = dev_in(x); c.w = dev_in(w); c.bias = use_bias ? dev_in(bias) : nullptr;
    c.in_alpha = use_alpha ? dev_in(alpha) : nullptr;
    c.y = dev_out(yref.size());
    check_status(srt_op_conv_transpose1d(&g_cu, &c), "cuda conv_transpose1d");
    check_out("y", c.y, yref, g_conv_atol, g_conv_rtol);
    end_case();
}

static void igemm_cases();
static void conv_cases() {
    char name[128];
    /* dense k7 p3 */
    conv1d_case("dense k7 7->33 L33", 2, 7, 33, 33, 7, 1, 1, 3, 1, true, true, true, RES_NONE, 10);
    conv1d_case("dense k7 33->7 L1", 3, 33, 7, 1, 7, 1, 1, 3, 1, true, false, false, RES_SEPARATE, 11);
    conv1d_case("dense k7 1->33 L33 residual=y", 1, 1, 33, 33, 7, 1, 1, 3, 1, false, true, false, RES_ALIAS, 12);
    conv1d_case("dense k7 1025->7 L7", 1, 1025, 7, 7, 7, 1, 1, 3, 1, true, false, true, RES_NONE, 13);
    /* 1x1 */
    conv1d_case("1x1 33->7 L33 plain", 2, 33, 7, 33, 1, 1, 1, 0, 1, true, false, false, RES_SEPARATE, 14);
    conv1d_case("1x1 7->1025 L7 alpha", 1, 7, 1025, 7, 1, 1, 1, 0, 1, true, true, false, RES_ALIAS, 15);
    conv1d_case("1x1 33->33 L33 valid", 2, 33, 33, 33, 1, 1, 1, 0, 1, false, false, true, RES_NONE, 16);
    /* depthwise k7 dilation 1/3/9 */
    const int dils[3] = {1, 3, 9};
    for (int d : dils) {
        snprintf(name, sizeof name, "depthwise k7 d%d C33 L33", d);
        conv1d_case(name, 2, 33, 33, 33, 7, 1, d, 3 * d, 33, true, true, true, RES_ALIAS, 20 + (uint64_t)d);
        snprintf(name, sizeof name, "depthwise k7 d%d C7 L1025", d);
        conv1d_case(name, 1, 7, 7, 1025, 7, 1, d, 3 * d, 7, true, true, true, RES_SEPARATE, 30 + (uint64_t)d);
    }
    conv1d_case("depthwise k7 C1025 L7", 1, 1025, 1025, 7, 7, 1, 1, 3, 1025, true, true, false, RES_NONE, 40);
    conv1d_case("depthwise k7 C1 L33", 2, 1, 1, 33, 7, 1, 1, 3, 1, false, false, true, RES_NONE, 41);
    /* depthwise tiles of 1024 outputs aligned to 16 bytes of y, windows filled in 16-byte quads: a row shorter than
     * the halo, rows over 2-3 tiles at every alignment (odd lengths), in_valid inside a tile, residual aliasing y,
     * stride 2 */
    conv1d_case("depthwise k7 d9 C3 L1", 3, 3, 3, 1, 7, 1, 9, 27, 3, true, true, true, RES_SEPARATE, 42);
    conv1d_case("depthwise k7 d3 C5 L2101 residual=y", 3, 5, 5, 2101, 7, 1, 3, 9, 5, true, true, true, RES_ALIAS, 43);
    conv1d_case("depthwise k7 d9 C3 L2050", 2, 3, 3, 2050, 7, 1, 9, 27, 3, false, true, false, RES_SEPARATE, 44);
    conv1d_case("depthwise k7 d1 C7 L1027 plain", 1, 7, 7, 1027, 7, 1, 1, 3, 7, true, false, true, RES_NONE, 45);
    conv1d_case("depthwise k7 s2 d3 C3 L2101", 2, 3, 3, 2101, 7, 2, 3, 9, 3, true, true, true, RES_SEPARATE, 46);
    /* strided k=2s, p=ceil(s/2): dense and depthwise-style grouped (in -> 2*in, groups = in) */
    const int strides[4] = {2, 3, 4, 8};
    for (int s : strides) {
        snprintf(name, sizeof name, "strided s%d 7->33 L%d", s, 33 + s);
        conv1d_case(name, 2, 7, 33, 33 + s, 2 * s, s, 1, (s + 1) / 2, 1, true, true, true, RES_NONE, 50 + (uint64_t)s);
        snprintf(name, sizeof name, "strided grouped s%d 7->14 g7 L33", s);
        conv1d_case(name, 2, 7, 14, 33, 2 * s, s, 1, (s + 1) / 2, 7, true, true, true, RES_NONE, 60 + (uint64_t)s);
        snprintf(name, sizeof name, "transposed s%d 33->7 L7", s);
        convt1d_case(name, 2, 33, 7, 7, s, 1, true, true, true, 70 + (uint64_t)s);
        snprintf(name, sizeof name, "transposed s%d 7->33 L33", s);
        convt1d_case(name, 1, 7, 33, 33, s, 1, true, false, false, 80 + (uint64_t)s);
        snprintf(name, sizeof name, "transposed grouped s%d 14->7 g7 L7", s);
        convt1d_case(name, 2, 14, 7, 7, s, 7, true, true, true, 90 + (uint64_t)s);
    }
    conv1d_case("grouped k3 9->6 g3 d2", 2, 9, 6, 33, 3, 1, 2, 2, 3, true, true, true, RES_SEPARATE, 99);
    igemm_cases();
}

/* The implicit-GEMM dense convs (conv_igemm.cuh) over several 64 x 64 tiles and partial reduction steps
 * (R % 16 != 0); run again in the tf32 and bf16 precision modes. */
static void igemm_cases() {
    conv1d_case("dense k7 33->65 L130 residual=y", 3, 33, 65, 130, 7, 1, 1, 3, 1, true, true, true, RES_ALIAS, 100);
    conv1d_case("dense k3 d3 7->129 L67", 2, 7, 129, 67, 3, 1, 3, 3, 1, true, true, false, RES_SEPARATE, 101);
    conv1d_case("1x1 65->33 L1025 valid", 2, 65, 33, 1025, 1, 1, 1, 0, 1, true, false, true, RES_SEPARATE, 102);
    conv1d_case("strided s8 33->65 L1025", 1, 33, 65, 1025, 16, 8, 1, 4, 1, true, true, true, RES_NONE, 103);
    convt1d_case("transposed s8 65->33 L130", 2, 65, 33, 130, 8, 1, true, true, true, 104);
    convt1d_case("transposed s3 33->129 L67", 3, 33, 129, 67, 3, 1, false, true, true, 105);
    conv1d_case("dense k7 1->33 L33 residual=y", 1, 1, 33, 33, 7, 1, 1, 3, 1, false, true, false, RES_ALIAS, 106);
    convt1d_case("transposed s2 33->7 L7", 2, 33, 7, 7, 2, 1, true, true, true, 107);
    /* odd sizes 1, 7, 33, 1025 in channels and lengths: one partial tile, a single channel or position */
    conv1d_case("dense k7 7->1 L1025", 2, 7, 1, 1025, 7, 1, 1, 3, 1, true, true, true, RES_SEPARATE, 108);
    conv1d_case("1x1 1025->7 L33", 1, 1025, 7, 33, 1, 1, 1, 0, 1, true, true, false, RES_NONE, 109);
    conv1d_case("dense k7 33->1025 L1", 2, 33, 1025, 1, 7, 1, 1, 3, 1, true, false, true, RES_ALIAS, 110);
    convt1d_case("transposed s8 1->33 L33", 1, 1, 33, 33, 8, 1, true, true, false, 111);
    convt1d_case("transposed s4 33->1 L1", 2, 33, 1, 1, 4, 1, true, true, true, 112);
    convt1d_case("transposed s2 7->1025 L7", 1, 7, 1025, 7, 2, 1, false, true, true, 113);
    /* a reduction long enough to be split (conv_igemm.cuh: split sums of small grids) */
    convt1d_case("transposed s4 257->33 L9 split", 2, 257, 33, 9, 4, 1, true, true, true, 114);
    /* transposed tiles of stacked (channel, phase) rows staged and stored as contiguous 16-byte groups
     * (igemm_convt_flush): out_len % 4 == 0 (16-byte path) with a partial row tile (s8: 7 channels = 56 rows);
     * stride 16 with 3 channels; s5 (does not divide the 64 rows: a channel's phases straddle two blocks) */
    convt1d_case("transposed s8 65->7 L64 aligned", 2, 65, 7, 64, 8, 1, true, true, true, 115);
    convt1d_case("transposed s4 7->33 L33 aligned", 2, 7, 33, 33, 4, 1, true, false, true, 116);
    convt1d_case("transposed s16 33->3 L9", 2, 33, 3, 9, 16, 1, true, true, true, 117);
    convt1d_case("transposed s5 33->33 L40", 1, 33, 33, 40, 5, 1, true, true, false, 118);
    /* convs whose X tiles are built from input windows in shared memory (kernel divides 16): windows of several
     * channels per step, starting before the padding on a 32-byte boundary, with dilation, split reductions */
    conv1d_case("strided s4 k8 257->33 L130 split", 2, 257, 33, 130, 8, 4, 1, 2, 1, true, true, true, RES_SEPARATE, 119);
    conv1d_case("strided s2 k4 d2 33->65 L67", 2, 33, 65, 67, 4, 2, 2, 3, 1, true, true, true, RES_NONE, 120);
    conv1d_case("k2 p1 7->33 L130 residual=y", 3, 7, 33, 130, 2, 1, 1, 1, 1, false, true, true, RES_ALIAS, 121);
    /* bf16 transposed convs with kernel 2 x stride (convt1d_span.cuh: 128 x 128 tiles whose columns span items):
     * several items per column tile (the tap-1 value of an item's first column is 0, not the previous item's last
     * input), an item straddling two tiles, in_valid with NaN past it in every item, input channels not a multiple
     * of the 8 per step, a partial row tile and several (s4: 4 x 65 = 260 rows), out_len % 4 != 0 (s2, odd L); in the
     * other modes these run through conv_igemm.cuh. Tolerance: the mode's (BF16_ATOL / BF16_RTOL). */
    convt1d_case("transposed span s8 17->33 L7 B5", 5, 17, 33, 7, 8, 1, true, true, true, 122);
    convt1d_case("transposed span s2 33->65 L67 B3", 3, 33, 65, 67, 2, 1, true, true, true, 123);
    convt1d_case("transposed span s4 9->7 L33 B4", 4, 9, 7, 33, 4, 1, false, true, true, 124);
    convt1d_case("transposed span s4 33->65 L130 B3", 3, 33, 65, 130, 4, 1, true, false, true, 125);
    convt1d_case("transposed span s8 65->129 L1 B7", 7, 65, 129, 1, 8, 1, true, true, false, 126);
    /* padding >= stride: the last phase column of an item has an input (n_cols <= in_len), so the tap-1 value of the
     * next item's first column must be masked at the item boundary, not taken from the previous item */
    convt1d_case("transposed span s2 p3 9->17 L9 B4", 4, 9, 17, 9, 2, 1, true, true, false, 127, 3);
    convt1d_case("transposed span s8 p8 17->9 L5 B6", 6, 17, 9, 5, 8, 1, false, true, true, 128, 8);
}

/* Batch invariance of the dense convs: item 1 of a batch of 3 is bit-identical to that item run alone. 129 input
 * channels (and a transposed kernel of 4 x stride): in the implicit-GEMM modes both reductions are long enough to
 * be split (conv_igemm.cuh); a transposed kernel of 2 x stride runs convt1d_span.cuh in bf16 (tiles across items). */
static void conv_batch_invariance() {
    g_case = "conv batch invariance";
    const int B = 3, Cin = 129, Cout = 65, L = 130, K = 7;
    std::vector<float> x = rnd((size_t)B * Cin * L, 110, -1, 1), w = rnd((size_t)Cout * Cin * K, 111, -0.1f, 0.1f);
    std::vector<float> bias = rnd((size_t)Cout, 112, -0.5f, 0.5f), alpha = rnd((size_t)Cin, 113, 0.2f, 2.0f);
    std::vector<int> valid = {L, 97, L - 1};
    srt_conv1d_args a = {};
    a.batch = B; a.in_ch = Cin; a.out_ch = Cout; a.in_len = L; a.out_len = L;
    a.kernel = K; a.stride = 1; a.dilation = 1; a.padding = 3; a.groups = 1;
    a.x = dev_in(x); a.w = dev_in(w); a.bias = dev_in(bias); a.in_alpha = dev_in(alpha); a.in_valid = valid.data();
    a.y = dev_out((size_t)B * Cout * L);
    check_status(srt_op_conv1d(&g_cu, &a), "cuda conv1d batch");
    srt_conv1d_args one = a;
    one.batch = 1; one.x = a.x + (size_t)Cin * L; one.in_valid = valid.data() + 1;
    one.y = dev_out((size_t)Cout * L);
    check_status(srt_op_conv1d(&g_cu, &one), "cuda conv1d item alone");
    srt_convt1d_args t = {};
    const int S = 4, TL = (L - 1) * S - 2 * 2 + 4 * S;
    std::vector<float> wt = rnd((size_t)Cin * Cout * 4 * S, 114, -0.1f, 0.1f);
    t.batch = B; t.in_ch = Cin; t.out_ch = Cout; t.in_len = L; t.out_len = TL;
    t.kernel = 4 * S; t.stride = S; t.padding = 2; t.groups = 1;
    t.x = a.x; t.w = dev_in(wt); t.bias = a.bias; t.in_alpha = a.in_alpha; t.in_valid = valid.data();
    t.y = dev_out((size_t)B * Cout * TL);
    check_status(srt_op_conv_transpose1d(&g_cu, &t), "cuda conv_transpose1d batch");
    /* the transposed conv of batch run on item 1 alone (out_len outputs per channel) */
    auto convt_alone = [&](const srt_convt1d_args &batch, int out_len, const char *what) {
        srt_convt1d_args o = batch;
        o.batch = 1; o.x = one.x; o.in_valid = valid.data() + 1;
        o.y = dev_out((size_t)Cout * out_len);
        check_status(srt_op_conv_transpose1d(&g_cu, &o), what);
        return o;
    };
    srt_convt1d_args tone = convt_alone(t, TL, "cuda conv_transpose1d item alone");
    /* kernel 2 x stride (bf16: convt1d_span.cuh): item 1 starts at column n_cols of the batch's tiles, at column 0
     * alone */
    srt_convt1d_args u = t;
    const int S2 = 8, UL = (L - 1) * S2 - 2 * 4 + 2 * S2;
    std::vector<float> wu = rnd((size_t)Cin * Cout * 2 * S2, 115, -0.1f, 0.1f);
    u.kernel = 2 * S2; u.stride = S2; u.padding = 4; u.out_len = UL; u.w = dev_in(wu);
    u.y = dev_out((size_t)B * Cout * UL);
    check_status(srt_op_conv_transpose1d(&g_cu, &u), "cuda conv_transpose1d k2s batch");
    srt_convt1d_args uone = convt_alone(u, UL, "cuda conv_transpose1d k2s item alone");
    g_cu.ops->sync(g_cu.ctx);
    const struct { const char *what; const float *batch, *alone; size_t n; } cmp[3] = {
        {"conv1d", a.y + (size_t)Cout * L, one.y, (size_t)Cout * L},
        {"conv_transpose1d", t.y + (size_t)Cout * TL, tone.y, (size_t)Cout * TL},
        {"conv_transpose1d k2s", u.y + (size_t)Cout * UL, uone.y, (size_t)Cout * UL}};
    for (const auto &c : cmp) {
        std::vector<float> hb(c.n), ha(c.n);
        g_cu.ops->download(g_cu.ctx, hb.data(), c.batch, c.n * sizeof(float));
        g_cu.ops->download(g_cu.ctx, ha.data(), c.alone, c.n * sizeof(float));
        size_t diff = 0;
        for (size_t i = 0; i < c.n; i++) diff += memcmp(&hb[i], &ha[i], sizeof(float)) != 0;
        TEST_CHECK(diff == 0, "%s: %zu of %zu outputs of item 1 differ between batch 3 and alone", c.what, diff, c.n);
    }
    end_case();
}

/* The tensor-core convs with 2 column tiles of the batch per block (conv1d_igemm_*_cols_kernel, the default)
 * against the one-tile kernels (srt_cuda_igemm_set_cols(1)): bit-identical outputs, the same sums in the same
 * order. Blocks straddle items (3 and 1 column tiles per item; 5 items: the last block has one tile), masked items
 * (NaN past the valid length), out_ch 1 (warps past the rows skip their mma), input windows (1x1, stride 8),
 * reductions split and folded; the outputs are checked against cpu-ref too (conv1d_case's tolerance per mode). */
static void igemm_cols_identity() {
    const struct { const char *name; int B, Cin, Cout, L, K, S, P; } cases[5] = {
        {"cols 1x1 65->33 L24 B5", 5, 65, 33, 24, 1, 1, 0},
        {"cols k7 129->65 L130 B3", 3, 129, 65, 130, 7, 1, 3},
        {"cols s8 k16 33->7 L200 B3", 3, 33, 7, 200, 16, 8, 4},
        {"cols k7 7->1 L1025 B2", 2, 7, 1, 1025, 7, 1, 3},
        {"cols s2 k4 513->66 L63 B3", 3, 513, 66, 63, 4, 2, 1}};
    for (const auto &c : cases)
        for (int fold = 0; fold < 2; fold++) {
            g_case = c.name;
            int out_len = (c.L + 2 * c.P - c.K) / c.S + 1;
            std::vector<int> valid((size_t)c.B);
            for (int b = 0; b < c.B; b++) valid[(size_t)b] = c.L - (b * c.L) / (2 * c.B);
            std::vector<float> x = rnd((size_t)c.B * c.Cin * c.L, 300, -1, 1);
            for (int b = 0; b < c.B; b++)
                for (int i = 0; i < c.Cin; i++)
                    for (int t = valid[(size_t)b]; t < c.L; t++) x[((size_t)b * c.Cin + i) * c.L + t] = NAN;
            float ws = 1.0f / sqrtf((float)(c.Cin * c.K));
            std::vector<float> w = rnd((size_t)c.Cout * c.Cin * c.K, 301, -ws, ws);
            std::vector<float> bias = rnd((size_t)c.Cout, 302, -0.5f, 0.5f);
            std::vector<float> alpha = rnd((size_t)c.Cin, 303, 0.2f, 2.0f);
            std::vector<float> resid = rnd((size_t)c.B * c.Cout * out_len, 304, -1, 1);
            srt_conv1d_args a = {};
            a.batch = c.B; a.in_ch = c.Cin; a.out_ch = c.Cout; a.in_len = c.L; a.out_len = out_len;
            a.kernel = c.K; a.stride = c.S; a.dilation = 1; a.padding = c.P; a.groups = 1;
            a.in_valid = valid.data();
            std::vector<float> yref(resid.size());
            srt_conv1d_args r = a;
            r.x = x.data(); r.w = w.data(); r.bias = bias.data(); r.in_alpha = alpha.data(); r.residual = resid.data();
            r.y = yref.data();
            check_status(srt_op_conv1d(&g_ref, &r), "cpu-ref conv1d");
            a.x = dev_in(x); a.w = dev_in(w); a.bias = dev_in(bias); a.in_alpha = dev_in(alpha);
            a.residual = dev_in(resid);
            float *y[2];
            if (fold) srt_cuda_igemm_set_fold_blocks(1);   /* every grid counted as full: split ranges folded */
            for (int cols = 1; cols <= 2; cols++) {
                srt_cuda_igemm_set_cols(cols);
                a.y = y[cols - 1] = dev_out(resid.size());
                check_status(srt_op_conv1d(&g_cu, &a), cols == 1 ? "cuda conv1d, one tile per block"
                                                                 : "cuda conv1d, 2 column tiles per block");
            }
            srt_cuda_igemm_set_fold_blocks(0);
            check_out(fold ? "y (2 tiles per block, folded)" : "y (2 tiles per block)", y[1], yref, g_conv_atol,
                      g_conv_rtol);
            std::vector<float> h1(resid.size()), h2(resid.size());
            g_cu.ops->download(g_cu.ctx, h1.data(), y[0], h1.size() * sizeof(float));
            g_cu.ops->download(g_cu.ctx, h2.data(), y[1], h2.size() * sizeof(float));
            size_t diff = 0;
            for (size_t i = 0; i < h1.size(); i++) diff += memcmp(&h1[i], &h2[i], sizeof(float)) != 0;
            TEST_CHECK(diff == 0, "%s%s [%s order]: %zu of %zu outputs differ between 1 and 2 column tiles per block",
                       c.name, fold ? " (folded)" : "", cudasim_order_name(cudasim_get_order()), diff, h1.size());
            end_case();
        }
}

/* ---------------------------------------------------------------- other ops */
static void snake_cases() {
    const int shapes[3][3] = {{2, 33, 33}, {1, 7, 1025}, {1, 1025, 1}};
    for (int inplace = 0; inplace < 2; inplace++)
        for (const auto &s : shapes) {
            g_case = inplace ? "snake in place" : "snake";
            size_t n = (size_t)s[0] * s[1] * s[2];
            std::vector<float> x = rnd(n, 100 + (uint64_t)s[1], -3, 3), alpha = rnd((size_t)s[1], 101, 0.1f, 3.0f), yref(n);
            srt_snake_args r = {s[0], s[1], s[2], x.data(), alpha.data(), yref.data()};
            srt_op_snake(&g_ref, &r);
            float *dx = inplace ? dev_out(n, x) : dev_in(x);
            float *dy = inplace ? dx : dev_out(n);
            srt_snake_args c = {s[0], s[1], s[2], dx, dev_in(alpha), dy};
            check_status(srt_op_snake(&g_cu, &c), "snake");
            check_out("y", dy, yref, 1e-6, 2e-6);   /* sinf vs sin: a few ulp, amplified by 1/alpha <= 10 */
            end_case();
        }
}

static uint16_t to_half(float f, srt_dtype dt) { return dt == SRT_BF16 ? srt_f32_to_bf16(f) : srt_f32_to_f16(f); }

/* Shapes: odd sizes with padded strides; M 1..65 crosses the small-M kernel's 8-row passes and its 16-row limit
 * (cuBLAS above); K 1024 with ldb 1024 takes its 16-byte load path (and split-K), the others its 2-byte path. */
static void gemm_cases() {
    struct { int M, N, K, pad_b; } shapes[] = {
        {7, 33, 1025, 2}, {1, 1, 1, 2}, {1, 1025, 7, 2}, {33, 7, 33, 2}, {17, 33, 1024, 0}, {65, 7, 33, 2}};
    const srt_dtype dts[3] = {SRT_F32, SRT_BF16, SRT_F16};
    for (const auto &sh : shapes)
    for (srt_dtype dt : dts)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int M = sh.M, N = sh.N, K = sh.K;
                g_case = "gemm";
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + sh.pad_b, ldc = N + 5;
                size_t a_rows = ta ? K : M, b_rows = tb ? N : K;
                std::vector<float> A = rnd(a_rows * lda, 200 + (uint64_t)(ta * 2 + tb), -1, 1);
                std::vector<float> Bf = rnd(b_rows * ldb, 210 + (uint64_t)(ta * 2 + tb), -0.05f, 0.05f);
                std::vector<uint16_t> Bh(Bf.size());
                for (size_t i = 0; i < Bf.size(); i++) Bh[i] = to_half(Bf[i], dt);
                std::vector<float> C0 = rnd((size_t)M * ldc, 220, -1, 1), Cref = C0;
                /* beta != 0 with every transposition, so the half-rows kernel (ta 0, tb 1, bf16/f16, M <= 64) takes
                 * its beta branch; the 1x1x1 shape keeps beta 0 there (C must be overwritten, not read) */
                float alpha = 0.75f, beta = (ta || tb) && !(M == 1 && N == 1) ? 0.5f : 0.0f;
                const void *Bhost = dt == SRT_F32 ? (const void *)Bf.data() : (const void *)Bh.data();
                srt_gemm_args r = {M, N, K, ta, tb, alpha, beta, A.data(), lda, Bhost, ldb, dt, Cref.data(), ldc, nullptr};
                check_status(srt_op_gemm(&g_ref, &r), "cpu-ref gemm");
                const void *dB = dt == SRT_F32 ? (const void *)dev_in(Bf)
                                               : dev_of(Bh.data(), Bh.size() * sizeof(uint16_t), 0);
                float *dC = dev_out(C0.size(), C0);
                srt_gemm_args c = {M, N, K, ta, tb, alpha, beta, dev_in(A), lda, dB, ldb, dt, dC, ldc, nullptr};
                check_status(srt_op_gemm(&g_cu, &c), "cuda gemm");
                check_out(srt_dtype_name(dt), dC, Cref, RED_ATOL, RED_RTOL);
                end_case();
            }
}

/* The default GEMM of bf16 weights above the small-M rows (cublas.c gemm_split_bf16): A split into bf16 hi + lo, one
 * tensor-core GEMM of 2M rows, the halves summed. Against cpu-ref (f32 A, the same bf16 B), per element with
 * S = sum_k |a_k b_k| (computed here in double):
 *   |err| <= |alpha| S 2^-16            A's representation: hi + lo is a to 2^-18 relative (two 8-bit significands,
 *                                       round to nearest), x2 for the f32 sum of the two halves and the epilogue;
 *          + |alpha| S sqrt(K) 2^-22    f32 accumulation in another order on both sides (a random walk of K
 *                                       roundings of 2^-24, 4 sigma);
 *          + |beta C| 2^-22             the beta term's rounding.
 * Rounding A once (the lo half dropped, SNACRT_CUDA_BF16_GEMM=1's numerics) errs by ~2^-9 S / sqrt(K) and fails it.
 * M 17 / 33 / 1025 (above the small-M limit), N and K odd incl. 1 and 7, op(B) both ways, beta 0 and 1, padded
 * lda / ldb / ldc: odd pads (one element per thread in the split and the sum), or, for K / N multiples of 8, pads that
 * keep rows 16-byte aligned (the 8-per-thread 16-byte paths of gemm_split_bf16.cuh). */
static void split_bf16_case(int M, int N, int K, int tb, int bi) {
    g_case = "gemm split bf16";
    const int lda = K % 8 ? K + 3 : K + 4, ldb = (tb ? K : N) + 2, ldc = N % 8 ? N + 5 : N + 8;
    const float alpha = 0.75f, beta = (float)bi;
    uint64_t seed = 400 + (uint64_t)(M * 16 + N * 4 + tb * 2 + bi);
    std::vector<float> A = rnd((size_t)M * lda, seed, -1, 1);
    std::vector<float> Bf = rnd((size_t)(tb ? N : K) * ldb, seed + 1, -0.05f, 0.05f);
    std::vector<uint16_t> Bh(Bf.size());
    for (size_t i = 0; i < Bf.size(); i++) Bh[i] = srt_f32_to_bf16(Bf[i]);
    std::vector<float> C0 = rnd((size_t)M * ldc, seed + 2, -1, 1), Cref = C0;
    srt_gemm_args r = {M, N, K, 0, tb, alpha, beta, A.data(), lda, Bh.data(), ldb, SRT_BF16, Cref.data(), ldc, nullptr};
    check_status(srt_op_gemm(&g_ref, &r), "cpu-ref gemm");
    float *dC = dev_out(C0.size(), C0);
    srt_gemm_args c = {M, N, K, 0, tb, alpha, beta, dev_in(A), lda,
                       dev_of(Bh.data(), Bh.size() * 2, 0), ldb, SRT_BF16, dC, ldc, nullptr};
    check_status(srt_op_gemm(&g_cu, &c), "cuda gemm (split bf16)");
    std::vector<float> got(C0.size() + TAIL);
    check_status(g_cu.ops->sync(g_cu.ctx), "sync");
    g_cu.ops->download(g_cu.ctx, got.data(), dC, got.size() * sizeof(float));
    int bad = 0, clobbered = 0;
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t e = (size_t)i * ldc + j;
            if (j >= N) { bad += got[e] != C0[e]; continue; }   /* the ldc padding is untouched */
            double S = 0;
            for (int k = 0; k < K; k++)
                S += fabs((double)A[(size_t)i * lda + k] *
                          srt_bf16_to_f32(Bh[tb ? (size_t)j * ldb + k : (size_t)k * ldb + j]));
            double tol = alpha * S * (ldexp(1, -16) + sqrt((double)K) * ldexp(1, -22)) +
                         fabs(beta * C0[e]) * ldexp(1, -22);
            double err = fabs((double)got[e] - Cref[e]);
            if (!(err <= tol)) {
                if (!bad++) worst = err;
                if (bad == 1)
                    TEST_CHECK(0, "%s M %d N %d K %d tb %d beta %g [%s order]: C[%d,%d] %.9g, "
                               "cpu-ref %.9g (err %.3g, bound %.3g)", g_case, M, N, K, tb, beta,
                               cudasim_order_name(cudasim_get_order()), i, j, got[e], Cref[e], err, tol);
            }
        }
    for (size_t i = 0; i < TAIL; i++) clobbered += got[C0.size() + i] != SENTINEL;
    TEST_CHECK(bad == 0 && clobbered == 0, "%s M %d N %d K %d: %d elements out of bound (first err %.3g), "
               "%d sentinels overwritten", g_case, M, N, K, bad, worst, clobbered);
    end_case();
}

static void gemm_split_bf16_cases() {
    /* K 1025 only below 1025 rows: the simulator runs the split kernel's M x K threads */
    struct { int M, N, K; } shapes[] = {{17, 1, 7}, {17, 7, 1}, {17, 33, 1025}, {33, 1, 7}, {33, 7, 1}, {33, 33, 1025},
                                        {1025, 1, 7}, {1025, 7, 1}, {1025, 33, 65},
                                        /* 16-byte paths: K, N multiples of 8 */
                                        {17, 8, 64}, {33, 40, 1024}, {1025, 16, 64}, {9, 24, 8}};
    for (const auto &sh : shapes)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) split_bf16_case(sh.M, sh.N, sh.K, tb, bi);
}

/* The split GEMM in row chunks (A2 + C2 kept within the scratch cap): SNACRT_CUDA_SCRATCH_MB=1 and rows of
 * 2 K 2 + 2 N 4 = 8,228 bytes give chunks of 127, 127 and 46 rows; same bound as above. */
static void gemm_split_bf16_chunked() {
    setenv("SNACRT_CUDA_SCRATCH_MB", "1", 1);
    srt_backend small;
    srt_status st = srt_backend_create("cuda", 0, &small);
    unsetenv("SNACRT_CUDA_SCRATCH_MB");
    TEST_CHECK(st == SRT_OK, "cuda backend with SNACRT_CUDA_SCRATCH_MB=1: %s", srt_last_error());
    if (st != SRT_OK) return;
    srt_backend plain = g_cu;
    g_cu = small;
    split_bf16_case(300, 1025, 7, 1, 1);
    split_bf16_case(300, 1024, 8, 1, 1);   /* 16-byte paths in chunks of 127 rows */
    g_cu = plain;
    srt_backend_destroy(&small);
}

/* SNACRT_CUDA_BF16_GEMM=1 (the LM precision bf16's GEMM, here over the pinned exact): GEMMs of more than the
 * small-M rows (SRT_CUDA_SMALL_M_ROWS_DEFAULT) with bf16 weights go to bf16 tensor cores with A rounded to bf16;
 * against cpu-ref given the same rounded A, the only difference is summation order (f32 tolerance). Fewer rows
 * stay on the f32-activation small-M kernel. */
static void gemm_bf16_tensor_core_cases() {
    setenv("SNACRT_CUDA_BF16_GEMM", "1", 1);
    srt_backend tc;
    srt_status st = srt_backend_create("cuda", 0, &tc);
    unsetenv("SNACRT_CUDA_BF16_GEMM");
    TEST_CHECK(st == SRT_OK, "cuda backend with SNACRT_CUDA_BF16_GEMM=1: %s", srt_last_error());
    if (st != SRT_OK) return;
    srt_backend plain = g_cu;
    g_cu = tc;                                   /* dev_of / check_out work on g_cu */
    struct { int M, N, K; } shapes[] = {{65, 33, 1025}, {130, 7, 64}, {7, 33, 1025}};
    for (const auto &sh : shapes)
        for (int tb = 0; tb < 2; tb++) {
            g_case = "gemm bf16 tensor cores";
            const int M = sh.M, N = sh.N, K = sh.K, lda = K + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            std::vector<float> A = rnd((size_t)M * lda, 300 + (uint64_t)tb, -1, 1), A16 = A;
            if (M > SRT_CUDA_SMALL_M_ROWS_DEFAULT)
                for (float &v : A16) v = srt_bf16_to_f32(srt_f32_to_bf16(v));
            std::vector<float> Bf = rnd((size_t)(tb ? N : K) * ldb, 310 + (uint64_t)tb, -0.05f, 0.05f);
            std::vector<uint16_t> Bh(Bf.size());
            for (size_t i = 0; i < Bf.size(); i++) Bh[i] = srt_f32_to_bf16(Bf[i]);
            std::vector<float> C0 = rnd((size_t)M * ldc, 320, -1, 1), Cref = C0;
            srt_gemm_args r = {M, N, K, 0, tb, 0.5f, 0.25f, A16.data(), lda, Bh.data(), ldb, SRT_BF16, Cref.data(), ldc, nullptr};
            check_status(srt_op_gemm(&g_ref, &r), "cpu-ref gemm");
            float *dC = dev_out(C0.size(), C0);
            srt_gemm_args c = {M, N, K, 0, tb, 0.5f, 0.25f, dev_in(A), lda, dev_of(Bh.data(), Bh.size() * 2, 0), ldb,
                               SRT_BF16, dC, ldc, nullptr};
            check_status(srt_op_gemm(&g_cu, &c), "cuda gemm (bf16 tensor cores)");
            check_out("bf16", dC, Cref, RED_ATOL, RED_RTOL);
            end_case();
        }
    g_cu = plain;
    srt_backend_destroy(&tc);
}

static void layernorm_cases() {
    const int shapes[3][2] = {{33, 1025}, {7, 7}, {1, 33}};
    for (const auto &s : shapes)
        for (int variant = 0; variant < 2; variant++) {
            g_case = variant ? "layernorm in place, no beta" : "layernorm";
            size_t n = (size_t)s[0] * s[1];
            std::vector<float> x = rnd(n, 300 + (uint64_t)s[1], -2, 3), g = rnd((size_t)s[1], 301, 0.5f, 1.5f);
            std::vector<float> be = rnd((size_t)s[1], 302, -0.5f, 0.5f), yref(n);
            srt_layernorm_args r = {s[0], s[1], 1e-5f, x.data(), g.data(), variant ? nullptr : be.data(), yref.data()};
            srt_op_layernorm(&g_ref, &r);
            float *dx = variant ? dev_out(n, x) : dev_in(x);
            float *dy = variant ? dx : dev_out(n);
            srt_layernorm_args c = {s[0], s[1], 1e-5f, dx, dev_in(g), variant ? nullptr : dev_in(be), dy};
            check_status(srt_op_layernorm(&g_cu, &c), "layernorm");
            check_out("y", dy, yref, RED_ATOL, RED_RTOL);
            end_case();
        }
}

static void transpose_cases() {
    const int shapes[3][3] = {{2, 33, 1025}, {1, 7, 1}, {3, 33, 7}};
    for (const auto &s : shapes)
        for (int res = 0; res < 3; res++) {
            g_case = res == 0 ? "transpose" : res == 1 ? "transpose + residual" : "transpose + residual=y";
            size_t n = (size_t)s[0] * s[1] * s[2];
            std::vector<float> x = rnd(n, 400 + (uint64_t)s[2], -1, 1), resid = rnd(n, 401, -1, 1);
            std::vector<float> yref = res == 2 ? resid : std::vector<float>(n);
            srt_transpose_args r = {s[0], s[1], s[2], x.data(), res == 1 ? resid.data() : res == 2 ? yref.data() : nullptr, yref.data()};
            srt_op_transpose(&g_ref, &r);
            float *dy = dev_out(n, res == 2 ? resid : std::vector<float>());
            srt_transpose_args c = {s[0], s[1], s[2], dev_in(x), res == 1 ? dev_in(resid) : res == 2 ? dy : nullptr, dy};
            check_status(srt_op_transpose(&g_cu, &c), "transpose");
            check_out("y", dy, yref, ELEM_ATOL, ELEM_RTOL);
            end_case();
        }
}

static void attention_cases() {
    /* batch, windows, heads, head_dim, window */
    const int shapes[3][5] = {{2, 2, 2, 8, 7}, {1, 1, 1, 64, 64}, {1, 3, 3, 16, 33}};
    for (const auto &s : shapes) {
        g_case = "local_attention";
        int B = s[0], len = s[1] * s[4], H = s[2], D = s[3], W = s[4];
        size_t n_in = (size_t)B * len * 3 * H * D, n_out = (size_t)B * len * H * D;
        std::vector<float> qkv = rnd(n_in, 500 + (uint64_t)W, -2, 2), yref(n_out);
        srt_local_attn_args r = {B, len, H, D, W, qkv.data(), yref.data()};
        check_status(srt_op_local_attention(&g_ref, &r), "cpu-ref local_attention");
        float *dy = dev_out(n_out);
        srt_local_attn_args c = {B, len, H, D, W, dev_in(qkv), dy};
        check_status(srt_op_local_attention(&g_cu, &c), "cuda local_attention");
        check_out("out", dy, yref, 1e-4, 1e-4);   /* float rotary angles up to 63 rad and exp: ~1e-5 */
        end_case();
    }
}

static void pool_upsample_cases() {
    const int kernels[3] = {1, 2, 4};
    for (int k : kernels) {
        g_case = "avgpool";
        int B = 2, C = 33, L = 1025, out_len = L / k;
        std::vector<float> x = rnd((size_t)B * C * L, 600 + (uint64_t)k, -1, 1), yref((size_t)B * C * out_len);
        srt_avgpool_args r = {B, C, L, k, x.data(), yref.data()};
        srt_op_avgpool(&g_ref, &r);
        float *dy = dev_out(yref.size());
        srt_avgpool_args c = {B, C, L, k, dev_in(x), dy};
        check_status(srt_op_avgpool(&g_cu, &c), "avgpool");
        check_out("y", dy, yref, ELEM_ATOL, 1e-6);
        end_case();
        for (int with_acc = 0; with_acc < 2; with_acc++) {
            g_case = with_acc ? "upsample_add + acc" : "upsample_add";
            int Lx = 33;
            size_t n_out = (size_t)2 * 7 * Lx * k;
            std::vector<float> xs = rnd((size_t)2 * 7 * Lx, 610, -1, 1), y0 = rnd(n_out, 611, -1, 1), acc0 = rnd(n_out, 612, -1, 1);
            std::vector<float> yref2 = y0, accref = acc0;
            srt_upsample_add_args r2 = {2, 7, Lx, k, 0.7f, xs.data(), yref2.data(), with_acc ? accref.data() : nullptr};
            srt_op_upsample_add(&g_ref, &r2);
            float *dy2 = dev_out(n_out, y0), *dacc = with_acc ? dev_out(n_out, acc0) : nullptr;
            srt_upsample_add_args c2 = {2, 7, Lx, k, 0.7f, dev_in(xs), dy2, dacc};
            check_status(srt_op_upsample_add(&g_cu, &c2), "upsample_add");
            check_out("y", dy2, yref2, ELEM_ATOL, ELEM_RTOL);
            if (with_acc) check_out("acc", dacc, accref, ELEM_ATOL, ELEM_RTOL);
            end_case();
        }
    }
}

static void vq_embed_cases() {
    /* batch, dim, len, codes: dims <= 8 take the tiled kernels (66 frames: a partial second block; 1025 codes: a
     * one-row last tile; 2 x 1100 frames: 8 threads per frame, the item alone a warp per frame), dim 33 the
     * one-block-per-frame kernel */
    const int shapes[5][4] = {{2, 8, 33, 1025}, {1, 7, 7, 7}, {1, 33, 1, 33}, {3, 33, 9, 40}, {2, 8, 1100, 300}};
    for (const auto &s : shapes) {
        g_case = "vq_nearest";
        int B = s[0], dim = s[1], len = s[2], n_codes = s[3];
        std::vector<float> z = rnd((size_t)B * dim * len, 700 + (uint64_t)dim, -1, 1);
        std::vector<float> cb = rnd((size_t)n_codes * dim, 701 + (uint64_t)dim, -1, 1);
        for (int i = 0; i < n_codes; i++) {
            double nrm = 0;
            for (int d = 0; d < dim; d++) nrm += (double)cb[(size_t)i * dim + d] * cb[(size_t)i * dim + d];
            for (int d = 0; d < dim; d++) cb[(size_t)i * dim + d] = (float)(cb[(size_t)i * dim + d] / sqrt(nrm));
        }
        const int tie_row = n_codes > 8 && len > 3 ? 5 : -1;   /* exact ties: rows 5, 6 and the last equal, frame 3 at them */
        if (tie_row >= 0) {
            for (int d = 0; d < dim; d++) {
                const float v = cb[(size_t)tie_row * dim + d];
                cb[(size_t)(tie_row + 1) * dim + d] = cb[(size_t)(n_codes - 1) * dim + d] = v;
                z[(size_t)d * len + 3] = 3.0f * v;
            }
        }
        size_t frames = (size_t)B * len;
        std::vector<int32_t> codes_ref(frames);
        std::vector<float> margin_ref(frames);
        srt_vq_args r = {B, dim, len, n_codes, z.data(), cb.data(), codes_ref.data(), margin_ref.data()};
        srt_op_vq_nearest(&g_ref, &r);
        int32_t *dcodes = (int32_t *)dev_of(nullptr, 0, frames + TAIL);
        float *dmargin = dev_out(frames);
        srt_vq_args c = {B, dim, len, n_codes, dev_in(z), dev_in(cb), dcodes, dmargin};
        check_status(srt_op_vq_nearest(&g_cu, &c), "vq_nearest");
        std::vector<int32_t> codes(frames);
        g_cu.ops->download(g_cu.ctx, codes.data(), dcodes, frames * sizeof(int32_t));
        int wrong = 0;
        for (size_t i = 0; i < frames; i++)   /* a decisive frame (margin > 1e-4) must get the reference code */
            wrong += margin_ref[i] > 1e-4f && codes[i] != codes_ref[i];
        TEST_CHECK(wrong == 0, "vq_nearest dim %d codes %d: %d decisive frames got another code", dim, n_codes, wrong);
        check_out("margin", dmargin, margin_ref, 1e-5, 1e-4);   /* float scores ~O(1): ~1e-6 */
        if (tie_row >= 0)
            TEST_CHECK(codes[3] == tie_row && codes_ref[3] == tie_row, "vq_nearest tie: code %d (cpu-ref %d), want the "
                       "lowest index %d", codes[3], codes_ref[3], tie_row);
        if (B > 1) {   /* batch invariance: the last item alone gets the codes it got in the batch */
            std::vector<float> z1(z.end() - (ptrdiff_t)dim * len, z.end());
            int32_t *dc1 = (int32_t *)dev_of(nullptr, 0, (size_t)len + TAIL);
            srt_vq_args c1 = {1, dim, len, n_codes, dev_in(z1), dev_in(cb), dc1, nullptr};
            check_status(srt_op_vq_nearest(&g_cu, &c1), "vq_nearest alone");
            std::vector<int32_t> codes1((size_t)len);
            g_cu.ops->download(g_cu.ctx, codes1.data(), dc1, (size_t)len * sizeof(int32_t));
            TEST_CHECK(!memcmp(codes1.data(), codes.data() + frames - len, (size_t)len * sizeof(int32_t)),
                       "vq_nearest dim %d: the last item's codes alone differ from the batch's", dim);
        }

        g_case = "embed";
        std::vector<float> yref((size_t)B * dim * len);
        srt_embed_args re = {B, dim, len, n_codes, cb.data(), codes_ref.data(), yref.data(), 0};
        srt_op_embed(&g_ref, &re);
        float *dy = dev_out(yref.size());
        int32_t *dc = (int32_t *)dev_of(codes_ref.data(), frames * sizeof(int32_t), 0);
        srt_embed_args ce = {B, dim, len, n_codes, dev_in(cb), dc, dy, 0};
        check_status(srt_op_embed(&g_cu, &ce), "embed");
        check_out("y", dy, yref, 0, 0);   /* a gather: exact */
        std::vector<int32_t> bad = codes_ref;
        bad[frames - 1] = n_codes;
        g_cu.ops->upload(g_cu.ctx, dc, bad.data(), frames * sizeof(int32_t));
        srt_status st = srt_op_embed(&g_cu, &ce);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "outside"), "embed of code %d: %s (%s)", n_codes,
                   srt_status_name(st), srt_last_error());
        end_case();
    }
}

static void elementwise_cases() {
    const int64_t n = 1025;
    const srt_unary_op ops[3] = {SRT_UNARY_TANH, SRT_UNARY_COPY, SRT_UNARY_SCALE};
    for (srt_unary_op op : ops)
        for (int inplace = 0; inplace < 2; inplace++) {
            g_case = "unary";
            std::vector<float> x = rnd((size_t)n, 800 + (uint64_t)op, -4, 4), yref((size_t)n);
            srt_unary_args r = {op, n, -1.5f, x.data(), yref.data()};
            srt_op_unary(&g_ref, &r);
            float *dx = inplace ? dev_out((size_t)n, x) : dev_in(x);
            float *dy = inplace ? dx : dev_out((size_t)n);
            srt_unary_args c = {op, n, -1.5f, dx, dy};
            check_status(srt_op_unary(&g_cu, &c), "unary");
            check_out("y", dy, yref, 1e-6, 1e-6);   /* tanhf: ~1 ulp */
            end_case();
        }
    g_case = "axpby";
    std::vector<float> x = rnd((size_t)n, 810, -1, 1), y0 = rnd((size_t)n, 811, -1, 1), yref = y0;
    srt_axpby_args r = {n, 0.3f, -1.25f, x.data(), yref.data()};
    srt_op_axpby(&g_ref, &r);
    float *dy = dev_out((size_t)n, y0);
    srt_axpby_args c = {n, 0.3f, -1.25f, dev_in(x), dy};
    check_status(srt_op_axpby(&g_cu, &c), "axpby");
    check_out("y", dy, yref, ELEM_ATOL, ELEM_RTOL);
    end_case();

    g_case = "noise_add";
    int B = 2, C = 7, L = 33;
    std::vector<float> noise = rnd((size_t)B * L, 820, -1, 1), h = rnd((size_t)B * C * L, 821, -1, 1);
    std::vector<float> x0 = rnd((size_t)B * C * L, 822, -1, 1), xref = x0;
    srt_noise_add_args rn = {B, C, L, noise.data(), h.data(), xref.data()};
    srt_op_noise_add(&g_ref, &rn);
    float *dx = dev_out(x0.size(), x0);
    srt_noise_add_args cn = {B, C, L, dev_in(noise), dev_in(h), dx};
    check_status(srt_op_noise_add(&g_cu, &cn), "noise_add");
    check_out("x", dx, xref, ELEM_ATOL, ELEM_RTOL);
    end_case();

    /* copy2d: strided block (and a repeated row, x_ld 0) into a larger y whose gaps must stay untouched */
    static const int cp[][4] = {{1, 1, 1, 1}, {7, 33, 40, 35}, {33, 7, 0, 9}, {3, 1025, 1030, 1025}};
    for (const auto &q : cp) {
        g_case = "copy2d";
        int rows = q[0], cols = q[1];
        std::vector<float> xs = rnd((size_t)(rows - 1) * q[2] + cols, 830, -1, 1);
        std::vector<float> y0 = rnd((size_t)(rows - 1) * q[3] + cols, 831, -1, 1), yref = y0;
        srt_copy2d_args rc = {rows, cols, q[2], q[3], xs.data(), yref.data()};
        srt_op_copy2d(&g_ref, &rc);
        float *dyc = dev_out(y0.size(), y0);
        srt_copy2d_args cc = {rows, cols, q[2], q[3], dev_in(xs), dyc};
        check_status(srt_op_copy2d(&g_cu, &cc), "copy2d");
        check_out("y", dyc, yref, 0, 0);
        end_case();
    }

    /* copy2d_batch (the streaming push's windows): blocks of different sizes in one launch, two of them
     * interleaved column ranges of one (rows, 40) window, a repeated row (x_ld 0), an empty block and one larger
     * than the grid (64 x 256 threads) so the block loops; gaps of y stay untouched. cpu-ref has no entry: the
     * dispatch layer's per-block copy2d is the reference. */
    {
        g_case = "copy2d_batch";
        std::vector<float> xs = rnd(40000, 840, -1, 1), y0 = rnd(60000, 841, -1, 1), yref = y0;
        /* rows, cols, x_ld, y_ld, x offset, y offset */
        static const int bq[][6] = {{9, 25, 31, 40, 3, 0},     {9, 15, 17, 40, 500, 25}, {5, 1, 0, 1, 7, 400},
                                    {0, 12, 12, 12, 0, 500},   {1, 1, 1, 1, 39999, 511}, {3, 7000, 9000, 7000, 11000, 520},
                                    {33, 7, 0, 9, 600, 30000}, {2, 33, 33, 33, 900, 40000}};
        std::vector<srt_copy2d_args> rb, cb;
        float *dx = dev_in(xs), *dyb = dev_out(y0.size(), y0);
        for (const auto &q : bq) {
            rb.push_back({q[0], q[1], q[2], q[3], xs.data() + q[4], yref.data() + q[5]});
            cb.push_back({q[0], q[1], q[2], q[3], dx + q[4], dyb + q[5]});
        }
        srt_copy2d_batch_args ra = {(int)rb.size(), rb.data(), nullptr}, ca = {(int)cb.size(), cb.data(), nullptr};
        check_status(srt_op_copy2d_batch(&g_ref, &ra), "copy2d_batch (cpu-ref)");
        check_status(srt_op_copy2d_batch(&g_cu, &ca), "copy2d_batch");
        check_out("y", dyb, yref, 0, 0);
        /* the table already on the device (items_dev): it is read there, not from the host items (which still
         * point at dyb: ignoring items_dev would leave dyd untouched) */
        float *dyd = dev_out(y0.size(), y0);
        std::vector<srt_copy2d_args> cd = cb;
        for (auto &it : cd) it.y = dyd + (it.y - dyb);
        const void *table = dev_of(cd.data(), cd.size() * sizeof(srt_copy2d_args), 0);
        srt_copy2d_batch_args da = {(int)cb.size(), cb.data(), (const srt_copy2d_args *)table};
        check_status(srt_op_copy2d_batch(&g_cu, &da), "copy2d_batch (items_dev)");
        check_out("y (items_dev)", dyd, yref, 0, 0);
        end_case();
    }
}

int main(void) {
    /* the split GEMM's f32-level bound: the cuda backend's exact LM path (the bf16 default: test_cudasim_lm_bf16) */
    setenv("SNACRT_CUDA_LM_PRECISION", "exact", 1);
    srt_status st = test_cudasim_backends(&g_ref, &g_cu);
    if (st != SRT_OK) TEST_MAIN_END();
    TEST_CHECK(!strcmp(g_cu.ops->name, "cuda") && !strcmp(g_cu.device, "cuda:0"), "backend %s device %s", g_cu.ops->name,
               g_cu.device);
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 1234);
        int failed_before = test_failed_count;
        conv_cases();
        conv_batch_invariance();
        snake_cases();
        gemm_cases();
        gemm_split_bf16_cases();
        layernorm_cases();
        transpose_cases();
        attention_cases();
        pool_upsample_cases();
        vq_embed_cases();
        elementwise_cases();
        TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        printf("%s order: %d failures, %llu launches and %llu simulated threads so far\n", cudasim_order_name(order),
               test_failed_count - failed_before, (unsigned long long)cudasim_launch_count(),
               (unsigned long long)cudasim_thread_count());
        cudasim_clear_error();
    }
    /* precision modes of the dense convs: a cuda backend created with SNACRT_CUDA_PRECISION set; "fp32 igemm" is
     * precision fp32 through the FMA implicit GEMM (SNACRT_CUDA_FP32_IGEMM=1) instead of im2col + cuBLAS, at the
     * fp32 tolerance (CONV_ATOL: the same products summed in another order, Snake by the fast sin, |err| < 1e-6) */
    const struct { const char *name, *env, *value; double atol, rtol; } modes[3] = {
        {"fp32 igemm", "SNACRT_CUDA_FP32_IGEMM", "1", CONV_ATOL, CONV_RTOL},
        {"tf32", "SNACRT_CUDA_PRECISION", "tf32", TF32_ATOL, TF32_RTOL},
        {"bf16", "SNACRT_CUDA_PRECISION", "bf16", BF16_ATOL, BF16_RTOL}};
    srt_backend fp32 = g_cu;
    for (const auto &m : modes) {
        setenv(m.env, m.value, 1);
        st = srt_backend_create("cuda", 0, &g_cu);
        unsetenv(m.env);
        TEST_CHECK(st == SRT_OK, "cuda backend in %s mode: %s", m.name, srt_last_error());
        if (st != SRT_OK) continue;
        g_conv_atol = m.atol;
        g_conv_rtol = m.rtol;
        for (cudasim_order order : orders) {
            cudasim_set_order(order, 1234);
            int failed_before = test_failed_count;
            igemm_cases();
            igemm_cols_identity();
            conv_batch_invariance();
            /* the batch of 3 folds its split ranges in the block (18 blocks counted as a full grid; the item alone,
             * 6 conv / 15 transposed blocks, still launches its splits): the same bits (conv_igemm.cuh fold_rows) */
            srt_cuda_igemm_set_fold_blocks(18);
            conv_batch_invariance();
            srt_cuda_igemm_set_fold_blocks(0);
            TEST_CHECK(cudasim_error_count() == 0, "%s, %s order: the simulator reported: %s", m.name,
                       cudasim_order_name(order), cudasim_last_error());
            printf("%s mode, %s order: %d failures\n", m.name, cudasim_order_name(order),
                   test_failed_count - failed_before);
            cudasim_clear_error();
        }
        srt_backend_destroy(&g_cu);
    }
    g_cu = fp32;
    g_conv_atol = CONV_ATOL;
    g_conv_rtol = CONV_RTOL;
    cudasim_set_order(CUDASIM_FORWARD, 1234);
    gemm_bf16_tensor_core_cases();
    gemm_split_bf16_chunked();
    TEST_CHECK(cudasim_error_count() == 0, "bf16 tensor-core gemm: the simulator reported: %s", cudasim_last_error());
    srt_backend_destroy(&g_cu);
    TEST_MAIN_END();
}
