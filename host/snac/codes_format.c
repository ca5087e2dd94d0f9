/* codes_format.c: serialize and parse SNAC codes as json, npy, laion and orpheus (see include/snacrt_codes.h). */
#include "snacrt_codes.h"
#include "checked.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

srt_status srt_codes_format_parse(const char *name, srt_codes_format *fmt) {
    if (!strcmp(name, "json")) *fmt = SRT_CODES_JSON;
    else if (!strcmp(name, "npy")) *fmt = SRT_CODES_NPY;
    else if (!strcmp(name, "laion")) *fmt = SRT_CODES_LAION;
    else if (!strcmp(name, "orpheus")) *fmt = SRT_CODES_ORPHEUS;
    else if (!strcmp(name, "laion-4097")) *fmt = SRT_CODES_LAION_4097;
    else if (!strcmp(name, "laion-hash")) *fmt = SRT_CODES_LAION_HASH;
    else if (!strcmp(name, "auto")) *fmt = SRT_CODES_AUTO;
    else return srt_error(SRT_ERR_INVALID_ARG, "unknown codes format '%s' (expected json, npy, laion, orpheus, "
                          "laion-4097 or laion-hash)", name);
    return SRT_OK;
}

/* Pre-order walk of one coarse frame's code tree. */
static void walk(const srt_codec_info *info, int level, int offset, int *level_of, int *offset_of, int *pos, int max) {
    if (*pos < max) { level_of[*pos] = level; offset_of[*pos] = offset; }
    (*pos)++;
    if (level + 1 >= info->n_levels) return;
    int r = info->vq_strides[level] / info->vq_strides[level + 1];
    for (int k = 0; k < r; k++) walk(info, level + 1, offset * r + k, level_of, offset_of, pos, max);
}

int srt_codes_frame_layout(const srt_codec_info *info, int *level_of, int *offset_of, int max_positions) {
    int pos = 0;
    walk(info, 0, 0, level_of, offset_of, &pos, max_positions);
    return pos;
}

typedef struct strbuf { char *p; size_t n, cap; int failed; } strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->failed = 1; return; }
        b->p = q; b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_int(strbuf *b, long long v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    sb_put(b, tmp, (size_t)n);
}

#define MAX_POS 512

srt_status srt_codes_serialize(const srt_codec_info *info, const srt_codes *codes, srt_codes_format fmt,
                               char **data, size_t *size) {
    *data = NULL; *size = 0;
    SRT_TRY(srt_codes_validate(info, codes, "codes to write"));
    int level_of[MAX_POS], offset_of[MAX_POS];
    int per = srt_codes_frame_layout(info, level_of, offset_of, MAX_POS);
    if (per > MAX_POS) return srt_error(SRT_ERR_UNSUPPORTED, "codes: %d codes per frame is too many", per);
    int64_t frames = codes->n_frames[0];
    strbuf b = {0};
    if (fmt == SRT_CODES_JSON) {
        char head[160];
        int n = snprintf(head, sizeof head, "{\"sample_rate\":%d,\"hop_length\":%d,\"n_samples\":%lld,\"codes\":[",
                         info->sample_rate, info->hop_length, (long long)codes->n_samples);
        sb_put(&b, head, (size_t)n);
        for (int l = 0; l < codes->n_levels; l++) {
            sb_put(&b, l ? ",[" : "[", l ? 2 : 1);
            for (int64_t i = 0; i < codes->n_frames[l]; i++) {
                if (i) sb_put(&b, ",", 1);
                sb_int(&b, codes->codes[l][i]);
            }
            sb_put(&b, "]", 1);
        }
        sb_put(&b, "]}\n", 3);
    } else if (fmt == SRT_CODES_LAION || fmt == SRT_CODES_ORPHEUS || fmt == SRT_CODES_LAION_4097 ||
               fmt == SRT_CODES_LAION_HASH) {
        if (fmt == SRT_CODES_ORPHEUS && (info->n_levels != 3 || info->codebook_size > SRT_ORPHEUS_POSITION_STRIDE))
            return srt_error(SRT_ERR_UNSUPPORTED, "the orpheus format needs a 3-level model with <= 4096 codes "
                             "(the 24 kHz SNAC); this model has %d levels", info->n_levels);
        for (int64_t f = 0; f < frames; f++)
            for (int p = 0; p < per; p++) {
                int l = level_of[p];
                int r = info->vq_strides[0] / info->vq_strides[l];
                long long code = codes->codes[l][f * r + offset_of[p]];
                if (fmt == SRT_CODES_ORPHEUS) code += SRT_ORPHEUS_AUDIO_BASE + (long long)p * SRT_ORPHEUS_POSITION_STRIDE;
                if (f || p) sb_put(&b, " ", 1);
                if (p == 0 && fmt == SRT_CODES_LAION_4097) sb_put(&b, "4097 ", 5);
                if (p == 0 && fmt == SRT_CODES_LAION_HASH) sb_put(&b, "# ", 2);
                sb_int(&b, code);
            }
        sb_put(&b, "\n", 1);
    } else if (fmt == SRT_CODES_NPY) {
        char header[128];
        int hl = snprintf(header, sizeof header, "{'descr': '<i4', 'fortran_order': False, 'shape': (%lld, %d), }",
                          (long long)frames, per);
        int total = 10 + hl + 1;
        int padn = (64 - total % 64) % 64;
        char pre[10] = {(char)0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
        uint16_t hlen = (uint16_t)(hl + padn + 1);
        pre[8] = (char)(hlen & 0xff);
        pre[9] = (char)(hlen >> 8);
        sb_put(&b, pre, 10);
        sb_put(&b, header, (size_t)hl);
        for (int i = 0; i < padn; i++) sb_put(&b, " ", 1);
        sb_put(&b, "\n", 1);
        for (int64_t f = 0; f < frames; f++)
            for (int p = 0; p < per; p++) {
                int l = level_of[p];
                int r = info->vq_strides[0] / info->vq_strides[l];
                int32_t v = codes->codes[l][f * r + offset_of[p]];
                unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                                       (unsigned char)((uint32_t)v >> 24)};
                sb_put(&b, (const char *)le, 4);
            }
    } else {
        return srt_error(SRT_ERR_INVALID_ARG, "codes: no output format chosen");
    }
    if (b.failed) { free(b.p); return srt_error(SRT_ERR_NOMEM, "out of memory writing codes"); }
    *data = b.p;
    *size = b.n;
    return SRT_OK;
}

