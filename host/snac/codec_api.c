/* codec_api.c: the public SNAC codec API (include/snacrt.h): load, info, batched encode/decode, code validation.
 * Handles padding to the model's multiple, per-item valid lengths, and host<->backend transfers.
 * On a backend that records passes (graph_run: CUDA graphs, cuda/codec_graph.c; SNACRT_CUDA_GRAPHS=0 turns it off)
 * the batch is padded to a batch bucket (exact to 8, multiples of 8 to 64, then of 32) and the length to a length
 * bucket (at most 25% longer), and the device work between upload and download -- encoder + VQ, or dequantize +
 * decoder -- runs as one recorded pass per (bucket, buffers) key. Padding items and frames are masked by the
 * per-item valid lengths, so every item's results are the ones it gets alone (batch invariance). */
#include "snac/snac_model.h"
#include <stdio.h>
#include <string.h>

struct srt_codec {
    snac_model *model;
};

srt_status srt_codec_load(const char *model_dir, const srt_codec_options *opts, srt_codec **out) {
    *out = NULL;
    if (!model_dir) return srt_error(SRT_ERR_INVALID_ARG, "srt_codec_load: no model folder given");
    srt_codec *c = srt_calloc(1, sizeof *c, "codec");
    if (!c) return SRT_ERR_NOMEM;
    srt_status st = snac_model_load(model_dir, opts && opts->backend ? opts->backend : "cpu",
                                    opts ? opts->n_threads : 0, &c->model);
    if (st == SRT_OK && opts && opts->precision) {
        st = srt_backend_set_precision(&c->model->be, opts->precision);
        if (st != SRT_OK) snac_model_free(c->model);
    }
    if (st != SRT_OK) { free(c); return st; }
    *out = c;
    return SRT_OK;
}

snac_model *srt_codec_model(srt_codec *codec) { return codec->model; }

void srt_codec_free(srt_codec *codec) {
    if (!codec) return;
    snac_model_free(codec->model);
    free(codec);
}

srt_status srt_codec_get_info(const srt_codec *codec, srt_codec_info *info) {
    const snac_config *c = &codec->model->cfg;
    memset(info, 0, sizeof *info);
    info->sample_rate = c->sampling_rate;
    info->hop_length = c->hop_length;
    info->n_levels = c->n_levels;
    memcpy(info->vq_strides, c->vq_strides, sizeof(int) * (size_t)c->n_levels);
    info->codebook_size = c->codebook_size;
    info->codebook_dim = c->codebook_dim;
    info->latent_dim = c->latent_dim;
    info->encoder_dim = c->encoder_dim;
    info->decoder_dim = c->decoder_dim;
    info->n_rates = c->n_enc_rates;
    memcpy(info->encoder_rates, c->encoder_rates, sizeof(int) * (size_t)c->n_enc_rates);
    memcpy(info->decoder_rates, c->decoder_rates, sizeof(int) * (size_t)c->n_dec_rates);
    info->attn_window = c->attn_window;
    info->depthwise = c->depthwise;
    info->noise = c->noise;
    info->n_params = codec->model->n_params;
    info->pad_multiple = c->pad_multiple;
    return SRT_OK;
}

void srt_codes_free(srt_codes *codes) {
    if (!codes) return;
    for (int l = 0; l < 8; l++) { free(codes->codes[l]); codes->codes[l] = NULL; }
}

/* Recorded passes: buckets and keys (see the top of the file). */
static int batch_bucket(int n) {
    if (n <= 8) return n;
    if (n <= 64) return (n + 7) / 8 * 8;
    return (n + 31) / 32 * 32;
}
/* units of a length -> at most 25% more: 4 buckets per octave */
static int64_t length_bucket(int64_t units) {
    int64_t step = 1;
    while (step * 8 <= units) step *= 2;
    return srt_ceil_div64(units, step) * step;
}
static uint64_t key_mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}
static int records(snac_model *m) { return srt_op_codec_graph_run(&m->be, 0, NULL, NULL) == SRT_OK; }

/* A device buffer of the call: with recording on, slot `slot` of the model's kept I/O buffers (grown on demand, never
 * freed by put); else a fresh allocation. */
