/* snacrt.h: the public C API of snacrt (SNAC codec + Llama-family LM inference).
 * Opaque handles, one status enum, init/free pairs. Every call returns an srt_status;
 * on failure srt_last_error() gives a message naming the input (thread-local). */
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

/* Name of a status ("SRT_ERR_FORMAT"). */
const char *srt_status_name(srt_status status);
/* The message of the last failure on this thread ("" if none). */
const char *srt_last_error(void);
/* Forget the last failure on this thread. */
void srt_clear_error(void);

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

#ifdef __cplusplus
}
#endif
#endif
