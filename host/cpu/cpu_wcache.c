/* cpu_wcache.c: packed weights kept across calls. The dense and transposed convs multiply their weights with the
 * fixed-order GEMM, which reads them packed in register-tile order; packing on every call costs about twice the
 * weight reads of the GEMM itself when the signal is short (a streaming push of one frame group). Weights the
 * caller marks as unchanging (w_static: the codec's model weights) are packed once here and reused by pointer.
 * Entries are keyed by everything that shapes the packing (pointer, groups, rows, depth, strides, the GEMM's ISA
 * level) and dropped when the backend frees the block holding the weight or the backend is destroyed. At most
 * WCACHE_MAX_BYTES are kept; beyond that the ops pack per call as before.
 * The LM's bf16 Linear weights (the gemm's b_static) are kept the same way in the k-pair panels of the vdpbf16ps
 * kernel (cpu_gemm_kernels.h), up to SRT_CPU_WCACHE_PANEL_MAX_BYTES of their own (level PANEL_LEVEL in the key). */
#include "cpu/cpu_wcache.h"
#include "cpu/cpu_gemm_fixed.h"
#include "cpu/cpu_gemm_kernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#define WCACHE_MAX_BYTES ((size_t)1 << 30)

#define PANEL_LEVEL (-1)   /* wentry.level of bf16 panels: M = N, K = K, a_rs = ldb */

typedef struct wentry {
    const float *w;
    int G, M, K, level;
    ptrdiff_t a_rs, a_cs, g_stride;
    float *packed;            /* (G, srt_cpu_gemm_fixed_a_floats(M, K)), 64-byte aligned */
    size_t bytes;
} wentry;

struct srt_cpu_wcache {
    pthread_mutex_t lock;
    wentry *e;
    size_t n, cap, bytes, panel_bytes;
    struct { const char *lo, *hi; } *ranges;   /* mark_static's ranges */
    size_t n_ranges, cap_ranges;
};

srt_cpu_wcache *srt_cpu_wcache_create(void) {
    srt_cpu_wcache *c = srt_calloc(1, sizeof *c, "the cpu packed-weight cache");
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

void srt_cpu_wcache_destroy(srt_cpu_wcache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->e[i].packed);
    free(c->e);
    free(c->ranges);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static wentry *find(srt_cpu_wcache *c, const wentry *k) {
    for (size_t i = 0; i < c->n; i++) {
        wentry *e = &c->e[i];
        if (e->w == k->w && e->G == k->G && e->M == k->M && e->K == k->K && e->level == k->level &&
            e->a_rs == k->a_rs && e->a_cs == k->a_cs && e->g_stride == k->g_stride)
            return e;
    }
    return NULL;
}

/* Keep pk (bytes) under key unless another thread cached it meanwhile or the budget is spent; returns the cached
 * copy (NULL: none) and frees pk when it was not kept. */
static const void *insert(srt_cpu_wcache *c, wentry key, void *pk, size_t bytes, int panel) {
    const void *p = NULL;
    pthread_mutex_lock(&c->lock);
    wentry *hit = find(c, &key);   /* another thread may have packed it meanwhile */
    size_t *used = panel ? &c->panel_bytes : &c->bytes;
    size_t max = panel ? SRT_CPU_WCACHE_PANEL_MAX_BYTES : WCACHE_MAX_BYTES;
    if (!hit && *used + bytes <= max) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 64;
            wentry *e = realloc(c->e, cap * sizeof *e);
            if (e) { c->e = e; c->cap = cap; }
        }
        if (c->n < c->cap) {
            key.packed = pk;
            key.bytes = bytes;
            c->e[c->n++] = key;
            *used += bytes;
            p = pk;
            pk = NULL;
        }
    } else if (hit) {
        p = hit->packed;
    }
    pthread_mutex_unlock(&c->lock);
    free(pk);
    return p;
}

const float *srt_cpu_wcache_get(srt_cpu_wcache *c, const float *w, int G, int M, int K, ptrdiff_t a_rs,
                                ptrdiff_t a_cs, ptrdiff_t g_stride) {
    if (!c || !w || G < 1 || M < 1 || K < 1) return NULL;
    wentry key = {.w = w, .G = G, .M = M, .K = K, .level = srt_cpu_gemm_fixed_level(), .a_rs = a_rs, .a_cs = a_cs,
                  .g_stride = g_stride};
    pthread_mutex_lock(&c->lock);
    wentry *hit = find(c, &key);
    const float *p = hit ? hit->packed : NULL;
    int full = c->bytes >= WCACHE_MAX_BYTES;
    pthread_mutex_unlock(&c->lock);
    if (p || full) return p;

    /* pack outside the lock (the weights are read only) */
    size_t per = srt_cpu_gemm_fixed_a_floats(M, K), bytes = sizeof(float) * per * (size_t)G;
    if (bytes > WCACHE_MAX_BYTES) return NULL;
    void *raw = NULL;
    if (posix_memalign(&raw, 64, bytes)) return NULL;
    float *pk = raw;
    int parts = srt_cpu_gemm_fixed_a_parts(M, K);
    for (int g = 0; g < G; g++)
        for (int part = 0; part < parts; part++)
            srt_cpu_gemm_fixed_pack_a(pk + (size_t)g * per, M, K, w + (ptrdiff_t)g * g_stride, a_rs, a_cs, part);

    return insert(c, key, pk, bytes, 0);
}

