/* lm_load.c: srt_lm_load / srt_lm_free: config, weights bound by Hugging Face tensor names (kept in their stored
 * dtype; host backends point straight into the mmap, others get uploaded copies), KV cache, tokenizer. */
#include "lm/lm_model.h"
#include "lm/tp_group.h"
#include <stdlib.h>
#include <string.h>

srt_status srt_lm_own(srt_lm *lm, void *ptr) {
    if (lm->n_owned == lm->cap_owned) {
        size_t cap = lm->cap_owned ? lm->cap_owned * 2 : 64;
        void **grown = realloc(lm->owned, sizeof(void *) * cap);
        if (!grown) { lm->be.ops->free(lm->be.ctx, ptr); return srt_error(SRT_ERR_NOMEM, "lm: buffer list"); }
        lm->owned = grown;
        lm->cap_owned = cap;
    }
    lm->owned[lm->n_owned++] = ptr;
    return SRT_OK;
}

static int backend_is_host(const srt_lm *lm) { return !strncmp(lm->be.device, "cpu", 3); }

srt_status srt_lm_find_tensor(const srt_lm *lm, const char *name, int ndim, const int64_t *shape,
                              const srt_tensor_view **out) {
    const srt_tensor_view *t = srt_weights_find(lm->weights, name);
    if (!t) return srt_error(SRT_ERR_NOT_FOUND, "%s: tensor '%s' is missing (architecture %s)",
                             srt_weights_source(lm->weights), name, lm->cfg.architecture);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char got[96] = "", want[96] = "";
        for (int i = 0; i < t->ndim && i < 4; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        return srt_error(SRT_ERR_FORMAT, "%s: tensor '%s' has shape [%s], the config implies [%s]",
                         srt_weights_source(lm->weights), name, got, want);
    }
    *out = t;
    return SRT_OK;
}

/* A (rows, cols) matrix in its stored dtype (f32, f16 or bf16); defer: checked and counted, not uploaded yet
 * (data NULL: fuse_layer packs it with others, or upload_deferred uploads it alone). */
static srt_status bind_matrix(srt_lm *lm, const char *name, int rows, int cols, int defer, srt_lm_matrix *m) {
    const srt_tensor_view *t = NULL;
    int64_t shape[2] = {rows, cols};
    SRT_TRY(srt_lm_find_tensor(lm, name, 2, shape, &t));
    if (t->dtype != SRT_F32 && t->dtype != SRT_F16 && t->dtype != SRT_BF16)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (expected BF16, F16 or F32)",
                         srt_weights_source(lm->weights), name, srt_dtype_name(t->dtype));
    m->dtype = t->dtype;
    m->rows = rows;
    m->cols = cols;
    lm->n_params += (int64_t)rows * cols;
    if (backend_is_host(lm)) {   /* the mmap'd weights do not change: the backend may keep repacked copies */
        m->data = t->data;
        if (lm->be.ops->mark_static) lm->be.ops->mark_static(lm->be.ctx, t->data, t->nbytes);
        return SRT_OK;
    }
    m->data = NULL;
    if (defer) return SRT_OK;
    void *dev;
    SRT_TRY(srt_backend_alloc_upload(&lm->be, t->data, t->nbytes, &dev));
    m->data = dev;
    return srt_lm_own(lm, dev);
}

/* Device backends: the weights of several projections packed into one matrix at load time (lm_model.h):
 * parts n_parts tensors of rows[i] x cols rows each, concatenated, or, with interleave (2 parts of equal rows),
 * row j of part 0 then row j of part 1. Host backends (and mixed dtypes) keep the parts separate: out->data NULL. */
srt_status srt_lm_pack_fused(srt_lm *lm, const char *const *src, const srt_dtype *dtype, const int *rows,
                             int n_parts, int cols, int interleave, srt_lm_matrix *out) {
    memset(out, 0, sizeof *out);
    int total = 0;
    for (int i = 0; i < n_parts; i++) {
        if (dtype[i] != dtype[0] || dtype[i] == SRT_F32) return SRT_OK;
        total += rows[i];
    }
    size_t es = srt_dtype_size(dtype[0]), row_bytes = (size_t)cols * es;
    char *packed = srt_malloc((size_t)total * row_bytes, "fused weight staging");   /* (total, cols) */
    if (!packed) return SRT_ERR_NOMEM;
    if (interleave) {
        for (int j = 0; j < rows[0]; j++)
            for (int i = 0; i < 2; i++)
                memcpy(packed + (size_t)(2 * j + i) * row_bytes, src[i] + (size_t)j * row_bytes, row_bytes);
    } else {
        for (int i = 0, r0 = 0; i < n_parts; r0 += rows[i], i++)
            memcpy(packed + (size_t)r0 * row_bytes, src[i], (size_t)rows[i] * row_bytes);
    }
    void *dev;
    srt_status st = srt_backend_alloc_upload(&lm->be, packed, (size_t)total * row_bytes, &dev);
    free(packed);
    SRT_TRY(st);
    *out = (srt_lm_matrix){dev, dtype[0], total, cols, NULL};
    return srt_lm_own(lm, dev);
}

