/* ds_run.c: srt_ds_run, one tokenize worker from start to end: list the inputs and this worker's units, load the
 * codec on each device, prepare the output folder (plan, done-log, cleanup for --resume), run the pipeline
 * (readers -> encoders -> writer, ds_pipeline*.c) while reporting progress, then (single worker) write the index.
 * Also the dry run (srt_ds_plan_list). */
#include "dataset/ds_pipeline_internal.h"
#include "dataset/ds_seq.h"
#include "dataset/ds_synth.h"
#include "common.h"
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void srt_ds_run_defaults(srt_ds_run_options *o) {
    memset(o, 0, sizeof *o);
    o->format = SRT_DS_JSONL;
    o->device = "cpu";
    o->n_readers = 0;                          /* auto: 2 on the CPU, 6 per GPU on CUDA (run_readers) */
    o->reader_nice = 10;
    o->batch_seconds = 0;                      /* auto: 20 s on the CPU (at most memory_mb's), 300 s on CUDA */
    o->chunk_seconds = 0;                      /* auto: from memory_mb on the CPU (~22 s for snac_24khz), 60 s on CUDA */
    o->memory_mb = 0;                          /* auto: 512 MiB of encoder activations */
    o->shard_size = 1000;
    o->shard_index = 0;
    o->num_shards = 1;
    o->synth_temperature = o->synth_top_p = -1;   /* the TTS engine's defaults */
}

/* Audio seconds whose encoder window fits the CPU memory budget (memory_mb, 0 = 512 MiB). The encoder holds three
 * workspace buffers of encoder_dim floats per window sample (its widest stage, snac_encoder_forward) plus the
 * convolutions' scratch: measured 4.3 such buffers for snac_24khz (RSS 524 MB with 20 s chunks, 1317 MB with 60 s);
 * 5 are counted. The window adds the chunked encoder's overlap on both sides (~0.5 s for snac_24khz), so the
 * chunk is the budget less one second. snac_24khz: 512 MiB -> 22 s chunks, ~0.6 GB peak RSS. */
static double budget_seconds_of(const srt_codec_info *info, double memory_mb) {
    double budget = (memory_mb > 0 ? memory_mb : 512) * 1048576.0;
    double bytes_per_second = 5.0 * 4.0 * (info->encoder_dim > 0 ? info->encoder_dim : 64) * info->sample_rate;
    double s = budget / bytes_per_second - 1;
    return s > 1 ? s : 1;
}

static srt_status check_options(const srt_ds_run_options *o, int need_model) {
    if (need_model && (!o->model_dir || !o->out_dir))
        return srt_error(SRT_ERR_INVALID_ARG, "tokenize: need a model folder and an output folder");
    if (o->n_inputs < 1 || !o->inputs) return srt_error(SRT_ERR_INVALID_ARG, "tokenize: no inputs given");
    if (o->shard_size < 1) return srt_error(SRT_ERR_INVALID_ARG, "tokenize: shard size must be >= 1");
    if (o->num_shards < 1 || o->shard_index < 0 || o->shard_index >= o->num_shards)
        return srt_error(SRT_ERR_INVALID_ARG, "tokenize: worker %d of %d is not a worker (0 <= index < count)",
                         o->shard_index, o->num_shards);
    if (o->batch_seconds < 0 || o->chunk_seconds < 0 || o->max_seconds < 0 || o->memory_mb < 0)
        return srt_error(SRT_ERR_INVALID_ARG, "tokenize: chunk, batch and max seconds and the memory budget must be >= 0");
    return SRT_OK;
}

/* Inputs -> this worker's units. */
static srt_status list_units(const srt_ds_run_options *o, uint64_t *fingerprint, int64_t *n_entries, ds_unit **units,
                             int64_t *n_units) {
    ds_entry *e = NULL;
    int64_t ne = 0;
    SRT_TRY(ds_entries_collect(o, &e, &ne));
    *fingerprint = ds_entries_fingerprint(e, ne);
    *n_entries = ne;
    srt_status st = ds_units_expand(e, ne, o->shard_index, o->num_shards, units, n_units);
    ds_entries_free(e, ne);
    return st;
}

