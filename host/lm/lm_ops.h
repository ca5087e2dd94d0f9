/* lm_ops.h: the language-model part of the backend op table (srt_backend_ops.lm) and its argument structs.
 * The transformer graph (host/lm/lm_forward.c) is written once against these ops plus the main table's gemm,
 * copy and axpby; sample and mask_rows pick tokens from logits left on the backend (host/lm/lm_sample_step.c).
 * Backends: cpu-ref (host/cpu/ref_lm.c, plain loops: the truth), cpu (host/cpu/cpu_lm.c), cuda
 * (cuda/backend_cuda_lm.c).
 *
 * Conventions (as in backend.h): pointers are backend memory unless marked "host"; row-major; activations f32.
 * Tokens of a batch are laid out sequence after sequence: sequence s owns rows [q_start[s], q_start[s]+n_q[s]).
 * The paged KV cache of one layer is two buffers (n_blocks, block_size, n_kv_heads*head_dim) of kv_dtype (SRT_F32,
 * the zero value, SRT_BF16 rounded to nearest even, or SRT_F8E4M3); a sequence's position p lives in block
 * block_table[s][p / block_size], row p % block_size. cpu-ref and cuda take all three; cpu takes f32 only.
 * fp8 e4m3 KV: each (token, KV head) row of head_dim values has its own scale (srt_e4m3_row_scale of its largest
 * magnitude: a power of two, so x / scale is exact) in k_scale / v_scale, (n_blocks, n_kv_heads, block_size) f32
 * per layer: value = srt_e4m3_to_f32(code) * scale. Per token so appends never re-quantize older rows; laid out
 * by KV head inside a block so a decode block reading one head's positions reads contiguous scales (4 bytes per
 * 128-byte row at head_dim 128: 3% on top of the codes).
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
 * (= block * block_size + offset) of k_cache / v_cache; a row with slot[t] < 0 is skipped (padding rows). */
typedef struct srt_kv_store_args {
    int n_tokens, kv_dim;
    const float *k, *v;      /* (n_tokens, kv_dim) each */
    const int32_t *slot;     /* (n_tokens) */
    void *k_cache, *v_cache; /* (n_blocks * block_size, kv_dim) each, kv_dtype */
    srt_dtype kv_dtype;      /* SRT_F32 (0), SRT_BF16 (k, v rounded to nearest even) or SRT_F8E4M3 */
    int head_dim, block_size;        /* SRT_F8E4M3 only: the rows the scales cover, the scales' layout */
    float *k_scale, *v_scale;        /* SRT_F8E4M3 only: (n_blocks, kv_dim / head_dim, block_size) */
} srt_kv_store_args;

/* Paged causal attention for a batch of sequences, covering prefill (n_q[s] > 1), chunked prefill and decode
 * (n_q[s] == 1) in one call. Sequence s has ctx_len[s] tokens in the cache, the last n_q[s] of which are the new
 * queries (already stored with kv_store). Query i of s sits at position ctx_len[s]-n_q[s]+i and attends to
 * positions 0..that position. GQA: query head h reads kv head h / (n_heads / n_kv_heads). Scale 1/sqrt(head_dim).
 * Softmax in f32 with the running max (or better). */
typedef struct srt_paged_attn_args {
    int n_seqs, n_heads, n_kv_heads, head_dim, block_size, max_blocks;
    const float *q;               /* (n_tokens, n_heads*head_dim) */
    const void *k_cache, *v_cache;  /* (n_blocks * block_size, n_kv_heads*head_dim), kv_dtype */
    const int32_t *block_table;   /* (n_seqs, max_blocks) */
    const int32_t *q_start;       /* (n_seqs) first row of s in q/out */
    const int32_t *n_q;           /* (n_seqs) */
    const int32_t *ctx_len;       /* (n_seqs) */
    float *out;                   /* (n_tokens, n_heads*head_dim) */
    srt_dtype kv_dtype;           /* of k_cache / v_cache: SRT_F32 (0), SRT_BF16 or SRT_F8E4M3 */
    const float *k_scale, *v_scale;  /* SRT_F8E4M3 only: (n_blocks, n_kv_heads, block_size) row scales */
} srt_paged_attn_args;

