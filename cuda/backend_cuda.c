/* backend_cuda.c: the "cuda" backend: fills srt_backend_ops with device memory (caching pool), pinned-staged
 * transfers on one non-blocking stream, and the codec ops (kernels in the .cuh files, GEMMs in cublas.c).
 * srt_cuda_backend_create reports SRT_ERR_NO_DEVICE clearly when there is no driver or no GPU.
 * Env: SNACRT_CUDA_TF32=1 (TF32 tensor cores for dense convs and GEMMs), SNACRT_CUDA_LM_PRECISION=bf16|exact (GEMMs
 * with bf16 weights above the small-M rows: bf16, the default, activations rounded to bf16 once; exact, split in
 * hi + lo, f32-level results; backend_cuda.h), SNACRT_CUDA_BF16_GEMM (overrides that choice: "split" hi + lo, 1
 * rounded once, 0 weights widened to f32 + cublasSgemm; cublas.c),
 * SNACRT_CUDA_SMALL_M_ROWS (bf16 GEMMs of at most this many rows take the decode kernel gemm_small_m.cuh in
 * single / split mode, 0..16, default SRT_CUDA_SMALL_M_ROWS_DEFAULT = 3 / _EXACT = 4),
 * SNACRT_CUDA_SCRATCH_MB (im2col cap), SNACRT_CUDA_PREFILL_FUSE=0 (the qkv_rope_store_attention op runs its parts as
 * the separate ops do, for before / after comparisons; backend_cuda_lm.c),
 * SNACRT_CUDA_PRECISION=fp32|tf32|bf16 (the dense codec convs: fp32 through im2col + cuBLAS, tf32 / bf16 the
 * tensor-core implicit GEMMs of conv_igemm.cuh; the codec's precision option overrides it),
 * SNACRT_CUDA_FP32_IGEMM=1 (precision fp32 through the FMA implicit GEMM of conv_igemm.cuh instead of im2col + cuBLAS:
 * the path the fp32 igemm tests and bench_gpu_model take),
 * SNACRT_CUDA_IGEMM_PLAN_BATCH=N (the implicit GEMMs plan split folding as if the batch were >= N: same bits,
 * process-wide; bench_gpu_model sets 64 so that its batch 1 and 2 runs extrapolate the batch-64 plan). */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/kernels.h"
#include "cuda/lm_kernels.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>

static const size_t PINNED_BYTES = (size_t)4 << 20;

srt_status srt_cuda_scratch(srt_cuda_ctx *c, int slot, size_t bytes, void **ptr) {
    if (slot == 0) c->swiglu_of = NULL;   /* the SwiGLU hand-off lives in slot 0 (cublas.c) */
    if (c->scratch_bytes[slot] < bytes) {
        if (c->scratch[slot]) srt_cuda_pool_free(&c->pool, c->scratch[slot]);
        c->scratch[slot] = NULL;
        c->scratch_bytes[slot] = 0;
        SRT_TRY(srt_cuda_pool_alloc(&c->pool, bytes, &c->scratch[slot]));
        c->scratch_bytes[slot] = bytes;
    }
    *ptr = c->scratch[slot];
    return SRT_OK;
}

