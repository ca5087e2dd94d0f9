/* tp_load.c: loading a tensor-parallel group: the shard plan (which heads, KV heads, FFN columns and vocabulary
 * rows each rank owns), each rank's sharded weights (row slices point into the mmap on host backends; column
 * slices and padded tables are packed copies), backends, KV caches and communicators: every rank in this process
 * (threads), or with srt_lm_options.mpi this process's one rank, the processes agreeing at the end that all of
 * them loaded. See tp_group.h. */
#include "lm/tp_group.h"
#include "lm/comm.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one rank owns. */
typedef struct shard_plan {
    int n_heads, head0;       /* query heads [head0, head0 + n_heads) */
    int n_kv_heads, kv_head0; /* KV heads (replicated across ranks when tp > n_kv_heads) */
    int ffn, ffn0;            /* intermediate columns [ffn0, ffn0 + ffn) */
    int vocab_slice, vocab0, vocab_len; /* rows [vocab0, vocab0 + vocab_len), padded to vocab_slice */
} shard_plan;

static srt_status plan_shard(const srt_lm_config *c, int tp, int rank, shard_plan *p) {
    if (c->n_heads % tp || c->intermediate % tp)
        return srt_error(SRT_ERR_UNSUPPORTED, "tensor parallel size %d must divide num_attention_heads %d and "
                         "intermediate_size %d", tp, c->n_heads, c->intermediate);
    if (c->n_kv_heads % tp && tp % c->n_kv_heads)
        return srt_error(SRT_ERR_UNSUPPORTED, "tensor parallel size %d must divide or be a multiple of "
                         "num_key_value_heads %d", tp, c->n_kv_heads);
    p->n_heads = c->n_heads / tp;
    p->head0 = rank * p->n_heads;
    int group = c->n_heads / c->n_kv_heads;           /* query heads per KV head */
    p->n_kv_heads = c->n_kv_heads % tp ? 1 : c->n_kv_heads / tp;
    p->kv_head0 = p->head0 / group;
    p->ffn = c->intermediate / tp;
    p->ffn0 = rank * p->ffn;
    p->vocab_slice = (c->vocab + tp - 1) / tp;
    p->vocab0 = rank * p->vocab_slice;
    p->vocab_len = c->vocab - p->vocab0 < p->vocab_slice ? c->vocab - p->vocab0 : p->vocab_slice;
    if (p->vocab_len < 0) p->vocab_len = 0;
    return SRT_OK;
}

static int backend_is_host(const srt_lm *rank) { return !strncmp(rank->be.device, "cpu", 3); }
static int is_cuda(const char *backend) { return !strncmp(backend, "cuda", 4); }

/* The group's communicators: NCCL for "cuda" / "cuda:N" (rank r on device N + r, wrapping around the devices),
 * threads sharing host memory otherwise. */
static srt_status create_comms(const char *backend, int size, int *devices, srt_comm **comms) {
    if (!is_cuda(backend)) return srt_comm_cpu_create_group(size, comms);
#ifdef SNACRT_WITH_NCCL
    int first = backend[4] == ':' ? atoi(backend + 5) : 0;
    SRT_TRY(srt_comm_nccl_devices(size, first, devices));
    return srt_comm_nccl_create_group(size, devices, comms);
#else
    (void)devices;
    (void)comms;
    return srt_error(SRT_ERR_UNSUPPORTED, "tensor parallelism on backend '%s' needs NCCL: this build has none "
                     "(configure with -DSNACRT_NCCL=ON); use cpu or cpu-ref", backend);
#endif
}

/* This process's communicator of a multi-process group: MPI on host backends, NCCL (unique id over MPI) on
 * "cuda" / "cuda:N", the process's GPU being N + its rank among the processes on the node. */
