/* cpu_lm.c: the fast CPU language-model ops (cpu backend): OpenMP over rows/heads, f32 with SIMD inner loops
 * (attention and RMSNorm compiled for AVX2+FMA too and picked at run time; attention walks a kv head's group of
 * query heads together, so each cached key/value row is read once per group).
 * Semantics are in host/lm/lm_ops.h; test_lm_ops.c compares each op with host/cpu/ref_lm.c. */
#include "lm/lm_ops.h"
#include "lm/sample_pick.h"
#include "weights/weights.h"
#include "cpu/cpu_ops.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LM_AVX2 __attribute__((target("avx2,fma")))

/* Threads of an op's parallel region: the backend's count (srt_lm_options.n_threads), so every region of a step
 * runs on exactly that many; a NULL ctx (tests, bench_lm_ops calling the table directly) takes OpenMP's default. */
static int lm_threads(const void *ctx) {
    if (ctx) return ((const srt_cpu_ctx *)ctx)->n_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static inline __attribute__((always_inline)) void rmsnorm_row(const float *x, const float *w, float *y, int dim,
                                                               float eps) {
    float ss = 0;
    #pragma omp simd reduction(+:ss)
    for (int i = 0; i < dim; i++) ss += x[i] * x[i];
    float inv = (float)(1.0 / sqrt((double)ss / dim + eps));
    #pragma omp simd
    for (int i = 0; i < dim; i++) y[i] = x[i] * inv * w[i];
}
/* The sum of squares in 4 independent FMA chains (one chain is latency-bound at decode widths). */
static LM_AVX2 void rmsnorm_row_avx2(const float *x, const float *w, float *y, int dim, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8), x2 = _mm256_loadu_ps(x + i + 16),
               x3 = _mm256_loadu_ps(x + i + 24);
        s0 = _mm256_fmadd_ps(x0, x0, s0); s1 = _mm256_fmadd_ps(x1, x1, s1);
        s2 = _mm256_fmadd_ps(x2, x2, s2); s3 = _mm256_fmadd_ps(x3, x3, s3);
    }
    for (; i + 8 <= dim; i += 8) { __m256 x0 = _mm256_loadu_ps(x + i); s0 = _mm256_fmadd_ps(x0, x0, s0); }
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float ss = _mm_cvtss_f32(h);
    for (; i < dim; i++) ss += x[i] * x[i];
    float inv = (float)(1.0 / sqrt((double)ss / dim + eps));
    __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= dim; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), _mm256_loadu_ps(w + i)));
    for (; i < dim; i++) y[i] = x[i] * inv * w[i];
}

static srt_status cpu_rmsnorm(void *ctx, const srt_rmsnorm_args *a) {
    (void)ctx;
    const int avx2 = srt_cpu_has_avx2();
    /* threads only pay off past ~128K elements (a decode batch's 8 x 2048 is a few us on one core) */
    #pragma omp parallel for num_threads(lm_threads(ctx)) schedule(static) if ((int64_t)a->rows * a->dim >= (1 << 17))
    for (int r = 0; r < a->rows; r++) {
        const float *x = a->x + (size_t)r * a->dim;
        float *y = a->y + (size_t)r * a->dim;
        if (avx2) rmsnorm_row_avx2(x, a->w, y, a->dim, a->eps);
        else rmsnorm_row(x, a->w, y, a->dim, a->eps);
    }
    return SRT_OK;
}

static srt_status cpu_rope(void *ctx, const srt_rope_args *a) {
    (void)ctx;
    int half = a->head_dim / 2;
    if (a->head_dim % 2 || half > 512) return srt_error(SRT_ERR_INVALID_ARG, "rope: head_dim %d must be even and "
                                                        "at most 1024", a->head_dim);
    #pragma omp parallel for num_threads(lm_threads(ctx)) schedule(static) if (a->n_tokens > 4)
    for (int t = 0; t < a->n_tokens; t++) {
        float cosv[512], sinv[512];
        for (int i = 0; i < half; i++) {        /* angle in double: positions reach 1e5 */
            double angle = (double)a->pos[t] * (double)a->inv_freq[i];
            cosv[i] = (float)cos(angle);
            sinv[i] = (float)sin(angle);
        }
        for (int h = 0; h < a->n_heads; h++) {
            float *x = a->x + ((size_t)t * a->n_heads + h) * a->head_dim;
            #pragma omp simd
            for (int i = 0; i < half; i++) {
                float x0 = x[i], x1 = x[i + half];
                x[i] = x0 * cosv[i] - x1 * sinv[i];
                x[i + half] = x1 * cosv[i] + x0 * sinv[i];
            }
        }
    }
    return SRT_OK;
}