static srt_status io_get(snac_model *m, int graph, int slot, size_t bytes, void **p) {
    if (!graph) return m->be.ops->alloc(m->be.ctx, bytes, p);
    if (m->io_bytes[slot] < bytes) {
        if (m->io_buf[slot]) m->be.ops->free(m->be.ctx, m->io_buf[slot]);
        m->io_buf[slot] = NULL;
        m->io_bytes[slot] = 0;
        SRT_TRY(m->be.ops->alloc(m->be.ctx, bytes, &m->io_buf[slot]));
        m->io_bytes[slot] = bytes;
    }
    *p = m->io_buf[slot];
    return SRT_OK;
}
static void io_put(snac_model *m, int graph, void *p) {
    if (p && !graph) m->be.ops->free(m->be.ctx, p);
}
enum { IO_AUDIO = 0, IO_Z, IO_ZQ, IO_CODES };   /* slots; IO_CODES + level */

typedef struct encode_pass {
    snac_model *m;
    int batch, len, T;
    const int *valid, *tvalid;      /* host (batch) */
    const float *audio;             /* (batch, 1, len) */
    float *z, *zq;                  /* (batch, latent, T) */
    int32_t **codes;                /* per level (batch, T / stride) */
} encode_pass;
static srt_status encode_body(void *arg) {
    encode_pass *p = arg;
    SRT_TRY(snac_encoder_forward(p->m, p->batch, p->len, p->valid, p->audio, p->z));
    return snac_quantize(p->m, p->batch, p->T, p->tvalid, p->z, p->codes, p->zq);
}

typedef struct decode_pass {
    snac_model *m;
    int batch, T;
    const int *tvalid;
    int32_t **codes;
    int64_t noise_seed;
    float *zq, *audio;              /* (batch, latent, T), (batch, 1, T * hop) */
} decode_pass;
static srt_status decode_body(void *arg) {
    decode_pass *p = arg;
    SRT_TRY(snac_dequantize(p->m, p->batch, p->T, p->codes, p->zq));
    return snac_decoder_forward(p->m, p->batch, p->T, p->tvalid, p->zq, p->noise_seed, p->audio);
}

/* Longest signal we accept in one call: keeps every int length in range. */
#define SRT_MAX_SAMPLES ((int64_t)1 << 30)

srt_status srt_codes_validate(const srt_codec_info *info, const srt_codes *codes, const char *what) {
    if (codes->n_levels != info->n_levels)
        return srt_error(SRT_ERR_FORMAT, "%s: %d code levels, the model has %d", what, codes->n_levels, info->n_levels);
    int last = info->n_levels - 1;
    int64_t T = codes->n_frames[0] * info->vq_strides[0];
    if (codes->n_frames[0] <= 0) return srt_error(SRT_ERR_FORMAT, "%s: no frames", what);
    if (T * info->hop_length > SRT_MAX_SAMPLES)
        return srt_error(SRT_ERR_RANGE, "%s: %lld frames is too long for one call (max %lld samples)", what,
                         (long long)codes->n_frames[0], (long long)SRT_MAX_SAMPLES);
    for (int l = 0; l <= last; l++) {
        if (codes->n_frames[l] * info->vq_strides[l] != T)
            return srt_error(SRT_ERR_FORMAT, "%s: level %d has %lld codes but level 0 has %lld; with strides %d and %d "
                             "level %d needs %lld", what, l, (long long)codes->n_frames[l], (long long)codes->n_frames[0],
                             info->vq_strides[0], info->vq_strides[l], l, (long long)(T / info->vq_strides[l]));
        if (!codes->codes[l]) return srt_error(SRT_ERR_INVALID_ARG, "%s: level %d has no code array", what, l);
        for (int64_t i = 0; i < codes->n_frames[l]; i++)
            if (codes->codes[l][i] < 0 || codes->codes[l][i] >= info->codebook_size)
                return srt_error(SRT_ERR_RANGE, "%s: code %d at level %d frame %lld is outside [0, %d)", what,
                                 codes->codes[l][i], l, (long long)i, info->codebook_size);
    }
    if (info->attn_window && T % info->attn_window)
        return srt_error(SRT_ERR_FORMAT, "%s: %lld latent frames is not a multiple of the attention window %d "
                         "(level 0 must have a multiple of %d codes)", what, (long long)T, info->attn_window,
                         (int)(info->attn_window / srt_gcd64(info->attn_window, info->vq_strides[0])));
    return SRT_OK;
}

