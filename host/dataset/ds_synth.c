/* ds_synth.c: a run of `snacrt tokenize --sequences --task interleave|dialog` (docs/sequences.md). Shard by
 * shard (a shard = shard_size documents): every spoken segment is queued on the TTS engine at once (it batches
 * them; each has its own seed, so its audio does not depend on the batch), its audio rounded to 16-bit samples
 * (as a WAV of `snacrt tts` holds it) and encoded by the codec, then each document's sequence is built through
 * the layout and added to the shard's sequence writer; the spoken segments are the shard's items (codes + text,
 * voice, seed, role), so `snacrt detokenize` gives their audio. Commit, done-log, --resume, errors.jsonl and the
 * index are those of audio tokenization (ds_run_state.c, ds_index.c). */
#include "dataset/ds_synth.h"
#include "dataset/ds_seq.h"
#include "dataset/ds_seq_internal.h"
#include "dataset/ds_internal.h"
#include "snacrt_tts.h"
#include "common.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct synth_run {
    const srt_ds_run_options *o;
    srt_ds_seq_ctx *seq;
    srt_codec *codec;
    srt_codec_info info;
    srt_tts_engine *tts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int outstanding;
} synth_run;

typedef struct seg_ref { synth_run *r; ds_synth_seg *g; } seg_ref;

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    (void)st;
    seg_ref *x = user;
    ds_synth_seg *g = x->g;
    int cancel = 0;
    if (n > 0) {
        if (g->n_pcm + n > g->cap_pcm) {
            int64_t c = (g->n_pcm + n) * 2;
            float *p = realloc(g->pcm, sizeof *p * (size_t)c);
            if (!p) cancel = 1;
            else { g->pcm = p; g->cap_pcm = c; }
        }
        if (!cancel) { memcpy(g->pcm + g->n_pcm, pcm, sizeof *pcm * (size_t)n); g->n_pcm += n; }
    }
    if (done) {
        pthread_mutex_lock(&x->r->mu);
        g->status = status;
        if (status != SRT_OK) g->error = srt_strdup(srt_last_error());
        g->done = 1;
        x->r->outstanding--;
        pthread_cond_broadcast(&x->r->cv);
        pthread_mutex_unlock(&x->r->mu);
    }
    return cancel;
}

/* Synthesize every spoken segment of docs[0..n) (waits for all). A failed segment fails its document. */
static srt_status synthesize(synth_run *r, ds_synth_doc *docs, int64_t n) {
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++)
        for (int s = 0; !docs[i].error && s < docs[i].n_segs; s++) total += docs[i].segs[s].speak;
    seg_ref *refs = srt_calloc((size_t)(total ? total : 1), sizeof *refs, "the synthesis queue");
    if (!refs) return SRT_ERR_NOMEM;
    srt_tts_config defaults;
    srt_tts_config_defaults(&defaults);
    srt_status st = SRT_OK;
    int64_t k = 0;
    for (int64_t i = 0; i < n && st == SRT_OK; i++) {
        for (int s = 0; !docs[i].error && s < docs[i].n_segs && st == SRT_OK; s++) {
            ds_synth_seg *g = &docs[i].segs[s];
            if (!g->speak) continue;
            srt_sampling_params sp = defaults.sampling;
            sp.seed = g->seed;
            if (r->o->synth_max_tokens > 0) sp.max_tokens = r->o->synth_max_tokens;
            if (r->o->synth_temperature >= 0) sp.temperature = (float)r->o->synth_temperature;
            if (r->o->synth_top_p >= 0) sp.top_p = (float)r->o->synth_top_p;
            srt_tts_request req = {.text = g->text, .voice = g->voice, .sampling = &sp};
            refs[k] = (seg_ref){r, g};
            pthread_mutex_lock(&r->mu);
            r->outstanding++;
            pthread_mutex_unlock(&r->mu);
            uint64_t id;
            for (;;) {
                st = srt_tts_submit(r->tts, &req, on_audio, &refs[k], &id);
                if (st != SRT_ERR_FULL) break;
                pthread_mutex_lock(&r->mu);   /* the queue is full: wait for one to finish */
                int before = r->outstanding;
                while (r->outstanding >= before) pthread_cond_wait(&r->cv, &r->mu);
                pthread_mutex_unlock(&r->mu);
            }
            if (st != SRT_OK) {   /* refused before queueing (text too long, unknown voice): the document fails */
                pthread_mutex_lock(&r->mu);
                r->outstanding--;
                pthread_mutex_unlock(&r->mu);
                g->status = st;
                g->error = srt_strdup(srt_last_error());
                g->done = 1;
                st = SRT_OK;
            }
            k++;
        }
    }
    pthread_mutex_lock(&r->mu);
    while (r->outstanding > 0) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    free(refs);
    return st;
}