static srt_status create_mpi_comm(const char *backend, int size, srt_comm_place *place, int *device,
                                  srt_comm **comm) {
    srt_comm *host = NULL;
    SRT_TRY(srt_comm_mpi_create(size, &host, place));
    if (!is_cuda(backend)) { *comm = host; return SRT_OK; }
#ifdef SNACRT_WITH_NCCL
    int first = backend[4] == ':' ? atoi(backend + 5) : 0;
    srt_status st = srt_comm_nccl_local_device(first, place->local_rank, device);
    if (st != SRT_OK) {           /* the other processes are about to wait for the NCCL id: release them */
        host->ops->abort(host);
        host->ops->destroy(host);
        return st;
    }
    return srt_comm_nccl_create_mpi(host, *device, comm);
#else
    (void)device;
    host->ops->destroy(host);     /* every process fails here alike */
    return srt_error(SRT_ERR_UNSUPPORTED, "multi-process tensor parallelism on backend '%s' needs NCCL: this build "
                     "has none (configure with -DSNACRT_NCCL=ON); use cpu or cpu-ref", backend);
#endif
}

static srt_status find_matrix(const srt_lm *rank, const char *name, int rows, int cols, const srt_tensor_view **t) {
    int64_t shape[2] = {rows, cols};
    SRT_TRY(srt_lm_find_tensor(rank, name, 2, shape, t));
    if ((*t)->dtype != SRT_F32 && (*t)->dtype != SRT_F16 && (*t)->dtype != SRT_BF16)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (expected BF16, F16 or F32)",
                         srt_weights_source(rank->weights), name, srt_dtype_name((*t)->dtype));
    return SRT_OK;
}

/* The rank's weights never change: its backend may keep repacked copies (the cpu gemm's panels, cpu_wcache.c). */
static void mark_static(srt_lm *rank, const void *p, size_t bytes) {
    if (rank->be.ops->mark_static) rank->be.ops->mark_static(rank->be.ctx, p, bytes);
}

/* Upload a packed host copy as the rank's matrix (rows, cols). Takes ownership of `packed`. */
static srt_status upload_packed(srt_lm *rank, void *packed, srt_dtype dtype, int rows, int cols, srt_lm_matrix *m) {
    void *dev;
    srt_status st = srt_backend_alloc_upload(&rank->be, packed, (size_t)rows * cols * srt_dtype_size(dtype), &dev);
    free(packed);
    SRT_TRY(st);
    *m = (srt_lm_matrix){dev, dtype, rows, cols, NULL};
    mark_static(rank, dev, (size_t)rows * cols * srt_dtype_size(dtype));
    return srt_lm_own(rank, dev);
}

/* Rows [row0, row0 + n_rows) of a (full_rows, cols) weight, followed by zero rows up to out_rows. */
static srt_status bind_rows(srt_lm *rank, const char *name, int full_rows, int cols, int row0, int n_rows,
                            int out_rows, srt_lm_matrix *m) {
    const srt_tensor_view *t;
    SRT_TRY(find_matrix(rank, name, full_rows, cols, &t));
    size_t row_bytes = (size_t)cols * srt_dtype_size(t->dtype);
    const char *src = (const char *)t->data + (size_t)row0 * row_bytes;
    rank->n_params += (int64_t)n_rows * cols;
    if (backend_is_host(rank) && out_rows == n_rows) {
        *m = (srt_lm_matrix){src, t->dtype, n_rows, cols, NULL};
        mark_static(rank, src, (size_t)n_rows * row_bytes);
        return SRT_OK;
    }
    char *packed = srt_calloc((size_t)out_rows, row_bytes, "tensor-parallel weight shard");   /* (out_rows, cols) */
    if (!packed) return SRT_ERR_NOMEM;
    memcpy(packed, src, (size_t)n_rows * row_bytes);
    return upload_packed(rank, packed, t->dtype, out_rows, cols, m);
}

/* Device ranks: the shards [row0[i], row0[i] + n_rows[i]) of n_parts (full_rows[i], cols) weights packed into one
 * matrix (concatenated, or interleaved row by row for gate|up: lm_model.h), each part's matrix a view into it
 * (interleaved parts get no view: data NULL). Host ranks or mixed dtypes: each part bound alone (bind_rows). */
