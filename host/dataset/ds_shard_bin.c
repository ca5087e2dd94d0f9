/* ds_shard_bin.c: binary shards (layout in ds_bin_layout.h and docs/binary-format.md): the codes stream into
 * <name>.bin as uint16 per level; entries and strings are kept in memory and written as <name>.idx at commit. */
#include "dataset/ds_internal.h"
#include "dataset/ds_bin_layout.h"
#include "common.h"
#include <errno.h>
#include <string.h>

typedef struct bin_state {
    unsigned char *entries;   /* (n_items, DS_IDX_ENTRY_SIZE) */
    size_t cap;               /* entries allocated */
    ds_buf strings;
    uint64_t bin_pos;         /* bytes written to .bin so far */
    uint16_t *scratch;        /* one level's codes */
    size_t scratch_cap;
} bin_state;

/* .idx is files[0], .bin files[1] (srt_ds_shard_files) */
enum { IDX = 0, BIN = 1 };

srt_status ds_bin_begin(srt_ds_shard_writer *w) {
    bin_state *s = srt_calloc(1, sizeof *s, "a bin shard");
    if (!s) return SRT_ERR_NOMEM;
    w->state = s;
    unsigned char head[DS_BIN_HEADER_SIZE] = {0};
    memcpy(head, DS_BIN_MAGIC, 8);
    ds_put_u32(head + 8, DS_BIN_VERSION);
    if (fwrite(head, 1, sizeof head, w->f[BIN]) != sizeof head)
        return srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[BIN], strerror(errno));
    s->bin_pos = DS_BIN_HEADER_SIZE;
    return SRT_OK;
}

/* Append a string (NUL-terminated in the table); offset and length out. */
static void put_string(bin_state *s, const char *str, uint64_t *off, uint64_t *len) {
    *off = s->strings.n;
    *len = str ? strlen(str) : 0;
    if (str) ds_buf_put(&s->strings, str, (size_t)*len);
    ds_buf_put(&s->strings, "", 1);
}

srt_status ds_bin_add(srt_ds_shard_writer *w, const srt_ds_item *item) {
    bin_state *s = w->state;
    const srt_codes *c = &item->codes;
    if (w->n_items == (int64_t)s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        unsigned char *q = realloc(s->entries, cap * DS_IDX_ENTRY_SIZE);
        if (!q) return srt_error(SRT_ERR_NOMEM, "item '%s': out of memory for the shard index", item->key);
        s->entries = q;
        s->cap = cap;
    }
    cJSON *extra = NULL;
    SRT_TRY(ds_extra_parse(item->extra_json, item->key, &extra));
    int has_extra = extra != NULL;
    cJSON_Delete(extra);
    /* codes first: a failed write leaves the index without this item */
    uint64_t data_offset = s->bin_pos;
    for (int l = 0; l < c->n_levels; l++) {
        size_t n = (size_t)c->n_frames[l];
        if (n > s->scratch_cap) {
            uint16_t *q = realloc(s->scratch, n * sizeof *q);
            if (!q) return srt_error(SRT_ERR_NOMEM, "item '%s': out of memory", item->key);
            s->scratch = q;
            s->scratch_cap = n;
        }
        unsigned char *le = (unsigned char *)s->scratch;    /* (n) uint16 little-endian */
        for (size_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)c->codes[l][i];
            le[2 * i] = (unsigned char)v;
            le[2 * i + 1] = (unsigned char)(v >> 8);
        }
        if (fwrite(le, 2, n, w->f[BIN]) != n) {
            /* the .bin now holds a partial item: the shard cannot continue */
            return srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[BIN], strerror(errno));
        }
        s->bin_pos += 2 * (uint64_t)n;
    }
    uint64_t f[DS_ENTRY_FIELDS] = {data_offset, (uint64_t)c->n_frames[0], (uint64_t)item->n_samples,
                                   (uint64_t)item->offset_samples};
    put_string(s, item->key, &f[4], &f[5]);
    put_string(s, item->source, &f[6], &f[7]);
    put_string(s, has_extra ? item->extra_json : NULL, &f[8], &f[9]);
    if (s->strings.failed) return srt_error(SRT_ERR_NOMEM, "item '%s': out of memory for the string table", item->key);
    unsigned char *e = s->entries + (size_t)w->n_items * DS_IDX_ENTRY_SIZE;
    for (int k = 0; k < DS_ENTRY_FIELDS; k++) ds_put_u64(e + 8 * k, f[k]);
    return SRT_OK;
}

srt_status ds_bin_finish(srt_ds_shard_writer *w) {
    bin_state *s = w->state;
    unsigned char h[DS_IDX_HEADER_SIZE] = {0};
    memcpy(h + DS_IDX_OFF_MAGIC, DS_IDX_MAGIC, 8);
    ds_put_u32(h + DS_IDX_OFF_VERSION, DS_BIN_VERSION);
    ds_put_u32(h + DS_IDX_OFF_HEADER_SIZE, DS_IDX_HEADER_SIZE);
    ds_put_u32(h + DS_IDX_OFF_ENTRY_SIZE, DS_IDX_ENTRY_SIZE);
    ds_put_u32(h + DS_IDX_OFF_SAMPLE_RATE, (uint32_t)w->info.sample_rate);
    ds_put_u32(h + DS_IDX_OFF_HOP, (uint32_t)w->info.hop_length);
    ds_put_u32(h + DS_IDX_OFF_CODEBOOK, (uint32_t)w->info.codebook_size);
    ds_put_u32(h + DS_IDX_OFF_N_LEVELS, (uint32_t)w->info.n_levels);
    for (int l = 0; l < w->info.n_levels; l++) ds_put_u32(h + DS_IDX_OFF_STRIDES + 4 * l, (uint32_t)w->info.vq_strides[l]);
    ds_put_u64(h + DS_IDX_OFF_N_ITEMS, (uint64_t)w->n_items);
    ds_put_u64(h + DS_IDX_OFF_STRINGS_SIZE, (uint64_t)s->strings.n);
    ds_put_u64(h + DS_IDX_OFF_BIN_SIZE, s->bin_pos);
    size_t ne = (size_t)w->n_items * DS_IDX_ENTRY_SIZE;
    FILE *f = w->f[IDX];
    if (fwrite(h, 1, sizeof h, f) != sizeof h || (ne && fwrite(s->entries, 1, ne, f) != ne) ||
        (s->strings.n && fwrite(s->strings.p, 1, s->strings.n, f) != s->strings.n))
        return srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[IDX], strerror(errno));
    return SRT_OK;
}

void ds_bin_free(srt_ds_shard_writer *w) {
    bin_state *s = w->state;
    if (!s) return;
    free(s->entries);
    free(s->scratch);
    ds_buf_free(&s->strings);
    free(s);
    w->state = NULL;
}
