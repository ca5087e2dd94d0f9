/* snac_stream_exec.c: one push of the streaming decoder, batched over streams, through the backend op table.
 *
 * Every stage (snac_stream.h) works in absolute frame positions. For each stream a host pass first decides, stage
 * by stage, which output frames become final with this push (snac_stage_avail) and which input frames it must
 * keep for later outputs; then the device pass runs each stage once for all streams:
 *   X  (slots, in_ch, nx): each stream's input window at its own absolute offset, built channel-major with block
 *      copies (copy2d): the kept frames from the stream's state, the new ones from the previous stage's output;
 *      frames before 0 or past a final input's end stay zero, which is exactly the offline decoder's zero padding
 *   the stage's ops on X with padding 0 (one call each for all streams), output (slots, out_ch, nout)
 *   the input frames still needed are copied into the stream's spare state block (the blocks swap on commit).
 * All of a stage's block copies (windows, a residual unit's residual, kept frames) are one copy2d_batch op; on a
 * backend whose conv1d reads a residual with a row stride (ops->conv1d_res_ld: the cpu backend) a residual unit
 * reads its residual in place from its window's middle columns instead of a copy of them. The
 * host plans every stage first and makes one upload (codes, the block tables, noise); the device part then never
 * transfers or waits, and on a backend with graph_run it is recorded once per shape (batch bucket) and replayed.
 * Each output frame is computed once, from the same inputs as offline, so a push of g groups costs about g groups
 * of offline decoder work plus copies of the stage inputs, whatever the stream's length; the state is
 * O(receptive field). The workspace (device buffers and host arrays) is kept by the leading stream and reused by
 * its next pushes: steady pushes allocate nothing. */
#include "snac/snac_stream.h"
#include <limits.h>

#define OPS(m) ((m)->be.ops)
#define CTX(m) ((m)->be.ctx)

/* One stream at one stage during this push. */
typedef struct stage_io {
    int active;               /* new inputs or new outputs */
    int final;
    int64_t in_first, n_in;   /* new input frames [in_first, in_first + n_in) */
    int64_t in_end, out_len;  /* when final: input frames >= in_end read as zero; out_len output frames exist */
    int64_t done, avail;      /* output frames [done, avail) are computed now */
    int64_t x_first, nx;      /* gathered input columns: frames [x_first, x_first + nx) */
    int64_t keep_from;        /* first input frame kept after the push */
    int slot;                 /* item of the compute batch, -1 when no outputs */
    int64_t off;              /* column of output frame `done` in the stage output */
} stage_io;

