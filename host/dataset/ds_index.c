/* ds_index.c: `snacrt merge-index`: join the plans and done-logs of the tokenize workers in an output folder into
 *   index.json          settings, totals, the shard list (name, worker, files, items, errors, audio, bytes) and
 *                       items_digest: FNV-1a 64 over the key-sorted "key\toffset\tn_samples\tcodes_hash\n" lines,
 *                       the same for any number of workers over the same inputs;
 *   index.items.jsonl   every item sorted by key: {"key","shard","offset","n_samples","codes_hash"};
 *   errors.jsonl        every failed input sorted by (key, source): {"key","source","error"}.
 * Checks first (nothing is written when one fails): all workers 0..N-1 of one run (same inputs fingerprint and
 * settings), every planned shard committed exactly once with its files present, no key twice. */
#include "dataset/ds_pipeline_internal.h"
#include "dataset/ds_internal.h"
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

typedef struct idx_item {
    const char *key;          /* into the done-log JSON */
    const char *shard;
    double offset, n_samples;
    const char *hash;
} idx_item;

typedef struct idx_error {
    const char *key, *source, *error;
} idx_error;

/* A small growable message list for the failed checks. */
typedef struct report {
    char text[4096];
    int n;
} report;

static void report_add(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(report *r, const char *fmt, ...) {
    if (r->n++ >= 8) return;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "\n  ");
    len = strlen(r->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text + len, sizeof r->text - len, fmt, ap);
    va_end(ap);
}

static const char *jstr(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int compare_items(const void *a, const void *b) {
    const idx_item *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->shard, y->shard);
}
static int compare_errors(const void *a, const void *b) {
    const idx_error *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (!c) c = strcmp(x->source, y->source);
    return c ? c : strcmp(x->error, y->error);
}

/* The settings every worker must share, as one canonical string. */
static char *run_identity(const cJSON *plan) {
    cJSON *c = cJSON_CreateObject();
    if (!c) return NULL;
    static const char *keys[] = {"version", "num_workers", "format", "shard_size", "max_seconds", "inputs_fingerprint",
                                 "entries", "model", NULL};
    for (int i = 0; keys[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(plan, keys[i]);
        if (v) cJSON_AddItemToObject(c, keys[i], cJSON_Duplicate(v, 1));
    }
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

typedef struct worker_files {
    cJSON *plan;
    cJSON **lines;
    int64_t n_lines;
} worker_files;

static srt_status append_line(ds_buf *b, cJSON *o) {
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t) return srt_error(SRT_ERR_NOMEM, "merge-index: out of memory");
    ds_buf_puts(b, t);
    ds_buf_puts(b, "\n");
    free(t);
    return SRT_OK;
}

static srt_status write_in(const char *dir, const char *name, const char *data, size_t n) {
    char *p = srt_path_join(dir, name);
    if (!p) return SRT_ERR_NOMEM;
    srt_status st = ds_write_atomic(p, data ? data : "", data ? n : 0);
    free(p);
    return st;
}

/* Read the plans: *n_workers from the file names; every worker present and of one run. */
static srt_status load_plans(const char *out_dir, worker_files **out, int *n_out, report *rep) {
    DIR *d = opendir(out_dir);
    if (!d) return srt_error(SRT_ERR_IO, "%s: cannot list: %s", out_dir, strerror(errno));
    int n_workers = -1;
    worker_files *w = NULL;
    srt_status st = SRT_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && st == SRT_OK) {
        int I = 0, N = 0, end = 0;
        if (sscanf(de->d_name, "w%5d-of%5d.plan.json%n", &I, &N, &end) != 2 || de->d_name[end] || N < 1 || I >= N)
            continue;
        if (n_workers < 0) {
            n_workers = N;
            w = srt_calloc((size_t)N, sizeof *w, "merge-index workers");
            if (!w) { st = SRT_ERR_NOMEM; break; }
        } else if (N != n_workers) {
            st = srt_error(SRT_ERR_FORMAT, "%s holds runs with %d and %d workers; merge one run per folder",
                           out_dir, n_workers, N);
            break;
        }
        char *path = srt_path_join(out_dir, de->d_name), *text = NULL;
        st = path ? srt_read_file(path, &text, NULL) : SRT_ERR_NOMEM;
        if (st == SRT_OK) {
            w[I].plan = cJSON_Parse(text);
            if (!cJSON_IsObject(w[I].plan)) st = srt_error(SRT_ERR_FORMAT, "%s is not a plan", path);
        }
        free(text);
        free(path);
    }
    closedir(d);
    if (st == SRT_OK && n_workers < 0)
        st = srt_error(SRT_ERR_NOT_FOUND, "%s holds no tokenize output (no w*-of*.plan.json)", out_dir);
    char *ident0 = NULL;
    for (int i = 0; st == SRT_OK && i < n_workers; i++) {
        char prefix[64];
        ds_worker_prefix(i, n_workers, prefix, sizeof prefix);
        if (!w[i].plan) { report_add(rep, "worker %s: missing (no plan: it never started here)", prefix); continue; }
        char *ident = run_identity(w[i].plan);
        if (!ident) { st = SRT_ERR_NOMEM; break; }
        if (!ident0) ident0 = ident;
        else {
            if (strcmp(ident, ident0))
                report_add(rep, "worker %s: its plan belongs to another run (inputs or settings differ)", prefix);
            free(ident);
        }
    }
    free(ident0);
    *out = w;
    *n_out = n_workers < 0 ? 0 : n_workers;
    return st;
}

