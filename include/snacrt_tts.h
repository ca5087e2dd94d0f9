/* snacrt_tts.h (public API): the speech-generation engine behind `snacrt tts` and `snacrt serve` (host/tts/tts_*.c).
 * One scheduler thread runs a continuous batch: requests join and leave at every step, prompts are prefilled
 * in chunks between decode steps, sampled audio tokens are assembled into SNAC frame groups by the token
 * layout (host/tts/layout.h), and the frames of all running streams are decoded in one batched streaming
 * codec call. Audio reaches each request through its callback as soon as it is final. */
#ifndef SNACRT_TTS_H
#define SNACRT_TTS_H

#include "snacrt.h"
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct srt_tts_engine srt_tts_engine;

typedef struct srt_tts_config {
    const char *lm_dir;             /* Llama-family model folder (config.json, model.safetensors, tokenizer.json) */
    const char *codec_dir;          /* SNAC model folder */
    const char *layout;             /* layout name ("orpheus", "laion-flat") or a .json path; NULL: the LM folder's
                                       snacrt_layout.json if present, else "orpheus" */
    const char *backend;            /* "cpu" (default), "cpu-ref", "cuda", "cuda:N" (LM and codec) */
    int n_threads;                  /* 0 = all cores */
    int tp;                         /* LM tensor-parallel ranks (0/1 = none) */
    int max_running;                /* streams decoded together (0 = 16) */
    int max_queue;                  /* waiting requests before submit returns SRT_ERR_FULL (0 = 256) */
    int64_t kv_max_tokens;          /* KV cache size (0 = enough for max_running full streams) */
    int prefill_chunk;              /* prompt tokens per step for a joining request (0 = 256) */
    int max_input_chars;            /* longest text accepted (0 = 4096); longer: SRT_ERR_RANGE */
    int64_t noise_seed;             /* codec decoder noise (< 0 = off, the default) */
    srt_sampling_params sampling;   /* defaults for requests that pass none (Orpheus: temperature 0.6, top_p 0.8,
                                       repetition_penalty 1.1, max_tokens 1200) */
    /* additions (H4) */
    int max_piece_chars;            /* long texts are cut into pieces of at most this many bytes at sentence
                                       boundaries, each generated with its own prompt (0 = 200) */
    /* additions (#18): data-parallel replicas behind one engine handle (host/tts/tts_replicas.c) */
    const char *devices;            /* NULL: one engine on `backend`. Else the devices of all replicas: "cuda:0-3",
                                       "cuda:0,1,4,5" (each consecutive run of tp devices is one replica, tensor
                                       parallel over them), or "cpu" / "cpu-ref" with `replicas` */
    int replicas;                   /* engine replicas on a host backend, each a thread group of n_threads /
                                       replicas threads (0/1 = one; with cuda devices it must be 0 or
                                       devices / tp) */
    /* additions (#16) */
    const char *lm_precision;       /* the cpu backend's LM precision (srt_lm_options.lm_precision): "bf16", "exact",
                                       NULL = SNACRT_CPU_LM_PRECISION, else bf16 */
    const char *lm_weights;         /* srt_lm_options.weights_dtype: "stored" or "int8"; NULL = SNACRT_LM_WEIGHTS */
} srt_tts_config;

/* Fill cfg with the defaults above (paths NULL). */
void srt_tts_config_defaults(srt_tts_config *cfg);

/* Optional token callback (engine thread): every sampled token of a request, in order; piece is the index of the
 * text piece it belongs to. For tests, debugging and models whose output is read as tokens. */
typedef void (*srt_tts_token_cb)(void *user, int piece, int32_t token);
/* Optional logits callback (engine thread): called before each token of a request is sampled with the logits row
 * (vocab_size floats, the layout's position mask already applied), which it may change (a logit bias; -INFINITY
 * forbids an id); n_gen = tokens generated so far in the piece. For tests and constrained generation. */
typedef void (*srt_tts_logits_cb)(void *user, int piece, int n_gen, float *logits, int vocab_size);

