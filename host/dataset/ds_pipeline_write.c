/* ds_pipeline_write.c: the tokenizer's writer thread. Collects ITEM / DROPPED / UNIT_DONE messages into a ring of
 * unit slots (the gate keeps every unit in flight within window_shards shards of the oldest open one), and
 * commits shards strictly in order as soon as all their units are complete: the shard's files through
 * srt_ds_shard_* (temp + fsync + rename), then one fsynced done-log line with the shard's items (key, offset,
 * n_samples, codes hash) and errors — the commit point a resumed run starts from. Items appear in unit order,
 * a unit's segments in order; a unit that failed contributes its error and none of its items. Then the gate moves
 * on and the readers may start the next units. */
#include "dataset/ds_pipeline_internal.h"
#include "dataset/ds_seq.h"
#include "common.h"
#include <string.h>

typedef struct unit_slot {
    int64_t unit;             /* the unit held, -1 when free */
    int expected;             /* items the reader emitted (-1 until UNIT_DONE) */
    int received;             /* ITEM + DROPPED messages */
    int counted;              /* counted in progress.units_done (all its items encoded) */
    char *error;
    srt_ds_item *items;       /* (cap) by segment number */
    int cap;
} unit_slot;

typedef struct writer {
    ds_pipe *p;
    unit_slot *ring;          /* (ring_n) slot of unit u: u % ring_n */
    int64_t ring_n;
    int64_t first_open;       /* oldest shard neither committed now nor earlier */
} writer;

static void slot_clear(unit_slot *s) {
    for (int i = 0; i < s->cap; i++) srt_ds_item_clear(&s->items[i]);
    free(s->items);
    free(s->error);
    memset(s, 0, sizeof *s);
    s->unit = -1;
    s->expected = -1;
    s->counted = 0;
}

static srt_status slot_for(writer *w, int64_t unit, unit_slot **out) {
    unit_slot *s = &w->ring[unit % w->ring_n];
    if (s->unit == -1) s->unit = unit;
    if (s->unit != unit)
        return srt_error(SRT_ERR_RANGE, "tokenize writer: unit %lld arrived while unit %lld holds its slot (gate broken)",
                         (long long)unit, (long long)s->unit);
    *out = s;
    return SRT_OK;
}

