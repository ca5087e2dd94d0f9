/* tokenizer_json.h: a small in-place JSON reader for tokenizer.json. The whole document becomes one array of
 * 24-byte nodes in document order and strings are unescaped inside the file buffer itself, so the 9 MB Llama 3
 * file parses without a million small allocations (cJSON's tree of it costs ~80 MB of fresh pages). */
#ifndef SRT_LM_TOKENIZER_JSON_H
#define SRT_LM_TOKENIZER_JSON_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

typedef enum tj_type { TJ_NULL, TJ_FALSE, TJ_TRUE, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT } tj_type;

typedef struct tj_node {
    uint32_t type;             /* tj_type */
    uint32_t len;              /* string: bytes (decoded); array/object: number of children; number: text length */
    uint32_t off;              /* string: offset of the decoded NUL-terminated text; number: offset of its text */
    uint32_t next;             /* index of the next sibling, 0 for none; a container's first child is index + 1 */
    uint32_t key_off, key_len; /* member of an object: its key (decoded, NUL-terminated) */
} tj_node;

typedef struct tj_doc {
    char *text;        /* the file, modified in place (borrowed) */
    tj_node *nodes;    /* (n_nodes) node 0 is the root */
    size_t n_nodes, cap;
} tj_doc;

/* Parse text[0..size) (text must have a NUL at text[size]); text is modified. On failure returns
 * SRT_ERR_FORMAT (message naming `path` and the byte offset). */
srt_status tj_parse(const char *path, char *text, size_t size, tj_doc *doc);
void tj_free(tj_doc *doc);

/* Member `key` of an object (NULL when absent or when obj is not an object / NULL). */
const tj_node *tj_get(const tj_doc *doc, const tj_node *obj, const char *key);
/* First child of an array/object, next sibling (NULL at the end). */
const tj_node *tj_first(const tj_doc *doc, const tj_node *node);
const tj_node *tj_next(const tj_doc *doc, const tj_node *node);

static inline int tj_is(const tj_node *n, tj_type type) { return n && n->type == (uint32_t)type; }
static inline const char *tj_str(const tj_doc *doc, const tj_node *n) { return doc->text + n->off; }
static inline const char *tj_key(const tj_doc *doc, const tj_node *n) { return doc->text + n->key_off; }
/* String value or NULL when n is not a string. */
const char *tj_string(const tj_doc *doc, const tj_node *n);
/* 1 and *value when n is an integral number (no fraction or exponent) in int64 range. */
int tj_int(const tj_doc *doc, const tj_node *n, int64_t *value);
/* Number value (NaN when n is not a number). */
double tj_number(const tj_doc *doc, const tj_node *n);
/* true/false; `fallback` when absent or not a boolean. */
int tj_bool(const tj_node *n, int fallback);

#endif
