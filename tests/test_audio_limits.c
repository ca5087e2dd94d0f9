/* test_audio_limits.c: the audio reader's limits and sample checks (issue #17 items 2 and 7): a duration limit
 * refused from the header before decoding, and while decoding for a FLAC whose header has no length; NaN, +-Inf
 * and absurd (3e38) samples refused with the file and the first bad position named (channel too), or zeroed and
 * counted with allow_nonfinite; the streaming reader's blocks equal the whole read, from a path, memory and a
 * window of a file. */
#include "snacrt_audio.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RATE 24000

static char tmp_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
    return buf;
}

/* The whole file at path, malloc'd. */
static srt_status read_all(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return SRT_ERR_IO;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *size = *data && n > 0 ? fread(*data, 1, (size_t)n, f) : 0;
    fclose(f);
    return *data && (long)*size == n ? SRT_OK : SRT_ERR_IO;
}

static float *tone(int64_t n) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * (float)sin(2 * M_PI * 220.0 * (double)i / RATE);
    return x;
}

static void test_bad_samples(void) {
    static const float bad[] = {NAN, INFINITY, -INFINITY, 3e38f, -2e4f};
    static const char *const names[] = {"nan", "inf", "-inf", "3e38", "-2e4"};
    int64_t n = RATE;
    for (int k = 0; k < 5; k++) {
        float *x = tone(n);
        x[1234] = bad[k];
        x[5000] = bad[k];
        char path[300], name[32];
        snprintf(name, sizeof name, "bad_%d.wav", k);
        tmp_path(name, path, sizeof path);
        TEST_CHECK(srt_audio_write(path, x, n, RATE, SRT_AUDIO_F32) == SRT_OK, "%s", srt_last_error());
        float *y = NULL;
        int64_t ny = 0;
        srt_status st = srt_audio_read(path, 0, &y, &ny, NULL);
        TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), path) && strstr(srt_last_error(), "sample 1234 "),
                   "%s sample: status %d, '%s'", names[k], st, srt_last_error());
        TEST_CHECK(y == NULL && ny == 0, "%s: samples returned with the error", names[k]);
        srt_audio_read_options opt = {.allow_nonfinite = 1};
        srt_audio_source_info info;
        st = srt_audio_read_opts(path, 0, &opt, &y, &ny, &info);
        TEST_CHECK(st == SRT_OK && ny == n && info.bad_samples == 2, "%s allowed: %d, %lld samples, %lld bad: %s",
                   names[k], st, (long long)ny, (long long)info.bad_samples, srt_last_error());
        if (st == SRT_OK) {
            int same = 1;
            for (int64_t i = 0; i < n; i++)
                if (i != 1234 && i != 5000 && y[i] != x[i]) same = 0;
            TEST_CHECK(y[1234] == 0 && y[5000] == 0 && same, "%s allowed: bad samples not 0 or others changed", names[k]);
        }
        free(y);
        free(x);
    }
    /* in range: 1e4 itself and values like 2.0 (float files may exceed full scale) are samples */
    float edge[4] = {2.0f, -1e4f, 1e4f, 0.25f};
    char path[300];
    tmp_path("edge.wav", path, sizeof path);
    TEST_CHECK(srt_audio_write(path, edge, 4, RATE, SRT_AUDIO_F32) == SRT_OK, "%s", srt_last_error());
    float *y = NULL;
    int64_t ny = 0;
    TEST_CHECK(srt_audio_read(path, 0, &y, &ny, NULL) == SRT_OK && ny == 4 && y[1] == -1e4f, "edge values refused: %s",
               srt_last_error());
    free(y);
}

/* A stereo float file with a NaN in the right channel of frame 77: the message names frame and channel. */
static void test_bad_channel(void) {
    char path[300];
    tmp_path("stereo.wav", path, sizeof path);
    float frames[200 * 2];
    for (int i = 0; i < 400; i++) frames[i] = 0.1f;
    frames[77 * 2 + 1] = NAN;
    FILE *f = fopen(path, "wb");
    /* WAVE_FORMAT_IEEE_FLOAT, 2 channels */
    uint32_t data_bytes = sizeof frames, riff = 36 + data_bytes, fmt_len = 16, rate = RATE, byte_rate = RATE * 8;
    uint16_t tag = 3, ch = 2, align = 8, bits = 32;
    fwrite("RIFF", 1, 4, f); fwrite(&riff, 4, 1, f); fwrite("WAVEfmt ", 1, 8, f); fwrite(&fmt_len, 4, 1, f);
    fwrite(&tag, 2, 1, f); fwrite(&ch, 2, 1, f); fwrite(&rate, 4, 1, f); fwrite(&byte_rate, 4, 1, f);
    fwrite(&align, 2, 1, f); fwrite(&bits, 2, 1, f); fwrite("data", 1, 4, f); fwrite(&data_bytes, 4, 1, f);
    fwrite(frames, 1, sizeof frames, f);
    fclose(f);
    float *y = NULL;
    int64_t ny = 0;
    srt_status st = srt_audio_read(path, 0, &y, &ny, NULL);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "sample 77 ") && strstr(srt_last_error(), "channel 1"),
               "stereo NaN: %d '%s'", st, srt_last_error());
    free(y);
}

