/* tts_engine.c: the engine's API side (any thread): create (layout, LM, codec, scheduler thread), free, submit
 * into the bounded queue, cancel, metrics. The work itself happens in tts_sched.c. */
#include "tts/tts_internal.h"
#include <time.h>

double tts_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void srt_tts_config_defaults(srt_tts_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_running = 16;
    cfg->max_queue = 256;
    cfg->prefill_chunk = 256;
    cfg->max_input_chars = 4096;
    cfg->max_piece_chars = 200;
    cfg->noise_seed = -1;
    srt_sampling_defaults(&cfg->sampling);
    cfg->sampling.temperature = 0.6f;
    cfg->sampling.top_p = 0.8f;
    cfg->sampling.repetition_penalty = 1.1f;
    cfg->sampling.max_tokens = 1200;
}

static void free_cfg_strings(srt_tts_config *c) {
    free((char *)c->lm_dir); free((char *)c->codec_dir); free((char *)c->layout); free((char *)c->backend);
    free((char *)c->devices);
}

void srt_tts_engine_free(srt_tts_engine *e) {
    if (!e) return;
    tts_replicas_free(e->rep);
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stop = 1;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);     /* the thread cancels what is left on its way out */
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
    }
    srt_lm_free(e->lm);
    srt_backend_destroy(&e->host);
    srt_codec_free(e->codec);
    srt_layout_free(e->layout);
    free(e->running); free(e->cancel_ids);
    srt_lm_step_free(&e->step);
    free_cfg_strings(&e->cfg);
    free(e);
}

/* Every id the layout may generate after start-of-speech must exist in the LM's vocabulary. */
static srt_status check_vocab(srt_tts_engine *e) {
    const srt_layout *l = e->layout;
    int32_t lo = l->audio_base, hi = srt_layout_audio_id(l, l->n_positions - 1, e->codec_info.codebook_size);
    if (hi > e->lm_info.vocab_size)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s): audio ids up to %d but the model's vocabulary has %d",
                         l->name, l->source, hi - 1, e->lm_info.vocab_size);
    for (int i = 0; i < l->n_tokens; i++)
        if (l->tokens[i].id >= e->lm_info.vocab_size)
            return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s): token %s = %d outside the vocabulary (%d)", l->name,
                             l->source, l->tokens[i].name, l->tokens[i].id, e->lm_info.vocab_size);
    e->mask_lo = lo < l->end_of_speech ? lo : l->end_of_speech;
    e->mask_hi = hi > l->end_of_speech + 1 ? hi : l->end_of_speech + 1;
    return SRT_OK;
}

static srt_status create_inner(srt_tts_engine *e) {
    srt_tts_config *c = &e->cfg;
    SRT_TRY(srt_layout_load(c->layout, c->lm_dir, &e->layout));
    int max_tokens = c->sampling.max_tokens > 0 ? c->sampling.max_tokens : 1200;
    srt_lm_options lo = {.backend = c->backend, .n_threads = c->n_threads, .tp = c->tp,
                         .lm_precision = c->lm_precision, .weights_dtype = c->lm_weights,
                         .kv_max_tokens = c->kv_max_tokens > 0 ? c->kv_max_tokens
                                                               : (int64_t)c->max_running * (max_tokens + 512),
                         .max_batch_tokens = c->max_running + c->prefill_chunk};
    SRT_TRY(srt_lm_load(c->lm_dir, &lo, &e->lm));
    SRT_TRY(srt_lm_get_info(e->lm, &e->lm_info));
    SRT_TRY(srt_backend_create("cpu", 1, &e->host));
    srt_codec_options co = {.backend = c->backend, .n_threads = c->n_threads};
    SRT_TRY(srt_codec_load(c->codec_dir, &co, &e->codec));
    SRT_TRY(srt_codec_get_info(e->codec, &e->codec_info));
    SRT_TRY(srt_layout_check_codec(e->layout, &e->codec_info));
    SRT_TRY(check_vocab(e));
    srt_codec_stream *probe = NULL;
    SRT_TRY(srt_codec_stream_open(e->codec, c->noise_seed, &probe));
    e->lookahead = srt_codec_stream_lookahead(probe);
    e->group_samples = srt_codec_stream_group_samples(probe);
    srt_codec_stream_free(probe);
    size_t n = (size_t)c->max_running;
    e->running = srt_calloc(n, sizeof *e->running, "tts batch");
    if (!e->running) return SRT_ERR_NOMEM;
    SRT_TRY(srt_lm_step_init(&e->step, e->lm, c->max_running));
    return SRT_OK;
}

