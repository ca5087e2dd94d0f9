/* test_chat_demux.c: the output demultiplexer driven by scripted tokens (as a model would generate them) with the
 * tiny-orpheus tokenizer: text streamed as UTF-8 with multi-byte characters split over byte tokens ("€" = bytes
 * E2 82 AC = tokens 158 224 105) and equal to decoding all ids at once; the switch into and out of audio segments
 * (spoken-chat: start_of_speech 128257 / end_of_speech 128258, end of turn 128009), complete and partial frame
 * groups, the audio-only orpheus answer, the text-only asr answer, and the sampling mask of each mode. */
#include "tts/chat_demux.h"
#include "common.h"
#include "testutil.h"

#define A0 128266
#define VOCAB 156940

typedef struct script_out {
    char text[1024]; size_t n_text;
    int begins, ends, groups, dropped, end;
    int32_t last_group[7];
} script_out;

static void run(srt_chat_demux *d, const int32_t *toks, int n, script_out *o, char pieces[][16]) {
    for (int i = 0; i < n; i++) {
        srt_demux_event ev;
        srt_status st = srt_chat_demux_push(d, toks[i], &ev);
        TEST_CHECK(st == SRT_OK, "push %d (%d): %s", i, toks[i], srt_last_error());
        if (st != SRT_OK) return;
        if (pieces) { memcpy(pieces[i], ev.text, ev.n_text); pieces[i][ev.n_text] = 0; }
        memcpy(o->text + o->n_text, ev.text, ev.n_text);
        o->n_text += ev.n_text;
        o->text[o->n_text] = 0;
        o->begins += ev.audio_begin;
        o->ends += ev.audio_end;
        o->dropped += ev.dropped;
        o->end |= ev.end;
        if (ev.group) { o->groups++; memcpy(o->last_group, d->group, sizeof o->last_group); }
    }
}

static srt_layout *load(const char *name) {
    srt_layout *l = NULL;
    TEST_CHECK(srt_layout_load(name, NULL, &l) == SRT_OK, "layout %s: %s", name, srt_last_error());
    return l;
}

static void test_spoken_chat(const srt_tokenizer *tok) {
    srt_layout *l = load("spoken-chat");
    if (!l) return;
    srt_chat_demux d;
    TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_TEXT | SRT_MODE_AUDIO) == SRT_OK && d.mode == SRT_MODE_TEXT,
               "init: %s", srt_last_error());
    srt_mask_row m;
    srt_chat_demux_mask(&d, VOCAB, &m);
    TEST_CHECK(m.clear_begin == A0 && m.clear_end == A0 + 7 * 4096 && m.keep_begin == m.keep_end && m.keep_id == -1,
               "text mode: audio ids cleared, start_of_speech allowed");
    /* "Hello" + "€" cut into its three bytes */
    int32_t s1[] = {9906, 158, 224, 105};
    char pieces[64][16];
    script_out o = {0};
    run(&d, s1, 4, &o, pieces);
    TEST_CHECK(!strcmp(pieces[0], "Hello") && !pieces[1][0] && !pieces[2][0] && !strcmp(pieces[3], "\xE2\x82\xAC"),
               "the euro sign comes out whole with its last byte: '%s' '%s' '%s' '%s'", pieces[0], pieces[1],
               pieces[2], pieces[3]);
    /* into audio: one group, then 3 ids of a partial group, end of audio */
    int32_t s2[] = {128257, A0 + 1, A0 + 4096 + 2, A0 + 8192 + 3, A0 + 12288 + 4, A0 + 16384 + 5, A0 + 20480 + 6,
                    A0 + 24576 + 7, A0 + 9, A0 + 4096 + 9, A0 + 8192 + 9, 128258};
    script_out a = {0};
    run(&d, s2, 1, &a, NULL);
    TEST_CHECK(a.begins == 1 && d.mode == SRT_MODE_AUDIO && d.segments == 1, "start_of_speech opens a segment");
    srt_chat_demux_mask(&d, VOCAB, &m);
    TEST_CHECK(m.clear_begin == 0 && m.clear_end == VOCAB && m.keep_begin == A0 && m.keep_end == A0 + 4096 &&
               m.keep_id == 128258, "audio mode, position 0: its ids and end_of_speech only");
    run(&d, s2 + 1, 7, &a, NULL);
    int32_t want_group[7] = {1, 2, 3, 4, 5, 6, 7};
    TEST_CHECK(a.groups == 1 && !memcmp(a.last_group, want_group, sizeof want_group), "one frame group, codes 1..7");
    run(&d, s2 + 8, 2, &a, NULL);
    srt_chat_demux_mask(&d, VOCAB, &m);
    TEST_CHECK(m.keep_begin == A0 + 2 * 4096 && m.keep_end == A0 + 3 * 4096, "position 2's ids");
    run(&d, s2 + 10, 2, &a, NULL);
    TEST_CHECK(a.ends == 1 && a.dropped == 1 && a.groups == 1 && d.mode == SRT_MODE_TEXT && !a.end && !a.n_text,
               "end_of_speech: partial group dropped, back to text (ends %d dropped %d)", a.ends, a.dropped);
    /* a wrong-position id spoils its group */
    int32_t s3[] = {128257, A0, A0, A0 + 8192, A0 + 12288, A0 + 16384, A0 + 20480, A0 + 24576, 128258};
    script_out b = {0};
    run(&d, s3, 9, &b, NULL);
    TEST_CHECK(b.begins == 1 && b.ends == 1 && b.groups == 0 && b.dropped == 1 && d.segments == 2,
               "an id of the wrong position drops its group");
    /* a character cut by the switch to audio becomes U+FFFD; text, end of turn */
    int32_t s4[] = {13347, 158, 128257, 128258, 13347, 128009};
    script_out c = {0};
    run(&d, s4, 6, &c, pieces);
    TEST_CHECK(!strcmp(c.text, "Hi\xEF\xBF\xBDHi") && c.end && d.done && !strcmp(pieces[2], "\xEF\xBF\xBD"),
               "cut character -> U+FFFD at the switch, then the end: '%s'", c.text);
    srt_demux_event ev;
    TEST_CHECK(srt_chat_demux_push(&d, 13347, &ev) == SRT_ERR_INVALID_ARG, "nothing after the end");
    TEST_CHECK(d.text_tokens == 7 && d.audio_tokens == 17, "tokens counted: text %lld audio %lld",
               (long long)d.text_tokens, (long long)d.audio_tokens);
    srt_chat_demux_free(&d);

    /* streamed text equals decoding all ids at once */
    int32_t s5[] = {9906, 158, 224, 105, 15406, 13347, 158, 224, 105, 11, 128006, 420};
    TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_TEXT) == SRT_OK, "text only");
    script_out t = {0};
    run(&d, s5, 12, &t, NULL);
    char *whole = NULL;
    TEST_CHECK(srt_tokenizer_decode(tok, s5, 12, 1, &whole) == SRT_OK && whole && !strcmp(whole, t.text),
               "streamed '%s' == decoded '%s'", t.text, whole ? whole : "");
    free(whole);
    srt_chat_demux_mask(&d, VOCAB, &m);
    TEST_CHECK(m.clear_begin == 128257 && m.clear_end == A0 + 7 * 4096, "no audio asked: start_of_speech cleared too");
    script_out e = {0};
    int32_t s6[] = {128257};
    run(&d, s6, 1, &e, NULL);
    TEST_CHECK(e.end && !e.begins, "start_of_speech in a text-only answer ends it");
    srt_chat_demux_free(&d);
    srt_layout_free(l);
}

