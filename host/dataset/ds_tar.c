/* ds_tar.c: a sequential tar reader for WebDataset shards and plain archives: ustar (prefix + name), old v7
 * headers, GNU long names ('L'), pax extended headers ('x': path, size), base-256 sizes; header checksums are
 * verified and a truncated or corrupt archive is an error naming the archive and the member. Also the
 * WebDataset key/extension split of a member name. */
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct srt_tar_reader {
    FILE *f;
    char *path;
    int64_t pos;              /* byte offset of the next header, or inside the current member's body */
    int64_t file_size;        /* -1 when unknown (not a regular file) */
    int done;
    char *member;             /* the member srt_tar_next_member returned last (for messages) */
    int64_t body_size;        /* its body size; -1 once the body was read or skipped */
};

srt_status srt_tar_open(const char *path, srt_tar_reader **out) {
    *out = NULL;
    srt_tar_reader *t = srt_calloc(1, sizeof *t, "a tar reader");
    if (!t) return SRT_ERR_NOMEM;
    t->path = srt_strdup(path);
    t->f = fopen(path, "rb");
    if (!t->path || !t->f) {
        srt_status st = t->path ? srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno)) : SRT_ERR_NOMEM;
        srt_tar_close(t);
        return st;
    }
    struct stat sb;
    t->file_size = fstat(fileno(t->f), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
    t->body_size = -1;
    *out = t;
    return SRT_OK;
}

void srt_tar_close(srt_tar_reader *t) {
    if (!t) return;
    if (t->f) fclose(t->f);
    free(t->path);
    free(t->member);
    free(t);
}

/* Numeric header field: octal digits (space/NUL padded) or GNU base-256 (first byte & 0x80). -1 if malformed. */
static int64_t tar_number(const unsigned char *p, size_t n) {
    if (p[0] & 0x80) {
        if (p[0] & 0x40) return -1;                   /* negative */
        uint64_t v = p[0] & 0x3f;
        for (size_t i = 1; i < n; i++) {
            if (v >> 55) return -1;
            v = (v << 8) | p[i];
        }
        return (int64_t)v;
    }
    size_t i = 0;
    while (i < n && p[i] == ' ') i++;
    int64_t v = 0;
    int digits = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
        if (v >> 60) return -1;
        v = v * 8 + (p[i] - '0');
    }
    for (; i < n; i++) if (p[i] != ' ' && p[i] != 0) return -1;
    return digits ? v : -1;
}

static int header_checksum_ok(const unsigned char *h) {
    int64_t want = tar_number(h + 148, 8);
    if (want < 0) return 0;
    int64_t u = 0, s = 0;
    for (int i = 0; i < 512; i++) {
        int c = (i >= 148 && i < 156) ? ' ' : h[i];
        u += c;
        s += (signed char)((i >= 148 && i < 156) ? ' ' : h[i]);
    }
    return want == u || want == s;
}

static int all_zero(const unsigned char *h) {
    for (int i = 0; i < 512; i++) if (h[i]) return 0;
    return 1;
}

/* Read exactly n bytes; 0 on success. */
static int read_exact(srt_tar_reader *t, void *buf, size_t n) {
    size_t got = fread(buf, 1, n, t->f);
    t->pos += (int64_t)got;
    return got == n ? 0 : -1;
}

/* Read a member's body (size bytes) plus its padding to 512 into a NUL-terminated buffer. */
static srt_status read_body(srt_tar_reader *t, const char *member, int64_t size, char **data) {
    *data = NULL;
    if (t->file_size >= 0 && size > t->file_size - t->pos)
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s' at byte %lld is truncated: %lld bytes declared, %lld left",
                         t->path, member, (long long)t->pos, (long long)size, (long long)(t->file_size - t->pos));
    char *buf = srt_malloc((size_t)size + 1, member);
    if (!buf) return SRT_ERR_NOMEM;
    int64_t start = t->pos;
    if (read_exact(t, buf, (size_t)size)) {
        free(buf);
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s' at byte %lld is truncated", t->path, member, (long long)start);
    }
    buf[size] = 0;
    size_t pad = (size_t)((512 - size % 512) % 512);
    unsigned char padding[512];
    if (pad && read_exact(t, padding, pad)) {
        free(buf);
        return srt_error(SRT_ERR_FORMAT, "%s: member '%s' is truncated (its padding is missing)", t->path, member);
    }
    *data = buf;
    return SRT_OK;
}

