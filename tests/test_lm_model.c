/* test_lm_model.c: loader errors (unknown architecture, missing tensor), the paged KV cache (SRT_ERR_FULL leaves
 * everything as it was, blocks come back when a sequence ends) and seeded sampling that does not depend on the
 * rest of the batch. Uses tests/data/llama/tiny-qwen2. */
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

/* A sampled request gives the same ids alone and in a batch with other requests. */
static void test_seed_independent_of_batch(void) {
    srt_lm_options opts = {.backend = "cpu", .kv_block_size = 8, .kv_max_tokens = 512};
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
    test_load_errors();
    test_kv_full();
    test_seed_independent_of_batch();
    TEST_MAIN_END();
}
