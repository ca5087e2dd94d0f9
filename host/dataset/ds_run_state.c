/* ds_run_state.c: a tokenize worker's state on disk, what makes kill -9 + --resume safe:
 *  - the plan (wI-ofN.plan.json): canonical JSON of the inputs fingerprint and every setting that changes the
 *    output; written atomically before any shard; a resumed run must produce the identical plan;
 *  - the done-log (wI-ofN.done.jsonl): one JSON line per committed shard, appended and fsynced after the shard's
 *    files are renamed into place: the commit point. A torn last line (killed mid-write) is cut off on resume;
 *    a shard renamed but not logged is simply written again (same bytes);
 *  - cleanup on start: temp files (*.tmp) and shard files not in the done-log of this worker are removed;
 *  - the lock (wI-ofN.lock): flock'd for the whole run, so a second run of the same worker on the same folder
 *    stops at once (naming the PID in the file) instead of interleaving its done-log lines with the first's. */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void ds_worker_prefix(int shard_index, int num_shards, char *out, size_t cap) {
    snprintf(out, cap, "w%05d-of%05d", shard_index, num_shards);
}

void srt_ds_shard_name(int shard_index, int num_shards, int64_t k, char *out, size_t cap) {
    snprintf(out, cap, "w%05d-of%05d-s%06lld", shard_index, num_shards, (long long)k);
}

srt_status ds_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return srt_error(SRT_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int bad = fsync(fd) != 0;
    int err = errno;
    close(fd);
    return bad ? srt_error(SRT_ERR_IO, "%s: cannot sync the folder: %s", dir, strerror(err)) : SRT_OK;
}

static char *folder_of(const char *path) {
    char *d = srt_strdup(path);
    if (!d) return NULL;
    char *slash = strrchr(d, '/');
    if (!slash) { free(d); return srt_strdup("."); }
    if (slash == d) slash[1] = 0; else *slash = 0;
    return d;
}

