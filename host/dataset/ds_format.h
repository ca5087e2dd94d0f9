/* ds_format.h: the file formats of dataset tokenization (host/dataset/ds_*.c), shared by `snacrt tokenize`,
 * `snacrt detokenize` and `snacrt merge-index`:
 *  - shard files: items (key, source, segment, SNAC codes, passthrough columns) in JSONL, LAION-style CSV or a
 *    compact binary layout (uint16 codes per level + an index), written atomically, read back by one reader;
 *  - inputs: WebDataset .tar members, CSV/JSONL manifests;
 *  - segmentation of long recordings at silence (--max-seconds). */
#ifndef SRT_DS_FORMAT_H
#define SRT_DS_FORMAT_H

#include "snacrt_dataset.h"
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- items and shards */

/* srt_ds_format, srt_ds_format_parse and srt_ds_format_name: include/snacrt_dataset.h */

/* One tokenized item (a file, a tar sample, or one segment of a long file). */
typedef struct srt_ds_item {
    char *key;                /* unique in a run: input-relative path or tar key, + "#<segment>" when split */
    char *source;             /* where the audio came from: a path, or "shard.tar:member" */
    int64_t offset_samples;   /* segment start in the source, at the model rate (0 when not split) */
    int64_t n_samples;        /* segment length at the model rate */
    int sample_rate;          /* the model rate */
    srt_codes codes;          /* codes.n_samples == n_samples */
    char *extra_json;         /* passthrough columns as a JSON object text ("{...}"), or NULL for none */
} srt_ds_item;

/* Free the item's strings and codes and zero it. */
void srt_ds_item_clear(srt_ds_item *item);

/* A shard being written: nothing is visible under its final names until commit.
 * Files: <dir>/<name>.jsonl | <dir>/<name>.csv | <dir>/<name>.bin + <dir>/<name>.idx, written as temp files
 * (<final>.tmp) first. JSONL line: {"key","source","offset","n_samples","sample_rate","codes":[[..],[..],..],
 * ...passthrough keys}. CSV: header key,source,offset,n_samples,<passthrough keys of the first item, in order>,
 * snac<rate/1000>khz (the LAION 7-per-frame depth-first string; for 4-level models the 15-per-group order);
 * RFC 4180 quoting. BIN: documented in docs/binary-format.md. */
typedef struct srt_ds_shard_writer srt_ds_shard_writer;

srt_status srt_ds_shard_begin(const char *dir, const char *name, srt_ds_format fmt, const srt_codec_info *info,
                              srt_ds_shard_writer **out);
srt_status srt_ds_shard_add(srt_ds_shard_writer *w, const srt_ds_item *item);
/* fsync the temp files, rename them into place (the data file last), fsync the directory, free w.
 * On failure the temps are removed and w is freed too. n_items/bytes (optional) describe what was written. */
srt_status srt_ds_shard_commit(srt_ds_shard_writer *w, int64_t *n_items, int64_t *bytes);
/* Remove the temp files and free w (a shard abandoned halfway). */
void srt_ds_shard_abort(srt_ds_shard_writer *w);
/* The final file names a shard of this format has (1 or 2, relative to its dir): "<name>.jsonl" etc. */
int srt_ds_shard_files(srt_ds_format fmt, const char *name, char files[2][512]);

/* Read any shard back, format from the extension (.jsonl, .csv, .bin or .idx: the pair is used). Truncated or
 * malformed content: SRT_ERR_FORMAT naming the file and line/item. */
typedef struct srt_ds_reader srt_ds_reader;
srt_status srt_ds_reader_open(const char *path, srt_ds_reader **out);
/* Next item (owned by the caller: srt_ds_item_clear); *eof = 1 and item untouched at the end. */
srt_status srt_ds_reader_next(srt_ds_reader *r, srt_ds_item *item, int *eof);
void srt_ds_reader_close(srt_ds_reader *r);

/* ---------------------------------------------------------------- inputs */

/* WebDataset / plain tar (ustar, GNU long names, pax headers). Members are returned in archive order. */
typedef struct srt_tar_reader srt_tar_reader;
srt_status srt_tar_open(const char *path, srt_tar_reader **out);
/* Next regular-file member: *name and *data malloc'd (data NUL-terminated beyond size). *eof = 1 at the end.
 * A truncated or corrupt archive: SRT_ERR_FORMAT naming the archive and the member. */
srt_status srt_tar_next(srt_tar_reader *t, char **name, void **data, size_t *size, int *eof);
/* The next regular-file member's header only: *name malloc'd, *offset = where its body starts in the archive,
 * *size its length (a regular archive file: checked to lie within the file). The body is skipped by the next call
 * unless srt_tar_read_body reads it (malloc'd, NUL-terminated beyond size) first. So a long recording in an
 * archive is listed without being read, and later read through a window [offset, offset + size) of the file. */
srt_status srt_tar_next_member(srt_tar_reader *t, char **name, int64_t *offset, int64_t *size, int *eof);
srt_status srt_tar_read_body(srt_tar_reader *t, void **data);
void srt_tar_close(srt_tar_reader *t);
/* WebDataset key of a member name: everything before the first '.' of the last path component, with the
 * directory kept ("a/b/x.y.flac" -> "a/b/x"); *ext points at the extension after that dot ("y.flac"). */
void srt_wds_split_name(const char *member, char *key, size_t key_size, const char **ext);

/* A CSV (RFC 4180, header row) or JSONL manifest: one row per audio file. The path column is path_column, or
 * the first of "path", "audio", "file", "filename", "audio_path", "audio_filepath"; relative paths are resolved
 * against the manifest's folder. Every other column goes to extra_json (CSV values as strings; JSONL values as
 * they are). Errors name the manifest and line. */
typedef struct srt_manifest_row {
    char *path;
    char *extra_json;         /* "{...}" (possibly "{}") */
    int line;                 /* 1-based line in the manifest */
} srt_manifest_row;
srt_status srt_manifest_read(const char *manifest_path, const char *path_column, srt_manifest_row **rows,
                             size_t *n_rows);
void srt_manifest_free(srt_manifest_row *rows, size_t n_rows);

/* ---------------------------------------------------------------- segmentation */

/* Where to cut the next segment of a long recording: audio[0..n_avail) is what is buffered from the current
 * segment start (n_avail may exceed max_samples). Returns a cut in (0, max_samples] at the quietest point of the
 * last half of [0, max_samples) when it is quiet enough (RMS over 20 ms frames below -40 dBFS or below 10% of
 * the segment's median frame RMS), else max_samples (fixed-length split). If n_avail <= max_samples returns
 * n_avail (the end). Deterministic: depends only on the samples given. */
int64_t srt_ds_find_cut(const float *audio, int64_t n_avail, int sample_rate, int64_t max_samples);

/* ---------------------------------------------------------------- additions (ds_reader.c) */

/* Optional, before the first srt_ds_reader_next: check every item against a model (levels, strides, codebook,
 * rate: SRT_ERR_FORMAT naming the file and item otherwise) and give CSV shards their code layout (without it a
 * CSV reader infers it from the snac<k>khz column: <= 24 kHz 3 levels, strides [4,2,1]; else 4 levels,
 * [8,4,2,1], the published SNAC models). */
srt_status srt_ds_reader_set_codec(srt_ds_reader *r, const srt_codec_info *info);

#endif
