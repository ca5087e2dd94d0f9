/* test_tokenize_encode_stream.c: the push-mode chunked encoder (srt_codec_encode_stream_*) that `snacrt tokenize`
 * feeds while a long file is being decoded: pieces of irregular sizes (the whole signal at once, one sample then
 * growing odd sizes, seeded random sizes up to three chunks) give, concatenated, exactly the codes of
 * srt_codec_encode of the whole signal and of srt_codec_encode_long, for tests/data/snac/tiny24 and tiny44, with
 * chunks of one pad_multiple (random pieces) and of 3.33 pad_multiples (all piece patterns), on signals of 3 s,
 * of less than one pad_multiple and of exactly two. Also the n_samples of finish and misuse errors. On each
 * backend of SNACRT_TEST_BACKENDS (default "cpu"; ctest's test_tokenize_encode_stream_cuda runs "cuda", the
 * simulator in a cudasim build, with the 3 s signal cut to 1 s and the one-pad_multiple chunks left out: the
 * simulator is slow). A backend without a device (SRT_ERR_NO_DEVICE) is reported as a skip. */
#include "snacrt.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *make_signal(int rate, int64_t n, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)n);
    if (!x) return NULL;
    test_fill_uniform(x, (size_t)n, seed, -0.05f, 0.05f);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        x[i] += (float)(0.4 * sin(2 * M_PI * (120.0 * t + 80.0 * t * t)) * (0.6 + 0.4 * sin(2 * M_PI * 0.7 * t)));
    }
    return x;
}

static int64_t count_diff(const srt_codes *a, const srt_codes *b, const char *label) {
    if (a->n_levels != b->n_levels) { fprintf(stderr, "  %s: levels %d vs %d\n", label, a->n_levels, b->n_levels); return -1; }
    int64_t bad = 0;
    for (int l = 0; l < a->n_levels; l++) {
        if (a->n_frames[l] != b->n_frames[l]) {
            fprintf(stderr, "  %s level %d: %lld vs %lld frames\n", label, l, (long long)a->n_frames[l],
                    (long long)b->n_frames[l]);
            return -1;
        }
        for (int64_t i = 0; i < a->n_frames[l]; i++) bad += a->codes[l][i] != b->codes[l][i];
    }
    return bad;
}

/* Push the signal in pieces: mode 0 all at once, 1 one sample then odd sizes, 2 seeded random sizes. */
static srt_status stream_encode(srt_codec *codec, const float *x, int64_t n, int64_t chunk, int mode, srt_codes *out) {
    srt_codec_encode_stream *s = NULL;
    srt_status st = srt_codec_encode_stream_open(codec, chunk, &s);
    if (st != SRT_OK) return st;
    memset(out, 0, sizeof *out);
    uint64_t rng = 99 + (uint64_t)chunk;
    int64_t pos = 0, step = 1;
    while (st == SRT_OK && pos < n) {
        int64_t take = mode == 0 ? n : mode == 1 ? step : 1 + (int64_t)(test_rng_next(&rng) % (uint64_t)(3 * chunk));
        if (mode == 1) step = step * 3 + 5;
        if (take > n - pos) take = n - pos;
        srt_codes part;
        st = srt_codec_encode_stream_push(s, x + pos, take, &part);
        if (st == SRT_OK) {
            TEST_CHECK(part.n_samples == 0, "push reports n_samples %lld", (long long)part.n_samples);
            st = srt_codes_append(out, &part);
        }
        srt_codes_free(&part);
        pos += take;
    }
    srt_codes last;
    if (st == SRT_OK) st = srt_codec_encode_stream_finish(s, &last);
    if (st == SRT_OK) {
        TEST_CHECK(last.n_samples == n, "finish n_samples %lld, expected %lld", (long long)last.n_samples, (long long)n);
        st = srt_codes_append(out, &last);
        out->n_samples = last.n_samples;
        srt_codes_free(&last);
    }
    srt_codec_encode_stream_free(s);
    if (st != SRT_OK) srt_codes_free(out);
    return st;
}