static srt_status bind_fused_rows(srt_lm *rank, const char *const *names, const int *full_rows, int cols,
                                  const int *row0, const int *n_rows, int n_parts, int interleave, srt_lm_matrix *fused,
                                  srt_lm_matrix *const *parts) {
    const char *src[3];
    srt_dtype dt[3];
    memset(fused, 0, sizeof *fused);
    for (int i = 0; i < n_parts; i++) {
        const srt_tensor_view *t;
        SRT_TRY(find_matrix(rank, names[i], full_rows[i], cols, &t));
        src[i] = (const char *)t->data + (size_t)row0[i] * cols * srt_dtype_size(t->dtype);
        dt[i] = t->dtype;
    }
    if (!backend_is_host(rank)) SRT_TRY(srt_lm_pack_fused(rank, src, dt, n_rows, n_parts, cols, interleave, fused));
    for (int i = 0, r0 = 0; i < n_parts; r0 += n_rows[i], i++) {
        if (!fused->data) {
            SRT_TRY(bind_rows(rank, names[i], full_rows[i], cols, row0[i], n_rows[i], n_rows[i], parts[i]));
            continue;
        }
        const char *view = interleave ? NULL : (const char *)fused->data + (size_t)r0 * cols * srt_dtype_size(dt[0]);
        *parts[i] = (srt_lm_matrix){view, dt[0], n_rows[i], cols, NULL};
        rank->n_params += (int64_t)n_rows[i] * cols;
    }
    return SRT_OK;
}

/* Columns [col0, col0 + n_cols) of a (rows, full_cols) weight (a row-parallel layer's input features). */
static srt_status bind_cols(srt_lm *rank, const char *name, int rows, int full_cols, int col0, int n_cols,
                            srt_lm_matrix *m) {
    const srt_tensor_view *t;
    SRT_TRY(find_matrix(rank, name, rows, full_cols, &t));
    size_t es = srt_dtype_size(t->dtype);
    char *packed = srt_malloc((size_t)rows * n_cols * es, "tensor-parallel weight shard");   /* (rows, n_cols) */
    if (!packed) return SRT_ERR_NOMEM;
    for (int r = 0; r < rows; r++)
        memcpy(packed + (size_t)r * n_cols * es, (const char *)t->data + ((size_t)r * full_cols + col0) * es,
               (size_t)n_cols * es);
    rank->n_params += (int64_t)rows * n_cols;
    return upload_packed(rank, packed, t->dtype, rows, n_cols, m);
}

/* Elements [i0, i0 + n) of a (full_n) vector, as f32 in backend memory. */
static srt_status bind_vector(srt_lm *rank, const char *name, int full_n, int i0, int n, float **out) {
    float *host = NULL;    /* (full_n) */
    int64_t shape[1] = {full_n};
    SRT_TRY(srt_weights_get_f32(rank->weights, name, 1, shape, &host));
    rank->n_params += n;
    void *dev;
    srt_status st = srt_backend_alloc_upload(&rank->be, host + i0, sizeof(float) * (size_t)n, &dev);
    free(host);
    SRT_TRY(st);
    *out = dev;
    return srt_lm_own(rank, dev);
}

