/* tokenizer_internal.h: the tokenizer's data (shared by tokenizer_*.c): vocab and merge hash maps, the added
 * tokens and their lengths per first byte, the pre-tokenizer steps, the post-processor's special ids, the byte-level tables. */
#ifndef SRT_LM_TOKENIZER_INTERNAL_H
#define SRT_LM_TOKENIZER_INTERNAL_H

#include "snacrt_tokenizer.h"
#include "common.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- hash maps (open addressing, linear probing, power-of-two capacity) */

/* uint64 -> uint64; TOK_U64_EMPTY is not a valid key. */
#define TOK_U64_EMPTY UINT64_MAX
typedef struct tok_u64map {
    uint64_t *keys; /* (cap) */
    uint64_t *vals; /* (cap) */
    size_t cap, count;
} tok_u64map;
srt_status tok_u64map_init(tok_u64map *m, size_t expected);
srt_status tok_u64map_put(tok_u64map *m, uint64_t key, uint64_t val); /* insert or overwrite */
int tok_u64map_get(const tok_u64map *m, uint64_t key, uint64_t *val); /* 1 if found */
void tok_u64map_free(tok_u64map *m);

/* byte string -> int32; keys are borrowed (must outlive the map). A slot is 32 bytes (two per cache line) and
 * holds the key's first bytes, so most look-ups of short tokens touch one cache line. */
#define TOK_STRMAP_HEAD 12
typedef struct tok_strmap_slot {
    uint32_t hash, len;
    int32_t val;
    char head[TOK_STRMAP_HEAD]; /* the key's first min(len, TOK_STRMAP_HEAD) bytes */
    const char *key;            /* NULL for an empty slot */
} tok_strmap_slot;
typedef struct tok_strmap {
    tok_strmap_slot *slots; /* (cap) */
    size_t cap, count;
} tok_strmap;
srt_status tok_strmap_init(tok_strmap *m, size_t expected);
/* Insert; when the key is present already, keep the old value and return 0 in *inserted. */
srt_status tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val, int *inserted);
int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len); /* -1 when absent */
void tok_strmap_free(tok_strmap *m);

/* ---- string arena: many small strings freed together */
typedef struct tok_arena_block tok_arena_block;
typedef struct tok_arena {
    tok_arena_block *head;
} tok_arena;
/* Copy len bytes plus a NUL into the arena; NULL (with SRT_ERR_NOMEM recorded) on failure. */
char *tok_arena_strndup(tok_arena *a, const char *s, size_t len);
void tok_arena_free(tok_arena *a);

/* ---- the tokenizer */

typedef struct tok_added {
    const char *content; /* arena */
    size_t len;
    int32_t id;
    /* normalized is kept for completeness: without a normalizer it changes nothing */
    unsigned special : 1, lstrip : 1, rstrip : 1, single_word : 1, normalized : 1;
} tok_added;

typedef enum tok_split_behavior { TOK_SPLIT_ISOLATED, TOK_SPLIT_REMOVED } tok_split_behavior;

typedef enum tok_pretok_kind { TOK_PRETOK_SPLIT, TOK_PRETOK_BYTE_LEVEL } tok_pretok_kind;
typedef struct tok_pretok_step {
    tok_pretok_kind kind;
    pcre2_code *regex;           /* SPLIT: the pattern; BYTE_LEVEL with use_regex: GPT-2's pattern; else NULL */
    tok_split_behavior behavior; /* SPLIT */
    int add_prefix_space;        /* BYTE_LEVEL */
} tok_pretok_step;

#define TOK_MAX_PRETOK_STEPS 8
#define TOK_MAX_TEMPLATE_IDS 8

struct srt_tokenizer {
    char *path;
    tok_arena strings;

    size_t n_ids;              /* max id + 1 over vocab and added tokens */
    const char **id_to_token;  /* (n_ids) NULL for unused ids */
    uint8_t *id_is_special;    /* (n_ids) 1 for special added tokens */
    tok_strmap vocab;          /* model vocab: token -> id */
    tok_strmap added_by_content; /* added token content -> index into added[] (the first of duplicates) */

    tok_added *added;          /* (n_added) */
    size_t n_added;
    /* Longest-match search: the distinct lengths of the added tokens starting with byte b, longest first. */
    uint32_t *added_lengths[256]; /* (n_added_lengths[b]) */
    uint32_t n_added_lengths[256];

    tok_u64map merges;         /* (left_id << 32 | right_id) -> (rank << 32 | merged_id) */
    int ignore_merges;

    tok_pretok_step pretok[TOK_MAX_PRETOK_STEPS];
    int n_pretok;

    int32_t prefix_ids[TOK_MAX_TEMPLATE_IDS]; /* post-processor: special ids before $A */
    int32_t suffix_ids[TOK_MAX_TEMPLATE_IDS]; /* and after */
    int n_prefix, n_suffix;

    uint16_t byte_to_char[256];
    int16_t char_to_byte[512];
    char byte_char_utf8[256][2]; /* UTF-8 of byte_to_char (all below U+0800: 1 or 2 bytes) */
    uint8_t byte_char_len[256];
    int32_t byte_id[256];        /* vocab id of the single byte-level character of each byte, -1 if absent */
};

/* A growing list of ids. */
typedef struct tok_ids {
    int32_t *data;
    size_t len, cap;
} tok_ids;
srt_status tok_ids_push(tok_ids *v, int32_t id);

/* Reusable buffers for tok_bpe_word (zero-initialize; free with tok_bpe_scratch_free). */
typedef struct tok_bpe_symbol { int32_t id, prev, next; } tok_bpe_symbol;
typedef struct tok_bpe_candidate { int32_t rank, pos, left_id, right_id, merged_id; } tok_bpe_candidate;
typedef struct tok_bpe_scratch {
    tok_bpe_symbol *symbols;  /* (cap) one per byte of the pre-token, linked list of live symbols */
    tok_bpe_candidate *heap;  /* (heap_cap) min-heap on (rank, pos) */
    char *mapped;             /* (2 * cap) the pre-token's byte-level characters (UTF-8, 1-2 bytes each) */
    size_t cap, heap_cap;
} tok_bpe_scratch;
void tok_bpe_scratch_free(tok_bpe_scratch *s);

/* Byte-level map + BPE of one pre-token given as raw bytes; appends its ids to *out. */
srt_status tok_bpe_word(const srt_tokenizer *t, const char *bytes, size_t len, tok_bpe_scratch *scratch, tok_ids *out);

#endif
