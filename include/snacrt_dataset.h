/* snacrt_dataset.h (public API): dataset tokenization (`snacrt tokenize`, `snacrt merge-index`): audio corpora -> sharded SNAC
 * codes, resumable, split over any number of independent workers.
 *
 * Inputs (ds_inputs*.c): directories (recursive; files with an audio extension, .tar archives as WebDataset),
 * file lists (.txt, one path per line, relative to the list's folder; '#' comments), WebDataset .tar archives
 * (audio members with their .json / .txt sidecars), CSV/JSONL manifests (a path column; the other columns pass
 * through), single audio files. Every input yields "entries" with a key:
 *   directory file: its path relative to the directory; list/argument file: the path as written; manifest row:
 *   the path relative to the manifest's folder (as written); tar archive: like a file (the archive's key);
 *   tar member: its WebDataset key (srt_wds_split_name).
 * Order and split: the entries of all inputs are sorted by (key, source) bytewise; entry j belongs to worker
 * j % num_shards (a tar archive is one entry: archives are the unit of scale-out). A worker then expands its
 * archives into their samples, in archive order, in place: this is its "unit" list. Unit i goes to shard
 * i / shard_size of that worker. So the assignment is a pure function of the inputs, never of timing.
 * A recording split at silence (--max-seconds) gives items "<key>#<n>" (n from 0) in its unit's shard.
 *
 * Output directory (OUT_DIR), for worker I of N (names never collide across workers):
 *   wIIIII-ofNNNNN-sKKKKKK.<fmt>        shard K (.jsonl | .csv | .bin + .idx): items in unit order
 *   wIIIII-ofNNNNN.plan.json            the worker's plan: inputs fingerprint, units, shards, settings
 *   wIIIII-ofNNNNN.done.jsonl           one line per committed shard (items with code hashes, errors), fsynced
 *   index.json, index.items.jsonl,      written by merge-index (and at the end of a run when N == 1): shards,
 *   errors.jsonl                        totals, the items sorted by key with their shard and codes hash, errors
 * These files are the "output set": byte-identical between an uninterrupted run and any crash + --resume
 * sequence. Timings only go to the summary (stdout), never into the output set.
 * Detokenize (ds_detokenize.c, `snacrt detokenize`): shards back to audio files. */
#ifndef SNACRT_DATASET_H
#define SNACRT_DATASET_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- shard formats */

/* The shard formats (their layouts: docs/binary-format.md and host/dataset/ds_format.h). */
typedef enum srt_ds_format { SRT_DS_JSONL = 0, SRT_DS_CSV, SRT_DS_BIN } srt_ds_format;

/* Parse "jsonl" | "csv" | "bin"; SRT_ERR_INVALID_ARG naming the value otherwise. */
srt_status srt_ds_format_parse(const char *name, srt_ds_format *fmt);
const char *srt_ds_format_name(srt_ds_format fmt);

/* ---------------------------------------------------------------- progress and summary */

typedef struct srt_ds_device_stats {
    char device[32];
    int64_t items;            /* items (segments) encoded */
    int64_t batches;          /* srt_codec_encode calls (batches of short items) */
    int64_t chunked_items;    /* items (long ones) through the push-mode chunked encoder */
    double audio_seconds;     /* audio encoded */
    double busy_seconds;      /* time inside the codec */
    double batch_seconds;     /* audio in the batches (short items), valid samples only */
    double padded_seconds;    /* what those batches computed: items x longest padded length (1 - batch/padded is
                                 the padding fraction; long items through the chunked encoder are not counted) */
    double device_busy_seconds;   /* the encode work on the device's stream, timed with events between the first
                                     and the last op of each batch (cuda; in the simulator build the simulator's
                                     wall time, not a GPU time); -1: the device has no timer (cpu) */
} srt_ds_device_stats;

