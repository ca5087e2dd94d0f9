/* torch_zip.c: open a PyTorch zip checkpoint (torch.save of a state_dict; pytorch_model.bin).
 * The archive holds <prefix>/data.pkl (the pickled dict) and <prefix>/data/<key> (raw little-endian storages);
 * prefix is the archive's top folder, whatever its name. Tensors point into the mapped file when their storage is
 * stored and they are contiguous; deflated storages are inflated once, strided tensors are copied contiguous.
 * Each tensor's element range (offset + extent of size/stride) is checked against its storage, and each storage's
 * byte size against its zip member. */
#include "weights/weights_internal.h"
#include "weights/pickle.h"
#include "weights/zip_reader.h"
#include <string.h>

typedef struct torch_ckpt {
    srt_weights *w;
    int file_index;
    const char *path;
    srt_zip zip;
    char *prefix;                 /* "archive" for archive/data.pkl */
    const uint8_t **member_data;  /* (zip.n_entries) extracted bytes per member, NULL until needed */
} torch_ckpt;

static srt_status find_prefix(torch_ckpt *c) {
    for (size_t i = 0; i < c->zip.n_entries; i++) {
        const char *name = c->zip.entries[i].name, *slash = strchr(name, '/');
        if (slash && slash != name && strcmp(slash, "/data.pkl") == 0) {
            size_t n = (size_t)(slash - name);
            c->prefix = srt_malloc(n + 1, "a zip prefix");
            if (!c->prefix) return SRT_ERR_NOMEM;
            memcpy(c->prefix, name, n);
            c->prefix[n] = 0;
            return SRT_OK;
        }
    }
    return srt_error(SRT_ERR_FORMAT, "%s: no <folder>/data.pkl member: not a PyTorch zip checkpoint", c->path);
}

/* Bytes of member e, extracted once and kept by the weights set. */
static srt_status member_bytes(torch_ckpt *c, const srt_zip_entry *e, const uint8_t **data) {
    size_t i = (size_t)(e - c->zip.entries);
    if (!c->member_data[i]) {
        void *owned = NULL;
        SRT_TRY(srt_zip_read(&c->zip, e, 0, &c->member_data[i], &owned));
        if (owned) SRT_TRY(srt_weights_keep(c->w, owned, (size_t)e->size, 0));
    }
    *data = c->member_data[i];
    return SRT_OK;
}

/* Is (size, stride) the row-major layout? Dims of size 1 may have any stride. */
static int is_contiguous(const srt_pk_value *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->size[d];
    }
    return 1;
}

/* Copy a strided tensor (element size es) from base into a row-major buffer y of numel elements. */
static void gather_strided(const srt_pk_value *t, const uint8_t *base, size_t es, size_t numel, uint8_t *y) {
    int64_t idx[SRT_MAX_DIMS] = {0};
    for (size_t i = 0; i < numel; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        memcpy(y + i * es, base + (size_t)off * es, es);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

static srt_status add_tensor(torch_ckpt *c, const char *name, const srt_pk_value *t) {
    const srt_pk_value *s = t->storage;
    size_t es = srt_dtype_size(s->dtype);
    char what[600];
    snprintf(what, sizeof what, "%s: tensor '%s'", c->path, name);
    size_t numel = 0, nbytes = 0, storage_numel = 0, storage_bytes = 0;
    SRT_TRY(srt_shape_bytes(t->ndim, t->size, es, &numel, &nbytes, what));
    SRT_TRY(srt_shape_bytes(1, &s->numel, es, &storage_numel, &storage_bytes, what));
    char member[600];
    snprintf(member, sizeof member, "%s/data/%s", c->prefix, s->str);
    const srt_zip_entry *e = srt_zip_find(&c->zip, member);
    if (!e) return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': storage member '%s' is missing", c->path, name, member);
    if ((uint64_t)storage_bytes > e->size)
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': storage '%s' of %zu x %s needs %zu bytes but the member "
                         "holds %llu", c->path, name, member, storage_numel, srt_dtype_name(s->dtype), storage_bytes,
                         (unsigned long long)e->size);
    /* last element index reached: offset + sum (size-1)*stride, overflow-checked */
    if (numel > 0) {
        uint64_t last = (uint64_t)t->storage_offset;
        for (int d = 0; d < t->ndim; d++) {
            uint64_t span = (uint64_t)(t->size[d] - 1), stride = (uint64_t)t->stride[d];
            if (stride && span > (UINT64_MAX - last) / stride)
                return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': strides overflow", c->path, name);
            last += span * stride;
        }
        if (last >= storage_numel)
            return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' reads element %llu of a storage of %zu elements",
                             c->path, name, (unsigned long long)last, storage_numel);
    } else if ((uint64_t)t->storage_offset > storage_numel) {
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': storage offset past the storage", c->path, name);
    }
    const uint8_t *base = NULL;
    SRT_TRY(member_bytes(c, e, &base));
    base += (size_t)t->storage_offset * es;
    if (is_contiguous(t) || numel == 0)
        return srt_weights_add(c->w, c->file_index, name, s->dtype, t->ndim, t->size, base, nbytes);
    uint8_t *copy = srt_malloc(nbytes, name);
    if (!copy) return SRT_ERR_NOMEM;
    gather_strided(t, base, es, numel, copy);
    SRT_TRY(srt_weights_keep(c->w, copy, nbytes, 0));
    return srt_weights_add(c->w, c->file_index, name, s->dtype, t->ndim, t->size, copy, nbytes);
}

