/* snac_stream_exec.c: one push of the streaming decoder, batched over streams, through the backend op table.
 *
 * Every stage (snac_stream.h) works in absolute frame positions. For each stream a host pass first decides, stage
 * by stage, which output frames become final with this push (snac_stage_avail) and which input frames it must
 * keep for later outputs. The device pass then runs each stage once for all streams, as one batch-1 op over a
 * row per channel in which the streams' frames lie side by side (a layout, snac_stream_plan.gather):
 *   each stream owns a run of columns of the layout, frame f at column col0 + f, wide enough for every window its
 *   stages read there (its new frames with the left context before them); the stages run with the offline
 *   decoder's "same" zero padding (no valid lengths), so an output frame lands on its input frame's column and a
 *   residual unit, the attention and the next stage of the layout work in place: a push copies no new frames
 *   between them, only each window's left context (kept frames, from the stream's state), zero columns (frames
 *   before 0 and past a final input's end: the offline zero padding) and the frames to keep (into the state's
 *   spare block). Columns between streams' windows hold garbage that no kept output reads.
 *   A gathering stage (the first, the attention, the one after an upsampling) starts a layout of its own: its new
 *   frames are copied in from the previous stage's output. An upsampling stage writes frame T of a stream at
 *   column stride * col0 + T of its output row.
 * Each stage's block copies are one copy2d_batch op. The weights of every conv are read once per push (batch 1),
 * whatever the number of streams; columns outside the windows cost compute (most at the low rates, where the
 * left context is long against a group's frames; there an upsampling stage gathers its short window instead).
 * On a host-memory backend (the cpu; snac_stream_plan.valid) compute is paid per column and copies are cheap: every
 * stage gathers its windows and the conv stages run unpadded (output frame f at column col0 + f - halo of a row of
 * w - 2 halo columns, a residual unit's residual read from its input row with res_ld), so only the windows' outputs
 * are computed, as a (streams, ch, window) batch would; the same code, with other plan flags.
 * The host plans every stage first and makes one upload (codes, the block tables, noise); the device part then
 * never transfers or waits, and on a backend with graph_run it is recorded once per shape and replayed. The state
 * is O(receptive field). The workspace (device buffers and host arrays) is kept by the leading stream and reused
 * by its next pushes: steady pushes allocate nothing. */
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
    int64_t x_first, nx;      /* the window read: input frames [x_first, x_first + nx) */
    int64_t keep_from;        /* first input frame kept after the push */
    int out;                  /* outputs are computed now (avail > done) */
    int64_t col0;             /* input frame f at column col0 + f of the stage's layout (UP output: stride * col0) */
} stage_io;

/* One stage during this push: its rows. */
typedef struct stage_shape {
    int n_out;                /* streams with outputs */
    int64_t w, w_out;         /* columns of the input row and of the output row (UP: w * stride, valid: w - 2 halo,
                               * else w) */
    int64_t oshift;           /* output frame f of a stream at column col0 + f + oshift (valid: -halo, else 0) */
} stage_shape;

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Host pass over all stages: fills io[k * n + i] and sh[k].n_out; nothing is changed. */
static srt_status plan_push(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                            stage_io *io, stage_shape *sh, int64_t *gmax) {
    const snac_stream_plan *P = &streams[0]->plan;
    const snac_config *c = &streams[0]->m->cfg;
    int64_t G = 0;
    for (int i = 0; i < n; i++) G = max64(G, chunks[i].n_frames[0]);
    *gmax = G;
    for (int k = 0; k < P->n_stages; k++) {
        const snac_stage *st = &P->st[k];
        stage_shape *s = &sh[k];
        memset(s, 0, sizeof *s);
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
            if (o->avail > o->done) {
                o->out = 1;
                s->n_out++;
                if (st->kind == SNAC_STAGE_UP) {
                    o->x_first = snac_stage_first_input(st, o->done);
                    o->nx = snac_stage_end_input(st, o->avail - 1) - o->x_first;
                } else if (st->kind == SNAC_STAGE_ATTN) {
                    o->x_first = o->done;
                    o->nx = o->avail - o->done;
                } else {
                    o->x_first = o->done - st->halo;
                    o->nx = o->avail - o->done + 2 * st->halo;
                }
            }
        }
    }
    return SRT_OK;
}

