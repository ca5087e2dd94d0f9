/* test_layout.c: token layouts (host/tts/layout.*): both shipped layouts parse and their compiled-in copies equal
 * the files in layouts/; the orpheus mapping of frame groups to ids and back (and the prompt it builds with the
 * tiny-orpheus tokenizer); laion-flat ids; a 4-level layout; malformed layouts -> SRT_ERR_FORMAT naming the field. */
#include "tts/layout.h"
#include "common.h"
#include "testutil.h"
#include <unistd.h>

static char *read_text(const char *rel) {
    char path[1024];
    char *text = NULL;
    size_t n = 0;
    if (srt_read_file(test_src_path(rel, path, sizeof path), &text, &n) != SRT_OK) return NULL;
    return text;
}

static void test_builtin_equals_files(void) {
    for (int i = 0; srt_layout_builtin_names[i]; i++) {
        const char *name = srt_layout_builtin_names[i];
        char rel[256];
        snprintf(rel, sizeof rel, "layouts/%s.json", name);
        char *file = read_text(rel);
        const char *builtin = srt_layout_builtin(name);
        TEST_CHECK(file && builtin && !strcmp(file, builtin),
                   "compiled-in %s equals %s (regenerate: python3 layouts/gen_builtin.py)", name, rel);
        srt_layout *l = NULL;
        TEST_CHECK(file && srt_layout_parse(file, rel, &l) == SRT_OK, "%s parses: %s", rel, srt_last_error());
        srt_layout_free(l);
        free(file);
    }
    TEST_CHECK(srt_layout_builtin("nope") == NULL, "unknown built-in");
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_load("nope", NULL, &l) == SRT_ERR_NOT_FOUND && strstr(srt_last_error(), "orpheus"),
               "unknown layout name lists the known ones: %s", srt_last_error());
    TEST_CHECK(srt_layout_load("/nonexistent/x.json", NULL, &l) == SRT_ERR_IO &&
               strstr(srt_last_error(), "/nonexistent/x.json"), "missing layout file: %s", srt_last_error());
}

