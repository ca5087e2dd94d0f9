/* tokenizer_map.c: the tokenizer's containers: uint64 -> uint64 and string -> int32 hash maps (open
 * addressing, linear probing) and a string arena. */
#include "lm/tokenizer_internal.h"
#include <string.h>

static size_t capacity_for(size_t expected) {
    size_t cap = 16;
    while (cap * 7 < expected * 10) cap *= 2; /* load factor <= 0.7 */
    return cap;
}

static inline uint64_t mix64(uint64_t x) { /* splitmix64 finalizer */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

srt_status tok_u64map_init(tok_u64map *m, size_t expected) {
    m->cap = capacity_for(expected);
    m->count = 0;
    m->keys = srt_malloc(m->cap * sizeof *m->keys, "tokenizer hash map keys");
    m->vals = srt_malloc(m->cap * sizeof *m->vals, "tokenizer hash map values");
    if (!m->keys || !m->vals) { tok_u64map_free(m); return SRT_ERR_NOMEM; }
    memset(m->keys, 0xFF, m->cap * sizeof *m->keys); /* all TOK_U64_EMPTY */
    return SRT_OK;
}

static srt_status u64map_grow(tok_u64map *m) {
    tok_u64map bigger;
    SRT_TRY(tok_u64map_init(&bigger, m->cap)); /* doubles the capacity */
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != TOK_U64_EMPTY) tok_u64map_put(&bigger, m->keys[i], m->vals[i]);
    tok_u64map_free(m);
    *m = bigger;
    return SRT_OK;
}

srt_status tok_u64map_put(tok_u64map *m, uint64_t key, uint64_t val) {
    if ((m->count + 1) * 10 > m->cap * 7) SRT_TRY(u64map_grow(m));
    size_t mask = m->cap - 1, i = (size_t)mix64(key) & mask;
    while (m->keys[i] != TOK_U64_EMPTY && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] == TOK_U64_EMPTY) { m->keys[i] = key; m->count++; }
    m->vals[i] = val;
    return SRT_OK;
}

int tok_u64map_get(const tok_u64map *m, uint64_t key, uint64_t *val) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = (size_t)mix64(key) & mask;
    while (m->keys[i] != TOK_U64_EMPTY) {
        if (m->keys[i] == key) { *val = m->vals[i]; return 1; }
        i = (i + 1) & mask;
    }
    return 0;
}

void tok_u64map_free(tok_u64map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static inline uint32_t hash_bytes(const char *s, size_t len) { /* FNV-1a */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
    return h;
}

srt_status tok_strmap_init(tok_strmap *m, size_t expected) {
    m->cap = capacity_for(expected);
    m->count = 0;
    m->slots = aligned_alloc(64, m->cap * sizeof *m->slots); /* cap >= 16: a multiple of 64 bytes */
    if (!m->slots) return srt_error(SRT_ERR_NOMEM, "out of memory for a tokenizer string map of %zu slots", m->cap);
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    return SRT_OK;
}

static inline int slot_matches(const tok_strmap_slot *s, uint32_t hash, const char *key, size_t len) {
    if (s->hash != hash || s->len != len) return 0;
    size_t head = len < TOK_STRMAP_HEAD ? len : TOK_STRMAP_HEAD;
    return !memcmp(s->head, key, head) && (len == head || !memcmp(s->key + head, key + head, len - head));
}

static srt_status strmap_grow(tok_strmap *m) {
    tok_strmap bigger;
    SRT_TRY(tok_strmap_init(&bigger, m->cap));
    size_t mask = bigger.cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & mask;
        while (bigger.slots[j].key) j = (j + 1) & mask;
        bigger.slots[j] = m->slots[i];
    }
    bigger.count = m->count;
    tok_strmap_free(m);
    *m = bigger;
    return SRT_OK;
}

srt_status tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val, int *inserted) {
    if ((m->count + 1) * 10 > m->cap * 7) SRT_TRY(strmap_grow(m));
    uint32_t h = hash_bytes(key, len);
    size_t mask = m->cap - 1, i = h & mask;
    for (; m->slots[i].key; i = (i + 1) & mask) {
        if (slot_matches(&m->slots[i], h, key, len)) {
            if (inserted) *inserted = 0;
            return SRT_OK;
        }
    }
    tok_strmap_slot *s = &m->slots[i];
    s->hash = h;
    s->len = (uint32_t)len;
    s->val = val;
    memcpy(s->head, key, len < TOK_STRMAP_HEAD ? len : TOK_STRMAP_HEAD);
    s->key = key;
    m->count++;
    if (inserted) *inserted = 1;
    return SRT_OK;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    uint32_t h = hash_bytes(key, len);
    size_t mask = m->cap - 1, i = h & mask;
    for (; m->slots[i].key; i = (i + 1) & mask)
        if (slot_matches(&m->slots[i], h, key, len)) return m->slots[i].val;
    return -1;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

#define TOK_ARENA_BLOCK (1u << 20)
struct tok_arena_block {
    tok_arena_block *next;
    size_t used, cap;
    char data[];
};

char *tok_arena_strndup(tok_arena *a, const char *s, size_t len) {
    tok_arena_block *b = a->head;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > TOK_ARENA_BLOCK ? len + 1 : TOK_ARENA_BLOCK;
        b = srt_malloc(sizeof *b + cap, "tokenizer strings");
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    char *d = b->data + b->used;
    memcpy(d, s, len);
    d[len] = 0;
    b->used += len + 1;
    return d;
}

void tok_arena_free(tok_arena *a) {
    for (tok_arena_block *b = a->head, *next; b; b = next) { next = b->next; free(b); }
    a->head = NULL;
}
