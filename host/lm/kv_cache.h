/* kv_cache.h: the paged KV cache: per layer two backend buffers of fixed-size blocks, a free list, and per
 * sequence a block table (host). Reservation is all-or-nothing over a batch so a full cache changes nothing. */
#ifndef SRT_LM_KV_CACHE_H
#define SRT_LM_KV_CACHE_H

#include "backend.h"

typedef struct srt_kv_seq {
    int active;
    int n_tokens;             /* tokens stored (positions 0..n_tokens-1) */
    int n_blocks, cap_blocks;
    int32_t *blocks;          /* (n_blocks) block ids, host */
} srt_kv_seq;

typedef struct srt_kv_cache {
    srt_backend *be;
    int n_layers, kv_dim, block_size, n_blocks;
    srt_dtype dtype;          /* SRT_F32, SRT_BF16 or SRT_F8E4M3 */
    int head_dim;             /* the rows fp8 scales cover */
    void **k, **v;            /* (n_layers) each (n_blocks * block_size, kv_dim) of dtype, backend memory */
    float **k_scale, **v_scale;   /* SRT_F8E4M3: (n_layers) each (n_blocks, kv_dim / head_dim, block_size) row
                                     scales (host/lm/lm_ops.h), backend memory; NULL otherwise */
    int32_t *free_list;       /* (n_blocks) stack of free block ids */
    int n_free;
    srt_kv_seq *seqs;
    int n_seqs;               /* slots in seqs (active or not) */
} srt_kv_cache;

srt_status srt_kv_cache_create(srt_backend *be, int n_layers, int kv_dim, int head_dim, int block_size, int n_blocks,
                               srt_dtype dtype, srt_kv_cache **out);
void srt_kv_cache_free(srt_kv_cache *kv);

srt_status srt_kv_seq_open(srt_kv_cache *kv, int *seq_id);
/* Give the sequence's blocks back; unknown or closed ids are ignored. */
void srt_kv_seq_close(srt_kv_cache *kv, int seq_id);
/* SRT_ERR_INVALID_ARG unless seq_id is an open sequence. */
srt_status srt_kv_seq_check(const srt_kv_cache *kv, int seq_id);
/* Blocks sequence seq_id still needs to hold n_new more tokens. */
int srt_kv_blocks_needed(const srt_kv_cache *kv, int seq_id, int n_new);
/* Make room for n_new[s] more tokens in each sequence seq_ids[s]: all or nothing (SRT_ERR_FULL). */
srt_status srt_kv_reserve(srt_kv_cache *kv, int n_seqs, const int *seq_ids, const int *n_new);

#endif
