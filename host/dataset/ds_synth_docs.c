/* ds_synth_docs.c: the documents of `snacrt tokenize --sequences --task interleave|dialog` (docs/sequences.md):
 * text corpora (.txt: one document per non-empty line; .jsonl: the text column) cut into sentences of which a
 * seeded choice is spoken, or chat JSONL ({"messages": [{"role", "content"}]}) whose turns are spoken per role;
 * each spoken segment gets its voice (rotated from a list) and its own sampling seed. Deterministic: a document's
 * segments depend only on its key, its text and the options. */
#include "dataset/ds_synth.h"
#include "dataset/ds_internal.h"
#include "common.h"
#include <ctype.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ds_synth_docs_free(ds_synth_doc *d, int64_t n) {
    for (int64_t i = 0; d && i < n; i++) {
        free(d[i].key); free(d[i].source); free(d[i].error);
        for (int s = 0; s < d[i].n_segs; s++) {
            free(d[i].segs[s].text);
            free(d[i].segs[s].pcm);
            free(d[i].segs[s].error);
            srt_codes_free(&d[i].segs[s].codes);
        }
        free(d[i].segs);
    }
    free(d);
}

static srt_status add_seg(ds_synth_doc *d, const char *text, size_t n, int role) {
    ds_synth_seg *g = realloc(d->segs, sizeof *g * (size_t)(d->n_segs + 1));
    if (!g) return srt_error(SRT_ERR_NOMEM, "out of memory reading documents");
    d->segs = g;
    g = &d->segs[d->n_segs];
    memset(g, 0, sizeof *g);
    g->role = role;
    if (!(g->text = malloc(n + 1))) return srt_error(SRT_ERR_NOMEM, "out of memory reading documents");
    memcpy(g->text, text, n);
    g->text[n] = 0;
    d->n_segs++;
    return SRT_OK;
}

/* Sentences: a run of text ending at '.', '!' or '?' (with any closing punctuation) followed by white space or the
 * end; white space around a sentence is dropped. */
static srt_status split_sentences(ds_synth_doc *d, const char *t) {
    while (*t) {
        while (*t && isspace((unsigned char)*t)) t++;
        if (!*t) break;
        const char *s = t;
        while (*t) {
            if (strchr(".!?", *t)) {
                while (*t && strchr(".!?\"')]", *t)) t++;
                if (!*t || isspace((unsigned char)*t)) break;
            } else t++;
        }
        size_t n = (size_t)(t - s);
        while (n && isspace((unsigned char)s[n - 1])) n--;
        SRT_TRY(add_seg(d, s, n, -1));
    }
    return SRT_OK;
}

static const char *role_name(int r) { return r == SRT_ROLE_SYSTEM ? "system" : r == SRT_ROLE_USER ? "user" : "assistant"; }

/* One document of a line: its segments, or d->error when the line is not usable. */
static srt_status parse_doc(const srt_ds_run_options *o, ds_synth_doc *d, const char *line, int is_jsonl) {
    if (!is_jsonl) return split_sentences(d, line);
    cJSON *j = cJSON_Parse(line);
    srt_status st = SRT_OK;
    const char *col = o->seq_text_column ? o->seq_text_column : "text";
    char why[256] = "";
    if (!cJSON_IsObject(j)) snprintf(why, sizeof why, "not a JSON object");
    else if (o->seq_task == SRT_DS_TASK_INTERLEAVE) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, col);
        if (!cJSON_IsString(v)) snprintf(why, sizeof why, "no text column \"%s\" (a string)", col);
        else st = split_sentences(d, v->valuestring);
    } else {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "messages"), *t;
        if (!cJSON_IsArray(m) || !cJSON_GetArraySize(m)) snprintf(why, sizeof why, "no \"messages\" array");
        int k = 0;
        cJSON_ArrayForEach(t, m) {
            if (why[0] || st != SRT_OK) break;
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(t, "role");
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "content");
            int role = -1;
            for (int q = 0; q < SRT_ROLE_COUNT && cJSON_IsString(r); q++)
                if (!strcmp(r->valuestring, role_name(q))) role = q;
            if (role < 0) snprintf(why, sizeof why, "message %d: \"role\" must be system, user or assistant", k);
            else if (!cJSON_IsString(c) || !c->valuestring[0])
                snprintf(why, sizeof why, "message %d: \"content\" must be a non-empty string", k);
            else st = add_seg(d, c->valuestring, strlen(c->valuestring), role);
            k++;
        }
    }
    cJSON_Delete(j);
    if (why[0] && !(d->error = srt_strdup(why))) st = SRT_ERR_NOMEM;
    return st;
}

