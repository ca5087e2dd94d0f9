/* test_cudasim_fp8.cpp: the device fp8 e4m3 conversions (cuda/lm_kv_dtype.cuh: srt_kv_f32_to_e4m3,
 * srt_kv_e4m3_to_f32, srt_kv_e4m3_row_scale, compiled by g++ against tests/cudasim as the kernels are) equal the
 * host ones (host/dtype.c, checked against the format's definition by test_fp8_e4m3) bit for bit: all 256 codes
 * decoded; every code's value, every tie between neighbouring codes and the floats one ulp either side encoded; and
 * one f32 bit pattern in every 257 (16.7 M inputs: every exponent, NaNs, infinities) encoded and scaled. */
extern "C" {
#include "backend.h"
#include "weights/weights.h"
}
#include "cudasim.h"
#include "cuda/lm_kv_dtype.cuh"
#include "tests/testutil.h"

int main(void) {
    for (unsigned c = 0; c < 256; c++) {
        float d = srt_kv_e4m3_to_f32(c), h = srt_e4m3_to_f32((uint8_t)c);
        TEST_CHECK(memcmp(&d, &h, 4) == 0, "decode 0x%02x: device %.9g host %.9g", c, d, h);
    }
    int bad_enc = 0, bad_scale = 0;
    for (unsigned c = 0; c < 256; c++) {   /* values, ties (midpoints: exact in f32) and their neighbours */
        if ((c & 0x7f) >= 0x7e) continue;
        float v = srt_e4m3_to_f32((uint8_t)c), mid = (v + srt_e4m3_to_f32((uint8_t)(c + 1))) / 2;
        const float xs[4] = {v, mid, nextafterf(mid, INFINITY), nextafterf(mid, -INFINITY)};
        for (float x : xs) {
            uint8_t d = srt_kv_f32_to_e4m3(x), h = srt_f32_to_e4m3(x);
            TEST_CHECK(d == h, "encode %.9g: device 0x%02x host 0x%02x", x, d, h);
        }
    }
    for (uint64_t u = 0; u < 0x100000000ull; u += 257) {
        uint32_t w = (uint32_t)u;
        float x;
        memcpy(&x, &w, 4);
        uint8_t d = srt_kv_f32_to_e4m3(x), h = srt_f32_to_e4m3(x);
        if (d != h && bad_enc++ < 5) TEST_CHECK(0, "encode 0x%08x: device 0x%02x host 0x%02x", w, d, h);
        float ds = srt_kv_e4m3_row_scale(fabsf(x)), hs = srt_e4m3_row_scale(fabsf(x));
        if (!isnan(x) && memcmp(&ds, &hs, 4) != 0 && bad_scale++ < 5)
            TEST_CHECK(0, "row scale of 0x%08x: device %.9g host %.9g", w, ds, hs);
    }
    TEST_CHECK(bad_enc == 0 && bad_scale == 0, "device != host: %d encodes, %d row scales", bad_enc, bad_scale);
    TEST_MAIN_END();
}