srt_status srt_cuda_valid(srt_cuda_ctx *c, const int *in_valid, int batch, int in_len, const int **dev) {
    *dev = NULL;
    if (!in_valid) return SRT_OK;
    if (c->cg_mode) return srt_cuda_cg_valid(c, in_valid, batch, in_len, dev);   /* one table per pass */
    if (c->valid_cap < batch) {
        int cap = batch < 64 ? 64 : batch;
        if (c->valid_dev) srt_cuda_pool_free(&c->pool, c->valid_dev);
        c->valid_dev = NULL;
        free(c->valid_host);
        c->valid_host = srt_malloc(sizeof(int) * (size_t)cap, "in_valid staging");
        c->valid_cap = 0;
        if (!c->valid_host) return SRT_ERR_NOMEM;
        SRT_TRY(srt_cuda_pool_alloc(&c->pool, sizeof(int) * (size_t)cap, (void **)&c->valid_dev));
        c->valid_cap = cap;
    }
    for (int b = 0; b < batch; b++) {
        int v = in_valid[b];
        c->valid_host[b] = v < 0 ? 0 : v > in_len ? in_len : v;
    }
    /* pageable source: the call returns once the data is staged, so valid_host may be rewritten next op */
    SRT_CHECK_CUDA(cudaMemcpyAsync(c->valid_dev, c->valid_host, sizeof(int) * (size_t)batch, cudaMemcpyHostToDevice,
                                   c->stream));
    *dev = c->valid_dev;
    return SRT_OK;
}

srt_status srt_cuda_set_precision(srt_cuda_ctx *c, const char *name) {
    if (!strcmp(name, "fp32")) c->precision = SRT_CUDA_FP32;
    else if (!strcmp(name, "tf32")) c->precision = SRT_CUDA_TF32;
    else if (!strcmp(name, "bf16")) c->precision = SRT_CUDA_BF16;
    else return srt_error(SRT_ERR_INVALID_ARG, "precision '%s': expected fp32, tf32 or bf16", name);
    return SRT_OK;
}

/* ---- memory ---- */
/* Inside a recorded codec pass the body's buffers are its kept blocks (codec_graph.c): nothing is allocated. */
static srt_status cu_alloc(void *ctx, size_t bytes, void **ptr) {
    srt_cuda_ctx *c = ctx;
    if (c->cg_mode) return srt_cuda_cg_alloc(c, bytes, ptr);
    return srt_cuda_pool_alloc(&c->pool, bytes, ptr);
}
static void cu_free(void *ctx, void *ptr) {
    srt_cuda_ctx *c = ctx;
    if (c->cg_mode && srt_cuda_cg_free(c, ptr)) return;
    srt_cuda_pool_free(&c->pool, ptr);
}

/* A recorded codec pass never waits for the device nor copies host memory (a graph would replay stale data). */
static srt_status no_transfer_in_pass(const srt_cuda_ctx *c, const char *what) {
    if (!c->cg_mode) return SRT_OK;
    return srt_error(SRT_ERR_BACKEND, "cuda: %s inside a recorded codec pass", what);
}

/* Uploads are stream-ordered and do not wait: the host data is copied into the pinned buffer, used as a ring
 * (pinned_head: the next free byte), and the copy is queued on the stream. Only when the ring wraps does the host
 * wait for the stream (the copies that read the old ring contents are then done); downloads wait anyway and
 * restart the ring. The caller may reuse its host buffer as soon as upload returns. */
srt_status srt_cuda_upload(void *ctx, void *dst, const void *src_host, size_t bytes) {
    srt_cuda_ctx *c = ctx;
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < c->pinned_bytes ? bytes - off : c->pinned_bytes;
        if (c->pinned_head + n > c->pinned_bytes) {
            SRT_CHECK_CUDA(cudaStreamSynchronize(c->stream));   /* the ring is free again */
            c->pinned_head = 0;
        }
        char *stage = (char *)c->pinned + c->pinned_head;
        memcpy(stage, (const char *)src_host + off, n);
        SRT_CHECK_CUDA(cudaMemcpyAsync((char *)dst + off, stage, n, cudaMemcpyHostToDevice, c->stream));
        c->pinned_head += (n + 255) / 256 * 256;
        off += n;
    }
    return SRT_OK;
}

static srt_status cu_upload(void *ctx, void *dst, const void *src_host, size_t bytes) {
    SRT_TRY(no_transfer_in_pass(ctx, "upload"));
    ((srt_cuda_ctx *)ctx)->swiglu_of = NULL;   /* it may overwrite a SwiGLU hand-off's source (cublas.c) */
    return srt_cuda_upload(ctx, dst, src_host, bytes);
}

