/* ds_read_bin.c: reading binary shards (ds_bin_layout.h): the .idx is loaded and checked whole (sizes must add
 * up), the .bin is checked against the size the index records, and item i is read with one pread at its offset. */
#include "dataset/ds_internal.h"
#include "dataset/ds_bin_layout.h"
#include "common.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct bin_reader {
    char *idx_path, *bin_path;
    unsigned char *idx;       /* the whole .idx */
    size_t idx_size;
    uint32_t header_size, entry_size, n_levels, strides[8], sample_rate, codebook;
    uint64_t n_items, strings_size, bin_size, strings_at;
    int per;                  /* codes per coarse frame */
    FILE *bin;
    uint16_t *buf;            /* one item's codes, raw */
    size_t buf_cap;
} bin_reader;

static char *with_ext(const char *path, const char *ext) {
    const char *dot = strrchr(path, '.');
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    char *out = srt_malloc(stem + strlen(ext) + 1, "a file name");
    if (!out) return NULL;
    memcpy(out, path, stem);
    strcpy(out + stem, ext);
    return out;
}

static srt_status check_header(bin_reader *b) {
    const unsigned char *h = b->idx;
    const char *p = b->idx_path;
    if (b->idx_size < 16 || memcmp(h, DS_IDX_MAGIC, 8))
        return srt_error(SRT_ERR_FORMAT, "%s: not a snacrt shard index (bad magic)", p);
    uint32_t version = ds_get_u32(h + DS_IDX_OFF_VERSION);
    if (version != DS_BIN_VERSION)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: shard format version %u (this reader knows %d)", p, version, DS_BIN_VERSION);
    if (b->idx_size < DS_IDX_HEADER_SIZE)
        return srt_error(SRT_ERR_FORMAT, "%s: truncated index (%zu bytes, the header is %d)", p, b->idx_size, DS_IDX_HEADER_SIZE);
    b->header_size = ds_get_u32(h + DS_IDX_OFF_HEADER_SIZE);
    b->entry_size = ds_get_u32(h + DS_IDX_OFF_ENTRY_SIZE);
    b->sample_rate = ds_get_u32(h + DS_IDX_OFF_SAMPLE_RATE);
    b->codebook = ds_get_u32(h + DS_IDX_OFF_CODEBOOK);
    b->n_levels = ds_get_u32(h + DS_IDX_OFF_N_LEVELS);
    b->n_items = ds_get_u64(h + DS_IDX_OFF_N_ITEMS);
    b->strings_size = ds_get_u64(h + DS_IDX_OFF_STRINGS_SIZE);
    b->bin_size = ds_get_u64(h + DS_IDX_OFF_BIN_SIZE);
    if (b->header_size < DS_IDX_HEADER_SIZE || b->header_size > (1u << 20) || b->entry_size < DS_IDX_ENTRY_SIZE ||
        b->entry_size > (1u << 16))
        return srt_error(SRT_ERR_FORMAT, "%s: header size %u / entry size %u", p, b->header_size, b->entry_size);
    if (b->sample_rate < 1 || b->sample_rate > 10000000 || b->codebook < 1 || b->codebook > 65536 ||
        b->n_levels < 1 || b->n_levels > 8)
        return srt_error(SRT_ERR_FORMAT, "%s: bad header (rate %u, codebook %u, %u levels)", p, b->sample_rate,
                         b->codebook, b->n_levels);
    b->per = 0;
    for (uint32_t l = 0; l < b->n_levels; l++) {
        b->strides[l] = ds_get_u32(h + DS_IDX_OFF_STRIDES + 4 * l);
        if (b->strides[l] < 1 || b->strides[l] > 4096 || b->strides[0] % b->strides[l])
            return srt_error(SRT_ERR_FORMAT, "%s: bad stride %u at level %u", p, b->strides[l], l);
        b->per += (int)(b->strides[0] / b->strides[l]);
    }
    /* sizes must add up exactly: header + entries + strings == the file */
    uint64_t entries = b->n_items * (uint64_t)b->entry_size;
    if (b->n_items > ((uint64_t)1 << 40) || b->strings_size > ((uint64_t)1 << 50) ||
        b->header_size + entries + b->strings_size != b->idx_size)
        return srt_error(SRT_ERR_FORMAT, "%s: truncated or corrupt index: %zu bytes, the header says %llu items "
                         "and %llu bytes of strings", p, b->idx_size, (unsigned long long)b->n_items,
                         (unsigned long long)b->strings_size);
    b->strings_at = b->header_size + entries;
    if (b->strings_size && b->idx[b->idx_size - 1] != 0)
        return srt_error(SRT_ERR_FORMAT, "%s: corrupt string table", p);
    return SRT_OK;
}

srt_status ds_read_bin_open(srt_ds_reader *r) {
    bin_reader *b = srt_calloc(1, sizeof *b, "a bin reader");
    if (!b) return SRT_ERR_NOMEM;
    r->state = b;
    b->idx_path = with_ext(r->path, ".idx");
    b->bin_path = with_ext(r->path, ".bin");
    if (!b->idx_path || !b->bin_path) return SRT_ERR_NOMEM;
    char *data = NULL;
    SRT_TRY(srt_read_file(b->idx_path, &data, &b->idx_size));
    b->idx = (unsigned char *)data;
    SRT_TRY(check_header(b));
    b->bin = fopen(b->bin_path, "rb");
    if (!b->bin) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", b->bin_path, strerror(errno));
    struct stat sb;
    unsigned char head[DS_BIN_HEADER_SIZE];
    if (fstat(fileno(b->bin), &sb) != 0) return srt_error(SRT_ERR_IO, "%s: cannot stat", b->bin_path);
    if ((uint64_t)sb.st_size != b->bin_size)
        return srt_error(SRT_ERR_FORMAT, "%s: truncated or corrupt: %lld bytes, its index %s says %llu", b->bin_path,
                         (long long)sb.st_size, b->idx_path, (unsigned long long)b->bin_size);
    if (fread(head, 1, sizeof head, b->bin) != sizeof head || memcmp(head, DS_BIN_MAGIC, 8))
        return srt_error(SRT_ERR_FORMAT, "%s: not a snacrt shard (bad magic)", b->bin_path);
    if (ds_get_u32(head + 8) != DS_BIN_VERSION)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: shard format version %u (this reader knows %d)", b->bin_path,
                         ds_get_u32(head + 8), DS_BIN_VERSION);
    return SRT_OK;
}

