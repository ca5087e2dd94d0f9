/* cpu_backend.c: the fast "cpu" backend table (threads + SIMD + BLAS). Ops not yet specialized fall back
 * to the reference implementations. */
#include "cpu/ref_ops.h"
#include <string.h>

static srt_backend_ops srt_cpu_ops;

srt_status srt_cpu_backend_create(int n_threads, srt_backend *out) {
    (void)n_threads;
    srt_cpu_ops = srt_cpu_ref_ops;
    srt_cpu_ops.name = "cpu";
    memset(out, 0, sizeof *out);
    out->ops = &srt_cpu_ops;
    strcpy(out->device, "cpu");
    return SRT_OK;
}
