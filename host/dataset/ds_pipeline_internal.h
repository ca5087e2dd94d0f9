/* ds_pipeline_internal.h: what the tokenizer's files (ds_inputs*.c, ds_pipeline*.c, ds_run*.c, ds_index*.c)
 * share: input entries and units, incremental audio decoding, the run's on-disk state (plan, done-log), hashing,
 * and the pipeline's shared state (one mutex, several condition variables, linked queues).
 *
 * Threads and queues (every queue bounded; a stage only waits when its input is empty or its output full):
 *   readers (n_readers): take the next unit in order (gated to a window of open shards), decode + mix +
 *     resample it block by block, and emit items: short ones (<= chunk) into the encoder pool (bounded by
 *     samples), long ones as a long job whose pieces flow through a bounded per-job queue; then UNIT_DONE.
 *   encoders (one per device): long jobs first (push-mode chunked encoder), else a batch from the pool once the
 *     pool is full (a reader waits for room or the gate, or the readers are done): a run of neighbouring
 *     lengths holding the oldest item, little padding (length buckets; --no-length-buckets: arrival order),
 *     within batch_seconds. Two batches are in flight per encoder: batch n+1 is submitted (padded into pinned
 *     memory, uploaded, encoded, codes copied back, all queued on the device) before batch n is collected.
 *   writer: collects ITEM / DROPPED / UNIT_DONE messages, commits shards strictly in order (shard files via
 *     srt_ds_shard_*, then a fsynced done-log line) and opens the gate for the readers. */
#ifndef SRT_DS_PIPELINE_INTERNAL_H
#define SRT_DS_PIPELINE_INTERNAL_H

#include "snacrt_dataset.h"
#include "dataset/ds_format.h"
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>

/* ---------------------------------------------------------------- inputs (ds_inputs*.c) */

/* A top-level input entry: an audio file or a whole tar archive (the unit of scale-out). */
typedef struct ds_entry {
    char *key;                /* sort key and item key (files) */
    char *path;               /* the file to open */
    int is_tar;
    char *extra_json;         /* manifest passthrough, or NULL */
    char *error;              /* known now (duplicate key), or NULL */
} ds_entry;

/* A unit of work of one worker: a file or one tar sample. */
typedef struct ds_unit {
    char *key;
    char *source;             /* a path, or "archive.tar:member" */
    char *path;               /* the file to open (the archive for a member) */
    int64_t member;           /* archive member ordinal (0-based, in srt_tar_next order), -1 for a file */
    int64_t member_offset, member_size;   /* a member: its bytes [offset, offset + size) in the archive */
    char *extra_json;         /* passthrough (manifest columns, sidecars), or NULL */
    char *error;              /* known before decoding, or NULL */
} ds_unit;

/* All inputs -> entries sorted by (key, path); a key seen before gets an error naming the first source. */
srt_status ds_entries_collect(const srt_ds_run_options *o, ds_entry **out, int64_t *n_out);
void ds_entries_free(ds_entry *e, int64_t n);
/* FNV-1a 64 over the sorted entries (keys, paths, kinds, passthrough, each file's size and mtime): the inputs'
 * identity. */
uint64_t ds_entries_fingerprint(const ds_entry *e, int64_t n);

/* The units of worker shard_index of num_shards: entries j % num_shards == shard_index, tar archives listed
 * (samples in archive order; .json sidecar fields and .txt as "text" merged into extra_json; a corrupt archive
 * keeps the samples before the damage plus one error unit for the archive). Keys repeated among the worker's
 * units get an error. */
srt_status ds_units_expand(const ds_entry *e, int64_t n, int shard_index, int num_shards, ds_unit **out,
                           int64_t *n_out);
void ds_units_free(ds_unit *u, int64_t n);
/* mkdir -p: dir and its missing parents (SRT_ERR_IO naming the path). */
srt_status ds_make_dirs(const char *dir);
/* Is this file name an audio file we pick up when scanning a directory (by extension)? */
int ds_is_audio_name(const char *name);

/* Decoding is host/audio's streaming reader (srt_audio_stream_*: a path, or a tar member through a window of its
 * archive), blocks of mono samples at the model rate. */

/* ---------------------------------------------------------------- hashing (ds_index_hash.c) */

uint64_t ds_fnv1a(uint64_t h, const void *data, size_t n);
#define DS_FNV_OFFSET 0xcbf29ce484222325ull
/* Hash of a code set: n_samples, levels, every code (little-endian int32). */
uint64_t ds_codes_hash(const srt_codes *codes);
void ds_hex64(uint64_t h, char out[17]);

