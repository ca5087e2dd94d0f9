/* ds_pipeline_encode.c: the tokenizer's encoder workers, one per device (one codec each, on its own thread with
 * the device made current). A worker takes a long job first when there is one (its reader is waiting on it) and
 * runs it through the push-mode chunked encoder as the pieces arrive; otherwise, once the pool is full (a reader
 * waits for room or for the gate, or the readers are done), it forms a batch from the pool of short items: the
 * run of items of neighbouring padded lengths that holds the oldest item, pads at most 10% and has the most
 * audio within batch_samples (length buckets: pick_bucket; --no-length-buckets: the oldest items in arrival
 * order), where a batch computes items x longest padded length. Batches go
 * through two encode slots (host/snac/codec_async.h): batch n+1 is submitted (padded into pinned memory, uploaded
 * on the copy stream, encoded, codes copied back, all queued) before batch n is collected and posted, so on a GPU
 * the host's work and the uploads overlap the kernels. Each item's codes are independent of its batch mates.
 * Codes go to the writer as ITEM messages; a job whose reader failed is dropped (DROPPED).
 * Statistics per worker: items, batches, audio, busy (host wall time inside the codec calls), padded vs valid
 * samples of the batches, and the device time of the batches from events (cuda; -1 on the cpu). */
#include "dataset/ds_pipeline_internal.h"
#include "snac/codec_async.h"
#include "backend.h"
#include "common.h"
#include <stdlib.h>
#include <string.h>

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

static int cmp_key(const void *a, const void *b) {
    const ds_len_key *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Length buckets (mu held): the pool sorted by (padded length, arrival); the batch is a run of neighbours in that
 * order that holds the oldest item, fits the budget (items x longest), pads at most DS_BUCKET_MAX_PADDING of what
 * it computes, and of those the one with the most audio. Marks the chosen pool entries in *take (by pool index). */
static int pick_bucket(ds_pipe *p, int max_batch, int64_t *take) {
    int64_t m = p->pool_n, pos = 0;
    ds_len_key *k = p->bucket_keys;
    int64_t *pre = p->bucket_prefix;
    for (int64_t i = 0; i < m; i++) { k[i].len = padded_len(p, p->pool[i]->n); k[i].idx = i; }
    qsort(k, (size_t)m, sizeof *k, cmp_key);
    pre[0] = 0;
    for (int64_t i = 0; i < m; i++) {
        pre[i + 1] = pre[i] + k[i].len;
        if (k[i].idx == 0) pos = i;
    }
    int64_t best_v = -1, best_s = pos, best_j = pos;
    for (int64_t j = pos; j < m; j++) {
        int64_t cmax = p->batch_samples / k[j].len;
        if (cmax < 1) cmax = 1;
        if (cmax > max_batch) cmax = max_batch;
        if (j - cmax + 1 > pos) break;                  /* longer ends fit fewer items: none reaches the oldest */
        for (int64_t c = cmax < j + 1 ? cmax : j + 1; c >= j - pos + 1; c--) {
            int64_t s = j - c + 1, v = pre[j + 1] - pre[s], padded = c * k[j].len;
            if ((double)(padded - v) <= DS_BUCKET_MAX_PADDING * (double)padded) {
                if (v > best_v) { best_v = v; best_s = s; best_j = j; }
                break;                                  /* the largest such run ending at j */
            }
        }
    }
    for (int64_t i = best_s; i <= best_j; i++) take[i - best_s] = k[i].idx;
    return (int)(best_j - best_s + 1);
}

/* Take a batch out of the pool (mu held): length buckets (pick_bucket), or with --no-length-buckets the oldest items
 * in arrival order while the padded batch (items x longest) stays within budget. */
static int take_batch(ds_pipe *p, ds_short **batch, int max_batch) {
    int64_t take[256];
    int n = 0;
    if (!p->o->no_length_buckets) n = pick_bucket(p, max_batch, take);
    else {
        int64_t longest = 0;
        for (int64_t i = 0; i < p->pool_n && n < max_batch; i++) {
            int64_t L = padded_len(p, p->pool[i]->n), l2 = L > longest ? L : longest;
            if (n > 0 && (int64_t)(n + 1) * l2 > p->batch_samples) break;
            take[n++] = i;
            longest = l2;
        }
    }
    for (int i = 0; i < n; i++) {
        batch[i] = p->pool[take[i]];
        p->pool[take[i]] = NULL;
        p->pool_samples -= batch[i]->n;
    }
    int64_t k = 0;                                      /* compact, keeping arrival order */
    for (int64_t i = 0; i < p->pool_n; i++)
        if (p->pool[i]) p->pool[k++] = p->pool[i];
    p->pool_n = k;
    return n;
}

/* A batch in an encode slot: its items (owned) until collected. */
typedef struct inflight {
    srt_encode_slot *slot;
    ds_short *items[256];
    int n;
    double busy;              /* host seconds inside submit */
} inflight;

static void inflight_drop_items(inflight *f) {
    for (int i = 0; i < f->n; i++) { free(f->items[i]->audio); free(f->items[i]); }
    f->n = 0;
}

/* Submit the batch taken into f (the items stay in f until collect). */
static srt_status submit_batch(ds_worker *w, inflight *f) {
    ds_pipe *p = w->pipe;
    const float *audio[256];
    int64_t lens[256];
    for (int i = 0; i < f->n; i++) {
        audio[i] = f->items[i]->audio;
        lens[i] = f->items[i]->n;
    }
    double t0 = ds_now();
    srt_status st = srt_encode_slot_submit(f->slot, f->n, audio, lens);
    f->busy = ds_now() - t0;
    if (st != SRT_OK) {
        srt_error_prefix(st, "encoding a batch of %d (first %s): ", f->n, p->units[f->items[0]->meta.unit].source);
        inflight_drop_items(f);
    }
    return st;
}

/* Collect f's batch, count it, post its codes. */
static srt_status collect_batch(ds_worker *w, inflight *f) {
    ds_pipe *p = w->pipe;
    srt_codes codes[256];
    double device_ms = -1, t0 = ds_now();
    srt_status st = srt_encode_slot_collect(f->slot, codes, &device_ms);
    double busy = f->busy + (ds_now() - t0);
    if (st != SRT_OK) {
        srt_error_prefix(st, "encoding a batch of %d (first %s): ", f->n, p->units[f->items[0]->meta.unit].source);
        inflight_drop_items(f);
        return st;
    }
    int64_t total = 0, longest = 0;
    for (int i = 0; i < f->n; i++) {
        total += f->items[i]->n;
        if (padded_len(p, f->items[i]->n) > longest) longest = padded_len(p, f->items[i]->n);
    }
    count_encoded(w, 0, f->n, total, busy);
    pthread_mutex_lock(&p->mu);
    w->stats.batch_seconds += (double)total / p->info.sample_rate;
    w->stats.padded_seconds += (double)f->n * longest / p->info.sample_rate;
    if (device_ms >= 0 && w->stats.device_busy_seconds >= 0) w->stats.device_busy_seconds += device_ms * 1e-3;
    else w->stats.device_busy_seconds = -1;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < f->n; i++) {
        if (st == SRT_OK) st = post_item(p, &f->items[i]->meta, &codes[i], DS_MSG_ITEM);
        else srt_codes_free(&codes[i]);
    }
    inflight_drop_items(f);
    return st;
}

/* The pool is as full as it will get before a batch is taken: a reader waits for room or for the gate (or the pool
 * is at its caps), or the readers are done. With one reader the batches are then the same whatever the timing. */
static int pool_ready(const ds_pipe *p) {
    return p->readers_active == 0 || p->readers_blocked > 0 || p->pool_n == p->pool_cap ||
           p->pool_samples >= p->pool_cap_samples;
}

void *ds_encoder_main(void *arg) {
    ds_worker *w = arg;
    ds_pipe *p = w->pipe;
    inflight fl[2];
    memset(fl, 0, sizeof fl);
    int pending = -1;                                   /* the slot with a batch in flight, -1: none */
    srt_status st = srt_backend_enter_thread(w->stats.device);   /* cuda:N: this thread launches on device N */
    for (int i = 0; i < 2 && st == SRT_OK; i++) st = srt_encode_slot_create(w->codec, &fl[i].slot);
    pthread_mutex_lock(&p->mu);
    while (!p->cancelled && st == SRT_OK) {
        if (p->jobs_head) {
            ds_long_job *job = p->jobs_head;
            p->jobs_head = job->next;
            if (!p->jobs_head) p->jobs_tail = NULL;
            pthread_mutex_unlock(&p->mu);
            if (pending >= 0) st = collect_batch(w, &fl[pending]);
            pending = -1;
            if (st == SRT_OK) st = run_job(w, job);
            else {                                      /* the job still holds the encoder's reference */
                pthread_mutex_lock(&p->mu);
                ds_job_release(job);
                pthread_mutex_unlock(&p->mu);
            }
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->pool_n > 0 && pool_ready(p)) {
            inflight *f = &fl[pending == 0 ? 1 : 0];
            f->n = take_batch(p, f->items, 256);
            pthread_cond_broadcast(&p->cv_pool);
            pthread_mutex_unlock(&p->mu);
            srt_status st1 = submit_batch(w, f);        /* batch n+1 queued ... */
            srt_status st2 = pending >= 0 ? collect_batch(w, &fl[pending]) : SRT_OK;   /* ... before n is collected */
            pending = st1 == SRT_OK ? (int)(f - fl) : -1;   /* (on a failure dropped after the loop) */
            st = st1 != SRT_OK ? st1 : st2;
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (pending >= 0) {                             /* nothing to add now: finish what is in flight first */
            pthread_mutex_unlock(&p->mu);
            st = collect_batch(w, &fl[pending]);
            pending = -1;
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->readers_active == 0) break;
        pthread_cond_wait(&p->cv_work, &p->mu);
    }
    int cancelled = p->cancelled;
    pthread_mutex_unlock(&p->mu);
    if (pending >= 0) {
        if (st == SRT_OK && !cancelled) st = collect_batch(w, &fl[pending]);
        else inflight_drop_items(&fl[pending]);
    }
    for (int i = 0; i < 2; i++) srt_encode_slot_free(fl[i].slot);
    pthread_mutex_lock(&p->mu);
    p->encoders_active--;
    pthread_cond_broadcast(&p->cv_msg);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    if (st != SRT_OK && st != SRT_ERR_CANCELLED) ds_pipe_fail(p, st);
    return NULL;
}
