/* ds_text.c: text helpers of the dataset formats: a growable buffer with JSON-string and CSV-field quoting,
 * and an RFC 4180 record reader (quoted fields with commas, doubled quotes and line breaks; LF or CRLF). */
#include "dataset/ds_internal.h"
#include "common.h"
#include <stdarg.h>
#include <string.h>

void ds_buf_put(ds_buf *b, const void *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->failed = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void ds_buf_puts(ds_buf *b, const char *s) { ds_buf_put(b, s, strlen(s)); }

void ds_buf_printf(ds_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if ((size_t)n < sizeof tmp) { ds_buf_put(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->failed = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ds_buf_put(b, big, (size_t)n);
    free(big);
}

void ds_buf_json_string(ds_buf *b, const char *s) {
    ds_buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        ds_buf_put(b, run, (size_t)(s - run));
        run = s + 1;
        char esc[8];
        switch (c) {
        case '"': ds_buf_put(b, "\\\"", 2); break;
        case '\\': ds_buf_put(b, "\\\\", 2); break;
        case '\n': ds_buf_put(b, "\\n", 2); break;
        case '\r': ds_buf_put(b, "\\r", 2); break;
        case '\t': ds_buf_put(b, "\\t", 2); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", c); ds_buf_put(b, esc, 6);
        }
    }
    ds_buf_put(b, run, (size_t)(s - run));
    ds_buf_put(b, "\"", 1);
}

/* Would a spreadsheet read this cell as a formula (or is it escaped already)? Plain numbers ("-1.5") are safe. */
static int csv_needs_formula_escape(const char *s, size_t n) {
    if (!n || !strchr("=+-@\t\r'", s[0])) return 0;
    if (s[0] == '\'' || n > 63) return 1;
    char num[64], *end;
    memcpy(num, s, n);
    num[n] = 0;
    (void)strtod(num, &end);
    return *end != 0 || end == num + 1;
}

void ds_csv_unescape_field(char *field) {
    if (field[0] == '\'') memmove(field, field + 1, strlen(field));
}

void ds_buf_csv_field(ds_buf *b, const char *s, size_t n) {
    int formula = csv_needs_formula_escape(s, n);
    int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++) quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (quote) ds_buf_put(b, "\"", 1);
    if (formula) ds_buf_put(b, "'", 1);
    if (!quote) { ds_buf_put(b, s, n); return; }
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') { ds_buf_put(b, s + run, i + 1 - run); ds_buf_put(b, "\"", 1); run = i + 1; }
    ds_buf_put(b, s + run, n - run);
    ds_buf_put(b, "\"", 1);
}

void ds_buf_free(ds_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

srt_status ds_buf_status(const ds_buf *b, const char *what) {
    return b->failed ? srt_error(SRT_ERR_NOMEM, "out of memory building %s", what) : SRT_OK;
}

/* ---------------------------------------------------------------- CSV records */

static void end_field(ds_csv_record *rec) {
    if (rec->n == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 16;
        size_t *q = realloc(rec->starts, cap * sizeof *q);
        if (!q) { rec->text.failed = 1; return; }
        rec->starts = q;
        rec->cap = cap;
    }
    rec->starts[rec->n++] = 0; /* filled below */
}

srt_status ds_csv_read_record(FILE *f, const char *what, int *line_no, int require_newline, int skip_blank,
                              ds_csv_record *rec, int *eof) {
    *eof = 0;
    for (;;) {
        rec->n = 0;
        rec->text.n = 0;
        rec->line = *line_no;
        size_t field_start = 0;
        int c = getc(f), any = 0, quoted = 0;
        if (c == EOF) {
            if (ferror(f)) return srt_error(SRT_ERR_IO, "%s:%d: read error", what, *line_no);
            *eof = 1;
            return SRT_OK;
        }
        for (;;) {
            if (c == EOF) {
                if (ferror(f)) return srt_error(SRT_ERR_IO, "%s:%d: read error", what, *line_no);
                if (require_newline)
                    return srt_error(SRT_ERR_FORMAT, "%s:%d: truncated record (no line break at the end of the file)",
                                     what, rec->line);
                break;
            }
            if (c == '"' && rec->text.n == field_start && !quoted) {
                /* quoted field: until a lone quote */
                quoted = 1;
                any = 1;
                for (;;) {
                    c = getc(f);
                    if (c == EOF)
                        return srt_error(SRT_ERR_FORMAT, "%s:%d: unterminated quoted field (the file ends inside it)",
                                         what, rec->line);
                    if (c == '\n') (*line_no)++;
                    if (c == '"') {
                        c = getc(f);
                        if (c != '"') break;
                    }
                    char ch = (char)c;
                    ds_buf_put(&rec->text, &ch, 1);
                }
                if (c != ',' && c != '\n' && c != '\r' && c != EOF)
                    return srt_error(SRT_ERR_FORMAT, "%s:%d: unexpected character after a closing quote", what, *line_no);
                continue;
            }
            if (c == '"')
                return srt_error(SRT_ERR_FORMAT, "%s:%d: stray quote inside an unquoted field", what, *line_no);
            if (c == ',') {
                ds_buf_put(&rec->text, "", 1);
                end_field(rec);
                rec->starts[rec->n - 1] = field_start;
                field_start = rec->text.n;
                quoted = 0;
                any = 1;
                c = getc(f);
                continue;
            }
            if (c == '\r') {
                int d = getc(f);
                if (d == '\n') { c = d; }
                else {
                    if (d != EOF) ungetc(d, f);
                    return srt_error(SRT_ERR_FORMAT, "%s:%d: bare carriage return outside quotes", what, *line_no);
                }
            }
            if (c == '\n') { (*line_no)++; break; }
            if (quoted)
                return srt_error(SRT_ERR_FORMAT, "%s:%d: unexpected character after a closing quote", what, *line_no);
            char ch = (char)c;
            ds_buf_put(&rec->text, &ch, 1);
            any = 1;
            c = getc(f);
        }
        if (!any && skip_blank) {
            if (c == EOF) { *eof = 1; return SRT_OK; }
            continue;
        }
        ds_buf_put(&rec->text, "", 1);
        end_field(rec);
        if (rec->text.failed) return srt_error(SRT_ERR_NOMEM, "%s:%d: out of memory", what, rec->line);
        rec->starts[rec->n - 1] = field_start;
        char **q = realloc(rec->fields, (rec->cap ? rec->cap : 1) * sizeof *q);
        if (!q) return srt_error(SRT_ERR_NOMEM, "%s:%d: out of memory", what, rec->line);
        rec->fields = q;
        for (size_t i = 0; i < rec->n; i++) rec->fields[i] = rec->text.p + rec->starts[i];
        return SRT_OK;
    }
}

void ds_csv_record_free(ds_csv_record *rec) {
    free(rec->fields);
    free(rec->starts);
    ds_buf_free(&rec->text);
    memset(rec, 0, sizeof *rec);
}