/* The scheduler thread runs the LM and codec backends it did not create: their device first (cuda:N). */
static void *sched_entry(void *arg) {
    srt_tts_engine *e = arg;
    (void)srt_backend_enter_thread(e->cfg.backend);   /* a failure shows up in the first op */
    return tts_sched_main(e);
}

srt_status srt_tts_engine_create(const srt_tts_config *cfg, srt_tts_engine **out) {
    *out = NULL;
    if (!cfg || !cfg->lm_dir || !cfg->codec_dir)
        return srt_error(SRT_ERR_INVALID_ARG, "the engine needs an LM folder and a codec folder");
    if (cfg->max_running < 0 || cfg->max_queue < 0 || cfg->prefill_chunk < 0 || cfg->kv_max_tokens < 0 ||
        cfg->max_input_chars < 0 || cfg->max_piece_chars < 0 || cfg->n_threads < 0 || cfg->tp < 0)
        return srt_error(SRT_ERR_INVALID_ARG, "negative engine setting");
    srt_tts_engine *e = srt_calloc(1, sizeof *e, "tts engine");
    if (!e) return SRT_ERR_NOMEM;
    e->cfg = *cfg;
    srt_tts_config *c = &e->cfg;
    c->lm_dir = srt_strdup(cfg->lm_dir);
    c->codec_dir = srt_strdup(cfg->codec_dir);
    c->layout = cfg->layout ? srt_strdup(cfg->layout) : NULL;
    c->backend = cfg->backend ? srt_strdup(cfg->backend) : NULL;
    c->devices = cfg->devices ? srt_strdup(cfg->devices) : NULL;
    if (!c->max_running) c->max_running = 16;
    if (!c->max_queue) c->max_queue = 256;
    if (!c->prefill_chunk) c->prefill_chunk = 256;
    if (!c->max_input_chars) c->max_input_chars = 4096;
    if (!c->max_piece_chars) c->max_piece_chars = 200;
    e->next_id = 1;
    srt_status st = (!c->lm_dir || !c->codec_dir || (cfg->layout && !c->layout) || (cfg->backend && !c->backend) ||
                     (cfg->devices && !c->devices))
                        ? srt_error(SRT_ERR_NOMEM, "out of memory")
                        : tts_replicas_wanted(c) ? tts_replicas_create(e) : create_inner(e);
    if (st == SRT_OK && !e->rep) {
        pthread_mutex_init(&e->mu, NULL);
        pthread_cond_init(&e->cv, NULL);
        if (pthread_create(&e->thread, NULL, sched_entry, e)) {
            pthread_mutex_destroy(&e->mu);
            pthread_cond_destroy(&e->cv);
            st = srt_error(SRT_ERR_BACKEND, "could not start the scheduler thread");
        } else {
            e->thread_started = 1;
        }
    }
    if (st != SRT_OK) { srt_tts_engine_free(e); return st; }
    *out = e;
    return SRT_OK;
}

