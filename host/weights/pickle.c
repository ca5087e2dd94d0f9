/* pickle.c: the pickle virtual machine for torch.save's data.pkl (see pickle.h).
 * A stack of value pointers, a mark stack and a memo; every value is carved from one bump arena freed at the end,
 * so shared and even cyclic references need no bookkeeping. Every read is checked against the end of the data,
 * and every byte held is counted against a budget proportional to the pickle's size (pickle.h). */
#include "weights/pickle.h"
#include <string.h>

enum {
    G_ORDERED_DICT = 1, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_STORAGE_CLASS, G_HARMLESS,
};

static const struct known_global {
    const char *module, *name;
    int id;
    srt_dtype dtype;   /* storage classes */
} known_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER, 0},
    {"torch", "FloatStorage", G_STORAGE_CLASS, SRT_F32},
    {"torch", "HalfStorage", G_STORAGE_CLASS, SRT_F16},
    {"torch", "BFloat16Storage", G_STORAGE_CLASS, SRT_BF16},
    {"torch", "DoubleStorage", G_STORAGE_CLASS, SRT_F64},
    {"torch", "LongStorage", G_STORAGE_CLASS, SRT_I64},
    {"torch", "IntStorage", G_STORAGE_CLASS, SRT_I32},
    {"torch", "ShortStorage", G_STORAGE_CLASS, SRT_I16},
    {"torch", "CharStorage", G_STORAGE_CLASS, SRT_I8},
    {"torch", "ByteStorage", G_STORAGE_CLASS, SRT_U8},
    {"torch", "BoolStorage", G_STORAGE_CLASS, SRT_BOOL},
    {"torch", "device", G_HARMLESS, 0},
    {"_codecs", "encode", G_HARMLESS, 0},
};

/* A block of the bump arena every value, item array and string is carved from. */
typedef struct pk_chunk {
    struct pk_chunk *next;
    size_t used, cap, pad;      /* pad keeps data 16-byte aligned */
    unsigned char data[];
} pk_chunk;
#define PK_CHUNK ((size_t)64 << 10)

struct srt_pickle {
    const char *what;
    const uint8_t *data, *end, *p;
    pk_chunk *chunks;           /* the arena: freed together, so shared and cyclic references need no bookkeeping */
    size_t bytes, budget;       /* bytes held (arena, stack, marks, memo) and the most allowed */
    srt_pk_value *shared[4];    /* immutable values pushed without allocating: None, True, False, () */
    srt_pk_value *small_int[256]; /* BININT1 0..255, likewise made once (a state_dict holds thousands) */
    srt_pk_value **stack;
    size_t n_stack, cap_stack;
    size_t *marks;              /* stack heights at each MARK */
    size_t n_marks, cap_marks;
    srt_pk_value **memo;        /* sparse by index; NULL = unset */
    size_t cap_memo, n_memo;    /* n_memo: indices set so far (MEMOIZE stores at this index) */
};

static size_t offset_of(const srt_pickle *pk) { return (size_t)(pk->p - pk->data); }

static srt_status over_budget(srt_pickle *pk) {
    return srt_error(SRT_ERR_FORMAT, "%s: unpickling needs more than %zu bytes of memory (%d x the %zu-byte pickle + "
                     "1 MiB) at byte %zu: refusing a pickle that amplifies", pk->what, pk->budget,
                     PICKLE_BYTES_PER_BYTE, (size_t)(pk->end - pk->data), offset_of(pk));
}

/* Count n more bytes against the budget. */
static srt_status charge(srt_pickle *pk, size_t n) {
    if (n > pk->budget - pk->bytes) return over_budget(pk);
    pk->bytes += n;
    return SRT_OK;
}

