/* test_audio.c: reading real speech in many formats and rates.
 * Generates speech with espeak-ng (22050 Hz mono WAV), converts it with sox (8/16/44.1/48 kHz, stereo,
 * phase-inverted stereo, FLAC, AIFF, OGG Vorbis) and with libsndfile (MP3, sox cannot write it), then reads
 * every file at 24000 Hz and checks the length, the content against the WAV version and the mono mix.
 * Needs espeak-ng and sox on PATH (fails, saying so, when they are missing). */
#include "snacrt_audio.h"
#include "testutil.h"
#include <stdarg.h>
#include <unistd.h>

#define TARGET_RATE 24000
#define SPEECH_TEXT "Hello, this is a short test of the speech codec runtime. Seven, eight, nine."

static char tmp_dir[256];

static int run_command(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_command(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    TEST_CHECK(rc == 0, "command failed (%d): %s", rc, cmd);
    return rc == 0;
}

static const char *tmp_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
    return buf;
}

/* Pearson correlation over the common length. */
static double correlation(const float *a, const float *b, int64_t n) {
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    return sab / sqrt(saa * sbb + 1e-30);
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)(n ? n : 1));
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

typedef struct speech_case {
    const char *file;
    int rate, channels;
    int same_samples;          /* lossless copy of the 22050 Hz mono samples: must match the reference exactly */
    double min_correlation;    /* against the WAV read at 24 kHz */
} speech_case;

/* Read one file at 24 kHz and compare it with the reference (the 22050 Hz WAV read at 24 kHz). */
static void check_speech_file(const speech_case *c, const float *ref, int64_t n_ref, int64_t ref_frames) {
    char path[512];
    tmp_path(c->file, path, sizeof path);
    float *x = NULL;
    int64_t n = 0;
    srt_audio_source_info info;
    srt_status st = srt_audio_read(path, TARGET_RATE, &x, &n, &info);
    TEST_CHECK(st == SRT_OK, "%s: %s", c->file, srt_last_error());
    if (st != SRT_OK) return;
    TEST_CHECK(info.sample_rate == c->rate, "%s: source rate %d, expected %d", c->file, info.sample_rate, c->rate);
    TEST_CHECK(info.channels == c->channels, "%s: %d channels, expected %d", c->file, info.channels, c->channels);
    /* libsoxr emits round-half-up(frames * out / in) samples after the flush. */
    int64_t expect_n = (int64_t)llround((double)info.frames * TARGET_RATE / info.sample_rate);
    TEST_CHECK(n == expect_n, "%s: %lld samples at 24 kHz, expected round(%lld * 24000 / %d) = %lld", c->file,
               (long long)n, (long long)info.frames, info.sample_rate, (long long)expect_n);
    int64_t common = n < n_ref ? n : n_ref;
    double corr = correlation(x, ref, common), rms_ratio = rms(x, common) / rms(ref, common);
    printf("  %-18s %-48s frames %6lld -> %6lld  corr %.5f  rms ratio %.4f\n", c->file, info.format,
           (long long)info.frames, (long long)n, corr, rms_ratio);
    TEST_CHECK(corr > c->min_correlation, "%s: correlation with the WAV version %.5f <= %.3f", c->file, corr,
               c->min_correlation);
    TEST_CHECK(rms_ratio > 0.9 && rms_ratio < 1.1, "%s: RMS ratio to the WAV version %.4f", c->file, rms_ratio);
    if (c->same_samples) {
        TEST_CHECK(info.frames == ref_frames, "%s: %lld frames, expected %lld", c->file, (long long)info.frames,
                   (long long)ref_frames);
        TEST_CHECK(n == n_ref && max_abs_diff(x, ref, common) == 0, "%s: differs from the WAV version (max %g)",
                   c->file, max_abs_diff(x, ref, common));
    }

    /* The in-memory reader gives the same samples. */
    char *bytes = NULL;
    size_t size = 0;
    if (srt_read_file(path, &bytes, &size) == SRT_OK) {
        float *y = NULL;
        int64_t ny = 0;
        st = srt_audio_read_memory(bytes, size, c->file, TARGET_RATE, &y, &ny, NULL);
        TEST_CHECK(st == SRT_OK, "%s from memory: %s", c->file, srt_last_error());
        TEST_CHECK(st != SRT_OK || (ny == n && max_abs_diff(x, y, n) == 0), "%s: memory read differs from file read",
                   c->file);
        free(y);
    }
    free(bytes);
    free(x);
}

static int tools_available(void) {
    int espeak = system("command -v espeak-ng >/dev/null 2>&1") == 0;
    int sox = system("command -v sox >/dev/null 2>&1") == 0;
    TEST_CHECK(espeak, "espeak-ng is not installed: install it (apt-get install espeak-ng) to run the audio tests");
    TEST_CHECK(sox, "sox is not installed: install it (apt-get install sox) to run the audio tests");
    return espeak && sox;
}

