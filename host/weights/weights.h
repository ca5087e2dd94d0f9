/* weights.h: a read-only set of named tensors loaded from a model file or folder.
 * Formats: safetensors (mmap, every offset bounds-checked; sharded via model.safetensors.index.json) and
 * PyTorch zip checkpoints (pytorch_model.bin: zip central directory + a small pickle reader for the state_dict).
 * Tensors keep their stored dtype; srt_weights_get_f32 converts to float32 on request. */
#ifndef SRT_WEIGHTS_H
#define SRT_WEIGHTS_H

#include "backend.h"

#define SRT_MAX_DIMS 8

typedef struct srt_tensor_view {
    const char *name;
    srt_dtype dtype;
    int ndim;
    int64_t shape[SRT_MAX_DIMS];
    const void *data;        /* contiguous, row-major, little-endian; valid while the srt_weights lives */
    size_t nbytes;
} srt_tensor_view;

typedef struct srt_weights srt_weights;

/* Open one safetensors file (mmap). */
srt_status srt_weights_open_safetensors(const char *path, srt_weights **out);
/* Open one PyTorch zip checkpoint (torch.save of a state_dict, possibly nested under "state_dict"/"model"). */
srt_status srt_weights_open_torch(const char *path, srt_weights **out);
/* Open a Hugging Face folder: model.safetensors, else model.safetensors.index.json (shards), else pytorch_model.bin. */
srt_status srt_weights_open_dir(const char *dir, srt_weights **out);
/* Open a sharded safetensors set from its model.safetensors.index.json (shards in the same folder). */
srt_status srt_weights_open_index(const char *index_path, srt_weights **out);
void srt_weights_free(srt_weights *w);

size_t srt_weights_count(const srt_weights *w);
const srt_tensor_view *srt_weights_at(const srt_weights *w, size_t i);
/* NULL when absent (no error recorded). */
const srt_tensor_view *srt_weights_find(const srt_weights *w, const char *name);
/* The file(s) the set came from, for messages. */
const char *srt_weights_source(const srt_weights *w);

/* Fetch a tensor as float32 (converted from f16/bf16/f64/f32) into a malloc'd buffer. When expect_shape is
 * non-NULL the shape must match exactly (ndim entries). Missing tensor or shape mismatch: an error naming
 * the tensor and the file. */
srt_status srt_weights_get_f32(const srt_weights *w, const char *name, int ndim, const int64_t *expect_shape,
                               float **out);

/* dtype conversions used by loaders and backends */
float srt_bf16_to_f32(uint16_t h);
float srt_f16_to_f32(uint16_t h);
uint16_t srt_f32_to_bf16(float f);   /* round to nearest even */
/* fp8 e4m3 (OCP e4m3fn): encode rounds to nearest even and saturates to +-448 (infinities too); NaN -> 0x7f.
 * Decode is exact; 0x7f / 0xff -> NaN. cuda/lm_kv_dtype.cuh does the same bit for bit (tests/test_fp8_e4m3.c). */
uint8_t srt_f32_to_e4m3(float f);
float srt_e4m3_to_f32(uint8_t c);
/* The dequantization scale of an fp8 KV row (one token, one KV head) whose largest magnitude is amax (NaN
 * ignored): the smallest power of two s >= amax / 448 (at least 2^-126), so x / s is exact and fits e4m3; 1 when
 * amax / 448 is 0 (amax below ~1e-42) or amax is infinite. */
float srt_e4m3_row_scale(float amax);
uint16_t srt_f32_to_f16(float f);

#endif
