/* lm_quant.c: int8 per-output-channel weights for the Linear layers and the LM head (srt_lm_options.weights_dtype
 * "int8", $SNACRT_LM_WEIGHTS; format in docs/int8-weights.md). Each row r (one output channel) of a (rows, cols)
 * weight becomes codes q[r, :] in [-127, 127] and one f32 scale s[r] = max_k |w[r, k]| / 127 (0 for an all-zero
 * row), q[r, k] = round-to-nearest-even(w[r, k] / s[r]): symmetric, no zero point, w ~ q * s. Quantized at load
 * time from bf16 / f16 / f32 tensors, or read as stored: an I8 tensor <name> with its scales <name>.scale (rows)
 * in F32 / BF16 / F16. The embedding table stays in its stored dtype (a gather, not a GEMM); a tied LM head gets
 * an int8 copy of it. Device backends get q|k|v and gate|up packed as lm_load.c packs half weights (the scales
 * follow their rows). */
#include "lm/lm_model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

srt_status srt_lm_weights_i8_of(const srt_lm_options *opts, int *i8) {
    const char *name = opts && opts->weights_dtype ? opts->weights_dtype : getenv("SNACRT_LM_WEIGHTS");
    *i8 = 0;
    if (!name || !*name || !strcmp(name, "stored")) return SRT_OK;
    if (!strcmp(name, "int8")) { *i8 = 1; return SRT_OK; }
    return srt_error(SRT_ERR_INVALID_ARG, "LM weights dtype '%s' (%s): stored or int8", name,
                     opts && opts->weights_dtype ? "weights_dtype option" : "SNACRT_LM_WEIGHTS");
}

static float elem_f32(const void *src, srt_dtype dt, size_t i) {
    switch (dt) {
    case SRT_BF16: return srt_bf16_to_f32(((const uint16_t *)src)[i]);
    case SRT_F16: return srt_f16_to_f32(((const uint16_t *)src)[i]);
    default: return ((const float *)src)[i];
    }
}

srt_status srt_lm_quantize_i8_rows(const void *src, srt_dtype dt, int rows, int cols, int8_t *q, float *scale,
                                   int step, const char *what) {
    for (int r = 0; r < rows; r++) {
        size_t in = (size_t)r * cols;
        float amax = 0.0f;
        for (int k = 0; k < cols; k++) {
            float v = elem_f32(src, dt, in + k);
            if (!isfinite(v)) return srt_error(SRT_ERR_FORMAT, "%s: row %d holds a non-finite weight (%g)", what, r, v);
            if (fabsf(v) > amax) amax = fabsf(v);
        }
        float s = amax / 127.0f;
        int8_t *qr = q + (size_t)r * step * cols;
        scale[(size_t)r * step] = s;
        for (int k = 0; k < cols; k++) {
            float c = s > 0.0f ? nearbyintf(elem_f32(src, dt, in + k) / s) : 0.0f;
            qr[k] = (int8_t)(c > 127.0f ? 127 : c < -127.0f ? -127 : c);
        }
    }
    return SRT_OK;
}

/* Rows of tensor `name` (rows, cols) as int8 codes + scales into q / scale, row r at q + r*step*cols and
 * scale[r*step]: copied when stored as I8 (with <name>.scale), else quantized. */
static srt_status i8_rows(srt_lm *lm, const char *name, int rows, int cols, int8_t *q, float *scale, int step) {
    const srt_tensor_view *t = NULL;
    int64_t shape[2] = {rows, cols};
    SRT_TRY(srt_lm_find_tensor(lm, name, 2, shape, &t));
    char what[192];
    snprintf(what, sizeof what, "%s: tensor '%s'", srt_weights_source(lm->weights), name);
    if (t->dtype == SRT_F32 || t->dtype == SRT_F16 || t->dtype == SRT_BF16)
        return srt_lm_quantize_i8_rows(t->data, t->dtype, rows, cols, q, scale, step, what);
    if (t->dtype != SRT_I8)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s has dtype %s (expected BF16, F16, F32 or I8 with '.scale')", what,
                         srt_dtype_name(t->dtype));
    char sname[192];
    snprintf(sname, sizeof sname, "%s.scale", name);
    float *s = NULL;
    int64_t sshape[1] = {rows};
    SRT_TRY(srt_weights_get_f32(lm->weights, sname, 1, sshape, &s));
    for (int r = 0; r < rows; r++) {
        if (!isfinite(s[r]) || s[r] < 0.0f) {
            float bad = s[r];
            free(s);
            return srt_error(SRT_ERR_FORMAT, "%s.scale: row %d has scale %g (finite, >= 0)", what, r, bad);
        }
        memcpy(q + (size_t)r * step * cols, (const int8_t *)t->data + (size_t)r * cols, (size_t)cols);
        scale[(size_t)r * step] = s[r];
    }
    free(s);
    return SRT_OK;
}