static int64_t ceil_to(int64_t v, int64_t a) {
    int64_t q = v / a;
    if (q * a < v) q++;
    return q * a;
}

/* The layouts of a push (snac_stream_plan.gather): per layout (a gathering stage and the stages after it up to
 * the next one) each stream gets the columns of the union of its windows there, streams one after the other
 * (an attention layout: each stream's frame 0 on a multiple of the window, so the op's windows are the stream's);
 * rows are rounded up to 8 columns (the attention's: to its window). Sets io[].col0, sh[].w and w_out, and
 * *zmax: the longest window (the zero row the zero columns are copied from). */
static srt_status layout_push(int n, const snac_stream_plan *P, stage_io *io, stage_shape *sh, int64_t *zmax) {
    int K = P->n_stages;
    *zmax = 0;
    for (int k0 = 0; k0 < K;) {
        int k1 = k0 + 1;
        while (k1 < K && !P->gather[k1]) k1++;
        int64_t a = 1, cursor = 0;
        for (int k = k0; k < k1; k++)
            if (P->st[k].kind == SNAC_STAGE_ATTN) a = P->st[k].window;
        for (int i = 0; i < n; i++) {
            int64_t lo = INT64_MAX, hi = INT64_MIN, c0 = 0;
            for (int k = k0; k < k1; k++) {
                const stage_io *o = &io[(size_t)k * n + i];
                if (!o->out) continue;
                lo = min64(lo, o->x_first);
                hi = max64(hi, o->x_first + o->nx);
                *zmax = max64(*zmax, o->nx);
            }
            if (lo < hi) {
                c0 = ceil_to(cursor - lo, a);
                cursor = c0 + hi;
            }
            for (int k = k0; k < k1; k++) io[(size_t)k * n + i].col0 = c0;
        }
        int64_t al = P->row_align;
        int64_t w = ceil_to(cursor, a % al == 0 ? a : al * a);
        for (int k = k0; k < k1; k++) {
            const snac_stage *st = &P->st[k];
            sh[k].w = sh[k].n_out ? w : 0;
            sh[k].oshift = P->valid[k] ? -(int64_t)st->halo : 0;
            sh[k].w_out = st->kind == SNAC_STAGE_UP ? sh[k].w * st->stride
                          : sh[k].w ? sh[k].w + 2 * sh[k].oshift : 0;
            if (sh[k].w && sh[k].w_out <= 0)
                return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d row of %lld columns is narrower than "
                                 "its window (internal error)", k, (long long)sh[k].w);
            if (sh[k].w_out > INT_MAX || (int64_t)max64(st->in_ch, st->out_ch) * sh[k].w_out > INT64_MAX / 8)
                return srt_error(SRT_ERR_RANGE, "streaming decode: push too large (stage %d: a row of %lld columns)",
                                 k, (long long)sh[k].w_out);
        }
        k0 = k1;
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
        return srt_error(SRT_ERR_BACKEND, "streaming decode: more than %d block copies in a push (internal error)",
                         l->cap);
    l->items[l->n++] = *c;
    return SRT_OK;
}

/* Frames of one stream in backend memory: row r, frame f at buf + r * ld + col0 + f. */
typedef struct fview {
    float *buf;
    int64_t ld, col0;
} fview;

static float *fv_at(const fview *v, int64_t f) { return v->buf + (v->col0 + f); }

/* Input frames [f0, f1) of stream S at stage k (ch rows) into dst: the kept ones from the stream's current block,
 * the new ones from the previous stage's output prev (nothing when prev is dst: they are there already); the (at
 * most two) block copies are added to l. Fails (internal error) on a frame the stream no longer or not yet has. */