/* pax records "<len> <key>=<value>\n": take path and size. */
static srt_status parse_pax(srt_tar_reader *t, const char *data, int64_t size, char **path, int64_t *pax_size) {
    int64_t i = 0;
    while (i < size) {
        int64_t len = 0, j = i;
        while (j < size && data[j] >= '0' && data[j] <= '9' && len < (1 << 30)) len = len * 10 + (data[j++] - '0');
        if (j >= size || data[j] != ' ' || len <= j - i + 1 || i + len > size || data[i + len - 1] != '\n')
            return srt_error(SRT_ERR_FORMAT, "%s: malformed pax header record at byte %lld of the header",
                             t->path, (long long)i);
        const char *kv = data + j + 1, *end = data + i + len - 1;
        const char *eq = memchr(kv, '=', (size_t)(end - kv));
        if (!eq) return srt_error(SRT_ERR_FORMAT, "%s: pax record without '='", t->path);
        size_t klen = (size_t)(eq - kv);
        if (klen == 4 && !memcmp(kv, "path", 4)) {
            free(*path);
            *path = strndup(eq + 1, (size_t)(end - eq - 1));
            if (!*path) return srt_error(SRT_ERR_NOMEM, "out of memory");
        } else if (klen == 4 && !memcmp(kv, "size", 4)) {
            char tmp[32];
            size_t vl = (size_t)(end - eq - 1);
            if (vl == 0 || vl >= sizeof tmp) return srt_error(SRT_ERR_FORMAT, "%s: bad pax size", t->path);
            memcpy(tmp, eq + 1, vl);
            tmp[vl] = 0;
            char *e;
            errno = 0;
            long long v = strtoll(tmp, &e, 10);
            if (errno || *e || v < 0) return srt_error(SRT_ERR_FORMAT, "%s: bad pax size '%s'", t->path, tmp);
            *pax_size = v;
        }
        i += len;
    }
    return SRT_OK;
}

/* Skip the body (and padding) of the member returned last when nobody read it. */
static srt_status skip_body(srt_tar_reader *t) {
    if (t->body_size < 0) return SRT_OK;
    int64_t size = t->body_size, left = size + (512 - size % 512) % 512;
    t->body_size = -1;
    if (t->file_size >= 0 && fseeko(t->f, (off_t)left, SEEK_CUR) == 0) { t->pos += left; return SRT_OK; }
    char buf[65536];
    while (left > 0) {
        size_t n = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
        if (read_exact(t, buf, n))
            return srt_error(SRT_ERR_FORMAT, "%s: member '%s' is truncated", t->path, t->member ? t->member : "?");
        left -= (int64_t)n;
    }
    return SRT_OK;
}

srt_status srt_tar_read_body(srt_tar_reader *t, void **data) {
    *data = NULL;
    if (t->body_size < 0) return srt_error(SRT_ERR_INVALID_ARG, "%s: no member body to read", t->path);
    int64_t size = t->body_size;
    t->body_size = -1;
    char *body = NULL;
    SRT_TRY(read_body(t, t->member ? t->member : "?", size, &body));
    *data = body;
    return SRT_OK;
}

srt_status srt_tar_next(srt_tar_reader *t, char **name, void **data, size_t *size, int *eof) {
    *data = NULL;
    int64_t offset = 0, n = 0;
    SRT_TRY(srt_tar_next_member(t, name, &offset, &n, eof));
    if (*eof) return SRT_OK;
    srt_status st = srt_tar_read_body(t, data);
    if (st != SRT_OK) { free(*name); *name = NULL; *size = 0; return st; }
    *size = (size_t)n;
    return SRT_OK;
}