static srt_status cu_download(void *ctx, void *dst_host, const void *src, size_t bytes) {
    srt_cuda_ctx *c = ctx;
    SRT_TRY(no_transfer_in_pass(c, "download"));
    for (size_t off = 0; off < bytes; off += c->pinned_bytes) {
        size_t n = bytes - off < c->pinned_bytes ? bytes - off : c->pinned_bytes;
        SRT_CHECK_CUDA(cudaMemcpyAsync(c->pinned, (const char *)src + off, n, cudaMemcpyDeviceToHost, c->stream));
        SRT_CHECK_CUDA(cudaStreamSynchronize(c->stream));
        memcpy((char *)dst_host + off, c->pinned, n);
    }
    SRT_CHECK_CUDA(cudaStreamSynchronize(c->stream));
    c->pinned_head = 0;                                          /* every queued upload is done */
    return SRT_OK;
}

static srt_status cu_memset0(void *ctx, void *dst, size_t bytes) {
    SRT_CUDA_SHADOW_RETURN((srt_cuda_ctx *)ctx);
    ((srt_cuda_ctx *)ctx)->swiglu_of = NULL;
    SRT_CHECK_CUDA(cudaMemsetAsync(dst, 0, bytes, ((srt_cuda_ctx *)ctx)->stream));
    return SRT_OK;
}
static srt_status cu_copy(void *ctx, void *dst, const void *src, size_t bytes) {
    SRT_CUDA_SHADOW_RETURN((srt_cuda_ctx *)ctx);
    ((srt_cuda_ctx *)ctx)->swiglu_of = NULL;
    if (bytes) SRT_CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ((srt_cuda_ctx *)ctx)->stream));
    return SRT_OK;
}
static srt_status cu_sync(void *ctx) {
    SRT_TRY(no_transfer_in_pass(ctx, "sync"));
    SRT_CHECK_CUDA(cudaStreamSynchronize(((srt_cuda_ctx *)ctx)->stream));
    return SRT_OK;
}

static void cu_destroy(void *ctx) {
    srt_cuda_ctx *c = ctx;
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    srt_cuda_lm_graphs_free(c->lm_graphs);
    srt_cuda_codec_graph_free(c);
    srt_cuda_async_destroy(c);
    srt_cuda_pool_release(&c->pool, 1);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) cudaStreamDestroy(c->stream);
    if (c->pinned) cudaFreeHost(c->pinned);
    free(c->valid_host);
    free(c);
}

/* ---- codec ops ---- */
static srt_status cu_conv1d(void *ctx, const srt_conv1d_args *a) {
    srt_cuda_ctx *c = ctx;
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    const int *valid = NULL;
    SRT_TRY(srt_cuda_valid(c, a->in_valid, a->batch, a->in_len, &valid));
    SRT_CUDA_SHADOW_RETURN(c);
    /* precision tf32 / bf16: the tensor-core implicit GEMM (no im2col). fp32 stays on im2col + cuBLAS unless
     * SNACRT_CUDA_FP32_IGEMM=1: the FMA implicit GEMM is now modeled ~10% faster at batch 1 (bench/GPU_MODEL.md) but
     * batch 64 is not modeled yet, and in the simulator it runs its arithmetic where cuBLAS is emulated (the golden
     * tests on the cuda device would take tens of minutes) */
    if (a->groups == 1 && (c->precision != SRT_CUDA_FP32 || c->fp32_igemm) && srt_cuda_conv1d_igemm_fits(a))
    {
        size_t n_part = srt_cuda_conv1d_igemm_part_floats(a);
        void *part = NULL;
        if (n_part) SRT_TRY(srt_cuda_scratch(c, 0, n_part * sizeof(float), &part));
        return srt_cuda_conv1d_igemm(a, valid, c->precision, part, c->stream);
    }
    if (a->groups == 1 && a->in_len > 0) return srt_cuda_conv1d_dense(c, a, valid);
    if (srt_cuda_conv1d_depthwise_fits(a)) return srt_cuda_conv1d_depthwise(a, valid, c->stream);
    return srt_cuda_conv1d_direct(a, valid, c->stream);
}

