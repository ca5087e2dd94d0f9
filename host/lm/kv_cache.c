/* kv_cache.c: paged KV cache bookkeeping: block free list, per-sequence block tables, batch reservation. */
#include "lm/kv_cache.h"
#include <string.h>

srt_status srt_kv_cache_create(srt_backend *be, int n_layers, int kv_dim, int head_dim, int block_size, int n_blocks,
                               srt_dtype dtype, srt_kv_cache **out) {
    *out = NULL;
    if (n_layers < 1 || kv_dim < 1 || block_size < 1 || n_blocks < 1)
        return srt_error(SRT_ERR_INVALID_ARG, "kv cache: bad size (%d layers, kv_dim %d, %d blocks of %d tokens)",
                         n_layers, kv_dim, n_blocks, block_size);
    if (dtype != SRT_F32 && dtype != SRT_BF16 && dtype != SRT_F8E4M3)
        return srt_error(SRT_ERR_INVALID_ARG, "kv cache: dtype %s (f32, bf16 or f8e4m3)", srt_dtype_name(dtype));
    if (head_dim < 1 || kv_dim % head_dim)
        return srt_error(SRT_ERR_INVALID_ARG, "kv cache: kv_dim %d is not a multiple of head_dim %d", kv_dim, head_dim);
    srt_kv_cache *kv = srt_calloc(1, sizeof *kv, "kv cache");
    if (!kv) return SRT_ERR_NOMEM;
    kv->be = be;
    kv->n_layers = n_layers; kv->kv_dim = kv_dim; kv->block_size = block_size; kv->n_blocks = n_blocks;
    kv->dtype = dtype;
    kv->head_dim = head_dim;
    kv->k = srt_calloc((size_t)n_layers, sizeof(void *), "kv cache layers");
    kv->v = srt_calloc((size_t)n_layers, sizeof(void *), "kv cache layers");
    kv->free_list = srt_malloc(sizeof(int32_t) * (size_t)n_blocks, "kv cache free list");
    if (dtype == SRT_F8E4M3) {
        kv->k_scale = srt_calloc((size_t)n_layers, sizeof(float *), "kv cache scales");
        kv->v_scale = srt_calloc((size_t)n_layers, sizeof(float *), "kv cache scales");
        if (!kv->k_scale || !kv->v_scale) { srt_kv_cache_free(kv); return SRT_ERR_NOMEM; }
    }
    if (!kv->k || !kv->v || !kv->free_list) { srt_kv_cache_free(kv); return SRT_ERR_NOMEM; }
    size_t scale_bytes = sizeof(float) * (size_t)n_blocks * block_size * (size_t)(kv_dim / head_dim);
    size_t bytes = srt_dtype_size(dtype) * (size_t)n_blocks * block_size * kv_dim;
    for (int l = 0; l < n_layers; l++) {
        srt_status st = srt_backend_alloc_zero(be, bytes, &kv->k[l]);
        if (st == SRT_OK) st = srt_backend_alloc_zero(be, bytes, &kv->v[l]);
        if (st == SRT_OK && kv->k_scale) st = srt_backend_alloc_zero(be, scale_bytes, (void **)&kv->k_scale[l]);
        if (st == SRT_OK && kv->v_scale) st = srt_backend_alloc_zero(be, scale_bytes, (void **)&kv->v_scale[l]);
        if (st != SRT_OK) {
            srt_kv_cache_free(kv);
            return srt_error_prefix(st, "kv cache: %d layers x 2 x %zu MB: ", n_layers, bytes >> 20);
        }
    }
    for (int b = 0; b < n_blocks; b++) kv->free_list[b] = n_blocks - 1 - b;   /* pop gives block 0 first */
    kv->n_free = n_blocks;
    *out = kv;
    return SRT_OK;
}

void srt_kv_cache_free(srt_kv_cache *kv) {
    if (!kv) return;
    for (int l = 0; l < kv->n_layers; l++) {
        if (kv->k && kv->k[l]) kv->be->ops->free(kv->be->ctx, kv->k[l]);
        if (kv->v && kv->v[l]) kv->be->ops->free(kv->be->ctx, kv->v[l]);
        if (kv->k_scale && kv->k_scale[l]) kv->be->ops->free(kv->be->ctx, kv->k_scale[l]);
        if (kv->v_scale && kv->v_scale[l]) kv->be->ops->free(kv->be->ctx, kv->v_scale[l]);
    }
    for (int s = 0; s < kv->n_seqs; s++) free(kv->seqs[s].blocks);
    free(kv->seqs); free(kv->k); free(kv->v); free(kv->k_scale); free(kv->v_scale); free(kv->free_list); free(kv);
}