const uint32_t *srt_cpu_wcache_get_panels(srt_cpu_wcache *c, const uint16_t *B, int N, int K, int ldb, int nt) {
    if (!c || !B || N < 1 || K < 1) return NULL;
    wentry key = {.w = (const float *)(const void *)B, .M = N, .K = K, .level = PANEL_LEVEL, .a_rs = ldb};
    size_t bytes = sizeof(uint32_t) * SRT_CPU_GEMM_PANEL_WORDS(N, K);
    pthread_mutex_lock(&c->lock);
    wentry *hit = find(c, &key);
    const void *p = hit ? hit->packed : NULL;
    int full = c->panel_bytes + bytes > SRT_CPU_WCACHE_PANEL_MAX_BYTES;
    pthread_mutex_unlock(&c->lock);
    if (p || full) return p;
    /* large weights on transparent huge pages where the kernel allows them (THP "madvise"): a decode step
     * streams every panel once, one TLB entry per 2 MB instead of per 4 KB */
    const size_t huge = (size_t)2 << 20;
    void *raw = NULL;
    if (posix_memalign(&raw, bytes >= 2 * huge ? huge : 64, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= 2 * huge) madvise(raw, bytes / huge * huge, MADV_HUGEPAGE);
#endif
    uint32_t *pk = raw;
    const int G = SRT_CPU_GEMM_PANEL_COLS;   /* columns per group of interleaved panels */
    const int ng = (N + G - 1) / G;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int q = 0; q < ng; q++)   /* groups in parallel (the first call packs the whole weight) */
        srt_cpu_gemm_pack_b_panels(B, ldb, K, G * q, G * q + G < N ? G * q + G : N,
                                   pk + SRT_CPU_GEMM_PANEL_WORDS(G * q, K));
    return insert(c, key, pk, bytes, 1);
}

void srt_cpu_wcache_mark_static(srt_cpu_wcache *c, const void *ptr, size_t bytes) {
    if (!c || !ptr || !bytes) return;
    pthread_mutex_lock(&c->lock);
    if (c->n_ranges == c->cap_ranges) {
        size_t cap = c->cap_ranges ? 2 * c->cap_ranges : 64;
        void *r = realloc(c->ranges, cap * sizeof *c->ranges);
        if (r) { c->ranges = r; c->cap_ranges = cap; }
    }
    if (c->n_ranges < c->cap_ranges) {   /* out of memory: the range is not cached (per-call packing) */
        c->ranges[c->n_ranges].lo = ptr;
        c->ranges[c->n_ranges++].hi = (const char *)ptr + bytes;
    }
    pthread_mutex_unlock(&c->lock);
}

int srt_cpu_wcache_is_static(srt_cpu_wcache *c, const void *ptr, size_t bytes) {
    if (!c || !ptr) return 0;
    const char *lo = ptr, *hi = lo + bytes;
    int yes = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_ranges && !yes; i++) yes = lo >= c->ranges[i].lo && hi <= c->ranges[i].hi;
    pthread_mutex_unlock(&c->lock);
    return yes;
}

void srt_cpu_wcache_drop(srt_cpu_wcache *c, const void *block, size_t bytes) {
    if (!c || !block) return;
    const char *lo = block, *hi = lo + bytes;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n;) {
        const char *w = (const char *)c->e[i].w;
        if (w >= lo && w < hi) {
            free(c->e[i].packed);
            if (c->e[i].level == PANEL_LEVEL) c->panel_bytes -= c->e[i].bytes;
            else c->bytes -= c->e[i].bytes;
            c->e[i] = c->e[--c->n];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < c->n_ranges;) {   /* static ranges inside the freed block end with it */
        if (c->ranges[i].lo >= lo && c->ranges[i].lo < hi) c->ranges[i] = c->ranges[--c->n_ranges];
        else i++;
    }
    pthread_mutex_unlock(&c->lock);
}
