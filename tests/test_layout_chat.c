/* test_layout_chat.c: conversation prompts of the shipped layouts (the "chat" sections of layouts/) against hand-computed
 * ids (Llama-3 vocabulary of tiny-orpheus: "Hi" 13347, "ĠHi" 21694, "What" 3923, "Ġis" 374, "Ġthis" 420, "?" 30,
 * "You" 2675, "Ġare" 527, "Ġa" 264, "Ġhelpful" 11190, "Ġassistant" 18328, "." 13, "user" 882, "system" 9125,
 * "assistant" 78191, "\n\n" 271, "t" 83, "ara" 5169, ":" 25); orpheus's and laion-flat's one-turn conversation
 * equals their TTS prompt; errors for roles without a template, audio into a text-only layout, and malformed
 * "chat" sections; voice cloning prompts ("clone": the reference transcript and audio as a prior exchange);
 * instructions placed into a layout's slot for them. */
#include "tts/layout.h"
#include "common.h"
#include "testutil.h"

#define A0 128266
/* one frame group of audio ids (orpheus positions: base + p * 4096 + code) */
static const int32_t AUDIO[7] = {A0 + 5, A0 + 4096 + 6, A0 + 8192 + 7, A0 + 12288 + 8, A0 + 16384 + 9,
                                 A0 + 20480 + 10, A0 + 24576 + 11};

static int same(const int32_t *got, size_t n, const int32_t *want, size_t n_want, const char *what) {
    int ok = got && n == n_want && !memcmp(got, want, sizeof(int32_t) * n_want);
    if (!ok) {
        fprintf(stderr, "%s: got %zu ids:", what, n);
        for (size_t i = 0; got && i < n; i++) fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

/* ids = want (n_want ids, where the value -1 stands for the 7 audio ids) */
static int expand(const int32_t *want, size_t n, int32_t *out) {
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (want[i] == -1) { memcpy(out + k, AUDIO, sizeof AUDIO); k += 7; }
        else out[k++] = want[i];
    }
    return k;
}

static void check_chat(const srt_layout *l, const srt_lm *lm, const char *voice, const srt_chat_turn *turns, int n,
                       const int32_t *want_short, size_t n_short, const char *what) {
    int32_t want[256];
    int nw = expand(want_short, n_short, want);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    srt_status st = srt_layout_build_chat(l, lm, voice, turns, n, &ids, &n_ids);
    TEST_CHECK(st == SRT_OK, "%s: %s", what, srt_last_error());
    TEST_CHECK(st == SRT_OK && same(ids, n_ids, want, (size_t)nw, what), "%s: exact ids", what);
    free(ids);
}

static srt_layout *load(const char *name) {
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_load(name, NULL, &l) == SRT_OK, "layout %s: %s", name, srt_last_error());
    return l;
}

