/* ref_backend.c: the "cpu-ref" backend table: host memory and plain-loop reference ops (ref_*.c).
 * Never optimized: it is the truth every other backend is compared with. Written out in full; the host-memory
 * transfers are the srt_shared_host_* entries it shares with cpu (shared_ops.h). */
#include "cpu/ref_ops.h"
#include "cpu/shared_ops.h"
#include "lm/lm_ops.h"
#include <string.h>

static srt_status ref_alloc(void *ctx, size_t bytes, void **ptr) {
    (void)ctx;
    *ptr = srt_malloc(bytes, "a cpu tensor");
    return *ptr ? SRT_OK : SRT_ERR_NOMEM;
}
static void ref_free(void *ctx, void *ptr) { (void)ctx; free(ptr); }
static void ref_destroy(void *ctx) { (void)ctx; }

const srt_backend_ops srt_cpu_ref_ops = {
    .name = "cpu-ref",
    .host_memory = 1,
    .alloc = ref_alloc,
    .free = ref_free,
    .upload = srt_shared_host_copy,
    .download = srt_shared_host_copy,
    .memset0 = srt_shared_host_memset0,
    .copy = srt_shared_host_copy,
    .sync = srt_shared_host_sync,
    .destroy = ref_destroy,
    .conv1d = srt_ref_conv1d,
    .conv_transpose1d = srt_ref_conv_transpose1d,
    .snake = srt_ref_snake,
    .gemm = srt_ref_gemm,
    .layernorm = srt_ref_layernorm,
    .transpose = srt_ref_transpose,
    .local_attention = srt_ref_local_attention,
    .avgpool = srt_ref_avgpool,
    .upsample_add = srt_ref_upsample_add,
    .vq_nearest = srt_ref_vq_nearest,
    .embed = srt_ref_embed,
    .unary = srt_ref_unary,
    .axpby = srt_ref_axpby,
    .noise_add = srt_ref_noise_add,
    .copy2d = srt_ref_copy2d,
    .lm = &srt_cpu_ref_lm_ops,
};

srt_status srt_cpu_ref_backend_create(int n_threads, srt_backend *out) {
    (void)n_threads;
    memset(out, 0, sizeof *out);
    out->ops = &srt_cpu_ref_ops;
    out->ctx = NULL;
    strcpy(out->device, "cpu-ref");
    out->n_threads = 1;
    return SRT_OK;
}