/* One stage during this push: the compute batch and the shapes. */
typedef struct stage_shape {
    int n_slots;
    int64_t nx, nout;         /* columns of the gathered input and of the output */
    int prev_slots;           /* items of the previous output */
    int64_t prev_nout;
} stage_shape;

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Host pass over all stages: fills io[k * n + i] and sh[k]; nothing is changed. */
static srt_status plan_push(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                            stage_io *io, stage_shape *sh, int64_t *gmax) {
    const snac_stream_plan *P = &streams[0]->plan;
    const snac_config *c = &streams[0]->m->cfg;
    int64_t G = 0;
    for (int i = 0; i < n; i++) G = max64(G, chunks[i].n_frames[0]);
    *gmax = G;
    /* the dequantized latent is the "output" before stage 0: item i holds its new frames at column 0 */
    int prev_slots = G > 0 ? n : 0;
    int64_t prev_nout = G * P->group_frames;
    for (int k = 0; k < P->n_stages; k++) {
        const snac_stage *st = &P->st[k];
        stage_shape *s = &sh[k];
        memset(s, 0, sizeof *s);
        s->prev_slots = prev_slots;
        s->prev_nout = prev_nout;
        for (int i = 0; i < n; i++) {
            const srt_codec_stream *S = streams[i];
            const snac_stage_state *ss = &S->ss[k];
            stage_io *o = &io[(size_t)k * n + i];
            memset(o, 0, sizeof *o);
            o->final = final[i] != 0;
            o->in_first = ss->in_have;
            if (k == 0) {
                o->n_in = chunks[i].n_frames[0] * P->group_frames;
                o->in_end = (S->n_groups + chunks[i].n_frames[0]) * P->group_frames;
                o->out_len = o->in_end;
                if (c->attn_window)   /* the end is padded with zero latent frames to a whole attention window */
                    o->out_len = (o->in_end + c->attn_window - 1) / c->attn_window * c->attn_window;
            } else {
                const stage_io *p = &io[(size_t)(k - 1) * n + i];
                o->n_in = p->avail - p->done;
                o->in_end = p->out_len;
                o->out_len = snac_stage_out_len(st, o->in_end);
            }
            int64_t in_have = o->in_first + o->n_in;
            o->done = ss->done;
            o->avail = snac_stage_avail(st, in_have, o->final, o->out_len, ss->done);
            o->keep_from = o->final ? in_have : min64(in_have, max64(0, snac_stage_first_input(st, o->avail)));
            if (o->keep_from < ss->hist_from || in_have - o->keep_from > st->hist_cap)
                return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d would keep input frames [%lld, %lld) "
                                 "of at most %d (internal error)", k, (long long)o->keep_from, (long long)in_have,
                                 st->hist_cap);
            o->active = o->n_in > 0 || o->avail > o->done;
            o->slot = -1;
            if (o->avail > o->done) {
                o->slot = s->n_slots++;
                if (st->kind == SNAC_STAGE_UP) {
                    o->x_first = snac_stage_first_input(st, o->done);
                    o->nx = snac_stage_end_input(st, o->avail - 1) - o->x_first;
                    o->off = o->done - o->x_first * st->stride + st->pad;
                } else if (st->kind == SNAC_STAGE_ATTN) {
                    o->x_first = o->done;
                    o->nx = o->avail - o->done;
                } else {
                    o->x_first = o->done - st->halo;
                    o->nx = o->avail - o->done + 2 * st->halo;
                }
                s->nx = max64(s->nx, o->nx);
                s->nout = max64(s->nout, o->avail - o->done);
            }
        }
        if (st->kind == SNAC_STAGE_UP && s->n_slots) s->nout = (s->nx + 1) * st->stride;
        if ((int64_t)s->n_slots * max64(st->in_ch, st->out_ch) > INT_MAX || max64(s->nx, s->nout) > INT_MAX)
            return srt_error(SRT_ERR_RANGE, "streaming decode: push too large (stage %d: %d x %d x %lld)", k,
                             s->n_slots, st->in_ch, (long long)max64(s->nx, s->nout));
        prev_slots = s->n_slots;
        prev_nout = s->nout;
    }
    return SRT_OK;
}

/* The block copies of a push: one table, uploaded with the codes and noise; each stage's part is one copy2d_batch op
 * (one launch on a device). */
typedef struct copy_list {
    int n, cap;
    srt_copy2d_args *items;
} copy_list;

static srt_status copy_add(copy_list *l, const srt_copy2d_args *c) {
    if (l->n == l->cap)
        return srt_error(SRT_ERR_BACKEND, "streaming decode: more than %d block copies in a stage (internal error)",
                         l->cap);
    l->items[l->n++] = *c;
    return SRT_OK;
}

/* Copy input frames [f0, f1) of stream i at stage k (in_ch rows) to y (row stride y_ld): the kept ones from
 * the stream's current block, the new ones from the previous stage's output prev (prev_slots, in_ch, prev_nout);
 * the (at most two) block copies are added to l. Fails (internal error) on a frame the stream no longer or not
 * yet has. */
