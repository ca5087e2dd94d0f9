/* cpu_alloc.h: a small caching allocator for the cpu backend's tensors (see cpu_alloc.c). */
#ifndef SRT_CPU_ALLOC_H
#define SRT_CPU_ALLOC_H

#include "common.h"
#include <stddef.h>

typedef struct srt_cpu_pool srt_cpu_pool;

srt_cpu_pool *srt_cpu_pool_create(void);
void srt_cpu_pool_destroy(srt_cpu_pool *p);
srt_status srt_cpu_pool_alloc(srt_cpu_pool *p, size_t bytes, void **ptr);   /* 64-byte aligned */
void srt_cpu_pool_free(srt_cpu_pool *p, void *ptr);
/* Usable bytes of a block from srt_cpu_pool_alloc. */
size_t srt_cpu_pool_block_bytes(const void *ptr);

#endif
