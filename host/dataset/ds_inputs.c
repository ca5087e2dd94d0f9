/* ds_inputs.c: the tokenizer's input list: command-line inputs (directories scanned recursively, file lists,
 * CSV/JSONL manifests, tar archives, single files) -> entries with keys, sorted by (key, path), duplicates
 * flagged, and a fingerprint of the whole list (what a resumed run or another worker must agree on). */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct entry_list {
    ds_entry *v;
    int64_t n, cap;
} entry_list;

static const char *extension(const char *name) {
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    return dot ? dot + 1 : "";
}

int ds_is_audio_name(const char *name) {
    static const char *exts[] = {"wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "aif", "aiff", "aifc", "au",
                                 "snd", "w64", "caf", "rf64", "sph", "wv", "voc", NULL};
    const char *e = extension(name);
    for (int i = 0; exts[i]; i++)
        if (!strcasecmp(e, exts[i])) return 1;
    return 0;
}

static int is_tar_name(const char *name) { return !strcasecmp(extension(name), "tar"); }

static srt_status add_entry(entry_list *l, const char *key, const char *path, const char *extra_json) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 256;
        ds_entry *v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return srt_error(SRT_ERR_NOMEM, "input list: out of memory for %lld entries", (long long)cap);
        l->v = v;
        l->cap = cap;
    }
    ds_entry *e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    e->key = srt_strdup(key);
    e->path = srt_strdup(path);
    e->is_tar = is_tar_name(path);
    e->extra_json = extra_json && strcmp(extra_json, "{}") ? srt_strdup(extra_json) : NULL;
    l->n++;
    if (!e->key || !e->path || (extra_json && strcmp(extra_json, "{}") && !e->extra_json))
        return srt_error(SRT_ERR_NOMEM, "input list: out of memory");
    return SRT_OK;
}

/* Folders already scanned (device, inode): with --follow-symlinks each is listed once, whatever links lead to it
 * (no cycles, no blow-up through many links to one folder). A linear search: folders, not files, are counted. */
typedef struct dir_set {
    struct { dev_t dev; ino_t ino; } *v;
    size_t n, cap;
} dir_set;

/* 1 when the folder was seen before; else remembers it. -1 out of memory. */
static int dir_seen(dir_set *s, const struct stat *sb) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].dev == sb->st_dev && s->v[i].ino == sb->st_ino) return 1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        void *v = realloc(s->v, cap * sizeof *s->v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].dev = sb->st_dev;
    s->v[s->n].ino = sb->st_ino;
    s->n++;
    return 0;
}

typedef struct scan_ctx {
    entry_list *l;
    const char *root;
    int follow_symlinks;
    const char *path_column;   /* of AudioFolder metadata files (NULL: the manifest defaults, file_name among them) */
    dir_set seen;
} scan_ctx;

static srt_status read_manifest(entry_list *l, const char *manifest, const char *path_column, const char *key_prefix,
                                int confine);

/* Hugging Face's AudioFolder: a folder holding metadata.jsonl or metadata.csv (a file_name column and any others)
 * is read through it: its rows are the folder's items (keys relative to the scanned root, the other columns passed
 * through), and the folder is not scanned further. Rows naming a file outside the folder are error items. 1 when the
 * folder has metadata (then *st is the result), 0 when it has none. */
static int scan_audiofolder(scan_ctx *c, const char *dir, const char *rel, srt_status *st) {
    static const char *const names[] = {"metadata.jsonl", "metadata.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *m = srt_path_join(dir, names[i]);
        if (!m) { *st = SRT_ERR_NOMEM; return 1; }
        struct stat sb;
        int found = (c->follow_symlinks ? stat(m, &sb) : lstat(m, &sb)) == 0 && S_ISREG(sb.st_mode);
        if (found) *st = read_manifest(c->l, m, c->path_column, rel, 1);
        free(m);
        if (found) return 1;
    }
    return 0;
}

/* Recursive directory scan: audio files and tar archives; keys relative to the scanned root. A symbolic link is
 * followed only with follow_symlinks; otherwise a link with an audio or tar name becomes an error item (a dataset
 * folder must not read files it only points at, e.g. /etc/passwd named x.wav) and a link to a folder is skipped. */
