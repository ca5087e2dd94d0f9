/* cpu_backend.c: the fast "cpu" backend table (threads + SIMD + BLAS; codec ops in cpu_*.c, LM ops in cpu_lm.c),
 * written out in full, and its creation (threads; SNACRT_CPU_LM_PRECISION, see cpu_ops.h). Memory is host memory
 * from a caching pool (cpu_alloc.c); the transfers are the srt_shared_host_* entries it shares with cpu-ref on
 * purpose (shared_ops.h). */
#include "cpu/cpu_ops.h"
#include "cpu/shared_ops.h"
#include "lm/lm_ops.h"
#include <cblas.h>
#include <stdlib.h>
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

static void cpu_mark_static(void *vctx, const void *ptr, size_t bytes) {
    srt_cpu_wcache_mark_static(((srt_cpu_ctx *)vctx)->wcache, ptr, bytes);
}
static const srt_backend_ops srt_cpu_ops = {
    .name = "cpu",
    .host_memory = 1,
    .conv1d_res_ld = 1,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .mark_static = cpu_mark_static,
    .upload = srt_shared_host_copy,
    .download = srt_shared_host_copy,
    .memset0 = srt_shared_host_memset0,
    .copy = srt_shared_host_copy,
    .sync = srt_shared_host_sync,
    .destroy = cpu_destroy,
    .conv1d = srt_cpu_conv1d,
    .conv_transpose1d = srt_cpu_conv_transpose1d,
    .snake = srt_cpu_snake,
    .gemm = srt_cpu_gemm,
    .layernorm = srt_cpu_layernorm,
    .transpose = srt_cpu_transpose,
    .local_attention = srt_cpu_local_attention,
    .avgpool = srt_cpu_avgpool,
    .upsample_add = srt_cpu_upsample_add,
    .vq_nearest = srt_cpu_vq_nearest,
    .embed = srt_cpu_embed,
    .unary = srt_cpu_unary,
    .axpby = srt_cpu_axpby,
    .noise_add = srt_cpu_noise_add,
    .copy2d = srt_cpu_copy2d,
    .lm = &srt_cpu_lm_ops,
};


srt_status srt_cpu_lm_precision_parse(const char *what, const char *name, int *precision) {
    if (!strcmp(name, "exact")) *precision = SRT_CPU_LM_EXACT;
    else if (!strcmp(name, "bf16")) *precision = SRT_CPU_LM_BF16;
    else return srt_error(SRT_ERR_INVALID_ARG, "%s=%s: expected exact or bf16", what, name);
    return SRT_OK;
}

srt_status srt_cpu_backend_create(int n_threads, srt_backend *out) {
    memset(out, 0, sizeof *out);
    if (n_threads < 0) return srt_error(SRT_ERR_INVALID_ARG, "cpu backend: n_threads %d < 0", n_threads);
    int precision = SRT_CPU_LM_BF16;
    const char *prec = getenv("SNACRT_CPU_LM_PRECISION");
    if (prec && *prec) SRT_TRY(srt_cpu_lm_precision_parse("SNACRT_CPU_LM_PRECISION", prec, &precision));
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
    ctx->lm_precision = precision;
    /* OpenMP owns the cores; BLAS calls run inside per-thread tiles */
    openblas_set_num_threads(1);

    out->ops = &srt_cpu_ops;
    out->ctx = ctx;
    out->n_threads = ctx->n_threads;
    out->lm_precision_bf16 = precision == SRT_CPU_LM_BF16;
    strcpy(out->device, "cpu");
    return SRT_OK;
}

void srt_cpu_backend_set_lm_precision(srt_backend *b, int precision) {
    ((srt_cpu_ctx *)b->ctx)->lm_precision = precision;
    b->lm_precision_bf16 = precision == SRT_CPU_LM_BF16;
}
