/* snac_graph.c: SNAC encoder and offline decoder over the backend op table; the decoder runs the stage list of
 * snac_stages.c that the streaming decoder runs too.
 * Batched signals of different lengths share one pass: each op receives per-item valid lengths so padding
 * reads as zero exactly like the reference's zero padding, and results never depend on the batch. */
#include "snac/snac_stages.h"
#include <math.h>
#include <string.h>

#define OPS(m) ((m)->be.ops)
#define CTX(m) ((m)->be.ctx)

static srt_status ws_alloc(snac_model *m, size_t n_floats, float **p) {
    void *d = NULL;
    SRT_TRY(OPS(m)->alloc(CTX(m), n_floats * sizeof(float), &d));
    *p = d;
    return SRT_OK;
}
static void ws_free(snac_model *m, float *p) { if (p) OPS(m)->free(CTX(m), p); }

/* Three activation buffers of cap floats and a host copy of the valid lengths; the caller frees all four
 * (also on failure: unallocated ones stay NULL). */
static srt_status workspace_alloc(snac_model *m, int batch, const int *valid, size_t cap, float **x, float **t,
                                  float **u, int **v) {
    *v = srt_calloc((size_t)batch, sizeof(int), "valid lengths");
    if (!*v) return SRT_ERR_NOMEM;
    memcpy(*v, valid, sizeof(int) * (size_t)batch);
    SRT_TRY(ws_alloc(m, cap, x));
    SRT_TRY(ws_alloc(m, cap, t));
    return ws_alloc(m, cap, u);
}

static void scale_valid(int batch, const int *valid, int64_t num, int64_t den, int *out) {
    for (int b = 0; b < batch; b++) out[b] = (int)((int64_t)valid[b] * num / den);
}

srt_status snac_conv_forward(snac_model *m, const snac_conv *c, int batch, int in_len, int padding,
                             const int *valid, const float *alpha, const float *x, const float *residual, int res_ld,
                             float *y) {
    srt_conv1d_args a = {
        .batch = batch, .in_ch = c->in_ch, .out_ch = c->out_ch, .in_len = in_len,
        .out_len = (in_len + 2 * padding - c->dilation * (c->kernel - 1) - 1) / c->stride + 1,
        .kernel = c->kernel, .stride = c->stride, .dilation = c->dilation, .padding = padding, .groups = c->groups,
        .x = x, .w = c->w, .bias = c->b, .in_alpha = alpha, .residual = residual, .res_ld = res_ld,
        .in_valid = valid, .y = y,
        .w_static = 1,   /* model weights */
    };
    return srt_op_conv1d(&(m)->be, &a);
}

/* A conv with the reference's zero padding. */
static srt_status run_conv(snac_model *m, const snac_conv *c, int batch, int in_len, const int *valid,
                           const float *alpha, const float *x, const float *residual, float *y) {
    return snac_conv_forward(m, c, batch, in_len, c->padding, valid, alpha, x, residual, 0, y);
}

/* x (batch, dim, len) updated in place: x += conv2(snake(conv1(snake(x)))). t: scratch of the same size. */
static srt_status run_residual_unit(snac_model *m, const snac_residual_unit *u, int batch, int len, const int *valid,
                                    float *x, float *t) {
    SRT_TRY(run_conv(m, &u->conv1, batch, len, valid, u->alpha1, x, NULL, t));
    return run_conv(m, &u->conv2, batch, len, valid, u->alpha2, t, x, x);
}