/* Upload host codes (rows, cols) and scales (rows) as one int8 matrix. */
static srt_status upload_i8(srt_lm *lm, const int8_t *q, const float *scale, int rows, int cols, srt_lm_matrix *m) {
    void *dq = NULL, *ds = NULL;
    SRT_TRY(srt_backend_alloc_upload(&lm->be, q, (size_t)rows * cols, &dq));
    SRT_TRY(srt_lm_own(lm, dq));
    SRT_TRY(srt_backend_alloc_upload(&lm->be, scale, sizeof(float) * (size_t)rows, &ds));
    SRT_TRY(srt_lm_own(lm, ds));
    *m = (srt_lm_matrix){dq, SRT_I8, rows, cols, ds};
    return SRT_OK;
}

/* n_parts tensors (rows[i], cols) as one int8 matrix: concatenated, or with interleave (2 parts) row j of each
 * part in turn (lm_model.h: wqkv, w_gate_up). One part: a plain matrix. */
static srt_status bind_parts(srt_lm *lm, const char *const *names, const int *rows, int n_parts, int cols,
                             int interleave, srt_lm_matrix *out) {
    int total = 0;
    for (int i = 0; i < n_parts; i++) total += rows[i];
    int8_t *q = srt_malloc((size_t)total * cols, "int8 weight staging");
    float *s = srt_malloc(sizeof(float) * (size_t)total, "int8 scale staging");
    srt_status st = q && s ? SRT_OK : SRT_ERR_NOMEM;
    for (int i = 0, r0 = 0; i < n_parts && st == SRT_OK; r0 += rows[i], i++) {
        if (interleave) st = i8_rows(lm, names[i], rows[i], cols, q + (size_t)i * cols, s + i, 2);
        else st = i8_rows(lm, names[i], rows[i], cols, q + (size_t)r0 * cols, s + r0, 1);
    }
    if (st == SRT_OK) st = upload_i8(lm, q, s, total, cols, out);
    free(q);
    free(s);
    return st;
}

srt_status srt_lm_bind_i8(srt_lm *lm, const char *name, int rows, int cols, srt_lm_matrix *m) {
    const char *names[1] = {name};
    return bind_parts(lm, names, &rows, 1, cols, 0, m);
}

srt_status srt_lm_bind_layer_i8(srt_lm *lm, int l, int fuse, srt_lm_layer *L) {
    const srt_lm_config *c = &lm->cfg;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    char n[5][160];
    static const char *const suffix[5] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                          "self_attn.v_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight"};
    for (int i = 0; i < 5; i++) snprintf(n[i], sizeof n[i], "model.layers.%d.%s", l, suffix[i]);
    const char *qkv[3] = {n[0], n[1], n[2]}, *mlp[2] = {n[3], n[4]};
    int qkv_rows[3] = {q_dim, kv_dim, kv_dim}, mlp_rows[2] = {c->intermediate, c->intermediate};
    char name[160];
    snprintf(name, sizeof name, "model.layers.%d.self_attn.o_proj.weight", l);
    SRT_TRY(srt_lm_bind_i8(lm, name, c->hidden, q_dim, &L->wo));
    snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj.weight", l);
    SRT_TRY(srt_lm_bind_i8(lm, name, c->hidden, c->intermediate, &L->w_down));
    lm->n_params += (int64_t)(q_dim + 2 * kv_dim) * c->hidden + (int64_t)c->hidden * q_dim +
                    (int64_t)3 * c->intermediate * c->hidden;
    if (!fuse) {
        srt_lm_matrix *m[5] = {&L->wq, &L->wk, &L->wv, &L->w_gate, &L->w_up};
        int rows[5] = {q_dim, kv_dim, kv_dim, c->intermediate, c->intermediate};
        for (int i = 0; i < 5; i++) SRT_TRY(srt_lm_bind_i8(lm, n[i], rows[i], c->hidden, m[i]));
        return SRT_OK;
    }
    SRT_TRY(bind_parts(lm, qkv, qkv_rows, 3, c->hidden, 0, &L->wqkv));
    SRT_TRY(bind_parts(lm, mlp, mlp_rows, 2, c->hidden, 1, &L->w_gate_up));
    srt_lm_matrix *views[3] = {&L->wq, &L->wk, &L->wv};   /* views into q|k|v */
    for (int i = 0, r0 = 0; i < 3; r0 += qkv_rows[i], i++)
        *views[i] = (srt_lm_matrix){(const int8_t *)L->wqkv.data + (size_t)r0 * c->hidden, SRT_I8, qkv_rows[i],
                                    c->hidden, L->wqkv.scale + r0};
    return SRT_OK;
}