/* The 16-bit sample grid of a WAV (include/snacrt_audio.h's write convention, read back as s / 32768). */
static void to_s16_grid(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] != x[i] ? 0.f : x[i] < -1.f ? -1.f : x[i] > 1.f ? 1.f : x[i];
        long s = lrintf(v * 32768.f);
        if (s > 32767) s = 32767;
        if (s < -32768) s = -32768;
        x[i] = (float)s / 32768.f;
    }
}

/* Encode the synthesized audio; a document whose segment failed or gave no audio gets its error. */
static srt_status encode_segments(synth_run *r, ds_synth_doc *docs, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        ds_synth_doc *d = &docs[i];
        for (int s = 0; !d->error && s < d->n_segs; s++) {
            ds_synth_seg *g = &d->segs[s];
            if (!g->speak) continue;
            char msg[1024];
            if (g->status != SRT_OK) snprintf(msg, sizeof msg, "segment %d: synthesis failed: %s", s,
                                              g->error ? g->error : "?");
            else if (g->n_pcm <= 0) snprintf(msg, sizeof msg, "segment %d: the TTS model gave no audio", s);
            else {
                to_s16_grid(g->pcm, g->n_pcm);
                const float *a = g->pcm;
                srt_status st = srt_codec_encode(r->codec, 1, &a, &g->n_pcm, &g->codes, NULL, NULL);
                if (st == SRT_ERR_NOMEM) return st;
                if (st == SRT_OK) continue;
                snprintf(msg, sizeof msg, "segment %d: encoding its audio failed: %s", s, srt_last_error());
            }
            if (!(d->error = srt_strdup(msg))) return SRT_ERR_NOMEM;
        }
        for (int s = 0; s < d->n_segs; s++) { free(d->segs[s].pcm); d->segs[s].pcm = NULL; }
    }
    return SRT_OK;
}

typedef struct id_buf { int32_t *ids; uint8_t *mask; size_t n, cap; } id_buf;

static srt_status put(id_buf *b, const int32_t *ids, size_t k, int m) {
    if (b->n + k > b->cap) {
        size_t c = (b->n + k) * 2 + 64;
        int32_t *ni = realloc(b->ids, sizeof *ni * c);
        if (ni) b->ids = ni;
        uint8_t *nm = realloc(b->mask, c);
        if (nm) b->mask = nm;
        if (!ni || !nm) return srt_error(SRT_ERR_NOMEM, "out of memory building a sequence");
        b->cap = c;
    }
    if (k) memcpy(b->ids + b->n, ids, sizeof *ids * k);
    memset(b->mask + b->n, m, k);
    b->n += k;
    return SRT_OK;
}

/* interleave: BOS, then each sentence as text (a space before all but the first) or as audio framed by the
 * layout's chat audio_part (start_of_speech A end_of_speech); every token is a target. */
