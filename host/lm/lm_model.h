/* lm_model.h: internal structures of the Llama-family decoder: config, weights pointed into the (mmap'd or
 * uploaded) tensors, the paged KV cache and the forward scratch. Public API in include/snacrt.h. */
#ifndef SRT_LM_MODEL_H
#define SRT_LM_MODEL_H

#include "backend.h"
#include "lm/comm.h"
#include "lm/kv_cache.h"
#include "lm/lm_ops.h"
#include "snacrt_tokenizer.h"
#include "weights/weights.h"

/* Sane maxima for config.json fields (the largest published Llama-family models stay well inside them); with
 * them no product of two dimensions overflows an int64, and n_heads * head_dim is checked to stay <= LM_MAX_DIM. */
#define LM_MAX_DIM (1 << 20)
#define LM_MAX_LAYERS 1024
#define LM_MAX_HEADS 4096
#define LM_MAX_HEAD_DIM 2048
#define LM_MAX_VOCAB (1 << 24)
#define LM_MAX_POSITION (1 << 24)

typedef struct srt_lm_config {
    char architecture[64];
    int hidden, intermediate, n_layers, n_heads, n_kv_heads, head_dim, vocab, max_position;
    float rms_eps;
    double rope_theta;
    int tie_embeddings;
    int qkv_bias;                     /* Qwen2, or attention_bias: true */
    int32_t bos_id, eos_ids[8];
    int n_eos;
    /* rope scaling: 0 none, 1 llama3, 2 linear */
    int rope_scaling;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position;
    /* sliding-window attention (Mistral v0.1, Qwen2 with use_sliding_window): full attention is exact up to the
     * window, so max_position is cut to it (sliding past the window is not implemented); 0 = no window */
    int sliding_window;
} srt_lm_config;

/* Parse a Hugging Face config.json text; `path` names it in messages. */
srt_status srt_lm_config_parse(const char *json, const char *path, srt_lm_config *cfg);
/* Rotary inverse frequencies (head_dim/2), with the config's scaling applied (HF _compute_llama3_parameters). */
void srt_lm_rope_inv_freq(const srt_lm_config *cfg, float *inv_freq);

/* A weight matrix (rows, cols) = (out_features, in_features) in backend memory, in its stored dtype, or SRT_I8
 * codes with per-row f32 scales (srt_lm_options.weights_dtype "int8", docs/int8-weights.md). */
typedef struct srt_lm_matrix {
    const void *data;
    srt_dtype dtype;
    int rows, cols;
    const float *scale;               /* (rows) SRT_I8 only: row r's value = data[r, :] * scale[r] */
} srt_lm_matrix;

typedef struct srt_lm_layer {
    srt_lm_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
    /* Device backends: q|k|v rows concatenated (wq/wk/wv are views into it) and gate|up rows interleaved (row 2j
     * gate j, 2j+1 up j; w_gate/w_up unset), one GEMM each (lm_ops.h: linear_fused). data NULL: not fused. */
    srt_lm_matrix wqkv, w_gate_up;
    float *bq, *bk, *bv;              /* (n_heads*head_dim), (kv_dim), (kv_dim) f32 or NULL */
    float *attn_norm, *mlp_norm;      /* (hidden) f32 */
} srt_lm_layer;

/* Activations of one forward, grown on demand (backend memory). */
typedef struct srt_lm_scratch {
    int cap_tokens, cap_seqs, cap_logit_rows, cap_blocks;
    float *x;                 /* (tokens, hidden) residual stream */
    float *h;                 /* (tokens, hidden) normed */
    float *q, *att;           /* (tokens, n_heads*head_dim) */
    float *k, *v;             /* (tokens, kv_dim) */
    float *gate, *up;         /* (tokens, intermediate) */
    float *last;              /* (logit rows, hidden) rows picked for the LM head */
    float *logits;            /* (logit rows, vocab) */
    float *gathered;          /* (tp, logit rows, vocab) all-gathered logit slices; tensor parallel ranks only */
    int32_t *ids, *pos, *slot;/* (tokens) */
    int32_t *q_start, *n_q, *ctx_len, *last_row; /* (seqs) */
    int32_t *block_table;     /* (seqs, blocks) */
    unsigned epoch;           /* bumped whenever a buffer above is reallocated (recorded forwards hold pointers) */
} srt_lm_scratch;

