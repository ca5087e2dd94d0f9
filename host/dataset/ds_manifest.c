/* ds_manifest.c: CSV (RFC 4180, header row) and JSONL manifests of an audio dataset: one row per audio file,
 * the path column resolved against the manifest's folder, every other column kept as passthrough JSON. */
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <string.h>

/* file_name: Hugging Face's AudioFolder (metadata.csv / metadata.jsonl beside the audio) */
static const char *const default_path_columns[] = {"path", "audio", "file", "filename", "audio_path",
                                                   "audio_filepath", "file_name", NULL};

typedef struct row_list { srt_manifest_row *rows; size_t n, cap; } row_list;

static srt_status grow_rows(row_list *l, const char *manifest) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        srt_manifest_row *q = realloc(l->rows, cap * sizeof *q);
        if (!q) return srt_error(SRT_ERR_NOMEM, "%s: out of memory", manifest);
        l->rows = q;
        l->cap = cap;
    }
    return SRT_OK;
}

/* A row that is wrong: it becomes an error item (errors.jsonl) and reading goes on. */
static srt_status push_bad_row(row_list *l, const char *manifest, int line, const char *message) {
    SRT_TRY(grow_rows(l, manifest));
    char *error = srt_strdup(message);
    if (!error) return srt_error(SRT_ERR_NOMEM, "%s: out of memory", manifest);
    l->rows[l->n++] = (srt_manifest_row){.line = line, .error = error};
    return SRT_OK;
}

static srt_status push_row(row_list *l, const char *manifest, const char *dir, const char *path, char *extra, int line) {
    if (!*path) {
        free(extra);
        char msg[600];
        snprintf(msg, sizeof msg, "%s:%d: empty audio path", manifest, line);
        return push_bad_row(l, manifest, line, msg);
    }
    if (grow_rows(l, manifest) != SRT_OK) { free(extra); return SRT_ERR_NOMEM; }
    char *full = path[0] == '/' || !dir ? srt_strdup(path) : srt_path_join(dir, path);
    if (!full) { free(extra); return srt_error(SRT_ERR_NOMEM, "%s: out of memory", manifest); }
    l->rows[l->n++] = (srt_manifest_row){.path = full, .extra_json = extra, .line = line};
    return SRT_OK;
}

/* The folder of the manifest (NULL when it is in the current folder). */
static char *manifest_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return NULL;
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int is_path_column(const char *name, const char *path_column) {
    if (path_column) return !strcmp(name, path_column);
    return 0;
}

static srt_status read_csv(FILE *f, const char *manifest, const char *dir, const char *path_column, row_list *l) {
    ds_csv_record head = {0}, rec = {0};
    int line = 1, eof = 0;
    srt_status st = ds_csv_read_record(f, manifest, &line, 0, 1, &head, &eof);
    if (st == SRT_OK && eof) st = srt_error(SRT_ERR_FORMAT, "%s: empty manifest (no header row)", manifest);
    int pcol = -1;
    if (st == SRT_OK) {
        /* a UTF-8 byte order mark before the first column name */
        if (!strncmp(head.fields[0], "\xEF\xBB\xBF", 3)) memmove(head.fields[0], head.fields[0] + 3, strlen(head.fields[0]) - 2);
        if (path_column) {
            for (size_t c = 0; c < head.n && pcol < 0; c++) if (is_path_column(head.fields[c], path_column)) pcol = (int)c;
        } else {
            for (const char *const *p = default_path_columns; *p && pcol < 0; p++)
                for (size_t c = 0; c < head.n && pcol < 0; c++) if (!strcmp(head.fields[c], *p)) pcol = (int)c;
        }
        if (pcol < 0) {
            ds_buf cols = {0};
            for (size_t c = 0; c < head.n; c++) { if (c) ds_buf_puts(&cols, ", "); ds_buf_puts(&cols, head.fields[c]); }
            st = srt_error(SRT_ERR_FORMAT, "%s: no audio path column (%s%s) among the columns: %s", manifest,
                           path_column ? "--path-column " : "looked for path, audio, file, filename, audio_path, audio_filepath, file_name",
                           path_column ? path_column : "", cols.p ? cols.p : "");
            ds_buf_free(&cols);
        }
    }
    while (st == SRT_OK) {
        st = ds_csv_read_record(f, manifest, &line, 0, 1, &rec, &eof);
        if (st == SRT_ERR_FORMAT) {   /* broken quoting: this record is an error item, reading goes on next line */
            st = push_bad_row(l, manifest, rec.line, srt_last_error());
            int c;
            while ((c = getc(f)) != EOF && c != '\n') {}
            if (c == '\n') line++;
            continue;
        }
        if (st != SRT_OK || eof) break;
        if (rec.n != head.n) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s:%d: %zu fields, the header has %zu", manifest, rec.line, rec.n, head.n);
            st = push_bad_row(l, manifest, rec.line, msg);
            continue;
        }
        ds_buf extra = {0};
        ds_buf_puts(&extra, "{");
        int first = 1;
        for (size_t c = 0; c < rec.n; c++) {
            if ((int)c == pcol) continue;
            if (!first) ds_buf_puts(&extra, ",");
            first = 0;
            ds_buf_json_string(&extra, head.fields[c]);
            ds_buf_puts(&extra, ":");
            ds_buf_json_string(&extra, rec.fields[c]);
        }
        ds_buf_puts(&extra, "}");
        if ((st = ds_buf_status(&extra, "a manifest row")) != SRT_OK) { ds_buf_free(&extra); break; }
        st = push_row(l, manifest, dir, rec.fields[pcol], extra.p, rec.line);
    }
    ds_csv_record_free(&head);
    ds_csv_record_free(&rec);
    return st;
}

