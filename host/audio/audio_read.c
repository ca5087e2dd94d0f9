/* audio_read.c: whole-file reads (a path or a buffer in memory) on top of the streaming reader
 * (audio_stream.c): the mono blocks at the target rate are collected into one buffer, reserved from the header's
 * length when it has one, so only the mono output is ever held whole. */
#include "snacrt_audio.h"
#include "common.h"
#include <string.h>

/* ---- growing mono output */
typedef struct mono_buffer {
    float *data;             /* (cap,) */
    int64_t n, cap;
} mono_buffer;

static srt_status mono_reserve(mono_buffer *b, int64_t need, const char *name) {
    if (need <= b->cap) return SRT_OK;
    int64_t cap = b->cap ? b->cap : 65536;
    while (cap < need) cap *= 2;
    float *p = realloc(b->data, (size_t)cap * sizeof(float));
    if (!p) return srt_error(SRT_ERR_NOMEM, "%s: out of memory for %lld samples", name, (long long)cap);
    b->data = p;
    b->cap = cap;
    return SRT_OK;
}

static srt_status collect(srt_audio_stream *s, const char *name, int target_rate, float **samples,
                          int64_t *n_samples, srt_audio_source_info *info) {
    mono_buffer result = {0};
    srt_status st = SRT_OK;
    int64_t expected = srt_audio_stream_expected_samples(s, target_rate);
    if (expected > 0 && expected <= ((int64_t)1 << 24)) {   /* the header's length (a lying one costs at most 64 MiB) */
        result.data = malloc((size_t)expected * sizeof(float));
        if (result.data) result.cap = expected;
    }
    for (int eof = 0; st == SRT_OK && !eof;) {
        const float *x;
        int64_t n;
        st = srt_audio_stream_next(s, &x, &n, &eof);
        if (st == SRT_OK && n > 0) st = mono_reserve(&result, result.n + n, name);
        if (st == SRT_OK && n > 0) {
            memcpy(result.data + result.n, x, (size_t)n * sizeof(float));
            result.n += n;
        }
    }
    if (st == SRT_OK) {
        if (info) srt_audio_stream_info(s, info);
        *samples = result.data;
        *n_samples = result.n;
    } else {
        free(result.data);
    }
    srt_audio_stream_close(s);
    return st;
}

static srt_status check_read_args(const char *name, float **samples, int64_t *n_samples) {
    if (!samples || !n_samples) return srt_error(SRT_ERR_INVALID_ARG, "%s: no output buffer given", name);
    *samples = NULL;
    *n_samples = 0;
    return SRT_OK;
}

srt_status srt_audio_read_opts(const char *path, int target_rate, const srt_audio_read_options *opt, float **samples,
                               int64_t *n_samples, srt_audio_source_info *info) {
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "audio read: no path given");
    SRT_TRY(check_read_args(path, samples, n_samples));
    srt_audio_stream *s = NULL;
    SRT_TRY(srt_audio_stream_open(path, target_rate, opt, &s));
    return collect(s, path, target_rate, samples, n_samples, info);
}

srt_status srt_audio_read_memory_opts(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                      const srt_audio_read_options *opt, float **samples, int64_t *n_samples,
                                      srt_audio_source_info *info) {
    const char *name = name_for_errors ? name_for_errors : "(audio in memory)";
    SRT_TRY(check_read_args(name, samples, n_samples));
    srt_audio_stream *s = NULL;
    SRT_TRY(srt_audio_stream_open_memory(data, size, name, target_rate, opt, &s));
    return collect(s, name, target_rate, samples, n_samples, info);
}

srt_status srt_audio_read(const char *path, int target_rate, float **samples, int64_t *n_samples,
                          srt_audio_source_info *info) {
    return srt_audio_read_opts(path, target_rate, NULL, samples, n_samples, info);
}

srt_status srt_audio_read_memory(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                 float **samples, int64_t *n_samples, srt_audio_source_info *info) {
    return srt_audio_read_memory_opts(data, size, name_for_errors, target_rate, NULL, samples, n_samples, info);
}