static srt_status load_rank_weights(srt_lm *rank, const srt_lm_config *full, const shard_plan *p) {
    const srt_lm_config *c = full;
    int hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd, H = c->hidden;
    int q0 = p->head0 * hd, nq = p->n_heads * hd, kv0 = p->kv_head0 * hd, nkv = p->n_kv_heads * hd;
    char name[160];
    /* embedding: the slice plus zero rows up to vocab_slice + 1; the last row is where foreign ids point */
    SRT_TRY(bind_rows(rank, "model.embed_tokens.weight", c->vocab, H, p->vocab0, p->vocab_len, p->vocab_slice + 1,
                      &rank->embed));
    SRT_TRY(bind_vector(rank, "model.norm.weight", H, 0, H, &rank->final_norm));
    if (c->tie_embeddings && !srt_weights_find(rank->weights, "lm_head.weight")) {
        rank->lm_head = rank->embed;
        rank->lm_head.rows = p->vocab_slice;
    } else {
        SRT_TRY(bind_rows(rank, "lm_head.weight", c->vocab, H, p->vocab0, p->vocab_len, p->vocab_slice,
                          &rank->lm_head));
    }
    rank->layers = srt_calloc((size_t)c->n_layers, sizeof *rank->layers, "lm layers");
    if (!rank->layers) return SRT_ERR_NOMEM;
    for (int l = 0; l < c->n_layers; l++) {
        srt_lm_layer *L = &rank->layers[l];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix), name)
        char qn[160], kn[160], vn[160], gn[160], un[160];
        snprintf(qn, sizeof qn, "%s", LAYER_NAME("self_attn.q_proj.weight"));
        snprintf(kn, sizeof kn, "%s", LAYER_NAME("self_attn.k_proj.weight"));
        snprintf(vn, sizeof vn, "%s", LAYER_NAME("self_attn.v_proj.weight"));
        snprintf(gn, sizeof gn, "%s", LAYER_NAME("mlp.gate_proj.weight"));
        snprintf(un, sizeof un, "%s", LAYER_NAME("mlp.up_proj.weight"));
        const char *qkv_names[3] = {qn, kn, vn}, *mlp_names[2] = {gn, un};
        int qkv_full[3] = {q_dim, kv_dim, kv_dim}, qkv_row0[3] = {q0, kv0, kv0}, qkv_n[3] = {nq, nkv, nkv};
        srt_lm_matrix *qkv[3] = {&L->wq, &L->wk, &L->wv}, *mlp[2] = {&L->w_gate, &L->w_up};
        SRT_TRY(bind_fused_rows(rank, qkv_names, qkv_full, H, qkv_row0, qkv_n, 3, 0, &L->wqkv, qkv));
        SRT_TRY(bind_cols(rank, LAYER_NAME("self_attn.o_proj.weight"), H, q_dim, q0, nq, &L->wo));
        int mlp_full[2] = {c->intermediate, c->intermediate}, mlp_row0[2] = {p->ffn0, p->ffn0};
        int mlp_n[2] = {p->ffn, p->ffn};
        SRT_TRY(bind_fused_rows(rank, mlp_names, mlp_full, H, mlp_row0, mlp_n, 2, 1, &L->w_gate_up, mlp));
        SRT_TRY(bind_cols(rank, LAYER_NAME("mlp.down_proj.weight"), H, c->intermediate, p->ffn0, p->ffn,
                          &L->w_down));
        SRT_TRY(bind_vector(rank, LAYER_NAME("input_layernorm.weight"), H, 0, H, &L->attn_norm));
        SRT_TRY(bind_vector(rank, LAYER_NAME("post_attention_layernorm.weight"), H, 0, H, &L->mlp_norm));
        if (c->qkv_bias) {
            SRT_TRY(bind_vector(rank, LAYER_NAME("self_attn.q_proj.bias"), q_dim, q0, nq, &L->bq));
            SRT_TRY(bind_vector(rank, LAYER_NAME("self_attn.k_proj.bias"), kv_dim, kv0, nkv, &L->bk));
            SRT_TRY(bind_vector(rank, LAYER_NAME("self_attn.v_proj.bias"), kv_dim, kv0, nkv, &L->bv));
        }
#undef LAYER_NAME
    }
    return SRT_OK;
}

/* Parameters of the whole model (what srt_lm_get_info reports), counted from the config. */
static int64_t count_params(const srt_lm *lm) {
    const srt_lm_config *c = &lm->cfg;
    int64_t H = c->hidden, q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    int untied = !c->tie_embeddings || srt_weights_find(lm->weights, "lm_head.weight");
    int64_t layer = 2 * q_dim * H + 2 * kv_dim * H + 3 * (int64_t)c->intermediate * H + 2 * H;
    if (c->qkv_bias) layer += q_dim + 2 * kv_dim;
    return (int64_t)c->vocab * H * (1 + untied) + H + c->n_layers * layer;
}

/* Backend threads of a rank: as asked; with one process per rank and 0 (all cores), the cores this process may
 * run on shared among the processes of its node. */
static int rank_threads(const srt_lm_tp *tp, const srt_lm_options *opts) {
    if (opts->n_threads > 0 || !tp->mpi) return opts->n_threads;
    int share = omp_get_num_procs() / (tp->place.local_size > 0 ? tp->place.local_size : 1);
    return share > 0 ? share : 1;
}

/* Load rank comm->rank into slot `slot` of this process. `backend`: this rank's backend ("cpu", "cpu-ref", or
 * "cuda:N" with an NCCL comm). */
