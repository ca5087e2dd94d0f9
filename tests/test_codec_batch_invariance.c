/* test_codec_batch_invariance.c: batching never changes results, bit for bit. For tests/data/snac/tiny24 and
 * tiny44 on each backend in SNACRT_TEST_BACKENDS (default "cpu-ref,cpu"):
 *  - decode: random codes of 1, 3, 7 and 33 coarse frames (models with attention need whole windows: tiny44
 *    takes 4, 8, 12 and 36), each decoded alone (decoder noise on and off) and inside batches of 2, 5 and 16
 *    next to mates of other lengths; every item's audio must equal its audio alone (memcmp);
 *  - encode: random signals of several lengths, alone and in batches of 2, 5 and 16: codes, encoder latents and
 *    quantized latents must equal the item's own alone (memcmp);
 *  - threads (cpu backends): a codec with 1 thread gives the same bits as one with the default count.
 * cpu-ref (plain loops, ~300 s for everything in a release build) runs the batches of 2 and 5 only; the fast
 * backends, where batching could leak between items, run all three.
 * A mismatch prints the first differing sample and the largest difference. */
#include "snacrt.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

#define N_DEC_LENS 4
static const int dec_coarse[N_DEC_LENS] = {1, 3, 7, 33};
/* models whose coarse count must be a multiple of a unit > 1 (tiny44: 4) count 1, 2, 3 and 9 units instead */
static const int dec_units[N_DEC_LENS] = {1, 2, 3, 9};
/* batches: indices into dec_coarse; every batch mixes lengths */
static const int batch2[2] = {0, 3};
static const int batch5[5] = {2, 0, 3, 1, 0};
static const int batch16[16] = {3, 1, 0, 2, 2, 0, 3, 1, 1, 3, 0, 2, 0, 1, 3, 2};

/* Report whether got[0..n) equals ref bit for bit; print the first difference and the largest one. */
static int same_bits(const float *got, const float *ref, size_t n, const char *label) {
    if (memcmp(got, ref, n * sizeof(float)) == 0) return 1;
    size_t first = n, worst = 0;
    double maxd = -1;
    size_t n_diff = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &ref[i], sizeof(float)) == 0) continue;
        n_diff++;
        if (first == n) first = i;
        double d = fabs((double)got[i] - (double)ref[i]);
        if (d > maxd) { maxd = d; worst = i; }
    }
    fprintf(stderr, "  %s: %zu of %zu floats differ; first at %zu (%.9g vs %.9g), largest %.3g at %zu\n", label,
            n_diff, n, first, got[first], ref[first], maxd, worst);
    return 0;
}

/* Smallest valid step of the coarse code count: whole attention windows of latent frames. */
static int coarse_unit(const srt_codec_info *info) {
    if (info->attn_window && info->attn_window % info->vq_strides[0] == 0) return info->attn_window / info->vq_strides[0];
    return 1;
}

/* Coarse code count of decode length i. */
static int dec_length(const srt_codec_info *info, int i) {
    int unit = coarse_unit(info);
    return unit == 1 ? dec_coarse[i] : unit * dec_units[i];
}

static srt_codes random_codes(const srt_codec_info *info, int coarse, uint64_t seed) {
    srt_codes c;
    memset(&c, 0, sizeof c);
    c.n_levels = info->n_levels;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int l = 0; l < info->n_levels; l++) {
        c.n_frames[l] = (int64_t)coarse * info->vq_strides[0] / info->vq_strides[l];
        c.codes[l] = malloc(sizeof(int32_t) * (size_t)c.n_frames[l]);
        for (int64_t i = 0; i < c.n_frames[l]; i++) c.codes[l][i] = (int32_t)(test_rng_next(&s) % info->codebook_size);
    }
    return c;
}

