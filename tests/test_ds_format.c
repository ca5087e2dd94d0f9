/* test_ds_format.c: the dataset file formats (host/dataset/ds_*.c):
 *  - shards: items of the tiny24 (3 levels) and tiny44 (4 levels) models with unicode, quotes, commas and line
 *    breaks in keys/sources/passthrough values, no passthrough, non-string passthrough (jsonl, bin) and a
 *    passthrough named like a shard field, written in jsonl, csv and bin and read back identical (with and without
 *    the model given to the reader); 0..3 items per shard;
 *  - commit atomicity: only temp files before commit, final names after, nothing left after abort;
 *  - truncated shards at every cut point: SRT_ERR_FORMAT naming the file, or (at an item boundary of a text
 *    shard) exactly the items before the cut; corrupt bin indexes never crash;
 *  - tar archives made by tar(1): ustar, GNU and pax long names, truncated, not a tar; WebDataset key split;
 *  - CSV/JSONL manifests: quotes, CRLF, BOM, relative paths, missing path column, non-string JSONL values;
 *  - srt_ds_find_cut on synthetic signals. */
#include "snacrt.h"
#include "dataset/ds_format.h"
#include "snacrt_codes.h"
#include "testutil.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <unistd.h>

static char tmp_root[256];

/* snprintf for paths (a long path is a test setup problem, not a warning) */
static void __attribute__((format(printf, 3, 4))) pathf(char *buf, size_t cap, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
}