static void run_model(const char *model, const char *backend) {
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "tests/data/snac/%s", model);
    test_src_path(rel, path, sizeof path);
    srt_codec *codec = NULL;
    srt_codec_options opts = {.backend = backend, .n_threads = 1};   /* tiny models: one thread is plenty */
    srt_status st = srt_codec_load(path, &opts, &codec);
    if (st == SRT_ERR_NO_DEVICE) { printf("skip %s on %s: %s\n", model, backend, srt_last_error()); return; }
    TEST_CHECK(st == SRT_OK, "load %s on %s: %s", path, backend, srt_last_error());
    if (st != SRT_OK) return;
    int sim = !strncmp(backend, "cuda", 4);
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int64_t pm = info.pad_multiple;

    /* misuse */
    srt_codec_encode_stream *s = NULL;
    TEST_CHECK(srt_codec_encode_stream_open(codec, 0, &s) == SRT_ERR_INVALID_ARG, "%s: chunk 0 accepted", model);
    TEST_CHECK(srt_codec_encode_stream_open(codec, pm, &s) == SRT_OK, "%s: open: %s", model, srt_last_error());
    srt_codes c;
    TEST_CHECK(srt_codec_encode_stream_finish(s, &c) == SRT_ERR_RANGE, "%s: empty stream finished", model);
    float one = 0.1f;
    TEST_CHECK(srt_codec_encode_stream_push(s, &one, 1, &c) == SRT_ERR_INVALID_ARG, "%s: push after finish", model);
    srt_codec_encode_stream_free(s);

    int64_t lengths[3] = {(sim ? 1 : 3) * (int64_t)info.sample_rate + 777, pm / 2 + 3, 2 * pm};
    for (int li = 0; li < 3; li++) {
        int64_t n = lengths[li];
        float *x = make_signal(info.sample_rate, n, 7 + (uint64_t)li);
        srt_codes whole, longc;
        const float *items[1] = {x};
        st = srt_codec_encode(codec, 1, items, &n, &whole, NULL, NULL);
        TEST_CHECK(st == SRT_OK, "%s whole encode: %s", model, srt_last_error());
        int64_t chunks[2] = {pm, 3 * pm + pm / 3};
        for (int k = sim ? 1 : 0; k < 2 && st == SRT_OK; k++) {
            char label[256];
            st = srt_codec_encode_long(codec, x, n, chunks[k], &longc);
            TEST_CHECK(st == SRT_OK, "%s encode_long: %s", model, srt_last_error());
            if (st != SRT_OK) break;
            snprintf(label, sizeof label, "%s/%s n=%lld chunk=%lld long", backend, model, (long long)n,
                     (long long)chunks[k]);
            TEST_CHECK(count_diff(&whole, &longc, label) == 0, "%s: codes differ from the whole encode", label);
            TEST_CHECK(longc.n_samples == n, "%s: n_samples %lld", label, (long long)longc.n_samples);
            for (int mode = k == 0 ? 2 : 0; mode < 3; mode++) {   /* one-pm chunks: random pieces only */
                srt_codes sc;
                snprintf(label, sizeof label, "%s/%s n=%lld chunk=%lld pieces mode %d", backend, model, (long long)n,
                         (long long)chunks[k], mode);
                srt_status s2 = stream_encode(codec, x, n, chunks[k], mode, &sc);
                TEST_CHECK(s2 == SRT_OK, "%s: %s", label, srt_last_error());
                if (s2 != SRT_OK) continue;
                TEST_CHECK(count_diff(&whole, &sc, label) == 0, "%s: codes differ from the whole encode", label);
                TEST_CHECK(count_diff(&longc, &sc, label) == 0, "%s: codes differ from encode_long", label);
                srt_codes_free(&sc);
            }
            srt_codes_free(&longc);
        }
        srt_codes_free(&whole);
        free(x);
    }
    srt_codec_free(codec);
}

int main(void) {
    TEST_FOR_EACH_BACKEND(be, "cpu") {
        run_model("tiny24", be);
        run_model("tiny44", be);
    }
    TEST_MAIN_END();
}