typedef struct srt_tts_request {
    const char *text;               /* UTF-8; long texts are split at sentence boundaries and joined */
    const char *voice;              /* NULL = the layout's default voice; unknown voice: SRT_ERR_NOT_FOUND */
    const srt_sampling_params *sampling; /* NULL = engine defaults; the seed makes a request reproducible
                                       whatever else is in the batch */
    const float *audio_in;          /* optional audio prompt (mono) encoded into layout tokens, or NULL */
    int64_t n_audio_in;
    int audio_in_rate;              /* Hz of audio_in (resampled to the codec rate) */
    /* additions (H4) */
    srt_tts_token_cb on_token;      /* optional; gets the submit's user pointer */
    srt_tts_logits_cb on_logits;    /* optional; gets the submit's user pointer */
    const char *audio_text;         /* optional transcript of audio_in: voice cloning, the clip and its transcript
                                       placed as a prior exchange as the layout's "clone" section defines (needs
                                       audio_in; a layout without "clone": SRT_ERR_UNSUPPORTED) */
    const char *instructions;       /* optional (OpenAI's "instructions", e.g. "speak slowly"): placed into the
                                       prompt where the layout has a slot for them (srt_tts_takes_instructions),
                                       else left out; at most the text's length limit */
} srt_tts_request;

typedef struct srt_tts_stats {
    int64_t prompt_tokens, generated_tokens;
    int64_t frames, dropped_frames;  /* frame groups emitted / invalid groups dropped */
    int64_t samples;                 /* audio samples delivered */
    double queue_ms;                 /* submit -> first scheduled */
    double first_audio_ms;           /* submit -> first audio callback */
    double total_ms;                 /* submit -> done */
    int finish;                      /* SRT_FINISH_STOP (end-of-speech) or SRT_FINISH_LENGTH (of the last piece) */
    /* additions (H4) */
    int lookahead_frames;            /* frame groups the streaming decoder waits for before a group is final */
    int pieces;                      /* text pieces (sentence groups) generated */
    int64_t first_audio_tokens;      /* tokens generated when the first audio was delivered (below
                                        generated_tokens when audio left while the request was still generating) */
} srt_tts_stats;

/* Audio callback, called on the engine thread (must not block): pcm holds n new samples (mono f32 at the codec
 * rate; n may be 0). The last call has done = 1 with the request's status (SRT_OK, SRT_ERR_CANCELLED, or an
 * error; srt_last_error() on that thread describes it) and its stats. Return nonzero to cancel the request. */
typedef int (*srt_tts_audio_cb)(void *user, const float *pcm, int64_t n, int done, srt_status status,
                                const srt_tts_stats *stats);

/* Load models and start the scheduler thread. */
srt_status srt_tts_engine_create(const srt_tts_config *cfg, srt_tts_engine **out);
/* Cancel everything still queued or running (their callbacks get done = 1, SRT_ERR_CANCELLED), join, free. */
void srt_tts_engine_free(srt_tts_engine *engine);

/* Queue a request (copied). SRT_ERR_FULL when the queue is full; SRT_ERR_RANGE / SRT_ERR_NOT_FOUND /
 * SRT_ERR_INVALID_ARG for bad text, voice or sampling, before anything is queued. */
srt_status srt_tts_submit(srt_tts_engine *engine, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                          uint64_t *request_id);
/* Cancel a queued or running request (no-op when it is finished); its callback gets done = 1, CANCELLED. */
void srt_tts_cancel(srt_tts_engine *engine, uint64_t request_id);

typedef struct srt_tts_metrics {
    int64_t requests_total, requests_ok, requests_failed, requests_cancelled, requests_rejected;
    int64_t requests_cancelled_queued;  /* of requests_cancelled: cancelled before admission (still queued) */
    int queue_depth, running;
    int64_t generated_tokens_total, samples_total, dropped_frames_total;
    double tokens_per_s;             /* over the last ~10 s */
    double first_audio_ms_avg, first_audio_ms_max;
    double rtf_avg;                  /* audio seconds / wall seconds per finished request, averaged */
    /* additions (H7) */
    int64_t sample_steps_device;     /* forward steps whose tokens the LM's backend picked (only ids downloaded) */
    int64_t sample_steps_host;       /* forward steps whose logits rows were downloaded and sampled on the host
                                        (tensor parallel, a backend without sample/mask_rows, or on_logits) */
} srt_tts_metrics;
void srt_tts_get_metrics(srt_tts_engine *engine, srt_tts_metrics *m);

/* Replicas (srt_tts_config.devices / replicas): srt_tts_submit sends a request to the healthy replica with the
 * most free KV capacity (capacity minus the estimated demand, prompt + max_tokens, of the requests it holds), where
 * it stays to the end; srt_tts_cancel finds it there; srt_tts_get_metrics sums the replicas. A replica that fails
 * (a request ends with SRT_ERR_BACKEND) is drained: its other requests end at once with SRT_ERR_BACKEND naming the
 * replica, it gets no new requests, and once its last callback returned it is reloaded and taken back. Test hook:
 * env SNACRT_TEST_FAIL_REPLICA=K:N fails replica K at its N-th audio callback (once). */