static void rm_rf(const char *path) {
    char cmd[600];
    pathf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: cannot remove %s\n", path);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) { free(p); p = NULL; }
    if (p) p[sz] = 0;
    fclose(f);
    *n = (size_t)sz;
    return p;
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", path); return; }
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* ---------------------------------------------------------------- items */

/* Random codes of n_frames0 coarse frames; n_samples somewhat below the covered length. */
static void make_item(srt_ds_item *it, const srt_codec_info *info, uint64_t seed, int64_t frames0, const char *key,
                      const char *source, const char *extra) {
    memset(it, 0, sizeof *it);
    it->key = strdup(key);
    it->source = strdup(source);
    it->extra_json = extra ? strdup(extra) : NULL;
    it->sample_rate = info->sample_rate;
    int64_t covered = frames0 * info->vq_strides[0] * info->hop_length;
    it->n_samples = covered - (int64_t)(seed % 97) * 3;
    it->offset_samples = (int64_t)seed * 1000;
    it->codes.n_levels = info->n_levels;
    it->codes.n_samples = it->n_samples;
    uint64_t s = seed * 7919 + 1;
    for (int l = 0; l < info->n_levels; l++) {
        int64_t n = frames0 * (info->vq_strides[0] / info->vq_strides[l]);
        it->codes.n_frames[l] = n;
        it->codes.codes[l] = malloc(sizeof(int32_t) * (size_t)n);
        for (int64_t i = 0; i < n; i++) it->codes.codes[l][i] = (int32_t)(test_rng_next(&s) % (uint64_t)info->codebook_size);
    }
    /* the extremes of the range */
    it->codes.codes[0][0] = info->codebook_size - 1;
    it->codes.codes[info->n_levels - 1][0] = 0;
}

/* Passthrough objects equal (NULL and "{}" count as none). expect_renamed: the expected object text instead. */
static int extra_equal(const char *a, const char *b) {
    cJSON *x = a ? cJSON_Parse(a) : NULL, *y = b ? cJSON_Parse(b) : NULL;
    int xe = !x || !x->child, ye = !y || !y->child;
    int eq = (xe && ye) || (!xe && !ye && cJSON_Compare(x, y, 1));
    cJSON_Delete(x);
    cJSON_Delete(y);
    return eq;
}

static int items_equal(const srt_ds_item *a, const srt_ds_item *b, const char *expect_extra, const char *label) {
    int ok = 1;
#define ITEM_FIELD(cond, ...) do { if (!(cond)) { ok = 0; fprintf(stderr, "  %s: ", label); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)
    ITEM_FIELD(a->key && b->key && !strcmp(a->key, b->key), "key '%s' vs '%s'", b->key ? b->key : "(null)", a->key);
    ITEM_FIELD(a->source && b->source && !strcmp(a->source, b->source), "source '%s' vs '%s'",
               b->source ? b->source : "(null)", a->source);
    ITEM_FIELD(a->offset_samples == b->offset_samples, "offset %lld vs %lld", (long long)b->offset_samples, (long long)a->offset_samples);
    ITEM_FIELD(a->n_samples == b->n_samples, "n_samples %lld vs %lld", (long long)b->n_samples, (long long)a->n_samples);
    ITEM_FIELD(b->codes.n_samples == b->n_samples, "codes.n_samples %lld", (long long)b->codes.n_samples);
    ITEM_FIELD(a->sample_rate == b->sample_rate, "rate %d vs %d", b->sample_rate, a->sample_rate);
    ITEM_FIELD(extra_equal(expect_extra ? expect_extra : a->extra_json, b->extra_json), "extra %s vs %s",
               b->extra_json ? b->extra_json : "(null)", expect_extra ? expect_extra : a->extra_json ? a->extra_json : "(null)");
    ITEM_FIELD(a->codes.n_levels == b->codes.n_levels, "levels %d vs %d", b->codes.n_levels, a->codes.n_levels);
    for (int l = 0; ok && l < a->codes.n_levels; l++) {
        ITEM_FIELD(a->codes.n_frames[l] == b->codes.n_frames[l], "level %d: %lld codes vs %lld", l,
                   (long long)b->codes.n_frames[l], (long long)a->codes.n_frames[l]);
        if (ok) ITEM_FIELD(!memcmp(a->codes.codes[l], b->codes.codes[l], sizeof(int32_t) * (size_t)a->codes.n_frames[l]),
                           "level %d codes differ", l);
    }
#undef ITEM_FIELD
    return ok;
}

/* Read a whole shard; returns the status of the first failure (items read so far in *got). */
static srt_status read_shard(const char *path, const srt_codec_info *info, srt_ds_item *items, int max, int *got) {
    *got = 0;
    srt_ds_reader *r = NULL;
    srt_status st = srt_ds_reader_open(path, &r);
    if (st != SRT_OK) return st;
    if (info) srt_ds_reader_set_codec(r, info);
    for (;;) {
        srt_ds_item it = {0};
        int eof = 0;
        st = srt_ds_reader_next(r, &it, &eof);
        if (st != SRT_OK || eof) break;
        if (*got < max) items[(*got)++] = it;
        else { srt_ds_item_clear(&it); st = SRT_ERR_RANGE; break; }
    }
    srt_ds_reader_close(r);
    return st;
}

static srt_status write_shard(const char *dir, const char *name, srt_ds_format fmt, const srt_codec_info *info,
                              const srt_ds_item *items, int n, int64_t *n_written, int64_t *bytes) {
    srt_ds_shard_writer *w = NULL;
    srt_status st = srt_ds_shard_begin(dir, name, fmt, info, &w);
    if (st != SRT_OK) return st;
    for (int i = 0; i < n && st == SRT_OK; i++) st = srt_ds_shard_add(w, &items[i]);
    if (st != SRT_OK) { srt_ds_shard_abort(w); return st; }
    return srt_ds_shard_commit(w, n_written, bytes);
}

/* The file a reader opens for a shard. */
static void shard_path(const char *dir, const char *name, srt_ds_format fmt, char *out, size_t cap) {
    char files[2][512];
    int n = srt_ds_shard_files(fmt, name, files);
    pathf(out, cap, "%s/%s", dir, files[n - 1]);
}

#define N_ITEMS 4
typedef struct item_set {
    srt_ds_item items[N_ITEMS];
    const char *expect_extra[N_ITEMS];   /* what reads back when it differs from extra_json */
    int n;
} item_set;

static void free_set(item_set *s) {
    for (int i = 0; i < s->n; i++) srt_ds_item_clear(&s->items[i]);
}

/* Items for a format; CSV gets string-only passthrough with the same columns in every item. */
static void make_set(item_set *s, const srt_codec_info *info, srt_ds_format fmt, int n) {
    memset(s, 0, sizeof *s);
    s->n = n;
    int64_t step = info->attn_window ? info->attn_window / info->vq_strides[0] : 1;   /* frames that fit the window */
    if (step < 1) step = 1;
    const char *keys[N_ITEMS] = {"a/b/x.flac", "ünïcødé/日本語 #2", "with \"quotes\", commas\nand\r\nnewlines",
                                 " spaced key "};
    const char *sources[N_ITEMS] = {"/data/a/b/x.flac", "shard-0001.tar:ünïcødé/日本語.wav", "q\"uo,te\n.wav", ""};
    if (fmt == SRT_DS_CSV) {
        const char *ex[N_ITEMS] = {"{\"text\":\"hello, \\\"world\\\"\\nline 2\",\"lang\":\"fr\"}",
                                   "{\"text\":\"\",\"lang\":\"日本語\"}",
                                   "{\"text\":\"a,b\",\"lang\":\" x \"}",
                                   "{\"text\":\"z\",\"lang\":\"\\\"\"}"};
        for (int i = 0; i < n; i++) make_item(&s->items[i], info, (uint64_t)i + 1, step * (i + 1), keys[i], sources[i], ex[i]);
    } else {
        const char *ex[N_ITEMS] = {NULL, "{}",
                                   "{\"text\":\"hi\\n\\\"there\\\",\",\"n\":3,\"f\":2.5,\"obj\":{\"a\":[1,2]},\"t\":true,\"nul\":null}",
                                   "{\"key\":\"dup\",\"_key\":\"x\",\"codes\":7}"};
        for (int i = 0; i < n; i++) make_item(&s->items[i], info, (uint64_t)i + 11, step * (2 * i + 1), keys[i], sources[i], ex[i]);
        /* jsonl: a passthrough named like a shard field comes back "_"-prefixed (bin keeps the object as it is) */
        if (n > 3 && fmt == SRT_DS_JSONL) s->expect_extra[3] = "{\"__key\":\"dup\",\"_key\":\"x\",\"_codes\":7}";
    }
}

/* tools/snac_shard_reader.py prints the same items (key, source, offset, n_samples, codes, passthrough). */
static char python_exe[512];

/* The interpreter itself, found once (python3 may be a slow wrapper script such as a pyenv shim). */
static const char *python(void) {
    if (!python_exe[0]) {
        FILE *p = popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
        if (!p || !fgets(python_exe, sizeof python_exe, p)) strcpy(python_exe, "python3");
        python_exe[strcspn(python_exe, "\n")] = 0;
        if (p) pclose(p);
    }
    return python_exe;
}

static void check_python_reader(const char *path, const item_set *s, srt_ds_format fmt, const char *label) {
    char cmd[2048], src[512];
    pathf(cmd, sizeof cmd, "'%s' '%s' '%s'", python(), test_src_path("tools/snac_shard_reader.py", src, sizeof src), path);
    FILE *p = popen(cmd, "r");
    if (!p) { TEST_CHECK(0, "%s: cannot run python3", label); return; }
    char *line = NULL;
    size_t cap = 0;
    int k = 0, bad = 0;
    while (getline(&line, &cap, p) > 0) {
        cJSON *o = cJSON_Parse(line);
        const srt_ds_item *it = k < s->n ? &s->items[k] : NULL;
        int good = o && it;
        good = good && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "key")), it->key);
        good = good && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "source")), it->source);
        good = good && cJSON_GetNumberValue(cJSON_GetObjectItem(o, "n_samples")) == (double)it->n_samples;
        good = good && cJSON_GetNumberValue(cJSON_GetObjectItem(o, "offset")) == (double)it->offset_samples;
        cJSON *codes = o ? cJSON_GetObjectItem(o, "codes") : NULL;
        good = good && cJSON_GetArraySize(codes) == it->codes.n_levels;
        for (int l = 0; good && l < it->codes.n_levels; l++) {
            cJSON *lv = cJSON_GetArrayItem(codes, l);
            good = cJSON_GetArraySize(lv) == it->codes.n_frames[l];
            for (int64_t i = 0; good && i < it->codes.n_frames[l]; i++)
                good = cJSON_GetArrayItem(lv, (int)i)->valuedouble == it->codes.codes[l][i];
        }
        if (good && fmt != SRT_DS_CSV) {
            cJSON *extra = cJSON_GetObjectItem(o, "extra");
            char *text = cJSON_IsNull(extra) ? NULL : cJSON_PrintUnformatted(extra);
            good = extra_equal(s->expect_extra[k] ? s->expect_extra[k] : it->extra_json, text);
            cJSON_free(text);
        }
        if (!good && bad++ < 3) fprintf(stderr, "  %s: python item %d: %.200s\n", label, k, line);
        cJSON_Delete(o);
        k++;
    }
    free(line);
    int rc = pclose(p);
    TEST_CHECK(rc == 0 && k == s->n && bad == 0, "%s: python reader: exit %d, %d items, %d differ", label, rc, k, bad);
}