static srt_status alloc_levels(const srt_codec_info *info, int64_t frames, srt_codes *out, const char *what) {
    memset(out, 0, sizeof *out);
    out->n_levels = info->n_levels;
    for (int l = 0; l < info->n_levels; l++) {
        out->n_frames[l] = frames * (info->vq_strides[0] / info->vq_strides[l]);
        out->codes[l] = srt_malloc(sizeof(int32_t) * (size_t)(out->n_frames[l] ? out->n_frames[l] : 1), what);
        if (!out->codes[l]) { srt_codes_free(out); return SRT_ERR_NOMEM; }
    }
    return SRT_OK;
}

/* Fill codes from a flat depth-first sequence of `n` values (already without offsets). */
static srt_status from_flat(const srt_codec_info *info, const int64_t *vals, int64_t n, const char *what, srt_codes *out) {
    int level_of[MAX_POS], offset_of[MAX_POS];
    int per = srt_codes_frame_layout(info, level_of, offset_of, MAX_POS);
    if (per > MAX_POS) return srt_error(SRT_ERR_UNSUPPORTED, "codes: too many codes per frame");
    if (n == 0 || n % per)
        return srt_error(SRT_ERR_FORMAT, "%s: %lld codes is not a positive multiple of %d codes per frame", what,
                         (long long)n, per);
    SRT_TRY(alloc_levels(info, n / per, out, what));
    for (int64_t i = 0; i < n; i++) {
        int p = (int)(i % per), l = level_of[p];
        int64_t f = i / per, r = info->vq_strides[0] / info->vq_strides[l];
        if (vals[i] < 0 || vals[i] >= info->codebook_size) {
            srt_codes_free(out);
            return srt_error(SRT_ERR_RANGE, "%s: code %lld at position %lld (frame %lld, level %d) is outside [0, %d)",
                             what, (long long)vals[i], (long long)i, (long long)f, l, info->codebook_size);
        }
        out->codes[l][f * r + offset_of[p]] = (int32_t)vals[i];
    }
    return SRT_OK;
}

#define SEP_HASH INT64_MIN   /* a '#' in text codes */
#define SEP_4097 4097        /* the LAION tutorial's frame separator (codes are < 4096) */

/* Remove frame separators (4097 or '#') from a laion sequence, checking that each separated frame holds exactly
 * per codes. No separator: unchanged. */
