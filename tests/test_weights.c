/* test_weights.c: weight loading.
 *  - tiny24/tiny44: pytorch_model.bin and model.safetensors give the same tensors (names, dtypes, shapes, bytes);
 *    srt_weights_open_dir prefers model.safetensors; get_f32 checks shapes and names tensor + file on errors.
 *  - dtype conversions: every bf16 and f16 bit pattern round-trips through f32 (incl. subnormals, inf, NaN);
 *    rounding to nearest even at the halfway points.
 *  - a sharded safetensors set (two shards + model.safetensors.index.json in a mkdtemp folder).
 *  - torch zip features the test checkpoints do not use: DEFLATE members, ZIP64 end records, non-contiguous strides,
 *    a state dict nested under "state_dict", f16/bf16/f64 storages, a storage offset. */
#include "weights/weights.h"
#include "testutil.h"
#include "weights_fixture.h"
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
    return buf;
}

static void check_same_sets(const srt_weights *a, const srt_weights *b, const char *what) {
    TEST_CHECK(srt_weights_count(a) == srt_weights_count(b), "%s: %zu vs %zu tensors", what, srt_weights_count(a),
               srt_weights_count(b));
    size_t mismatches = 0;
    for (size_t i = 0; i < srt_weights_count(a); i++) {
        const srt_tensor_view *x = srt_weights_at(a, i), *y = srt_weights_find(b, x->name);
        int same = y && x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes &&
                   memcmp(x->shape, y->shape, sizeof x->shape[0] * (size_t)x->ndim) == 0 &&
                   memcmp(x->data, y->data, x->nbytes) == 0;
        if (!same && mismatches++ < 5) fprintf(stderr, "%s: tensor %s differs or is missing\n", what, x->name);
    }
    TEST_CHECK(mismatches == 0, "%s: %zu tensors differ", what, mismatches);
}

