/* safetensors.c: mmap a .safetensors file and point tensor views into it.
 * Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {...}}, then the data section; offsets are relative to the data section.
 * Nothing is trusted: the header length must fit in the file (and stay below 100 MB), every shape is checked for
 * overflow, every byte range must lie inside the data section and match prod(shape) * dtype size. */
#include "weights/weights_internal.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define SAFETENSORS_MAX_HEADER ((uint64_t)100 * 1024 * 1024)

static int dtype_from_name(const char *s, srt_dtype *dt) {
    static const struct { const char *name; srt_dtype dt; } table[] = {
        {"F32", SRT_F32}, {"F16", SRT_F16}, {"BF16", SRT_BF16}, {"F64", SRT_F64}, {"I32", SRT_I32},
        {"I64", SRT_I64}, {"U8", SRT_U8}, {"I8", SRT_I8}, {"I16", SRT_I16}, {"U16", SRT_U16}, {"BOOL", SRT_BOOL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(s, table[i].name) == 0) { *dt = table[i].dt; return 1; }
    return 0;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *v = (uint64_t)d;
    return 1;
}

/* Parse one header entry and add the tensor. */
static srt_status add_entry(srt_weights *w, int file_index, const char *path, const cJSON *item,
                            const uint8_t *data_section, uint64_t data_size) {
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, name);
    const cJSON *jdtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *jshape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *joffsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(jdtype) || !cJSON_IsArray(jshape) || !cJSON_IsArray(joffsets))
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': needs string 'dtype', arrays 'shape' and 'data_offsets'",
                         path, name);
    srt_dtype dt;
    if (!dtype_from_name(jdtype->valuestring, &dt))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s': unsupported dtype '%s'", path, name,
                         jdtype->valuestring);
    int ndim = cJSON_GetArraySize(jshape);
    if (ndim > SRT_MAX_DIMS)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dims (at most %d supported)", path, name, ndim,
                         SRT_MAX_DIMS);
    int64_t shape[SRT_MAX_DIMS];
    int d = 0;
    const cJSON *jd;
    cJSON_ArrayForEach(jd, jshape) {
        uint64_t v;
        if (!json_uint(jd, &v))
            return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': shape entry %d is not a non-negative integer", path,
                             name, d);
        shape[d++] = (int64_t)v;
    }
    uint64_t begin, end;
    if (cJSON_GetArraySize(joffsets) != 2 || !json_uint(cJSON_GetArrayItem(joffsets, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(joffsets, 1), &end))
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", path,
                         name);
    if (begin > end || end > data_size)
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data section "
                         "(%llu bytes)", path, name, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)data_size);
    char what[512];
    snprintf(what, sizeof what, "%s: tensor '%s'", path, name);
    size_t numel = 0, nbytes = 0;
    SRT_TRY(srt_shape_bytes(ndim, shape, srt_dtype_size(dt), &numel, &nbytes, what));
    if (end - begin != (uint64_t)nbytes)
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': %llu bytes stored but shape x %s needs %zu", path, name,
                         (unsigned long long)(end - begin), srt_dtype_name(dt), nbytes);
    return srt_weights_add(w, file_index, name, dt, ndim, shape, data_section + begin, nbytes);
}

srt_status srt_safetensors_load_into(srt_weights *w, const char *path) {
    const uint8_t *map = NULL;
    size_t size = 0;
    SRT_TRY(srt_map_file(path, &map, &size));
    SRT_TRY(srt_weights_keep(w, (void *)map, size, 1));   /* unmapped with the set */
    int file_index = 0;
    SRT_TRY(srt_weights_add_file(w, path, &file_index));
    if (size < 8) return srt_error(SRT_ERR_FORMAT, "%s: %zu bytes: too short for a safetensors file", path, size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | map[i];
    if (header_len > (uint64_t)size - 8)
        return srt_error(SRT_ERR_FORMAT, "%s: header length %llu exceeds the file size (%zu bytes): truncated or "
                         "not a safetensors file", path, (unsigned long long)header_len, size);
    if (header_len > SAFETENSORS_MAX_HEADER)
        return srt_error(SRT_ERR_FORMAT, "%s: header length %llu is not sane (> 100 MB)", path,
                         (unsigned long long)header_len);
    if (header_len < 2 || map[8] != '{')
        return srt_error(SRT_ERR_FORMAT, "%s: header does not start with '{': not a safetensors file", path);
    cJSON *root = cJSON_ParseWithLength((const char *)map + 8, (size_t)header_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return srt_error(SRT_ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    const uint8_t *data_section = map + 8 + header_len;
    uint64_t data_size = (uint64_t)size - 8 - header_len;
    srt_status st = SRT_OK;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!item->string) { st = srt_error(SRT_ERR_FORMAT, "%s: header entry without a name", path); break; }
        if (strcmp(item->string, "__metadata__") == 0) continue;
        st = add_entry(w, file_index, path, item, data_section, data_size);
        if (st != SRT_OK) break;
    }
    cJSON_Delete(root);
    return st;
}

srt_status srt_weights_open_safetensors(const char *path, srt_weights **out) {
    *out = NULL;
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "srt_weights_open_safetensors: no path");
    srt_weights *w = NULL;
    SRT_TRY(srt_weights_create(path, &w));
    srt_status st = srt_safetensors_load_into(w, path);
    if (st == SRT_OK) st = srt_weights_finish(w);
    if (st != SRT_OK) { srt_weights_free(w); return st; }
    *out = w;
    return SRT_OK;
}