static void test_layouts(const srt_lm *lm) {
    srt_chat_part hi = {0, "Hi", NULL, 0}, what = {0, "What is this?", NULL, 0}, audio = {1, NULL, AUDIO, 7};
    srt_chat_part sys = {0, "You are a helpful assistant.", NULL, 0};
    srt_chat_part audio_what[2] = {audio, what};

    /* orpheus: a one-turn conversation is the TTS prompt */
    srt_layout *l = load("orpheus");
    if (l) {
        TEST_CHECK(l->chat.present && l->chat.modes == SRT_MODE_AUDIO && l->chat.first == SRT_MODE_AUDIO &&
                   l->chat.end_audio == 128258, "orpheus chat output: audio only");
        srt_chat_turn t1 = {SRT_ROLE_USER, &hi, 1};
        static const int32_t w1[] = {128259, 128000, 83, 5169, 25, 21694, 128009, 128260, 128261, 128257};
        check_chat(l, lm, "tara", &t1, 1, w1, sizeof w1 / 4, "orpheus: user 'Hi'");
        int32_t *p = NULL;
        size_t np = 0;
        TEST_CHECK(srt_layout_build_prompt(l, lm, "tara", "Hi", NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, w1, sizeof w1 / 4, "tts prompt"), "orpheus TTS prompt equals the chat prompt");
        free(p);
        srt_chat_part hi_audio[2] = {hi, audio};
        srt_chat_turn t2 = {SRT_ROLE_USER, hi_audio, 2};
        static const int32_t w2[] = {128259, 128000, 83, 5169, 25, 21694, 128257, -1, 128258, 128009, 128260, 128261,
                                     128257};
        check_chat(l, lm, NULL, &t2, 1, w2, sizeof w2 / 4, "orpheus: user 'Hi' + audio (default voice tara)");
        int32_t want[64];
        int nw = expand(w2, sizeof w2 / 4, want);
        TEST_CHECK(srt_layout_build_prompt(l, lm, "tara", "Hi", AUDIO, 7, &p, &np) == SRT_OK &&
                   same(p, np, want, (size_t)nw, "tts prompt + audio"), "orpheus TTS prompt with audio = chat");
        free(p);
        /* multi-turn: the assistant answered in audio before */
        srt_chat_turn t3[3] = {{SRT_ROLE_USER, &hi, 1}, {SRT_ROLE_ASSISTANT, &audio, 1}, {SRT_ROLE_USER, &hi, 1}};
        static const int32_t w3[] = {128259, 128000, 83, 5169, 25, 21694, 128009, 128260,
                                     128261, 128257, -1, 128258, 128262,
                                     128259, 128000, 83, 5169, 25, 21694, 128009, 128260, 128261, 128257};
        check_chat(l, lm, "tara", t3, 3, w3, sizeof w3 / 4, "orpheus: three turns");
        srt_chat_turn ts = {SRT_ROLE_SYSTEM, &hi, 1};
        int32_t *ids = NULL;
        size_t n = 0;
        TEST_CHECK(srt_layout_build_chat(l, lm, NULL, &ts, 1, &ids, &n) == SRT_ERR_UNSUPPORTED &&
                   strstr(srt_last_error(), "system"), "orpheus has no system turns: %s", srt_last_error());
        srt_layout_free(l);
    }

    /* asr: audio in, text out */
    l = load("asr");
    if (l) {
        TEST_CHECK(l->chat.modes == SRT_MODE_TEXT && l->chat.n_end_of_turn == 2 && l->chat.end_of_turn[0] == 128262 &&
                   l->chat.end_of_turn[1] == 128009 && l->n_prompt == 0, "asr output: text, ends 128262 / 128009");
        srt_chat_turn t1 = {SRT_ROLE_USER, &audio, 1};
        static const int32_t w1[] = {128000, 128259, 128257, -1, 128258, 128260, 128261};
        check_chat(l, lm, NULL, &t1, 1, w1, sizeof w1 / 4, "asr: one audio turn");
        srt_chat_turn t2 = {SRT_ROLE_USER, audio_what, 2};
        static const int32_t w2[] = {128000, 128259, 128257, -1, 128258, 3923, 374, 420, 30, 128260, 128261};
        check_chat(l, lm, NULL, &t2, 1, w2, sizeof w2 / 4, "asr: audio + question");
        srt_layout_free(l);
    }

    /* spoken-chat: Llama-3 headers, text and audio both ways */
    l = load("spoken-chat");
    if (l) {
        TEST_CHECK(l->chat.modes == (SRT_MODE_TEXT | SRT_MODE_AUDIO) && l->chat.first == SRT_MODE_TEXT &&
                   l->chat.start_audio == 128257 && l->chat.end_audio == 128258 && l->chat.n_end_of_turn == 1 &&
                   l->chat.end_of_turn[0] == 128009, "spoken-chat output switches");
        srt_chat_turn t[2] = {{SRT_ROLE_SYSTEM, &sys, 1}, {SRT_ROLE_USER, audio_what, 2}};
        static const int32_t w[] = {128000,
                                    128006, 9125, 128007, 271, 2675, 527, 264, 11190, 18328, 13, 128009,
                                    128006, 882, 128007, 271, 128257, -1, 128258, 3923, 374, 420, 30, 128009,
                                    128006, 78191, 128007, 271};
        check_chat(l, lm, NULL, t, 2, w, sizeof w / 4, "spoken-chat: system + user audio and text");
        srt_chat_turn t4[4] = {{SRT_ROLE_USER, &hi, 1}, {SRT_ROLE_ASSISTANT, audio_what, 2}, {SRT_ROLE_USER, &audio, 1}};
        static const int32_t w4[] = {128000,
                                     128006, 882, 128007, 271, 13347, 128009,
                                     128006, 78191, 128007, 271, 128257, -1, 128258, 3923, 374, 420, 30, 128009,
                                     128006, 882, 128007, 271, 128257, -1, 128258, 128009,
                                     128006, 78191, 128007, 271};
        check_chat(l, lm, NULL, t4, 3, w4, sizeof w4 / 4, "spoken-chat: three turns");
        static const int32_t wt[] = {128000, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271, 128257};
        int32_t *p = NULL;
        size_t np = 0;
        TEST_CHECK(srt_layout_build_prompt(l, lm, NULL, "Hi", NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, wt, sizeof wt / 4, "spoken-chat tts"), "spoken-chat TTS prompt");
        free(p);
        srt_layout_free(l);
    }

    /* laion-flat: a one-turn conversation is its TTS prompt, with and without audio */
    l = load("laion-flat");
    if (l) {
        srt_chat_part hi_audio[2] = {hi, audio};
        srt_chat_turn t1 = {SRT_ROLE_USER, hi_audio, 2};
        static const int32_t w1[] = {128000, 13347, 128009, 128257, -1, 128258, 128257};
        check_chat(l, lm, NULL, &t1, 1, w1, sizeof w1 / 4, "laion-flat: text + audio");
        int32_t want[64], *p = NULL;
        size_t np = 0;
        int nw = expand(w1, sizeof w1 / 4, want);
        TEST_CHECK(srt_layout_build_prompt(l, lm, NULL, "Hi", AUDIO, 7, &p, &np) == SRT_OK &&
                   same(p, np, want, (size_t)nw, "laion tts"), "laion-flat TTS prompt = chat prompt");
        free(p);
        srt_layout_free(l);
    }
}

