/* tts_sched.c: the scheduler thread. Each iteration: apply cancellations; admit queued requests in FIFO order
 * while a running slot is free and the KV cache can hold their reservation (prompt + max_tokens of their longest
 * piece, so a running request never hits a full cache and is never preempted); then one step of the step
 * scheduler (lm/lm_step.c, shared with srt_lm_generate): the decode token of every generating request plus up to
 * prefill_chunk prompt tokens of joining requests (oldest first) in one srt_lm_forward, a token sampled for every
 * request whose prompt is complete; the new frame groups of all requests decoded in one batched codec push, audio
 * delivered; finished, failed and cancelled requests leave the batch.
 * Sampling stays on the LM's backend when it can (srt_lm_sample_rows: position mask and pick there, only the ids
 * come back); the logits rows are downloaded and sampled on the host when the LM is tensor parallel, its backend
 * lacks the sample / mask_rows ops, or a request of the batch has a logits callback. Both give the same tokens. */
#include "tts/tts_internal.h"

void tts_mark_failed(tts_req *r, srt_status st) {
    if (r->finished) return;
    r->finished = 1;
    r->final_status = st;
    snprintf(r->final_error, sizeof r->final_error, "%s", srt_last_error());
}

/* The queue depth and running count seen by srt_tts_get_metrics (call with the lock held). */
static void publish_counts(srt_tts_engine *e) {
    e->m.queue_depth = e->queue_len + e->n_waiting_shared;
    e->m.running = e->n_running;
}

void tts_finish(srt_tts_engine *e, tts_req *r, srt_status status) {
    if (r->admitted) e->reserved_blocks -= r->reserved_blocks;
    r->stats.total_ms = tts_now_ms() - r->t_submit;
    r->stats.lookahead_frames = e->lookahead;
    double audio_s = (double)r->stats.samples / e->codec_info.sample_rate;
    pthread_mutex_lock(&e->mu);          /* metrics first: a caller woken by the callback sees them */
    srt_tts_metrics *m = &e->m;
    if (status == SRT_OK) m->requests_ok++;
    else if (status == SRT_ERR_CANCELLED) {
        m->requests_cancelled++;
        if (!r->admitted) m->requests_cancelled_queued++;
    }
    else m->requests_failed++;
    if (r->admitted) m->running--;
    m->samples_total += r->stats.samples;
    m->dropped_frames_total += r->stats.dropped_frames;
    if (r->got_audio) {
        e->first_audio_sum += r->stats.first_audio_ms;
        e->first_audio_count++;
        if (r->stats.first_audio_ms > m->first_audio_ms_max) m->first_audio_ms_max = r->stats.first_audio_ms;
    }
    if (status == SRT_OK && r->stats.total_ms > 0) {
        e->rtf_sum += audio_s / (r->stats.total_ms / 1000.0);
        e->rtf_count++;
    }
    pthread_mutex_unlock(&e->mu);
    if (status != SRT_OK && status != SRT_ERR_CANCELLED && r->final_error[0])
        srt_error(status, "%s", r->final_error);
    else if (status == SRT_ERR_CANCELLED)
        srt_error(status, "request %llu was cancelled", (unsigned long long)r->id);
    r->cb(r->user, NULL, 0, 1, status, &r->stats);
    tts_req_free(e, r);
}

/* Apply srt_tts_cancel calls (under the lock): queued requests are unlinked and returned as a list, waiting and
 * running ones are flagged (the sweep ends them). */
static tts_req *take_cancelled(srt_tts_engine *e) {
    tts_req *cancelled = NULL;
    for (int c = 0; c < e->n_cancel; c++) {
        uint64_t id = e->cancel_ids[c];
        tts_req **pp = &e->queue_head, *prev = NULL;
        while (*pp && (*pp)->id != id) { prev = *pp; pp = &(*pp)->next; }
        if (*pp) {
            tts_req *r = *pp;
            *pp = r->next;
            if (e->queue_tail == r) e->queue_tail = prev;
            e->queue_len--;
            r->next = cancelled;
            cancelled = r;
            continue;
        }
        if (e->waiting && e->waiting->id == id) e->waiting->cancel = 1;
        for (int i = 0; i < e->n_running; i++) if (e->running[i]->id == id) e->running[i]->cancel = 1;
    }
    e->n_cancel = 0;
    publish_counts(e);
    return cancelled;
}