/* The host-side plan of one paged attention, filled by the forward from the KV cache bookkeeping so a device
 * backend needs no device->host read to size its launch (paged_attention_planned). n_q / ctx_len: host copies of
 * the args' device arrays. ctx_capacity: the launch must cover contexts up to this (>= every ctx_len; larger when
 * a recorded decode step is replayed later for longer contexts, whose lengths are then read on the device). */
typedef struct srt_attn_host_plan {
    const int32_t *n_q, *ctx_len; /* host (n_seqs) */
    int ctx_capacity;
} srt_attn_host_plan;

/* Rope, KV store and attention of one layer in one op (optional; the dispatch uses it for decode-only batches
 * with a host plan: every n_q <= 1): does what rope(q), rope(k) (n_heads / n_kv_heads heads, attn.pos positions),
 * kv_store(k, v at slot) and paged_attention(attn) do, in that order. attn.q and k are work space: their contents
 * afterwards are unspecified (rotated or not). Without the op the dispatch runs those four ops. */
typedef struct srt_rope_store_attn_args {
    srt_paged_attn_args attn;     /* attn.q: (n_tokens, n_heads*head_dim) queries, not rotated yet */
    int n_tokens;
    float *k;                     /* (n_tokens, n_kv_heads*head_dim) keys, not rotated yet */
    const float *v;               /* (n_tokens, n_kv_heads*head_dim) */
    const int32_t *pos, *slot;    /* (n_tokens) as in rope / kv_store */
    const float *inv_freq;        /* (head_dim/2) */
} srt_rope_store_attn_args;

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

/* Token sampling, one row of logits per sequence (the distribution is defined once in host/lm/sample_dist.h and
 * srt_sample_pick; the host sampler, cpu-ref, cpu and cuda all pick the same id for the same row and draw u).
 * Per row, in order: allowed ids [begin, end); penalties (ids listed in pen: HF repetition penalty, then minus
 * sub = count * frequency + presence); NaN anywhere -> SRT_ERR_RANGE; greedy (argmax, lowest id on ties) when
 * inv_temp == 0 or the best logit is +-inf; else weights w = exp((l - l_best) * inv_temp), in fixed point
 * W = floor(w * 2^40); top_k, top_p (shortest prefix in rank order -- logit descending, id ascending -- whose W
 * reaches floor(top_p * total)), min_p (w >= min_p, the best always kept); finally the first survivor in id
 * order whose cumulative W exceeds floor(u * total). */
typedef struct srt_sample_row {
    int32_t begin, end;       /* allowed ids, 0 <= begin < end <= vocab */
    float inv_temp;           /* 1 / temperature; 0: greedy */
    int32_t top_k;            /* <= 0 or >= end - begin: off */
    float top_p;              /* off unless in (0, 1) */
    float min_p;              /* <= 0: off */
    float rep_penalty;        /* 1: off */
    int32_t pen_start, n_pen; /* this row's penalties: pen[pen_start .. pen_start + n_pen), distinct ids */
    double u;                 /* uniform draw in [0, 1) from the sequence's RNG stream */
} srt_sample_row;

typedef struct srt_sample_penalty {
    int32_t id;               /* a token of the prompt or the output */
    float sub;                /* frequency * count + presence (0 for prompt-only ids) */
} srt_sample_penalty;

typedef struct srt_sample_args {
    int n_rows, vocab;
    float *logits;                    /* (n_rows, vocab); overwritten (work space) */
    const srt_sample_row *rows;       /* host (n_rows) */
    const srt_sample_penalty *pen;    /* host (sum of n_pen) */
    int32_t *ids;                     /* host (n_rows) out: the picked ids */
} srt_sample_args;

/* Masking rows of logits before sampling (a token layout's per-position constraint, on the device): per row r,
 * logits[r, id] = -inf for every id in [clear_begin, clear_end) except the ids in [keep_begin, keep_end) and
 * keep_id (-1: none); everything else untouched. clear [0, 0) leaves the row as it is. */