/* n zeroed bytes from the arena; NULL (message recorded) past the budget or out of memory. */
static void *pk_alloc(srt_pickle *pk, size_t n) {
    if (n > pk->budget) { over_budget(pk); return NULL; }
    n = (n + 15) & ~(size_t)15;
    pk_chunk *c = pk->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > PK_CHUNK / 4 ? n : PK_CHUNK;   /* a large block gets a chunk of its own */
        if (charge(pk, sizeof *c + cap) != SRT_OK) return NULL;
        pk_chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh) { srt_error(SRT_ERR_NOMEM, "%s: out of memory unpickling", pk->what); return NULL; }
        fresh->used = 0;
        fresh->cap = cap;
        if (c && cap != PK_CHUNK) { fresh->next = c->next; c->next = fresh; }   /* keep filling the current one */
        else { fresh->next = c; pk->chunks = fresh; }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* Grow a malloc'd table (stack, marks, memo) to hold `need` elements, charging the budget. */
static srt_status grow(srt_pickle *pk, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SRT_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    SRT_TRY(charge(pk, (c - *cap) * elem));
    void *a = realloc(*arr, c * elem);
    if (!a) return srt_error(SRT_ERR_NOMEM, "%s: out of memory unpickling", pk->what);
    memset((char *)a + *cap * elem, 0, (c - *cap) * elem);
    *arr = a;
    *cap = c;
    return SRT_OK;
}

static srt_pk_value *new_value(srt_pickle *pk, srt_pk_kind kind) {
    srt_pk_value *v = pk_alloc(pk, sizeof *v);
    if (v) v->kind = kind;
    return v;
}

/* One of the immutable values (None, True, False, the empty tuple), made once per pickle. */
static srt_pk_value *shared_value(srt_pickle *pk, int which) {
    static const srt_pk_kind kinds[4] = {SRT_PK_NONE, SRT_PK_BOOL, SRT_PK_BOOL, SRT_PK_TUPLE};
    if (!pk->shared[which]) {
        pk->shared[which] = new_value(pk, kinds[which]);
        if (pk->shared[which]) pk->shared[which]->i = which == 1;
    }
    return pk->shared[which];
}

static srt_status push(srt_pickle *pk, srt_pk_value *v) {
    if (!v) return SRT_ERR_NOMEM;   /* the message is recorded where the allocation failed */
    if (pk->n_stack >= PICKLE_MAX_STACK)
        return srt_error(SRT_ERR_FORMAT, "%s: the pickle stack grows past %zu entries at byte %zu", pk->what,
                         PICKLE_MAX_STACK, offset_of(pk));
    SRT_TRY(grow(pk, (void **)&pk->stack, &pk->cap_stack, pk->n_stack + 1, sizeof *pk->stack));
    pk->stack[pk->n_stack++] = v;
    return SRT_OK;
}

/* Make room for `extra` more items in a tuple, list or dict (item arrays live in the arena). */
static srt_status reserve_items(srt_pickle *pk, srt_pk_value *seq, size_t extra) {
    if (seq->cap - seq->n >= extra) return SRT_OK;
    size_t cap = seq->cap ? seq->cap * 2 : 4;
    if (cap < seq->n + extra) cap = seq->n + extra;
    srt_pk_value **items = pk_alloc(pk, cap * sizeof *items);
    if (!items) return SRT_ERR_NOMEM;
    if (seq->n) memcpy(items, seq->items, seq->n * sizeof *items);
    seq->items = items;
    seq->cap = cap;
    return SRT_OK;
}

static srt_status append_item(srt_pickle *pk, srt_pk_value *seq, srt_pk_value *item) {
    SRT_TRY(reserve_items(pk, seq, 1));
    seq->items[seq->n++] = item;
    return SRT_OK;
}

static srt_status bad(srt_pickle *pk, const char *problem) {
    return srt_error(SRT_ERR_FORMAT, "%s: %s at byte %zu", pk->what, problem, offset_of(pk));
}

static srt_status pop(srt_pickle *pk, srt_pk_value **v) {
    size_t floor = pk->n_marks ? pk->marks[pk->n_marks - 1] : 0;
    if (pk->n_stack <= floor) return bad(pk, "stack underflow");
    *v = pk->stack[--pk->n_stack];
    return SRT_OK;
}

