/* tts_chat.c: conversations in the TTS engine (snacrt_chat.h). A conversation's answer is a request of the same
 * queue and batch as speech, with one piece: its prompt is the layout's conversation prompt of the turns (audio
 * parts encoded by the codec at admission), its tokens are sampled under the demultiplexer's mask (text mode: no
 * audio ids; audio mode: the frame position's ids and end_audio) and filed by the demultiplexer: text goes to the
 * client as it becomes whole UTF-8, frame groups go to a codec stream opened per audio segment (decoded in the
 * engine's batched push like speech), the segment's end flushes that stream. Events reach the client through
 * the request's callback, the audio ones through the engine's audio callback (chat_audio_cb below). */
#include "tts/tts_internal.h"
#include "lm/lm_model.h"

#define CHAT_MAX_TURNS 256
#define CHAT_MAX_PARTS 64

int srt_chat_modalities(const srt_tts_engine *e) {
    if (!e || !e->layout->chat.present) return 0;
    return (e->layout->chat.modes & SRT_MODE_TEXT ? SRT_CHAT_TEXT : 0) |
           (e->layout->chat.modes & SRT_MODE_AUDIO ? SRT_CHAT_AUDIO : 0);
}

static int emit(tts_req *r, const srt_chat_event *ev) {
    int stop = r->chat->cb(r->chat->user, ev);
    if (stop) r->cancel = 1;
    return stop;
}

/* The engine's audio callback for a conversation (user = the request): PCM of the current segment, and the end. */
static int chat_audio_cb(void *user, const float *pcm, int64_t n, int done, srt_status status,
                         const srt_tts_stats *st) {
    tts_req *r = user;
    tts_chat *c = r->chat;
    if (!done) {
        srt_chat_event ev = {.kind = SRT_CHAT_EV_AUDIO, .text = "", .pcm = pcm, .n_samples = n, .segment = c->segment};
        return emit(r, &ev);
    }
    c->stats.prompt_tokens = st->prompt_tokens;
    c->stats.prompt_audio_tokens = c->prompt_audio;
    c->stats.text_tokens = c->demux.text_tokens;
    c->stats.audio_tokens = c->demux.audio_tokens;
    c->stats.frames = st->frames;
    c->stats.dropped_frames = st->dropped_frames;
    c->stats.samples = st->samples;
    c->stats.segments = c->demux.segments;
    c->stats.finish = st->finish;
    c->stats.total_ms = st->total_ms;
    srt_chat_event ev = {.kind = SRT_CHAT_EV_DONE, .text = "", .status = status, .stats = &c->stats};
    c->cb(c->user, &ev);
    return 0;
}

void tts_chat_free(tts_req *r) {
    tts_chat *c = r->chat;
    if (!c) return;
    for (int t = 0; c->turns && t < c->n_turns; t++) {
        for (int k = 0; k < c->turns[t].n_parts; k++) {
            free((char *)c->turns[t].parts[k].text);
            free((float *)c->turns[t].parts[k].pcm);
        }
        free((srt_chat_input_part *)c->turns[t].parts);
    }
    free(c->turns);
    srt_chat_demux_free(&c->demux);
    free(c);
    r->chat = NULL;
}

/* Check and deep-copy the turns. */
static srt_status copy_turns(srt_tts_engine *e, tts_chat *c, const srt_chat_request *req) {
    const srt_layout *l = e->layout;
    if (req->n_turns < 1 || !req->turns) return srt_error(SRT_ERR_INVALID_ARG, "the conversation has no turns");
    if (req->n_turns > CHAT_MAX_TURNS)
        return srt_error(SRT_ERR_RANGE, "the conversation has %d turns, more than the limit of %d", req->n_turns,
                         CHAT_MAX_TURNS);
    c->turns = srt_calloc((size_t)req->n_turns, sizeof *c->turns, "chat turns");
    if (!c->turns) return SRT_ERR_NOMEM;
    size_t text_bytes = 0;
    int64_t audio_s = 0;
    for (int t = 0; t < req->n_turns; t++) {
        const srt_chat_message *m = &req->turns[t];
        if (m->role < 0 || m->role >= SRT_ROLE_COUNT || !l->chat.has_turn[m->role])
            return srt_error(SRT_ERR_UNSUPPORTED, "turn %d: layout %s has no template for role '%s'", t, l->name,
                             srt_chat_role_name((srt_chat_role)m->role));
        if (m->n_parts < 0 || m->n_parts > CHAT_MAX_PARTS || (m->n_parts && !m->parts))
            return srt_error(SRT_ERR_INVALID_ARG, "turn %d: %d parts (at most %d)", t, m->n_parts, CHAT_MAX_PARTS);
        srt_chat_input_part *parts = srt_calloc((size_t)(m->n_parts ? m->n_parts : 1), sizeof *parts, "chat parts");
        if (!parts) return SRT_ERR_NOMEM;
        c->turns[c->n_turns].role = m->role;
        c->turns[c->n_turns].parts = parts;
        c->turns[c->n_turns++].n_parts = m->n_parts;
        for (int k = 0; k < m->n_parts; k++) {
            const srt_chat_input_part *p = &m->parts[k];
            if (p->text) {
                text_bytes += strlen(p->text);
                if (!(parts[k].text = srt_strdup(p->text))) return SRT_ERR_NOMEM;
                continue;
            }
            if (!p->pcm || p->n_samples <= 0 || p->rate <= 0)
                return srt_error(SRT_ERR_INVALID_ARG, "turn %d part %d: an audio part needs samples and a rate", t, k);
            if (!l->chat.audio_part.n)
                return srt_error(SRT_ERR_UNSUPPORTED, "turn %d part %d is audio but layout %s takes no audio input",
                                 t, k, l->name);
            audio_s += p->n_samples / p->rate + 1;
            if (audio_s > 600) return srt_error(SRT_ERR_RANGE, "the conversation holds more than 10 minutes of audio");
            parts[k].pcm = srt_malloc(sizeof(float) * (size_t)p->n_samples, "chat audio");
            if (!parts[k].pcm) return SRT_ERR_NOMEM;
            memcpy((float *)parts[k].pcm, p->pcm, sizeof(float) * (size_t)p->n_samples);
            parts[k].n_samples = p->n_samples;
            parts[k].rate = p->rate;
        }
    }
    int max_chars = e->cfg.max_input_chars > 0 ? e->cfg.max_input_chars : 4096;
    if (text_bytes > (size_t)max_chars * 4)
        return srt_error(SRT_ERR_RANGE, "the conversation's text (%zu bytes) is longer than the limit of %d", text_bytes,
                         max_chars * 4);
    return SRT_OK;
}

