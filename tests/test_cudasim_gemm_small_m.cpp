/* test_cudasim_gemm_small_m.cpp: the decode GEMM (cuda/gemm_small_m.cuh) in the CUDA simulator against cpu-ref, in
 * forward, reverse and random thread order:
 *   - plain C = alpha A B^T + beta C through the backend's gemm, on shapes that take split-K (few column tiles, long
 *     K: the last-arriving block reduces the splits) and shapes that do not, 16-byte and 2-byte load paths;
 *   - linear_fused (lm_ops.h): fused q|k|v (SPLIT3) and interleaved gate|up + SwiGLU (SWIGLU) against cpu-ref, which
 *     has no such op and runs the parts as plain GEMMs + swiglu (srt_linear_fused_by_ops): the same values;
 *   - both with the RMSNorm prologue (norm_w: cpu-ref runs its rmsnorm op first) and without;
 *   - rows 1, 7, 16 (the kernel: a backend with SNACRT_CUDA_SMALL_M_ROWS=16) and 33 (cuBLAS);
 *   - above the exact precision's small-M rows (SRT_CUDA_SMALL_M_ROWS_EXACT), the split tensor-core path with its fused
 *     epilogues (cuda/lm_linear_split.c: the norm inside the split, q|k|v / SwiGLU in the sum), rows 5, 9, 16, 17, 33,
 *     on shapes that take the 16-byte paths of gemm_split_bf16.cuh (widths multiples of 8) and shapes that do not.
 * Tolerance: f32 accumulation over K <= 4104 products of |x| <= 1, |w| <= 0.05 against cpu-ref's double sums:
 * atol 2e-5 + rtol 1e-4 (as the other reductions in test_cudasim_backend.cpp); SwiGLU adds one expf (same bound).
 * Also: the split-K counters are left at zero (a second identical launch gives the same result). */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/cudasim_gemm_case.h"
#include <stdlib.h>
#include <vector>

static std::vector<uint16_t> to_bf16(const std::vector<float> &f) {
    std::vector<uint16_t> h(f.size());
    for (size_t i = 0; i < f.size(); i++) h[i] = srt_f32_to_bf16(f[i]);
    return h;
}

/* x as the cuda backend multiplies it (f32 at every row count; above the small-M rows as bf16 hi + lo, f32-level:
 * SNACRT_CUDA_LM_PRECISION=exact, set in main) */
static std::vector<float> ref_x(const std::vector<float> &x, int rows) {
    (void)rows;
    return x;
}

static void plain_case(int M, int N, int K, float beta, uint64_t seed) {
    char what[96];
    snprintf(what, sizeof what, "gemm M %d N %d K %d beta %g", M, N, K, beta);
    std::vector<float> A = rnd((size_t)M * K, seed, -1, 1), W = rnd((size_t)N * K, seed + 1, -0.05f, 0.05f);
    std::vector<uint16_t> Wh = to_bf16(W);
    std::vector<float> C0 = rnd((size_t)M * N, seed + 2, -1, 1), Cref = C0, Ar = ref_x(A, M);
    srt_gemm_args r = {M, N, K, 0, 1, 0.75f, beta, Ar.data(), K, Wh.data(), K, SRT_BF16, Cref.data(), N, nullptr};
    TEST_CHECK(srt_op_gemm(&g_ref, &r) == SRT_OK, "%s: cpu-ref: %s", what, srt_last_error());
    for (int rep = 0; rep < 2; rep++) {      /* twice: the split-K counters must be back at zero */
        float *dC = (float *)dev_of(C0.data(), C0.size() * 4);
        srt_gemm_args c = {M, N, K, 0, 1, 0.75f, beta, (float *)dev_of(A.data(), A.size() * 4), K,
                           dev_of(Wh.data(), Wh.size() * 2), K, SRT_BF16, dC, N, nullptr};
        TEST_CHECK(srt_op_gemm(&g_cu, &c) == SRT_OK, "%s: cuda: %s", what, srt_last_error());
        expect(what, dC, Cref);
        end_case();
    }
}