/* The object on top of the stack (above the last MARK), left in place. */
static srt_status top(srt_pickle *pk, srt_pk_value **v) {
    size_t floor = pk->n_marks ? pk->marks[pk->n_marks - 1] : 0;
    if (pk->n_stack <= floor) return bad(pk, "stack underflow");
    *v = pk->stack[pk->n_stack - 1];
    return SRT_OK;
}

static srt_status need(srt_pickle *pk, size_t n) {
    if ((size_t)(pk->end - pk->p) < n) return bad(pk, "truncated pickle");
    return SRT_OK;
}

static uint64_t read_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Pop everything above the last MARK into a new TUPLE/LIST value. */
static srt_status pop_mark(srt_pickle *pk, srt_pk_kind kind, srt_pk_value **out) {
    if (!pk->n_marks) return bad(pk, "no MARK on the stack");
    size_t base = pk->marks[--pk->n_marks];
    srt_pk_value *v = new_value(pk, kind);
    if (!v) return SRT_ERR_NOMEM;
    SRT_TRY(reserve_items(pk, v, pk->n_stack - base));
    for (size_t i = base; i < pk->n_stack; i++) SRT_TRY(append_item(pk, v, pk->stack[i]));
    pk->n_stack = base;
    *out = v;
    return SRT_OK;
}

static srt_status push_string(srt_pickle *pk, srt_pk_kind kind, uint64_t n) {
    SRT_TRY(need(pk, n));
    srt_pk_value *v = new_value(pk, kind);
    if (!v) return SRT_ERR_NOMEM;
    v->str = pk_alloc(pk, (size_t)n + 1);
    if (!v->str) return SRT_ERR_NOMEM;
    memcpy(v->str, pk->p, (size_t)n);
    v->str[n] = 0;
    v->len = (size_t)n;
    pk->p += n;
    return push(pk, v);
}

static srt_status push_int(srt_pickle *pk, int64_t i) {
    srt_pk_value *v = new_value(pk, SRT_PK_INT);
    if (v) v->i = i;
    return push(pk, v);
}

static srt_status make_global(srt_pickle *pk, const char *module, size_t ml, const char *name, size_t nl) {
    for (size_t i = 0; i < sizeof known_globals / sizeof known_globals[0]; i++) {
        const struct known_global *g = &known_globals[i];
        if (strlen(g->module) == ml && strlen(g->name) == nl && !memcmp(g->module, module, ml) &&
            !memcmp(g->name, name, nl)) {
            srt_pk_value *v = new_value(pk, SRT_PK_GLOBAL);
            if (!v) return SRT_ERR_NOMEM;
            v->global_id = g->id;
            v->dtype = g->dtype;
            return push(pk, v);
        }
    }
    return srt_error(SRT_ERR_UNSUPPORTED, "%s: refusing unknown global '%.*s.%.*s' at byte %zu (only torch "
                     "state_dict objects are allowed)", pk->what, (int)(ml > 200 ? 200 : ml), module,
                     (int)(nl > 200 ? 200 : nl), name, offset_of(pk));
}

static srt_status op_global(srt_pickle *pk) {
    const char *module = (const char *)pk->p;
    const uint8_t *nl1 = memchr(pk->p, '\n', (size_t)(pk->end - pk->p));
    if (!nl1) return bad(pk, "unterminated GLOBAL");
    const char *name = (const char *)nl1 + 1;
    const uint8_t *nl2 = memchr(nl1 + 1, '\n', (size_t)(pk->end - nl1 - 1));
    if (!nl2) return bad(pk, "unterminated GLOBAL");
    pk->p = nl2 + 1;
    return make_global(pk, module, (size_t)((const char *)nl1 - module), name, (size_t)((const char *)nl2 - name));
}

static int as_int(const srt_pk_value *v, int64_t *out) {
    if (!v || (v->kind != SRT_PK_INT && v->kind != SRT_PK_BOOL)) return 0;
    *out = v->i;
    return 1;
}