/* Upload a deferred matrix on its own (its parts could not be fused). */
static srt_status upload_deferred(srt_lm *lm, const char *name, srt_lm_matrix *m) {
    const srt_tensor_view *t = srt_weights_find(lm->weights, name);
    void *dev;
    SRT_TRY(srt_backend_alloc_upload(&lm->be, t->data, t->nbytes, &dev));
    m->data = dev;
    return srt_lm_own(lm, dev);
}

/* The fused q|k|v and gate|up matrices of layer L (device backends, one dtype), from the stored tensors. */
static srt_status fuse_layer(srt_lm *lm, int l, srt_lm_layer *L) {
    const srt_lm_config *c = &lm->cfg;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    static const char *const qkv_names[3] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                             "self_attn.v_proj.weight"};
    static const char *const mlp_names[2] = {"mlp.gate_proj.weight", "mlp.up_proj.weight"};
    const char *src[3];
    srt_dtype dt[3];
    char name[160];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "model.layers.%d.%s", l, qkv_names[i]);
        const srt_tensor_view *t = srt_weights_find(lm->weights, name);   /* shapes checked by bind_matrix */
        src[i] = t->data;
        dt[i] = t->dtype;
    }
    int qkv_rows[3] = {q_dim, kv_dim, kv_dim};
    SRT_TRY(srt_lm_pack_fused(lm, src, dt, qkv_rows, 3, c->hidden, 0, &L->wqkv));
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "model.layers.%d.%s", l, mlp_names[i]);
        const srt_tensor_view *t = srt_weights_find(lm->weights, name);
        src[i] = t->data;
        dt[i] = t->dtype;
    }
    int mlp_rows[2] = {c->intermediate, c->intermediate};
    SRT_TRY(srt_lm_pack_fused(lm, src, dt, mlp_rows, 2, c->hidden, 1, &L->w_gate_up));
    srt_lm_matrix *qkv[3] = {&L->wq, &L->wk, &L->wv}, *mlp[2] = {&L->w_gate, &L->w_up};
    size_t row_bytes = (size_t)c->hidden * srt_dtype_size(L->wqkv.dtype);
    for (int i = 0, r0 = 0; i < 3; r0 += qkv_rows[i], i++) {   /* views into q|k|v, or uploads of their own */
        snprintf(name, sizeof name, "model.layers.%d.%s", l, qkv_names[i]);
        if (L->wqkv.data) qkv[i]->data = (const char *)L->wqkv.data + (size_t)r0 * row_bytes;
        else SRT_TRY(upload_deferred(lm, name, qkv[i]));
    }
    for (int i = 0; i < 2 && !L->w_gate_up.data; i++) {
        snprintf(name, sizeof name, "model.layers.%d.%s", l, mlp_names[i]);
        SRT_TRY(upload_deferred(lm, name, mlp[i]));
    }
    return SRT_OK;
}

/* A vector converted to f32 in backend memory. */
static srt_status bind_vector(srt_lm *lm, const char *name, int n, float **out) {
    float *host = NULL;
    int64_t shape[1] = {n};
    SRT_TRY(srt_weights_get_f32(lm->weights, name, 1, shape, &host));
    lm->n_params += n;
    void *dev;
    srt_status st = srt_backend_alloc_upload(&lm->be, host, sizeof(float) * (size_t)n, &dev);
    free(host);
    SRT_TRY(st);
    *out = dev;
    return srt_lm_own(lm, dev);
}

