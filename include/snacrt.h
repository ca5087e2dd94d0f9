/* snacrt.h: the public C API of snacrt (SNAC codec + Llama-family LM inference + TTS engine).
 * Opaque handles, one status enum, init/free pairs. Every call returns an srt_status;
 * on failure srt_last_error() gives a message naming the input (thread-local).
 *
 * Public vs internal: the public API is exactly what the headers in include/ declare:
 *   snacrt.h            status and errors, the codec (encode / decode, batched, chunked, streaming), the language
 *                       model (load, forward, sampler, batched generate); includes the headers below
 *   snacrt_audio.h      audio files in and out, resampling
 *   snacrt_codes.h      SNAC codes to and from files (json, npy, laion, orpheus)
 *   snacrt_tokenizer.h  a tokenizer.json on its own
 *   snacrt_tts.h        the TTS engine: submit text, receive PCM through a callback
 *   snacrt_dataset.h    dataset tokenization (audio corpora -> sharded codes), its plan and merge-index;
 *                       detokenize (shards -> audio files)
 *   snacrt_serve.h      the OpenAI-compatible HTTP server over a TTS engine (not included by this file: a client
 *                       that serves includes it)
 *   snacrt_chat.h       (included on its own) conversations on the TTS engine: text and audio in and out
 * These are installed (cmake --install) and exported by the shared library (libsnacrt.so exports only the srt_
 * functions declared here; see cmake/public_symbols.cmake). Everything declared in host/ (backend.h, common.h,
 * snac/, lm/, tts/, dataset/, ...) is internal: it also uses the srt_ prefix, may change at any time, is not
 * installed and is hidden in the shared library. The CLI (host/cli), the benchmarks and the tests of behaviour are
 * clients of this API; tests of internals include host/ headers.
 * Ownership: a function that hands out memory says how to free it (srt_*_free, or free() for plain buffers).
 * Threads: one handle is used by one thread at a time unless its section says otherwise (the TTS engine is
 * thread-safe; srt_last_error is per thread). */
#ifndef SNACRT_H
#define SNACRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum srt_status {
    SRT_OK = 0,
    SRT_ERR_INVALID_ARG,   /* a caller passed something impossible */
    SRT_ERR_IO,            /* a file could not be opened, read or written */
    SRT_ERR_FORMAT,        /* a file or string is malformed (JSON, weights, audio, codes) */
    SRT_ERR_RANGE,         /* a value is out of range (codes, lengths, sizes) */
    SRT_ERR_NOT_FOUND,     /* a named tensor, file or key is missing */
    SRT_ERR_UNSUPPORTED,   /* valid but not handled (architecture, dtype, option) */
    SRT_ERR_NOMEM,         /* an allocation failed */
    SRT_ERR_BACKEND,       /* a compute backend failed (CUDA, cuBLAS, NCCL, BLAS) */
    SRT_ERR_NO_DEVICE,     /* the requested device is not available */
    SRT_ERR_FULL,          /* a bounded resource (KV cache, queue) is full */
    SRT_ERR_CANCELLED      /* the caller cancelled the operation */
} srt_status;

/* What this library was built with (`snacrt --version`). Strings are static. */
typedef struct srt_build_info {
    const char *version;      /* "0.1.0" */
    const char *git_commit;   /* the source tree's commit when the build was configured ("abc123def456", with
                                 "-dirty" when it had uncommitted changes; "unknown" outside a git checkout) */
    int cuda;                 /* the CUDA backend is built with nvcc */
    int cudasim;              /* the "cuda" backend runs the CUDA kernels on the CPU simulator (tests/cudasim) */
    int nccl;                 /* tensor parallelism over NCCL */
    int mpi;                  /* multi-process tensor parallelism over MPI */
    const char *blas;         /* the CPU BLAS as it describes itself ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...") */
    const char *compiler;     /* "gcc 12.2.0" */
} srt_build_info;
void srt_get_build_info(srt_build_info *out);

