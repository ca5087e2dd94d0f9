/* tokenizer_load.c: reads a Hugging Face tokenizer.json into an srt_tokenizer: the BPE model (vocab, merges,
 * ignore_merges), added tokens (and their lengths per first byte), pre-tokenizer steps, post-processor special ids and the
 * decoder check. Anything the engine does not implement is refused with SRT_ERR_UNSUPPORTED naming it. */
#include "lm/tokenizer_internal.h"
#include "lm/tokenizer_json.h"
#include "lm/unicode.h"
#include <string.h>

/* GPT-2's pre-tokenizer regex (ByteLevel with use_regex true). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* The tokenizer being filled and the parsed document it comes from. */
typedef struct loader {
    srt_tokenizer *t;
    const char *path;
    const tj_doc *doc;
    size_t file_size;  /* the id tables are sized by the largest id: it must stay below this */
} loader;

static const tj_node *member(const loader *L, const tj_node *obj, const char *key) { return tj_get(L->doc, obj, key); }
static const char *string_member(const loader *L, const tj_node *obj, const char *key) {
    return tj_string(L->doc, member(L, obj, key));
}
static const char *type_name(const loader *L, const tj_node *node) { return string_member(L, node, "type"); }
static int flag(const loader *L, const tj_node *node, const char *key, int fallback) {
    return tj_bool(member(L, node, key), fallback);
}
static const tj_node *first(const loader *L, const tj_node *node) { return tj_first(L->doc, node); }
static const tj_node *next(const loader *L, const tj_node *node) { return tj_next(L->doc, node); }
static int is_missing(const tj_node *node) { return !node || tj_is(node, TJ_NULL); }

/* A JSON number that is a token id: integral, in [0, 2^31 - 1). */
static int token_id(const loader *L, const tj_node *v, int32_t *id) {
    int64_t value;
    if (!tj_int(L->doc, v, &value) || value < 0 || value >= INT32_MAX) return 0;
    *id = (int32_t)value;
    return 1;
}

