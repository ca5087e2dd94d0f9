/* test_weights_corrupt.c: damaged weight files must fail cleanly: a non-OK status, no tensors returned, and a
 * message naming the file; never a crash, leak or out-of-bounds read (also run under ASan/UBSan).
 * Damage: truncations at many cut points (header, data, zip local headers, central directory, end records),
 * flipped bytes (fixed seed), header lengths past the file, out-of-range offsets, wrong dtype sizes, overflowing
 * shapes, duplicate names, zip members whose sizes lie, pickles with unknown globals or broken opcodes, storages
 * too small for their tensors, corrupt deflate data, garbage and empty files. */
#include "weights/weights.h"
#include "weights/pickle.h"
#include "testutil.h"
#include "weights_fixture.h"
#include <unistd.h>

typedef enum { OPEN_SAFETENSORS, OPEN_TORCH } open_kind;

static char tmp_dir[256];
static char case_path[400];

static srt_status open_as(open_kind kind, const char *path, srt_weights **w) {
    return kind == OPEN_SAFETENSORS ? srt_weights_open_safetensors(path, w) : srt_weights_open_torch(path, w);
}

/* Write bytes to a case file and open it: must fail naming the file. what describes the damage. */
static void expect_fail(open_kind kind, const void *data, size_t n, const char *what) {
    snprintf(case_path, sizeof case_path, "%s/%s", tmp_dir, kind == OPEN_SAFETENSORS ? "case.safetensors" : "case.bin");
    if (!fx_write_file(case_path, data, n)) { TEST_CHECK(0, "cannot write %s", case_path); return; }
    srt_weights *w = (srt_weights *)&w;   /* a non-NULL sentinel: the open must reset it to NULL */
    srt_clear_error();
    srt_status s = open_as(kind, case_path, &w);
    TEST_CHECK(s != SRT_OK && w == NULL && strstr(srt_last_error(), case_path) != NULL,
               "%s: status %s, message \"%s\"", what, srt_status_name(s), srt_last_error());
    if (s == SRT_OK) srt_weights_free(w);
}

/* Damage that may or may not matter (a flipped data byte is still a valid file): no crash, and a failure names
 * the file. Returns 1 when it failed. */
static int open_survives(open_kind kind, const void *data, size_t n, const char *what) {
    snprintf(case_path, sizeof case_path, "%s/%s", tmp_dir, kind == OPEN_SAFETENSORS ? "flip.safetensors" : "flip.bin");
    if (!fx_write_file(case_path, data, n)) { TEST_CHECK(0, "cannot write %s", case_path); return 0; }
    srt_weights *w = NULL;
    srt_status s = open_as(kind, case_path, &w);
    if (s == SRT_OK) { srt_weights_free(w); return 0; }
    TEST_CHECK(w == NULL && strstr(srt_last_error(), case_path) != NULL, "%s: message \"%s\"", what, srt_last_error());
    return 1;
}

static uint8_t *read_all(const char *rel, size_t *n) {
    char path[512];
    test_src_path(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *d = malloc(*n);
    if (fread(d, 1, *n, f) != *n) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    fclose(f);
    return d;
}

static uint64_t rd_le(const uint8_t *p, int n) { uint64_t v = 0; for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i]; return v; }
static void wr_le(uint8_t *p, uint64_t v, int n) { for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* ---------------------------------------------------------------- safetensors */

static void test_safetensors_real(void) {
    size_t n;
    uint8_t *orig = read_all("tests/data/snac/tiny24/model.safetensors", &n);
    uint64_t hlen = rd_le(orig, 8);
    uint8_t *buf = malloc(n);
    char what[128];
    /* truncations: inside the length, inside the header, at its end, inside the data */
    size_t cuts[64], n_cuts = 0;
    const size_t fixed[] = {0, 1, 4, 7, 8, 9, 8 + (size_t)hlen / 3, 8 + (size_t)hlen / 2, 8 + (size_t)hlen - 1,
                            8 + (size_t)hlen, 8 + (size_t)hlen + 1, n - 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) cuts[n_cuts++] = fixed[i];
    for (int i = 1; i <= 30; i++) cuts[n_cuts++] = 8 + (size_t)hlen + (n - 8 - (size_t)hlen) * (size_t)i / 31;
    for (size_t i = 0; i < n_cuts; i++) {
        snprintf(what, sizeof what, "safetensors cut at %zu of %zu", cuts[i], n);
        expect_fail(OPEN_SAFETENSORS, orig, cuts[i], what);
    }
    /* header length larger than the file, huge, off by one */
    const uint64_t lens[] = {n, n - 7, (uint64_t)1 << 63, UINT64_MAX, (uint64_t)200 << 20, 0, 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(buf, orig, n);
        wr_le(buf, lens[i], 8);
        snprintf(what, sizeof what, "header length %llu", (unsigned long long)lens[i]);
        expect_fail(OPEN_SAFETENSORS, buf, n, what);
    }
    /* structural header bytes broken */
    memcpy(buf, orig, n); buf[8] = 'x';
    expect_fail(OPEN_SAFETENSORS, buf, n, "header starts with x");
    memcpy(buf, orig, n);
    { size_t last = 8 + (size_t)hlen - 1; while (last > 8 && buf[last] == ' ') last--; buf[last] = ' '; }
    expect_fail(OPEN_SAFETENSORS, buf, n, "header's closing brace removed");
    /* random byte flips in the header (fixed seed): no crash; most fail */
    uint64_t rng = 12345;
    int failed = 0, trials = 150;
    for (int t = 0; t < trials; t++) {
        memcpy(buf, orig, n);
        size_t pos = 8 + (size_t)(test_rng_next(&rng) % hlen);
        buf[pos] ^= (uint8_t)(1u << (test_rng_next(&rng) % 8));
        snprintf(what, sizeof what, "header flip at %zu", pos);
        failed += open_survives(OPEN_SAFETENSORS, buf, n, what);
    }
    TEST_CHECK(failed > trials / 4, "only %d of %d header flips were caught", failed, trials);
    free(buf);
    free(orig);
}

/* Small crafted files: each header must be rejected. */
static void test_safetensors_crafted(void) {
    static const uint8_t data[64];
    static const struct { const char *header; size_t data_len; const char *what; } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,100]}}", 64, "offsets past the data"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 64, "begin after end"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 64, "dtype size does not match"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 64, "shape does not match the bytes"},
        {"{\"a\":{\"dtype\":\"F8_E9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 64, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 64, "negative dim"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 64, "fractional dim"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 64, "shape overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 64, "9 dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
         "\"data_offsets\":[4,8]}}", 64, "duplicate name"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 64, "no data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 64, "three offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 64, "negative offset"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 64, "huge offsets"},
        {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 64, "dtype not a string"},
        {"{\"a\":[1,2]}", 64, "entry not an object"},
        {"[1,2,3]", 64, "header not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 64, "unterminated JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[60,68]}}", 64, "range ends past the data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_buf b = {0};
        fx_safetensors(&b, cases[i].header, data, cases[i].data_len);
        expect_fail(OPEN_SAFETENSORS, b.p, b.len, cases[i].what);
        free(b.p);
    }
    /* a valid crafted file opens (the cases above fail for their stated reason, not for the framing) */
    fx_buf b = {0};
    fx_safetensors(&b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    snprintf(case_path, sizeof case_path, "%s/ok.safetensors", tmp_dir);
    srt_weights *w = NULL;
    TEST_CHECK(fx_write_file(case_path, b.p, b.len) && srt_weights_open_safetensors(case_path, &w) == SRT_OK &&
               srt_weights_count(w) == 1, "control file: %s", srt_last_error());
    srt_weights_free(w);
    unlink(case_path);
    free(b.p);
}

