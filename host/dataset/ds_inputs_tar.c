/* ds_inputs_tar.c: a worker's unit list: its share of the entries (entry j goes to worker j % num_shards), with
 * each WebDataset tar archive listed into one unit per sample (consecutive members sharing a key; the first audio
 * member is the audio, .json sidecar fields and .txt text pass through). An audio member is listed by its byte
 * range in the archive, which the readers decode through a window of the file (srt_audio_stream_open_window): a long
 * recording in a tar is never held whole. */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <string.h>

typedef struct unit_list {
    ds_unit *v;
    int64_t n, cap;
} unit_list;

static ds_unit *new_unit(unit_list *l) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 256;
        ds_unit *v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) { srt_error(SRT_ERR_NOMEM, "unit list: out of memory for %lld units", (long long)cap); return NULL; }
        l->v = v;
        l->cap = cap;
    }
    ds_unit *u = &l->v[l->n++];
    memset(u, 0, sizeof *u);
    u->member = -1;
    return u;
}

static char *dup_or_null(const char *s) { return s ? srt_strdup(s) : NULL; }

static char *format_string(const char *fmt, const char *a, const char *b) {
    size_t cap = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = srt_malloc(cap, "a string");
    if (s) snprintf(s, cap, fmt, a, b ? b : "");
    return s;
}

/* The sample being gathered from consecutive members with one key. */
typedef struct sample {
    char key[1024];
    char *audio_member;       /* member name of the audio, or NULL */
    int64_t audio_ordinal;
    int64_t audio_offset, audio_size;   /* its body's bytes in the archive */
    cJSON *extra;             /* sidecar fields */
    char exts[256];           /* the extensions seen, for the "no audio" message */
    int active;
} sample;

static void sample_reset(sample *s) {
    free(s->audio_member);
    cJSON_Delete(s->extra);
    memset(s, 0, sizeof *s);
}

static void put_field(cJSON *obj, const char *name, cJSON *value) {
    if (cJSON_GetObjectItemCaseSensitive(obj, name)) cJSON_ReplaceItemInObjectCaseSensitive(obj, name, value);
    else cJSON_AddItemToObject(obj, name, value);
}

/* Fold a sidecar member into the sample's passthrough fields. */
static void add_sidecar(sample *s, const char *ext, const char *data, size_t size) {
    if (!s->extra) s->extra = cJSON_CreateObject();
    if (!s->extra) return;
    size_t el = strlen(ext);
    if (!strcmp(ext, "json")) {
        cJSON *j = cJSON_ParseWithLength(data, size);
        if (cJSON_IsObject(j)) {
            cJSON *f = j->child;
            while (f) {
                cJSON *next = f->next;
                cJSON *item = cJSON_DetachItemViaPointer(j, f);
                put_field(s->extra, item->string, item);
                f = next;
            }
            cJSON_Delete(j);
        } else if (j) {
            put_field(s->extra, "json", j);
        } else {
            /* not JSON: passed through as text */
            char *t = srt_malloc(size + 1, "a sidecar");
            if (t) { memcpy(t, data, size); t[size] = 0; put_field(s->extra, "json", cJSON_CreateString(t)); free(t); }
        }
    } else if (el >= 3 && !strcmp(ext + el - 3, "txt")) {
        char name[256];
        if (el == 3) snprintf(name, sizeof name, "text");
        else snprintf(name, sizeof name, "%.*s", (int)(el - 4), ext);   /* "en.txt" -> "en" */
        size_t n = size;
        while (n && (data[n - 1] == '\n' || data[n - 1] == '\r')) n--;
        char *t = srt_malloc(n + 1, "a sidecar");
        if (t) { memcpy(t, data, n); t[n] = 0; put_field(s->extra, name, cJSON_CreateString(t)); free(t); }
    }
}

/* Close the current sample: one unit (or an error unit when it has no audio member). */
static srt_status flush_sample(unit_list *l, sample *s, const char *tar_path) {
    if (!s->active) return SRT_OK;
    ds_unit *u = new_unit(l);
    if (!u) return SRT_ERR_NOMEM;
    u->key = srt_strdup(s->key);
    u->path = srt_strdup(tar_path);
    if (s->audio_member) {
        u->source = format_string("%s:%s", tar_path, s->audio_member);
        u->member = s->audio_ordinal;
        u->member_offset = s->audio_offset;
        u->member_size = s->audio_size;
        if (s->extra && s->extra->child) u->extra_json = cJSON_PrintUnformatted(s->extra);
        if (s->extra && s->extra->child && !u->extra_json) return srt_error(SRT_ERR_NOMEM, "sidecar fields");
    } else {
        u->source = format_string("%s:%s", tar_path, s->key);
        u->error = format_string("no audio member in this sample (members: %s%s)", s->exts, NULL);
        if (!u->error) return SRT_ERR_NOMEM;
    }
    if (!u->key || !u->path || !u->source) return SRT_ERR_NOMEM;
    sample_reset(s);
    return SRT_OK;
}

/* Is this extension one add_sidecar folds in (the other members' bodies are never read)? */
static int is_sidecar_ext(const char *ext) {
    size_t el = strlen(ext);
    return !strcmp(ext, "json") || (el >= 3 && !strcmp(ext + el - 3, "txt"));
}

/* List one archive into units (audio members by offset and size: their bytes are not read here). A damaged
 * archive adds an error unit after the samples read before the damage. */