srt_status ds_write_atomic(const char *path, const char *data, size_t size) {
    size_t n = strlen(path) + 8;
    char *tmp = srt_malloc(n, "a file name");
    if (!tmp) return SRT_ERR_NOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    srt_status st = SRT_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) st = srt_error(SRT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    while (st == SRT_OK && done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) st = srt_error(SRT_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        else done += (size_t)w;
    }
    if (st == SRT_OK && fsync(fd) != 0) st = srt_error(SRT_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    if (st == SRT_OK && rename(tmp, path) != 0)
        st = srt_error(SRT_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != SRT_OK) unlink(tmp);
    free(tmp);
    if (st == SRT_OK) {
        char *dir = folder_of(path);
        st = dir ? ds_fsync_dir(dir) : SRT_ERR_NOMEM;
        free(dir);
    }
    return st;
}

char *ds_plan_json(const srt_ds_run_options *o, const srt_codec_info *info, uint64_t fingerprint, int64_t n_entries,
                   int64_t n_units, int64_t n_shards) {
    char hex[17];
    ds_hex64(fingerprint, hex);
    cJSON *j = cJSON_CreateObject(), *m = cJSON_CreateObject();
    if (!j || !m) { cJSON_Delete(j); cJSON_Delete(m); return NULL; }
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "worker", o->shard_index);
    cJSON_AddNumberToObject(j, "num_workers", o->num_shards);
    cJSON_AddStringToObject(j, "format", srt_ds_format_name(o->format));
    cJSON_AddNumberToObject(j, "shard_size", (double)o->shard_size);
    cJSON_AddNumberToObject(j, "max_seconds", o->max_seconds > 0 ? o->max_seconds : 0);
    if (o->seq_layout) {   /* --sequences: a resume with other sequence options is another run */
        cJSON *q = cJSON_AddObjectToObject(j, "sequences");
        if (q) {
            cJSON_AddStringToObject(q, "layout", o->seq_layout);
            static const char *const tasks[] = {"tts", "asr", "interleave", "dialog"};
            cJSON_AddStringToObject(q, "task", tasks[o->seq_task >= 0 && o->seq_task < 4 ? o->seq_task : 0]);
            if (o->seq_voice_column) cJSON_AddStringToObject(q, "voice_column", o->seq_voice_column);
            cJSON_AddStringToObject(q, "text_column", o->seq_text_column ? o->seq_text_column : "text");
            cJSON_AddNumberToObject(q, "seq_len", (double)(o->seq_len > 0 ? o->seq_len : 0));
            cJSON_AddBoolToObject(q, "pack", o->seq_pack != 0);
            cJSON_AddStringToObject(q, "format", o->seq_jsonl ? "jsonl" : "bin");
            if (o->seq_task == SRT_DS_TASK_INTERLEAVE || o->seq_task == SRT_DS_TASK_DIALOG) {
                char seed[32];
                snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->synth_seed);
                cJSON_AddStringToObject(q, "tts_model", o->synth_tts_model ? o->synth_tts_model : o->seq_tokenizer);
                cJSON_AddStringToObject(q, "tts_layout", o->synth_tts_layout ? o->synth_tts_layout : "");
                cJSON_AddStringToObject(q, "voices", o->synth_voices ? o->synth_voices : "");
                cJSON_AddNumberToObject(q, "audio_rate", o->synth_audio_rate);
                cJSON_AddStringToObject(q, "seed", seed);
                cJSON_AddNumberToObject(q, "max_tokens", o->synth_max_tokens);
                cJSON_AddNumberToObject(q, "temperature", o->synth_temperature);
                cJSON_AddNumberToObject(q, "top_p", o->synth_top_p);
                cJSON_AddBoolToObject(q, "user_text", o->synth_user_text != 0);
                cJSON_AddBoolToObject(q, "assistant_text", o->synth_assistant_text != 0);
            }
        }
    }
    cJSON_AddStringToObject(j, "inputs_fingerprint", hex);
    cJSON_AddNumberToObject(j, "entries", (double)n_entries);
    cJSON_AddNumberToObject(j, "units", (double)n_units);
    cJSON_AddNumberToObject(j, "shards", (double)n_shards);
    cJSON_AddNumberToObject(m, "sample_rate", info->sample_rate);
    cJSON_AddNumberToObject(m, "hop_length", info->hop_length);
    cJSON_AddNumberToObject(m, "n_levels", info->n_levels);
    cJSON *strides = cJSON_CreateIntArray(info->vq_strides, info->n_levels);
    if (strides) cJSON_AddItemToObject(m, "vq_strides", strides);
    cJSON_AddNumberToObject(m, "codebook_size", info->codebook_size);
    cJSON_AddNumberToObject(m, "latent_dim", info->latent_dim);
    cJSON_AddNumberToObject(m, "n_params", (double)info->n_params);
    cJSON_AddItemToObject(j, "model", m);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text) return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) { free(text); return NULL; }
    line[n] = '\n';
    line[n + 1] = 0;
    return line;
}

/* ---------------------------------------------------------------- done-log */

void ds_done_log_lines_free(cJSON **lines, int64_t n) {
    if (!lines) return;
    for (int64_t i = 0; i < n; i++) cJSON_Delete(lines[i]);
    free(lines);
}

srt_status ds_done_log_read(const char *path, cJSON ***lines, int64_t *n_lines, size_t *valid_bytes) {
    *lines = NULL;
    *n_lines = 0;
    *valid_bytes = 0;
    char *text = NULL;
    size_t size = 0;
    SRT_TRY(srt_read_file(path, &text, &size));
    int64_t cap = 0, n = 0;
    cJSON **v = NULL;
    size_t pos = 0;
    srt_status st = SRT_OK;
    int line_no = 1;
    while (pos < size) {
        char *nl = memchr(text + pos, '\n', size - pos);
        if (!nl) break;                                 /* torn last line: not committed */
        cJSON *j = cJSON_ParseWithLength(text + pos, (size_t)(nl - (text + pos)));
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            st = srt_error(SRT_ERR_FORMAT, "%s:%d: not a done-log record", path, line_no);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            cJSON **nv = realloc(v, sizeof *nv * (size_t)cap);
            if (!nv) { cJSON_Delete(j); st = srt_error(SRT_ERR_NOMEM, "%s: out of memory", path); break; }
            v = nv;
        }
        v[n++] = j;
        pos = (size_t)(nl - text) + 1;
        line_no++;
    }
    free(text);
    if (st != SRT_OK) { ds_done_log_lines_free(v, n); return st; }
    *lines = v;
    *n_lines = n;
    *valid_bytes = pos;
    return SRT_OK;
}

