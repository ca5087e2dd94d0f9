/* tokenizer_decode.c: ids -> text (the ByteLevel decoder: each token's characters map back to bytes; a token
 * with a character outside the byte-level alphabet contributes its own UTF-8 bytes, as Hugging Face does),
 * then invalid UTF-8 becomes U+FFFD. Also the id <-> token look-ups. */
#include "lm/tokenizer_internal.h"
#include "lm/unicode.h"
#include <string.h>

/* Append the bytes token `s` stands for to buf (room for strlen(s) bytes is guaranteed by the caller). */
static size_t token_bytes(const srt_tokenizer *t, const char *s, char *buf) {
    size_t n = strlen(s), o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = srt_utf8_next(u + i, n - i, &cp);
        if (k < 0 || cp >= 512 || t->char_to_byte[cp] < 0) { memcpy(buf, s, n); return n; } /* not byte-level */
        buf[o++] = (char)t->char_to_byte[cp];
        i += (size_t)k;
    }
    return o;
}

srt_status srt_tokenizer_decode(const srt_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text) {
    if (!t || !text || (!ids && n)) return srt_error(SRT_ERR_INVALID_ARG, "srt_tokenizer_decode: NULL argument");
    *text = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *token = srt_tokenizer_id_to_token(t, ids[i]);
        if (!token)
            return srt_error(SRT_ERR_RANGE, "decoding id %d (position %zu): no such token in %s (vocab size %zu)",
                             ids[i], i, t->path, t->n_ids);
        total += strlen(token); /* a byte-level character stands for one byte, so this bounds the output */
    }
    char *bytes = srt_malloc(total + 1, "decoded bytes");
    if (!bytes) return SRT_ERR_NOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip_special && t->id_is_special[ids[i]]) continue;
        len += token_bytes(t, t->id_to_token[ids[i]], bytes + len);
    }
    srt_status st = srt_utf8_repair(bytes, len, text, NULL);
    free(bytes);
    return st;
}

long srt_tokenizer_id_bytes(const srt_tokenizer *t, int32_t id, int skip_special, char *buf, size_t cap) {
    const char *token = srt_tokenizer_id_to_token(t, id);
    if (!token) return -1;
    if (skip_special && t->id_is_special[id]) return 0;
    size_t need = strlen(token);            /* a bound on the bytes (see srt_tokenizer_decode) */
    if (need > cap) return (long)need;
    return (long)token_bytes(t, token, buf);
}

int32_t srt_tokenizer_token_to_id(const srt_tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    size_t n = strlen(token);
    int32_t index = tok_strmap_get(&t->added_by_content, token, n);
    return index >= 0 ? t->added[index].id : tok_strmap_get(&t->vocab, token, n);
}

const char *srt_tokenizer_id_to_token(const srt_tokenizer *t, int32_t id) {
    if (!t || id < 0 || (size_t)id >= t->n_ids) return NULL;
    return t->id_to_token[id];
}

int32_t srt_tokenizer_bos_id(const srt_tokenizer *t) { return t && t->n_prefix ? t->prefix_ids[0] : -1; }

size_t srt_tokenizer_vocab_size(const srt_tokenizer *t) { return t ? t->n_ids : 0; }