static srt_status compile_regex(const loader *L, const char *what, const char *pattern, int literal, pcre2_code **out) {
    int err;
    PCRE2_SIZE err_offset;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &err, &err_offset, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return srt_error(SRT_ERR_FORMAT, "%s: %s: regex does not compile at offset %zu: %s", L->path, what,
                         (size_t)err_offset, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up: the interpreter is used when it fails */
    *out = re;
    return SRT_OK;
}

/* ---------------------------------------------------------------- model: vocab and merges */

static srt_status load_vocab(loader *L, const tj_node *vocab, int32_t *max_id) {
    srt_tokenizer *t = L->t;
    if (!tj_is(vocab, TJ_OBJECT)) return srt_error(SRT_ERR_FORMAT, "%s: model.vocab is missing or not an object", L->path);
    SRT_TRY(tok_strmap_init(&t->vocab, vocab->len));
    for (const tj_node *e = first(L, vocab); e; e = next(L, e)) {
        int32_t id;
        if (!token_id(L, e, &id))
            return srt_error(SRT_ERR_FORMAT, "%s: model.vocab[\"%s\"] is not a valid token id", L->path, tj_key(L->doc, e));
        char *token = tok_arena_strndup(&t->strings, tj_key(L->doc, e), e->key_len);
        if (!token) return SRT_ERR_NOMEM;
        int inserted;
        SRT_TRY(tok_strmap_put(&t->vocab, token, e->key_len, id, &inserted));
        if (id > *max_id) *max_id = id;
    }
    return SRT_OK;
}

/* Split merge number `rank` into its two tokens (as "a b" or ["a", "b"]). */
static srt_status merge_parts(const loader *L, const tj_node *m, size_t rank, const char **a, size_t *a_len,
                              const char **b, size_t *b_len) {
    if (tj_is(m, TJ_STRING)) {
        const char *s = tj_str(L->doc, m), *space = strchr(s, ' ');
        if (!space || strchr(space + 1, ' ') || space == s || !space[1])
            return srt_error(SRT_ERR_FORMAT, "%s: model.merges[%zu] = \"%s\" is not two tokens separated by a space",
                             L->path, rank, s);
        *a = s; *a_len = (size_t)(space - s);
        *b = space + 1; *b_len = strlen(space + 1);
        return SRT_OK;
    }
    const tj_node *left = first(L, m), *right = next(L, left);
    if (tj_is(m, TJ_ARRAY) && m->len == 2 && tj_is(left, TJ_STRING) && tj_is(right, TJ_STRING)) {
        *a = tj_str(L->doc, left); *a_len = left->len;
        *b = tj_str(L->doc, right); *b_len = right->len;
        return SRT_OK;
    }
    return srt_error(SRT_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", L->path, rank);
}

static srt_status load_merges(loader *L, const tj_node *merges) {
    srt_tokenizer *t = L->t;
    if (!tj_is(merges, TJ_ARRAY)) return srt_error(SRT_ERR_FORMAT, "%s: model.merges is missing or not an array", L->path);
    SRT_TRY(tok_u64map_init(&t->merges, merges->len));
    char *joined = NULL;
    size_t joined_cap = 0, rank = 0;
    srt_status st = SRT_OK;
    for (const tj_node *m = first(L, merges); m; m = next(L, m), rank++) {
        const char *a = NULL, *b = NULL;
        size_t a_len = 0, b_len = 0;
        SRT_TRY_GOTO(merge_parts(L, m, rank, &a, &a_len, &b, &b_len), done);
        if (a_len + b_len > joined_cap) {
            joined_cap = 2 * (a_len + b_len);
            char *grown = realloc(joined, joined_cap);
            if (!grown) { st = srt_error(SRT_ERR_NOMEM, "out of memory reading %s merges", L->path); goto done; }
            joined = grown;
        }
        memcpy(joined, a, a_len);
        memcpy(joined + a_len, b, b_len);
        int32_t left = tok_strmap_get(&t->vocab, a, a_len), right = tok_strmap_get(&t->vocab, b, b_len);
        int32_t merged = tok_strmap_get(&t->vocab, joined, a_len + b_len);
        if (left < 0 || right < 0 || merged < 0) {
            const char *missing = left < 0 ? "first token" : right < 0 ? "second token" : "merged token";
            st = srt_error(SRT_ERR_FORMAT, "%s: model.merges[%zu] (\"%.*s\" + \"%.*s\"): the %s is not in the vocab",
                           L->path, rank, (int)a_len, a, (int)b_len, b, missing);
            goto done;
        }
        /* a repeated pair keeps its last rank, as Hugging Face's HashMap collect does */
        SRT_TRY_GOTO(tok_u64map_put(&t->merges, (uint64_t)left << 32 | (uint32_t)right,
                                    (uint64_t)rank << 32 | (uint32_t)merged), done);
    }
done:
    free(joined);
    return st;
}

static srt_status load_model(loader *L, const tj_node *model, int32_t *max_id) {
    if (!tj_is(model, TJ_OBJECT)) return srt_error(SRT_ERR_FORMAT, "%s: no \"model\" object", L->path);
    const char *type = type_name(L, model);
    if (type && strcmp(type, "BPE"))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (only BPE)", L->path, type);
    if (flag(L, model, "byte_fallback", 0))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: model.byte_fallback true is not supported", L->path);
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const char *affix = string_member(L, model, affixes[i]);
        if (affix && affix[0])
            return srt_error(SRT_ERR_UNSUPPORTED, "%s: model.%s is not supported", L->path, affixes[i]);
    }
    const tj_node *dropout = member(L, model, "dropout");
    if (tj_is(dropout, TJ_NUMBER) && tj_number(L->doc, dropout) > 0)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: model.dropout is not supported", L->path);
    L->t->ignore_merges = flag(L, model, "ignore_merges", 0);
    SRT_TRY(load_vocab(L, member(L, model, "vocab"), max_id));
    return load_merges(L, member(L, model, "merges"));
}

/* ---------------------------------------------------------------- added tokens */

/* Note the length of an added token among those of its first byte (kept distinct, longest first). */
static srt_status note_added_length(srt_tokenizer *t, const tok_added *tok) {
    unsigned char b = (unsigned char)tok->content[0];
    uint32_t n = t->n_added_lengths[b], len = (uint32_t)tok->len, *lengths = t->added_lengths[b];
    for (uint32_t i = 0; i < n; i++)
        if (lengths[i] == len) return SRT_OK;
    lengths = realloc(lengths, (n + 1) * sizeof *lengths);
    if (!lengths) return srt_error(SRT_ERR_NOMEM, "out of memory indexing added tokens");
    uint32_t i = n;
    for (; i > 0 && lengths[i - 1] < len; i--) lengths[i] = lengths[i - 1];
    lengths[i] = len;
    t->added_lengths[b] = lengths;
    t->n_added_lengths[b] = n + 1;
    return SRT_OK;
}

static srt_status load_added_tokens(loader *L, const tj_node *list, int32_t *max_id) {
    srt_tokenizer *t = L->t;
    if (!is_missing(list) && !tj_is(list, TJ_ARRAY))
        return srt_error(SRT_ERR_FORMAT, "%s: added_tokens is not an array", L->path);
    size_t n = tj_is(list, TJ_ARRAY) ? list->len : 0;
    t->added = srt_calloc(n, sizeof *t->added, "added tokens");
    if (!t->added) return SRT_ERR_NOMEM;
    SRT_TRY(tok_strmap_init(&t->added_by_content, n));
    size_t index = 0;
    for (const tj_node *e = n ? first(L, list) : NULL; e; e = next(L, e), index++) {
        const tj_node *content = member(L, e, "content");
        int32_t id;
        if (!tj_is(content, TJ_STRING) || !content->len || !token_id(L, member(L, e, "id"), &id))
            return srt_error(SRT_ERR_FORMAT, "%s: added_tokens[%zu] needs a non-empty \"content\" and an \"id\"",
                             L->path, index);
        tok_added *a = &t->added[t->n_added];
        a->len = content->len;
        a->content = tok_arena_strndup(&t->strings, tj_str(L->doc, content), a->len);
        if (!a->content) return SRT_ERR_NOMEM;
        a->id = id;
        a->special = (unsigned)flag(L, e, "special", 0);
        a->lstrip = (unsigned)flag(L, e, "lstrip", 0);
        a->rstrip = (unsigned)flag(L, e, "rstrip", 0);
        a->single_word = (unsigned)flag(L, e, "single_word", 0);
        a->normalized = (unsigned)flag(L, e, "normalized", !a->special);
        int inserted;
        SRT_TRY(tok_strmap_put(&t->added_by_content, a->content, a->len, (int32_t)t->n_added, &inserted));
        if (inserted) SRT_TRY(note_added_length(t, a));
        if (id > *max_id) *max_id = id;
        t->n_added++;
    }
    return SRT_OK;
}

/* ---------------------------------------------------------------- pre-tokenizer */

static srt_status add_pretok_step(loader *L, const tj_node *node) {
    srt_tokenizer *t = L->t;
    const char *type = type_name(L, node);
    if (!type) return srt_error(SRT_ERR_FORMAT, "%s: a pre_tokenizer has no \"type\"", L->path);
    if (!strcmp(type, "Sequence")) {
        const tj_node *list = member(L, node, "pretokenizers");
        if (!tj_is(list, TJ_ARRAY))
            return srt_error(SRT_ERR_FORMAT, "%s: pre_tokenizer Sequence has no \"pretokenizers\" array", L->path);
        for (const tj_node *e = first(L, list); e; e = next(L, e)) SRT_TRY(add_pretok_step(L, e));
        return SRT_OK;
    }
    if (t->n_pretok == TOK_MAX_PRETOK_STEPS)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: more than %d pre-tokenizer steps", L->path, TOK_MAX_PRETOK_STEPS);
    if (t->n_pretok > 0 && t->pretok[t->n_pretok - 1].kind == TOK_PRETOK_BYTE_LEVEL)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: pre-tokenizer steps after ByteLevel are not supported", L->path);
    tok_pretok_step *step = &t->pretok[t->n_pretok];
    memset(step, 0, sizeof *step);
    if (!strcmp(type, "ByteLevel")) {
        step->kind = TOK_PRETOK_BYTE_LEVEL;
        step->add_prefix_space = flag(L, node, "add_prefix_space", 1);
        if (flag(L, node, "use_regex", 1))
            SRT_TRY(compile_regex(L, "ByteLevel pre-tokenizer (GPT-2 regex)", gpt2_pattern, 0, &step->regex));
        t->n_pretok++;
        return SRT_OK;
    }
    if (!strcmp(type, "Split")) {
        step->kind = TOK_PRETOK_SPLIT;
        const tj_node *pattern = member(L, node, "pattern");
        const char *regex = string_member(L, pattern, "Regex"), *literal = string_member(L, pattern, "String");
        if (!regex && !literal)
            return srt_error(SRT_ERR_FORMAT, "%s: Split pre-tokenizer needs pattern.Regex or pattern.String", L->path);
        if (flag(L, node, "invert", 0))
            return srt_error(SRT_ERR_UNSUPPORTED, "%s: Split pre-tokenizer with invert true is not supported", L->path);
        const char *behavior = string_member(L, node, "behavior");
        if (!behavior) behavior = "";
        if (!strcmp(behavior, "Isolated")) step->behavior = TOK_SPLIT_ISOLATED;
        else if (!strcmp(behavior, "Removed")) step->behavior = TOK_SPLIT_REMOVED;
        else
            return srt_error(SRT_ERR_UNSUPPORTED, "%s: Split behavior \"%s\" is not supported (Isolated, Removed)",
                             L->path, behavior);
        SRT_TRY(compile_regex(L, "Split pre-tokenizer pattern", regex ? regex : literal, !regex, &step->regex));
        t->n_pretok++;
        return SRT_OK;
    }
    return srt_error(SRT_ERR_UNSUPPORTED, "%s: pre-tokenizer \"%s\" is not supported (Sequence, Split, ByteLevel)",
                     L->path, type);
}

static srt_status load_pre_tokenizer(loader *L, const tj_node *node) {
    srt_tokenizer *t = L->t;
    if (!tj_is(node, TJ_OBJECT))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: no pre_tokenizer: only byte-level BPE is supported", L->path);
    SRT_TRY(add_pretok_step(L, node));
    if (t->n_pretok == 0 || t->pretok[t->n_pretok - 1].kind != TOK_PRETOK_BYTE_LEVEL)
        return srt_error(SRT_ERR_UNSUPPORTED,
                         "%s: the pre_tokenizer does not end with ByteLevel: only byte-level BPE is supported", L->path);
    return SRT_OK;
}

/* ---------------------------------------------------------------- post-processor, decoder, normalizer */

static srt_status push_template_id(loader *L, int32_t id, int before_sequence) {
    srt_tokenizer *t = L->t;
    int *n = before_sequence ? &t->n_prefix : &t->n_suffix;
    if (*n == TOK_MAX_TEMPLATE_IDS) return srt_error(SRT_ERR_UNSUPPORTED, "%s: post_processor template too long", L->path);
    (before_sequence ? t->prefix_ids : t->suffix_ids)[(*n)++] = id;
    return SRT_OK;
}

static srt_status template_add_special(loader *L, const tj_node *specials, const char *name, int before_sequence) {
    const tj_node *ids = member(L, member(L, specials, name), "ids");
    if (!tj_is(ids, TJ_ARRAY))
        return srt_error(SRT_ERR_FORMAT, "%s: post_processor template uses \"%s\" which is not in special_tokens",
                         L->path, name);
    for (const tj_node *e = first(L, ids); e; e = next(L, e)) {
        int32_t id;
        if (!token_id(L, e, &id))
            return srt_error(SRT_ERR_FORMAT, "%s: special_tokens[\"%s\"].ids holds a bad id", L->path, name);
        SRT_TRY(push_template_id(L, id, before_sequence));
    }
    return SRT_OK;
}

static srt_status load_post_processor(loader *L, const tj_node *node) {
    if (is_missing(node)) return SRT_OK;
    const char *type = type_name(L, node);
    if (!type) return srt_error(SRT_ERR_FORMAT, "%s: post_processor has no \"type\"", L->path);
    if (!strcmp(type, "ByteLevel")) return SRT_OK; /* only trims offsets */
    if (!strcmp(type, "Sequence")) {
        for (const tj_node *e = first(L, member(L, node, "processors")); e; e = next(L, e))
            SRT_TRY(load_post_processor(L, e));
        return SRT_OK;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        const tj_node *single = member(L, node, "single"), *specials = member(L, node, "special_tokens");
        if (!tj_is(single, TJ_ARRAY))
            return srt_error(SRT_ERR_FORMAT, "%s: TemplateProcessing has no \"single\" template", L->path);
        int before_sequence = 1;
        for (const tj_node *e = first(L, single); e; e = next(L, e)) {
            const char *name = string_member(L, member(L, e, "SpecialToken"), "id");
            if (member(L, e, "Sequence")) before_sequence = 0;
            else if (name) SRT_TRY(template_add_special(L, specials, name, before_sequence));
            else return srt_error(SRT_ERR_FORMAT, "%s: TemplateProcessing single template has an unknown item", L->path);
        }
        return SRT_OK;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const tj_node *cls = member(L, node, "cls"), *sep = member(L, node, "sep");
        int32_t cls_id, sep_id;
        if (!tj_is(cls, TJ_ARRAY) || !tj_is(sep, TJ_ARRAY) || !token_id(L, next(L, first(L, cls)), &cls_id) ||
            !token_id(L, next(L, first(L, sep)), &sep_id))
            return srt_error(SRT_ERR_FORMAT, "%s: %s needs \"cls\" and \"sep\" as [token, id]", L->path, type);
        SRT_TRY(push_template_id(L, cls_id, 1));
        return push_template_id(L, sep_id, 0);
    }
    return srt_error(SRT_ERR_UNSUPPORTED, "%s: post_processor \"%s\" is not supported", L->path, type);
}

static srt_status check_decoder(const loader *L, const tj_node *node) {
    if (is_missing(node)) return SRT_OK; /* decoding is byte-level either way */
    const char *type = type_name(L, node);
    if (type && !strcmp(type, "ByteLevel")) return SRT_OK;
    if (type && !strcmp(type, "Sequence")) {
        for (const tj_node *e = first(L, member(L, node, "decoders")); e; e = next(L, e)) SRT_TRY(check_decoder(L, e));
        return SRT_OK;
    }
    return srt_error(SRT_ERR_UNSUPPORTED, "%s: decoder \"%s\" is not supported (ByteLevel)", L->path, type ? type : "?");
}

static srt_status check_normalizer(const loader *L, const tj_node *node) {
    if (is_missing(node)) return SRT_OK;
    const char *type = type_name(L, node);
    if (type && !strcmp(type, "Sequence")) {
        for (const tj_node *e = first(L, member(L, node, "normalizers")); e; e = next(L, e))
            SRT_TRY(check_normalizer(L, e));
        return SRT_OK;
    }
    return srt_error(SRT_ERR_UNSUPPORTED, "%s: normalizer \"%s\" is not supported (only none)", L->path,
                     type ? type : "?");
}

/* ---------------------------------------------------------------- assembly */

static srt_status build_tables(srt_tokenizer *t, int32_t max_id) {
    srt_byte_level_tables(t->byte_to_char, t->char_to_byte);
    for (int b = 0; b < 256; b++) {
        char utf8[4];
        int n = srt_utf8_encode(t->byte_to_char[b], utf8);
        memcpy(t->byte_char_utf8[b], utf8, (size_t)n);
        t->byte_char_len[b] = (uint8_t)n;
        t->byte_id[b] = tok_strmap_get(&t->vocab, utf8, (size_t)n);
    }
    t->n_ids = (size_t)max_id + 1;
    t->id_to_token = srt_calloc(t->n_ids, sizeof *t->id_to_token, "id -> token table");
    t->id_is_special = srt_calloc(t->n_ids, 1, "special-token flags");
    if (!t->id_to_token || !t->id_is_special) return SRT_ERR_NOMEM;
    for (size_t i = 0; i < t->vocab.cap; i++)
        if (t->vocab.slots[i].key) t->id_to_token[t->vocab.slots[i].val] = t->vocab.slots[i].key;
    for (size_t i = 0; i < t->n_added; i++) { /* added tokens take precedence, as in Hugging Face tokenizers */
        t->id_to_token[t->added[i].id] = t->added[i].content;
        t->id_is_special[t->added[i].id] = (uint8_t)t->added[i].special;
    }
    for (int i = 0; i < t->n_prefix + t->n_suffix; i++) {
        int32_t id = i < t->n_prefix ? t->prefix_ids[i] : t->suffix_ids[i - t->n_prefix];
        if ((size_t)id >= t->n_ids || !t->id_to_token[id])
            return srt_error(SRT_ERR_FORMAT, "%s: post_processor id %d is not a token", t->path, id);
    }
    return SRT_OK;
}

static srt_status load_document(loader *L) {
    const tj_node *root = &L->doc->nodes[0];
    if (!tj_is(root, TJ_OBJECT)) return srt_error(SRT_ERR_FORMAT, "%s: not a JSON object", L->path);
    int32_t max_id = -1;
    SRT_TRY(check_normalizer(L, member(L, root, "normalizer")));
    SRT_TRY(load_model(L, member(L, root, "model"), &max_id));
    SRT_TRY(load_added_tokens(L, member(L, root, "added_tokens"), &max_id));
    SRT_TRY(load_pre_tokenizer(L, member(L, root, "pre_tokenizer")));
    SRT_TRY(load_post_processor(L, member(L, root, "post_processor")));
    SRT_TRY(check_decoder(L, member(L, root, "decoder")));
    if (max_id < 0) return srt_error(SRT_ERR_FORMAT, "%s: the vocab is empty", L->path);
    /* a real vocab is dense (ids 0..n-1, each entry several bytes of the file): an id past the file size is a lie
     * that would size the id tables (9 bytes per id) far beyond the file */
    if ((size_t)max_id >= L->file_size)
        return srt_error(SRT_ERR_FORMAT, "%s: token id %d is larger than the file (%zu bytes): the vocab ids are not "
                         "dense", L->path, max_id, L->file_size);
    return build_tables(L->t, max_id);
}

srt_status srt_tokenizer_load(const char *path, srt_tokenizer **out) {
    if (!path || !out) return srt_error(SRT_ERR_INVALID_ARG, "srt_tokenizer_load: NULL argument");
    *out = NULL;
    char *text;
    size_t size;
    SRT_TRY(srt_read_file(path, &text, &size));
    tj_doc doc;
    srt_status st = tj_parse(path, text, size, &doc);
    if (st != SRT_OK) { free(text); return st; }
    srt_tokenizer *t = srt_calloc(1, sizeof *t, "tokenizer");
    if (!t) st = SRT_ERR_NOMEM;
    else if (!(t->path = srt_strdup(path))) st = SRT_ERR_NOMEM;
    else {
        loader L = {t, t->path, &doc, size};
        st = load_document(&L);
    }
    tj_free(&doc);
    free(text);
    if (st != SRT_OK) { srt_tokenizer_free(t); return st; }
    *out = t;
    return SRT_OK;
}

void srt_tokenizer_free(srt_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_pretok; i++) pcre2_code_free(t->pretok[i].regex);
    tok_u64map_free(&t->merges);
    tok_strmap_free(&t->vocab);
    tok_strmap_free(&t->added_by_content);
    for (int b = 0; b < 256; b++) free(t->added_lengths[b]);
    free(t->added);
    free(t->id_to_token);
    free(t->id_is_special);
    tok_arena_free(&t->strings);
    free(t->path);
    free(t);
}