static srt_status build_interleave(const srt_ds_seq_ctx *c, ds_synth_doc *d, id_buf *b) {
    const srt_layout *l = c->layout;
    int32_t *t = NULL;
    size_t nt = 0;
    srt_status st = srt_lm_encode(c->lm, "", 1, &t, &nt);
    if (st == SRT_OK) st = put(b, t, nt, 1);
    free(t);
    for (int s = 0; s < d->n_segs && st == SRT_OK; s++) {
        ds_synth_seg *g = &d->segs[s];
        t = NULL;
        if (!g->speak) {
            size_t len = strlen(g->text);
            char *x = malloc(len + 2);
            if (!x) return srt_error(SRT_ERR_NOMEM, "out of memory building a sequence");
            snprintf(x, len + 2, "%s%s", s ? " " : "", g->text);
            st = srt_lm_encode(c->lm, x, 0, &t, &nt);
            free(x);
            if (st == SRT_OK) st = put(b, t, nt, 1);
        } else {
            st = srt_layout_codes_to_ids(l, &g->codes, &t, &nt);
            const srt_layout_seq *ap = &l->chat.audio_part;
            if (st == SRT_OK && !ap->n) st = put(b, &l->start_of_speech, 1, 1);
            for (int i = 0; i < ap->n && st == SRT_OK; i++) {
                if (ap->items[i].kind == SRT_LAYOUT_AUDIO) st = put(b, t, nt, 1);
                else if (ap->items[i].kind == SRT_LAYOUT_TOKEN) st = put(b, &ap->items[i].token, 1, 1);
                else st = srt_error(SRT_ERR_UNSUPPORTED, "--task interleave: layout %s: \"chat.audio_part\" may hold "
                                    "only tokens and the audio", l->name);
            }
            if (st == SRT_OK && !ap->n) st = put(b, t, nt, 1);
            if (st == SRT_OK && !ap->n) st = put(b, &l->end_of_speech, 1, 1);
        }
        free(t);
    }
    return st;
}

/* dialog: the whole conversation through the layout's chat templates (srt_layout_build_chat_turns, no reply);
 * targets: each assistant turn after the tokens it shares with the layout's "reply" (what serving puts before
 * the answer), i.e. the answer and the turn's closing tokens. */
static srt_status build_dialog(const srt_ds_seq_ctx *c, ds_synth_doc *d, id_buf *b) {
    const srt_layout *l = c->layout;
    int nt = d->n_segs;
    srt_chat_turn *turns = srt_calloc((size_t)nt, sizeof *turns, "a dialog");
    srt_chat_part *parts = srt_calloc((size_t)nt, sizeof *parts, "a dialog");
    int32_t **audio = srt_calloc((size_t)nt, sizeof *audio, "a dialog");
    size_t *starts = srt_calloc((size_t)nt + 1, sizeof *starts, "a dialog");
    int32_t *ids = NULL, *r0 = NULL, *r1 = NULL;
    size_t n = 0, n0 = 0, n1 = 0;
    srt_status st = turns && parts && audio && starts ? SRT_OK : SRT_ERR_NOMEM;
    for (int t = 0; t < nt && st == SRT_OK; t++) {
        ds_synth_seg *g = &d->segs[t];
        parts[t] = (srt_chat_part){g->speak, g->speak ? NULL : g->text, NULL, 0};
        if (g->speak) st = srt_layout_codes_to_ids(l, &g->codes, &audio[t], &parts[t].n_audio_ids);
        parts[t].audio_ids = audio[t];
        turns[t] = (srt_chat_turn){(srt_chat_role)g->role, &parts[t], 1};
    }
    if (st == SRT_OK) st = srt_layout_build_chat_turns(l, c->lm, NULL, turns, nt, 0, &ids, &n, starts);
    /* the reply's ids: (start + reply) less start */
    if (st == SRT_OK) st = srt_layout_build_chat_turns(l, c->lm, NULL, NULL, 0, 1, &r1, &n1, NULL);
    if (st == SRT_OK) st = srt_layout_build_chat_turns(l, c->lm, NULL, NULL, 0, 0, &r0, &n0, NULL);
    if (st == SRT_OK) st = put(b, ids, n, 0);
    for (int t = 0; t < nt && st == SRT_OK; t++) {
        if (d->segs[t].role != SRT_ROLE_ASSISTANT) continue;
        size_t s = starts[t], e = starts[t + 1], k = 0;
        while (n0 + k < n1 && s + k < e && ids[s + k] == r1[n0 + k]) k++;
        memset(b->mask + s + k, 1, e - s - k);
    }
    for (int t = 0; t < nt && audio; t++) free(audio[t]);
    free(turns); free(parts); free(audio); free(starts); free(ids); free(r0); free(r1);
    return st;
}

