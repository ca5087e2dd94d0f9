/* shared_ops.c: the op-table entries shared on purpose by cpu-ref and cpu (host memory; see shared_ops.h). */
#include "cpu/shared_ops.h"
#include <string.h>

srt_status srt_shared_host_copy(void *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    if (bytes) memmove(dst, src, bytes);
    return SRT_OK;
}

srt_status srt_shared_host_memset0(void *ctx, void *dst, size_t bytes) {
    (void)ctx;
    if (bytes) memset(dst, 0, bytes);
    return SRT_OK;
}

srt_status srt_shared_host_sync(void *ctx) { (void)ctx; return SRT_OK; }

const srt_shared_op srt_shared_ops[] = {
    {"srt_shared_host_copy", (void (*)(void))srt_shared_host_copy},
    {"srt_shared_host_memset0", (void (*)(void))srt_shared_host_memset0},
    {"srt_shared_host_sync", (void (*)(void))srt_shared_host_sync},
    {NULL, NULL},
};
