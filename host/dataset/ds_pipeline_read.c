/* ds_pipeline_read.c: the tokenizer's reader threads: take the next unit in order (within the gate the writer
 * opens), decode it block by block (srt_audio_stream_*, host/audio), and emit its items while reading:
 *  - no split: up to chunk_samples are gathered; a shorter recording becomes one short item for the batched
 *    encoder pool; a longer one becomes a long job whose pieces flow to an encoder as they are decoded (push-mode
 *    chunked encode), so memory stays flat whatever the length;
 *  - --max-seconds: segments are cut at silence (srt_ds_find_cut) as soon as more than max_samples are buffered;
 *    each goes out as a short item or, when longer than chunk_samples, a long job.
 * A tar member is decoded through a window of its archive (srt_audio_stream_open_window), never read whole.
 * Then UNIT_DONE with the number of items emitted (or the error; the writer drops that unit's items). */
#include "dataset/ds_pipeline_internal.h"
#include "snacrt_audio.h"
#include "common.h"
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct sink {
    ds_pipe *p;
    int64_t unit;
    float *buf;               /* (cap,) samples not yet emitted, starting at unit position `consumed` */
    int64_t n, cap, consumed;
    int n_items;              /* items emitted (short items and long jobs) */
    int split;                /* the unit is cut into segments */
    ds_long_job *job;         /* the streaming long job of an unsplit unit */
    double busy;              /* seconds spent decoding */
} sink;

static srt_status buf_append(sink *s, const float *x, int64_t n) {
    if (s->n + n > s->cap) {
        int64_t cap = s->cap ? s->cap : 65536;
        while (cap < s->n + n) cap *= 2;
        float *b = realloc(s->buf, sizeof(float) * (size_t)cap);
        if (!b) return srt_error(SRT_ERR_NOMEM, "reader: out of memory for %lld samples", (long long)cap);
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->n, x, sizeof(float) * (size_t)n);
    s->n += n;
    return SRT_OK;
}

static void buf_drop(sink *s, int64_t n) {
    memmove(s->buf, s->buf + n, sizeof(float) * (size_t)(s->n - n));
    s->n -= n;
    s->consumed += n;
}

static ds_meta next_meta(sink *s, int64_t offset) {
    ds_meta m = {.unit = s->unit, .seg = s->n_items++, .split = s->split, .offset = offset};
    return m;
}

/* A short item into the encoder pool (waits for room). */
static srt_status emit_short(sink *s, const float *x, int64_t n, int64_t offset) {
    ds_pipe *p = s->p;
    ds_short *it = srt_calloc(1, sizeof *it, "a pool item");
    float *a = srt_malloc(sizeof(float) * (size_t)n, "item audio");
    if (!it || !a) { free(it); free(a); return SRT_ERR_NOMEM; }
    memcpy(a, x, sizeof(float) * (size_t)n);
    it->meta = next_meta(s, offset);
    it->audio = a;
    it->n = n;
    pthread_mutex_lock(&p->mu);
    while (!p->cancelled && (p->pool_n == p->pool_cap || (p->pool_n > 0 && p->pool_samples + n > p->pool_cap_samples))) {
        p->readers_blocked++;                       /* the pool is full: an encoder may take a batch now */
        pthread_cond_broadcast(&p->cv_work);
        pthread_cond_wait(&p->cv_pool, &p->mu);
        p->readers_blocked--;
    }
    if (p->cancelled) {
        pthread_mutex_unlock(&p->mu);
        free(a);
        free(it);
        return SRT_ERR_CANCELLED;
    }
    p->pool[p->pool_n++] = it;
    p->pool_samples += n;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    return SRT_OK;
}

static srt_status job_start(sink *s, int64_t offset, ds_long_job **out) {
    ds_pipe *p = s->p;
    ds_long_job *job = srt_calloc(1, sizeof *job, "a long job");
    if (!job) return SRT_ERR_NOMEM;
    job->meta = next_meta(s, offset);
    job->refs = 2;
    pthread_mutex_lock(&p->mu);
    if (p->jobs_tail) p->jobs_tail->next = job; else p->jobs_head = job;
    p->jobs_tail = job;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    *out = job;
    return SRT_OK;
}

