/* test_audio_speed.c: time-stretch (srt_audio_speed_*, include/snacrt_audio.h, libsonic): a 440 Hz tone at
 * speed 2 / 0.5 / 4 / 0.25 gets 1/speed of its length and keeps its pitch and level; fed in 20 ms pieces it gives
 * the same samples as fed whole; speeds out of 0.25 .. 4 are refused. */
#include "snacrt_audio.h"
#include "testutil.h"

static float *run(const float *x, int64_t n, double speed, int64_t piece, int64_t *n_out) {
    srt_audio_speed *s;
    if (srt_audio_speed_open(24000, speed, &s) != SRT_OK) return NULL;
    float *y = malloc(sizeof(float) * (size_t)(4 * n + 48000));
    int64_t len = 0;
    for (int64_t i = 0; i < n; i += piece) {
        const float *o;
        int64_t k;
        int64_t m = n - i < piece ? n - i : piece;
        if (srt_audio_speed_push(s, x + i, m, i + m >= n, &o, &k) != SRT_OK) break;
        memcpy(y + len, o, (size_t)k * sizeof(float));
        len += k;
    }
    srt_audio_speed_free(s);
    *n_out = len;
    return y;
}

int main(void) {
    const int64_t n = 24000;
    float *x = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * (float)sin(2 * M_PI * 440.0 * (double)i / 24000);
    const double speeds[] = {2, 0.5, 4, 0.25, 1.3};
    for (int t = 0; t < 5; t++) {
        double sp = speeds[t];
        int64_t nw, ns;
        float *w = run(x, n, sp, n, &nw), *s = run(x, n, sp, 480, &ns);
        TEST_CHECK(w && s, "speed %g runs", sp);
        if (!w || !s) continue;
        TEST_CHECK(fabs((double)nw - n / sp) < 0.03 * n / sp + 600, "speed %g: %lld samples for %lld", sp,
                   (long long)nw, (long long)n);
        TEST_CHECK(ns == nw && !memcmp(s, w, (size_t)nw * sizeof(float)), "speed %g: streamed = whole (%lld vs %lld)",
                   sp, (long long)ns, (long long)nw);
        int64_t cross = 0;
        double ss = 0;
        for (int64_t i = nw / 8 + 1; i < nw - nw / 8; i++) {
            cross += (w[i] >= 0) != (w[i - 1] >= 0);
            ss += (double)w[i] * w[i];
        }
        double secs = (double)(nw - nw / 4) / 24000, hz = cross / 2.0 / secs, rms = sqrt(ss / (nw - nw / 4));
        TEST_CHECK(fabs(hz - 440) < 15, "speed %g: pitch %.1f Hz, want 440", sp, hz);
        TEST_CHECK(fabs(rms - 0.354) < 0.06, "speed %g: rms %.3f, want 0.354", sp, rms);
        free(w), free(s);
    }
    srt_audio_speed *s = NULL;
    TEST_CHECK(srt_audio_speed_open(24000, 4.5, &s) != SRT_OK && !s && strstr(srt_last_error(), "out of range"),
               "speed 4.5 refused: %s", srt_last_error());
    TEST_CHECK(srt_audio_speed_open(24000, 0.2, &s) != SRT_OK && !s, "speed 0.2 refused");
    free(x);
    TEST_MAIN_END();
}
