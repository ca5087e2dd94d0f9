/* ref_lm.c: plain-loop reference implementations of the language-model ops (cpu-ref backend), accumulating in
 * double. Semantics are documented in host/lm/lm_ops.h; arguments are checked by the dispatch layer. Never optimized: the truth cpu_lm.c is compared with. */
#include "lm/lm_ops.h"
#include "lm/sample_dist.h"
#include "weights/weights.h"
#include <math.h>
#include <string.h>

static srt_status ref_rmsnorm(void *ctx, const srt_rmsnorm_args *a) {
    (void)ctx;
    for (int r = 0; r < a->rows; r++) {
        const float *x = a->x + (size_t)r * a->dim;
        float *y = a->y + (size_t)r * a->dim;
        double ss = 0;
        for (int i = 0; i < a->dim; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / a->dim + a->eps);
        for (int i = 0; i < a->dim; i++) y[i] = (float)(x[i] * inv * a->w[i]);
    }
    return SRT_OK;
}

static srt_status ref_rope(void *ctx, const srt_rope_args *a) {
    (void)ctx;
    int half = a->head_dim / 2;
    for (int t = 0; t < a->n_tokens; t++)
        for (int h = 0; h < a->n_heads; h++) {
            float *x = a->x + ((size_t)t * a->n_heads + h) * a->head_dim;
            for (int i = 0; i < half; i++) {
                double angle = (double)a->pos[t] * (double)a->inv_freq[i];
                double c = cos(angle), s = sin(angle);
                double x0 = x[i], x1 = x[i + half];
                x[i] = (float)(x0 * c - x1 * s);
                x[i + half] = (float)(x1 * c + x0 * s);
            }
        }
    return SRT_OK;
}

/* Element i of a KV cache buffer of dtype dt (f32, bf16 or fp8 e4m3 codes: the row scale not applied), as f32. */
static float kv_at(const void *cache, srt_dtype dt, size_t i) {
    if (dt == SRT_F8E4M3) return srt_e4m3_to_f32(((const uint8_t *)cache)[i]);
    return dt == SRT_BF16 ? srt_bf16_to_f32(((const uint16_t *)cache)[i]) : ((const float *)cache)[i];
}
/* The fp8 row scale of cache slot `slot`, KV head kvh ((n_blocks, n_kv_heads, block_size) layout); 1 otherwise. */
static double kv_scale(const float *scale, srt_dtype dt, size_t slot, int kvh, int n_kv_heads, int block_size) {
    if (dt != SRT_F8E4M3) return 1.0;
    size_t blk = slot / (size_t)block_size;
    return scale[(blk * (size_t)n_kv_heads + (size_t)kvh) * (size_t)block_size + slot % (size_t)block_size];
}

/* fp8: one (token, KV head) row of head_dim values: its power-of-two scale, then each value / scale as e4m3. */
static void kv_put_fp8_row(uint8_t *dst, float *scale, const float *x, int D) {
    float amax = 0.0f;
    for (int i = 0; i < D; i++) amax = fmaxf(amax, fabsf(x[i]));
    float s = srt_e4m3_row_scale(amax);
    *scale = s;
    for (int i = 0; i < D; i++) dst[i] = srt_f32_to_e4m3(x[i] / s);
}
static void kv_put(void *cache, srt_dtype dt, size_t i, float x) {
    if (dt == SRT_BF16) ((uint16_t *)cache)[i] = srt_f32_to_bf16(x);
    else ((float *)cache)[i] = x;
}

static srt_status ref_kv_store(void *ctx, const srt_kv_store_args *a) {
    (void)ctx;
    for (int t = 0; t < a->n_tokens; t++) {
        if (a->slot[t] < 0) continue;   /* padding row */
        size_t dst = (size_t)a->slot[t] * a->kv_dim, src = (size_t)t * a->kv_dim;
        if (a->kv_dtype == SRT_F8E4M3) {
            int D = a->head_dim, nkv = a->kv_dim / D, bs = a->block_size, blk = a->slot[t] / bs;
            for (int h = 0; h < nkv; h++) {
                size_t si = ((size_t)blk * nkv + h) * bs + (size_t)(a->slot[t] % bs), o = (size_t)h * D;
                kv_put_fp8_row((uint8_t *)a->k_cache + dst + o, &a->k_scale[si], a->k + src + o, D);
                kv_put_fp8_row((uint8_t *)a->v_cache + dst + o, &a->v_scale[si], a->v + src + o, D);
            }
            continue;
        }
        for (int i = 0; i < a->kv_dim; i++) {
            kv_put(a->k_cache, a->kv_dtype, dst + i, a->k[src + i]);
            kv_put(a->v_cache, a->kv_dtype, dst + i, a->v[src + i]);
        }
    }
    return SRT_OK;
}

