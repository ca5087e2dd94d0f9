/* test_tokenizer.c: the tokenizer.json BPE tokenizer against reference ids.
 * - tests/data/tokenizer/llama3-cases.json: every text gives exactly the Llama 3 ids (no BOS) and decodes back
 * - tests/data/llama/tiny-orpheus/golden.json: the prompt ids (Orpheus TTS layout and plain BOS + text)
 * - BOS, <custom_token_N>, skip_special, invalid UTF-8 in and out, malformed files, a small synthetic
 *   GPT-2-style file (ByteLevel regex, merges as arrays, ignore_merges off, lstrip/rstrip added tokens)
 * - load time and encode speed (printed) */
#include "testutil.h"
#include "snacrt_tokenizer.h"
#include "lm/unicode.h"
#include <cjson/cJSON.h>
#include <pthread.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cJSON *load_json(const char *rel) {
    char path[1024];
    test_src_path(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    return root;
}

/* ids of a JSON array; returns the count. */
static size_t json_ids(const cJSON *array, int32_t *ids, size_t cap) {
    size_t n = 0;
    for (const cJSON *e = array ? array->child : NULL; e && n < cap; e = e->next) ids[n++] = (int32_t)e->valuedouble;
    return n;
}

static int ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Encode text (NUL-terminated) and compare with the expected ids. */
static int check_encode(const srt_tokenizer *t, const char *text, int add_bos, const int32_t *want, size_t n_want) {
    int32_t *ids = NULL;
    size_t n = 0;
    srt_status st = srt_tokenizer_encode(t, text, strlen(text), add_bos, &ids, &n);
    int ok = st == SRT_OK && ids_equal(ids, n, want, n_want);
    if (!ok) {
        fprintf(stderr, "  encode(\"%s\") status %s %s\n", text, srt_status_name(st), srt_last_error());
        print_ids("got ", ids, n);
        print_ids("want", want, n_want);
    }
    free(ids);
    return ok;
}

static void test_llama3_cases(const srt_tokenizer *t) {
    cJSON *root = load_json("tests/data/tokenizer/llama3-cases.json");
    TEST_CHECK(root != NULL, "cannot read llama3-cases.json");
    if (!root) return;
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    int n_cases = 0, n_encode_ok = 0, n_roundtrip_ok = 0;
    int32_t want[4096];
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next, n_cases++) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        size_t n_want = json_ids(cJSON_GetObjectItem(c, "ids"), want, 4096);
        n_encode_ok += check_encode(t, text, 0, want, n_want);
        char *back = NULL;
        if (srt_tokenizer_decode(t, want, n_want, 0, &back) == SRT_OK && !strcmp(back, text)) n_roundtrip_ok++;
        else fprintf(stderr, "  decode mismatch for \"%s\": \"%s\"\n", text, back ? back : "(error)");
        free(back);
    }
    printf("llama3 cases: %d, encode exact: %d, decode round trip: %d\n", n_cases, n_encode_ok, n_roundtrip_ok);
    TEST_CHECK(n_cases == 197, "expected 197 cases, found %d", n_cases);
    TEST_CHECK(n_encode_ok == n_cases, "%d of %d cases encode to the reference ids", n_encode_ok, n_cases);
    TEST_CHECK(n_roundtrip_ok == n_cases, "%d of %d cases decode back to their text", n_roundtrip_ok, n_cases);
    cJSON_Delete(root);
}

