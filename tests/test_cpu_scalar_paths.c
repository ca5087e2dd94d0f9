/* test_cpu_scalar_paths.c: the scalar fallbacks of the cpu backend's Snake, tanh (unary) and depthwise conv1d,
 * which an AVX2 machine never takes on its own, forced with srt_cpu_force_scalar and compared with cpu-ref on odd
 * lengths (1, 7, 33, 1025); the AVX2 paths are compared too, so both sides of each dispatch are covered.
 * Tolerances (f32 outputs, cpu-ref accumulates in double): Snake scalar is sin() in double then rounded, AVX2 a
 * polynomial: 2e-6 abs + 2e-6 rel; tanh: tanhf / polynomial, 2e-6 abs + 2e-6 rel; depthwise conv (k 7, f32 sums
 * of 7 products + bias + residual): 1e-5 abs + 1e-5 rel. */
#include "backend.h"
#include "cpu/cpu_ops.h"
#include "testutil.h"

static srt_backend g_ref;

static void expect_close(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    size_t worst = 0;
    double max_abs = 0, v = test_compare(got, want, n, atol, rtol, &worst, &max_abs);
    TEST_CHECK(v <= 0, "%s: element %zu got %.9g want %.9g (max abs err %g)", what, worst, got[worst], want[worst],
               max_abs);
}

static void snake_and_tanh(srt_backend *cpu, const char *path, int len) {
    const int B = 2, C = 3;
    size_t n = (size_t)B * C * len;
    float *x = malloc(sizeof(float) * n), *alpha = malloc(sizeof(float) * C);
    float *y_ref = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    test_fill_uniform(x, n, 11 + (uint64_t)len, -6.0f, 6.0f);
    test_fill_uniform(alpha, C, 12, 0.1f, 3.0f);
    char what[96];
    srt_snake_args s = {B, C, len, x, alpha, y_ref};
    TEST_CHECK(srt_op_snake(&g_ref, &s) == SRT_OK, "cpu-ref snake");
    s.y = y;
    TEST_CHECK(srt_op_snake(cpu, &s) == SRT_OK, "cpu snake");
    snprintf(what, sizeof what, "snake %s len %d", path, len);
    expect_close(what, y, y_ref, n, 2e-6, 2e-6);
    srt_unary_args u = {SRT_UNARY_TANH, (int64_t)n, 1.0f, x, y_ref};
    TEST_CHECK(srt_op_unary(&g_ref, &u) == SRT_OK, "cpu-ref tanh");
    u.y = y;
    TEST_CHECK(srt_op_unary(cpu, &u) == SRT_OK, "cpu tanh");
    snprintf(what, sizeof what, "tanh %s len %d", path, len);
    expect_close(what, y, y_ref, n, 2e-6, 2e-6);
    free(x); free(alpha); free(y_ref); free(y);
}

/* depthwise k 7 (dilation 3, padding 9: same length), Snake on the input, bias, residual, item 1 masked */
static void depthwise(srt_backend *cpu, const char *path, int len) {
    const int B = 2, C = 5, K = 7, dil = 3, pad = 9;
    size_t n = (size_t)B * C * len;
    float *x = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * C * K), *bias = malloc(sizeof(float) * C);
    float *alpha = malloc(sizeof(float) * C), *res = malloc(sizeof(float) * n);
    float *y_ref = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    test_fill_uniform(x, n, 21 + (uint64_t)len, -1.0f, 1.0f);
    test_fill_uniform(w, (size_t)C * K, 22, -0.4f, 0.4f);
    test_fill_uniform(bias, C, 23, -0.1f, 0.1f);
    test_fill_uniform(alpha, C, 24, 0.2f, 2.0f);
    test_fill_uniform(res, n, 25, -1.0f, 1.0f);
    int valid[2] = {len, len / 2};
    srt_conv1d_args a = {B, C, C, len, len, K, 1, dil, pad, C, x, w, bias, alpha, res, valid, y_ref, 0 /* w_static */, 0 /* res_ld */};
    TEST_CHECK(srt_op_conv1d(&g_ref, &a) == SRT_OK, "cpu-ref depthwise: %s", srt_last_error());
    a.y = y;
    TEST_CHECK(srt_op_conv1d(cpu, &a) == SRT_OK, "cpu depthwise: %s", srt_last_error());
    char what[96];
    snprintf(what, sizeof what, "depthwise conv %s len %d", path, len);
    expect_close(what, y, y_ref, n, 1e-5, 1e-5);
    free(x); free(w); free(bias); free(alpha); free(res); free(y_ref); free(y);
}

int main(void) {
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &g_ref) == SRT_OK, "cpu-ref: %s", srt_last_error());
    const int lens[] = {1, 7, 33, 1025};
    for (int scalar = 0; scalar < 2; scalar++) {
        srt_cpu_force_scalar(scalar);
        const char *path = scalar ? "scalar" : (srt_cpu_has_avx2() ? "avx2" : "scalar (no avx2 here)");
        if (scalar) TEST_CHECK(!srt_cpu_has_avx2(), "srt_cpu_force_scalar(1) hides AVX2");
        srt_backend cpu;   /* created while forced: its depthwise conv reads has_avx2 at creation */
        TEST_CHECK(srt_backend_create("cpu", 2, &cpu) == SRT_OK, "cpu: %s", srt_last_error());
        for (int i = 0; i < 4; i++) {
            snake_and_tanh(&cpu, path, lens[i]);
            depthwise(&cpu, path, lens[i]);
        }
        srt_backend_destroy(&cpu);
    }
    srt_cpu_force_scalar(0);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