srt_status srt_codec_encode(srt_codec *codec, int batch, const float *const *audio, const int64_t *n_samples,
                            srt_codes *codes, float **latents, float **quantized) {
    snac_model *m = codec->model;
    const snac_config *c = &m->cfg;
    const srt_backend_ops *ops = m->be.ops;
    void *ctx = m->be.ctx;
    if (batch < 1) return srt_error(SRT_ERR_INVALID_ARG, "encode: batch must be >= 1");
    for (int b = 0; b < batch; b++) {
        memset(&codes[b], 0, sizeof codes[b]);
        if (latents) latents[b] = NULL;
        if (quantized) quantized[b] = NULL;
    }
    int graph = records(m);
    int B = graph ? batch_bucket(batch) : batch;   /* items computed: batch + padding items */
    int64_t Lmax = 0;
    int *valid = srt_calloc((size_t)B, sizeof(int), "lengths"), *tvalid = srt_calloc((size_t)B, sizeof(int), "lengths");
    if (!valid || !tvalid) { free(valid); free(tvalid); return SRT_ERR_NOMEM; }
    srt_status st = SRT_OK;
    for (int b = 0; b < batch; b++) {
        if (n_samples[b] <= 0 || n_samples[b] > SRT_MAX_SAMPLES) {
            st = srt_error(SRT_ERR_RANGE, "encode: signal %d has %lld samples (expected 1..%lld)", b,
                           (long long)n_samples[b], (long long)SRT_MAX_SAMPLES);
            free(valid); free(tvalid);
            return st;
        }
        int64_t Lp = srt_ceil_div64(n_samples[b], c->pad_multiple) * c->pad_multiple;
        valid[b] = (int)Lp;
        tvalid[b] = (int)(Lp / c->hop_length);
        if (Lp > Lmax) Lmax = Lp;
    }
    if (graph) {
        int64_t Lb = length_bucket(Lmax / c->pad_multiple) * c->pad_multiple;
        if (Lb <= SRT_MAX_SAMPLES) Lmax = Lb;
        for (int b = batch; b < B; b++) { valid[b] = c->pad_multiple; tvalid[b] = c->pad_multiple / c->hop_length; }
    }
    int T = (int)(Lmax / c->hop_length);
    size_t lat = (size_t)B * c->latent_dim * T;
    float *host = NULL, *d_audio = NULL, *d_z = NULL, *d_zq = NULL;
    int32_t *d_codes[SNAC_MAX_LEVELS] = {0};
    int32_t *h_codes = NULL;
    host = srt_calloc((size_t)B * Lmax, sizeof(float), "padded audio");   /* (B, 1, Lmax) */
    if (!host) { st = SRT_ERR_NOMEM; goto done; }
    for (int b = 0; b < batch; b++) memcpy(host + (size_t)b * Lmax, audio[b], sizeof(float) * (size_t)n_samples[b]);
    SRT_TRY_GOTO(io_get(m, graph, IO_AUDIO, sizeof(float) * (size_t)B * Lmax, (void **)&d_audio), done);
    SRT_TRY_GOTO(ops->upload(ctx, d_audio, host, sizeof(float) * (size_t)B * Lmax), done);
    free(host); host = NULL;
    SRT_TRY_GOTO(io_get(m, graph, IO_Z, lat * sizeof(float), (void **)&d_z), done);
    SRT_TRY_GOTO(io_get(m, graph, IO_ZQ, lat * sizeof(float), (void **)&d_zq), done);
    for (int l = 0; l < c->n_levels; l++)
        SRT_TRY_GOTO(io_get(m, graph, IO_CODES + l, sizeof(int32_t) * (size_t)B * (T / c->vq_strides[l]),
                            (void **)&d_codes[l]), done);
    encode_pass pass = {m, B, (int)Lmax, T, valid, tvalid, d_audio, d_z, d_zq, d_codes};
    if (graph) {   /* the key: shapes and the caller's buffers (valid lengths are refreshed per call) */
        uint64_t key = key_mix(key_mix(key_mix(0x656e636f6465ull, (uint64_t)B), (uint64_t)Lmax), (uint64_t)(uintptr_t)d_audio);
        key = key_mix(key_mix(key, (uint64_t)(uintptr_t)d_z), (uint64_t)(uintptr_t)d_zq);
        for (int l = 0; l < c->n_levels; l++) key = key_mix(key, (uint64_t)(uintptr_t)d_codes[l]);
        SRT_TRY_GOTO(srt_op_codec_graph_run(&m->be, key, encode_body, &pass), done);
    } else {
        SRT_TRY_GOTO(encode_body(&pass), done);
    }
    h_codes = srt_malloc(sizeof(int32_t) * (size_t)B * T, "codes");
    if (!h_codes) { st = SRT_ERR_NOMEM; goto done; }
    for (int l = 0; l < c->n_levels; l++) {
        int n = T / c->vq_strides[l];
        SRT_TRY_GOTO(ops->download(ctx, h_codes, d_codes[l], sizeof(int32_t) * (size_t)B * n), done);
        for (int b = 0; b < batch; b++) {
            int nb = tvalid[b] / c->vq_strides[l];
            codes[b].n_levels = c->n_levels;
            codes[b].n_frames[l] = nb;
            codes[b].n_samples = n_samples[b];
            codes[b].codes[l] = srt_malloc(sizeof(int32_t) * (size_t)nb, "codes");
            if (!codes[b].codes[l]) { st = SRT_ERR_NOMEM; goto done; }
            memcpy(codes[b].codes[l], h_codes + (size_t)b * n, sizeof(int32_t) * (size_t)nb);
        }
    }
    for (int which = 0; which < 2; which++) {
        float **dst = which ? quantized : latents;
        if (!dst) continue;
        float *all = srt_malloc(lat * sizeof(float), "latents");
        if (!all) { st = SRT_ERR_NOMEM; goto done; }
        st = ops->download(ctx, all, which ? d_zq : d_z, lat * sizeof(float));
        for (int b = 0; b < batch && st == SRT_OK; b++) {
            dst[b] = srt_malloc(sizeof(float) * (size_t)c->latent_dim * tvalid[b], "latents");
            if (!dst[b]) { st = SRT_ERR_NOMEM; break; }
            for (int d = 0; d < c->latent_dim; d++)
                memcpy(dst[b] + (size_t)d * tvalid[b], all + ((size_t)b * c->latent_dim + d) * T,
                       sizeof(float) * (size_t)tvalid[b]);
        }
        free(all);
        if (st != SRT_OK) goto done;
    }
done:
    free(host); free(h_codes);
    io_put(m, graph, d_audio);
    io_put(m, graph, d_z);
    io_put(m, graph, d_zq);
    for (int l = 0; l < c->n_levels; l++) io_put(m, graph, d_codes[l]);
    if (st != SRT_OK)
        for (int b = 0; b < batch; b++) {
            srt_codes_free(&codes[b]);
            if (latents) { free(latents[b]); latents[b] = NULL; }
            if (quantized) { free(quantized[b]); quantized[b] = NULL; }
        }
    free(valid); free(tvalid);
    return st;
}

