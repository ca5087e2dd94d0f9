/* test_snac_stream.c: streaming SNAC decode (srt_codec_stream_*) equals the offline decode of the same codes.
 * For tests/data/snac/tiny24 and tiny44 on each backend of SNACRT_TEST_BACKENDS (default "cpu-ref,cpu"; cpu-ref
 * runs one short case): random codes (fixed seed) of 1, 2, 7 and 33 groups, pushed one group at a time, in random
 * chunks (with empty pushes) and all at once, ending on the last push or with a separate empty final push, noise
 * off and noise seed 5. Each stream's audio must have exactly n_groups * group_samples samples and be within 1e-5
 * (max abs; bit-identical with SNACRT_TEST_STREAM_EXACT=1, set for the simulated cuda device) of srt_codec_decode of all its codes (for tiny44 lengths that are not a whole attention window, of the
 * decoder run on the latent zero-padded to a whole window: the stream's documented end), and after g groups at
 * least (g - lookahead) groups of audio must be out. Five streams of different lengths pushed together with
 * different chunk patterns (and different noise seeds) must each get what they get alone. Errors (bad group shape, out-of-range code, push
 * after final, mixed codecs) change nothing. First audio (check_first_audio): after each of the first groups pushed
 * one at a time exactly the samples that do not depend on later codes are out (sample-granular, not whole groups),
 * found by an offline decode with the later latent frames NaN, and they equal the offline decode. Cost: a counting
 * wrapper around the backend's op table shows that 200 groups pushed one at a time cost < 2x the multiply-adds of
 * one offline decode of 200 groups (< 1.05x where the plan runs the conv stages unpadded: the cpu backend), that the
 * peak backend memory does not grow with the stream's length, and that
 * the pushes of the second half (equal, steady pushes) make no backend allocation at all (the push workspace is
 * kept by the stream) and copy only the new input frames of the stages that gather them (the others read them in
 * place) and each stage's kept frames at most once. */
#include "snacrt.h"
#include "snac/snac_model.h"
#include "snac/snac_stream.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>

#define ATOL 1e-5

static const char *g_backend = "cpu";
static double g_max_err;                  /* largest error seen against the offline decode, for the log */

/* ---------------------------------------------------------------- counting op table */
static const srt_backend_ops *g_real_ops;
static srt_backend_ops g_count_ops;
static double g_macs;                     /* multiply-adds of conv / transposed conv / gemm / attention */
static int64_t g_live_bytes, g_peak_bytes;
static int64_t g_alloc_calls;             /* backend allocations (alloc op calls) */
static double g_copy_floats;              /* floats moved by copy2d / copy2d_batch */
typedef struct { void *p; size_t n; } live_alloc;
static live_alloc g_allocs[4096];
static int g_n_allocs;

static srt_status cnt_alloc(void *ctx, size_t bytes, void **ptr) {
    srt_status st = g_real_ops->alloc(ctx, bytes, ptr);
    g_alloc_calls++;
    if (st == SRT_OK && g_n_allocs < 4096) {
        g_allocs[g_n_allocs++] = (live_alloc){*ptr, bytes};
        g_live_bytes += (int64_t)bytes;
        if (g_live_bytes > g_peak_bytes) g_peak_bytes = g_live_bytes;
    }
    return st;
}
static void cnt_free(void *ctx, void *ptr) {
    for (int i = 0; i < g_n_allocs; i++)
        if (g_allocs[i].p == ptr) {
            g_live_bytes -= (int64_t)g_allocs[i].n;
            g_allocs[i] = g_allocs[--g_n_allocs];
            break;
        }
    g_real_ops->free(ctx, ptr);
}
static srt_status cnt_conv1d(void *ctx, const srt_conv1d_args *a) {
    g_macs += (double)a->batch * a->out_ch * a->out_len * (a->in_ch / a->groups) * a->kernel;
    return g_real_ops->conv1d(ctx, a);
}
static srt_status cnt_convt(void *ctx, const srt_convt1d_args *a) {
    g_macs += (double)a->batch * a->in_ch * a->in_len * (a->out_ch / a->groups) * a->kernel;
    return g_real_ops->conv_transpose1d(ctx, a);
}
static srt_status cnt_gemm(void *ctx, const srt_gemm_args *a) {
    g_macs += (double)a->M * a->N * a->K;
    return g_real_ops->gemm(ctx, a);
}
static srt_status cnt_copy2d(void *ctx, const srt_copy2d_args *a) {
    g_copy_floats += (double)a->rows * a->cols;
    return g_real_ops->copy2d(ctx, a);
}
static srt_status cnt_copy2d_batch(void *ctx, const srt_copy2d_batch_args *a) {
    for (int i = 0; i < a->n; i++) g_copy_floats += (double)a->items[i].rows * a->items[i].cols;
    return g_real_ops->copy2d_batch(ctx, a);
}
static srt_status cnt_attn(void *ctx, const srt_local_attn_args *a) {
    g_macs += 2.0 * a->batch * a->len * a->window * a->heads * a->head_dim;
    return g_real_ops->local_attention(ctx, a);
}
static void counting_on(srt_codec *codec) {
    snac_model *m = srt_codec_model(codec);
    g_real_ops = m->be.ops;
    g_count_ops = *g_real_ops;
    g_count_ops.alloc = cnt_alloc;
    g_count_ops.free = cnt_free;
    g_count_ops.conv1d = cnt_conv1d;
    g_count_ops.conv_transpose1d = cnt_convt;
    g_count_ops.gemm = cnt_gemm;
    g_count_ops.local_attention = cnt_attn;
    g_count_ops.copy2d = g_real_ops->copy2d ? cnt_copy2d : NULL;
    g_count_ops.copy2d_batch = g_real_ops->copy2d_batch ? cnt_copy2d_batch : NULL;
    m->be.ops = &g_count_ops;
    g_macs = 0;
    g_live_bytes = g_peak_bytes = 0;
    g_n_allocs = 0;
}
static void counting_off(srt_codec *codec) { srt_codec_model(codec)->be.ops = g_real_ops; }

