/* ds_seq.h: training sequences of tokenized items (`snacrt tokenize --sequences`, docs/sequences.md): each item
 * becomes the ids of its layout's template (text through the LM's tokenizer.json, audio through the layout) with
 * a per-token loss mask, optionally packed into fixed-length sequences; written beside its shard, before the
 * shard's commit. The template is the one the TTS engine and conversations serve (srt_layout_build_prompt /
 * srt_layout_build_chat): there is no second implementation. */
#ifndef SRT_DS_SEQ_H
#define SRT_DS_SEQ_H

#include "dataset/ds_format.h"
#include "tts/layout.h"

typedef struct srt_ds_seq_ctx srt_ds_seq_ctx;

/* Load the layout and the tokenizer's LM folder named by o (o->seq_layout must be set). */
srt_status srt_ds_seq_open(const srt_ds_run_options *o, const srt_codec_info *info, srt_ds_seq_ctx **out);
void srt_ds_seq_close(srt_ds_seq_ctx *c);

/* Can a unit (its key and passthrough columns) become a sequence? *error (malloc'd) says why not (no text
 * column; with --voice-column no voice or one the layout does not know): the unit then goes to errors.jsonl
 * before it is decoded. Fails only when out of memory. */
srt_status srt_ds_seq_check_unit(const srt_ds_seq_ctx *c, const char *key, const char *extra_json, char **error);

/* One item alone: ids (n) and mask (n: 1 = a target), malloc'd; *cut_ok (n + 1, malloc'd): 1 where a sequence
 * may be cut before index i (never inside a frame group of audio). An item without the text column:
 * SRT_ERR_FORMAT naming it. */
srt_status srt_ds_seq_item(const srt_ds_seq_ctx *c, const srt_ds_item *item, int32_t **ids, uint8_t **mask,
                           uint8_t **cut_ok, size_t *n);

/* Where a sequence of these ids may be cut (n + 1, malloc'd; NULL when out of memory): see srt_ds_seq_item. */
uint8_t *srt_ds_seq_cuts(const srt_ds_seq_ctx *c, const int32_t *ids, size_t n);

/* The sequences of one shard, collected item by item, then written next to the shard as <name>.seq.ids /
 * .seq.mask / .seq.idx / .seq.docs.jsonl (bin) or <name>.seq.jsonl (jsonl), via temp files renamed into place. */
typedef struct srt_ds_seq_writer srt_ds_seq_writer;
srt_status srt_ds_seq_begin(const srt_ds_seq_ctx *c, const char *dir, const char *name, srt_ds_seq_writer **out);
srt_status srt_ds_seq_add(srt_ds_seq_writer *w, const srt_ds_item *item);
/* One document given as its ids, mask and cut points (n, n, n + 1), packed and split as srt_ds_seq_add does. */
srt_status srt_ds_seq_add_ids(srt_ds_seq_writer *w, const char *key, const int32_t *ids, const uint8_t *mask,
                              const uint8_t *cut, size_t n);
/* Flush the last packed sequence, write + fsync the temps and rename them into place (call before the shard's
 * own commit: the shard's data file stays the commit point). Frees w, also on failure. */
srt_status srt_ds_seq_commit(srt_ds_seq_writer *w);
void srt_ds_seq_abort(srt_ds_seq_writer *w);
/* The final file names (relative to dir) for a shard name: returns how many (up to 4). */
int srt_ds_seq_files(const srt_ds_seq_ctx *c, const char *name, char files[4][512]);

#endif
