/* test_config_hostile.c: hostile numbers and amplifying files fail cleanly, naming the field or limit (#17 items 4
 * and 6). SNAC config.json (hop-length product overflow, out-of-range and non-integer fields), LM config.json
 * (n_heads * head_dim overflow, negative or huge max_position_embeddings, huge dims, out-of-range eos ids), .npy
 * shapes whose product overflows, tokenizer.json ids far past the file size, and pickles that amplify: 10 million
 * `N` opcodes in a 10 KB checkpoint, 5 million `}0`, a far memo index; each must fail fast in small memory. */
#include "snac/snac_model.h"
#include "snacrt_codes.h"
#include "lm/lm_model.h"
#include "weights/pickle.h"
#include "testutil.h"
#include "weights_fixture.h"
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static char tmp_dir[256];

/* Under AddressSanitizer time and RSS bounds are looser (shadow memory, the freed-memory quarantine). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* CPU seconds of this process (robust to a loaded machine, unlike wall time) */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static long max_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* status != OK and the message contains every one of the given words */
static void expect_error(srt_status s, const char *what, const char *word1, const char *word2) {
    const char *msg = srt_last_error();
    TEST_CHECK(s != SRT_OK && (!word1 || strstr(msg, word1)) && (!word2 || strstr(msg, word2)),
               "%s: status %s, message \"%s\" (wanted \"%s\"%s%s)", what, srt_status_name(s), msg, word1 ? word1 : "",
               word2 ? " and " : "", word2 ? word2 : "");
}

static const char *snac_base =
    "\"sampling_rate\": 24000, \"encoder_dim\": 48, \"decoder_dim\": 1024, \"decoder_rates\": [8, 8, 4, 2], "
    "\"vq_strides\": [4, 2, 1], \"attn_window_size\": null, \"codebook_size\": 4096, \"codebook_dim\": 8";

static srt_status snac_parse(const char *fields) {
    char json[2048];
    snprintf(json, sizeof json, "{%s, %s}", fields, snac_base);   /* cJSON takes the first of a repeated key */
    snac_config cfg;
    srt_clear_error();
    return snac_config_parse(json, "snac/config.json", &cfg);
}

static void test_snac_config(void) {
    TEST_CHECK(snac_parse("\"encoder_rates\": [2, 4, 8, 8]") == SRT_OK, "the base config parses: %s", srt_last_error());
    /* six 64s: 2^36 overflowed the int hop length before */
    expect_error(snac_parse("\"encoder_rates\": [64, 64, 64, 64, 64, 64]"), "encoder_rates of six 64s",
                 "snac/config.json", "encoder_rates product");
    expect_error(snac_parse("\"encoder_rates\": [2, 4, 8, 8], \"sampling_rate\": 1e300"), "sampling_rate 1e300",
                 "snac/config.json", "\"sampling_rate\"");
    expect_error(snac_parse("\"encoder_rates\": [2, 4, 8, 8], \"codebook_size\": -5"), "codebook_size -5",
                 "\"codebook_size\"", NULL);
    expect_error(snac_parse("\"encoder_rates\": [2, 4, 8, 8], \"encoder_dim\": 2.5"), "encoder_dim 2.5",
                 "\"encoder_dim\"", NULL);
    expect_error(snac_parse("\"encoder_rates\": [2, 4, 8, 8], \"latent_dim\": 99999999999"), "latent_dim huge",
                 "\"latent_dim\"", NULL);
    expect_error(snac_parse("\"encoder_rates\": [64, 64], \"decoder_rates\": [64, 64], \"attn_window_size\": 4096, \"vq_strides\": [63, 1]"),
                 "padding multiple past the limit", "padding multiple", NULL);
}

static const char *lm_base = "\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, "
                             "\"intermediate_size\": 128, \"num_hidden_layers\": 2, \"vocab_size\": 300";

static srt_status lm_parse(const char *fields) {
    char json[2048];
    snprintf(json, sizeof json, "{%s, %s}", lm_base, fields);
    srt_lm_config cfg;
    srt_clear_error();
    return srt_lm_config_parse(json, "lm/config.json", &cfg);
}

static void test_lm_config(void) {
    TEST_CHECK(lm_parse("\"num_attention_heads\": 4") == SRT_OK, "the base config parses: %s", srt_last_error());
    expect_error(lm_parse("\"num_attention_heads\": 4096, \"head_dim\": 2048"), "n_heads x head_dim past 2^20",
                 "lm/config.json", "num_attention_heads x head_dim");
    expect_error(lm_parse("\"num_attention_heads\": 4, \"max_position_embeddings\": -5"),
                 "negative max_position_embeddings", "lm/config.json", "\"max_position_embeddings\"");
    expect_error(lm_parse("\"num_attention_heads\": 4, \"max_position_embeddings\": 1e19"),
                 "max_position_embeddings 1e19", "\"max_position_embeddings\"", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 3000000000"), "num_attention_heads past int",
                 "\"num_attention_heads\"", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"head_dim\": -2"), "negative head_dim", "\"head_dim\"", NULL);
    expect_error(lm_parse("\"nwm_attention_heads\": 4"), "num_attention_heads missing (found by fuzz_config)",
                 "\"num_attention_heads\" is missing", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"num_key_value_heads\": 0"), "zero kv heads",
                 "\"num_key_value_heads\"", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"eos_token_id\": [1, 1e12]"), "eos id past int32",
                 "\"eos_token_id\"", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"rope_theta\": -1"), "negative rope_theta", "rope_theta",
                 NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"sliding_window\": -7"), "negative sliding_window",
                 "\"sliding_window\"", NULL);
    expect_error(lm_parse("\"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, "
                          "\"original_max_position_embeddings\": -1}"), "negative original_max_position_embeddings",
                 "\"original_max_position_embeddings\"", NULL);
}