srt_status srt_kv_seq_open(srt_kv_cache *kv, int *seq_id) {
    for (int s = 0; s < kv->n_seqs; s++)
        if (!kv->seqs[s].active) {
            kv->seqs[s].active = 1;
            kv->seqs[s].n_tokens = kv->seqs[s].n_blocks = 0;
            *seq_id = s;
            return SRT_OK;
        }
    srt_kv_seq *grown = realloc(kv->seqs, sizeof *grown * (size_t)(kv->n_seqs + 1));
    if (!grown) return srt_error(SRT_ERR_NOMEM, "kv cache: no memory for sequence %d", kv->n_seqs);
    kv->seqs = grown;
    memset(&kv->seqs[kv->n_seqs], 0, sizeof *grown);
    kv->seqs[kv->n_seqs].active = 1;
    *seq_id = kv->n_seqs++;
    return SRT_OK;
}

void srt_kv_seq_close(srt_kv_cache *kv, int seq_id) {
    if (seq_id < 0 || seq_id >= kv->n_seqs || !kv->seqs[seq_id].active) return;
    srt_kv_seq *seq = &kv->seqs[seq_id];
    for (int b = seq->n_blocks - 1; b >= 0; b--) kv->free_list[kv->n_free++] = seq->blocks[b];
    seq->n_blocks = seq->n_tokens = 0;
    seq->active = 0;
}

srt_status srt_kv_seq_check(const srt_kv_cache *kv, int seq_id) {
    if (seq_id < 0 || seq_id >= kv->n_seqs || !kv->seqs[seq_id].active)
        return srt_error(SRT_ERR_INVALID_ARG, "kv cache: sequence %d is not open", seq_id);
    return SRT_OK;
}

int srt_kv_blocks_needed(const srt_kv_cache *kv, int seq_id, int n_new) {
    const srt_kv_seq *seq = &kv->seqs[seq_id];
    int need = (seq->n_tokens + n_new + kv->block_size - 1) / kv->block_size;
    return need > seq->n_blocks ? need - seq->n_blocks : 0;
}

srt_status srt_kv_reserve(srt_kv_cache *kv, int n_seqs, const int *seq_ids, const int *n_new) {
    int64_t total = 0;
    for (int s = 0; s < n_seqs; s++) {
        SRT_TRY(srt_kv_seq_check(kv, seq_ids[s]));
        for (int r = 0; r < s; r++)
            if (seq_ids[r] == seq_ids[s])
                return srt_error(SRT_ERR_INVALID_ARG, "kv cache: sequence %d appears twice in one batch", seq_ids[s]);
        total += srt_kv_blocks_needed(kv, seq_ids[s], n_new[s]);
    }
    if (total > kv->n_free)
        return srt_error(SRT_ERR_FULL, "KV cache full: the batch needs %lld more blocks of %d tokens, %d of %d are "
                         "free (close sequences or retry later)", (long long)total, kv->block_size, kv->n_free,
                         kv->n_blocks);
    for (int s = 0; s < n_seqs; s++) {
        srt_kv_seq *seq = &kv->seqs[seq_ids[s]];
        int need = srt_kv_blocks_needed(kv, seq_ids[s], n_new[s]);
        if (seq->n_blocks + need > seq->cap_blocks) {
            int cap = seq->cap_blocks ? seq->cap_blocks : 4;
            while (cap < seq->n_blocks + need) cap *= 2;
            int32_t *grown = realloc(seq->blocks, sizeof(int32_t) * (size_t)cap);
            if (!grown) return srt_error(SRT_ERR_NOMEM, "kv cache: block table of sequence %d", seq_ids[s]);
            seq->blocks = grown;
            seq->cap_blocks = cap;
        }
        for (int b = 0; b < need; b++) seq->blocks[seq->n_blocks++] = kv->free_list[--kv->n_free];
    }
    return SRT_OK;
}
