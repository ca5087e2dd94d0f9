/* test_lm_model.c: loader errors (unknown architecture, missing tensor), the paged KV cache (SRT_ERR_FULL leaves
 * everything as it was, blocks come back when a sequence ends), the limits of srt_lm_generate (context end, a
 * request larger than the cache, waves when requests fit alone but not together), sliding-window and Mistral
 * configs, and seeded sampling that does not depend on the rest of the batch, on each backend of
 * SNACRT_TEST_BACKENDS (default "cpu"). Uses tests/data/llama/tiny-qwen2. */
#include "testutil.h"
#include "snacrt.h"
#include <sys/stat.h>
#include <unistd.h>

static char qwen_dir[512];

/* A temporary model folder with the given config text and a link to tiny-qwen2's weights. */
static void make_model_dir(const char *dir, const char *config) {
    char path[700], target[700];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs(config, f); fclose(f); }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(target, sizeof target, "%s/model.safetensors", qwen_dir);
    unlink(path);
    TEST_CHECK(symlink(target, path) == 0, "symlink %s", path);
}

static void test_load_errors(void) {
    char dir[64] = "/tmp/snacrt_lm_XXXXXX";
    TEST_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    srt_lm *lm = NULL;
    make_model_dir(dir, "{\"architectures\":[\"GPT2LMHeadModel\"],\"hidden_size\":64}");
    srt_status st = srt_lm_load(dir, NULL, &lm);
    TEST_CHECK(st == SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), "GPT2LMHeadModel"),
               "unknown architecture named: %s (%s)", srt_last_error(), srt_status_name(st));
    make_model_dir(dir, "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":192,"
                        "\"num_hidden_layers\":3,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
                        "\"vocab_size\":2048}");
    st = srt_lm_load(dir, NULL, &lm);
    TEST_CHECK(st == SRT_ERR_NOT_FOUND && strstr(srt_last_error(), "model.layers.2.self_attn.q_proj.weight"),
               "missing tensor named: %s (%s)", srt_last_error(), srt_status_name(st));
    make_model_dir(dir, "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,"
                        "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
                        "\"vocab_size\":2048}");
    st = srt_lm_load(dir, NULL, &lm);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "mlp.gate_proj"),
               "shape mismatch named: %s (%s)", srt_last_error(), srt_status_name(st));
    TEST_CHECK(lm == NULL, "failed loads return no model");
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir); unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir); unlink(path);
    rmdir(dir);
}

static void test_kv_full(void) {
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 4, .kv_max_tokens = 16};   /* 4 blocks */
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(qwen_dir, &opts, &lm) == SRT_OK, "load: %s", srt_last_error());
    if (!lm) return;
    int32_t prompt[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    float *logits = malloc(sizeof(float) * 2 * 2048);
    int a, b, n9 = 9, n5 = 5, one = 1;
    const int32_t *toks[2] = {prompt, prompt};
    srt_lm_seq_open(lm, &a);
    srt_lm_seq_open(lm, &b);
    TEST_CHECK(srt_lm_forward(lm, 1, &a, toks, &n9, 0, logits) == SRT_OK, "9 tokens fit: %s", srt_last_error());
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 1, "9 tokens take 3 blocks of 4 (%d free)", srt_lm_kv_free_blocks(lm));
    srt_status st = srt_lm_forward(lm, 1, &b, toks, &n5, 0, logits);
    TEST_CHECK(st == SRT_ERR_FULL && strstr(srt_last_error(), "KV cache full"), "5 more need 2 blocks: %s",
               srt_last_error());
    int both[2] = {a, b}, counts[2] = {1, 4};
    st = srt_lm_forward(lm, 2, both, toks, counts, 0, logits);   /* a fits its 3rd block, b needs 1: 1 free */
    TEST_CHECK(st == SRT_OK, "a batch that fits exactly: %s", srt_last_error());
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 0 && srt_lm_seq_length(lm, a) == 10 && srt_lm_seq_length(lm, b) == 4,
               "lengths 10 and 4, no block free (%d)", srt_lm_kv_free_blocks(lm));
    st = srt_lm_forward(lm, 2, both, toks, (int[]){1, 1}, 0, logits);   /* a fits (11 < 12), b needs a block */
    TEST_CHECK(st == SRT_ERR_FULL, "b's 5th token needs a block");
    TEST_CHECK(srt_lm_seq_length(lm, a) == 10, "a failed batch changes nothing (a has %d)", srt_lm_seq_length(lm, a));
    srt_lm_seq_close(lm, a);
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 3, "closing a gives its 3 blocks back (%d)", srt_lm_kv_free_blocks(lm));
    TEST_CHECK(srt_lm_forward(lm, 1, &b, toks, &one, 0, logits) == SRT_OK, "b goes on after a ended: %s",
               srt_last_error());
    TEST_CHECK(srt_lm_forward(lm, 1, &a, toks, &one, 0, logits) == SRT_ERR_INVALID_ARG, "closed sequence refused");
    srt_lm_seq_close(lm, b);
    free(logits);
    srt_lm_free(lm);
}