srt_status ds_done_log_append(ds_done_log *log, const char *line) {
    size_t size = strlen(line), done = 0;
    while (done < size) {
        ssize_t w = write(log->fd, line + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return srt_error(SRT_ERR_IO, "%s: write failed: %s", log->path, strerror(errno));
        done += (size_t)w;
    }
    if (fsync(log->fd) != 0) return srt_error(SRT_ERR_IO, "%s: fsync failed: %s", log->path, strerror(errno));
    return SRT_OK;
}

void ds_done_log_close(ds_done_log *log) {
    if (log->fd >= 0) close(log->fd);
    free(log->done);
    free(log->path);
    memset(log, 0, sizeof *log);
    log->fd = -1;
}

static int64_t json_int(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* Write the done-log again from its lines, skipping the NULL ones (shards logged twice). */
static srt_status rewrite_done_log(const char *path, cJSON **lines, int64_t n) {
    size_t size = 0, cap = 4096;
    char *text = srt_malloc(cap, "the done-log");
    srt_status st = text ? SRT_OK : SRT_ERR_NOMEM;
    for (int64_t i = 0; i < n && st == SRT_OK; i++) {
        if (!lines[i]) continue;
        char *line = cJSON_PrintUnformatted(lines[i]);
        size_t len = line ? strlen(line) : 0;
        if (line && size + len + 2 > cap) {
            while (size + len + 2 > cap) cap *= 2;
            char *grown = realloc(text, cap);
            if (grown) text = grown; else { free(line); line = NULL; }
        }
        if (!line) { st = srt_error(SRT_ERR_NOMEM, "%s: out of memory", path); break; }
        memcpy(text + size, line, len);
        size += len;
        text[size++] = '\n';
        free(line);
    }
    if (st == SRT_OK) st = ds_write_atomic(path, text, size);
    free(text);
    return st;
}

/* Read the done-log (cutting a torn tail) and mark the committed shards. */
static srt_status load_done_log(const srt_ds_run_options *o, ds_done_log *log) {
    if (!srt_file_exists(log->path)) return SRT_OK;
    cJSON **lines = NULL;
    int64_t n = 0;
    size_t valid = 0;
    SRT_TRY(ds_done_log_read(log->path, &lines, &n, &valid));
    srt_status st = SRT_OK;
    if (truncate(log->path, (off_t)valid) != 0)
        st = srt_error(SRT_ERR_IO, "%s: cannot cut the torn last line: %s", log->path, strerror(errno));
    int64_t n_twice = 0;
    for (int64_t i = 0; i < n && st == SRT_OK; i++) {
        int64_t k = json_int(lines[i], "k");
        if (k < 0 || k >= log->n_shards) {
            st = srt_error(SRT_ERR_FORMAT, "%s:%lld: shard %lld is not a shard of this plan", log->path,
                           (long long)i + 1, (long long)k);
            break;
        }
        if (log->done[k]) {   /* its files were checked with its first line: drop this one */
            cJSON_Delete(lines[i]);
            lines[i] = NULL;
            n_twice++;
            continue;
        }
        char name[128], files[2][512];
        srt_ds_shard_name(o->shard_index, o->num_shards, k, name, sizeof name);
        int nf = srt_ds_shard_files(o->format, name, files);
        for (int f = 0; f < nf && st == SRT_OK; f++) {
            char *p = srt_path_join(o->out_dir, files[f]);
            if (!p) st = SRT_ERR_NOMEM;
            else if (!srt_file_exists(p))
                st = srt_error(SRT_ERR_NOT_FOUND, "%s: committed in %s but missing: the output folder was changed",
                               p, log->path);
            free(p);
        }
        log->done[k] = 1;
        log->n_done++;
        log->done_units += json_int(lines[i], "n_units");
        log->done_items += json_int(lines[i], "n_items");
        log->done_errors += json_int(lines[i], "n_errors");
    }
    if (st == SRT_OK && n_twice) st = rewrite_done_log(log->path, lines, n);
    ds_done_log_lines_free(lines, n);
    return st;
}

/* Remove this worker's temp files and shard files that no done-log line covers. */
static srt_status clean_out_dir(const srt_ds_run_options *o, const char *prefix, const ds_done_log *log) {
    DIR *d = opendir(o->out_dir);
    if (!d) return srt_error(SRT_ERR_IO, "%s: cannot list: %s", o->out_dir, strerror(errno));
    size_t pl = strlen(prefix);
    srt_status st = SRT_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && st == SRT_OK) {
        const char *name = de->d_name;
        if (strncmp(name, prefix, pl)) continue;
        size_t nl = strlen(name);
        int is_tmp = nl > 4 && !strcmp(name + nl - 4, ".tmp");
        int stale = is_tmp;
        long long k = -1;
        if (!is_tmp && !strncmp(name + pl, "-s", 2) && sscanf(name + pl + 2, "%lld", &k) == 1)
            stale = k < 0 || k >= log->n_shards || !log->done[k];
        if (!stale) continue;
        char *p = srt_path_join(o->out_dir, name);
        if (!p) st = SRT_ERR_NOMEM;
        else if (unlink(p) != 0 && errno != ENOENT) st = srt_error(SRT_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
        free(p);
    }
    closedir(d);
    return st == SRT_OK ? ds_fsync_dir(o->out_dir) : st;
}

/* Does out_dir hold files of this worker (other than temp files)? */
static int has_worker_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t pl = strlen(prefix);
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        found = !strncmp(de->d_name, prefix, pl) && !(nl > 4 && !strcmp(de->d_name + nl - 4, ".tmp")) &&
                strcmp(de->d_name + pl, ".lock");
    }
    closedir(d);
    return found;
}

