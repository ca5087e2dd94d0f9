/* weights_fixture.h: test-only writers for small weight files: a growable byte buffer, a zip writer (stored or
 * deflated members, optional ZIP64 end records), a pickle builder for torch-style state dicts, and a safetensors
 * writer from a raw JSON header. Used by test_weights.c and test_weights_corrupt.c. */
#ifndef SRT_WEIGHTS_FIXTURE_H
#define SRT_WEIGHTS_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct fx_buf { uint8_t *p; size_t len, cap; } fx_buf;

static inline void fx_put(fx_buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { fprintf(stderr, "fixture: out of memory\n"); exit(2); }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}
static inline void fx_u8(fx_buf *b, unsigned v) { uint8_t x = (uint8_t)v; fx_put(b, &x, 1); }
static inline void fx_u16(fx_buf *b, unsigned v) { fx_u8(b, v & 0xff); fx_u8(b, (v >> 8) & 0xff); }
static inline void fx_u32(fx_buf *b, uint32_t v) { fx_u16(b, v & 0xffff); fx_u16(b, v >> 16); }
static inline void fx_u64(fx_buf *b, uint64_t v) { fx_u32(b, (uint32_t)v); fx_u32(b, (uint32_t)(v >> 32)); }
static inline void fx_str(fx_buf *b, const char *s) { fx_put(b, s, strlen(s)); }

static inline int fx_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

/* ---- zip ---- */
typedef struct fx_member { const char *name; const void *data; size_t size; int deflate; } fx_member;

/* Raw deflate of src into a malloc'd buffer. */
static inline uint8_t *fx_deflate(const void *src, size_t n, size_t *out_n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(2);
    size_t cap = deflateBound(&zs, (uLong)n) + 16;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) exit(2);
    *out_n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Build a zip in b. zip64: write ZIP64 end records and put 0xffff/0xffffffff in the classic record. */
static inline void fx_zip_build(fx_buf *b, const fx_member *m, int n, int zip64) {
    uint64_t *offsets = calloc((size_t)n, sizeof *offsets), *csizes = calloc((size_t)n, sizeof *csizes);
    uint32_t *crcs = calloc((size_t)n, sizeof *crcs);
    for (int i = 0; i < n; i++) {
        size_t cn = m[i].size;
        uint8_t *comp = m[i].deflate ? fx_deflate(m[i].data, m[i].size, &cn) : NULL;
        crcs[i] = (uint32_t)crc32(0, m[i].data, (uInt)m[i].size);
        csizes[i] = cn;
        offsets[i] = b->len;
        fx_u32(b, 0x04034b50u); fx_u16(b, 20); fx_u16(b, 0); fx_u16(b, m[i].deflate ? 8 : 0);
        fx_u16(b, 0); fx_u16(b, 0); fx_u32(b, crcs[i]); fx_u32(b, (uint32_t)cn); fx_u32(b, (uint32_t)m[i].size);
        fx_u16(b, (unsigned)strlen(m[i].name)); fx_u16(b, 0); fx_str(b, m[i].name);
        fx_put(b, comp ? comp : m[i].data, cn);
        free(comp);
    }
    uint64_t cd_offset = b->len;
    for (int i = 0; i < n; i++) {
        fx_u32(b, 0x02014b50u); fx_u16(b, 45); fx_u16(b, 20); fx_u16(b, 0); fx_u16(b, m[i].deflate ? 8 : 0);
        fx_u16(b, 0); fx_u16(b, 0); fx_u32(b, crcs[i]); fx_u32(b, (uint32_t)csizes[i]); fx_u32(b, (uint32_t)m[i].size);
        fx_u16(b, (unsigned)strlen(m[i].name));
        fx_u16(b, zip64 ? 12 : 0); fx_u16(b, 0); fx_u16(b, 0); fx_u16(b, 0); fx_u32(b, 0);
        fx_u32(b, zip64 ? 0xffffffffu : (uint32_t)offsets[i]);
        fx_str(b, m[i].name);
        if (zip64) { fx_u16(b, 1); fx_u16(b, 8); fx_u64(b, offsets[i]); }   /* ZIP64 extra: local offset */
    }
    uint64_t cd_size = b->len - cd_offset;
    if (zip64) {
        uint64_t eocd64 = b->len;
        fx_u32(b, 0x06064b50u); fx_u64(b, 44); fx_u16(b, 45); fx_u16(b, 45); fx_u32(b, 0); fx_u32(b, 0);
        fx_u64(b, (uint64_t)n); fx_u64(b, (uint64_t)n); fx_u64(b, cd_size); fx_u64(b, cd_offset);
        fx_u32(b, 0x07064b50u); fx_u32(b, 0); fx_u64(b, eocd64); fx_u32(b, 1);
    }
    fx_u32(b, 0x06054b50u); fx_u16(b, 0); fx_u16(b, 0);
    fx_u16(b, zip64 ? 0xffff : (unsigned)n); fx_u16(b, zip64 ? 0xffff : (unsigned)n);
    fx_u32(b, zip64 ? 0xffffffffu : (uint32_t)cd_size); fx_u32(b, zip64 ? 0xffffffffu : (uint32_t)cd_offset);
    fx_u16(b, 0);
    free(offsets); free(csizes); free(crcs);
}

/* ---- pickle (protocol 2, as torch.save writes) ---- */
static inline void pk_unicode(fx_buf *b, const char *s) { fx_u8(b, 'X'); fx_u32(b, (uint32_t)strlen(s)); fx_str(b, s); }
static inline void pk_global(fx_buf *b, const char *module, const char *name) {
    fx_u8(b, 'c'); fx_str(b, module); fx_u8(b, '\n'); fx_str(b, name); fx_u8(b, '\n');
}
static inline void pk_int(fx_buf *b, int32_t v) { fx_u8(b, 'J'); fx_u32(b, (uint32_t)v); }
/* Push torch._utils._rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict()). */
static inline void pk_tensor(fx_buf *b, const char *storage_class, const char *key, int numel, int offset, int ndim,
                             const int *size, const int *stride) {
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    fx_u8(b, '(');
    fx_u8(b, '('); pk_unicode(b, "storage"); pk_global(b, "torch", storage_class); pk_unicode(b, key);
    pk_unicode(b, "cpu"); pk_int(b, numel); fx_u8(b, 't'); fx_u8(b, 'Q');
    pk_int(b, offset);
    fx_u8(b, '('); for (int d = 0; d < ndim; d++) pk_int(b, size[d]); fx_u8(b, 't');
    fx_u8(b, '('); for (int d = 0; d < ndim; d++) pk_int(b, stride[d]); fx_u8(b, 't');
    fx_u8(b, 0x89);
    pk_global(b, "collections", "OrderedDict"); fx_u8(b, ')'); fx_u8(b, 'R');
    fx_u8(b, 't');
    fx_u8(b, 'R');
}

/* ---- safetensors ---- */
static inline void fx_safetensors(fx_buf *b, const char *header_json, const void *data, size_t n) {
    fx_u64(b, strlen(header_json));
    fx_str(b, header_json);
    fx_put(b, data, n);
}

#endif
