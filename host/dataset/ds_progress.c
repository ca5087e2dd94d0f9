/* ds_progress.c: what the tokenizer reports while and after it runs: a one-line progress text (units, items, audio
 * hours encoded of this run's total, x-real-time, ETA, errors) and the final summary JSON (totals, per-stage busy
 * seconds, per-device throughput, peak RSS). Only the CLI prints them. */
#include "snacrt_dataset.h"
#include "common.h"
#include <cjson/cJSON.h>
#include <stdio.h>

static void format_duration(double s, char *out, size_t cap) {
    if (s < 0 || s > 1e8) { snprintf(out, cap, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, cap, "%lds", t);
}

/* This run's total audio: exact once every unit is read, else extrapolated from the units read so far (< 0 when
 * nothing is read yet). */
static double audio_total_estimate(const srt_ds_progress *p, int64_t todo) {
    if (p->units_read <= 0 || todo <= 0) return -1;
    if (p->units_read >= todo) return p->audio_seconds_read;
    return p->audio_seconds_read * (double)todo / (double)p->units_read;
}

/* The bar and the ETA measure encoded audio against this run's total audio (the readers run ahead of the encoder,
 * so counting files read would reach 100% while encoding goes on); before any audio is encoded, units done. */
void srt_ds_progress_format(const srt_ds_progress *p, char *out, size_t cap) {
    int64_t todo = p->units_total - p->units_skipped, done = p->units_done - p->units_skipped;
    double total = audio_total_estimate(p, todo);
    double xrt = p->wall_seconds > 0 ? p->audio_seconds / p->wall_seconds : 0;
    double frac;
    char eta[32], wall[32], audio[64];
    if (p->finished || todo <= 0) frac = 1.0;
    else if (total > 0 && p->audio_seconds > 0) frac = p->audio_seconds / total;
    else frac = (double)done / (double)todo;
    if (!p->finished && frac > 0.999) frac = 0.999;   /* 100% only when it is */
    if (p->finished) snprintf(eta, sizeof eta, "done");
    else if (total > 0 && p->audio_seconds > 0 && p->wall_seconds > 0)
        format_duration(p->wall_seconds * (total - p->audio_seconds) / p->audio_seconds, eta, sizeof eta);
    else if (done > 0 && todo > done) format_duration(p->wall_seconds * (double)(todo - done) / (double)done, eta, sizeof eta);
    else snprintf(eta, sizeof eta, "?");
    format_duration(p->wall_seconds, wall, sizeof wall);
    if (p->finished || total < 0) snprintf(audio, sizeof audio, "%.3f h", p->audio_seconds / 3600.0);
    else snprintf(audio, sizeof audio, "%.3f of %s%.3f h", p->audio_seconds / 3600.0,
                  p->units_read >= todo ? "" : "~", total / 3600.0);
    int bar_w = 20, filled = (int)(frac * bar_w + 1e-9);
    char bar[32];
    for (int i = 0; i < bar_w; i++) bar[i] = i < filled ? '#' : '.';
    bar[bar_w] = 0;
    snprintf(out, cap, "[%s] %5.1f%% units %lld/%lld  items %lld  audio %s  %.1fx real time  shards %lld/%lld  "
             "errors %lld  elapsed %s  eta %s", bar, 100.0 * frac, (long long)p->units_done, (long long)p->units_total,
             (long long)p->items, audio, xrt, (long long)(p->shards_committed + p->shards_skipped),
             (long long)p->shards_total, (long long)p->errors, wall, eta);
}

char *srt_ds_summary_json(const srt_ds_summary *s) {
    const srt_ds_progress *p = &s->progress;
    cJSON *j = cJSON_CreateObject(), *stages = cJSON_CreateObject(), *devs = cJSON_CreateArray();
    if (!j || !stages || !devs) { cJSON_Delete(j); cJSON_Delete(stages); cJSON_Delete(devs); return NULL; }
    cJSON_AddNumberToObject(j, "units", (double)p->units_total);
    cJSON_AddNumberToObject(j, "units_skipped", (double)p->units_skipped);
    cJSON_AddNumberToObject(j, "items", (double)p->items);
    cJSON_AddNumberToObject(j, "errors", (double)p->errors);
    cJSON_AddNumberToObject(j, "items_skipped", (double)p->items_skipped);
    cJSON_AddNumberToObject(j, "errors_skipped", (double)p->errors_skipped);
    cJSON_AddNumberToObject(j, "shards", (double)p->shards_total);
    cJSON_AddNumberToObject(j, "shards_written", (double)p->shards_committed);
    cJSON_AddNumberToObject(j, "shards_skipped", (double)p->shards_skipped);
    cJSON_AddNumberToObject(j, "audio_seconds", p->audio_seconds);
    cJSON_AddNumberToObject(j, "audio_hours", p->audio_seconds / 3600.0);
    cJSON_AddNumberToObject(j, "wall_seconds", p->wall_seconds);
    cJSON_AddNumberToObject(j, "x_real_time", p->wall_seconds > 0 ? p->audio_seconds / p->wall_seconds : 0);
    cJSON_AddNumberToObject(j, "nonfinite_samples_replaced", (double)s->nonfinite_replaced);
    cJSON_AddNumberToObject(stages, "read_busy_seconds", s->read_busy_seconds);
    cJSON_AddNumberToObject(stages, "encode_busy_seconds", s->encode_busy_seconds);
    cJSON_AddNumberToObject(stages, "write_busy_seconds", s->write_busy_seconds);
    cJSON_AddNumberToObject(stages, "readers", s->n_readers);
    cJSON_AddNumberToObject(stages, "chunk_seconds", s->chunk_seconds);
    cJSON_AddNumberToObject(stages, "batch_seconds", s->batch_seconds);
    cJSON_AddItemToObject(j, "stages", stages);
    /* padding: what the batches computed beyond their audio (items x longest padded length); GPU busy: the device
     * time of the batches from events over the wall time, averaged over the GPU workers (one per GPU) */
    double valid = 0, padded = 0, busy_sum = 0;
    int timed = 0;
    for (int i = 0; i < s->n_devices; i++) {
        valid += s->devices[i].batch_seconds;
        padded += s->devices[i].padded_seconds;
        if (s->devices[i].device_busy_seconds >= 0) {
            timed++;
            busy_sum += p->wall_seconds > 0 ? s->devices[i].device_busy_seconds / p->wall_seconds : 0;
        }
    }
    cJSON_AddNumberToObject(j, "padding_fraction", padded > 0 ? 1 - valid / padded : 0);
    if (timed) {
        double f = busy_sum / timed;
        cJSON_AddNumberToObject(j, "gpu_busy_fraction", f < 0 ? 0 : f > 1 ? 1 : f);
        srt_build_info bi;
        srt_get_build_info(&bi);
        cJSON_AddStringToObject(j, "gpu_busy_timer", bi.cudasim && !bi.cuda
            ? "simulator: cudaEvent times are the host wall time of the simulated kernels, not a GPU's"
            : "cudaEvent elapsed time from the first to the last op of each batch, over the wall time");
    } else cJSON_AddNullToObject(j, "gpu_busy_fraction");
    for (int i = 0; i < s->n_devices; i++) {
        const srt_ds_device_stats *d = &s->devices[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) continue;
        cJSON_AddStringToObject(o, "device", d->device);
        cJSON_AddNumberToObject(o, "items", (double)d->items);
        cJSON_AddNumberToObject(o, "batches", (double)d->batches);
        cJSON_AddNumberToObject(o, "chunked_items", (double)d->chunked_items);
        cJSON_AddNumberToObject(o, "audio_seconds", d->audio_seconds);
        cJSON_AddNumberToObject(o, "busy_seconds", d->busy_seconds);
        cJSON_AddNumberToObject(o, "x_real_time_busy", d->busy_seconds > 0 ? d->audio_seconds / d->busy_seconds : 0);
        cJSON_AddNumberToObject(o, "x_real_time_wall", p->wall_seconds > 0 ? d->audio_seconds / p->wall_seconds : 0);
        cJSON_AddNumberToObject(o, "padding_fraction", d->padded_seconds > 0 ? 1 - d->batch_seconds / d->padded_seconds : 0);
        if (d->device_busy_seconds >= 0) {
            cJSON_AddNumberToObject(o, "gpu_busy_seconds", d->device_busy_seconds);
            double f = p->wall_seconds > 0 ? d->device_busy_seconds / p->wall_seconds : 0;
            cJSON_AddNumberToObject(o, "gpu_busy_fraction", f > 1 ? 1 : f);
        }
        cJSON_AddItemToArray(devs, o);
    }
    cJSON_AddItemToObject(j, "devices", devs);
    cJSON_AddNumberToObject(j, "peak_rss_mb", (double)s->peak_rss_kb / 1024.0);
    cJSON_AddBoolToObject(j, "index_written", s->index_written);
    if (s->index_written) {
        cJSON_AddNumberToObject(j, "index_items", (double)s->index_items);
        cJSON_AddNumberToObject(j, "index_errors", (double)s->index_errors);
    }
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}
