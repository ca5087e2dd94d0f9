/* pool.h: a caching device-memory pool for the CUDA backend. Freed blocks are kept and handed out again to
 * requests of similar size (best fit, at most 2x the request), so a batch loop that frees and allocates the
 * same shapes every iteration calls cudaMalloc only on its first pass. Sizes are rounded up to 256 bytes. */
#ifndef SRT_CUDA_POOL_H
#define SRT_CUDA_POOL_H

#include "common.h"
#include <stddef.h>

typedef struct srt_cuda_block { void *ptr; size_t bytes; } srt_cuda_block;

typedef struct srt_cuda_pool {
    srt_cuda_block *live, *cached;   /* handed out / kept for reuse */
    int n_live, n_cached, cap_live, cap_cached;
    size_t bytes_live, bytes_cached;
    size_t n_device_allocs;          /* cudaMalloc calls so far (statistics) */
} srt_cuda_pool;

srt_status srt_cuda_pool_alloc(srt_cuda_pool *p, size_t bytes, void **ptr);
/* Returns the block to the cache; unknown pointers are ignored (and reported as an error string). */
void srt_cuda_pool_free(srt_cuda_pool *p, void *ptr);
/* cudaFree every cached block (and, with also_live, every live one). */
void srt_cuda_pool_release(srt_cuda_pool *p, int also_live);

#endif