/* The state dict: the root, or its "state_dict" / "model" entry when that is a dict. */
static const srt_pk_value *state_dict_of(const srt_pk_value *root) {
    const char *nested[] = {"state_dict", "model"};
    for (int i = 0; i < 2; i++) {
        const srt_pk_value *v = srt_pk_dict_get(root, nested[i]);
        if (v && v->kind == SRT_PK_DICT) return v;
    }
    return root;
}

static srt_status load_tensors(torch_ckpt *c, const srt_pk_value *root) {
    if (root->kind != SRT_PK_DICT)
        return srt_error(SRT_ERR_FORMAT, "%s: data.pkl does not hold a dict (a state_dict)", c->path);
    const srt_pk_value *sd = state_dict_of(root);
    size_t n_tensors = 0;
    for (size_t i = 0; i + 1 < sd->n; i += 2) {
        const srt_pk_value *key = sd->items[i], *val = sd->items[i + 1];
        if (val->kind != SRT_PK_TENSOR) continue;   /* e.g. step counters or _extra_state */
        if (key->kind != SRT_PK_STR || strlen(key->str) != key->len)
            return srt_error(SRT_ERR_FORMAT, "%s: a tensor's key is not a string", c->path);
        SRT_TRY(add_tensor(c, key->str, val));
        n_tensors++;
    }
    if (!n_tensors) return srt_error(SRT_ERR_FORMAT, "%s: the state_dict holds no tensors", c->path);
    return SRT_OK;
}

static srt_status load_checkpoint(torch_ckpt *c) {
    const uint8_t *map = NULL;
    size_t size = 0;
    SRT_TRY(srt_map_file(c->path, &map, &size));
    SRT_TRY(srt_weights_keep(c->w, (void *)map, size, 1));
    SRT_TRY(srt_weights_add_file(c->w, c->path, &c->file_index));
    if (size >= 2 && map[0] == 0x80)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: legacy (pre-1.6, non-zip) torch.save format is not supported; "
                         "re-save it or convert it to safetensors", c->path);
    SRT_TRY(srt_zip_open(map, size, c->path, &c->zip));
    c->member_data = srt_calloc(c->zip.n_entries ? c->zip.n_entries : 1, sizeof *c->member_data, "zip members");
    if (!c->member_data) return SRT_ERR_NOMEM;
    SRT_TRY(find_prefix(c));
    char pkl_name[600], what[1200];
    snprintf(pkl_name, sizeof pkl_name, "%s/data.pkl", c->prefix);
    snprintf(what, sizeof what, "%s:%s", c->path, pkl_name);
    const srt_zip_entry *e = srt_zip_find(&c->zip, pkl_name);
    const uint8_t *pkl = NULL;
    void *owned = NULL;
    SRT_TRY(srt_zip_read(&c->zip, e, 1, &pkl, &owned));
    srt_pickle *pk = NULL;
    const srt_pk_value *root = NULL;
    srt_status st = srt_pickle_load(pkl, (size_t)e->size, what, &pk, &root);
    if (st == SRT_OK) st = load_tensors(c, root);
    srt_pickle_free(pk);
    free(owned);
    return st;
}

srt_status srt_weights_open_torch(const char *path, srt_weights **out) {
    *out = NULL;
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "srt_weights_open_torch: no path");
    torch_ckpt c;
    memset(&c, 0, sizeof c);
    c.path = path;
    SRT_TRY(srt_weights_create(path, &c.w));
    srt_status st = load_checkpoint(&c);
    if (st == SRT_OK) st = srt_weights_finish(c.w);
    srt_zip_close(&c.zip);
    free(c.member_data);
    free(c.prefix);
    if (st != SRT_OK) { srt_weights_free(c.w); return st; }
    *out = c.w;
    return SRT_OK;
}
