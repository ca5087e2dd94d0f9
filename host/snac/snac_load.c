/* snac_load.c: build a snac_model from a Hugging Face SNAC folder: read config.json, fetch every tensor by its
 * published name, fold weight norm (g * v / |v| over all dims but the first; both key styles
 * `parametrizations.weight.original0/1` and `weight_g/weight_v`), and upload to the backend. */
#include "snac/snac_model.h"
#include "weights/weights.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct snac_loader {
    snac_model *m;
    const srt_weights *w;
} snac_loader;

static srt_status track(snac_model *m, void *p) {
    if (m->n_allocs == m->cap_allocs) {
        size_t cap = m->cap_allocs ? m->cap_allocs * 2 : 256;
        void **n = realloc(m->allocs, cap * sizeof *n);
        if (!n) return srt_error(SRT_ERR_NOMEM, "out of memory tracking weights");
        m->allocs = n;
        m->cap_allocs = cap;
    }
    m->allocs[m->n_allocs++] = p;
    return SRT_OK;
}

/* Upload a host array (takes ownership of host: freed here) to the backend. */
static srt_status upload(snac_loader *L, float *host, size_t n, float **dev) {
    void *d = NULL;
    srt_status st = srt_backend_alloc_upload(&L->m->be, host, n * sizeof(float), &d);
    free(host);
    if (st != SRT_OK) return st;
    *dev = d;
    L->m->n_params += (int64_t)n;
    return track(L->m, d);
}

static srt_status load_plain(snac_loader *L, const char *name, int ndim, const int64_t *shape, float **dev) {
    float *host = NULL;
    SRT_TRY(srt_weights_get_f32(L->w, name, ndim, shape, &host));
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return upload(L, host, n, dev);
}

/* Weight of a (possibly weight-normed) conv: v shape (d0, d1, k); g shape (d0, 1, 1). */
static srt_status load_wn_weight(snac_loader *L, const char *prefix, int64_t d0, int64_t d1, int64_t k, float **dev) {
    char gname[1024], vname[1024];
    int64_t vshape[3] = {d0, d1, k}, gshape[3] = {d0, 1, 1};
    const char *styles[][2] = {{"parametrizations.weight.original0", "parametrizations.weight.original1"},
                               {"weight_g", "weight_v"}};
    for (int s = 0; s < 2; s++) {
        snprintf(gname, sizeof gname, "%s.%s", prefix, styles[s][0]);
        snprintf(vname, sizeof vname, "%s.%s", prefix, styles[s][1]);
        if (!srt_weights_find(L->w, gname) && !srt_weights_find(L->w, vname)) continue;
        float *g = NULL, *v = NULL;
        srt_status st = srt_weights_get_f32(L->w, gname, 3, gshape, &g);
        if (st == SRT_OK) st = srt_weights_get_f32(L->w, vname, 3, vshape, &v);
        if (st != SRT_OK) { free(g); free(v); return st; }
        size_t row = (size_t)(d1 * k);
        for (int64_t i = 0; i < d0; i++) {
            double norm = 0;
            for (size_t j = 0; j < row; j++) norm += (double)v[i * row + j] * v[i * row + j];
            norm = sqrt(norm);
            double scale = norm > 0 ? g[i] / norm : 0.0;
            for (size_t j = 0; j < row; j++) v[i * row + j] = (float)(v[i * row + j] * scale);
        }
        free(g);
        return upload(L, v, (size_t)(d0 * row), dev);
    }
    snprintf(vname, sizeof vname, "%s.weight", prefix);
    if (srt_weights_find(L->w, vname)) return load_plain(L, vname, 3, vshape, dev);
    return srt_error(SRT_ERR_NOT_FOUND, "%s: no weight for %s (looked for %s.parametrizations.weight.original0/1, "
                     "%s.weight_g/weight_v and %s.weight)", srt_weights_source(L->w), prefix, prefix, prefix, prefix);
}