static void test_orpheus(void) {
    srt_layout *l = NULL;
    char dir[1024];
    /* NULL name and a model folder without snacrt_layout.json: orpheus */
    TEST_CHECK(srt_layout_load(NULL, test_src_path("tests/data/llama/tiny-orpheus", dir, sizeof dir), &l) == SRT_OK,
               "default layout: %s", srt_last_error());
    if (!l) return;
    TEST_CHECK(!strcmp(l->name, "orpheus") && l->n_positions == 7 && l->audio_base == 128266 &&
               l->position_stride == 4096 && l->start_of_speech == 128257 && l->end_of_speech == 128258,
               "orpheus fields");
    int want_level[7] = {0, 1, 2, 2, 1, 2, 2}, want_index[7] = {0, 0, 0, 1, 1, 2, 3};
    for (int p = 0; p < 7; p++)
        TEST_CHECK(l->pos_level[p] == want_level[p] && l->pos_index[p] == want_index[p], "position %d: level %d index %d",
                   p, l->pos_level[p], l->pos_index[p]);
    TEST_CHECK(l->n_voices == 8 && !strcmp(l->default_voice, "tara") && l->voices[8] == NULL, "voices");
    const char *v;
    TEST_CHECK(srt_layout_voice(l, "zoe", &v) && !strcmp(v, "zoe"), "voice zoe");
    TEST_CHECK(!srt_layout_voice(l, "bob", &v), "voice bob unknown");
    TEST_CHECK(srt_layout_voice(l, "Zoe", &v) && !strcmp(v, "zoe"), "voices match case-insensitively");
    static const char *const openai[] = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                                         "shimmer", "verse"};
    for (int i = 0; i < 11; i++)
        TEST_CHECK(srt_layout_voice(l, openai[i], &v) && v, "OpenAI voice %s maps to a voice", openai[i]);
    TEST_CHECK(srt_layout_voice(l, "ALLOY", &v) && !strcmp(v, "tara"), "alloy -> tara");
    TEST_CHECK(srt_layout_voice(l, NULL, &v) && !strcmp(v, "tara"), "default voice tara");

    /* two frame groups: L0 = {10, 20}, L1 = {1,2, 3,4}, L2 = {100..107} */
    int32_t l0[2] = {10, 20}, l1[4] = {1, 2, 3, 4}, l2[8] = {100, 101, 102, 103, 104, 105, 106, 107};
    srt_codes codes = {.n_levels = 3, .n_frames = {2, 4, 8}, .codes = {l0, l1, l2}};
    int32_t *ids = NULL;
    size_t n = 0;
    TEST_CHECK(srt_layout_codes_to_ids(l, &codes, &ids, &n) == SRT_OK && n == 14, "codes -> ids");
    int32_t want[14] = {128266 + 10, 128266 + 4096 + 1, 128266 + 8192 + 100, 128266 + 12288 + 101,
                        128266 + 16384 + 2, 128266 + 20480 + 102, 128266 + 24576 + 103,
                        128266 + 20, 128266 + 4096 + 3, 128266 + 8192 + 104, 128266 + 12288 + 105,
                        128266 + 16384 + 4, 128266 + 20480 + 106, 128266 + 24576 + 107};
    TEST_CHECK(ids && !memcmp(ids, want, sizeof want), "orpheus ids of two groups");
    srt_codes back;
    TEST_CHECK(ids && srt_layout_ids_to_codes(l, ids, n, &back) == SRT_OK, "ids -> codes: %s", srt_last_error());
    if (ids) {
        TEST_CHECK(back.n_frames[0] == 2 && back.n_frames[1] == 4 && back.n_frames[2] == 8 &&
                   !memcmp(back.codes[0], l0, sizeof l0) && !memcmp(back.codes[1], l1, sizeof l1) &&
                   !memcmp(back.codes[2], l2, sizeof l2), "round trip");
        srt_codes_free(&back);
        ids[3] = 128266 + 10;                           /* position 3 given a position-0 id */
        TEST_CHECK(srt_layout_ids_to_codes(l, ids, n, &back) == SRT_ERR_RANGE && strstr(srt_last_error(), "index 3"),
                   "wrong position: %s", srt_last_error());
        TEST_CHECK(srt_layout_ids_to_codes(l, ids, 13, &back) == SRT_ERR_RANGE, "partial group");
    }
    free(ids);
    TEST_CHECK(srt_layout_audio_code(l, 6, 128266 + 6 * 4096 + 4095) == 4095 &&
               srt_layout_audio_code(l, 6, 128266 + 7 * 4096) == -1 && srt_layout_audio_code(l, 0, 128258) == -1,
               "audio_code bounds");

    /* the prompt: [128259] + tok("tara: Hello world, this is a test.") (with BOS) + [128009, 128260, 128261, 128257] */
    srt_lm_options lo = {.backend = "cpu", .n_threads = 1, .kv_max_tokens = 64};
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(dir, &lo, &lm) == SRT_OK, "lm: %s", srt_last_error());
    if (lm) {
        int32_t *p = NULL, *t = NULL;
        size_t np = 0, nt = 0;
        TEST_CHECK(srt_layout_build_prompt(l, lm, "tara", "Hello world, this is a test.", NULL, 0, &p, &np) == SRT_OK,
                   "prompt: %s", srt_last_error());
        srt_lm_encode(lm, "tara: Hello world, this is a test.", 1, &t, &nt);
        TEST_CHECK(p && t && np == nt + 5 && p[0] == 128259 && p[1] == 128000 && !memcmp(p + 1, t, sizeof(int32_t) * nt) &&
                   p[np - 4] == 128009 && p[np - 3] == 128260 && p[np - 2] == 128261 && p[np - 1] == 128257,
                   "orpheus prompt framing");
        /* matches the ids tests/test_lm_generate_cli.sh uses (from the Orpheus reference) */
        int32_t ref[17] = {128259, 128000, 83, 5169, 25, 22691, 1917, 11, 420, 374, 264, 1296, 13, 128009, 128260,
                           128261, 128257};
        TEST_CHECK(np == 17 && !memcmp(p, ref, sizeof ref), "reference prompt ids");
        free(p);
        int32_t audio[7] = {128266, 128266 + 4096, 128266 + 8192, 128266 + 12288, 128266 + 16384, 128266 + 20480,
                            128266 + 24576};
        TEST_CHECK(srt_layout_build_prompt(l, lm, NULL, "Hello world, this is a test.", audio, 7, &p, &np) == SRT_OK &&
                   np == 17 + 9 && p[np - 13] == 128257 && !memcmp(p + np - 12, audio, sizeof audio) &&
                   p[np - 5] == 128258, "audio slot: start_of_speech + 7 ids + end_of_speech after the text");
        free(p); free(t);
        srt_layout *flat = NULL;
        TEST_CHECK(srt_layout_load("laion-flat", NULL, &flat) == SRT_OK, "laion-flat: %s", srt_last_error());
        if (flat) {
            TEST_CHECK(srt_layout_build_prompt(flat, lm, "tara", "Hi", NULL, 0, &p, &np) == SRT_OK && np >= 3 &&
                       p[0] == 128000 && p[np - 2] == 128009 && p[np - 1] == 128257, "laion-flat prompt");
            free(p);
            codes.n_frames[0] = 1; codes.n_frames[1] = 2; codes.n_frames[2] = 4;
            TEST_CHECK(srt_layout_codes_to_ids(flat, &codes, &ids, &n) == SRT_OK && n == 7 && ids[0] == 128266 + 10 &&
                       ids[1] == 128266 + 1 && ids[2] == 128266 + 100 && ids[4] == 128266 + 2 && ids[6] == 128266 + 103,
                       "flat ids: base + code");
            free(ids);
            srt_layout_free(flat);
        }
        srt_lm_free(lm);
    }
    srt_codec_info info = {.n_levels = 3, .vq_strides = {4, 2, 1}, .codebook_size = 4096, .sample_rate = 24000};
    TEST_CHECK(srt_layout_check_codec(l, &info) == SRT_OK, "24 kHz codec fits");
    info.n_levels = 4;
    TEST_CHECK(srt_layout_check_codec(l, &info) == SRT_ERR_UNSUPPORTED, "4-level codec does not");
    srt_layout_free(l);
}