static srt_status cu_conv_transpose1d(void *ctx, const srt_convt1d_args *a) {
    srt_cuda_ctx *c = ctx;
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    const int *valid = NULL;
    SRT_TRY(srt_cuda_valid(c, a->in_valid, a->batch, a->in_len, &valid));
    SRT_CUDA_SHADOW_RETURN(c);
    /* bf16, SNAC's decoder shapes: one implicit GEMM whose column tiles span the batch (convt1d_span.cuh) */
    if (srt_cuda_convt1d_span_fits(a, c->precision)) return srt_cuda_convt1d_span(a, valid, c->stream);
    /* precision tf32 / bf16: the stride-phase implicit GEMM (no cols / col2im); fp32: cuBLAS + col2im (above) */
    if (a->groups == 1 && (c->precision != SRT_CUDA_FP32 || c->fp32_igemm) && srt_cuda_convt1d_igemm_fits(a))
    {
        size_t n_part = srt_cuda_convt1d_igemm_part_floats(a);
        void *part = NULL;
        if (n_part) SRT_TRY(srt_cuda_scratch(c, 0, n_part * sizeof(float), &part));
        return srt_cuda_convt1d_igemm(a, valid, c->precision, part, c->stream);
    }
    if (a->groups == 1 && a->in_len > 0) return srt_cuda_convt1d_dense(c, a, valid);
    return srt_cuda_convt1d_direct(a, valid, c->stream);
}

static srt_status cu_set_precision(void *ctx, const char *name) { return srt_cuda_set_precision(ctx, name); }
/* The elementwise and small ops: one kernel each (nothing during a shadow pass). */
#define C(ctx) ((srt_cuda_ctx *)(ctx))
#define SHADOW_OR(call) do { SRT_CUDA_SHADOW_RETURN(C(ctx)); return call; } while (0)
static srt_status cu_snake(void *ctx, const srt_snake_args *a) { SHADOW_OR(srt_cuda_snake(a, C(ctx)->stream)); }
static srt_status cu_layernorm(void *ctx, const srt_layernorm_args *a) { SHADOW_OR(srt_cuda_layernorm(a, C(ctx)->stream)); }
static srt_status cu_transpose(void *ctx, const srt_transpose_args *a) { SHADOW_OR(srt_cuda_transpose(a, C(ctx)->stream)); }
static srt_status cu_local_attention(void *ctx, const srt_local_attn_args *a) { SHADOW_OR(srt_cuda_local_attention(a, C(ctx)->precision, C(ctx)->stream)); }
static srt_status cu_avgpool(void *ctx, const srt_avgpool_args *a) { SHADOW_OR(srt_cuda_avgpool(a, C(ctx)->stream)); }
static srt_status cu_upsample_add(void *ctx, const srt_upsample_add_args *a) { SHADOW_OR(srt_cuda_upsample_add(a, C(ctx)->stream)); }
static srt_status cu_vq_nearest(void *ctx, const srt_vq_args *a) { SHADOW_OR(srt_cuda_vq_nearest(a, C(ctx)->stream)); }
static srt_status cu_unary(void *ctx, const srt_unary_args *a) { SHADOW_OR(srt_cuda_unary(a, C(ctx)->stream)); }
static srt_status cu_axpby(void *ctx, const srt_axpby_args *a) { SHADOW_OR(srt_cuda_axpby(a, C(ctx)->stream)); }
static srt_status cu_noise_add(void *ctx, const srt_noise_add_args *a) { SHADOW_OR(srt_cuda_noise_add(a, C(ctx)->stream)); }
static srt_status cu_copy2d(void *ctx, const srt_copy2d_args *a) { SHADOW_OR(srt_cuda_copy2d(a, C(ctx)->stream)); }
static srt_status cu_gemm(void *ctx, const srt_gemm_args *a) { SHADOW_OR(srt_cuda_gemm(ctx, a)); }