static srt_status ref_paged_attention(void *ctx, const srt_paged_attn_args *a) {
    (void)ctx;
    int H = a->n_heads, D = a->head_dim, group = a->n_heads / a->n_kv_heads, kv_dim = a->n_kv_heads * D;
    int max_ctx = 1;
    for (int s = 0; s < a->n_seqs; s++) if (a->ctx_len[s] > max_ctx) max_ctx = a->ctx_len[s];
    double *score = srt_malloc(sizeof(double) * (size_t)max_ctx, "paged_attention scores");
    if (!score) return SRT_ERR_NOMEM;
    double scale = 1.0 / sqrt((double)D);
    for (int s = 0; s < a->n_seqs; s++) {
        const int32_t *blocks = a->block_table + (size_t)s * a->max_blocks;
        for (int i = 0; i < a->n_q[s]; i++) {
            int row = a->q_start[s] + i, last = a->ctx_len[s] - a->n_q[s] + i;   /* attends to 0..last */
            for (int h = 0; h < H; h++) {
                const float *q = a->q + ((size_t)row * H + h) * D;
                float *out = a->out + ((size_t)row * H + h) * D;
                int kvh = h / group;
                double mx = -INFINITY, sum = 0;
                for (int p = 0; p <= last; p++) {
                    size_t slot = (size_t)blocks[p / a->block_size] * a->block_size + p % a->block_size;
                    size_t k = slot * kv_dim + (size_t)kvh * D;
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double)q[d] * kv_at(a->k_cache, a->kv_dtype, k + d);
                    score[p] = dot * scale * kv_scale(a->k_scale, a->kv_dtype, slot, kvh, a->n_kv_heads, a->block_size);
                    if (score[p] > mx) mx = score[p];
                }
                for (int p = 0; p <= last; p++) { score[p] = exp(score[p] - mx); sum += score[p]; }
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int p = 0; p <= last; p++) {
                        size_t slot = (size_t)blocks[p / a->block_size] * a->block_size + p % a->block_size;
                        acc += score[p] * kv_scale(a->v_scale, a->kv_dtype, slot, kvh, a->n_kv_heads, a->block_size) *
                               kv_at(a->v_cache, a->kv_dtype, slot * kv_dim + (size_t)kvh * D + d);
                    }
                    out[d] = (float)(acc / sum);
                }
            }
        }
    }
    free(score);
    return SRT_OK;
}

static srt_status ref_swiglu(void *ctx, const srt_swiglu_args *a) {
    (void)ctx;
    for (int64_t i = 0; i < a->n; i++) {
        double g = a->gate[i];
        a->out[i] = (float)(g / (1.0 + exp(-g)) * a->up[i]);
    }
    return SRT_OK;
}

static srt_status ref_embedding(void *ctx, const srt_embedding_args *a) {
    (void)ctx;
    for (int t = 0; t < a->n_tokens; t++) {
        int32_t id = a->ids[t];
        if (id < 0 || id >= a->n_rows)
            return srt_error(SRT_ERR_RANGE, "embedding: token id %d at position %d outside [0, %d)", id, t, a->n_rows);
        size_t base = (size_t)id * a->dim;
        float *y = a->y + (size_t)t * a->dim;
        for (int i = 0; i < a->dim; i++) {
            if (a->dtype == SRT_F32) y[i] = ((const float *)a->table)[base + i];
            else if (a->dtype == SRT_BF16) y[i] = srt_bf16_to_f32(((const uint16_t *)a->table)[base + i]);
            else y[i] = srt_f16_to_f32(((const uint16_t *)a->table)[base + i]);
        }
    }
    return SRT_OK;
}

static srt_status ref_add_bias(void *ctx, const srt_add_bias_args *a) {
    (void)ctx;
    for (int r = 0; r < a->rows; r++)
        for (int c = 0; c < a->cols; c++) a->x[(size_t)r * a->cols + c] += a->bias[c];
    return SRT_OK;
}

static srt_status ref_gather_rows(void *ctx, const srt_gather_rows_args *a) {
    (void)ctx;
    for (int i = 0; i < a->n_out; i++)
        memcpy(a->y + (size_t)i * a->cols, a->x + (size_t)a->idx[i] * a->cols, sizeof(float) * (size_t)a->cols);
    return SRT_OK;
}