/* A layout without "prompt" builds its TTS prompt from the chat templates; audio into a layout without
 * "audio_part" is refused naming the turn. */
static void test_errors(const srt_lm *lm) {
    const char *json =
        "{\"name\":\"t\",\"codec\":{\"levels\":3},\"audio\":{\"base\":128266,\"position_stride\":4096,"
        "\"codebook_size\":4096,\"positions\":[0,1,2,2,1,2,2]},\"tokens\":{\"start_of_speech\":128257,"
        "\"end_of_speech\":128258},\"chat\":{\"turns\":{\"user\":[{\"content\":true},{\"token\":7}]},"
        "\"text_part\":[{\"text\":\"{role}: {text}\"}],\"reply\":[{\"token\":\"start_of_speech\"}],"
        "\"output\":{\"modes\":[\"audio\"]}}}";
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_parse(json, "t.json", &l) == SRT_OK, "a chat-only layout: %s", srt_last_error());
    if (!l) return;
    int32_t *ids = NULL;
    size_t n = 0;
    static const int32_t w[] = {882, 25, 21694, 7, 128257};   /* "user" ":" " Hi" 7 start_of_speech */
    TEST_CHECK(srt_layout_build_prompt(l, lm, NULL, "Hi", NULL, 0, &ids, &n) == SRT_OK && same(ids, n, w, 5, "t"),
               "TTS prompt from the chat templates: %s", srt_last_error());
    free(ids);
    srt_chat_part audio = {1, NULL, AUDIO, 7};
    srt_chat_turn t = {SRT_ROLE_USER, &audio, 1};
    TEST_CHECK(srt_layout_build_chat(l, lm, NULL, &t, 1, &ids, &n) == SRT_ERR_UNSUPPORTED &&
               strstr(srt_last_error(), "turn 0 part 0"), "no audio_part: %s", srt_last_error());
    srt_chat_part half = {1, NULL, AUDIO, 5};
    t.parts = &half;
    TEST_CHECK(srt_layout_build_chat(l, lm, NULL, &t, 1, &ids, &n) == SRT_ERR_INVALID_ARG &&
               strstr(srt_last_error(), "whole frame groups"), "partial frame group: %s", srt_last_error());
    srt_layout_free(l);
}

