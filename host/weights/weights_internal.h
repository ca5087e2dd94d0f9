/* weights_internal.h: the private layout of srt_weights and the helpers the format loaders use to fill it
 * (add a tensor, keep a mapped file or a malloc'd buffer alive, name the file a tensor came from). */
#ifndef SRT_WEIGHTS_INTERNAL_H
#define SRT_WEIGHTS_INTERNAL_H

#include "weights/weights.h"

/* A region the set keeps alive until srt_weights_free: an mmap'd file or a malloc'd buffer. */
typedef struct srt_weights_blob {
    void *ptr;
    size_t size;
    int is_mmap;
} srt_weights_blob;

struct srt_weights {
    srt_tensor_view *tensors;    /* (count) names owned by the set */
    int *tensor_file;            /* (count) index into files: where each tensor came from */
    size_t count, cap;
    size_t *by_name;             /* (count) tensor indices sorted by name, built by srt_weights_finish */
    char **files;                /* (n_files) paths of the files read */
    size_t n_files;
    srt_weights_blob *blobs;     /* (n_blobs) */
    size_t n_blobs;
    char *source;                /* for messages: a path, or "index (N shards)" */
};

/* An empty set whose messages name `source`. */
srt_status srt_weights_create(const char *source, srt_weights **out);
/* Remember a file path; *file_index receives its index for srt_weights_add. */
srt_status srt_weights_add_file(srt_weights *w, const char *path, int *file_index);
/* Keep a region alive for the life of the set (ownership moves to the set, even on failure). */
srt_status srt_weights_keep(srt_weights *w, void *ptr, size_t size, int is_mmap);
/* Append a tensor (name copied). The data must stay valid for the life of the set; when it is not aligned to
 * the element size an aligned copy is made and kept. */
srt_status srt_weights_add(srt_weights *w, int file_index, const char *name, srt_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, size_t nbytes);
/* Sort the names for lookup; fails naming the file(s) when a name appears twice. */
srt_status srt_weights_finish(srt_weights *w);
/* The path a tensor came from. */
const char *srt_weights_file_of(const srt_weights *w, const srt_tensor_view *t);

/* Map a whole file read-only; an empty or unreadable file is an error naming the path. */
srt_status srt_map_file(const char *path, const uint8_t **data, size_t *size);
void srt_unmap_file(const void *data, size_t size);

/* Element count of a shape with overflow checks: fails when any dim < 0 or the byte size would exceed SIZE_MAX
 * (or 2^62). what names the tensor and file for the message. */
srt_status srt_shape_bytes(int ndim, const int64_t *shape, size_t elem_size, size_t *numel, size_t *nbytes,
                           const char *what);

/* Load the safetensors file at path into w (mapped; the mapping is kept by w). */
srt_status srt_safetensors_load_into(srt_weights *w, const char *path);

#endif