static void test_orpheus_prompts(const srt_tokenizer *t) {
    cJSON *root = load_json("tests/data/llama/tiny-orpheus/golden.json");
    TEST_CHECK(root != NULL, "cannot read golden.json");
    if (!root) return;
    int n_prompts = 0;
    for (const cJSON *p = cJSON_GetObjectItem(root, "prompts")->child; p; p = p->next, n_prompts++) {
        const char *text = cJSON_GetObjectItem(p, "text")->valuestring;
        int32_t want[1024], got[1024];
        size_t n_want = json_ids(cJSON_GetObjectItem(p, "ids"), want, 1024), n_got = 0;
        int32_t *ids = NULL;
        size_t n = 0;
        int orpheus = cJSON_IsTrue(cJSON_GetObjectItem(p, "orpheus"));
        /* Orpheus: start-of-human, then BOS + text (the post-processor's BOS), end-of-text, end-of-human,
         * start-of-AI, start-of-speech. */
        if (orpheus) got[n_got++] = srt_tokenizer_token_to_id(t, "<custom_token_3>");
        TEST_CHECK(srt_tokenizer_encode(t, text, strlen(text), 1, &ids, &n) == SRT_OK, "%s", srt_last_error());
        for (size_t i = 0; i < n && n_got < 1000; i++) got[n_got++] = ids[i];
        if (orpheus) {
            got[n_got++] = srt_tokenizer_token_to_id(t, "<|eot_id|>");
            got[n_got++] = srt_tokenizer_token_to_id(t, "<custom_token_4>");
            got[n_got++] = srt_tokenizer_token_to_id(t, "<custom_token_5>");
            got[n_got++] = srt_tokenizer_token_to_id(t, "<custom_token_1>");
        }
        int ok = ids_equal(got, n_got, want, n_want);
        TEST_CHECK(ok, "prompt %d (\"%s\") ids differ from golden.json", n_prompts, text);
        if (!ok) { print_ids("got ", got, n_got); print_ids("want", want, n_want); }
        free(ids);
    }
    TEST_CHECK(n_prompts == 2, "expected 2 prompts, found %d", n_prompts);
    cJSON_Delete(root);
}

static void test_special_tokens(const srt_tokenizer *t) {
    TEST_CHECK(srt_tokenizer_vocab_size(t) == 156940, "vocab size %zu", srt_tokenizer_vocab_size(t));
    TEST_CHECK(srt_tokenizer_bos_id(t) == 128000, "bos id %d", srt_tokenizer_bos_id(t));
    TEST_CHECK(srt_tokenizer_token_to_id(t, "<|begin_of_text|>") == 128000, "begin_of_text id");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "<|eot_id|>") == 128009, "eot id");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "Hello") == 9906, "vocab token id");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "no such token") == -1, "absent token gives -1");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "<custom_token_0>") == 128256, "custom_token_0");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "<custom_token_28683>") == 156939, "last custom token");
    const char *tok = srt_tokenizer_id_to_token(t, 128266);
    TEST_CHECK(tok && !strcmp(tok, "<custom_token_10>"), "id_to_token(128266) = %s", tok ? tok : "NULL");
    tok = srt_tokenizer_id_to_token(t, 220);
    TEST_CHECK(tok && !strcmp(tok, "\xC4\xA0"), "id_to_token(220) is the byte-level space");
    TEST_CHECK(srt_tokenizer_id_to_token(t, -1) == NULL && srt_tokenizer_id_to_token(t, 156940) == NULL,
               "out-of-range ids give NULL");

    /* BOS from the TemplateProcessing post-processor */
    const int32_t hello[] = {9906}, bos_hello[] = {128000, 9906}, bos_only[] = {128000};
    TEST_CHECK(check_encode(t, "Hello", 0, hello, 1), "Hello without BOS");
    TEST_CHECK(check_encode(t, "Hello", 1, bos_hello, 2), "Hello with BOS");
    TEST_CHECK(check_encode(t, "", 1, bos_only, 1), "empty text with BOS");
    TEST_CHECK(check_encode(t, "", 0, NULL, 0), "empty text without BOS");

    /* custom tokens in text, longest match: <custom_token_12> must not match as <custom_token_1> + "2>" */
    const int32_t customs[] = {128268, 9906, 128257, 128257};
    TEST_CHECK(check_encode(t, "<custom_token_12>Hello<custom_token_1><custom_token_1>", 0, customs, 4), "custom tokens");
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    TEST_CHECK(srt_tokenizer_encode(t, "<custom_token_1", 15, 0, &ids, &n) == SRT_OK && n > 1 &&
                   srt_tokenizer_decode(t, ids, n, 0, &back) == SRT_OK && !strcmp(back, "<custom_token_1"),
               "an unterminated custom token is plain text");
    for (size_t i = 0; i < n; i++) TEST_CHECK(ids[i] < 128000, "id %d of an unterminated custom token is special", ids[i]);
    free(ids);
    free(back);

    /* skip_special */
    const int32_t with_special[] = {128000, 9906, 128009, 128266};
    char *text = NULL;
    TEST_CHECK(srt_tokenizer_decode(t, with_special, 4, 0, &text) == SRT_OK &&
                   !strcmp(text, "<|begin_of_text|>Hello<|eot_id|><custom_token_10>"), "decode keeps specials: %s", text);
    free(text);
    TEST_CHECK(srt_tokenizer_decode(t, with_special, 4, 1, &text) == SRT_OK && !strcmp(text, "Hello"),
               "decode skips specials: %s", text);
    free(text);
    const int32_t bad_id[] = {9906, 156940};
    text = NULL;
    TEST_CHECK(srt_tokenizer_decode(t, bad_id, 2, 0, &text) == SRT_ERR_RANGE && text == NULL,
               "decode of an id outside the vocab fails");
    TEST_CHECK(strstr(srt_last_error(), "156940") != NULL, "error names the id: %s", srt_last_error());
}