/* ---------------------------------------------------------------- codes and references */
static void random_codes(const srt_codec_info *I, int64_t n_groups, uint64_t seed, srt_codes *c) {
    memset(c, 0, sizeof *c);
    c->n_levels = I->n_levels;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 17;
    for (int l = 0; l < I->n_levels; l++) {
        c->n_frames[l] = n_groups * (I->vq_strides[0] / I->vq_strides[l]);
        c->codes[l] = malloc(sizeof(int32_t) * (size_t)(c->n_frames[l] + 1));
        for (int64_t i = 0; i < c->n_frames[l]; i++) c->codes[l][i] = (int32_t)(test_rng_next(&s) % I->codebook_size);
    }
}

/* Codes of groups [g0, g0 + n) as a chunk (pointers into `all`, not owned). */
static srt_codes chunk_of(const srt_codec_info *I, const srt_codes *all, int64_t g0, int64_t n) {
    srt_codes k;
    memset(&k, 0, sizeof k);
    k.n_levels = I->n_levels;
    for (int l = 0; l < I->n_levels; l++) {
        int64_t per = I->vq_strides[0] / I->vq_strides[l];
        k.n_frames[l] = n * per;
        k.codes[l] = all->codes[l] + g0 * per;
    }
    return k;
}

/* Offline audio of all codes: srt_codec_decode when the codes are a whole number of attention windows, else the
 * decoder on the latent zero-padded to a whole window, cut to n_groups * group_samples. nan_from >= 0: latent
 * frames from there on are NaN (the decoder run directly), so exactly the samples that depend on them are NaN. */
static float *offline_decode_nan(srt_codec *codec, const srt_codec_info *I, const srt_codes *codes, int64_t seed,
                                 int64_t nan_from, int64_t *n) {
    int64_t L = codes->n_frames[0] * I->vq_strides[0];
    float *audio = NULL;
    *n = 0;
    if (nan_from < 0 && (!I->attn_window || L % I->attn_window == 0)) {
        srt_status st = srt_codec_decode(codec, 1, codes, seed, &audio, n);
        TEST_CHECK(st == SRT_OK, "offline decode: %s", srt_last_error());
        return audio;
    }
    snac_model *m = srt_codec_model(codec);
    const srt_backend_ops *ops = m->be.ops;
    int64_t T = I->attn_window ? (L + I->attn_window - 1) / I->attn_window * I->attn_window : L;
    int32_t *d_codes[8] = {0};
    float *zq = NULL, *d_audio = NULL, *zq_host = NULL, *zp_host = NULL, *zp = NULL;
    srt_status st = SRT_OK;
    for (int l = 0; l < I->n_levels && st == SRT_OK; l++)
        st = srt_backend_alloc_upload(&m->be, codes->codes[l], sizeof(int32_t) * (size_t)codes->n_frames[l],
                                      (void **)&d_codes[l]);
    if (st == SRT_OK) st = ops->alloc(m->be.ctx, sizeof(float) * (size_t)(I->latent_dim * L), (void **)&zq);
    if (st == SRT_OK) st = snac_dequantize(m, 1, (int)L, d_codes, zq);
    zq_host = malloc(sizeof(float) * (size_t)(I->latent_dim * L));
    zp_host = calloc((size_t)(I->latent_dim * T), sizeof(float));
    if (st == SRT_OK) st = ops->download(m->be.ctx, zq_host, zq, sizeof(float) * (size_t)(I->latent_dim * L));
    for (int d = 0; d < I->latent_dim && st == SRT_OK; d++)
        memcpy(zp_host + d * T, zq_host + d * L, sizeof(float) * (size_t)L);
    for (int d = 0; d < I->latent_dim && st == SRT_OK && nan_from >= 0; d++)
        for (int64_t t = nan_from; t < L; t++) zp_host[d * T + t] = NAN;
    if (st == SRT_OK)
        st = srt_backend_alloc_upload(&m->be, zp_host, sizeof(float) * (size_t)(I->latent_dim * T), (void **)&zp);
    if (st == SRT_OK) st = ops->alloc(m->be.ctx, sizeof(float) * (size_t)(T * I->hop_length), (void **)&d_audio);
    int valid = (int)T;
    if (st == SRT_OK) st = snac_decoder_forward(m, 1, (int)T, &valid, zp, seed, d_audio);
    if (st == SRT_OK) {
        audio = malloc(sizeof(float) * (size_t)(T * I->hop_length));
        st = ops->download(m->be.ctx, audio, d_audio, sizeof(float) * (size_t)(T * I->hop_length));
        *n = L * I->hop_length;
    }
    TEST_CHECK(st == SRT_OK, "padded offline decode: %s", srt_last_error());
    for (int l = 0; l < I->n_levels; l++) if (d_codes[l]) ops->free(m->be.ctx, d_codes[l]);
    if (zq) ops->free(m->be.ctx, zq);
    if (zp) ops->free(m->be.ctx, zp);
    if (d_audio) ops->free(m->be.ctx, d_audio);
    free(zq_host); free(zp_host);
    return audio;
}
static float *offline_decode(srt_codec *codec, const srt_codec_info *I, const srt_codes *codes, int64_t seed,
                             int64_t *n) {
    return offline_decode_nan(codec, I, codes, seed, -1, n);
}

