/* weights_set.c: the named tensor set behind srt_weights: adding tensors, lookup by name (sorted index),
 * float32 conversion on request, and freeing the mapped files and buffers it owns. */
#include "weights/weights_internal.h"
#include <stdio.h>
#include <string.h>

srt_status srt_weights_create(const char *source, srt_weights **out) {
    *out = NULL;
    srt_weights *w = srt_calloc(1, sizeof *w, "a weights set");
    if (!w) return SRT_ERR_NOMEM;
    w->source = srt_strdup(source);
    if (!w->source) { free(w); return SRT_ERR_NOMEM; }
    *out = w;
    return SRT_OK;
}

srt_status srt_weights_add_file(srt_weights *w, const char *path, int *file_index) {
    char **files = realloc(w->files, (w->n_files + 1) * sizeof *files);
    if (!files) return srt_error(SRT_ERR_NOMEM, "out of memory listing the files of %s", w->source);
    w->files = files;
    files[w->n_files] = srt_strdup(path);
    if (!files[w->n_files]) return SRT_ERR_NOMEM;
    *file_index = (int)w->n_files++;
    return SRT_OK;
}

srt_status srt_weights_keep(srt_weights *w, void *ptr, size_t size, int is_mmap) {
    srt_weights_blob *blobs = realloc(w->blobs, (w->n_blobs + 1) * sizeof *blobs);
    if (!blobs) {
        if (is_mmap) srt_unmap_file(ptr, size); else free(ptr);
        return srt_error(SRT_ERR_NOMEM, "out of memory keeping a buffer of %s", w->source);
    }
    w->blobs = blobs;
    blobs[w->n_blobs++] = (srt_weights_blob){ptr, size, is_mmap};
    return SRT_OK;
}

srt_status srt_weights_add(srt_weights *w, int file_index, const char *name, srt_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, size_t nbytes) {
    if (ndim < 0 || ndim > SRT_MAX_DIMS)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dims (at most %d supported)",
                         w->files[file_index], name, ndim, SRT_MAX_DIMS);
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        srt_tensor_view *t = realloc(w->tensors, cap * sizeof *t);
        if (!t) return srt_error(SRT_ERR_NOMEM, "out of memory listing the tensors of %s", w->source);
        w->tensors = t;
        int *f = realloc(w->tensor_file, cap * sizeof *f);
        if (!f) return srt_error(SRT_ERR_NOMEM, "out of memory listing the tensors of %s", w->source);
        w->tensor_file = f;
        w->cap = cap;
    }
    size_t esize = srt_dtype_size(dtype);
    if (esize > 1 && ((uintptr_t)data % esize) != 0) {   /* keep element access aligned */
        void *copy = srt_malloc(nbytes, name);
        if (!copy) return SRT_ERR_NOMEM;
        memcpy(copy, data, nbytes);
        SRT_TRY(srt_weights_keep(w, copy, nbytes, 0));
        data = copy;
    }
    char *name_copy = srt_strdup(name);
    if (!name_copy) return SRT_ERR_NOMEM;
    srt_tensor_view *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    t->name = name_copy;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = data;
    t->nbytes = nbytes;
    w->tensor_file[w->count] = file_index;
    w->count++;
    return SRT_OK;
}

/* qsort has no context argument: the set being sorted, per thread */
static _Thread_local const srt_weights *sort_ctx;

