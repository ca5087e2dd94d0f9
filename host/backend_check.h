/* backend_check.h: the argument checks of every backend op (codec ops of backend.h, LM ops of lm/lm_ops.h), run
 * once by the dispatch layer (backend_dispatch.c) for every backend before it calls the table. Each returns
 * SRT_OK or SRT_ERR_INVALID_ARG / SRT_ERR_UNSUPPORTED with a message naming the op.
 * host_memory: the backend's tensors are host memory (cpu, cpu-ref), so arrays the op reads on the device side
 * (paged attention's n_q / ctx_len) can be checked here too; a device backend checks those after reading them
 * back (srt_check_paged_attn_seqs). Limits of one backend (e.g. the largest head_dim a kernel handles) stay in
 * that backend as SRT_ERR_UNSUPPORTED. */
#ifndef SRT_BACKEND_CHECK_H
#define SRT_BACKEND_CHECK_H

#include "lm/lm_ops.h"

srt_status srt_check_conv1d_args(const srt_conv1d_args *a);
srt_status srt_check_convt1d_args(const srt_convt1d_args *a);
srt_status srt_check_snake_args(const srt_snake_args *a);
srt_status srt_check_gemm_args(const srt_gemm_args *a);
srt_status srt_check_layernorm_args(const srt_layernorm_args *a);
srt_status srt_check_transpose_args(const srt_transpose_args *a);
srt_status srt_check_local_attn_args(const srt_local_attn_args *a);
srt_status srt_check_avgpool_args(const srt_avgpool_args *a);
srt_status srt_check_upsample_add_args(const srt_upsample_add_args *a);
srt_status srt_check_vq_args(const srt_vq_args *a);
srt_status srt_check_embed_args(const srt_embed_args *a);
srt_status srt_check_unary_args(const srt_unary_args *a);
srt_status srt_check_axpby_args(const srt_axpby_args *a);
srt_status srt_check_noise_add_args(const srt_noise_add_args *a);
srt_status srt_check_copy2d_args(const srt_copy2d_args *a);
srt_status srt_check_copy2d_batch_args(const srt_copy2d_batch_args *a);

srt_status srt_check_rmsnorm_args(const srt_rmsnorm_args *a);
srt_status srt_check_rope_args(const srt_rope_args *a);
srt_status srt_check_kv_store_args(const srt_kv_store_args *a);
/* The shape of a paged attention; with host_memory also every sequence's n_q / ctx_len. */
srt_status srt_check_paged_attn_args(const srt_paged_attn_args *a, int host_memory);
/* Every sequence's query count and context length, from host copies of n_q and ctx_len (n_seqs each). */
srt_status srt_check_paged_attn_seqs(const srt_paged_attn_args *a, const int32_t *n_q, const int32_t *ctx_len);
srt_status srt_check_swiglu_args(const srt_swiglu_args *a);
srt_status srt_check_embedding_args(const srt_embedding_args *a);
srt_status srt_check_add_bias_args(const srt_add_bias_args *a);
srt_status srt_check_gather_rows_args(const srt_gather_rows_args *a);
srt_status srt_check_sample_args(const srt_sample_args *a);
srt_status srt_check_mask_rows_args(const srt_mask_rows_args *a);

#endif
