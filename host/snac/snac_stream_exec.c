/* snac_stream_exec.c: one push of the streaming decoder, batched over streams, through the backend op table.
 *
 * Every stage (snac_stream.h) works in absolute frame positions. For each stream a host pass first decides, stage
 * by stage, which output frames become final with this push (snac_stage_avail) and which input frames it must
 * keep for later outputs; then the device pass runs each stage once for all streams:
 *   R  (rows, in_ch) time-major: row 0 = zeros | each stream's kept rows (copied from its state) | the previous
 *      stage's output, transposed (one `transpose` call)
 *   X  (slots, in_ch, nx) = R[index] (one `embed` call: a row gather): each stream's input window, at its own
 *      absolute offset; rows before frame 0 or past a final input's end point at the zero row, which is exactly
 *      the offline decoder's zero padding
 *   the stage's ops on X with padding 0 (one call each for all streams), output (slots, out_ch, nout)
 *   the input rows still needed are copied back into each stream's state.
 * Each output frame is computed once, from the same inputs as offline, so a push of g groups costs about g groups
 * of offline decoder work plus the gathers, whatever the stream's length; the state is O(receptive field). */
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
    int64_t n_rows;           /* rows of R */
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
        s->n_rows = 1 + (int64_t)n * st->hist_cap + (int64_t)prev_slots * prev_nout;
        if (s->n_rows > INT_MAX || (int64_t)s->n_slots * max64(s->nx, s->nout) > INT_MAX)
            return srt_error(SRT_ERR_RANGE, "streaming decode: push too large (stage %d: %lld rows, %d x %lld "
                             "columns)", k, (long long)s->n_rows, s->n_slots, (long long)max64(s->nx, s->nout));
        prev_slots = s->n_slots;
        prev_nout = s->nout;
    }
    return SRT_OK;
}

/* Row of R holding input frame f of item i at stage k; -1 for a frame the stream no longer (or not yet) has. */
static int64_t row_of(const srt_codec_stream *S, int k, const stage_io *o, const stage_io *prev, int i, int n,
                      const stage_shape *s, int hist_cap, int64_t f) {
    if (f < 0 || (o->final && f >= o->in_end)) return 0;
    if (f < o->in_first)
        return f < S->ss[k].hist_from ? -1 : 1 + (int64_t)i * hist_cap + (f - S->ss[k].hist_from);
    if (f >= o->in_first + o->n_in) return -1;
    int64_t base = 1 + (int64_t)n * hist_cap, slot = prev ? prev->slot : i, off = prev ? prev->off : 0;
    return base + slot * s->prev_nout + off + (f - o->in_first);
}

/* Device buffers of one push (pointers into the leading stream's snac_stream_ws). */
typedef struct push_ws {
    float *R, *X, *K, *T, *Y;
    int32_t *idx;
    float *noise;
    int32_t *codes[SNAC_MAX_LEVELS];
} push_ws;

