/* pickle.h: a small, safe pickle reader for PyTorch checkpoints (data.pkl written by torch.save, protocols 2..5).
 * It builds plain values (dicts, tuples, strings, numbers) and understands only the callables a state_dict needs:
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, typed storage classes in
 * persistent ids ('storage', torch.FloatStorage, key, location, numel), and a few harmless ones (torch.device).
 * Any other GLOBAL is an error naming it: nothing is ever executed. */
#ifndef SRT_PICKLE_H
#define SRT_PICKLE_H

#include "backend.h"
#include "weights/weights.h"

typedef enum srt_pk_kind {
    SRT_PK_NONE, SRT_PK_BOOL, SRT_PK_INT, SRT_PK_FLOAT, SRT_PK_STR, SRT_PK_BYTES,
    SRT_PK_TUPLE, SRT_PK_LIST, SRT_PK_DICT,
    SRT_PK_GLOBAL,    /* a known callable or class (global_id) */
    SRT_PK_STORAGE,   /* a persistent storage reference */
    SRT_PK_TENSOR,    /* result of _rebuild_tensor_v2 */
    SRT_PK_OBJECT     /* result of a harmless call (torch.device(...)); opaque */
} srt_pk_kind;

typedef struct srt_pk_value srt_pk_value;
struct srt_pk_value {
    srt_pk_kind kind;
    int global_id;             /* GLOBAL */
    srt_dtype dtype;           /* STORAGE element type */
    int ndim;                  /* TENSOR */
    union {                    /* one number per kind */
        int64_t i;             /* INT, BOOL */
        double f;              /* FLOAT */
        int64_t numel;         /* STORAGE element count */
        int64_t storage_offset;/* TENSOR, in elements */
    };
    char *str;                 /* STR, BYTES (NUL-terminated copy), STORAGE key */
    size_t len;                /* of str */
    srt_pk_value **items;      /* TUPLE/LIST items; DICT keys and values interleaved (2*n) */
    size_t n, cap;
    srt_pk_value *storage;     /* TENSOR */
    int64_t *size, *stride;    /* TENSOR: (ndim) each */
};

typedef struct srt_pickle srt_pickle;

/* Run the pickle in data[0..len); *root receives the unpickled object (owned by *out). what names the
 * file for messages ("model.bin:archive/data.pkl"). Memory is bounded by the input: all values, strings and
 * tables together stay below PICKLE_BYTES_PER_BYTE x len + PICKLE_BYTES_FLOOR, the stack and the mark stack
 * below PICKLE_MAX_STACK entries; beyond that the load fails with SRT_ERR_FORMAT naming the limit. */
#define PICKLE_BYTES_PER_BYTE 32
#define PICKLE_BYTES_FLOOR ((size_t)1 << 20)
#define PICKLE_MAX_STACK ((size_t)1 << 20)
srt_status srt_pickle_load(const uint8_t *data, size_t len, const char *what, srt_pickle **out,
                           const srt_pk_value **root);
void srt_pickle_free(srt_pickle *p);

/* The value for a string key of a dict, or NULL. */
const srt_pk_value *srt_pk_dict_get(const srt_pk_value *dict, const char *key);

#endif