/* ---------------------------------------------------------------- chunk patterns */
enum { PAT_ONE = 0, PAT_RANDOM, PAT_ALL };
static const char *PAT_NAMES[] = {"one-at-a-time", "random", "all-at-once"};

/* Group counts of each push for a pattern; the last entry is an empty push when final_separate. */
static int make_pattern(int pat, int64_t n_groups, int final_separate, uint64_t seed, int64_t *sizes, int cap) {
    int k = 0;
    int64_t left = n_groups;
    uint64_t s = seed * 7919 + 3;
    while (left > 0 && k < cap - 2) {
        int64_t g = pat == PAT_ONE ? 1 : pat == PAT_ALL ? left : (int64_t)(test_rng_next(&s) % 6);  /* 0..5 */
        if (g > left) g = left;
        sizes[k++] = g;
        left -= g;
    }
    if (left > 0) sizes[k++] = left;
    if (final_separate || k == 0) sizes[k++] = 0;
    return k;
}

/* A stream's run: all pushes' audio concatenated and the per-push sample counts. */
typedef struct run_result {
    float *audio;
    int64_t n;
    int64_t counts[512];
    int n_pushes;
    int ok;
} run_result;

static void run_append(run_result *r, const float *a, int64_t n) {
    r->counts[r->n_pushes++] = n;
    if (!n) return;
    r->audio = realloc(r->audio, sizeof(float) * (size_t)(r->n + n));
    memcpy(r->audio + r->n, a, sizeof(float) * (size_t)n);
    r->n += n;
}

/* Push `codes` to a new stream with the given chunk sizes; checks the delay bound after each push. */
static run_result stream_alone(srt_codec *codec, const srt_codec_info *I, const srt_codes *codes, int64_t seed,
                               const int64_t *sizes, int n_pushes, const char *label) {
    run_result r;
    memset(&r, 0, sizeof r);
    srt_codec_stream *s = NULL;
    srt_status st = srt_codec_stream_open(codec, seed, &s);
    TEST_CHECK(st == SRT_OK, "%s: open: %s", label, srt_last_error());
    if (st != SRT_OK) return r;
    int la = srt_codec_stream_lookahead(s);
    int64_t gs = srt_codec_stream_group_samples(s), g0 = 0;
    r.ok = 1;
    for (int p = 0; p < n_pushes; p++) {
        srt_codes k = chunk_of(I, codes, g0, sizes[p]);
        int fin = p == n_pushes - 1;
        float *a = NULL;
        int64_t n = -1;
        st = srt_codec_stream_push(1, &s, &k, &fin, &a, &n);
        TEST_CHECK(st == SRT_OK, "%s: push %d: %s", label, p, srt_last_error());
        if (st != SRT_OK) { r.ok = 0; break; }
        TEST_CHECK((n == 0) == (a == NULL), "%s: push %d: %lld samples but audio %p", label, p, (long long)n, (void *)a);
        run_append(&r, a, n);
        free(a);
        g0 += sizes[p];
        if (!fin) {
            TEST_CHECK(r.n >= (g0 - la) * gs && r.n <= g0 * gs, "%s: after %lld groups %lld samples are out "
                       "(lookahead %d: expected %lld..%lld)", label, (long long)g0, (long long)r.n, la,
                       (long long)((g0 - la) * gs), (long long)(g0 * gs));
        }
    }
    srt_codec_stream_free(s);
    return r;
}

