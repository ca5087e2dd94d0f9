/* test_audio_io.c: audio write/read round trips, the streaming writer, raw PCM bytes, chunked resampling and
 * error handling, on synthetic signals (fixed seeds; no external tools needed). */
#include "snacrt_audio.h"
#include "testutil.h"
#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATE 24000

static char tmp_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
    return buf;
}

/* Speech-like test tone: a few harmonics with a slow envelope plus a little noise, peak about 0.8. */
static float *make_tone(int64_t n, int rate, uint64_t seed) {
    float *x = malloc((size_t)n * sizeof(float));
    float *noise = malloc((size_t)n * sizeof(float));
    test_fill_uniform(noise, (size_t)n, seed, -0.02f, 0.02f);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate, env = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * t);
        x[i] = (float)(env * (0.4 * sin(2 * M_PI * 220 * t) + 0.2 * sin(2 * M_PI * 440 * t + 1.0) +
                              0.1 * sin(2 * M_PI * 1330 * t + 2.0)) + noise[i]);
    }
    free(noise);
    return x;
}

static double correlation(const float *a, const float *b, int64_t n) {
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < n; i++) sab += (double)a[i] * b[i], saa += (double)a[i] * a[i], sbb += (double)b[i] * b[i];
    return sab / sqrt(saa * sbb + 1e-30);
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static int files_equal(const char *a, const char *b) {
    char *da = NULL, *db = NULL;
    size_t na = 0, nb = 0;
    int eq = srt_read_file(a, &da, &na) == SRT_OK && srt_read_file(b, &db, &nb) == SRT_OK && na == nb &&
             memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return eq;
}

static float clip1(float x) { return x != x ? 0.0f : x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x; }

static void test_s16_conversion(void) {
    TEST_CHECK(srt_audio_float_to_s16(1.0f) == 32767, "1.0 -> %d", srt_audio_float_to_s16(1.0f));
    TEST_CHECK(srt_audio_float_to_s16(-1.0f) == -32768, "-1.0 -> %d", srt_audio_float_to_s16(-1.0f));
    TEST_CHECK(srt_audio_float_to_s16(3.0f) == 32767 && srt_audio_float_to_s16(-3.0f) == -32768, "clipping");
    TEST_CHECK(srt_audio_float_to_s16(NAN) == 0, "NaN -> %d", srt_audio_float_to_s16(NAN));
    TEST_CHECK(srt_audio_float_to_s16(1.4f / 32768) == 1 && srt_audio_float_to_s16(1.6f / 32768) == 2 &&
               srt_audio_float_to_s16(-1.6f / 32768) == -2, "rounding to nearest");
    float x[3] = {0.5f, -1.0f, 1.0f / 32768};
    uint8_t bytes[6];
    srt_audio_encode_s16le(x, 3, bytes);
    static const uint8_t expect[6] = {0x00, 0x40, 0x00, 0x80, 0x01, 0x00};
    TEST_CHECK(memcmp(bytes, expect, 6) == 0, "s16le bytes %02x %02x %02x %02x %02x %02x", bytes[0], bytes[1],
               bytes[2], bytes[3], bytes[4], bytes[5]);
}

