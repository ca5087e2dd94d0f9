/* ds_detokenize.c: srt_detokenize (include/snacrt_dataset.h): shards of a tokenize run (jsonl, csv, bin) -> one
 * audio file per item, decoded in batches of items with the streaming SNAC decoder (written as they decode,
 * memory flat in the items' lengths) and cut to each item's n_samples. */
#include "snacrt.h"
#include "common.h"
#include "dataset/ds_format.h"
#include "dataset/ds_pipeline_internal.h"   /* ds_is_audio_name: the extensions tokenize picks up; ds_make_dirs */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_BUDGET_SECONDS 240   /* padded audio per decoder call: batch * longest item */

typedef struct str_list { char **v; size_t n, cap; } str_list;

static int list_push(str_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **q = realloc(l->v, cap * sizeof *q);
        if (!q) return -1;
        l->v = q;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void list_free(str_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The shards of a folder, sorted: .jsonl/.csv/.bin files, not temps nor the run's own logs, indexes and sequences. */
static srt_status list_dir_shards(const char *dir, str_list *out, size_t *n_found) {
    DIR *d = opendir(dir);
    if (!d) return srt_error(SRT_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    str_list names = {0};
    struct dirent *e;
    srt_status st = SRT_OK;
    while ((e = readdir(d)) && st == SRT_OK) {
        const char *n = e->d_name;
        if (n[0] == '.' || ends_with(n, ".done.jsonl") || !strcmp(n, "index.items.jsonl") || !strcmp(n, "errors.jsonl"))
            continue;
        if (strstr(n, ".seq.")) continue;   /* training sequences (--sequences) beside the shard */
        if (ends_with(n, ".jsonl") || ends_with(n, ".csv") || ends_with(n, ".bin"))
            if (list_push(&names, n)) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n && st == SRT_OK; i++) {
        char *p = srt_path_join(dir, names.v[i]);
        if (!p || list_push(out, p)) st = srt_error(SRT_ERR_NOMEM, "out of memory");
        free(p);
    }
    *n_found = names.n;
    list_free(&names);
    return st;
}

/* The output names taken so far: an open-addressing hash set of strings. */
typedef struct name_set { char **slot; size_t cap, n; } name_set;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int set_has(const name_set *set, const char *s) {
    if (!set->cap) return 0;
    for (size_t i = hash_str(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slot[i]) return 0;
        if (!strcmp(set->slot[i], s)) return 1;
    }
}

static int set_add(name_set *set, const char *s) {
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (size_t k = 0; k < set->cap; k++) {
            if (!set->slot[k]) continue;
            size_t i = hash_str(set->slot[k]) & (cap - 1);
            while (slot[i]) i = (i + 1) & (cap - 1);
            slot[i] = set->slot[k];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    size_t i = hash_str(s) & (set->cap - 1);
    while (set->slot[i]) i = (i + 1) & (set->cap - 1);
    if (!(set->slot[i] = strdup(s))) return -1;
    set->n++;
    return 0;
}

static void set_free(name_set *set) {
    for (size_t i = 0; i < set->cap; i++) free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}

/* A file name from a key: ASCII letters, digits, '.', '-', '_' and UTF-8 bytes kept, everything else '_', no
 * leading '.', at most 180 bytes (cut at a character boundary), a known audio extension of the key dropped (the
 * output format's is added), unique among `used` ("-2", "-3", ... appended). */
static srt_status safe_name(const char *key, const char *ext, name_set *used, char *out, size_t cap) {
    const unsigned char *k = (const unsigned char *)key;
    char base[200];
    size_t n = 0;
    for (; k[n] && n < 180; n++) {
        unsigned char c = k[n];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || (c == '.' && n > 0) || c >= 0x80;
        base[n] = keep ? (char)c : '_';
    }
    if (k[n] && (k[n] & 0xC0) == 0x80) {      /* cut inside a UTF-8 character: drop its first bytes too */
        while (n > 0 && (k[n - 1] & 0xC0) == 0x80) n--;
        if (n > 0) n--;
    }
    if (!n) base[n++] = '_';
    base[n] = 0;
    char *dot = strrchr(base, '.');
    if (dot && dot > base && ds_is_audio_name(base)) *dot = 0;   /* key "a.wav" -> "a.wav", not "a.wav.wav" */
    for (int i = 1;; i++) {
        if (i == 1) snprintf(out, cap, "%s.%s", base, ext);
        else snprintf(out, cap, "%s-%d.%s", base, i, ext);
        if (!set_has(used, out)) break;
    }
    return set_add(used, out) ? srt_error(SRT_ERR_NOMEM, "out of memory") : SRT_OK;
}

typedef struct pending {
    srt_ds_item item;
    char *shard;              /* where it came from (errors) */
} pending;

typedef struct detok {
    srt_codec *codec;
    srt_codec_info info;
    const char *out_dir, *ext;
    srt_audio_write_format wfmt;
    int64_t noise_seed;
    int max_batch;
    pending *batch;           /* (max_batch) */
    int n_batch;
    name_set used_names;
    int64_t n_written, samples_written;
} detok;

/* Decode the pending items together, streamed (srt_codec_decode_streamed): each item's audio goes to its file a
 * piece at a time, so memory does not grow with the items' lengths. */
#define DETOK_CHUNK_GROUPS 64

typedef struct batch_out {
    srt_audio_writer *w[64];
    int64_t samples[64];
} batch_out;

static srt_status write_piece(void *user, int item, const float *samples, int64_t n) {
    batch_out *o = user;
    o->samples[item] += n;
    return srt_audio_write_append(o->w[item], samples, n);
}

static srt_status flush_batch(detok *d) {
    if (!d->n_batch) return SRT_OK;
    srt_codes codes[64];
    char *paths[64] = {0};
    batch_out o;
    memset(&o, 0, sizeof o);
    srt_status st = SRT_OK;
    for (int b = 0; b < d->n_batch; b++) {
        codes[b] = d->batch[b].item.codes;
        codes[b].n_samples = d->batch[b].item.n_samples;
    }
    for (int b = 0; b < d->n_batch && st == SRT_OK; b++) {
        const srt_ds_item *it = &d->batch[b].item;
        char name[256];
        st = safe_name(it->key, d->ext, &d->used_names, name, sizeof name);
        if (st == SRT_OK && !(paths[b] = srt_path_join(d->out_dir, name))) st = srt_error(SRT_ERR_NOMEM, "out of memory");
        if (st == SRT_OK) st = srt_audio_write_open(paths[b], d->info.sample_rate, d->wfmt, &o.w[b]);
        if (st != SRT_OK) srt_error_prefix(st, "%s: item '%s': ", d->batch[b].shard, it->key);
    }
    if (st == SRT_OK) {
        st = srt_codec_decode_streamed(d->codec, d->n_batch, codes, d->noise_seed, DETOK_CHUNK_GROUPS, write_piece, &o);
        if (st != SRT_OK)   /* name the items of the failed call */
            srt_error_prefix(st, "%s: item '%s'%s: ", d->batch[0].shard, d->batch[0].item.key,
                             d->n_batch > 1 ? " (and the rest of its batch)" : "");
    }
    for (int b = 0; b < d->n_batch; b++) {
        if (o.w[b]) {
            srt_status cst = srt_audio_write_close(o.w[b]);
            if (cst != SRT_OK && st == SRT_OK) {
                st = cst;
                srt_error_prefix(st, "%s: item '%s': ", d->batch[b].shard, d->batch[b].item.key);
            }
            if (st != SRT_OK) unlink(paths[b]);   /* no half-written files */
            else { d->n_written++; d->samples_written += o.samples[b]; }
        }
        free(paths[b]);
        srt_ds_item_clear(&d->batch[b].item);
        free(d->batch[b].shard);
    }
    d->n_batch = 0;
    return st;
}

/* Padded samples of the batch if `item` joins it. */
static int64_t batch_cost(const detok *d, const srt_ds_item *item) {
    int64_t longest = item->codes.n_frames[0];
    for (int b = 0; b < d->n_batch; b++)
        if (d->batch[b].item.codes.n_frames[0] > longest) longest = d->batch[b].item.codes.n_frames[0];
    return (int64_t)(d->n_batch + 1) * longest * d->info.vq_strides[0] * d->info.hop_length;
}

static int key_wanted(const srt_detokenize_options *o, const char *key, char *found) {
    for (int i = 0; i < o->n_keys; i++)
        if (!strcmp(o->keys[i], key)) { found[i] = 1; return 1; }
    return 0;
}

static srt_status check_options(const srt_detokenize_options *o) {
    if (!o || !o->model_dir || !o->out_dir || o->n_inputs < 1 || !o->inputs)
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: need a model folder, an output folder and at least one "
                         "shard or folder");
    if (o->n_keys < 0 || (o->n_keys && !o->keys))
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: %d keys without a key array", o->n_keys);
    if (o->n_keys && o->limit >= 0) return srt_error(SRT_ERR_INVALID_ARG, "detokenize: keys and a limit exclude each other");
    const char *f = o->format ? o->format : "wav";
    if (strcmp(f, "wav") && strcmp(f, "flac"))
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: format '%s' (expected wav or flac)", f);
    if (o->sample_format != SRT_AUDIO_S16 && o->sample_format != SRT_AUDIO_F32)
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: sample format %d (expected s16 or f32)", (int)o->sample_format);
    if (o->sample_format == SRT_AUDIO_F32 && strcmp(f, "wav"))
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: 32-bit float samples need the wav format");
    if (o->max_batch < 0 || o->max_batch > 64)
        return srt_error(SRT_ERR_INVALID_ARG, "detokenize: batch %d (expected 1..64, 0 = 8)", o->max_batch);
    return SRT_OK;
}

srt_status srt_detokenize(const srt_detokenize_options *o, srt_detokenize_result *result) {
    if (result) memset(result, 0, sizeof *result);
    SRT_TRY(check_options(o));
    str_list shards = {0};
    char *found = NULL;
    srt_status st = SRT_OK;
    if (o->n_keys && !(found = calloc((size_t)o->n_keys, 1))) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    /* the shard list: files as given, folders expanded */
    for (int i = 0; i < o->n_inputs && st == SRT_OK; i++) {
        struct stat sb;
        size_t n_found = 0;
        if (!o->inputs[i]) st = srt_error(SRT_ERR_INVALID_ARG, "detokenize: input %d is NULL", i);
        else if (stat(o->inputs[i], &sb) != 0)
            st = srt_error(SRT_ERR_IO, "%s: cannot open: %s", o->inputs[i], strerror(errno));
        else if (S_ISDIR(sb.st_mode)) {
            st = list_dir_shards(o->inputs[i], &shards, &n_found);
            if (st == SRT_OK && !n_found && result) {
                if (!result->empty_folder) result->empty_folder = o->inputs[i];
                result->n_empty_folders++;
            }
        } else if (list_push(&shards, o->inputs[i])) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    }
    if (st == SRT_OK) st = ds_make_dirs(o->out_dir);

    int max_batch = o->max_batch ? o->max_batch : 8;
    detok d = {.out_dir = o->out_dir, .ext = o->format ? o->format : "wav", .noise_seed = o->noise_seed,
               .max_batch = max_batch, .wfmt = (srt_audio_write_format)o->sample_format};
    d.batch = calloc((size_t)max_batch, sizeof *d.batch);
    if (st == SRT_OK && !d.batch) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    if (st == SRT_OK) {
        srt_codec_options copts = {.backend = o->device ? o->device : "cpu", .n_threads = o->n_threads};
        st = srt_codec_load(o->model_dir, &copts, &d.codec);
        if (st == SRT_OK) st = srt_codec_get_info(d.codec, &d.info);
    }
    int64_t n_seen = 0;
    int done = o->limit == 0;
    for (size_t s = 0; s < shards.n && st == SRT_OK && !done; s++) {
        srt_ds_reader *r = NULL;
        st = srt_ds_reader_open(shards.v[s], &r);
        if (st == SRT_OK) st = srt_ds_reader_set_codec(r, &d.info);
        while (st == SRT_OK && !done) {
            srt_ds_item item = {0};
            int eof = 0;
            st = srt_ds_reader_next(r, &item, &eof);
            if (st != SRT_OK || eof) break;
            if (o->n_keys && !key_wanted(o, item.key, found)) { srt_ds_item_clear(&item); continue; }
            if (d.n_batch && (d.n_batch == d.max_batch ||
                              batch_cost(&d, &item) > (int64_t)BATCH_BUDGET_SECONDS * d.info.sample_rate))
                st = flush_batch(&d);
            if (st != SRT_OK) { srt_ds_item_clear(&item); break; }
            d.batch[d.n_batch].shard = strdup(shards.v[s]);
            d.batch[d.n_batch++].item = item;
            n_seen++;
            if (o->limit >= 0 && n_seen >= o->limit) done = 1;
        }
        srt_ds_reader_close(r);
    }
    if (st == SRT_OK) st = flush_batch(&d);
    for (int i = 0; st == SRT_OK && i < o->n_keys; i++)
        if (!found[i]) st = srt_error(SRT_ERR_NOT_FOUND, "key '%s' is in none of the shards", o->keys[i]);
    if (result) {
        result->items = d.n_written;
        result->samples = d.samples_written;
        result->sample_rate = d.info.sample_rate;
        result->shards = (int64_t)shards.n;
    }
    for (int b = 0; b < d.n_batch; b++) { srt_ds_item_clear(&d.batch[b].item); free(d.batch[b].shard); }
    free(d.batch);
    set_free(&d.used_names);
    srt_codec_free(d.codec);
    list_free(&shards);
    free(found);
    return st;
}
