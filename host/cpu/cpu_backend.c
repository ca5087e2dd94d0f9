/* cpu_backend.c: the fast "cpu" backend table (threads + SIMD + BLAS; ops in cpu_*.c). Memory is host memory from a
 * caching pool (cpu_alloc.c); copies use the reference backend's helpers. */
#include "cpu/cpu_ops.h"
#include "cpu/ref_ops.h"
#include <cblas.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS exports this (not in every cblas.h). */
void openblas_set_num_threads(int num_threads);

static void cpu_destroy(void *vctx) {
    srt_cpu_ctx *ctx = vctx;
    if (ctx) {
        srt_cpu_pool_destroy(ctx->pool);
        srt_cpu_pool_destroy(ctx->scratch);
        srt_cpu_wcache_destroy(ctx->wcache);
    }
    free(ctx);
}

void *srt_cpu_scratch_alloc(const srt_cpu_ctx *ctx, size_t bytes) {
    void *p = NULL;
    return srt_cpu_pool_alloc(ctx->scratch, bytes, &p) == SRT_OK ? p : NULL;
}

void srt_cpu_scratch_free(const srt_cpu_ctx *ctx, void *p) { srt_cpu_pool_free(ctx->scratch, p); }
static srt_status cpu_alloc(void *vctx, size_t bytes, void **ptr) {
    return srt_cpu_pool_alloc(((srt_cpu_ctx *)vctx)->pool, bytes, ptr);
}
static void cpu_free(void *vctx, void *ptr) {
    srt_cpu_ctx *ctx = vctx;
    if (ptr) srt_cpu_wcache_drop(ctx->wcache, ptr, srt_cpu_pool_block_bytes(ptr));   /* packed weights die with it */
    srt_cpu_pool_free(ctx->pool, ptr);
}

static srt_backend_ops srt_cpu_ops;

srt_status srt_cpu_backend_create(int n_threads, srt_backend *out) {
    memset(out, 0, sizeof *out);
    if (n_threads < 0) return srt_error(SRT_ERR_INVALID_ARG, "cpu backend: n_threads %d < 0", n_threads);
    srt_cpu_ctx *ctx = srt_calloc(1, sizeof *ctx, "the cpu backend context");
    if (!ctx) return SRT_ERR_NOMEM;
    ctx->pool = srt_cpu_pool_create();
    ctx->scratch = srt_cpu_pool_create();
    ctx->wcache = srt_cpu_wcache_create();
    if (!ctx->pool || !ctx->scratch || !ctx->wcache) {
        srt_cpu_pool_destroy(ctx->pool);
        srt_cpu_pool_destroy(ctx->scratch);
        srt_cpu_wcache_destroy(ctx->wcache);
        free(ctx);
        return SRT_ERR_NOMEM;
    }
    if (n_threads == 0) {
#ifdef _OPENMP
        n_threads = omp_get_num_procs();
#else
        n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    }
    ctx->n_threads = n_threads > 0 ? n_threads : 1;
    ctx->has_avx2 = srt_cpu_has_avx2();
    /* OpenMP owns the cores; BLAS calls run inside per-thread tiles */
    openblas_set_num_threads(1);

    srt_cpu_ops = srt_cpu_ref_ops;   /* memory entries: host memory */
    srt_cpu_ops.name = "cpu";
    srt_cpu_ops.destroy = cpu_destroy;
    srt_cpu_ops.alloc = cpu_alloc;
    srt_cpu_ops.free = cpu_free;
    srt_cpu_ops.conv1d = srt_cpu_conv1d;
    srt_cpu_ops.conv_transpose1d = srt_cpu_conv_transpose1d;
    srt_cpu_ops.snake = srt_cpu_snake;
    srt_cpu_ops.gemm = srt_cpu_gemm;
    srt_cpu_ops.layernorm = srt_cpu_layernorm;
    srt_cpu_ops.transpose = srt_cpu_transpose;
    srt_cpu_ops.local_attention = srt_cpu_local_attention;
    srt_cpu_ops.avgpool = srt_cpu_avgpool;
    srt_cpu_ops.upsample_add = srt_cpu_upsample_add;
    srt_cpu_ops.vq_nearest = srt_cpu_vq_nearest;
    srt_cpu_ops.embed = srt_cpu_embed;
    srt_cpu_ops.unary = srt_cpu_unary;
    srt_cpu_ops.axpby = srt_cpu_axpby;
    srt_cpu_ops.noise_add = srt_cpu_noise_add;
    out->ops = &srt_cpu_ops;
    out->ctx = ctx;
    strcpy(out->device, "cpu");
    return SRT_OK;
}