/* A cut copy of a file (keep_bytes if > 0, else keep_fraction of it) must fail, naming the file. */
static void check_truncated_copy(const char *src_name, const char *dst_name, double keep_fraction, size_t keep_bytes) {
    char src[512], dst[512];
    tmp_path(src_name, src, sizeof src);
    tmp_path(dst_name, dst, sizeof dst);
    char *bytes = NULL;
    size_t size = 0;
    if (srt_read_file(src, &bytes, &size) != SRT_OK) { TEST_CHECK(0, "%s", srt_last_error()); return; }
    size_t keep = keep_bytes > 0 ? keep_bytes : (size_t)(size * keep_fraction);
    FILE *f = fopen(dst, "wb");
    TEST_CHECK(f != NULL, "cannot create %s", dst);
    if (f) { fwrite(bytes, 1, keep, f); fclose(f); }
    float *x = NULL;
    int64_t n = 0;
    srt_status st = srt_audio_read(dst, TARGET_RATE, &x, &n, NULL);
    TEST_CHECK(st != SRT_OK, "%s: a truncated file was accepted (%lld samples)", dst_name, (long long)n);
    TEST_CHECK(st == SRT_OK || strstr(srt_last_error(), dst) != NULL, "%s: error does not name the file: %s",
               dst_name, srt_last_error());
    printf("  truncated %s -> %s: %s\n", src_name, srt_status_name(st), srt_last_error());
    st = srt_audio_read_memory(bytes, keep, dst_name, TARGET_RATE, &x, &n, NULL);
    TEST_CHECK(st != SRT_OK, "%s: a truncated file was accepted from memory", dst_name);
    TEST_CHECK(st == SRT_OK || strstr(srt_last_error(), dst_name) != NULL, "%s: memory error does not name it: %s",
               dst_name, srt_last_error());
    free(x);
    free(bytes);
}

/* The bundled demo sample (tests/data/speech/hello.wav) is about 3 s of 24 kHz mono speech. */
static void check_bundled_sample(void) {
    char path[512];
    test_src_path("tests/data/speech/hello.wav", path, sizeof path);
    float *x = NULL, *y = NULL;
    int64_t n = 0, ny = 0;
    srt_audio_source_info info;
    srt_status st = srt_audio_read(path, 0, &x, &n, &info);
    TEST_CHECK(st == SRT_OK, "bundled sample: %s", srt_last_error());
    if (st != SRT_OK) return;
    printf("  bundled %s: %s, %d Hz, %d ch, %lld frames, rms %.4f\n", path, info.format, info.sample_rate,
           info.channels, (long long)info.frames, rms(x, n));
    TEST_CHECK(info.sample_rate == 24000 && info.channels == 1 && strstr(info.format, "16 bit"),
               "bundled sample: %d Hz, %d channels, %s", info.sample_rate, info.channels, info.format);
    TEST_CHECK(n >= 60000 && n <= 84000, "bundled sample: %lld samples, expected 2.5-3.5 s", (long long)n);
    TEST_CHECK(rms(x, n) > 0.01, "bundled sample is silent (rms %g)", rms(x, n));
    /* Same rate in and out: no resampling, the samples are the file's. */
    st = srt_audio_read(path, 24000, &y, &ny, NULL);
    TEST_CHECK(st == SRT_OK && ny == n && max_abs_diff(x, y, n) == 0, "reading at the file's own rate changed it");
    free(x);
    free(y);
}