/* tiny-qwen2's config.json with `edit` (keys ending in a comma) put first: the first of duplicate keys is the one
 * cJSON finds, so these override the file's own. */
static void config_with(const char *edit, char *out, size_t cap) {
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", qwen_dir);
    FILE *f = fopen(path, "r");
    char text[4096] = {0};
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    char *brace = strchr(text, '{');
    TEST_CHECK(brace != NULL, "tiny-qwen2 config.json read");
    if (!brace) { out[0] = 0; return; }
    snprintf(out, cap, "{%s%s", edit, brace + 1);
}

static srt_lm_request greedy_request(const int32_t *prompt, size_t n_prompt, int max_tokens) {
    srt_lm_request r;
    srt_sampling_defaults(&r.sampling);
    r.sampling.temperature = 0;
    r.sampling.max_tokens = max_tokens;
    r.prompt = prompt;
    r.n_prompt = n_prompt;
    return r;
}

/* The context end cuts generation (finish length, the same ids as far as they go); a longer prompt is refused;
 * forward refuses positions past the context and ids outside the vocabulary. */
static void test_context_limits(srt_lm *full) {
    char dir[64] = "/tmp/snacrt_lm_XXXXXX", config[4096];
    TEST_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    config_with("\"max_position_embeddings\": 16,", config, sizeof config);
    make_model_dir(dir, config);
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 4, .kv_max_tokens = 64};
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_OK, "load max_position 16: %s", srt_last_error());
    int32_t prompt[17];
    for (int i = 0; i < 17; i++) prompt[i] = 100 + 7 * i;
    if (lm) {
        srt_lm_request req = greedy_request(prompt, 10, 20);
        srt_lm_output cut, ref;
        TEST_CHECK(srt_lm_generate(lm, 1, &req, &cut) == SRT_OK, "generate to the context end: %s", srt_last_error());
        TEST_CHECK(srt_lm_generate(full, 1, &req, &ref) == SRT_OK, "generate: %s", srt_last_error());
        TEST_CHECK(cut.n_ids == 7 && cut.finish == SRT_FINISH_LENGTH, "10 prompt tokens + 7 new fill 16 positions "
                   "(the last is never fed): %zu ids", cut.n_ids);
        TEST_CHECK(ref.n_ids == 20 && !memcmp(cut.ids, ref.ids, sizeof(int32_t) * (cut.n_ids < 20 ? cut.n_ids : 20)),
                   "the cut run gives the same ids as far as it goes");
        srt_lm_output_free(&cut); srt_lm_output_free(&ref);
        req = greedy_request(prompt, 17, 4);
        srt_lm_output none;
        srt_status st = srt_lm_generate(lm, 1, &req, &none);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "request 0") && strstr(srt_last_error(), "context"),
                   "a prompt longer than the context is refused by name: %s (%s)", srt_last_error(),
                   srt_status_name(st));
        int seq, n16 = 16, one = 1;
        const int32_t *toks[1] = {prompt};
        float *logits = malloc(sizeof(float) * 2048);
        srt_lm_seq_open(lm, &seq);
        TEST_CHECK(srt_lm_forward(lm, 1, &seq, toks, &n16, 0, logits) == SRT_OK, "16 positions fit: %s",
                   srt_last_error());
        st = srt_lm_forward(lm, 1, &seq, toks, &one, 0, logits);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "max_position_embeddings"),
                   "position 17 refused: %s", srt_last_error());
        srt_lm_seq_close(lm, seq);
        int32_t bad[2] = {5, 2048};
        toks[0] = bad;
        int two = 2;
        srt_lm_seq_open(lm, &seq);
        st = srt_lm_forward(lm, 1, &seq, toks, &two, 0, logits);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "outside the vocabulary"),
                   "id 2048 refused: %s", srt_last_error());
        TEST_CHECK(srt_lm_seq_length(lm, seq) == 0, "a refused batch caches nothing");
        srt_lm_seq_close(lm, seq);
        free(logits);
        srt_lm_free(lm);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir); unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir); unlink(path);
    rmdir(dir);
}

/* Requests that fit the cache alone but not together run in waves with the ids they get alone; one that can never
 * fit is refused by name before any work. */