/* Invalid UTF-8: input is tokenized as if each maximal invalid subpart were U+FFFD; decoded byte sequences
 * that are not valid UTF-8 come out as U+FFFD. */
static void test_invalid_utf8(const srt_tokenizer *t) {
    const char bad[] = "ab\xFF\xFE" "cd \xE4\xB8 x\xF0\x9F\xA6";            /* lone bytes, truncated sequences */
    const char repaired[] = "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd \xEF\xBF\xBD x\xEF\xBF\xBD";
    int32_t *ids_bad = NULL, *ids_rep = NULL;
    size_t n_bad = 0, n_rep = 0;
    TEST_CHECK(srt_tokenizer_encode(t, bad, sizeof bad - 1, 0, &ids_bad, &n_bad) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(srt_tokenizer_encode(t, repaired, sizeof repaired - 1, 0, &ids_rep, &n_rep) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(n_bad > 0 && ids_equal(ids_bad, n_bad, ids_rep, n_rep), "invalid input encodes as its U+FFFD repair");
    char *text = NULL;
    TEST_CHECK(srt_tokenizer_decode(t, ids_bad, n_bad, 0, &text) == SRT_OK && !strcmp(text, repaired),
               "decode(encode(invalid)) is the repaired text");
    free(text);
    free(ids_bad);
    free(ids_rep);

    /* " this is 🦙" = ... 11410 ("Ġ" F0 9F) 99 (A6) 247 (99): cutting the emoji leaves one maximal subpart */
    const int32_t cut[] = {420, 374, 11410, 99}, lone[] = {99, 247}, whole[] = {11410, 99, 247};
    TEST_CHECK(srt_tokenizer_decode(t, cut, 4, 0, &text) == SRT_OK && !strcmp(text, " this is \xEF\xBF\xBD"),
               "a truncated 4-byte sequence becomes one U+FFFD: \"%s\"", text);
    free(text);
    TEST_CHECK(srt_tokenizer_decode(t, lone, 2, 0, &text) == SRT_OK && !strcmp(text, "\xEF\xBF\xBD\xEF\xBF\xBD"),
               "two lone continuation bytes become two U+FFFD: \"%s\"", text);
    free(text);
    TEST_CHECK(srt_tokenizer_decode(t, whole, 3, 0, &text) == SRT_OK && !strcmp(text, " \xF0\x9F\xA6\x99"),
               "the whole sequence decodes to the emoji: \"%s\"", text);
    free(text);

    /* the UTF-8 helper itself: surrogates and overlong forms are invalid */
    uint32_t cp;
    TEST_CHECK(srt_utf8_next((const unsigned char *)"\xED\xA0\x80", 3, &cp) == -1, "surrogate is invalid");
    TEST_CHECK(srt_utf8_next((const unsigned char *)"\xC0\xAF", 2, &cp) == -1, "overlong is invalid");
    TEST_CHECK(srt_utf8_next((const unsigned char *)"\xE4\xB8\xAD", 3, &cp) == 3 && cp == 0x4E2D, "U+4E2D");
}

static const char *write_temp(const char *name, const char *content, size_t len, char *path, size_t cap) {
    test_bin_path(name, path, cap);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(content, 1, len, f);
    fclose(f);
    return path;
}

/* A malformed file must fail with a message naming the file. */
static void check_load_fails(const char *name, const char *content, size_t len, srt_status want, const char *what) {
    char path[1024];
    if (!write_temp(name, content, len, path, sizeof path)) { TEST_CHECK(0, "cannot write %s", name); return; }
    srt_tokenizer *t = NULL;
    srt_status st = srt_tokenizer_load(path, &t);
    TEST_CHECK(st == want && t == NULL, "%s: status %s, want %s", what, srt_status_name(st), srt_status_name(want));
    TEST_CHECK(strstr(srt_last_error(), path) != NULL, "%s: error names the file: %s", what, srt_last_error());
    if (strstr(srt_last_error(), path)) printf("  %s -> %s\n", what, srt_last_error());
    srt_tokenizer_free(t);
    remove(path);
}

static void test_malformed(void) {
    char path[1024];
    test_src_path("tests/data/llama/tiny-orpheus/tokenizer.json", path, sizeof path);
    FILE *f = fopen(path, "rb");
    char *head = malloc(100000);
    size_t got = f ? fread(head, 1, 100000, f) : 0;
    if (f) fclose(f);
    check_load_fails("tok_truncated.json", head, got, SRT_ERR_FORMAT, "truncated file");
    free(head);
    const char *no_model = "{\"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    check_load_fails("tok_no_model.json", no_model, strlen(no_model), SRT_ERR_FORMAT, "missing model");
    const char *bad_merge = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]},"
                            " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    check_load_fails("tok_bad_merge.json", bad_merge, strlen(bad_merge), SRT_ERR_FORMAT, "merge result not in vocab");
    const char *bad_merge_form = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]},"
                                 " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    check_load_fails("tok_bad_merge_form.json", bad_merge_form, strlen(bad_merge_form), SRT_ERR_FORMAT, "merge without space");
    const char *normalizer = "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0},"
                             " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    check_load_fails("tok_normalizer.json", normalizer, strlen(normalizer), SRT_ERR_UNSUPPORTED, "NFC normalizer");
    const char *wordpiece = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
    check_load_fails("tok_wordpiece.json", wordpiece, strlen(wordpiece), SRT_ERR_UNSUPPORTED, "WordPiece model");
    const char *bad_regex = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\":"
                            " {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"},"
                            " \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\"}]}}";
    check_load_fails("tok_bad_regex.json", bad_regex, strlen(bad_regex), SRT_ERR_FORMAT, "bad regex");
    const char *trailing = "{\"model\": null} {";
    check_load_fails("tok_trailing.json", trailing, strlen(trailing), SRT_ERR_FORMAT, "trailing characters");
    const char *bad_escape = "{\"model\": \"\\x\"}";
    check_load_fails("tok_bad_escape.json", bad_escape, strlen(bad_escape), SRT_ERR_FORMAT, "bad string escape");
    srt_tokenizer *t = NULL;
    TEST_CHECK(srt_tokenizer_load("/nonexistent/tokenizer.json", &t) == SRT_ERR_IO && t == NULL, "missing file");
    TEST_CHECK(strstr(srt_last_error(), "/nonexistent/tokenizer.json") != NULL, "names the missing file");
}