/* A 4-level layout (44 kHz-style 15 positions per group) parses and checks against a 4-level codec. */
static void test_four_levels(void) {
    const char *json = "{\"name\":\"four\",\"codec\":{\"levels\":4},\"audio\":{\"base\":1000,\"position_stride\":0,"
                       "\"codebook_size\":4096,\"positions\":[0,1,2,3,3,2,3,3,1,2,3,3,2,3,3]},"
                       "\"tokens\":{\"start_of_speech\":1,\"end_of_speech\":2},\"prompt\":[{\"text\":\"{text}\"}]}";
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_parse(json, "four.json", &l) == SRT_OK, "4-level: %s", srt_last_error());
    if (!l) return;
    TEST_CHECK(l->per_level[0] == 1 && l->per_level[1] == 2 && l->per_level[2] == 4 && l->per_level[3] == 8,
               "per level 1 2 4 8");
    srt_codec_info info = {.n_levels = 4, .vq_strides = {8, 4, 2, 1}, .codebook_size = 4096, .sample_rate = 44100};
    TEST_CHECK(srt_layout_check_codec(l, &info) == SRT_OK, "fits a 4-level codec: %s", srt_last_error());
    srt_layout_free(l);
}

static void expect_format(const char *json, const char *field) {
    srt_layout *l = NULL;
    srt_status st = srt_layout_parse(json, "bad.json", &l);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.json") && strstr(srt_last_error(), field),
               "malformed layout -> FORMAT naming '%s': %s '%s'", field, srt_status_name(st), srt_last_error());
    srt_layout_free(l);
}