static srt_status read_jsonl(FILE *f, const char *manifest, const char *dir, const char *path_column, row_list *l) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int line = 0;
    srt_status st = SRT_OK;
    while (st == SRT_OK && (n = getline(&buf, &cap, f)) >= 0) {
        line++;
        size_t i = 0;
        while (i < (size_t)n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
        if (i == (size_t)n) continue;
        if (line == 1 && n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) i = 3;
        cJSON *o = cJSON_ParseWithLength(buf + i, (size_t)n - i);
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            char msg[600];
            snprintf(msg, sizeof msg, "%s:%d: not a JSON object", manifest, line);
            st = push_bad_row(l, manifest, line, msg);
            continue;
        }
        cJSON *pitem = NULL;
        if (path_column) pitem = cJSON_GetObjectItemCaseSensitive(o, path_column);
        else
            for (const char *const *p = default_path_columns; *p && !pitem; p++) pitem = cJSON_GetObjectItemCaseSensitive(o, *p);
        if (!cJSON_IsString(pitem)) {
            char msg[900];
            snprintf(msg, sizeof msg, "%s:%d: no audio path %s (%s)", manifest, line,
                     pitem ? "string in the column" : "column", path_column ? path_column :
                     "looked for path, audio, file, filename, audio_path, audio_filepath, file_name");
            cJSON_Delete(o);
            st = push_bad_row(l, manifest, line, msg);
            continue;
        }
        char *path = srt_strdup(pitem->valuestring);
        cJSON_Delete(cJSON_DetachItemViaPointer(o, pitem));
        char *extra = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!path || !extra) { free(path); free(extra); st = srt_error(SRT_ERR_NOMEM, "%s: out of memory", manifest); break; }
        char *copy = srt_strdup(extra);   /* rows are freed with free(), not cJSON_free */
        cJSON_free(extra);
        if (!copy) { free(path); st = SRT_ERR_NOMEM; break; }
        st = push_row(l, manifest, dir, path, copy, line);
        free(path);
    }
    if (st == SRT_OK && ferror(f)) st = srt_error(SRT_ERR_IO, "%s: read error", manifest);
    free(buf);
    return st;
}

srt_status srt_manifest_read(const char *manifest_path, const char *path_column, srt_manifest_row **rows,
                             size_t *n_rows) {
    *rows = NULL;
    *n_rows = 0;
    FILE *f = fopen(manifest_path, "rb");
    if (!f) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", manifest_path, strerror(errno));
    /* by extension (.jsonl/.json vs .csv); otherwise JSONL when the first non-blank character opens an object */
    const char *ext = strrchr(manifest_path, '.');
    int jsonl;
    if (ext && (!strcmp(ext, ".jsonl") || !strcmp(ext, ".json") || !strcmp(ext, ".ndjson"))) jsonl = 1;
    else if (ext && !strcmp(ext, ".csv")) jsonl = 0;
    else {
        int c;
        while ((c = getc(f)) == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xEF || c == 0xBB || c == 0xBF) {}
        jsonl = c == '{';
        rewind(f);
    }
    char *dir = manifest_dir(manifest_path);
    row_list l = {0};
    srt_status st = jsonl ? read_jsonl(f, manifest_path, dir, path_column, &l)
                          : read_csv(f, manifest_path, dir, path_column, &l);
    fclose(f);
    free(dir);
    if (st != SRT_OK) { srt_manifest_free(l.rows, l.n); return st; }
    *rows = l.rows;
    *n_rows = l.n;
    return SRT_OK;
}

void srt_manifest_free(srt_manifest_row *rows, size_t n_rows) {
    for (size_t i = 0; i < n_rows; i++) {
        free(rows[i].path);
        free(rows[i].extra_json);
        free(rows[i].error);
    }
    free(rows);
}
