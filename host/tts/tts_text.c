/* tts_text.c: sentence splitting for long texts: sentences end at . ! ? (plus closing quotes/brackets) followed
 * by whitespace or the end, and at newlines; consecutive sentences are packed into pieces of at most max_chars
 * bytes; a sentence longer than that is cut at its last space within the limit, or at a UTF-8 boundary. */
#include "tts/tts_internal.h"
#include <ctype.h>

typedef struct piece_list { char **items; int n, cap; } piece_list;

static srt_status add_piece(piece_list *pl, const char *s, size_t len) {
    while (len && isspace((unsigned char)*s)) { s++; len--; }
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (!len) return SRT_OK;
    if (pl->n == pl->cap) {
        int cap = pl->cap ? 2 * pl->cap : 8;
        char **grown = realloc(pl->items, sizeof(char *) * (size_t)cap);
        if (!grown) return srt_error(SRT_ERR_NOMEM, "out of memory splitting text");
        pl->items = grown;
        pl->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p) return srt_error(SRT_ERR_NOMEM, "out of memory splitting text");
    memcpy(p, s, len);
    p[len] = 0;
    pl->items[pl->n++] = p;
    return SRT_OK;
}

/* Length of the sentence starting at s (up to and including its end mark and closers). */
static size_t sentence_len(const char *s) {
    size_t i = 0;
    for (; s[i]; i++) {
        if (s[i] == '\n') return i + 1;
        if (s[i] == '.' || s[i] == '!' || s[i] == '?') {
            size_t j = i + 1;
            while (s[j] == '.' || s[j] == '!' || s[j] == '?') j++;
            while (s[j] == '"' || s[j] == '\'' || s[j] == ')' || s[j] == ']') j++;
            if (!s[j] || isspace((unsigned char)s[j])) return j;
            i = j - 1;
        }
    }
    return i;
}

/* Cut a too-long sentence [s, s+len) into pieces of at most max bytes. */
static srt_status add_long(piece_list *pl, const char *s, size_t len, size_t max) {
    while (len > max) {
        size_t cut = max;
        while (cut > 0 && !isspace((unsigned char)s[cut])) cut--;
        if (cut == 0) {                          /* no space: cut at a character boundary */
            cut = max;
            while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
            if (cut == 0) cut = max;
        }
        SRT_TRY(add_piece(pl, s, cut));
        s += cut;
        len -= cut;
        while (len && isspace((unsigned char)*s)) { s++; len--; }
    }
    return add_piece(pl, s, len);
}

void tts_free_pieces(char **pieces, int n) {
    for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
}

srt_status srt_tts_split_text(const char *text, int max_chars, char ***pieces, int *n_pieces) {
    *pieces = NULL;
    *n_pieces = 0;
    size_t max = max_chars > 0 ? (size_t)max_chars : 200;
    piece_list sent = {0}, out = {0};
    srt_status st = SRT_OK;
    for (const char *s = text; *s && st == SRT_OK;) {
        size_t len = sentence_len(s);
        st = add_piece(&sent, s, len);
        s += len;
    }
    /* pack sentences: join with one space while the piece stays within max */
    char *buf = st == SRT_OK ? malloc(max + 1) : NULL;
    size_t used = 0;
    if (st == SRT_OK && !buf) st = srt_error(SRT_ERR_NOMEM, "out of memory splitting text");
    for (int i = 0; i < sent.n && st == SRT_OK; i++) {
        size_t len = strlen(sent.items[i]);
        if (used && used + 1 + len <= max) {
            buf[used++] = ' ';
            memcpy(buf + used, sent.items[i], len);
            used += len;
            continue;
        }
        if (used) { st = add_piece(&out, buf, used); used = 0; }
        if (st != SRT_OK) break;
        if (len > max) st = add_long(&out, sent.items[i], len, max);
        else { memcpy(buf, sent.items[i], len); used = len; }
    }
    if (st == SRT_OK && used) st = add_piece(&out, buf, used);
    free(buf);
    tts_free_pieces(sent.items, sent.n);
    if (st != SRT_OK) { tts_free_pieces(out.items, out.n); return st; }
    *pieces = out.items;
    *n_pieces = out.n;
    return SRT_OK;
}