/* x normalized on the host the way the rmsnorm op does it (double sums), when norm is set; the reference then runs
 * without a norm */
static std::vector<float> ref_in(const std::vector<float> &x, int rows, int K, const std::vector<float> &norm_w) {
    return ref_x(ref_normed(x, rows, K, norm_w), rows);
}

static void split3_case(int rows, int n0, int n1, int n2, int K, bool norm, uint64_t seed) {
    char what[112];
    snprintf(what, sizeof what, "linear_fused qkv rows %d N %d+%d+%d K %d norm %d", rows, n0, n1, n2, K, (int)norm);
    int N = n0 + n1 + n2;
    std::vector<float> x = rnd((size_t)rows * K, seed, -1, 1), W = rnd((size_t)N * K, seed + 1, -0.05f, 0.05f);
    std::vector<float> nw = norm ? rnd((size_t)K, seed + 2, 0.5f, 1.5f) : std::vector<float>();
    std::vector<uint16_t> Wh = to_bf16(W);
    std::vector<float> xr = ref_in(x, rows, K, nw), y0((size_t)rows * n0), y1((size_t)rows * n1), y2((size_t)rows * n2);
    srt_linear_fused_args r = {rows, N, K, SRT_LINEAR_SPLIT3, n0, n1, xr.data(), Wh.data(), SRT_BF16,
                               y0.data(), y1.data(), y2.data(), nullptr, 0.0f, nullptr, nullptr};
    TEST_CHECK(srt_op_linear_fused(&g_ref, &r) == SRT_OK, "%s: cpu-ref: %s", what, srt_last_error());
    std::vector<float> nan0(y0.size(), NAN), nan1(y1.size(), NAN), nan2(y2.size(), NAN);
    float *d0 = (float *)dev_of(nan0.data(), nan0.size() * 4), *d1 = (float *)dev_of(nan1.data(), nan1.size() * 4);
    float *d2 = (float *)dev_of(nan2.data(), nan2.size() * 4);
    srt_linear_fused_args c = {rows, N, K, SRT_LINEAR_SPLIT3, n0, n1, (float *)dev_of(x.data(), x.size() * 4),
                               dev_of(Wh.data(), Wh.size() * 2), SRT_BF16, d0, d1, d2,
                               norm ? (float *)dev_of(nw.data(), nw.size() * 4) : nullptr, 1e-5f,
                               (float *)dev_of(x.data(), x.size() * 4), nullptr};
    TEST_CHECK(srt_op_linear_fused(&g_cu, &c) == SRT_OK, "%s: cuda: %s", what, srt_last_error());
    expect(what, d0, y0);
    expect(what, d1, y1);
    expect(what, d2, y2);
    end_case();
}

static void swiglu_case(int rows, int inter, int K, bool norm, uint64_t seed) {
    char what[112];
    snprintf(what, sizeof what, "linear_fused gate|up rows %d I %d K %d norm %d", rows, inter, K, (int)norm);
    int N = 2 * inter;
    std::vector<float> x = rnd((size_t)rows * K, seed, -1, 1), W = rnd((size_t)N * K, seed + 1, -0.05f, 0.05f);
    std::vector<float> nw = norm ? rnd((size_t)K, seed + 2, 0.5f, 1.5f) : std::vector<float>();
    std::vector<uint16_t> Wh = to_bf16(W);
    std::vector<float> xr = ref_in(x, rows, K, nw), y0((size_t)rows * inter), y1((size_t)rows * inter);
    srt_linear_fused_args r = {rows, N, K, SRT_LINEAR_SWIGLU, 0, 0, xr.data(), Wh.data(), SRT_BF16,
                               y0.data(), y1.data(), nullptr, nullptr, 0.0f, nullptr, nullptr};
    TEST_CHECK(srt_op_linear_fused(&g_ref, &r) == SRT_OK, "%s: cpu-ref: %s", what, srt_last_error());
    std::vector<float> nan0(y0.size(), NAN);
    float *d0 = (float *)dev_of(nan0.data(), nan0.size() * 4), *d1 = (float *)dev_of(nan0.data(), nan0.size() * 4);
    srt_linear_fused_args c = {rows, N, K, SRT_LINEAR_SWIGLU, 0, 0, (float *)dev_of(x.data(), x.size() * 4),
                               dev_of(Wh.data(), Wh.size() * 2), SRT_BF16, d0, d1, nullptr,
                               norm ? (float *)dev_of(nw.data(), nw.size() * 4) : nullptr, 1e-5f,
                               (float *)dev_of(x.data(), x.size() * 4), nullptr};
    TEST_CHECK(srt_op_linear_fused(&g_cu, &c) == SRT_OK, "%s: cuda: %s", what, srt_last_error());
    expect(what, d0, y0);
    end_case();
}