static srt_status cpu_kv_store(void *ctx, const srt_kv_store_args *a) {
    (void)ctx;
    if (a->kv_dtype != SRT_F32)
        return srt_error(SRT_ERR_UNSUPPORTED, "kv_store: the cpu backend keeps its KV cache in f32, not %s",
                         srt_dtype_name(a->kv_dtype));
    float *kc = a->k_cache, *vc = a->v_cache;
    size_t row_bytes = sizeof(float) * (size_t)a->kv_dim;
    for (int t = 0; t < a->n_tokens; t++) {
        if (a->slot[t] < 0) continue;   /* padding row */
        memcpy(kc + (size_t)a->slot[t] * a->kv_dim, a->k + (size_t)t * a->kv_dim, row_bytes);
        memcpy(vc + (size_t)a->slot[t] * a->kv_dim, a->v + (size_t)t * a->kv_dim, row_bytes);
    }
    return SRT_OK;
}

/* One (query row, kv head): the G query heads sharing kv head kvh, together, so each key and value row is read
 * once per group (GQA: 4x less cache traffic at Llama-3.2 widths): scores over positions 0..last walked block by
 * block, softmax per head, weighted sum of values. q, out: the group's first head (heads D floats apart);
 * score: (G, last + 1). */
static inline __attribute__((always_inline)) void attend_group_body(const srt_paged_attn_args *a,
        const int32_t *blocks, const float *q, int G, int kvh, int last, float *score, float *out) {
    const int D = a->head_dim, kv_dim = a->n_kv_heads * D, bs = a->block_size, n = last + 1;
    const float scale = 1.0f / sqrtf((float)D);
    for (int p0 = 0; p0 < n; p0 += bs) {   /* keys: one block of consecutive slots at a time */
        const float *kb = (const float *)a->k_cache + (size_t)blocks[p0 / bs] * bs * kv_dim + (size_t)kvh * D;
        int pn = n - p0 < bs ? n - p0 : bs;
        for (int j = 0; j < pn; j++) {
            const float *k = kb + (size_t)j * kv_dim;
            for (int g = 0; g < G; g++) {
                const float *qg = q + (size_t)g * D;
                float dot = 0;
                #pragma omp simd reduction(+:dot)
                for (int d = 0; d < D; d++) dot += qg[d] * k[d];
                score[(size_t)g * n + p0 + j] = dot * scale;
            }
        }
    }
    float inv[64];   /* G <= 64 here; larger groups take the per-head loop below */
    for (int g = 0; g < G; g++) {
        float *sc = score + (size_t)g * n, mx = -INFINITY, sum = 0;
        for (int p = 0; p < n; p++) mx = sc[p] > mx ? sc[p] : mx;
        for (int p = 0; p < n; p++) { sc[p] = expf(sc[p] - mx); sum += sc[p]; }
        inv[g] = 1.0f / sum;
        float *o = out + (size_t)g * D;
        for (int d = 0; d < D; d++) o[d] = 0;
    }
    for (int p0 = 0; p0 < n; p0 += bs) {   /* values */
        const float *vb = (const float *)a->v_cache + (size_t)blocks[p0 / bs] * bs * kv_dim + (size_t)kvh * D;
        int pn = n - p0 < bs ? n - p0 : bs;
        for (int j = 0; j < pn; j++) {
            const float *v = vb + (size_t)j * kv_dim;
            for (int g = 0; g < G; g++) {
                float w = score[(size_t)g * n + p0 + j], *o = out + (size_t)g * D;
                #pragma omp simd
                for (int d = 0; d < D; d++) o[d] += w * v[d];
            }
        }
    }
    for (int g = 0; g < G; g++) {
        float *o = out + (size_t)g * D;
        #pragma omp simd
        for (int d = 0; d < D; d++) o[d] *= inv[g];
    }
}