static void test_round_trips(const srt_codec_info *info, const char *model) {
    srt_ds_format fmts[3] = {SRT_DS_JSONL, SRT_DS_CSV, SRT_DS_BIN};
    for (int fi = 0; fi < 3; fi++) {
        for (int n = 0; n <= N_ITEMS; n++) {
            char dir[512], label[128], path[1024];
            pathf(dir, sizeof dir, "%s/rt-%s-%s-%d", tmp_root, model, srt_ds_format_name(fmts[fi]), n);
            mkdir(dir, 0755);
            pathf(label, sizeof label, "%s %s %d items", model, srt_ds_format_name(fmts[fi]), n);
            item_set s;
            make_set(&s, info, fmts[fi], n);
            int64_t n_written = -1, bytes = -1;
            srt_status st = write_shard(dir, "shard-00000", fmts[fi], info, s.items, n, &n_written, &bytes);
            TEST_CHECK(st == SRT_OK, "%s: write: %s", label, srt_last_error());
            TEST_CHECK(n_written == n, "%s: commit says %lld items", label, (long long)n_written);
            char files[2][512];
            int nf = srt_ds_shard_files(fmts[fi], "shard-00000", files);
            int64_t total = 0;
            for (int k = 0; k < nf; k++) {
                pathf(path, sizeof path, "%s/%s", dir, files[k]);
                total += file_size(path);
            }
            TEST_CHECK(bytes == total && (total > 0 || (fmts[fi] == SRT_DS_JSONL && n == 0)), "%s: commit says %lld bytes, files hold %lld", label,
                       (long long)bytes, (long long)total);
            TEST_CHECK(count_files(dir) == nf, "%s: %d files in the folder, expected %d", label, count_files(dir), nf);
            shard_path(dir, "shard-00000", fmts[fi], path, sizeof path);
            for (int with_info = 0; with_info < 2; with_info++) {
                srt_ds_item got[N_ITEMS + 1];
                int n_got = 0;
                st = read_shard(path, with_info ? info : NULL, got, N_ITEMS + 1, &n_got);
                TEST_CHECK(st == SRT_OK, "%s (model %d): read: %s", label, with_info, srt_last_error());
                TEST_CHECK(n_got == n, "%s (model %d): read %d items", label, with_info, n_got);
                for (int i = 0; i < n_got && i < n; i++) {
                    char l2[160];
                    pathf(l2, sizeof l2, "%s item %d", label, i);
                    TEST_CHECK(items_equal(&s.items[i], &got[i], s.expect_extra[i], l2), "%s differs", l2);
                }
                for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
            }
            if (n == N_ITEMS) check_python_reader(path, &s, fmts[fi], label);
            /* the bin format reads from either file of the pair */
            if (fmts[fi] == SRT_DS_BIN) {
                pathf(path, sizeof path, "%s/shard-00000.idx", dir);
                srt_ds_item got[N_ITEMS + 1];
                int n_got = 0;
                st = read_shard(path, info, got, N_ITEMS + 1, &n_got);
                TEST_CHECK(st == SRT_OK && n_got == n, "%s: read via .idx: %s", label, srt_last_error());
                for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
            }
            free_set(&s);
        }
    }
}

/* CSV specifics: a column missing in a later item reads back empty; one the first item lacked is refused;
 * the code column is the `snacrt encode --format laion` string; the header is as documented. */
static void test_csv_columns(const srt_codec_info *info) {
    char dir[512], path[1024];
    pathf(dir, sizeof dir, "%s/csvcols", tmp_root);
    mkdir(dir, 0755);
    srt_ds_item a, b, c;
    make_item(&a, info, 1, 1, "a", "sa", "{\"text\":\"t1\",\"n\":5}");
    make_item(&b, info, 2, 2, "b", "sb", "{\"text\":\"t2\"}");
    make_item(&c, info, 3, 1, "c", "sc", "{\"other\":\"x\"}");
    srt_ds_shard_writer *w = NULL;
    srt_status st = srt_ds_shard_begin(dir, "s", SRT_DS_CSV, info, &w);
    TEST_CHECK(st == SRT_OK, "csv begin: %s", srt_last_error());
    if (st != SRT_OK) return;
    TEST_CHECK(srt_ds_shard_add(w, &a) == SRT_OK, "csv add a: %s", srt_last_error());
    TEST_CHECK(srt_ds_shard_add(w, &b) == SRT_OK, "csv add b: %s", srt_last_error());
    st = srt_ds_shard_add(w, &c);
    TEST_CHECK(st == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "other"), "csv new column: %s", srt_last_error());
    /* an item of the wrong model is refused without breaking the shard */
    srt_ds_item bad;
    make_item(&bad, info, 4, 1, "bad", "s", NULL);
    bad.sample_rate = info->sample_rate + 1;
    TEST_CHECK(srt_ds_shard_add(w, &bad) == SRT_ERR_INVALID_ARG, "wrong rate accepted");
    bad.sample_rate = info->sample_rate;
    bad.codes.codes[0][0] = info->codebook_size;
    TEST_CHECK(srt_ds_shard_add(w, &bad) == SRT_ERR_RANGE, "out-of-range code accepted: %s", srt_last_error());
    srt_ds_item_clear(&bad);
    TEST_CHECK(srt_ds_shard_commit(w, NULL, NULL) == SRT_OK, "csv commit: %s", srt_last_error());
    pathf(path, sizeof path, "%s/s.csv", dir);
    size_t n = 0;
    char *text = read_all(path, &n);
    char head[64];
    pathf(head, sizeof head, "key,source,offset,n_samples,text,n,snac%dkhz\n", info->sample_rate / 1000);
    TEST_CHECK(text && !strncmp(text, head, strlen(head)), "csv header: %.80s", text ? text : "(none)");
    free(text);
    srt_ds_item got[3];
    int n_got = 0;
    st = read_shard(path, NULL, got, 3, &n_got);
    TEST_CHECK(st == SRT_OK && n_got == 2, "csv read: %s (%d items)", srt_last_error(), n_got);
    if (n_got == 2) {
        TEST_CHECK(items_equal(&a, &got[0], "{\"text\":\"t1\",\"n\":\"5\"}", "csv a"), "csv a: number comes back as a string");
        TEST_CHECK(items_equal(&b, &got[1], "{\"text\":\"t2\",\"n\":\"\"}", "csv b"), "csv b: missing column comes back empty");
    }
    for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
    srt_ds_item_clear(&a);
    srt_ds_item_clear(&b);
    srt_ds_item_clear(&c);
}

