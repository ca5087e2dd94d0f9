/* cpu_wcache.c: packed weights kept across calls. The dense and transposed convs multiply their weights with the
 * fixed-order GEMM, which reads them packed in register-tile order; packing on every call costs about twice the
 * weight reads of the GEMM itself when the signal is short (a streaming push of one frame group). Weights the
 * caller marks as unchanging (w_static: the codec's model weights) are packed once here and reused by pointer.
 * Entries are keyed by everything that shapes the packing (pointer, groups, rows, depth, strides, the GEMM's ISA
 * level) and dropped when the backend frees the block holding the weight or the backend is destroyed. At most
 * WCACHE_MAX_BYTES are kept; beyond that the ops pack per call as before. */
#include "cpu/cpu_wcache.h"
#include "cpu/cpu_gemm_fixed.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WCACHE_MAX_BYTES ((size_t)1 << 30)

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
    size_t n, cap, bytes;
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

    pthread_mutex_lock(&c->lock);
    hit = find(c, &key);   /* another thread may have packed it meanwhile */
    if (!hit && c->bytes + bytes <= WCACHE_MAX_BYTES) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 64;
            wentry *e = realloc(c->e, cap * sizeof *e);
            if (e) { c->e = e; c->cap = cap; }
        }
        if (c->n < c->cap) {
            key.packed = pk;
            key.bytes = bytes;
            c->e[c->n++] = key;
            c->bytes += bytes;
            pk = NULL;
            p = key.packed;
        }
    } else if (hit) {
        p = hit->packed;
    }
    pthread_mutex_unlock(&c->lock);
    free(pk);
    return p;
}

void srt_cpu_wcache_drop(srt_cpu_wcache *c, const void *block, size_t bytes) {
    if (!c || !block) return;
    const char *lo = block, *hi = lo + bytes;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n;) {
        const char *w = (const char *)c->e[i].w;
        if (w >= lo && w < hi) {
            free(c->e[i].packed);
            c->bytes -= c->e[i].bytes;
            c->e[i] = c->e[--c->n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&c->lock);
}