/* ('storage', <storage class>, key, location, numel) */
static srt_status persistent_load(srt_pickle *pk, const srt_pk_value *pid, srt_pk_value **out) {
    int64_t numel;
    if (pid->kind != SRT_PK_TUPLE || pid->n < 5 || pid->items[0]->kind != SRT_PK_STR ||
        strcmp(pid->items[0]->str, "storage") != 0)
        return bad(pk, "persistent id is not ('storage', class, key, location, numel)");
    const srt_pk_value *cls = pid->items[1], *key = pid->items[2];
    if (cls->kind != SRT_PK_GLOBAL || cls->global_id != G_STORAGE_CLASS)
        return bad(pk, "persistent id names no known typed storage class");
    if (!as_int(pid->items[4], &numel) || numel < 0) return bad(pk, "storage element count is not an integer >= 0");
    srt_pk_value *s = new_value(pk, SRT_PK_STORAGE);
    if (!s) return SRT_ERR_NOMEM;
    if (key->kind == SRT_PK_STR && strlen(key->str) == key->len && key->len > 0) {
        s->str = pk_alloc(pk, key->len + 1);
        if (!s->str) return SRT_ERR_NOMEM;
        memcpy(s->str, key->str, key->len + 1);
        s->len = key->len;
    } else {
        return bad(pk, "storage key is not a string");
    }
    s->dtype = cls->dtype;
    s->numel = numel;
    *out = s;
    return SRT_OK;
}

static srt_status int_tuple(srt_pickle *pk, const srt_pk_value *t, int64_t *out, int *n, const char *what) {
    if (t->kind != SRT_PK_TUPLE && t->kind != SRT_PK_LIST) return bad(pk, what);
    if (t->n > SRT_MAX_DIMS)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: a tensor has %zu dims (at most %d supported)", pk->what, t->n,
                         SRT_MAX_DIMS);
    for (size_t i = 0; i < t->n; i++)
        if (!as_int(t->items[i], &out[i]) || out[i] < 0) return bad(pk, what);
    *n = (int)t->n;
    return SRT_OK;
}

