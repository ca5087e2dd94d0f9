/* ds_read_csv.c: reading LAION-style CSV shards (ds_shard_csv.c): columns found by name in the header, the
 * snac<k>khz code string split by the model's depth-first layout (or the one its rate implies), every other
 * column returned as a passthrough string. Each record must end in a line break (else: truncated). */
#include "dataset/ds_internal.h"
#include "common.h"
#include "snacrt_codes.h"
#include <errno.h>
#include <string.h>

typedef struct csv_reader {
    ds_csv_record head, rec;
    int col_key, col_source, col_offset, col_n_samples, col_codes;
    int rate;                 /* from the snac<k>khz column name */
} csv_reader;

srt_status ds_read_csv_open(srt_ds_reader *r) {
    csv_reader *c = srt_calloc(1, sizeof *c, "a CSV shard reader");
    if (!c) return SRT_ERR_NOMEM;
    r->state = c;
    int eof = 0;
    SRT_TRY(ds_csv_read_record(r->f, r->path, &r->line, 1, 0, &c->head, &eof));
    if (eof) return srt_error(SRT_ERR_FORMAT, "%s: empty file (no header row)", r->path);
    c->col_key = c->col_source = c->col_offset = c->col_n_samples = c->col_codes = -1;
    for (size_t k = 0; k < c->head.n; k++) {
        const char *name = c->head.fields[k];
        int khz = 0, used = 0;
        if (!strcmp(name, "key")) c->col_key = (int)k;
        else if (!strcmp(name, "source")) c->col_source = (int)k;
        else if (!strcmp(name, "offset")) c->col_offset = (int)k;
        else if (!strcmp(name, "n_samples")) c->col_n_samples = (int)k;
        else if (sscanf(name, "snac%dkhz%n", &khz, &used) == 1 && name[used] == 0 && khz > 0 && khz < 10000) {
            c->col_codes = (int)k;
            c->rate = ds_rate_from_khz(khz);
        }
    }
    if (c->col_key < 0 || c->col_source < 0 || c->col_offset < 0 || c->col_n_samples < 0 || c->col_codes < 0)
        return srt_error(SRT_ERR_FORMAT, "%s:1: the header needs the columns key, source, offset, n_samples and "
                         "snac<k>khz", r->path);
    return SRT_OK;
}

static srt_status parse_i64(const char *s, const char *what, const char *field, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0) return srt_error(SRT_ERR_FORMAT, "%s: %s '%.40s' is not an integer >= 0", what, field, s);
    *out = v;
    return SRT_OK;
}

srt_status ds_read_csv_next(srt_ds_reader *r, srt_ds_item *item, int *eof) {
    csv_reader *c = r->state;
    SRT_TRY(ds_csv_read_record(r->f, r->path, &r->line, 1, 0, &c->rec, eof));
    if (*eof) return SRT_OK;
    char what[560];
    r->item_line = c->rec.line;
    snprintf(what, sizeof what, "%s:%d", r->path, c->rec.line);
    if (c->rec.n != c->head.n)
        return srt_error(SRT_ERR_FORMAT, "%s: %zu fields, the header has %zu", what, c->rec.n, c->head.n);
    char **f = c->rec.fields;
    item->key = srt_strdup(f[c->col_key]);
    item->source = srt_strdup(f[c->col_source]);
    if (!item->key || !item->source) return SRT_ERR_NOMEM;
    if (!*item->key) return srt_error(SRT_ERR_FORMAT, "%s: empty key", what);
    snprintf(what, sizeof what, "%s:%d ('%.200s')", r->path, c->rec.line, item->key);
    SRT_TRY(parse_i64(f[c->col_offset], what, "offset", &item->offset_samples));
    SRT_TRY(parse_i64(f[c->col_n_samples], what, "n_samples", &item->n_samples));
    srt_codec_info layout;
    if (r->has_info) {
        if (r->info.sample_rate / 1000 != c->rate / 1000)
            return srt_error(SRT_ERR_FORMAT, "%s: the codes column is %s, the model is %d Hz", what,
                             c->head.fields[c->col_codes], r->info.sample_rate);
        layout = r->info;
    } else {
        ds_default_layout(c->rate, &layout);
    }
    item->sample_rate = layout.sample_rate;
    const char *codes = f[c->col_codes];
    srt_status st = srt_codes_parse(&layout, codes, strlen(codes), SRT_CODES_LAION, what, &item->codes);
    if (st != SRT_OK) return SRT_ERR_FORMAT;
    /* passthrough columns, as strings */
    if (c->head.n > 5) {
        ds_buf b = {0};
        ds_buf_puts(&b, "{");
        int first = 1;
        for (size_t k = 0; k < c->head.n; k++) {
            if ((int)k == c->col_key || (int)k == c->col_source || (int)k == c->col_offset ||
                (int)k == c->col_n_samples || (int)k == c->col_codes) continue;
            if (!first) ds_buf_puts(&b, ",");
            first = 0;
            ds_buf_json_string(&b, c->head.fields[k]);
            ds_buf_puts(&b, ":");
            ds_buf_json_string(&b, f[k]);
        }
        ds_buf_puts(&b, "}");
        if ((st = ds_buf_status(&b, what)) != SRT_OK) { ds_buf_free(&b); return st; }
        item->extra_json = b.p;
    }
    return SRT_OK;
}

void ds_read_csv_free(srt_ds_reader *r) {
    csv_reader *c = r->state;
    if (!c) return;
    ds_csv_record_free(&c->head);
    ds_csv_record_free(&c->rec);
    free(c);
    r->state = NULL;
}