static void test_malformed(void) {
    const char *head = "{\"name\":\"x\",\"codec\":{\"levels\":3},";
    const char *audio = "\"audio\":{\"base\":10,\"position_stride\":4096,\"codebook_size\":4096,"
                        "\"positions\":[0,1,2,2,1,2,2]},";
    const char *tokens = "\"tokens\":{\"start_of_speech\":1,\"end_of_speech\":2},";
    const char *prompt = "\"prompt\":[{\"token\":\"start_of_speech\"}]";
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s%s%s}", head, audio, tokens, prompt);
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_parse(buf, "ok.json", &l) == SRT_OK, "the base case parses: %s", srt_last_error());
    srt_layout_free(l);
    expect_format("{\"name\": ", "JSON");
    snprintf(buf, sizeof buf, "%s\"audio\":{\"base\":10,\"position_stride\":4096,\"codebook_size\":4096,"
             "\"positions\":[0,1,2,2,1,2,7]},%s%s}", head, tokens, prompt);
    expect_format(buf, "audio.positions");
    snprintf(buf, sizeof buf, "%s\"audio\":{\"base\":10,\"position_stride\":100,\"codebook_size\":4096,"
             "\"positions\":[0,1,2,2,1,2,2]},%s%s}", head, tokens, prompt);
    expect_format(buf, "audio.position_stride");
    snprintf(buf, sizeof buf, "%s\"audio\":{\"base\":-5,\"position_stride\":4096,\"codebook_size\":4096,"
             "\"positions\":[0,1,2,2,1,2,2]},%s%s}", head, tokens, prompt);
    expect_format(buf, "audio.base");
    snprintf(buf, sizeof buf, "%s%s\"tokens\":{\"start_of_speech\":1},%s}", head, audio, prompt);
    expect_format(buf, "tokens.end_of_speech");
    snprintf(buf, sizeof buf, "%s%s\"tokens\":{\"start_of_speech\":1,\"end_of_speech\":\"x\"},%s}", head, audio, prompt);
    expect_format(buf, "tokens.end_of_speech");
    snprintf(buf, sizeof buf, "%s%s%s\"prompt\":[{\"token\":\"nope\"}]}", head, audio, tokens);
    expect_format(buf, "prompt[0].token");
    snprintf(buf, sizeof buf, "%s%s%s\"prompt\":[{\"text\":\"{who}\"}]}", head, audio, tokens);
    expect_format(buf, "prompt[0].text");
    snprintf(buf, sizeof buf, "%s%s%s\"prompt\":[{\"text\":\"{voice}: {text}\"}]}", head, audio, tokens);
    expect_format(buf, "default_voice");
    snprintf(buf, sizeof buf, "%s%s%s%s,\"voices\":[\"a\"],\"default_voice\":\"b\"}", head, audio, tokens, prompt);
    expect_format(buf, "default_voice");
    snprintf(buf, sizeof buf, "%s%s%s%s,\"voices\":[\"a\"],\"voice_aliases\":{\"alloy\":\"b\"}}", head, audio, tokens,
             prompt);
    expect_format(buf, "voice_aliases");
    snprintf(buf, sizeof buf, "%s%s%s%s,\"voices\":[\"a\"],\"voice_aliases\":[\"a\"]}", head, audio, tokens, prompt);
    expect_format(buf, "voice_aliases");
    /* a user's layout overrides the alias table: its own aliases only */
    snprintf(buf, sizeof buf, "%s%s%s%s,\"voices\":[\"a\",\"b\"],\"voice_aliases\":{\"alloy\":\"b\"}}", head, audio,
             tokens, prompt);
    srt_layout *ul = NULL;
    const char *uv = NULL;
    TEST_CHECK(srt_layout_parse(buf, "user.json", &ul) == SRT_OK && srt_layout_voice(ul, "Alloy", &uv) &&
                   !strcmp(uv, "b") && !srt_layout_voice(ul, "nova", &uv),
               "a user's voice_aliases: %s", srt_last_error());
    srt_layout_free(ul);
    snprintf(buf, sizeof buf, "%s%s\"tokens\":{\"start_of_speech\":1,\"end_of_speech\":2}}", head, audio);
    expect_format(buf, "prompt");
    snprintf(buf, sizeof buf, "{\"codec\":{\"levels\":3},%s%s%s}", audio, tokens, prompt);
    expect_format(buf, "name");
}

/* A model folder's snacrt_layout.json is used when no layout is named; a named one wins. */
static void test_model_folder(void) {
    char dir[] = "/tmp/test_layout_XXXXXX";
    if (!mkdtemp(dir)) { TEST_CHECK(0, "mkdtemp"); return; }
    char *path = srt_path_join(dir, "snacrt_layout.json");
    FILE *f = fopen(path, "w");
    if (f) { fputs(srt_layout_builtin("laion-flat"), f); fclose(f); }
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_load(NULL, dir, &l) == SRT_OK && !strcmp(l->name, "laion-flat") && !strcmp(l->source, path),
               "the folder's layout: %s", srt_last_error());
    srt_layout_free(l);
    l = NULL;
    TEST_CHECK(srt_layout_load("orpheus", dir, &l) == SRT_OK && !strcmp(l->name, "orpheus"), "a named layout wins");
    srt_layout_free(l);
    f = fopen(path, "w");
    if (f) { fputs("{\"name\": \"broken\"}", f); fclose(f); }
    l = NULL;
    TEST_CHECK(srt_layout_load(NULL, dir, &l) == SRT_ERR_FORMAT && strstr(srt_last_error(), path) &&
               strstr(srt_last_error(), "codec"), "a broken folder layout names the file and field: %s", srt_last_error());
    remove(path);
    rmdir(dir);
    free(path);
}

int main(void) {
    test_builtin_equals_files();
    test_orpheus();
    test_four_levels();
    test_malformed();
    test_model_folder();
    TEST_MAIN_END();
}