/* A GPT-2-style file: ByteLevel pre-tokenizer with its own regex and add_prefix_space, merges as [a, b] arrays,
 * ignore_merges off, added tokens with lstrip/rstrip, no post-processor. Byte b has id b. */
static void test_synthetic_gpt2(void) {
    uint16_t byte_to_char[256];
    int16_t char_to_byte[512];
    srt_byte_level_tables(byte_to_char, char_to_byte);
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int b = 0; b < 256; b++) {
        char utf8[5] = {0};
        srt_utf8_encode(byte_to_char[b], utf8);
        cJSON_AddNumberToObject(vocab, utf8, b);
    }
    const char *extra[] = {"he", "ll", "hell", "\xC4\xA0hell", "lo"}; /* ids 256.. ("lo" has no merge) */
    for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
    const char *merges[][2] = {{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"\xC4\xA0", "hell"}};
    cJSON *merge_list = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(merge_list, cJSON_CreateStringArray(merges[i], 2));
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    const char *added_json[] = {
        "{\"id\": 300, \"content\": \"<L>\", \"lstrip\": true, \"rstrip\": false, \"special\": true}",
        "{\"id\": 301, \"content\": \"<R>\", \"lstrip\": false, \"rstrip\": true, \"special\": false}",
        "{\"id\": 302, \"content\": \"@ESCAPED@\", \"special\": false}"};
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(added, cJSON_Parse(added_json[i]));
    cJSON_AddItemToObject(root, "pre_tokenizer", cJSON_Parse("{\"type\": \"ByteLevel\", \"add_prefix_space\": true,"
                                                             " \"use_regex\": true}"));
    cJSON_AddItemToObject(root, "decoder", cJSON_Parse("{\"type\": \"ByteLevel\"}"));
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    /* token 302's content written with JSON escapes: e-acute, a surrogate pair (U+1F600), newline, quote */
    const char *escaped = "\\u00e9\\ud83d\\ude00\\n\\\"";
    char *marker = strstr(json, "@ESCAPED@"), *file = malloc(strlen(json) + strlen(escaped) + 1);
    size_t head = (size_t)(marker - json);
    memcpy(file, json, head);
    strcpy(file + head, escaped);
    strcat(file, marker + strlen("@ESCAPED@"));
    free(json);
    char path[1024];
    write_temp("tok_synthetic.json", file, strlen(file), path, sizeof path);
    free(file);
    srt_tokenizer *t = NULL;
    srt_status st = srt_tokenizer_load(path, &t);
    TEST_CHECK(st == SRT_OK, "synthetic load: %s", srt_last_error());
    remove(path);
    if (st != SRT_OK) return;
    TEST_CHECK(srt_tokenizer_vocab_size(t) == 303 && srt_tokenizer_bos_id(t) == -1, "synthetic vocab size / no BOS");
    TEST_CHECK(srt_tokenizer_token_to_id(t, "\xC3\xA9\xF0\x9F\x98\x80\n\"") == 302, "JSON escapes in a token");
    const int32_t escaped_ids[] = {32, 97, 302};
    TEST_CHECK(check_encode(t, "a\xC3\xA9\xF0\x9F\x98\x80\n\"", 0, escaped_ids, 3), "escaped added token in text");
    /* add_prefix_space: "hello" -> " hello" -> Ġhell + o; "lo" stays l + o without ignore_merges */
    const int32_t hello[] = {259, 111}, hello_lo[] = {259, 111, 32, 108, 111};
    TEST_CHECK(check_encode(t, "hello", 1, hello, 2), "prefix space + merges");
    TEST_CHECK(check_encode(t, "hello lo", 0, hello_lo, 5), "no merge rule, no token: ignore_merges off");
    /* <L> absorbs the spaces before it, <R> those after it; the prefix space is added per segment */
    const int32_t stripped[] = {32, 97, 300, 301, 32, 98};
    TEST_CHECK(check_encode(t, "a  <L><R>  b", 0, stripped, 6), "lstrip / rstrip");
    char *text = NULL;
    TEST_CHECK(srt_tokenizer_decode(t, stripped, 6, 1, &text) == SRT_OK && !strcmp(text, " a<R> b"),
               "synthetic decode skips the special <L> only: \"%s\"", text);
    free(text);
    srt_tokenizer_free(t);
}

