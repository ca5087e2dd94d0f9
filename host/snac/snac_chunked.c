/* snac_chunked.c: time-chunked SNAC encode of long signals in bounded memory: the push-mode encoder
 * (srt_codec_encode_stream_*: samples arrive in pieces, codes of completed spans come out) and
 * srt_codec_encode_long (a whole in-memory signal), a thin wrapper over the push-mode encoder.
 * The zero-padded signal is cut into spans of `chunk` samples (multiples of pad_multiple, so coarse VQ frames and
 * attention windows stay aligned); each span is encoded inside a window extended by `overlap` samples of true
 * signal on each side (>= the encoder's receptive field, in whole pad_multiples), and only the span's own latent
 * frames' codes are kept. Beyond the signal's padded ends the window is clipped, so the encoder sees the same zero
 * padding as a whole-signal encode. A span is encoded as soon as its right context has arrived, so the stream
 * holds at most chunk + 2 * overlap samples whatever the signal length. */
#include "snac/snac_model.h"
#include <string.h>

struct srt_codec_encode_stream {
    snac_model *m;
    int64_t chunk, overlap;   /* samples, multiples of pad_multiple */
    float *buf;               /* (cap,) signal samples [buf_start, buf_start + buf_n) */
    int64_t cap, buf_start, buf_n;
    float *window;            /* (chunk + 2 * overlap,) one zero-padded encoder window */
    int64_t span0;            /* start of the next span to encode (a multiple of chunk) */
    int64_t received;         /* samples pushed so far */
    int finished, failed;
};

/* Samples an output latent frame can reach on either side of its span (generous upper bound). */
static int64_t encoder_reach_samples(const snac_model *m) {
    const snac_config *c = &m->cfg;
    int64_t rate = 1;                                   /* input samples per frame at the current stage */
    int64_t reach = (int64_t)(m->enc_in.kernel - 1) * m->enc_in.dilation;
    for (int i = 0; i < c->n_enc_rates; i++) {
        const snac_encoder_block *blk = &m->enc_blocks[i];
        for (int k = 0; k < 3; k++)
            reach += rate * ((int64_t)(blk->units[k].conv1.kernel - 1) * blk->units[k].conv1.dilation +
                             (int64_t)(blk->units[k].conv2.kernel - 1) * blk->units[k].conv2.dilation);
        reach += rate * blk->down.kernel;
        rate *= c->encoder_rates[i];
    }
    if (m->enc_has_attn) reach += rate * (int64_t)c->attn_window;
    reach += rate * (int64_t)(m->enc_out.kernel - 1) * m->enc_out.dilation;
    return reach;
}

/* Append src's codes to dst, level by level (dst->n_levels 0 = empty: takes src's level count). */
srt_status srt_codes_append(srt_codes *dst, const srt_codes *src) {
    if (dst->n_levels == 0) dst->n_levels = src->n_levels;
    if (dst->n_levels != src->n_levels)
        return srt_error(SRT_ERR_INVALID_ARG, "codes append: %d levels onto %d", src->n_levels, dst->n_levels);
    for (int l = 0; l < src->n_levels; l++) {
        if (src->n_frames[l] == 0) continue;
        int32_t *p = realloc(dst->codes[l], sizeof(int32_t) * (size_t)(dst->n_frames[l] + src->n_frames[l]));
        if (!p) return srt_error(SRT_ERR_NOMEM, "codes append: out of memory for %lld codes",
                                 (long long)(dst->n_frames[l] + src->n_frames[l]));
        memcpy(p + dst->n_frames[l], src->codes[l], sizeof(int32_t) * (size_t)src->n_frames[l]);
        dst->codes[l] = p;
        dst->n_frames[l] += src->n_frames[l];
    }
    return SRT_OK;
}

/* Encode window [w0, w1) of the zero-padded signal (audio holds its first `have` true samples) and store the codes
 * of span [s0, s1) in out (n_frames set, codes malloc'd). */