/* ---------------------------------------------------------------- torch zip */

/* Offset of the central directory entry for member `name`, or 0. */
static size_t find_central(const uint8_t *z, size_t n, const char *name) {
    size_t nl = strlen(name);
    for (size_t i = 0; i + 46 + nl <= n; i++)
        if (rd_le(z + i, 4) == 0x02014b50u && rd_le(z + i + 28, 2) == nl && memcmp(z + i + 46, name, nl) == 0)
            return i;
    return 0;
}

static void test_torch_real(void) {
    size_t n;
    uint8_t *orig = read_all("tests/data/snac/tiny24/pytorch_model.bin", &n);
    uint8_t *buf = malloc(n);
    char what[160];
    size_t eocd = n - 22;
    TEST_CHECK(rd_le(orig + eocd, 4) == 0x06054b50u, "test file has a plain EOCD at the end");
    size_t cd_off = (size_t)rd_le(orig + eocd + 16, 4), cd_size = (size_t)rd_le(orig + eocd + 12, 4);
    /* truncations: local headers, data, central directory, end record */
    size_t cuts[80], n_cuts = 0;
    const size_t fixed[] = {0, 1, 4, 29, 30, 100, cd_off - 1, cd_off, cd_off + 1, cd_off + 45, cd_off + 47,
                            cd_off + cd_size / 2, cd_off + cd_size - 1, eocd, eocd + 1, eocd + 21, n - 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) cuts[n_cuts++] = fixed[i];
    for (int i = 1; i <= 25; i++) cuts[n_cuts++] = cd_off * (size_t)i / 26;
    for (int i = 1; i <= 20; i++) cuts[n_cuts++] = cd_off + cd_size * (size_t)i / 21;
    for (size_t i = 0; i < n_cuts; i++) {
        snprintf(what, sizeof what, "zip cut at %zu of %zu", cuts[i], n);
        expect_fail(OPEN_TORCH, orig, cuts[i], what);
    }
    /* end record kept, central directory cut short: the directory now runs into the end record */
    for (int k = 1; k <= 5; k++) {
        size_t drop = cd_size * (size_t)k / 6;
        size_t m = 0;
        memcpy(buf, orig, cd_off + cd_size - drop); m = cd_off + cd_size - drop;
        memcpy(buf + m, orig + eocd, 22); m += 22;
        snprintf(what, sizeof what, "central directory missing its last %zu bytes", drop);
        expect_fail(OPEN_TORCH, buf, m, what);
    }
    /* end record fields that lie */
    struct { int off, width; uint64_t value; const char *what; } eocd_lies[] = {
        {10, 2, 5000, "more entries than fit"}, {16, 4, 0xfffffff0u, "directory offset past the file"},
        {12, 4, 0xfffffff0u, "directory size past the file"}, {8, 2, 0xffff, "ZIP64 marker without ZIP64 record"},
        {16, 4, 3, "directory offset in the middle of a member"}, {4, 2, 1, "multi-disk"},
    };
    for (size_t i = 0; i < sizeof eocd_lies / sizeof eocd_lies[0]; i++) {
        memcpy(buf, orig, n);
        wr_le(buf + eocd + eocd_lies[i].off, eocd_lies[i].value, eocd_lies[i].width);
        if (eocd_lies[i].off == 8) {   /* the marker, with the ZIP64 locator gone */
            wr_le(buf + eocd + 10, 0xffff, 2);
            wr_le(buf + eocd - 20, 0, 4);
        }
        expect_fail(OPEN_TORCH, buf, n, eocd_lies[i].what);
    }
    /* a member whose size lies: larger (runs into the next member), smaller (too small for its storage) */
    size_t ce = find_central(orig, n, "pytorch_model/data/0");
    TEST_CHECK(ce > 0, "central entry of pytorch_model/data/0 found");
    if (ce) {
        uint64_t size = rd_le(orig + ce + 24, 4);
        const int64_t deltas[] = {+4, +1000, -4, -(int64_t)size};
        for (size_t i = 0; i < 4; i++) {
            memcpy(buf, orig, n);
            wr_le(buf + ce + 20, (uint64_t)((int64_t)size + deltas[i]), 4);
            wr_le(buf + ce + 24, (uint64_t)((int64_t)size + deltas[i]), 4);
            snprintf(what, sizeof what, "member data/0 claims %lld bytes instead of %llu",
                     (long long)((int64_t)size + deltas[i]), (unsigned long long)size);
            expect_fail(OPEN_TORCH, buf, n, what);
        }
        memcpy(buf, orig, n);
        wr_le(buf + ce + 20, size + 4, 4);   /* compressed != uncompressed for a stored member */
        expect_fail(OPEN_TORCH, buf, n, "stored member with two different sizes");
        memcpy(buf, orig, n);
        wr_le(buf + ce + 10, 12, 2);          /* bzip2 */
        expect_fail(OPEN_TORCH, buf, n, "unsupported compression method");
        memcpy(buf, orig, n);
        wr_le(buf + ce + 42, n - 10, 4);      /* local header offset near the end */
        expect_fail(OPEN_TORCH, buf, n, "local header offset past the members");
    }
    /* flipping one byte of data.pkl: caught by its CRC-32 */
    size_t cp = find_central(orig, n, "pytorch_model/data.pkl");
    if (cp) {
        size_t local = (size_t)rd_le(orig + cp + 42, 4);
        size_t data = local + 30 + (size_t)rd_le(orig + local + 26, 2) + (size_t)rd_le(orig + local + 28, 2);
        memcpy(buf, orig, n);
        buf[data + 100] ^= 0x20;
        expect_fail(OPEN_TORCH, buf, n, "data.pkl byte flipped");
    }
    /* random flips in the central directory and end record: no crash */
    uint64_t rng = 777;
    int caught = 0, trials = 120;
    for (int t = 0; t < trials; t++) {
        memcpy(buf, orig, n);
        size_t pos = cd_off + (size_t)(test_rng_next(&rng) % (n - cd_off));
        buf[pos] ^= (uint8_t)(1u << (test_rng_next(&rng) % 8));
        snprintf(what, sizeof what, "zip flip at %zu", pos);
        caught += open_survives(OPEN_TORCH, buf, n, what);
    }
    TEST_CHECK(caught > 0, "no central directory flip was caught");
    /* legacy (non-zip) torch.save format */
    const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    expect_fail(OPEN_TORCH, legacy, sizeof legacy, "legacy torch format");
    free(buf);
    free(orig);
}