static srt_status copy_frames(copy_list *l, const srt_codec_stream *S, int k, const stage_io *o, const stage_io *p,
                              int i, const stage_shape *s, int ch, int hist_cap, const float *prev, int64_t f0,
                              int64_t f1, float *y, int64_t y_ld) {
    if (f1 <= f0) return SRT_OK;
    const snac_stage_state *ss = &S->ss[k];
    int64_t in_have = o->in_first + o->n_in;
    if (f0 < ss->hist_from || f1 > in_have || (f0 < o->in_first && ss->hist_from + ss->hist_rows != o->in_first))
        return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d reads input frames [%lld, %lld) it does not "
                         "have (internal error)", k, (long long)f0, (long long)f1);
    int64_t a1 = f1 < o->in_first ? f1 : o->in_first;
    if (a1 > f0) {
        srt_copy2d_args c = {.rows = ch, .cols = (int)(a1 - f0), .x_ld = hist_cap,
                             .x = S->state + ss->hist_off + (f0 - ss->hist_from), .y_ld = y_ld, .y = y};
        SRT_TRY(copy_add(l, &c));
    }
    int64_t b0 = f0 > o->in_first ? f0 : o->in_first;
    if (f1 > b0) {
        int64_t slot = p ? p->slot : i, off = p ? p->off : 0;
        if (!prev || slot < 0)
            return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d has new input frames but no previous "
                             "output (internal error)", k);
        srt_copy2d_args c = {.rows = ch, .cols = (int)(f1 - b0), .x_ld = s->prev_nout,
                             .x = prev + (size_t)slot * ch * s->prev_nout + off + (b0 - o->in_first),
                             .y_ld = y_ld, .y = y + (b0 - f0)};
        SRT_TRY(copy_add(l, &c));
    }
    return SRT_OK;
}

/* Device buffers of one push (pointers into the leading stream's snac_stream_ws). Stage k builds its input in
 * X[k & 1] and a residual unit's residual (= its output) in K[k & 1]: the previous stage's output, which the
 * stage's block copies read, is never a buffer they write. Q / O: the dequantizer's scratch. */
typedef struct push_ws {
    float *X[2], *K[2], *T, *Y, *Q, *O;
    int32_t *codes[SNAC_MAX_LEVELS];
} push_ws;

/* One stage's device work in this push, planned on the host. */
typedef struct stage_run {
    int any;                  /* some stream is active at this stage */
    int first, n_copies;      /* its block copies: items [first, first + n_copies) of the push's table */
    int zero_x, zero_res;     /* clear X / the residual first (windows with zero columns) */
    int64_t max_copy;         /* largest block (floats) */
    float *X, *res, *y, *out; /* input window, residual, output argument, buffer holding the output */
    int res_ld;               /* row stride of res: 0 (nout, res is y) or nx (res in X, ops->conv1d_res_ld) */
    const float *noise;       /* device noise (n_slots, nout), NULL: none */
} stage_run;

/* Everything the device part of a push hands to the ops: fixed for a key (graph_run records it once per
 * key), while the contents of the uploaded pack (codes, block tables, noise) change from push to push. */
typedef struct push_body {
    snac_model *m;
    const snac_stream_plan *P;
    const stage_shape *sh;
    const stage_run *run;
    const srt_copy2d_args *items, *items_dev;   /* the block table: host, and its uploaded copy */
    push_ws *w;
    int n;
    int64_t G;
} push_body;

void snac_stream_ws_free(snac_model *m, snac_stream_ws *ws) {
    for (int i = 0; i < SNAC_WS_COUNT; i++) {
        if (ws->buf[i]) OPS(m)->free(CTX(m), ws->buf[i]);
        ws->buf[i] = NULL;
        ws->bytes[i] = 0;
    }
    for (int i = 0; i < SNAC_WH_COUNT; i++) {
        free(ws->host[i]);
        ws->host[i] = NULL;
        ws->host_bytes[i] = 0;
    }
}

/* Make host array `which` hold at least `bytes` (contents not kept when it grows). */
static srt_status wh_reserve(snac_stream_ws *ws, int which, size_t bytes, void **p) {
    if (bytes < 64) bytes = 64;
    if (ws->host_bytes[which] < bytes) {
        free(ws->host[which]);
        ws->host_bytes[which] = 0;
        if (!(ws->host[which] = srt_malloc(bytes, "stream push workspace"))) return SRT_ERR_NOMEM;
        ws->host_bytes[which] = bytes;
    }
    *p = ws->host[which];
    return SRT_OK;
}

/* Make buffer `which` hold at least `bytes`. */
static srt_status ws_reserve(snac_model *m, snac_stream_ws *ws, int which, size_t bytes, void **p) {
    if (bytes < 64) bytes = 64;
    if (ws->bytes[which] < bytes) {
        if (ws->buf[which]) OPS(m)->free(CTX(m), ws->buf[which]);
        ws->buf[which] = NULL;
        ws->bytes[which] = 0;
        SRT_TRY(OPS(m)->alloc(CTX(m), bytes, &ws->buf[which]));
        ws->bytes[which] = bytes;
    }
    *p = ws->buf[which];
    return SRT_OK;
}