/* A compute device this process can use (`snacrt devices`). */
typedef struct srt_device_info {
    char name[16];            /* the --device value: "cpu", "cuda:0", ... */
    char model[128];          /* CPU model name / CUDA device name */
    int cores;                /* CPU: online logical cores; CUDA: multiprocessors */
    char features[128];       /* CPU: the SIMD extensions detected that our kernels use ("avx2 fma f16c avx512f");
                                 CUDA: "sm_90" (compute capability) */
    int64_t memory_bytes;     /* CPU: physical memory; CUDA: global memory (0 = unknown) */
    int simulated;            /* the CUDA device is the CPU simulator (tests/cudasim) */
} srt_device_info;
/* The devices of this machine: the CPU first, then each CUDA device. Fills up to cap entries and sets *n to the
 * number filled. cuda_note (may be NULL) receives "" when CUDA devices were found, else why there is none: this
 * build has no CUDA backend, the NVIDIA driver is missing or too old, or no device is visible. Never fails for a
 * missing GPU (that is reported in cuda_note); SRT_ERR_INVALID_ARG for a NULL devs / n or cap < 1. */
srt_status srt_list_devices(srt_device_info *devs, int cap, int *n, char *cuda_note, size_t note_size);

/* Name of a status ("SRT_ERR_FORMAT"). */
const char *srt_status_name(srt_status status);
/* The message of the last failure on this thread ("" if none). */
const char *srt_last_error(void);
/* Forget the last failure on this thread. */
void srt_clear_error(void);
/* Record a failure message for this thread and return status (printf format): for callbacks and wrappers that
 * report through srt_last_error like the library does. */