static void test_kv_waves(srt_lm *full) {
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 8, .kv_max_tokens = 64};   /* 8 blocks */
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(qwen_dir, &opts, &lm) == SRT_OK, "load: %s", srt_last_error());
    if (!lm) return;
    int32_t p[3][5] = {{1, 2, 3, 4, 5}, {9, 8, 7}, {40, 41, 42, 43}};
    size_t np[3] = {5, 3, 4};
    srt_lm_request reqs[3];
    for (int i = 0; i < 3; i++) {
        reqs[i] = greedy_request(p[i], np[i], 20);           /* <= 24 positions: 3 blocks each, 9 > 8 together */
        reqs[i].sampling.temperature = 1.2f;
        reqs[i].sampling.seed = 77 + (uint64_t)i;
    }
    srt_lm_output waves[3], alone;
    TEST_CHECK(srt_lm_generate(lm, 3, reqs, waves) == SRT_OK, "3 requests in 2 waves: %s", srt_last_error());
    for (int i = 0; i < 3; i++) {
        TEST_CHECK(srt_lm_generate(full, 1, &reqs[i], &alone) == SRT_OK, "alone: %s", srt_last_error());
        TEST_CHECK(waves[i].n_ids == 20 && alone.n_ids == 20 && !memcmp(waves[i].ids, alone.ids, sizeof(int32_t) * 20),
                   "request %d: the same ids in a wave as alone", i);
        srt_lm_output_free(&alone);
        srt_lm_output_free(&waves[i]);
    }
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 8, "every block back after the waves (%d)", srt_lm_kv_free_blocks(lm));
    srt_lm_request big[2] = {reqs[0], greedy_request(p[1], 3, 100)};   /* 102 positions: 13 blocks > 8 */
    srt_lm_output outs[2];
    srt_status st = srt_lm_generate(lm, 2, big, outs);
    TEST_CHECK(st == SRT_ERR_FULL && strstr(srt_last_error(), "request 1 needs 13 KV blocks"),
               "a request larger than the cache is refused by name: %s (%s)", srt_last_error(), srt_status_name(st));
    TEST_CHECK(outs[0].ids == NULL && outs[1].ids == NULL && srt_lm_kv_free_blocks(lm) == 8, "refused before any work");
    srt_lm_free(lm);
}

/* sliding_window cuts the context (Qwen2 only with use_sliding_window); a Mistral config over the same weights
 * (attention_bias true) is the same network: the same greedy ids. */
static void test_window_and_mistral(srt_lm *full) {
    char dir[64] = "/tmp/snacrt_lm_XXXXXX", config[4096];
    TEST_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 8, .kv_max_tokens = 256};
    srt_lm_info info;
    srt_lm *lm = NULL;
    config_with("\"use_sliding_window\": true, \"sliding_window\": 12,", config, sizeof config);
    make_model_dir(dir, config);
    TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_OK, "load qwen2 with a window: %s", srt_last_error());
    if (lm) {
        srt_lm_get_info(lm, &info);
        TEST_CHECK(info.max_position == 12 && info.sliding_window == 12, "window 12 cuts the context (%d, %d)",
                   info.max_position, info.sliding_window);
        srt_lm_free(lm); lm = NULL;
    }
    config_with("\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"attention_bias\": true, "
                "\"sliding_window\": 4096, \"rope_theta\": 1000000.0,", config, sizeof config);
    make_model_dir(dir, config);
    TEST_CHECK(srt_lm_load(dir, &opts, &lm) == SRT_OK, "load as Mistral: %s", srt_last_error());
    if (lm) {
        srt_lm_get_info(lm, &info);
        TEST_CHECK(!strcmp(info.architecture, "MistralForCausalLM") && info.max_position == 4096 &&
                   info.sliding_window == 4096, "Mistral, window 4096 of 32768 (%s, %d)", info.architecture,
                   info.max_position);
        int32_t prompt[6] = {3, 1, 4, 1, 5, 9};
        srt_lm_request req = greedy_request(prompt, 6, 12);
        srt_lm_output a, b;
        TEST_CHECK(srt_lm_generate(lm, 1, &req, &a) == SRT_OK && srt_lm_generate(full, 1, &req, &b) == SRT_OK,
                   "generate: %s", srt_last_error());
        TEST_CHECK(a.n_ids == 12 && b.n_ids == 12 && !memcmp(a.ids, b.ids, sizeof(int32_t) * 12),
                   "Mistral over Qwen2's weights gives Qwen2's greedy ids");
        srt_lm_output_free(&a); srt_lm_output_free(&b);
        srt_lm_free(lm);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir); unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir); unlink(path);
    rmdir(dir);
}

