/* zip_reader.h: a read-only zip archive index over a mapped file (what torch.save writes): the end of central
 * directory record (and its ZIP64 form), the central directory and each member's local header, all bounds-checked.
 * Members are STORED (pointed into the mapping) or DEFLATE (inflated into a malloc'd buffer). */
#ifndef SRT_ZIP_READER_H
#define SRT_ZIP_READER_H

#include "common.h"

typedef struct srt_zip_entry {
    char *name;                /* owned, NUL-terminated */
    int method;                /* 0 stored, 8 deflate */
    uint32_t crc32;
    uint64_t comp_size, size;  /* bytes in the archive, bytes once extracted */
    uint64_t local_offset;     /* of the local header */
    uint64_t data_offset;      /* of the member's bytes (after the local header) */
} srt_zip_entry;

typedef struct srt_zip {
    const char *path;          /* for messages (not owned) */
    const uint8_t *map;
    size_t size;
    srt_zip_entry *entries;    /* (n_entries) */
    size_t n_entries;
    size_t *by_name;           /* (n_entries) indices sorted by name */
} srt_zip;

/* Index the archive in map[0..size); every failure names path. */
srt_status srt_zip_open(const uint8_t *map, size_t size, const char *path, srt_zip *zip);
void srt_zip_close(srt_zip *zip);
/* NULL when absent. */
const srt_zip_entry *srt_zip_find(const srt_zip *zip, const char *name);
/* A member's bytes: stored members point into the mapping (*owned = NULL), deflated ones are inflated into a
 * malloc'd buffer returned in *owned (the caller frees it). verify_crc also checks stored members' CRC-32. */
srt_status srt_zip_read(const srt_zip *zip, const srt_zip_entry *e, int verify_crc, const uint8_t **data,
                        void **owned);

#endif