typedef struct srt_ds_progress {
    int64_t units_total;      /* units this worker owns (files + tar samples) */
    int64_t units_done;       /* units finished (committed or skipped on resume, items or errors) */
    int64_t units_skipped;    /* units of shards committed by an earlier run (--resume) */
    int64_t items;            /* items in the committed shards: this run's + items_skipped */
    int64_t errors;           /* units that failed: this run's + errors_skipped */
    int64_t items_skipped, errors_skipped;   /* of them, in shards committed by earlier runs (--resume) */
    int64_t shards_total, shards_committed, shards_skipped;
    double audio_seconds;     /* audio encoded this run */
    double wall_seconds;
    int finished;
    int64_t units_read;         /* units this run's readers have decoded (ahead of units_done: encoding follows) */
    double audio_seconds_read;  /* audio decoded by this run's readers; with units_read it estimates this run's
                                   total audio, which the progress bar and ETA measure audio_seconds against */
} srt_ds_progress;

/* One progress line (no newline): items, audio hours, x-real-time, ETA, errors. */
void srt_ds_progress_format(const srt_ds_progress *p, char *out, size_t cap);

typedef struct srt_ds_summary {
    srt_ds_progress progress;
    double read_busy_seconds;     /* all reader threads: decode + mix + resample (+ tar member reads) */
    double encode_busy_seconds;   /* all encoder workers: inside the codec */
    double write_busy_seconds;    /* the writer: shard files, fsync, done-log */
    int n_devices;
    srt_ds_device_stats devices[16];
    int n_readers;
    double chunk_seconds, batch_seconds;   /* the sizes used (automatic ones resolved) */
    int64_t peak_rss_kb;          /* getrusage at the end */
    int index_written;            /* N == 1: index.json etc. written at the end */
    int64_t index_items, index_errors;   /* its totals (this run and the runs it resumed) */
    int64_t nonfinite_replaced;   /* allow_nonfinite: bad samples read as 0 (this run) */
} srt_ds_summary;

/* The summary as one JSON object (malloc'd): items, errors, audio hours, wall time, x-real-time, per-stage busy
 * seconds, per-device throughput, peak RSS. */
char *srt_ds_summary_json(const srt_ds_summary *s);

/* ---------------------------------------------------------------- a run */

typedef void (*srt_ds_progress_fn)(const srt_ds_progress *p, void *user);

