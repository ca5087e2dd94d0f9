/* test_audio_encode.c: the streaming audio encoder (host/audio/audio_encode.h): every format, whole and streamed
 * in 20 ms pushes with a take after each. Streamed wav / pcm bytes equal the whole file's (but the wav header's
 * sizes); every file decodes (libsndfile) to the 440 Hz tone that went in, at its level and length; streamed
 * mp3 / opus hand out most of their bytes before the end; opus at 22.05 kHz is refused with a message. */
#include "audio/audio_encode.h"
#include "testutil.h"
#include <sndfile.h>

typedef struct { const uint8_t *p; sf_count_t n, pos; } rd;
static sf_count_t r_len(void *u) { return ((rd *)u)->n; }
static sf_count_t r_tell(void *u) { return ((rd *)u)->pos; }
static sf_count_t r_seek(sf_count_t off, int wh, void *u) {
    rd *f = u;
    sf_count_t at = (wh == SEEK_CUR ? f->pos : wh == SEEK_END ? f->n : 0) + off;
    if (at < 0 || at > f->n) return -1;
    return f->pos = at;
}
static sf_count_t r_read(void *p, sf_count_t c, void *u) {
    rd *f = u;
    sf_count_t k = f->n - f->pos < c ? f->n - f->pos : c;
    memcpy(p, f->p + f->pos, (size_t)k);
    f->pos += k;
    return k;
}
static sf_count_t r_write(const void *p, sf_count_t c, void *u) { (void)p; (void)c; (void)u; return 0; }

/* Decode bytes; checks the rate, length and that it is the tone (level, zero crossings). */
static void check_decodes(const char *what, const uint8_t *bytes, size_t n_bytes, int rate, int64_t n_in) {
    rd f = {bytes, (sf_count_t)n_bytes, 0};
    SF_VIRTUAL_IO vio = {r_len, r_seek, r_read, r_write, r_tell};
    SF_INFO info = {0};
    if (!strcmp(what, "pcm")) info = (SF_INFO){.samplerate = rate, .channels = 1, .format = SF_FORMAT_RAW | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &f);
    TEST_CHECK(sf != NULL, "%s: libsndfile cannot read it back: %s", what, sf_strerror(NULL));
    if (!sf) return;
    float *x = calloc((size_t)n_in + 20000, sizeof *x);
    sf_count_t got = sf_readf_float(sf, x, n_in + 20000);
    sf_close(sf);
    TEST_CHECK(info.samplerate == rate && info.channels == 1, "%s: %d Hz, %d channels", what, info.samplerate, info.channels);
    TEST_CHECK(got >= n_in - 1200 && got <= n_in + 4000, "%s: %lld samples decoded for %lld", what, (long long)got,
               (long long)n_in);
    double ss = 0;
    int64_t crossings = 0, lo = rate / 4, hi = (got < n_in ? got : n_in) - rate / 4;
    for (int64_t i = lo; i < hi; i++) {
        ss += (double)x[i] * x[i];
        if ((x[i] >= 0) != (x[i - 1] >= 0)) crossings++;
    }
    double rms = sqrt(ss / (double)(hi - lo)), hz = crossings / 2.0 / ((double)(hi - lo) / rate);
    TEST_CHECK(fabs(rms - 0.5 / sqrt(2.0)) < 0.05, "%s: rms %.3f, the tone's is 0.354", what, rms);
    TEST_CHECK(fabs(hz - 440) < 10, "%s: %.1f Hz, the tone's is 440", what, hz);
    free(x);
}

int main(void) {
    const int rate = 24000;
    const int64_t n = 2 * rate;
    float *tone = malloc((size_t)n * sizeof *tone);
    for (int64_t i = 0; i < n; i++) tone[i] = 0.5f * (float)sin(2 * M_PI * 440.0 * (double)i / rate);
    for (int c = 0; c < SRT_CODEC_COUNT; c++) {
        const char *name = srt_audio_codec_name(c);
        TEST_CHECK(srt_audio_codec_from_name(name) == c, "%s: name round trip", name);
        uint8_t *whole = NULL;
        size_t n_whole = 0;
        srt_status st = srt_audio_encode_all(c, tone, n, rate, &whole, &n_whole);
        TEST_CHECK(st == SRT_OK && n_whole > 0, "%s: whole encode: %s", name, srt_last_error());
        if (st != SRT_OK) continue;
        check_decodes(name, whole, n_whole, rate, n);
        if (!srt_audio_codec_streams(c)) { free(whole); continue; }
        srt_audio_encoder *e;
        st = srt_audio_encoder_open(c, rate, -1, &e);
        TEST_CHECK(st == SRT_OK, "%s: open: %s", name, srt_last_error());
        if (st != SRT_OK) { free(whole); continue; }
        uint8_t *streamed = malloc(n_whole * 2 + 65536);
        size_t n_streamed = 0, before_end = 0;
        for (int64_t i = 0; i < n && st == SRT_OK; i += 480) {
            st = srt_audio_encoder_push(e, tone + i, n - i < 480 ? n - i : 480);
            const uint8_t *d;
            size_t k;
            srt_audio_encoder_take(e, &d, &k);
            if (n_streamed + k <= n_whole * 2 + 65536) memcpy(streamed + n_streamed, d, k), n_streamed += k;
        }
        before_end = n_streamed;
        if (st == SRT_OK) st = srt_audio_encoder_finish(e);
        TEST_CHECK(st == SRT_OK, "%s: streaming: %s", name, srt_last_error());
        const uint8_t *d;
        size_t k;
        srt_audio_encoder_take(e, &d, &k);
        memcpy(streamed + n_streamed, d, k), n_streamed += k;
        srt_audio_encoder_free(e);
        TEST_CHECK(before_end * 10 >= n_streamed * 7, "%s: %zu of %zu bytes handed out before the end", name,
                   before_end, n_streamed);
        if (c == SRT_CODEC_WAV || c == SRT_CODEC_PCM) {
            size_t h = c == SRT_CODEC_WAV ? 44 : 0;
            TEST_CHECK(n_streamed == n_whole && !memcmp(streamed + h, whole + h, n_whole - h),
                       "%s: streamed bytes = whole bytes", name);
        }
        if (c != SRT_CODEC_PCM) check_decodes(name, streamed, n_streamed, rate, n);
        free(streamed);
        free(whole);
    }
    srt_audio_encoder *e = NULL;
    srt_status st = srt_audio_encoder_open(SRT_CODEC_OPUS, 22050, -1, &e);
    TEST_CHECK(st != SRT_OK && strstr(srt_last_error(), "24"), "opus at 22050 Hz refused naming the rates: %s",
               srt_last_error());
    free(tone);
    TEST_MAIN_END();
}