srt_status srt_chat_submit(srt_tts_engine *e, const srt_chat_request *req, srt_chat_cb cb, void *user,
                           uint64_t *request_id) {
    if (request_id) *request_id = 0;
    if (!e || !req || !cb) return srt_error(SRT_ERR_INVALID_ARG, "chat submit needs an engine, a request, a callback");
    if (e->rep) return tts_replicas_chat_submit(e->rep, req, cb, user, request_id);   /* to a replica */
    const srt_layout *l = e->layout;
    if (!l->chat.present)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) has no \"chat\" section: it cannot hold conversations",
                         l->name, l->source);
    const char *voice = NULL;
    if (!srt_layout_voice(l, req->voice, &voice))
        return srt_error(SRT_ERR_NOT_FOUND, "unknown voice '%s' (layout %s)", req->voice, l->name);
    int modes = req->modalities ? ((req->modalities & SRT_CHAT_TEXT ? SRT_MODE_TEXT : 0) |
                                   (req->modalities & SRT_CHAT_AUDIO ? SRT_MODE_AUDIO : 0))
                                : l->chat.modes;
    if (req->modalities & ~(SRT_CHAT_TEXT | SRT_CHAT_AUDIO))
        return srt_error(SRT_ERR_INVALID_ARG, "unknown modality bits 0x%x", (unsigned)req->modalities);
    srt_sampling_params sp = req->sampling ? *req->sampling : e->cfg.sampling;
    SRT_TRY(tts_check_sampling(&sp));
    if (sp.max_tokens <= 0) sp.max_tokens = e->cfg.sampling.max_tokens > 0 ? e->cfg.sampling.max_tokens : 1200;
    sp.stop_ids = NULL;
    sp.n_stop_ids = 0;
    tts_req *r = srt_calloc(1, sizeof *r, "chat request");
    tts_chat *c = srt_calloc(1, sizeof *c, "chat request");
    if (!r || !c) { free(r); free(c); return SRT_ERR_NOMEM; }
    r->chat = c;
    r->seq_id = -1;
    r->cb = chat_audio_cb;
    r->user = r;
    r->on_token = req->on_token;
    r->on_logits = req->on_logits;
    r->sp = sp;
    c->cb = cb;
    c->user = user;
    srt_status st = srt_chat_demux_init(&c->demux, l, e->lm->tokenizer, e->codec_info.codebook_size, modes);
    if (st == SRT_OK) st = copy_turns(e, c, req);
    if (st == SRT_OK && voice && !(r->voice = srt_strdup(voice))) st = SRT_ERR_NOMEM;
    if (st != SRT_OK) {
        pthread_mutex_lock(&e->mu);
        e->m.requests_rejected++;
        pthread_mutex_unlock(&e->mu);
        tts_req_free(e, r);
        return st;
    }
    r->n_pieces = 1;
    return tts_enqueue(e, r, request_id);
}

