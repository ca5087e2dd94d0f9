/* dtype.c: conversions between float32 and the 16-bit float formats (bf16, IEEE f16) and fp8 e4m3. */
#include "weights/weights.h"
#include <math.h>
#include <string.h>

float srt_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t srt_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                         /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float srt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: normalize */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t srt_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int32_t exp = (int32_t)((u >> 23) & 0xff);
    uint32_t man = u & 0x7fffffu;
    if (exp == 255) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)half;
}

/* e4m3: sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is subnormal (m * 2^-9); 0x7f / 0xff NaN. */
uint8_t srt_f32_to_e4m3(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return 0x7f;                                /* NaN */
    if (a < 0x3c800000u) {                                           /* below 2^-6: subnormal steps of 2^-9 */
        float m;
        memcpy(&m, &a, 4);
        return (uint8_t)(sign | (uint32_t)nearbyintf(m * 512.0f));  /* exact product; RNE; 8 = 2^-6 */
    }
    a += 0x7ffffu + ((a >> 20) & 1u);                                /* round the mantissa to 3 bits, nearest even */
    uint32_t code = (a >> 20) - (120u << 3);                         /* rebias the exponent 127 -> 7 */
    return (uint8_t)(sign | (code > 0x7eu ? 0x7eu : code));          /* saturate to 448 (infinity too) */
}

float srt_e4m3_to_f32(uint8_t c) {
    uint32_t e = (c >> 3) & 0xfu, m = c & 7u;
    float f = (c & 0x7f) == 0x7f ? NAN : e ? ldexpf((float)(8 + m), (int)e - 10) : ldexpf((float)m, -9);
    return c & 0x80 ? -f : f;
}

float srt_e4m3_row_scale(float amax) {
    float r = amax / 448.0f;
    uint32_t u;
    memcpy(&u, &r, 4);
    if (r == 0.0f || !(r < INFINITY)) return 1.0f;                  /* 0, infinity (NaN is never the max) */
    u = (u & 0x7fffffu) ? (u & 0x7f800000u) + 0x800000u : u;        /* up to a power of two; subnormal -> 2^-126 */
    memcpy(&r, &u, 4);
    return r;
}