srt_status srt_ds_plan_list(const srt_ds_run_options *o, srt_ds_plan_unit **out, int64_t *n_out, int64_t *n_shards) {
    *out = NULL;
    *n_out = 0;
    *n_shards = 0;
    SRT_TRY(check_options(o, 0));
    uint64_t fp = 0;
    int64_t ne = 0, nu = 0;
    ds_unit *u = NULL;
    SRT_TRY(list_units(o, &fp, &ne, &u, &nu));
    srt_ds_plan_unit *v = srt_calloc((size_t)(nu ? nu : 1), sizeof *v, "the plan");
    if (!v) { ds_units_free(u, nu); return SRT_ERR_NOMEM; }
    for (int64_t i = 0; i < nu; i++) {      /* the strings move over */
        v[i].key = u[i].key;
        v[i].source = u[i].source;
        v[i].error = u[i].error;
        v[i].shard = i / o->shard_size;
        u[i].key = u[i].source = u[i].error = NULL;
    }
    ds_units_free(u, nu);
    *out = v;
    *n_out = nu;
    *n_shards = (nu + o->shard_size - 1) / o->shard_size;
    return SRT_OK;
}

void srt_ds_plan_free(srt_ds_plan_unit *units, int64_t n) {
    if (!units) return;
    for (int64_t i = 0; i < n; i++) {
        free(units[i].key);
        free(units[i].source);
        free(units[i].error);
    }
    free(units);
}

static void pipe_destroy(ds_pipe *p) {
    for (int64_t i = 0; i < p->pool_n; i++) { free(p->pool[i]->audio); free(p->pool[i]); }
    free(p->pool);
    free(p->bucket_keys);
    free(p->bucket_prefix);
    while (p->jobs_head) {
        ds_long_job *j = p->jobs_head;
        p->jobs_head = j->next;
        ds_job_release(j);
    }
    while (p->msg_head) {
        ds_msg *m = p->msg_head;
        p->msg_head = m->next;
        srt_codes_free(&m->codes);
        free(m->error);
        free(m);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->dispatch_mu);
    pthread_cond_destroy(&p->cv_gate);
    pthread_cond_destroy(&p->cv_pool);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_msg);
}

static void progress_snapshot(ds_pipe *p, srt_ds_progress *out) {
    pthread_mutex_lock(&p->mu);
    *out = p->progress;
    pthread_mutex_unlock(&p->mu);
    out->wall_seconds = ds_now() - p->t_start;
}

/* Reader threads: n_readers, or auto: 2 beside a CPU encoder (which takes the cores); on GPUs 6 per GPU (a reader
 * decodes + resamples ~500x real time, bench/README.md bench_tokenize; one H100 encodes ~2,500x:
 * bench/tokpipe_model.py), at most the cores but one; 64 at most. */
static int run_readers(const srt_ds_run_options *o, int on_cuda, int n_workers) {
    int n = o->n_readers;
    if (n <= 0) {
        n = 2;
        if (on_cuda) {
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            n = 6 * n_workers;
            if (cores > 1 && n > cores - 1) n = (int)(cores - 1);
            if (n < 2) n = 2;
        }
    }
    return n > 64 ? 64 : n;
}