static void check_against(const run_result *r, const float *ref, int64_t n_ref, const char *label) {
    TEST_CHECK(r->n == n_ref, "%s: streamed %lld samples, offline %lld", label, (long long)r->n, (long long)n_ref);
    if (r->n != n_ref || !ref) return;
    size_t wi = 0;
    double maxerr = 0;
    /* SNACRT_TEST_STREAM_EXACT=1 (the simulated cuda device, fp32): bit-identical */
    const char *ex = getenv("SNACRT_TEST_STREAM_EXACT");
    double atol = ex && !strcmp(ex, "1") ? 0.0 : ATOL;
    double worst = test_compare(r->audio, ref, (size_t)n_ref, atol, 0.0, &wi, &maxerr);
    if (maxerr > g_max_err) g_max_err = maxerr;
    if (atol == 0.0 && maxerr == 0.0)   /* exact: also -0 vs +0 and NaN payloads */
        for (size_t i = 0; i < (size_t)n_ref; i++)
            if (memcmp(&r->audio[i], &ref[i], sizeof(float))) { worst = 1; wi = i; break; }
    TEST_CHECK(worst <= 0, "%s: max abs error %.3g at sample %zu (stream %g offline %g) > %g", label, maxerr, wi,
               r->audio[wi], ref[wi], atol);
}

/* ---------------------------------------------------------------- cases */
static void check_lengths(srt_codec *codec, const srt_codec_info *I, const char *model, int quick) {
    static const int64_t lengths[] = {1, 2, 7, 33};
    static const int64_t seeds[] = {-1, 5};
    for (int li = 0; li < 4; li++) {
        if (quick && lengths[li] != 7 && lengths[li] != 2) continue;
        srt_codes codes;
        random_codes(I, lengths[li], 100 + (uint64_t)li, &codes);
        for (int si = 0; si < 2; si++) {
            int64_t n_ref = 0;
            float *ref = offline_decode(codec, I, &codes, seeds[si], &n_ref);
            TEST_CHECK(n_ref == lengths[li] * I->hop_length * I->vq_strides[0], "%s: offline length %lld", model,
                       (long long)n_ref);
            for (int pat = 0; pat < 3; pat++)
                for (int sep = 0; sep < 2; sep++) {
                    if (quick && (sep || (pat == PAT_RANDOM))) continue;
                    int64_t sizes[512];
                    int np = make_pattern(pat, lengths[li], sep, 11 + (uint64_t)li, sizes, 512);
                    char label[256];
                    snprintf(label, sizeof label, "%s/%s %lld groups %s%s noise %lld", g_backend, model,
                             (long long)lengths[li], PAT_NAMES[pat], sep ? " + empty final" : "", (long long)seeds[si]);
                    run_result r = stream_alone(codec, I, &codes, seeds[si], sizes, np, label);
                    if (r.ok) check_against(&r, ref, n_ref, label);
                    free(r.audio);
                }
            free(ref);
        }
        srt_codes_free(&codes);
    }
}

/* Sample-granular first audio. After g groups pushed one at a time (no final push) the stream must have emitted
 * exactly the samples that do not depend on any later code, found here without the stream's plan: the decoder run
 * offline on the latent of lookahead + 2 groups with every frame after the first g groups set to NaN, which
 * reaches exactly the samples that read those frames (NaN survives every op of the decoder: 0 x NaN, tanh and
 * softmax included, where a changed code can be absorbed by rounding or by tanh at +-1). So the first audio comes
 * at push srt_codec_stream_first_audio_groups (the first g with such a sample), and every early sample equals the
 * offline decode of all the codes (bit for bit with SNACRT_TEST_STREAM_EXACT=1). */
