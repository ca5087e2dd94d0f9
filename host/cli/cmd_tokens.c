/* cmd_tokens.c: `snacrt tokens`: text -> ids ({"ids":[...]}) or ids -> text with a model's tokenizer.json. */
#include "cli/cli_common.h"
#include "snacrt_tokenizer.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: snacrt tokens -m MODEL_DIR (--text TEXT | --decode ID,ID,...) [--no-bos] [--skip-special]\n"
    "  MODEL_DIR holds tokenizer.json (a tokenizer.json path works too).\n"
    "  --text    prints {\"ids\":[...]}: the ids of TEXT, with the BOS the tokenizer's post-processor adds\n"
    "            unless --no-bos; special tokens written in TEXT (<|eot_id|>, <custom_token_N>) map to their ids.\n"
    "  --decode  prints the text of comma-separated ids ([ ] and spaces allowed); --skip-special leaves out\n"
    "            special tokens. Byte sequences that are not valid UTF-8 print as U+FFFD.\n";

/* Parse "1,2,3" (optionally inside [ ], spaces allowed; empty allowed) into a malloc'd array; -1 when malformed. */
static int parse_id_list(const char *s, int32_t **ids, size_t *n) {
    size_t cap = strlen(s) / 2 + 1, count = 0;
    int32_t *out = malloc(cap * sizeof *out);
    if (!out) return -1;
    const char *p = s + strspn(s, " ");
    int bracketed = *p == '[';
    if (bracketed) p += 1 + strspn(p + 1, " ");
    char close = bracketed ? ']' : 0;
    if (*p != close) {
        for (;;) {
            errno = 0;
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p || errno || v < 0 || v > INT32_MAX || count == cap) goto bad;
            out[count++] = (int32_t)v;
            p = end + strspn(end, " ");
            if (*p != ',') break;
            p += 1 + strspn(p + 1, " ");
        }
    }
    if (*p != close) goto bad;
    if (bracketed && p[1 + strspn(p + 1, " ")]) goto bad;
    *ids = out;
    *n = count;
    return 0;
bad:
    free(out);
    return -1;
}

static srt_status load_tokenizer(const char *model, srt_tokenizer **tok) {
    size_t n = strlen(model);
    if (n >= 5 && !strcmp(model + n - 5, ".json")) return srt_tokenizer_load(model, tok);
    size_t cap = n + sizeof "/tokenizer.json";
    char *path = malloc(cap);
    if (!path) return srt_error(SRT_ERR_NOMEM, "out of memory");
    snprintf(path, cap, "%s%stokenizer.json", model, n && model[n - 1] == '/' ? "" : "/");
    srt_status st = srt_tokenizer_load(path, tok);
    free(path);
    return st;
}

static int print_ids(const int32_t *ids, size_t n) {
    fputs("{\"ids\":[", stdout);
    for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    fputs("]}\n", stdout);
    return fflush(stdout) ? 1 : 0;
}

int srt_cmd_tokens(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *decode = NULL, *v = NULL;
    int add_bos = 1, skip_special = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--no-bos")) { add_bos = 0; continue; }
        if (!strcmp(argv[i], "--skip-special")) { skip_special = 1; continue; }
        if (cli_flag_value(argc, argv, &i, "-m", &v) || cli_flag_value(argc, argv, &i, "--model", &v)) model = v;
        else if (cli_flag_value(argc, argv, &i, "--text", &v)) text = v;
        else if (cli_flag_value(argc, argv, &i, "--decode", &v)) decode = v;
        else return cli_usage_error("tokens", usage, "unknown argument %s", argv[i]);
        if (!v) return cli_usage_error("tokens", usage, "%s needs a value", argv[i]);
    }
    if (!model) return cli_usage_error("tokens", usage, "need -m MODEL_DIR");
    if (!text == !decode) return cli_usage_error("tokens", usage, "give exactly one of --text and --decode");
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (decode && parse_id_list(decode, &ids, &n_ids))
        return cli_usage_error("tokens", usage, "--decode wants comma-separated ids, got \"%s\"", decode);

    srt_tokenizer *tok = NULL;
    srt_status st = load_tokenizer(model, &tok);
    int rc = 0;
    if (st != SRT_OK) rc = cli_fail("tokens", st);
    else if (text) {
        int32_t *out = NULL;
        size_t n_out = 0;
        st = srt_tokenizer_encode(tok, text, strlen(text), add_bos, &out, &n_out);
        rc = st != SRT_OK ? cli_fail("tokens", st) : print_ids(out, n_out);
        free(out);
    } else {
        char *decoded = NULL;
        st = srt_tokenizer_decode(tok, ids, n_ids, skip_special, &decoded);
        if (st != SRT_OK) rc = cli_fail("tokens", st);
        else {
            fputs(decoded, stdout);
            fputc('\n', stdout);
            rc = fflush(stdout) ? 1 : 0;
        }
        free(decoded);
    }
    free(ids);
    srt_tokenizer_free(tok);
    return rc;
}
