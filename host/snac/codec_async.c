/* codec_async.c: the submit/collect batched encode (codec_async.h). On a backend with srt_async_ops a slot owns
 *  - a pinned audio buffer (batch, Lmax) the batch is padded into (zeros after each item),
 *  - a device audio buffer the copy stream uploads into: it belongs to the slot alone, so the upload of batch n+1
 *    may run while batch n (the other slot) computes; only when it grows does the host wait for the device first,
 *  - a pinned codes buffer the codes of every level are copied back into, queued behind the VQ,
 *  - two fences around the batch's work (its device time).
 * Encoder and VQ buffers come from the backend's pool and go back at collect. Lengths and padding follow
 * srt_codec_encode (codec_api.c), so the codes are the same. */
#include "snac/codec_async.h"
#include "snac/snac_model.h"
#include <string.h>

struct srt_encode_slot {
    srt_codec *codec;
    snac_model *m;
    const srt_async_ops *as;      /* NULL: synchronous (codes made in submit) */
    int busy;                     /* a batch is in the slot */
    int batch, T;
    int64_t *n_samples;           /* (cap_batch) */
    int *valid, *tvalid;          /* (cap_batch) padded lengths in samples and in latent frames */
    int cap_batch;
    srt_codes *sync_codes;        /* (cap_batch) synchronous path: the batch's codes */
    float *h_audio;               /* pinned (h_audio_cap floats) */
    size_t h_audio_cap;
    float *d_audio;               /* device, the slot's own (d_audio_cap floats) */
    size_t d_audio_cap;
    int32_t *h_codes;             /* pinned (h_codes_cap ints): level l at offset off[l], (batch, T/stride_l) */
    size_t h_codes_cap;
    float *d_z, *d_zq;
    int32_t *d_codes[SNAC_MAX_LEVELS];
    void *ev_start, *ev_end;
};

srt_status srt_encode_slot_create(srt_codec *codec, srt_encode_slot **out) {
    *out = NULL;
    srt_encode_slot *s = srt_calloc(1, sizeof *s, "an encode slot");
    if (!s) return SRT_ERR_NOMEM;
    s->codec = codec;
    s->m = srt_codec_model(codec);
    const srt_async_ops *as = s->m->be.ops->async;
    srt_status st = SRT_OK;
    if (as) {
        s->as = as;
        st = as->fence_create(s->m->be.ctx, &s->ev_start);
        if (st == SRT_OK) st = as->fence_create(s->m->be.ctx, &s->ev_end);
    }
    if (st != SRT_OK) { srt_encode_slot_free(s); return st; }
    *out = s;
    return SRT_OK;
}

static srt_status grow_lengths(srt_encode_slot *s, int batch) {
    if (batch <= s->cap_batch) return SRT_OK;
    free(s->n_samples); free(s->valid); free(s->tvalid); free(s->sync_codes);
    s->n_samples = srt_calloc((size_t)batch, sizeof *s->n_samples, "lengths");
    s->valid = srt_calloc((size_t)batch, sizeof *s->valid, "lengths");
    s->tvalid = srt_calloc((size_t)batch, sizeof *s->tvalid, "lengths");
    s->sync_codes = srt_calloc((size_t)batch, sizeof *s->sync_codes, "codes");
    s->cap_batch = 0;
    if (!s->n_samples || !s->valid || !s->tvalid || !s->sync_codes) return SRT_ERR_NOMEM;
    s->cap_batch = batch;
    return SRT_OK;
}

/* Pinned host buffer of at least n elements (the old contents are not kept). */
static srt_status grow_pinned(srt_encode_slot *s, void **buf, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return SRT_OK;
    void *ctx = s->m->be.ctx;
    if (*buf) s->as->host_free(ctx, *buf);
    *buf = NULL;
    *cap = 0;
    size_t want = n + n / 4;                                  /* room for a somewhat longer batch */
    SRT_TRY(s->as->host_alloc(ctx, want * elem, buf));
    *cap = want;
    return SRT_OK;
}