static srt_status handle_msg(writer *w, ds_msg *m) {
    ds_pipe *p = w->p;
    unit_slot *s = NULL;
    SRT_TRY(slot_for(w, m->meta.unit, &s));
    const ds_unit *u = &p->units[m->meta.unit];
    if (m->kind == DS_MSG_UNIT_DONE) {
        s->expected = m->n_items;
        s->error = m->error;
        m->error = NULL;
        pthread_mutex_lock(&p->mu);
        if (s->error) {
            p->progress.errors++;
            for (int i = 0; i < s->cap; i++)   /* items already counted are taken back */
                if (s->items[i].key) {
                    p->progress.items--;
                    p->progress.audio_seconds -= (double)s->items[i].n_samples / p->info.sample_rate;
                }
        }
        pthread_mutex_unlock(&p->mu);
        return SRT_OK;
    }
    s->received++;
    if (m->kind == DS_MSG_DROPPED) return SRT_OK;
    if (m->meta.seg >= s->cap) {
        int cap = s->cap ? s->cap : 1;
        while (cap <= m->meta.seg) cap *= 2;
        srt_ds_item *v = realloc(s->items, sizeof *v * (size_t)cap);
        if (!v) { srt_codes_free(&m->codes); return srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory"); }
        memset(v + s->cap, 0, sizeof *v * (size_t)(cap - s->cap));
        s->items = v;
        s->cap = cap;
    }
    srt_ds_item *it = &s->items[m->meta.seg];
    it->key = ds_item_key(u, &m->meta);
    it->source = srt_strdup(u->source);
    it->extra_json = u->extra_json ? srt_strdup(u->extra_json) : NULL;
    it->offset_samples = m->meta.offset;
    it->n_samples = m->codes.n_samples;
    it->sample_rate = p->info.sample_rate;
    it->codes = m->codes;
    memset(&m->codes, 0, sizeof m->codes);
    if (!it->key || !it->source || (u->extra_json && !it->extra_json))
        return srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory");
    pthread_mutex_lock(&p->mu);
    if (!s->error) {
        p->progress.items++;
        p->progress.audio_seconds += (double)it->n_samples / p->info.sample_rate;
    }
    pthread_mutex_unlock(&p->mu);
    return SRT_OK;
}

/* A message, then: a unit whose items have all been encoded (UNIT_DONE seen, every item or drop received) counts
 * as done (the progress bar follows encoding, not reading). */
static srt_status handle(writer *w, ds_msg *m) {
    int64_t unit = m->meta.unit;
    SRT_TRY(handle_msg(w, m));
    unit_slot *s = &w->ring[unit % w->ring_n];
    if (s->unit == unit && !s->counted && s->expected >= 0 && s->received >= s->expected) {
        s->counted = 1;
        pthread_mutex_lock(&w->p->mu);
        w->p->progress.units_done++;
        pthread_mutex_unlock(&w->p->mu);
    }
    return SRT_OK;
}

static int shard_complete(writer *w, int64_t k) {
    ds_pipe *p = w->p;
    int64_t end = (k + 1) * p->shard_size < p->n_units ? (k + 1) * p->shard_size : p->n_units;
    for (int64_t u = k * p->shard_size; u < end; u++) {
        const unit_slot *s = &w->ring[u % w->ring_n];
        if (s->unit != u || s->expected < 0 || s->received < s->expected) return 0;
    }
    return 1;
}

static srt_status add_json(cJSON *parent, cJSON *child) {
    if (!child) return srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory");
    cJSON_AddItemToArray(parent, child);
    return SRT_OK;
}

/* CSV takes its columns from the shard's first item: give that item every passthrough column any item of the
 * shard has (in order of first appearance; "" where it has none), so items with other columns still fit. */
static srt_status csv_unify_columns(writer *w, int64_t first, int64_t end) {
    srt_ds_item *head = NULL;
    cJSON *cols = cJSON_CreateObject();                 /* column -> value for the first item */
    if (!cols) return srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory");
    int added = 0;
    for (int64_t u = first; u < end; u++) {
        unit_slot *s = &w->ring[u % w->ring_n];
        for (int i = 0; !s->error && i < s->expected; i++) {
            srt_ds_item *it = &s->items[i];
            cJSON *x = it->extra_json ? cJSON_Parse(it->extra_json) : NULL;
            for (cJSON *c = x ? x->child : NULL; c; c = c->next) {
                if (cJSON_GetObjectItemCaseSensitive(cols, c->string)) continue;
                cJSON_AddItemToObject(cols, c->string, head ? cJSON_CreateString("") : cJSON_Duplicate(c, 1));
                added += head != NULL;
            }
            cJSON_Delete(x);
            if (!head) head = it;
        }
    }
    srt_status st = SRT_OK;
    if (head && added) {
        char *text = cJSON_PrintUnformatted(cols);
        if (!text) st = srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory");
        else { free(head->extra_json); head->extra_json = text; }
    }
    cJSON_Delete(cols);
    return st;
}

/* Write shard k (all units complete), then its done-log line. */
static srt_status write_shard(writer *w, int64_t k) {
    ds_pipe *p = w->p;
    const srt_ds_run_options *o = p->o;
    char name[128], files[2][512], hex[17];
    srt_ds_shard_name(o->shard_index, o->num_shards, k, name, sizeof name);
    int nf = srt_ds_shard_files(o->format, name, files);
    int64_t first = k * p->shard_size, end = first + p->shard_size < p->n_units ? first + p->shard_size : p->n_units;
    cJSON *items = cJSON_CreateArray(), *errors = cJSON_CreateArray();
    srt_ds_shard_writer *sw = NULL;
    srt_ds_seq_writer *qw = NULL;
    char seq_files[4][512];
    int n_seq_files = p->seq ? srt_ds_seq_files(p->seq, name, seq_files) : 0;
    srt_status st = items && errors ? SRT_OK : srt_error(SRT_ERR_NOMEM, "tokenize writer: out of memory");
    if (st == SRT_OK && o->format == SRT_DS_CSV) st = csv_unify_columns(w, first, end);
    if (st == SRT_OK) st = srt_ds_shard_begin(o->out_dir, name, o->format, &p->info, &sw);
    if (st == SRT_OK && p->seq) st = srt_ds_seq_begin(p->seq, o->out_dir, name, &qw);
    int64_t n_items = 0, n_errors = 0, samples = 0;
    for (int64_t u = first; u < end && st == SRT_OK; u++) {
        unit_slot *s = &w->ring[u % w->ring_n];
        if (s->error) {
            cJSON *e = cJSON_CreateObject();
            st = add_json(errors, e);
            if (st == SRT_OK) {
                cJSON_AddStringToObject(e, "key", p->units[u].key);
                cJSON_AddStringToObject(e, "source", p->units[u].source);
                cJSON_AddStringToObject(e, "error", s->error);
            }
            n_errors++;
            continue;
        }
        for (int i = 0; i < s->expected && st == SRT_OK; i++) {
            const srt_ds_item *it = &s->items[i];
            st = srt_ds_shard_add(sw, it);
            if (st == SRT_OK && qw) st = srt_ds_seq_add(qw, it);
            if (st != SRT_OK) break;
            ds_hex64(ds_codes_hash(&it->codes), hex);
            cJSON *row = cJSON_CreateArray();
            st = add_json(items, row);
            if (st == SRT_OK) {
                cJSON_AddItemToArray(row, cJSON_CreateString(it->key));
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)it->offset_samples));
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)it->n_samples));
                cJSON_AddItemToArray(row, cJSON_CreateString(hex));
            }
            n_items++;
            samples += it->n_samples;
        }
    }
    ds_shard_done d = {.name = name, .k = k, .n_units = end - first, .n_items = n_items, .n_errors = n_errors,
                       .audio_samples = samples, .files = files, .n_files = nf, .seq_files = seq_files,
                       .n_seq_files = n_seq_files};
    st = ds_shard_finish(p->log, st, sw, qw, &d, items, errors);
    return st;
}