static srt_status encode_window(snac_model *m, const float *audio, int64_t have, int64_t w0, int64_t w1, int64_t s0,
                                int64_t s1, float *host_audio, srt_codes *out) {
    const snac_config *c = &m->cfg;
    const srt_backend_ops *ops = m->be.ops;
    void *ctx = m->be.ctx;
    int len = (int)(w1 - w0), T = len / c->hop_length, tvalid = T;
    /* host_audio (1, 1, len): the signal, zero beyond its end */
    memset(host_audio, 0, sizeof(float) * (size_t)len);
    if (have > 0) memcpy(host_audio, audio, sizeof(float) * (size_t)have);
    float *d_audio = NULL, *d_z = NULL, *d_zq = NULL;
    int32_t *d_codes[SNAC_MAX_LEVELS] = {0};
    int32_t *h_codes = NULL;
    srt_status st = SRT_OK;
    size_t lat = (size_t)c->latent_dim * T;
    SRT_TRY_GOTO(srt_backend_alloc_upload(&m->be, host_audio, sizeof(float) * (size_t)len, (void **)&d_audio), done);
    SRT_TRY_GOTO(ops->alloc(ctx, lat * sizeof(float), (void **)&d_z), done);            /* (1, latent, T) */
    SRT_TRY_GOTO(ops->alloc(ctx, lat * sizeof(float), (void **)&d_zq), done);           /* (1, latent, T) */
    for (int l = 0; l < c->n_levels; l++)
        SRT_TRY_GOTO(ops->alloc(ctx, sizeof(int32_t) * (size_t)(T / c->vq_strides[l]), (void **)&d_codes[l]), done);
    SRT_TRY_GOTO(snac_encoder_forward(m, 1, len, &len, d_audio, d_z), done);
    /* VQ is per (pooled) frame, so quantizing the whole window gives the span's codes unchanged */
    SRT_TRY_GOTO(snac_quantize(m, 1, T, &tvalid, d_z, d_codes, d_zq), done);
    h_codes = srt_malloc(sizeof(int32_t) * (size_t)T, "window codes");
    if (!h_codes) { st = SRT_ERR_NOMEM; goto done; }
    out->n_levels = c->n_levels;
    for (int l = 0; l < c->n_levels; l++) {
        int64_t frame = (int64_t)c->hop_length * c->vq_strides[l];   /* samples per code at level l */
        int64_t first = (s0 - w0) / frame, count = (s1 - s0) / frame;
        SRT_TRY_GOTO(ops->download(ctx, h_codes, d_codes[l], sizeof(int32_t) * (size_t)(T / c->vq_strides[l])), done);
        out->codes[l] = srt_malloc(sizeof(int32_t) * (size_t)count, "span codes");
        if (!out->codes[l]) { st = SRT_ERR_NOMEM; goto done; }
        memcpy(out->codes[l], h_codes + first, sizeof(int32_t) * (size_t)count);
        out->n_frames[l] = count;
    }
done:
    free(h_codes);
    if (d_audio) ops->free(ctx, d_audio);
    if (d_z) ops->free(ctx, d_z);
    if (d_zq) ops->free(ctx, d_zq);
    for (int l = 0; l < c->n_levels; l++) if (d_codes[l]) ops->free(ctx, d_codes[l]);
    return st;
}

srt_status srt_codec_encode_stream_open(srt_codec *codec, int64_t chunk_samples, srt_codec_encode_stream **out) {
    *out = NULL;
    if (!codec) return srt_error(SRT_ERR_INVALID_ARG, "encode stream: no codec given");
    if (chunk_samples <= 0)
        return srt_error(SRT_ERR_INVALID_ARG, "encode stream: chunk size %lld is not positive", (long long)chunk_samples);
    snac_model *m = srt_codec_model(codec);
    const snac_config *c = &m->cfg;
    for (int l = 0; l < c->n_levels; l++)
        if (c->vq_strides[0] % c->vq_strides[l])
            return srt_error(SRT_ERR_FORMAT, "encode stream: VQ stride %d of level %d does not divide level 0's %d",
                             c->vq_strides[l], l, c->vq_strides[0]);
    int64_t pm = c->pad_multiple;
    int64_t chunk = srt_ceil_div64(chunk_samples, pm) * pm;
    int64_t overlap = (srt_ceil_div64(encoder_reach_samples(m), pm) + 1) * pm;
    if (chunk + 2 * overlap > ((int64_t)1 << 30))
        return srt_error(SRT_ERR_RANGE, "encode stream: chunk of %lld samples is too long for one window",
                         (long long)chunk_samples);
    srt_codec_encode_stream *s = srt_calloc(1, sizeof *s, "an encode stream");
    if (!s) return SRT_ERR_NOMEM;
    s->m = m;
    s->chunk = chunk;
    s->overlap = overlap;
    s->cap = chunk + 2 * overlap;
    s->buf = srt_malloc(sizeof(float) * (size_t)s->cap, "encode stream buffer");
    s->window = srt_malloc(sizeof(float) * (size_t)s->cap, "encode stream window");
    if (!s->buf || !s->window) { srt_codec_encode_stream_free(s); return SRT_ERR_NOMEM; }
    *out = s;
    return SRT_OK;
}

void srt_codec_encode_stream_free(srt_codec_encode_stream *s) {
    if (!s) return;
    free(s->buf);
    free(s->window);
    free(s);
}

/* Encode the next span, ending at `padded` at the latest (padded = -1: the signal goes on), append its codes to
 * out and drop the samples no later window needs. */
