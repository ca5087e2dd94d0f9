/* test_lm_precision_option.c: srt_lm_options.lm_precision (the --lm-precision flag) on every backend that has one.
 * tests/data/llama/tiny-qwen2 on "cpu" and, where the build has it, "cuda" (the simulator in a cudasim build):
 *  - srt_lm_info.lm_precision reports the mode in force: the default (bf16), the option's "exact" and "bf16", and
 *    the option over the environment (SNACRT_CPU_LM_PRECISION / SNACRT_CUDA_LM_PRECISION=exact, option bf16);
 *  - the option's "exact" gives the same logits, bit for bit, as the environment's "exact" (one prefill);
 *  - "cpu-ref" reports "" (it has one precision); an unknown name is refused by name on every backend. */
#include "snacrt.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static srt_lm *load(const char *dir, const char *backend, const char *prec) {
    srt_lm_options o;
    memset(&o, 0, sizeof o);
    o.backend = backend;
    o.kv_block_size = 8;
    o.kv_max_tokens = 256;
    o.kv_dtype = "f32";
    o.lm_precision = prec;
    srt_lm *lm = NULL;
    srt_status st = srt_lm_load(dir, &o, &lm);
    TEST_CHECK(st == SRT_OK, "%s load (lm_precision %s): %s", backend, prec ? prec : "NULL", srt_last_error());
    return st == SRT_OK ? lm : NULL;
}

static void expect_mode(srt_lm *lm, const char *backend, const char *what, const char *want) {
    if (!lm) return;
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    TEST_CHECK(!strcmp(info.lm_precision, want), "%s %s: lm_precision '%s', want '%s'", backend, what,
               info.lm_precision, want);
}

/* logits (vocab) of the last token of a fixed 5-token prompt; NULL on failure */
static float *prefill_logits(srt_lm *lm) {
    if (!lm) return NULL;
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    const int32_t prompt[5] = {2000, 5, 17, 300, 9};
    const int32_t *tokens = prompt;
    int seq = -1, n = 5;
    float *logits = malloc(sizeof(float) * (size_t)info.vocab_size);
    srt_status st = srt_lm_seq_open(lm, &seq);
    if (st == SRT_OK) st = srt_lm_forward(lm, 1, &seq, &tokens, &n, 0, logits);
    TEST_CHECK(st == SRT_OK, "forward: %s", srt_last_error());
    if (st != SRT_OK) { free(logits); return NULL; }
    return logits;
}

static void backend_case(const char *dir, const char *backend, const char *env) {
    unsetenv(env);
    srt_lm *def = load(dir, backend, NULL), *exact = load(dir, backend, "exact"), *bf16 = load(dir, backend, "bf16");
    expect_mode(def, backend, "default", "bf16");
    expect_mode(exact, backend, "option exact", "exact");
    expect_mode(bf16, backend, "option bf16", "bf16");
    setenv(env, "exact", 1);
    srt_lm *env_exact = load(dir, backend, NULL), *over = load(dir, backend, "bf16");
    unsetenv(env);
    expect_mode(env_exact, backend, "environment exact", "exact");
    expect_mode(over, backend, "option bf16 over environment exact", "bf16");
    float *a = prefill_logits(exact), *b = prefill_logits(env_exact);
    if (a && b) {
        srt_lm_info info;
        srt_lm_get_info(exact, &info);
        TEST_CHECK(!memcmp(a, b, sizeof(float) * (size_t)info.vocab_size),
                   "%s: the option's exact logits differ from the environment's exact logits", backend);
    }
    free(a);
    free(b);
    srt_lm *bad = NULL;
    srt_lm_options o;
    memset(&o, 0, sizeof o);
    o.backend = backend;
    o.lm_precision = "fp8";
    srt_status st = srt_lm_load(dir, &o, &bad);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "fp8"), "%s: lm_precision fp8: %s (%s)",
               backend, srt_status_name(st), srt_last_error());
    srt_lm_free(bad);
    srt_lm_free(def);
    srt_lm_free(exact);
    srt_lm_free(bf16);
    srt_lm_free(env_exact);
    srt_lm_free(over);
}

int main(void) {
    char dir[512];
    test_src_path("tests/data/llama/tiny-qwen2", dir, sizeof dir);
    backend_case(dir, "cpu", "SNACRT_CPU_LM_PRECISION");
    srt_lm *ref = load(dir, "cpu-ref", "exact");
    expect_mode(ref, "cpu-ref", "option exact", "");
    srt_lm_free(ref);
    srt_device_info devs[4];
    int n = 0;
    char note[256];
    if (srt_list_devices(devs, 4, &n, note, sizeof note) == SRT_OK && n > 1)   /* the CPU, then CUDA devices */
        backend_case(dir, "cuda", "SNACRT_CUDA_LM_PRECISION");
    else printf("no cuda device (%s): cuda part skipped\n", note);
    TEST_MAIN_END();
}
