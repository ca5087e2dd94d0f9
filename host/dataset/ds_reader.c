/* ds_reader.c: reading shards back: the format from the extension (.jsonl, .csv, .bin/.idx), the per-format
 * readers (ds_read_<fmt>.c) behind one next(), and the checks every item gets (against the model when given). */
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <string.h>

srt_status srt_ds_reader_open(const char *path, srt_ds_reader **out) {
    *out = NULL;
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "shard reader: no path");
    const char *ext = strrchr(path, '.');
    srt_ds_format fmt;
    if (ext && !strcmp(ext, ".jsonl")) fmt = SRT_DS_JSONL;
    else if (ext && !strcmp(ext, ".csv")) fmt = SRT_DS_CSV;
    else if (ext && (!strcmp(ext, ".bin") || !strcmp(ext, ".idx"))) fmt = SRT_DS_BIN;
    else return srt_error(SRT_ERR_UNSUPPORTED, "%s: not a shard (expected a .jsonl, .csv, .bin or .idx file)", path);
    srt_ds_reader *r = srt_calloc(1, sizeof *r, "a shard reader");
    if (!r) return SRT_ERR_NOMEM;
    r->fmt = fmt;
    r->line = 1;
    r->path = srt_strdup(path);
    srt_status st = r->path ? SRT_OK : SRT_ERR_NOMEM;
    if (st == SRT_OK && fmt != SRT_DS_BIN) {
        r->f = fopen(path, "rb");
        if (!r->f) st = srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (st == SRT_OK && fmt == SRT_DS_CSV) st = ds_read_csv_open(r);
    if (st == SRT_OK && fmt == SRT_DS_BIN) st = ds_read_bin_open(r);
    if (st != SRT_OK) { srt_ds_reader_close(r); return st; }
    *out = r;
    return SRT_OK;
}

srt_status srt_ds_reader_set_codec(srt_ds_reader *r, const srt_codec_info *info) {
    if (!r || !info) return srt_error(SRT_ERR_INVALID_ARG, "shard reader: no reader or model");
    r->info = *info;
    r->has_info = 1;
    return SRT_OK;
}

/* Shape checks that need no model: levels, lengths, ranges. what = "<file>:<line>" or "<file>: item N". */
static srt_status check_item(const srt_ds_reader *r, const srt_ds_item *it, const char *what) {
    const srt_codes *c = &it->codes;
    if (it->sample_rate <= 0) return srt_error(SRT_ERR_FORMAT, "%s: sample rate %d", what, it->sample_rate);
    if (it->n_samples < 0 || it->offset_samples < 0)
        return srt_error(SRT_ERR_FORMAT, "%s: negative n_samples or offset", what);
    if (c->n_levels < 1 || c->n_levels > 8) return srt_error(SRT_ERR_FORMAT, "%s: %d code levels", what, c->n_levels);
    if (c->n_frames[0] < 1) return srt_error(SRT_ERR_FORMAT, "%s: no codes", what);
    for (int l = 1; l < c->n_levels; l++)
        if (c->n_frames[l] < c->n_frames[l - 1] || c->n_frames[l] % c->n_frames[0])
            return srt_error(SRT_ERR_FORMAT, "%s: level %d has %lld codes, level 0 has %lld (not a multiple)", what, l,
                             (long long)c->n_frames[l], (long long)c->n_frames[0]);
    if (!r->has_info) return SRT_OK;
    if (it->sample_rate != r->info.sample_rate)
        return srt_error(SRT_ERR_FORMAT, "%s: codes at %d Hz, the model is %d Hz", what, it->sample_rate,
                         r->info.sample_rate);
    srt_status st = srt_codes_validate(&r->info, c, what);
    if (st != SRT_OK) return SRT_ERR_FORMAT;
    int64_t covered = c->n_frames[0] * r->info.vq_strides[0] * r->info.hop_length;
    if (it->n_samples > covered)
        return srt_error(SRT_ERR_FORMAT, "%s: n_samples %lld is more than the codes cover (%lld)", what,
                         (long long)it->n_samples, (long long)covered);
    return SRT_OK;
}

srt_status srt_ds_reader_next(srt_ds_reader *r, srt_ds_item *item, int *eof) {
    *eof = 0;
    if (!r) return srt_error(SRT_ERR_INVALID_ARG, "shard reader: none");
    srt_ds_item it = {0};
    srt_status st;
    switch (r->fmt) {
    case SRT_DS_JSONL: st = ds_read_jsonl_next(r, &it, eof); break;
    case SRT_DS_CSV: st = ds_read_csv_next(r, &it, eof); break;
    default: st = ds_read_bin_next(r, &it, eof); break;
    }
    if (st != SRT_OK || *eof) { srt_ds_item_clear(&it); return st; }
    char what[600];
    if (r->fmt == SRT_DS_BIN) snprintf(what, sizeof what, "%s: item %lld ('%.200s')", r->path, (long long)r->index, it.key);
    else snprintf(what, sizeof what, "%s:%d ('%.200s')", r->path, r->item_line, it.key);
    it.codes.n_samples = it.n_samples;
    st = check_item(r, &it, what);
    if (st != SRT_OK) { srt_ds_item_clear(&it); return st; }
    r->index++;
    *item = it;
    return SRT_OK;
}

void srt_ds_reader_close(srt_ds_reader *r) {
    if (!r) return;
    if (r->fmt == SRT_DS_CSV) ds_read_csv_free(r);
    if (r->fmt == SRT_DS_BIN) ds_read_bin_free(r);
    if (r->f) fclose(r->f);
    free(r->path);
    free(r);
}