/* At admission: audio parts -> layout ids, the conversation's prompt, the KV reservation. */
srt_status tts_chat_prepare(srt_tts_engine *e, tts_req *r) {
    tts_chat *c = r->chat;
    srt_chat_turn *turns = srt_calloc((size_t)c->n_turns, sizeof *turns, "chat turns");
    int32_t **audio = NULL;
    int n_parts = 0;
    for (int t = 0; t < c->n_turns; t++) n_parts += c->turns[t].n_parts;
    srt_chat_part *parts = srt_calloc((size_t)(n_parts ? n_parts : 1), sizeof *parts, "chat parts");
    audio = srt_calloc((size_t)(n_parts ? n_parts : 1), sizeof *audio, "chat audio ids");
    r->prompts = srt_calloc(1, sizeof *r->prompts, "chat prompt");
    r->n_prompts = srt_calloc(1, sizeof *r->n_prompts, "chat prompt");
    srt_status st = turns && parts && audio && r->prompts && r->n_prompts ? SRT_OK : SRT_ERR_NOMEM;
    int k = 0;
    for (int t = 0; t < c->n_turns && st == SRT_OK; t++) {
        turns[t].role = (srt_chat_role)c->turns[t].role;
        turns[t].parts = parts + k;
        turns[t].n_parts = c->turns[t].n_parts;
        for (int j = 0; j < c->turns[t].n_parts && st == SRT_OK; j++, k++) {
            const srt_chat_input_part *p = &c->turns[t].parts[j];
            parts[k].is_audio = p->text == NULL;
            parts[k].text = p->text;
            if (!p->text) {
                st = tts_encode_audio(e, p->pcm, p->n_samples, p->rate, &audio[k], &parts[k].n_audio_ids);
                if (st != SRT_OK) srt_error_prefix(st, "turn %d part %d: encoding the audio: ", t, j);
                else if (!parts[k].n_audio_ids)
                    st = srt_error(SRT_ERR_INVALID_ARG, "turn %d part %d: the audio is shorter than one frame group",
                                   t, j);
                parts[k].audio_ids = audio[k];
                if (st == SRT_OK) c->prompt_audio += parts[k].n_audio_ids;
            }
        }
    }
    if (st == SRT_OK) st = srt_layout_build_chat(e->layout, e->lm, r->voice, turns, c->n_turns, &r->prompts[0],
                                                 &r->n_prompts[0]);
    for (int i = 0; audio && i < n_parts; i++) free(audio[i]);
    free(audio); free(parts); free(turns);
    return st == SRT_OK ? tts_req_reserve(e, r) : st;
}

void tts_chat_mask_row(const srt_tts_engine *e, const tts_req *r, srt_mask_row *m) {
    srt_chat_demux_mask(&r->chat->demux, e->lm_info.vocab_size, m);
}

/* The events of one demultiplexed token: text now; a complete group to the codec queue (its segment's stream
 * opened on the first); a segment's end flushes the stream (AUDIO_END after the final push). */
static srt_status handle(srt_tts_engine *e, tts_req *r, const srt_demux_event *ev) {
    tts_chat *c = r->chat;
    if (ev->n_text) {
        srt_chat_event out = {.kind = SRT_CHAT_EV_TEXT, .text = ev->text, .n_text = ev->n_text};
        emit(r, &out);
    }
    r->stats.dropped_frames += ev->dropped;
    if (ev->group) {
        if (!r->stream) {
            SRT_TRY(srt_codec_stream_open(e->codec, e->cfg.noise_seed, &r->stream));
            c->seg_groups = 0;
        }
        memcpy(r->group, c->demux.group, sizeof(int32_t) * (size_t)e->layout->n_positions);
        SRT_TRY(tts_queue_group(e, r));
        r->stats.frames++;
        c->seg_groups++;
    }
    if (ev->audio_end) c->seg_flush = 1;
    return SRT_OK;
}

srt_status tts_chat_file_token(srt_tts_engine *e, tts_req *r, int32_t t) {
    tts_chat *c = r->chat;
    r->n_gen++;
    r->stats.generated_tokens++;
    r->next_token = t;
    if (r->on_token) r->on_token(c->user, 0, t);
    if (!c->got_token) { c->got_token = 1; c->stats.first_token_ms = tts_now_ms() - r->t_submit; }
    srt_demux_event ev;
    SRT_TRY(srt_chat_demux_push(&c->demux, t, &ev));
    SRT_TRY(handle(e, r, &ev));
    if (ev.end) { tts_end_piece(e, r, SRT_FINISH_STOP); return SRT_OK; }
    if (r->n_gen >= r->sp.max_tokens) {
        SRT_TRY(srt_chat_demux_finish(&c->demux, &ev));
        SRT_TRY(handle(e, r, &ev));
        tts_end_piece(e, r, SRT_FINISH_LENGTH);
        return SRT_OK;
    }
    r->phase = TTS_DECODE;
    return SRT_OK;
}

void tts_chat_segment_done(srt_tts_engine *e, tts_req *r) {
    (void)e;
    tts_chat *c = r->chat;
    if (!c->seg_flush) return;
    srt_codec_stream_free(r->stream);
    r->stream = NULL;
    c->seg_flush = 0;
    srt_chat_event ev = {.kind = SRT_CHAT_EV_AUDIO_END, .text = "", .segment = c->segment++};
    emit(r, &ev);
}

int tts_chat_settle(srt_tts_engine *e, tts_req *r) {
    tts_chat *c = r->chat;
    if (r->stream) return 0;                       /* the stream holds data: the push flushes it */
    if (c->seg_flush) tts_chat_segment_done(e, r); /* a segment without a single whole frame group */
    if (r->phase == TTS_FLUSH) { r->finished = 1; r->final_status = SRT_OK; }
    return 1;
}