/* Start the threads, report progress until the writer is done, join. */
static srt_status run_pipeline(ds_pipe *p, ds_worker *workers, int n_workers, int n_readers) {
    const srt_ds_run_options *o = p->o;
    pthread_t writer, readers[64];
    p->readers_active = n_readers;
    p->encoders_active = n_workers;
    int started_r = 0, started_e = 0, started_w = 0;
    srt_status st = SRT_OK;
    if (pthread_create(&writer, NULL, ds_writer_main, p) == 0) started_w = 1;
    for (; started_e < n_workers && started_w; started_e++) {
        workers[started_e].pipe = p;
        if (pthread_create(&workers[started_e].thread, NULL, ds_encoder_main, &workers[started_e]) != 0) break;
    }
    for (; started_r < n_readers && started_e == n_workers; started_r++)
        if (pthread_create(&readers[started_r], NULL, ds_reader_main, p) != 0) break;
    if (!started_w || started_e < n_workers || started_r < n_readers) {
        st = srt_error(SRT_ERR_NOMEM, "tokenize: cannot start the pipeline threads");
        pthread_mutex_lock(&p->mu);
        p->readers_active -= n_readers - started_r;
        p->encoders_active -= n_workers - started_e;
        pthread_mutex_unlock(&p->mu);
        ds_pipe_fail(p, st);
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int finished = p->progress.finished || !started_w;
        if (!finished) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&p->cv_gate, &p->mu, &ts);
        }
        pthread_mutex_unlock(&p->mu);
        if (finished) break;
        if (o->progress) {
            srt_ds_progress snap;
            progress_snapshot(p, &snap);
            if (!snap.finished) o->progress(&snap, o->progress_user);   /* the final report comes after the index */
        }
    }
    /* the writer is done: every shard is committed (readers and encoders have nothing left) or the run failed */
    for (int i = 0; i < started_r; i++) pthread_join(readers[i], NULL);
    for (int i = 0; i < started_e; i++) pthread_join(workers[i].thread, NULL);
    if (started_w) pthread_join(writer, NULL);
    if (p->cancelled && st == SRT_OK) st = srt_error(p->fail_status, "%s", p->fail_msg);
    return st;
}