static void test_npy(void) {
    srt_codec_info info;
    memset(&info, 0, sizeof info);
    info.sample_rate = 24000; info.hop_length = 512; info.n_levels = 3;
    info.vq_strides[0] = 4; info.vq_strides[1] = 2; info.vq_strides[2] = 1; info.codebook_size = 4096;
    /* (2^40, 2^40): the product overflowed int64 before any check */
    const char *shapes[] = {"(1099511627776, 1099511627776)", "(1099511627776, 1099511627776, 1099511627776)",
                            "(17179869184, 8)"};
    for (int i = 0; i < 3; i++) {
        char header[128], file[256];
        int hl = snprintf(header, sizeof header, "{'descr': '<i4', 'fortran_order': False, 'shape': %s, }", shapes[i]);
        size_t n = 10 + (size_t)hl;
        memcpy(file, "\x93NUMPY\x01\x00", 8);
        file[8] = (char)hl; file[9] = 0;
        memcpy(file + 10, header, (size_t)hl);
        srt_codes codes;
        srt_clear_error();
        srt_status s = srt_codes_parse(&info, file, n, SRT_CODES_NPY, "codes.npy", &codes);
        expect_error(s, shapes[i], "codes.npy", NULL);
        if (s == SRT_OK) srt_codes_free(&codes);
    }
}

static void test_tokenizer_ids(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", tmp_dir);
    const char *json = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2000000000}, \"merges\": []}, "
                       "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}}";
    TEST_CHECK(fx_write_file(path, json, strlen(json)), "write %s", path);
    srt_tokenizer *t = NULL;
    long before = max_rss_mb();
    srt_clear_error();
    srt_status s = srt_tokenizer_load(path, &t);
    expect_error(s, "token id 2e9 in a 100-byte tokenizer.json", "tokenizer.json", "larger than the file");
    TEST_CHECK(UNDER_ASAN || max_rss_mb() - before < 100, "the id tables were not sized by the lying id (+%ld MB)",
               max_rss_mb() - before);
    if (s == SRT_OK) srt_tokenizer_free(t);
    unlink(path);
}

/* A checkpoint holding data.pkl = PROTO 2, body, STOP (deflated), opened by the torch loader. */
static srt_status open_pickle_zip(const fx_buf *body, const char *name, size_t *file_size) {
    fx_buf pk = {0};
    fx_u8(&pk, 0x80); fx_u8(&pk, 2);
    fx_put(&pk, body->p, body->len);
    fx_u8(&pk, '.');
    const fx_member members[] = {{"archive/data.pkl", pk.p, pk.len, 1}};
    fx_buf zip = {0};
    fx_zip_build(&zip, members, 1, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    TEST_CHECK(fx_write_file(path, zip.p, zip.len), "write %s", path);
    *file_size = zip.len;
    free(zip.p);
    free(pk.p);
    srt_weights *w = NULL;
    srt_clear_error();
    srt_status s = srt_weights_open_torch(path, &w);
    if (s == SRT_OK) srt_weights_free(w);
    unlink(path);
    return s;
}

static void repeat(fx_buf *b, const char *unit, size_t times) {
    size_t n = strlen(unit);
    for (size_t i = 0; i < times; i++) fx_put(b, unit, n);
}

static void test_pickle_bombs(void) {
    struct { const char *name, *unit; size_t times; const char *word; } bombs[] = {
        {"n_bomb.bin", "N", 10000000, "stack"},          /* 10 million None: 2.78 GB and 6.9 s before */
        {"dict_bomb.bin", "}0", 5000000, "amplifies"},   /* 5 million dicts made and dropped */
        {"list_bomb.bin", "]0", 5000000, "amplifies"},
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        fx_buf b = {0};
        repeat(&b, bombs[i].unit, bombs[i].times);
        size_t file_size = 0;
        long rss0 = max_rss_mb();
        double t0 = cpu_s();
        srt_status s = open_pickle_zip(&b, bombs[i].name, &file_size);
        double dt = cpu_s() - t0;
        long grew = max_rss_mb() - rss0;
        expect_error(s, bombs[i].name, bombs[i].name, bombs[i].word);
        printf("%s: %zu-byte file, %zu-byte pickle: failed in %.2f s of CPU, max RSS +%ld MB: %s\n", bombs[i].name,
               file_size, b.len + 3, dt, grew, srt_last_error());
        TEST_CHECK(dt < (UNDER_ASAN ? 20.0 : 3.0), "%s failed fast (%.2f s of CPU)", bombs[i].name, dt);
        /* the budget: 32 x the pickle + 1 MiB, plus the inflated pickle itself */
        TEST_CHECK(UNDER_ASAN || grew < 33 * (long)(b.len >> 20) + 64, "%s: max RSS grew %ld MB", bombs[i].name, grew);
        free(b.p);
    }
    /* a memo index far past anything set, then a get of it */
    fx_buf b = {0};
    fx_u8(&b, 'N'); fx_u8(&b, 'r'); fx_u32(&b, 0x7ffffff0u);
    size_t file_size;
    expect_error(open_pickle_zip(&b, "memo.bin", &file_size), "memo index 2^31", "memo.bin", "memo");
    free(b.p);
    /* a real pickle stays well inside the budget: checked by test_weights_corrupt/test_weights loading tiny24 */
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_test_config_hostile_XXXXXX");
    if (!mkdtemp(tmp_dir)) { perror("mkdtemp"); return 1; }
    test_snac_config();
    test_lm_config();
    test_npy();
    test_tokenizer_ids();
    test_pickle_bombs();
    TEST_CHECK(rmdir(tmp_dir) == 0, "temp folder left clean");
    TEST_MAIN_END();
}
