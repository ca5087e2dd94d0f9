/* ds_index_hash.c: FNV-1a 64 hashing for the tokenizer's index: input fingerprints and per-item code hashes
 * (what merge-index compares across runs and worker counts). */
#include "dataset/ds_pipeline_internal.h"
#include <stdio.h>

uint64_t ds_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_i64(uint64_t h, int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    return ds_fnv1a(h, b, 8);
}

uint64_t ds_codes_hash(const srt_codes *codes) {
    uint64_t h = hash_i64(DS_FNV_OFFSET, codes->n_samples);
    h = hash_i64(h, codes->n_levels);
    for (int l = 0; l < codes->n_levels; l++) {
        h = hash_i64(h, codes->n_frames[l]);
        for (int64_t i = 0; i < codes->n_frames[l]; i++) {
            uint32_t c = (uint32_t)codes->codes[l][i];
            unsigned char b[4] = {(unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                                  (unsigned char)(c >> 24)};
            h = ds_fnv1a(h, b, 4);
        }
    }
    return h;
}

void ds_hex64(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }
