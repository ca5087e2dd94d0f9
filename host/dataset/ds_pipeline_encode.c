/* ds_pipeline_encode.c: the tokenizer's encoder workers, one per device (one codec each). A worker takes a long
 * job first when there is one (its reader is waiting on it) and runs it through the push-mode chunked encoder as
 * the pieces arrive; otherwise it forms a batch from the pool of short items: the oldest item, then the items
 * of nearest padded length while (items * longest padded length) stays within batch_samples, and encodes it with
 * srt_codec_encode (each item's codes are independent of its batch mates). Codes go to the writer as ITEM
 * messages; a job whose reader failed is dropped (DROPPED). */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static srt_status post_item(ds_pipe *p, const ds_meta *meta, srt_codes *codes, int kind) {
    ds_msg *m = srt_calloc(1, sizeof *m, "a message");
    if (!m) { srt_codes_free(codes); return SRT_ERR_NOMEM; }
    m->kind = kind;
    m->meta = *meta;
    if (codes) m->codes = *codes;
    ds_pipe_post(p, m);
    return SRT_OK;
}

/* chunked: the items went through the push-mode chunked encoder (else one srt_codec_encode batch) */
static void count_encoded(ds_worker *w, int chunked, int64_t items, int64_t samples, double seconds) {
    ds_pipe *p = w->pipe;
    pthread_mutex_lock(&p->mu);
    w->stats.items += items;
    if (chunked) w->stats.chunked_items += items;
    else w->stats.batches++;
    w->stats.audio_seconds += (double)samples / p->info.sample_rate;
    w->stats.busy_seconds += seconds;
    p->encode_busy += seconds;
    pthread_mutex_unlock(&p->mu);
}

/* Feed a long job's pieces into a push-mode encoder as they come; post its codes (or DROPPED). */
static srt_status run_job(ds_worker *w, ds_long_job *job) {
    ds_pipe *p = w->pipe;
    srt_codec_encode_stream *es = NULL;
    srt_codes acc = {0};
    double busy = 0, t0 = ds_now();
    srt_status st = srt_codec_encode_stream_open(w->codec, p->chunk_samples, &es);
    busy += ds_now() - t0;
    int dropped = 0, finished = 0;
    while (st == SRT_OK && !finished) {
        pthread_mutex_lock(&p->mu);
        while (!p->cancelled && !job->head && !job->final) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->cancelled) { pthread_mutex_unlock(&p->mu); st = SRT_ERR_CANCELLED; break; }
        if (job->aborted) { pthread_mutex_unlock(&p->mu); dropped = 1; break; }
        ds_piece *pc = job->head;
        if (pc) {
            job->head = pc->next;
            if (!job->head) job->tail = NULL;
            job->queued -= pc->n;
            pthread_cond_broadcast(&p->cv_pool);
        }
        int last = !pc && job->final;
        pthread_mutex_unlock(&p->mu);
        srt_codes part = {0};
        t0 = ds_now();
        if (pc) {
            st = srt_codec_encode_stream_push(es, pc->x, pc->n, &part);
            free(pc->x);
            free(pc);
        } else if (last) {
            st = srt_codec_encode_stream_finish(es, &part);
            acc.n_samples = part.n_samples;
            finished = 1;
        }
        if (st == SRT_OK) st = srt_codes_append(&acc, &part);
        busy += ds_now() - t0;
        srt_codes_free(&part);
    }
    srt_codec_encode_stream_free(es);
    ds_meta meta = job->meta;
    pthread_mutex_lock(&p->mu);
    ds_job_release(job);
    pthread_mutex_unlock(&p->mu);
    if (st != SRT_OK) {
        srt_codes_free(&acc);
        if (st != SRT_ERR_CANCELLED) srt_error_prefix(st, "encoding %s: ", p->units[meta.unit].source);
        return st;
    }
    count_encoded(w, 1, dropped ? 0 : 1, dropped ? 0 : acc.n_samples, busy);
    if (dropped) srt_codes_free(&acc);
    return post_item(p, &meta, dropped ? NULL : &acc, dropped ? DS_MSG_DROPPED : DS_MSG_ITEM);
}

static int64_t padded_len(const ds_pipe *p, int64_t n) {
    int64_t pm = p->info.pad_multiple;
    return (n + pm - 1) / pm * pm;
}

/* Take a batch out of the pool (mu held): the oldest item plus those of nearest padded length within budget. */
static int take_batch(ds_pipe *p, ds_short **batch, int max_batch) {
    int64_t len0 = padded_len(p, p->pool[0]->n), longest = len0;
    int n = 0;
    batch[n++] = p->pool[0];
    p->pool[0] = NULL;
    for (;;) {
        int64_t best = -1, best_d = 0;
        for (int64_t i = 1; i < p->pool_n; i++) {
            if (!p->pool[i]) continue;
            int64_t L = padded_len(p, p->pool[i]->n), d = L > len0 ? L - len0 : len0 - L;
            if (best < 0 || d < best_d) { best = i; best_d = d; }
        }
        if (best < 0 || n == max_batch) break;
        int64_t L = padded_len(p, p->pool[best]->n), l2 = L > longest ? L : longest;
        if ((int64_t)(n + 1) * l2 > p->batch_samples) break;
        batch[n++] = p->pool[best];
        p->pool[best] = NULL;
        longest = l2;
    }
    int64_t k = 0;                                      /* compact, keeping arrival order */
    for (int64_t i = 0; i < p->pool_n; i++)
        if (p->pool[i]) p->pool[k++] = p->pool[i];
    p->pool_n = k;
    for (int i = 0; i < n; i++) p->pool_samples -= batch[i]->n;
    return n;
}

static srt_status run_batch(ds_worker *w, ds_short **batch, int n) {
    ds_pipe *p = w->pipe;
    const float *audio[256];
    int64_t lens[256], total = 0;
    srt_codes codes[256];
    for (int i = 0; i < n; i++) {
        audio[i] = batch[i]->audio;
        lens[i] = batch[i]->n;
        total += lens[i];
    }
    double t0 = ds_now();
    srt_status st = srt_codec_encode(w->codec, n, audio, lens, codes, NULL, NULL);
    double busy = ds_now() - t0;
    if (st != SRT_OK) srt_error_prefix(st, "encoding a batch of %d (first %s): ", n, p->units[batch[0]->meta.unit].source);
    else count_encoded(w, 0, n, total, busy);
    for (int i = 0; i < n; i++) {
        if (st == SRT_OK) st = post_item(p, &batch[i]->meta, &codes[i], DS_MSG_ITEM);
        else srt_codes_free(&codes[i]);
        free(batch[i]->audio);
        free(batch[i]);
    }
    return st;
}

static void wait_ms(ds_pipe *p, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&p->cv_work, &p->mu, &ts);
}

void *ds_encoder_main(void *arg) {
    ds_worker *w = arg;
    ds_pipe *p = w->pipe;
    ds_short *batch[256];
    int waited = 0;
    srt_status st = SRT_OK;
    pthread_mutex_lock(&p->mu);
    while (!p->cancelled) {
        if (p->jobs_head) {
            ds_long_job *job = p->jobs_head;
            p->jobs_head = job->next;
            if (!p->jobs_head) p->jobs_tail = NULL;
            pthread_mutex_unlock(&p->mu);
            st = run_job(w, job);
            pthread_mutex_lock(&p->mu);
            if (st != SRT_OK) break;
            continue;
        }
        if (p->pool_n > 0) {
            /* a batch well below budget while readers are still decoding: give them a moment to add to it */
            if (!waited && p->pool_samples < p->batch_samples / 2 && p->readers_active > 0) {
                waited = 1;
                wait_ms(p, 20);
                continue;
            }
            waited = 0;
            int n = take_batch(p, batch, 256);
            pthread_cond_broadcast(&p->cv_pool);
            pthread_mutex_unlock(&p->mu);
            st = run_batch(w, batch, n);
            pthread_mutex_lock(&p->mu);
            if (st != SRT_OK) break;
            continue;
        }
        if (p->readers_active == 0) break;
        pthread_cond_wait(&p->cv_work, &p->mu);
    }
    p->encoders_active--;
    pthread_cond_broadcast(&p->cv_msg);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    if (st != SRT_OK && st != SRT_ERR_CANCELLED) ds_pipe_fail(p, st);
    return NULL;
}
