/* ds_item.c: dataset items and shard formats: freeing an item, format names, a shard's file names, and the
 * passthrough-column and codes-layout helpers every shard format shares (see ds_format.h, ds_internal.h). */
#include "dataset/ds_internal.h"
#include "common.h"
#include <stdio.h>
#include <string.h>

void srt_ds_item_clear(srt_ds_item *item) {
    if (!item) return;
    free(item->key);
    free(item->source);
    free(item->extra_json);
    srt_codes_free(&item->codes);
    memset(item, 0, sizeof *item);
}

srt_status srt_ds_format_parse(const char *name, srt_ds_format *fmt) {
    if (name && !strcmp(name, "jsonl")) *fmt = SRT_DS_JSONL;
    else if (name && !strcmp(name, "csv")) *fmt = SRT_DS_CSV;
    else if (name && !strcmp(name, "bin")) *fmt = SRT_DS_BIN;
    else return srt_error(SRT_ERR_INVALID_ARG, "unknown shard format '%s' (expected jsonl, csv or bin)",
                          name ? name : "(null)");
    return SRT_OK;
}

const char *srt_ds_format_name(srt_ds_format fmt) {
    switch (fmt) {
    case SRT_DS_JSONL: return "jsonl";
    case SRT_DS_CSV: return "csv";
    case SRT_DS_BIN: return "bin";
    }
    return "unknown";
}

/* Listed in rename order: the last one is the data file, renamed last, so its presence means the shard is whole. */
int srt_ds_shard_files(srt_ds_format fmt, const char *name, char files[2][512]) {
    if (fmt == SRT_DS_BIN) {
        snprintf(files[0], 512, "%s.idx", name);
        snprintf(files[1], 512, "%s.bin", name);
        return 2;
    }
    snprintf(files[0], 512, "%s.%s", name, fmt == SRT_DS_CSV ? "csv" : "jsonl");
    files[1][0] = 0;
    return 1;
}

srt_status ds_extra_parse(const char *extra_json, const char *key, cJSON **obj) {
    *obj = NULL;
    if (!extra_json || !*extra_json) return SRT_OK;
    cJSON *o = cJSON_Parse(extra_json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return srt_error(SRT_ERR_INVALID_ARG, "item '%s': extra_json is not a JSON object: %.80s", key, extra_json);
    }
    if (!o->child) { cJSON_Delete(o); return SRT_OK; }
    *obj = o;
    return SRT_OK;
}

char *ds_passthrough_name(const char *name, const char *const *reserved, const cJSON *siblings) {
    size_t n = strlen(name), pre = 0;
    char *out = srt_malloc(n + 1, "a column name");
    if (!out) return NULL;
    memcpy(out, name, n + 1);
    for (;;) {
        int clash = 0;
        for (const char *const *r = reserved; *r && !clash; r++) clash = !strcmp(*r, out);
        for (const cJSON *c = siblings ? siblings->child : NULL; c && !clash && pre; c = c->next)
            clash = c->string && !strcmp(c->string, out);
        if (!clash) return out;
        pre++;
        char *q = realloc(out, pre + n + 1);
        if (!q) { free(out); srt_error(SRT_ERR_NOMEM, "out of memory naming a column"); return NULL; }
        out = q;
        memset(out, '_', pre);
        memcpy(out + pre, name, n + 1);
    }
}

void ds_default_layout(int sample_rate, srt_codec_info *info) {
    memset(info, 0, sizeof *info);
    info->sample_rate = sample_rate;
    info->hop_length = 512;
    info->codebook_size = 65536;
    if (sample_rate <= 24000) {
        info->n_levels = 3;
        info->vq_strides[0] = 4; info->vq_strides[1] = 2; info->vq_strides[2] = 1;
    } else {
        info->n_levels = 4;
        info->vq_strides[0] = 8; info->vq_strides[1] = 4; info->vq_strides[2] = 2; info->vq_strides[3] = 1;
    }
}

int ds_rate_from_khz(int khz) {
    if (khz == 11 || khz == 22 || khz == 44 || khz == 88) return khz * 1000 + khz * 25 / 11;
    return khz * 1000;
}
