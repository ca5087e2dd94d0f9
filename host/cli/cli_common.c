/* cli_common.c: helpers shared by the snacrt subcommands (the only place statuses become messages). */
#include "cli/cli_common.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Levenshtein distance of a[0..na) and b[0..nb) (both at most 63 bytes). */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    int row[64];
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

const char *cli_nearest_flag(const char *usage, const char *opt, char *buf, size_t cap) {
    size_t no = strcspn(opt, "=");
    if (no == 0 || no > 63 || !usage) return NULL;
    int best = -1;
    for (const char *p = usage; (p = strchr(p, '-')) != NULL;) {
        /* a flag starts a word: "-x" or "--word" after a space, '[', '|', ',' or '(' */
        int starts = p == usage || strchr(" [|,(\n", p[-1]);
        size_t n = strspn(p, "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        if (starts && n >= 2 && n <= 63 && p[1] != ' ' && (p[1] == '-' || n == 2)) {
            int d = edit_distance(opt, no, p, n);
            int limit = (int)n / 3 > 2 ? (int)n / 3 : 2;
            if (d <= limit && d > 0 && (best < 0 || d < best) && n < cap) {
                best = d;
                memcpy(buf, p, n);
                buf[n] = 0;
            }
        }
        p += n ? n : 1;
    }
    return best >= 0 ? buf : NULL;
}

int cli_unknown_option(const char *cmd, const char *usage, const char *opt) {
    char near[64];
    if (cli_nearest_flag(usage, opt, near, sizeof near))
        return cli_usage_error(cmd, usage, "unknown option %s (did you mean %s?)", opt, near);
    return cli_usage_error(cmd, usage, "unknown option %s", opt);
}

/* Does s look like a Hugging Face repo id: "org/name", one slash, no leading '.' or '/', no spaces? */
static int looks_like_repo_id(const char *s) {
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || s[0] == '.' || s[0] == '~') return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("-_./", *p))) return 0;
    return 1;
}

/* The kind of a model folder from its config.json: CLI_DIR_SNAC ("encoder_rates"), CLI_DIR_LM ("architectures" or
 * "model_type"), 0 unknown or unreadable. */
static int dir_kind(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (strstr(buf, "\"encoder_rates\"")) return CLI_DIR_SNAC;
    if (strstr(buf, "\"architectures\"") || strstr(buf, "\"model_type\"")) return CLI_DIR_LM;
    return 0;
}

int cli_check_model_dir(const char *cmd, const char *flag, const char *dir, int want) {
    struct stat st;
    if (!dir) return 0;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT && looks_like_repo_id(dir)) {
            const char *name = strrchr(dir, '/') + 1;
            fprintf(stderr,
                    "snacrt %s: %s %s: no such folder. It looks like a Hugging Face repo id: snacrt loads local "
                    "folders, so fetch it first: `weights/fetch.sh %s models/%s` (HF_TOKEN for gated repos), "
                    "then pass %s models/%s\n",
                    cmd, flag, dir, dir, name, flag, name);
            return 1;
        }
        return 0;   /* the loader names the path and the system's reason */
    }
    int kind = S_ISDIR(st.st_mode) ? dir_kind(dir) : 0;
    if (!kind || kind == want) return 0;
    if (want == CLI_DIR_LM)
        fprintf(stderr,
                "snacrt %s: %s %s is a SNAC codec folder (its config.json has \"encoder_rates\"), but %s needs a "
                "language model folder (config.json with \"architectures\"/\"model_type\", tokenizer.json and "
                "*.safetensors of a Llama-family model); a codec folder goes to --codec\n",
                cmd, flag, dir, flag);
    else
        fprintf(stderr,
                "snacrt %s: %s %s is a language model folder (its config.json has \"architectures\"/\"model_type\"), "
                "but %s needs a SNAC codec folder (config.json with \"encoder_rates\", \"decoder_rates\", "
                "\"codebook_size\" and the codec weights, e.g. hubertsiuzdak/snac_24khz)%s\n",
                cmd, flag, dir, flag, strcmp(flag, "--codec") ? "" : "; a language model folder goes to -m");
    return 1;
}

int cli_check_output_parent(const char *cmd, const char *flag, const char *path) {
    if (!path || !strcmp(path, "-")) return 0;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return 0;
    memcpy(dir, path, n);
    dir[n] = 0;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        fprintf(stderr, "snacrt %s: %s %s: %s is not a folder\n", cmd, flag, path, dir);
        return 1;
    }
    fprintf(stderr, "snacrt %s: %s %s: the folder %s does not exist (create it first: mkdir -p %s)\n", cmd, flag,
            path, dir, dir);
    return 1;
}

int cli_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
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

int cli_check_lm_precision(const char *s) { return s && (!strcmp(s, "bf16") || !strcmp(s, "exact")) ? 0 : -1; }
int cli_check_lm_weights(const char *s) { return s && (!strcmp(s, "stored") || !strcmp(s, "int8")) ? 0 : -1; }

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