/* Decode each length alone, then the batches; compare every item with its alone output. */
static void check_decode(srt_codec *codec, const srt_codec_info *info, int64_t seed, int n_sets, const char *tag) {
    srt_codes codes[N_DEC_LENS];
    float *alone[N_DEC_LENS] = {0};
    int64_t alone_n[N_DEC_LENS] = {0};
    char label[256];
    for (int i = 0; i < N_DEC_LENS; i++) {
        codes[i] = random_codes(info, dec_length(info, i), (uint64_t)(i + 1) * 77);
        srt_status st = srt_codec_decode(codec, 1, &codes[i], seed, &alone[i], &alone_n[i]);
        TEST_CHECK(st == SRT_OK, "%s decode alone %d: %s", tag, dec_length(info, i), srt_last_error());
    }
    const int *batches[3] = {batch2, batch5, batch16};
    const int sizes[3] = {2, 5, 16};
    for (int k = 0; k < n_sets; k++) {
        int B = sizes[k];
        srt_codes in[16];
        float *out[16] = {0};
        int64_t n_out[16] = {0};
        for (int b = 0; b < B; b++) in[b] = codes[batches[k][b]];
        srt_status st = srt_codec_decode(codec, B, in, seed, out, n_out);
        TEST_CHECK(st == SRT_OK, "%s decode batch %d: %s", tag, B, srt_last_error());
        for (int b = 0; b < B && st == SRT_OK; b++) {
            int i = batches[k][b];
            snprintf(label, sizeof label, "%s decode batch %d item %d (%d coarse frames)", tag, B, b, dec_length(info, i));
            TEST_CHECK(n_out[b] == alone_n[i], "%s: %lld samples, alone %lld", label, (long long)n_out[b],
                       (long long)alone_n[i]);
            if (n_out[b] == alone_n[i] && alone[i])
                TEST_CHECK(same_bits(out[b], alone[i], (size_t)n_out[b], label), "%s: differs from alone", label);
        }
        for (int b = 0; b < B; b++) free(out[b]);
    }
    for (int i = 0; i < N_DEC_LENS; i++) {
        free(alone[i]);
        srt_codes_free(&codes[i]);
    }
}

#define N_ENC_LENS 4
typedef struct enc_result {
    srt_codes codes;
    float *z, *zq;
} enc_result;

static void enc_result_free(enc_result *r) {
    srt_codes_free(&r->codes);
    free(r->z);
    free(r->zq);
    memset(r, 0, sizeof *r);
}

static void compare_enc(const srt_codec_info *info, const enc_result *got, const enc_result *ref, const char *label) {
    int ok = got->codes.n_levels == ref->codes.n_levels;
    for (int l = 0; ok && l < info->n_levels; l++) {
        ok = got->codes.n_frames[l] == ref->codes.n_frames[l] &&
             !memcmp(got->codes.codes[l], ref->codes.codes[l], sizeof(int32_t) * (size_t)ref->codes.n_frames[l]);
    }
    TEST_CHECK(ok, "%s: codes differ from alone", label);
    /* latents: (latent_dim, frames at the finest level) */
    size_t n = (size_t)info->latent_dim * (size_t)ref->codes.n_frames[info->n_levels - 1];
    char l2[300];
    snprintf(l2, sizeof l2, "%s latents", label);
    TEST_CHECK(same_bits(got->z, ref->z, n, l2), "%s: differ from alone", l2);
    snprintf(l2, sizeof l2, "%s quantized", label);
    TEST_CHECK(same_bits(got->zq, ref->zq, n, l2), "%s: differ from alone", l2);
}

static void check_encode(srt_codec *codec, const srt_codec_info *info, int n_sets, const char *tag) {
    const int64_t pm = info->pad_multiple;
    const int64_t lens[N_ENC_LENS] = {pm / 3 + 1, pm, 3 * pm + 17, 9 * pm - 5};
    float *audio[N_ENC_LENS];
    enc_result alone[N_ENC_LENS];
    memset(alone, 0, sizeof alone);
    char label[256];
    for (int i = 0; i < N_ENC_LENS; i++) {
        audio[i] = malloc(sizeof(float) * (size_t)lens[i]);
        test_fill_uniform(audio[i], (size_t)lens[i], 100 + i, -0.6f, 0.6f);
        const float *a = audio[i];
        srt_status st = srt_codec_encode(codec, 1, &a, &lens[i], &alone[i].codes, &alone[i].z, &alone[i].zq);
        TEST_CHECK(st == SRT_OK, "%s encode alone %lld: %s", tag, (long long)lens[i], srt_last_error());
    }
    const int *batches[3] = {batch2, batch5, batch16};
    const int sizes[3] = {2, 5, 16};
    for (int k = 0; k < n_sets; k++) {
        int B = sizes[k];
        const float *in[16];
        int64_t n[16];
        srt_codes codes[16];
        float *z[16] = {0}, *zq[16] = {0};
        for (int b = 0; b < B; b++) {
            in[b] = audio[batches[k][b]];
            n[b] = lens[batches[k][b]];
        }
        srt_status st = srt_codec_encode(codec, B, in, n, codes, z, zq);
        TEST_CHECK(st == SRT_OK, "%s encode batch %d: %s", tag, B, srt_last_error());
        for (int b = 0; b < B && st == SRT_OK; b++) {
            int i = batches[k][b];
            snprintf(label, sizeof label, "%s encode batch %d item %d (%lld samples)", tag, B, b, (long long)lens[i]);
            enc_result r = {codes[b], z[b], zq[b]};
            compare_enc(info, &r, &alone[i], label);
            enc_result_free(&r);
        }
    }
    for (int i = 0; i < N_ENC_LENS; i++) {
        enc_result_free(&alone[i]);
        free(audio[i]);
    }
}

