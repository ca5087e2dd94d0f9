/* lm_kernels.h: launch functions of the language-model kernels (cuda/lm_*.cuh, one translation unit
 * cuda/lm_kernels.cu), callable from C (cuda/backend_cuda_lm.c). Semantics of the ops: host/lm/lm_ops.h.
 * All pointers are device memory unless marked host. Each function launches on `stream` and returns SRT_OK or
 * SRT_ERR_BACKEND naming the kernel; asynchronous faults surface at the next synchronize. */
#ifndef SRT_CUDA_LM_KERNELS_H
#define SRT_CUDA_LM_KERNELS_H

#include "lm/lm_ops.h"
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The op table of the CUDA backend (backend_cuda_lm.c). */
extern const srt_lm_ops srt_cuda_lm_ops;

/* Largest head_dim the attention kernels hold in registers. */
enum { SRT_CUDA_LM_MAX_HEAD_DIM = 128 };
/* Largest head_dim of the one-launch rope + fp8 KV store (lm_rope_kv_store_fp8.cuh: 4 rotary pairs per lane). */
enum { SRT_CUDA_RKV_FP8_MAX_HEAD_DIM = 256 };

srt_status srt_cuda_lm_rmsnorm(const srt_rmsnorm_args *a, cudaStream_t stream);
srt_status srt_cuda_lm_rope(const srt_rope_args *a, cudaStream_t stream);
srt_status srt_cuda_lm_kv_store(const srt_kv_store_args *a, cudaStream_t stream);
/* rope(q), rope(k), kv_store in one launch (lm_rope_kv_store.cuh); f32 / bf16 caches only */
srt_status srt_cuda_lm_rope_kv_store(const srt_rope_store_attn_args *a, cudaStream_t stream);
/* the same with an fp8 e4m3 cache (row scales), one warp per row (lm_rope_kv_store_fp8.cuh); even head_dim <=
 * SRT_CUDA_RKV_FP8_MAX_HEAD_DIM, else SRT_ERR_UNSUPPORTED */
srt_status srt_cuda_lm_rope_kv_store_fp8(const srt_rope_store_attn_args *a, cudaStream_t stream);
/* the same reading q, k, v from the q|k|v product qkv (n_tokens, ld): columns [0, n_heads * head_dim) the queries,
 * then the keys, then the values (n_kv_heads * head_dim each); the rotated q written packed to a->attn.q, the keys
 * and values only into the cache (a->k, a->v unused) */
srt_status srt_cuda_lm_rope_kv_store_from(const srt_rope_store_attn_args *a, const float *qkv, int64_t ld,
                                          cudaStream_t stream);
srt_status srt_cuda_lm_swiglu(const srt_swiglu_args *a, cudaStream_t stream);
srt_status srt_cuda_lm_add_bias(const srt_add_bias_args *a, cudaStream_t stream);
srt_status srt_cuda_lm_gather_rows(const srt_gather_rows_args *a, cudaStream_t stream);
/* bad_token: device int preset to 0x7f7f7f7f; receives the lowest token index whose id is out of range */
srt_status srt_cuda_lm_embedding(const srt_embedding_args *a, int *bad_token, cudaStream_t stream);

/* Paged attention. The launch plan sizes the grids: max_n_q and max_ctx over the batch (max_ctx may be a larger
 * capacity: blocks past a sequence's own context return at once), and whether any sequence decodes (n_q == 1) or
 * prefills (n_q > 1). The backend derives it from the forward's host plan (srt_attn_host_plan), or else reads
 * the device arrays n_q / ctx_len back.
 * partials: device work buffer of srt_cuda_lm_attn_partials_floats(...) floats (decode split partials). */
typedef struct srt_cuda_attn_plan {
    int max_n_q, max_ctx;
    int any_decode, any_prefill;
    /* NULL, or: the tensor-core prefill kernel also writes bf16(out) (nearest even, the rounding the o projection's
     * GEMM would do) at the same offsets, packed (n_tokens, n_heads * head_dim) (srt_cuda_lm_prefill_bf16_out says
     * when it is the only kernel writing out) */
    uint16_t *out_bf16;
} srt_cuda_attn_plan;
/* Whether the prefill rows of `a` take the tensor-core kernel (which can write out_bf16). */
int srt_cuda_lm_prefill_tc_fits(const srt_paged_attn_args *a);
size_t srt_cuda_lm_attn_partials_floats(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan);
/* The decode kernel's fused prologue (the rope_store_attention op; decode-only plans): q and k as the rope op
 * would rotate them, k / v stored into the cache at slot (as kv_store), all inside the attention launch. */
typedef struct srt_cuda_attn_fuse {
    const float *k, *v;          /* (n_tokens, n_kv_heads * head_dim) new keys (not rotated) and values */
    const int32_t *pos, *slot;   /* (n_tokens) positions, cache slots (< 0: not stored) */
    const float *inv_freq;       /* (head_dim / 2) */
} srt_cuda_attn_fuse;
/* counters: SRT_CUDA_ATTN_COUNTERS zeroed device ints (left zeroed) with which the decode kernel merges its
 * splits itself, or NULL: a combine launch does. fuse: NULL, or the fused prologue (needs plan->any_prefill 0). */
enum { SRT_CUDA_ATTN_COUNTERS = 16384 };
srt_status srt_cuda_lm_paged_attention(const srt_paged_attn_args *a, const srt_cuda_attn_plan *plan, float *partials,
                                       int *counters, const srt_cuda_attn_fuse *fuse, cudaStream_t stream);

/* Sampling (lm_sample.cuh): ids[r] = the id row r picks from logits[r] (penalties applied in place), or
 * -1 - id of the lowest NaN logit. All pointers device memory. */
srt_status srt_cuda_lm_sample(float *logits, int n_rows, int vocab, const srt_sample_row *rows,
                              const srt_sample_penalty *pen, int32_t *ids, cudaStream_t stream);

/* Masking (lm_mask_rows.cuh): the mask_rows op on rows given in device memory; max_width: the widest
 * clear_end - clear_begin over the rows (sizes the grid). */
srt_status srt_cuda_lm_mask_rows(float *logits, int n_rows, int vocab, const srt_mask_row *rows, int max_width,
                                 cudaStream_t stream);

/* Recorded decode steps (lm_graph.c): the graph_run entry of srt_cuda_lm_ops, and the cleanup the backend calls
 * when its context is destroyed. */
srt_status srt_cuda_lm_graph_run(void *ctx, uint64_t key, srt_lm_graph_body body, void *arg);
void srt_cuda_lm_graphs_free(void *graphs);

#ifdef __cplusplus
}
#endif
#endif
