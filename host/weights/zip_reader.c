/* zip_reader.c: index a zip archive held in memory. Reads the end of central directory record (searching back
 * over a comment of up to 64 KiB), follows the ZIP64 locator when present, walks the central directory (with ZIP64
 * extra fields), checks each local header and that member byte ranges lie before the central directory and do not
 * overlap. Extraction: STORED members point into the mapping, DEFLATE members are inflated with zlib. */
#include "weights/zip_reader.h"
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

typedef struct eocd_info {
    uint64_t n_entries, cd_size, cd_offset;
    uint64_t cd_limit;   /* where the central directory must end (start of the EOCD records) */
} eocd_info;

static srt_status find_eocd(const uint8_t *map, size_t size, const char *path, eocd_info *info) {
    if (size < 22) return srt_error(SRT_ERR_FORMAT, "%s: %zu bytes: too short for a zip archive", path, size);
    size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
    size_t pos = size - 22;
    for (;;) {
        /* the record must end exactly at the end of the file (comment included) */
        if (rd32(map + pos) == SIG_EOCD && pos + 22 + rd16(map + pos + 20) == size) break;
        if (pos == lowest)
            return srt_error(SRT_ERR_FORMAT, "%s: no zip end of central directory record (truncated, or not a "
                             "PyTorch zip checkpoint)", path);
        pos--;
    }
    const uint8_t *e = map + pos;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", path);
    info->n_entries = rd16(e + 10);
    info->cd_size = rd32(e + 12);
    info->cd_offset = rd32(e + 16);
    info->cd_limit = pos;
    if (pos >= 20 && rd32(map + pos - 20) == SIG_EOCD64_LOCATOR) {
        const uint8_t *loc = map + pos - 20;
        uint64_t off = rd64(loc + 8);
        if (off > pos - 20 || pos - 20 - off < 56 || rd32(map + off) != SIG_EOCD64)
            return srt_error(SRT_ERR_FORMAT, "%s: bad ZIP64 end of central directory locator", path);
        const uint8_t *z = map + off;
        /* classic fields are either the ZIP64 marker or equal to the ZIP64 values */
        if ((info->n_entries != 0xffff && info->n_entries != rd64(z + 32)) ||
            (info->cd_size != 0xffffffffu && info->cd_size != rd64(z + 40)) ||
            (info->cd_offset != 0xffffffffu && info->cd_offset != rd64(z + 48)))
            return srt_error(SRT_ERR_FORMAT, "%s: the end of central directory record disagrees with its ZIP64 form",
                             path);
        info->n_entries = rd64(z + 32);
        info->cd_size = rd64(z + 40);
        info->cd_offset = rd64(z + 48);
        info->cd_limit = off;
    } else if (info->n_entries == 0xffff || info->cd_size == 0xffffffffu || info->cd_offset == 0xffffffffu) {
        return srt_error(SRT_ERR_FORMAT, "%s: ZIP64 fields without a ZIP64 end of central directory", path);
    }
    if (info->cd_offset > info->cd_limit || info->cd_size > info->cd_limit - info->cd_offset)
        return srt_error(SRT_ERR_FORMAT, "%s: central directory (offset %llu, %llu bytes) lies outside the file",
                         path, (unsigned long long)info->cd_offset, (unsigned long long)info->cd_size);
    if (info->n_entries > info->cd_size / 46)
        return srt_error(SRT_ERR_FORMAT, "%s: %llu entries cannot fit in a %llu-byte central directory", path,
                         (unsigned long long)info->n_entries, (unsigned long long)info->cd_size);
    return SRT_OK;
}