/* The same decode and encode on a 1-thread codec and a default-threads codec. */
static void check_threads(srt_codec *one, srt_codec *many, const srt_codec_info *info, const char *tag) {
    srt_codes c = random_codes(info, dec_length(info, 2), 5);
    float *a1 = NULL, *a2 = NULL;
    int64_t n1 = 0, n2 = 0;
    char label[256];
    srt_status s1 = srt_codec_decode(one, 1, &c, 3, &a1, &n1), s2 = srt_codec_decode(many, 1, &c, 3, &a2, &n2);
    TEST_CHECK(s1 == SRT_OK && s2 == SRT_OK, "%s decode: %s", tag, srt_last_error());
    snprintf(label, sizeof label, "%s decode 1 thread vs default", tag);
    if (s1 == SRT_OK && s2 == SRT_OK)
        TEST_CHECK(n1 == n2 && same_bits(a2, a1, (size_t)n1, label), "%s: differs", label);
    free(a1);
    free(a2);
    srt_codes_free(&c);

    int64_t n = 5 * info->pad_multiple + 3;
    float *audio = malloc(sizeof(float) * (size_t)n);
    test_fill_uniform(audio, (size_t)n, 9, -0.5f, 0.5f);
    const float *ap = audio;
    enc_result r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    s1 = srt_codec_encode(one, 1, &ap, &n, &r1.codes, &r1.z, &r1.zq);
    s2 = srt_codec_encode(many, 1, &ap, &n, &r2.codes, &r2.z, &r2.zq);
    TEST_CHECK(s1 == SRT_OK && s2 == SRT_OK, "%s encode: %s", tag, srt_last_error());
    snprintf(label, sizeof label, "%s encode 1 thread vs default", tag);
    if (s1 == SRT_OK && s2 == SRT_OK) compare_enc(info, &r2, &r1, label);
    enc_result_free(&r1);
    enc_result_free(&r2);
    free(audio);
}

static void run(const char *model, const char *backend) {
    char rel[256], path[1024], tag[128];
    snprintf(rel, sizeof rel, "tests/data/snac/%s", model);
    test_src_path(rel, path, sizeof path);
    snprintf(tag, sizeof tag, "%s/%s", model, backend);
    srt_codec *codec = NULL;
    srt_codec_options opts = {.backend = backend, .n_threads = 0};
    srt_status st = srt_codec_load(path, &opts, &codec);
    TEST_CHECK(st == SRT_OK, "load %s on %s: %s", path, backend, srt_last_error());
    if (st != SRT_OK) return;
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    int n_sets = strcmp(backend, "cpu-ref") ? 3 : 2;   /* batch sets run: {2, 5, 16} or {2, 5} */
    check_decode(codec, &info, -1, n_sets, tag);
    char tag2[160];
    snprintf(tag2, sizeof tag2, "%s/noise", tag);
    check_decode(codec, &info, 12345, n_sets, tag2);
    check_encode(codec, &info, n_sets, tag);
    if (!strncmp(backend, "cpu", 3)) {
        srt_codec *one = NULL;
        srt_codec_options o1 = {.backend = backend, .n_threads = 1};
        st = srt_codec_load(path, &o1, &one);
        TEST_CHECK(st == SRT_OK, "load %s on %s (1 thread): %s", path, backend, srt_last_error());
        if (st == SRT_OK) check_threads(one, codec, &info, tag);
        srt_codec_free(one);
    }
    srt_codec_free(codec);
}

int main(void) {
    const char *models[] = {"tiny24", "tiny44"};
    TEST_FOR_EACH_BACKEND(be, "cpu-ref,cpu")
        for (int m = 0; m < 2; m++) run(models[m], be);
    TEST_MAIN_END();
}