/* ---------------------------------------------------------------- on-disk state (ds_run_state.c) */

/* Prefix of worker I of N: "w00000-of00001". */
void ds_worker_prefix(int shard_index, int num_shards, char *out, size_t cap);
/* Write a file atomically: <path>.tmp, fsync, rename, fsync the folder. */
srt_status ds_write_atomic(const char *path, const char *data, size_t size);
/* fsync a folder (after renames in it). */
srt_status ds_fsync_dir(const char *dir);

/* The plan of a worker as canonical JSON text (malloc'd). */
char *ds_plan_json(const srt_ds_run_options *o, const srt_codec_info *info, uint64_t fingerprint, int64_t n_entries,
                   int64_t n_units, int64_t n_shards);

/* Done-log: parsed committed shards. */
typedef struct ds_done_log {
    unsigned char *done;      /* (n_shards) 1 = committed */
    int64_t n_shards, n_done;
    int64_t done_units, done_items, done_errors;
    int fd;                   /* open for appending (O_APPEND), -1 before ds_done_log_open */
    char *path;
} ds_done_log;

/* Prepare out_dir for a run of this worker: check/write the plan (an existing plan needs resume and must be
 * identical), read the done-log (cutting a torn last line; a shard logged twice whose files are all there is
 * logged once again: the repair of two concurrent runs before the lock existed), remove temp files and uncommitted
 * shard files of this worker, and open the done-log for appending. Call with the lock held. */
srt_status ds_state_prepare(const srt_ds_run_options *o, const char *plan_json, int64_t n_shards, ds_done_log *log);
/* This worker's lock on its output folder: <prefix>.lock, held with flock for the whole run. */
typedef struct ds_lock {
    int fd;                   /* -1 when not held */
    char *path;
} ds_lock;
/* Create out_dir if needed and take the lock; a second run of the same worker on the same folder fails at once
 * (SRT_ERR_INVALID_ARG) naming the PID that holds it. The file holds the PID. */
srt_status ds_state_lock(const srt_ds_run_options *o, ds_lock *lock);
/* Remove the lock file and release the lock (no-op when not held). */
void ds_state_unlock(ds_lock *lock);
/* Append one line (with '\n') and fsync: the commit point of a shard. */
srt_status ds_done_log_append(ds_done_log *log, const char *line);
void ds_done_log_close(ds_done_log *log);

/* What a committed shard's done-log line says of it (ds_shard_finish.c). */
typedef struct ds_shard_done {
    const char *name;                       /* the shard's name */
    int64_t k, n_units, n_items, n_errors;  /* shard index; units planned; items written; units refused */
    int64_t audio_samples;                  /* audio encoded into the shard */
    char (*files)[512];                     /* data files (n_files) */
    int n_files;
    char (*seq_files)[512];                 /* training-sequence files (n_seq_files) */
    int n_seq_files;
} ds_shard_done;
typedef struct srt_ds_seq_writer srt_ds_seq_writer;
/* Finish a shard: with st == SRT_OK, commit the sequence writer qw (may be NULL) and then the shard writer sw (the
 * commit point), append the done-log line (items and errors: JSON arrays of its items and refused units) and check
 * that every item was written; otherwise abort both. Always takes sw, qw, items and errors. */
srt_status ds_shard_finish(ds_done_log *log, srt_status st, srt_ds_shard_writer *sw, srt_ds_seq_writer *qw,
                           const ds_shard_done *d, cJSON *items, cJSON *errors);
/* Parse a done-log file into its complete lines' JSON objects (a torn last line is ignored). */
srt_status ds_done_log_read(const char *path, cJSON ***lines, int64_t *n_lines, size_t *valid_bytes);
void ds_done_log_lines_free(cJSON **lines, int64_t n);

/* ---------------------------------------------------------------- pipeline (ds_pipeline*.c) */

typedef struct ds_piece {
    struct ds_piece *next;
    float *x;                 /* (n,) */
    int64_t n;
} ds_piece;

/* What identifies an item on its way to the writer. */
typedef struct ds_meta {
    int64_t unit;
    int seg;                  /* segment number within the unit */
    int split;                /* the unit was split: key gets "#seg" */
    int64_t offset;           /* start in the unit's audio, model rate */
} ds_meta;