static srt_status load_rank(srt_lm *lm, const srt_lm_options *opts, int slot, const char *backend, srt_comm *comm) {
    srt_lm_tp *tp = lm->tp;
    int r = comm->rank;
    srt_lm *rank = srt_calloc(1, sizeof *rank, "tensor-parallel rank");
    if (!rank) { comm->ops->abort(comm); comm->ops->destroy(comm); return SRT_ERR_NOMEM; }
    tp->ranks[slot] = rank;
    rank->comm = comm;
    shard_plan p = {0};
    SRT_TRY(plan_shard(&lm->cfg, tp->size, r, &p));
    rank->cfg = lm->cfg;
    rank->cfg.n_heads = p.n_heads;
    rank->cfg.n_kv_heads = p.n_kv_heads;
    rank->cfg.intermediate = p.ffn;
    rank->cfg.vocab = p.vocab_slice;
    rank->vocab_start = p.vocab0;
    rank->vocab_len = p.vocab_len;
    rank->weights = lm->weights;      /* borrowed; srt_lm_tp_free clears it */
    SRT_TRY(srt_backend_create(backend, rank_threads(tp, opts), &rank->be));
    SRT_TRY(srt_backend_set_lm_precision(&rank->be, opts->lm_precision));
    int has_comm = backend_is_host(rank);   /* the CPU communicator works on host memory */
#ifdef SNACRT_WITH_NCCL
    if (is_cuda(backend)) {
        srt_comm_nccl_bind(comm, &rank->be);
        has_comm = 1;
    }
#endif
    if (!has_comm)
        return srt_error(SRT_ERR_UNSUPPORTED, "tensor parallelism on backend '%s': no communicator for it",
                         rank->be.device);
    rank->ops = rank->be.ops->lm;
    if (!rank->ops) return srt_error(SRT_ERR_UNSUPPORTED, "backend '%s' has no language-model ops", rank->be.device);
    SRT_TRY(load_rank_weights(rank, &lm->cfg, &p));
    srt_status st = srt_lm_setup_runtime(rank, opts);
    return st == SRT_OK ? SRT_OK : srt_error_prefix(st, "tensor-parallel rank %d: ", r);
}

/* One process per rank: a rank that failed to load tells the others, which learn it here (CANCELLED); then every
 * process checks that it loaded the same model with the same cache options as rank 0 (its collectives and KV
 * block tables must match), a mismatching one aborting so that the others' barrier fails too. */
static srt_status agree_loaded(const srt_lm *lm, srt_status st) {
    srt_lm_tp *tp = lm->tp;
    srt_comm *comm = tp->ranks[0] ? tp->ranks[0]->comm : NULL;
    if (!comm) return st;
    if (st != SRT_OK) { comm->ops->abort(comm); return st; }
    const srt_lm_config *c = &lm->cfg;
    const srt_lm *me = tp->ranks[0];
    int64_t mine[10] = {c->vocab, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->intermediate,
                        me->kv->block_size, me->kv->n_blocks, me->max_batch_tokens}, first[10];
    memcpy(first, mine, sizeof first);
    st = comm->ops->broadcast(comm, first, sizeof first, 0);
    if (st != SRT_OK) return srt_error_prefix(st, "another process of the tensor-parallel group failed to load: ");
    if (memcmp(first, mine, sizeof mine)) {
        comm->ops->abort(comm);
        return srt_error(SRT_ERR_INVALID_ARG, "tensor-parallel rank %d loaded a model or KV cache unlike rank 0's "
                         "(vocab, hidden, layers, heads, kv heads, head dim, ffn, kv block, kv blocks, batch tokens: "
                         "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld here; rank 0: "
                         "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld): every process must get the same model "
                         "and options", comm->rank, (long long)mine[0], (long long)mine[1], (long long)mine[2],
                         (long long)mine[3], (long long)mine[4], (long long)mine[5], (long long)mine[6],
                         (long long)mine[7], (long long)mine[8], (long long)mine[9], (long long)first[0],
                         (long long)first[1], (long long)first[2], (long long)first[3], (long long)first[4],
                         (long long)first[5], (long long)first[6], (long long)first[7], (long long)first[8],
                         (long long)first[9]);
    }
    st = comm->ops->barrier(comm);
    return st == SRT_OK ? SRT_OK : srt_error_prefix(st, "a process of the tensor-parallel group loaded another model "
                                                    "or options: ");
}