static srt_status load_conv(snac_loader *L, const char *prefix, int in_ch, int out_ch, int kernel, int stride,
                            int dilation, int padding, int groups, int has_bias, snac_conv *c) {
    c->in_ch = in_ch; c->out_ch = out_ch; c->kernel = kernel; c->stride = stride;
    c->dilation = dilation; c->padding = padding; c->groups = groups;
    c->b = NULL;
    SRT_TRY(load_wn_weight(L, prefix, out_ch, in_ch / groups, kernel, &c->w));
    if (has_bias) {
        char name[1024];
        snprintf(name, sizeof name, "%s.bias", prefix);
        int64_t shape[1] = {out_ch};
        SRT_TRY(load_plain(L, name, 1, shape, &c->b));
    }
    return SRT_OK;
}

static srt_status load_alpha(snac_loader *L, const char *prefix, int ch, float **dev) {
    char name[1024];
    snprintf(name, sizeof name, "%s.alpha", prefix);
    int64_t shape[3] = {1, ch, 1};
    return load_plain(L, name, 3, shape, dev);
}

static srt_status load_residual_unit(snac_loader *L, const char *prefix, int dim, int dilation, int groups,
                                     snac_residual_unit *u) {
    char p[512];
    snprintf(p, sizeof p, "%s.block.0", prefix);
    SRT_TRY(load_alpha(L, p, dim, &u->alpha1));
    snprintf(p, sizeof p, "%s.block.1", prefix);
    SRT_TRY(load_conv(L, p, dim, dim, 7, 1, dilation, 3 * dilation, groups, 1, &u->conv1));
    snprintf(p, sizeof p, "%s.block.2", prefix);
    SRT_TRY(load_alpha(L, p, dim, &u->alpha2));
    snprintf(p, sizeof p, "%s.block.3", prefix);
    return load_conv(L, p, dim, dim, 1, 1, 1, 0, 1, 1, &u->conv2);
}

static srt_status load_mha(snac_loader *L, const char *prefix, int dim, int window, snac_local_mha *a) {
    char name[1024];
    a->dim = dim;
    a->head_dim = 64;
    if (dim % 64) return srt_error(SRT_ERR_UNSUPPORTED, "%s: attention dim %d is not a multiple of 64", prefix, dim);
    a->heads = dim / 64;
    a->window = window;
    int64_t vec[1] = {dim}, qkv[2] = {3 * dim, dim}, out[2] = {dim, dim};
    snprintf(name, sizeof name, "%s.norm.weight", prefix);
    SRT_TRY(load_plain(L, name, 1, vec, &a->norm_w));
    snprintf(name, sizeof name, "%s.norm.bias", prefix);
    SRT_TRY(load_plain(L, name, 1, vec, &a->norm_b));
    snprintf(name, sizeof name, "%s.to_qkv.weight", prefix);
    SRT_TRY(load_plain(L, name, 2, qkv, &a->qkv_w));
    snprintf(name, sizeof name, "%s.to_out.weight", prefix);
    return load_plain(L, name, 2, out, &a->out_w);
}

