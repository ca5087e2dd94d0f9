/* snac_stream.c: the public streaming-decode API (include/snacrt.h): open/free, lookahead, and push with
 * validation first (nothing changes on an error). The decoding itself is in snac_stream_exec.c (one batched pass
 * per push; each stage keeps its left context on the backend), the frame arithmetic in snac_stream_plan.c. */
#include "snac/snac_stream.h"
#include <stdio.h>

srt_status srt_codec_stream_open(srt_codec *codec, int64_t noise_seed, srt_codec_stream **out) {
    if (!out) return srt_error(SRT_ERR_INVALID_ARG, "stream_open: no output pointer");
    *out = NULL;
    if (!codec) return srt_error(SRT_ERR_INVALID_ARG, "stream_open: no codec");
    srt_codec_stream *s = srt_calloc(1, sizeof *s, "codec stream");
    if (!s) return SRT_ERR_NOMEM;
    s->codec = codec;
    s->m = srt_codec_model(codec);
    s->noise_seed = noise_seed;
    srt_status st = snac_stream_plan_make(s->m, &s->plan);
    if (st != SRT_OK) { free(s); return st; }
    size_t floats = 0;
    for (int k = 0; k < s->plan.n_stages; k++) {
        size_t block = (size_t)s->plan.st[k].hist_cap * s->plan.st[k].in_ch;
        s->ss[k].hist_off = floats;
        s->ss[k].hist_spare = floats + block;
        floats += 2 * block;
    }
    void *d = NULL;
    st = srt_backend_alloc_zero(&s->m->be, floats * sizeof(float), &d);   /* (sum of 2 * hist_cap * in_ch) */
    if (st != SRT_OK) { free(s); return srt_error_prefix(st, "stream_open: "); }
    s->state = d;
    *out = s;
    return SRT_OK;
}

void srt_codec_stream_free(srt_codec_stream *s) {
    if (!s) return;
    if (s->state) s->m->be.ops->free(s->m->be.ctx, s->state);
    snac_stream_ws_free(s->m, &s->ws);
    free(s);
}

int srt_codec_stream_lookahead(const srt_codec_stream *s) { return s ? s->plan.lookahead : 0; }
int srt_codec_stream_first_audio_groups(const srt_codec_stream *s) { return s ? s->plan.first_audio_groups : 0; }
int64_t srt_codec_stream_group_samples(const srt_codec_stream *s) { return s ? s->plan.group_samples : 0; }

/* Longest push we accept (samples): keeps every int length in range. */
#define STREAM_MAX_PUSH_SAMPLES ((int64_t)1 << 28)

static srt_status validate(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                           float **audio, int64_t *n_out) {
    if (n < 1 || !streams || !chunks || !final || !audio || !n_out)
        return srt_error(SRT_ERR_INVALID_ARG, "stream_push: %d streams or a NULL array", n);
    for (int i = 0; i < n; i++) {
        const srt_codec_stream *s = streams[i];
        if (!s) return srt_error(SRT_ERR_INVALID_ARG, "stream_push: stream %d is NULL", i);
        if (s->codec != streams[0]->codec)
            return srt_error(SRT_ERR_INVALID_ARG, "stream_push: stream %d is on another codec than stream 0", i);
        for (int j = 0; j < i; j++)
            if (streams[j] == s) return srt_error(SRT_ERR_INVALID_ARG, "stream_push: stream %d is also stream %d", i, j);
        if (s->finished)
            return srt_error(SRT_ERR_INVALID_ARG, "stream_push: stream %d was already ended by a final push", i);
        if (s->failed)
            return srt_error(SRT_ERR_INVALID_ARG, "stream_push: stream %d is unusable after a backend failure", i);
        const snac_config *c = &s->m->cfg;
        const srt_codes *k = &chunks[i];
        if (k->n_levels != c->n_levels)
            return srt_error(SRT_ERR_FORMAT, "stream_push: chunk %d has %d code levels, the model has %d", i,
                             k->n_levels, c->n_levels);
        int64_t g = k->n_frames[0];
        if (g < 0 || g * s->plan.group_samples > STREAM_MAX_PUSH_SAMPLES)
            return srt_error(SRT_ERR_RANGE, "stream_push: chunk %d has %lld groups (expected 0..%lld per push)", i,
                             (long long)g, (long long)(STREAM_MAX_PUSH_SAMPLES / s->plan.group_samples));
        for (int l = 0; l < c->n_levels; l++) {
            int64_t want = g * (c->vq_strides[0] / c->vq_strides[l]);
            if (k->n_frames[l] != want)
                return srt_error(SRT_ERR_FORMAT, "stream_push: chunk %d level %d has %lld codes; %lld groups need %lld "
                                 "(whole groups of %d/%d codes)", i, l, (long long)k->n_frames[l], (long long)g,
                                 (long long)want, c->vq_strides[0], c->vq_strides[l]);
            if (want && !k->codes[l])
                return srt_error(SRT_ERR_INVALID_ARG, "stream_push: chunk %d level %d has no code array", i, l);
            for (int64_t f = 0; f < want; f++)
                if (k->codes[l][f] < 0 || k->codes[l][f] >= c->codebook_size)
                    return srt_error(SRT_ERR_RANGE, "stream_push: chunk %d code %d at level %d frame %lld is outside "
                                     "[0, %d)", i, k->codes[l][f], l, (long long)f, c->codebook_size);
        }
    }
    return SRT_OK;
}

srt_status srt_codec_stream_push(int n, srt_codec_stream *const *streams, const srt_codes *chunks,
                                 const int *final, float **audio, int64_t *n_out) {
    if (audio && n_out && n > 0)
        for (int i = 0; i < n; i++) { audio[i] = NULL; n_out[i] = 0; }
    SRT_TRY(validate(n, streams, chunks, final, audio, n_out));
    return snac_stream_run(n, streams, chunks, final, audio, n_out);
}