/* One encoding of a shared text on a shared tokenizer (for the concurrency check). */
typedef struct encode_job {
    const srt_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
    srt_status status;
} encode_job;

static void *encode_thread(void *arg) {
    encode_job *job = arg;
    job->status = srt_tokenizer_encode(job->t, job->text, job->len, 1, &job->ids, &job->n);
    return NULL;
}

static void test_speed(const srt_tokenizer *t) {
    cJSON *root = load_json("tests/data/tokenizer/llama3-cases.json");
    if (!root) return;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap + 4096);
    while (len < cap) {
        for (const cJSON *c = cJSON_GetObjectItem(root, "cases")->child; c && len < cap; c = c->next) {
            const char *s = cJSON_GetObjectItem(c, "text")->valuestring;
            size_t n = strlen(s);
            memcpy(text + len, s, n);
            len += n;
            text[len++] = ' ';
        }
    }
    cJSON_Delete(root);
    int32_t *ids = NULL;
    size_t n = 0;
    double t0 = now_seconds();
    srt_status st = srt_tokenizer_encode(t, text, len, 0, &ids, &n);
    double secs = now_seconds() - t0;
    TEST_CHECK(st == SRT_OK && n > len / 8, "encoding %zu bytes: %s", len, srt_last_error());
    printf("encode: %zu bytes -> %zu ids in %.3f s (%.2f MB/s)\n", len, n, secs, (double)len / secs / 1e6);
    char *back = NULL;
    TEST_CHECK(srt_tokenizer_decode(t, ids, n, 0, &back) == SRT_OK && strlen(back) == len && !memcmp(back, text, len),
               "1 MB round trip");
    free(back);

    /* the tokenizer is read-only after load: threads encoding at once get the single-thread ids (+ BOS) */
    encode_job jobs[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (encode_job){.t = t, .text = text, .len = len};
        pthread_create(&threads[i], NULL, encode_thread, &jobs[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
        TEST_CHECK(jobs[i].status == SRT_OK && jobs[i].n == n + 1 && jobs[i].ids[0] == 128000 &&
                       !memcmp(jobs[i].ids + 1, ids, n * sizeof *ids), "thread %d encodes like the main thread", i);
        free(jobs[i].ids);
    }
    free(ids);
    free(text);
}

/* Run a shell command; its stdout (up to cap bytes) goes to out; returns the exit code (-1 when it cannot run). */
static int run_command(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int status = pclose(p);
    return status >= 0 && (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1;
}

/* `snacrt tokens`, when the build made the program (always under ctest, which sets SNACRT_BIN). */
static void test_cli(void) {
    char bin[1024], model[1024], cmd[4096], out[4096];
    test_bin_path("snacrt", bin, sizeof bin);
    test_src_path("tests/data/llama/tiny-orpheus", model, sizeof model);
    FILE *f = fopen(bin, "rb");
    if (!f) {
        TEST_CHECK(getenv("SNACRT_BIN") == NULL, "no snacrt program at %s", bin);
        printf("CLI checks skipped: no %s\n", bin);
        return;
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --text 'tara: Hello world, this is a test.'", bin, model);
    int rc = run_command(cmd, out, sizeof out);
    TEST_CHECK(rc == 0 && !strcmp(out, "{\"ids\":[128000,83,5169,25,22691,1917,11,420,374,264,1296,13]}\n"),
               "snacrt tokens --text: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --no-bos --text 'Hi<|eot_id|>'", bin, model);
    rc = run_command(cmd, out, sizeof out);
    TEST_CHECK(rc == 0 && !strcmp(out, "{\"ids\":[13347,128009]}\n"), "snacrt tokens --no-bos: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --decode 128000,9906,11,1917,0", bin, model);
    rc = run_command(cmd, out, sizeof out);
    TEST_CHECK(rc == 0 && !strcmp(out, "<|begin_of_text|>Hello, world!\n"), "snacrt tokens --decode: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --skip-special --decode '[128000, 9906]'", bin, model);
    rc = run_command(cmd, out, sizeof out);
    TEST_CHECK(rc == 0 && !strcmp(out, "Hello\n"), "snacrt tokens --skip-special: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --decode 1,x 2>/dev/null", bin, model);
    TEST_CHECK(run_command(cmd, out, sizeof out) == 2, "bad --decode list is a usage error (2)");
    snprintf(cmd, sizeof cmd, "'%s' tokens --text hi 2>/dev/null", bin);
    TEST_CHECK(run_command(cmd, out, sizeof out) == 2, "missing -m is a usage error (2)");
    snprintf(cmd, sizeof cmd, "'%s' tokens -m /nonexistent --text hi 2>&1", bin);
    rc = run_command(cmd, out, sizeof out);
    TEST_CHECK(rc == 1 && strstr(out, "snacrt tokens: /nonexistent/tokenizer.json"), "missing model: rc %d, %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' tokens -m '%s' --decode 156940 2>/dev/null", bin, model);
    TEST_CHECK(run_command(cmd, out, sizeof out) == 1, "an id outside the vocab fails with 1");
}

int main(void) {
    char path[1024];
    test_src_path("tests/data/llama/tiny-orpheus/tokenizer.json", path, sizeof path);
    srt_tokenizer *t = NULL;
    double t0 = now_seconds();
    srt_status st = srt_tokenizer_load(path, &t);
    double load_secs = now_seconds() - t0;
    TEST_CHECK(st == SRT_OK, "load %s: %s", path, srt_last_error());
    if (st == SRT_OK) {
        printf("load: %.3f s\n", load_secs);
        test_special_tokens(t);
        test_llama3_cases(t);
        test_orpheus_prompts(t);
        test_invalid_utf8(t);
        test_speed(t);
    }
    srt_tokenizer_free(t);
    test_malformed();
    test_synthetic_gpt2();
    test_cli();
    TEST_MAIN_END();
}
