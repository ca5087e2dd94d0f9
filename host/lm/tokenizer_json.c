/* tokenizer_json.c: the in-place JSON reader behind tokenizer.json loading (see tokenizer_json.h): a recursive
 * descent parser writing nodes in document order and unescaping strings over their own bytes. */
#include "lm/tokenizer_json.h"
#include "lm/unicode.h"
#include "common.h"
#include <math.h>
#include <string.h>

#define TJ_MAX_DEPTH 128

typedef struct tj_parser {
    char *s;
    size_t n, pos;
    tj_doc *doc;
    const char *error; /* what went wrong at pos */
} tj_parser;

static void skip_ws(tj_parser *p) {
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
        p->pos++;
    }
}

static int new_node(tj_parser *p, tj_type type, uint32_t *index) {
    tj_doc *d = p->doc;
    if (d->n_nodes == d->cap) {
        size_t cap = d->cap * 2;
        tj_node *grown = realloc(d->nodes, cap * sizeof *grown);
        if (!grown) { p->error = "out of memory"; return 0; }
        d->nodes = grown;
        d->cap = cap;
    }
    *index = (uint32_t)d->n_nodes++;
    d->nodes[*index] = (tj_node){.type = (uint32_t)type};
    return 1;
}

static int hex4(const char *s, uint32_t *value) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint32_t)d;
    }
    *value = v;
    return 1;
}

/* At an opening quote: unescape the string in place; off and len receive the decoded text. */
static int parse_string(tj_parser *p, uint32_t *off, uint32_t *len) {
    char *s = p->s;
    size_t r = ++p->pos, w = r, start = r;
    for (;;) {
        if (r >= p->n) { p->error = "unterminated string"; return 0; }
        unsigned char c = (unsigned char)s[r];
        if (c == '"') break;
        if (c < 0x20) { p->pos = r; p->error = "control character in a string"; return 0; }
        if (c != '\\') { s[w++] = s[r++]; continue; }
        if (r + 1 >= p->n) { p->error = "unterminated string"; return 0; }
        char e = s[r + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            s[w++] = decoded[simple - "\"\\/bfnrt"];
            r += 2;
            continue;
        }
        uint32_t cp;
        if (e != 'u' || r + 6 > p->n || !hex4(s + r + 2, &cp)) { p->pos = r; p->error = "bad escape in a string"; return 0; }
        r += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair makes one character */
            uint32_t low;
            if (r + 6 <= p->n && s[r] == '\\' && s[r + 1] == 'u' && hex4(s + r + 2, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                r += 6;
            } else cp = 0xFFFD;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;
        char utf8[4];
        int k = srt_utf8_encode(cp, utf8); /* never longer than the escape it replaces */
        memcpy(s + w, utf8, (size_t)k);
        w += (size_t)k;
    }
    s[w] = 0; /* w <= r: at most overwrites the closing quote */
    p->pos = r + 1;
    *off = (uint32_t)start;
    *len = (uint32_t)(w - start);
    return 1;
}

static int parse_value(tj_parser *p, uint32_t *index, int depth);

static int parse_container(tj_parser *p, uint32_t index, int is_object, int depth) {
    char close = is_object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    uint32_t count = 0, prev = 0;
    if (p->pos < p->n && p->s[p->pos] == close) { p->pos++; return 1; }
    for (;;) {
        uint32_t key_off = 0, key_len = 0, child;
        skip_ws(p);
        if (is_object) {
            if (p->pos >= p->n || p->s[p->pos] != '"') { p->error = "expected a key string"; return 0; }
            if (!parse_string(p, &key_off, &key_len)) return 0;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') { p->error = "expected ':'"; return 0; }
            p->pos++;
        }
        if (!parse_value(p, &child, depth + 1)) return 0;
        p->doc->nodes[child].key_off = key_off;
        p->doc->nodes[child].key_len = key_len;
        if (count) p->doc->nodes[prev].next = child;
        prev = child;
        count++;
        skip_ws(p);
        if (p->pos >= p->n) { p->error = is_object ? "unterminated object" : "unterminated array"; return 0; }
        char c = p->s[p->pos++];
        if (c == close) break;
        if (c != ',') { p->pos--; p->error = is_object ? "expected ',' or '}'" : "expected ',' or ']'"; return 0; }
    }
    p->doc->nodes[index].len = count;
    return 1;
}

static int parse_value(tj_parser *p, uint32_t *index, int depth) {
    if (depth > TJ_MAX_DEPTH) { p->error = "nested too deeply"; return 0; }
    skip_ws(p);
    if (p->pos >= p->n) { p->error = "unexpected end of file"; return 0; }
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        if (!new_node(p, c == '{' ? TJ_OBJECT : TJ_ARRAY, index)) return 0;
        return parse_container(p, *index, c == '{', depth);
    }
    if (c == '"') {
        uint32_t off, len;
        if (!new_node(p, TJ_STRING, index) || !parse_string(p, &off, &len)) return 0;
        p->doc->nodes[*index].off = off;
        p->doc->nodes[*index].len = len;
        return 1;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t start = p->pos, digits = 0;
        while (p->pos < p->n && strchr("+-0123456789.eE", p->s[p->pos]) && p->s[p->pos]) {
            digits += p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
            p->pos++;
        }
        if (!digits) { p->error = "bad number"; return 0; }
        if (!new_node(p, TJ_NUMBER, index)) return 0;
        p->doc->nodes[*index].off = (uint32_t)start;
        p->doc->nodes[*index].len = (uint32_t)(p->pos - start);
        return 1;
    }
    static const struct { const char *word; tj_type type; } literals[] = {
        {"true", TJ_TRUE}, {"false", TJ_FALSE}, {"null", TJ_NULL}};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(literals[i].word);
        if (p->n - p->pos >= k && !memcmp(p->s + p->pos, literals[i].word, k)) {
            p->pos += k;
            return new_node(p, literals[i].type, index);
        }
    }
    p->error = "unexpected character";
    return 0;
}