typedef struct srt_mask_row {
    int32_t clear_begin, clear_end;   /* 0 <= clear_begin <= clear_end <= vocab */
    int32_t keep_begin, keep_end;     /* 0 <= keep_begin <= keep_end <= vocab (empty when equal) */
    int32_t keep_id;                  /* -1 or an id in [0, vocab) */
} srt_mask_row;

typedef struct srt_mask_rows_args {
    int n_rows, vocab;
    float *logits;                    /* (n_rows, vocab), masked in place */
    const srt_mask_row *rows;         /* host (n_rows) */
} srt_mask_rows_args;

/* One GEMM over a fused weight w (N, K) (a Linear weight, rows of several projections concatenated at load time):
 *   SRT_LINEAR_SPLIT3  rows [0,n0) | [n0,n0+n1) | [n0+n1,N) of w (q | k | v): y0 (rows,n0), y1 (rows,n1),
 *                      y2 (rows, N-n0-n1) = x @ w_part^T
 *   SRT_LINEAR_SWIGLU  rows of w interleave gate and up (row 2j: gate j, row 2j+1: up j): y0 (rows, N/2) =
 *                      silu(x @ gate^T) * (x @ up^T); y1 (rows, N/2) is scratch the backend may overwrite.
 * norm_w set: x is RMS-normalized first (the rmsnorm op's formula, eps; x_normed (rows, K) is scratch the backend
 * may fill with the normalized rows), so the norm needs no launch of its own.
 * Optional op: without it the dispatch runs the parts as rmsnorm + gemm (+ swiglu) calls (srt_linear_fused_by_ops). */
enum { SRT_LINEAR_SPLIT3 = 1, SRT_LINEAR_SWIGLU = 2 };
typedef struct srt_linear_fused_args {
    int rows, N, K, mode, n0, n1;
    const float *x;          /* (rows, K) */
    const void *w;           /* (N, K) in w_dtype */
    srt_dtype w_dtype;
    float *y0, *y1, *y2;
    const float *norm_w;     /* (K) or NULL */
    float eps;
    float *x_normed;         /* (rows, K) scratch when norm_w is set */
    const float *w_scale;    /* (N) w_dtype SRT_I8 only: per-row scales, as srt_gemm_args.b_scale (rows of w) */
} srt_linear_fused_args;

/* Optional record / replay of a whole forward step (a CUDA graph). graph_run runs body(arg) -- a sequence of ops
 * on this backend that never waits for the device -- eagerly, or records it once its buffers are stable and then
 * replays the recording whenever the same key comes back. The key must change whenever any pointer, shape or
 * host value the body hands to the ops changes (device-side inputs are read at replay time). */
typedef srt_status (*srt_lm_graph_body)(void *arg);

typedef struct srt_lm_ops {
    srt_status (*rmsnorm)(void *ctx, const srt_rmsnorm_args *a);
    srt_status (*rope)(void *ctx, const srt_rope_args *a);
    srt_status (*kv_store)(void *ctx, const srt_kv_store_args *a);
    srt_status (*paged_attention)(void *ctx, const srt_paged_attn_args *a);
    srt_status (*swiglu)(void *ctx, const srt_swiglu_args *a);
    srt_status (*embedding)(void *ctx, const srt_embedding_args *a);
    srt_status (*add_bias)(void *ctx, const srt_add_bias_args *a);
    srt_status (*gather_rows)(void *ctx, const srt_gather_rows_args *a);
    /* optional: paged_attention with the host plan (no device->host read); NULL: paged_attention is used */
    srt_status (*paged_attention_planned)(void *ctx, const srt_paged_attn_args *a, const srt_attn_host_plan *plan);
    srt_status (*sample)(void *ctx, const srt_sample_args *a);                     /* optional */
    srt_status (*mask_rows)(void *ctx, const srt_mask_rows_args *a);               /* optional (with sample) */
    srt_status (*graph_run)(void *ctx, uint64_t key, srt_lm_graph_body body, void *arg);   /* optional */
    srt_status (*linear_fused)(void *ctx, const srt_linear_fused_args *a);                  /* optional */
    srt_status (*rope_store_attention)(void *ctx, const srt_rope_store_attn_args *a,
                                       const srt_attn_host_plan *plan);                      /* optional */
    /* optional: rope(q), rope(k) and kv_store of a's tokens as one step (attn's q, caches and shapes; no
     * attention), for the batches rope_store_attention does not take (prefill) */
    srt_status (*rope_kv_store)(void *ctx, const srt_rope_store_attn_args *a);
    /* optional: linear_fused(lin) (SRT_LINEAR_SPLIT3 into lin->y0 / y1 / y2 = a->attn.q / a->k / a->v, rows
     * a->n_tokens) then rope_store_attention(a, plan) as one step, for the batches rope_store_attention's decode
     * path does not take (plan set, some n_q > 1): a backend may hand the q|k|v product to its rope + store without
     * scattering it. attn.q, k and v are work space: their contents afterwards are unspecified. */
    srt_status (*qkv_rope_store_attention)(void *ctx, const srt_linear_fused_args *lin,
                                           const srt_rope_store_attn_args *a, const srt_attn_host_plan *plan);
    srt_dtype kv_dtype;       /* the KV cache dtype a model on this backend gets by default (lm_load.c) */
} srt_lm_ops;

