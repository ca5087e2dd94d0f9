/* checked.h: overflow-checked arithmetic for sizes computed from file contents (configs, headers, shapes).
 * Each helper stores the result and returns SRT_OK, or records SRT_ERR_FORMAT naming `what` (the file and field,
 * e.g. "config.json: encoder_rates product") and leaves *out unchanged. gcc and clang builtins do the checking. */
#ifndef SRT_CHECKED_H
#define SRT_CHECKED_H

#include "common.h"

static inline srt_status srt_mul_size(size_t a, size_t b, size_t *out, const char *what) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return srt_error(SRT_ERR_FORMAT, "%s: %zu x %zu overflows", what, a, b);
    *out = r;
    return SRT_OK;
}

static inline srt_status srt_add_size(size_t a, size_t b, size_t *out, const char *what) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return srt_error(SRT_ERR_FORMAT, "%s: %zu + %zu overflows", what, a, b);
    *out = r;
    return SRT_OK;
}

static inline srt_status srt_mul_i64(int64_t a, int64_t b, int64_t *out, const char *what) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return srt_error(SRT_ERR_FORMAT, "%s: %lld x %lld overflows", what, (long long)a, (long long)b);
    *out = r;
    return SRT_OK;
}

/* a*b as an int that must also stay within [0, max]: dimensions derived from a config. */
static inline srt_status srt_mul_int(int a, int b, int max, int *out, const char *what) {
    int64_t r = (int64_t)a * b;   /* two ints never overflow int64 */
    if (r < 0 || r > max)
        return srt_error(SRT_ERR_FORMAT, "%s: %d x %d = %lld is outside 0..%d", what, a, b, (long long)r, max);
    *out = (int)r;
    return SRT_OK;
}

/* A double from JSON that must be an integer in [lo, hi]; the message names the field. */
static inline srt_status srt_int_in_range(double v, int64_t lo, int64_t hi, int64_t *out, const char *what,
                                          const char *field) {
    if (!(v >= (double)lo && v <= (double)hi) || v != (double)(int64_t)v)
        return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an integer in %lld..%lld", what, field, (long long)lo,
                         (long long)hi);
    *out = (int64_t)v;
    return SRT_OK;
}

#endif