static void test_round_trips(void) {
    const int64_t n = 20011; /* more than two 8192-frame read blocks */
    float *x = malloc((size_t)n * sizeof(float));
    test_fill_uniform(x, (size_t)n, 7, -1.25f, 1.25f);
    x[0] = 1.0f, x[1] = -1.0f, x[2] = 0.0f, x[3] = 1.5f, x[4] = -1.5f;
    char wav16[512], wav32[512], flac[512];
    tmp_path("rt16.wav", wav16, sizeof wav16);
    tmp_path("rt32.wav", wav32, sizeof wav32);
    tmp_path("rt.flac", flac, sizeof flac);
    TEST_CHECK(srt_audio_write(wav16, x, n, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(srt_audio_write(wav32, x, n, RATE, SRT_AUDIO_F32) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(srt_audio_write(flac, x, n, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());

    float *y16 = NULL, *y32 = NULL, *yflac = NULL;
    int64_t n16 = 0, n32 = 0, nflac = 0;
    srt_audio_source_info info;
    TEST_CHECK(srt_audio_read(wav16, 0, &y16, &n16, &info) == SRT_OK && n16 == n, "s16 wav: %s", srt_last_error());
    TEST_CHECK(info.sample_rate == RATE && info.channels == 1 && strstr(info.format, "16 bit"), "s16 wav info: %d %d %s",
               info.sample_rate, info.channels, info.format);
    TEST_CHECK(srt_audio_read(wav32, 0, &y32, &n32, &info) == SRT_OK && n32 == n, "f32 wav: %s", srt_last_error());
    TEST_CHECK(strstr(info.format, "32 bit float") != NULL, "f32 wav format: %s", info.format);
    TEST_CHECK(srt_audio_read(flac, 0, &yflac, &nflac, &info) == SRT_OK && nflac == n, "flac: %s", srt_last_error());
    TEST_CHECK(strstr(info.format, "FLAC") != NULL, "flac format: %s", info.format);
    if (n16 == n && n32 == n && nflac == n) {
        double err16 = 0, err_inside = 0;
        int64_t not_quantized = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = fabs((double)y16[i] - clip1(x[i]));
            err16 = fmax(err16, e);
            if (fabs(x[i]) < 1.0) err_inside = fmax(err_inside, e);
            if (y16[i] != srt_audio_float_to_s16(x[i]) / 32768.0f) not_quantized++;
        }
        printf("  s16 WAV round trip: max error %.3g (%.3f LSB), inside (-1, 1): %.3g (%.3f LSB)\n", err16,
               err16 * 32768, err_inside, err_inside * 32768);
        TEST_CHECK(err16 <= 1.0 / 32767 + 1e-9, "s16 WAV round trip error %g", err16);
        TEST_CHECK(err_inside <= 0.5 / 32768 + 1e-9, "s16 WAV round trip error inside (-1,1) %g", err_inside);
        TEST_CHECK(not_quantized == 0, "%lld s16 samples differ from s16(x) / 32768", (long long)not_quantized);
        TEST_CHECK(max_abs_diff(y32, x, n) == 0, "f32 WAV round trip not exact (max %g)", max_abs_diff(y32, x, n));
        TEST_CHECK(max_abs_diff(yflac, y16, n) == 0, "FLAC differs from the s16 WAV (max %g)",
                   max_abs_diff(yflac, y16, n));
    }

    /* The s16 WAV's data chunk holds exactly the srt_audio_encode_s16le bytes. */
    char *file = NULL;
    size_t size = 0;
    uint8_t *pcm = malloc((size_t)n * 2);
    srt_audio_encode_s16le(x, n, pcm);
    TEST_CHECK(srt_read_file(wav16, &file, &size) == SRT_OK && size == 44 + (size_t)n * 2 &&
               memcmp(file + 44, pcm, (size_t)n * 2) == 0, "s16 WAV data chunk != encoded PCM bytes (size %zu)", size);
    free(file);
    free(pcm);
    free(x), free(y16), free(y32), free(yflac);
}

/* Lossy containers: same length, waveform kept. */
static void test_lossy_round_trip(const char *name, double min_corr) {
    const int64_t n = 48000;
    float *x = make_tone(n, RATE, 11);
    char path[512];
    tmp_path(name, path, sizeof path);
    srt_status st = srt_audio_write(path, x, n, RATE, SRT_AUDIO_S16);
    TEST_CHECK(st == SRT_OK, "%s: %s", name, srt_last_error());
    float *y = NULL;
    int64_t ny = 0;
    if (st == SRT_OK) {
        st = srt_audio_read(path, 0, &y, &ny, NULL);
        TEST_CHECK(st == SRT_OK, "%s: %s", name, srt_last_error());
        double corr = st == SRT_OK ? correlation(x, y, ny < n ? ny : n) : 0;
        printf("  %s round trip: %lld -> %lld samples, correlation %.5f\n", name, (long long)n, (long long)ny, corr);
        TEST_CHECK(ny == n, "%s: %lld samples read back, %lld written", name, (long long)ny, (long long)n);
        TEST_CHECK(corr > min_corr, "%s: correlation %.5f <= %.3f", name, corr, min_corr);
    }
    free(x);
    free(y);
}

static void test_streaming_writer(const char *name, srt_audio_write_format fmt) {
    const int64_t n = 30011;
    float *x = make_tone(n, RATE, 3);
    char one_shot[512], streamed[512], stream_name[64];
    snprintf(stream_name, sizeof stream_name, "stream_%s", name);
    tmp_path(name, one_shot, sizeof one_shot);
    tmp_path(stream_name, streamed, sizeof streamed);
    TEST_CHECK(srt_audio_write(one_shot, x, n, RATE, fmt) == SRT_OK, "%s: %s", name, srt_last_error());
    srt_audio_writer *w = NULL;
    srt_status st = srt_audio_write_open(streamed, RATE, fmt, &w);
    TEST_CHECK(st == SRT_OK, "%s: %s", stream_name, srt_last_error());
    if (st != SRT_OK) { free(x); return; }
    static const int64_t chunk_sizes[] = {1, 7, 0, 100, 8191, 8193, 3, 12000};
    int64_t pos = 0;
    for (size_t k = 0; pos < n; k++) {
        int64_t c = chunk_sizes[k % (sizeof chunk_sizes / sizeof *chunk_sizes)];
        if (c > n - pos) c = n - pos;
        TEST_CHECK(srt_audio_write_append(w, x + pos, c) == SRT_OK, "%s: %s", stream_name, srt_last_error());
        pos += c;
    }
    TEST_CHECK(srt_audio_write_close(w) == SRT_OK, "%s: %s", stream_name, srt_last_error());
    TEST_CHECK(files_equal(one_shot, streamed), "%s: streamed file differs from the one-shot file", name);
    free(x);
}

/* Chunked resampling equals one-shot resampling, which equals libsoxr's own soxr_oneshot. */
static void test_chunked_resampler(int in_rate, int out_rate, int64_t n, const int64_t *chunks, size_t n_chunks,
                                   const char *label) {
    float *x = make_tone(n, in_rate, 5);
    float *whole = NULL;
    int64_t n_whole = 0;
    TEST_CHECK(srt_audio_resample(x, n, in_rate, out_rate, &whole, &n_whole) == SRT_OK, "%s", srt_last_error());
    int64_t expect = (int64_t)llround((double)n * out_rate / in_rate);
    TEST_CHECK(n_whole == expect, "%d -> %d Hz, %lld samples: got %lld, expected %lld", in_rate, out_rate,
               (long long)n, (long long)n_whole, (long long)expect);

    /* libsoxr's one-call API with the same settings */
    size_t cap = (size_t)expect + 1024, odone = 0;
    float *ref = malloc(cap * sizeof(float));
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, x, (size_t)n, NULL, ref, cap, &odone, &io, &q, &rt);
    TEST_CHECK(!err && (int64_t)odone == n_whole && max_abs_diff(ref, whole, n_whole) == 0,
               "%d -> %d: srt_audio_resample differs from soxr_oneshot (%zu vs %lld samples, max %g)", in_rate,
               out_rate, odone, (long long)n_whole, (int64_t)odone == n_whole ? max_abs_diff(ref, whole, n_whole) : -1);
    free(ref);

    srt_resampler *rs = NULL;
    TEST_CHECK(srt_resampler_create(in_rate, out_rate, &rs) == SRT_OK, "%s", srt_last_error());
    float *joined = malloc((size_t)(expect + 4096) * sizeof(float));
    int64_t n_joined = 0, pos = 0, first_out = -1;
    const float *out;
    int64_t n_out;
    for (size_t k = 0; pos < n && rs; k++) {
        int64_t c = chunks[k % n_chunks];
        if (c > n - pos) c = n - pos;
        if (srt_resampler_process(rs, x + pos, c, &out, &n_out) != SRT_OK) { TEST_CHECK(0, "%s", srt_last_error()); break; }
        if (k == 0) first_out = n_out;
        if (n_joined + n_out <= expect + 4096) memcpy(joined + n_joined, out, (size_t)n_out * sizeof(float));
        n_joined += n_out;
        pos += c;
    }
    int64_t before_flush = n_joined;
    if (rs && srt_resampler_flush(rs, &out, &n_out) == SRT_OK && n_joined + n_out <= expect + 4096) {
        memcpy(joined + n_joined, out, (size_t)n_out * sizeof(float));
        n_joined += n_out;
    }
    double diff = n_joined == n_whole ? max_abs_diff(joined, whole, n_whole) : -1;
    printf("  chunked %d -> %d Hz (%s): %lld samples (first call %lld, flush %lld), max diff to one-shot %g\n",
           in_rate, out_rate, label, (long long)n_joined, (long long)first_out, (long long)(n_joined - before_flush),
           diff);
    TEST_CHECK(n_joined == n_whole && diff == 0, "%d -> %d (%s): chunked output differs (%lld vs %lld samples, max %g)",
               in_rate, out_rate, label, (long long)n_joined, (long long)n_whole, diff);
    float dummy = 0;
    TEST_CHECK(rs && srt_resampler_process(rs, &dummy, 1, &out, &n_out) == SRT_ERR_INVALID_ARG,
               "input after flush must be refused");
    srt_resampler_free(rs);
    free(joined), free(whole), free(x);
}

/* A 3-channel float file mixes to the mean of its channels. */
static void test_multichannel_mix(void) {
    const int64_t frames = 20000;
    const int channels = 3;
    float *inter = malloc((size_t)(frames * channels) * sizeof(float)); /* (frames, channels) */
    test_fill_uniform(inter, (size_t)(frames * channels), 21, -0.9f, 0.9f);
    char path[512];
    tmp_path("three.wav", path, sizeof path);
    SF_INFO si = {.samplerate = 16000, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    TEST_CHECK(sf != NULL, "cannot write %s: %s", path, sf_strerror(NULL));
    if (!sf) { free(inter); return; }
    sf_writef_float(sf, inter, frames);
    sf_close(sf);
    float *y = NULL;
    int64_t ny = 0;
    srt_audio_source_info info;
    TEST_CHECK(srt_audio_read(path, 0, &y, &ny, &info) == SRT_OK, "%s", srt_last_error());
    TEST_CHECK(ny == frames && info.channels == 3 && info.sample_rate == 16000, "3-channel: %lld frames, %d ch",
               (long long)ny, info.channels);
    double worst = 0;
    for (int64_t f = 0; f < ny && ny == frames; f++) {
        double mean = ((double)inter[f * 3] + inter[f * 3 + 1] + inter[f * 3 + 2]) / 3;
        worst = fmax(worst, fabs(y[f] - mean));
    }
    TEST_CHECK(worst < 1e-7, "3-channel mix differs from the mean by %g", worst);
    free(y);
    free(inter);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(data, 1, n, f); fclose(f); }
}

/* Reading `path` fails with `want` (or any error when want == SRT_OK) and the message names the file. */
static void expect_read_error(const char *path, srt_status want, const char *what) {
    float *x = NULL;
    int64_t n = 0;
    srt_status st = srt_audio_read(path, RATE, &x, &n, NULL);
    printf("  %-22s -> %s: %s\n", what, srt_status_name(st), srt_last_error());
    TEST_CHECK(st != SRT_OK && (want == SRT_OK || st == want), "%s: status %s", what, srt_status_name(st));
    TEST_CHECK(strstr(srt_last_error(), path) != NULL, "%s: message does not name %s: %s", what, path,
               srt_last_error());
    TEST_CHECK(x == NULL && n == 0, "%s: output left set on failure", what);
    free(x);
}

static void test_errors(void) {
    char path[512];
    expect_read_error(tmp_path("does_not_exist.wav", path, sizeof path), SRT_ERR_IO, "missing file");
    expect_read_error(tmp_dir, SRT_ERR_IO, "directory");
    write_bytes(tmp_path("empty.wav", path, sizeof path), "", 0);
    expect_read_error(path, SRT_ERR_FORMAT, "empty file");
    static const char text[] = "This is a text file, not audio at all.\nSecond line.\n";
    write_bytes(tmp_path("text.wav", path, sizeof path), text, sizeof text - 1);
    expect_read_error(path, SRT_ERR_FORMAT, "text file");
    /* RIFF/WAVE magic followed by garbage */
    unsigned char garbage[4000];
    uint64_t seed = 99;
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (unsigned char)(test_rng_next(&seed) >> 56);
    memcpy(garbage, "RIFF\xa0\x0f\x00\x00WAVEfmt ", 16);
    write_bytes(tmp_path("garbage.wav", path, sizeof path), garbage, sizeof garbage);
    expect_read_error(path, SRT_ERR_FORMAT, "RIFF + garbage");
    /* a valid WAV whose fmt chunk says 0 channels */
    float tone[100] = {0};
    char good[512];
    tmp_path("good.wav", good, sizeof good);
    TEST_CHECK(srt_audio_write(good, tone, 100, RATE, SRT_AUDIO_S16) == SRT_OK, "%s", srt_last_error());
    char *bytes = NULL;
    size_t size = 0;
    if (srt_read_file(good, &bytes, &size) == SRT_OK && size > 44) {
        bytes[22] = 0, bytes[23] = 0; /* NumChannels */
        write_bytes(tmp_path("zero_channels.wav", path, sizeof path), bytes, size);
        expect_read_error(path, SRT_ERR_FORMAT, "0 channels");
    }
    free(bytes);

    /* memory variants name the given name */
    float *x = NULL;
    int64_t n = 0;
    srt_status st = srt_audio_read_memory(text, sizeof text - 1, "member text.wav", RATE, &x, &n, NULL);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "member text.wav"), "memory text: %s %s",
               srt_status_name(st), srt_last_error());
    st = srt_audio_read_memory(text, 0, "member empty.wav", RATE, &x, &n, NULL);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "member empty.wav"), "memory empty: %s %s",
               srt_status_name(st), srt_last_error());

    /* writer errors */
    float s[4] = {0};
    st = srt_audio_write(tmp_path("x.xyz", path, sizeof path), s, 4, RATE, SRT_AUDIO_S16);
    TEST_CHECK(st == SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), path), "unknown extension: %s %s",
               srt_status_name(st), srt_last_error());
    st = srt_audio_write(tmp_path("x.flac", path, sizeof path), s, 4, RATE, SRT_AUDIO_F32);
    TEST_CHECK(st == SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), path), "f32 flac: %s %s", srt_status_name(st),
               srt_last_error());
    st = srt_audio_write(tmp_path("no_such_dir/x.wav", path, sizeof path), s, 4, RATE, SRT_AUDIO_S16);
    TEST_CHECK(st == SRT_ERR_IO && strstr(srt_last_error(), path), "unwritable path: %s %s", srt_status_name(st),
               srt_last_error());
    srt_resampler *rs = NULL;
    TEST_CHECK(srt_resampler_create(0, RATE, &rs) == SRT_ERR_INVALID_ARG && rs == NULL, "rate 0 accepted");
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_test_audio_io_XXXXXX");
    if (!mkdtemp(tmp_dir)) { TEST_CHECK(0, "mkdtemp failed"); TEST_MAIN_END(); }

    test_s16_conversion();
    test_round_trips();
    test_lossy_round_trip("tone.ogg", 0.98);
    test_lossy_round_trip("tone.mp3", 0.98);
    test_streaming_writer("s16.wav", SRT_AUDIO_S16);
    test_streaming_writer("f32.wav", SRT_AUDIO_F32);
    test_streaming_writer("s16.flac", SRT_AUDIO_S16);
    test_multichannel_mix();

    static const int64_t ones[] = {1}, odd[] = {13, 1, 4096, 777, 2}, big[] = {4096};
    test_chunked_resampler(22050, 24000, 30000, ones, 1, "1-sample chunks");
    test_chunked_resampler(22050, 24000, 100003, odd, 5, "chunks 13,1,4096,777,2");
    test_chunked_resampler(44100, 24000, 100003, big, 1, "4096-sample chunks");
    test_chunked_resampler(8000, 24000, 40001, odd, 5, "chunks 13,1,4096,777,2");
    test_chunked_resampler(24000, 16000, 50001, odd, 5, "chunks 13,1,4096,777,2");

    float same[5] = {1, 2, 3, 4, 5}, *copy = NULL;
    int64_t n_copy = 0;
    TEST_CHECK(srt_audio_resample(same, 5, RATE, RATE, &copy, &n_copy) == SRT_OK && n_copy == 5 &&
               memcmp(copy, same, sizeof same) == 0, "same-rate resampling is not a copy");
    free(copy);

    test_errors();

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    TEST_CHECK(system(cmd) == 0, "cannot remove %s", tmp_dir);
    TEST_MAIN_END();
}