static srt_status add_json(cJSON *arr, cJSON *item) {
    if (!item) return srt_error(SRT_ERR_NOMEM, "tokenize: out of memory");
    cJSON_AddItemToArray(arr, item);
    return SRT_OK;
}

/* Write shard k: its items (spoken segments), its sequences, then the done-log line. */
static srt_status write_shard(synth_run *r, ds_done_log *log, int64_t k, ds_synth_doc *docs, int64_t n,
                              srt_ds_progress *pr) {
    const srt_ds_run_options *o = r->o;
    char name[128], files[2][512], seq_files[4][512], hex[17];
    srt_ds_shard_name(o->shard_index, o->num_shards, k, name, sizeof name);
    int nf = srt_ds_shard_files(o->format, name, files);
    int n_seq_files = srt_ds_seq_files(r->seq, name, seq_files);
    cJSON *items = cJSON_CreateArray(), *errors = cJSON_CreateArray();
    srt_ds_shard_writer *sw = NULL;
    srt_ds_seq_writer *qw = NULL;
    srt_status st = items && errors ? SRT_OK : srt_error(SRT_ERR_NOMEM, "tokenize: out of memory");
    if (st == SRT_OK) st = srt_ds_shard_begin(o->out_dir, name, o->format, &r->info, &sw);
    if (st == SRT_OK) st = srt_ds_seq_begin(r->seq, o->out_dir, name, &qw);
    int64_t n_items = 0, n_errors = 0, samples = 0;
    for (int64_t i = 0; i < n && st == SRT_OK; i++) {
        ds_synth_doc *d = &docs[i];
        id_buf b = {0};
        if (!d->error) {
            st = o->seq_task == SRT_DS_TASK_DIALOG ? build_dialog(r->seq, d, &b) : build_interleave(r->seq, d, &b);
            if (st != SRT_OK && st != SRT_ERR_NOMEM) {   /* e.g. a role the layout has no template for */
                d->error = srt_strdup(srt_last_error());
                st = d->error ? SRT_OK : SRT_ERR_NOMEM;
            }
        }
        if (st == SRT_OK && d->error) {
            cJSON *e = cJSON_CreateObject();
            st = add_json(errors, e);
            if (st == SRT_OK) {
                cJSON_AddStringToObject(e, "key", d->key);
                cJSON_AddStringToObject(e, "source", d->source);
                cJSON_AddStringToObject(e, "error", d->error);
            }
            n_errors++;
        } else if (st == SRT_OK) {
            uint8_t *cut = srt_ds_seq_cuts(r->seq, b.ids, b.n);
            st = cut ? srt_ds_seq_add_ids(qw, d->key, b.ids, b.mask, cut, b.n) : SRT_ERR_NOMEM;
            free(cut);
            for (int s = 0; s < d->n_segs && st == SRT_OK; s++) {
                ds_synth_seg *g = &d->segs[s];
                if (!g->speak) continue;
                char key[600];
                snprintf(key, sizeof key, "%s#%d", d->key, s);
                cJSON *x = cJSON_CreateObject();
                if (!x) { st = SRT_ERR_NOMEM; break; }
                cJSON_AddStringToObject(x, "text", g->text);
                if (g->voice) cJSON_AddStringToObject(x, "voice", g->voice);
                if (g->role >= 0) cJSON_AddStringToObject(x, "role", ds_synth_role_name(g->role));
                char seed[32];
                snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seed);
                cJSON_AddStringToObject(x, "seed", seed);
                char *extra = cJSON_PrintUnformatted(x);
                cJSON_Delete(x);
                if (!extra) { st = SRT_ERR_NOMEM; break; }
                srt_ds_item it = {key, d->source, 0, g->codes.n_samples, r->info.sample_rate, g->codes, extra};
                st = srt_ds_shard_add(sw, &it);
                free(extra);
                if (st != SRT_OK) break;
                ds_hex64(ds_codes_hash(&g->codes), hex);
                cJSON *row = cJSON_CreateArray();
                st = add_json(items, row);
                if (st == SRT_OK) {
                    cJSON_AddItemToArray(row, cJSON_CreateString(key));
                    cJSON_AddItemToArray(row, cJSON_CreateNumber(0));
                    cJSON_AddItemToArray(row, cJSON_CreateNumber((double)g->codes.n_samples));
                    cJSON_AddItemToArray(row, cJSON_CreateString(hex));
                }
                n_items++;
                samples += g->codes.n_samples;
            }
        }
        free(b.ids); free(b.mask);
    }
    ds_shard_done d = {.name = name, .k = k, .n_units = n, .n_items = n_items, .n_errors = n_errors,
                       .audio_samples = samples, .files = files, .n_files = nf, .seq_files = seq_files,
                       .n_seq_files = n_seq_files};
    st = ds_shard_finish(log, st, sw, qw, &d, items, errors);
    if (st == SRT_OK) {
        pr->items += n_items;
        pr->errors += n_errors;
        pr->units_done += n;
        pr->shards_committed++;
        pr->audio_seconds += (double)samples / r->info.sample_rate;
    }
    return st;
}