static srt_status list_tar(unit_list *l, const ds_entry *e) {
    srt_tar_reader *t = NULL;
    srt_status st = srt_tar_open(e->path, &t), fatal = SRT_OK;
    sample s = {0};
    int64_t ordinal = 0;
    while (st == SRT_OK) {
        char *name = NULL;
        void *data = NULL;
        int64_t offset = 0, size = 0;
        int eof = 0;
        st = srt_tar_next_member(t, &name, &offset, &size, &eof);
        if (st != SRT_OK || eof) break;
        char key[1024];
        const char *ext = "";
        srt_wds_split_name(name, key, sizeof key, &ext);
        if (s.active && strcmp(s.key, key)) fatal = flush_sample(l, &s, e->path);
        if (fatal == SRT_OK) {
            if (!s.active) { s.active = 1; snprintf(s.key, sizeof s.key, "%s", key); }
            size_t el = strlen(s.exts);
            snprintf(s.exts + el, sizeof s.exts - el, "%s%s", el ? ", " : "", *ext ? ext : "(none)");
            if (!s.audio_member && ds_is_audio_name(name)) {
                s.audio_member = srt_strdup(name);
                s.audio_ordinal = ordinal;
                s.audio_offset = offset;
                s.audio_size = size;
                if (!s.audio_member) fatal = SRT_ERR_NOMEM;
            } else if (is_sidecar_ext(ext)) {
                st = srt_tar_read_body(t, &data);
                if (st == SRT_OK) add_sidecar(&s, ext, data, (size_t)size);
            }
        }
        free(name);
        free(data);
        ordinal++;
        if (fatal != SRT_OK) break;
    }
    srt_tar_close(t);
    if (fatal == SRT_OK) fatal = flush_sample(l, &s, e->path);
    sample_reset(&s);
    if (fatal != SRT_OK) return fatal;
    if (st == SRT_ERR_NOMEM) return st;
    if (st != SRT_OK) {                      /* the archive is unreadable from here on: one error unit */
        ds_unit *u = new_unit(l);
        if (!u) return SRT_ERR_NOMEM;
        u->key = srt_strdup(e->key);
        u->path = srt_strdup(e->path);
        u->source = srt_strdup(e->path);
        u->error = srt_strdup(srt_last_error());
        if (!u->key || !u->path || !u->source || !u->error) return SRT_ERR_NOMEM;
    }
    return SRT_OK;
}

void ds_units_free(ds_unit *u, int64_t n) {
    if (!u) return;
    for (int64_t i = 0; i < n; i++) {
        free(u[i].key);
        free(u[i].source);
        free(u[i].path);
        free(u[i].extra_json);
        free(u[i].error);
    }
    free(u);
}

static const ds_unit *sort_base;
static int compare_unit_index(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int c = strcmp(sort_base[x].key, sort_base[y].key);
    return c ? c : (x < y ? -1 : x > y);
}

/* Keys repeated among the units (tar samples may repeat keys of other archives): later ones are errors. */
static srt_status flag_duplicates(unit_list *l) {
    if (l->n < 2) return SRT_OK;
    int64_t *idx = srt_malloc(sizeof(int64_t) * (size_t)l->n, "unit order");
    if (!idx) return SRT_ERR_NOMEM;
    for (int64_t i = 0; i < l->n; i++) idx[i] = i;
    sort_base = l->v;                        /* listing runs on one thread */
    qsort(idx, (size_t)l->n, sizeof *idx, compare_unit_index);
    srt_status st = SRT_OK;
    for (int64_t i = 1; i < l->n && st == SRT_OK; i++) {
        ds_unit *first = &l->v[idx[i - 1]], *u = &l->v[idx[i]];
        if (strcmp(first->key, u->key) || u->error) continue;
        int64_t f = i - 1;
        while (f > 0 && !strcmp(l->v[idx[f - 1]].key, u->key)) f--;
        u->error = format_string("duplicate key: also given by %s%s", l->v[idx[f]].source, NULL);
        if (!u->error) st = SRT_ERR_NOMEM;
    }
    free(idx);
    return st;
}

srt_status ds_units_expand(const ds_entry *e, int64_t n, int shard_index, int num_shards, ds_unit **out,
                           int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    unit_list l = {0};
    srt_status st = SRT_OK;
    for (int64_t j = shard_index; j < n && st == SRT_OK; j += num_shards) {
        if (e[j].is_tar && !e[j].error) { st = list_tar(&l, &e[j]); continue; }
        ds_unit *u = new_unit(&l);
        if (!u) { st = SRT_ERR_NOMEM; break; }
        u->key = srt_strdup(e[j].key);
        u->path = srt_strdup(e[j].path);
        u->source = srt_strdup(e[j].path);
        u->extra_json = dup_or_null(e[j].extra_json);
        u->error = dup_or_null(e[j].error);
        if (!u->key || !u->path || !u->source || (e[j].extra_json && !u->extra_json) || (e[j].error && !u->error))
            st = srt_error(SRT_ERR_NOMEM, "unit list: out of memory");
    }
    if (st == SRT_OK) st = flag_duplicates(&l);
    if (st != SRT_OK) { ds_units_free(l.v, l.n); return st; }
    *out = l.v;
    *n_out = l.n;
    return SRT_OK;
}
