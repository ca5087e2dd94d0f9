/* snac_stream_plan.c: the streaming plan of a model's decoder stage list (snac_stages.c): the frame arithmetic of
 * each stage (which outputs are final given the inputs so far, which inputs an output reads), and the lookahead. */
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
    int n = snac_decoder_stages(m, st);
    for (int k = 0; k < n; k++) {   /* the streaming arithmetic of each stage: halo, kept input frames */
        snac_stage *s = &st[k];
        switch (s->kind) {
        case SNAC_STAGE_IN:
            if (c->depthwise) {
                int h2 = 0;
                SRT_TRY(same_conv_halo(&m->dec_in_dw, "the depthwise input conv", &s->halo));
                if (m->dec_in.kernel != 1) SRT_TRY(same_conv_halo(&m->dec_in, "the input conv", &h2));
                if (h2) return srt_error(SRT_ERR_UNSUPPORTED, "streaming decode: two wide input convs");
            } else {
                SRT_TRY(same_conv_halo(&m->dec_in, "the input conv", &s->halo));
            }
            s->hist_cap = 2 * s->halo;
            break;
        case SNAC_STAGE_ATTN: s->hist_cap = s->window; break;
        case SNAC_STAGE_UP: {
            const snac_convt *up = &m->dec_blocks[s->block].up;
            if (up->kernel != 2 * up->stride || up->padding > up->stride)
                return srt_error(SRT_ERR_UNSUPPORTED, "streaming decode: block %d upsampling conv has kernel %d "
                                 "stride %d padding %d (expected kernel 2*stride)", s->block, up->kernel, up->stride,
                                 up->padding);
            s->hist_cap = 2;
            break;
        }
        case SNAC_STAGE_UNIT:
            SRT_TRY(same_conv_halo(&m->dec_blocks[s->block].units[s->unit].conv1, "a residual unit conv", &s->halo));
            s->hist_cap = 2 * s->halo;
            break;
        case SNAC_STAGE_OUT:
            SRT_TRY(same_conv_halo(&m->dec_out, "the output conv", &s->halo));
            s->hist_cap = 2 * s->halo;
            break;
        }
    }
    plan->n_stages = n;
    /* layouts: a layout's columns per stream are its new frames plus the left and right context of its stages
     * (about the sum of their halos plus the widest window's 2 * halo). At a rate (the stages between two
     * upsamplings) where that context is more than half the new frames per group, every stage gathers its own
     * window (the columns outside the windows would cost more compute than the copies); elsewhere only the first
     * stage after an upsampling (and the attention, and the stage after it) gathers. */
    int64_t fr = c->vq_strides[0];
    for (int k0 = 0; k0 < n;) {
        int k1 = k0;
        int64_t sum_h = 0, max_2h = 0;
        while (k1 < n && st[k1].kind != SNAC_STAGE_UP) {
            if (st[k1].kind != SNAC_STAGE_ATTN) {
                sum_h += st[k1].halo;
                max_2h = max64(max_2h, 2 * (int64_t)st[k1].halo);
            }
            k1++;
        }
        int small = 2 * (sum_h + max_2h) > fr;   /* the rate's stages, k0 .. k1 - 1, and its upsampling k1 */
        for (int k = k0; k <= k1 && k < n; k++)
            plan->gather[k] = (unsigned char)(small || k == 0 || st[k].kind == SNAC_STAGE_ATTN ||
                                              st[k - 1].kind == SNAC_STAGE_ATTN || st[k - 1].kind == SNAC_STAGE_UP);
        if (k1 < n) fr *= st[k1].stride;
        k0 = k1 + 1;
    }
    /* host memory (the cpu backend): every stage gathers and the conv stages run unpadded (snac_stream.h) */
    plan->row_align = 8;
    if (m->be.ops && m->be.ops->host_memory && m->be.ops->conv1d_res_ld) {
        plan->row_align = 1;
        for (int k = 0; k < n; k++) {
            plan->gather[k] = 1;
            plan->valid[k] = (unsigned char)(st[k].kind == SNAC_STAGE_IN || st[k].kind == SNAC_STAGE_UNIT ||
                                             st[k].kind == SNAC_STAGE_OUT);
        }
    }
    plan->group_frames = c->vq_strides[0];
    plan->group_samples = (int64_t)c->vq_strides[0] * c->hop_length;
    /* lookahead: after g groups (not final), which samples are final? The pattern repeats with the period of the
     * attention windows in groups; scan a few periods. */
    int period = c->attn_window ? (int)(c->attn_window / srt_gcd64(c->attn_window, c->vq_strides[0])) : 1;
    int64_t worst = 0;
    for (int g = 1; g <= 4 * period + 64; g++) {
        int64_t missing = (int64_t)g * plan->group_samples - snac_stream_final_samples(plan, g);
        int64_t la = ceil_div(missing, plan->group_samples);
        if (la > worst) worst = la;
    }
    plan->lookahead = (int)worst;
    /* first audio: the first push after which some sample is final (at most 1 + lookahead: then group 1 is) */
    plan->first_audio_groups = plan->lookahead + 1;
    for (int g = 1; g <= plan->lookahead + 1; g++)
        if (snac_stream_final_samples(plan, g) > 0) { plan->first_audio_groups = g; break; }
    return SRT_OK;
}

int64_t snac_stream_final_samples(const snac_stream_plan *plan, int64_t g) {
    int64_t have = g * plan->group_frames;
    for (int k = 0; k < plan->n_stages; k++) have = snac_stage_avail(&plan->st[k], have, 0, 0, 0);
    return have;
}