/* ZIP64 extended information extra field: replaces the 32-bit fields that are 0xffffffff, in order. */
static srt_status apply_zip64_extra(const uint8_t *extra, size_t len, srt_zip_entry *e, const char *path) {
    int need_size = e->size == 0xffffffffu, need_comp = e->comp_size == 0xffffffffu,
        need_off = e->local_offset == 0xffffffffu;
    size_t p = 0;
    while (p + 4 <= len) {
        uint16_t id = rd16(extra + p), n = rd16(extra + p + 2);
        if (p + 4 + n > len) break;
        if (id == 0x0001) {
            const uint8_t *f = extra + p + 4;
            size_t q = 0;
            if (need_size) { if (q + 8 > n) goto bad; e->size = rd64(f + q); q += 8; need_size = 0; }
            if (need_comp) { if (q + 8 > n) goto bad; e->comp_size = rd64(f + q); q += 8; need_comp = 0; }
            if (need_off) { if (q + 8 > n) goto bad; e->local_offset = rd64(f + q); q += 8; need_off = 0; }
        }
        p += 4 + (size_t)n;
    }
    if (need_size || need_comp || need_off) goto bad;
    return SRT_OK;
bad:
    return srt_error(SRT_ERR_FORMAT, "%s: member '%s': missing or short ZIP64 extra field", path, e->name);
}

/* Check the local header of e and locate its data. */
static srt_status check_local(const srt_zip *zip, srt_zip_entry *e, uint64_t data_limit, uint16_t central_flags) {
    const char *path = zip->path;
    if (e->local_offset > data_limit || data_limit - e->local_offset < 30 || rd32(zip->map + e->local_offset) != SIG_LOCAL)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': no local header at offset %llu", path, e->name,
                         (unsigned long long)e->local_offset);
    const uint8_t *h = zip->map + e->local_offset;
    uint64_t data = e->local_offset + 30 + rd16(h + 26) + rd16(h + 28);
    if (data > data_limit || e->comp_size > data_limit - data)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': %llu bytes at offset %llu run past the member area "
                         "(%llu bytes): the size lies or the file is truncated", path, e->name,
                         (unsigned long long)e->comp_size, (unsigned long long)data, (unsigned long long)data_limit);
    if (rd16(h + 8) != e->method)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': local and central headers disagree on the method", path,
                         e->name);
    if (!(central_flags & 8)) {   /* sizes in the local header unless a data descriptor follows */
        uint32_t lc = rd32(h + 18), lu = rd32(h + 22);
        if ((lc != 0xffffffffu && lc != e->comp_size) || (lu != 0xffffffffu && lu != e->size))
            return srt_error(SRT_ERR_FORMAT, "%s: member '%s': local and central headers disagree on the size",
                             path, e->name);
    }
    e->data_offset = data;
    if (central_flags & 8) {
        /* data descriptor after the bytes: [signature] crc32, sizes (4 or 8 bytes each); it must agree */
        uint64_t d = data + e->comp_size, left = data_limit - d;
        const uint8_t *p = zip->map + d;
        if (left >= 4 && rd32(p) == 0x08074b50u) { p += 4; left -= 4; }
        int ok32 = left >= 12 && rd32(p) == e->crc32 && rd32(p + 4) == e->comp_size && rd32(p + 8) == e->size;
        int ok64 = left >= 20 && rd32(p) == e->crc32 && rd64(p + 4) == e->comp_size && rd64(p + 12) == e->size;
        if (!ok32 && !ok64)
            return srt_error(SRT_ERR_FORMAT, "%s: member '%s': the data descriptor after its %llu bytes does not "
                             "match the central directory: a size lies or the member is damaged", path, e->name,
                             (unsigned long long)e->comp_size);
    }
    return SRT_OK;
}

/* qsort has no context argument: the archive being sorted, per thread */
static _Thread_local const srt_zip *sort_zip;

static int by_name(const void *a, const void *b) {
    return strcmp(sort_zip->entries[*(const size_t *)a].name, sort_zip->entries[*(const size_t *)b].name);
}
static int by_offset(const void *a, const void *b) {
    uint64_t x = sort_zip->entries[*(const size_t *)a].local_offset, y = sort_zip->entries[*(const size_t *)b].local_offset;
    return x < y ? -1 : x > y;
}