static void test_model(const char *model, size_t n_tensors) {
    char dir[512], st_path[600], pt_path[600];
    test_src_path(model, dir, sizeof dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(pt_path, sizeof pt_path, "%s/pytorch_model.bin", dir);
    srt_weights *st = NULL, *pt = NULL, *d = NULL;
    srt_status s1 = srt_weights_open_safetensors(st_path, &st);
    TEST_CHECK(s1 == SRT_OK, "%s: %s", st_path, srt_last_error());
    srt_status s2 = srt_weights_open_torch(pt_path, &pt);
    TEST_CHECK(s2 == SRT_OK, "%s: %s", pt_path, srt_last_error());
    srt_status s3 = srt_weights_open_dir(dir, &d);
    TEST_CHECK(s3 == SRT_OK, "%s: %s", dir, srt_last_error());
    if (s1 || s2 || s3) { srt_weights_free(st); srt_weights_free(pt); srt_weights_free(d); return; }
    TEST_CHECK(srt_weights_count(st) == n_tensors, "%s: %zu tensors", model, srt_weights_count(st));
    check_same_sets(st, pt, model);
    check_same_sets(pt, st, model);
    TEST_CHECK(strcmp(srt_weights_source(d), st_path) == 0, "open_dir chose %s", srt_weights_source(d));

    /* the first conv of the encoder: weight norm g (8,1,1) and v (8,1,7), as published */
    const int64_t g_shape[3] = {8, 1, 1}, v_shape[3] = {8, 1, 7};
    float *g = NULL, *v = NULL;
    TEST_CHECK(srt_weights_get_f32(pt, "encoder.block.0.parametrizations.weight.original0", 3, g_shape, &g) == SRT_OK,
               "%s", srt_last_error());
    TEST_CHECK(srt_weights_get_f32(st, "encoder.block.0.parametrizations.weight.original1", 3, v_shape, &v) == SRT_OK,
               "%s", srt_last_error());
    const srt_tensor_view *tv = srt_weights_find(st, "encoder.block.0.parametrizations.weight.original1");
    TEST_CHECK(v && tv && tv->dtype == SRT_F32 && memcmp(v, tv->data, tv->nbytes) == 0, "get_f32 of f32 is a copy");
    free(g);
    free(v);
    /* shape mismatch and missing tensor name the tensor and the file */
    float *bad = NULL;
    srt_status s = srt_weights_get_f32(pt, "encoder.block.0.parametrizations.weight.original1", 3, g_shape, &bad);
    TEST_CHECK(s == SRT_ERR_FORMAT && !bad && strstr(srt_last_error(), "original1") &&
               strstr(srt_last_error(), "pytorch_model.bin"), "shape mismatch: %s", srt_last_error());
    s = srt_weights_get_f32(st, "no.such.tensor", 0, NULL, &bad);
    TEST_CHECK(s == SRT_ERR_NOT_FOUND && strstr(srt_last_error(), "no.such.tensor") &&
               strstr(srt_last_error(), "model.safetensors"), "missing tensor: %s", srt_last_error());
    TEST_CHECK(srt_weights_find(st, "no.such.tensor") == NULL, "find of a missing name");
    srt_weights_free(st);
    srt_weights_free(pt);
    srt_weights_free(d);
}

static int same_bits_or_both_nan(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

static float f32_of_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void test_dtype_conversions(void) {
    int bf_bad = 0, f16_bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = srt_bf16_to_f32((uint16_t)h);
        uint16_t back = srt_f32_to_bf16(f);
        int is_nan = ((h & 0x7f80) == 0x7f80) && (h & 0x7f);
        if (is_nan ? !(isnan(f) && ((back & 0x7f80) == 0x7f80) && (back & 0x7f)) : back != h) bf_bad++;
        float g = srt_f16_to_f32((uint16_t)h);
        uint16_t back16 = srt_f32_to_f16(g);
        int is_nan16 = ((h & 0x7c00) == 0x7c00) && (h & 0x3ff);
        if (is_nan16 ? !(isnan(g) && ((back16 & 0x7c00) == 0x7c00) && (back16 & 0x3ff)) : back16 != h) f16_bad++;
    }
    TEST_CHECK(bf_bad == 0, "%d bf16 patterns do not round-trip", bf_bad);
    TEST_CHECK(f16_bad == 0, "%d f16 patterns do not round-trip", f16_bad);
    /* exact values */
    TEST_CHECK(srt_f16_to_f32(0x0001) == ldexpf(1, -24), "smallest f16 subnormal");
    TEST_CHECK(srt_f16_to_f32(0x03ff) == ldexpf(1023, -24), "largest f16 subnormal");
    TEST_CHECK(srt_f16_to_f32(0x7bff) == 65504.0f, "largest f16");
    TEST_CHECK(isinf(srt_f16_to_f32(0x7c00)) && srt_f16_to_f32(0xfc00) < 0, "f16 inf");
    TEST_CHECK(isnan(srt_f16_to_f32(0x7e00)), "f16 NaN");
    TEST_CHECK(srt_bf16_to_f32(0x3f80) == 1.0f && srt_bf16_to_f32(0xc000) == -2.0f, "bf16 1, -2");
    TEST_CHECK(srt_bf16_to_f32(0x0001) == f32_of_bits(0x00010000), "bf16 subnormal");
    TEST_CHECK(isinf(srt_bf16_to_f32(0x7f80)) && isnan(srt_bf16_to_f32(0x7fc0)), "bf16 inf, NaN");
    /* rounding to nearest even */
    TEST_CHECK(srt_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80, "bf16 tie to even (down)");
    TEST_CHECK(srt_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82, "bf16 tie to even (up)");
    TEST_CHECK(srt_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)) == 0x3f81, "bf16 above the tie");
    TEST_CHECK(srt_f32_to_bf16(f32_of_bits(0x7f7fffff)) == 0x7f80, "bf16 overflow to inf");
    TEST_CHECK(srt_f32_to_bf16(f32_of_bits(0x7f800001)) != 0x7f80 && isnan(srt_bf16_to_f32(srt_f32_to_bf16(f32_of_bits(0x7f800001)))),
               "bf16 keeps a signalling NaN a NaN");
    TEST_CHECK(srt_f32_to_f16(65519.0f) == 0x7bff && srt_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow boundary");
    TEST_CHECK(srt_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "f16 tie to even (down)");
    TEST_CHECK(srt_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "f16 tie to even (up)");
    TEST_CHECK(srt_f32_to_f16(ldexpf(1, -25)) == 0x0000, "f16 half the smallest subnormal ties to 0");
    TEST_CHECK(srt_f32_to_f16(ldexpf(3, -26)) == 0x0001, "f16 above the tie rounds up to the smallest subnormal");
    TEST_CHECK(srt_f32_to_f16(ldexpf(3, -25)) == 0x0002, "f16 subnormal tie to even (up)");
    TEST_CHECK(srt_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400, "f16 largest subnormal rounds up into the normals");
    TEST_CHECK(srt_f32_to_f16(-0.0f) == 0x8000 && srt_f32_to_f16(ldexpf(1, -30)) == 0, "f16 zero and underflow");
    TEST_CHECK(srt_f32_to_f16(-INFINITY) == 0xfc00, "f16 -inf");
    TEST_CHECK(same_bits_or_both_nan(srt_f16_to_f32(srt_f32_to_f16(NAN)), NAN), "f16 NaN stays NaN");
}

