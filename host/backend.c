/* backend.c: backend registry (create by name) and dtype helpers shared by all backends. */
#include "backend.h"
#include <string.h>
#include <stdlib.h>
#include <stdio.h>

size_t srt_dtype_size(srt_dtype dt) {
    switch (dt) {
    case SRT_F32: case SRT_I32: return 4;
    case SRT_F16: case SRT_BF16: case SRT_I16: case SRT_U16: return 2;
    case SRT_F64: case SRT_I64: return 8;
    case SRT_U8: case SRT_I8: case SRT_BOOL: case SRT_F8E4M3: return 1;
    default: return 0;
    }
}

const char *srt_dtype_name(srt_dtype dt) {
    static const char *names[] = {"F32", "F16", "BF16", "F64", "I32", "I64", "U8", "I8", "I16", "U16", "BOOL", "F8E4M3"};
    return (unsigned)dt < SRT_DTYPE_COUNT ? names[dt] : "?";
}

#ifndef SNACRT_WITH_CUDA
srt_status srt_cuda_backend_create(int device, srt_backend *out) {
    (void)device; (void)out;
    return srt_error(SRT_ERR_NO_DEVICE, "this snacrt was built without the CUDA backend (nvcc was not found at "
                     "configure time); use --device cpu");
}
void srt_cuda_backend_set_lm_precision(srt_backend *b, int bf16) { (void)b; (void)bf16; }
srt_status srt_cuda_enter_device(int device) {
    (void)device;
    return SRT_OK;
}

srt_status srt_cuda_list_devices(srt_device_info *devs, int cap, int *n, char *note, size_t note_size) {
    (void)devs; (void)cap;
    *n = 0;
    if (note && note_size)
        snprintf(note, note_size, "this build has no CUDA backend (configured with SNACRT_CUDA=OFF and "
                 "SNACRT_CUDASIM=OFF; rebuild with -DSNACRT_CUDA=ON where nvcc is installed)");
    return SRT_OK;
}
#endif

srt_status srt_backend_enter_thread(const char *name) {
    if (!name || strncmp(name, "cuda", 4)) return SRT_OK;
    return srt_cuda_enter_device(name[4] == ':' ? atoi(name + 5) : 0);
}

srt_status srt_backend_create(const char *name, int n_threads, srt_backend *out) {
    memset(out, 0, sizeof *out);
    if (!name || !*name || !strcmp(name, "cpu")) return srt_cpu_backend_create(n_threads, out);
    if (!strcmp(name, "cpu-ref")) return srt_cpu_ref_backend_create(n_threads, out);
    if (!strncmp(name, "cuda", 4)) {
        int dev = 0;
        if (name[4] == ':') {
            char *end = NULL;
            long v = strtol(name + 5, &end, 10);
            if (!end || *end || v < 0 || v > 1024)
                return srt_error(SRT_ERR_INVALID_ARG, "device '%s': expected cuda or cuda:N", name);
            dev = (int)v;
        } else if (name[4]) {
            return srt_error(SRT_ERR_INVALID_ARG, "device '%s': expected cuda or cuda:N", name);
        }
        return srt_cuda_backend_create(dev, out);
    }
    return srt_error(SRT_ERR_INVALID_ARG, "unknown device/backend '%s' (expected cpu, cpu-ref, cuda or cuda:N)", name);
}

void srt_backend_destroy(srt_backend *b) {
    if (b && b->ops && b->ops->destroy) b->ops->destroy(b->ctx);
    if (b) memset(b, 0, sizeof *b);
}

srt_status srt_backend_set_precision(srt_backend *b, const char *name) {
    if (!name || !*name) name = "fp32";
    if (strcmp(name, "fp32") && strcmp(name, "tf32") && strcmp(name, "bf16"))
        return srt_error(SRT_ERR_INVALID_ARG, "precision '%s': expected fp32, tf32 or bf16", name);
    if (b->ops->set_precision) return b->ops->set_precision(b->ctx, name);
    if (strcmp(name, "fp32"))
        return srt_error(SRT_ERR_UNSUPPORTED, "precision %s: the %s backend computes in fp32 only (tf32 and bf16 are "
                         "GPU tensor-core modes: use --device cuda)", name, b->ops->name);
    return SRT_OK;
}

srt_status srt_backend_set_lm_precision(srt_backend *b, const char *name) {
    if (!name || !*name) return SRT_OK;
    int bf16;
    if (!strcmp(name, "bf16")) bf16 = 1;
    else if (!strcmp(name, "exact")) bf16 = 0;
    else return srt_error(SRT_ERR_INVALID_ARG, "LM precision '%s': expected bf16 or exact", name);
    if (!strcmp(b->ops->name, "cpu")) srt_cpu_backend_set_lm_precision(b, bf16 ? 1 : 0);   /* SRT_CPU_LM_* */
    else if (!strcmp(b->ops->name, "cuda")) srt_cuda_backend_set_lm_precision(b, bf16);
    return SRT_OK;
}

srt_status srt_backend_alloc_upload(srt_backend *b, const void *host, size_t bytes, void **dev) {
    SRT_TRY(b->ops->alloc(b->ctx, bytes, dev));
    srt_status st = b->ops->upload(b->ctx, *dev, host, bytes);
    if (st != SRT_OK) { b->ops->free(b->ctx, *dev); *dev = NULL; }
    return st;
}

srt_status srt_backend_alloc_zero(srt_backend *b, size_t bytes, void **dev) {
    SRT_TRY(b->ops->alloc(b->ctx, bytes, dev));
    srt_status st = b->ops->memset0(b->ctx, *dev, bytes);
    if (st != SRT_OK) { b->ops->free(b->ctx, *dev); *dev = NULL; }
    return st;
}
