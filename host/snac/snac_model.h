/* snac_model.h: the SNAC codec model held on a backend: configuration, folded weights and the graph entry
 * points (encoder, residual VQ, decoder). Built from a Hugging Face folder by snac_load.c. */
#ifndef SRT_SNAC_MODEL_H
#define SRT_SNAC_MODEL_H

#include "backend.h"

#define SNAC_MAX_RATES 8
#define SNAC_MAX_LEVELS 8
#define SNAC_MAX_HOP 65536      /* prod(encoder_rates) at most (real models: 512) */

typedef struct snac_config {
    int sampling_rate;
    int encoder_dim, decoder_dim, latent_dim;
    int n_enc_rates, encoder_rates[SNAC_MAX_RATES];
    int n_dec_rates, decoder_rates[SNAC_MAX_RATES];
    int attn_window;          /* 0 = none */
    int codebook_size, codebook_dim;
    int n_levels, vq_strides[SNAC_MAX_LEVELS];
    int noise, depthwise;
    int hop_length;           /* prod(encoder_rates) */
    int pad_multiple;         /* hop * lcm(vq_strides[0], attn_window or 1) */
} snac_config;

/* A convolution with folded weight norm; w and b are backend memory. */
typedef struct snac_conv {
    int in_ch, out_ch, kernel, stride, dilation, padding, groups;
    float *w;                 /* (out_ch, in_ch/groups, kernel) */
    float *b;                 /* (out_ch) or NULL */
} snac_conv;

typedef struct snac_convt {
    int in_ch, out_ch, kernel, stride, padding, output_padding;
    float *w;                 /* (in_ch, out_ch, kernel) */
    float *b;                 /* (out_ch) */
} snac_convt;

/* Snake -> conv k7 dilated (depthwise or dense) -> Snake -> conv 1x1, plus the input. */
typedef struct snac_residual_unit {
    float *alpha1, *alpha2;   /* (dim) each */
    snac_conv conv1, conv2;
} snac_residual_unit;

typedef struct snac_local_mha {
    int dim, heads, head_dim, window;
    float *norm_w, *norm_b;   /* (dim) */
    float *qkv_w;             /* (3*dim, dim) */
    float *out_w;             /* (dim, dim) */
} snac_local_mha;

typedef struct snac_encoder_block {
    snac_residual_unit units[3];
    float *alpha;             /* (in_dim) */
    snac_conv down;           /* in_dim -> out_dim, kernel 2*stride, stride */
} snac_encoder_block;

typedef struct snac_decoder_block {
    float *alpha;             /* (in_dim) */
    snac_convt up;            /* in_dim -> out_dim */
    int has_noise;
    snac_conv noise_linear;   /* out_dim -> out_dim, 1x1, no bias */
    snac_residual_unit units[3];
} snac_decoder_block;

typedef struct snac_vq_level {
    int stride;
    snac_conv in_proj;        /* latent -> codebook_dim, 1x1 */
    snac_conv out_proj;       /* codebook_dim -> latent, 1x1 */
    float *codebook;          /* (codebook_size, codebook_dim) */
    float *codebook_n;        /* (codebook_size, codebook_dim) rows L2-normalized */
} snac_vq_level;

typedef struct snac_model {
    snac_config cfg;
    srt_backend be;
    int64_t n_params;
    /* encoder */
    snac_conv enc_in;
    snac_encoder_block enc_blocks[SNAC_MAX_RATES];
    int enc_has_attn;
    snac_local_mha enc_attn;
    snac_conv enc_out;
    /* quantizer */
    snac_vq_level vq[SNAC_MAX_LEVELS];
    /* decoder */
    snac_conv dec_in_dw;      /* depthwise models: latent -> latent k7 depthwise */
    snac_conv dec_in;         /* latent -> decoder_dim (1x1 when depthwise, k7 otherwise) */
    int dec_has_attn;
    snac_local_mha dec_attn;
    snac_decoder_block dec_blocks[SNAC_MAX_RATES];
    float *dec_alpha;         /* (decoder_dim / 2^n) */
    snac_conv dec_out;        /* -> 1 channel, k7 */
    /* all backend allocations of weights, for freeing */
    void **allocs;
    size_t n_allocs, cap_allocs;
    /* input / output buffers of recorded passes (codec_api.c): kept across calls and only grown, so a recording's
     * key (which names them) comes back */
    void *io_buf[SNAC_MAX_LEVELS + 3];
    size_t io_bytes[SNAC_MAX_LEVELS + 3];
} snac_model;

/* Parse config.json text (Hugging Face SNAC format); `what` names the file in errors. */
srt_status snac_config_parse(const char *json_text, const char *what, snac_config *cfg);
/* Load a model folder onto a backend. */
srt_status snac_model_load(const char *dir, const char *backend_name, int n_threads, snac_model **out);
void snac_model_free(snac_model *m);
/* The model behind a public codec handle (codec_api.c). */
snac_model *srt_codec_model(srt_codec *codec);

/* Graph entry points (backend memory; lengths per batch item in `valid`, host arrays).
 * encode: audio (batch, 1, len) with len a multiple of pad_multiple and valid[b] too ->
 *         z (batch, latent, len/hop) encoder output. */
srt_status snac_encoder_forward(snac_model *m, int batch, int len, const int *valid, const float *audio, float *z);
/* quantize: z (batch, latent, T) -> codes[level] (batch, T/stride_level) int32, z_q (batch, latent, T). */
srt_status snac_quantize(snac_model *m, int batch, int T, const int *valid, const float *z, int32_t **codes,
                         float *z_q);
/* from codes: codes[level] (batch, T/stride_level) -> z_q (batch, latent, T). */
srt_status snac_dequantize(snac_model *m, int batch, int T, int32_t *const *codes, float *z_q);
/* The same with the caller's scratch: q_buf (batch, codebook_dim, T) and o_buf (batch, latent_dim, T) floats. */
srt_status snac_dequantize_into(snac_model *m, int batch, int T, int32_t *const *codes, float *z_q, float *q_buf,
                                float *o_buf);
/* decode: z_q (batch, latent, T) -> audio (batch, 1, T*hop). noise_seed < 0: no noise. */
srt_status snac_decoder_forward(snac_model *m, int batch, int T, const int *valid, const float *z_q,
                                int64_t noise_seed, float *audio);

/* A conv of the model over x (batch, in_ch, in_len) with `padding` zeros on each side; inputs past valid[b]
 * (NULL: none) read as zero; alpha: Snake before the conv (NULL: none); residual added (NULL: none; row stride
 * res_ld, 0: out_len, see srt_conv1d_args). y (batch, out_ch, out_len), out_len from the conv's kernel, dilation
 * and stride. */
srt_status snac_conv_forward(snac_model *m, const snac_conv *c, int batch, int in_len, int padding,
                             const int *valid, const float *alpha, const float *x, const float *residual, int res_ld,
                             float *y);

/* LocalMHA on x (batch, dim, len) in place (x += attention(x)); len a multiple of the window.
 * scratch: 5 * batch * dim * len floats. */
srt_status snac_local_mha_forward(snac_model *m, const snac_local_mha *a, int batch, int len, float *x,
                                  float *scratch);

/* Largest activation (channels * frames) per input frame of the finest latent rate, for workspace sizing. */
int64_t snac_decoder_max_activation(const snac_model *m);
int64_t snac_encoder_max_activation(const snac_model *m);

/* Deterministic standard normal noise for decoder block `block` at absolute sample position t. */
float snac_noise_value(int64_t seed, int block, int64_t t);

#endif