/* Two safetensors shards + an index; checks values through get_f32 and a broken index. */
static void test_sharded(void) {
    char p1[400], p2[400], pi[400];
    const float a[6] = {1, 2, 3, 4, 5, -6};          /* a: F32 (2,3) */
    const uint16_t bh[4] = {0x3f80, 0xc000, 0x0000, 0x4040};  /* b: BF16 (4) = 1, -2, 0, 3 */
    const uint16_t ch[2] = {0x3c00, 0x0001};          /* c: F16 (2) = 1, 2^-24 */
    const double dd[1] = {0.25};                      /* d: F64 (1) */
    uint8_t data1[32];
    memcpy(data1, a, 24);
    memcpy(data1 + 24, bh, 8);
    uint8_t data2[16] = {0};
    memcpy(data2, ch, 4);
    memcpy(data2 + 8, dd, 8);                         /* c at [0,4), 4 bytes unused, d at [8,16) */
    fx_buf b1 = {0}, b2 = {0};
    fx_safetensors(&b1, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                   "\"data_offsets\":[0,24]},\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]}}",
                   data1, sizeof data1);
    fx_safetensors(&b2, "{\"c\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                   "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]}}   ", data2, sizeof data2);
    const char *index = "{\"metadata\":{\"total_size\":48},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                        "\"b\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\","
                        "\"d\":\"model-00002-of-00002.safetensors\"}}";
    TEST_CHECK(fx_write_file(tmp_path("model-00001-of-00002.safetensors", p1, sizeof p1), b1.p, b1.len) &&
               fx_write_file(tmp_path("model-00002-of-00002.safetensors", p2, sizeof p2), b2.p, b2.len) &&
               fx_write_file(tmp_path("model.safetensors.index.json", pi, sizeof pi), index, strlen(index)),
               "writing shards");
    free(b1.p);
    free(b2.p);
    srt_weights *w = NULL;
    srt_status s = srt_weights_open_dir(tmp_dir, &w);
    TEST_CHECK(s == SRT_OK, "sharded open_dir: %s", srt_last_error());
    if (s == SRT_OK) {
        TEST_CHECK(srt_weights_count(w) == 4, "4 tensors, got %zu", srt_weights_count(w));
        const int64_t a_shape[2] = {2, 3};
        float *x = NULL;
        TEST_CHECK(srt_weights_get_f32(w, "a", 2, a_shape, &x) == SRT_OK && x && x[5] == -6.0f && x[0] == 1.0f, "a");
        free(x); x = NULL;
        TEST_CHECK(srt_weights_get_f32(w, "b", 0, NULL, &x) == SRT_OK && x && x[0] == 1 && x[1] == -2 && x[3] == 3, "b");
        free(x); x = NULL;
        TEST_CHECK(srt_weights_get_f32(w, "c", 0, NULL, &x) == SRT_OK && x && x[0] == 1 && x[1] == ldexpf(1, -24), "c");
        free(x); x = NULL;
        TEST_CHECK(srt_weights_get_f32(w, "d", 0, NULL, &x) == SRT_OK && x && x[0] == 0.25f, "d");
        free(x); x = NULL;
        const srt_tensor_view *c = srt_weights_find(w, "c"), *b = srt_weights_find(w, "b");
        TEST_CHECK(c && c->dtype == SRT_F16 && c->nbytes == 4 && b && b->dtype == SRT_BF16 && b->shape[0] == 4,
                   "stored dtypes kept");
        /* a shape mismatch on a shard names the shard */
        const int64_t wrong[1] = {3};
        s = srt_weights_get_f32(w, "d", 1, wrong, &x);
        TEST_CHECK(s == SRT_ERR_FORMAT && strstr(srt_last_error(), "model-00002-of-00002.safetensors"), "%s",
                   srt_last_error());
        srt_weights_free(w);
    }
    /* an index that lists a tensor its shard lacks */
    const char *bad_index = "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                            "\"zz\":\"model-00002-of-00002.safetensors\"}}";
    TEST_CHECK(fx_write_file(pi, bad_index, strlen(bad_index)), "writing index");
    w = NULL;
    s = srt_weights_open_index(pi, &w);
    TEST_CHECK(s != SRT_OK && !w && strstr(srt_last_error(), "zz") && strstr(srt_last_error(), "index.json"), "%s",
               srt_last_error());
    /* a shard name that leaves the folder */
    const char *evil = "{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}";
    TEST_CHECK(fx_write_file(pi, evil, strlen(evil)), "writing index");
    s = srt_weights_open_index(pi, &w);
    TEST_CHECK(s == SRT_ERR_FORMAT && !w, "%s", srt_last_error());
    /* no weights at all in a folder */
    unlink(p1); unlink(p2); unlink(pi);
    s = srt_weights_open_dir(tmp_dir, &w);
    TEST_CHECK(s == SRT_ERR_NOT_FOUND && strstr(srt_last_error(), "model.safetensors.index.json") &&
               strstr(srt_last_error(), "pytorch_model.bin"), "%s", srt_last_error());
}