srt_status srt_tts_submit(srt_tts_engine *e, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                          uint64_t *request_id) {
    if (request_id) *request_id = 0;
    if (!e) return srt_error(SRT_ERR_INVALID_ARG, "no engine");
    if (e->rep) return tts_replicas_submit(e->rep, req, cb, user, request_id);
    tts_req *r = NULL;
    srt_status st = tts_req_create(e, req, cb, user, &r);
    if (st != SRT_OK) {
        pthread_mutex_lock(&e->mu);
        e->m.requests_rejected++;
        pthread_mutex_unlock(&e->mu);
        return st;
    }
    return tts_enqueue(e, r, request_id);
}

srt_status tts_enqueue(srt_tts_engine *e, tts_req *r, uint64_t *request_id) {
    r->t_submit = tts_now_ms();
    pthread_mutex_lock(&e->mu);
    if (e->queue_len >= e->cfg.max_queue) {
        e->m.requests_rejected++;
        pthread_mutex_unlock(&e->mu);
        tts_req_free(e, r);
        return srt_error(SRT_ERR_FULL, "the queue is full (%d requests waiting)", e->cfg.max_queue);
    }
    r->id = e->next_id++;
    if (e->queue_tail) e->queue_tail->next = r;
    else e->queue_head = r;
    e->queue_tail = r;
    e->queue_len++;
    e->m.requests_total++;
    e->m.queue_depth = e->queue_len + e->n_waiting_shared;
    if (request_id) *request_id = r->id;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return SRT_OK;
}

void srt_tts_cancel(srt_tts_engine *e, uint64_t id) {
    if (!e || !id) return;
    if (e->rep) { tts_replicas_cancel(e->rep, id); return; }
    pthread_mutex_lock(&e->mu);
    if (e->n_cancel == e->cap_cancel) {
        int cap = e->cap_cancel ? 2 * e->cap_cancel : 16;
        uint64_t *grown = realloc(e->cancel_ids, sizeof(uint64_t) * (size_t)cap);
        if (!grown) { pthread_mutex_unlock(&e->mu); return; }
        e->cancel_ids = grown;
        e->cap_cancel = cap;
    }
    e->cancel_ids[e->n_cancel++] = id;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void srt_tts_get_metrics(srt_tts_engine *e, srt_tts_metrics *m) {
    memset(m, 0, sizeof *m);
    if (!e) return;
    if (e->rep) { tts_replicas_metrics(e->rep, m); return; }
    double now = tts_now_ms(), oldest = now;
    pthread_mutex_lock(&e->mu);
    *m = e->m;
    int64_t tokens = 0;
    for (int i = 0; i < TTS_RATE_SLOTS; i++) {
        if (e->rate_t[i] <= 0 || now - e->rate_t[i] > 10000.0) continue;
        tokens += e->rate_tokens[i];
        if (e->rate_t[i] < oldest) oldest = e->rate_t[i];
    }
    m->tokens_per_s = now > oldest ? tokens / ((now - oldest) / 1000.0) : 0;
    m->first_audio_ms_avg = e->first_audio_count ? e->first_audio_sum / (double)e->first_audio_count : 0;
    m->rtf_avg = e->rtf_count ? e->rtf_sum / (double)e->rtf_count : 0;
    pthread_mutex_unlock(&e->mu);
}

int srt_tts_sample_rate(const srt_tts_engine *e) { return e ? e->codec_info.sample_rate : 0; }
const char *const *srt_tts_voices(const srt_tts_engine *e) { return e ? (const char *const *)e->layout->voices : NULL; }
const char *const *srt_tts_voice_aliases(const srt_tts_engine *e) {
    return e ? (const char *const *)e->layout->voice_aliases : NULL;
}
int srt_tts_lookahead(const srt_tts_engine *e) { return e ? e->lookahead : 0; }
int64_t srt_tts_group_samples(const srt_tts_engine *e) { return e ? e->group_samples : 0; }
int srt_tts_takes_instructions(const srt_tts_engine *e, int clone) {
    return e ? srt_layout_instructions_slot(e->layout, clone) : 0;
}
const char *const *srt_tts_tags(const srt_tts_engine *e) { return e ? (const char *const *)e->layout->tags : NULL; }
