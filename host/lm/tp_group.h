/* tp_group.h: tensor parallelism (Megatron-style, as vLLM) for the Llama-family decoder. A leader srt_lm (the
 * handle the caller holds: full config, weights, tokenizer) owns `size` rank srt_lm's, each with its own backend
 * instance, KV cache for its KV heads, and communicator:
 *   q/k/v (+ biases) and gate/up column-parallel (this rank's heads / FFN columns), o and down row-parallel (this
 *   rank's input features, then one all-reduce each), embedding and LM head vocabulary-parallel (each rank owns
 *   ceil(vocab/tp) rows: embedding rows outside the slice read a zero row, then all-reduce; logits all-gathered).
 *   KV heads are replicated when tp > n_kv_heads.
 * The ranks' KV caches see the same open/close/reserve calls, so their block tables stay identical.
 * Ranks live either as threads of this process (every rank's srt_lm here; comm_cpu.c or NCCL's ncclCommInitAll), or
 * with srt_lm_options.mpi one per process (comm_mpi.c, or NCCL with the unique id sent over MPI): then this process
 * holds only its own rank, every process of the group makes the same srt_lm_* calls (SPMD), every process gets the
 * full logits, and srt_lm_generate keeps the sampled ids in lockstep with srt_lm_tp_share_ids. */
#ifndef SRT_LM_TP_GROUP_H
#define SRT_LM_TP_GROUP_H

#include "lm/lm_model.h"

typedef struct srt_lm_tp {
    int size;                 /* ranks in the group (all processes) */
    int n_local;              /* ranks held by this process: size (threads) or 1 (one process per rank) */
    srt_lm **ranks;           /* (n_local) */
    int mpi;                  /* one process per rank (srt_lm_options.mpi) */
    srt_comm_place place;     /* with mpi: this process's world, data-parallel and node placement */
    float *gathered;          /* host (size, logit rows, vocab slice): rank 0's gathered logits */
    size_t gathered_cap;      /* floats */
} srt_lm_tp;

/* Build the ranks of leader `lm` (cfg parsed, weights open) for opts->tp ranks (tp_load.c). */
srt_status srt_lm_tp_load(srt_lm *lm, const srt_lm_options *opts);
void srt_lm_tp_free(srt_lm_tp *tp);
/* Open / close a sequence on every rank (same id everywhere). */
srt_status srt_lm_tp_seq_open(srt_lm_tp *tp, int *seq_id);
void srt_lm_tp_seq_close(srt_lm_tp *tp, int seq_id);
/* srt_lm_forward of a leader: every rank on its own thread (tp_forward.c). */
srt_status srt_lm_tp_forward(srt_lm *lm, int n_seqs, const int *seq_ids, const int32_t *const *tokens,
                             const int *n_new, int all_logits, float *logits);
/* Multi-process groups: replace ids[0..n) by rank 0's so every process continues with the same tokens (a no-op
 * when the ranks are threads of one process or there is no tensor parallelism) (tp_forward.c). */
srt_status srt_lm_tp_share_ids(srt_lm *lm, int32_t *ids, int n);
/* The parallel placement fields of srt_lm_info (tp_load.c). */
void srt_lm_tp_fill_info(const srt_lm *lm, srt_lm_info *info);

#endif
