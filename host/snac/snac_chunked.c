/* snac_chunked.c: time-chunked SNAC encode of one long signal in bounded memory (srt_codec_encode_long).
 * The padded signal is cut into spans that are multiples of pad_multiple (so coarse VQ frames and attention
 * windows stay aligned); each span is encoded inside a window extended by `overlap` samples of true signal on
 * each side (>= the encoder's receptive field, in whole attention windows), and only the span's own latent
 * frames' codes are kept. Beyond the signal's padded ends the window is clipped, so the encoder sees the same
 * zero padding as a whole-signal encode. */
#include "snac/snac_model.h"
#include <string.h>

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

/* Encode window [w0, w1) of the zero-padded signal and append the codes of span [s0, s1) to `codes`. */
static srt_status encode_window(snac_model *m, const float *audio, int64_t n_samples, int64_t w0, int64_t w1,
                                int64_t s0, int64_t s1, float *host_audio, srt_codes *codes) {
    const snac_config *c = &m->cfg;
    const srt_backend_ops *ops = m->be.ops;
    void *ctx = m->be.ctx;
    int len = (int)(w1 - w0), T = len / c->hop_length, tvalid = T;
    /* host_audio (1, 1, len): the signal, zero beyond its end */
    memset(host_audio, 0, sizeof(float) * (size_t)len);
    int64_t have = (n_samples < w1 ? n_samples : w1) - w0;
    if (have > 0) memcpy(host_audio, audio + w0, sizeof(float) * (size_t)have);
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
    for (int l = 0; l < c->n_levels; l++) {
        int64_t frame = (int64_t)c->hop_length * c->vq_strides[l];   /* samples per code at level l */
        int64_t first = (s0 - w0) / frame, count = (s1 - s0) / frame;
        SRT_TRY_GOTO(ops->download(ctx, h_codes, d_codes[l], sizeof(int32_t) * (size_t)(T / c->vq_strides[l])), done);
        memcpy(codes->codes[l] + s0 / frame, h_codes + first, sizeof(int32_t) * (size_t)count);
    }
done:
    free(h_codes);
    if (d_audio) ops->free(ctx, d_audio);
    if (d_z) ops->free(ctx, d_z);
    if (d_zq) ops->free(ctx, d_zq);
    for (int l = 0; l < c->n_levels; l++) if (d_codes[l]) ops->free(ctx, d_codes[l]);
    return st;
}

srt_status srt_codec_encode_long(srt_codec *codec, const float *audio, int64_t n_samples, int64_t chunk_samples,
                                 srt_codes *codes) {
    memset(codes, 0, sizeof *codes);
    if (!codec || !audio) return srt_error(SRT_ERR_INVALID_ARG, "encode_long: no codec or no audio given");
    snac_model *m = srt_codec_model(codec);
    const snac_config *c = &m->cfg;
    int64_t pm = c->pad_multiple;
    if (n_samples <= 0) return srt_error(SRT_ERR_RANGE, "encode_long: signal has %lld samples", (long long)n_samples);
    if (chunk_samples <= 0)
        return srt_error(SRT_ERR_INVALID_ARG, "encode_long: chunk size %lld is not positive", (long long)chunk_samples);
    for (int l = 0; l < c->n_levels; l++)
        if (c->vq_strides[0] % c->vq_strides[l])
            return srt_error(SRT_ERR_FORMAT, "encode_long: VQ stride %d of level %d does not divide level 0's %d",
                             c->vq_strides[l], l, c->vq_strides[0]);
    int64_t chunk = srt_ceil_div64(chunk_samples, pm) * pm;
    int64_t overlap = (srt_ceil_div64(encoder_reach_samples(m), pm) + 1) * pm;
    int64_t padded = srt_ceil_div64(n_samples, pm) * pm;
    if (chunk > padded) chunk = padded;
    if (chunk + 2 * overlap > ((int64_t)1 << 30))
        return srt_error(SRT_ERR_RANGE, "encode_long: chunk of %lld samples is too long for one window",
                         (long long)chunk_samples);
    int64_t T = padded / c->hop_length;
    codes->n_levels = c->n_levels;
    codes->n_samples = n_samples;
    for (int l = 0; l < c->n_levels; l++) {
        codes->n_frames[l] = T / c->vq_strides[l];
        codes->codes[l] = srt_malloc(sizeof(int32_t) * (size_t)codes->n_frames[l], "codes");
        if (!codes->codes[l]) { srt_codes_free(codes); return SRT_ERR_NOMEM; }
    }
    float *host_audio = srt_malloc(sizeof(float) * (size_t)(chunk + 2 * overlap), "window audio");
    if (!host_audio) { srt_codes_free(codes); return SRT_ERR_NOMEM; }
    srt_status st = SRT_OK;
    for (int64_t s0 = 0; s0 < padded && st == SRT_OK; s0 += chunk) {
        int64_t s1 = s0 + chunk < padded ? s0 + chunk : padded;
        int64_t w0 = s0 - overlap > 0 ? s0 - overlap : 0, w1 = s1 + overlap < padded ? s1 + overlap : padded;
        st = encode_window(m, audio, n_samples, w0, w1, s0, s1, host_audio, codes);
    }
    free(host_audio);
    if (st != SRT_OK) srt_codes_free(codes);
    return st;
}