/* A string of the table: *out malloc'd (NULL for an absent extra when len is 0 and allow_none). */
static srt_status get_string(const bin_reader *b, uint64_t off, uint64_t len, int allow_none, const char *what,
                             const char *field, char **out) {
    *out = NULL;
    if (allow_none && len == 0) return SRT_OK;
    if (off >= b->strings_size || len >= b->strings_size - off)
        return srt_error(SRT_ERR_FORMAT, "%s: %s string outside the string table", what, field);
    const char *s = (const char *)b->idx + b->strings_at + off;
    if (s[len] != 0 || strlen(s) != len)
        return srt_error(SRT_ERR_FORMAT, "%s: %s string is corrupt", what, field);
    *out = srt_strdup(s);
    return *out ? SRT_OK : SRT_ERR_NOMEM;
}

srt_status ds_read_bin_next(srt_ds_reader *r, srt_ds_item *item, int *eof) {
    bin_reader *b = r->state;
    uint64_t i = (uint64_t)r->index;
    if (i >= b->n_items) { *eof = 1; return SRT_OK; }
    char what[600];
    snprintf(what, sizeof what, "%s: item %llu", b->idx_path, (unsigned long long)i);
    const unsigned char *e = b->idx + b->header_size + i * b->entry_size;
    uint64_t f[DS_ENTRY_FIELDS];
    for (int k = 0; k < DS_ENTRY_FIELDS; k++) f[k] = ds_get_u64(e + 8 * k);
    uint64_t frames = f[1];
    if (frames < 1 || frames > ((uint64_t)1 << 32))
        return srt_error(SRT_ERR_FORMAT, "%s: %llu coarse frames", what, (unsigned long long)frames);
    uint64_t n_codes = frames * (uint64_t)b->per, bytes = 2 * n_codes;
    if (f[0] < DS_BIN_HEADER_SIZE || f[0] > b->bin_size || bytes > b->bin_size - f[0])
        return srt_error(SRT_ERR_FORMAT, "%s: its codes (%llu bytes at %llu) are outside %s (%llu bytes)", what,
                         (unsigned long long)bytes, (unsigned long long)f[0], b->bin_path, (unsigned long long)b->bin_size);
    if ((int64_t)f[2] < 0 || (int64_t)f[3] < 0) return srt_error(SRT_ERR_FORMAT, "%s: negative length or offset", what);
    SRT_TRY(get_string(b, f[4], f[5], 0, what, "key", &item->key));
    snprintf(what, sizeof what, "%s: item %llu ('%.200s')", b->idx_path, (unsigned long long)i, item->key);
    SRT_TRY(get_string(b, f[6], f[7], 0, what, "source", &item->source));
    SRT_TRY(get_string(b, f[8], f[9], 1, what, "extra", &item->extra_json));
    if (item->extra_json) {
        cJSON *o = cJSON_Parse(item->extra_json);
        int ok = cJSON_IsObject(o);
        cJSON_Delete(o);
        if (!ok) return srt_error(SRT_ERR_FORMAT, "%s: passthrough columns are not a JSON object", what);
    }
    item->n_samples = (int64_t)f[2];
    item->offset_samples = (int64_t)f[3];
    item->sample_rate = (int)b->sample_rate;
    if (n_codes > b->buf_cap) {
        uint16_t *q = realloc(b->buf, (size_t)n_codes * sizeof *q);
        if (!q) return srt_error(SRT_ERR_NOMEM, "%s: out of memory", what);
        b->buf = q;
        b->buf_cap = (size_t)n_codes;
    }
    ssize_t got = pread(fileno(b->bin), b->buf, (size_t)bytes, (off_t)f[0]);
    if (got != (ssize_t)bytes) return srt_error(SRT_ERR_FORMAT, "%s: short read of its codes from %s", what, b->bin_path);
    const unsigned char *le = (const unsigned char *)b->buf;
    item->codes.n_levels = (int)b->n_levels;
    for (uint32_t l = 0; l < b->n_levels; l++) {
        int64_t n = (int64_t)frames * (b->strides[0] / b->strides[l]);
        item->codes.n_frames[l] = n;
        item->codes.codes[l] = srt_malloc(sizeof(int32_t) * (size_t)n, what);
        if (!item->codes.codes[l]) return SRT_ERR_NOMEM;
        for (int64_t k = 0; k < n; k++, le += 2) {
            int32_t v = le[0] | (le[1] << 8);
            if ((uint32_t)v >= b->codebook)
                return srt_error(SRT_ERR_FORMAT, "%s: code %d at level %u frame %lld is outside [0, %u)", what, v, l,
                                 (long long)k, b->codebook);
            item->codes.codes[l][k] = v;
        }
    }
    return SRT_OK;
}

void ds_read_bin_free(srt_ds_reader *r) {
    bin_reader *b = r->state;
    if (!b) return;
    if (b->bin) fclose(b->bin);
    free(b->idx);
    free(b->buf);
    free(b->idx_path);
    free(b->bin_path);
    free(b);
    r->state = NULL;
}