srt_status tj_parse(const char *path, char *text, size_t size, tj_doc *doc) {
    memset(doc, 0, sizeof *doc);
    if (size >= UINT32_MAX) return srt_error(SRT_ERR_RANGE, "%s: JSON file too large (%zu bytes)", path, size);
    doc->text = text;
    doc->cap = size / 16 + 16;
    doc->nodes = srt_malloc(doc->cap * sizeof *doc->nodes, "JSON nodes");
    if (!doc->nodes) return SRT_ERR_NOMEM;
    tj_parser p = {text, size, 0, doc, NULL};
    uint32_t root;
    if (parse_value(&p, &root, 0)) {
        skip_ws(&p);
        if (p.pos == p.n) return SRT_OK;
        p.error = "trailing characters after the JSON value";
    }
    tj_free(doc);
    if (!strcmp(p.error, "out of memory")) return srt_error(SRT_ERR_NOMEM, "%s: out of memory parsing JSON", path);
    return srt_error(SRT_ERR_FORMAT, "%s: invalid JSON at byte %zu of %zu: %s", path, p.pos, size, p.error);
}

void tj_free(tj_doc *doc) {
    free(doc->nodes);
    memset(doc, 0, sizeof *doc);
}

const tj_node *tj_first(const tj_doc *doc, const tj_node *node) {
    (void)doc; /* children follow their container */
    if (!node || (node->type != TJ_ARRAY && node->type != TJ_OBJECT) || !node->len) return NULL;
    return node + 1;
}

const tj_node *tj_next(const tj_doc *doc, const tj_node *node) {
    return node && node->next ? &doc->nodes[node->next] : NULL;
}

const tj_node *tj_get(const tj_doc *doc, const tj_node *obj, const char *key) {
    if (!tj_is(obj, TJ_OBJECT)) return NULL;
    size_t n = strlen(key);
    for (const tj_node *m = tj_first(doc, obj); m; m = tj_next(doc, m))
        if (m->key_len == n && !memcmp(tj_key(doc, m), key, n)) return m;
    return NULL;
}

const char *tj_string(const tj_doc *doc, const tj_node *n) { return tj_is(n, TJ_STRING) ? tj_str(doc, n) : NULL; }

int tj_int(const tj_doc *doc, const tj_node *n, int64_t *value) {
    if (!tj_is(n, TJ_NUMBER)) return 0;
    const char *s = doc->text + n->off;
    size_t i = 0, len = n->len;
    int negative = s[0] == '-';
    if (negative) i++;
    if (i == len) return 0;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0; /* fraction or exponent */
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = negative ? -v : v;
    return 1;
}

double tj_number(const tj_doc *doc, const tj_node *n) {
    if (!tj_is(n, TJ_NUMBER) || n->len >= 64) return NAN;
    char buf[64];
    memcpy(buf, doc->text + n->off, n->len);
    buf[n->len] = 0;
    return strtod(buf, NULL);
}

int tj_bool(const tj_node *n, int fallback) {
    if (tj_is(n, TJ_TRUE)) return 1;
    if (tj_is(n, TJ_FALSE)) return 0;
    return fallback;
}