static srt_status read_central(srt_zip *zip, const eocd_info *info) {
    const uint8_t *p = zip->map + info->cd_offset, *end = p + info->cd_size;
    for (uint64_t i = 0; i < info->n_entries; i++) {
        if (end - p < 46 || rd32(p) != SIG_CENTRAL)
            return srt_error(SRT_ERR_FORMAT, "%s: central directory entry %llu is damaged or truncated", zip->path,
                             (unsigned long long)i);
        size_t name_len = rd16(p + 28), extra_len = rd16(p + 30), comment_len = rd16(p + 32);
        if ((size_t)(end - p) - 46 < name_len + extra_len + comment_len)
            return srt_error(SRT_ERR_FORMAT, "%s: central directory entry %llu runs past the directory", zip->path,
                             (unsigned long long)i);
        srt_zip_entry *e = &zip->entries[zip->n_entries];
        memset(e, 0, sizeof *e);
        if (memchr(p + 46, 0, name_len))
            return srt_error(SRT_ERR_FORMAT, "%s: member %llu has a NUL in its name", zip->path, (unsigned long long)i);
        e->name = srt_malloc(name_len + 1, "a zip member name");
        if (!e->name) return SRT_ERR_NOMEM;
        memcpy(e->name, p + 46, name_len);
        e->name[name_len] = 0;
        zip->n_entries++;
        uint16_t flags = rd16(p + 8);
        e->method = rd16(p + 10);
        e->crc32 = rd32(p + 16);
        e->comp_size = rd32(p + 20);
        e->size = rd32(p + 24);
        e->local_offset = rd32(p + 42);
        SRT_TRY(apply_zip64_extra(p + 46 + name_len, extra_len, e, zip->path));
        if (flags & 1)
            return srt_error(SRT_ERR_UNSUPPORTED, "%s: member '%s' is encrypted", zip->path, e->name);
        if (e->method != 0 && e->method != 8)
            return srt_error(SRT_ERR_UNSUPPORTED, "%s: member '%s' uses compression method %d (only stored and "
                             "deflate are supported)", zip->path, e->name, e->method);
        if (e->method == 0 && e->comp_size != e->size)
            return srt_error(SRT_ERR_FORMAT, "%s: stored member '%s' has stored size %llu but size %llu", zip->path,
                             e->name, (unsigned long long)e->comp_size, (unsigned long long)e->size);
        SRT_TRY(check_local(zip, e, info->cd_offset, flags));
        p += 46 + name_len + extra_len + comment_len;
    }
    return SRT_OK;
}

srt_status srt_zip_open(const uint8_t *map, size_t size, const char *path, srt_zip *zip) {
    memset(zip, 0, sizeof *zip);
    zip->path = path;
    zip->map = map;
    zip->size = size;
    eocd_info info = {0, 0, 0, 0};
    SRT_TRY(find_eocd(map, size, path, &info));
    zip->entries = srt_calloc(info.n_entries ? info.n_entries : 1, sizeof *zip->entries, "zip entries");
    zip->by_name = srt_calloc(info.n_entries ? info.n_entries : 1, sizeof *zip->by_name, "zip entries");
    srt_status st = (zip->entries && zip->by_name) ? read_central(zip, &info) : SRT_ERR_NOMEM;
    if (st != SRT_OK) { srt_zip_close(zip); return st; }
    /* members must not overlap: each one's bytes end before the next local header */
    for (size_t i = 0; i < zip->n_entries; i++) zip->by_name[i] = i;
    sort_zip = zip;
    qsort(zip->by_name, zip->n_entries, sizeof *zip->by_name, by_offset);
    for (size_t i = 0; i + 1 < zip->n_entries && st == SRT_OK; i++) {
        const srt_zip_entry *a = &zip->entries[zip->by_name[i]], *b = &zip->entries[zip->by_name[i + 1]];
        if (a->data_offset + a->comp_size > b->local_offset)
            st = srt_error(SRT_ERR_FORMAT, "%s: member '%s' (%llu bytes) overlaps member '%s': a size lies",
                           path, a->name, (unsigned long long)a->comp_size, b->name);
    }
    qsort(zip->by_name, zip->n_entries, sizeof *zip->by_name, by_name);
    for (size_t i = 0; i + 1 < zip->n_entries && st == SRT_OK; i++)
        if (strcmp(zip->entries[zip->by_name[i]].name, zip->entries[zip->by_name[i + 1]].name) == 0)
            st = srt_error(SRT_ERR_FORMAT, "%s: member '%s' appears twice", path, zip->entries[zip->by_name[i]].name);
    sort_zip = NULL;
    if (st != SRT_OK) srt_zip_close(zip);
    return st;
}