srt_status srt_lm_load_weights(srt_lm *lm) {
    const srt_lm_config *c = &lm->cfg;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    char name[160];
    SRT_TRY(bind_matrix(lm, "model.embed_tokens.weight", c->vocab, c->hidden, 0, &lm->embed));
    SRT_TRY(bind_vector(lm, "model.norm.weight", c->hidden, &lm->final_norm));
    if (c->tie_embeddings && !srt_weights_find(lm->weights, "lm_head.weight")) {
        lm->lm_head = lm->embed;     /* int8: a quantized copy of the table (the gather keeps the stored one) */
        if (lm->weights_i8) SRT_TRY(srt_lm_bind_i8(lm, "model.embed_tokens.weight", c->vocab, c->hidden, &lm->lm_head));
    } else if (lm->weights_i8) {
        SRT_TRY(srt_lm_bind_i8(lm, "lm_head.weight", c->vocab, c->hidden, &lm->lm_head));
        lm->n_params += (int64_t)c->vocab * c->hidden;
    } else {
        SRT_TRY(bind_matrix(lm, "lm_head.weight", c->vocab, c->hidden, 0, &lm->lm_head));
    }
    lm->layers = srt_calloc((size_t)c->n_layers, sizeof *lm->layers, "lm layers");
    if (!lm->layers) return SRT_ERR_NOMEM;
    for (int l = 0; l < c->n_layers; l++) {
        srt_lm_layer *L = &lm->layers[l];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix), name)
        int fuse = !backend_is_host(lm);    /* the q/k/v and gate/up parts are uploaded fused, not one by one */
        if (lm->weights_i8) SRT_TRY(srt_lm_bind_layer_i8(lm, l, fuse, L));
        else {
            SRT_TRY(bind_matrix(lm, LAYER_NAME("self_attn.q_proj.weight"), q_dim, c->hidden, fuse, &L->wq));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("self_attn.k_proj.weight"), kv_dim, c->hidden, fuse, &L->wk));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("self_attn.v_proj.weight"), kv_dim, c->hidden, fuse, &L->wv));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("self_attn.o_proj.weight"), c->hidden, q_dim, 0, &L->wo));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("mlp.gate_proj.weight"), c->intermediate, c->hidden, fuse, &L->w_gate));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("mlp.up_proj.weight"), c->intermediate, c->hidden, fuse, &L->w_up));
            if (fuse) SRT_TRY(fuse_layer(lm, l, L));
            SRT_TRY(bind_matrix(lm, LAYER_NAME("mlp.down_proj.weight"), c->hidden, c->intermediate, 0, &L->w_down));
        }
        SRT_TRY(bind_vector(lm, LAYER_NAME("input_layernorm.weight"), c->hidden, &L->attn_norm));
        SRT_TRY(bind_vector(lm, LAYER_NAME("post_attention_layernorm.weight"), c->hidden, &L->mlp_norm));
        if (c->qkv_bias) {
            SRT_TRY(bind_vector(lm, LAYER_NAME("self_attn.q_proj.bias"), q_dim, &L->bq));
            SRT_TRY(bind_vector(lm, LAYER_NAME("self_attn.k_proj.bias"), kv_dim, &L->bk));
            SRT_TRY(bind_vector(lm, LAYER_NAME("self_attn.v_proj.bias"), kv_dim, &L->bv));
        }
#undef LAYER_NAME
    }
    return SRT_OK;
}

static srt_status lm_load_inner(srt_lm *lm, const char *model_dir, const srt_lm_options *opts) {
    char *config_path = srt_path_join(model_dir, "config.json"), *json = NULL;
    if (!config_path) return SRT_ERR_NOMEM;
    size_t size;
    srt_status st = srt_read_file(config_path, &json, &size);
    if (st == SRT_OK) st = srt_lm_config_parse(json, config_path, &lm->cfg);
    free(json);
    free(config_path);
    SRT_TRY(st);
    SRT_TRY(srt_lm_weights_i8_of(opts, &lm->weights_i8));
    if (lm->weights_i8 && opts && (opts->tp > 1 || opts->mpi))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: int8 weights (weights_dtype \"int8\") load on one rank only: use "
                         "tp 1 without MPI, or the stored dtype", model_dir);
    if (opts && (opts->tp > 1 || opts->mpi)) {     /* threads or processes as ranks (tp_load.c) */
        SRT_TRY(srt_weights_open_dir(model_dir, &lm->weights));
        SRT_TRY(srt_lm_tp_load(lm, opts));
    } else {
        if (opts && opts->tp < 0) return srt_error(SRT_ERR_INVALID_ARG, "tensor parallel size %d", opts->tp);
        SRT_TRY(srt_backend_create(opts && opts->backend ? opts->backend : "cpu", opts ? opts->n_threads : 0,
                                   &lm->be));
        SRT_TRY(srt_backend_set_lm_precision(&lm->be, opts ? opts->lm_precision : NULL));
        lm->ops = lm->be.ops->lm;
        if (!lm->ops) return srt_error(SRT_ERR_UNSUPPORTED, "backend '%s' has no language-model ops", lm->be.device);
        if (lm->weights_i8 && !strcmp(lm->be.device, "cpu"))
            return srt_error(SRT_ERR_UNSUPPORTED, "int8 LM weights on backend 'cpu' (cpu-ref and cuda take them)");
        SRT_TRY(srt_weights_open_dir(model_dir, &lm->weights));
        SRT_TRY(srt_lm_load_weights(lm));
        SRT_TRY(srt_lm_setup_runtime(lm, opts));
    }

    char *tok_path = srt_path_join(model_dir, "tokenizer.json");
    if (!tok_path) return SRT_ERR_NOMEM;
    st = srt_file_exists(tok_path) ? srt_tokenizer_load(tok_path, &lm->tokenizer) : SRT_OK;
    free(tok_path);
    return st;
}