/* LocalMHA on x (batch, dim, len) in place. scratch: 5 * batch * dim * len floats. */
static srt_status run_local_mha(snac_model *m, const snac_local_mha *a, int batch, int len, float *x, float *scratch) {
    size_t n = (size_t)batch * a->dim * len;
    float *xt = scratch, *qkv = scratch + n, *att = scratch + 4 * n;
    srt_transpose_args tr = {.batch = batch, .rows = a->dim, .cols = len, .x = x, .residual = NULL, .y = xt};
    SRT_TRY(srt_op_transpose(&(m)->be, &tr));                                       /* xt (batch, len, dim) */
    srt_layernorm_args ln = {.rows = batch * len, .dim = a->dim, .eps = 1e-5f, .x = xt, .gamma = a->norm_w,
                             .beta = a->norm_b, .y = xt};
    SRT_TRY(srt_op_layernorm(&(m)->be, &ln));
    srt_gemm_args g1 = {.M = batch * len, .N = 3 * a->dim, .K = a->dim, .trans_b = 1, .alpha = 1, .beta = 0,
                        .A = xt, .lda = a->dim, .B = a->qkv_w, .ldb = a->dim, .b_dtype = SRT_F32,
                        .C = qkv, .ldc = 3 * a->dim};
    SRT_TRY(srt_op_gemm(&(m)->be, &g1));                                            /* qkv (batch, len, 3*dim) */
    srt_local_attn_args la = {.batch = batch, .len = len, .heads = a->heads, .head_dim = a->head_dim,
                              .window = a->window, .qkv = qkv, .out = att};
    SRT_TRY(srt_op_local_attention(&(m)->be, &la));                                 /* att (batch, len, dim) */
    srt_gemm_args g2 = {.M = batch * len, .N = a->dim, .K = a->dim, .trans_b = 1, .alpha = 1, .beta = 0,
                        .A = att, .lda = a->dim, .B = a->out_w, .ldb = a->dim, .b_dtype = SRT_F32,
                        .C = xt, .ldc = a->dim};
    SRT_TRY(srt_op_gemm(&(m)->be, &g2));                                            /* xt (batch, len, dim) */
    srt_transpose_args back = {.batch = batch, .rows = len, .cols = a->dim, .x = xt, .residual = x, .y = x};
    return srt_op_transpose(&(m)->be, &back);                                       /* x += out^T */
}

srt_status snac_local_mha_forward(snac_model *m, const snac_local_mha *a, int batch, int len, float *x,
                                  float *scratch) {
    return run_local_mha(m, a, batch, len, x, scratch);
}

int64_t snac_encoder_max_activation(const snac_model *m) {
    /* per finest-latent frame: channels * samples-per-frame at each stage */
    const snac_config *c = &m->cfg;
    int64_t best = (int64_t)c->encoder_dim * c->hop_length, per = c->hop_length, d = c->encoder_dim;
    for (int i = 0; i < c->n_enc_rates; i++) {
        int64_t v = d * per;
        if (v > best) best = v;
        per /= c->encoder_rates[i];
        d *= 2;
        if (d * per > best) best = d * per;
    }
    if (c->attn_window && 5 * (int64_t)c->latent_dim > best) best = 5 * (int64_t)c->latent_dim;
    return best;
}

srt_status snac_encoder_forward(snac_model *m, int batch, int len, const int *valid, const float *audio, float *z) {
    const snac_config *c = &m->cfg;
    size_t cap = (size_t)batch * (size_t)snac_encoder_max_activation(m) * (size_t)(len / c->hop_length);
    float *x = NULL, *t = NULL, *u = NULL;
    int *v = NULL;
    srt_status st;
    SRT_TRY_GOTO(workspace_alloc(m, batch, valid, cap, &x, &t, &u, &v), done);
    SRT_TRY_GOTO(run_conv(m, &m->enc_in, batch, len, v, NULL, audio, NULL, x), done);   /* x (batch, d, len) */
    int cur = len;
    for (int i = 0; i < c->n_enc_rates; i++) {
        const snac_encoder_block *blk = &m->enc_blocks[i];
        for (int k = 0; k < 3; k++) SRT_TRY_GOTO(run_residual_unit(m, &blk->units[k], batch, cur, v, x, t), done);
        SRT_TRY_GOTO(run_conv(m, &blk->down, batch, cur, v, blk->alpha, x, NULL, t), done); /* t (batch, 2d, cur/s) */
        float *sw = x; x = t; t = sw;
        cur /= c->encoder_rates[i];
        scale_valid(batch, valid, cur, len, v);
    }
    if (m->enc_has_attn) SRT_TRY_GOTO(run_local_mha(m, &m->enc_attn, batch, cur, x, u), done);
    SRT_TRY_GOTO(run_conv(m, &m->enc_out, batch, cur, v, NULL, x, NULL, z), done);       /* z (batch, latent, T) */
done:
    ws_free(m, x); ws_free(m, t); ws_free(m, u);
    free(v);
    return st;
}

