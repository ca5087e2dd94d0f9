/* test_snac_decode_streamed.c: srt_codec_decode_streamed (the bounded-memory decode behind `snacrt decode` and
 * `detokenize`) gives exactly srt_codec_decode's samples (memcmp, not a tolerance: the command's output must not
 * change). tiny24 and tiny44 on the cpu backend: random codes (fixed seed) of 1, 5, 8 and 30 groups (tiny44: in
 * whole attention windows, the only lengths either decode accepts), pushed 1, 3 and 64
 * groups at a time, noise off and seed 7, alone and three items of different lengths together; items cut at
 * n_samples; a sink error stops the decode and is returned. */
#include "snacrt.h"
#include "testutil.h"

typedef struct collect {
    float *a[4];
    int64_t n[4];
    int calls, fail_at;
} collect;

static srt_status sink(void *user, int item, const float *x, int64_t n) {
    collect *c = user;
    if (c->fail_at && ++c->calls >= c->fail_at) return SRT_ERR_IO;
    float *p = realloc(c->a[item], sizeof(float) * (size_t)(c->n[item] + n));
    if (!p) return SRT_ERR_NOMEM;
    memcpy(p + c->n[item], x, sizeof(float) * (size_t)n);
    c->a[item] = p;
    c->n[item] += n;
    return SRT_OK;
}

static void random_codes(const srt_codec_info *I, int64_t groups, uint64_t seed, srt_codes *c) {
    memset(c, 0, sizeof *c);
    c->n_levels = I->n_levels;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 3;
    for (int l = 0; l < I->n_levels; l++) {
        c->n_frames[l] = groups * (I->vq_strides[0] / I->vq_strides[l]);
        c->codes[l] = malloc(sizeof(int32_t) * (size_t)(c->n_frames[l] ? c->n_frames[l] : 1));
        for (int64_t i = 0; i < c->n_frames[l]; i++) c->codes[l][i] = (int32_t)(test_rng_next(&s) % I->codebook_size);
    }
}

/* Decode items streamed and offline, compare bit for bit. */
static void compare(srt_codec *codec, const char *model, int n, srt_codes *codes, int64_t seed, int64_t chunk) {
    float *ref[4] = {0};
    int64_t nref[4] = {0};
    srt_status st = srt_codec_decode(codec, 1, &codes[0], seed, &ref[0], &nref[0]);
    for (int i = 1; i < n && st == SRT_OK; i++) st = srt_codec_decode(codec, 1, &codes[i], seed, &ref[i], &nref[i]);
    TEST_CHECK(st == SRT_OK, "%s offline: %s", model, srt_last_error());
    collect c = {0};
    st = srt_codec_decode_streamed(codec, n, codes, seed, chunk, sink, &c);
    TEST_CHECK(st == SRT_OK, "%s streamed: %s", model, srt_last_error());
    for (int i = 0; i < n && st == SRT_OK; i++) {
        int same = c.n[i] == nref[i] && (!nref[i] || !memcmp(c.a[i], ref[i], sizeof(float) * (size_t)nref[i]));
        TEST_CHECK(same, "%s item %d of %d (%lld groups, chunk %lld, seed %lld): %lld samples, offline %lld%s", model,
                   i, n, (long long)codes[i].n_frames[0], (long long)chunk, (long long)seed, (long long)c.n[i],
                   (long long)nref[i], c.n[i] == nref[i] ? ", different values" : "");
    }
    for (int i = 0; i < n; i++) { free(ref[i]); free(c.a[i]); }
}

static void run_model(const char *model) {
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "tests/data/snac/%s", model);
    test_src_path(rel, path, sizeof path);
    srt_codec *codec = NULL;
    srt_codec_options opts = {.backend = "cpu", .n_threads = 0};
    srt_status st = srt_codec_load(path, &opts, &codec);
    TEST_CHECK(st == SRT_OK, "load %s: %s", path, srt_last_error());
    if (st != SRT_OK) return;
    srt_codec_info I;
    srt_codec_get_info(codec, &I);
    int64_t unit = 1;   /* groups per attention window */
    if (I.attn_window) {
        int64_t a = I.attn_window, b = I.vq_strides[0];
        while (b) { int64_t t = a % b; a = b; b = t; }
        unit = I.attn_window / a;
    }
    int64_t lens[] = {1, 5, 8, 30};   /* in attention windows */
    for (int li = 0; li < 4; li++) {
        int64_t g = lens[li] * unit;
        srt_codes c;
        random_codes(&I, g, 11 + (uint64_t)li, &c);
        if (li == 2) c.n_samples = g * I.vq_strides[0] * I.hop_length - 1000;   /* a cut */
        int64_t chunks[] = {1, 3, 64};
        for (int k = 0; k < 3; k++) compare(codec, model, 1, &c, k == 1 ? 7 : -1, chunks[k]);
        srt_codes_free(&c);
    }
    srt_codes three[3];
    int64_t g3[3] = {9 * unit, 2 * unit, 33 * unit};
    for (int i = 0; i < 3; i++) random_codes(&I, g3[i], 40 + (uint64_t)i, &three[i]);
    three[1].n_samples = 100;
    compare(codec, model, 3, three, 7, 4);
    compare(codec, model, 3, three, -1, 64);
    /* the sink's error stops the decode */
    collect c = {.fail_at = 3};
    st = srt_codec_decode_streamed(codec, 3, three, -1, 2, sink, &c);
    TEST_CHECK(st == SRT_ERR_IO && c.calls == 3, "%s: sink error returned: %d after %d calls", model, (int)st,
               c.calls);
    for (int i = 0; i < 3; i++) { free(c.a[i]); srt_codes_free(&three[i]); }
    /* bad codes: a clear error before any audio */
    srt_codes bad;
    random_codes(&I, unit, 5, &bad);
    bad.codes[0][0] = I.codebook_size;
    collect cb = {0};
    st = srt_codec_decode_streamed(codec, 1, &bad, -1, 2, sink, &cb);
    TEST_CHECK(st != SRT_OK && cb.n[0] == 0, "%s: an out-of-range code is refused before any audio", model);
    free(cb.a[0]);
    srt_codes_free(&bad);
    srt_codec_free(codec);
}

int main(void) {
    run_model("tiny24");
    run_model("tiny44");
    TEST_MAIN_END();
}