/* A sampled request gives the same ids alone and in a batch with other requests. */
static void test_seed_independent_of_batch(const char *backend) {
    srt_lm_options opts = {.backend = backend, .kv_block_size = 8, .kv_max_tokens = 512};
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(qwen_dir, &opts, &lm) == SRT_OK, "load: %s", srt_last_error());
    if (!lm) return;
    int32_t p0[5] = {10, 20, 30, 40, 50}, p1[2] = {7, 8}, p2[9] = {1, 1, 2, 3, 5, 8, 13, 21, 34};
    srt_lm_request reqs[3];
    for (int i = 0; i < 3; i++) {
        srt_sampling_defaults(&reqs[i].sampling);
        reqs[i].sampling.temperature = 1.5f;   /* flat enough that the draws matter */
        reqs[i].sampling.top_p = 0.95f;
        reqs[i].sampling.max_tokens = 20;
        reqs[i].sampling.seed = 1000 + (uint64_t)i;
    }
    reqs[0].prompt = p0; reqs[0].n_prompt = 5;
    reqs[1].prompt = p1; reqs[1].n_prompt = 2;
    reqs[2].prompt = p2; reqs[2].n_prompt = 9;
    reqs[2].sampling.max_tokens = 7;
    srt_lm_output alone, batch[3];
    TEST_CHECK(srt_lm_generate(lm, 1, &reqs[0], &alone) == SRT_OK, "alone: %s", srt_last_error());
    TEST_CHECK(srt_lm_generate(lm, 3, reqs, batch) == SRT_OK, "batch: %s", srt_last_error());
    TEST_CHECK(alone.n_ids == 20 && batch[0].n_ids == 20 && batch[2].n_ids == 7, "lengths %zu %zu %zu", alone.n_ids,
               batch[0].n_ids, batch[2].n_ids);
    TEST_CHECK(!memcmp(alone.ids, batch[0].ids, sizeof(int32_t) * 20), "same seed, same ids alone and in a batch");
    int distinct = 0;
    for (int i = 1; i < 20; i++) distinct += alone.ids[i] != alone.ids[0];
    TEST_CHECK(distinct > 0, "sampling at temperature 1.5 is not constant");
    /* stop ids end a sequence and are included */
    srt_lm_request stop = reqs[0];
    stop.sampling.stop_ids = &alone.ids[3];
    stop.sampling.n_stop_ids = 1;
    srt_lm_output stopped;
    TEST_CHECK(srt_lm_generate(lm, 1, &stop, &stopped) == SRT_OK, "stop: %s", srt_last_error());
    int first = 0;
    while (alone.ids[first] != alone.ids[3]) first++;
    TEST_CHECK(stopped.finish == SRT_FINISH_STOP && (int)stopped.n_ids == first + 1,
               "stops at the first occurrence of the stop id (%zu ids, want %d)", stopped.n_ids, first + 1);
    /* only an allowed range */
    srt_lm_request ranged = reqs[1];
    ranged.sampling.allowed_begin = 1000;
    ranged.sampling.allowed_end = 1100;
    srt_lm_output in_range;
    TEST_CHECK(srt_lm_generate(lm, 1, &ranged, &in_range) == SRT_OK, "ranged: %s", srt_last_error());
    int outside = 0;
    for (size_t i = 0; i < in_range.n_ids; i++) outside += in_range.ids[i] < 1000 || in_range.ids[i] >= 1100;
    TEST_CHECK(outside == 0 && in_range.n_ids == 20, "allowed range [1000, 1100): %d outside", outside);
    srt_lm_output_free(&alone); srt_lm_output_free(&stopped); srt_lm_output_free(&in_range);
    for (int i = 0; i < 3; i++) srt_lm_output_free(&batch[i]);
    TEST_CHECK(srt_lm_kv_free_blocks(lm) == 64, "every block back after generate (%d)", srt_lm_kv_free_blocks(lm));
    srt_lm_free(lm);
}

int main(void) {
    test_src_path("tests/data/llama/tiny-qwen2", qwen_dir, sizeof qwen_dir);
    if (qwen_dir[0] != '/') {   /* symlinks need an absolute target */
        char *abs = realpath(qwen_dir, NULL);
        if (abs) snprintf(qwen_dir, sizeof qwen_dir, "%.500s", abs);
        free(abs);
    }
    char backends[256];
    int cpu_cases = strstr(test_backend_list("cpu", backends, sizeof backends), "cpu") != NULL;
    /* the loader and limit cases run on the cpu backend, the seeded-batch case on each backend */
    if (cpu_cases) {
        test_load_errors();
        test_kv_full();
        srt_lm_options opts = {.backend = "cpu", .kv_block_size = 8, .kv_max_tokens = 1024};
        srt_lm *full = NULL;
        TEST_CHECK(srt_lm_load(qwen_dir, &opts, &full) == SRT_OK, "load: %s", srt_last_error());
        if (full) {
            test_context_limits(full);
            test_kv_waves(full);
            test_window_and_mistral(full);
            srt_lm_free(full);
        }
    }
    TEST_FOR_EACH_BACKEND(be, "cpu") test_seed_independent_of_batch(be);
    TEST_MAIN_END();
}
