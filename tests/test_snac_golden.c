/* test_snac_golden.c: SNAC encode/decode against tensors computed by the official implementation
 * (tests/data/snac/tiny24, tiny44; see tests/data/GOLDEN.md), for both weight files (model.safetensors and
 * pytorch_model.bin), on each backend in SNACRT_TEST_BACKENDS (default "cpu-ref,cpu"), single and batched.
 * Tolerances (DESIGN.md): codes identical except where the reference's best-vs-second margin < 1e-5;
 * encoder latents, quantized latents and audio within 1e-4 absolute. */
#include "snacrt.h"
#include "weights/weights.h"
#include "testutil.h"
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define LATENT_ATOL 1e-4
#define AUDIO_ATOL 1e-4
#define MARGIN_EPS 1e-5

typedef struct golden { srt_weights *w; } golden;

/* A golden tensor; a missing one is a failure (the data set is incomplete), never a skipped comparison. */
static const srt_tensor_view *gt(const golden *g, const char *name) {
    const srt_tensor_view *t = srt_weights_find(g->w, name);
    TEST_CHECK(t != NULL, "golden tensor %s missing", name);
    return t;
}

/* Compare codes of one item (row `row` of the golden [B, T] tensors) at every level. */
static void check_codes(const golden *g, const char *sig, int row, const srt_codes *codes, int n_levels,
                        const char *label) {
    char name[128];
    for (int l = 0; l < n_levels; l++) {
        snprintf(name, sizeof name, "%s.codes.%d", sig, l);
        const srt_tensor_view *c = gt(g, name);
        snprintf(name, sizeof name, "%s.margin.%d", sig, l);
        const srt_tensor_view *mg = gt(g, name);
        if (!c || !mg) { TEST_CHECK(0, "%s: golden codes missing", label); return; }
        int64_t n = c->shape[1];
        TEST_CHECK(codes->n_frames[l] == n, "%s level %d: %lld frames, golden %lld", label, l,
                   (long long)codes->n_frames[l], (long long)n);
        if (codes->n_frames[l] != n) continue;
        const int32_t *ref = (const int32_t *)c->data + (size_t)row * n;
        const double *margin = (const double *)mg->data + (size_t)row * n;
        int bad = 0, tolerated = 0;
        for (int64_t i = 0; i < n; i++)
            if (codes->codes[l][i] != ref[i]) {
                if (margin[i] < MARGIN_EPS) tolerated++;
                else if (bad++ < 3)
                    fprintf(stderr, "  %s level %d frame %lld: got %d golden %d (margin %.3g)\n", label, l,
                            (long long)i, codes->codes[l][i], ref[i], margin[i]);
            }
        TEST_CHECK(bad == 0, "%s level %d: %d codes differ where the golden margin >= %g (%d tolerated)", label, l, bad,
                   MARGIN_EPS, tolerated);
    }
}

static void check_floats(const float *got, const float *ref, size_t n, double atol, const char *label) {
    size_t wi = 0;
    double maxerr = 0;
    double worst = test_compare(got, ref, n, atol, 0.0, &wi, &maxerr);
    TEST_CHECK(worst <= 0, "%s: max abs error %.3g (at %zu: got %g ref %g) > %g", label, maxerr, wi, got[wi], ref[wi], atol);
}

/* Golden codes of row `row` as an srt_codes (borrowing arrays: do not free). */
static srt_codes golden_codes(const golden *g, const char *sig, int row, int n_levels, int64_t n_samples) {
    srt_codes c;
    memset(&c, 0, sizeof c);
    c.n_levels = n_levels;
    c.n_samples = n_samples;
    char name[128];
    for (int l = 0; l < n_levels; l++) {
        snprintf(name, sizeof name, "%s.codes.%d", sig, l);
        const srt_tensor_view *t = gt(g, name);
        if (!t) continue;
        c.n_frames[l] = t->shape[1];
        c.codes[l] = (int32_t *)t->data + (size_t)row * t->shape[1];
    }
    return c;
}