static void release_device(srt_encode_slot *s) {
    const srt_backend_ops *ops = s->m->be.ops;
    void *ctx = s->m->be.ctx;
    if (s->d_z) ops->free(ctx, s->d_z);
    if (s->d_zq) ops->free(ctx, s->d_zq);
    for (int l = 0; l < SNAC_MAX_LEVELS; l++) if (s->d_codes[l]) ops->free(ctx, s->d_codes[l]);
    s->d_z = s->d_zq = NULL;
    memset(s->d_codes, 0, sizeof s->d_codes);
}

static srt_status submit_async(srt_encode_slot *s, int batch, const float *const *audio, int64_t Lmax) {
    snac_model *m = s->m;
    const snac_config *c = &m->cfg;
    const srt_backend_ops *ops = m->be.ops;
    void *ctx = m->be.ctx;
    size_t n_audio = (size_t)batch * (size_t)Lmax, n_codes = 0;
    for (int l = 0; l < c->n_levels; l++) n_codes += (size_t)batch * (size_t)(s->T / c->vq_strides[l]);
    SRT_TRY(grow_pinned(s, (void **)&s->h_audio, &s->h_audio_cap, n_audio, sizeof(float)));
    SRT_TRY(grow_pinned(s, (void **)&s->h_codes, &s->h_codes_cap, n_codes, sizeof(int32_t)));
    if (n_audio > s->d_audio_cap) {
        /* a new block may be one the other slot's queued work still uses: let that finish first */
        SRT_TRY(ops->sync(ctx));
        if (s->d_audio) ops->free(ctx, s->d_audio);
        s->d_audio = NULL;
        s->d_audio_cap = 0;
        size_t want = n_audio + n_audio / 4;
        SRT_TRY(ops->alloc(ctx, want * sizeof(float), (void **)&s->d_audio));
        s->d_audio_cap = want;
    }
    for (int b = 0; b < batch; b++) {                        /* (batch, 1, Lmax), zeros after each item */
        float *row = s->h_audio + (size_t)b * Lmax;
        memcpy(row, audio[b], sizeof(float) * (size_t)s->n_samples[b]);
        memset(row + s->n_samples[b], 0, sizeof(float) * (size_t)(Lmax - s->n_samples[b]));
    }
    size_t lat = (size_t)batch * c->latent_dim * s->T;
    SRT_TRY(s->as->fence_record(ctx, s->ev_start));
    SRT_TRY(s->as->upload(ctx, s->d_audio, s->h_audio, sizeof(float) * n_audio));
    SRT_TRY(ops->alloc(ctx, lat * sizeof(float), (void **)&s->d_z));
    SRT_TRY(ops->alloc(ctx, lat * sizeof(float), (void **)&s->d_zq));
    for (int l = 0; l < c->n_levels; l++)
        SRT_TRY(ops->alloc(ctx, sizeof(int32_t) * (size_t)batch * (s->T / c->vq_strides[l]), (void **)&s->d_codes[l]));
    SRT_TRY(snac_encoder_forward(m, batch, (int)Lmax, s->valid, s->d_audio, s->d_z));
    SRT_TRY(snac_quantize(m, batch, s->T, s->tvalid, s->d_z, s->d_codes, s->d_zq));
    size_t off = 0;
    for (int l = 0; l < c->n_levels; l++) {
        size_t n = (size_t)batch * (size_t)(s->T / c->vq_strides[l]);
        SRT_TRY(s->as->download(ctx, s->h_codes + off, s->d_codes[l], sizeof(int32_t) * n));
        off += n;
    }
    return s->as->fence_record(ctx, s->ev_end);
}