srt_status ds_make_dirs(const char *dir) {
    char *p = srt_strdup(dir);
    if (!p) return SRT_ERR_NOMEM;
    srt_status st = SRT_OK;
    for (char *s = p + 1; st == SRT_OK; s++) {
        int end = *s == 0;
        if (*s == '/' || end) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) st = srt_error(SRT_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
            *s = c;
        }
        if (end) break;
    }
    free(p);
    struct stat sb;
    if (st == SRT_OK && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        st = srt_error(SRT_ERR_IO, "%s: not a folder", dir);
    return st;
}

srt_status ds_state_lock(const srt_ds_run_options *o, ds_lock *lock) {
    lock->fd = -1;
    lock->path = NULL;
    SRT_TRY(ds_make_dirs(o->out_dir));
    char prefix[64], name[128];
    ds_worker_prefix(o->shard_index, o->num_shards, prefix, sizeof prefix);
    snprintf(name, sizeof name, "%s.lock", prefix);
    lock->path = srt_path_join(o->out_dir, name);
    if (!lock->path) return SRT_ERR_NOMEM;
    srt_status st = SRT_OK;
    /* the run that held the lock removes the file before releasing it: a lock taken on a file that is no longer
     * at the path is worthless, so try again on the new file */
    for (int attempt = 0; attempt < 100 && lock->fd < 0 && st == SRT_OK; attempt++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) { st = srt_error(SRT_ERR_IO, "%s: cannot create: %s", lock->path, strerror(errno)); break; }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            char pid[32] = "";
            ssize_t r = err == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : 0;
            pid[r > 0 ? r : 0] = 0;
            pid[strcspn(pid, "\n")] = 0;
            close(fd);
            if (err == EWOULDBLOCK)
                st = srt_error(SRT_ERR_INVALID_ARG, "%s: another run (PID %s) is writing worker %s in %s; wait for it "
                               "to finish or stop it, then use --resume", lock->path, *pid ? pid : "unknown", prefix,
                               o->out_dir);
            else st = srt_error(SRT_ERR_IO, "%s: cannot lock: %s", lock->path, strerror(err));
            break;
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && stat(lock->path, &now) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev) lock->fd = fd;
        else close(fd);
    }
    if (st == SRT_OK && lock->fd < 0) st = srt_error(SRT_ERR_IO, "%s: cannot take the lock", lock->path);
    if (st == SRT_OK) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(lock->fd, 0) != 0 || pwrite(lock->fd, pid, (size_t)n, 0) != n)
            st = srt_error(SRT_ERR_IO, "%s: cannot write: %s", lock->path, strerror(errno));
    }
    if (st != SRT_OK) {
        if (lock->fd >= 0) { unlink(lock->path); close(lock->fd); }
        free(lock->path);
        lock->fd = -1;
        lock->path = NULL;
    }
    return st;
}

