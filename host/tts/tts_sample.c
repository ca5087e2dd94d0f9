/* tts_sample.c: one generated token of a request: mask the logits to what the layout allows at the current
 * frame position (audio ids of that position whose code the codec has, plus end-of-speech), hand them to the
 * request's logits callback if it has one, sample (tts_pick_token: the host path, mask and sample op of the
 * engine's host backend e->host; or the scheduler picks on the LM's device with the same mask as a srt_mask_row
 * from tts_mask_row), then file the token (tts_file_token): a code into the frame group being assembled (a
 * complete valid group is queued for the codec, an invalid one dropped and counted), end-of-speech or max_tokens
 * ending the piece. */
#include "tts/tts_internal.h"

void tts_mask_row(const srt_tts_engine *e, const tts_req *r, srt_mask_row *m) {
    if (r->chat) { tts_chat_mask_row(e, r, m); return; }
    const srt_layout *l = e->layout;
    int32_t lo = srt_layout_audio_id(l, r->pos, 0);
    *m = (srt_mask_row){.clear_begin = e->mask_lo, .clear_end = e->mask_hi, .keep_begin = lo,
                        .keep_end = lo + e->codec_info.codebook_size, .keep_id = l->end_of_speech};
    if (m->keep_begin < m->clear_begin) m->keep_begin = m->clear_begin;   /* the op wants keep inside [0, vocab) */
    if (m->keep_end > m->clear_end) m->keep_end = m->clear_end;
    if (m->keep_end <= m->keep_begin) m->keep_begin = m->keep_end = m->clear_begin;
}

/* The host path's mask: the same row applied to the downloaded logits by the engine's host backend (one
 * definition of the position mask for both paths, through the dispatch layer like every op). */
static srt_status mask_position(const srt_tts_engine *e, const tts_req *r, float *row) {
    srt_mask_row m;
    tts_mask_row(e, r, &m);
    srt_mask_rows_args a = {1, e->lm_info.vocab_size, row, &m};
    return srt_op_mask_rows(&e->host, &a);
}

/* Append the completed group r->group to r->pending (grows its per-level arrays). */
srt_status tts_queue_group(srt_tts_engine *e, tts_req *r) {
    const srt_layout *l = e->layout;
    srt_codes *c = &r->pending;
    if (r->pending_groups == r->pending_cap) {
        int64_t cap = r->pending_cap ? 2 * r->pending_cap : 8;
        for (int L = 0; L < l->n_levels; L++) {
            int32_t *grown = realloc(c->codes[L], sizeof(int32_t) * (size_t)(cap * l->per_level[L]));
            if (!grown) return srt_error(SRT_ERR_NOMEM, "out of memory queueing codes");
            c->codes[L] = grown;
        }
        c->n_levels = l->n_levels;
        r->pending_cap = cap;
    }
    int64_t g = r->pending_groups++;
    for (int p = 0; p < l->n_positions; p++) {
        int L = l->pos_level[p];
        c->codes[L][g * l->per_level[L] + l->pos_index[p]] = r->group[p];
    }
    for (int L = 0; L < l->n_levels; L++) c->n_frames[L] = r->pending_groups * l->per_level[L];
    return SRT_OK;
}

/* The piece is over: next piece, or flush the codec stream. */
void tts_end_piece(srt_tts_engine *e, tts_req *r, int finish) {
    r->stats.finish = finish;
    tts_req_end_piece(e, r);
    if (++r->piece < r->n_pieces) r->phase = TTS_NEXT_PIECE;   /* the scheduler starts it */
    else r->phase = TTS_FLUSH;
}

srt_status tts_pick_token(srt_tts_engine *e, tts_req *r, float *row, int32_t *t) {
    if (e->layout->mask) SRT_TRY(mask_position(e, r, row));
    if (r->on_logits) r->on_logits(r->chat ? r->chat->user : r->user, r->piece, r->n_gen, row, e->lm_info.vocab_size);
    return srt_sampler_sample_on(r->sampler, &e->host, row, t);
}

srt_status tts_file_token(srt_tts_engine *e, tts_req *r, int32_t t) {
    if (r->chat) return tts_chat_file_token(e, r, t);
    const srt_layout *l = e->layout;
    r->n_gen++;
    r->stats.generated_tokens++;
    r->next_token = t;
    if (r->on_token) r->on_token(r->user, r->piece, t);
    if (t == l->end_of_speech) { tts_end_piece(e, r, SRT_FINISH_STOP); return SRT_OK; }
    int32_t code = srt_layout_audio_code(l, r->pos, t);
    if (code < 0 || code >= e->codec_info.codebook_size) r->group_bad = 1;
    else r->group[r->pos] = code;
    if (++r->pos == l->n_positions) {
        if (r->group_bad) r->stats.dropped_frames++;
        else { SRT_TRY(tts_queue_group(e, r)); r->stats.frames++; }
        r->pos = 0;
        r->group_bad = 0;
    }
    if (r->n_gen >= r->sp.max_tokens) tts_end_piece(e, r, SRT_FINISH_LENGTH);
    else r->phase = TTS_DECODE;
    return SRT_OK;
}

srt_status tts_sample_token(srt_tts_engine *e, tts_req *r, float *row) {
    int32_t t;
    SRT_TRY(tts_pick_token(e, r, row, &t));
    return tts_file_token(e, r, t);
}