srt_status srt_encode_slot_submit(srt_encode_slot *s, int batch, const float *const *audio, const int64_t *n_samples) {
    const snac_config *c = &s->m->cfg;
    if (s->busy) return srt_error(SRT_ERR_INVALID_ARG, "encode slot: a batch is already in flight");
    if (batch < 1) return srt_error(SRT_ERR_INVALID_ARG, "encode: batch must be >= 1");
    SRT_TRY(grow_lengths(s, batch));
    int64_t Lmax = 0;
    for (int b = 0; b < batch; b++) {
        if (n_samples[b] <= 0 || n_samples[b] > ((int64_t)1 << 30))
            return srt_error(SRT_ERR_RANGE, "encode: signal %d has %lld samples (expected 1..%lld)", b,
                             (long long)n_samples[b], (long long)1 << 30);
        int64_t Lp = srt_ceil_div64(n_samples[b], c->pad_multiple) * c->pad_multiple;
        s->n_samples[b] = n_samples[b];
        s->valid[b] = (int)Lp;
        s->tvalid[b] = (int)(Lp / c->hop_length);
        if (Lp > Lmax) Lmax = Lp;
    }
    s->batch = batch;
    s->T = (int)(Lmax / c->hop_length);
    if (!s->as) {
        SRT_TRY(srt_codec_encode(s->codec, batch, audio, n_samples, s->sync_codes, NULL, NULL));
        s->busy = 1;
        return SRT_OK;
    }
    srt_status st = submit_async(s, batch, audio, Lmax);
    if (st != SRT_OK) {                                      /* nothing may still read the slot's buffers */
        s->m->be.ops->sync(s->m->be.ctx);
        release_device(s);
        return st;
    }
    s->busy = 1;
    return SRT_OK;
}

srt_status srt_encode_slot_collect(srt_encode_slot *s, srt_codes *codes, double *device_ms) {
    const snac_config *c = &s->m->cfg;
    void *ctx = s->m->be.ctx;
    *device_ms = -1;
    for (int b = 0; b < s->batch; b++) memset(&codes[b], 0, sizeof codes[b]);
    if (!s->busy) return srt_error(SRT_ERR_INVALID_ARG, "encode slot: no batch to collect");
    s->busy = 0;
    if (!s->as) {
        memcpy(codes, s->sync_codes, sizeof *codes * (size_t)s->batch);
        memset(s->sync_codes, 0, sizeof *codes * (size_t)s->batch);
        return SRT_OK;
    }
    srt_status st = s->as->fence_wait(ctx, s->ev_end);
    release_device(s);
    if (st == SRT_OK) st = s->as->fence_elapsed_ms(ctx, s->ev_start, s->ev_end, device_ms);
    size_t off = 0;
    for (int l = 0; l < c->n_levels && st == SRT_OK; l++) {
        int n = s->T / c->vq_strides[l];
        for (int b = 0; b < s->batch; b++) {
            int nb = s->tvalid[b] / c->vq_strides[l];
            codes[b].n_levels = c->n_levels;
            codes[b].n_frames[l] = nb;
            codes[b].n_samples = s->n_samples[b];
            codes[b].codes[l] = srt_malloc(sizeof(int32_t) * (size_t)(nb > 0 ? nb : 1), "codes");
            if (!codes[b].codes[l]) { st = SRT_ERR_NOMEM; break; }
            memcpy(codes[b].codes[l], s->h_codes + off + (size_t)b * n, sizeof(int32_t) * (size_t)nb);
        }
        off += (size_t)s->batch * n;
    }
    if (st != SRT_OK) for (int b = 0; b < s->batch; b++) srt_codes_free(&codes[b]);
    return st;
}

void srt_encode_slot_free(srt_encode_slot *s) {
    if (!s) return;
    void *ctx = s->m->be.ctx;
    if (s->busy && !s->as) for (int b = 0; b < s->batch; b++) srt_codes_free(&s->sync_codes[b]);
    if (s->as) {
        if (s->busy) s->as->fence_wait(ctx, s->ev_end);
        release_device(s);
        if (s->d_audio) s->m->be.ops->free(ctx, s->d_audio);
        if (s->h_audio) s->as->host_free(ctx, s->h_audio);
        if (s->h_codes) s->as->host_free(ctx, s->h_codes);
        if (s->ev_start) s->as->fence_destroy(ctx, s->ev_start);
        if (s->ev_end) s->as->fence_destroy(ctx, s->ev_end);
    }
    free(s->n_samples); free(s->valid); free(s->tvalid); free(s->sync_codes);
    free(s);
}