/* ---- sample: the distribution of srt_sample_row spelled out with a full sort (the truth of sample_pick.c) ---- */
typedef struct ref_cand { float l, w; uint64_t fixed; int32_t id; } ref_cand;

static int ref_rank_cmp(const void *pa, const void *pb) {
    const ref_cand *a = pa, *b = pb;
    if (a->l != b->l) return a->l > b->l ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static srt_status ref_sample_row(const float *logits, int r, const srt_sample_row *row, const srt_sample_penalty *pen,
                                 ref_cand *c, uint64_t *kept, int32_t *out) {
    int begin = row->begin, n = row->end - row->begin, best = 0;
    for (int i = 0; i < n; i++) { c[i].l = logits[begin + i]; c[i].id = begin + i; }
    for (int e = 0; e < row->n_pen; e++) {
        int32_t id = pen[row->pen_start + e].id;
        if (id >= begin && id < row->end)
            c[id - begin].l = srt_sample_penalize(c[id - begin].l, row->rep_penalty, pen[row->pen_start + e].sub);
    }
    for (int i = 0; i < n; i++) {
        if (isnan(c[i].l)) return srt_error(SRT_ERR_RANGE, "sample: row %d: logit of id %d is NaN", r, c[i].id);
        if (c[i].l > c[best].l) best = i;
    }
    float lb = c[best].l;
    if (row->inv_temp == 0 || !isfinite(lb)) { *out = c[best].id; return SRT_OK; }
    for (int i = 0; i < n; i++) {
        c[i].w = srt_sample_weight(c[i].l, lb, row->inv_temp);
        c[i].fixed = srt_sample_fixed(c[i].w);
    }
    qsort(c, (size_t)n, sizeof *c, ref_rank_cmp);      /* rank order: c[0] is the best */
    int keep = row->top_k > 0 && row->top_k < n ? row->top_k : n;
    if (row->top_p > 0 && row->top_p < 1) {
        uint64_t total = 0, cum = 0;
        for (int i = 0; i < keep; i++) total += c[i].fixed;
        uint64_t target = srt_sample_target(row->top_p, total);
        for (int i = 0; i < keep; i++) {
            cum += c[i].fixed;
            if (cum >= target) { keep = i + 1; break; }
        }
    }
    memset(kept, 0, sizeof *kept * (size_t)n);         /* survivors' weights by id */
    uint64_t total = 0;
    for (int i = 0; i < keep; i++)
        if (row->min_p <= 0 || c[i].w >= row->min_p || i == 0) {
            kept[c[i].id - begin] = c[i].fixed;
            total += c[i].fixed;
        }
    uint64_t point = srt_sample_draw(row->u, total), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += kept[i];
        if (cum > point) { *out = begin + i; return SRT_OK; }
    }
    return srt_error(SRT_ERR_BACKEND, "sample: row %d: no survivor (total weight %llu)", r, (unsigned long long)total);
}

static srt_status ref_sample(void *ctx, const srt_sample_args *a) {
    (void)ctx;
    ref_cand *c = srt_malloc(sizeof *c * (size_t)a->vocab, "sample candidates");
    uint64_t *kept = srt_malloc(sizeof *kept * (size_t)a->vocab, "sample survivors");
    srt_status st = c && kept ? SRT_OK : SRT_ERR_NOMEM;
    for (int r = 0; st == SRT_OK && r < a->n_rows; r++)
        st = ref_sample_row(a->logits + (size_t)r * a->vocab, r, &a->rows[r], a->pen, c, kept, &a->ids[r]);
    free(c); free(kept);
    return st;
}

/* ---- mask_rows: every id of the clear range tested one by one ---- */
static srt_status ref_mask_rows(void *ctx, const srt_mask_rows_args *a) {
    (void)ctx;
    for (int r = 0; r < a->n_rows; r++) {
        const srt_mask_row *m = &a->rows[r];
        float *row = a->logits + (size_t)r * a->vocab;
        for (int32_t id = m->clear_begin; id < m->clear_end; id++) {
            int keep = (id >= m->keep_begin && id < m->keep_end) || id == m->keep_id;
            if (!keep) row[id] = -INFINITY;
        }
    }
    return SRT_OK;
}

const srt_lm_ops srt_cpu_ref_lm_ops = {
    .rmsnorm = ref_rmsnorm,
    .rope = ref_rope,
    .kv_store = ref_kv_store,
    .paged_attention = ref_paged_attention,
    .swiglu = ref_swiglu,
    .embedding = ref_embedding,
    .add_bias = ref_add_bias,
    .gather_rows = ref_gather_rows,
    .sample = ref_sample,
    .mask_rows = ref_mask_rows,
};