typedef struct srt_ds_run_options {
    const char *model_dir;
    const char *out_dir;
    const char *const *inputs;
    int n_inputs;
    const char *path_column;     /* manifests: NULL = the default names of srt_manifest_read */
    int follow_symlinks;         /* folder inputs: follow symbolic links (files and folders, each folder scanned
                                    once); 0 (default): a link is not followed and becomes an error item */
    srt_ds_format format;
    const char *device;          /* "cpu", "cpu-ref", "cuda" (one worker per visible device), "cuda:0,2" */
    const char *precision;       /* the encoders' dense convs: NULL / "fp32" (default), "tf32", "bf16" (cuda) */
    int n_threads;               /* CPU threads of the cpu worker (0 = all cores) */
    int n_readers;               /* decode + resample threads (0 = auto: 2 on the CPU, 6 per GPU on CUDA, at most
                                    the cores but one) */
    int reader_nice;             /* nice value of the reader threads (0 = as the process; default 10) */
    int no_length_buckets;       /* 0 (default): a batch is the oldest waiting item plus the items of nearest length
                                    (little padding); 1: the oldest items in arrival order (the baseline) */
    double batch_seconds;        /* audio seconds per encoder batch (padded lengths); 0 = 20 (cpu, at most what
                                    memory_mb allows) or 300 (cuda) */
    double chunk_seconds;        /* longer items go through the push-mode chunked encoder with this span; 0 = auto:
                                    on the CPU the longest whose encoder window fits memory_mb (~22 s for
                                    snac_24khz), 60 on CUDA devices */
    double memory_mb;            /* CPU budget for the encoder's activations, sets the automatic chunk and caps the
                                    automatic batch (0 = 512 MiB: a recording of any length then peaks near 0.6 GB
                                    RSS with snac_24khz) */
    double max_seconds;          /* > 0: split recordings longer than this at silence (srt_ds_find_cut) */
    int64_t shard_size;          /* units per shard */
    int shard_index, num_shards; /* this worker of how many */
    int resume;                  /* continue a killed run in out_dir (also fine when there is none) */
    int allow_nonfinite;         /* 0: a file with a NaN, Inf or absurd (> 1e4) sample is an error (errors.jsonl)
                                    naming the first; 1: such samples become 0, counted in the summary */
    srt_ds_progress_fn progress; /* called from the run's main thread a few times per second, and at the end */
    void *progress_user;
    /* --sequences (docs/sequences.md): seq_layout non-NULL also writes training sequences beside each shard */
    const char *seq_layout;      /* layout name or .json path (layouts/README.md) */
    const char *seq_tokenizer;   /* LM folder holding tokenizer.json (loaded on the CPU for its tokenizer) */
    int seq_task;                /* SRT_DS_TASK_TTS (targets: the audio) or SRT_DS_TASK_ASR (targets: the text) */
    const char *seq_text_column; /* passthrough column with the item's text (NULL: "text") */
    int64_t seq_len;             /* > 0: sequences of at most this many tokens (longer items split at frame-group
                                    boundaries); with seq_pack exactly this many (padded, mask 0) */
    int seq_pack;                /* pack several items into each sequence (needs seq_len) */
    int seq_jsonl;               /* 1: <shard>.seq.jsonl (ids, mask, docs per line) instead of the binary files */
    /* additions (#14): the tts prompt's voice from a passthrough column (NULL: the layout's default voice) */
    const char *seq_voice_column;
    /* additions (#14): synthesized data, seq_task SRT_DS_TASK_INTERLEAVE (inputs: text corpora, .txt one document
     * per non-empty line or .jsonl with the text column; chosen sentences spoken) or SRT_DS_TASK_DIALOG (inputs:
     * .jsonl lines {"messages": [{"role", "content"}, ...]}; turns spoken per role), docs/sequences.md */
    const char *synth_tts_model; /* the TTS LM folder that speaks (NULL: seq_tokenizer) */
    const char *synth_tts_layout;/* its layout (NULL: the TTS model folder's, else "orpheus") */
    const char *synth_voices;    /* comma-separated voices: interleave rotates through them; dialog: user's,
                                    assistant's (NULL: the TTS layout's default voice) */
    double synth_audio_rate;     /* interleave: chance that a sentence is spoken (0..1) */
    uint64_t synth_seed;         /* which sentences are spoken, and each span's sampling seed */
    int synth_max_tokens;        /* tokens generated per spoken span (0: the engine's default) */
    double synth_temperature;    /* sampling of the spoken spans (< 0: the engine's default, 0.6) */
    double synth_top_p;          /* (< 0: the engine's default, 0.8) */
    int synth_user_text;         /* dialog: the user's turns as text (default: audio) */
    int synth_assistant_text;    /* dialog: the assistant's turns as text (default: audio) */
} srt_ds_run_options;

enum { SRT_DS_TASK_TTS = 0, SRT_DS_TASK_ASR = 1, SRT_DS_TASK_INTERLEAVE = 2, SRT_DS_TASK_DIALOG = 3 };

/* Defaults: cpu, 2 readers (nice 10), automatic batch and chunk sizes, no split, 1000 units per shard,
 * worker 0 of 1, jsonl. */
void srt_ds_run_defaults(srt_ds_run_options *o);

/* Tokenize. Files that fail to decode are errors of the output (errors.jsonl), not of the run: SRT_OK.
 * A failed run (model, device, disk, an out_dir holding a different run, ...) returns its status; the committed
 * shards stay valid for --resume. */
