/* lm_sample_step.c: srt_lm_sample_rows, the device side of a sampling step of the step scheduler (lm_step.c)
 * that srt_lm_generate and the speech engine share: the logits the forward left on the backend are
 * masked (mask_rows op), each row is planned by its sampler (srt_sampler_plan: allowed range, penalties, the draw
 * u), picked by the backend's sample op and accepted. Only the ids come back to the host; the picks equal the host
 * sampler's (one definition of the distribution: sample_pick.c). Rows without a sampler (a prompt still being
 * prefilled) get a one-id greedy row that touches no sampler and are reported as -1. */
#include "lm/lm_model.h"
#include "lm/sample_pick.h"

void srt_lm_sampling_free(srt_lm_sampling *w) {
    free(w->rows); free(w->pen);
    memset(w, 0, sizeof *w);
}

int srt_lm_samples_on_device(const srt_lm *lm, int with_mask) {
    return lm && !lm->tp && !lm->comm && lm->ops && lm->ops->sample && (!with_mask || lm->ops->mask_rows);
}

static srt_status reserve(srt_lm_sampling *w, int n_rows, size_t n_pen) {
    if (n_rows > w->cap_rows) {
        int cap = n_rows < 16 ? 16 : n_rows;
        srt_sample_row *rows = realloc(w->rows, sizeof *rows * (size_t)cap);
        if (!rows) return srt_error(SRT_ERR_NOMEM, "sampling: %d rows", cap);
        w->rows = rows;
        w->cap_rows = cap;
    }
    if (n_pen > w->cap_pen || !w->pen) {
        size_t cap = n_pen < 64 ? 64 : n_pen * 2;
        srt_sample_penalty *pen = realloc(w->pen, sizeof *pen * cap);
        if (!pen) return srt_error(SRT_ERR_NOMEM, "sampling: %zu penalty entries", cap);
        w->pen = pen;
        w->cap_pen = cap;
    }
    return SRT_OK;
}

srt_status srt_lm_sample_rows(srt_lm *lm, srt_lm_sampling *w, int n_rows, srt_sampler *const *samplers,
                              const srt_mask_row *mask, int32_t *ids) {
    if (!srt_lm_samples_on_device(lm, mask != NULL))
        return srt_error(SRT_ERR_UNSUPPORTED, "sampling: backend %s cannot sample on the device%s", lm->be.ops->name,
                         lm->tp || lm->comm ? " (tensor parallel)" : "");
    if (n_rows < 1) return SRT_OK;
    size_t n_pen = 0;
    for (int r = 0; r < n_rows; r++) if (samplers[r]) n_pen += (size_t)srt_sampler_n_penalties(samplers[r]);
    SRT_TRY(reserve(w, n_rows, n_pen));
    if (mask) {
        srt_mask_rows_args m = {n_rows, lm->cfg.vocab, lm->scratch.logits, mask};
        SRT_TRY(srt_op_mask_rows(&lm->be, &m));
    }
    int start = 0;
    for (int r = 0; r < n_rows; r++) {
        if (samplers[r]) {
            srt_sampler_plan(samplers[r], start, &w->rows[r], w->pen + start);
            start += w->rows[r].n_pen;
        } else {    /* not sampled: the cheapest valid row (id 0, greedy), no sampler state drawn */
            w->rows[r] = (srt_sample_row){.begin = 0, .end = 1, .inv_temp = 0.0f, .top_p = 1.0f,
                                          .rep_penalty = 1.0f, .pen_start = start};
        }
    }
    srt_sample_args a = {n_rows, lm->cfg.vocab, lm->scratch.logits, w->rows, w->pen, ids};
    SRT_TRY(srt_op_sample(&lm->be, &a));
    for (int r = 0; r < n_rows; r++) {
        if (samplers[r]) SRT_TRY(srt_sampler_accept(samplers[r], ids[r]));
        else ids[r] = -1;
    }
    return SRT_OK;
}