/* "a,b,c" -> a NULL-terminated array (one allocation). */
static char **split_voices(const char *s, int *n) {
    *n = 0;
    if (!s || !*s) return NULL;
    int k = 1;
    for (const char *p = s; *p; p++) k += *p == ',';
    size_t len = strlen(s) + 1;
    char **v = malloc(sizeof *v * (size_t)(k + 1) + len);
    if (!v) return NULL;
    char *copy = (char *)(v + k + 1);
    memcpy(copy, s, len);
    for (char *p = copy, *e; p; p = e ? e + 1 : NULL) {
        e = strchr(p, ',');
        if (e) *e = 0;
        v[(*n)++] = p;
    }
    v[*n] = NULL;
    return v;
}

srt_status ds_synth_run(const srt_ds_run_options *o, srt_ds_summary *summary) {
    double t0 = ds_now();
    if (o->seq_task == SRT_DS_TASK_INTERLEAVE && !(o->synth_audio_rate >= 0 && o->synth_audio_rate <= 1))
        return srt_error(SRT_ERR_INVALID_ARG, "--audio-rate must be 0..1");
    ds_lock lock;
    SRT_TRY(ds_state_lock(o, &lock));
    synth_run r = {.o = o};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int n_voices = 0;
    char **voices = split_voices(o->synth_voices, &n_voices);
    ds_synth_doc *docs = NULL;
    int64_t n_docs = 0, n_all = 0;
    uint64_t fp = 0;
    char *plan = NULL;
    ds_done_log log = {.fd = -1};
    srt_status st = o->synth_voices && !voices ? SRT_ERR_NOMEM : SRT_OK;
    if (st == SRT_OK) st = ds_synth_docs_read(o, voices, n_voices, &docs, &n_docs, &n_all, &fp);
    srt_codec_options co = {.backend = o->device ? o->device : "cpu", .n_threads = o->n_threads,
                            .precision = o->precision};
    if (st == SRT_OK) st = srt_codec_load(o->model_dir, &co, &r.codec);
    if (st == SRT_OK) st = srt_codec_get_info(r.codec, &r.info);
    if (st == SRT_OK) st = srt_ds_seq_open(o, &r.info, &r.seq);
    int64_t n_shards = (n_docs + o->shard_size - 1) / o->shard_size;
    if (st == SRT_OK && !(plan = ds_plan_json(o, &r.info, fp, n_all, n_docs, n_shards)))
        st = srt_error(SRT_ERR_NOMEM, "tokenize: out of memory");
    if (st == SRT_OK) st = ds_state_prepare(o, plan, n_shards, &log);
    int64_t todo = 0;
    for (int64_t k = 0; st == SRT_OK && k < n_shards; k++) todo += !log.done[k];
    if (st == SRT_OK && todo) {
        srt_tts_config cfg;
        srt_tts_config_defaults(&cfg);
        cfg.lm_dir = o->synth_tts_model ? o->synth_tts_model : o->seq_tokenizer;
        cfg.codec_dir = o->model_dir;
        cfg.layout = o->synth_tts_layout;
        cfg.backend = o->device ? o->device : "cpu";
        cfg.n_threads = o->n_threads;
        cfg.max_queue = 1024;
        st = srt_tts_engine_create(&cfg, &r.tts);
        for (int v = 0; st == SRT_OK && v < n_voices; v++) {
            const char *const *known = srt_tts_voices(r.tts);
            int ok = 0;
            for (int q = 0; known && known[q]; q++) ok |= !strcasecmp(known[q], voices[v]);
            if (!ok) st = srt_error(SRT_ERR_NOT_FOUND, "--voices: the TTS layout has no voice \"%s\"", voices[v]);
        }
    }
    srt_ds_progress pr = {.units_total = n_docs, .shards_total = n_shards};
    pr.shards_skipped = log.n_done;
    pr.items = pr.items_skipped = log.done_items;
    pr.errors = pr.errors_skipped = log.done_errors;
    for (int64_t k = 0; st == SRT_OK && k < n_shards; k++) {
        int64_t first = k * o->shard_size, end = first + o->shard_size < n_docs ? first + o->shard_size : n_docs;
        if (log.done[k]) { pr.units_skipped += end - first; pr.units_done += end - first; continue; }
        st = synthesize(&r, docs + first, end - first);
        if (st == SRT_OK) st = encode_segments(&r, docs + first, end - first);
        if (st == SRT_OK) st = write_shard(&r, &log, k, docs + first, end - first, &pr);
        for (int64_t i = first; i < end; i++)   /* written: only the documents' text stays in memory */
            for (int g = 0; g < docs[i].n_segs; g++) srt_codes_free(&docs[i].segs[g].codes);
        pr.wall_seconds = ds_now() - t0;
        if (st == SRT_OK && o->progress) o->progress(&pr, o->progress_user);
    }
    srt_tts_engine_free(r.tts);
    if (log.fd >= 0 || log.done) ds_done_log_close(&log);
    if (st == SRT_OK && o->num_shards == 1) {
        srt_ds_merge_result mr;
        st = srt_ds_merge_index(o->out_dir, &mr);
        if (st == SRT_OK) { summary->index_written = 1; summary->index_items = mr.items; summary->index_errors = mr.errors; }
        else srt_error_prefix(st, "writing the index: ");
    }
    pr.finished = 1;
    pr.wall_seconds = ds_now() - t0;
    summary->progress = pr;
    if (st == SRT_OK && o->progress) o->progress(&pr, o->progress_user);
    free(plan);
    srt_ds_seq_close(r.seq);
    srt_codec_free(r.codec);
    ds_synth_docs_free(docs, n_docs);
    free(voices);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    ds_state_unlock(&lock);
    return st;
}