srt_status srt_ds_run(const srt_ds_run_options *o, srt_ds_summary *summary);

/* ---------------------------------------------------------------- dry run: the plan only */

typedef struct srt_ds_plan_unit {
    char *key;
    char *source;             /* a path, or "archive.tar:member" */
    int64_t shard;            /* shard number within the worker */
    char *error;              /* known before decoding (duplicate key, unreadable archive), or NULL */
} srt_ds_plan_unit;

/* The units of worker shard_index (tar archives listed), with their shard assignment; *n_shards planned. */
srt_status srt_ds_plan_list(const srt_ds_run_options *o, srt_ds_plan_unit **units, int64_t *n_units,
                            int64_t *n_shards);
void srt_ds_plan_free(srt_ds_plan_unit *units, int64_t n_units);

/* Shard name of worker shard_index of num_shards, shard k: "w00000-of00002-s000003". */
void srt_ds_shard_name(int shard_index, int num_shards, int64_t k, char *out, size_t cap);

/* ---------------------------------------------------------------- merge-index */

typedef struct srt_ds_merge_result {
    int n_workers;
    int64_t shards, items, errors, duplicates;
    double audio_seconds;
    char items_digest[17];    /* FNV-1a 64 (hex) over the sorted (key, offset, n_samples, codes hash) lines */
} srt_ds_merge_result;

/* Join the plans and done-logs of all workers found in out_dir into index.json, index.items.jsonl and
 * errors.jsonl (each written atomically). Checks: every worker 0..N-1 present with the same inputs fingerprint and
 * settings, every planned shard committed and its files present, no key twice. A failed check: SRT_ERR_FORMAT
 * naming what is missing or duplicated, and nothing is written. */
srt_status srt_ds_merge_index(const char *out_dir, srt_ds_merge_result *result);

/* ---------------------------------------------------------------- detokenize: shards -> audio files */

typedef struct srt_detokenize_options {
    const char *model_dir;            /* the SNAC model folder the codes were made with */
    const char *device;               /* codec backend: "cpu" (NULL), "cpu-ref", "cuda[:N]" */
    int n_threads;                    /* 0 = all cores */
    const char *const *inputs;        /* shard files (.jsonl, .csv, .bin with its .idx) or folders: every shard in
                                         a folder, sorted by name (not .done.jsonl, index or error files) */
    int n_inputs;
    const char *out_dir;              /* created if missing */
    const char *const *keys;          /* only these items, each must be found (n_keys 0: every item) */
    int n_keys;
    int64_t limit;                    /* only the first `limit` items (< 0: all); excludes keys */
    const char *format;               /* "wav" (NULL) or "flac" */
    int sample_format;                /* an srt_audio_write_format (snacrt_audio.h): SRT_AUDIO_S16 (0) or
                                         SRT_AUDIO_F32 (wav only) */
    int64_t noise_seed;               /* the decoder's noise blocks: < 0 off, else seeded */
    int max_batch;                    /* items per decoder call, 1..64 (0 = 8; fewer when they are long) */
} srt_detokenize_options;

typedef struct srt_detokenize_result {
    int64_t items;                    /* audio files written */
    int64_t samples;                  /* samples written (all files) */
    int sample_rate;
    int64_t shards;                   /* shard files read */
    int n_empty_folders;              /* input folders without a shard ... */
    const char *empty_folder;         /* ... the first of them (points into inputs), NULL if none */
} srt_detokenize_result;

/* Decode the items of tokenize shards to one audio file each in out_dir, named after its key (made
 * filesystem-safe and unique; an audio extension in the key is replaced: key a.flac -> a.wav), cut to the item's
 * n_samples. Items are decoded in batches with the streaming decoder (memory flat in their lengths). On failure
 * the message names the shard and item; no half-written file is left. result may be NULL. */
srt_status srt_detokenize(const srt_detokenize_options *opts, srt_detokenize_result *result);

#ifdef __cplusplus
}
#endif
#endif