static int max_running(const srt_tts_engine *e) { return e->cfg.max_running; }

/* Admit the waiting request if it fits: open its codec stream; its first piece starts in the step. */
static srt_status admit(srt_tts_engine *e, tts_req *r) {
    if (!r->chat) SRT_TRY(srt_codec_stream_open(e->codec, e->cfg.noise_seed, &r->stream));   /* chat: per segment */
    r->pending.n_levels = e->codec_info.n_levels;
    for (int L = 0; L < e->layout->n_levels; L++) {
        r->pending.codes[L] = srt_malloc(sizeof(int32_t) * 8 * (size_t)e->layout->per_level[L], "tts codes");
        if (!r->pending.codes[L]) return SRT_ERR_NOMEM;
    }
    r->pending_cap = 8;
    r->admitted = 1;
    e->reserved_blocks += r->reserved_blocks;
    r->phase = TTS_NEXT_PIECE;
    r->piece = 0;
    r->stats.queue_ms = tts_now_ms() - r->t_submit;
    e->running[e->n_running++] = r;
    pthread_mutex_lock(&e->mu);
    publish_counts(e);
    pthread_mutex_unlock(&e->mu);
    return SRT_OK;
}

/* Forget the waiting request (it is being admitted or finished). */
static void drop_waiting(srt_tts_engine *e) {
    pthread_mutex_lock(&e->mu);
    e->waiting = NULL;
    e->n_waiting_shared = 0;
    publish_counts(e);
    pthread_mutex_unlock(&e->mu);
}

/* Admission: FIFO; the head waits (blocking those behind it) until the KV reservation fits. */
static void admit_some(srt_tts_engine *e) {
    for (;;) {
        if (!e->waiting) {
            if (e->n_running >= max_running(e)) return;
            pthread_mutex_lock(&e->mu);
            tts_req *r = e->queue_head;
            if (r) {                                    /* still counted in the queue depth while it waits */
                e->queue_head = r->next;
                if (!e->queue_head) e->queue_tail = NULL;
                e->queue_len--;
                r->next = NULL;
                e->waiting = r;
                e->n_waiting_shared = 1;
            }
            pthread_mutex_unlock(&e->mu);
            if (!r) return;
            srt_status st = tts_req_prepare(e, r);
            if (st != SRT_OK) { drop_waiting(e); tts_mark_failed(r, st); tts_finish(e, r, st); continue; }
        }
        tts_req *r = e->waiting;
        if (r->cancel) { drop_waiting(e); tts_finish(e, r, SRT_ERR_CANCELLED); continue; }
        if (e->n_running >= max_running(e) || e->reserved_blocks + r->reserved_blocks > e->lm_info.kv_n_blocks)
            return;
        drop_waiting(e);
        srt_status st = admit(e, r);
        if (st != SRT_OK) { tts_mark_failed(r, st); tts_finish(e, r, st); }
    }
}

/* The tokens are picked on the LM's backend unless it cannot (tensor parallel, no sample / mask_rows op) or a
 * request of the batch has a logits callback, which needs the row on the host. */
static int use_device_sampling(const srt_tts_engine *e) {
    if (!srt_lm_samples_on_device(e->lm, e->layout->mask)) return 0;
    for (int b = 0; b < e->step.n_rows; b++) if (e->running[e->step.owner[b]]->on_logits) return 0;
    return 1;
}

/* The step scheduler's client (owner: index into e->running): host pick (mask, on_logits, host sampler), device
 * mask row, filing, and per-request failures (the other requests of the step go on). */