/* Voice cloning as the Orpheus community does it: [SOH] BOS transcript [EOT EOH SOAI SOS] audio [EOS EOAI], then
 * [SOH] BOS text [EOT EOH SOAI SOS]; no "voice: " prefix (orpheus's "clone.text_part" is "{text}"). */
static void test_clone(const srt_lm *lm) {
    srt_layout *l = load("orpheus");
    if (!l) return;
    TEST_CHECK(l->has_clone && l->clone_text_part.n == 1, "orpheus has a clone section");
    static const int32_t w[] = {128259, 128000, 3923, 374, 420, 30, 128009, 128260, 128261, 128257, -1, 128258, 128262,
                                128259, 128000, 13347, 128009, 128260, 128261, 128257};
    int32_t want[64];
    int nw = expand(w, sizeof w / 4, want);
    for (int v = 0; v < 2; v++) {       /* the voice does not enter a cloning prompt */
        int32_t *ids = NULL;
        size_t n = 0;
        srt_status st = srt_layout_build_clone(l, lm, v ? "leo" : NULL, "What is this?", AUDIO, 7, "Hi", &ids, &n);
        TEST_CHECK(st == SRT_OK && same(ids, n, want, (size_t)nw, "clone"), "orpheus cloning prompt (voice %s): %s",
                   v ? "leo" : "default", srt_last_error());
        free(ids);
    }
    int32_t *ids = NULL;
    size_t n = 0;
    TEST_CHECK(srt_layout_build_clone(l, lm, NULL, "What is this?", AUDIO, 5, "Hi", &ids, &n) == SRT_ERR_INVALID_ARG,
               "a partial reference frame group is refused: %s", srt_last_error());
    srt_layout_free(l);
    l = load("laion-flat");
    if (l) {
        TEST_CHECK(!l->has_clone && srt_layout_build_clone(l, lm, NULL, "a", AUDIO, 7, "b", &ids, &n) ==
                   SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), "clone"), "no clone section: %s", srt_last_error());
        srt_layout_free(l);
    }
    /* "clone" needs a chat with an assistant turn and an audio part */
    const char *bad = "{\"name\":\"x\",\"codec\":{\"levels\":3},\"audio\":{\"base\":10,\"position_stride\":0,"
        "\"codebook_size\":4096,\"positions\":[0,1,2,2,1,2,2]},\"tokens\":{\"start_of_speech\":1,\"end_of_speech\":2},"
        "\"chat\":{\"turns\":{\"user\":[{\"content\":true}]},\"text_part\":[{\"text\":\"{text}\"}],\"reply\":[],"
        "\"output\":{\"modes\":[\"audio\"]}},\"clone\":{}}";
    TEST_CHECK(srt_layout_parse(bad, "c.json", &l) == SRT_ERR_FORMAT && strstr(srt_last_error(), "\"clone\"") &&
               strstr(srt_last_error(), "c.json"), "clone without assistant turn: %s", srt_last_error());
}

static void expect_format(const char *chat, const char *field) {
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"name\":\"x\",\"codec\":{\"levels\":3},\"audio\":{\"base\":10,\"position_stride\":0,"
             "\"codebook_size\":4096,\"positions\":[0,1,2,2,1,2,2]},\"tokens\":{\"start_of_speech\":1,"
             "\"end_of_speech\":2,\"eot\":3},\"chat\":%s}", chat);
    srt_layout *l = NULL;
    srt_status st = srt_layout_parse(buf, "bad.json", &l);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.json") && strstr(srt_last_error(), field),
               "malformed chat -> FORMAT naming '%s': %s '%s'", field, srt_status_name(st), srt_last_error());
    srt_layout_free(l);
}