static srt_status reduce(srt_pickle *pk, const srt_pk_value *fn, const srt_pk_value *args, srt_pk_value **out) {
    if (fn->kind != SRT_PK_GLOBAL) return bad(pk, "REDUCE of something that is not a known callable");
    if (args->kind != SRT_PK_TUPLE) return bad(pk, "REDUCE arguments are not a tuple");
    switch (fn->global_id) {
    case G_ORDERED_DICT:
        if (args->n != 0) return bad(pk, "OrderedDict called with arguments");
        *out = new_value(pk, SRT_PK_DICT);
        return *out ? SRT_OK : SRT_ERR_NOMEM;
    case G_REBUILD_TENSOR: {
        /* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
        if (args->n < 4 || args->items[0]->kind != SRT_PK_STORAGE)
            return bad(pk, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
        srt_pk_value *t = new_value(pk, SRT_PK_TENSOR);
        if (!t || !(t->size = pk_alloc(pk, 2 * SRT_MAX_DIMS * sizeof *t->size))) return SRT_ERR_NOMEM;
        t->stride = t->size + SRT_MAX_DIMS;
        t->storage = args->items[0];
        if (!as_int(args->items[1], &t->storage_offset) || t->storage_offset < 0)
            return bad(pk, "tensor storage offset is not an integer >= 0");
        int ns = 0;
        SRT_TRY(int_tuple(pk, args->items[2], t->size, &t->ndim, "tensor size is not a tuple of integers >= 0"));
        SRT_TRY(int_tuple(pk, args->items[3], t->stride, &ns, "tensor stride is not a tuple of integers >= 0"));
        if (ns != t->ndim) return bad(pk, "tensor size and stride have different lengths");
        *out = t;
        return SRT_OK;
    }
    case G_REBUILD_PARAMETER:
        if (args->n < 1 || args->items[0]->kind != SRT_PK_TENSOR) return bad(pk, "_rebuild_parameter of a non-tensor");
        *out = args->items[0];
        return SRT_OK;
    case G_HARMLESS:
        *out = new_value(pk, SRT_PK_OBJECT);
        return *out ? SRT_OK : SRT_ERR_NOMEM;
    default:
        return bad(pk, "REDUCE of a storage class");
    }
}

static srt_status memo_put(srt_pickle *pk, uint64_t index) {
    srt_pk_value *v = NULL;
    SRT_TRY(top(pk, &v));
    if (index > (uint64_t)(pk->end - pk->data)) return bad(pk, "memo index out of range");
    SRT_TRY(grow(pk, (void **)&pk->memo, &pk->cap_memo, (size_t)index + 1, sizeof *pk->memo));
    if (!pk->memo[index]) pk->n_memo++;
    pk->memo[index] = v;
    return SRT_OK;
}

static srt_status memo_get(srt_pickle *pk, uint64_t index) {
    if (index >= pk->cap_memo || !pk->memo[index]) return bad(pk, "memo get of an unset index");
    return push(pk, pk->memo[index]);
}

static srt_status set_items(srt_pickle *pk) {
    if (!pk->n_marks) return bad(pk, "SETITEMS without MARK");
    size_t base = pk->marks[--pk->n_marks];
    if (base == 0 || (pk->n_stack - base) % 2) return bad(pk, "SETITEMS needs a dict and key/value pairs");
    srt_pk_value *dict = pk->stack[base - 1];
    if (dict->kind != SRT_PK_DICT) return bad(pk, "SETITEMS on a non-dict");
    for (size_t i = base; i < pk->n_stack; i++) SRT_TRY(append_item(pk, dict, pk->stack[i]));
    pk->n_stack = base;
    return SRT_OK;
}

static srt_status appends(srt_pickle *pk) {
    if (!pk->n_marks) return bad(pk, "APPENDS without MARK");
    size_t base = pk->marks[--pk->n_marks];
    if (base == 0) return bad(pk, "APPENDS needs a list");
    srt_pk_value *list = pk->stack[base - 1];
    if (list->kind != SRT_PK_LIST) return bad(pk, "APPENDS on a non-list");
    for (size_t i = base; i < pk->n_stack; i++) SRT_TRY(append_item(pk, list, pk->stack[i]));
    pk->n_stack = base;
    return SRT_OK;
}

/* One opcode; *done is set by STOP. */
static srt_status step(srt_pickle *pk, int *done) {
    SRT_TRY(need(pk, 1));
    uint8_t op = *pk->p++;
    srt_pk_value *a = NULL, *b = NULL, *c = NULL, *v = NULL;
    switch (op) {
    case 0x80: SRT_TRY(need(pk, 1)); if (*pk->p < 2 || *pk->p > 5) return bad(pk, "unsupported pickle protocol");
               pk->p++; return SRT_OK;                                      /* PROTO */
    case 0x95: SRT_TRY(need(pk, 8)); pk->p += 8; return SRT_OK;             /* FRAME */
    case '.': *done = 1; return SRT_OK;                                     /* STOP */
    case '}': return push(pk, new_value(pk, SRT_PK_DICT));                  /* EMPTY_DICT */
    case ']': return push(pk, new_value(pk, SRT_PK_LIST));                  /* EMPTY_LIST */
    case ')': return push(pk, shared_value(pk, 3));                         /* EMPTY_TUPLE */
    case 'N': return push(pk, shared_value(pk, 0));                         /* NONE */
    case 0x88: return push(pk, shared_value(pk, 1));                        /* NEWTRUE */
    case 0x89: return push(pk, shared_value(pk, 2));                        /* NEWFALSE */
    case '(':                                                               /* MARK */
        if (pk->n_marks >= PICKLE_MAX_STACK) return bad(pk, "too many nested MARKs");
        SRT_TRY(grow(pk, (void **)&pk->marks, &pk->cap_marks, pk->n_marks + 1, sizeof *pk->marks));
        pk->marks[pk->n_marks++] = pk->n_stack;
        return SRT_OK;
    case 't': SRT_TRY(pop_mark(pk, SRT_PK_TUPLE, &v)); return push(pk, v); /* TUPLE */
    case 'l': SRT_TRY(pop_mark(pk, SRT_PK_LIST, &v)); return push(pk, v);  /* LIST */
    case 'd':                                                               /* DICT */
        SRT_TRY(pop_mark(pk, SRT_PK_DICT, &v));
        if (v->n % 2) return bad(pk, "DICT with an odd number of items");
        return push(pk, v);
    case 0x85: case 0x86: case 0x87: {                                      /* TUPLE1..3 */
        int n = op - 0x84;
        srt_pk_value *items[3];
        for (int i = n - 1; i >= 0; i--) SRT_TRY(pop(pk, &items[i]));
        v = new_value(pk, SRT_PK_TUPLE);
        if (!v) return SRT_ERR_NOMEM;
        for (int i = 0; i < n; i++) SRT_TRY(append_item(pk, v, items[i]));
        return push(pk, v);
    }
    case 'X': SRT_TRY(need(pk, 4)); pk->p += 4; return push_string(pk, SRT_PK_STR, read_le(pk->p - 4, 4));
    case 0x8c: SRT_TRY(need(pk, 1)); pk->p += 1; return push_string(pk, SRT_PK_STR, pk->p[-1]);
    case 0x8d: SRT_TRY(need(pk, 8)); pk->p += 8; return push_string(pk, SRT_PK_STR, read_le(pk->p - 8, 8));
    case 'B': SRT_TRY(need(pk, 4)); pk->p += 4; return push_string(pk, SRT_PK_BYTES, read_le(pk->p - 4, 4));
    case 'C': SRT_TRY(need(pk, 1)); pk->p += 1; return push_string(pk, SRT_PK_BYTES, pk->p[-1]);
    case 0x8e: SRT_TRY(need(pk, 8)); pk->p += 8; return push_string(pk, SRT_PK_BYTES, read_le(pk->p - 8, 8));
    case 'J': SRT_TRY(need(pk, 4)); pk->p += 4; return push_int(pk, (int32_t)(uint32_t)read_le(pk->p - 4, 4));
    case 'K':                                                               /* BININT1 */
        SRT_TRY(need(pk, 1));
        v = pk->small_int[*pk->p];
        if (!v && (v = new_value(pk, SRT_PK_INT))) v->i = *pk->p;
        pk->small_int[*pk->p++] = v;
        return push(pk, v);
    case 'M': SRT_TRY(need(pk, 2)); pk->p += 2; return push_int(pk, (int64_t)read_le(pk->p - 2, 2));
    case 0x8a: case 0x8b: {                                                 /* LONG1 LONG4 */
        int width = op == 0x8a ? 1 : 4;
        SRT_TRY(need(pk, (size_t)width));
        uint64_t n = read_le(pk->p, width);
        pk->p += width;
        if (n > 8) return bad(pk, "integer wider than 64 bits");
        SRT_TRY(need(pk, (size_t)n));
        uint64_t u = read_le(pk->p, (int)n);
        if (n > 0 && n < 8 && (pk->p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
        pk->p += n;
        return push_int(pk, (int64_t)u);
    }
    case 'G': {                                                             /* BINFLOAT, big-endian */
        SRT_TRY(need(pk, 8));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | pk->p[i];
        pk->p += 8;
        v = new_value(pk, SRT_PK_FLOAT);
        if (v) memcpy(&v->f, &u, 8);
        return push(pk, v);
    }
    case 'c': return op_global(pk);                                         /* GLOBAL */
    case 0x93:                                                              /* STACK_GLOBAL */
        SRT_TRY(pop(pk, &b));
        SRT_TRY(pop(pk, &a));
        if (a->kind != SRT_PK_STR || b->kind != SRT_PK_STR) return bad(pk, "STACK_GLOBAL of non-strings");
        return make_global(pk, a->str, a->len, b->str, b->len);
    case 'R':                                                               /* REDUCE */
        SRT_TRY(pop(pk, &b));
        SRT_TRY(pop(pk, &a));
        SRT_TRY(reduce(pk, a, b, &v));
        return push(pk, v);
    case 'Q':                                                               /* BINPERSID */
        SRT_TRY(pop(pk, &a));
        SRT_TRY(persistent_load(pk, a, &v));
        return push(pk, v);
    case 'b':                                                               /* BUILD: state is ignored */
        SRT_TRY(pop(pk, &b));
        SRT_TRY(top(pk, &a));
        if (a->kind != SRT_PK_DICT && a->kind != SRT_PK_OBJECT && a->kind != SRT_PK_TENSOR)
            return bad(pk, "BUILD on an object that cannot take state");
        return SRT_OK;
    case 's':                                                               /* SETITEM */
        SRT_TRY(pop(pk, &c));
        SRT_TRY(pop(pk, &b));
        SRT_TRY(top(pk, &a));
        if (a->kind != SRT_PK_DICT) return bad(pk, "SETITEM on a non-dict");
        SRT_TRY(append_item(pk, a, b));
        return append_item(pk, a, c);
    case 'u': return set_items(pk);                                         /* SETITEMS */
    case 'a':                                                               /* APPEND */
        SRT_TRY(pop(pk, &b));
        SRT_TRY(top(pk, &a));
        if (a->kind != SRT_PK_LIST) return bad(pk, "APPEND on a non-list");
        return append_item(pk, a, b);
    case 'e': return appends(pk);                                           /* APPENDS */
    case 'q': SRT_TRY(need(pk, 1)); pk->p += 1; return memo_put(pk, pk->p[-1]);
    case 'r': SRT_TRY(need(pk, 4)); pk->p += 4; return memo_put(pk, read_le(pk->p - 4, 4));
    case 0x94: return memo_put(pk, pk->n_memo);                             /* MEMOIZE */
    case 'h': SRT_TRY(need(pk, 1)); pk->p += 1; return memo_get(pk, pk->p[-1]);
    case 'j': SRT_TRY(need(pk, 4)); pk->p += 4; return memo_get(pk, read_le(pk->p - 4, 4));
    case '0': return pop(pk, &a);                                           /* POP */
    case '1':                                                               /* POP_MARK */
        if (!pk->n_marks) return bad(pk, "POP_MARK without MARK");
        pk->n_stack = pk->marks[--pk->n_marks];
        return SRT_OK;
    case '2':                                                               /* DUP */
        SRT_TRY(top(pk, &a));
        return push(pk, a);
    default:
        pk->p--;
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: unsupported pickle opcode 0x%02x at byte %zu", pk->what, op,
                         offset_of(pk));
    }
}

srt_status srt_pickle_load(const uint8_t *data, size_t len, const char *what, srt_pickle **out,
                           const srt_pk_value **root) {
    *out = NULL;
    *root = NULL;
    srt_pickle *pk = srt_calloc(1, sizeof *pk, "a pickle reader");
    if (!pk) return SRT_ERR_NOMEM;
    pk->what = what;
    pk->data = pk->p = data;
    pk->end = data + len;
    pk->budget = len > (SIZE_MAX - PICKLE_BYTES_FLOOR) / PICKLE_BYTES_PER_BYTE ? SIZE_MAX
               : len * PICKLE_BYTES_PER_BYTE + PICKLE_BYTES_FLOOR;
    int done = 0;
    srt_status st = SRT_OK;
    while (!done && st == SRT_OK) st = step(pk, &done);
    if (st == SRT_OK && pk->n_stack != 1) st = bad(pk, "STOP with a stack that does not hold one object");
    if (st != SRT_OK) { srt_pickle_free(pk); return st; }
    *root = pk->stack[0];
    *out = pk;
    return SRT_OK;
}

void srt_pickle_free(srt_pickle *pk) {
    if (!pk) return;
    while (pk->chunks) {
        pk_chunk *next = pk->chunks->next;
        free(pk->chunks);
        pk->chunks = next;
    }
    free(pk->stack);
    free(pk->marks);
    free(pk->memo);
    free(pk);
}

const srt_pk_value *srt_pk_dict_get(const srt_pk_value *dict, const char *key) {
    if (!dict || dict->kind != SRT_PK_DICT) return NULL;
    for (size_t i = 0; i + 1 < dict->n; i += 2) {
        const srt_pk_value *k = dict->items[i];
        if (k->kind == SRT_PK_STR && strcmp(k->str, key) == 0) return dict->items[i + 1];
    }
    return NULL;
}