static srt_status step_pick(void *user, int i, float *row, int32_t *id) {
    srt_tts_engine *e = user;
    return tts_pick_token(e, e->running[i], row, id);
}
static srt_status step_file(void *user, int i, int32_t id) {
    srt_tts_engine *e = user;
    return tts_file_token(e, e->running[i], id);
}
static void step_mask(void *user, int i, srt_mask_row *m) {
    srt_tts_engine *e = user;
    tts_mask_row(e, e->running[i], m);
}
static void step_fail(void *user, int i, srt_status st) {
    srt_tts_engine *e = user;
    tts_mark_failed(e->running[i], st);
}

/* Start pieces, then one step: the decode token of every generating request, then prompt chunks of joining ones
 * (oldest first) within prefill_chunk tokens. */
static void lm_step(srt_tts_engine *e) {
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->finished || r->cancel || r->phase != TTS_NEXT_PIECE) continue;
        srt_status st = tts_req_start_piece(e, r);
        if (st != SRT_OK) tts_mark_failed(r, st);
    }
    srt_lm_step *s = &e->step;
    srt_lm_step_begin(s, e->cfg.prefill_chunk);
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->finished || r->cancel || r->phase != TTS_DECODE) continue;
        srt_lm_step_add_decode(s, r->seq_id, &r->next_token, r->sampler, i);
    }
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->finished || r->cancel || r->phase != TTS_PREFILL) continue;
        if (!srt_lm_step_add_prefill(s, r->seq_id, r->prompts[r->piece], r->n_prompts[r->piece], &r->prefilled,
                                     r->sampler, i))
            break;
    }
    if (!s->n_rows) return;
    int on_device = use_device_sampling(e);
    srt_lm_step_client client = {.user = e, .pick = step_pick, .file = step_file, .mask = step_mask,
                                 .fail = step_fail};
    int64_t tokens = 0;
    (void)srt_lm_step_run(s, on_device, e->layout->mask, &client, &tokens);   /* failures went to the requests */
    double now = tts_now_ms();
    pthread_mutex_lock(&e->mu);
    e->m.generated_tokens_total += tokens;
    e->rate_t[e->rate_next] = now;
    e->rate_tokens[e->rate_next] = tokens;
    e->rate_next = (e->rate_next + 1) % TTS_RATE_SLOTS;
    if (on_device) e->m.sample_steps_device++;
    else e->m.sample_steps_host++;
    pthread_mutex_unlock(&e->mu);
}

/* Remove finished and cancelled requests from the batch (keeping admission order) and deliver their end. */
static void sweep(srt_tts_engine *e) {
    int kept = 0;
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->cancel) tts_finish(e, r, SRT_ERR_CANCELLED);
        else if (r->finished) tts_finish(e, r, r->final_status);
        else e->running[kept++] = r;
    }
    e->n_running = kept;
}

static void shutdown_all(srt_tts_engine *e) {
    pthread_mutex_lock(&e->mu);
    tts_req *q = e->queue_head;
    e->queue_head = e->queue_tail = NULL;
    e->queue_len = 0;
    publish_counts(e);
    pthread_mutex_unlock(&e->mu);
    while (q) { tts_req *next = q->next; tts_finish(e, q, SRT_ERR_CANCELLED); q = next; }
    if (e->waiting) { tts_finish(e, e->waiting, SRT_ERR_CANCELLED); e->waiting = NULL; }
    for (int i = 0; i < e->n_running; i++) tts_finish(e, e->running[i], SRT_ERR_CANCELLED);
    e->n_running = 0;
}

void *tts_sched_main(void *arg) {
    srt_tts_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && !e->queue_head && !e->waiting && !e->n_running && !e->n_cancel)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop) { pthread_mutex_unlock(&e->mu); break; }
        tts_req *cancelled = take_cancelled(e);
        pthread_mutex_unlock(&e->mu);
        while (cancelled) { tts_req *next = cancelled->next; tts_finish(e, cancelled, SRT_ERR_CANCELLED); cancelled = next; }
        sweep(e);
        admit_some(e);
        lm_step(e);
        srt_status st = tts_audio_push(e);
        (void)st;                               /* failures are recorded on the requests pushed */
        sweep(e);
    }
    shutdown_all(e);
    return NULL;
}
