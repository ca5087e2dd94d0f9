/* cli_common.c: helpers shared by the snacrt subcommands (the only place statuses become messages). */
#include "cli/cli_common.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, srt_status st) {
    const char *msg = srt_last_error();
    fprintf(stderr, "snacrt %s: %s\n", cmd, msg && *msg ? msg : srt_status_name(st));
    return 1;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "snacrt %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_float(const char *s, float *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || !end || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

srt_status cli_write_output(const char *path, const void *data, size_t size) {
    if (!path || !strcmp(path, "-")) {
        if (fwrite(data, 1, size, stdout) != size || fflush(stdout))
            return srt_error(SRT_ERR_IO, "cannot write to standard output");
        return SRT_OK;
    }
    /* write to a temporary file and rename, so a failure never leaves a partial output */
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return srt_error(SRT_ERR_NOMEM, "out of memory");
    snprintf(tmp, n + 16, "%s.tmp%d", path, (int)(rand() % 100000));
    FILE *f = fopen(tmp, "wb");
    if (!f) { free(tmp); return srt_error(SRT_ERR_IO, "%s: cannot create: %s", path, strerror(errno)); }
    int ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return srt_error(SRT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    free(tmp);
    return SRT_OK;
}

int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **val) {
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n)) return 0;
    if (argv[*i][n] == '=') { *val = argv[*i] + n + 1; return 1; }
    if (argv[*i][n]) return 0;
    if (*i + 1 >= argc) { *val = NULL; return 1; }
    *val = argv[++*i];
    return 1;
}