/* The device part of a push: the dequantized latent of the new groups (Y (n, latent, G * S0), item i's frames at
 * column 0), then per stage the window / residual / kept-frame block copies (one op) and the stage's ops. It
 * never transfers or waits, so graph_run can record it. */
static srt_status push_body_run(void *arg) {
    const push_body *b = arg;
    snac_model *m = b->m;
    if (b->G > 0)
        SRT_TRY(snac_dequantize_into(m, b->n, (int)(b->G * b->P->group_frames), b->w->codes, b->w->Y, b->w->Q,
                                     b->w->O));
    for (int k = 0; k < b->P->n_stages; k++) {
        const stage_run *r = &b->run[k];
        const snac_stage *sg = &b->P->st[k];
        const stage_shape *s = &b->sh[k];
        if (!r->any) continue;
        if (r->zero_x) SRT_TRY(OPS(m)->memset0(CTX(m), r->X, sizeof(float) * (size_t)s->n_slots * sg->in_ch * s->nx));
        if (r->zero_res)
            SRT_TRY(OPS(m)->memset0(CTX(m), r->res, sizeof(float) * (size_t)s->n_slots * sg->in_ch * s->nout));
        if (r->n_copies) {
            srt_copy2d_batch_args cb = {r->n_copies, b->items + r->first, b->items_dev + r->first};
            SRT_TRY(srt_op_copy2d_batch(&m->be, &cb));
        }
        if (!s->n_slots) continue;
        snac_stage_args a = {.batch = s->n_slots, .in_len = (int)s->nx, .out_len = (int)s->nout, .padded = 0,
                             .x = r->X, .t = b->w->T, .res = r->res, .res_ld = r->res_ld, .y = r->y,
                             .noise = r->noise};
        float *out = NULL;
        SRT_TRY(snac_stage_forward(m, sg, &a, &out));
        if (out != r->out)
            return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d wrote another buffer than planned "
                             "(internal error)", k);
    }
    return SRT_OK;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

/* The recording key of a push body: every shape, flag and pointer it hands to the ops (the pack's contents
 * excepted: they are data the recorded ops read). */
static uint64_t push_key(const push_body *b) {
    uint64_t h = mix(0x53545245414D5055ull, (uint64_t)(uintptr_t)b->m);   /* "STREAMPU" */
    h = mix(mix(h, (uint64_t)b->n), (uint64_t)b->G);
    h = mix(mix(h, (uint64_t)(uintptr_t)b->items_dev), (uint64_t)(uintptr_t)b->w->Y);
    h = mix(mix(h, (uint64_t)(uintptr_t)b->w->T), (uint64_t)(uintptr_t)b->w->codes[0]);
    h = mix(mix(h, (uint64_t)(uintptr_t)b->w->Q), (uint64_t)(uintptr_t)b->w->O);
    for (int i = 0; i < 2; i++)
        h = mix(mix(h, (uint64_t)(uintptr_t)b->w->X[i]), (uint64_t)(uintptr_t)b->w->K[i]);
    for (int l = 0; l < SNAC_MAX_LEVELS; l++) h = mix(h, (uint64_t)(uintptr_t)b->w->codes[l]);
    for (int k = 0; k < b->P->n_stages; k++) {
        const stage_run *r = &b->run[k];
        const stage_shape *s = &b->sh[k];
        h = mix(h, (uint64_t)r->any | (uint64_t)r->zero_x << 1 | (uint64_t)r->zero_res << 2 |
                   (uint64_t)(r->noise != NULL) << 3);
        h = mix(mix(mix(h, (uint64_t)r->first), (uint64_t)r->n_copies), (uint64_t)r->max_copy);
        h = mix(mix(mix(h, (uint64_t)s->n_slots), (uint64_t)s->nx), (uint64_t)s->nout);
        h = mix(mix(h, (uint64_t)(uintptr_t)r->X), (uint64_t)(uintptr_t)r->res);
        h = mix(mix(mix(h, (uint64_t)(uintptr_t)r->y), (uint64_t)(uintptr_t)r->noise), (uint64_t)r->res_ld);
    }
    return h;
}

