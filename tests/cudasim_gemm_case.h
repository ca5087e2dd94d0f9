/* cudasim_gemm_case.h: the shared frame of the decode-GEMM op tests in the simulator (test_cudasim_gemm_small_m.cpp,
 * test_cudasim_int8.cpp): cpu-ref and the "cuda" backend, random inputs, device buffers kept per case and freed by
 * end_case(), the comparison of a device result against cpu-ref's (atol 2e-5 + rtol 1e-4: f32 sums over K <= ~4k
 * products of |x| <= 1, |w| <= 0.05 against double, derived in either test's header) and the RMSNorm prologue's
 * reference input. One test file per program: it defines the globals. Include after backend.h, lm/lm_ops.h,
 * cudasim_api.h and testutil.h. */
#ifndef SRT_TESTS_CUDASIM_GEMM_CASE_H
#define SRT_TESTS_CUDASIM_GEMM_CASE_H

#include <vector>

static srt_backend g_ref, g_cu;
static const double ATOL = 2e-5, RTOL = 1e-4;
static std::vector<void *> g_dev;

static inline std::vector<float> rnd(size_t n, uint64_t seed, float lo, float hi) {
    std::vector<float> v(n);
    test_fill_uniform(v.data(), n, seed, lo, hi);
    return v;
}

/* bytes of host in a new buffer of g_cu, kept until end_case() */
static inline void *dev_of(const void *host, size_t bytes) {
    void *d = nullptr;
    TEST_CHECK(g_cu.ops->alloc(g_cu.ctx, bytes ? bytes : 4, &d) == SRT_OK, "alloc: %s", srt_last_error());
    if (d && bytes) g_cu.ops->upload(g_cu.ctx, d, host, bytes);
    g_dev.push_back(d);
    return d;
}
static inline float *dev_f(const std::vector<float> &v) { return (float *)dev_of(v.data(), v.size() * 4); }

/* the device result dev against ref within ATOL + RTOL (one check, naming what and the thread order) */
static inline void expect(const char *what, const float *dev, const std::vector<float> &ref) {
    std::vector<float> got(ref.size());
    TEST_CHECK(g_cu.ops->download(g_cu.ctx, got.data(), dev, got.size() * sizeof(float)) == SRT_OK, "%s: download",
               what);
    size_t worst = 0;
    double maxerr = 0;
    double excess = test_compare(got.data(), ref.data(), ref.size(), ATOL, RTOL, &worst, &maxerr);
    TEST_CHECK(excess <= 0, "%s [%s order]: element %zu is %.9g, reference %.9g (max abs err %.3g)", what,
               cudasim_order_name(cudasim_get_order()), worst, ref.empty() ? 0.0 : got[worst],
               ref.empty() ? 0.0 : ref[worst], maxerr);
}

static inline void end_case() {
    for (void *d : g_dev) g_cu.ops->free(g_cu.ctx, d);
    g_dev.clear();
}

/* x (rows, K) normalized by cpu-ref's rmsnorm op (eps 1e-5) when norm_w is set, else x: the reference then runs
 * without a norm */
static inline std::vector<float> ref_normed(const std::vector<float> &x, int rows, int K,
                                            const std::vector<float> &norm_w) {
    std::vector<float> n = x;
    if (!norm_w.empty()) {
        srt_rmsnorm_args a = {rows, K, 1e-5f, x.data(), norm_w.data(), n.data()};
        TEST_CHECK(srt_op_rmsnorm(&g_ref, &a) == SRT_OK, "cpu-ref rmsnorm: %s", srt_last_error());
    }
    return n;
}

#endif