int main(void) {
    /* f32 tolerances: the cuda backend's exact LM path (the bf16 default: test_cudasim_lm_bf16) */
    setenv("SNACRT_CUDA_LM_PRECISION", "exact", 1);
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &g_ref) == SRT_OK, "cpu-ref: %s", srt_last_error());
    srt_backend split;
    srt_status st = srt_backend_create("cuda", 0, &split);
    TEST_CHECK(st == SRT_OK, "cuda in the simulator build: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    setenv("SNACRT_CUDA_SMALL_M_ROWS", "16", 1);
    st = srt_backend_create("cuda", 0, &g_cu);
    unsetenv("SNACRT_CUDA_SMALL_M_ROWS");
    TEST_CHECK(st == SRT_OK, "cuda with SNACRT_CUDA_SMALL_M_ROWS=16: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    srt_backend kernel16 = g_cu;
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 99);
        plain_case(7, 33, 4104, 0.5f, 10);   /* 2 tiles: split-K over 8 slices, 16-byte loads, beta */
        plain_case(1, 1025, 1025, 0.0f, 20); /* odd K: 2-byte loads, split-K by 2 */
        plain_case(16, 7, 2048, 1.0f, 30);   /* 2 passes of 8 rows, one tile, split-K, residual (beta 1) */
        plain_case(1, 7, 33, 0.0f, 40);      /* no split */
        for (int norm = 0; norm < 2; norm++) {
            split3_case(1, 64, 16, 16, 1024, norm, 50);
            split3_case(7, 33, 7, 7, 1025, norm, 60);
            split3_case(33, 33, 7, 7, 1024, norm, 70);
            swiglu_case(1, 48, 1024, norm, 80);
            swiglu_case(7, 1025, 33, norm, 90);
            swiglu_case(16, 7, 2048, norm, 100);
            swiglu_case(33, 33, 1024, norm, 110);
        }
        /* the default rows limit: above it the split path and its fused epilogues */
        g_cu = split;
        plain_case(9, 40, 1024, 1.0f, 120);    /* 16-byte split and sum, residual (beta 1) */
        plain_case(17, 7, 33, 0.5f, 130);      /* one element per thread */
        plain_case(5, 16, 64, 0.0f, 135);      /* just above the default limit */
        for (int norm = 0; norm < 2; norm++) {
            split3_case(9, 64, 16, 16, 1024, norm, 140);    /* 16-byte paths */
            split3_case(17, 33, 7, 7, 1025, norm, 150);     /* scalar paths */
            split3_case(33, 24, 8, 8, 64, norm, 160);
            swiglu_case(16, 48, 1024, norm, 170);           /* 16-byte paths */
            swiglu_case(17, 7, 33, norm, 180);              /* scalar paths */
            swiglu_case(33, 1024, 8, norm, 190);
        }
        g_cu = kernel16;
        TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        cudasim_clear_error();
    }
    srt_backend_destroy(&split);
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