/* Queue samples for a long job as pieces (waits while the job has piece_samples * 4 queued). */
static srt_status job_feed(sink *s, ds_long_job *job, const float *x, int64_t n) {
    ds_pipe *p = s->p;
    while (n > 0) {
        int64_t take = n < p->piece_samples ? n : p->piece_samples;
        ds_piece *pc = srt_calloc(1, sizeof *pc, "a piece");
        float *a = srt_malloc(sizeof(float) * (size_t)take, "piece audio");
        if (!pc || !a) { free(pc); free(a); return SRT_ERR_NOMEM; }
        memcpy(a, x, sizeof(float) * (size_t)take);
        pc->x = a;
        pc->n = take;
        pthread_mutex_lock(&p->mu);
        while (!p->cancelled && job->queued > 0 && job->queued + take > 4 * p->piece_samples)
            pthread_cond_wait(&p->cv_pool, &p->mu);
        if (p->cancelled) {
            pthread_mutex_unlock(&p->mu);
            free(a);
            free(pc);
            return SRT_ERR_CANCELLED;
        }
        if (job->tail) job->tail->next = pc; else job->head = pc;
        job->tail = pc;
        job->queued += take;
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        x += take;
        n -= take;
    }
    return SRT_OK;
}

/* No more pieces (aborted: the encoder drops the job); the reader lets go of the job. */
static void job_end(sink *s, ds_long_job *job, int aborted) {
    ds_pipe *p = s->p;
    pthread_mutex_lock(&p->mu);
    job->final = 1;
    job->aborted = aborted;
    ds_job_release(job);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
}

/* A whole segment held in memory: short item, or a long job fed from memory. */
static srt_status emit_segment(sink *s, const float *x, int64_t n, int64_t offset) {
    if (n <= s->p->chunk_samples) return emit_short(s, x, n, offset);
    ds_long_job *job = NULL;
    SRT_TRY(job_start(s, offset, &job));
    srt_status st = job_feed(s, job, x, n);
    job_end(s, job, st != SRT_OK);
    return st;
}

static srt_status cut_segment(sink *s) {
    ds_pipe *p = s->p;
    int64_t max = p->max_seg_samples;
    int64_t avail = s->n < max + 1 ? s->n : max + 1;     /* the cut depends only on what is given */
    int64_t cut = srt_ds_find_cut(s->buf, avail, p->info.sample_rate, max);
    if (cut < 1 || cut > max) cut = max;
    s->split = 1;
    SRT_TRY(emit_segment(s, s->buf, cut, s->consumed));
    buf_drop(s, cut);
    return SRT_OK;
}

static srt_status sink_push(sink *s, const float *x, int64_t n) {
    ds_pipe *p = s->p;
    if (p->max_seg_samples > 0) {
        SRT_TRY(buf_append(s, x, n));
        while (s->n > p->max_seg_samples) SRT_TRY(cut_segment(s));
        return SRT_OK;
    }
    if (s->job) return job_feed(s, s->job, x, n);
    SRT_TRY(buf_append(s, x, n));
    if (s->n > p->chunk_samples) {                          /* a long recording: stream it from here on */
        SRT_TRY(job_start(s, 0, &s->job));
        SRT_TRY(job_feed(s, s->job, s->buf, s->n));
        buf_drop(s, s->n);
    }
    return SRT_OK;
}

static srt_status sink_finish(sink *s) {
    ds_pipe *p = s->p;
    if (p->max_seg_samples > 0) {
        while (s->n > p->max_seg_samples) SRT_TRY(cut_segment(s));
        if (s->n > 0) SRT_TRY(emit_segment(s, s->buf, s->n, s->consumed));
        buf_drop(s, s->n);
        return SRT_OK;
    }
    if (s->job) {
        job_end(s, s->job, 0);
        s->job = NULL;
        return SRT_OK;
    }
    SRT_TRY(emit_short(s, s->buf, s->n, 0));
    buf_drop(s, s->n);
    return SRT_OK;
}

/* Decode one unit. Data errors (unreadable, truncated, ...) go to *error (malloc'd); the return value is for
 * failures of the run (out of memory, cancelled). */