struct srt_lm {
    srt_lm_config cfg;
    srt_backend be;
    const srt_lm_ops *ops;
    srt_weights *weights;
    srt_tokenizer *tokenizer;         /* NULL when the folder has no tokenizer.json */
    srt_lm_matrix embed, lm_head;
    float *final_norm;                /* (hidden) */
    float *inv_freq;                  /* (head_dim/2) */
    srt_lm_layer *layers;             /* (n_layers) */
    void **owned;                     /* backend buffers to free */
    size_t n_owned, cap_owned;
    srt_kv_cache *kv;
    srt_lm_scratch scratch;
    int max_batch_tokens;
    int64_t n_params;
    int weights_i8;                   /* the Linear weights are int8 per-channel (lm_quant.c), lm_head included */
    /* Tensor parallelism (tp_*.c). A rank is an srt_lm whose cfg holds its shard's sizes (n_heads, n_kv_heads,
     * intermediate, vocab = vocabulary slice) and whose comm is non-NULL; the srt_lm the caller holds is then a
     * leader with the full cfg, the weights, the tokenizer and tp (no backend; kv borrowed from rank 0). */
    srt_comm *comm;                   /* rank: its communicator; NULL without tensor parallelism */
    int vocab_start, vocab_len;       /* rank: owned vocabulary rows [vocab_start, vocab_start + vocab_len) */
    struct srt_lm_tp *tp;             /* leader: the ranks */
};

/* Record a backend buffer the model frees at the end. */
srt_status srt_lm_own(srt_lm *lm, void *ptr);
/* Pack n_parts host matrices (rows[i], cols) of one half dtype into one uploaded matrix: concatenated, or with
 * interleave (2 parts of equal rows) row j of each part in turn. Mixed or f32 dtypes: out->data NULL (not fused). */
srt_status srt_lm_pack_fused(srt_lm *lm, const char *const *src, const srt_dtype *dtype, const int *rows,
                             int n_parts, int cols, int interleave, srt_lm_matrix *out);
/* int8 per-channel weights (lm_quant.c, docs/int8-weights.md): the option / $SNACRT_LM_WEIGHTS ("stored" or
 * "int8"); rows quantized into q (row r at q + r*step*cols) and scale[r*step] (what names the tensor in errors);
 * one matrix; a layer's Linear weights (fuse: q|k|v and gate|up packed as on device backends). */
srt_status srt_lm_weights_i8_of(const srt_lm_options *opts, int *i8);
srt_status srt_lm_quantize_i8_rows(const void *src, srt_dtype dt, int rows, int cols, int8_t *q, float *scale,
                                   int step, const char *what);
srt_status srt_lm_bind_i8(srt_lm *lm, const char *name, int rows, int cols, srt_lm_matrix *m);
srt_status srt_lm_bind_layer_i8(srt_lm *lm, int l, int fuse, srt_lm_layer *L);
/* Load all tensors named by the config (lm_load.c). */
srt_status srt_lm_load_weights(srt_lm *lm);
void srt_lm_scratch_free(srt_lm *lm);
/* Find a tensor by name and check its shape against the config's (lm_load.c). */
srt_status srt_lm_find_tensor(const srt_lm *lm, const char *name, int ndim, const int64_t *shape,
                              const srt_tensor_view **out);
/* RoPE table, KV cache and batch limit of a model whose cfg and backend are set (lm_load.c). */
srt_status srt_lm_setup_runtime(srt_lm *lm, const srt_lm_options *opts);
/* Validate a forward batch; *n_tokens = sum of n_new (lm_forward.c). */
srt_status srt_lm_check_batch(const srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                              const int *n_new, int *n_tokens);
/* The compute of one forward on one model or rank, KV blocks already reserved; sequence lengths are not advanced.
 * logits (host): (rows, vocab), or for a rank (tp, rows, vocab slice) gathered, NULL to skip (lm_forward.c). */
srt_status srt_lm_forward_compute(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                                  const int *n_new, int n_tokens, int all_logits, float *logits);

#endif