static srt_status copy_frames(copy_list *l, const srt_codec_stream *S, int k, const stage_io *o, const fview *prev,
                              int ch, int hist_cap, int64_t f0, int64_t f1, const fview *dst) {
    if (f1 <= f0) return SRT_OK;
    const snac_stage_state *ss = &S->ss[k];
    int64_t in_have = o->in_first + o->n_in;
    if (f0 < ss->hist_from || f1 > in_have || (f0 < o->in_first && ss->hist_from + ss->hist_rows != o->in_first))
        return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d reads input frames [%lld, %lld) it does not "
                         "have (internal error)", k, (long long)f0, (long long)f1);
    int64_t a1 = min64(f1, o->in_first);
    if (a1 > f0) {
        srt_copy2d_args c = {.rows = ch, .cols = (int)(a1 - f0), .x_ld = hist_cap,
                             .x = S->state + ss->hist_off + (f0 - ss->hist_from), .y_ld = dst->ld, .y = fv_at(dst, f0)};
        SRT_TRY(copy_add(l, &c));
    }
    int64_t b0 = max64(f0, o->in_first);
    if (f1 > b0) {
        if (!prev || !prev->buf)
            return srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d has new input frames but no previous "
                             "output (internal error)", k);
        if (prev->buf == dst->buf && prev->ld == dst->ld && prev->col0 == dst->col0) return SRT_OK;   /* in place */
        srt_copy2d_args c = {.rows = ch, .cols = (int)(f1 - b0), .x_ld = prev->ld, .x = fv_at(prev, b0),
                             .y_ld = dst->ld, .y = fv_at(dst, b0)};
        SRT_TRY(copy_add(l, &c));
    }
    return SRT_OK;
}

/* Zero frames [f0, f1) of dst (ch rows), copied from the zero row. */
static srt_status zero_frames(copy_list *l, const float *zero, int ch, int64_t f0, int64_t f1, const fview *dst) {
    if (f1 <= f0) return SRT_OK;
    srt_copy2d_args c = {.rows = ch, .cols = (int)(f1 - f0), .x_ld = 0, .x = zero, .y_ld = dst->ld,
                         .y = fv_at(dst, f0)};
    return copy_add(l, &c);
}

/* Device buffers of one push (pointers into the leading stream's snac_stream_ws): the layouts' rows CH[0] / CH[1]
 * (a gathering stage fills the one the previous output is not in), U (an upsampling stage's output), T (a
 * stage's scratch), Z (zeros), Y / Q / O (the dequantizer's output and scratch). */
typedef struct push_ws {
    float *CH[2], *U, *T, *Z, *Y, *Q, *O;
    int32_t *codes[SNAC_MAX_LEVELS];
} push_ws;

/* Input and output buffer of every stage, fixed by the plan: a gathering stage's input is the CH buffer that
 * does not hold the previous output, another stage's input is the previous output; a residual unit and the
 * attention write in place, an upsampling stage to U, the input and output convs to the other CH buffer. */
static void stage_buffers(const snac_stream_plan *P, const push_ws *w, float **X, float **Y) {
    float *cur = NULL;
    for (int k = 0; k < P->n_stages; k++) {
        const snac_stage *st = &P->st[k];
        X[k] = P->gather[k] || !cur ? (cur == w->CH[0] ? w->CH[1] : w->CH[0]) : cur;
        switch (st->kind) {
        case SNAC_STAGE_UNIT: Y[k] = P->valid[k] ? (X[k] == w->CH[0] ? w->CH[1] : w->CH[0]) : X[k]; break;
        case SNAC_STAGE_ATTN: Y[k] = X[k]; break;
        case SNAC_STAGE_UP: Y[k] = w->U; break;
        default: Y[k] = X[k] == w->CH[0] ? w->CH[1] : w->CH[0]; break;
        }
        cur = Y[k];
    }
}

