/* pool.c: the caching device-memory pool of the CUDA backend (see pool.h). */
#include "cuda/pool.h"
#include "cuda/check.h"
#include <string.h>

static int push_block(srt_cuda_block **arr, int *n, int *cap, srt_cuda_block blk) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        srt_cuda_block *na = realloc(*arr, sizeof *na * (size_t)nc);
        if (!na) return 0;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = blk;
    return 1;
}

srt_status srt_cuda_pool_alloc(srt_cuda_pool *p, size_t bytes, void **ptr) {
    size_t want = (bytes + 255) & ~(size_t)255;
    if (want == 0) want = 256;
    int best = -1;
    for (int i = 0; i < p->n_cached; i++) {
        size_t sz = p->cached[i].bytes;
        if (sz >= want && sz <= 2 * want && (best < 0 || sz < p->cached[best].bytes)) best = i;
    }
    srt_cuda_block blk;
    if (best >= 0) {
        blk = p->cached[best];
        p->cached[best] = p->cached[--p->n_cached];
        p->bytes_cached -= blk.bytes;
    } else {
        blk.bytes = want;
        cudaError_t e = cudaMalloc(&blk.ptr, want);
        if (e == cudaErrorMemoryAllocation && p->n_cached) {   /* give the cache back and retry once */
            cudaGetLastError();
            srt_cuda_pool_release(p, 0);
            e = cudaMalloc(&blk.ptr, want);
        }
        if (e != cudaSuccess) {
            cudaGetLastError();
            *ptr = NULL;
            return srt_error(srt_cuda_status_of(e), "cudaMalloc of %zu bytes failed: %s (%zu bytes in use, %zu cached)",
                             want, cudaGetErrorString(e), p->bytes_live, p->bytes_cached);
        }
        p->n_device_allocs++;
    }
    if (!push_block(&p->live, &p->n_live, &p->cap_live, blk)) {
        cudaFree(blk.ptr);
        return srt_error(SRT_ERR_NOMEM, "cuda pool: no host memory for the block table");
    }
    p->bytes_live += blk.bytes;
    *ptr = blk.ptr;
    return SRT_OK;
}

void srt_cuda_pool_free(srt_cuda_pool *p, void *ptr) {
    if (!ptr) return;
    for (int i = p->n_live - 1; i >= 0; i--) {
        if (p->live[i].ptr != ptr) continue;
        srt_cuda_block blk = p->live[i];
        p->live[i] = p->live[--p->n_live];
        p->bytes_live -= blk.bytes;
        if (push_block(&p->cached, &p->n_cached, &p->cap_cached, blk)) p->bytes_cached += blk.bytes;
        else cudaFree(blk.ptr);
        return;
    }
    srt_error(SRT_ERR_INVALID_ARG, "cuda pool: free of %p which this backend did not allocate", ptr);
}

void srt_cuda_pool_release(srt_cuda_pool *p, int also_live) {
    for (int i = 0; i < p->n_cached; i++) cudaFree(p->cached[i].ptr);
    p->n_cached = 0;
    p->bytes_cached = 0;
    if (also_live) {
        for (int i = 0; i < p->n_live; i++) cudaFree(p->live[i].ptr);
        p->n_live = 0;
        p->bytes_live = 0;
        free(p->live); free(p->cached);
        p->live = p->cached = NULL;
        p->cap_live = p->cap_cached = 0;
    }
}