static void check_first_audio(srt_codec *codec, const srt_codec_info *I, const char *model) {
    srt_codec_stream *s = NULL;
    srt_status st = srt_codec_stream_open(codec, 5, &s);
    TEST_CHECK(st == SRT_OK, "%s: open: %s", model, srt_last_error());
    if (st != SRT_OK) return;
    const int la = srt_codec_stream_lookahead(s), fa = srt_codec_stream_first_audio_groups(s);
    const int64_t gs = srt_codec_stream_group_samples(s), G = la + 1, T = 1;   /* pushes; groups after them */
    TEST_CHECK(fa >= 1 && fa <= la + 1, "%s: first audio after %d groups (lookahead %d)", model, fa, la);
    srt_codes all;
    random_codes(I, G + T, 41, &all);
    int64_t n_ref = 0;
    float *ref = offline_decode(codec, I, &all, 5, &n_ref);
    run_result r;
    memset(&r, 0, sizeof r);
    int first = 0;   /* the push that first emitted audio */
    for (int64_t g = 1; g <= G && ref; g++) {
        int64_t na = 0, d = 0;
        float *da = offline_decode_nan(codec, I, &all, 5, g * I->vq_strides[0], &na);
        while (da && d < na && isfinite(da[d])) d++;
        free(da);
        srt_codes k = chunk_of(I, &all, g - 1, 1);
        int fin = 0;
        float *a = NULL;
        int64_t n = 0;
        st = srt_codec_stream_push(1, &s, &k, &fin, &a, &n);
        TEST_CHECK(st == SRT_OK, "%s: push %lld: %s", model, (long long)g, srt_last_error());
        if (st != SRT_OK) break;
        run_append(&r, a, n);
        free(a);
        if (!first && r.n > 0) first = (int)g;
        TEST_CHECK(r.n == d, "%s: after %lld groups %lld samples are out, %lld do not depend on later codes", model,
                   (long long)g, (long long)r.n, (long long)d);
        if (g == fa) printf("%s on %s: first audio after %d groups (lookahead %d): %lld of %lld samples final\n",
                            model, g_backend, fa, la, (long long)d, (long long)(g * gs));
    }
    TEST_CHECK(first == fa, "%s: the first audio came after %d groups, the stream reports %d", model, first, fa);
    if (ref && r.n > 0 && r.n <= n_ref) {   /* the early samples are the offline decode's */
        char label[128];
        snprintf(label, sizeof label, "%s/%s first %lld samples of %lld groups", g_backend, model, (long long)r.n,
                 (long long)G);
        check_against(&r, ref, r.n, label);
    }
    free(ref);
    free(r.audio);
    srt_codes_free(&all);
    srt_codec_stream_free(s);
}

/* Five streams of different lengths pushed together, each with its own chunk pattern. */
static void check_batched(srt_codec *codec, const srt_codec_info *I, const char *model, int64_t seed) {
    enum { NS = 5 };
    static const int64_t lengths[NS] = {7, 1, 33, 2, 12};
    static const int pats[NS] = {PAT_RANDOM, PAT_ONE, PAT_RANDOM, PAT_ALL, PAT_ONE};
    srt_codes codes[NS];
    int64_t sizes[NS][512];
    int np[NS], max_np = 0;
    run_result alone[NS], batched[NS];
    srt_codec_stream *s[NS];
    char label[256];
    memset(batched, 0, sizeof batched);
    /* with noise, stream 1 has none and stream 3 another seed: each stream's own noise in one batched call */
    int64_t seeds[NS];
    for (int i = 0; i < NS; i++) seeds[i] = seed < 0 ? seed : i == 1 ? -1 : i == 3 ? seed + 1 : seed;
    for (int i = 0; i < NS; i++) {
        random_codes(I, lengths[i], 300 + (uint64_t)i, &codes[i]);
        np[i] = make_pattern(pats[i], lengths[i], i == 1, 40 + (uint64_t)i, sizes[i], 512);
        if (np[i] > max_np) max_np = np[i];
        snprintf(label, sizeof label, "%s/%s batched stream %d alone noise %lld", g_backend, model, i,
                 (long long)seeds[i]);
        alone[i] = stream_alone(codec, I, &codes[i], seeds[i], sizes[i], np[i], label);
        TEST_CHECK(srt_codec_stream_open(codec, seeds[i], &s[i]) == SRT_OK, "open: %s", srt_last_error());
        batched[i].ok = 1;
    }
    /* push p: every stream that still has pushes takes part; streams already ended sit out */
    int64_t g0[NS] = {0};
    for (int p = 0; p < max_np; p++) {
        srt_codec_stream *ss[NS];
        srt_codes ks[NS];
        int fin[NS], idx[NS], n = 0;
        for (int i = 0; i < NS; i++) {
            if (p >= np[i]) continue;
            ss[n] = s[i];
            ks[n] = chunk_of(I, &codes[i], g0[i], sizes[i][p]);
            fin[n] = p == np[i] - 1;
            idx[n++] = i;
        }
        float *a[NS];
        int64_t cnt[NS];
        srt_status st = srt_codec_stream_push(n, ss, ks, fin, a, cnt);
        TEST_CHECK(st == SRT_OK, "%s/%s batched push %d: %s", g_backend, model, p, srt_last_error());
        if (st != SRT_OK) break;
        for (int j = 0; j < n; j++) {
            run_append(&batched[idx[j]], a[j], cnt[j]);
            free(a[j]);
            g0[idx[j]] += sizes[idx[j]][p];
        }
    }
    for (int i = 0; i < NS; i++) {
        snprintf(label, sizeof label, "%s/%s batched stream %d (%lld groups) noise %lld", g_backend, model, i,
                 (long long)lengths[i], (long long)seeds[i]);
        TEST_CHECK(batched[i].n_pushes == alone[i].n_pushes, "%s: %d pushes, alone %d", label, batched[i].n_pushes,
                   alone[i].n_pushes);
        int same_counts = batched[i].n_pushes == alone[i].n_pushes &&
                          !memcmp(batched[i].counts, alone[i].counts, sizeof(int64_t) * (size_t)alone[i].n_pushes);
        TEST_CHECK(same_counts, "%s: per-push sample counts differ from the stream alone", label);
        check_against(&batched[i], alone[i].audio, alone[i].n, label);
        int64_t n_ref = 0;
        float *ref = offline_decode(codec, I, &codes[i], seeds[i], &n_ref);
        check_against(&batched[i], ref, n_ref, label);
        free(ref);
        free(alone[i].audio);
        free(batched[i].audio);
        srt_codec_stream_free(s[i]);
        srt_codes_free(&codes[i]);
    }
}