/* One stage's device work in this push, planned on the host. */
typedef struct stage_run {
    int any;                  /* some stream is active at this stage */
    int first, n_copies;      /* its block copies: items [first, first + n_copies) of the push's table */
    int64_t max_copy;         /* largest block (floats) */
    float *X, *Y;             /* input row and output row */
    const float *noise;       /* device noise (1, w_out), NULL: none */
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

/* Make buffer `which` hold at least `bytes`; *grown (optional) says whether it was (re)allocated. */
static srt_status ws_reserve(snac_model *m, snac_stream_ws *ws, int which, size_t bytes, void **p, int *grown) {
    if (bytes < 64) bytes = 64;
    if (grown) *grown = 0;
    if (ws->bytes[which] < bytes) {
        if (ws->buf[which]) OPS(m)->free(CTX(m), ws->buf[which]);
        ws->buf[which] = NULL;
        ws->bytes[which] = 0;
        SRT_TRY(OPS(m)->alloc(CTX(m), bytes, &ws->buf[which]));
        ws->bytes[which] = bytes;
        if (grown) *grown = 1;
    }
    *p = ws->buf[which];
    return SRT_OK;
}

/* The device part of a push: the dequantized latent of the new groups (Y (n, latent, G * S0), item i's frames at
 * column 0), then per stage the block copies (one op) and the stage's ops on its rows (batch 1, "same" padding).
 * It never transfers or waits, so graph_run can record it. */
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
        if (r->n_copies) {
            srt_copy2d_batch_args cb = {r->n_copies, b->items + r->first, b->items_dev + r->first};
            SRT_TRY(srt_op_copy2d_batch(&m->be, &cb));
        }
        if (!s->n_out) continue;
        /* valid (snac_stream.h): no padding, a residual unit's residual read in place from the middle of its input
         * row (row stride w); else "same" padding, a residual unit in place */
        int unit = sg->kind == SNAC_STAGE_UNIT, valid = b->P->valid[k];
        snac_stage_args a = {.batch = 1, .in_len = (int)s->w, .out_len = (int)s->w_out, .padded = !valid,
                             .x = r->X, .t = b->w->T, .res = unit ? r->X - s->oshift : NULL,
                             .res_ld = unit && valid ? (int)s->w : 0, .y = r->Y, .noise = r->noise};
        float *out = NULL;
        SRT_TRY(snac_stage_forward(m, sg, &a, &out));
        if (out != r->Y)
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
    h = mix(mix(h, (uint64_t)(uintptr_t)b->w->T), (uint64_t)(uintptr_t)b->w->U);
    h = mix(mix(h, (uint64_t)(uintptr_t)b->w->Q), (uint64_t)(uintptr_t)b->w->O);
    h = mix(mix(h, (uint64_t)(uintptr_t)b->w->CH[0]), (uint64_t)(uintptr_t)b->w->CH[1]);
    for (int l = 0; l < SNAC_MAX_LEVELS; l++) h = mix(h, (uint64_t)(uintptr_t)b->w->codes[l]);
    for (int k = 0; k < b->P->n_stages; k++) {
        const stage_run *r = &b->run[k];
        const stage_shape *s = &b->sh[k];
        h = mix(h, (uint64_t)r->any | (uint64_t)(r->noise != NULL) << 1);
        h = mix(mix(mix(h, (uint64_t)r->first), (uint64_t)r->n_copies), (uint64_t)r->max_copy);
        h = mix(mix(mix(h, (uint64_t)s->n_out), (uint64_t)s->w), (uint64_t)s->w_out);
        h = mix(mix(mix(h, (uint64_t)(uintptr_t)r->X), (uint64_t)(uintptr_t)r->Y), (uint64_t)(uintptr_t)r->noise);
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
    int64_t G = 0, zmax = 0;
    SRT_TRY(plan_push(n, streams, chunks, final, io, sh, &G));
    SRT_TRY(layout_push(n, P, io, sh, &zmax));

    /* workspace sizes (floats): the layouts' rows, the upsampling outputs, the scratch, the dequantized latent */
    int64_t T0 = G * c->vq_strides[0];
    size_t zCH = 0, zU = 0, zT = 0, zY = (size_t)(n * T0 * c->latent_dim);
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        size_t w = (size_t)s->w, wo = (size_t)s->w_out;
        zCH = max64(zCH, (size_t)sg->in_ch * w);
        if (sg->kind == SNAC_STAGE_UP) {
            zU = max64(zU, (size_t)sg->out_ch * wo);
            zT = max64(zT, (size_t)sg->out_ch * wo);                      /* the noise block's h */
        } else {
            zCH = max64(zCH, (size_t)sg->out_ch * w);
            zT = max64(zT, (sg->kind == SNAC_STAGE_ATTN ? 5 : 1) * (size_t)max64(sg->in_ch, sg->out_ch) * w);
        }
    }
    /* the pack (one upload): codes per level | noise per noisy stage | the block table (per stage and stream: at
     * most two copies for the window, two zero runs and two copies of kept frames) */
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
            if (io[(size_t)k * n + i].out && streams[i]->noise_seed >= 0) noisy[k] = 1;
        if (!noisy[k]) continue;
        noise_off[k] = z;
        z = align256(z + sizeof(float) * (size_t)sh[k].w_out);
    }
    size_t table_off = z;
    int cap = 6 * n * K;
    size_t pack_bytes = table_off + sizeof(srt_copy2d_args) * (size_t)cap;

    push_ws w = {0};
    float *audio_host = NULL, *X[SNAC_MAX_STAGES], *Yk[SNAC_MAX_STAGES];
    unsigned char *pack_dev = NULL, *pack = NULL;
    srt_status st = SRT_OK;
    int z_new = 0;
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_CH0, zCH * sizeof(float), (void **)&w.CH[0], NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_CH1, zCH * sizeof(float), (void **)&w.CH[1], NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_U, zU * sizeof(float), (void **)&w.U, NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_Z, (size_t)zmax * sizeof(float), (void **)&w.Z, &z_new), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_T, zT * sizeof(float), (void **)&w.T, NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_Y, zY * sizeof(float), (void **)&w.Y, NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_PACK, pack_bytes, (void **)&pack_dev, NULL), done);
    /* dequantizer scratch: (n, codebook_dim, T0) and (n, latent, T0) */
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_VQ_Q, sizeof(float) * (size_t)(n * T0) * c->codebook_dim,
                            (void **)&w.Q, NULL), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_VQ_O, sizeof(float) * (size_t)(n * T0) * c->latent_dim,
                            (void **)&w.O, NULL), done);
    SRT_TRY_GOTO(wh_reserve(cache, SNAC_WH_PACK, pack_bytes, (void **)&pack), done);
    if (z_new) SRT_TRY_GOTO(OPS(m)->memset0(CTX(m), w.Z, cache->bytes[SNAC_WS_Z]), done);   /* the zero row */
    stage_buffers(P, &w, X, Yk);
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

    /* per stage: the block copies and the noise (mirrors push_body_run) */
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        const stage_io *o = &io[(size_t)k * n];
        const stage_io *po = k ? &io[(size_t)(k - 1) * n] : NULL;
        stage_run *r = &run[k];
        for (int i = 0; i < n; i++) r->any |= o[i].active;
        r->X = X[k];
        r->Y = Yk[k];
        r->first = cl.n;
        if (!r->any) continue;
        const int ch = sg->in_ch, hc = sg->hist_cap;
        int prev_stride = k && P->st[k - 1].kind == SNAC_STAGE_UP ? P->st[k - 1].stride : 1;
        for (int i = 0; i < n; i++) {
            const stage_io *oi = &o[i];
            if (!oi->active) continue;
            /* the previous output of this stream: the dequantized latent (item i, its new frames from column 0) or
             * the previous stage's output row */
            fview pv = {0}, xv = {X[k], s->w, oi->col0};
            if (k == 0) {
                if (G > 0) pv = (fview){w.Y + (size_t)i * c->latent_dim * T0, T0, -oi->in_first};
            } else if (sh[k - 1].n_out) {
                pv = (fview){Yk[k - 1], sh[k - 1].w_out, po[i].col0 * prev_stride + sh[k - 1].oshift};
            }
            if (oi->out) {
                /* the window: zero before frame 0 and past a final input's end, kept and new frames between */
                int64_t f0 = oi->x_first, f1 = oi->x_first + oi->nx;
                int64_t fa = max64(f0, 0), fb = oi->final ? max64(fa, min64(f1, oi->in_end)) : f1;
                SRT_TRY_GOTO(zero_frames(&cl, w.Z, ch, f0, min64(f1, 0), &xv), fail);
                SRT_TRY_GOTO(copy_frames(&cl, streams[i], k, oi, &pv, ch, hc, fa, fb, &xv), fail);
                SRT_TRY_GOTO(zero_frames(&cl, w.Z, ch, max64(fb, f0), f1, &xv), fail);
            }
            if (oi->final) continue;
            /* keep the input frames later outputs read, [keep_from, in_have), in the spare block */
            const snac_stage_state *ss = &streams[i]->ss[k];
            fview kv = {streams[i]->state + ss->hist_spare, hc, -oi->keep_from};
            SRT_TRY_GOTO(copy_frames(&cl, streams[i], k, oi, &pv, ch, hc, oi->keep_from, oi->in_first + oi->n_in,
                                     &kv), fail);
        }
        r->n_copies = cl.n - r->first;
        for (int j = r->first; j < cl.n; j++) r->max_copy = max64(r->max_copy, (int64_t)cl.items[j].rows * cl.items[j].cols);
        if (noisy[k]) {
            /* noise (1, w_out): the offline value at each absolute sample position; 0 elsewhere and for streams
             * without */
            float *nh = (float *)(pack + noise_off[k]);
            memset(nh, 0, sizeof(float) * (size_t)s->w_out);
            for (int i = 0; i < n; i++) {
                const stage_io *oi = &o[i];
                if (!oi->out || streams[i]->noise_seed < 0) continue;
                for (int64_t t = oi->done; t < oi->avail; t++)
                    nh[oi->col0 * sg->stride + t] = snac_noise_value(streams[i]->noise_seed, sg->block, t);
            }
            r->noise = (const float *)(pack_dev + noise_off[k]);
        }
    }

    /* from here on a failure leaves the streams' kept frames half-updated: they are marked failed */
    SRT_TRY_GOTO(OPS(m)->upload(CTX(m), pack_dev, pack, table_off + sizeof(srt_copy2d_args) * (size_t)cl.n), fail);
    {
        push_body b = {.m = m, .P = P, .sh = sh, .run = run, .items = cl.items,
                       .items_dev = (const srt_copy2d_args *)(pack_dev + table_off), .w = &w, .n = n, .G = G};
        if (OPS(m)->graph_run) SRT_TRY_GOTO(OPS(m)->graph_run(CTX(m), push_key(&b), push_body_run, &b), fail);
        else SRT_TRY_GOTO(push_body_run(&b), fail);
    }
    /* audio: the last stage's output row, each stream's frames cut at the end of its last group */
    {
        const stage_shape *s = &sh[K - 1];
        const stage_io *o = &io[(size_t)(K - 1) * n];
        if (s->n_out) {
            SRT_TRY_GOTO(wh_reserve(cache, SNAC_WH_AUDIO, sizeof(float) * (size_t)s->w_out, (void **)&audio_host),
                         fail);
            SRT_TRY_GOTO(OPS(m)->download(CTX(m), audio_host, Yk[K - 1], sizeof(float) * (size_t)s->w_out), fail);
        }
        for (int i = 0; i < n; i++) {
            if (!o[i].out) continue;
            int64_t end = o[i].avail;
            if (final[i]) end = min64(end, (streams[i]->n_groups + chunks[i].n_frames[0]) * P->group_samples);
            int64_t cnt = end - o[i].done;
            if (cnt <= 0) continue;
            audio[i] = srt_malloc(sizeof(float) * (size_t)cnt, "stream audio");
            if (!audio[i]) { st = SRT_ERR_NOMEM; goto fail; }
            memcpy(audio[i], audio_host + (o[i].col0 + s->oshift + o[i].done), sizeof(float) * (size_t)cnt);
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