srt_status srt_ds_run(const srt_ds_run_options *o, srt_ds_summary *summary) {
    memset(summary, 0, sizeof *summary);
    double t_start = ds_now();
    SRT_TRY(check_options(o, 1));
    if (o->seq_layout && (o->seq_task == SRT_DS_TASK_INTERLEAVE || o->seq_task == SRT_DS_TASK_DIALOG))
        return ds_synth_run(o, summary);   /* text in: the spoken spans are synthesized (ds_synth.c) */
    ds_lock lock;   /* first: a second run of this worker on this folder stops here, before any work */
    SRT_TRY(ds_state_lock(o, &lock));
    uint64_t fp = 0;
    int64_t n_entries = 0, n_units = 0;
    ds_unit *units = NULL;
    srt_status st = list_units(o, &fp, &n_entries, &units, &n_units);
    if (st != SRT_OK) { ds_state_unlock(&lock); return st; }
    ds_worker *workers = NULL;
    int n_workers = 0;
    st = ds_workers_load(o->model_dir, o->device ? o->device : "cpu", o->n_threads, o->precision, &workers,
                         &n_workers);
    if (st != SRT_OK) { ds_units_free(units, n_units); ds_state_unlock(&lock); return st; }
    ds_pipe *p = srt_calloc(1, sizeof *p, "the pipeline");
    char *plan = NULL;
    ds_done_log log = {.fd = -1};
    if (!p) { st = SRT_ERR_NOMEM; goto done; }
    p->o = o;
    p->t_start = t_start;
    srt_codec_get_info(workers[0].codec, &p->info);
    if (o->seq_layout) SRT_TRY_GOTO(srt_ds_seq_open(o, &p->info, &p->seq), done);
    for (int64_t u = 0; p->seq && u < n_units; u++)   /* no text for its sequence: an error unit, not decoded */
        if (!units[u].error) SRT_TRY_GOTO(srt_ds_seq_check_unit(p->seq, units[u].key, units[u].extra_json,
                                                                &units[u].error), done);
    p->units = units;
    p->n_units = n_units;
    p->shard_size = o->shard_size;
    p->n_shards = (n_units + o->shard_size - 1) / o->shard_size;
    plan = ds_plan_json(o, &p->info, fp, n_entries, n_units, p->n_shards);
    if (!plan) { st = srt_error(SRT_ERR_NOMEM, "tokenize: out of memory"); goto done; }
    SRT_TRY_GOTO(ds_state_prepare(o, plan, p->n_shards, &log), done);
    p->log = &log;
    ds_worker_prefix(o->shard_index, o->num_shards, p->prefix, sizeof p->prefix);
    int rate = p->info.sample_rate;
    int64_t pm = p->info.pad_multiple;
    int on_cuda = !strncmp(workers[0].stats.device, "cuda", 4);
    double budget_seconds = budget_seconds_of(&p->info, o->memory_mb);
    double chunk_seconds = o->chunk_seconds > 0 ? o->chunk_seconds : on_cuda ? 60 : budget_seconds;
    p->chunk_samples = (int64_t)(chunk_seconds * rate);
    if (p->chunk_samples < pm) p->chunk_samples = pm;
    double batch_seconds = o->batch_seconds > 0 ? o->batch_seconds
                           : on_cuda ? 300 : (budget_seconds < 20 ? budget_seconds : 20);
    p->batch_samples = (int64_t)(batch_seconds * rate);
    if (p->batch_samples < pm) p->batch_samples = pm;
    p->max_seg_samples = o->max_seconds > 0 ? (int64_t)(o->max_seconds * rate) : 0;
    if (o->max_seconds > 0 && p->max_seg_samples < 1) p->max_seg_samples = 1;
    p->piece_samples = rate;
    p->pool_cap_samples = 4 * p->batch_samples;    /* room to choose batches of similar lengths from */
    p->pool_cap = 1024;
    p->window_shards = (256 + o->shard_size - 1) / o->shard_size;
    if (p->window_shards < 2) p->window_shards = 2;
    p->gate_unit = p->window_shards * o->shard_size < n_units ? p->window_shards * o->shard_size : n_units;
    p->pool = srt_calloc((size_t)p->pool_cap, sizeof *p->pool, "the encoder pool");
    p->bucket_keys = srt_calloc((size_t)p->pool_cap, sizeof *p->bucket_keys, "the encoder pool");
    p->bucket_prefix = srt_calloc((size_t)p->pool_cap + 1, sizeof *p->bucket_prefix, "the encoder pool");
    if (!p->pool || !p->bucket_keys || !p->bucket_prefix) { st = SRT_ERR_NOMEM; goto done; }
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->dispatch_mu, NULL);
    pthread_cond_init(&p->cv_gate, NULL);
    pthread_cond_init(&p->cv_pool, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_msg, NULL);
    p->progress.units_total = n_units;
    p->progress.shards_total = p->n_shards;
    p->progress.shards_skipped = log.n_done;
    for (int64_t k = 0; k < p->n_shards; k++)
        if (log.done[k]) {
            int64_t end = (k + 1) * o->shard_size < n_units ? (k + 1) * o->shard_size : n_units;
            p->progress.units_skipped += end - k * o->shard_size;
        }
    p->progress.units_done = p->progress.units_skipped;
    p->progress.items = p->progress.items_skipped = log.done_items;      /* the done-log's totals (--resume) */
    p->progress.errors = p->progress.errors_skipped = log.done_errors;
    int n_readers = run_readers(o, on_cuda, n_workers);
    st = run_pipeline(p, workers, n_workers, n_readers);
    progress_snapshot(p, &summary->progress);
    summary->progress.finished = 1;
    summary->read_busy_seconds = p->read_busy;
    summary->nonfinite_replaced = p->nonfinite_replaced;
    summary->encode_busy_seconds = p->encode_busy;
    summary->write_busy_seconds = p->write_busy;
    summary->n_readers = n_readers;
    summary->chunk_seconds = (double)p->chunk_samples / rate;
    summary->batch_seconds = (double)p->batch_samples / rate;
    pipe_destroy(p);
    ds_done_log_close(&log);
    if (st == SRT_OK && o->num_shards == 1) {
        srt_ds_merge_result mr;
        double t0 = ds_now();
        st = srt_ds_merge_index(o->out_dir, &mr);
        summary->write_busy_seconds += ds_now() - t0;
        if (st == SRT_OK) {
            summary->index_written = 1;
            summary->index_items = mr.items;
            summary->index_errors = mr.errors;
        }
        else srt_error_prefix(st, "writing the index: ");
    }
    if (o->progress) o->progress(&summary->progress, o->progress_user);
done:
    if (log.fd >= 0 || log.done) ds_done_log_close(&log);
    summary->progress.wall_seconds = ds_now() - t_start;
    summary->n_devices = n_workers < 16 ? n_workers : 16;
    for (int i = 0; i < summary->n_devices; i++) summary->devices[i] = workers[i].stats;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) summary->peak_rss_kb = ru.ru_maxrss;
    free(plan);
    if (p) srt_ds_seq_close(p->seq);
    free(p);
    ds_workers_free(workers, n_workers);
    ds_units_free(units, n_units);
    ds_state_unlock(&lock);
    return st;
}