srt_status srt_lm_tp_load(srt_lm *lm, const srt_lm_options *opts) {
    int size = opts->tp > 1 ? opts->tp : 1;
    srt_lm_tp *tp = srt_calloc(1, sizeof *tp, "tensor-parallel group");
    if (!tp) return SRT_ERR_NOMEM;
    lm->tp = tp;
    tp->size = size;
    tp->mpi = opts->mpi != 0;
    tp->n_local = tp->mpi ? 1 : size;
    tp->place = (srt_comm_place){0, 1, 0, 1, 0, 1};
    tp->ranks = srt_calloc((size_t)tp->n_local, sizeof *tp->ranks, "tensor-parallel ranks");
    srt_comm **comms = srt_calloc((size_t)tp->n_local, sizeof *comms, "tensor-parallel communicators");
    int *devices = srt_calloc((size_t)tp->n_local, sizeof *devices, "tensor-parallel devices");
    const char *backend = opts->backend ? opts->backend : "cpu";
    srt_status st = !tp->ranks || !comms || !devices ? SRT_ERR_NOMEM
                    : tp->mpi ? create_mpi_comm(backend, size, &tp->place, devices, comms)
                              : create_comms(backend, size, devices, comms);
    for (int i = 0; st == SRT_OK && i < tp->n_local; i++) {
        char rank_backend[32];
        if (is_cuda(backend)) snprintf(rank_backend, sizeof rank_backend, "cuda:%d", devices[i]);
        else snprintf(rank_backend, sizeof rank_backend, "%s", backend);
        st = load_rank(lm, opts, i, rank_backend, comms[i]);
        comms[i] = NULL;              /* owned by the rank now */
    }
    for (int i = 0; comms && i < tp->n_local; i++) if (comms[i]) comms[i]->ops->destroy(comms[i]);
    free(comms);
    free(devices);
    if (tp->mpi) st = agree_loaded(lm, st);
    SRT_TRY(st);
    lm->kv = tp->ranks[0]->kv;        /* bookkeeping view; every rank's cache follows the same calls */
    lm->max_batch_tokens = tp->ranks[0]->max_batch_tokens;
    lm->n_params = count_params(lm);
    return SRT_OK;
}

void srt_lm_tp_free(srt_lm_tp *tp) {
    if (!tp) return;
    for (int r = 0; tp->ranks && r < tp->n_local; r++) {
        if (!tp->ranks[r]) continue;
        tp->ranks[r]->weights = NULL;
        srt_lm_free(tp->ranks[r]);
    }
    free(tp->ranks);
    free(tp->gathered);
    free(tp);
}

srt_status srt_lm_tp_seq_open(srt_lm_tp *tp, int *seq_id) {
    SRT_TRY(srt_kv_seq_open(tp->ranks[0]->kv, seq_id));
    for (int r = 1; r < tp->n_local; r++) {
        int id;
        srt_status st = srt_kv_seq_open(tp->ranks[r]->kv, &id);
        if (st == SRT_OK && id != *seq_id) st = srt_error(SRT_ERR_BACKEND, "rank %d opened sequence %d, rank 0 "
                                                          "opened %d: KV caches diverged", r, id, *seq_id);
        if (st != SRT_OK) {
            for (int q = 0; q < r; q++) srt_kv_seq_close(tp->ranks[q]->kv, *seq_id);
            return st;
        }
    }
    return SRT_OK;
}

void srt_lm_tp_seq_close(srt_lm_tp *tp, int seq_id) {
    for (int r = 0; r < tp->n_local; r++) srt_kv_seq_close(tp->ranks[r]->kv, seq_id);
}

void srt_lm_tp_fill_info(const srt_lm *lm, srt_lm_info *info) {
    const srt_lm_tp *tp = lm->tp;
    info->tp_size = tp ? tp->size : 1;
    info->tp_rank = tp && tp->mpi ? tp->ranks[0]->comm->rank : 0;
    info->dp_size = tp ? tp->place.dp_size : 1;
    info->dp_rank = tp ? tp->place.dp_rank : 0;
    const srt_backend *be = tp ? &tp->ranks[0]->be : &lm->be;   /* every rank's backend has the same settings */
    info->n_threads = be->n_threads;
    snprintf(info->lm_precision, sizeof info->lm_precision, "%s",
             !be->ops || (strcmp(be->ops->name, "cpu") && strcmp(be->ops->name, "cuda")) ? ""
             : be->lm_precision_bf16 ? "bf16" : "exact");
}