srt_status srt_error(srt_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prefix the current message with more context ("loading X: " + old message) and return status. */
srt_status srt_error_prefix(srt_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Read a whole file into a malloc'd buffer with a NUL after its *size bytes (free with free()); size may be NULL.
 * For srt_codes_parse and the like. SRT_ERR_IO naming the path when it cannot be read. */
srt_status srt_read_file(const char *path, char **data, size_t *size);

/* ---------------------------------------------------------------- codec */

typedef struct srt_codec srt_codec;

typedef struct srt_codec_info {
    int sample_rate;          /* Hz */
    int hop_length;           /* samples per finest latent frame (prod(encoder_rates)) */
    int n_levels;             /* number of codebooks (3 or 4) */
    int vq_strides[8];        /* coarse first; level L has one code per hop*vq_strides[L] samples */
    int codebook_size;
    int codebook_dim;
    int latent_dim;
    int encoder_dim, decoder_dim;
    int encoder_rates[8], decoder_rates[8], n_rates;
    int attn_window;          /* 0 when the model has no local attention */
    int depthwise, noise;
    int64_t n_params;
    int pad_multiple;         /* input is right-padded to a multiple of this (hop * lcm(stride0, window)) */
} srt_codec_info;

typedef struct srt_codec_options {
    const char *backend;      /* "cpu" (default), "cpu-ref", "cuda", "cuda:N" */
    int n_threads;            /* 0 = all cores */
    const char *precision;    /* dense convs: NULL or "fp32" (default; exact against the golden codes), "tf32" or
                               * "bf16" (GPU tensor cores; the CPU backends refuse them). bench/PRECISION.md */
} srt_codec_options;

/* Codes of one signal: level L holds n_frames[L] codes (coarse first). */
typedef struct srt_codes {
    int n_levels;
    int64_t n_frames[8];
    int32_t *codes[8];        /* owned: free with srt_codes_free */
    int64_t n_samples;        /* signal length at the model rate (0 = unknown) */
} srt_codes;

/* Load a model folder as published on Hugging Face (config.json + model.safetensors or pytorch_model.bin). */
srt_status srt_codec_load(const char *model_dir, const srt_codec_options *opts, srt_codec **out);
void srt_codec_free(srt_codec *codec);
srt_status srt_codec_get_info(const srt_codec *codec, srt_codec_info *info);

/* Encode a batch of mono signals at the model rate, of any lengths; codes[b] receives signal b's codes,
 * identical to what it gets when encoded alone. latents (optional, may be NULL): latents[b] receives a malloc'd
 * (latent_dim, T'_b) encoder output, quantized[b] the quantized latent z_q of the same shape. */
srt_status srt_codec_encode(srt_codec *codec, int batch, const float *const *audio, const int64_t *n_samples,
                            srt_codes *codes, float **latents, float **quantized);

/* Decode a batch of code sets. audio[b] receives a malloc'd signal of n_out[b] samples: the decoder output
 * (n_frames[last] * hop samples), cut to codes[b].n_samples when that is known and shorter.
 * noise_seed < 0: decoder noise off; otherwise deterministic noise from that seed (per sample position). */
srt_status srt_codec_decode(srt_codec *codec, int batch, const srt_codes *codes, int64_t noise_seed,
                            float **audio, int64_t *n_out);

/* Check a code set against a model: level count, lengths consistent with the strides, codes in range. */
srt_status srt_codes_validate(const srt_codec_info *info, const srt_codes *codes, const char *what);
void srt_codes_free(srt_codes *codes);

/* Encode one long signal in bounded memory: the encoder runs on windows of about chunk_samples (rounded up to
 * the model's pad_multiple) plus a context covering its receptive field on each side, keeping only each window's
 * own latent frames. codes equal srt_codec_encode of the whole signal (up to ties between near-equal codewords). */
srt_status srt_codec_encode_long(srt_codec *codec, const float *audio, int64_t n_samples, int64_t chunk_samples,
                                 srt_codes *codes);

/* Push-mode form of srt_codec_encode_long for a signal that arrives in pieces (e.g. decoded block by block from a
 * file): the stream holds one encoder window (chunk + 2 * context samples) whatever the signal length, and hands
 * out the codes of each span as soon as its right context has arrived. The codes of all push and finish calls,
 * concatenated level by level, equal srt_codec_encode_long of the whole signal with the same chunk_samples
 * (srt_codec_encode_long is open + one push + finish), whatever the sizes of the pieces. */
typedef struct srt_codec_encode_stream srt_codec_encode_stream;
srt_status srt_codec_encode_stream_open(srt_codec *codec, int64_t chunk_samples, srt_codec_encode_stream **out);
/* Append n samples (n may be 0). new_codes receives the codes of the spans completed by this call: n_levels set,
 * n_frames[L] new codes per level (0 and NULL when none), n_samples 0; free with srt_codes_free. */
srt_status srt_codec_encode_stream_push(srt_codec_encode_stream *s, const float *audio, int64_t n,
                                        srt_codes *new_codes);
/* End of the signal: the remaining codes, with new_codes->n_samples = all samples pushed. SRT_ERR_RANGE when
 * nothing was pushed. After finish or a failure the stream only accepts srt_codec_encode_stream_free. */
srt_status srt_codec_encode_stream_finish(srt_codec_encode_stream *s, srt_codes *new_codes);
void srt_codec_encode_stream_free(srt_codec_encode_stream *s);
/* Append src's codes to dst level by level (a zeroed dst takes src's level count); n_samples is left alone. */
srt_status srt_codes_append(srt_codes *dst, const srt_codes *src);

/* ---- streaming decode (host/snac/snac_stream.c) ----
 * Codes arrive a "frame group" at a time: one coarse (level-0) code and the finer codes under it, i.e. level L
 * gets vq_strides[0] / vq_strides[L] codes per group (24 kHz model: 1 + 2 + 4 = 7 codes, 2048 samples, 85 ms).
 * Audio for a group is emitted as soon as the groups after it cover the decoder's receptive field; the audio of
 * all pushes concatenated equals srt_codec_decode of all the codes at once (within 1e-5, same backend, same
 * noise_seed), and each group costs about one group of decoder work (every layer keeps its left context). */
typedef struct srt_codec_stream srt_codec_stream;

/* Open a stream on a codec (noise_seed as in srt_codec_decode). Many streams may share one codec. */
srt_status srt_codec_stream_open(srt_codec *codec, int64_t noise_seed, srt_codec_stream **out);
void srt_codec_stream_free(srt_codec_stream *stream);
/* Groups that must follow a group before its audio is final (the stream's lookahead). */
int srt_codec_stream_lookahead(const srt_codec_stream *stream);
/* Groups a new stream needs before its first audio: the first push after which a sample is final (every push
 * emits all the samples that are final, not whole groups, so this is <= 1 + lookahead; 24 kHz: 3 of 1 + 3). */
int srt_codec_stream_first_audio_groups(const srt_codec_stream *stream);
/* Samples one group decodes to (hop_length * vq_strides[0]). */
int64_t srt_codec_stream_group_samples(const srt_codec_stream *stream);

/* Push to n streams (all opened on the same codec) in one batched decoder call. chunks[i] holds whole groups
 * (n_frames[L] = n_groups * vq_strides[0] / vq_strides[L]; 0 groups is allowed); final[i] != 0 ends stream i
 * (its remaining audio is flushed; later pushes fail). audio[i] receives a malloc'd block of n_out[i] new
 * samples (NULL when n_out[i] == 0). Codes are validated first: on an error nothing has changed. */
srt_status srt_codec_stream_push(int n, srt_codec_stream *const *streams, const srt_codes *chunks,
                                 const int *final, float **audio, int64_t *n_out);

/* Decode n whole code sequences in bounded memory (host/snac/snac_decode_streamed.c): the items are pushed through
 * streaming decoders together, at most chunk_groups groups each per push (< 1: 64), and every piece of audio is
 * handed to sink(user, item, samples, n) in order as soon as it is final, cut at the item's n_samples when set.
 * Memory is O(n * chunk_groups) whatever the lengths; codes are validated as by srt_codec_decode, whose audio
 * this equals (bit for bit on the cpu backend). A sink error stops the decode and is returned. */
typedef srt_status (*srt_audio_sink)(void *user, int item, const float *samples, int64_t n);
srt_status srt_codec_decode_streamed(srt_codec *codec, int n, const srt_codes *codes, int64_t noise_seed,
                                     int64_t chunk_groups, srt_audio_sink sink, void *user);

/* ---------------------------------------------------------------- language model (host/lm) */
/* A Llama-family decoder (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM) with a paged KV cache. */

typedef struct srt_lm srt_lm;

typedef struct srt_lm_options {
    const char *backend;      /* "cpu" (default), "cpu-ref", "cuda", "cuda:N" */
    int n_threads;            /* 0 = all cores */
    int kv_block_size;        /* tokens per KV-cache block (0 = 16) */
    int64_t kv_max_tokens;    /* KV-cache capacity in tokens over all sequences (0 = 8192) */
    int max_batch_tokens;     /* largest number of tokens one forward call takes (0 = 2048); longer prefills
                                 are split into chunks by srt_lm_generate */
    int tp;                   /* tensor-parallel ranks (0 or 1 = none): heads, FFN columns and vocabulary split
                                 over tp backend instances (threads on the CPU backends); n_heads and
                                 intermediate_size must divide by tp, n_kv_heads must divide or be divided by it */
    int mpi;                  /* 0: the tp ranks are threads of this process. 1: each MPI process is one rank
                                 (processes started by mpirun / srun; MPI initialized on first use, finalized at
                                 exit): MPI_COMM_WORLD is split into consecutive groups of tp processes (world size
                                 a multiple of tp), each group holds one model, the groups are data-parallel
                                 replicas (srt_lm_info dp_rank). Every process of a group must make the same srt_lm_*
                                 calls with the same arguments; srt_lm_generate keeps them in lockstep (rank 0's
                                 sampled ids are broadcast) and srt_lm_forward gives every process the full logits.
                                 "cuda": NCCL across processes, GPU = first device + rank on the node. Also valid
                                 with tp <= 1 (data parallel only). SRT_ERR_UNSUPPORTED in a build without MPI. */
    const char *kv_dtype;     /* KV-cache element type: "f32", "bf16" or "fp8" (e4m3 with a power-of-two scale per
                                 token and KV head: half bf16's bytes again, error budget in tests/test_lm_kv_bf16.c);
                                 NULL = the environment's SNACRT_KV_DTYPE, else the backend's default ("cuda": bf16,
                                 half the bytes per decode step; "cpu",
                                 "cpu-ref": f32). "cpu" takes f32 only (others refused with SRT_ERR_UNSUPPORTED). */
    const char *lm_precision; /* Linear layers on bf16 weights: "bf16" (activations rounded to bf16 once: "cpu":
                                 vdpbf16ps on AVX-512 BF16 CPUs, README "LM precision on cpu"; "cuda": one bf16
                                 tensor-core pass) or "exact" (f32-level: "cpu" f32 activations, "cuda" split hi + lo);
                                 NULL = the environment's SNACRT_CPU_LM_PRECISION / SNACRT_CUDA_LM_PRECISION, else
                                 bf16. "cpu-ref" ignores it; an unknown name is SRT_ERR_INVALID_ARG on every backend. */
    const char *weights_dtype;/* Linear weights and LM head: "stored" (as in the files) or "int8" (per-output-channel
                                 symmetric int8, quantized at load time or read pre-quantized: docs/int8-weights.md;
                                 half bf16's bytes per decode step; error budget in tests/test_lm_int8.c); NULL =
                                 $SNACRT_LM_WEIGHTS, else stored. "cpu-ref" and "cuda"; "cpu" and tp > 1 refuse int8
                                 with SRT_ERR_UNSUPPORTED. */
} srt_lm_options;

typedef struct srt_lm_info {
    char architecture[64];    /* "LlamaForCausalLM", ... */
    int vocab_size, hidden_size, n_layers, n_heads, n_kv_heads, head_dim, intermediate_size;
    int max_position;         /* max_position_embeddings, or the sliding window when that is shorter */
    int sliding_window;       /* the config's attention window when it cut max_position (0: none) */
    int32_t bos_id;           /* -1 when the config has none */
    int32_t eos_ids[8]; int n_eos;
    int64_t n_params;
    int kv_block_size, kv_n_blocks;
    int tp_size, tp_rank;     /* tensor-parallel ranks and this process's rank (0 unless srt_lm_options.mpi) */
    int dp_size, dp_rank;     /* data-parallel groups and this process's group (1 and 0 unless mpi); a CLI prints
                                 from tp_rank 0 of dp_rank 0 only */
    int n_threads;            /* host threads the backend's ops run on (srt_lm_options.n_threads, 0 resolved to the
                                 cores; "cpu-ref": 1; "cuda": 0); per rank with tp */
    char lm_precision[8];     /* "cpu", "cuda": "bf16" or "exact" (srt_lm_options.lm_precision); "" on cpu-ref */
    char weights_dtype[8];    /* the Linear weights as held: "int8" (srt_lm_options.weights_dtype), "bf16", "f16", "f32" */
} srt_lm_info;

/* Load a Hugging Face folder: config.json + model.safetensors (or a sharded index); tokenizer.json is loaded when
 * present (srt_lm_encode/decode). Weights stay in their stored dtype (bf16/f16/f32); compute is f32. */
srt_status srt_lm_load(const char *model_dir, const srt_lm_options *opts, srt_lm **out);
void srt_lm_free(srt_lm *lm);
srt_status srt_lm_get_info(const srt_lm *lm, srt_lm_info *info);
/* additions (#14): a handle holding only the folder's tokenizer.json (SRT_ERR_NOT_FOUND without one) and, when
 * present, config.json: no weights are mapped, no backend or KV cache is made. Only srt_lm_encode, srt_lm_decode,
 * srt_lm_get_info (sizes from config.json, no KV cache) and srt_lm_free may be called on it. */
srt_status srt_lm_load_tokenizer(const char *model_dir, srt_lm **out);

/* Text <-> ids with the model's tokenizer.json (SRT_ERR_NOT_FOUND when the folder had none). Output malloc'd. */
srt_status srt_lm_encode(const srt_lm *lm, const char *text, int add_bos, int32_t **ids, size_t *n_ids);
srt_status srt_lm_decode(const srt_lm *lm, const int32_t *ids, size_t n, int skip_special, char **text);

/* ---- step-level API (for schedulers): sequences live in the paged KV cache ---- */
/* Open an empty sequence; its id is >= 0. */
srt_status srt_lm_seq_open(srt_lm *lm, int *seq_id);
/* End a sequence and give its KV blocks back. */
void srt_lm_seq_close(srt_lm *lm, int seq_id);
/* Tokens cached for a sequence (its next position). */
int srt_lm_seq_length(const srt_lm *lm, int seq_id);
/* Free KV blocks / blocks a sequence of n tokens needs: for admission control. */
int srt_lm_kv_free_blocks(const srt_lm *lm);
int srt_lm_kv_blocks_for(const srt_lm *lm, int n_tokens);

/* One forward over a batch: sequence seq_ids[s] gets n_new[s] new tokens tokens[s][0..n_new[s]) (prefill,
 * a prefill chunk or one decode token), appended to its cache. logits (host, f32): when all_logits,
 * (sum n_new, vocab) for every new token in order; else (n_seqs, vocab) for the last new token of each sequence.
 * logits may be NULL when the caller does not need them on the host (e.g. sampling on the device).
 * SRT_ERR_FULL (nothing changed) when the KV cache has no room: the caller may queue and retry. */
srt_status srt_lm_forward(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                          const int *n_new, int all_logits, float *logits);

/* ---- sampling ---- */
typedef struct srt_sampling_params {
    float temperature;          /* <= 0: greedy (argmax, lowest id on ties) */
    int top_k;                  /* <= 0: off */
    float top_p;                /* <= 0 or >= 1: off */
    float min_p;                /* <= 0: off (keep tokens with p >= min_p * p_max) */
    float repetition_penalty;   /* <= 0 or 1: off (HF: logit/r if > 0 else logit*r, over prompt + output) */
    float frequency_penalty;    /* OpenAI: logit -= count * f, over output tokens */
    float presence_penalty;     /* OpenAI: logit -= p if the token occurred in the output */
    uint64_t seed;              /* one RNG stream per sequence: same seed, same output, whatever the batch */
    int max_tokens;             /* <= 0: 256 */
    const int32_t *stop_ids;    /* generation ends after emitting one of these (it is included in the output) */
    int n_stop_ids;
    int32_t allowed_begin, allowed_end; /* only ids in [begin, end) may be sampled; end <= begin: all */
} srt_sampling_params;

/* temperature 1, top_k/top_p/min_p off, penalties off, seed 0, max_tokens 256, no stop ids, all ids allowed. */
void srt_sampling_defaults(srt_sampling_params *p);

typedef struct srt_sampler srt_sampler;
srt_status srt_sampler_create(const srt_sampling_params *p, int vocab_size, srt_sampler **out);
void srt_sampler_free(srt_sampler *s);
/* Tokens that count for the repetition penalty without being output (the prompt). */
srt_status srt_sampler_add_prompt(srt_sampler *s, const int32_t *ids, size_t n);
/* Pick the next token from one row of logits (vocab_size, not modified) and record it as output. */
srt_status srt_sampler_sample(srt_sampler *s, const float *logits, int32_t *token);

/* ---- whole generation ---- */
typedef struct srt_lm_request {
    const int32_t *prompt;      /* host ids */
    size_t n_prompt;
    srt_sampling_params sampling;
} srt_lm_request;

typedef enum srt_finish_reason { SRT_FINISH_LENGTH = 0, SRT_FINISH_STOP } srt_finish_reason;

typedef struct srt_lm_output {
    int32_t *ids;               /* generated ids (malloc'd; free with srt_lm_output_free) */
    size_t n_ids;
    srt_finish_reason finish;
} srt_lm_output;

/* Generate for a batch of requests together (prompts of any lengths); results equal one-at-a-time runs. */
srt_status srt_lm_generate(srt_lm *lm, int n_requests, const srt_lm_request *requests, srt_lm_output *outputs);
void srt_lm_output_free(srt_lm_output *out);

/* ---------------------------------------------------------------- end of language model */

#ifdef __cplusplus
}
#endif

/* The rest of the public API (each of these includes this file first). */
#include "snacrt_audio.h"
#include "snacrt_codes.h"
#include "snacrt_tokenizer.h"
#include "snacrt_tts.h"
#include "snacrt_dataset.h"

#endif
