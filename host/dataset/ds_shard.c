/* ds_shard.c: the shard writer common to every format: temp files (<final>.tmp), item validation, and the
 * atomic commit (flush + fsync the temps, rename them into place with the data file last, fsync the folder). */
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void writer_free(srt_ds_shard_writer *w) {
    if (!w) return;
    if (w->fmt == SRT_DS_CSV) ds_csv_free(w);
    if (w->fmt == SRT_DS_BIN) ds_bin_free(w);
    for (int i = 0; i < 2; i++) {
        if (w->f[i]) fclose(w->f[i]);
        free(w->final_path[i]);
        free(w->tmp_path[i]);
    }
    free(w);
}

static void remove_temps(srt_ds_shard_writer *w) {
    for (int i = 0; i < w->n_files; i++) {
        if (w->f[i]) { fclose(w->f[i]); w->f[i] = NULL; }
        if (w->tmp_path[i]) unlink(w->tmp_path[i]);
    }
}

srt_status srt_ds_shard_begin(const char *dir, const char *name, srt_ds_format fmt, const srt_codec_info *info,
                              srt_ds_shard_writer **out) {
    *out = NULL;
    if (!dir || !name || !*name || !info) return srt_error(SRT_ERR_INVALID_ARG, "shard: need a folder, a name and a model");
    if (fmt != SRT_DS_JSONL && fmt != SRT_DS_CSV && fmt != SRT_DS_BIN)
        return srt_error(SRT_ERR_INVALID_ARG, "shard %s: unknown format %d", name, (int)fmt);
    if (info->n_levels < 1 || info->n_levels > 8 || info->sample_rate <= 0)
        return srt_error(SRT_ERR_INVALID_ARG, "shard %s: the model info has %d levels at %d Hz", name, info->n_levels,
                         info->sample_rate);
    if (fmt == SRT_DS_BIN && info->codebook_size > 65536)
        return srt_error(SRT_ERR_UNSUPPORTED, "shard %s: the bin format stores uint16 codes; this model has %d codes "
                         "per codebook (max 65536)", name, info->codebook_size);
    srt_ds_shard_writer *w = srt_calloc(1, sizeof *w, "a shard writer");
    if (!w) return SRT_ERR_NOMEM;
    w->fmt = fmt;
    w->info = *info;
    char files[2][512];
    w->n_files = srt_ds_shard_files(fmt, name, files);
    srt_status st = SRT_OK;
    for (int i = 0; i < w->n_files && st == SRT_OK; i++) {
        w->final_path[i] = srt_path_join(dir, files[i]);
        size_t n = w->final_path[i] ? strlen(w->final_path[i]) : 0;
        w->tmp_path[i] = w->final_path[i] ? malloc(n + 5) : NULL;
        if (!w->tmp_path[i]) { st = srt_error(SRT_ERR_NOMEM, "out of memory naming shard %s", name); break; }
        snprintf(w->tmp_path[i], n + 5, "%s.tmp", w->final_path[i]);
        w->f[i] = fopen(w->tmp_path[i], "wb");
        if (!w->f[i]) st = srt_error(SRT_ERR_IO, "%s: cannot create: %s", w->tmp_path[i], strerror(errno));
    }
    if (st == SRT_OK && fmt == SRT_DS_BIN) st = ds_bin_begin(w);
    if (st != SRT_OK) { remove_temps(w); writer_free(w); return st; }
    *out = w;
    return SRT_OK;
}

/* An item fits the shard's model: key, rate, lengths, codes, passthrough object. */
static srt_status check_item(const srt_ds_shard_writer *w, const srt_ds_item *item) {
    const char *key = item->key;
    if (!key || !*key) return srt_error(SRT_ERR_INVALID_ARG, "shard item %lld has no key", (long long)w->n_items);
    if (!item->source) return srt_error(SRT_ERR_INVALID_ARG, "item '%s': no source", key);
    if (item->sample_rate != w->info.sample_rate)
        return srt_error(SRT_ERR_INVALID_ARG, "item '%s': sample rate %d, the shard's model is %d Hz", key,
                         item->sample_rate, w->info.sample_rate);
    if (item->n_samples < 0 || item->offset_samples < 0)
        return srt_error(SRT_ERR_INVALID_ARG, "item '%s': negative length or offset", key);
    SRT_TRY(srt_codes_validate(&w->info, &item->codes, key));
    int64_t covered = item->codes.n_frames[0] * w->info.vq_strides[0] * w->info.hop_length;
    if (item->n_samples > covered)
        return srt_error(SRT_ERR_INVALID_ARG, "item '%s': n_samples %lld is more than its codes cover (%lld)", key,
                         (long long)item->n_samples, (long long)covered);
    cJSON *extra = NULL;
    SRT_TRY(ds_extra_parse(item->extra_json, key, &extra));
    cJSON_Delete(extra);
    return SRT_OK;
}