/* copy2d_batch: the block table goes up through the pinned ring (stream-ordered, no wait) into scratch slot 1 (kept,
 * grown only: no allocation once the largest push was seen), then one launch copies every block; a table the
 * caller already uploaded (items_dev) is read where it is. */
static srt_status cu_copy2d_batch(void *ctx, const srt_copy2d_batch_args *a) {
    srt_cuda_ctx *c = ctx;
    int64_t max_total = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->items[i].rows * a->items[i].cols;
        if (t > max_total) max_total = t;
    }
    if (max_total == 0) return SRT_OK;
    if (a->items_dev) {   /* the caller's table is on the device already: nothing to transfer (recordable) */
        SRT_CUDA_SHADOW_RETURN(c);
        return srt_cuda_copy2d_batch(a->items_dev, a->n, max_total, c->stream);
    }
    SRT_TRY(no_transfer_in_pass(c, "copy2d_batch without items_dev (it uploads its block table)"));
    void *table = NULL;
    size_t bytes = sizeof(srt_copy2d_args) * (size_t)a->n;
    SRT_TRY(srt_cuda_scratch(c, 1, bytes, &table));
    SRT_TRY(srt_cuda_upload(c, table, a->items, bytes));
    return srt_cuda_copy2d_batch(table, a->n, max_total, c->stream);
}

static srt_status cu_embed(void *ctx, const srt_embed_args *a) {
    srt_cuda_ctx *c = ctx;
    if ((int64_t)a->batch * a->dim * a->len == 0) return SRT_OK;
    SRT_CUDA_SHADOW_RETURN(c);
    if (a->trusted) return srt_cuda_embed(a, c->flag_dev, c->stream);   /* codes in range: no check read back */
    SRT_TRY(no_transfer_in_pass(c, "an embed of unchecked codes (it reads its range check back)"));
    SRT_CHECK_CUDA(cudaMemsetAsync(c->flag_dev, 0x7f, sizeof(int), c->stream));
    SRT_TRY(srt_cuda_embed(a, c->flag_dev, c->stream));
    int bad = 0;
    SRT_CHECK_CUDA(cudaMemcpyAsync(&bad, c->flag_dev, sizeof bad, cudaMemcpyDeviceToHost, c->stream));
    SRT_CHECK_CUDA(cudaStreamSynchronize(c->stream));
    if (bad != 0x7f7f7f7f) {
        int32_t code = 0;
        SRT_CHECK_CUDA(cudaMemcpy(&code, a->codes + bad, sizeof code, cudaMemcpyDeviceToHost));
        return srt_error(SRT_ERR_RANGE, "code %d at item %d frame %d is outside [0, %d)", (int)code, bad / a->len,
                         bad % a->len, a->n_codes);
    }
    return SRT_OK;
}

static const srt_backend_ops srt_cuda_ops = {
    .name = "cuda",
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .memset0 = cu_memset0,
    .copy = cu_copy,
    .sync = cu_sync,
    .destroy = cu_destroy,
    .conv1d = cu_conv1d,
    .conv_transpose1d = cu_conv_transpose1d,
    .snake = cu_snake,
    .gemm = cu_gemm,
    .layernorm = cu_layernorm,
    .transpose = cu_transpose,
    .local_attention = cu_local_attention,
    .avgpool = cu_avgpool,
    .upsample_add = cu_upsample_add,
    .vq_nearest = cu_vq_nearest,
    .embed = cu_embed,
    .unary = cu_unary,
    .axpby = cu_axpby,
    .noise_add = cu_noise_add,
    .copy2d = cu_copy2d,
    .copy2d_batch = cu_copy2d_batch,
    .lm = &srt_cuda_lm_ops,
    .set_precision = cu_set_precision,
    .graph_run = srt_cuda_codec_graph_run,
    .async = &srt_cuda_async_ops,
};