static srt_status load_graph(snac_loader *L) {
    snac_model *m = L->m;
    const snac_config *c = &m->cfg;
    char p[512];
    /* encoder */
    int d = c->encoder_dim, idx = 0;
    SRT_TRY(load_conv(L, "encoder.block.0", 1, d, 7, 1, 1, 3, 1, 1, &m->enc_in));
    for (int i = 0; i < c->n_enc_rates; i++) {
        int in = d, out = d * 2, s = c->encoder_rates[i];
        int groups = c->depthwise ? in : 1;
        snac_encoder_block *blk = &m->enc_blocks[i];
        idx = i + 1;
        for (int u = 0; u < 3; u++) {
            static const int dil[3] = {1, 3, 9};
            snprintf(p, sizeof p, "encoder.block.%d.block.%d", idx, u);
            SRT_TRY(load_residual_unit(L, p, in, dil[u], groups, &blk->units[u]));
        }
        snprintf(p, sizeof p, "encoder.block.%d.block.3", idx);
        SRT_TRY(load_alpha(L, p, in, &blk->alpha));
        snprintf(p, sizeof p, "encoder.block.%d.block.4", idx);
        SRT_TRY(load_conv(L, p, in, out, 2 * s, s, 1, (s + 1) / 2, 1, 1, &blk->down));
        d = out;
    }
    if (d != c->latent_dim)
        return srt_error(SRT_ERR_UNSUPPORTED, "latent_dim %d differs from encoder_dim * 2^%d = %d", c->latent_dim,
                         c->n_enc_rates, d);
    idx++;
    if (c->attn_window) {
        m->enc_has_attn = 1;
        snprintf(p, sizeof p, "encoder.block.%d", idx++);
        SRT_TRY(load_mha(L, p, d, c->attn_window, &m->enc_attn));
    }
    snprintf(p, sizeof p, "encoder.block.%d", idx);
    SRT_TRY(load_conv(L, p, d, d, 7, 1, 1, 3, c->depthwise ? d : 1, 1, &m->enc_out));
    /* quantizer */
    for (int l = 0; l < c->n_levels; l++) {
        snac_vq_level *q = &m->vq[l];
        q->stride = c->vq_strides[l];
        snprintf(p, sizeof p, "quantizer.quantizers.%d.in_proj", l);
        SRT_TRY(load_conv(L, p, c->latent_dim, c->codebook_dim, 1, 1, 1, 0, 1, 1, &q->in_proj));
        snprintf(p, sizeof p, "quantizer.quantizers.%d.out_proj", l);
        SRT_TRY(load_conv(L, p, c->codebook_dim, c->latent_dim, 1, 1, 1, 0, 1, 1, &q->out_proj));
        snprintf(p, sizeof p, "quantizer.quantizers.%d.codebook.weight", l);
        int64_t shape[2] = {c->codebook_size, c->codebook_dim};
        float *cb = NULL;
        SRT_TRY(srt_weights_get_f32(L->w, p, 2, shape, &cb));
        float *cbn = srt_malloc(sizeof(float) * (size_t)c->codebook_size * c->codebook_dim, "normalized codebook");
        if (!cbn) { free(cb); return SRT_ERR_NOMEM; }
        for (int i = 0; i < c->codebook_size; i++) {
            double nrm = 0;
            for (int j = 0; j < c->codebook_dim; j++) nrm += (double)cb[i * c->codebook_dim + j] * cb[i * c->codebook_dim + j];
            nrm = sqrt(nrm);
            if (nrm < 1e-12) nrm = 1e-12;
            for (int j = 0; j < c->codebook_dim; j++) cbn[i * c->codebook_dim + j] = (float)(cb[i * c->codebook_dim + j] / nrm);
        }
        SRT_TRY(upload(L, cb, (size_t)c->codebook_size * c->codebook_dim, &q->codebook));
        SRT_TRY(upload(L, cbn, (size_t)c->codebook_size * c->codebook_dim, &q->codebook_n));
        m->n_params -= (int64_t)c->codebook_size * c->codebook_dim; /* derived copy, not a parameter */
    }
    /* decoder */
    int ch = c->decoder_dim;
    idx = 0;
    if (c->depthwise) {
        SRT_TRY(load_conv(L, "decoder.model.0", c->latent_dim, c->latent_dim, 7, 1, 1, 3, c->latent_dim, 1, &m->dec_in_dw));
        SRT_TRY(load_conv(L, "decoder.model.1", c->latent_dim, ch, 1, 1, 1, 0, 1, 1, &m->dec_in));
        idx = 2;
    } else {
        SRT_TRY(load_conv(L, "decoder.model.0", c->latent_dim, ch, 7, 1, 1, 3, 1, 1, &m->dec_in));
        idx = 1;
    }
    if (c->attn_window) {
        m->dec_has_attn = 1;
        snprintf(p, sizeof p, "decoder.model.%d", idx++);
        SRT_TRY(load_mha(L, p, ch, c->attn_window, &m->dec_attn));
    }
    int out_dim = ch;
    for (int i = 0; i < c->n_dec_rates; i++) {
        int in = ch >> i, s = c->decoder_rates[i];
        out_dim = ch >> (i + 1);
        int groups = c->depthwise ? out_dim : 1;
        snac_decoder_block *blk = &m->dec_blocks[i];
        snprintf(p, sizeof p, "decoder.model.%d.block.0", idx);
        SRT_TRY(load_alpha(L, p, in, &blk->alpha));
        snprintf(p, sizeof p, "decoder.model.%d.block.1", idx);
        blk->up.in_ch = in; blk->up.out_ch = out_dim; blk->up.kernel = 2 * s; blk->up.stride = s;
        blk->up.padding = (s + 1) / 2; blk->up.output_padding = s % 2;
        SRT_TRY(load_wn_weight(L, p, in, out_dim, 2 * s, &blk->up.w));
        char bname[1024];
        snprintf(bname, sizeof bname, "%s.bias", p);
        int64_t bshape[1] = {out_dim};
        SRT_TRY(load_plain(L, bname, 1, bshape, &blk->up.b));
        int next = 2;
        if (c->noise) {
            blk->has_noise = 1;
            snprintf(p, sizeof p, "decoder.model.%d.block.2.linear", idx);
            SRT_TRY(load_conv(L, p, out_dim, out_dim, 1, 1, 1, 0, 1, 0, &blk->noise_linear));
            next = 3;
        }
        for (int u = 0; u < 3; u++) {
            static const int dil[3] = {1, 3, 9};
            snprintf(p, sizeof p, "decoder.model.%d.block.%d", idx, next + u);
            SRT_TRY(load_residual_unit(L, p, out_dim, dil[u], groups, &blk->units[u]));
        }
        idx++;
    }
    snprintf(p, sizeof p, "decoder.model.%d", idx++);
    SRT_TRY(load_alpha(L, p, out_dim, &m->dec_alpha));
    snprintf(p, sizeof p, "decoder.model.%d", idx);
    return load_conv(L, p, out_dim, 1, 7, 1, 1, 3, 1, 1, &m->dec_out);
}