srt_status srt_tar_next_member(srt_tar_reader *t, char **name, int64_t *offset, int64_t *size, int *eof) {
    *name = NULL;
    *offset = 0;
    *size = 0;
    *eof = 0;
    SRT_TRY(skip_body(t));
    if (t->done) { *eof = 1; return SRT_OK; }
    char *long_name = NULL;
    int64_t pax_size = -1;
    srt_status st = SRT_OK;
    unsigned char h[512];
    for (;;) {
        int64_t hpos = t->pos;
        size_t got = fread(h, 1, 512, t->f);
        t->pos += (int64_t)got;
        if (got != 512) {
            st = srt_error(SRT_ERR_FORMAT, "%s: truncated archive: %s at byte %lld%s", t->path,
                           got ? "partial header" : "no end-of-archive marker", (long long)hpos,
                           long_name ? " (after a long-name header)" : "");
            break;
        }
        if (all_zero(h)) {
            if (long_name || pax_size >= 0) {
                st = srt_error(SRT_ERR_FORMAT, "%s: end of archive right after an extended header at byte %lld",
                               t->path, (long long)hpos);
                break;
            }
            t->done = 1;
            *eof = 1;
            break;
        }
        if (!header_checksum_ok(h)) {
            st = srt_error(SRT_ERR_FORMAT, hpos ? "%s: corrupt archive: bad header checksum at byte %lld"
                                                : "%s: not a tar archive (bad header checksum at byte %lld)",
                           t->path, (long long)hpos);
            break;
        }
        char base[260];   /* prefix (155) + "/" + name (100) */
        int ustar = !memcmp(h + 257, "ustar", 5);
        size_t nl = strnlen((const char *)h, 100), pl = ustar ? strnlen((const char *)h + 345, 155) : 0;
        if (pl) snprintf(base, sizeof base, "%.*s/%.*s", (int)pl, (const char *)h + 345, (int)nl, (const char *)h);
        else snprintf(base, sizeof base, "%.*s", (int)nl, (const char *)h);
        const char *member = long_name ? long_name : base;
        int64_t msize = tar_number(h + 124, 12);
        if (msize < 0) {
            st = srt_error(SRT_ERR_FORMAT, "%s: member '%s' at byte %lld has a malformed size field", t->path, member,
                           (long long)hpos);
            break;
        }
        if (pax_size >= 0) msize = pax_size;
        char type = (char)h[156];
        if (type == 'L' || type == 'x' || type == 'g' || type == 'K') {
            char *body = NULL;
            if (msize > (1 << 24)) {
                st = srt_error(SRT_ERR_FORMAT, "%s: extended header at byte %lld is too large (%lld bytes)", t->path,
                               (long long)hpos, (long long)msize);
                break;
            }
            if ((st = read_body(t, type == 'L' ? "(long name)" : "(pax header)", msize, &body)) != SRT_OK) break;
            if (type == 'L') {
                free(long_name);
                long_name = strndup(body, strnlen(body, (size_t)msize));
                if (!long_name) st = srt_error(SRT_ERR_NOMEM, "out of memory");
            } else if (type == 'x') {
                st = parse_pax(t, body, msize, &long_name, &pax_size);
            }
            free(body);
            if (st != SRT_OK) break;
            continue;
        }
        if (type == '0' || type == '\0' || type == '7') {
            int64_t pad = (512 - msize % 512) % 512;
            if (t->file_size >= 0 && msize > t->file_size - t->pos) {
                st = srt_error(SRT_ERR_FORMAT, "%s: member '%s' at byte %lld is truncated: %lld bytes declared, %lld "
                               "left", t->path, member, (long long)t->pos, (long long)msize,
                               (long long)(t->file_size - t->pos));
                break;
            }
            if (t->file_size >= 0 && msize + pad > t->file_size - t->pos) {
                st = srt_error(SRT_ERR_FORMAT, "%s: member '%s' is truncated (its padding is missing)", t->path, member);
                break;
            }
            *name = long_name ? long_name : srt_strdup(base);
            long_name = NULL;
            free(t->member);
            t->member = *name ? srt_strdup(*name) : NULL;
            if (!*name || !t->member) { free(*name); *name = NULL; st = SRT_ERR_NOMEM; break; }
            *offset = t->pos;
            *size = msize;
            t->body_size = msize;
            break;
        }
        /* directories, links, devices: skip their body (normally empty) */
        char *body = NULL;
        if (msize && (st = read_body(t, member, msize, &body)) != SRT_OK) break;
        free(body);
        free(long_name);
        long_name = NULL;
        pax_size = -1;
    }
    free(long_name);
    return st;
}

void srt_wds_split_name(const char *member, char *key, size_t key_size, const char **ext) {
    const char *slash = strrchr(member, '/');
    const char *base = slash ? slash + 1 : member;
    const char *dot = strchr(base, '.');
    size_t klen = dot ? (size_t)(dot - member) : strlen(member);
    if (key_size) {
        if (klen >= key_size) klen = key_size - 1;
        memcpy(key, member, klen);
        key[klen] = 0;
    }
    if (ext) *ext = dot ? dot + 1 : member + strlen(member);
}
