/* ds_shard_csv.c: LAION-style CSV shards: header key,source,offset,n_samples,<passthrough columns of the first
 * item, in order>,snac<k>khz; the last column holds the depth-first code string of `snacrt encode --format laion`
 * (7 codes per coarse frame for 3 levels, 15 for 4). Fields are quoted per RFC 4180. Passthrough values: strings
 * as they are, other JSON values as their JSON text, a column an item lacks as an empty field; a column the
 * first item did not have is an error (the header is already written). */
#include "dataset/ds_internal.h"
#include "common.h"
#include "snacrt_codes.h"
#include <errno.h>
#include <string.h>

typedef struct csv_state {
    char **names;             /* (n_cols) passthrough names as in the items */
    size_t n_cols;
    int header_done;
    char codes_column[32];    /* "snac24khz" */
} csv_state;

static srt_status write_buf(srt_ds_shard_writer *w, ds_buf *b) {
    srt_status st = ds_buf_status(b, "a CSV record");
    if (st == SRT_OK && fwrite(b->p, 1, b->n, w->f[0]) != b->n)
        st = srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[0], strerror(errno));
    return st;
}

/* Header row from the first item's passthrough columns (extra may be NULL). */
static srt_status write_header(srt_ds_shard_writer *w, csv_state *s, const cJSON *extra) {
    const char *reserved[] = {"key", "source", "offset", "n_samples", s->codes_column, NULL};
    ds_buf b = {0};
    ds_buf_puts(&b, "key,source,offset,n_samples,");
    srt_status st = SRT_OK;
    for (const cJSON *c = extra ? extra->child : NULL; c; c = c->next) s->n_cols++;
    s->names = s->n_cols ? srt_calloc(s->n_cols, sizeof(char *), "CSV columns") : NULL;
    if (s->n_cols && !s->names) st = SRT_ERR_NOMEM;
    size_t k = 0;
    for (const cJSON *c = extra ? extra->child : NULL; c && st == SRT_OK; c = c->next, k++) {
        for (size_t j = 0; j < k; j++)
            if (!strcmp(s->names[j], c->string))
                st = srt_error(SRT_ERR_INVALID_ARG, "passthrough column '%s' appears twice", c->string);
        s->names[k] = srt_strdup(c->string);
        char *shown = ds_passthrough_name(c->string, reserved, extra);
        if (!s->names[k] || !shown) st = SRT_ERR_NOMEM;
        else { ds_buf_csv_field(&b, shown, strlen(shown)); ds_buf_puts(&b, ","); }
        free(shown);
    }
    ds_buf_puts(&b, s->codes_column);
    ds_buf_puts(&b, "\n");
    if (st == SRT_OK) st = write_buf(w, &b);
    ds_buf_free(&b);
    if (st != SRT_OK) {                 /* nothing usable: the next add tries again */
        for (size_t j = 0; j < s->n_cols; j++) free(s->names[j]);
        free(s->names);
        s->names = NULL;
        s->n_cols = 0;
        return st;
    }
    s->header_done = 1;
    return st;
}

static csv_state *get_state(srt_ds_shard_writer *w) {
    if (!w->state) {
        csv_state *s = srt_calloc(1, sizeof *s, "a CSV shard");
        if (!s) return NULL;
        snprintf(s->codes_column, sizeof s->codes_column, "snac%dkhz", w->info.sample_rate / 1000);
        w->state = s;
    }
    return w->state;
}

srt_status ds_csv_add(srt_ds_shard_writer *w, const srt_ds_item *item) {
    csv_state *s = get_state(w);
    if (!s) return SRT_ERR_NOMEM;
    cJSON *extra = NULL;
    SRT_TRY(ds_extra_parse(item->extra_json, item->key, &extra));
    srt_status st = SRT_OK;
    if (!s->header_done) st = write_header(w, s, extra);
    /* every passthrough key must have a column */
    for (const cJSON *c = extra ? extra->child : NULL; c && st == SRT_OK; c = c->next) {
        size_t j = 0;
        while (j < s->n_cols && strcmp(s->names[j], c->string)) j++;
        if (j == s->n_cols)
            st = srt_error(SRT_ERR_INVALID_ARG, "item '%s': passthrough column '%s' is not in the CSV header (the "
                           "columns come from the shard's first item; use --format jsonl or bin)", item->key, c->string);
    }
    char *laion = NULL;
    size_t laion_n = 0;
    if (st == SRT_OK) st = srt_codes_serialize(&w->info, &item->codes, SRT_CODES_LAION, &laion, &laion_n);
    ds_buf b = {0};
    if (st == SRT_OK) {
        ds_buf_csv_field(&b, item->key, strlen(item->key));
        ds_buf_puts(&b, ",");
        ds_buf_csv_field(&b, item->source, strlen(item->source));
        ds_buf_printf(&b, ",%lld,%lld,", (long long)item->offset_samples, (long long)item->n_samples);
        for (size_t j = 0; j < s->n_cols && st == SRT_OK; j++) {
            const cJSON *v = extra ? cJSON_GetObjectItemCaseSensitive(extra, s->names[j]) : NULL;
            if (cJSON_IsString(v)) ds_buf_csv_field(&b, v->valuestring, strlen(v->valuestring));
            else if (v) {
                char *text = cJSON_PrintUnformatted(v);
                if (!text) st = srt_error(SRT_ERR_NOMEM, "item '%s': out of memory", item->key);
                else ds_buf_csv_field(&b, text, strlen(text));
                cJSON_free(text);
            }
            ds_buf_puts(&b, ",");
        }
        while (laion_n && (laion[laion_n - 1] == '\n' || laion[laion_n - 1] == ' ')) laion_n--;
        ds_buf_put(&b, laion, laion_n);
        ds_buf_puts(&b, "\n");
    }
    if (st == SRT_OK) st = write_buf(w, &b);
    ds_buf_free(&b);
    free(laion);
    cJSON_Delete(extra);
    return st;
}

srt_status ds_csv_finish(srt_ds_shard_writer *w) {
    csv_state *s = get_state(w);
    if (!s) return SRT_ERR_NOMEM;
    return s->header_done ? SRT_OK : write_header(w, s, NULL);
}

void ds_csv_free(srt_ds_shard_writer *w) {
    csv_state *s = w->state;
    if (!s) return;
    for (size_t j = 0; j < s->n_cols; j++) free(s->names[j]);
    free(s->names);
    free(s);
    w->state = NULL;
}