static void check_errors(srt_codec *codec, srt_codec *other, const srt_codec_info *I, const char *model) {
    srt_codes codes;
    random_codes(I, 6, 77, &codes);
    int64_t n_ref = 0;
    float *ref = offline_decode(codec, I, &codes, 5, &n_ref);
    srt_codec_stream *s = NULL, *s2 = NULL, *t = NULL;
    TEST_CHECK(srt_codec_stream_open(codec, 5, &s) == SRT_OK, "open");
    TEST_CHECK(srt_codec_stream_open(codec, 5, &s2) == SRT_OK, "open");
    TEST_CHECK(srt_codec_stream_open(other, 5, &t) == SRT_OK, "open other");
    run_result r;
    memset(&r, 0, sizeof r);
    float *a[2];
    int64_t n[2];
    int fin[2] = {0, 0};
    srt_codes k = chunk_of(I, &codes, 0, 2);
    srt_status st = srt_codec_stream_push(1, &s, &k, fin, a, n);
    TEST_CHECK(st == SRT_OK, "%s errors: first push: %s", model, srt_last_error());
    run_append(&r, a[0], n[0]);
    free(a[0]);
    /* wrong group shape: level 1 one code short */
    srt_codes bad = chunk_of(I, &codes, 2, 2);
    bad.n_frames[1] -= 1;
    srt_codec_stream *pair[2] = {s2, s};
    srt_codes pk[2] = {chunk_of(I, &codes, 0, 1), bad};
    st = srt_codec_stream_push(2, pair, pk, fin, a, n);
    TEST_CHECK(st == SRT_ERR_FORMAT, "%s: bad group shape gave %s", model, srt_status_name(st));
    TEST_CHECK(a[0] == NULL && n[0] == 0 && a[1] == NULL && n[1] == 0, "%s: outputs set on error", model);
    /* out-of-range code */
    srt_codes big = chunk_of(I, &codes, 2, 2);
    int32_t saved = big.codes[I->n_levels - 1][1];
    big.codes[I->n_levels - 1][1] = I->codebook_size;
    st = srt_codec_stream_push(1, &s, &big, fin, a, n);
    TEST_CHECK(st == SRT_ERR_RANGE, "%s: out-of-range code gave %s", model, srt_status_name(st));
    big.codes[I->n_levels - 1][1] = -1;
    st = srt_codec_stream_push(1, &s, &big, fin, a, n);
    TEST_CHECK(st == SRT_ERR_RANGE, "%s: negative code gave %s", model, srt_status_name(st));
    big.codes[I->n_levels - 1][1] = saved;
    /* wrong level count */
    srt_codes lv = chunk_of(I, &codes, 2, 2);
    lv.n_levels = I->n_levels - 1;
    TEST_CHECK(srt_codec_stream_push(1, &s, &lv, fin, a, n) == SRT_ERR_FORMAT, "%s: wrong level count accepted", model);
    /* mixing codecs */
    srt_codec_stream *mix[2] = {s, t};
    srt_codes mk[2] = {chunk_of(I, &codes, 2, 1), chunk_of(I, &codes, 0, 1)};
    st = srt_codec_stream_push(2, mix, mk, fin, a, n);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG, "%s: mixed codecs gave %s", model, srt_status_name(st));
    /* the same stream twice in one push */
    srt_codec_stream *twice[2] = {s, s};
    st = srt_codec_stream_push(2, twice, mk, fin, a, n);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG, "%s: a stream twice gave %s", model, srt_status_name(st));
    /* nothing changed: the rest of the stream still decodes exactly */
    k = chunk_of(I, &codes, 2, 4);
    fin[0] = 1;
    st = srt_codec_stream_push(1, &s, &k, fin, a, n);
    TEST_CHECK(st == SRT_OK, "%s errors: last push: %s", model, srt_last_error());
    if (st == SRT_OK) { run_append(&r, a[0], n[0]); free(a[0]); }
    char label[128];
    snprintf(label, sizeof label, "%s/%s after rejected pushes", g_backend, model);
    check_against(&r, ref, n_ref, label);
    /* push after final (also an empty one) */
    k = chunk_of(I, &codes, 0, 1);
    TEST_CHECK(srt_codec_stream_push(1, &s, &k, fin, a, n) == SRT_ERR_INVALID_ARG, "%s: push after final", model);
    k = chunk_of(I, &codes, 0, 0);
    fin[0] = 0;
    TEST_CHECK(srt_codec_stream_push(1, &s, &k, fin, a, n) == SRT_ERR_INVALID_ARG, "%s: empty push after final", model);
    TEST_CHECK(srt_codec_stream_push(0, &s, &k, fin, a, n) == SRT_ERR_INVALID_ARG, "%s: n = 0 accepted", model);
    /* an empty stream ended at once gives no audio */
    fin[0] = 1;
    st = srt_codec_stream_push(1, &s2, &k, fin, a, n);
    TEST_CHECK(st == SRT_OK && n[0] == 0 && a[0] == NULL, "%s: empty final stream: %s %lld", model,
               srt_status_name(st), (long long)n[0]);
    free(r.audio);
    free(ref);
    srt_codec_stream_free(s);
    srt_codec_stream_free(s2);
    srt_codec_stream_free(t);
    srt_codes_free(&codes);
}