static srt_status cuda_ctx_init(srt_cuda_ctx *c, int device) {
    c->device = device;
    SRT_CHECK_CUDA(cudaSetDevice(device));
    SRT_CHECK_CUDA(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    SRT_CHECK_CUBLAS(cublasCreate(&c->blas));
    SRT_CHECK_CUBLAS(cublasSetStream(c->blas, c->stream));
    const char *tf32 = getenv("SNACRT_CUDA_TF32");
    c->tf32 = tf32 && atoi(tf32) > 0;
    SRT_CHECK_CUBLAS(cublasSetMathMode(c->blas, c->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const char *lmp = getenv("SNACRT_CUDA_LM_PRECISION");
    c->lm_precision = SRT_CUDA_LM_BF16;
    if (lmp && *lmp) {
        if (!strcmp(lmp, "exact")) c->lm_precision = SRT_CUDA_LM_EXACT;
        else if (strcmp(lmp, "bf16"))
            return srt_error(SRT_ERR_INVALID_ARG, "SNACRT_CUDA_LM_PRECISION=%s: expected bf16 or exact", lmp);
    }
    c->bf16_gemm = c->lm_precision == SRT_CUDA_LM_BF16 ? SRT_CUDA_BF16_GEMM_SINGLE : SRT_CUDA_BF16_GEMM_SPLIT;
    const char *bf16 = getenv("SNACRT_CUDA_BF16_GEMM");
    if (bf16 && *bf16) {
        if (!strcmp(bf16, "split")) c->bf16_gemm = SRT_CUDA_BF16_GEMM_SPLIT;
        else if (!strcmp(bf16, "1")) c->bf16_gemm = SRT_CUDA_BF16_GEMM_SINGLE;
        else if (!strcmp(bf16, "0")) c->bf16_gemm = SRT_CUDA_BF16_GEMM_WIDEN;
        else return srt_error(SRT_ERR_INVALID_ARG, "SNACRT_CUDA_BF16_GEMM=%s: expected split, 1 or 0", bf16);
    }
    const char *rows = getenv("SNACRT_CUDA_SMALL_M_ROWS");
    c->small_m_rows = c->bf16_gemm == SRT_CUDA_BF16_GEMM_SPLIT ? SRT_CUDA_SMALL_M_ROWS_EXACT
                                                                : SRT_CUDA_SMALL_M_ROWS_DEFAULT;
    if (rows && *rows) {
        char *end = NULL;
        long v = strtol(rows, &end, 10);
        if (*end || v < 0 || v > SRT_CUDA_GEMM_ROWS_MAX_M)
            return srt_error(SRT_ERR_INVALID_ARG, "SNACRT_CUDA_SMALL_M_ROWS=%s: expected 0..%d", rows,
                             SRT_CUDA_GEMM_ROWS_MAX_M);
        c->small_m_rows = (int)v;
    }
    const char *prec = getenv("SNACRT_CUDA_PRECISION");
    c->precision = SRT_CUDA_FP32;
    if (prec && *prec) SRT_TRY(srt_cuda_set_precision(c, prec));
    const char *fig = getenv("SNACRT_CUDA_FP32_IGEMM");
    c->fp32_igemm = fig && atoi(fig) > 0;
    const char *pb = getenv("SNACRT_CUDA_IGEMM_PLAN_BATCH");
    if (pb && *pb) {
        char *end = NULL;
        long v = strtol(pb, &end, 10);
        if (*end || v < 1 || v > 65535)
            return srt_error(SRT_ERR_INVALID_ARG, "SNACRT_CUDA_IGEMM_PLAN_BATCH=%s: expected 1..65535", pb);
        srt_cuda_igemm_set_plan_batch(v);
    }
    const char *pf = getenv("SNACRT_CUDA_PREFILL_FUSE");
    c->prefill_fuse = !(pf && *pf && atoi(pf) == 0);
    const char *mb = getenv("SNACRT_CUDA_SCRATCH_MB");
    c->scratch_cap = (size_t)(mb && atoi(mb) > 0 ? atoi(mb) : 512) << 20;
    c->pinned_bytes = PINNED_BYTES;
    SRT_CHECK_CUDA(cudaMallocHost(&c->pinned, c->pinned_bytes));
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, sizeof(int), (void **)&c->flag_dev));
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, srt_cuda_small_m_ws_floats() * sizeof(float), (void **)&c->small_m_ws));
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, SRT_SMALL_M_COUNTERS * sizeof(int), (void **)&c->small_m_counters));
    SRT_CHECK_CUDA(cudaMemsetAsync(c->small_m_counters, 0, SRT_SMALL_M_COUNTERS * sizeof(int), c->stream));
    SRT_TRY(srt_cuda_pool_alloc(&c->pool, SRT_CUDA_ATTN_COUNTERS * sizeof(int), (void **)&c->attn_counters));
    SRT_CHECK_CUDA(cudaMemsetAsync(c->attn_counters, 0, SRT_CUDA_ATTN_COUNTERS * sizeof(int), c->stream));
    return SRT_OK;
}