srt_status snac_model_load(const char *dir, const char *backend_name, int n_threads, snac_model **out) {
    *out = NULL;
    snac_model *m = srt_calloc(1, sizeof *m, "snac model");
    if (!m) return SRT_ERR_NOMEM;
    char *cfg_path = srt_path_join(dir, "config.json"), *text = NULL;
    srt_weights *w = NULL;
    srt_status st = cfg_path ? SRT_OK : SRT_ERR_NOMEM;
    if (st == SRT_OK) st = srt_read_file(cfg_path, &text, NULL);
    if (st == SRT_OK) st = snac_config_parse(text, cfg_path, &m->cfg);
    if (st == SRT_OK) st = srt_backend_create(backend_name, n_threads, &m->be);
    if (st == SRT_OK) st = srt_weights_open_dir(dir, &w);
    if (st == SRT_OK) {
        snac_loader L = {m, w};
        st = load_graph(&L);
    }
    free(cfg_path);
    free(text);
    srt_weights_free(w);
    if (st != SRT_OK) {
        srt_error_prefix(st, "loading SNAC model %s: ", dir);
        snac_model_free(m);
        return st;
    }
    *out = m;
    return SRT_OK;
}

void snac_model_free(snac_model *m) {
    if (!m) return;
    if (m->be.ops) {
        for (size_t i = 0; i < m->n_allocs; i++) m->be.ops->free(m->be.ctx, m->allocs[i]);
        for (int i = 0; i < SNAC_MAX_LEVELS + 3; i++) if (m->io_buf[i]) m->be.ops->free(m->be.ctx, m->io_buf[i]);
        srt_backend_destroy(&m->be);
    }
    free(m->allocs);
    free(m);
}
