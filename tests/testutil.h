/* testutil.h: a tiny test framework for snacrt's C tests.
 * TEST_CHECK(cond, fmt, ...) counts a check; TEST_MAIN_END() prints "N passed, N failed" and returns the exit code.
 * Helpers: seeded random floats, array comparison with atol + rtol*|ref|, paths into the source tree. */
#ifndef SRT_TESTUTIL_H
#define SRT_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_count = 0, test_failed_count = 0;

#define TEST_CHECK(cond, ...) do { \
    if (cond) { test_passed_count++; } \
    else { test_failed_count++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
           fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

#define TEST_MAIN_END() do { \
    printf("%d passed, %d failed\n", test_passed_count, test_failed_count); \
    return test_failed_count ? 1 : 0; } while (0)

/* Deterministic xorshift generator for test inputs. */
static inline uint64_t test_rng_next(uint64_t *s) {
    uint64_t x = *s; x ^= x << 13; x ^= x >> 7; x ^= x << 17; return *s = x;
}
/* Uniform in [lo, hi). */
static inline float test_rand_uniform(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((test_rng_next(s) >> 40) * (1.0 / 16777216.0));
}
static inline void test_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 2654435761u + 88172645463325252ull;
    for (size_t i = 0; i < n; i++) x[i] = test_rand_uniform(&s, lo, hi);
}

/* Largest violation of |got-ref| <= atol + rtol*|ref| (<= 0 means all within); NaN/Inf in got count as failures.
 * *worst_index receives the index of the worst element. */
static inline double test_compare(const float *got, const float *ref, size_t n, double atol, double rtol,
                                  size_t *worst_index, double *max_abs_err) {
    double worst = -INFINITY, maxerr = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)ref[i]);
        if (!isfinite(got[i]) && isfinite(ref[i])) err = INFINITY;
        double excess = err - (atol + rtol * fabs((double)ref[i]));
        if (excess > worst) { worst = excess; wi = i; }
        if (err > maxerr) maxerr = err;
    }
    if (worst_index) *worst_index = wi;
    if (max_abs_err) *max_abs_err = maxerr;
    return n ? worst : 0;
}

/* A malloc'd (n) float array, uniform in [lo, hi) from `seed` (at least one element allocated). */
static inline float *test_alloc_uniform(size_t n, uint64_t seed, float lo, float hi) {
    float *x = (float *)malloc(sizeof(float) * (n ? n : 1));
    if (x) test_fill_uniform(x, n, seed, lo, hi);
    return x;
}

/* One check: got (n) within atol + rtol*|ref| of ref (n), naming `what` and `shape` and the worst element. */
static inline void test_expect_close(const char *what, int shape, const float *got, const float *ref, size_t n,
                                     double atol, double rtol) {
    size_t wi;
    double maxerr;
    double worst = test_compare(got, ref, n, atol, rtol, &wi, &maxerr);
    TEST_CHECK(worst <= 0, "%s (shape %d): element %zu got %g want %g (max abs err %g)", what, shape, wi,
               (double)got[wi], (double)ref[wi], maxerr);
}

/* The backends a test runs on: SNACRT_TEST_BACKENDS (comma-separated, e.g. "cuda") or `fallback`, copied into
 * buf for TEST_FOR_EACH_BACKEND to split. */
static inline char *test_backend_list(const char *fallback, char *buf, size_t cap) {
    const char *env = getenv("SNACRT_TEST_BACKENDS");
    snprintf(buf, cap, "%s", env && *env ? env : fallback);
    return buf;
}
/* for (each backend name `be` of test_backend_list(fallback)) body */
#define TEST_FOR_EACH_BACKEND(be, fallback)                                                                  \
    for (char test_list_[256], *test_save_ = NULL, *be = strtok_r(test_backend_list(fallback, test_list_,      \
                                                                                    sizeof test_list_),       \
                                                                  ",", &test_save_);                          \
         be; be = strtok_r(NULL, ",", &test_save_))

/* Path of a file in the source tree (SNACRT_SRC set by ctest, else the current directory). */
static inline const char *test_src_path(const char *rel, char *buf, size_t cap) {
    const char *root = getenv("SNACRT_SRC");
    snprintf(buf, cap, "%s/%s", root ? root : ".", rel);
    return buf;
}
static inline const char *test_bin_path(const char *rel, char *buf, size_t cap) {
    const char *root = getenv("SNACRT_BIN");
    snprintf(buf, cap, "%s/%s", root ? root : "build", rel);
    return buf;
}

#endif
