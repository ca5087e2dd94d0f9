/* ds_shard_finish.c: the end of a shard, as every tokenize writer does it (audio pipeline, synthesized tasks):
 * the sequence files renamed into place first, then the shard's data file (the commit point), then the done-log
 * line naming its files, counts, items and errors, appended and fsynced.
 * SNACRT_DS_COMMIT_PAUSE_MS (fault injection for the kill -9 tests, 0..10000, default 0) sleeps that long inside
 * each of the two crash windows (sequence files renamed, data file not; data file committed, done-log line not),
 * so a test can kill a run inside them on a machine of any speed. */
#include "dataset/ds_pipeline_internal.h"
#include "dataset/ds_seq.h"
#include "common.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sleep SNACRT_DS_COMMIT_PAUSE_MS milliseconds, when set (invalid or out-of-range values are ignored). */
static void commit_pause(void) {
    const char *env = getenv("SNACRT_DS_COMMIT_PAUSE_MS");
    if (!env || !*env) return;
    char *end = NULL;
    long ms = strtol(env, &end, 10);
    if (*end || ms <= 0 || ms > 10000) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* The done-log line of a committed shard, with its trailing newline (NULL when out of memory). Takes items and
 * errors. */
static char *done_line(const ds_shard_done *d, int64_t bytes, cJSON *items, cJSON *errors) {
    cJSON *line = cJSON_CreateObject(), *fl = cJSON_CreateArray();
    char *text = NULL;
    if (line && fl) {
        for (int f = 0; f < d->n_files; f++) cJSON_AddItemToArray(fl, cJSON_CreateString(d->files[f]));
        for (int f = 0; f < d->n_seq_files; f++) cJSON_AddItemToArray(fl, cJSON_CreateString(d->seq_files[f]));
        cJSON_AddNumberToObject(line, "k", (double)d->k);
        cJSON_AddStringToObject(line, "shard", d->name);
        cJSON_AddItemToObject(line, "files", fl);
        fl = NULL;
        cJSON_AddNumberToObject(line, "n_units", (double)d->n_units);
        cJSON_AddNumberToObject(line, "n_items", (double)d->n_items);
        cJSON_AddNumberToObject(line, "n_errors", (double)d->n_errors);
        cJSON_AddNumberToObject(line, "audio_samples", (double)d->audio_samples);
        cJSON_AddNumberToObject(line, "bytes", (double)bytes);
        cJSON_AddItemToObject(line, "items", items);
        cJSON_AddItemToObject(line, "errors", errors);
        items = errors = NULL;
        char *t = cJSON_PrintUnformatted(line);
        size_t n = t ? strlen(t) : 0;
        text = t ? realloc(t, n + 2) : NULL;
        if (!text) free(t);
        else { text[n] = '\n'; text[n + 1] = 0; }
    }
    cJSON_Delete(line);
    cJSON_Delete(fl);
    cJSON_Delete(items);
    cJSON_Delete(errors);
    return text;
}

srt_status ds_shard_finish(ds_done_log *log, srt_status st, srt_ds_shard_writer *sw, srt_ds_seq_writer *qw,
                           const ds_shard_done *d, cJSON *items, cJSON *errors) {
    int64_t written = 0, bytes = 0;
    if (st == SRT_OK && qw) { st = srt_ds_seq_commit(qw); qw = NULL; }
    if (qw) srt_ds_seq_abort(qw);
    if (st == SRT_OK) commit_pause();
    if (st == SRT_OK) { st = srt_ds_shard_commit(sw, &written, &bytes); sw = NULL; }
    if (sw) srt_ds_shard_abort(sw);
    if (st != SRT_OK) {
        cJSON_Delete(items);
        cJSON_Delete(errors);
        return st;
    }
    commit_pause();
    char *text = done_line(d, bytes, items, errors);
    st = text ? ds_done_log_append(log, text) : srt_error(SRT_ERR_NOMEM, "shard %s: out of memory", d->name);
    free(text);
    if (st == SRT_OK && written != d->n_items)
        st = srt_error(SRT_ERR_IO, "shard %s: %lld items committed, %lld expected", d->name, (long long)written,
                       (long long)d->n_items);
    return st;
}