srt_status srt_codec_decode(srt_codec *codec, int batch, const srt_codes *codes, int64_t noise_seed,
                            float **audio, int64_t *n_out) {
    snac_model *m = codec->model;
    const snac_config *c = &m->cfg;
    const srt_backend_ops *ops = m->be.ops;
    void *ctx = m->be.ctx;
    if (batch < 1) return srt_error(SRT_ERR_INVALID_ARG, "decode: batch must be >= 1");
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    for (int b = 0; b < batch; b++) { audio[b] = NULL; n_out[b] = 0; }
    /* decoder noise is uploaded per call: such passes run eagerly */
    int graph = records(m) && (noise_seed < 0 || !c->noise);
    int B = graph ? batch_bucket(batch) : batch;
    int *tvalid = srt_calloc((size_t)B, sizeof(int), "lengths");
    if (!tvalid) return SRT_ERR_NOMEM;
    int T = 0;
    srt_status st = SRT_OK;
    for (int b = 0; b < batch; b++) {
        char what[64];
        snprintf(what, sizeof what, "codes of item %d", b);
        if ((st = srt_codes_validate(&info, &codes[b], what)) != SRT_OK) { free(tvalid); return st; }
        tvalid[b] = (int)(codes[b].n_frames[0] * c->vq_strides[0]);
        if (tvalid[b] > T) T = tvalid[b];
    }
    if (graph) {
        int unit = c->pad_multiple / c->hop_length;   /* latent frames of the smallest valid item */
        int64_t Tb = length_bucket(srt_ceil_div64(T, unit)) * unit;
        if (Tb * c->hop_length <= SRT_MAX_SAMPLES) T = (int)Tb;
        for (int b = batch; b < B; b++) tvalid[b] = unit;
    }
    size_t lat = (size_t)B * c->latent_dim * T, n_audio = (size_t)B * T * c->hop_length;
    int32_t *d_codes[SNAC_MAX_LEVELS] = {0}, *h_codes = NULL;
    float *d_zq = NULL, *d_audio = NULL, *h_audio = NULL;
    h_codes = srt_calloc((size_t)B * T, sizeof(int32_t), "codes");
    if (!h_codes) { st = SRT_ERR_NOMEM; goto done; }
    for (int l = 0; l < c->n_levels; l++) {
        int n = T / c->vq_strides[l];
        memset(h_codes, 0, sizeof(int32_t) * (size_t)B * T);
        for (int b = 0; b < batch; b++)
            memcpy(h_codes + (size_t)b * n, codes[b].codes[l], sizeof(int32_t) * (size_t)codes[b].n_frames[l]);
        SRT_TRY_GOTO(io_get(m, graph, IO_CODES + l, sizeof(int32_t) * (size_t)B * n, (void **)&d_codes[l]), done);
        SRT_TRY_GOTO(ops->upload(ctx, d_codes[l], h_codes, sizeof(int32_t) * (size_t)B * n), done);
    }
    SRT_TRY_GOTO(io_get(m, graph, IO_ZQ, lat * sizeof(float), (void **)&d_zq), done);
    SRT_TRY_GOTO(io_get(m, graph, IO_AUDIO, n_audio * sizeof(float), (void **)&d_audio), done);
    decode_pass pass = {m, B, T, tvalid, d_codes, noise_seed, d_zq, d_audio};
    if (graph) {
        uint64_t key = key_mix(key_mix(key_mix(0x6465636f6465ull, (uint64_t)B), (uint64_t)T), (uint64_t)(uintptr_t)d_zq);
        key = key_mix(key_mix(key, (uint64_t)(uintptr_t)d_audio), (uint64_t)noise_seed);
        for (int l = 0; l < c->n_levels; l++) key = key_mix(key, (uint64_t)(uintptr_t)d_codes[l]);
        SRT_TRY_GOTO(srt_op_codec_graph_run(&m->be, key, decode_body, &pass), done);
    } else {
        SRT_TRY_GOTO(decode_body(&pass), done);
    }
    h_audio = srt_malloc(n_audio * sizeof(float), "decoded audio");
    if (!h_audio) { st = SRT_ERR_NOMEM; goto done; }
    SRT_TRY_GOTO(ops->download(ctx, h_audio, d_audio, n_audio * sizeof(float)), done);
    for (int b = 0; b < batch; b++) {
        int64_t n = (int64_t)tvalid[b] * c->hop_length;
        if (codes[b].n_samples > 0 && codes[b].n_samples < n) n = codes[b].n_samples;
        audio[b] = srt_malloc(sizeof(float) * (size_t)n, "decoded audio");
        if (!audio[b]) { st = SRT_ERR_NOMEM; goto done; }
        memcpy(audio[b], h_audio + (size_t)b * T * c->hop_length, sizeof(float) * (size_t)n);
        n_out[b] = n;
    }
done:
    free(h_codes); free(h_audio);
    for (int l = 0; l < c->n_levels; l++) io_put(m, graph, d_codes[l]);
    io_put(m, graph, d_zq);
    io_put(m, graph, d_audio);
    if (st != SRT_OK)
        for (int b = 0; b < batch; b++) { free(audio[b]); audio[b] = NULL; n_out[b] = 0; }
    free(tvalid);
    return st;
}