srt_status srt_ds_shard_add(srt_ds_shard_writer *w, const srt_ds_item *item) {
    if (!w || !item) return srt_error(SRT_ERR_INVALID_ARG, "shard add: no writer or item");
    if (w->broken)
        return srt_error(SRT_ERR_IO, "%s: an earlier write failed; the shard must be aborted", w->tmp_path[0]);
    srt_status st = check_item(w, item);
    if (st != SRT_OK) return srt_error_prefix(st, "%s: ", w->final_path[w->n_files - 1]);
    switch (w->fmt) {
    case SRT_DS_JSONL: st = ds_jsonl_add(w, item); break;
    case SRT_DS_CSV: st = ds_csv_add(w, item); break;
    case SRT_DS_BIN: st = ds_bin_add(w, item); break;
    }
    if (st == SRT_OK) w->n_items++;
    else if (st == SRT_ERR_IO) w->broken = 1;
    return st;
}

static srt_status sync_close(srt_ds_shard_writer *w, int i) {
    FILE *f = w->f[i];
    w->f[i] = NULL;
    int bad = fflush(f) != 0 || ferror(f);
    if (!bad && fsync(fileno(f)) != 0) bad = 1;
    int err = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; err = errno; }
    return bad ? srt_error(SRT_ERR_IO, "%s: write failed: %s", w->tmp_path[i], strerror(err)) : SRT_OK;
}

srt_status srt_ds_shard_commit(srt_ds_shard_writer *w, int64_t *n_items, int64_t *bytes) {
    if (n_items) *n_items = 0;
    if (bytes) *bytes = 0;
    if (!w) return srt_error(SRT_ERR_INVALID_ARG, "shard commit: no writer");
    srt_status st = SRT_OK;
    if (w->broken) st = srt_error(SRT_ERR_IO, "%s: an earlier write failed", w->tmp_path[0]);
    if (st == SRT_OK && w->fmt == SRT_DS_CSV) st = ds_csv_finish(w);
    if (st == SRT_OK && w->fmt == SRT_DS_BIN) st = ds_bin_finish(w);
    int64_t total = 0;
    for (int i = 0; i < w->n_files && st == SRT_OK; i++) {
        st = sync_close(w, i);
        struct stat sb;
        if (st == SRT_OK && stat(w->tmp_path[i], &sb) == 0) total += (int64_t)sb.st_size;
    }
    for (int i = 0; i < w->n_files && st == SRT_OK; i++)
        if (rename(w->tmp_path[i], w->final_path[i]) != 0) {
            st = srt_error(SRT_ERR_IO, "%s: cannot rename into place: %s", w->final_path[i], strerror(errno));
            for (int k = 0; k < i; k++) unlink(w->final_path[k]);   /* no half shard under final names */
        }
    if (st == SRT_OK) {
        /* the folder entry of the renames must reach the disk too */
        char *dir = srt_strdup(w->final_path[0]);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash) *(slash == dir ? slash + 1 : slash) = 0;
        int fd = dir ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY) : -1;
        if (fd < 0 || fsync(fd) != 0) st = srt_error(SRT_ERR_IO, "%s: cannot sync the folder: %s", dir ? dir : "?", strerror(errno));
        if (fd >= 0) close(fd);
        free(dir);
    }
    if (st != SRT_OK) {
        remove_temps(w);
        srt_error_prefix(st, "committing shard: ");
    } else {
        if (n_items) *n_items = w->n_items;
        if (bytes) *bytes = total;
    }
    writer_free(w);
    return st;
}

void srt_ds_shard_abort(srt_ds_shard_writer *w) {
    if (!w) return;
    remove_temps(w);
    writer_free(w);
}