static void test_orpheus_asr(const srt_tokenizer *tok) {
    srt_layout *l = load("orpheus");
    srt_chat_demux d;
    if (l) {
        TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_TEXT) == SRT_ERR_UNSUPPORTED, "orpheus cannot write text");
        TEST_CHECK(srt_chat_demux_init(&d, l, NULL, 4096, SRT_MODE_TEXT | SRT_MODE_AUDIO) == SRT_OK &&
                   d.mode == SRT_MODE_AUDIO && d.segments == 1, "orpheus: audio from the first token");
        int32_t s[] = {A0 + 1, A0 + 4096 + 2, A0 + 8192 + 3, A0 + 12288 + 4, A0 + 16384 + 5, A0 + 20480 + 6,
                       A0 + 24576 + 7, A0 + 4095, 128258};
        script_out o = {0};
        run(&d, s, 9, &o, NULL);
        TEST_CHECK(o.groups == 1 && o.ends == 1 && o.dropped == 1 && o.end, "orpheus: end_of_speech ends the answer");
        srt_chat_demux_free(&d);
        srt_layout_free(l);
    }
    l = load("asr");
    if (!l) return;
    TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_AUDIO) == SRT_ERR_UNSUPPORTED, "asr cannot speak");
    TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_TEXT | SRT_MODE_AUDIO) == SRT_OK, "asr");
    int32_t s[] = {9906, 128257, 158, 224};   /* start_of_speech: a special token, no text in an asr answer */
    script_out o = {0};
    run(&d, s, 4, &o, NULL);
    srt_demux_event ev;
    TEST_CHECK(srt_chat_demux_finish(&d, &ev) == SRT_OK && ev.end && ev.n_text == 3 &&
               !memcmp(ev.text, "\xEF\xBF\xBD", 3) && !strcmp(o.text, "Hello") && !o.begins,
               "max_tokens in the middle of a character: the held bytes -> U+FFFD");
    srt_chat_demux_free(&d);
    TEST_CHECK(srt_chat_demux_init(&d, l, tok, 4096, SRT_MODE_TEXT) == SRT_OK, "asr again");
    int32_t s2[] = {13347, 128262};
    script_out p = {0};
    run(&d, s2, 2, &p, NULL);
    TEST_CHECK(p.end && !strcmp(p.text, "Hi"), "end_of_ai ends the transcript");
    srt_chat_demux_free(&d);
    srt_layout_free(l);
}

int main(void) {
    char path[1024];
    srt_tokenizer *tok = NULL;
    TEST_CHECK(srt_tokenizer_load(test_src_path("tests/data/llama/tiny-orpheus/tokenizer.json", path, sizeof path),
                                  &tok) == SRT_OK, "tokenizer: %s", srt_last_error());
    if (tok) { test_spoken_chat(tok); test_orpheus_asr(tok); }
    srt_tokenizer_free(tok);
    TEST_MAIN_END();
}