static void test_atomic_commit(const srt_codec_info *info) {
    srt_ds_format fmts[3] = {SRT_DS_JSONL, SRT_DS_CSV, SRT_DS_BIN};
    for (int fi = 0; fi < 3; fi++) {
        char dir[512], final_path[1024], tmp_path[1100];
        pathf(dir, sizeof dir, "%s/atomic-%s", tmp_root, srt_ds_format_name(fmts[fi]));
        mkdir(dir, 0755);
        char files[2][512];
        int nf = srt_ds_shard_files(fmts[fi], "part", files);
        TEST_CHECK(nf == (fmts[fi] == SRT_DS_BIN ? 2 : 1), "%d shard files", nf);
        srt_ds_item it;
        make_item(&it, info, 5, 2, "k", "s", NULL);
        for (int abort_it = 0; abort_it < 2; abort_it++) {
            srt_ds_shard_writer *w = NULL;
            TEST_CHECK(srt_ds_shard_begin(dir, "part", fmts[fi], info, &w) == SRT_OK, "begin: %s", srt_last_error());
            if (!w) continue;
            TEST_CHECK(srt_ds_shard_add(w, &it) == SRT_OK, "add: %s", srt_last_error());
            for (int k = 0; k < nf; k++) {
                pathf(final_path, sizeof final_path, "%s/%s", dir, files[k]);
                pathf(tmp_path, sizeof tmp_path, "%s.tmp", final_path);
                TEST_CHECK(file_size(final_path) < 0, "%s exists before commit", final_path);
                TEST_CHECK(file_size(tmp_path) >= 0, "%s missing while writing", tmp_path);
            }
            TEST_CHECK(count_files(dir) == nf, "%s: %d files while writing", srt_ds_format_name(fmts[fi]), count_files(dir));
            if (abort_it) {
                srt_ds_shard_abort(w);
                TEST_CHECK(count_files(dir) == 0, "%s: %d files left after abort", srt_ds_format_name(fmts[fi]),
                           count_files(dir));
            } else {
                TEST_CHECK(srt_ds_shard_commit(w, NULL, NULL) == SRT_OK, "commit: %s", srt_last_error());
                for (int k = 0; k < nf; k++) {
                    pathf(final_path, sizeof final_path, "%s/%s", dir, files[k]);
                    pathf(tmp_path, sizeof tmp_path, "%s.tmp", final_path);
                    TEST_CHECK(file_size(final_path) > 0 && file_size(tmp_path) < 0, "%s after commit", final_path);
                }
                TEST_CHECK(count_files(dir) == nf, "%d files after commit", count_files(dir));
                rm_rf(dir);
                mkdir(dir, 0755);
            }
        }
        srt_ds_item_clear(&it);
    }
    /* a folder that does not exist: an error naming it */
    srt_ds_shard_writer *w = NULL;
    char dir[512];
    pathf(dir, sizeof dir, "%s/no/such/dir", tmp_root);
    TEST_CHECK(srt_ds_shard_begin(dir, "x", SRT_DS_JSONL, info, &w) == SRT_ERR_IO && strstr(srt_last_error(), "no/such"),
               "missing folder: %s", srt_last_error());
    srt_ds_format f;
    TEST_CHECK(srt_ds_format_parse("bin", &f) == SRT_OK && f == SRT_DS_BIN, "parse bin");
    TEST_CHECK(srt_ds_format_parse("parquet", &f) == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "parquet"), "parse bad");
}

/* Cut a shard file at every byte (or every `step`): a format error naming the file, or exactly the items before
 * the cut when it falls on an item boundary (valid_sizes: file sizes of the shards of the first k items). */
static void truncate_all(const char *label, const char *orig_path, const char *cut_path, const char *read_path,
                         const srt_codec_info *info, const item_set *s, const int64_t *valid_sizes, size_t step) {
    size_t n = 0;
    char *data = read_all(orig_path, &n);
    if (!data) { TEST_CHECK(0, "%s: cannot read %s", label, orig_path); return; }
    const char *base = strrchr(cut_path, '/') + 1;
    int bad = 0, ok_cuts = 0;
    for (size_t cut = 0; cut < n; cut += (cut < 600 ? 1 : step)) {
        write_all(cut_path, data, cut);
        srt_ds_item got[N_ITEMS + 1];
        int n_got = 0;
        srt_status st = read_shard(read_path, info, got, N_ITEMS + 1, &n_got);
        int k_valid = -1;
        for (int k = 0; k <= s->n; k++) if (valid_sizes[k] == (int64_t)cut) k_valid = k;
        if (st == SRT_OK) {
            int good = k_valid >= 0 && n_got == k_valid;
            for (int i = 0; good && i < n_got; i++) good = items_equal(&s->items[i], &got[i], s->expect_extra[i], label);
            if (!good && bad++ < 5) fprintf(stderr, "  %s: cut at %zu of %zu read %d items without an error\n", label, cut, n, n_got);
            ok_cuts++;
        } else if (st != SRT_ERR_FORMAT || !strstr(srt_last_error(), base)) {
            if (bad++ < 5) fprintf(stderr, "  %s: cut at %zu: %s: %s\n", label, cut, srt_status_name(st), srt_last_error());
        }
        for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
    }
    write_all(cut_path, data, n);
    free(data);
    TEST_CHECK(bad == 0, "%s: %d cut points misread", label, bad);
    printf("%s: %zu bytes, %d cuts read as whole shards\n", label, n, ok_cuts);
}

