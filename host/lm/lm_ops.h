/* lm_ops.h: the language-model part of the backend op table (srt_backend_ops.lm) and its argument structs.
 * The transformer graph (host/lm/lm_forward.c) is written once against these ops plus the main table's gemm,
 * copy and axpby. Backends: cpu-ref (host/cpu/ref_lm.c, plain loops: the truth), cpu (host/cpu/cpu_lm.c).
 *
 * Conventions (as in backend.h): pointers are backend memory unless marked "host"; row-major; activations f32.
 * Tokens of a batch are laid out sequence after sequence: sequence s owns rows [q_start[s], q_start[s]+n_q[s]).
 * The paged KV cache of one layer is two buffers (n_blocks, block_size, n_kv_heads*head_dim) f32; a sequence's
 * position p lives in block block_table[s][p / block_size], row p % block_size.
 */
#ifndef SRT_LM_OPS_H
#define SRT_LM_OPS_H

#include "backend.h"

/* y[r,:] = x[r,:] / sqrt(mean(x[r,:]^2) + eps) * w. y may equal x. */
typedef struct srt_rmsnorm_args {
    int rows, dim;
    float eps;
    const float *x;          /* (rows, dim) */
    const float *w;          /* (dim) */
    float *y;                /* (rows, dim) */
} srt_rmsnorm_args;

/* In-place rotary embedding, Hugging Face rotate-half layout: for each head, pairs (i, i + head_dim/2) rotate by
 * angle pos[t] * inv_freq[i]. inv_freq already carries theta and any rope scaling (llama3). */
typedef struct srt_rope_args {
    int n_tokens, n_heads, head_dim;
    const int32_t *pos;      /* (n_tokens) absolute positions */
    const float *inv_freq;   /* (head_dim/2) */
    float *x;                /* (n_tokens, n_heads*head_dim), rotated in place */
} srt_rope_args;

/* Store the new tokens' keys and values into the paged cache: row t goes to flat slot slot[t]
 * (= block * block_size + offset) of k_cache / v_cache. */
typedef struct srt_kv_store_args {
    int n_tokens, kv_dim;
    const float *k, *v;      /* (n_tokens, kv_dim) each */
    const int32_t *slot;     /* (n_tokens) */
    float *k_cache, *v_cache;/* (n_blocks * block_size, kv_dim) each */
} srt_kv_store_args;

/* Paged causal attention for a batch of sequences, covering prefill (n_q[s] > 1), chunked prefill and decode
 * (n_q[s] == 1) in one call. Sequence s has ctx_len[s] tokens in the cache, the last n_q[s] of which are the new
 * queries (already stored with kv_store). Query i of s sits at position ctx_len[s]-n_q[s]+i and attends to
 * positions 0..that position. GQA: query head h reads kv head h / (n_heads / n_kv_heads). Scale 1/sqrt(head_dim).
 * Softmax in f32 with the running max (or better). */
typedef struct srt_paged_attn_args {
    int n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks;
    const float *q;               /* (n_tokens, n_heads*head_dim) */
    const float *k_cache, *v_cache; /* (n_blocks * block_size, n_kv_heads*head_dim) */
    const int32_t *block_table;   /* (n_seqs, max_blocks) */
    const int32_t *q_start;       /* (n_seqs) first row of s in q/out */
    const int32_t *n_q;           /* (n_seqs) */
    const int32_t *ctx_len;       /* (n_seqs) */
    float *out;                   /* (n_tokens, n_heads*head_dim) */
} srt_paged_attn_args;

/* out = silu(gate) * up elementwise (out may equal gate or up). */
typedef struct srt_swiglu_args {
    int64_t n;
    const float *gate, *up;  /* (n) each */
    float *out;              /* (n) */
} srt_swiglu_args;

/* y[t,:] = table[ids[t], :] converted to f32. ids outside [0, n_rows) fail with SRT_ERR_RANGE. */
typedef struct srt_embedding_args {
    int n_tokens, dim, n_rows;
    srt_dtype dtype;         /* SRT_F32, SRT_F16 or SRT_BF16 */
    const void *table;       /* (n_rows, dim) */
    const int32_t *ids;      /* (n_tokens) */
    float *y;                /* (n_tokens, dim) */
} srt_embedding_args;

/* x[r,:] += bias for every row. */
typedef struct srt_add_bias_args {
    int rows, cols;
    const float *bias;       /* (cols) */
    float *x;                /* (rows, cols) */
} srt_add_bias_args;

/* y[i,:] = x[idx[i],:]: picks rows (e.g. the last token of each sequence before the LM head). */
typedef struct srt_gather_rows_args {
    int n_out, cols;
    const int32_t *idx;      /* (n_out) */
    const float *x;          /* (n_in, cols) */
    float *y;                /* (n_out, cols); must not alias x */
} srt_gather_rows_args;

typedef struct srt_lm_ops {
    srt_status (*rmsnorm)(void *ctx, const srt_rmsnorm_args *a);
    srt_status (*rope)(void *ctx, const srt_rope_args *a);
    srt_status (*kv_store)(void *ctx, const srt_kv_store_args *a);
    srt_status (*paged_attention)(void *ctx, const srt_paged_attn_args *a);
    srt_status (*swiglu)(void *ctx, const srt_swiglu_args *a);
    srt_status (*embedding)(void *ctx, const srt_embedding_args *a);
    srt_status (*add_bias)(void *ctx, const srt_add_bias_args *a);
    srt_status (*gather_rows)(void *ctx, const srt_gather_rows_args *a);
} srt_lm_ops;

/* The CPU tables (host/cpu/ref_lm.c, host/cpu/cpu_lm.c). */
extern const srt_lm_ops srt_cpu_ref_lm_ops;
extern const srt_lm_ops srt_cpu_lm_ops;

/* Shape checks shared by the backends (SRT_ERR_INVALID_ARG naming the op). */
srt_status srt_check_paged_attn_args(const srt_paged_attn_args *a);

#endif
