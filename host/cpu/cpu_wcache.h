/* cpu_wcache.h: the cpu backend's cache of packed weights (see cpu_wcache.c). */
#ifndef SRT_CPU_WCACHE_H
#define SRT_CPU_WCACHE_H

#include "common.h"
#include <stddef.h>
#include <stdint.h>

typedef struct srt_cpu_wcache srt_cpu_wcache;

srt_cpu_wcache *srt_cpu_wcache_create(void);
void srt_cpu_wcache_destroy(srt_cpu_wcache *c);

/* The fixed-order GEMM's packed A (cpu_gemm_fixed.h) of G matrices (M, K), matrix g at w + g * g_stride with
 * element (m, k) at [m * a_rs + k * a_cs]: G consecutive blocks of srt_cpu_gemm_fixed_a_floats(M, K) floats.
 * Packed on the first call for (w, G, M, K, a_rs, a_cs, g_stride) and kept until srt_cpu_wcache_drop of its block or the
 * cache's end; the caller promises w's contents do not change meanwhile (model weights: the ops' w_static).
 * NULL when the cache is full (the caller packs per call as before). Thread-safe. */
const float *srt_cpu_wcache_get(srt_cpu_wcache *c, const float *w, int G, int M, int K, ptrdiff_t a_rs,
                                ptrdiff_t a_cs, ptrdiff_t g_stride);
/* [ptr, ptr + bytes) keeps its contents for the cache's life (the backend's mark_static: the LM's mmap'd weights);
 * is_static: whether [ptr, ptr + bytes) lies inside one such range. Thread-safe. */
void srt_cpu_wcache_mark_static(srt_cpu_wcache *c, const void *ptr, size_t bytes);
int srt_cpu_wcache_is_static(srt_cpu_wcache *c, const void *ptr, size_t bytes);
/* The bf16 weight B (N, K) row stride ldb in k-pair panels (srt_cpu_gemm_pack_b_panels, cpu_gemm_kernels.h), for
 * the vdpbf16ps kernel: packed on the first call (nt threads) and kept like the entries above (the caller promises
 * B does not change: it lies in a range marked static). NULL when the panels' budget (SRT_CPU_WCACHE_PANEL_MAX_BYTES) is spent:
 * the caller packs per call, into the same layout (the same results). Only when srt_cpu_gemm_has_avx512bf16(). */
#define SRT_CPU_WCACHE_PANEL_MAX_BYTES ((size_t)8 << 30)   /* 8 GiB: a 3B model's Linear weights */
const uint32_t *srt_cpu_wcache_get_panels(srt_cpu_wcache *c, const uint16_t *B, int N, int K, int ldb, int nt);
/* Forget every packed copy of weights inside [block, block + bytes) (that memory is being freed). */
void srt_cpu_wcache_drop(srt_cpu_wcache *c, const void *block, size_t bytes);

#endif