static void test_truncation(const srt_codec_info *info, const char *model) {
    srt_ds_format fmts[3] = {SRT_DS_JSONL, SRT_DS_CSV, SRT_DS_BIN};
    for (int fi = 0; fi < 3; fi++) {
        char dir[512], label[128], path[1024], orig[1100], other[1100];
        pathf(dir, sizeof dir, "%s/trunc-%s-%s", tmp_root, model, srt_ds_format_name(fmts[fi]));
        mkdir(dir, 0755);
        item_set s;
        make_set(&s, info, fmts[fi], N_ITEMS);
        int64_t valid[N_ITEMS + 1];
        /* sizes of the shards of the first k items (a text shard cut there is a valid shorter shard) */
        for (int k = 0; k <= N_ITEMS; k++) {
            char name[32];
            pathf(name, sizeof name, "k%d", k);
            TEST_CHECK(write_shard(dir, name, fmts[fi], info, s.items, k, NULL, NULL) == SRT_OK, "write: %s", srt_last_error());
            shard_path(dir, name, fmts[fi], path, sizeof path);
            valid[k] = fmts[fi] == SRT_DS_BIN ? -1 : file_size(path);
        }
        if (fmts[fi] == SRT_DS_CSV) {
            /* the header alone (with the passthrough columns of the first item) is a valid empty shard */
            size_t len = 0;
            shard_path(dir, "k4", fmts[fi], path, sizeof path);
            char *text = read_all(path, &len);
            valid[0] = text && strchr(text, '\n') ? strchr(text, '\n') - text + 1 : -1;
            free(text);
        }
        pathf(label, sizeof label, "truncated %s %s", model, srt_ds_format_name(fmts[fi]));
        shard_path(dir, "k4", fmts[fi], path, sizeof path);
        pathf(orig, sizeof orig, "%s.orig", path);
        if (fmts[fi] != SRT_DS_BIN) {
            rename(path, orig);
            truncate_all(label, orig, path, path, info, &s, valid, 7);
        } else {
            /* cut the .idx, then the .bin; read through the .bin name */
            pathf(other, sizeof other, "%s/k4.idx", dir);
            pathf(orig, sizeof orig, "%s.orig", other);
            rename(other, orig);
            valid[N_ITEMS] = -1;
            truncate_all("truncated idx", orig, other, path, info, &s, valid, 3);
            pathf(orig, sizeof orig, "%s.orig", path);
            rename(path, orig);
            truncate_all("truncated bin", orig, path, path, info, &s, valid, 5);
            /* corrupt index bytes: an error or a read, never a crash (ASan checks the bounds) */
            size_t n = 0;
            char *data = read_all(other, &n), *copy = malloc(n);
            uint64_t seed = 99;
            int errors = 0;
            for (int trial = 0; data && copy && trial < 400; trial++) {
                memcpy(copy, data, n);
                for (int k = 0; k < 3; k++) copy[test_rng_next(&seed) % n] = (char)test_rng_next(&seed);
                write_all(other, copy, n);
                srt_ds_item got[N_ITEMS + 1];
                int n_got = 0;
                srt_status st = read_shard(path, NULL, got, N_ITEMS + 1, &n_got);
                errors += st != SRT_OK;
                for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
            }
            if (data) write_all(other, data, n);
            printf("corrupt idx: %d of 400 corruptions detected\n", errors);
            TEST_CHECK(errors > 100, "only %d of 400 index corruptions detected", errors);
            free(data);
            free(copy);
            /* a missing .bin: an error naming it */
            remove(path);
            int n_got = 0;
            srt_ds_item got[1];
            srt_status st = read_shard(other, NULL, got, 1, &n_got);
            TEST_CHECK(st == SRT_ERR_IO && strstr(srt_last_error(), "k4.bin"), "missing .bin: %s", srt_last_error());
        }
        free_set(&s);
    }
    /* malformed lines name the file and line */
    char path[1024];
    pathf(path, sizeof path, "%s/bad.jsonl", tmp_root);
    const char *bad_lines[] = {
        "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\nnot json\n",
        "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n{\"key\":\"b\"}\n",
        "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n"
        "{\"key\":\"b\",\"source\":\"s\",\"offset\":-1,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n",
        "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n"
        "{\"key\":\"b\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3]]}\n",
        "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n"
        "{\"key\":\"b\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,\"x\"]]}\n",
    };
    for (size_t k = 0; k < sizeof bad_lines / sizeof *bad_lines; k++) {
        write_all(path, bad_lines[k], strlen(bad_lines[k]));
        srt_ds_item got[3];
        int n_got = 0;
        srt_status st = read_shard(path, k == 3 && info->sample_rate == 24000 ? info : NULL, got, 3, &n_got);
        if (k == 3 && info->sample_rate != 24000) { for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]); continue; }
        TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.jsonl:2") && n_got == 1,
                   "bad line %zu: %s: %s (%d items)", k, srt_status_name(st), srt_last_error(), n_got);
        for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
    }
    /* a blank line counts in the line numbers; the model check names the item's own line */
    if (info->sample_rate == 24000) {
        const char *blank = "{\"key\":\"a\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4]]}\n\n"
                            "{\"key\":\"b\",\"source\":\"s\",\"offset\":0,\"n_samples\":10,\"sample_rate\":24000,\"codes\":[[1],[1,2],[1,2,3,4,5,6,7,8]]}\n";
        write_all(path, blank, strlen(blank));
        srt_ds_item got[3];
        int n_got = 0;
        srt_status st = read_shard(path, info, got, 3, &n_got);
        TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.jsonl:3 ('b')") && n_got == 1,
                   "blank line: %s (%d items)", srt_last_error(), n_got);
        for (int i = 0; i < n_got; i++) srt_ds_item_clear(&got[i]);
    }
    srt_ds_reader *r = NULL;
    TEST_CHECK(srt_ds_reader_open("x.parquet", &r) == SRT_ERR_UNSUPPORTED && strstr(srt_last_error(), "x.parquet"),
               "unknown extension: %s", srt_last_error());
}

/* ---------------------------------------------------------------- tar */

typedef struct member { const char *name; size_t size; } member;

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc == 0;
}

/* Read every member; compare names and contents (byte i of member k = (i * 31 + k) & 0xff). */
static srt_status read_tar(const char *path, const member *want, int n_want, const char *label, int check) {
    srt_tar_reader *t = NULL;
    srt_status st = srt_tar_open(path, &t);
    if (st != SRT_OK) return st;
    int k = 0;
    for (;;) {
        char *name = NULL;
        void *data = NULL;
        size_t size = 0;
        int eof = 0;
        st = srt_tar_next(t, &name, &data, &size, &eof);
        if (st != SRT_OK || eof) break;
        if (check) {
            TEST_CHECK(k < n_want && !strcmp(name, want[k].name), "%s: member %d is '%s', expected '%s'", label, k,
                       name, k < n_want ? want[k].name : "(none)");
            int good = k < n_want && size == want[k].size && ((char *)data)[size] == 0;
            for (size_t i = 0; good && i < size; i++) good = ((unsigned char *)data)[i] == ((i * 31 + (size_t)k) & 0xff);
            TEST_CHECK(good, "%s: member %d content (%zu bytes)", label, k, size);
        }
        free(name);
        free(data);
        k++;
    }
    if (check && st == SRT_OK) TEST_CHECK(k == n_want, "%s: %d members, expected %d", label, k, n_want);
    srt_tar_close(t);
    return st;
}