/* The same loops compiled twice: for AVX2+FMA (function-level target, picked at run time) and baseline x86-64. */
static LM_AVX2 void attend_group_avx2(const srt_paged_attn_args *a, const int32_t *blocks, const float *q, int G,
                                      int kvh, int last, float *score, float *out) {
    attend_group_body(a, blocks, q, G, kvh, last, score, out);
}
static void attend_group(const srt_paged_attn_args *a, const int32_t *blocks, const float *q, int G, int kvh,
                         int last, float *score, float *out) {
    if (srt_cpu_has_avx2()) attend_group_avx2(a, blocks, q, G, kvh, last, score, out);
    else attend_group_body(a, blocks, q, G, kvh, last, score, out);
}

static srt_status cpu_paged_attention(void *ctx, const srt_paged_attn_args *a) {
    (void)ctx;
    if (a->kv_dtype != SRT_F32)
        return srt_error(SRT_ERR_UNSUPPORTED, "paged_attention: the cpu backend keeps its KV cache in f32, not %s",
                         srt_dtype_name(a->kv_dtype));
    int H = a->n_heads, D = a->head_dim, KVH = a->n_kv_heads, group = H / KVH;
    int G = group <= 64 ? group : 1;          /* heads per work item (attend_group's limit) */
    int max_ctx = 1, n_rows = 0;
    for (int s = 0; s < a->n_seqs; s++) {
        if (a->ctx_len[s] > max_ctx) max_ctx = a->ctx_len[s];
        n_rows += a->n_q[s];
    }
    /* flat list of query rows: (sequence, index inside the sequence) */
    int32_t *row_seq = srt_malloc(sizeof(int32_t) * 2 * (size_t)(n_rows ? n_rows : 1), "paged_attention rows");
    if (!row_seq) return SRT_ERR_NOMEM;
    for (int s = 0, r = 0; s < a->n_seqs; s++)
        for (int i = 0; i < a->n_q[s]; i++, r++) { row_seq[2 * r] = s; row_seq[2 * r + 1] = i; }
    int failed = 0, per_row = H / G;
    int64_t n_items = (int64_t)n_rows * per_row;
    #pragma omp parallel num_threads(lm_threads(ctx)) if (n_items > 1)
    {
        float *score = malloc(sizeof(float) * (size_t)max_ctx * G);
        if (!score) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < n_items; it++) {
            if (!score) continue;
            int r = (int)(it / per_row), h = (int)(it % per_row) * G, s = row_seq[2 * r], i = row_seq[2 * r + 1];
            int row = a->q_start[s] + i, last = a->ctx_len[s] - a->n_q[s] + i;
            attend_group(a, a->block_table + (size_t)s * a->max_blocks, a->q + ((size_t)row * H + h) * D, G,
                         h / group, last, score, a->out + ((size_t)row * H + h) * D);
        }
        free(score);
    }
    free(row_seq);
    if (failed) return srt_error(SRT_ERR_NOMEM, "paged_attention: no memory for scores of %d positions", max_ctx);
    return SRT_OK;
}

static srt_status cpu_swiglu(void *ctx, const srt_swiglu_args *a) {
    (void)ctx;
    #pragma omp parallel for simd num_threads(lm_threads(ctx)) schedule(static) if (a->n > 16384)
    for (int64_t i = 0; i < a->n; i++) {
        float g = a->gate[i];
        a->out[i] = g / (1.0f + expf(-g)) * a->up[i];
    }
    return SRT_OK;
}

static srt_status cpu_embedding(void *ctx, const srt_embedding_args *a) {
    (void)ctx;
    if (a->dtype != SRT_F32 && a->dtype != SRT_F16 && a->dtype != SRT_BF16)
        return srt_error(SRT_ERR_UNSUPPORTED, "embedding: table dtype %s", srt_dtype_name(a->dtype));
    for (int t = 0; t < a->n_tokens; t++)
        if (a->ids[t] < 0 || a->ids[t] >= a->n_rows)
            return srt_error(SRT_ERR_RANGE, "embedding: token id %d at position %d outside [0, %d)", a->ids[t], t,
                             a->n_rows);
    #pragma omp parallel for num_threads(lm_threads(ctx)) schedule(static) if (a->n_tokens > 16)
    for (int t = 0; t < a->n_tokens; t++) {
        size_t base = (size_t)a->ids[t] * a->dim;
        float *y = a->y + (size_t)t * a->dim;
        if (a->dtype == SRT_F32) {
            memcpy(y, (const float *)a->table + base, sizeof(float) * (size_t)a->dim);
        } else if (a->dtype == SRT_BF16) {
            const uint16_t *src = (const uint16_t *)a->table + base;
            for (int i = 0; i < a->dim; i++) {
                uint32_t u = (uint32_t)src[i] << 16;
                memcpy(&y[i], &u, 4);
            }
        } else {
            const uint16_t *src = (const uint16_t *)a->table + base;
            for (int i = 0; i < a->dim; i++) y[i] = srt_f16_to_f32(src[i]);
        }
    }
    return SRT_OK;
}