static void test_duration_limits(void) {
    int64_t n = 3 * RATE;
    float *x = tone(n);
    char wav[300], flac[300];
    tmp_path("three.wav", wav, sizeof wav);
    tmp_path("three.flac", flac, sizeof flac);
    TEST_CHECK(srt_audio_write(wav, x, n, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(srt_audio_write(flac, x, n, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());
    float *y = NULL;
    int64_t ny = 0;
    srt_audio_read_options two = {.max_seconds = 2}, three = {.max_seconds = 3};
    /* from the header: the open fails, before any sample */
    srt_audio_stream *s = NULL;
    srt_status st = srt_audio_stream_open(wav, 16000, &two, &s);
    TEST_CHECK(st == SRT_ERR_RANGE && s == NULL && strstr(srt_last_error(), "the header announces 72000 frames"),
               "3 s WAV against 2 s: %d '%s'", st, srt_last_error());
    st = srt_audio_read_opts(flac, 0, &two, &y, &ny, NULL);
    TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "header"), "3 s FLAC against 2 s: %d '%s'", st,
               srt_last_error());
    st = srt_audio_read_opts(wav, 0, &three, &y, &ny, NULL);
    TEST_CHECK(st == SRT_OK && ny == n, "3 s WAV against 3 s: %d '%s'", st, srt_last_error());
    free(y);
    y = NULL;
    /* a FLAC whose STREAMINFO has no length (total samples 0): refused while decoding, from memory */
    char *raw = NULL;
    size_t size = 0;
    TEST_CHECK(read_all(flac, &raw, &size) == SRT_OK && size > 42 && !memcmp(raw, "fLaC", 4),
               "cannot read back %s", flac);
    uint8_t *data = (uint8_t *)raw;
    if (data) {
        data[8 + 13] &= 0xF0;                 /* STREAMINFO total samples: the low 36 bits of bytes 13..17 */
        memset(data + 8 + 14, 0, 4);
        srt_audio_source_info info;
        st = srt_audio_read_memory_opts(data, size, "no-length.flac", 0, NULL, &y, &ny, &info);
        TEST_CHECK(st == SRT_OK && ny == n && info.header_frames == -1, "no-length FLAC unlimited: %d %lld %lld '%s'",
                   st, (long long)ny, (long long)info.header_frames, srt_last_error());
        free(y);
        y = NULL;
        st = srt_audio_read_memory_opts(data, size, "no-length.flac", 0, &two, &y, &ny, NULL);
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(srt_last_error(), "no-length.flac: longer than the limit of 2 s"),
                   "no-length FLAC against 2 s: %d '%s'", st, srt_last_error());
        TEST_CHECK(y == NULL, "samples returned with the error");
        free(data);
    }
    free(x);
}

/* The streaming reader's blocks, from a path, memory and a window of a bigger file, equal the whole read. */
static void test_stream_sources(void) {
    int64_t n = 50000;
    float *x = tone(n);
    char wav[300];
    tmp_path("win.wav", wav, sizeof wav);
    TEST_CHECK(srt_audio_write(wav, x, n, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());
    float *whole = NULL;
    int64_t n_whole = 0;
    TEST_CHECK(srt_audio_read(wav, 16000, &whole, &n_whole, NULL) == SRT_OK, "%s", srt_last_error());
    char *file = NULL;
    size_t size = 0;
    TEST_CHECK(read_all(wav, &file, &size) == SRT_OK, "read back");
    /* the window: the WAV placed at offset 1000 of a bigger file */
    char padded[300];
    tmp_path("padded.bin", padded, sizeof padded);
    FILE *f = fopen(padded, "wb");
    char junk[1000];
    memset(junk, 'x', sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fwrite(file, 1, size, f);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    for (int src = 0; src < 3; src++) {
        srt_audio_stream *s = NULL;
        srt_status st = src == 0 ? srt_audio_stream_open(wav, 16000, NULL, &s)
                      : src == 1 ? srt_audio_stream_open_memory(file, size, "mem.wav", 16000, NULL, &s)
                                 : srt_audio_stream_open_window(padded, 1000, (int64_t)size, "member.wav", 16000, NULL, &s);
        TEST_CHECK(st == SRT_OK, "source %d: %s", src, srt_last_error());
        if (st != SRT_OK) continue;
        int64_t got = 0, differ = 0;
        for (int eof = 0; !eof && st == SRT_OK;) {
            const float *b;
            int64_t nb;
            st = srt_audio_stream_next(s, &b, &nb, &eof);
            for (int64_t i = 0; st == SRT_OK && i < nb; i++) differ += got + i >= n_whole || b[i] != whole[got + i];
            if (st == SRT_OK) got += nb;
        }
        TEST_CHECK(st == SRT_OK && got == n_whole && differ == 0, "source %d: %lld of %lld samples, %lld differ: %s",
                   src, (long long)got, (long long)n_whole, (long long)differ, srt_last_error());
        srt_audio_stream_close(s);
    }
    free(file);
    free(whole);
    free(x);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_audio_limits_XXXXXX");
    if (!mkdtemp(tmp_dir)) return 1;
    test_bad_samples();
    test_bad_channel();
    test_duration_limits();
    test_stream_sources();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    TEST_CHECK(system(cmd) == 0, "cannot remove %s", tmp_dir);
    TEST_MAIN_END();
}
