/* weights_open.c: open a Hugging Face model folder (model.safetensors, else model.safetensors.index.json with its
 * shards, else pytorch_model.bin) and the sharded safetensors index ("weight_map": tensor name -> shard file). */
#include "weights/weights_internal.h"
#include <cjson/cJSON.h>
#include <string.h>

/* A shard name must stay inside the index's folder. */
static int shard_name_ok(const char *s) {
    return s[0] && s[0] != '/' && !strstr(s, "..") && !strchr(s, '\\');
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return srt_strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = srt_malloc(n + 2, "a folder name");
    if (!d) return NULL;
    if (n == 0) { d[0] = '/'; d[1] = 0; return d; }
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

/* Open each distinct shard once (in order of first mention), then check every listed tensor arrived. */
static srt_status load_shards(srt_weights *w, const char *index_path, const char *dir, const cJSON *map) {
    const cJSON *item;
    size_t n_items = (size_t)cJSON_GetArraySize(map);
    const char **opened = srt_calloc(n_items ? n_items : 1, sizeof *opened, "a shard list");
    if (!opened) return SRT_ERR_NOMEM;
    size_t n_opened = 0;
    srt_status st = SRT_OK;
    cJSON_ArrayForEach(item, map) {
        if (!cJSON_IsString(item) || !item->string) {
            st = srt_error(SRT_ERR_FORMAT, "%s: weight_map entry '%s' is not a file name", index_path,
                           item->string ? item->string : "?");
            break;
        }
        const char *shard = item->valuestring;
        if (!shard_name_ok(shard)) {
            st = srt_error(SRT_ERR_FORMAT, "%s: tensor '%s': shard name '%s' leaves the model folder", index_path,
                           item->string, shard);
            break;
        }
        int seen = 0;
        for (size_t i = 0; i < n_opened && !seen; i++) seen = strcmp(opened[i], shard) == 0;
        if (seen) continue;
        opened[n_opened++] = shard;
        char *path = srt_path_join(dir, shard);
        if (!path) { st = SRT_ERR_NOMEM; break; }
        st = srt_safetensors_load_into(w, path);
        free(path);
        if (st != SRT_OK) { srt_error_prefix(st, "%s: ", index_path); break; }
    }
    free(opened);
    if (st != SRT_OK) return st;
    if (n_opened == 0) return srt_error(SRT_ERR_FORMAT, "%s: weight_map is empty", index_path);
    SRT_TRY(srt_weights_finish(w));
    cJSON_ArrayForEach(item, map) {
        const srt_tensor_view *t = srt_weights_find(w, item->string);
        if (!t)
            return srt_error(SRT_ERR_NOT_FOUND, "%s: tensor '%s' is listed in shard %s but missing from it",
                             index_path, item->string, item->valuestring);
        const char *file = srt_weights_file_of(w, t);
        size_t fl = strlen(file), sl = strlen(item->valuestring);
        if (fl < sl || strcmp(file + fl - sl, item->valuestring) != 0)
            return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' is listed in shard %s but found in %s", index_path,
                             item->string, item->valuestring, file);
    }
    return SRT_OK;
}

srt_status srt_weights_open_index(const char *index_path, srt_weights **out) {
    *out = NULL;
    if (!index_path) return srt_error(SRT_ERR_INVALID_ARG, "srt_weights_open_index: no path");
    char *text = NULL;
    size_t len = 0;
    SRT_TRY(srt_read_file(index_path, &text, &len));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return srt_error(SRT_ERR_FORMAT, "%s: not a JSON object with a \"weight_map\" object", index_path);
    }
    srt_weights *w = NULL;
    char *dir = dir_of(index_path);
    srt_status st = dir ? srt_weights_create(index_path, &w) : SRT_ERR_NOMEM;
    if (st == SRT_OK) st = load_shards(w, index_path, dir, map);
    free(dir);
    cJSON_Delete(root);
    if (st != SRT_OK) { srt_weights_free(w); return st; }
    *out = w;
    return SRT_OK;
}

srt_status srt_weights_open_dir(const char *dir, srt_weights **out) {
    *out = NULL;
    if (!dir) return srt_error(SRT_ERR_INVALID_ARG, "srt_weights_open_dir: no folder");
    static const char *names[] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"};
    for (int i = 0; i < 3; i++) {
        char *path = srt_path_join(dir, names[i]);
        if (!path) return SRT_ERR_NOMEM;
        if (!srt_file_exists(path)) { free(path); continue; }
        srt_status st = i == 0 ? srt_weights_open_safetensors(path, out)
                      : i == 1 ? srt_weights_open_index(path, out)
                               : srt_weights_open_torch(path, out);
        free(path);
        return st;
    }
    return srt_error(SRT_ERR_NOT_FOUND, "%s: no weights found (looked for model.safetensors, "
                     "model.safetensors.index.json, pytorch_model.bin)", dir);
}
