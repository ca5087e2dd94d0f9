/* resample.c: mono float32 resampling with libsoxr (SOXR_HQ): one-shot and chunked (srt_resampler_*). */
#include "snacrt_audio.h"
#include "common.h"
#include <soxr.h>
#include <string.h>

struct srt_resampler {
    soxr_t soxr;
    int in_rate, out_rate;
    float *out_buf;          /* (out_cap,) output of the last call */
    size_t out_cap;
    int flushed;
};

static srt_status check_rates(int in_rate, int out_rate) {
    if (in_rate <= 0 || out_rate <= 0)
        return srt_error(SRT_ERR_INVALID_ARG, "resampling: sample rates must be positive (got %d -> %d Hz)",
                         in_rate, out_rate);
    return SRT_OK;
}

static soxr_t soxr_new_mono(int in_rate, int out_rate) {
    soxr_error_t err = NULL;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    soxr_t s = soxr_create(in_rate, out_rate, 1, &err, &io, &quality, &runtime);
    if (!s || err) {
        srt_error(SRT_ERR_BACKEND, "resampling %d -> %d Hz: soxr_create failed: %s", in_rate, out_rate,
                  err ? err : "unknown error");
        if (s) soxr_delete(s);
        return NULL;
    }
    return s;
}

/* Output samples that n input samples can produce, plus slack for soxr's buffered tail. */
static size_t output_bound(const srt_resampler *rs, int64_t n) {
    return (size_t)((double)n * rs->out_rate / rs->in_rate) + 1024;
}

static srt_status ensure_out_cap(srt_resampler *rs, size_t need) {
    if (need <= rs->out_cap) return SRT_OK;
    size_t cap = rs->out_cap ? rs->out_cap : 4096;
    while (cap < need) cap *= 2;
    float *p = realloc(rs->out_buf, cap * sizeof(float));
    if (!p) return srt_error(SRT_ERR_NOMEM, "resampling: out of memory for %zu output samples", cap);
    rs->out_buf = p;
    rs->out_cap = cap;
    return SRT_OK;
}

srt_status srt_resampler_create(int in_rate, int out_rate, srt_resampler **out) {
    *out = NULL;
    SRT_TRY(check_rates(in_rate, out_rate));
    srt_resampler *rs = srt_calloc(1, sizeof *rs, "a resampler");
    if (!rs) return SRT_ERR_NOMEM;
    rs->in_rate = in_rate;
    rs->out_rate = out_rate;
    rs->soxr = soxr_new_mono(in_rate, out_rate);
    if (!rs->soxr) { free(rs); return SRT_ERR_BACKEND; }
    *out = rs;
    return SRT_OK;
}

srt_status srt_resampler_process(srt_resampler *rs, const float *in, int64_t n_in, const float **out,
                                 int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (rs->flushed) return srt_error(SRT_ERR_INVALID_ARG, "resampler: input after flush");
    if (n_in < 0 || (n_in > 0 && !in)) return srt_error(SRT_ERR_INVALID_ARG, "resampler: bad input chunk");
    size_t produced = 0, consumed = 0;
    SRT_TRY(ensure_out_cap(rs, output_bound(rs, n_in)));
    while (consumed < (size_t)n_in) {
        size_t idone = 0, odone = 0;
        soxr_error_t err = soxr_process(rs->soxr, in + consumed, (size_t)n_in - consumed, &idone,
                                        rs->out_buf + produced, rs->out_cap - produced, &odone);
        if (err) return srt_error(SRT_ERR_BACKEND, "resampler %d -> %d Hz: soxr_process: %s", rs->in_rate,
                                  rs->out_rate, err);
        consumed += idone;
        produced += odone;
        if (produced == rs->out_cap) SRT_TRY(ensure_out_cap(rs, rs->out_cap * 2));
        else if (idone == 0)
            return srt_error(SRT_ERR_BACKEND, "resampler %d -> %d Hz: soxr consumed no input", rs->in_rate,
                             rs->out_rate);
    }
    *out = rs->out_buf;
    *n_out = (int64_t)produced;
    return SRT_OK;
}

srt_status srt_resampler_flush(srt_resampler *rs, const float **out, int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (rs->flushed) return srt_error(SRT_ERR_INVALID_ARG, "resampler: flushed twice");
    rs->flushed = 1;
    size_t produced = 0;
    SRT_TRY(ensure_out_cap(rs, 4096));
    for (;;) {
        size_t space = rs->out_cap - produced, odone = 0;
        soxr_error_t err = soxr_process(rs->soxr, NULL, 0, NULL, rs->out_buf + produced, space, &odone);
        if (err) return srt_error(SRT_ERR_BACKEND, "resampler %d -> %d Hz: soxr flush: %s", rs->in_rate,
                                  rs->out_rate, err);
        produced += odone;
        if (odone < space) break;            /* soxr had less than a full buffer left: done */
        SRT_TRY(ensure_out_cap(rs, rs->out_cap * 2));
    }
    *out = rs->out_buf;
    *n_out = (int64_t)produced;
    return SRT_OK;
}

void srt_resampler_free(srt_resampler *rs) {
    if (!rs) return;
    if (rs->soxr) soxr_delete(rs->soxr);
    free(rs->out_buf);
    free(rs);
}

srt_status srt_audio_resample(const float *in, int64_t n, int in_rate, int out_rate, float **out, int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    SRT_TRY(check_rates(in_rate, out_rate));
    if (n < 0 || (n > 0 && !in)) return srt_error(SRT_ERR_INVALID_ARG, "resampling: bad input (%lld samples)",
                                                  (long long)n);
    if (in_rate == out_rate) {
        float *copy = srt_malloc((size_t)n * sizeof(float), "a resampled signal");
        if (!copy) return SRT_ERR_NOMEM;
        if (n) memcpy(copy, in, (size_t)n * sizeof(float));
        *out = copy;
        *n_out = n;
        return SRT_OK;
    }
    /* One soxr_process call over the whole input, then the flush: the same soxr stream the chunked API drives. */
    srt_resampler *rs = NULL;
    SRT_TRY(srt_resampler_create(in_rate, out_rate, &rs));
    srt_status st = SRT_OK;
    const float *chunk;
    int64_t n_chunk, n_body = 0;
    float *result = NULL;
    SRT_TRY_GOTO(srt_resampler_process(rs, in, n, &chunk, &n_chunk), done);
    n_body = n_chunk;
    result = srt_malloc((size_t)(n_body + 1) * sizeof(float), "a resampled signal");
    if (!result) { st = SRT_ERR_NOMEM; goto done; }
    memcpy(result, chunk, (size_t)n_body * sizeof(float));
    SRT_TRY_GOTO(srt_resampler_flush(rs, &chunk, &n_chunk), done);
    float *grown = realloc(result, (size_t)(n_body + n_chunk + 1) * sizeof(float));
    if (!grown) { st = srt_error(SRT_ERR_NOMEM, "resampling: out of memory"); goto done; }
    result = grown;
    memcpy(result + n_body, chunk, (size_t)n_chunk * sizeof(float));
    *out = result;
    *n_out = n_body + n_chunk;
    result = NULL;
done:
    free(result);
    srt_resampler_free(rs);
    return st;
}
