/* test_fp8_e4m3.c: the fp8 e4m3 conversions of host/dtype.c (the KV cache's fp8 codes; cuda/lm_kv_dtype.cuh does the
 * same bit for bit: tests/test_cudasim_fp8.cpp) against a reference written from the format's definition:
 *  - decode, all 256 codes: (-1)^s 2^(e-7) (1 + m/8), subnormals m 2^-9, 0x7f / 0xff NaN;
 *  - encode: every code's value maps back to its code (both zeros keep their sign); every midpoint between two
 *    neighbouring codes (ties: to the even code) and the floats one ulp either side of it; the saturation edge
 *    (448, 464, 480, FLT_MAX, infinity -> 448); NaN -> 0x7f; and one f32 bit pattern in every 4099, each against
 *    the nearest finite e4m3 value found by search (ties to even, beyond 448 -> 448);
 *  - the row scale: a power of two s with amax / s <= 448 (and > 224 unless the 2^-126 floor binds), 1 at 0 and
 *    infinity, and x / s exact for the row's values. */
#include "testutil.h"
#include "weights/weights.h"
#include <float.h>

static double ref_decode(int c) {
    int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
    if ((c & 0x7f) == 0x7f) return NAN;
    double v = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m, -9);
    return s ? -v : v;
}

/* The reference encoder: nearest finite code by search, ties to the even code, beyond 448 -> 448. */
static int ref_encode(float x) {
    if (isnan(x)) return 0x7f;
    int sign = signbit(x) ? 0x80 : 0;
    double a = fabs((double)x);
    if (a >= 448.0) return sign | 0x7e;
    int best = 0;
    for (int c = 1; c <= 0x7e; c++) {
        double d = fabs(ref_decode(c) - a), db = fabs(ref_decode(best) - a);
        if (d < db || (d == db && !(c & 1))) best = c;
    }
    return sign | best;
}

static float next_up(float x) { return nextafterf(x, INFINITY); }
static float next_down(float x) { return nextafterf(x, -INFINITY); }

static int bits_equal(float a, float b) { return memcmp(&a, &b, 4) == 0; }

int main(void) {
    /* decode: all 256 codes */
    for (int c = 0; c < 256; c++) {
        double r = ref_decode(c);
        float f = srt_e4m3_to_f32((uint8_t)c);
        TEST_CHECK(isnan(r) ? isnan(f) && !!signbit(f) == !!(c & 0x80) : (double)f == r && !!signbit(f) == !!(c & 0x80),
                   "decode 0x%02x: %.9g, reference %.9g", c, f, r);
    }
    TEST_CHECK(srt_e4m3_to_f32(0x7e) == 448.0f && srt_e4m3_to_f32(0x01) == 0x1p-9f && srt_e4m3_to_f32(0x08) == 0x1p-6f,
               "decode landmarks: max 448, min subnormal 2^-9, min normal 2^-6");
    /* encode: every value, every midpoint and its neighbours */
    int n = 0;
    for (int c = 0; c < 256; c++) {
        if ((c & 0x7f) == 0x7f) continue;
        float v = (float)ref_decode(c);
        int got = srt_f32_to_e4m3(v);
        TEST_CHECK(got == c, "encode(decode(0x%02x) = %.9g) = 0x%02x", c, v, got);
        if ((c & 0x7f) < 0x7e) {                     /* midpoint to the next larger magnitude: a tie */
            float mid = (float)((ref_decode(c) + ref_decode(c + 1)) / 2);   /* exact in f32 */
            float xs[3] = {mid, next_down(mid), next_up(mid)};
            if (c & 0x80) { xs[1] = next_up(mid); xs[2] = next_down(mid); }
            int want[3] = {(c & 1) ? c + 1 : c, c, c + 1};
            for (int i = 0; i < 3; i++) {
                int g = srt_f32_to_e4m3(xs[i]);
                TEST_CHECK(g == want[i] && g == ref_encode(xs[i]), "encode(%.9g) = 0x%02x, want 0x%02x (reference 0x%02x)",
                           xs[i], g, want[i], ref_encode(xs[i]));
                n++;
            }
        }
    }
    const float sat[] = {448.0f, next_up(448.0f), 464.0f, next_up(464.0f), 480.0f, 1e6f, FLT_MAX, INFINITY};
    for (size_t i = 0; i < sizeof sat / sizeof sat[0]; i++) {
        TEST_CHECK(srt_f32_to_e4m3(sat[i]) == 0x7e && srt_f32_to_e4m3(-sat[i]) == 0xfe, "saturate %.9g", sat[i]);
    }
    TEST_CHECK(srt_f32_to_e4m3(NAN) == 0x7f && srt_f32_to_e4m3(-NAN) == 0x7f, "NaN -> 0x7f");
    TEST_CHECK(srt_f32_to_e4m3(0x1p-10f) == 0x00 && srt_f32_to_e4m3(next_up(0x1p-10f)) == 0x01 &&
               srt_f32_to_e4m3(-0x1p-10f) == 0x80 && srt_f32_to_e4m3(FLT_TRUE_MIN) == 0x00,
               "underflow: half the smallest subnormal rounds to 0 (even), above it to 2^-9");
    /* f32 bit patterns, one in every 4099 */
    int bad = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        uint32_t w = (uint32_t)u;
        float x;
        memcpy(&x, &w, 4);
        int g = srt_f32_to_e4m3(x), r = ref_encode(x);
        if (g != r && bad++ < 5) TEST_CHECK(0, "encode bits 0x%08x (%.9g) = 0x%02x, reference 0x%02x", w, x, g, r);
        n++;
    }
    TEST_CHECK(bad == 0, "%d of %d sampled f32 inputs encode differently from the reference", bad, n);
    /* the row scale */
    const float amaxes[] = {1e-38f, 0x1p-20f, 0.3f, 1.0f, 224.0f, 448.0f, 449.0f, 896.0f, 1e30f, FLT_MAX};
    for (size_t i = 0; i < sizeof amaxes / sizeof amaxes[0]; i++) {
        float a = amaxes[i], s = srt_e4m3_row_scale(a);
        int e;
        TEST_CHECK(frexpf(s, &e) == 0.5f && a / s <= 448.0f && (a / s > 224.0f || s == 0x1p-126f),
                   "row scale of %.9g: %.9g (amax / s %.9g)", a, s, a / s);
        TEST_CHECK(bits_equal(a / s * s, a), "amax / scale exact at %.9g", a);
    }
    TEST_CHECK(srt_e4m3_row_scale(0.0f) == 1.0f && srt_e4m3_row_scale(FLT_TRUE_MIN) == 1.0f &&
               srt_e4m3_row_scale(INFINITY) == 1.0f, "row scale at 0, where amax / 448 underflows, and infinity");
    printf("fp8 e4m3: 256 codes decoded, %d inputs encoded against the reference\n", n);
    TEST_MAIN_END();
}