static void test_malformed(void) {
#define OK_TURNS "\"turns\":{\"user\":[{\"content\":true}]},\"text_part\":[{\"text\":\"{text}\"}],\"reply\":[]"
    char buf[1024];
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"text\"],\"end_of_turn\":[\"eot\"]}}", OK_TURNS);
    srt_layout *l = NULL;
    char full[2048];
    snprintf(full, sizeof full, "{\"name\":\"x\",\"codec\":{\"levels\":3},\"audio\":{\"base\":10,\"position_stride\":0,"
             "\"codebook_size\":4096,\"positions\":[0,1,2,2,1,2,2]},\"tokens\":{\"start_of_speech\":1,"
             "\"end_of_speech\":2,\"eot\":3},\"chat\":%s}", buf);
    TEST_CHECK(srt_layout_parse(full, "ok.json", &l) == SRT_OK, "the base chat parses: %s", srt_last_error());
    srt_layout_free(l);
    expect_format("{\"turns\":{},\"text_part\":[],\"reply\":[],\"output\":{\"modes\":[\"audio\"]}}", "chat.turns.user");
    expect_format("{\"turns\":{\"user\":[{\"content\":true}],\"bot\":[]},\"text_part\":[],\"reply\":[],"
                  "\"output\":{\"modes\":[\"audio\"]}}", "chat.turns.bot");
    expect_format("{\"turns\":{\"user\":[{\"token\":1}]},\"text_part\":[],\"reply\":[],\"output\":{\"modes\":[\"audio\"]}}",
                  "chat.turns.user");
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"video\"]}}", OK_TURNS);
    expect_format(buf, "chat.output.modes");
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"text\"]}}", OK_TURNS);
    expect_format(buf, "chat.output.end_of_turn");
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"text\",\"audio\"],\"end_of_turn\":[\"eot\"]}}", OK_TURNS);
    expect_format(buf, "chat.output.start_audio");
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"text\"],\"end_of_turn\":[\"nope\"]}}", OK_TURNS);
    expect_format(buf, "chat.output.end_of_turn[0]");
    snprintf(buf, sizeof buf, "{%s,\"output\":{\"modes\":[\"audio\"],\"first\":\"text\"}}", OK_TURNS);
    expect_format(buf, "chat.output.first");
    expect_format("{\"turns\":{\"user\":[{\"content\":true}]},\"text_part\":[{\"text\":\"{who}\"}],\"reply\":[],"
                  "\"output\":{\"modes\":[\"audio\"]}}", "chat.text_part[0].text");
    expect_format("{\"turns\":{\"user\":[{\"content\":true}]},\"text_part\":[],\"audio_part\":[{\"token\":1}],"
                  "\"reply\":[],\"output\":{\"modes\":[\"audio\"]}}", "chat.audio_part");
    expect_format("{\"turns\":{\"user\":[{\"content\":true}]},\"text_part\":[],\"output\":{\"modes\":[\"audio\"]}}",
                  "chat.reply");
}

/* Instructions (OpenAI's "instructions"): spoken-chat places them as a system turn of its prompt ("with_instructions"
 * items); a layout's own prompt may use {instructions} in text; a chat-only layout puts them in a system turn when
 * the chat has that role; orpheus has no slot (the ids stay those without). */