static srt_status cpu_add_bias(void *ctx, const srt_add_bias_args *a) {
    (void)ctx;
    #pragma omp parallel for num_threads(lm_threads(ctx)) schedule(static) if (a->rows > 16)
    for (int r = 0; r < a->rows; r++) {
        float *x = a->x + (size_t)r * a->cols;
        #pragma omp simd
        for (int c = 0; c < a->cols; c++) x[c] += a->bias[c];
    }
    return SRT_OK;
}

static srt_status cpu_gather_rows(void *ctx, const srt_gather_rows_args *a) {
    (void)ctx;
    for (int i = 0; i < a->n_out; i++)
        memcpy(a->y + (size_t)i * a->cols, a->x + (size_t)a->idx[i] * a->cols, sizeof(float) * (size_t)a->cols);
    return SRT_OK;
}

/* Rows in parallel, each through srt_sample_pick (the host sampler's own code). */
static srt_status cpu_sample(void *ctx, const srt_sample_args *a) {
    (void)ctx;
    srt_status st = SRT_OK;
    int failed_row = -1;
    #pragma omp parallel num_threads(lm_threads(ctx)) if (a->n_rows > 1)
    {
        srt_sample_work work = {0};
        #pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < a->n_rows; r++) {
            srt_status rs = srt_sample_pick(a->logits + (size_t)r * a->vocab, &a->rows[r], a->pen, &work, &a->ids[r]);
            if (rs != SRT_OK) {
                #pragma omp critical(srt_cpu_sample)
                if (failed_row < 0 || r < failed_row) { failed_row = r; st = rs; }
            }
        }
        srt_sample_work_free(&work);
    }
    if (st != SRT_OK) {   /* the message of a failed row may come from another thread: say it again here */
        int32_t dummy;
        srt_sample_work work = {0};
        st = srt_sample_pick(a->logits + (size_t)failed_row * a->vocab, &a->rows[failed_row], a->pen, &work, &dummy);
        srt_sample_work_free(&work);
        return srt_error_prefix(st, "sample: row %d: ", failed_row);
    }
    return SRT_OK;
}

/* Fill [from, to) of row with -inf, stepping over keep_id. */
static void fill_neg_inf(float *row, int32_t from, int32_t to, int32_t keep_id) {
    if (keep_id >= from && keep_id < to) {
        fill_neg_inf(row, from, keep_id, -1);
        fill_neg_inf(row, keep_id + 1, to, -1);
        return;
    }
    for (int32_t id = from; id < to; id++) row[id] = -INFINITY;
}

/* The clear range minus the keep range as (at most) two spans, each filled without a per-id test. */
static srt_status cpu_mask_rows(void *ctx, const srt_mask_rows_args *a) {
    (void)ctx;
    for (int r = 0; r < a->n_rows; r++) {
        const srt_mask_row *m = &a->rows[r];
        float *row = a->logits + (size_t)r * a->vocab;
        int32_t kb = m->keep_begin, ke = m->keep_end;
        if (kb >= ke) { kb = ke = m->clear_end; }            /* empty keep range: one span */
        int32_t left_end = kb < m->clear_end ? kb : m->clear_end;
        int32_t right_begin = ke > m->clear_begin ? ke : m->clear_begin;
        fill_neg_inf(row, m->clear_begin, left_end, m->keep_id);
        fill_neg_inf(row, right_begin, m->clear_end, m->keep_id);
    }
    return SRT_OK;
}

const srt_lm_ops srt_cpu_lm_ops = {
    .rmsnorm = cpu_rmsnorm,
    .rope = cpu_rope,
    .kv_store = cpu_kv_store,
    .paged_attention = cpu_paged_attention,
    .swiglu = cpu_swiglu,
    .embedding = cpu_embedding,
    .add_bias = cpu_add_bias,
    .gather_rows = cpu_gather_rows,
    .sample = cpu_sample,
    .mask_rows = cpu_mask_rows,
};