/* A checkpoint built from a pickle body (between PROTO and STOP) and storage "0" of `storage_bytes` bytes. */
static void expect_fail_pickle(const fx_buf *body, size_t storage_bytes, int deflate_storage, const char *what,
                               const char *must_mention) {
    fx_buf pk = {0};
    fx_u8(&pk, 0x80); fx_u8(&pk, 2);
    fx_put(&pk, body->p, body->len);
    fx_u8(&pk, '.');
    uint8_t storage[256] = {0};
    for (size_t i = 0; i < sizeof storage; i++) storage[i] = (uint8_t)(i * 7);
    const fx_member members[] = {
        {"archive/data.pkl", pk.p, pk.len, 0},
        {"archive/data/0", storage, storage_bytes, deflate_storage},
    };
    fx_buf zip = {0};
    fx_zip_build(&zip, members, 2, 0);
    expect_fail(OPEN_TORCH, zip.p, zip.len, what);
    if (must_mention)
        TEST_CHECK(strstr(srt_last_error(), must_mention) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
                   srt_last_error(), must_mention);
    free(zip.p);
    free(pk.p);
}

/* {"w": tensor} with the given storage and geometry, as a pickle body. */
static fx_buf state_dict_body(const char *storage_class, int numel, int offset, int ndim, const int *size,
                              const int *stride) {
    fx_buf b = {0};
    fx_u8(&b, '}'); pk_unicode(&b, "w");
    pk_tensor(&b, storage_class, "0", numel, offset, ndim, size, stride);
    fx_u8(&b, 's');
    return b;
}