/* The KV cache dtype: opts->kv_dtype, else $SNACRT_KV_DTYPE, else the backend's default (srt_lm_ops.kv_dtype). */
static srt_status kv_dtype_of(const srt_lm *lm, const srt_lm_options *opts, srt_dtype *out) {
    const char *name = opts && opts->kv_dtype ? opts->kv_dtype : getenv("SNACRT_KV_DTYPE");
    *out = lm->ops->kv_dtype;
    if (!name || !*name) return SRT_OK;
    if (!strcmp(name, "f32")) *out = SRT_F32;
    else if (!strcmp(name, "bf16")) *out = SRT_BF16;
    else if (!strcmp(name, "fp8")) *out = SRT_F8E4M3;
    else return srt_error(SRT_ERR_INVALID_ARG, "KV cache dtype '%s' (%s): f32, bf16 or fp8", name,
                          opts && opts->kv_dtype ? "kv_dtype option" : "SNACRT_KV_DTYPE");
    if (*out != SRT_F32 && lm->ops->kv_dtype == SRT_F32 && strncmp(lm->be.device, "cpu-ref", 7))
        return srt_error(SRT_ERR_UNSUPPORTED, "KV cache dtype %s on backend '%s' (f32 only)", name, lm->be.device);
    return SRT_OK;
}

srt_status srt_lm_setup_runtime(srt_lm *lm, const srt_lm_options *opts) {
    int half = lm->cfg.head_dim / 2;
    float inv_freq[1024];
    if (half > 1024) return srt_error(SRT_ERR_UNSUPPORTED, "head_dim %d above 2048", lm->cfg.head_dim);
    srt_lm_rope_inv_freq(&lm->cfg, inv_freq);
    void *dev;
    SRT_TRY(srt_backend_alloc_upload(&lm->be, inv_freq, sizeof(float) * half, &dev));
    lm->inv_freq = dev;
    SRT_TRY(srt_lm_own(lm, dev));

    int block_size = opts && opts->kv_block_size > 0 ? opts->kv_block_size : 16;
    int64_t max_tokens = opts && opts->kv_max_tokens > 0 ? opts->kv_max_tokens : 8192;
    int64_t n_blocks = (max_tokens + block_size - 1) / block_size;
    if (n_blocks > INT32_MAX / block_size) return srt_error(SRT_ERR_RANGE, "kv_max_tokens %lld too large",
                                                            (long long)max_tokens);
    srt_dtype kv_dtype;
    SRT_TRY(kv_dtype_of(lm, opts, &kv_dtype));
    SRT_TRY(srt_kv_cache_create(&lm->be, lm->cfg.n_layers, lm->cfg.n_kv_heads * lm->cfg.head_dim, lm->cfg.head_dim,
                                block_size, (int)n_blocks, kv_dtype, &lm->kv));
    lm->max_batch_tokens = opts && opts->max_batch_tokens > 0 ? opts->max_batch_tokens : 2048;
    return SRT_OK;
}

