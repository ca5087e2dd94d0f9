/* snac_stages.h: the SNAC decoder as one list of stages, run by both decoders: offline (snac_graph.c, the whole
 * sequence with the reference's zero padding) and streaming (snac_stream_exec.c, each output's input window
 * gathered, no padding). A stage starts with the one op of its layer that reaches over time (a k7 conv, the
 * transposed conv, the attention window) and ends with the frame-local ops after it (1x1 convs, the noise, the
 * residual add, tanh). */
#ifndef SRT_SNAC_STAGES_H
#define SRT_SNAC_STAGES_H

#include "snac/snac_model.h"

#define SNAC_MAX_STAGES (3 + SNAC_MAX_RATES * 4)

typedef enum snac_stage_kind {
    SNAC_STAGE_IN = 0,   /* [depthwise k7 ->] input conv (k7 or 1x1): latent -> decoder_dim */
    SNAC_STAGE_ATTN,     /* LocalMHA over windows aligned to absolute frame 0 (in place, residual) */
    SNAC_STAGE_UP,       /* Snake + transposed conv (upsampling by `stride`) [+ noise block] */
    SNAC_STAGE_UNIT,     /* residual unit: x + conv1x1(snake(conv_k7_dilated(snake(x)))) */
    SNAC_STAGE_OUT       /* Snake + conv k7 -> 1 channel, tanh */
} snac_stage_kind;

typedef struct snac_stage {
    snac_stage_kind kind;
    int block, unit;          /* decoder block (UP, UNIT) and residual unit index (UNIT) */
    int in_ch, out_ch;
    int halo;                 /* conv stages: frames read on each side of an output frame (streaming plan) */
    int stride, pad;          /* UP: upsampling factor and the transposed conv's padding */
    int window;               /* ATTN: window length in frames */
    int hist_cap;             /* input frames a stream keeps between pushes (streaming plan) */
} snac_stage;

/* The decoder's layer list of model m into st[SNAC_MAX_STAGES]; returns the number of stages. Sets kind, block,
 * unit, channels, stride / pad (UP) and window (ATTN); the streaming plan adds halos and checks. */
int snac_decoder_stages(const snac_model *m, snac_stage *st);

/* Output length of a stage for an input of in_len frames. */
int64_t snac_stage_out_len(const snac_stage *s, int64_t in_len);

/* One stage's operands (backend memory). Offline (padded = 1): x holds the whole sequence, out_len = in_len
 * (UP: in_len * stride), convs pad with zeros and mask inputs past valid[b] (valid_out[b] after UP).
 * Streaming (padded = 0): x holds each output's full input window, convs run without padding. */
typedef struct snac_stage_args {
    int batch;
    int in_len, out_len;      /* columns of x and of the output */
    int padded;
    const int *valid, *valid_out;   /* padded: per-item valid input / output lengths (host arrays) */
    float *x;                 /* (batch, in_ch, in_len); ATTN: updated in place and is the output */
    float *t;                 /* scratch: (batch, max(in_ch, out_ch), out_len); ATTN: 5 * batch * ch * len */
    float *res;               /* UNIT: residual (batch, ch, res_ld), may be y (then res_ld 0) */
    int res_ld;               /* UNIT: row stride of res, 0 = out_len (another only where the backend's ops set
                               * conv1d_res_ld) */
    float *y;                 /* output (batch, out_ch, out_len); UNIT: may be x, UP: not x (ATTN: unused) */
                              /* UP: t may be x (read only before t is written) */
    const float *noise;       /* UP: (batch, out_len) standard normal noise, NULL: no noise block */
} snac_stage_args;

/* Run one stage; *out receives the buffer holding its output (y, or x for ATTN). */
srt_status snac_stage_forward(snac_model *m, const snac_stage *st, const snac_stage_args *a, float **out);

#endif
