/* cpu_alloc.c: the cpu backend's memory: 64-byte aligned host blocks with a small cache of freed blocks, so the
 * graph's large workspaces (hundreds of MB for long signals) are not returned to the kernel and faulted in again
 * on every call. A freed block is reused for a request of at least a quarter of its size; the cache holds at most
 * CACHE_SLOTS blocks (the largest is released when full) and is emptied when the backend is destroyed. */
#include "cpu/cpu_alloc.h"
#include <pthread.h>
#include <string.h>

#define CACHE_SLOTS 16
#define HEADER 64   /* keeps the user pointer 64-byte aligned; holds the block size */

struct srt_cpu_pool {
    pthread_mutex_t lock;
    void *blocks[CACHE_SLOTS];   /* raw pointers (header included) */
    size_t sizes[CACHE_SLOTS];   /* usable bytes */
    int count;
};

srt_cpu_pool *srt_cpu_pool_create(void) {
    srt_cpu_pool *p = srt_calloc(1, sizeof *p, "the cpu memory pool");
    if (p) pthread_mutex_init(&p->lock, NULL);
    return p;
}

void srt_cpu_pool_destroy(srt_cpu_pool *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++) free(p->blocks[i]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

srt_status srt_cpu_pool_alloc(srt_cpu_pool *p, size_t bytes, void **ptr) {
    if (bytes == 0) bytes = 1;
    pthread_mutex_lock(&p->lock);
    int best = -1;
    for (int i = 0; i < p->count; i++)
        if (p->sizes[i] >= bytes && p->sizes[i] / 4 <= bytes && (best < 0 || p->sizes[i] < p->sizes[best])) best = i;
    if (best >= 0) {
        char *raw = p->blocks[best];
        p->blocks[best] = p->blocks[--p->count];
        p->sizes[best] = p->sizes[p->count];
        pthread_mutex_unlock(&p->lock);
        *ptr = raw + HEADER;
        return SRT_OK;
    }
    pthread_mutex_unlock(&p->lock);
    void *raw = NULL;
    if (bytes > SIZE_MAX - HEADER || posix_memalign(&raw, 64, bytes + HEADER))
        return srt_error(SRT_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
    memcpy(raw, &bytes, sizeof bytes);
    *ptr = (char *)raw + HEADER;
    return SRT_OK;
}

size_t srt_cpu_pool_block_bytes(const void *ptr) {
    size_t bytes;
    memcpy(&bytes, (const char *)ptr - HEADER, sizeof bytes);
    return bytes;
}

void srt_cpu_pool_free(srt_cpu_pool *p, void *ptr) {
    if (!ptr) return;
    char *raw = (char *)ptr - HEADER;
    size_t bytes;
    memcpy(&bytes, raw, sizeof bytes);
    pthread_mutex_lock(&p->lock);
    if (p->count == CACHE_SLOTS) {   /* evict the largest cached block (or this one) */
        int big = 0;
        for (int i = 1; i < p->count; i++) if (p->sizes[i] > p->sizes[big]) big = i;
        if (p->sizes[big] > bytes) {
            free(p->blocks[big]);
            p->blocks[big] = raw;
            p->sizes[big] = bytes;
            raw = NULL;
        }
    } else {
        p->blocks[p->count] = raw;
        p->sizes[p->count++] = bytes;
        raw = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    free(raw);
}
