/* ds_synth.h: synthesized training sequences (`snacrt tokenize --sequences --task interleave|dialog`,
 * docs/sequences.md): documents read from text or chat JSONL (ds_synth_docs.c), spoken segments synthesized by the
 * TTS engine in batches and encoded by the codec, then each document's sequence built through the layout and
 * written per shard with the same commit, --resume, errors and index guarantees as audio tokenization
 * (ds_synth.c). */
#ifndef SRT_DS_SYNTH_H
#define SRT_DS_SYNTH_H

#include "dataset/ds_pipeline_internal.h"
#include "tts/layout.h"

typedef struct ds_synth_seg {
    char *text;
    int role;                 /* dialog: srt_chat_role; interleave: -1 */
    int speak;                /* synthesized (else kept as text) */
    const char *voice;        /* one of the --voices (owned by the run), or NULL: the TTS layout's default */
    uint64_t seed;            /* the span's sampling seed */
    /* synthesis (ds_synth.c) */
    float *pcm; int64_t n_pcm, cap_pcm;
    int done; srt_status status; char *error;
    srt_codes codes;
} ds_synth_seg;

typedef struct ds_synth_doc {
    char *key;                /* "<input path>:<line>" */
    char *source;             /* the input path */
    char *error;              /* the document is not usable (errors.jsonl), or NULL */
    ds_synth_seg *segs;
    int n_segs;
} ds_synth_doc;

/* This worker's documents (lines j with j mod num_shards = shard_index over all inputs in order); *n_all: every
 * worker's; *fingerprint: the inputs' identity (paths and bytes). A bad line becomes a document with error set. */
srt_status ds_synth_docs_read(const srt_ds_run_options *o, char **voices, int n_voices, ds_synth_doc **out,
                              int64_t *n_out, int64_t *n_all, uint64_t *fingerprint);
void ds_synth_docs_free(ds_synth_doc *d, int64_t n);
const char *ds_synth_role_name(int role);   /* NULL for -1 */

/* The whole run (called by srt_ds_run for these tasks). */
srt_status ds_synth_run(const srt_ds_run_options *o, srt_ds_summary *summary);

#endif