static void test_tar(void) {
    char dir[512], src[600], cmd[2048], path[700];
    pathf(dir, sizeof dir, "%s/tar", tmp_root);
    pathf(src, sizeof src, "%s/src", dir);
    char long_dir[300] = "";
    for (int i = 0; i < 6; i++) strcat(long_dir, "a-rather-long-folder/");   /* 126 chars */
    long_dir[strlen(long_dir) - 1] = 0;
    char long_name[400];
    pathf(long_name, sizeof long_name, "%s/%s", long_dir,
             "sample-with-a-file-name-that-is-longer-than-one-hundred-characters-on-its-own-0123456789abcdefghijklmn.flac");
    const char *names[4] = {"000001.flac", "000001.json", "sub/000002.x.wav", long_name};
    size_t sizes[4] = {1000, 0, 512, 70000};
    member want[4];
    pathf(cmd, sizeof cmd, "mkdir -p '%s/sub' '%s/%s'", src, src, long_dir);
    run(cmd);
    for (int k = 0; k < 4; k++) {
        want[k] = (member){names[k], sizes[k]};
        unsigned char *d = malloc(sizes[k] + 1);
        for (size_t i = 0; i < sizes[k]; i++) d[i] = (unsigned char)((i * 31 + (size_t)k) & 0xff);
        pathf(path, sizeof path, "%s/%s", src, names[k]);
        write_all(path, d, sizes[k]);
        free(d);
    }
    const char *formats[3] = {"gnu", "pax", "ustar"};
    for (int fi = 0; fi < 3; fi++) {
        char tar_path[700];
        pathf(tar_path, sizeof tar_path, "%s/%s.tar", dir, formats[fi]);
        /* ustar cannot hold a 107-character base name: that archive gets the first three members */
        int n = fi == 2 ? 3 : 4;
        pathf(cmd, sizeof cmd, "cd '%s' && tar --format=%s -cf '%s' '%s' '%s' '%s'%s%s%s", src, formats[fi], tar_path,
                 names[0], names[1], names[2], n == 4 ? " '" : "", n == 4 ? names[3] : "", n == 4 ? "'" : "");
        if (!run(cmd)) { TEST_CHECK(0, "tar --format=%s failed", formats[fi]); continue; }
        char label[64];
        pathf(label, sizeof label, "tar %s", formats[fi]);
        srt_status st = read_tar(tar_path, want, n, label, 1);
        TEST_CHECK(st == SRT_OK, "%s: %s", label, srt_last_error());
        /* truncated anywhere before the first end-of-archive block: an error naming the archive; from there on the
         * archive reads whole (the rest is zero padding). The last member's data ends with a non-zero byte. */
        size_t size = 0;
        char *data = read_all(tar_path, &size);
        size_t last = size;
        while (data && last > 0 && data[last - 1] == 0) last--;
        size_t end_marker = (last + 511) / 512 * 512 + 512;
        char cut_path[720];
        pathf(cut_path, sizeof cut_path, "%s/cut.tar", dir);
        int bad = 0;
        for (size_t cut = 0; data && cut < size; cut += (cut < 1100 || (cut > end_marker - 600 && cut < end_marker + 600) ? 1 : 37)) {
            write_all(cut_path, data, cut);
            st = read_tar(cut_path, want, n, label, 0);
            int ok = cut >= end_marker ? st == SRT_OK
                                       : st == SRT_ERR_FORMAT && strstr(srt_last_error(), "cut.tar") != NULL;
            if (!ok && bad++ < 3) fprintf(stderr, "  %s cut %zu (end marker at %zu): %s\n", label, cut, end_marker, srt_last_error());
        }
        TEST_CHECK(bad == 0, "%s: %d truncations misread", label, bad);
        /* a truncation inside the last member's data */
        write_all(cut_path, data, last - 10);
        st = read_tar(cut_path, want, n, label, 0);
        TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "cut.tar"), "%s half: %s", label, srt_last_error());
        free(data);
    }
    /* not a tar */
    pathf(path, sizeof path, "%s/not.tar", dir);
    const char *junk = "this is not a tar archive at all, just text\n";
    char block[1024];
    memset(block, 'x', sizeof block);
    memcpy(block, junk, strlen(junk));
    write_all(path, block, sizeof block);
    TEST_CHECK(read_tar(path, want, 0, "not a tar", 0) == SRT_ERR_FORMAT && strstr(srt_last_error(), "not.tar"),
               "non-tar: %s", srt_last_error());
    srt_tar_reader *t = NULL;
    pathf(path, sizeof path, "%s/missing.tar", dir);
    TEST_CHECK(srt_tar_open(path, &t) == SRT_ERR_IO && strstr(srt_last_error(), "missing.tar"), "missing tar");

    /* WebDataset keys */
    char key[256];
    const char *ext = NULL;
    srt_wds_split_name("a/b/x.y.flac", key, sizeof key, &ext);
    TEST_CHECK(!strcmp(key, "a/b/x") && !strcmp(ext, "y.flac"), "split a/b/x.y.flac: '%s' '%s'", key, ext);
    srt_wds_split_name("000001.flac", key, sizeof key, &ext);
    TEST_CHECK(!strcmp(key, "000001") && !strcmp(ext, "flac"), "split 000001.flac: '%s' '%s'", key, ext);
    srt_wds_split_name("d.v1/noext", key, sizeof key, &ext);
    TEST_CHECK(!strcmp(key, "d.v1/noext") && !strcmp(ext, ""), "split d.v1/noext: '%s' '%s'", key, ext);
    srt_wds_split_name("abcdef.wav", key, 4, &ext);
    TEST_CHECK(!strcmp(key, "abc") && !strcmp(ext, "wav"), "split truncated key: '%s'", key);
}

/* ---------------------------------------------------------------- manifests */