static srt_status scan_dir(scan_ctx *c, const char *rel, int depth) {
    if (depth > 64) return srt_error(SRT_ERR_RANGE, "%s/%s: directories nested too deeply", c->root, rel);
    char *dir = *rel ? srt_path_join(c->root, rel) : srt_strdup(c->root);
    if (!dir) return SRT_ERR_NOMEM;
    DIR *d = opendir(dir);
    if (!d) {
        srt_status st = srt_error(SRT_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
        free(dir);
        return st;
    }
    srt_status st = SRT_OK;
    if (scan_audiofolder(c, dir, rel, &st)) {
        closedir(d);
        free(dir);
        return st;
    }
    struct dirent *de;
    while (st == SRT_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;   /* ".", "..", hidden files and our own temp files */
        char *path = srt_path_join(dir, de->d_name);
        char *sub = *rel ? srt_path_join(rel, de->d_name) : srt_strdup(de->d_name);
        if (!path || !sub) { free(path); free(sub); st = SRT_ERR_NOMEM; break; }
        struct stat lsb, sb;
        int wanted = ds_is_audio_name(de->d_name) || is_tar_name(de->d_name);
        if (lstat(path, &lsb) == 0) {
            int is_link = S_ISLNK(lsb.st_mode);
            if (is_link && !c->follow_symlinks) {
                if (wanted && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                    st = add_entry(c->l, sub, path, NULL);
                    if (st == SRT_OK && !(c->l->v[c->l->n - 1].error = srt_strdup(
                            "a symbolic link: not followed without --follow-symlinks")))
                        st = SRT_ERR_NOMEM;
                }
            } else if (stat(path, &sb) == 0) {
                if (S_ISDIR(sb.st_mode)) {
                    int seen = c->follow_symlinks ? dir_seen(&c->seen, &sb) : 0;   /* no links, no cycles */
                    if (seen < 0) st = srt_error(SRT_ERR_NOMEM, "input list: out of memory");
                    else if (!seen) st = scan_dir(c, sub, depth + 1);
                } else if (S_ISREG(sb.st_mode) && wanted) {
                    st = add_entry(c->l, sub, path, NULL);
                }
            }
        }
        free(path);
        free(sub);
    }
    closedir(d);
    free(dir);
    return st;
}

static char *dirname_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return srt_strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = srt_malloc(n + 1, "a folder name");
    if (d) { memcpy(d, path, n); d[n] = 0; }
    return d;
}

/* A file list: one path per line (relative to the list's folder), blank lines and '#' comments skipped. */
static srt_status read_file_list(entry_list *l, const char *list_path) {
    char *text = NULL;
    size_t size = 0;
    SRT_TRY(srt_read_file(list_path, &text, &size));
    char *folder = dirname_of(list_path);
    srt_status st = folder ? SRT_OK : SRT_ERR_NOMEM;
    char *line = text;
    while (st == SRT_OK && line && *line) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : NULL;
        if (end) *end = 0;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || isspace((unsigned char)line[n - 1]))) line[--n] = 0;
        while (*line == ' ' || *line == '\t') line++;
        if (*line && *line != '#') {
            char *path = line[0] == '/' ? srt_strdup(line) : srt_path_join(folder, line);
            if (!path) st = SRT_ERR_NOMEM;
            else st = add_entry(l, line, path, NULL);
            free(path);
        }
        line = next;
    }
    free(folder);
    free(text);
    return st;
}

/* A manifest's rows as entries, keyed by their path relative to the manifest's folder (under key_prefix when not NULL
 * or ""). confine: a row naming a file outside the manifest's folder (absolute, or through "..") is an error item
 * (an AudioFolder found while scanning a folder reads only that folder, as the scan does). */
static srt_status read_manifest(entry_list *l, const char *manifest, const char *path_column, const char *key_prefix,
                                int confine) {
    srt_manifest_row *rows = NULL;
    size_t n = 0;
    SRT_TRY(srt_manifest_read(manifest, path_column, &rows, &n));
    char *folder = dirname_of(manifest);
    srt_status st = folder ? SRT_OK : SRT_ERR_NOMEM;
    size_t fl = folder ? strlen(folder) : 0;
    for (size_t i = 0; i < n && st == SRT_OK; i++) {
        const char *error = rows[i].error;
        const char *key = rows[i].path;
        int inside = 0;
        if (!error) {
            if (strcmp(folder, ".") && !strncmp(key, folder, fl) && key[fl] == '/') { key += fl + 1; inside = 1; }
            else if (!strcmp(folder, ".") && key[0] != '/') { if (!strncmp(key, "./", 2)) key += 2; inside = 1; }
            if (confine && (!inside || !strcmp(key, "..") || !strncmp(key, "../", 3) || strstr(key, "/../") ||
                            (strlen(key) >= 3 && !strcmp(key + strlen(key) - 3, "/..")))) {
                char msg[1200];
                snprintf(msg, sizeof msg, "%s:%d: %s is outside the folder of the metadata file", manifest,
                         rows[i].line, rows[i].path);
                free(rows[i].error);
                rows[i].error = srt_strdup(msg);
                if (!rows[i].error) { st = SRT_ERR_NOMEM; break; }
                error = rows[i].error;
            }
        }
        if (error) {   /* a bad row: an error item keyed "<manifest>:<line>" (errors.jsonl) */
            char ekey[64 + 1024];
            snprintf(ekey, sizeof ekey, "%s:%d", manifest, rows[i].line);
            st = add_entry(l, ekey, manifest, NULL);
            if (st == SRT_OK && !(l->v[l->n - 1].error = srt_strdup(error))) st = SRT_ERR_NOMEM;
            if (st == SRT_OK) l->v[l->n - 1].is_tar = 0;
            continue;
        }
        if (key_prefix && *key_prefix) {
            char *k = srt_path_join(key_prefix, key);
            if (!k) { st = SRT_ERR_NOMEM; break; }
            st = add_entry(l, k, rows[i].path, rows[i].extra_json);
            free(k);
        } else {
            st = add_entry(l, key, rows[i].path, rows[i].extra_json);
        }
    }
    free(folder);
    srt_manifest_free(rows, n);
    return st;
}