static void free_slots(writer *w, int64_t k) {
    ds_pipe *p = w->p;
    int64_t end = (k + 1) * p->shard_size < p->n_units ? (k + 1) * p->shard_size : p->n_units;
    for (int64_t u = k * p->shard_size; u < end; u++) slot_clear(&w->ring[u % w->ring_n]);
}

/* Commit every complete shard at the head; move the gate. */
static srt_status advance(writer *w) {
    ds_pipe *p = w->p;
    int moved = 0;
    while (w->first_open < p->n_shards) {
        int64_t k = w->first_open;
        if (!p->log->done[k]) {
            if (!shard_complete(w, k)) break;
            double t0 = ds_now();
            SRT_TRY(write_shard(w, k));
            free_slots(w, k);
            pthread_mutex_lock(&p->mu);
            p->write_busy += ds_now() - t0;
            p->progress.shards_committed++;
            pthread_mutex_unlock(&p->mu);
        }
        w->first_open++;
        moved = 1;
    }
    if (moved) {
        pthread_mutex_lock(&p->mu);
        int64_t gate = (w->first_open + p->window_shards) * p->shard_size;
        p->gate_unit = gate < p->n_units ? gate : p->n_units;
        pthread_cond_broadcast(&p->cv_gate);
        pthread_mutex_unlock(&p->mu);
    }
    return SRT_OK;
}

void *ds_writer_main(void *arg) {
    ds_pipe *p = arg;
    writer w = {.p = p, .ring_n = p->window_shards * p->shard_size};
    srt_status st = SRT_OK;
    w.ring = srt_calloc((size_t)w.ring_n, sizeof *w.ring, "the writer's unit slots");
    if (!w.ring) st = SRT_ERR_NOMEM;
    for (int64_t i = 0; i < w.ring_n && st == SRT_OK; i++) { w.ring[i].unit = -1; w.ring[i].expected = -1; }
    if (st == SRT_OK) st = advance(&w);                  /* shards committed by an earlier run */
    while (st == SRT_OK && w.first_open < p->n_shards) {
        pthread_mutex_lock(&p->mu);
        while (!p->msg_head && !p->cancelled && (p->readers_active > 0 || p->encoders_active > 0))
            pthread_cond_wait(&p->cv_msg, &p->mu);
        ds_msg *list = p->msg_head;
        p->msg_head = p->msg_tail = NULL;
        int cancelled = p->cancelled, producers_done = p->readers_active == 0 && p->encoders_active == 0;
        pthread_mutex_unlock(&p->mu);
        if (cancelled) {
            while (list) { ds_msg *m = list; list = m->next; srt_codes_free(&m->codes); free(m->error); free(m); }
            break;
        }
        while (list) {
            ds_msg *m = list;
            list = m->next;
            if (st == SRT_OK) st = handle(&w, m);
            srt_codes_free(&m->codes);
            free(m->error);
            free(m);
        }
        if (st == SRT_OK) st = advance(&w);
        if (st == SRT_OK && producers_done && w.first_open < p->n_shards) {
            pthread_mutex_lock(&p->mu);
            int more = p->msg_head != NULL;
            pthread_mutex_unlock(&p->mu);
            if (!more)
                st = srt_error(SRT_ERR_RANGE, "tokenize: the pipeline ended with shard %lld incomplete",
                               (long long)w.first_open);
        }
    }
    if (st != SRT_OK) ds_pipe_fail(p, st);
    for (int64_t i = 0; w.ring && i < w.ring_n; i++) slot_clear(&w.ring[i]);
    free(w.ring);
    pthread_mutex_lock(&p->mu);
    p->progress.finished = 1;
    pthread_cond_broadcast(&p->cv_gate);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