static void free_workers(worker_files *w, int n) {
    if (!w) return;
    for (int i = 0; i < n; i++) {
        cJSON_Delete(w[i].plan);
        ds_done_log_lines_free(w[i].lines, w[i].n_lines);
    }
    free(w);
}

srt_status srt_ds_merge_index(const char *out_dir, srt_ds_merge_result *result) {
    memset(result, 0, sizeof *result);
    report rep = {{0}, 0};
    worker_files *w = NULL;
    int n_workers = 0;
    idx_item *items = NULL;
    idx_error *errors = NULL;
    int64_t n_items = 0, cap_items = 0, n_errors = 0, cap_errors = 0;
    cJSON *index = NULL, *shards = NULL;
    ds_buf items_text = {0}, errors_text = {0};
    srt_status st = load_plans(out_dir, &w, &n_workers, &rep);
    if (st != SRT_OK) goto done;
    index = cJSON_CreateObject();
    shards = cJSON_CreateArray();
    if (!index || !shards) { st = SRT_ERR_NOMEM; goto done; }
    double audio_samples = 0;
    int64_t total_shards = 0;
    for (int i = 0; i < n_workers; i++) {
        if (!w[i].plan) continue;
        char prefix[64], name[128];
        ds_worker_prefix(i, n_workers, prefix, sizeof prefix);
        snprintf(name, sizeof name, "%s.done.jsonl", prefix);
        char *path = srt_path_join(out_dir, name);
        size_t valid = 0;
        if (!path) { st = SRT_ERR_NOMEM; goto done; }
        if (srt_file_exists(path)) st = ds_done_log_read(path, &w[i].lines, &w[i].n_lines, &valid);
        free(path);
        if (st != SRT_OK) goto done;
        int64_t planned = (int64_t)jnum(w[i].plan, "shards");
        unsigned char *seen = srt_calloc((size_t)(planned > 0 ? planned : 1), 1, "merge-index shards");
        if (!seen) { st = SRT_ERR_NOMEM; goto done; }
        for (int64_t l = 0; l < w[i].n_lines; l++) {
            cJSON *line = w[i].lines[l];
            int64_t k = (int64_t)jnum(line, "k");
            const char *shard = jstr(line, "shard");
            if (k < 0 || k >= planned || !shard || seen[k]) {
                report_add(&rep, "worker %s: done-log line %lld names shard %lld twice or outside the plan", prefix,
                           (long long)l + 1, (long long)k);
                continue;
            }
            seen[k] = 1;
            total_shards++;
            const cJSON *files = cJSON_GetObjectItemCaseSensitive(line, "files"), *f;
            cJSON_ArrayForEach(f, files) {
                char *fp = cJSON_IsString(f) ? srt_path_join(out_dir, f->valuestring) : NULL;
                if (!fp || !srt_file_exists(fp)) report_add(&rep, "shard file %s is missing", cJSON_IsString(f) ? f->valuestring : "?");
                free(fp);
            }
            cJSON *sh = cJSON_CreateObject();
            if (!sh) { st = SRT_ERR_NOMEM; free(seen); goto done; }
            cJSON_AddStringToObject(sh, "name", shard);
            cJSON_AddNumberToObject(sh, "worker", i);
            cJSON_AddItemToObject(sh, "files", cJSON_Duplicate(files, 1));
            static const char *counts[] = {"n_units", "n_items", "n_errors", "audio_samples", "bytes", NULL};
            for (int c = 0; counts[c]; c++) cJSON_AddNumberToObject(sh, counts[c] + (counts[c][0] == 'n' ? 2 : 0), jnum(line, counts[c]));
            cJSON_AddItemToArray(shards, sh);
            audio_samples += jnum(line, "audio_samples");
            const cJSON *row;
            cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(line, "items")) {
                if (cJSON_GetArraySize(row) != 4) continue;
                if (n_items == cap_items) {
                    cap_items = cap_items ? cap_items * 2 : 1024;
                    idx_item *v = realloc(items, sizeof *v * (size_t)cap_items);
                    if (!v) { st = srt_error(SRT_ERR_NOMEM, "merge-index: out of memory"); free(seen); goto done; }
                    items = v;
                }
                idx_item *it = &items[n_items++];
                it->key = cJSON_GetArrayItem(row, 0)->valuestring;
                it->shard = shard;
                it->offset = cJSON_GetArrayItem(row, 1)->valuedouble;
                it->n_samples = cJSON_GetArrayItem(row, 2)->valuedouble;
                it->hash = cJSON_GetArrayItem(row, 3)->valuestring;
                if (!it->key || !it->hash) n_items--;
            }
            cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(line, "errors")) {
                if (n_errors == cap_errors) {
                    cap_errors = cap_errors ? cap_errors * 2 : 64;
                    idx_error *v = realloc(errors, sizeof *v * (size_t)cap_errors);
                    if (!v) { st = srt_error(SRT_ERR_NOMEM, "merge-index: out of memory"); free(seen); goto done; }
                    errors = v;
                }
                idx_error *e = &errors[n_errors++];
                e->key = jstr(row, "key");
                e->source = jstr(row, "source");
                e->error = jstr(row, "error");
                if (!e->key || !e->source || !e->error) n_errors--;
            }
        }
        for (int64_t k = 0; k < planned; k++) {
            if (seen[k]) continue;
            srt_ds_shard_name(i, n_workers, k, name, sizeof name);
            report_add(&rep, "shard %s is not committed (run that worker again with --resume)", name);
        }
        free(seen);
    }
    if (n_items) qsort(items, (size_t)n_items, sizeof *items, compare_items);
    if (n_errors) qsort(errors, (size_t)n_errors, sizeof *errors, compare_errors);
    uint64_t digest = DS_FNV_OFFSET;
    for (int64_t i = 0; i < n_items; i++) {
        if (i > 0 && !strcmp(items[i].key, items[i - 1].key)) {
            result->duplicates++;
            report_add(&rep, "key '%s' appears twice (shards %s and %s)", items[i].key, items[i - 1].shard, items[i].shard);
        }
        char line[128];
        digest = ds_fnv1a(digest, items[i].key, strlen(items[i].key));
        snprintf(line, sizeof line, "\t%.0f\t%.0f\t%s\n", items[i].offset, items[i].n_samples, items[i].hash);
        digest = ds_fnv1a(digest, line, strlen(line));
        cJSON *o = cJSON_CreateObject();
        if (!o) { st = SRT_ERR_NOMEM; goto done; }
        cJSON_AddStringToObject(o, "key", items[i].key);
        cJSON_AddStringToObject(o, "shard", items[i].shard);
        cJSON_AddNumberToObject(o, "offset", items[i].offset);
        cJSON_AddNumberToObject(o, "n_samples", items[i].n_samples);
        cJSON_AddStringToObject(o, "codes_hash", items[i].hash);
        SRT_TRY_GOTO(append_line(&items_text, o), done);
    }
    for (int64_t i = 0; i < n_errors; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { st = SRT_ERR_NOMEM; goto done; }
        cJSON_AddStringToObject(o, "key", errors[i].key);
        cJSON_AddStringToObject(o, "source", errors[i].source);
        cJSON_AddStringToObject(o, "error", errors[i].error);
        SRT_TRY_GOTO(append_line(&errors_text, o), done);
    }
    if (rep.n) {
        st = srt_error(SRT_ERR_FORMAT, "%s: %d problem(s), nothing written:%s%s", out_dir, rep.n, rep.text,
                       rep.n > 8 ? "\n  ..." : "");
        goto done;
    }
    SRT_TRY_GOTO(ds_buf_status(&items_text, "merge-index items"), done);
    SRT_TRY_GOTO(ds_buf_status(&errors_text, "merge-index errors"), done);
    char hex[17];
    ds_hex64(digest, hex);
    const cJSON *plan0 = w[0].plan;
    cJSON_AddNumberToObject(index, "version", 1);
    cJSON_AddItemToObject(index, "model", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(plan0, "model"), 1));
    cJSON_AddStringToObject(index, "format", jstr(plan0, "format"));
    cJSON_AddNumberToObject(index, "num_workers", n_workers);
    cJSON_AddNumberToObject(index, "shard_size", jnum(plan0, "shard_size"));
    cJSON_AddNumberToObject(index, "max_seconds", jnum(plan0, "max_seconds"));
    cJSON_AddStringToObject(index, "inputs_fingerprint", jstr(plan0, "inputs_fingerprint"));
    cJSON *totals = cJSON_AddObjectToObject(index, "totals");
    if (totals) {
        cJSON_AddNumberToObject(totals, "shards", (double)total_shards);
        cJSON_AddNumberToObject(totals, "items", (double)n_items);
        cJSON_AddNumberToObject(totals, "errors", (double)n_errors);
        cJSON_AddNumberToObject(totals, "audio_samples", audio_samples);
        double rate = jnum(cJSON_GetObjectItemCaseSensitive(plan0, "model"), "sample_rate");
        cJSON_AddNumberToObject(totals, "audio_hours", rate > 0 ? audio_samples / rate / 3600.0 : 0);
    }
    cJSON_AddStringToObject(index, "items_digest", hex);
    cJSON_AddStringToObject(index, "items_file", "index.items.jsonl");
    cJSON_AddStringToObject(index, "errors_file", "errors.jsonl");
    cJSON_AddItemToObject(index, "shards", shards);
    shards = NULL;
    char *text = cJSON_Print(index);
    if (!text) { st = srt_error(SRT_ERR_NOMEM, "merge-index: out of memory"); goto done; }
    st = write_in(out_dir, "index.items.jsonl", items_text.p, items_text.n);
    if (st == SRT_OK) st = write_in(out_dir, "errors.jsonl", errors_text.p, errors_text.n);
    if (st == SRT_OK) {
        size_t n = strlen(text);
        char *t2 = realloc(text, n + 2);
        if (t2) { text = t2; text[n] = '\n'; text[n + 1] = 0; }
        st = write_in(out_dir, "index.json", text, strlen(text));
    }
    free(text);
    if (st == SRT_OK) {
        result->n_workers = n_workers;
        result->shards = total_shards;
        result->items = n_items;
        result->errors = n_errors;
        result->audio_seconds = 0;
        double rate = jnum(cJSON_GetObjectItemCaseSensitive(plan0, "model"), "sample_rate");
        if (rate > 0) result->audio_seconds = audio_samples / rate;
        memcpy(result->items_digest, hex, sizeof hex);
    }
done:
    ds_buf_free(&items_text);
    ds_buf_free(&errors_text);
    cJSON_Delete(shards);
    cJSON_Delete(index);
    free(items);
    free(errors);
    free_workers(w, n_workers);
    return st;
}
