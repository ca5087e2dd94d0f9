/* test_snac_errors.c: bad inputs to the codec API give clear errors naming the input and never crash:
 * missing or malformed config.json, a config with impossible values, missing weights, empty signals,
 * out-of-range or inconsistent codes; and a failed call leaves earlier results intact. */
#include "snacrt.h"
#include "testutil.h"
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void expect_load_error(const char *dir, srt_status want, const char *needle, const char *what) {
    srt_codec *c = NULL;
    srt_status st = srt_codec_load(dir, NULL, &c);
    TEST_CHECK(st == want, "%s: status %s, want %s (%s)", what, srt_status_name(st), srt_status_name(want), srt_last_error());
    TEST_CHECK(c == NULL, "%s: no codec on failure", what);
    TEST_CHECK(strstr(srt_last_error(), needle) != NULL, "%s: message '%s' should name '%s'", what, srt_last_error(), needle);
    srt_codec_free(c);
}

int main(void) {
    char dir[] = "/tmp/snacrt-errors-XXXXXX";
    if (!mkdtemp(dir)) { TEST_CHECK(0, "mkdtemp"); TEST_MAIN_END(); }
    char cfg[512], weights[512], src[1024], abs[PATH_MAX];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);

    expect_load_error(dir, SRT_ERR_IO, "config.json", "missing config");
    write_text(cfg, "{\"sampling_rate\": 24000, \"encoder_rates\": [2,4,");
    expect_load_error(dir, SRT_ERR_FORMAT, "config.json", "truncated config");
    write_text(cfg, "{\"encoder_rates\": [2,4,8,8], \"decoder_rates\": [8,8,4,3], \"vq_strides\": [4,2,1]}");
    expect_load_error(dir, SRT_ERR_FORMAT, "decoder_rates", "rates that do not match");
    write_text(cfg, "{\"encoder_rates\": \"x\", \"decoder_rates\": [8], \"vq_strides\": [1]}");
    expect_load_error(dir, SRT_ERR_FORMAT, "encoder_rates", "rates not an array");
    /* a valid config but no weights file */
    test_src_path("tests/data/snac/tiny24/config.json", src, sizeof src);
    char *text = NULL;
    FILE *f = fopen(src, "r");
    if (f) {
        text = calloc(1, 1 << 16);
        size_t n = fread(text, 1, (1 << 16) - 1, f);
        (void)n;
        fclose(f);
        write_text(cfg, text);
    }
    free(text);
    expect_load_error(dir, SRT_ERR_NOT_FOUND, "model.safetensors", "no weights");
    /* weights of another architecture (tiny44 weights under the tiny24 config) */
    test_src_path("tests/data/snac/tiny44/model.safetensors", src, sizeof src);
    TEST_CHECK(realpath(src, abs) != NULL && symlink(abs, weights) == 0, "symlink");
    srt_codec *c = NULL;
    srt_status st = srt_codec_load(dir, NULL, &c);
    TEST_CHECK(st != SRT_OK && c == NULL, "mismatched weights must fail");
    TEST_CHECK(strstr(srt_last_error(), "model.safetensors") != NULL, "message names the file: %s", srt_last_error());
    unlink(weights);
    unlink(cfg);
    rmdir(dir);

    /* API misuse on a good model */
    test_src_path("tests/data/snac/tiny24", src, sizeof src);
    st = srt_codec_load(src, NULL, &c);
    TEST_CHECK(st == SRT_OK, "load tiny24: %s", srt_last_error());
    if (st == SRT_OK) {
        float audio[4096];
        test_fill_uniform(audio, 4096, 1, -0.5f, 0.5f);
        const float *items[2] = {audio, audio};
        int64_t lens[2] = {4096, 0};
        srt_codes codes[2];
        st = srt_codec_encode(c, 2, items, lens, codes, NULL, NULL);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "signal 1"), "empty signal: %s", srt_last_error());
        lens[1] = 4096;
        st = srt_codec_encode(c, 2, items, lens, codes, NULL, NULL);
        TEST_CHECK(st == SRT_OK, "encode: %s", srt_last_error());
        if (st == SRT_OK) {
            /* earlier results: the codes and a decode of them, copied to compare after the failed calls */
            srt_codes keep[2];
            float *first[2] = {0}, *first_copy[2] = {0};
            int64_t n_first[2] = {0};
            for (int i = 0; i < 2; i++) {
                keep[i] = codes[i];
                for (int l = 0; l < codes[i].n_levels; l++) {
                    keep[i].codes[l] = malloc(sizeof(int32_t) * (size_t)codes[i].n_frames[l]);
                    memcpy(keep[i].codes[l], codes[i].codes[l], sizeof(int32_t) * (size_t)codes[i].n_frames[l]);
                }
            }
            st = srt_codec_decode(c, 2, codes, -1, first, n_first);
            TEST_CHECK(st == SRT_OK && n_first[0] == 4096 && n_first[1] == 4096, "first decode: %s", srt_last_error());
            for (int i = 0; i < 2 && st == SRT_OK; i++) {
                first_copy[i] = malloc(sizeof(float) * (size_t)n_first[i]);
                memcpy(first_copy[i], first[i], sizeof(float) * (size_t)n_first[i]);
            }
            /* out-of-range code in item 1: the call fails naming item 1; item 0's codes are untouched */
            int32_t saved = codes[1].codes[2][3];
            codes[1].codes[2][3] = 256;
            float *out[2] = {0};
            int64_t n_out[2] = {0};
            st = srt_codec_decode(c, 2, codes, -1, out, n_out);
            TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "item 1") && strstr(srt_last_error(), "256"),
                       "bad code: %s", srt_last_error());
            codes[1].codes[2][3] = saved;
            codes[1].n_frames[1] -= 1;
            st = srt_codec_decode(c, 2, codes, -1, out, n_out);
            TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "level 1"), "inconsistent: %s", srt_last_error());
            codes[1].n_frames[1] += 1;
            /* the failed calls changed neither the codes nor the earlier decode's buffers */
            int codes_same = 1;
            for (int i = 0; i < 2; i++) {
                codes_same &= codes[i].n_levels == keep[i].n_levels && codes[i].n_samples == keep[i].n_samples;
                for (int l = 0; l < keep[i].n_levels && codes_same; l++)
                    codes_same &= codes[i].n_frames[l] == keep[i].n_frames[l] &&
                                  !memcmp(codes[i].codes[l], keep[i].codes[l], sizeof(int32_t) * (size_t)keep[i].n_frames[l]);
            }
            TEST_CHECK(codes_same, "the codes are intact after the failed decodes");
            for (int i = 0; i < 2 && first_copy[i]; i++)
                TEST_CHECK(!memcmp(first[i], first_copy[i], sizeof(float) * (size_t)n_first[i]),
                           "item %d of the earlier decode is intact after the failed decodes", i);
            st = srt_codec_decode(c, 2, codes, -1, out, n_out);
            TEST_CHECK(st == SRT_OK && n_out[0] == 4096 && n_out[1] == 4096, "decode after errors: %s", srt_last_error());
            /* and a decode after the errors gives the earlier decode's audio exactly */
            for (int i = 0; i < 2 && st == SRT_OK && first_copy[i]; i++)
                TEST_CHECK(!memcmp(out[i], first_copy[i], sizeof(float) * (size_t)n_first[i]),
                           "item %d: decode after errors equals the decode before them", i);
            if (st == SRT_OK) { free(out[0]); free(out[1]); }
            for (int i = 0; i < 2; i++) {
                free(first[i]);
                free(first_copy[i]);
                for (int l = 0; l < keep[i].n_levels; l++) free(keep[i].codes[l]);
            }
            srt_codes_free(&codes[0]);
            srt_codes_free(&codes[1]);
        }
        srt_codec_free(c);
    }
    srt_codec_options bad = {.backend = "tpu"};
    st = srt_codec_load(src, &bad, &c);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "tpu"), "unknown backend: %s", srt_last_error());
    TEST_MAIN_END();
}