void srt_zip_close(srt_zip *zip) {
    for (size_t i = 0; i < zip->n_entries; i++) free(zip->entries[i].name);
    free(zip->entries);
    free(zip->by_name);
    memset(zip, 0, sizeof *zip);
}

const srt_zip_entry *srt_zip_find(const srt_zip *zip, const char *name) {
    size_t lo = 0, hi = zip->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const srt_zip_entry *e = &zip->entries[zip->by_name[mid]];
        int c = strcmp(e->name, name);
        if (c == 0) return e;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

static uint32_t crc_of(const uint8_t *p, uint64_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

static srt_status inflate_member(const srt_zip *zip, const srt_zip_entry *e, uint8_t **out) {
    /* deflate cannot expand by more than ~1032:1; a larger claimed size is a lie (or a bomb) */
    if (e->size > (e->comp_size + 1) * 1032 || e->size > SIZE_MAX - 1)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s' claims %llu bytes from %llu compressed", zip->path,
                         e->name, (unsigned long long)e->size, (unsigned long long)e->comp_size);
    uint8_t *buf = srt_malloc((size_t)e->size, e->name);
    if (!buf) return SRT_ERR_NOMEM;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) { free(buf); return srt_error(SRT_ERR_NOMEM, "%s: zlib init failed", zip->path); }
    const uint8_t *in = zip->map + e->data_offset;
    uint64_t in_left = e->comp_size, out_done = 0;
    int ret = Z_OK;
    while (ret == Z_OK) {
        uInt in_chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uint64_t out_left = e->size - out_done;
        zs.next_in = (Bytef *)in;
        zs.avail_in = in_chunk;
        zs.next_out = buf + out_done;
        zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        uInt avail_in0 = zs.avail_in, avail_out0 = zs.avail_out;
        ret = inflate(&zs, Z_NO_FLUSH);
        in += avail_in0 - zs.avail_in;
        in_left -= avail_in0 - zs.avail_in;
        out_done += avail_out0 - zs.avail_out;
        if (ret == Z_OK && avail_in0 == zs.avail_in && avail_out0 == zs.avail_out) ret = Z_BUF_ERROR;   /* stuck */
    }
    inflateEnd(&zs);
    if (ret != Z_STREAM_END || out_done != e->size) {
        free(buf);
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': deflate data is corrupt or its size lies (%llu of %llu "
                         "bytes)", zip->path, e->name, (unsigned long long)out_done, (unsigned long long)e->size);
    }
    if (crc_of(buf, e->size) != e->crc32) {
        free(buf);
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': CRC-32 mismatch", zip->path, e->name);
    }
    *out = buf;
    return SRT_OK;
}

srt_status srt_zip_read(const srt_zip *zip, const srt_zip_entry *e, int verify_crc, const uint8_t **data,
                        void **owned) {
    *data = NULL;
    *owned = NULL;
    if (e->method == 8) {
        uint8_t *buf = NULL;
        SRT_TRY(inflate_member(zip, e, &buf));
        *data = buf;
        *owned = buf;
        return SRT_OK;
    }
    if (verify_crc && crc_of(zip->map + e->data_offset, e->size) != e->crc32)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s': CRC-32 mismatch", zip->path, e->name);
    *data = zip->map + e->data_offset;
    return SRT_OK;
}