/* Which segments are spoken, with which voice and seed. */
static void choose(const srt_ds_run_options *o, ds_synth_doc *d, char **voices, int n_voices) {
    uint64_t h = ds_fnv1a(DS_FNV_OFFSET, d->key, strlen(d->key));
    uint64_t s = o->synth_seed ^ h;
    int spoken = 0;
    for (int i = 0; i < d->n_segs; i++) {
        ds_synth_seg *g = &d->segs[i];
        double u = (double)(splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
        g->seed = splitmix64(&s) & 0x7fffffffffffffffull;   /* `snacrt tts --seed` takes 0..2^63-1 */
        if (o->seq_task == SRT_DS_TASK_INTERLEAVE) {
            g->speak = u < o->synth_audio_rate;
            if (g->speak && n_voices) g->voice = voices[(h + (uint64_t)spoken) % (uint64_t)n_voices];
        } else {
            g->speak = (g->role == SRT_ROLE_USER && !o->synth_user_text) ||
                       (g->role == SRT_ROLE_ASSISTANT && !o->synth_assistant_text);
            if (g->speak && n_voices) g->voice = voices[g->role == SRT_ROLE_USER ? 0 : 1 % n_voices];
        }
        spoken += g->speak;
    }
}

srt_status ds_synth_docs_read(const srt_ds_run_options *o, char **voices, int n_voices, ds_synth_doc **out,
                              int64_t *n_out, int64_t *n_all, uint64_t *fingerprint) {
    *out = NULL;
    *n_out = *n_all = 0;
    *fingerprint = DS_FNV_OFFSET;
    ds_synth_doc *docs = NULL;
    int64_t n = 0, cap = 0, j = 0;
    srt_status st = SRT_OK;
    for (int f = 0; f < o->n_inputs && st == SRT_OK; f++) {
        const char *path = o->inputs[f];
        size_t pl = strlen(path);
        int is_jsonl = pl > 6 && !strcmp(path + pl - 6, ".jsonl");
        if (o->seq_task == SRT_DS_TASK_DIALOG && !is_jsonl) {
            st = srt_error(SRT_ERR_INVALID_ARG, "%s: --task dialog reads chat .jsonl files (lines {\"messages\": "
                           "[...]})", path);
            break;
        }
        char *data = NULL;
        size_t size = 0;
        st = srt_read_file(path, &data, &size);
        if (st != SRT_OK) break;
        *fingerprint = ds_fnv1a(ds_fnv1a(*fingerprint, path, pl + 1), data, size);
        int line_no = 0;
        for (char *p = data, *e; st == SRT_OK && p && *p; p = e ? e + 1 : NULL) {
            e = strchr(p, '\n');
            if (e) *e = 0;
            line_no++;
            const char *q = p;
            while (*q && isspace((unsigned char)*q)) q++;
            if (!*q) continue;                         /* blank lines are no documents */
            if (j++ % o->num_shards != o->shard_index) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                ds_synth_doc *g = realloc(docs, sizeof *g * (size_t)cap);
                if (!g) { st = srt_error(SRT_ERR_NOMEM, "out of memory reading documents"); break; }
                docs = g;
            }
            ds_synth_doc *d = &docs[n++];
            memset(d, 0, sizeof *d);
            size_t kl = pl + 24;
            d->key = malloc(kl);
            d->source = srt_strdup(path);
            if (!d->key || !d->source) { st = srt_error(SRT_ERR_NOMEM, "out of memory reading documents"); break; }
            snprintf(d->key, kl, "%s:%d", path, line_no);
            st = parse_doc(o, d, p, is_jsonl);
            if (st == SRT_OK && !d->error && !d->n_segs && !(d->error = srt_strdup("no text"))) st = SRT_ERR_NOMEM;
            if (st == SRT_OK && !d->error) choose(o, d, voices, n_voices);
        }
        free(data);
    }
    if (st != SRT_OK) { ds_synth_docs_free(docs, n); return st; }
    *out = docs;
    *n_out = n;
    *n_all = j;
    return SRT_OK;
}

const char *ds_synth_role_name(int role) { return role < 0 ? NULL : role_name(role); }