/* A hand-built checkpoint: {"epoch": 3, "state_dict": OrderedDict(w=transposed f32, h=f16 deflated,
 * b=bf16 with a storage offset, d=f64 scalar)} in a ZIP64 archive under the folder "my_ckpt". */
static void test_torch_features(int zip64) {
    const float wdata[6] = {0, 1, 2, 3, 4, 5};         /* storage (3,2) row-major; w = its transpose (2,3) */
    const uint16_t hdata[3] = {0x3c00, 0xc000, 0x7c00};/* 1, -2, inf */
    const uint16_t bdata[4] = {0x1111, 0x3f80, 0x4000, 0x4040};  /* b = storage[1:4] = 1, 2, 3 */
    const double ddata[1] = {-0.5};
    fx_buf pk = {0};
    fx_u8(&pk, 0x80); fx_u8(&pk, 2);
    fx_u8(&pk, '}');
    fx_u8(&pk, '(');
    pk_unicode(&pk, "epoch"); pk_int(&pk, 3);
    pk_unicode(&pk, "state_dict");
    pk_global(&pk, "collections", "OrderedDict"); fx_u8(&pk, ')'); fx_u8(&pk, 'R');
    fx_u8(&pk, '(');
    { const int size[2] = {2, 3}, stride[2] = {1, 2};
      pk_unicode(&pk, "w"); pk_tensor(&pk, "FloatStorage", "0", 6, 0, 2, size, stride); }
    { const int size[1] = {3}, stride[1] = {1};
      pk_unicode(&pk, "h"); pk_tensor(&pk, "HalfStorage", "1", 3, 0, 1, size, stride); }
    { const int size[1] = {3}, stride[1] = {1};
      pk_unicode(&pk, "b"); pk_global(&pk, "torch._utils", "_rebuild_parameter"); fx_u8(&pk, '(');
      pk_tensor(&pk, "BFloat16Storage", "2", 4, 1, 1, size, stride); fx_u8(&pk, 0x88);
      pk_global(&pk, "collections", "OrderedDict"); fx_u8(&pk, ')'); fx_u8(&pk, 'R'); fx_u8(&pk, 't'); fx_u8(&pk, 'R'); }
    pk_unicode(&pk, "d"); pk_tensor(&pk, "DoubleStorage", "3", 1, 0, 0, NULL, NULL);
    fx_u8(&pk, 'u');   /* SETITEMS into the OrderedDict */
    fx_u8(&pk, 'u');   /* SETITEMS into the top dict */
    fx_u8(&pk, '.');
    const fx_member members[] = {
        {"my_ckpt/data.pkl", pk.p, pk.len, 1},
        {"my_ckpt/data/0", wdata, sizeof wdata, 0},
        {"my_ckpt/data/1", hdata, sizeof hdata, 1},
        {"my_ckpt/data/2", bdata, sizeof bdata, 0},
        {"my_ckpt/data/3", ddata, sizeof ddata, 1},
        {"my_ckpt/version", "3\n", 2, 0},
    };
    fx_buf zip = {0};
    fx_zip_build(&zip, members, 6, zip64);
    char path[400];
    tmp_path(zip64 ? "ckpt64.pt" : "ckpt.pt", path, sizeof path);
    TEST_CHECK(fx_write_file(path, zip.p, zip.len), "writing %s", path);
    free(zip.p);
    free(pk.p);
    srt_weights *w = NULL;
    srt_status s = srt_weights_open_torch(path, &w);
    TEST_CHECK(s == SRT_OK, "%s: %s", path, srt_last_error());
    if (s == SRT_OK) {
        TEST_CHECK(srt_weights_count(w) == 4, "4 tensors (epoch skipped), got %zu", srt_weights_count(w));
        float *x = NULL;
        const int64_t ws[2] = {2, 3};
        s = srt_weights_get_f32(w, "w", 2, ws, &x);
        TEST_CHECK(s == SRT_OK && x && x[0] == 0 && x[1] == 2 && x[2] == 4 && x[3] == 1 && x[4] == 3 && x[5] == 5,
                   "transposed tensor made contiguous: %s", srt_last_error());
        free(x); x = NULL;
        s = srt_weights_get_f32(w, "h", 0, NULL, &x);
        TEST_CHECK(s == SRT_OK && x && x[0] == 1 && x[1] == -2 && isinf(x[2]), "deflated f16 storage");
        free(x); x = NULL;
        s = srt_weights_get_f32(w, "b", 0, NULL, &x);
        TEST_CHECK(s == SRT_OK && x && x[0] == 1 && x[1] == 2 && x[2] == 3, "bf16 parameter with storage offset");
        free(x); x = NULL;
        const srt_tensor_view *d = srt_weights_find(w, "d");
        TEST_CHECK(d && d->ndim == 0 && d->dtype == SRT_F64 && d->nbytes == 8 && *(const double *)d->data == -0.5,
                   "f64 scalar");
        s = srt_weights_get_f32(w, "d", 0, NULL, &x);
        TEST_CHECK(s == SRT_OK && x && x[0] == -0.5f, "f64 -> f32");
        free(x);
        srt_weights_free(w);
    }
    unlink(path);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_test_weights_XXXXXX");
    if (!mkdtemp(tmp_dir)) { perror("mkdtemp"); return 1; }
    test_model("tests/data/snac/tiny24", 269);
    test_model("tests/data/snac/tiny44", 286);
    test_dtype_conversions();
    test_sharded();
    test_torch_features(0);
    test_torch_features(1);
    rmdir(tmp_dir);
    TEST_MAIN_END();
}
