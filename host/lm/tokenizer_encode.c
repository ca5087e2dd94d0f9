/* tokenizer_encode.c: text -> ids. Added tokens are found first (longest match at the leftmost position: the
 * lengths of the added tokens starting with each byte are tried longest first), the text between them runs
 * through the pre-tokenizer steps (regex splits, then ByteLevel) and each resulting pre-token is BPE'd.
 * Invalid UTF-8 input is first repaired (maximal invalid subparts -> U+FFFD), so the regexes always see
 * valid UTF-8. */
#include "lm/tokenizer_internal.h"
#include "lm/unicode.h"
#include <string.h>

typedef struct encode_ctx {
    const srt_tokenizer *t;
    pcre2_match_data *match;
    tok_bpe_scratch scratch;
    char *prefixed;         /* buffer for " " + piece (ByteLevel add_prefix_space) */
    size_t prefixed_cap;
    tok_ids out;
} encode_ctx;

static srt_status pretokenize(encode_ctx *c, int step, const char *s, size_t n);

/* Pass each piece of s the regex gives to emit(c, next_step, piece): the matches (unless they are removed,
 * keep_matches 0) and the gaps between them, in order. */
static srt_status split_by_regex(encode_ctx *c, const pcre2_code *re, int keep_matches, int next_step, const char *s,
                                 size_t n, srt_status (*emit)(encode_ctx *, int, const char *, size_t)) {
    size_t last = 0, offset = 0;
    while (offset < n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, offset, PCRE2_NO_UTF_CHECK, c->match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return srt_error(SRT_ERR_RANGE, "%s: pre-tokenizer regex failed on a piece of %zu bytes: %s", c->t->path, n,
                             (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->match);
        size_t start = ov[0], end = ov[1];
        if (end == start) { /* empty match: step over one character */
            offset = start + 1;
            while (offset < n && ((unsigned char)s[offset] & 0xC0) == 0x80) offset++;
            continue;
        }
        if (start > last) SRT_TRY(emit(c, next_step, s + last, start - last));
        if (keep_matches) SRT_TRY(emit(c, next_step, s + start, end - start));
        last = offset = end;
    }
    if (last < n) SRT_TRY(emit(c, next_step, s + last, n - last));
    return SRT_OK;
}

/* The final step's pieces: BPE each (next_step is unused). */
static srt_status emit_word(encode_ctx *c, int next_step, const char *s, size_t n) {
    (void)next_step;
    return tok_bpe_word(c->t, s, n, &c->scratch, &c->out);
}

static srt_status pretokenize(encode_ctx *c, int step, const char *s, size_t n) {
    if (n == 0) return SRT_OK;
    const tok_pretok_step *p = &c->t->pretok[step];
    if (p->kind == TOK_PRETOK_SPLIT)
        return split_by_regex(c, p->regex, p->behavior == TOK_SPLIT_ISOLATED, step + 1, s, n, pretokenize);
    /* ByteLevel: the last step */
    if (p->add_prefix_space && s[0] != ' ') {
        if (n + 1 > c->prefixed_cap) {
            char *grown = realloc(c->prefixed, n + 1);
            if (!grown) return srt_error(SRT_ERR_NOMEM, "out of memory for a pre-token of %zu bytes", n);
            c->prefixed = grown;
            c->prefixed_cap = n + 1;
        }
        c->prefixed[0] = ' ';
        memcpy(c->prefixed + 1, s, n);
        s = c->prefixed;
        n++;
    }
    if (p->regex) return split_by_regex(c, p->regex, 1, 0, s, n, emit_word);
    return tok_bpe_word(c->t, s, n, &c->scratch, &c->out);
}

static int is_space_byte(unsigned char b) { return b == ' ' || (b >= '\t' && b <= '\r'); }
static int is_word_byte(unsigned char b) {
    return b >= 0x80 || b == '_' || (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
}

/* Longest added token starting at text[pos]: returns its index in t->added (or -1) and sets *end. */
static int32_t match_added(const srt_tokenizer *t, const char *text, size_t len, size_t pos, size_t *end) {
    unsigned char b = (unsigned char)text[pos];
    for (uint32_t i = 0; i < t->n_added_lengths[b]; i++) { /* longest first */
        size_t n = t->added_lengths[b][i];
        if (n > len - pos) continue;
        int32_t index = tok_strmap_get(&t->added_by_content, text + pos, n);
        if (index >= 0) { *end = pos + n; return index; }
    }
    return -1;
}

/* Split text at added tokens (lstrip/rstrip absorb neighbouring whitespace, single_word needs non-word
 * neighbours; ASCII notions of both) and pre-tokenize + BPE the text between them. */
static srt_status encode_text(encode_ctx *c, const char *text, size_t len) {
    const srt_tokenizer *t = c->t;
    size_t segment = 0, pos = 0;
    while (pos < len) {
        size_t end = 0;
        int32_t index = t->n_added_lengths[(unsigned char)text[pos]] ? match_added(t, text, len, pos, &end) : -1;
        if (index < 0) { pos++; continue; }
        const tok_added *a = &t->added[index];
        if (a->single_word && ((pos > 0 && is_word_byte((unsigned char)text[pos - 1])) ||
                               (end < len && is_word_byte((unsigned char)text[end])))) {
            pos++;
            continue;
        }
        size_t start = pos;
        if (a->lstrip) while (start > segment && is_space_byte((unsigned char)text[start - 1])) start--;
        if (a->rstrip) while (end < len && is_space_byte((unsigned char)text[end])) end++;
        SRT_TRY(pretokenize(c, 0, text + segment, start - segment));
        SRT_TRY(tok_ids_push(&c->out, a->id));
        pos = segment = end;
    }
    return pretokenize(c, 0, text + segment, len - segment);
}

srt_status srt_tokenizer_encode(const srt_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids,
                                size_t *n_ids) {
    if (!t || !ids || !n_ids || (!text && len))
        return srt_error(SRT_ERR_INVALID_ARG, "srt_tokenizer_encode: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    char *repaired = NULL;
    if (len && srt_utf8_valid_prefix(text, len) != len) {
        SRT_TRY(srt_utf8_repair(text, len, &repaired, &len));
        text = repaired;
    }
    encode_ctx c = {.t = t};
    srt_status st = SRT_OK;
    c.match = pcre2_match_data_create(1, NULL);
    if (!c.match) { st = srt_error(SRT_ERR_NOMEM, "out of memory for regex match data"); goto done; }
    if (add_bos)
        for (int i = 0; i < t->n_prefix; i++) SRT_TRY_GOTO(tok_ids_push(&c.out, t->prefix_ids[i]), done);
    SRT_TRY_GOTO(encode_text(&c, text, len), done);
    if (add_bos)
        for (int i = 0; i < t->n_suffix; i++) SRT_TRY_GOTO(tok_ids_push(&c.out, t->suffix_ids[i]), done);
    if (!c.out.data) { /* a non-NULL result even for no ids */
        SRT_TRY_GOTO(tok_ids_push(&c.out, 0), done);
        c.out.len = 0;
    }
    *ids = c.out.data;
    *n_ids = c.out.len;
    c.out.data = NULL;
done:
    free(c.out.data);
    free(c.prefixed);
    tok_bpe_scratch_free(&c.scratch);
    pcre2_match_data_free(c.match);
    free(repaired);
    return st;
}