static void test_manifests(void) {
    char dir[512], path[700], cmd[800];
    pathf(dir, sizeof dir, "%s/manifest/sub", tmp_root);
    pathf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    run(cmd);
    pathf(path, sizeof path, "%s/list.csv", dir);
    const char *csv = "\xEF\xBB\xBFid,audio,text\r\n"
                      "1,clips/a.wav,\"hello, \"\"world\"\"\"\r\n"
                      "2,/abs/b.flac,\"two\r\nlines\"\r\n"
                      "\r\n"
                      "3,c d.mp3,\r\n";
    write_all(path, csv, strlen(csv));
    srt_manifest_row *rows = NULL;
    size_t n = 0;
    srt_status st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_OK && n == 3, "csv manifest: %s (%zu rows)", srt_last_error(), n);
    if (st == SRT_OK && n == 3) {
        char want[800];
        pathf(want, sizeof want, "%s/clips/a.wav", dir);
        TEST_CHECK(!strcmp(rows[0].path, want), "relative path: %s", rows[0].path);
        TEST_CHECK(!strcmp(rows[1].path, "/abs/b.flac"), "absolute path: %s", rows[1].path);
        pathf(want, sizeof want, "%s/c d.mp3", dir);
        TEST_CHECK(!strcmp(rows[2].path, want), "path with a space: %s", rows[2].path);
        TEST_CHECK(extra_equal(rows[0].extra_json, "{\"id\":\"1\",\"text\":\"hello, \\\"world\\\"\"}"), "row 1 extra: %s", rows[0].extra_json);
        TEST_CHECK(extra_equal(rows[1].extra_json, "{\"id\":\"2\",\"text\":\"two\\r\\nlines\"}"), "row 2 extra: %s", rows[1].extra_json);
        TEST_CHECK(extra_equal(rows[2].extra_json, "{\"id\":\"3\",\"text\":\"\"}"), "row 3 extra: %s", rows[2].extra_json);
        TEST_CHECK(rows[0].line == 2 && rows[1].line == 3 && rows[2].line == 6, "lines %d %d %d", rows[0].line,
                   rows[1].line, rows[2].line);
    }
    srt_manifest_free(rows, n);
    /* an explicit path column; a missing one names the manifest */
    st = srt_manifest_read(path, "text", &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "list.csv:6"), "empty path: %s", srt_last_error());
    st = srt_manifest_read(path, "wav", &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "list.csv") && strstr(srt_last_error(), "wav"),
               "missing --path-column: %s", srt_last_error());
    const char *nopath = "id,text\n1,a\n";
    pathf(path, sizeof path, "%s/nopath.csv", dir);
    write_all(path, nopath, strlen(nopath));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "nopath.csv"), "missing path column: %s", srt_last_error());
    const char *ragged = "path,text\na.wav,x\nb.wav\n";
    pathf(path, sizeof path, "%s/ragged.csv", dir);
    write_all(path, ragged, strlen(ragged));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "ragged.csv:3"), "ragged row: %s", srt_last_error());
    const char *open_quote = "path,text\na.wav,\"never closed\n";
    pathf(path, sizeof path, "%s/quote.csv", dir);
    write_all(path, open_quote, strlen(open_quote));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "quote.csv:2"), "open quote: %s", srt_last_error());
    /* no final line break is fine in a manifest */
    const char *nolf = "file,text\nx.wav,y";
    pathf(path, sizeof path, "%s/nolf.csv", dir);
    write_all(path, nolf, strlen(nolf));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_OK && n == 1 && extra_equal(rows[0].extra_json, "{\"text\":\"y\"}"), "no final LF: %s", srt_last_error());
    if (st == SRT_OK) srt_manifest_free(rows, n);

    /* JSONL: values other than strings stay JSON */
    const char *jl = "{\"audio_filepath\":\"x/1.wav\",\"duration\":1.5,\"speaker\":{\"id\":7,\"name\":\"Zoë\"},\"tags\":[\"a\",\"b\"],\"ok\":true,\"none\":null}\n"
                     "\n"
                     "{\"audio_filepath\":\"/abs/2.wav\",\"text\":\"quote \\\" and , comma\"}\n";
    pathf(path, sizeof path, "%s/list.jsonl", dir);
    write_all(path, jl, strlen(jl));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_OK && n == 2, "jsonl manifest: %s", srt_last_error());
    if (st == SRT_OK && n == 2) {
        char want[800];
        pathf(want, sizeof want, "%s/x/1.wav", dir);
        TEST_CHECK(!strcmp(rows[0].path, want) && !strcmp(rows[1].path, "/abs/2.wav"), "jsonl paths %s %s", rows[0].path, rows[1].path);
        TEST_CHECK(extra_equal(rows[0].extra_json, "{\"duration\":1.5,\"speaker\":{\"id\":7,\"name\":\"Zoë\"},\"tags\":[\"a\",\"b\"],\"ok\":true,\"none\":null}"),
                   "jsonl extra: %s", rows[0].extra_json);
        TEST_CHECK(extra_equal(rows[1].extra_json, "{\"text\":\"quote \\\" and , comma\"}"), "jsonl extra 2: %s", rows[1].extra_json);
        TEST_CHECK(rows[0].line == 1 && rows[1].line == 3, "jsonl lines %d %d", rows[0].line, rows[1].line);
        srt_manifest_free(rows, n);
    }
    const char *jbad = "{\"path\":\"a.wav\"}\n{\"text\":\"no path\"}\n";
    pathf(path, sizeof path, "%s/bad.jsonl", dir);
    write_all(path, jbad, strlen(jbad));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.jsonl:2"), "jsonl no path: %s", srt_last_error());
    const char *jbad2 = "{\"path\":\"a.wav\"}\n{\"path\": 3}\n";
    write_all(path, jbad2, strlen(jbad2));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.jsonl:2"), "jsonl numeric path: %s", srt_last_error());
    const char *jbad3 = "{\"path\":\"a.wav\"}\n{\"path\":\"b.wav\"\n";
    write_all(path, jbad3, strlen(jbad3));
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_FORMAT && strstr(srt_last_error(), "bad.jsonl:2"), "jsonl broken line: %s", srt_last_error());
    pathf(path, sizeof path, "%s/missing.csv", dir);
    st = srt_manifest_read(path, NULL, &rows, &n);
    TEST_CHECK(st == SRT_ERR_IO && strstr(srt_last_error(), "missing.csv"), "missing manifest: %s", srt_last_error());
}

/* ---------------------------------------------------------------- segmentation */

