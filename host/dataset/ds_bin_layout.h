/* ds_bin_layout.h: the byte layout of binary shards (docs/binary-format.md), shared by the writer and the reader.
 * All integers little-endian.
 *   <name>.bin: 16-byte header (magic "SNACBIN\0", u32 version, u32 0), then per item the codes of each level,
 *               coarse first, as uint16: item bytes = 2 * n_frames0 * sum_L(stride0 / strideL).
 *   <name>.idx: 96-byte header, n_items 80-byte entries (entry i at header_size + i * entry_size), then a string
 *               table (UTF-8, each string followed by a NUL that its length excludes). */
#ifndef SRT_DS_BIN_LAYOUT_H
#define SRT_DS_BIN_LAYOUT_H

#include <stdint.h>
#include <string.h>

#define DS_BIN_MAGIC "SNACBIN\0"
#define DS_IDX_MAGIC "SNACIDX\0"
#define DS_BIN_VERSION 1
#define DS_BIN_HEADER_SIZE 16
#define DS_IDX_HEADER_SIZE 96
#define DS_IDX_ENTRY_SIZE 80

/* .idx header fields (byte offsets) */
enum {
    DS_IDX_OFF_MAGIC = 0,        /* 8 bytes */
    DS_IDX_OFF_VERSION = 8,      /* u32 */
    DS_IDX_OFF_HEADER_SIZE = 12, /* u32: 96 (readers skip to it: later versions may grow the header) */
    DS_IDX_OFF_ENTRY_SIZE = 16,  /* u32: 80 (idem for entries) */
    DS_IDX_OFF_SAMPLE_RATE = 20, /* u32 */
    DS_IDX_OFF_HOP = 24,         /* u32 */
    DS_IDX_OFF_CODEBOOK = 28,    /* u32 */
    DS_IDX_OFF_N_LEVELS = 32,    /* u32: 1..8 */
    DS_IDX_OFF_STRIDES = 36,     /* u32[8], coarse first, unused ones 0 */
    DS_IDX_OFF_RESERVED = 68,    /* u32: 0 */
    DS_IDX_OFF_N_ITEMS = 72,     /* u64 */
    DS_IDX_OFF_STRINGS_SIZE = 80,/* u64: bytes of the string table */
    DS_IDX_OFF_BIN_SIZE = 88     /* u64: size of the .bin file */
};
/* entry fields: u64 data_offset (byte offset in .bin), u64 n_frames0 (coarse frames), i64 n_samples,
 * i64 offset_samples, u64 key_offset, u64 key_len, u64 source_offset, u64 source_len, u64 extra_offset,
 * u64 extra_len (offsets into the string table; extra_len 0: no passthrough columns) */
enum { DS_ENTRY_FIELDS = 10 };

static inline void ds_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void ds_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t ds_get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t ds_get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