static void test_instructions(const srt_lm *lm) {
    int32_t *p = NULL;
    size_t np = 0;
    srt_layout *l = load("spoken-chat");
    if (l) {
        static const int32_t w[] = {128000, 128006, 9125, 128007, 271, 2675, 527, 264, 11190, 18328, 13, 128009,
                                    128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271, 128257};
        TEST_CHECK(srt_layout_instructions_slot(l, 0) && !srt_layout_instructions_slot(l, 1),
                   "spoken-chat has an instructions slot (not for cloning prompts)");
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, NULL, "Hi", "You are a helpful assistant.", NULL, 0, &p,
                                                 &np) == SRT_OK && same(p, np, w, sizeof w / 4, "spoken-chat instr"),
                   "spoken-chat: instructions as the system turn: %s", srt_last_error());
        free(p);
        static const int32_t w0[] = {128000, 128006, 882, 128007, 271, 13347, 128009,
                                     128006, 78191, 128007, 271, 128257};
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, NULL, "Hi", "", NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, w0, sizeof w0 / 4, "spoken-chat empty instr"), "empty instructions: no system turn");
        free(p);
        srt_layout_free(l);
    }
    l = load("orpheus");
    if (l) {
        int32_t *q = NULL;
        size_t nq = 0;
        TEST_CHECK(!srt_layout_instructions_slot(l, 0), "orpheus has no instructions slot");
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, "tara", "Hi", "Speak slowly.", NULL, 0, &p, &np) == SRT_OK &&
                   srt_layout_build_prompt(l, lm, "tara", "Hi", NULL, 0, &q, &nq) == SRT_OK && same(p, np, q, nq, "o"),
                   "orpheus: instructions leave the prompt as it is");
        free(p); free(q);
        srt_layout_free(l);
    }
    const char *head =
        "{\"name\":\"t\",\"codec\":{\"levels\":3},\"audio\":{\"base\":128266,\"position_stride\":4096,"
        "\"codebook_size\":4096,\"positions\":[0,1,2,2,1,2,2]},\"tokens\":{\"start_of_speech\":128257,"
        "\"end_of_speech\":128258},";
    char json[1024];
    snprintf(json, sizeof json, "%s\"prompt\":[{\"token\":7,\"with_instructions\":true},{\"text\":\"{instructions}\","
             "\"with_instructions\":true},{\"token\":8,\"with_instructions\":true},{\"text\":\"{text}\"},"
             "{\"token\":\"start_of_speech\"}]}", head);
    TEST_CHECK(srt_layout_parse(json, "p.json", &l) == SRT_OK, "a prompt with {instructions}: %s", srt_last_error());
    if (l) {
        static const int32_t w[] = {7, 3923, 374, 420, 30, 8, 13347, 128257}, w0[] = {13347, 128257};
        TEST_CHECK(srt_layout_instructions_slot(l, 0), "{instructions} makes a slot");
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, NULL, "Hi", "What is this?", NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, w, sizeof w / 4, "p instr"), "prompt slot filled: %s", srt_last_error());
        free(p);
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, NULL, "Hi", NULL, NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, w0, sizeof w0 / 4, "p no instr"), "without instructions the slot's items drop out");
        free(p);
        srt_layout_free(l);
    }
    snprintf(json, sizeof json, "%s\"chat\":{\"turns\":{\"system\":[{\"token\":9},{\"content\":true}],"
             "\"user\":[{\"content\":true},{\"token\":7}]},\"text_part\":[{\"text\":\"{text}\"}],"
             "\"reply\":[{\"token\":\"start_of_speech\"}],\"output\":{\"modes\":[\"audio\"]}}}", head);
    TEST_CHECK(srt_layout_parse(json, "c.json", &l) == SRT_OK, "a chat-only layout with a system role: %s",
               srt_last_error());
    if (l) {
        static const int32_t w[] = {9, 13347, 3923, 374, 420, 30, 7, 128257};
        TEST_CHECK(srt_layout_instructions_slot(l, 0), "a chat-only layout with a system role has a slot");
        TEST_CHECK(srt_layout_build_prompt_instr(l, lm, NULL, "What is this?", "Hi", NULL, 0, &p, &np) == SRT_OK &&
                   same(p, np, w, sizeof w / 4, "c instr"), "chat-only: instructions as a system turn: %s",
                   srt_last_error());
        free(p);
        srt_layout_free(l);
    }
    snprintf(json, sizeof json, "%s\"chat\":{\"turns\":{\"user\":[{\"content\":true},{\"token\":7,"
             "\"with_instructions\":true}]},\"text_part\":[{\"text\":\"{text}\"}],\"reply\":[{\"token\":9}],"
             "\"output\":{\"modes\":[\"audio\"]}}}", head);
    TEST_CHECK(srt_layout_parse(json, "bad.json", &l) == SRT_ERR_FORMAT &&
               strstr(srt_last_error(), "with_instructions\" is for \"prompt\" only"),
               "with_instructions in a chat template refused: %s", srt_last_error());
}

int main(void) {
    char dir[1024];
    srt_lm_options lo = {.backend = "cpu", .n_threads = 1, .kv_max_tokens = 64};
    srt_lm *lm = NULL;
    TEST_CHECK(srt_lm_load(test_src_path("tests/data/llama/tiny-orpheus", dir, sizeof dir), &lo, &lm) == SRT_OK,
               "lm: %s", srt_last_error());
    if (lm) { test_layouts(lm); test_errors(lm); test_clone(lm); test_instructions(lm); }
    test_malformed();
    srt_lm_free(lm);
    TEST_MAIN_END();
}