typedef enum srt_tts_replica_state {
    SRT_TTS_REPLICA_UP = 0, SRT_TTS_REPLICA_DRAINING, SRT_TTS_REPLICA_RESTARTING, SRT_TTS_REPLICA_DOWN
} srt_tts_replica_state;
typedef struct srt_tts_replica_info {
    char devices[64];               /* "cuda:0-1", "cpu#1" */
    srt_tts_replica_state state;
    int64_t failures, restarts;
    int64_t kv_capacity_tokens, kv_demand_tokens;   /* the router's view */
    int active;                     /* requests routed here and not finished */
    srt_tts_metrics metrics;        /* this replica's engine (zero while it restarts) */
} srt_tts_replica_info;
/* Number of replicas (0 for an engine without replicas) and one replica's state (SRT_ERR_RANGE for a bad i). */
int srt_tts_replica_count(const srt_tts_engine *engine);
srt_status srt_tts_get_replica_info(srt_tts_engine *engine, int i, srt_tts_replica_info *info);

/* Launchers (#18): under mpirun or srun each process of a data-parallel batch job (snacrt tts --input) takes its
 * node-local share of the node's devices and its shard of the input. srt_launch_place_from_env reads:
 *   world rank / size   OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE (Open MPI), PMI_RANK / PMI_SIZE (MPICH,
 *                       Hydra, srun --mpi=pmi2), SLURM_PROCID / SLURM_NTASKS (srun), first set found
 *   local rank / size   OMPI_COMM_WORLD_LOCAL_RANK / OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALRANKID /
 *                       MPI_LOCALNRANKS, SLURM_LOCALID / SLURM_NTASKS_PER_NODE (else the first count of
 *                       SLURM_STEP_TASKS_PER_NODE, e.g. "4(x2)")
 * No launcher (no world size, or 1): found 0, rank 0 of 1, local 0 of 1. A rank without its size, a value that is
 * not a number, or a rank outside its size is SRT_ERR_INVALID_ARG naming the variable; a world size > 1 without
 * local variables means one process per node (local 0 of 1). */
typedef struct srt_launch_place {
    int found;                      /* 1 under a launcher with more than one process */
    int world_rank, world_size, local_rank, local_size;
    char source[40];                /* the variable the world size came from ("OMPI_COMM_WORLD_SIZE") */
} srt_launch_place;
srt_status srt_launch_place_from_env(srt_launch_place *place);
/* The local_rank-th of local_size equal consecutive shares of the node's device list: "cuda:0-7", tp 2, 4
 * processes on the node: local rank 1 gets "cuda:2-3". Each share must hold whole replicas of tp devices
 * (SRT_ERR_INVALID_ARG naming the list otherwise). A cpu / cpu-ref list is returned unchanged. */
srt_status srt_launch_local_devices(const char *devices, int tp, int local_rank, int local_size, char *out,
                                    size_t cap);

/* Codec sample rate and the voices the layout knows (NULL-terminated, owned by the engine). */
int srt_tts_sample_rate(const srt_tts_engine *engine);
const char *const *srt_tts_voices(const srt_tts_engine *engine);
/* The layout's "voice_aliases" as NULL-terminated pairs (alias, voice, alias, voice, ..., NULL), owned by the
 * engine; a request's voice matches voices and aliases case-insensitively. */
const char *const *srt_tts_voice_aliases(const srt_tts_engine *engine);
/* additions (H4): the streaming decoder's lookahead in frame groups, and the samples per frame group. */
int srt_tts_lookahead(const srt_tts_engine *engine);
int64_t srt_tts_group_samples(const srt_tts_engine *engine);
/* Does the layout place a request's instructions into its prompt (clone: a voice-cloning request, audio_text
 * set)? 0: they are accepted and left out (layouts/README.md, "Instructions"). */
int srt_tts_takes_instructions(const srt_tts_engine *engine, int clone);
/* The layout's "tags": in-text markup the model was trained on (orpheus: "<laugh>", "<sigh>", ...), as hints for
 * users; NULL-terminated, owned by the engine (empty when the layout lists none). */
const char *const *srt_tts_tags(const srt_tts_engine *engine);

#ifdef __cplusplus
}
#endif
#endif
