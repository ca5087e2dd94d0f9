/* ds_internal.h: what the dataset-format files (host/dataset/ds_*.c) share and nobody else needs: a growable text
 * buffer with JSON/CSV quoting, an RFC 4180 record reader, passthrough-column helpers, and the writer/reader
 * structs with their per-format functions (ds_shard_<fmt>.c, ds_read_<fmt>.c). */
#ifndef SRT_DS_INTERNAL_H
#define SRT_DS_INTERNAL_H

#include "dataset/ds_format.h"
#include <cjson/cJSON.h>
#include <stdio.h>

/* ---------------------------------------------------------------- text buffer */

typedef struct ds_buf { char *p; size_t n, cap; int failed; } ds_buf;  /* p NUL-terminated when non-NULL */

void ds_buf_put(ds_buf *b, const void *s, size_t n);
void ds_buf_puts(ds_buf *b, const char *s);
void ds_buf_printf(ds_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "text" with JSON escapes (UTF-8 kept as is). */
void ds_buf_json_string(ds_buf *b, const char *s);
/* One CSV field, quoted (RFC 4180) when it holds a comma, quote, CR or LF or has outer spaces. A field a
 * spreadsheet would run as a formula (starting with =, +, -, @, tab or CR, unless it is a plain number) gets a
 * leading ' (as does a field that starts with ' itself, so ds_csv_unescape_field restores every value). */
void ds_buf_csv_field(ds_buf *b, const char *s, size_t n);
/* Undo the formula escape of ds_buf_csv_field in place: one leading ' is removed. */
void ds_csv_unescape_field(char *field);
void ds_buf_free(ds_buf *b);
/* SRT_ERR_NOMEM if any put failed, naming `what`. */
srt_status ds_buf_status(const ds_buf *b, const char *what);

/* ---------------------------------------------------------------- CSV records */

typedef struct ds_csv_record {
    char **fields;            /* n NUL-terminated fields (into one block `text`) */
    size_t n, cap;
    ds_buf text;              /* field bytes, each followed by a NUL */
    size_t *starts;           /* offsets of each field in text.p */
    int line;                 /* 1-based line where the record starts */
} ds_csv_record;

/* Read the next record from f. *line_no is the running line counter (start it at 1). Blank lines are skipped
 * when skip_blank. require_newline: a record cut off by end of file (no final line break) is SRT_ERR_FORMAT
 * (a truncated shard); otherwise it is accepted (a hand-written manifest). Errors name `what` and the line. */
srt_status ds_csv_read_record(FILE *f, const char *what, int *line_no, int require_newline, int skip_blank,
                              ds_csv_record *rec, int *eof);
void ds_csv_record_free(ds_csv_record *rec);

/* ---------------------------------------------------------------- items */

/* Parse an item's extra_json: *obj is a cJSON object (caller deletes) or NULL when extra_json is NULL, empty or
 * "{}". SRT_ERR_INVALID_ARG naming the key when it is not a JSON object. */
srt_status ds_extra_parse(const char *extra_json, const char *key, cJSON **obj);
/* The name a passthrough column is written under: its own, or, when it is a shard field's name (reserved:
 * NULL-terminated list), "_"-prefixed as often as needed to differ from the fields and from the other passthrough
 * names (the members of `siblings`, may be NULL). Returns a malloc'd string or NULL (out of memory). */
char *ds_passthrough_name(const char *name, const char *const *reserved, const cJSON *siblings);
/* Level count and strides from the rate when no model is given (the published SNAC models: <= 24 kHz
 * 3 levels [4,2,1]; above 4 levels [8,4,2,1]). Fills a minimal info good for srt_codes_parse/validate. */
void ds_default_layout(int sample_rate, srt_codec_info *info);
/* The rate written as snac<k>khz: k*1000 except the 11025-family (11, 22, 44, 88 -> x.025/x.05/x.1 kHz). */
int ds_rate_from_khz(int khz);

/* ---------------------------------------------------------------- shard writer */

struct srt_ds_shard_writer {
    srt_ds_format fmt;
    srt_codec_info info;
    int n_files;
    char *final_path[2], *tmp_path[2];    /* rename order: [0] first, [n_files-1] (the data file) last */
    FILE *f[2];
    int64_t n_items;
    int broken;                           /* a write failed midway: the temps hold a partial item */
    void *state;                          /* per-format (csv columns, bin index) */
};

/* Shard-field names a JSONL passthrough key may not take (NULL-terminated). */
const char *const *ds_jsonl_reserved(void);

/* Per-format parts, called by ds_shard.c after the item was validated against w->info. */
srt_status ds_jsonl_add(srt_ds_shard_writer *w, const srt_ds_item *item);
srt_status ds_csv_add(srt_ds_shard_writer *w, const srt_ds_item *item);
srt_status ds_csv_finish(srt_ds_shard_writer *w);   /* before the fsync: header of an empty shard */
void ds_csv_free(srt_ds_shard_writer *w);
srt_status ds_bin_begin(srt_ds_shard_writer *w);
srt_status ds_bin_add(srt_ds_shard_writer *w, const srt_ds_item *item);
srt_status ds_bin_finish(srt_ds_shard_writer *w);   /* writes the .idx */
void ds_bin_free(srt_ds_shard_writer *w);

/* ---------------------------------------------------------------- shard reader */

struct srt_ds_reader {
    srt_ds_format fmt;
    char *path;                           /* as given (errors name it) */
    FILE *f;
    int line;                             /* jsonl/csv: next line number */
    int item_line;                        /* jsonl/csv: the line of the item just read (errors) */
    int64_t index;                        /* items returned so far */
    int has_info;
    srt_codec_info info;                  /* set by srt_ds_reader_set_codec */
    void *state;
};

srt_status ds_read_jsonl_next(srt_ds_reader *r, srt_ds_item *item, int *eof);
srt_status ds_read_csv_open(srt_ds_reader *r);
srt_status ds_read_csv_next(srt_ds_reader *r, srt_ds_item *item, int *eof);
void ds_read_csv_free(srt_ds_reader *r);
srt_status ds_read_bin_open(srt_ds_reader *r);
srt_status ds_read_bin_next(srt_ds_reader *r, srt_ds_item *item, int *eof);
void ds_read_bin_free(srt_ds_reader *r);

#endif