static srt_status strip_separators(int64_t *vals, int64_t *n, int per, int sep4097, const char *what) {
    int64_t seps = 0;
    for (int64_t k = 0; k < *n; k++) seps += vals[k] == SEP_HASH || (sep4097 && vals[k] == SEP_4097);
    if (!seps) return SRT_OK;
    int64_t out = 0, frame = -1, in_frame = 0;
    for (int64_t k = 0; k < *n; k++) {
        int sep = vals[k] == SEP_HASH || (sep4097 && vals[k] == SEP_4097);
        if (sep || k == 0) {
            if (frame >= 0 && in_frame != per)
                return srt_error(SRT_ERR_FORMAT, "%s: frame %lld holds %lld codes between separators (%s), a frame "
                                 "has %d", what, (long long)frame, (long long)in_frame,
                                 vals[k] == SEP_HASH ? "'#'" : "4097", per);
            frame++;
            in_frame = 0;
            if (sep) continue;
        }
        in_frame++;
        vals[out++] = vals[k];
    }
    if (frame >= 0 && in_frame != per && !(in_frame == 0 && frame > 0))   /* a trailing separator is fine */
        return srt_error(SRT_ERR_FORMAT, "%s: the last frame holds %lld codes after its separator, a frame has %d",
                         what, (long long)in_frame, per);
    *n = out;
    return SRT_OK;
}

static srt_status parse_ints(const char *data, size_t size, const char *what, int64_t **vals, int64_t *n) {
    int64_t cap = 1024, count = 0;
    int64_t *v = srt_malloc(sizeof(int64_t) * (size_t)cap, what);
    if (!v) return SRT_ERR_NOMEM;
    size_t i = 0;
    while (i < size) {
        unsigned char ch = (unsigned char)data[i];
        if (isspace(ch) || ch == ',') { i++; continue; }
        int hash = ch == '#';
        if (!(isdigit(ch) || ch == '-' || hash)) {
            free(v);
            return srt_error(SRT_ERR_FORMAT, "%s: unexpected character '%c' at byte %zu (expected integers)", what,
                             isprint(ch) ? ch : '?', i);
        }
        char tmp[32];
        size_t k = 0;
        while (i < size && k < sizeof tmp - 1 && (isdigit((unsigned char)data[i]) || (k == 0 && data[i] == '-'))) tmp[k++] = data[i++];
        tmp[k] = 0;
        if (hash) i++;
        if (!hash && (k == sizeof tmp - 1 || (k == 1 && tmp[0] == '-'))) {
            free(v);
            return srt_error(SRT_ERR_FORMAT, "%s: malformed number near byte %zu", what, i);
        }
        if (count == cap) {
            cap *= 2;
            int64_t *q = realloc(v, sizeof(int64_t) * (size_t)cap);
            if (!q) { free(v); return srt_error(SRT_ERR_NOMEM, "%s: out of memory", what); }
            v = q;
        }
        v[count++] = hash ? SEP_HASH : strtoll(tmp, NULL, 10);
    }
    *vals = v;
    *n = count;
    return SRT_OK;
}

static srt_status parse_json(const srt_codec_info *info, const char *data, size_t size, const char *what, srt_codes *out) {
    cJSON *root = cJSON_ParseWithLength(data, size);
    if (!root) return srt_error(SRT_ERR_FORMAT, "%s: malformed JSON", what);
    srt_status st = SRT_OK;
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(root, "codes");
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(root, "sample_rate");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(root, "n_samples");
    memset(out, 0, sizeof *out);
    if (!cJSON_IsArray(codes)) { st = srt_error(SRT_ERR_FORMAT, "%s: no \"codes\" array", what); goto done; }
    if (cJSON_IsNumber(sr) && sr->valuedouble != (double)info->sample_rate) {
        st = srt_error(SRT_ERR_FORMAT, "%s: codes are for a %g Hz model, this model is %d Hz", what,
                       sr->valuedouble, info->sample_rate);
        goto done;
    }
    int levels = cJSON_GetArraySize(codes);
    if (levels != info->n_levels) {
        st = srt_error(SRT_ERR_FORMAT, "%s: %d code levels, the model has %d", what, levels, info->n_levels);
        goto done;
    }
    out->n_levels = levels;
    if (cJSON_IsNumber(ns) && ns->valuedouble >= 0 && ns->valuedouble < 9007199254740992.0)   /* < 2^53 */
        out->n_samples = (int64_t)ns->valuedouble;
    for (int l = 0; l < levels; l++) {
        const cJSON *arr = cJSON_GetArrayItem(codes, l);
        if (!cJSON_IsArray(arr)) { st = srt_error(SRT_ERR_FORMAT, "%s: codes[%d] is not an array", what, l); goto done; }
        int n = cJSON_GetArraySize(arr);
        out->n_frames[l] = n;
        out->codes[l] = srt_malloc(sizeof(int32_t) * (size_t)(n ? n : 1), what);
        if (!out->codes[l]) { st = SRT_ERR_NOMEM; goto done; }
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble < info->codebook_size) ||
                it->valuedouble != (double)(int64_t)it->valuedouble) {
                st = srt_error(SRT_ERR_RANGE, "%s: codes[%d][%d] is not an integer in [0, %d)", what, l, i,
                               info->codebook_size);
                goto done;
            }
            out->codes[l][i++] = (int32_t)it->valuedouble;
        }
    }
