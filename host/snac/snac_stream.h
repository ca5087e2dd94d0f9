/* snac_stream.h: internals of the streaming SNAC decoder (snac_stream*.c).
 * It runs the decoder's stage list (snac_stages.h). A stage maps absolute input frames to absolute output frames;
 * the functions here say which outputs are computable from the inputs received so far (exactly the ones whose
 * offline values are already determined) and which inputs must still be kept. */
#ifndef SRT_SNAC_STREAM_H
#define SRT_SNAC_STREAM_H

#include "snac/snac_stages.h"

#define SNAC_STREAM_MAX_STAGES SNAC_MAX_STAGES

typedef struct snac_stream_plan {
    int n_stages;
    snac_stage st[SNAC_STREAM_MAX_STAGES];
    int group_frames;         /* latent frames per group (vq_strides[0]) */
    int64_t group_samples;    /* group_frames * hop */
    int lookahead;            /* groups that must follow a group before its audio is final */
    int first_audio_groups;   /* groups pushed (not final) before the first sample is final: the push that
                               * emits the first audio (each push emits every final sample, not whole groups) */
    /* Column layouts of a push (snac_stream_exec.c): a push lays every stream's frames side by side in one row per
     * channel and runs each stage once, as batch 1, over that row. gather[k]: stage k starts a layout of its own
     * (its new input frames are copied into it); otherwise it reads the previous stage's output where it was
     * written, at the same columns (residual units and the output conv in place). Stage 0, the attention, the
     * stage after an upsampling or an attention stage, and an upsampling stage whose layout would be mostly
     * left context (few frames per group at its rate) gather. */
    unsigned char gather[SNAC_STREAM_MAX_STAGES];
    /* The backend's choice (snac_stream_plan_make): on a backend whose tensors are host memory and whose conv1d
     * reads a residual with a row stride (the cpu backend) compute costs per column and a copy is cheap, so every
     * stage gathers its windows and a conv stage (IN, UNIT, OUT) runs without padding: valid[k] = 1, its output
     * row has w - 2 halo columns and output frame f of a stream lies at column col0 + f - halo (only the windows'
     * outputs are computed, not the same-padded context columns), a residual unit reading its residual in place
     * from its input row (res_ld). row_align: the rows' column multiple (8 on a device, 1 on the cpu). */
    unsigned char valid[SNAC_STREAM_MAX_STAGES];
    int row_align;
} snac_stream_plan;

/* A stream's progress through one stage. Input frames [hist_from, in_have) that later outputs still read are
 * kept on the backend, channel-major, at state + hist_off: (in_ch, hist_cap), frame hist_from in column 0 (the
 * layout of the stage input, so a push copies them as blocks: no transposes, no gathers). A push writes the next
 * kept frames to the spare block at state + hist_spare; the two swap when the push commits. */
typedef struct snac_stage_state {
    int64_t in_have;          /* input frames received */
    int64_t done;             /* output frames produced */
    int64_t hist_from;        /* input frame of the first kept column */
    int64_t hist_rows;        /* kept frames (columns) */
    size_t hist_off;          /* floats into the stream's state block */
    size_t hist_spare;        /* the other (in_ch, hist_cap) block */
} snac_stage_state;

/* Workspace of a push, kept by the stream that leads a push (streams[0]) for its next pushes: device buffers
 * grow to the largest push seen and are not re-allocated (and re-faulted) on every push. CH0 / CH1 hold the
 * layouts' rows, U an upsampling stage's output row, T a stage's scratch, Z a zero row, Y the dequantized latent;
 * PACK holds the push's one upload (codes, the block-copy table, noise); VQ_Q / VQ_O are the dequantizer's scratch.
 * Host arrays: the pack's staging copy, the push plan (per stage and stream, per stage) and the audio download,
 * kept likewise: a steady stream of equal pushes allocates nothing. */
enum { SNAC_WS_CH0 = 0, SNAC_WS_CH1, SNAC_WS_U, SNAC_WS_Z, SNAC_WS_T, SNAC_WS_Y, SNAC_WS_PACK, SNAC_WS_VQ_Q,
       SNAC_WS_VQ_O, SNAC_WS_COUNT };
enum { SNAC_WH_PACK = 0, SNAC_WH_IO, SNAC_WH_SHAPE, SNAC_WH_RUN, SNAC_WH_AUDIO, SNAC_WH_COUNT };
typedef struct snac_stream_ws {
    void *buf[SNAC_WS_COUNT];           /* backend memory */
    size_t bytes[SNAC_WS_COUNT];
    void *host[SNAC_WH_COUNT];          /* host memory */
    size_t host_bytes[SNAC_WH_COUNT];
} snac_stream_ws;

struct srt_codec_stream {
    srt_codec *codec;
    snac_model *m;
    snac_stream_plan plan;
    int64_t noise_seed;
    int finished;             /* a final push was made */
    int failed;               /* a backend failure left the state unusable */
    int64_t n_groups;         /* groups received */
    int64_t emitted;          /* samples handed out */
    snac_stage_state ss[SNAC_STREAM_MAX_STAGES];
    float *state;             /* backend block of all stages' kept rows */
    snac_stream_ws ws;
};

void snac_stream_ws_free(snac_model *m, snac_stream_ws *ws);

/* Decode one push for n validated streams of one model: new_groups[i] groups of chunks[i]; final[i] ends stream i.
 * audio[i] / n_out[i] receive the new samples (NULL / 0 when none). */
srt_status snac_stream_run(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                           float **audio, int64_t *n_out);

srt_status snac_stream_plan_make(const snac_model *m, snac_stream_plan *plan);
/* Samples that are final (equal to the offline decode whatever codes follow) once g groups were pushed without a
 * final push: the prefix of the output every stage can compute from the first g groups. */
int64_t snac_stream_final_samples(const snac_stream_plan *plan, int64_t g);

/* Output frames of a stage that are final once `in_have` input frames have arrived (when `final`, the input
 * ends there and out_len frames exist); never less than `done`. */
int64_t snac_stage_avail(const snac_stage *s, int64_t in_have, int final, int64_t out_len, int64_t done);
/* First input frame that output frame `out` reads (may be negative: zero padding). */
int64_t snac_stage_first_input(const snac_stage *s, int64_t out);
/* One past the last input frame that output frame `out` reads. */
int64_t snac_stage_end_input(const snac_stage *s, int64_t out);

#endif