typedef struct ds_short {
    ds_meta meta;
    float *audio;             /* (n,) at the model rate */
    int64_t n;
} ds_short;

typedef struct ds_long_job {
    struct ds_long_job *next;
    ds_meta meta;
    ds_piece *head, *tail;    /* pieces not yet taken by the encoder */
    int64_t queued;           /* samples in the pieces */
    int final;                /* no more pieces will come */
    int aborted;              /* the reader failed: drop the job */
    int refs;                 /* the reader until job_end + the encoder (or the queue): freed at 0 */
} ds_long_job;

enum { DS_MSG_ITEM = 0, DS_MSG_DROPPED, DS_MSG_UNIT_DONE };

typedef struct ds_msg {
    struct ds_msg *next;
    int kind;
    ds_meta meta;
    srt_codes codes;          /* ITEM */
    int n_items;              /* UNIT_DONE: items emitted for the unit */
    char *error;              /* UNIT_DONE: the unit failed (its items are dropped) */
} ds_msg;

typedef struct ds_worker {
    srt_codec *codec;
    srt_ds_device_stats stats;
    pthread_t thread;
    struct ds_pipe *pipe;
} ds_worker;

typedef struct ds_len_key { int64_t len, idx; } ds_len_key;   /* a pool item's padded length, its pool index */
/* Length buckets: a batch pads at most this fraction of what it computes (ds_pipeline_encode.c: pick_bucket). */
#define DS_BUCKET_MAX_PADDING 0.10

typedef struct ds_pipe {
    const srt_ds_run_options *o;
    srt_codec_info info;
    char prefix[64];
    int64_t chunk_samples, batch_samples, max_seg_samples, piece_samples, pool_cap_samples;
    ds_unit *units;
    int64_t n_units, shard_size, n_shards, window_shards;
    ds_done_log *log;
    struct srt_ds_seq_ctx *seq;   /* --sequences: written beside each shard (ds_seq.h); NULL: none */

    pthread_mutex_t mu;
    pthread_cond_t cv_gate;   /* readers: the gate moved */
    pthread_cond_t cv_pool;   /* readers: room in the pool / a job's piece queue */
    pthread_cond_t cv_work;   /* encoders: pool items, jobs, pieces, or the end of the readers */
    pthread_cond_t cv_msg;    /* writer: messages */
    pthread_mutex_t dispatch_mu;   /* next_unit (taken before mu) */
    int64_t next_unit;
    int64_t gate_unit;        /* units < gate_unit may be started */
    ds_short **pool;          /* (pool_cap) waiting short items, in arrival order */
    ds_len_key *bucket_keys;  /* (pool_cap) scratch of pick_bucket (under mu) */
    int64_t *bucket_prefix;   /* (pool_cap + 1) */
    int64_t pool_n, pool_cap, pool_samples;
    ds_long_job *jobs_head, *jobs_tail;
    int readers_active, encoders_active;
    int readers_blocked;      /* readers waiting for room in the pool or for the gate: the pool is as full as it gets */
    ds_msg *msg_head, *msg_tail;
    int cancelled;
    srt_status fail_status;
    char fail_msg[2048];

    /* statistics (under mu) */
    srt_ds_progress progress;
    double read_busy, encode_busy, write_busy;
    int64_t nonfinite_replaced;    /* allow_nonfinite: bad samples read as 0 (readers add theirs under mu) */
    double t_start;
} ds_pipe;

/* Encoder workers for --device (ds_run_devices.c): codecs loaded, stats.device named. */
srt_status ds_workers_load(const char *model_dir, const char *device, int n_threads, const char *precision,
                           ds_worker **out, int *n_out);
void ds_workers_free(ds_worker *w, int n);

double ds_now(void);
/* Record the first fatal failure (with this thread's srt_last_error) and wake everyone. Takes mu. */
void ds_pipe_fail(ds_pipe *p, srt_status st);
void ds_pipe_post(ds_pipe *p, ds_msg *m);     /* takes mu */
/* Drop one reference to a long job (mu held); frees it and its pieces at 0. */
void ds_job_release(ds_long_job *job);

void *ds_reader_main(void *arg);              /* arg: ds_pipe */
void *ds_encoder_main(void *arg);             /* arg: ds_worker */
void *ds_writer_main(void *arg);              /* arg: ds_pipe */

/* Item key of a unit's segment ("key" or "key#seg"), malloc'd. */
char *ds_item_key(const ds_unit *u, const ds_meta *m);

#endif