static size_t align256(size_t v) { return (v + 255) & ~(size_t)255; }

srt_status snac_stream_run(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                           float **audio, int64_t *n_out) {
    snac_model *m = streams[0]->m;
    const snac_stream_plan *P = &streams[0]->plan;
    const snac_config *c = &m->cfg;
    int K = P->n_stages;
    snac_stream_ws *cache = &streams[0]->ws;
    stage_io *io = NULL;
    stage_shape *sh = NULL;
    stage_run *run = NULL;
    SRT_TRY(wh_reserve(cache, SNAC_WH_IO, sizeof *io * (size_t)K * n, (void **)&io));
    SRT_TRY(wh_reserve(cache, SNAC_WH_SHAPE, sizeof *sh * (size_t)K, (void **)&sh));
    SRT_TRY(wh_reserve(cache, SNAC_WH_RUN, sizeof *run * (size_t)K, (void **)&run));
    memset(run, 0, sizeof *run * (size_t)K);
    int64_t G = 0;
    SRT_TRY(plan_push(n, streams, chunks, final, io, sh, &G));

    /* workspace sizes: the largest stage */
    size_t zX = 0, zK = 0, zT = 0, zY = (size_t)(n * G * P->group_frames * c->latent_dim);
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        size_t B = (size_t)s->n_slots;
        zX = max64(zX, B * sg->in_ch * s->nx);
        zK = max64(zK, B * sg->out_ch * s->nout);
        zT = max64(zT, B * (sg->kind == SNAC_STAGE_ATTN ? 5 : 1) * max64(sg->in_ch, sg->out_ch) * s->nout);
        if (sg->kind == SNAC_STAGE_IN) zT = max64(zT, B * c->latent_dim * s->nout);
        zY = max64(zY, B * sg->out_ch * s->nout);
    }
    /* the pack (one upload): codes per level | noise per noisy stage | the block table (per stage and stream: at
     * most two copies each for the window, the residual and the kept frames) */
    int64_t T0 = G * c->vq_strides[0];
    size_t code_off[SNAC_MAX_LEVELS] = {0}, noise_off[SNAC_MAX_STAGES] = {0}, z = 0;
    for (int l = 0; l < c->n_levels; l++) {
        code_off[l] = z;
        z = align256(z + sizeof(int32_t) * (size_t)(n * (T0 / c->vq_strides[l])));
    }
    int noisy[SNAC_MAX_STAGES] = {0};
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        if (sg->kind != SNAC_STAGE_UP || !m->dec_blocks[sg->block].has_noise) continue;
        for (int i = 0; i < n; i++)
            if (io[(size_t)k * n + i].slot >= 0 && streams[i]->noise_seed >= 0) noisy[k] = 1;
        if (!noisy[k]) continue;
        noise_off[k] = z;
        z = align256(z + sizeof(float) * (size_t)(sh[k].n_slots * sh[k].nout));
    }
    size_t table_off = z;
    int cap = 6 * n * K;
    size_t pack_bytes = table_off + sizeof(srt_copy2d_args) * (size_t)cap;

    push_ws w = {0};
    float *audio_host = NULL;
    unsigned char *pack_dev = NULL, *pack = NULL;
    srt_status st = SRT_OK;
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_X0, zX * sizeof(float), (void **)&w.X[0]), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_X1, zX * sizeof(float), (void **)&w.X[1]), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_K0, zK * sizeof(float), (void **)&w.K[0]), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_K1, zK * sizeof(float), (void **)&w.K[1]), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_T, zT * sizeof(float), (void **)&w.T), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_Y, zY * sizeof(float), (void **)&w.Y), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_PACK, pack_bytes, (void **)&pack_dev), done);
    /* dequantizer scratch: (n, codebook_dim, T0) and (n, latent, T0) */
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_VQ_Q, sizeof(float) * (size_t)(n * T0) * c->codebook_dim,
                            (void **)&w.Q), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_VQ_O, sizeof(float) * (size_t)(n * T0) * c->latent_dim,
                            (void **)&w.O), done);
    SRT_TRY_GOTO(wh_reserve(cache, SNAC_WH_PACK, pack_bytes, (void **)&pack), done);
    copy_list cl = {0, cap, (srt_copy2d_args *)(pack + table_off)};

    /* codes: level l (n, T0 / stride_l), item i's new codes first */
    for (int l = 0; l < c->n_levels; l++) {
        int64_t per = T0 / c->vq_strides[l];
        int32_t *dst = (int32_t *)(pack + code_off[l]);
        memset(dst, 0, sizeof(int32_t) * (size_t)(n * per));
        for (int i = 0; i < n; i++)
            if (chunks[i].n_frames[l])
                memcpy(dst + i * per, chunks[i].codes[l], sizeof(int32_t) * (size_t)chunks[i].n_frames[l]);
        w.codes[l] = (int32_t *)(pack_dev + code_off[l]);
    }

    /* per stage: the block copies, zero flags, noise and buffers (mirrors push_body_run) */
    float *prev = G > 0 ? w.Y : NULL;
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        const stage_io *o = &io[(size_t)k * n];
        const stage_io *po = k ? &io[(size_t)(k - 1) * n] : NULL;
        stage_run *r = &run[k];
        for (int i = 0; i < n; i++) r->any |= o[i].active;
        if (!r->any) { prev = NULL; continue; }
        const int ch = sg->in_ch, hc = sg->hist_cap;
        r->X = w.X[k & 1];
        r->first = cl.n;
        int unit = sg->kind == SNAC_STAGE_UNIT;
        /* a residual unit's residual: its window's middle columns, read in place where the backend takes a row
         * stride, else copied into its output buffer (the conv adds it in place) */
        int res_in_x = unit && OPS(m)->conv1d_res_ld;
        r->res = !unit ? NULL : res_in_x ? r->X + sg->halo : w.K[k & 1];
        r->res_ld = res_in_x ? (int)s->nx : 0;
        r->y = unit ? w.K[k & 1] : w.Y;
        r->out = sg->kind == SNAC_STAGE_ATTN ? r->X : r->y;
        /* X (slots, ch, nx): each window's frames; zero columns before frame 0, past a final input's end and past
         * a shorter window's end (then the whole X is cleared first). A residual unit's residual (slots, ch, nout)
         * is the window's middle columns (frames from x_first + halo), copied from the same sources. */
        for (int i = 0; i < n && s->n_slots; i++) {
            const stage_io *oi = &o[i];
            if (oi->slot < 0) continue;
            int64_t f0 = max64(oi->x_first, 0), f1 = oi->x_first + oi->nx;
            if (oi->final) f1 = min64(f1, oi->in_end);
            r->zero_x |= f0 > oi->x_first || f1 < oi->x_first + s->nx;
            float *dst = r->X + (size_t)oi->slot * ch * s->nx + (f0 - oi->x_first);
            SRT_TRY_GOTO(copy_frames(&cl, streams[i], k, oi, po ? &po[i] : NULL, i, s, ch, hc, prev, f0, f1, dst,
                                     s->nx), fail);
            if (!unit || res_in_x) continue;
            int64_t r0 = oi->x_first + sg->halo, g0 = max64(f0, r0), g1 = min64(f1, r0 + s->nout);
            r->zero_res |= g0 > r0 || g1 < r0 + s->nout;
            SRT_TRY_GOTO(copy_frames(&cl, streams[i], k, oi, po ? &po[i] : NULL, i, s, ch, hc, prev, g0, g1,
                                     r->res + (size_t)oi->slot * ch * s->nout + (g0 - r0), s->nout), fail);
        }
        /* keep the input frames later outputs read, [keep_from, in_have), in the spare block */
        for (int i = 0; i < n; i++) {
            const snac_stage_state *ss = &streams[i]->ss[k];
            const stage_io *oi = &o[i];
            if (!oi->active || oi->final) continue;
            SRT_TRY_GOTO(copy_frames(&cl, streams[i], k, oi, po ? &po[i] : NULL, i, s, ch, hc, prev, oi->keep_from,
                                     oi->in_first + oi->n_in, streams[i]->state + ss->hist_spare, hc), fail);
        }
        r->n_copies = cl.n - r->first;
        for (int j = r->first; j < cl.n; j++) r->max_copy = max64(r->max_copy, (int64_t)cl.items[j].rows * cl.items[j].cols);
        if (noisy[k]) {
            /* noise (slots, nout): the offline value at each absolute sample position; 0 for streams without */
            float *nh = (float *)(pack + noise_off[k]);
            memset(nh, 0, sizeof(float) * (size_t)(s->n_slots * s->nout));
            for (int i = 0; i < n; i++) {
                const stage_io *oi = &o[i];
                if (oi->slot < 0 || streams[i]->noise_seed < 0) continue;
                float *row = nh + (size_t)oi->slot * s->nout;
                for (int64_t t = oi->done; t < oi->avail; t++)
                    row[oi->off + (t - oi->done)] = snac_noise_value(streams[i]->noise_seed, sg->block, t);
            }
            r->noise = (const float *)(pack_dev + noise_off[k]);
        }
        prev = s->n_slots ? r->out : NULL;
    }

    /* from here on a failure leaves the streams' kept frames half-updated: they are marked failed */
    SRT_TRY_GOTO(OPS(m)->upload(CTX(m), pack_dev, pack, table_off + sizeof(srt_copy2d_args) * (size_t)cl.n), fail);
    {
        push_body b = {.m = m, .P = P, .sh = sh, .run = run, .items = cl.items,
                       .items_dev = (const srt_copy2d_args *)(pack_dev + table_off), .w = &w, .n = n, .G = G};
        if (OPS(m)->graph_run) SRT_TRY_GOTO(OPS(m)->graph_run(CTX(m), push_key(&b), push_body_run, &b), fail);
        else SRT_TRY_GOTO(push_body_run(&b), fail);
    }
    /* audio: the last stage's output, cut at the end of the last group */
    {
        const stage_shape *s = &sh[K - 1];
        const stage_io *o = &io[(size_t)(K - 1) * n];
        if (s->n_slots && prev) {
            SRT_TRY_GOTO(wh_reserve(cache, SNAC_WH_AUDIO, sizeof(float) * (size_t)(s->n_slots * s->nout),
                                    (void **)&audio_host), fail);
            SRT_TRY_GOTO(OPS(m)->download(CTX(m), audio_host, prev, sizeof(float) * (size_t)(s->n_slots * s->nout)),
                         fail);
        }
        for (int i = 0; i < n; i++) {
            if (o[i].slot < 0) continue;
            int64_t end = o[i].avail;
            if (final[i]) end = min64(end, (streams[i]->n_groups + chunks[i].n_frames[0]) * P->group_samples);
            int64_t cnt = end - o[i].done;
            if (cnt <= 0) continue;
            audio[i] = srt_malloc(sizeof(float) * (size_t)cnt, "stream audio");
            if (!audio[i]) { st = SRT_ERR_NOMEM; goto fail; }
            memcpy(audio[i], audio_host + (size_t)o[i].slot * s->nout + o[i].off, sizeof(float) * (size_t)cnt);
            n_out[i] = cnt;
        }
    }
    /* commit */
    for (int i = 0; i < n; i++) {
        srt_codec_stream *S = streams[i];
        for (int k = 0; k < K; k++) {
            const stage_io *oi = &io[(size_t)k * n + i];
            snac_stage_state *ss = &S->ss[k];
            ss->in_have = oi->in_first + oi->n_in;
            ss->done = oi->avail;
            if (oi->active) {
                ss->hist_from = oi->keep_from;
                ss->hist_rows = ss->in_have - oi->keep_from;
                if (!oi->final) {   /* the kept frames were written to the spare block */
                    size_t t = ss->hist_off;
                    ss->hist_off = ss->hist_spare;
                    ss->hist_spare = t;
                }
            }
        }
        S->n_groups += chunks[i].n_frames[0];
        S->emitted += n_out[i];
        if (final[i]) S->finished = 1;
    }
    goto done;
fail:
    for (int i = 0; i < n; i++) { streams[i]->failed = 1; free(audio[i]); audio[i] = NULL; n_out[i] = 0; }
done:
    return st;
}