done:
    cJSON_Delete(root);
    if (st != SRT_OK) srt_codes_free(out);
    return st;
}

static srt_status parse_npy(const srt_codec_info *info, const char *data, size_t size, const char *what, srt_codes *out) {
    if (size < 10 || memcmp(data, "\x93NUMPY", 6)) return srt_error(SRT_ERR_FORMAT, "%s: not a .npy file", what);
    int major = (unsigned char)data[6];
    size_t hlen, off;
    if (major == 1) { hlen = (unsigned char)data[8] | ((size_t)(unsigned char)data[9] << 8); off = 10; }
    else if (size >= 12) {
        hlen = (unsigned char)data[8] | ((size_t)(unsigned char)data[9] << 8) | ((size_t)(unsigned char)data[10] << 16) |
               ((size_t)(unsigned char)data[11] << 24);
        off = 12;
    } else return srt_error(SRT_ERR_FORMAT, "%s: truncated .npy header", what);
    if (hlen > size - off) return srt_error(SRT_ERR_FORMAT, "%s: .npy header longer than the file", what);
    char header[512];
    if (hlen >= sizeof header) return srt_error(SRT_ERR_FORMAT, "%s: .npy header too long", what);
    memcpy(header, data + off, hlen);
    header[hlen] = 0;
    int esize = 0, is_signed = 1;
    if (strstr(header, "'<i4'")) esize = 4;
    else if (strstr(header, "'<i8'")) esize = 8;
    else if (strstr(header, "'<i2'")) esize = 2;
    else if (strstr(header, "'<u2'")) { esize = 2; is_signed = 0; }
    else return srt_error(SRT_ERR_UNSUPPORTED, "%s: .npy dtype must be little-endian int16/uint16/int32/int64", what);
    if (strstr(header, "'fortran_order': True")) return srt_error(SRT_ERR_UNSUPPORTED, "%s: fortran-order .npy", what);
    const char *shape = strstr(header, "'shape': (");
    if (!shape) return srt_error(SRT_ERR_FORMAT, "%s: .npy header has no shape", what);
    shape += 10;
    int64_t count = 1, dim[2] = {0, 0};
    int dims = 0;
    while (*shape && *shape != ')') {
        if (isdigit((unsigned char)*shape)) {
            errno = 0;
            char *end;
            long long d = strtoll(shape, &end, 10);
            if (errno || d < 0 || d > ((int64_t)1 << 40)) return srt_error(SRT_ERR_FORMAT, "%s: bad .npy shape", what);
            if (++dims > 2) break;
            dim[dims - 1] = d;
            char field[300];
            snprintf(field, sizeof field, "%s: .npy shape product", what);
            SRT_TRY(srt_mul_i64(count, d, &count, field));
            shape = end;
        } else shape++;
    }
    {
        int level_of[MAX_POS], offset_of[MAX_POS];
        int per = srt_codes_frame_layout(info, level_of, offset_of, MAX_POS);
        char got[64] = "";
        const char *sh = strstr(header, "'shape': (") + 9;
        size_t gl = strcspn(sh, ")") + 1;
        snprintf(got, sizeof got, "%.*s", (int)(gl < sizeof got ? gl : sizeof got - 1), sh);
        if (dims != 2 || dim[1] != per || count > ((int64_t)1 << 34))
            return srt_error(SRT_ERR_FORMAT, "%s: .npy of shape %s: expected shape (frames, %d): one row per frame "
                             "holding all %d levels' codes in depth-first order (as `snacrt encode --format npy` "
                             "writes); codes of only some levels cannot be decoded", what, got, per,
                             info->n_levels);
    }
    size_t body = off + hlen;
    if ((uint64_t)count * (uint64_t)esize != size - body)   /* count <= 2^34: no overflow */
        return srt_error(SRT_ERR_FORMAT, "%s: .npy data is %zu bytes, shape says %lld", what, size - body,
                         (long long)count * esize);
    int64_t *vals = srt_malloc(sizeof(int64_t) * (size_t)(count ? count : 1), what);
    if (!vals) return SRT_ERR_NOMEM;
    const unsigned char *p = (const unsigned char *)data + body;
    for (int64_t i = 0; i < count; i++, p += esize) {
        uint64_t u = 0;
        for (int k = 0; k < esize; k++) u |= (uint64_t)p[k] << (8 * k);
        if (is_signed && esize < 8 && (u >> (8 * esize - 1)) & 1) u |= ~(uint64_t)0 << (8 * esize);
        vals[i] = (int64_t)u;
    }
    srt_status st = from_flat(info, vals, count, what, out);
    free(vals);
    return st;
}