static void test_torch_crafted(void) {
    fx_buf b = {0};
    /* unknown globals, by GLOBAL and by STACK_GLOBAL */
    pk_global(&b, "os", "system"); pk_unicode(&b, "echo pwned"); fx_u8(&b, 0x85); fx_u8(&b, 'R');
    expect_fail_pickle(&b, 16, 0, "GLOBAL os.system", "os.system");
    free(b.p); b = (fx_buf){0};
    fx_u8(&b, 0x8c); fx_u8(&b, 8); fx_str(&b, "builtins"); fx_u8(&b, 0x8c); fx_u8(&b, 4); fx_str(&b, "eval");
    fx_u8(&b, 0x93);
    expect_fail_pickle(&b, 16, 0, "STACK_GLOBAL builtins.eval", "builtins.eval");
    free(b.p); b = (fx_buf){0};
    /* a harmless global used as a state dict value is skipped, but a dict with no tensors is an error */
    fx_u8(&b, '}'); pk_unicode(&b, "dev"); pk_global(&b, "torch", "device"); pk_unicode(&b, "cpu"); fx_u8(&b, 0x85);
    fx_u8(&b, 'R'); fx_u8(&b, 's');
    expect_fail_pickle(&b, 16, 0, "state dict without tensors", "no tensors");
    free(b.p); b = (fx_buf){0};
    /* broken pickles */
    const char *broken[][2] = {
        {"0", "POP of an empty stack"}, {"h\x05", "BINGET of an unset memo"}, {"t", "TUPLE without MARK"},
        {"u", "SETITEMS without MARK"}, {"X\xff\xff\xff\x7f", "string longer than the pickle"},
        {"}N", "two objects at STOP"}, {"\xff", "unknown opcode"}, {"cos", "unterminated GLOBAL"},
        {"}(Nu", "SETITEMS with an odd count"}, {"]Na", "APPEND fine, but root not a dict"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        fx_put(&b, broken[i][0], strlen(broken[i][0]));
        expect_fail_pickle(&b, 16, 0, broken[i][1], NULL);
        free(b.p); b = (fx_buf){0};
    }
    /* REDUCE of a storage class */
    pk_global(&b, "torch", "FloatStorage"); fx_u8(&b, ')'); fx_u8(&b, 'R');
    expect_fail_pickle(&b, 16, 0, "calling a storage class", NULL);
    free(b.p);
    /* storages and tensors out of range */
    const int s4[1] = {4}, st1[1] = {1}, s22[2] = {2, 2}, big_stride[2] = {1 << 30, 1};
    struct { const char *cls; int numel, offset, ndim; const int *size, *stride; size_t bytes; const char *what; } t[] = {
        {"FloatStorage", 64, 0, 1, s4, st1, 16, "storage numel larger than its member"},
        {"FloatStorage", 4, 1, 1, s4, st1, 16, "offset + size past the storage"},
        {"FloatStorage", 4, 0, 2, s22, big_stride, 16, "stride past the storage"},
        {"DoubleStorage", 4, 0, 1, s4, st1, 16, "f64 storage needs 32 bytes, member has 16"},
        {"FloatStorage", 4, 5, 0, NULL, NULL, 16, "scalar offset past the storage"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        b = state_dict_body(t[i].cls, t[i].numel, t[i].offset, t[i].ndim, t[i].size, t[i].stride);
        expect_fail_pickle(&b, t[i].bytes, 0, t[i].what, "'w'");
        free(b.p);
    }
    /* control: the same body with a correct storage opens (so the failures above are about the ranges) */
    b = state_dict_body("FloatStorage", 4, 0, 1, s4, st1);
    {
        fx_buf pk = {0};
        fx_u8(&pk, 0x80); fx_u8(&pk, 2); fx_put(&pk, b.p, b.len); fx_u8(&pk, '.');
        const float v[4] = {1, 2, 3, 4};
        const fx_member m[] = {{"archive/data.pkl", pk.p, pk.len, 0}, {"archive/data/0", v, 16, 1}};
        fx_buf zip = {0};
        fx_zip_build(&zip, m, 2, 0);
        snprintf(case_path, sizeof case_path, "%s/ok.bin", tmp_dir);
        srt_weights *w = NULL;
        TEST_CHECK(fx_write_file(case_path, zip.p, zip.len) && srt_weights_open_torch(case_path, &w) == SRT_OK &&
                   srt_weights_count(w) == 1, "control checkpoint: %s", srt_last_error());
        srt_weights_free(w);
        unlink(case_path);
        /* the same archive with its deflated storage damaged */
        size_t ce = find_central(zip.p, zip.len, "archive/data/0");
        size_t local = (size_t)rd_le(zip.p + ce + 42, 4);
        size_t data = local + 30 + (size_t)rd_le(zip.p + local + 26, 2) + (size_t)rd_le(zip.p + local + 28, 2);
        zip.p[data + 1] ^= 0x55;
        expect_fail(OPEN_TORCH, zip.p, zip.len, "corrupt deflate storage");
        zip.p[data + 1] ^= 0x55;
        wr_le(zip.p + ce + 24, 1u << 30, 4);   /* inflated size that deflate cannot reach */
        expect_fail(OPEN_TORCH, zip.p, zip.len, "deflate member claiming 1 GiB");
        free(zip.p);
        free(pk.p);
    }
    free(b.p);
    /* storage member missing */
    b = state_dict_body("FloatStorage", 4, 0, 1, s4, st1);
    {
        fx_buf pk = {0};
        fx_u8(&pk, 0x80); fx_u8(&pk, 2); fx_put(&pk, b.p, b.len); fx_u8(&pk, '.');
        const fx_member m[] = {{"archive/data.pkl", pk.p, pk.len, 0}, {"archive/data/1", "xxxxxxxxxxxxxxxx", 16, 0}};
        fx_buf zip = {0};
        fx_zip_build(&zip, m, 2, 0);
        expect_fail(OPEN_TORCH, zip.p, zip.len, "storage member missing");
        const fx_member m2[] = {{"archive/other.pkl", pk.p, pk.len, 0}};
        fx_buf zip2 = {0};
        fx_zip_build(&zip2, m2, 1, 0);
        expect_fail(OPEN_TORCH, zip2.p, zip2.len, "no data.pkl");
        free(zip.p);
        free(zip2.p);
        free(pk.p);
    }
    free(b.p);
}


/* The pickle reader alone, on the real data.pkl: every truncation fails, random flips never crash. */
static void test_pickle_fuzz(void) {
    size_t n;
    uint8_t *zip = read_all("tests/data/snac/tiny24/pytorch_model.bin", &n);
    size_t cp = find_central(zip, n, "pytorch_model/data.pkl");
    TEST_CHECK(cp > 0, "data.pkl found");
    if (!cp) { free(zip); return; }
    size_t local = (size_t)rd_le(zip + cp + 42, 4), len = (size_t)rd_le(zip + cp + 24, 4);
    size_t data = local + 30 + (size_t)rd_le(zip + local + 26, 2) + (size_t)rd_le(zip + local + 28, 2);
    uint8_t *pkl = malloc(len);
    memcpy(pkl, zip + data, len);
    free(zip);
    srt_pickle *pk = NULL;
    const srt_pk_value *root = NULL;
    TEST_CHECK(srt_pickle_load(pkl, len, "t.pkl", &pk, &root) == SRT_OK && root && root->kind == SRT_PK_DICT,
               "the intact pickle loads: %s", srt_last_error());
    srt_pickle_free(pk);
    int truncations_ok = 0, n_trunc = 0;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 50) {
        uint8_t *copy = malloc(cut ? cut : 1);   /* exact-size copy: ASan sees any read past the cut */
        memcpy(copy, pkl, cut);
        pk = NULL;
        srt_status s = srt_pickle_load(copy, cut, "t.pkl", &pk, &root);
        if (s != SRT_OK && pk == NULL && strstr(srt_last_error(), "t.pkl")) truncations_ok++;
        else srt_pickle_free(pk);
        n_trunc++;
        free(copy);
    }
    TEST_CHECK(truncations_ok == n_trunc, "%d of %d pickle truncations failed cleanly", truncations_ok, n_trunc);
    uint64_t rng = 4242;
    int flips = 400, named = 0, failed = 0;
    uint8_t *copy = malloc(len);
    for (int t = 0; t < flips; t++) {
        memcpy(copy, pkl, len);
        for (int k = 0; k < 3; k++) copy[test_rng_next(&rng) % len] = (uint8_t)test_rng_next(&rng);
        pk = NULL;
        srt_status s = srt_pickle_load(copy, len, "t.pkl", &pk, &root);
        if (s != SRT_OK) { failed++; named += pk == NULL && strstr(srt_last_error(), "t.pkl") != NULL; }
        srt_pickle_free(pk);
    }
    TEST_CHECK(named == failed && failed > 0, "%d of %d failing flipped pickles named the file (%d flips)", named,
               failed, flips);
    free(copy);
    free(pkl);
}

/* ---------------------------------------------------------------- garbage, empty, missing */

static void test_garbage(void) {
    uint8_t junk[4096];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)test_rng_next(&rng);
    expect_fail(OPEN_SAFETENSORS, junk, sizeof junk, "random bytes as safetensors");
    expect_fail(OPEN_TORCH, junk, sizeof junk, "random bytes as torch");
    expect_fail(OPEN_SAFETENSORS, "", 0, "empty file as safetensors");
    expect_fail(OPEN_TORCH, "", 0, "empty file as torch");
    const char *text = "hello, this is not a model\n";
    expect_fail(OPEN_SAFETENSORS, text, strlen(text), "text as safetensors");
    expect_fail(OPEN_TORCH, text, strlen(text), "text as torch");
    /* the real files opened with the wrong reader */
    size_t n;
    uint8_t *st = read_all("tests/data/snac/tiny24/model.safetensors", &n);
    expect_fail(OPEN_TORCH, st, n, "safetensors opened as torch");
    free(st);
    uint8_t *pt = read_all("tests/data/snac/tiny24/pytorch_model.bin", &n);
    expect_fail(OPEN_SAFETENSORS, pt, n, "torch opened as safetensors");
    free(pt);
    /* a path that does not exist, a folder without weights */
    srt_weights *w = NULL;
    snprintf(case_path, sizeof case_path, "%s/does-not-exist.safetensors", tmp_dir);
    TEST_CHECK(srt_weights_open_safetensors(case_path, &w) == SRT_ERR_IO && !w &&
               strstr(srt_last_error(), case_path), "missing file: %s", srt_last_error());
    TEST_CHECK(srt_weights_open_torch(case_path, &w) == SRT_ERR_IO && !w, "missing file (torch)");
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/snacrt_test_weights_corrupt_XXXXXX");
    if (!mkdtemp(tmp_dir)) { perror("mkdtemp"); return 1; }
    test_safetensors_real();
    test_safetensors_crafted();
    test_torch_real();
    test_torch_crafted();
    test_pickle_fuzz();
    test_garbage();
    const char *leftovers[] = {"case.safetensors", "case.bin", "flip.safetensors", "flip.bin"};
    for (size_t i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmp_dir, leftovers[i]);
        unlink(p);
    }
    TEST_CHECK(rmdir(tmp_dir) == 0, "temp folder left clean");
    TEST_MAIN_END();
}
