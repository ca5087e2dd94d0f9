/* snac_stages.c: the SNAC decoder's layer list (snac_decoder_stages) and the ops of one stage
 * (snac_stage_forward), written once for the offline and the streaming decoder (snac_stages.h). */
#include "snac/snac_stages.h"

int snac_decoder_stages(const snac_model *m, snac_stage *st) {
    const snac_config *c = &m->cfg;
    int n = 0, ch = c->decoder_dim;
    st[n++] = (snac_stage){.kind = SNAC_STAGE_IN, .in_ch = c->latent_dim, .out_ch = ch};
    if (m->dec_has_attn)
        st[n++] = (snac_stage){.kind = SNAC_STAGE_ATTN, .in_ch = ch, .out_ch = ch, .window = m->dec_attn.window};
    for (int i = 0; i < c->n_dec_rates; i++) {
        const snac_decoder_block *blk = &m->dec_blocks[i];
        st[n++] = (snac_stage){.kind = SNAC_STAGE_UP, .block = i, .in_ch = blk->up.in_ch, .out_ch = blk->up.out_ch,
                               .stride = blk->up.stride, .pad = blk->up.padding};
        for (int k = 0; k < 3; k++)
            st[n++] = (snac_stage){.kind = SNAC_STAGE_UNIT, .block = i, .unit = k, .in_ch = blk->up.out_ch,
                                   .out_ch = blk->up.out_ch};
    }
    st[n++] = (snac_stage){.kind = SNAC_STAGE_OUT, .in_ch = m->dec_out.in_ch, .out_ch = 1};
    return n;
}

int64_t snac_stage_out_len(const snac_stage *s, int64_t in_len) {
    return s->kind == SNAC_STAGE_UP ? in_len * s->stride : in_len;
}

/* A conv of the stage: padded (reference zero padding, inputs past valid masked) or without padding. */
static srt_status stage_conv(snac_model *m, const snac_conv *c, const snac_stage_args *a, int in_len,
                             const int *valid, const float *alpha, const float *x, const float *res, float *y) {
    return snac_conv_forward(m, c, a->batch, in_len, a->padded ? c->padding : 0, a->padded ? valid : NULL, alpha,
                             x, res, res && res == a->res ? a->res_ld : 0, y);
}

srt_status snac_stage_forward(snac_model *m, const snac_stage *st, const snac_stage_args *a, float **out) {
    *out = a->y;
    switch (st->kind) {
    case SNAC_STAGE_IN:
        if (m->cfg.depthwise) {
            SRT_TRY(stage_conv(m, &m->dec_in_dw, a, a->in_len, a->valid, NULL, a->x, NULL, a->t)); /* t (B, latent, out) */
            return stage_conv(m, &m->dec_in, a, a->out_len, a->valid, NULL, a->t, NULL, a->y);     /* y (B, dim, out) */
        }
        return stage_conv(m, &m->dec_in, a, a->in_len, a->valid, NULL, a->x, NULL, a->y);
    case SNAC_STAGE_ATTN:
        *out = a->x;
        return snac_local_mha_forward(m, &m->dec_attn, a->batch, a->in_len, a->x, a->t);         /* x += attn(x) */
    case SNAC_STAGE_UNIT: {
        const snac_residual_unit *u = &m->dec_blocks[st->block].units[st->unit];
        SRT_TRY(stage_conv(m, &u->conv1, a, a->in_len, a->valid, u->alpha1, a->x, NULL, a->t));  /* t (B, ch, out) */
        return stage_conv(m, &u->conv2, a, a->out_len, a->valid, u->alpha2, a->t, a->res, a->y); /* y = res + conv2(t) */
    }
    case SNAC_STAGE_OUT: {
        SRT_TRY(stage_conv(m, &m->dec_out, a, a->in_len, a->valid, m->dec_alpha, a->x, NULL, a->y)); /* y (B, 1, out) */
        srt_unary_args th = {.op = SRT_UNARY_TANH, .n = (int64_t)a->batch * a->out_len, .x = a->y, .y = a->y};
        return srt_op_unary(&(m)->be, &th);
    }
    case SNAC_STAGE_UP: {
        const snac_decoder_block *blk = &m->dec_blocks[st->block];
        srt_convt1d_args ct = {
            .batch = a->batch, .in_ch = blk->up.in_ch, .out_ch = blk->up.out_ch, .in_len = a->in_len,
            .out_len = a->out_len, .kernel = blk->up.kernel, .stride = blk->up.stride,
            .padding = a->padded ? blk->up.padding : 0, .groups = 1, .x = a->x, .w = blk->up.w, .bias = blk->up.b,
            .in_alpha = blk->alpha, .in_valid = a->padded ? a->valid : NULL, .y = a->y, .w_static = 1,
        };
        SRT_TRY(srt_op_conv_transpose1d(&(m)->be, &ct));                                      /* y (B, out, out_len) */
        if (!blk->has_noise || !a->noise) return SRT_OK;
        SRT_TRY(stage_conv(m, &blk->noise_linear, a, a->out_len, a->valid_out, NULL, a->y, NULL, a->t)); /* h in t */
        srt_noise_add_args na = {.batch = a->batch, .ch = blk->up.out_ch, .len = a->out_len, .noise = a->noise,
                                 .h = a->t, .x = a->y};
        return srt_op_noise_add(&(m)->be, &na);                                               /* y += h * noise */
    }
    }
    return srt_error(SRT_ERR_INVALID_ARG, "snac decoder: unknown stage kind %d", (int)st->kind);
}