static int compare_entries(const void *a, const void *b) {
    const ds_entry *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->path, y->path);
}

void ds_entries_free(ds_entry *e, int64_t n) {
    if (!e) return;
    for (int64_t i = 0; i < n; i++) {
        free(e[i].key);
        free(e[i].path);
        free(e[i].extra_json);
        free(e[i].error);
    }
    free(e);
}

srt_status ds_entries_collect(const srt_ds_run_options *o, ds_entry **out, int64_t *n_out) {
    const char *const *inputs = o->inputs;
    int n_inputs = o->n_inputs;
    const char *path_column = o->path_column;
    *out = NULL;
    *n_out = 0;
    entry_list l = {0};
    srt_status st = SRT_OK;
    for (int i = 0; i < n_inputs && st == SRT_OK; i++) {
        const char *in = inputs[i];
        struct stat sb;
        if (stat(in, &sb) != 0) { st = srt_error(SRT_ERR_IO, "input %s: %s", in, strerror(errno)); break; }
        const char *ext = extension(in);
        if (S_ISDIR(sb.st_mode)) {
            char *root = srt_strdup(in);                 /* "corpus/" -> "corpus" (sources read "corpus/x.wav") */
            if (!root) { st = SRT_ERR_NOMEM; break; }
            for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--) root[n - 1] = 0;
            scan_ctx c = {.l = &l, .root = root, .follow_symlinks = o->follow_symlinks, .path_column = path_column};
            int seen = o->follow_symlinks ? dir_seen(&c.seen, &sb) : 0;
            st = seen < 0 ? srt_error(SRT_ERR_NOMEM, "input list: out of memory") : scan_dir(&c, "", 0);
            free(c.seen.v);
            free(root);
        }
        else if (!strcasecmp(ext, "csv") || !strcasecmp(ext, "jsonl")) st = read_manifest(&l, in, path_column, NULL, 0);
        else if (!strcasecmp(ext, "txt") || !strcasecmp(ext, "lst")) st = read_file_list(&l, in);
        else st = add_entry(&l, in, in, NULL);
    }
    if (st != SRT_OK) { ds_entries_free(l.v, l.n); return st; }
    if (l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, compare_entries);
    for (int64_t i = 1; i < l.n; i++) {
        if (strcmp(l.v[i].key, l.v[i - 1].key) || l.v[i].error) continue;
        int64_t first = i - 1;
        while (first > 0 && !strcmp(l.v[first - 1].key, l.v[i].key)) first--;
        size_t cap = strlen(l.v[first].path) + 64;
        l.v[i].error = srt_malloc(cap, "an error message");
        if (!l.v[i].error) { ds_entries_free(l.v, l.n); return SRT_ERR_NOMEM; }
        snprintf(l.v[i].error, cap, "duplicate key: also given by %s", l.v[first].path);
    }
    *out = l.v;
    *n_out = l.n;
    return SRT_OK;
}

uint64_t ds_entries_fingerprint(const ds_entry *e, int64_t n) {
    uint64_t h = DS_FNV_OFFSET;
    for (int64_t i = 0; i < n; i++) {
        h = ds_fnv1a(h, e[i].key, strlen(e[i].key) + 1);
        h = ds_fnv1a(h, e[i].path, strlen(e[i].path) + 1);
        h = ds_fnv1a(h, e[i].is_tar ? "T" : "F", 1);
        const char *x = e[i].extra_json ? e[i].extra_json : "";
        h = ds_fnv1a(h, x, strlen(x) + 1);
        /* size and mtime: a file rewritten between a crash and --resume makes a different run */
        struct stat sb;
        char meta[96];
        if (stat(e[i].path, &sb) == 0)
            snprintf(meta, sizeof meta, "%lld:%lld.%09ld", (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                     (long)sb.st_mtim.tv_nsec);
        else snprintf(meta, sizeof meta, "-");
        h = ds_fnv1a(h, meta, strlen(meta) + 1);
    }
    return h;
}
