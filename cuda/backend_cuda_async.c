/* backend_cuda_async.c: the cuda backend's srt_async_ops (host/backend.h), for batches in flight: pinned host
 * memory (cudaMallocHost), uploads on a second stream (copy_stream, created on first use) that the compute
 * stream waits for with an event, so the upload of batch n+1 overlaps batch n's kernels; downloads queued on the
 * compute stream into pinned memory; fences are cudaEvents on the compute stream (their elapsed time is the
 * device time of the work between them). */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"

static srt_status ca_host_alloc(void *ctx, size_t bytes, void **ptr) {
    (void)ctx;
    *ptr = NULL;
    SRT_CHECK_CUDA(cudaMallocHost(ptr, bytes ? bytes : 1));
    return SRT_OK;
}

static void ca_host_free(void *ctx, void *ptr) {
    (void)ctx;
    if (ptr) cudaFreeHost(ptr);
}

static srt_status ca_upload(void *ctx, void *dst, const void *src_pinned, size_t bytes) {
    srt_cuda_ctx *c = ctx;
    if (!c->copy_stream) {
        SRT_CHECK_CUDA(cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking));
        SRT_CHECK_CUDA(cudaEventCreateWithFlags(&c->copy_done, cudaEventDisableTiming));
    }
    if (bytes) SRT_CHECK_CUDA(cudaMemcpyAsync(dst, src_pinned, bytes, cudaMemcpyHostToDevice, c->copy_stream));
    SRT_CHECK_CUDA(cudaEventRecord(c->copy_done, c->copy_stream));
    SRT_CHECK_CUDA(cudaStreamWaitEvent(c->stream, c->copy_done, 0));
    return SRT_OK;
}

static srt_status ca_download(void *ctx, void *dst_pinned, const void *src, size_t bytes) {
    srt_cuda_ctx *c = ctx;
    if (bytes) SRT_CHECK_CUDA(cudaMemcpyAsync(dst_pinned, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    return SRT_OK;
}

static srt_status ca_fence_create(void *ctx, void **fence) {
    (void)ctx;
    cudaEvent_t e = NULL;
    *fence = NULL;
    SRT_CHECK_CUDA(cudaEventCreate(&e));
    *fence = e;
    return SRT_OK;
}

static void ca_fence_destroy(void *ctx, void *fence) {
    (void)ctx;
    if (fence) cudaEventDestroy((cudaEvent_t)fence);
}

static srt_status ca_fence_record(void *ctx, void *fence) {
    SRT_CHECK_CUDA(cudaEventRecord((cudaEvent_t)fence, ((srt_cuda_ctx *)ctx)->stream));
    return SRT_OK;
}

static srt_status ca_fence_wait(void *ctx, void *fence) {
    (void)ctx;
    SRT_CHECK_CUDA(cudaEventSynchronize((cudaEvent_t)fence));
    return SRT_OK;
}

static srt_status ca_fence_elapsed_ms(void *ctx, void *start, void *end, double *ms) {
    (void)ctx;
    float f = 0;
    SRT_CHECK_CUDA(cudaEventElapsedTime(&f, (cudaEvent_t)start, (cudaEvent_t)end));
    *ms = f;
    return SRT_OK;
}

void srt_cuda_async_destroy(srt_cuda_ctx *c) {
    if (c->copy_stream) cudaStreamSynchronize(c->copy_stream);
    if (c->copy_done) cudaEventDestroy(c->copy_done);
    if (c->copy_stream) cudaStreamDestroy(c->copy_stream);
    c->copy_done = NULL;
    c->copy_stream = NULL;
}

const srt_async_ops srt_cuda_async_ops = {
    .host_alloc = ca_host_alloc,
    .host_free = ca_host_free,
    .upload = ca_upload,
    .download = ca_download,
    .fence_create = ca_fence_create,
    .fence_destroy = ca_fence_destroy,
    .fence_record = ca_fence_record,
    .fence_wait = ca_fence_wait,
    .fence_elapsed_ms = ca_fence_elapsed_ms,
};
