/* sample_pick.c: srt_sample_pick, the host implementation of the sampling distribution of srt_sample_row
 * (lm_ops.h) used by the sampler and the cpu backend. Top-k by quickselect; the top-p cut by binning the
 * survivors' integer weights by logit below the best and sorting only the bin where the mass crosses the target;
 * the draw walks the survivors in id order. Integer weights make every sum exact, so the pick does not depend on
 * the order of the work -- the CUDA kernel (cuda/lm_sample.cuh) gets the same id. */
#include "common.h"
#include "lm/sample_dist.h"
#include "lm/sample_pick.h"
#include <math.h>

srt_status srt_sample_work_reserve(srt_sample_work *w, int n) {
    if (n <= w->cap) return SRT_OK;
    srt_sample_work_free(w);
    w->c = srt_malloc(sizeof(srt_sample_cand) * (size_t)n, "sampling candidates");
    w->sel = srt_malloc(sizeof(srt_sample_cand) * (size_t)n, "sampling candidates");
    if (!w->c || !w->sel) { srt_sample_work_free(w); return SRT_ERR_NOMEM; }
    w->cap = n;
    return SRT_OK;
}

void srt_sample_work_free(srt_sample_work *w) {
    free(w->c); free(w->sel);
    w->c = w->sel = NULL;
    w->cap = 0;
}

/* Rank order: logit descending, then id ascending. */
static int better(const srt_sample_cand *a, const srt_sample_cand *b) {
    return a->l > b->l || (a->l == b->l && a->id < b->id);
}
static void swap_cand(srt_sample_cand *a, srt_sample_cand *b) { srt_sample_cand t = *a; *a = *b; *b = t; }
static int cmp_rank(const void *a, const void *b) { return better(a, b) ? -1 : better(b, a) ? 1 : 0; }

/* Rearrange c[0..n) so its k best come first (in any order). Deterministic quickselect (median of three). */
static void select_top(srt_sample_cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi && k > lo && k <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (better(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (better(&c[hi], &c[lo])) swap_cand(&c[hi], &c[lo]);
        if (better(&c[hi], &c[mid])) swap_cand(&c[hi], &c[mid]);
        srt_sample_cand pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (better(&c[i], &pivot)) i++;
            while (better(&pivot, &c[j])) j--;
            if (i <= j) { swap_cand(&c[i], &c[j]); i++; j--; }
        }
        if (k <= j) hi = j;          /* the boundary lies in the left part */
        else if (k >= i) lo = i;
        else break;                  /* c[j+1..i-1] equal the pivot: boundary inside */
    }
}

/* A rank cut: candidates ranked at or before (l, id) survive. */
typedef struct cut { float l; int32_t id; } cut;
static int in_cut(const srt_sample_cand *c, cut k) { return c->l > k.l || (c->l == k.l && c->id <= k.id); }

/* The shortest rank prefix of s[0..n) whose weight reaches target: bins of 1/16 of (best - l) * inv_temp over 32
 * units (weights past that are 0 in fixed point); whole bins above the crossing one are kept unsorted, only the
 * crossing bin is sorted. Returns the last candidate of the prefix. */
#define TOP_P_BINS 512
static cut top_p_cut(srt_sample_cand *s, int n, float best, float inv_temp, uint64_t target) {
    uint64_t mass[TOP_P_BINS + 1] = {0}, cum = 0;
    for (int i = 0; i < n; i++) {
        float d = -((s[i].l - best) * inv_temp) * 16.0f;   /* non-decreasing along the rank order */
        mass[d < TOP_P_BINS ? (int)d : TOP_P_BINS] += s[i].fixed;
    }
    int cross = 0;
    while (cross < TOP_P_BINS && cum + mass[cross] < target) cum += mass[cross++];
    int m = 0;
    for (int i = 0; i < n; i++) {
        float d = -((s[i].l - best) * inv_temp) * 16.0f;
        int bin = d < TOP_P_BINS ? (int)d : TOP_P_BINS;
        if (bin == cross) swap_cand(&s[i], &s[m++]);
    }
    qsort(s, (size_t)m, sizeof *s, cmp_rank);
    for (int i = 0; i < m; i++) {
        cum += s[i].fixed;
        if (cum >= target) return (cut){s[i].l, s[i].id};
    }
    return m ? (cut){s[m - 1].l, s[m - 1].id} : (cut){INFINITY, -1};   /* unreachable: target <= total */
}

srt_status srt_sample_pick(const float *logits, const srt_sample_row *row, const srt_sample_penalty *pen,
                           srt_sample_work *work, int32_t *id) {
    int begin = row->begin, n = row->end - row->begin;
    SRT_TRY(srt_sample_work_reserve(work, n));
    srt_sample_cand *c = work->c;
    for (int i = 0; i < n; i++) { c[i].l = logits[begin + i]; c[i].id = begin + i; }
    for (int e = 0; e < row->n_pen; e++) {
        const srt_sample_penalty *p = &pen[row->pen_start + e];
        if (p->id >= begin && p->id < row->end)
            c[p->id - begin].l = srt_sample_penalize(c[p->id - begin].l, row->rep_penalty, p->sub);
    }
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(c[i].l)) return srt_error(SRT_ERR_RANGE, "sampler: logit of id %d is NaN", c[i].id);
        if (better(&c[i], &c[best])) best = i;
    }
    float lb = c[best].l, inv_t = row->inv_temp;
    if (inv_t == 0 || !isfinite(lb)) { *id = c[best].id; return SRT_OK; }
    for (int i = 0; i < n; i++) {
        c[i].w = srt_sample_weight(c[i].l, lb, inv_t);
        c[i].fixed = srt_sample_fixed(c[i].w);
    }
    cut k = {-INFINITY, INT32_MAX};
    srt_sample_cand *s = work->sel;
    int m = n;                          /* survivors so far, gathered in s[0..m) when needed */
    int top_k = row->top_k > 0 && row->top_k < n, top_p = row->top_p > 0 && row->top_p < 1;
    if (top_k || top_p) memcpy(s, c, sizeof *c * (size_t)n);
    if (top_k) {
        select_top(s, n, row->top_k);
        m = row->top_k;
        int worst = 0;
        for (int i = 1; i < m; i++) if (better(&s[worst], &s[i])) worst = i;
        k = (cut){s[worst].l, s[worst].id};
    }
    if (top_p) {
        uint64_t total = 0;
        for (int i = 0; i < m; i++) total += s[i].fixed;
        k = top_p_cut(s, m, lb, inv_t, srt_sample_target(row->top_p, total));
    }
    float min_p = row->min_p;
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        if (in_cut(&c[i], k) && (min_p <= 0 || c[i].w >= min_p || i == best)) total += c[i].fixed;
    uint64_t point = srt_sample_draw(row->u, total), cum = 0;
    for (int i = 0; i < n; i++) {
        if (!in_cut(&c[i], k) || !(min_p <= 0 || c[i].w >= min_p || i == best)) continue;
        cum += c[i].fixed;
        if (cum > point) { *id = c[i].id; return SRT_OK; }
    }
    *id = c[best].id;                   /* unreachable: point < total */
    return SRT_OK;
}