static void test_find_cut(void) {
    const int sr = 24000;
    int64_t n = 30 * sr, max = 10 * sr;
    float *x = malloc(sizeof(float) * (size_t)n);
    test_fill_uniform(x, (size_t)n, 5, -0.5f, 0.5f);
    /* no silence: the fixed-length cut */
    TEST_CHECK(srt_ds_find_cut(x, n, sr, max) == max, "noise: cut %lld", (long long)srt_ds_find_cut(x, n, sr, max));
    /* the end of the recording */
    TEST_CHECK(srt_ds_find_cut(x, max, sr, max) == max && srt_ds_find_cut(x, 1234, sr, max) == 1234, "n_avail <= max");
    /* a silence gap at 7.0 .. 7.3 s: the cut falls inside it, and the same again */
    int64_t g0 = 7 * sr, g1 = 7 * sr + 3 * sr / 10;
    for (int64_t i = g0; i < g1; i++) x[i] = 0;
    int64_t cut = srt_ds_find_cut(x, n, sr, max);
    TEST_CHECK(cut > g0 && cut < g1, "gap at [%lld, %lld): cut %lld", (long long)g0, (long long)g1, (long long)cut);
    TEST_CHECK(srt_ds_find_cut(x, n, sr, max) == cut, "deterministic");
    /* a gap in the first half is not used */
    test_fill_uniform(x, (size_t)n, 5, -0.5f, 0.5f);
    for (int64_t i = 2 * sr; i < 3 * sr; i++) x[i] = 0;
    TEST_CHECK(srt_ds_find_cut(x, n, sr, max) == max, "gap in the first half: cut %lld", (long long)srt_ds_find_cut(x, n, sr, max));
    /* a quiet (not silent) stretch in a loud recording: below 10% of the median RMS */
    test_fill_uniform(x, (size_t)n, 6, -0.9f, 0.9f);
    for (int64_t i = 8 * sr; i < 8 * sr + sr / 2; i++) x[i] *= 0.05f;   /* -26 dB re the rest, above -40 dBFS */
    cut = srt_ds_find_cut(x, n, sr, max);
    TEST_CHECK(cut > 8 * sr && cut < 8 * sr + sr / 2, "quiet stretch: cut %lld", (long long)cut);
    /* two gaps: the quieter one wins */
    test_fill_uniform(x, (size_t)n, 7, -0.5f, 0.5f);
    for (int64_t i = 6 * sr; i < 6 * sr + sr / 5; i++) x[i] *= 0.01f;
    for (int64_t i = 9 * sr; i < 9 * sr + sr / 5; i++) x[i] = 0;
    cut = srt_ds_find_cut(x, n, sr, max);
    TEST_CHECK(cut > 9 * sr && cut < 9 * sr + sr / 5, "two gaps: cut %lld", (long long)cut);
    /* digital silence everywhere: a cut in (max/2, max] */
    memset(x, 0, sizeof(float) * (size_t)n);
    cut = srt_ds_find_cut(x, n, sr, max);
    TEST_CHECK(cut > max / 2 && cut <= max, "silence: cut %lld", (long long)cut);
    /* tiny limits never return 0 */
    TEST_CHECK(srt_ds_find_cut(x, n, sr, 1) == 1 && srt_ds_find_cut(x, n, sr, 100) == 100, "tiny max");
    free(x);
}

/* Test helper for tests/test_detokenize.sh: write one shard with one item per comma-separated key; item i holds
 * the codes of file i (mod the count) of the comma-separated CODES list (files of `snacrt encode`). */
static int write_shard_main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: test_ds_format --write-shard MODEL_DIR CODES[,CODES...] FORMAT OUT_DIR NAME KEY[,KEY...]\n");
        return 2;
    }
    srt_codec *codec = NULL;
    srt_codec_info info;
    srt_ds_format fmt;
    srt_codes codes[8] = {{0}};
    int n_codes = 0;
    srt_status st = srt_codec_load(argv[2], NULL, &codec);
    if (st == SRT_OK) st = srt_codec_get_info(codec, &info);
    if (st == SRT_OK) st = srt_ds_format_parse(argv[4], &fmt);
    char *files = strdup(argv[3]), *save = NULL;
    for (char *c = strtok_r(files, ",", &save); c && st == SRT_OK && n_codes < 8; c = strtok_r(NULL, ",", &save)) {
        size_t size = 0;
        char *data = read_all(c, &size);
        if (!data) { fprintf(stderr, "cannot read %s\n", c); st = SRT_ERR_IO; break; }
        st = srt_codes_parse(&info, data, size, SRT_CODES_AUTO, c, &codes[n_codes++]);
        free(data);
    }
    free(files);
    srt_ds_shard_writer *w = NULL;
    if (st == SRT_OK) st = srt_ds_shard_begin(argv[5], argv[6], fmt, &info, &w);
    char *keys = strdup(argv[7]);
    save = NULL;
    int i = 0;
    for (char *k = strtok_r(keys, ",", &save); k && st == SRT_OK; k = strtok_r(NULL, ",", &save), i++) {
        const srt_codes *c = &codes[i % n_codes];
        srt_ds_item it = {.key = k, .source = argv[3], .n_samples = c->n_samples, .sample_rate = info.sample_rate,
                          .codes = *c, .extra_json = "{\"text\":\"hello, world\"}"};
        st = srt_ds_shard_add(w, &it);
    }
    free(keys);
    if (w) {
        if (st == SRT_OK) st = srt_ds_shard_commit(w, NULL, NULL);
        else srt_ds_shard_abort(w);
    }
    if (st != SRT_OK) fprintf(stderr, "write-shard: %s\n", srt_last_error());
    for (int k = 0; k < n_codes; k++) srt_codes_free(&codes[k]);
    srt_codec_free(codec);
    return st == SRT_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--write-shard")) return write_shard_main(argc, argv);
    /* tmpfs when there is one: the commits fsync */
    pathf(tmp_root, sizeof tmp_root, "%s/test_ds_format.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmp_root)) { perror("mkdtemp"); return 1; }
    const char *models[2] = {"tiny24", "tiny44"};
    for (int m = 0; m < 2; m++) {
        char rel[128], dir[512];
        pathf(rel, sizeof rel, "tests/data/snac/%s", models[m]);
        srt_codec *codec = NULL;
        srt_status st = srt_codec_load(test_src_path(rel, dir, sizeof dir), NULL, &codec);
        TEST_CHECK(st == SRT_OK, "load %s: %s", models[m], srt_last_error());
        if (st != SRT_OK) continue;
        srt_codec_info info;
        srt_codec_get_info(codec, &info);
        srt_codec_free(codec);
        test_round_trips(&info, models[m]);
        test_truncation(&info, models[m]);
        if (m == 0) {
            test_csv_columns(&info);
            test_atomic_commit(&info);
        }
    }
    test_tar();
    test_manifests();
    test_find_cut();
    rm_rf(tmp_root);
    TEST_MAIN_END();
}