srt_status srt_codes_parse(const srt_codec_info *info, const char *data, size_t size, srt_codes_format fmt,
                           const char *what, srt_codes *out) {
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < size && isspace((unsigned char)data[i])) i++;
    if (fmt == SRT_CODES_AUTO) {
        if (size >= 6 && !memcmp(data, "\x93NUMPY", 6)) fmt = SRT_CODES_NPY;
        else if (i < size && data[i] == '{') fmt = SRT_CODES_JSON;
        else fmt = SRT_CODES_LAION; /* orpheus detected below from the values */
    }
    srt_status st;
    if (fmt == SRT_CODES_JSON) st = parse_json(info, data, size, what, out);
    else if (fmt == SRT_CODES_NPY) st = parse_npy(info, data, size, what, out);
    else {
        int64_t *vals = NULL, n = 0;
        SRT_TRY(parse_ints(data, size, what, &vals, &n));
        {
            int level_of[MAX_POS], offset_of[MAX_POS];
            int per = srt_codes_frame_layout(info, level_of, offset_of, MAX_POS);
            srt_status sst = fmt == SRT_CODES_ORPHEUS ? SRT_OK : strip_separators(vals, &n, per, info->codebook_size <= SEP_4097, what);
            if (sst != SRT_OK) { free(vals); return sst; }
        }
        int orpheus = fmt == SRT_CODES_ORPHEUS;
        if (fmt != SRT_CODES_ORPHEUS)
            for (int64_t k = 0; k < n; k++)
                if (vals[k] >= SRT_ORPHEUS_AUDIO_BASE) { orpheus = 1; break; }
        st = SRT_OK;
        if (orpheus) {
            int level_of[MAX_POS], offset_of[MAX_POS];
            int per = srt_codes_frame_layout(info, level_of, offset_of, MAX_POS);
            for (int64_t k = 0; k < n; k++) {
                int p = (int)(k % per);
                const int64_t first = SRT_ORPHEUS_AUDIO_BASE + (int64_t)p * SRT_ORPHEUS_POSITION_STRIDE;
                /* compared before subtracting: a '#' separator is INT64_MIN here, and text may hold any int64 */
                if (vals[k] < first || vals[k] >= first + SRT_ORPHEUS_POSITION_STRIDE) {
                    st = srt_error(SRT_ERR_RANGE, "%s: token %lld at position %lld is not an Orpheus audio token of "
                                   "frame position %d (expected %d..%d)", what, (long long)vals[k], (long long)k, p,
                                   SRT_ORPHEUS_AUDIO_BASE + p * SRT_ORPHEUS_POSITION_STRIDE,
                                   SRT_ORPHEUS_AUDIO_BASE + (p + 1) * SRT_ORPHEUS_POSITION_STRIDE - 1);
                    break;
                }
                vals[k] -= first;
            }
        }
        if (st == SRT_OK) st = from_flat(info, vals, n, what, out);
        free(vals);
    }
    if (st == SRT_OK) {
        st = srt_codes_validate(info, out, what);
        if (st != SRT_OK) srt_codes_free(out);
    }
    return st;
}
