/* ds_read_jsonl.c: reading a JSONL shard: one object per line (see ds_shard_jsonl.c), every line ending in a line
 * break (a last line without one is a truncated shard); unknown keys come back as the passthrough object. */
#include "dataset/ds_internal.h"
#include "common.h"
#include <math.h>
#include <string.h>

/* An integral JSON number in [lo, hi]. */
static int json_int(const cJSON *v, double lo, double hi, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

static srt_status take_string(cJSON *o, const char *name, const char *what, char **out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v)) return srt_error(SRT_ERR_FORMAT, "%s: no \"%s\" string", what, name);
    *out = srt_strdup(v->valuestring);
    return *out ? SRT_OK : SRT_ERR_NOMEM;
}

static srt_status take_int(cJSON *o, const char *name, const char *what, double lo, int64_t *out) {
    if (!json_int(cJSON_GetObjectItemCaseSensitive(o, name), lo, 9007199254740992.0, out))
        return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" is missing or not an integer >= %.0f", what, name, lo);
    return SRT_OK;
}

static srt_status take_codes(cJSON *o, const char *what, srt_codes *codes) {
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "codes");
    int levels = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (levels < 1 || levels > 8) return srt_error(SRT_ERR_FORMAT, "%s: \"codes\" is not an array of 1..8 levels", what);
    codes->n_levels = levels;
    int l = 0;
    for (cJSON *lv = arr->child; lv; lv = lv->next, l++) {
        if (!cJSON_IsArray(lv)) return srt_error(SRT_ERR_FORMAT, "%s: codes[%d] is not an array", what, l);
        int n = cJSON_GetArraySize(lv);
        codes->n_frames[l] = n;
        codes->codes[l] = srt_malloc(sizeof(int32_t) * (size_t)(n ? n : 1), what);
        if (!codes->codes[l]) return SRT_ERR_NOMEM;
        int i = 0;
        for (cJSON *v = lv->child; v; v = v->next, i++) {
            int64_t code;
            if (!json_int(v, 0, 2147483647.0, &code))
                return srt_error(SRT_ERR_FORMAT, "%s: codes[%d][%d] is not a non-negative integer", what, l, i);
            codes->codes[l][i] = (int32_t)code;
        }
    }
    return SRT_OK;
}

srt_status ds_read_jsonl_next(srt_ds_reader *r, srt_ds_item *item, int *eof) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    for (;;) {
        n = getline(&buf, &cap, r->f);
        if (n < 0) {
            free(buf);
            if (ferror(r->f)) return srt_error(SRT_ERR_IO, "%s:%d: read error", r->path, r->line);
            *eof = 1;
            return SRT_OK;
        }
        if (buf[n - 1] != '\n') {
            free(buf);
            return srt_error(SRT_ERR_FORMAT, "%s:%d: truncated shard (the last line has no line break)", r->path, r->line);
        }
        size_t i = 0;
        while (i < (size_t)n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
        if (i < (size_t)n) break;
        r->line++;                                        /* blank line */
    }
    char what[560];
    snprintf(what, sizeof what, "%s:%d", r->path, r->line);
    r->item_line = r->line++;
    cJSON *o = cJSON_ParseWithLength(buf, (size_t)n);
    free(buf);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return srt_error(SRT_ERR_FORMAT, "%s: not a JSON object", what);
    }
    srt_status st = take_string(o, "key", what, &item->key);
    if (st == SRT_OK && !*item->key) st = srt_error(SRT_ERR_FORMAT, "%s: empty key", what);
    if (st == SRT_OK) st = take_string(o, "source", what, &item->source);
    int64_t rate = 0;
    if (st == SRT_OK) st = take_int(o, "offset", what, 0, &item->offset_samples);
    if (st == SRT_OK) st = take_int(o, "n_samples", what, 0, &item->n_samples);
    if (st == SRT_OK) st = take_int(o, "sample_rate", what, 1, &rate);
    if (st == SRT_OK && rate > 10000000) st = srt_error(SRT_ERR_FORMAT, "%s: sample rate %lld", what, (long long)rate);
    item->sample_rate = (int)rate;
    if (st == SRT_OK) st = take_codes(o, what, &item->codes);
    if (st == SRT_OK) {
        /* what is left is the passthrough object */
        const char *const *reserved = ds_jsonl_reserved();
        for (const char *const *k = reserved; *k; k++) cJSON_DeleteItemFromObjectCaseSensitive(o, *k);
        if (o->child) {
            char *text = cJSON_PrintUnformatted(o);
            item->extra_json = text ? srt_strdup(text) : NULL;
            cJSON_free(text);
            if (!item->extra_json) st = srt_error(SRT_ERR_NOMEM, "%s: out of memory", what);
        }
    }
    cJSON_Delete(o);
    return st;
}