static srt_status encode_next_span(srt_codec_encode_stream *s, int64_t padded, srt_codes *out) {
    int64_t s0 = s->span0, s1 = s0 + s->chunk;
    int64_t w0 = s0 - s->overlap > 0 ? s0 - s->overlap : 0, w1 = s1 + s->overlap;
    if (padded >= 0) {
        if (s1 > padded) s1 = padded;
        if (w1 > padded) w1 = padded;
    }
    int64_t have = (s->received < w1 ? s->received : w1) - w0;   /* true samples in the window */
    srt_codes span = {0};
    srt_status st = encode_window(s->m, s->buf + (w0 - s->buf_start), have, w0, w1, s0, s1, s->window, &span);
    if (st == SRT_OK) st = srt_codes_append(out, &span);
    srt_codes_free(&span);
    if (st != SRT_OK) return st;
    s->span0 = s1;
    int64_t keep_from = s1 - s->overlap > 0 ? s1 - s->overlap : 0;
    if (keep_from > s->buf_start) {
        int64_t drop = keep_from - s->buf_start;
        if (drop > s->buf_n) drop = s->buf_n;
        memmove(s->buf, s->buf + drop, sizeof(float) * (size_t)(s->buf_n - drop));
        s->buf_n -= drop;
        s->buf_start += drop;
    }
    return SRT_OK;
}

static void start_output(const srt_codec_encode_stream *s, srt_codes *out) {
    memset(out, 0, sizeof *out);
    out->n_levels = s->m->cfg.n_levels;
}

srt_status srt_codec_encode_stream_push(srt_codec_encode_stream *s, const float *audio, int64_t n,
                                        srt_codes *new_codes) {
    start_output(s, new_codes);
    if (s->finished || s->failed)
        return srt_error(SRT_ERR_INVALID_ARG, "encode stream: push after %s", s->finished ? "finish" : "a failure");
    if (n < 0 || (n > 0 && !audio)) return srt_error(SRT_ERR_INVALID_ARG, "encode stream: bad input (%lld samples)",
                                                     (long long)n);
    srt_status st = SRT_OK;
    while (n > 0 && st == SRT_OK) {
        int64_t take = s->cap - s->buf_n < n ? s->cap - s->buf_n : n;
        memcpy(s->buf + s->buf_n, audio, sizeof(float) * (size_t)take);
        s->buf_n += take;
        s->received += take;
        audio += take;
        n -= take;
        /* a span is final once its right context is in: with the buffer full that is always the case */
        while (st == SRT_OK && s->received >= s->span0 + s->chunk + s->overlap)
            st = encode_next_span(s, -1, new_codes);
    }
    if (st != SRT_OK) { s->failed = 1; srt_codes_free(new_codes); start_output(s, new_codes); }
    return st;
}

srt_status srt_codec_encode_stream_finish(srt_codec_encode_stream *s, srt_codes *new_codes) {
    start_output(s, new_codes);
    if (s->finished || s->failed)
        return srt_error(SRT_ERR_INVALID_ARG, "encode stream: finish after %s", s->finished ? "finish" : "a failure");
    s->finished = 1;
    if (s->received <= 0) return srt_error(SRT_ERR_RANGE, "encode stream: the signal has no samples");
    int64_t pm = s->m->cfg.pad_multiple, padded = srt_ceil_div64(s->received, pm) * pm;
    srt_status st = SRT_OK;
    while (st == SRT_OK && s->span0 < padded) st = encode_next_span(s, padded, new_codes);
    if (st != SRT_OK) { s->failed = 1; srt_codes_free(new_codes); start_output(s, new_codes); return st; }
    new_codes->n_samples = s->received;
    return SRT_OK;
}

srt_status srt_codec_encode_long(srt_codec *codec, const float *audio, int64_t n_samples, int64_t chunk_samples,
                                 srt_codes *codes) {
    memset(codes, 0, sizeof *codes);
    if (!codec || !audio) return srt_error(SRT_ERR_INVALID_ARG, "encode_long: no codec or no audio given");
    if (n_samples <= 0) return srt_error(SRT_ERR_RANGE, "encode_long: signal has %lld samples", (long long)n_samples);
    if (chunk_samples <= 0)
        return srt_error(SRT_ERR_INVALID_ARG, "encode_long: chunk size %lld is not positive", (long long)chunk_samples);
    srt_codec_encode_stream *s = NULL;
    SRT_TRY(srt_codec_encode_stream_open(codec, chunk_samples, &s));
    srt_codes part = {0};
    srt_status st = srt_codec_encode_stream_push(s, audio, n_samples, codes);
    if (st == SRT_OK) st = srt_codec_encode_stream_finish(s, &part);
    if (st == SRT_OK) st = srt_codes_append(codes, &part);
    srt_codes_free(&part);
    srt_codec_encode_stream_free(s);
    if (st != SRT_OK) { srt_codes_free(codes); memset(codes, 0, sizeof *codes); return st; }
    codes->n_samples = n_samples;
    return SRT_OK;
}