void ds_state_unlock(ds_lock *lock) {
    if (lock->fd >= 0) {
        unlink(lock->path);   /* while still held: a run waiting on this file sees it gone and retries */
        close(lock->fd);
    }
    free(lock->path);
    lock->fd = -1;
    lock->path = NULL;
}

srt_status ds_state_prepare(const srt_ds_run_options *o, const char *plan_json, int64_t n_shards, ds_done_log *log) {
    memset(log, 0, sizeof *log);
    log->fd = -1;
    SRT_TRY(ds_make_dirs(o->out_dir));
    char prefix[64], name[128];
    ds_worker_prefix(o->shard_index, o->num_shards, prefix, sizeof prefix);
    snprintf(name, sizeof name, "%s.plan.json", prefix);
    char *plan_path = srt_path_join(o->out_dir, name);
    snprintf(name, sizeof name, "%s.done.jsonl", prefix);
    log->path = srt_path_join(o->out_dir, name);
    log->n_shards = n_shards;
    log->done = srt_calloc((size_t)(n_shards > 0 ? n_shards : 1), 1, "the done-log");
    srt_status st = plan_path && log->path && log->done ? SRT_OK : SRT_ERR_NOMEM;
    if (st == SRT_OK && srt_file_exists(plan_path)) {
        char *old = NULL;
        size_t size = 0;
        st = srt_read_file(plan_path, &old, &size);
        if (st == SRT_OK && !o->resume)
            st = srt_error(SRT_ERR_INVALID_ARG, "%s exists: this worker already ran in %s; add --resume to continue it "
                           "or use another output folder", plan_path, o->out_dir);
        else if (st == SRT_OK && strcmp(old, plan_json))
            st = srt_error(SRT_ERR_INVALID_ARG, "%s holds a different run (the inputs, the model or a setting that "
                           "changes the output differ): cannot resume it; use another output folder.\n  old: %s  new: %s",
                           plan_path, old, plan_json);
        free(old);
        if (st == SRT_OK) st = load_done_log(o, log);
    } else if (st == SRT_OK) {
        if (has_worker_files(o->out_dir, prefix) && !o->resume)
            st = srt_error(SRT_ERR_INVALID_ARG, "%s holds files of worker %s but no plan: add --resume to clear "
                           "them, or use another output folder", o->out_dir, prefix);
        if (st == SRT_OK && srt_file_exists(log->path) && unlink(log->path) != 0)
            st = srt_error(SRT_ERR_IO, "%s: cannot remove: %s", log->path, strerror(errno));
        if (st == SRT_OK) st = clean_out_dir(o, prefix, log);
        if (st == SRT_OK) st = ds_write_atomic(plan_path, plan_json, strlen(plan_json));
    }
    if (st == SRT_OK) st = clean_out_dir(o, prefix, log);
    if (st == SRT_OK) {
        log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log->fd < 0) st = srt_error(SRT_ERR_IO, "%s: cannot open: %s", log->path, strerror(errno));
        else st = ds_fsync_dir(o->out_dir);
    }
    free(plan_path);
    if (st != SRT_OK) ds_done_log_close(log);
    return st;
}