/* The CPU LM tables (host/cpu/ref_lm.c, host/cpu/cpu_lm.c), for the backend tables only: callers go through the
 * dispatch below. */
extern const srt_lm_ops srt_cpu_ref_lm_ops;
extern const srt_lm_ops srt_cpu_lm_ops;

/* The dispatch layer (host/backend_dispatch.c): the graphs call every LM op through these; each checks its
 * arguments once for all backends (backend_check.h), then calls b->ops->lm (SRT_ERR_UNSUPPORTED when unset). */
srt_status srt_op_rmsnorm(const srt_backend *b, const srt_rmsnorm_args *a);
srt_status srt_op_rope(const srt_backend *b, const srt_rope_args *a);
srt_status srt_op_kv_store(const srt_backend *b, const srt_kv_store_args *a);
srt_status srt_op_swiglu(const srt_backend *b, const srt_swiglu_args *a);
srt_status srt_op_embedding(const srt_backend *b, const srt_embedding_args *a);
srt_status srt_op_add_bias(const srt_backend *b, const srt_add_bias_args *a);
srt_status srt_op_gather_rows(const srt_backend *b, const srt_gather_rows_args *a);
srt_status srt_op_sample(const srt_backend *b, const srt_sample_args *a);
srt_status srt_op_mask_rows(const srt_backend *b, const srt_mask_rows_args *a);
/* plan: host copies of n_q / ctx_len (or NULL); uses paged_attention_planned when the table has it. */
srt_status srt_op_paged_attention(const srt_backend *b, const srt_paged_attn_args *a, const srt_attn_host_plan *plan);
srt_status srt_op_graph_run(const srt_backend *b, uint64_t key, srt_lm_graph_body body, void *arg);
/* the backend's rope_store_attention for a decode-only batch (plan set, every n_q <= 1), else rope, rope,
 * kv_store (the backend's rope_kv_store when it has one) and paged_attention */
srt_status srt_op_rope_store_attention(const srt_backend *b, const srt_rope_store_attn_args *a,
                                       const srt_attn_host_plan *plan);
srt_status srt_op_linear_fused(const srt_backend *b, const srt_linear_fused_args *a);
/* linear_fused(lin) then rope_store_attention(a, plan) (lin: SRT_LINEAR_SPLIT3 whose parts are a's q, k, v): the
 * backend's qkv_rope_store_attention for a batch with a prefill sequence (plan set), else the two ops */
srt_status srt_op_qkv_rope_store_attention(const srt_backend *b, const srt_linear_fused_args *lin,
                                           const srt_rope_store_attn_args *a, const srt_attn_host_plan *plan);
/* linear_fused as separate gemm calls on views of w (+ one swiglu): the fallback of backends without the op. */
srt_status srt_linear_fused_by_ops(void *ctx, srt_status (*gemm)(void *, const srt_gemm_args *),
                                   srt_status (*swiglu)(void *, const srt_swiglu_args *),
                                   srt_status (*rmsnorm)(void *, const srt_rmsnorm_args *),
                                   const srt_linear_fused_args *a);

#endif