void snac_stream_ws_free(snac_model *m, snac_stream_ws *ws) {
    for (int i = 0; i < SNAC_WS_COUNT; i++) {
        if (ws->buf[i]) OPS(m)->free(CTX(m), ws->buf[i]);
        ws->buf[i] = NULL;
        ws->bytes[i] = 0;
    }
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

/* Gather columns: y (slots, ch, len) from rows of R by idx (slots, len). The indices are ours (row_of: in
 * [0, n_rows)), so the embed is trusted: a device backend reads no range check back (no sync per stage). */
static srt_status gather(snac_model *m, int slots, int ch, int64_t len, int64_t n_rows, const float *R,
                         const int32_t *idx, float *y) {
    srt_embed_args a = {.batch = slots, .dim = ch, .len = (int)len, .n_codes = (int)n_rows, .codebook = R,
                        .codes = idx, .y = y, .trusted = 1};
    return srt_op_embed(&(m)->be, &a);
}

/* Run stage k's ops (snac_stages.c, no padding) on the gathered input; *out receives the output buffer
 * (slots, out_ch, nout). */
static srt_status run_stage_ops(snac_model *m, const snac_stage *st, const stage_shape *s, push_ws *w,
                                srt_codec_stream *const *streams, const stage_io *io, int n, float *noise_host,
                                float **out) {
    int B = s->n_slots;
    snac_stage_args a = {.batch = B, .in_len = (int)s->nx, .out_len = (int)s->nout, .padded = 0,
                         .x = w->X, .t = w->T, .res = w->K, .y = st->kind == SNAC_STAGE_UNIT ? w->K : w->Y};
    int any_noise = 0;
    if (st->kind == SNAC_STAGE_UP && m->dec_blocks[st->block].has_noise)
        for (int i = 0; i < n; i++) if (io[i].slot >= 0 && streams[i]->noise_seed >= 0) any_noise = 1;
    if (any_noise) {
        /* noise (B, nout): the offline value at each absolute sample position; 0 for streams without noise */
        memset(noise_host, 0, sizeof(float) * (size_t)(B * s->nout));
        for (int i = 0; i < n; i++) {
            const stage_io *o = &io[i];
            if (o->slot < 0 || streams[i]->noise_seed < 0) continue;
            float *row = noise_host + (size_t)o->slot * s->nout;
            for (int64_t t = o->done; t < o->avail; t++)
                row[o->off + (t - o->done)] = snac_noise_value(streams[i]->noise_seed, st->block, t);
        }
        SRT_TRY(OPS(m)->upload(CTX(m), w->noise, noise_host, sizeof(float) * (size_t)(B * s->nout)));
        a.noise = w->noise;
    }
    return snac_stage_forward(m, st, &a, out);
}

/* The dequantized latent of the new groups: Y (n, latent, G * S0), item i's frames at column 0. */
static srt_status dequantize_new(snac_model *m, int n, const srt_codes *chunks, int64_t G, push_ws *w) {
    const snac_config *c = &m->cfg;
    int64_t T = G * c->vq_strides[0];
    int32_t *host = srt_calloc((size_t)(n * T), sizeof(int32_t), "stream codes");
    if (!host) return SRT_ERR_NOMEM;
    srt_status st = SRT_OK;
    for (int l = 0; l < c->n_levels && st == SRT_OK; l++) {
        int64_t per = T / c->vq_strides[l];                                    /* codes per item at level l */
        memset(host, 0, sizeof(int32_t) * (size_t)(n * per));
        for (int i = 0; i < n; i++)
            if (chunks[i].n_frames[l])
                memcpy(host + i * per, chunks[i].codes[l], sizeof(int32_t) * (size_t)chunks[i].n_frames[l]);
        st = srt_backend_alloc_upload(&m->be, host, sizeof(int32_t) * (size_t)(n * per), (void **)&w->codes[l]);
    }
    free(host);
    SRT_TRY(st);
    return snac_dequantize(m, n, (int)T, w->codes, w->Y);
}

srt_status snac_stream_run(int n, srt_codec_stream *const *streams, const srt_codes *chunks, const int *final,
                           float **audio, int64_t *n_out) {
    snac_model *m = streams[0]->m;
    const snac_stream_plan *P = &streams[0]->plan;
    const snac_config *c = &m->cfg;
    int K = P->n_stages;
    stage_io *io = srt_calloc((size_t)K * n, sizeof *io, "stream push plan");
    stage_shape *sh = srt_calloc((size_t)K, sizeof *sh, "stream push plan");
    if (!io || !sh) { free(io); free(sh); return SRT_ERR_NOMEM; }
    int64_t G = 0;
    srt_status st = plan_push(n, streams, chunks, final, io, sh, &G);
    if (st != SRT_OK) { free(io); free(sh); return st; }

    /* workspace sizes: the largest stage */
    size_t zR = 0, zX = 0, zK = 0, zT = 0, zY = (size_t)(n * G * P->group_frames * c->latent_dim), zI = 0, zN = 0;
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        size_t B = (size_t)s->n_slots;
        if (s->prev_slots || B) zR = max64(zR, s->n_rows * sg->in_ch);
        zX = max64(zX, B * sg->in_ch * s->nx);
        zK = max64(zK, B * sg->out_ch * s->nout);
        zT = max64(zT, B * (sg->kind == SNAC_STAGE_ATTN ? 5 : 1) * max64(sg->in_ch, sg->out_ch) * s->nout);
        if (sg->kind == SNAC_STAGE_IN) zT = max64(zT, B * c->latent_dim * s->nout);
        zY = max64(zY, B * sg->out_ch * s->nout);
        zI = max64(zI, B * (s->nx + s->nout));
        zN = max64(zN, B * s->nout);
    }
    push_ws w = {0};
    snac_stream_ws *cache = &streams[0]->ws;
    int32_t *idx_host = srt_malloc(sizeof(int32_t) * (zI ? zI : 1), "stream gather indices");
    float *noise_host = srt_malloc(sizeof(float) * (zN ? zN : 1), "stream noise");
    float *audio_host = NULL;
    if (!idx_host || !noise_host) { st = SRT_ERR_NOMEM; goto done; }
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_R, zR * sizeof(float), (void **)&w.R), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_X, zX * sizeof(float), (void **)&w.X), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_K, zK * sizeof(float), (void **)&w.K), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_T, zT * sizeof(float), (void **)&w.T), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_Y, zY * sizeof(float), (void **)&w.Y), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_NOISE, zN * sizeof(float), (void **)&w.noise), done);
    SRT_TRY_GOTO(ws_reserve(m, cache, SNAC_WS_IDX, zI * sizeof(int32_t), (void **)&w.idx), done);

    /* from here on a failure leaves the streams' kept rows half-updated: they are marked failed */
    float *prev = NULL;
    if (G > 0) {
        SRT_TRY_GOTO(dequantize_new(m, n, chunks, G, &w), fail);
        prev = w.Y;
    }
    for (int k = 0; k < K; k++) {
        const snac_stage *sg = &P->st[k];
        const stage_shape *s = &sh[k];
        const stage_io *o = &io[(size_t)k * n];
        const stage_io *po = k ? &io[(size_t)(k - 1) * n] : NULL;
        int any = 0;
        for (int i = 0; i < n; i++) any |= o[i].active;
        if (!any) { prev = NULL; continue; }
        size_t ch = (size_t)sg->in_ch, cap = (size_t)sg->hist_cap;
        /* R: zero row | kept rows | previous output transposed */
        SRT_TRY_GOTO(OPS(m)->memset0(CTX(m), w.R, ch * sizeof(float)), fail);
        for (int i = 0; i < n; i++) {
            const snac_stage_state *ss = &streams[i]->ss[k];
            if (o[i].active && ss->hist_rows > 0)
                SRT_TRY_GOTO(OPS(m)->copy(CTX(m), w.R + (1 + i * cap) * ch, streams[i]->state + ss->hist_off,
                                          sizeof(float) * ch * (size_t)ss->hist_rows), fail);
        }
        if (s->prev_slots && s->prev_nout && prev) {
            srt_transpose_args tr = {.batch = s->prev_slots, .rows = sg->in_ch, .cols = (int)s->prev_nout,
                                     .x = prev, .residual = NULL, .y = w.R + (1 + n * cap) * ch};
            SRT_TRY_GOTO(srt_op_transpose(&(m)->be, &tr), fail);
        }
        prev = NULL;
        if (s->n_slots) {
            /* gather indices: X (slots, nx) [then K (slots, nout) for residual units] */
            int is_unit = sg->kind == SNAC_STAGE_UNIT;
            int32_t *ix = idx_host, *ik = idx_host + (size_t)s->n_slots * s->nx;
            memset(idx_host, 0, sizeof(int32_t) * (size_t)(s->n_slots * (s->nx + (is_unit ? s->nout : 0))));
            int missing = 0;
            for (int i = 0; i < n; i++) {
                if (o[i].slot < 0) continue;
                const stage_io *pi = po ? &po[i] : NULL;
                for (int64_t j = 0; j < o[i].nx; j++) {
                    int64_t r = row_of(streams[i], k, &o[i], pi, i, n, s, sg->hist_cap, o[i].x_first + j);
                    missing |= r < 0;
                    ix[(size_t)o[i].slot * s->nx + j] = (int32_t)r;
                }
                if (is_unit)
                    for (int64_t j = 0; j < o[i].avail - o[i].done; j++) {
                        int64_t r = row_of(streams[i], k, &o[i], pi, i, n, s, sg->hist_cap, o[i].done + j);
                        missing |= r < 0;
                        ik[(size_t)o[i].slot * s->nout + j] = (int32_t)r;
                    }
            }
            if (missing) {
                st = srt_error(SRT_ERR_BACKEND, "streaming decode: stage %d reads an input frame it did not keep "
                               "(internal error)", k);
                goto fail;
            }
            size_t n_idx = (size_t)s->n_slots * (s->nx + (is_unit ? s->nout : 0));
            SRT_TRY_GOTO(OPS(m)->upload(CTX(m), w.idx, idx_host, sizeof(int32_t) * n_idx), fail);
            SRT_TRY_GOTO(gather(m, s->n_slots, sg->in_ch, s->nx, s->n_rows, w.R, w.idx, w.X), fail);
            if (is_unit)
                SRT_TRY_GOTO(gather(m, s->n_slots, sg->in_ch, s->nout, s->n_rows, w.R,
                                    w.idx + (size_t)s->n_slots * s->nx, w.K), fail);
            SRT_TRY_GOTO(run_stage_ops(m, sg, s, &w, streams, o, n, noise_host, &prev), fail);
        }
        /* keep the input rows later outputs read: [keep_from, in_first) from the old rows, the rest new */
        for (int i = 0; i < n; i++) {
            const snac_stage_state *ss = &streams[i]->ss[k];
            const stage_io *oi = &o[i];
            if (!oi->active || oi->final) continue;
            int64_t in_have = oi->in_first + oi->n_in, a0 = oi->keep_from, a1 = min64(oi->in_first, in_have);
            float *dst = streams[i]->state + ss->hist_off;
            if (a1 > a0) {
                SRT_TRY_GOTO(OPS(m)->copy(CTX(m), dst, w.R + (size_t)(1 + i * cap + (a0 - ss->hist_from)) * ch,
                                          sizeof(float) * ch * (size_t)(a1 - a0)), fail);
                dst += (size_t)(a1 - a0) * ch;
            }
            int64_t b0 = max64(a0, oi->in_first);
            if (in_have > b0) {
                int64_t row = row_of(streams[i], k, oi, po ? &po[i] : NULL, i, n, s, sg->hist_cap, b0);
                SRT_TRY_GOTO(OPS(m)->copy(CTX(m), dst, w.R + (size_t)row * ch, sizeof(float) * ch * (size_t)(in_have - b0)),
                             fail);
            }
        }
    }
    /* audio: the last stage's output, cut at the end of the last group */
    {
        const stage_shape *s = &sh[K - 1];
        const stage_io *o = &io[(size_t)(K - 1) * n];
        if (s->n_slots && prev) {
            audio_host = srt_malloc(sizeof(float) * (size_t)(s->n_slots * s->nout), "stream audio");
            if (!audio_host) { st = SRT_ERR_NOMEM; goto fail; }
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
    for (int l = 0; l < SNAC_MAX_LEVELS; l++) if (w.codes[l]) OPS(m)->free(CTX(m), w.codes[l]);
    free(idx_host);
    free(noise_host);
    free(audio_host);
    free(io);
    free(sh);
    return st;
}