/* Streaming 1 group at a time must cost about one offline decode, and its memory must not grow with length. */
static void check_cost(srt_codec *codec, const srt_codec_info *I, const char *model) {
    const int64_t N = 200;
    srt_codes codes;
    random_codes(I, N, 999, &codes);
    counting_on(codec);
    float *a = NULL;
    int64_t n = 0;
    srt_status st = srt_codec_decode(codec, 1, &codes, 5, &a, &n);
    TEST_CHECK(st == SRT_OK, "%s cost: offline: %s", model, srt_last_error());
    free(a);
    double offline = g_macs;
    int64_t peak[2] = {0, 0}, steady_allocs = 0, steady_pushes = 0;
    double steady_copies = 0;
    double macs[2] = {0, 0};
    const int64_t lens[2] = {50, N};
    for (int v = 0; v < 2; v++) {
        g_macs = 0;
        srt_codec_stream *s = NULL;
        TEST_CHECK(srt_codec_stream_open(codec, 5, &s) == SRT_OK, "open");
        int64_t base = g_live_bytes;
        g_peak_bytes = g_live_bytes;
        for (int64_t g = 0; g < lens[v]; g++) {
            srt_codes k = chunk_of(I, &codes, g, 1);
            int fin = g == lens[v] - 1;
            int64_t calls0 = g_alloc_calls;
            double copies0 = g_copy_floats;
            st = srt_codec_stream_push(1, &s, &k, &fin, &a, &n);
            if (st != SRT_OK) break;
            if (v == 1 && g >= lens[v] / 2 && !fin) {
                steady_allocs += g_alloc_calls - calls0;
                steady_copies += g_copy_floats - copies0;
                steady_pushes++;
            }
            free(a);
        }
        TEST_CHECK(st == SRT_OK, "%s cost: push: %s", model, srt_last_error());
        srt_codec_stream_free(s);
        macs[v] = g_macs;
        peak[v] = g_peak_bytes - base;
    }
    counting_off(codec);
    printf("%s/%s cost: offline %lld groups %.4g MAC, streamed 1 group/push %.4g MAC (x%.3f); peak backend memory "
           "%lld bytes at %lld groups, %lld at %lld\n", g_backend, model, (long long)N, offline, macs[1],
           macs[1] / offline, (long long)peak[0], (long long)lens[0], (long long)peak[1], (long long)N);
    TEST_CHECK(macs[1] < 2.0 * offline, "%s: streaming %lld groups one at a time costs %.4g MAC, offline %.4g (x%.2f)",
               model, (long long)N, macs[1], offline, macs[1] / offline);
    /* block copies: a push lays the streams' frames side by side and runs the stages in place
     * (snac_stream_exec.c); only a gathering stage (snac_stream_plan.gather) copies its new input frames into its
     * layout, every stage copies at most its kept frames into its window and into the spare state block: per group
     * at most sum over stages of in_ch * ((gathering ? input frames per group : 0) + 2 hist_cap) floats. A copy of
     * the new frames of a stage that reads them in place (e.g. a residual unit's input, or its residual) exceeds
     * the bound. */
    snac_stream_plan plan;
    const snac_model *mm = srt_codec_model(codec);
    TEST_CHECK(snac_stream_plan_make(mm, &plan) == SRT_OK, "plan: %s", srt_last_error());
    /* on a backend whose plan runs the conv stages unpadded (snac_stream_plan.valid: host memory, the cpu
     * backend) a push computes only its windows' outputs: streaming costs at most 5% more multiply-adds than
     * offline (tiny24: x1.025; same-padded rows cost x1.09 with every stage gathering, x1.32 as on a device) */
    int unpadded = 0;
    for (int k = 0; k < plan.n_stages; k++) unpadded |= plan.valid[k];
    TEST_CHECK(!unpadded || macs[1] < 1.05 * offline, "%s: unpadded plan: streaming %lld groups one at a time costs "
               "%.4g MAC, more than 1.05x offline %.4g (x%.3f)", model, (long long)N, macs[1], offline,
               macs[1] / offline);
    double bound = 0, frames = I->vq_strides[0];
    for (int k = 0; k < plan.n_stages; k++) {
        bound += (double)plan.st[k].in_ch * ((plan.gather[k] ? frames : 0.0) + 2.0 * plan.st[k].hist_cap);
        if (plan.st[k].kind == SNAC_STAGE_UP) frames *= plan.st[k].stride;
    }
    double per_push = steady_pushes ? steady_copies / steady_pushes : 0;
    printf("%s/%s cost: %lld backend allocations in the steady pushes %lld..%lld; %.0f floats copied per push "
           "(bound %.0f)\n", g_backend, model, (long long)steady_allocs, (long long)(N / 2), (long long)(N - 2),
           per_push, bound);
    TEST_CHECK(per_push <= bound, "%s: %.0f floats copied per steady one-group push, more than the %.0f of one copy "
               "of each stage's new and kept frames", model, per_push, bound);
    TEST_CHECK(steady_allocs == 0, "%s: %lld backend allocations in %lld steady one-group pushes (the push workspace "
               "should be kept by the stream)", model, (long long)steady_allocs, (long long)(N - 1 - N / 2));
    TEST_CHECK(peak[1] <= peak[0] + peak[0] / 10 + 4096, "%s: peak stream memory grows with length: %lld bytes at "
               "%lld groups, %lld at %lld", model, (long long)peak[0], (long long)lens[0], (long long)peak[1],
               (long long)N);
    srt_codes_free(&codes);
}