static srt_status read_unit(ds_pipe *p, int64_t u, int *n_items, char **error, double *busy, int64_t *nonfinite,
                            int64_t *n_read) {
    const ds_unit *unit = &p->units[u];
    sink s = {.p = p, .unit = u};
    srt_audio_stream *as = NULL;
    srt_audio_read_options opt = {.allow_nonfinite = p->o->allow_nonfinite};
    double t0 = ds_now();
    srt_status st = unit->member >= 0 ? srt_audio_stream_open_window(unit->path, unit->member_offset, unit->member_size,
                                                                     unit->source, p->info.sample_rate, &opt, &as)
                                      : srt_audio_stream_open(unit->path, p->info.sample_rate, &opt, &as);
    srt_status fatal = SRT_OK;
    while (st == SRT_OK) {
        const float *x = NULL;
        int64_t n = 0;
        int eof = 0;
        st = srt_audio_stream_next(as, &x, &n, &eof);
        if (st != SRT_OK) break;
        *busy += ds_now() - t0;
        if (n > 0) fatal = sink_push(&s, x, n);
        *n_read += n;
        if (fatal == SRT_OK && eof) fatal = sink_finish(&s);
        t0 = ds_now();
        if (fatal != SRT_OK || eof) break;
    }
    *busy += ds_now() - t0;
    if (st == SRT_ERR_NOMEM) fatal = st;
    if (st != SRT_OK && fatal == SRT_OK) {
        *error = srt_strdup(srt_last_error());
        if (!*error) fatal = SRT_ERR_NOMEM;
    }
    if (s.job) job_end(&s, s.job, 1);                  /* the streaming job of a failed unit is dropped */
    if (as && st == SRT_OK) {
        srt_audio_source_info info;
        srt_audio_stream_info(as, &info);
        *nonfinite += info.bad_samples;
    }
    srt_audio_stream_close(as);
    free(s.buf);
    *n_items = s.n_items;
    return fatal;
}

/* The next unit to read (or -1): skips committed shards, waits for the gate. */
static int64_t take_unit(ds_pipe *p) {
    pthread_mutex_lock(&p->dispatch_mu);
    int64_t u = -1;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->next_unit < p->n_units && p->log->done[p->next_unit / p->shard_size]) p->next_unit++;
        if (p->cancelled || p->next_unit >= p->n_units) break;
        if (p->next_unit < p->gate_unit) { u = p->next_unit++; break; }
        p->readers_blocked++;                       /* the writer waits for encoded items: encoders must not wait */
        pthread_cond_broadcast(&p->cv_work);
        pthread_cond_wait(&p->cv_gate, &p->mu);
        p->readers_blocked--;
    }
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->dispatch_mu);
    return u;
}

void *ds_reader_main(void *arg) {
    ds_pipe *p = arg;
    double busy = 0;
    int64_t nonfinite = 0;
    /* Decoding is ~1% of the work; the encoder's OpenMP threads meet at a barrier after every op, so a reader that
     * preempts one of them stalls all. A lower priority (this thread only) lets the encoder threads win the cores
     * while readers still run in the gaps; failure to lower it is harmless. */
    if (p->o->reader_nice > 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), p->o->reader_nice);
    for (;;) {
        char *error = NULL;
        srt_status fatal = SRT_OK;
        int64_t u = take_unit(p);
        if (u < 0) break;
        int n_items = 0;
        int64_t n_read = 0;
        if (p->units[u].error) error = srt_strdup(p->units[u].error);
        else fatal = read_unit(p, u, &n_items, &error, &busy, &nonfinite, &n_read);
        pthread_mutex_lock(&p->mu);
        p->progress.units_read++;
        if (!error) p->progress.audio_seconds_read += (double)n_read / p->info.sample_rate;
        pthread_mutex_unlock(&p->mu);
        if (fatal != SRT_OK) {
            free(error);
            if (fatal != SRT_ERR_CANCELLED) ds_pipe_fail(p, fatal);
            break;
        }
        ds_msg *m = srt_calloc(1, sizeof *m, "a message");
        if (!m) { free(error); ds_pipe_fail(p, SRT_ERR_NOMEM); break; }
        m->kind = DS_MSG_UNIT_DONE;
        m->meta.unit = u;
        m->n_items = n_items;
        m->error = error;
        ds_pipe_post(p, m);
    }
    pthread_mutex_lock(&p->mu);
    p->read_busy += busy;
    p->nonfinite_replaced += nonfinite;
    p->readers_active--;
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_msg);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
