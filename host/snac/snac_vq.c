/* snac_vq.c: SNAC residual vector quantization over the op table: per level, average-pool the residual by the
 * level's stride, project to the codebook space, pick the nearest L2-normalized code, project back,
 * repeat-interleave and subtract from the residual. dequantize rebuilds z_q from codes. */
#include "snac/snac_model.h"

#define OPS(m) ((m)->be.ops)
#define CTX(m) ((m)->be.ctx)

static srt_status conv1x1(snac_model *m, const snac_conv *c, int batch, int len, const float *x, float *y) {
    srt_conv1d_args a = {.batch = batch, .in_ch = c->in_ch, .out_ch = c->out_ch, .in_len = len, .out_len = len,
                         .kernel = 1, .stride = 1, .dilation = 1, .padding = 0, .groups = 1,
                         .x = x, .w = c->w, .bias = c->b, .y = y, .w_static = 1};
    return srt_op_conv1d(&(m)->be, &a);
}

/* Scratch for one level: pooled (batch, latent, n), e and q (batch, cd, n), o (batch, latent, n). */
typedef struct vq_scratch { float *pooled, *e, *q, *o, *residual; } vq_scratch;

static void scratch_free(snac_model *m, vq_scratch *s) {
    float *all[] = {s->pooled, s->e, s->q, s->o, s->residual};
    for (int i = 0; i < 5; i++) if (all[i]) OPS(m)->free(CTX(m), all[i]);
}

static srt_status scratch_alloc(snac_model *m, int batch, int T, int with_residual, vq_scratch *s) {
    const snac_config *c = &m->cfg;
    size_t lat = (size_t)batch * c->latent_dim * T, cd = (size_t)batch * c->codebook_dim * T;
    void *p;
    SRT_TRY(OPS(m)->alloc(CTX(m), lat * sizeof(float), &p)); s->pooled = p;
    SRT_TRY(OPS(m)->alloc(CTX(m), cd * sizeof(float), &p)); s->e = p;
    SRT_TRY(OPS(m)->alloc(CTX(m), cd * sizeof(float), &p)); s->q = p;
    SRT_TRY(OPS(m)->alloc(CTX(m), lat * sizeof(float), &p)); s->o = p;
    if (with_residual) { SRT_TRY(OPS(m)->alloc(CTX(m), lat * sizeof(float), &p)); s->residual = p; }
    return SRT_OK;
}

srt_status snac_quantize(snac_model *m, int batch, int T, const int *valid, const float *z, int32_t **codes,
                         float *z_q) {
    (void)valid; /* every op here is per frame: padding frames never touch valid ones */
    const snac_config *c = &m->cfg;
    vq_scratch s = {0};
    srt_status st;
    size_t lat = (size_t)batch * c->latent_dim * T;
    SRT_TRY_GOTO(scratch_alloc(m, batch, T, 1, &s), done);
    SRT_TRY_GOTO(OPS(m)->copy(CTX(m), s.residual, z, lat * sizeof(float)), done);   /* residual (batch, latent, T) */
    SRT_TRY_GOTO(OPS(m)->memset0(CTX(m), z_q, lat * sizeof(float)), done);
    for (int l = 0; l < c->n_levels; l++) {
        const snac_vq_level *q = &m->vq[l];
        int n = T / q->stride;
        const float *src = s.residual;
        if (q->stride > 1) {
            srt_avgpool_args ap = {.batch = batch, .ch = c->latent_dim, .len = T, .kernel = q->stride,
                                   .x = s.residual, .y = s.pooled};
            SRT_TRY_GOTO(srt_op_avgpool(&(m)->be, &ap), done);                       /* pooled (batch, latent, n) */
            src = s.pooled;
        }
        SRT_TRY_GOTO(conv1x1(m, &q->in_proj, batch, n, src, s.e), done);           /* e (batch, cd, n) */
        srt_vq_args va = {.batch = batch, .dim = c->codebook_dim, .len = n, .n_codes = c->codebook_size,
                          .z = s.e, .codebook_n = q->codebook_n, .codes = codes[l], .margin = NULL};
        SRT_TRY_GOTO(srt_op_vq_nearest(&(m)->be, &va), done);                         /* codes (batch, n) */
        srt_embed_args ea = {.batch = batch, .dim = c->codebook_dim, .len = n, .n_codes = c->codebook_size,
                             .codebook = q->codebook, .codes = codes[l], .y = s.q,
                             .trusted = 1};                                         /* the VQ's own codes */
        SRT_TRY_GOTO(srt_op_embed(&(m)->be, &ea), done);                              /* q (batch, cd, n) */
        SRT_TRY_GOTO(conv1x1(m, &q->out_proj, batch, n, s.q, s.o), done);           /* o (batch, latent, n) */
        srt_upsample_add_args ua = {.batch = batch, .ch = c->latent_dim, .len = n, .factor = q->stride,
                                    .scale = 1.0f, .x = s.o, .y = z_q, .acc = s.residual};
        SRT_TRY_GOTO(srt_op_upsample_add(&(m)->be, &ua), done);                       /* z_q += up(o); residual -= up(o) */
    }
done:
    scratch_free(m, &s);
    return st;
}

/* codes: validated by every caller (srt_codes_validate, the stream's push checks), so the embed is trusted */
srt_status snac_dequantize_into(snac_model *m, int batch, int T, int32_t *const *codes, float *z_q, float *q_buf,
                                float *o_buf) {
    const snac_config *c = &m->cfg;
    SRT_TRY(OPS(m)->memset0(CTX(m), z_q, (size_t)batch * c->latent_dim * T * sizeof(float)));
    for (int l = 0; l < c->n_levels; l++) {
        const snac_vq_level *q = &m->vq[l];
        int n = T / q->stride;
        srt_embed_args ea = {.batch = batch, .dim = c->codebook_dim, .len = n, .n_codes = c->codebook_size,
                             .codebook = q->codebook, .codes = codes[l], .y = q_buf, .trusted = 1};
        SRT_TRY(srt_op_embed(&(m)->be, &ea));                                       /* q (batch, cd, n) */
        SRT_TRY(conv1x1(m, &q->out_proj, batch, n, q_buf, o_buf));                  /* o (batch, latent, n) */
        srt_upsample_add_args ua = {.batch = batch, .ch = c->latent_dim, .len = n, .factor = q->stride,
                                    .scale = 1.0f, .x = o_buf, .y = z_q, .acc = NULL};
        SRT_TRY(srt_op_upsample_add(&(m)->be, &ua));
    }
    return SRT_OK;
}

srt_status snac_dequantize(snac_model *m, int batch, int T, int32_t *const *codes, float *z_q) {
    vq_scratch s = {0};
    srt_status st;
    SRT_TRY_GOTO(scratch_alloc(m, batch, T, 0, &s), done);
    st = snac_dequantize_into(m, batch, T, codes, z_q, s.q, s.o);
done:
    scratch_free(m, &s);
    return st;
}