static void run_model(const char *model, const char *backend) {
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "tests/data/snac/%s", model);
    test_src_path(rel, path, sizeof path);
    srt_codec *codec = NULL, *other = NULL;
    srt_codec_options opts = {.backend = backend, .n_threads = 0};
    srt_status st = srt_codec_load(path, &opts, &codec);
    if (st == SRT_ERR_NO_DEVICE) { printf("skip %s on %s: %s\n", model, backend, srt_last_error()); return; }
    TEST_CHECK(st == SRT_OK, "load %s on %s: %s", path, backend, srt_last_error());
    if (st != SRT_OK) return;
    g_backend = backend;
    srt_codec_info I;
    srt_codec_get_info(codec, &I);
    srt_codec_stream *s = NULL;
    TEST_CHECK(srt_codec_stream_open(codec, -1, &s) == SRT_OK, "open: %s", srt_last_error());
    printf("%s on %s: lookahead %d groups, %lld samples per group\n", model, backend,
           srt_codec_stream_lookahead(s), (long long)srt_codec_stream_group_samples(s));
    TEST_CHECK(srt_codec_stream_group_samples(s) == (int64_t)I.hop_length * I.vq_strides[0], "group samples");
    srt_codec_stream_free(s);
    int ref = !strcmp(backend, "cpu-ref"), sim = !strncmp(backend, "cuda", 4);
    check_first_audio(codec, &I, model);
    check_lengths(codec, &I, model, ref || sim);
    if (!ref) check_batched(codec, &I, model, 5);
    if (!ref && !sim) {
        check_batched(codec, &I, model, -1);
        st = srt_codec_load(path, &opts, &other);
        TEST_CHECK(st == SRT_OK, "second load: %s", srt_last_error());
        if (st == SRT_OK) check_errors(codec, other, &I, model);
        srt_codec_free(other);
        check_cost(codec, &I, model);
    }
    srt_codec_free(codec);
}

int main(void) {
    TEST_FOR_EACH_BACKEND(be, "cpu-ref,cpu") {
        run_model("tiny24", be);
        run_model("tiny44", be);
        printf("%s: largest difference from the offline decode %.3g\n", be, g_max_err);
        g_max_err = 0;
    }
    TEST_MAIN_END();
}