srt_status srt_lm_load(const char *model_dir, const srt_lm_options *opts, srt_lm **out) {
    *out = NULL;
    if (!model_dir) return srt_error(SRT_ERR_INVALID_ARG, "srt_lm_load: no model folder");
    srt_lm *lm = srt_calloc(1, sizeof *lm, "lm");
    if (!lm) return SRT_ERR_NOMEM;
    srt_status st = lm_load_inner(lm, model_dir, opts);
    if (st != SRT_OK) {
        srt_lm_free(lm);
        return srt_error_prefix(st, "loading language model %s: ", model_dir);
    }
    *out = lm;
    return SRT_OK;
}

void srt_lm_free(srt_lm *lm) {
    if (!lm) return;
    if (lm->tp) {                     /* leader: the ranks own the backends and the KV caches */
        srt_lm_tp_free(lm->tp);
        lm->kv = NULL;
    }
    srt_lm_scratch_free(lm);
    srt_kv_cache_free(lm->kv);
    if (lm->comm) lm->comm->ops->destroy(lm->comm);
    for (size_t i = 0; i < lm->n_owned; i++) lm->be.ops->free(lm->be.ctx, lm->owned[i]);
    free(lm->owned);
    free(lm->layers);
    srt_weights_free(lm->weights);
    if (lm->tokenizer) srt_tokenizer_free(lm->tokenizer);
    if (lm->be.ops) srt_backend_destroy(&lm->be);
    free(lm);
}

srt_status srt_lm_get_info(const srt_lm *lm, srt_lm_info *info) {
    const srt_lm_config *c = &lm->cfg;
    memset(info, 0, sizeof *info);
    snprintf(info->architecture, sizeof info->architecture, "%s", c->architecture);
    info->vocab_size = c->vocab; info->hidden_size = c->hidden; info->n_layers = c->n_layers;
    info->n_heads = c->n_heads; info->n_kv_heads = c->n_kv_heads; info->head_dim = c->head_dim;
    info->intermediate_size = c->intermediate; info->max_position = c->max_position;
    info->sliding_window = c->sliding_window;
    info->bos_id = c->bos_id;
    info->n_eos = c->n_eos;
    memcpy(info->eos_ids, c->eos_ids, sizeof info->eos_ids);
    info->n_params = lm->n_params;
    info->kv_block_size = lm->kv ? lm->kv->block_size : 0;   /* no KV cache: srt_lm_load_tokenizer */
    info->kv_n_blocks = lm->kv ? lm->kv->n_blocks : 0;
    srt_lm_tp_fill_info(lm, info);
    snprintf(info->weights_dtype, sizeof info->weights_dtype, "%s",
             lm->weights_i8 ? "int8" : lm->layers && c->n_layers ? (lm->layers[0].wo.dtype == SRT_BF16 ? "bf16"
                                                                    : lm->layers[0].wo.dtype == SRT_F16 ? "f16" : "f32")
                                                   : "");
    return SRT_OK;
}

srt_status srt_lm_encode(const srt_lm *lm, const char *text, int add_bos, int32_t **ids, size_t *n_ids) {
    if (!lm->tokenizer) return srt_error(SRT_ERR_NOT_FOUND, "this model folder has no tokenizer.json");
    return srt_tokenizer_encode(lm->tokenizer, text, strlen(text), add_bos, ids, n_ids);
}

srt_status srt_lm_decode(const srt_lm *lm, const int32_t *ids, size_t n, int skip_special, char **text) {
    if (!lm->tokenizer) return srt_error(SRT_ERR_NOT_FOUND, "this model folder has no tokenizer.json");
    return srt_tokenizer_decode(lm->tokenizer, ids, n, skip_special, text);
}

srt_status srt_lm_seq_open(srt_lm *lm, int *seq_id) {
    return lm->tp ? srt_lm_tp_seq_open(lm->tp, seq_id) : srt_kv_seq_open(lm->kv, seq_id);
}
void srt_lm_seq_close(srt_lm *lm, int seq_id) {
    if (lm->tp) srt_lm_tp_seq_close(lm->tp, seq_id);
    else srt_kv_seq_close(lm->kv, seq_id);
}
int srt_lm_seq_length(const srt_lm *lm, int seq_id) {
    return srt_kv_seq_check(lm->kv, seq_id) == SRT_OK ? lm->kv->seqs[seq_id].n_tokens : -1;
}
int srt_lm_kv_free_blocks(const srt_lm *lm) { return lm->kv->n_free; }
int srt_lm_kv_blocks_for(const srt_lm *lm, int n_tokens) {
    return (n_tokens + lm->kv->block_size - 1) / lm->kv->block_size;
}
