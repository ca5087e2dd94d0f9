/* snac_stream_plan.c: the streaming decoder's stage list for a model and the frame arithmetic of each stage
 * (which outputs are final given the inputs so far, which inputs an output reads), and from it the lookahead. */
#include "snac/snac_stream.h"

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int64_t snac_stage_first_input(const snac_stage *s, int64_t out) {
    switch (s->kind) {
    case SNAC_STAGE_ATTN: return floor_div(out, s->window) * s->window;
    case SNAC_STAGE_UP: return ceil_div(out + s->pad - 2 * s->stride + 1, s->stride);
    default: return out - s->halo;
    }
}

int64_t snac_stage_end_input(const snac_stage *s, int64_t out) {
    switch (s->kind) {
    case SNAC_STAGE_ATTN: return (floor_div(out, s->window) + 1) * s->window;
    case SNAC_STAGE_UP: return floor_div(out + s->pad, s->stride) + 1;
    default: return out + s->halo + 1;
    }
}

int64_t snac_stage_out_len(const snac_stage *s, int64_t in_len) {
    return s->kind == SNAC_STAGE_UP ? in_len * s->stride : in_len;
}

int64_t snac_stage_avail(const snac_stage *s, int64_t in_have, int final, int64_t out_len, int64_t done) {
    if (final) return max64(done, out_len);
    int64_t a;
    switch (s->kind) {
    case SNAC_STAGE_ATTN: a = in_have / s->window * s->window; break;
    case SNAC_STAGE_UP: a = in_have * s->stride - s->pad; break;   /* output T reads inputs up to (T+pad)/stride */
    default: a = in_have - s->halo; break;
    }
    return max64(done, a);
}

/* A stride-1 conv with symmetric "same" padding: its halo. */
static srt_status same_conv_halo(const snac_conv *c, const char *what, int *halo) {
    if (c->stride != 1 || (c->kernel - 1) * c->dilation != 2 * c->padding)
        return srt_error(SRT_ERR_UNSUPPORTED, "streaming decode: %s is not a same-length convolution (kernel %d, "
                         "dilation %d, padding %d, stride %d)", what, c->kernel, c->dilation, c->padding, c->stride);
    *halo = c->padding;
    return SRT_OK;
}

srt_status snac_stream_plan_make(const snac_model *m, snac_stream_plan *plan) {
    const snac_config *c = &m->cfg;
    memset(plan, 0, sizeof *plan);
    snac_stage *st = plan->st;
    int n = 0, ch = c->decoder_dim;
    st[n] = (snac_stage){.kind = SNAC_STAGE_IN, .in_ch = c->latent_dim, .out_ch = ch};
    if (c->depthwise) {
        int h2 = 0;
        SRT_TRY(same_conv_halo(&m->dec_in_dw, "the depthwise input conv", &st[n].halo));
        if (m->dec_in.kernel != 1) SRT_TRY(same_conv_halo(&m->dec_in, "the input conv", &h2));
        if (h2) return srt_error(SRT_ERR_UNSUPPORTED, "streaming decode: two wide input convs");
    } else {
        SRT_TRY(same_conv_halo(&m->dec_in, "the input conv", &st[n].halo));
    }
    st[n].hist_cap = 2 * st[n].halo;
    n++;
    if (m->dec_has_attn) {
        st[n] = (snac_stage){.kind = SNAC_STAGE_ATTN, .in_ch = ch, .out_ch = ch, .window = m->dec_attn.window,
                             .hist_cap = m->dec_attn.window};
        n++;
    }
    for (int i = 0; i < c->n_dec_rates; i++) {
        const snac_decoder_block *blk = &m->dec_blocks[i];
        if (blk->up.kernel != 2 * blk->up.stride || blk->up.padding > blk->up.stride)
            return srt_error(SRT_ERR_UNSUPPORTED, "streaming decode: block %d upsampling conv has kernel %d stride %d "
                             "padding %d (expected kernel 2*stride)", i, blk->up.kernel, blk->up.stride, blk->up.padding);
        st[n] = (snac_stage){.kind = SNAC_STAGE_UP, .block = i, .in_ch = blk->up.in_ch, .out_ch = blk->up.out_ch,
                             .stride = blk->up.stride, .pad = blk->up.padding, .hist_cap = 2};
        n++;
        for (int k = 0; k < 3; k++) {
            st[n] = (snac_stage){.kind = SNAC_STAGE_UNIT, .block = i, .unit = k, .in_ch = blk->up.out_ch,
                                 .out_ch = blk->up.out_ch};
            SRT_TRY(same_conv_halo(&blk->units[k].conv1, "a residual unit conv", &st[n].halo));
            st[n].hist_cap = 2 * st[n].halo;
            n++;
        }
    }
    st[n] = (snac_stage){.kind = SNAC_STAGE_OUT, .in_ch = m->dec_out.in_ch, .out_ch = 1};
    SRT_TRY(same_conv_halo(&m->dec_out, "the output conv", &st[n].halo));
    st[n].hist_cap = 2 * st[n].halo;
    n++;
    plan->n_stages = n;
    plan->group_frames = c->vq_strides[0];
    plan->group_samples = (int64_t)c->vq_strides[0] * c->hop_length;
    /* lookahead: after g groups (not final), which samples are final? The pattern repeats with the period of the
     * attention windows in groups; scan a few periods. */
    int period = c->attn_window ? (int)(c->attn_window / srt_gcd64(c->attn_window, c->vq_strides[0])) : 1;
    int64_t worst = 0;
    for (int g = 1; g <= 4 * period + 64; g++) {
        int64_t have = (int64_t)g * plan->group_frames;
        for (int k = 0; k < n; k++) have = snac_stage_avail(&st[k], have, 0, 0, 0);
        int64_t missing = (int64_t)g * plan->group_samples - have;
        int64_t la = ceil_div(missing, plan->group_samples);
        if (la > worst) worst = la;
    }
    plan->lookahead = (int)worst;
    return SRT_OK;
}