static void run_model(const char *model, const char *weights_file, const char *backend) {
    char src[1024], dir[512], label[256];
    snprintf(dir, sizeof dir, "/tmp/snacrt-golden-XXXXXX");
    if (!mkdtemp(dir)) { TEST_CHECK(0, "mkdtemp"); return; }
    /* a folder holding only config.json and the chosen weights file */
    char link_cfg[600], link_w[600], target[400];
    snprintf(link_cfg, sizeof link_cfg, "%s/config.json", dir);
    snprintf(link_w, sizeof link_w, "%s/%s", dir, weights_file);
    snprintf(target, sizeof target, "tests/data/snac/%s/config.json", model);
    test_src_path(target, src, sizeof src);
    char abs[4096];
    TEST_CHECK(realpath(src, abs) != NULL, "realpath %s", src);
    TEST_CHECK(symlink(abs, link_cfg) == 0, "symlink %s", abs);
    snprintf(target, sizeof target, "tests/data/snac/%s/%s", model, weights_file);
    test_src_path(target, src, sizeof src);
    TEST_CHECK(realpath(src, abs) != NULL, "realpath %s", src);
    TEST_CHECK(symlink(abs, link_w) == 0, "symlink %s", abs);

    golden g = {0};
    snprintf(target, sizeof target, "tests/data/snac/%s/golden.safetensors", model);
    test_src_path(target, src, sizeof src);
    srt_status st = srt_weights_open_safetensors(src, &g.w);
    TEST_CHECK(st == SRT_OK, "open %s: %s", src, srt_last_error());
    srt_codec *codec = NULL;
    srt_codec_options opts = {.backend = backend, .n_threads = 0};
    st = srt_codec_load(dir, &opts, &codec);
    TEST_CHECK(st == SRT_OK, "load %s (%s) on %s: %s", model, weights_file, backend, srt_last_error());
    if (st != SRT_OK || !g.w) goto out;
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int L = info.n_levels;

    /* single signals: encode and decode alone */
    const char *sigs[2] = {"s0", "s1"};
    const float *audio[2];
    int64_t lens[2];
    for (int s = 0; s < 2; s++) {
        char name[128];
        snprintf(label, sizeof label, "%s/%s/%s/%s", model, weights_file, backend, sigs[s]);
        snprintf(name, sizeof name, "%s.audio", sigs[s]);
        const srt_tensor_view *a = gt(&g, name);
        if (!a) { TEST_CHECK(0, "missing %s", name); goto out; }
        audio[s] = a->data;
        lens[s] = a->shape[2];
        srt_codes codes;
        float *z = NULL, *zq = NULL;
        st = srt_codec_encode(codec, 1, &audio[s], &lens[s], &codes, &z, &zq);
        TEST_CHECK(st == SRT_OK, "%s encode: %s", label, srt_last_error());
        if (st != SRT_OK) continue;
        check_codes(&g, sigs[s], 0, &codes, L, label);
        snprintf(name, sizeof name, "%s.encoder.z", sigs[s]);
        const srt_tensor_view *gz = gt(&g, name);
        snprintf(name, sizeof name, "%s.quantizer.z_q", sigs[s]);
        const srt_tensor_view *gzq = gt(&g, name);
        char l2[300];
        snprintf(l2, sizeof l2, "%s encoder.z", label);
        if (gz && z) check_floats(z, gz->data, (size_t)(gz->shape[1] * gz->shape[2]), LATENT_ATOL, l2);
        TEST_CHECK(z != NULL && zq != NULL, "%s: encode returned no latents", label);
        snprintf(l2, sizeof l2, "%s quantizer.z_q", label);
        if (gzq && zq) check_floats(zq, gzq->data, (size_t)(gzq->shape[1] * gzq->shape[2]), LATENT_ATOL, l2);
        free(z); free(zq);
        srt_codes_free(&codes);

        /* decode the golden codes: full padded output, and cut to the signal length */
        srt_codes gc = golden_codes(&g, sigs[s], 0, L, 0);
        float *out = NULL;
        int64_t n_out = 0;
        st = srt_codec_decode(codec, 1, &gc, -1, &out, &n_out);
        TEST_CHECK(st == SRT_OK, "%s decode: %s", label, srt_last_error());
        snprintf(name, sizeof name, "%s.decoder.audio", sigs[s]);
        const srt_tensor_view *ga = gt(&g, name);
        if (st == SRT_OK && ga) {
            TEST_CHECK(n_out == ga->shape[2], "%s decode length %lld vs %lld", label, (long long)n_out, (long long)ga->shape[2]);
            snprintf(l2, sizeof l2, "%s decoder.audio", label);
            if (n_out == ga->shape[2]) check_floats(out, ga->data, (size_t)n_out, AUDIO_ATOL, l2);
        }
        free(out);
        gc.n_samples = lens[s];
        out = NULL;
        st = srt_codec_decode(codec, 1, &gc, -1, &out, &n_out);
        TEST_CHECK(st == SRT_OK, "%s decode cut to %lld samples: %s", label, (long long)lens[s], srt_last_error());
        snprintf(name, sizeof name, "%s.forward.audio", sigs[s]);
        const srt_tensor_view *gf = gt(&g, name);
        if (st == SRT_OK && gf) {
            TEST_CHECK(n_out == lens[s], "%s forward length %lld vs %lld", label, (long long)n_out, (long long)lens[s]);
            snprintf(l2, sizeof l2, "%s forward.audio", label);
            if (n_out == lens[s]) check_floats(out, gf->data, (size_t)n_out, AUDIO_ATOL, l2);
        }
        free(out);
    }

    /* batched, different lengths: s0 and s1 together must equal each alone */
    {
        srt_codes codes[2];
        snprintf(label, sizeof label, "%s/%s/%s/batch[s0,s1]", model, weights_file, backend);
        st = srt_codec_encode(codec, 2, audio, lens, codes, NULL, NULL);
        TEST_CHECK(st == SRT_OK, "%s encode: %s", label, srt_last_error());
        if (st == SRT_OK) {
            check_codes(&g, "s0", 0, &codes[0], L, label);
            check_codes(&g, "s1", 0, &codes[1], L, label);
            srt_codes_free(&codes[0]);
            srt_codes_free(&codes[1]);
        }
        srt_codes gc[2] = {golden_codes(&g, "s0", 0, L, 0), golden_codes(&g, "s1", 0, L, 0)};
        float *out[2] = {0};
        int64_t n_out[2] = {0};
        st = srt_codec_decode(codec, 2, gc, -1, out, n_out);
        TEST_CHECK(st == SRT_OK, "%s decode: %s", label, srt_last_error());
        for (int s = 0; s < 2 && st == SRT_OK; s++) {
            char name[128], l2[300];
            snprintf(name, sizeof name, "%s.decoder.audio", sigs[s]);
            const srt_tensor_view *ga = gt(&g, name);
            snprintf(l2, sizeof l2, "%s decode item %d", label, s);
            if (ga && n_out[s] == ga->shape[2]) check_floats(out[s], ga->data, (size_t)n_out[s], AUDIO_ATOL, l2);
            else TEST_CHECK(0, "%s: length %lld", l2, (long long)n_out[s]);
        }
        free(out[0]); free(out[1]);
    }
    /* the golden batch of two equal-length signals */
    {
        const srt_tensor_view *ba = gt(&g, "batch.audio");
        const srt_tensor_view *bd = gt(&g, "batch.decoder.audio");
        if (!ba || !bd) { TEST_CHECK(0, "golden batch missing"); goto out; }
        int64_t T = ba->shape[2];
        const float *items[2] = {(const float *)ba->data, (const float *)ba->data + T};
        int64_t bl[2] = {T, T};
        srt_codes codes[2];
        snprintf(label, sizeof label, "%s/%s/%s/golden-batch", model, weights_file, backend);
        st = srt_codec_encode(codec, 2, items, bl, codes, NULL, NULL);
        TEST_CHECK(st == SRT_OK, "%s encode: %s", label, srt_last_error());
        if (st == SRT_OK) {
            check_codes(&g, "batch", 0, &codes[0], L, label);
            check_codes(&g, "batch", 1, &codes[1], L, label);
            srt_codes_free(&codes[0]);
            srt_codes_free(&codes[1]);
        }
        srt_codes gc[2] = {golden_codes(&g, "batch", 0, L, 0), golden_codes(&g, "batch", 1, L, 0)};
        float *out[2] = {0};
        int64_t n_out[2] = {0};
        st = srt_codec_decode(codec, 2, gc, -1, out, n_out);
        TEST_CHECK(st == SRT_OK, "%s decode: %s", label, srt_last_error());
        int64_t Tp = bd->shape[2];
        for (int s = 0; s < 2 && st == SRT_OK; s++) {
            char l2[300];
            snprintf(l2, sizeof l2, "%s decode item %d", label, s);
            if (n_out[s] == Tp) check_floats(out[s], (const float *)bd->data + (size_t)s * Tp, (size_t)Tp, AUDIO_ATOL, l2);
            else TEST_CHECK(0, "%s: length %lld vs %lld", l2, (long long)n_out[s], (long long)Tp);
        }
        free(out[0]); free(out[1]);
    }
out:
    srt_codec_free(codec);
    srt_weights_free(g.w);
    unlink(link_cfg);
    unlink(link_w);
    rmdir(dir);
}

int main(void) {
    const char *models[] = {"tiny24", "tiny44"};
    const char *files[] = {"model.safetensors", "pytorch_model.bin"};
    TEST_FOR_EACH_BACKEND(be, "cpu-ref,cpu") {
        for (int m = 0; m < 2; m++)
            for (int f = 0; f < 2; f++) {
                /* the reference backend is slow: one weight format there is enough; formats are covered on cpu */
                if (!strcmp(be, "cpu-ref") && f == 1) continue;
                run_model(models[m], files[f], be);
            }
    }
    TEST_MAIN_END();
}
