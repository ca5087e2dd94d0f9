/* ds_shard_jsonl.c: one JSONL shard line per item:
 * {"key":..,"source":..,"offset":..,"n_samples":..,"sample_rate":..,"codes":[[level0],[level1],..],<passthrough>}
 * Passthrough keys keep their JSON values; one that collides with a field above is written "_"-prefixed. */
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <string.h>

static const char *const jsonl_reserved[] = {"key", "source", "offset", "n_samples", "sample_rate", "codes", NULL};

/* The shard-field names a JSONL passthrough key may not take (used by the reader too). */
const char *const *ds_jsonl_reserved(void) { return jsonl_reserved; }

srt_status ds_jsonl_add(srt_ds_shard_writer *w, const srt_ds_item *item) {
    ds_buf b = {0};
    ds_buf_puts(&b, "{\"key\":");
    ds_buf_json_string(&b, item->key);
    ds_buf_puts(&b, ",\"source\":");
    ds_buf_json_string(&b, item->source);
    ds_buf_printf(&b, ",\"offset\":%lld,\"n_samples\":%lld,\"sample_rate\":%d,\"codes\":[",
                  (long long)item->offset_samples, (long long)item->n_samples, item->sample_rate);
    for (int l = 0; l < item->codes.n_levels; l++) {
        ds_buf_puts(&b, l ? ",[" : "[");
        for (int64_t i = 0; i < item->codes.n_frames[l]; i++) ds_buf_printf(&b, i ? ",%d" : "%d", item->codes.codes[l][i]);
        ds_buf_puts(&b, "]");
    }
    ds_buf_puts(&b, "]");
    cJSON *extra = NULL;
    srt_status st = ds_extra_parse(item->extra_json, item->key, &extra);
    for (cJSON *c = extra ? extra->child : NULL; c && st == SRT_OK; c = c->next) {
        char *name = ds_passthrough_name(c->string, jsonl_reserved, extra);
        char *val = cJSON_PrintUnformatted(c);
        if (!name || !val) st = srt_error(SRT_ERR_NOMEM, "item '%s': out of memory", item->key);
        else {
            ds_buf_puts(&b, ",");
            ds_buf_json_string(&b, name);
            ds_buf_puts(&b, ":");
            ds_buf_puts(&b, val);
        }
        free(name);
        cJSON_free(val);
    }
    cJSON_Delete(extra);
    ds_buf_puts(&b, "}\n");
    if (st == SRT_OK) st = ds_buf_status(&b, "a JSONL line");
    if (st == SRT_OK && fwrite(b.p, 1, b.n, w->f[0]) != b.n)
        st = srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[0], strerror(errno));
    ds_buf_free(&b);
    return st;
}