int main(void) {
    check_bundled_sample();
    if (!tools_available()) TEST_MAIN_END();
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_test_audio_XXXXXX");
    if (!mkdtemp(tmp_dir)) { TEST_CHECK(0, "mkdtemp failed"); TEST_MAIN_END(); }
    char path[512];

    /* espeak-ng speaks at 22050 Hz mono 16-bit. */
    if (!run_command("espeak-ng -w '%s/speech.wav' '%s'", tmp_dir, SPEECH_TEXT)) TEST_MAIN_END();
    static const int sox_rates[] = {8000, 16000, 44100, 48000};
    for (size_t i = 0; i < sizeof sox_rates / sizeof *sox_rates; i++)
        run_command("sox -D '%s/speech.wav' -r %d '%s/speech_%d.wav'", tmp_dir, sox_rates[i], tmp_dir, sox_rates[i]);
    run_command("sox -D '%s/speech.wav' '%s/speech_stereo.wav' remix 1 1", tmp_dir, tmp_dir);
    run_command("sox -D '%s/speech.wav' '%s/speech_antiphase.wav' remix 1 1i", tmp_dir, tmp_dir);
    run_command("sox -D '%s/speech.wav' '%s/speech.flac'", tmp_dir, tmp_dir);
    run_command("sox -D '%s/speech.wav' '%s/speech.aiff'", tmp_dir, tmp_dir);
    run_command("sox -D '%s/speech.wav' '%s/speech.ogg'", tmp_dir, tmp_dir);

    /* Reference: the espeak WAV at its own rate and at 24 kHz. */
    float *native = NULL, *ref = NULL;
    int64_t n_native = 0, n_ref = 0;
    srt_audio_source_info info;
    srt_status st = srt_audio_read(tmp_path("speech.wav", path, sizeof path), 0, &native, &n_native, &info);
    TEST_CHECK(st == SRT_OK, "speech.wav: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    TEST_CHECK(info.sample_rate == 22050 && info.channels == 1 && info.frames == n_native,
               "speech.wav: %d Hz, %d channels, %lld frames (%lld samples)", info.sample_rate, info.channels,
               (long long)info.frames, (long long)n_native);
    TEST_CHECK(n_native > 22050, "espeak-ng produced only %lld samples", (long long)n_native);
    TEST_CHECK(rms(native, n_native) > 0.01, "espeak-ng speech is silent (rms %g)", rms(native, n_native));
    st = srt_audio_read(path, TARGET_RATE, &ref, &n_ref, NULL);
    TEST_CHECK(st == SRT_OK, "speech.wav at 24 kHz: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    /* Reading at 24 kHz equals reading at the source rate and resampling in one shot. */
    float *resampled = NULL;
    int64_t n_resampled = 0;
    st = srt_audio_resample(native, n_native, 22050, TARGET_RATE, &resampled, &n_resampled);
    TEST_CHECK(st == SRT_OK && n_resampled == n_ref && max_abs_diff(resampled, ref, n_ref) == 0,
               "read at 24 kHz differs from read + srt_audio_resample");
    free(resampled);

    /* MP3 through libsndfile (LAME), since sox has no MP3 writer here. */
    st = srt_audio_write(tmp_path("speech.mp3", path, sizeof path), native, n_native, 22050, SRT_AUDIO_S16);
    int have_mp3 = st == SRT_OK;
    if (!have_mp3) printf("  (no MP3 writer in this libsndfile: %s)\n", srt_last_error());

    /* Thresholds: lossless copies must be identical; sox's own resampling to 16/44.1/48 kHz keeps the speech band
     * (corr > 0.99); 8 kHz removes everything above 4 kHz (fricatives), OGG/MP3 are lossy codecs. Measured
     * (Debian 12: sox 14.4.2, libvorbis 1.3.7, LAME 3.100): 16k 0.9982, 44.1k/48k 1.0000, 8k 0.9887,
     * OGG 0.9950, MP3 0.9987; the thresholds leave a margin below them. */
    const speech_case cases[] = {
        {"speech.wav", 22050, 1, 1, 0.999},
        {"speech.flac", 22050, 1, 1, 0.999},
        {"speech.aiff", 22050, 1, 1, 0.999},
        {"speech_stereo.wav", 22050, 2, 1, 0.999},
        {"speech_16000.wav", 16000, 1, 0, 0.99},
        {"speech_44100.wav", 44100, 1, 0, 0.99},
        {"speech_48000.wav", 48000, 1, 0, 0.99},
        {"speech_8000.wav", 8000, 1, 0, 0.97},
        {"speech.ogg", 22050, 1, 0, 0.98},
        {"speech.mp3", 22050, 1, 0, 0.98},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!have_mp3 && strcmp(cases[i].file, "speech.mp3") == 0) continue;
        check_speech_file(&cases[i], ref, n_ref, n_native);
    }

    /* L = +x, R = -x mixes to silence. */
    float *anti = NULL;
    int64_t n_anti = 0;
    st = srt_audio_read(tmp_path("speech_antiphase.wav", path, sizeof path), TARGET_RATE, &anti, &n_anti, &info);
    TEST_CHECK(st == SRT_OK && info.channels == 2, "speech_antiphase.wav: %s", srt_last_error());
    if (st == SRT_OK) {
        double peak = 0;
        for (int64_t i = 0; i < n_anti; i++) peak = fmax(peak, fabs(anti[i]));
        printf("  antiphase stereo mixed to mono: peak %g over %lld samples\n", peak, (long long)n_anti);
        TEST_CHECK(n_anti == n_ref && peak < 1e-6, "antiphase stereo: peak %g after the mono mix", peak);
    }
    free(anti);

    /* Cut files fail with the file's name (a cut OGG is a valid shorter stream, so it is not among them). */
    check_truncated_copy("speech.flac", "cut.flac", 0.5, 0);
    check_truncated_copy("speech.wav", "cut.wav", 0.5, 0);
    check_truncated_copy("speech.wav", "cut_header.wav", 0, 30);  /* inside the 44-byte RIFF header */
    check_truncated_copy("speech.flac", "cut_header.flac", 0, 20);
    if (have_mp3) check_truncated_copy("speech.mp3", "cut_header.mp3", 0, 200);

    free(native);
    free(ref);
    run_command("rm -rf '%s'", tmp_dir);
    TEST_MAIN_END();
}