int64_t snac_decoder_max_activation(const snac_model *m) {
    const snac_config *c = &m->cfg;
    int64_t best = (int64_t)c->decoder_dim, per = 1, ch = c->decoder_dim;
    if (c->latent_dim > best) best = c->latent_dim;
    if (c->attn_window && 5 * (int64_t)c->decoder_dim > best) best = 5 * (int64_t)c->decoder_dim;
    for (int i = 0; i < c->n_dec_rates; i++) {
        per *= c->decoder_rates[i];
        ch /= 2;
        if (ch * per > best) best = ch * per;
    }
    return best;
}

float snac_noise_value(int64_t seed, int block, int64_t t) {
    /* counter-based: splitmix64 of (seed, block, t) -> two uniforms -> Box-Muller */
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)(block + 1) << 48) ^ (uint64_t)t;
    uint64_t r[2];
    for (int i = 0; i < 2; i++) {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        r[i] = z ^ (z >> 31);
    }
    double u1 = ((r[0] >> 11) + 1.0) / 9007199254740993.0, u2 = (r[1] >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

srt_status snac_decoder_forward(snac_model *m, int batch, int T, const int *valid, const float *z_q,
                                int64_t noise_seed, float *audio) {
    snac_stage stages[SNAC_MAX_STAGES];
    int n_stages = snac_decoder_stages(m, stages);
    size_t cap = (size_t)batch * (size_t)snac_decoder_max_activation(m) * (size_t)T;
    float *x = NULL, *t = NULL, *noise_dev = NULL, *noise_host = NULL;
    int *v = srt_calloc((size_t)batch, sizeof(int), "valid lengths"),
        *v_out = srt_calloc((size_t)batch, sizeof(int), "valid lengths");
    srt_status st = SRT_OK;
    if (!v || !v_out) { st = SRT_ERR_NOMEM; goto done; }
    memcpy(v, valid, sizeof(int) * (size_t)batch);
    SRT_TRY_GOTO(ws_alloc(m, cap, &x), done);                    /* activations (batch, ch, len) */
    SRT_TRY_GOTO(ws_alloc(m, cap, &t), done);                    /* scratch; attention: 5 * batch * dim * T <= cap */
    int cur = T;
    const float *in = z_q;
    for (int k = 0; k < n_stages; k++) {
        const snac_stage *sg = &stages[k];
        int out_len = (int)snac_stage_out_len(sg, cur);
        scale_valid(batch, valid, out_len, T, v_out);
        float *y = sg->kind == SNAC_STAGE_OUT ? audio : sg->kind == SNAC_STAGE_UP ? t : x;
        snac_stage_args a = {.batch = batch, .in_len = cur, .out_len = out_len, .padded = 1, .valid = v,
                             .valid_out = v_out, .x = (float *)in, .t = t, .res = x, .y = y};
        if (sg->kind == SNAC_STAGE_IN) a.y = x;
        if (sg->kind == SNAC_STAGE_UP) a.t = x;                  /* x is read only before t is written */
        if (sg->kind == SNAC_STAGE_UP && m->dec_blocks[sg->block].has_noise && noise_seed >= 0) {
            size_t nn = (size_t)batch * out_len;                 /* noise (batch, out_len) at absolute positions */
            noise_host = srt_malloc(nn * sizeof(float), "decoder noise");
            if (!noise_host) { st = SRT_ERR_NOMEM; goto done; }
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < out_len; j++)
                    noise_host[(size_t)b * out_len + j] = snac_noise_value(noise_seed, sg->block, j);
            SRT_TRY_GOTO(ws_alloc(m, nn, &noise_dev), done);
            SRT_TRY_GOTO(OPS(m)->upload(CTX(m), noise_dev, noise_host, nn * sizeof(float)), done);
            a.noise = noise_dev;
        }
        float *out = NULL;
        SRT_TRY_GOTO(snac_stage_forward(m, sg, &a, &out), done);
        if (sg->kind == SNAC_STAGE_UP) { t = x; x = out; }       /* the upsampled signal becomes x */
        free(noise_host); noise_host = NULL;
        ws_free(m, noise_dev); noise_dev = NULL;
        in = out;
        cur = out_len;
        memcpy(v, v_out, sizeof(int) * (size_t)batch);
    }
done:
    ws_free(m, x); ws_free(m, t); ws_free(m, noise_dev);
    free(noise_host);
    free(v); free(v_out);
    return st;
}