srt_status srt_cuda_enter_device(int device) {
    SRT_CHECK_CUDA(cudaSetDevice(device));
    return SRT_OK;
}

srt_status srt_cuda_backend_create(int device, srt_backend *out) {
    memset(out, 0, sizeof *out);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        return srt_error(SRT_ERR_NO_DEVICE, "cuda:%d: no CUDA device available (cudaGetDeviceCount: %s, %s); "
                         "use --device cpu", device, e == cudaSuccess ? "0 devices" : cudaGetErrorName(e),
                         e == cudaSuccess ? "none found" : cudaGetErrorString(e));
    }
    if (device < 0 || device >= count)
        return srt_error(SRT_ERR_NO_DEVICE, "cuda:%d: this machine has %d CUDA device(s) (cuda:0 .. cuda:%d)", device,
                         count, count - 1);
    srt_cuda_ctx *c = srt_calloc(1, sizeof *c, "the CUDA backend context");
    if (!c) return SRT_ERR_NOMEM;
    srt_status st = cuda_ctx_init(c, device);
    if (st != SRT_OK) {
        cu_destroy(c);
        return st;
    }
    out->ops = &srt_cuda_ops;
    out->ctx = c;
    out->lm_precision_bf16 = c->lm_precision == SRT_CUDA_LM_BF16;
    snprintf(out->device, sizeof out->device, "cuda:%d", device);
    return SRT_OK;
}

/* srt_lm_options.lm_precision / --lm-precision on "cuda" (backend.c): bf16 = one bf16 tensor-core pass per GEMM,
 * 0 = exact (split hi + lo), with that mode's small-M limit unless SNACRT_CUDA_SMALL_M_ROWS set one. Overrides
 * SNACRT_CUDA_LM_PRECISION; called once after creation, before the LM records any graph. */
void srt_cuda_backend_set_lm_precision(srt_backend *b, int bf16) {
    srt_cuda_ctx *c = b->ctx;
    c->lm_precision = bf16 ? SRT_CUDA_LM_BF16 : SRT_CUDA_LM_EXACT;
    c->bf16_gemm = bf16 ? SRT_CUDA_BF16_GEMM_SINGLE : SRT_CUDA_BF16_GEMM_SPLIT;
    const char *rows = getenv("SNACRT_CUDA_SMALL_M_ROWS");
    if (!rows || !*rows) c->small_m_rows = bf16 ? SRT_CUDA_SMALL_M_ROWS_DEFAULT : SRT_CUDA_SMALL_M_ROWS_EXACT;
    b->lm_precision_bf16 = bf16;
}
