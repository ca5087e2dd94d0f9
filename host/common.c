/* common.c: thread-local error messages, checked allocation and small file helpers. */
#include "common.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static _Thread_local char srt_error_message[2048];

const char *srt_status_name(srt_status status) {
    switch (status) {
    case SRT_OK: return "SRT_OK";
    case SRT_ERR_INVALID_ARG: return "SRT_ERR_INVALID_ARG";
    case SRT_ERR_IO: return "SRT_ERR_IO";
    case SRT_ERR_FORMAT: return "SRT_ERR_FORMAT";
    case SRT_ERR_RANGE: return "SRT_ERR_RANGE";
    case SRT_ERR_NOT_FOUND: return "SRT_ERR_NOT_FOUND";
    case SRT_ERR_UNSUPPORTED: return "SRT_ERR_UNSUPPORTED";
    case SRT_ERR_NOMEM: return "SRT_ERR_NOMEM";
    case SRT_ERR_BACKEND: return "SRT_ERR_BACKEND";
    case SRT_ERR_NO_DEVICE: return "SRT_ERR_NO_DEVICE";
    case SRT_ERR_FULL: return "SRT_ERR_FULL";
    case SRT_ERR_CANCELLED: return "SRT_ERR_CANCELLED";
    }
    return "SRT_ERR_UNKNOWN";
}

const char *srt_last_error(void) { return srt_error_message; }
void srt_clear_error(void) { srt_error_message[0] = 0; }

srt_status srt_error(srt_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srt_error_message, sizeof srt_error_message, fmt, ap);
    va_end(ap);
    return status;
}

srt_status srt_error_prefix(srt_status status, const char *fmt, ...) {
    char prefix[1024], old[sizeof srt_error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, srt_error_message, sizeof old);
    size_t np = strlen(prefix), cap = sizeof srt_error_message - 1;
    if (np > cap) np = cap;
    memcpy(srt_error_message, prefix, np);
    size_t no = strnlen(old, sizeof old);
    if (no > cap - np) no = cap - np;
    memcpy(srt_error_message + np, old, no);
    srt_error_message[np + no] = 0;
    return status;
}

void *srt_calloc(size_t n, size_t size, const char *what) {
    void *p = (n && size) ? calloc(n, size) : calloc(1, 1);
    if (!p) srt_error(SRT_ERR_NOMEM, "out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

void *srt_malloc(size_t size, const char *what) {
    void *p = malloc(size ? size : 1);
    if (!p) srt_error(SRT_ERR_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
    return p;
}

char *srt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = srt_malloc(n, "a string");
    if (d) memcpy(d, s, n);
    return d;
}

srt_status srt_read_file(const char *path, char **data, size_t *size) {
    *data = NULL;
    if (size) *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return srt_error(SRT_ERR_IO, "%s: cannot seek", path); }
    long n = ftell(f);
    if (n < 0) { fclose(f); return srt_error(SRT_ERR_IO, "%s: cannot tell size", path); }
    rewind(f);
    char *buf = srt_malloc((size_t)n + 1, path);
    if (!buf) { fclose(f); return SRT_ERR_NOMEM; }
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf); fclose(f);
        return srt_error(SRT_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    if (size) *size = (size_t)n;
    return SRT_OK;
}

char *srt_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = srt_malloc(a + b + 2, "a path");
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

int srt_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
