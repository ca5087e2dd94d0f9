/* tokenizer_bpe.c: byte-level BPE of one pre-token. The bytes become single-character symbols in a linked
 * list; a min-heap holds candidate merges ordered by (merge rank, position), stale entries are skipped when
 * popped, as in Hugging Face tokenizers' Word::merge_all. */
#include "lm/tokenizer_internal.h"
#include <string.h>

srt_status tok_ids_push(tok_ids *v, int32_t id) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *d = realloc(v->data, cap * sizeof *d);
        if (!d) return srt_error(SRT_ERR_NOMEM, "out of memory growing the token id list to %zu ids", cap);
        v->data = d;
        v->cap = cap;
    }
    v->data[v->len++] = id;
    return SRT_OK;
}

void tok_bpe_scratch_free(tok_bpe_scratch *s) {
    free(s->symbols);
    free(s->heap);
    free(s->mapped);
    memset(s, 0, sizeof *s);
}

static srt_status scratch_reserve(tok_bpe_scratch *s, size_t n) {
    if (n <= s->cap) return SRT_OK;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    tok_bpe_symbol *sym = realloc(s->symbols, cap * sizeof *sym);
    if (sym) s->symbols = sym;
    char *mapped = realloc(s->mapped, 2 * cap);
    if (mapped) s->mapped = mapped;
    if (!sym || !mapped) return srt_error(SRT_ERR_NOMEM, "out of memory for a BPE word of %zu bytes", n);
    s->cap = cap;
    return SRT_OK;
}

static inline int candidate_less(const tok_bpe_candidate *a, const tok_bpe_candidate *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static srt_status heap_push(tok_bpe_scratch *s, size_t *n, tok_bpe_candidate c) {
    if (*n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        tok_bpe_candidate *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return srt_error(SRT_ERR_NOMEM, "out of memory for the BPE merge queue");
        s->heap = h;
        s->heap_cap = cap;
    }
    tok_bpe_candidate *h = s->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!candidate_less(&c, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
    return SRT_OK;
}

static tok_bpe_candidate heap_pop(tok_bpe_scratch *s, size_t *n) {
    tok_bpe_candidate *h = s->heap, top = h[0], last = h[--*n];
    size_t i = 0, count = *n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= count) break;
        if (child + 1 < count && candidate_less(&h[child + 1], &h[child])) child++;
        if (!candidate_less(&h[child], &last)) break;
        h[i] = h[child];
        i = child;
    }
    if (count) h[i] = last;
    return top;
}

/* Queue the merge of symbol `pos` with its right neighbour, when the pair has a merge rule. */
static srt_status push_pair(const srt_tokenizer *t, tok_bpe_scratch *s, size_t *n_heap, int32_t pos) {
    if (pos < 0) return SRT_OK;
    int32_t next = s->symbols[pos].next;
    if (next < 0) return SRT_OK;
    int32_t left = s->symbols[pos].id, right = s->symbols[next].id;
    uint64_t rule;
    if (!tok_u64map_get(&t->merges, (uint64_t)left << 32 | (uint32_t)right, &rule)) return SRT_OK;
    tok_bpe_candidate c = {(int32_t)(rule >> 32), pos, left, right, (int32_t)(uint32_t)rule};
    return heap_push(s, n_heap, c);
}

srt_status tok_bpe_word(const srt_tokenizer *t, const char *bytes, size_t len, tok_bpe_scratch *s, tok_ids *out) {
    if (!len) return SRT_OK;
    SRT_TRY(scratch_reserve(s, len));
    const unsigned char *u = (const unsigned char *)bytes;

    if (t->ignore_merges || len == 1) { /* a whole pre-token that is in the vocab is emitted as is */
        size_t m = 0;
        for (size_t i = 0; i < len; i++) {
            memcpy(s->mapped + m, t->byte_char_utf8[u[i]], t->byte_char_len[u[i]]);
            m += t->byte_char_len[u[i]];
        }
        int32_t id = tok_strmap_get(&t->vocab, s->mapped, m);
        if (id >= 0) return tok_ids_push(out, id);
    }

    /* One symbol per byte; bytes missing from the vocab are dropped (no unk token in byte-level BPE). */
    tok_bpe_symbol *sym = s->symbols;
    int32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_id[u[i]];
        if (id < 0) continue;
        sym[n] = (tok_bpe_symbol){id, n - 1, -1};
        if (n > 0) sym[n - 1].next = n;
        n++;
    }
    if (n == 0) return SRT_OK;

    size_t n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++) SRT_TRY(push_pair(t, s, &n_heap, i));
    while (n_heap) {
        tok_bpe_candidate c = heap_pop(s, &n_heap);
        tok_bpe_symbol *left = &sym[c.pos];
        if (left->id != c.left_id || left->next < 0 || sym[left->next].id != c.right_id) continue; /* stale */
        int32_t right = left->next;
        left->id = c.merged_id;
        left->next = sym[right].next;
        if (left->next >= 0) sym[left->next].prev = c.pos;
        sym[right].id = -1; /* dead */
        SRT_TRY(push_pair(t, s, &n_heap, left->prev));
        SRT_TRY(push_pair(t, s, &n_heap, c.pos));
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) SRT_TRY(tok_ids_push(out, sym[i].id));
    return SRT_OK;
}