static int compare_by_name(const void *a, const void *b) {
    const srt_tensor_view *t = sort_ctx->tensors;
    return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

srt_status srt_weights_finish(srt_weights *w) {
    free(w->by_name);
    w->by_name = srt_malloc((w->count ? w->count : 1) * sizeof *w->by_name, "a tensor name index");
    if (!w->by_name) return SRT_ERR_NOMEM;
    for (size_t i = 0; i < w->count; i++) w->by_name[i] = i;
    sort_ctx = w;
    qsort(w->by_name, w->count, sizeof *w->by_name, compare_by_name);
    sort_ctx = NULL;
    for (size_t i = 1; i < w->count; i++) {
        const srt_tensor_view *a = &w->tensors[w->by_name[i - 1]], *b = &w->tensors[w->by_name[i]];
        if (strcmp(a->name, b->name) == 0) {
            const char *fa = srt_weights_file_of(w, a), *fb = srt_weights_file_of(w, b);
            if (strcmp(fa, fb) == 0)
                return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' appears twice", fa, a->name);
            return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' appears in both %s and %s", w->source, a->name, fa, fb);
        }
    }
    return SRT_OK;
}

const char *srt_weights_file_of(const srt_weights *w, const srt_tensor_view *t) {
    size_t i = (size_t)(t - w->tensors);
    if (i >= w->count || (size_t)w->tensor_file[i] >= w->n_files) return w->source;
    return w->files[w->tensor_file[i]];
}

void srt_weights_free(srt_weights *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free((char *)w->tensors[i].name);
    free(w->tensors);
    free(w->tensor_file);
    free(w->by_name);
    for (size_t i = 0; i < w->n_files; i++) free(w->files[i]);
    free(w->files);
    for (size_t i = 0; i < w->n_blobs; i++) {
        if (w->blobs[i].is_mmap) srt_unmap_file(w->blobs[i].ptr, w->blobs[i].size);
        else free(w->blobs[i].ptr);
    }
    free(w->blobs);
    free(w->source);
    free(w);
}

size_t srt_weights_count(const srt_weights *w) { return w ? w->count : 0; }

const srt_tensor_view *srt_weights_at(const srt_weights *w, size_t i) {
    return (w && i < w->count) ? &w->tensors[i] : NULL;
}

const char *srt_weights_source(const srt_weights *w) { return w ? w->source : ""; }

const srt_tensor_view *srt_weights_find(const srt_weights *w, const char *name) {
    if (!w || !name || !w->by_name) return NULL;
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const srt_tensor_view *t = &w->tensors[w->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

srt_status srt_weights_get_f32(const srt_weights *w, const char *name, int ndim, const int64_t *expect_shape,
                               float **out) {
    *out = NULL;
    if (!w || !name) return srt_error(SRT_ERR_INVALID_ARG, "srt_weights_get_f32: no weights or no name");
    const srt_tensor_view *t = srt_weights_find(w, name);
    if (!t) return srt_error(SRT_ERR_NOT_FOUND, "%s: tensor '%s' not found", w->source, name);
    const char *file = srt_weights_file_of(w, t);
    if (expect_shape) {
        int same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = t->shape[d] == expect_shape[d];
        if (!same) {
            char want[200], got[200];
            format_shape(want, sizeof want, ndim, expect_shape);
            format_shape(got, sizeof got, t->ndim, t->shape);
            return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", file, name, got, want);
        }
    }
    size_t esize = srt_dtype_size(t->dtype);
    size_t n = esize ? t->nbytes / esize : 0;
    if (t->dtype != SRT_F32 && t->dtype != SRT_F16 && t->dtype != SRT_BF16 && t->dtype != SRT_F64)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not a float type", file, name,
                         srt_dtype_name(t->dtype));
    float *y = srt_malloc(n * sizeof *y, name);
    if (!y) return SRT_ERR_NOMEM;
    switch (t->dtype) {
    case SRT_F32: memcpy(y, t->data, n * sizeof *y); break;
    case SRT_F16: { const uint16_t *x = t->data; for (size_t i = 0; i < n; i++) y[i] = srt_f16_to_f32(x[i]); break; }
    case SRT_BF16: { const uint16_t *x = t->data; for (size_t i = 0; i < n; i++) y[i] = srt_bf16_to_f32(x[i]); break; }
    case SRT_F64: { const double *x = t->data; for (size_t i = 0; i < n; i++) y[i] = (float)x[i]; break; }
    default: break;
    }
    *out = y;
    return SRT_OK;
}
