/* test_snac_chunked.c: srt_codec_encode_long (time-chunked encode) gives the same codes as srt_codec_encode of
 * the whole signal, for tests/data/snac/tiny24 and tiny44 on each backend of SNACRT_TEST_BACKENDS (default "cpu";
 * ctest's test_snac_chunked_cuda runs "cuda": the simulator in a cudasim build), with chunks of one pad_multiple,
 * a few pad_multiples, an unaligned size, and longer than the signal. Signals: 20 s of chirps plus noise (fixed
 * seed) and the golden s0 audio; on "cuda" (the simulator is slow) 1 s of the chirps only. Any code mismatch fails the test and is
 * printed. A backend without a device (SRT_ERR_NO_DEVICE) is reported as a skip. */
#include "snacrt.h"
#include "weights/weights.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sum of two chirps plus uniform noise, deterministic. */
static float *make_chirp_signal(int sample_rate, int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)n);
    float *noise = malloc(sizeof(float) * (size_t)n);
    if (!x || !noise) { free(x); free(noise); return NULL; }
    test_fill_uniform(noise, (size_t)n, 1234, -0.05f, 0.05f);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / sample_rate;
        /* chirp 1: 100 Hz rising 200 Hz/s, amplitude-modulated; chirp 2: 3 kHz falling 120 Hz/s */
        x[i] = (float)(0.4 * sin(2 * M_PI * (100.0 * t + 100.0 * t * t)) * (0.6 + 0.4 * sin(2 * M_PI * 0.5 * t)) +
                       0.2 * sin(2 * M_PI * (3000.0 * t - 60.0 * t * t))) + noise[i];
    }
    free(noise);
    return x;
}

static void compare_codes(const srt_codes *whole, const srt_codes *chunked, const char *label) {
    TEST_CHECK(whole->n_levels == chunked->n_levels, "%s: %d levels vs %d", label, chunked->n_levels, whole->n_levels);
    TEST_CHECK(whole->n_samples == chunked->n_samples, "%s: n_samples %lld vs %lld", label,
               (long long)chunked->n_samples, (long long)whole->n_samples);
    for (int l = 0; l < whole->n_levels && l < chunked->n_levels; l++) {
        TEST_CHECK(whole->n_frames[l] == chunked->n_frames[l], "%s level %d: %lld frames vs whole %lld", label, l,
                   (long long)chunked->n_frames[l], (long long)whole->n_frames[l]);
        if (whole->n_frames[l] != chunked->n_frames[l]) continue;
        int64_t bad = 0;
        for (int64_t i = 0; i < whole->n_frames[l]; i++)
            if (whole->codes[l][i] != chunked->codes[l][i] && bad++ < 5)
                fprintf(stderr, "  %s level %d frame %lld: chunked %d whole %d\n", label, l, (long long)i,
                        chunked->codes[l][i], whole->codes[l][i]);
        TEST_CHECK(bad == 0, "%s level %d: %lld of %lld codes differ", label, l, (long long)bad,
                   (long long)whole->n_frames[l]);
    }
}

static void check_signal(srt_codec *codec, const srt_codec_info *info, const float *audio, int64_t n,
                         const char *label) {
    srt_codes whole;
    srt_status st = srt_codec_encode(codec, 1, &audio, &n, &whole, NULL, NULL);
    TEST_CHECK(st == SRT_OK, "%s whole encode: %s", label, srt_last_error());
    if (st != SRT_OK) return;
    int64_t pm = info->pad_multiple;
    int64_t chunks[4] = {pm, 3 * pm, 5 * pm + pm / 3, n + 7 * pm};
    for (int k = 0; k < 4; k++) {
        char l2[256];
        snprintf(l2, sizeof l2, "%s chunk %lld", label, (long long)chunks[k]);
        srt_codes part;
        st = srt_codec_encode_long(codec, audio, n, chunks[k], &part);
        TEST_CHECK(st == SRT_OK, "%s: %s", l2, srt_last_error());
        if (st != SRT_OK) continue;
        compare_codes(&whole, &part, l2);
        srt_codes_free(&part);
    }
    srt_codes_free(&whole);
}

static void run_model(const char *model, const char *backend) {
    char path[1024], rel[256], label[256];
    snprintf(rel, sizeof rel, "tests/data/snac/%s", model);
    test_src_path(rel, path, sizeof path);
    srt_codec *codec = NULL;
    srt_codec_options opts = {.backend = backend, .n_threads = 1}; /* tiny models: one thread beats OpenMP barriers */
    srt_status st = srt_codec_load(path, &opts, &codec);
    if (st == SRT_ERR_NO_DEVICE) { printf("skip %s on %s: %s\n", model, backend, srt_last_error()); return; }
    TEST_CHECK(st == SRT_OK, "load %s on %s: %s", path, backend, srt_last_error());
    if (st != SRT_OK) return;
    int sim = !strncmp(backend, "cuda", 4);
    srt_codec_info info;
    srt_codec_get_info(codec, &info);

    /* invalid arguments are named */
    srt_codes bad;
    float one = 0.f;
    TEST_CHECK(srt_codec_encode_long(codec, &one, 1, 0, &bad) == SRT_ERR_INVALID_ARG, "%s: chunk 0 accepted", model);
    TEST_CHECK(srt_codec_encode_long(codec, &one, 0, 100, &bad) == SRT_ERR_RANGE, "%s: empty signal accepted", model);

    int64_t n = (sim ? 1 : 20) * (int64_t)info.sample_rate;
    float *chirp = make_chirp_signal(info.sample_rate, n);
    TEST_CHECK(chirp != NULL, "alloc");
    snprintf(label, sizeof label, "%s/%s/chirp%ds", backend, model, sim ? 1 : 20);
    if (chirp) check_signal(codec, &info, chirp, n, label);
    free(chirp);

    if (sim) { srt_codec_free(codec); return; }   /* the simulator: the chirp is enough */
    snprintf(rel, sizeof rel, "tests/data/snac/%s/golden.safetensors", model);
    test_src_path(rel, path, sizeof path);
    srt_weights *g = NULL;
    st = srt_weights_open_safetensors(path, &g);
    TEST_CHECK(st == SRT_OK, "open %s: %s", path, srt_last_error());
    if (st == SRT_OK) {
        const srt_tensor_view *a = srt_weights_find(g, "s0.audio");
        TEST_CHECK(a != NULL, "%s: s0.audio missing", path);
        snprintf(label, sizeof label, "%s/%s/golden-s0", backend, model);
        if (a) check_signal(codec, &info, (const float *)a->data, a->shape[2], label);
        srt_weights_free(g);
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
