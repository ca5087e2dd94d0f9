/* shared_ops.h: op-table entries two backends share on purpose, named srt_shared_* so a reader (and the table
 * test, tests/test_backend_tables.c) can tell a declared share from a fast backend that fell back to the
 * reference by accident. Today: the host-memory transfers of cpu-ref and cpu (both keep tensors in host memory). */
#ifndef SRT_SHARED_OPS_H
#define SRT_SHARED_OPS_H

#include "backend.h"

/* upload, download and copy of host memory (memmove), memset0, and a sync with nothing in flight */
srt_status srt_shared_host_copy(void *ctx, void *dst, const void *src, size_t bytes);
srt_status srt_shared_host_memset0(void *ctx, void *dst, size_t bytes);
srt_status srt_shared_host_sync(void *ctx);

/* Every shared entry, as a generic function pointer (the table test walks it); ends with a NULL fn. */
typedef struct srt_shared_op {
    const char *name;
    void (*fn)(void);
} srt_shared_op;
extern const srt_shared_op srt_shared_ops[];

#endif
