/* tts_request.c: a request's life outside the step loop: validated copy at submit, prompts and KV reservation at
 * admission (text pieces through the layout's template; an audio prompt encoded by the codec into layout ids),
 * per-piece sequence + sampler, and freeing. */
#include "tts/tts_internal.h"
#include "snacrt_audio.h"
#include <math.h>

srt_status tts_check_sampling(const srt_sampling_params *p) {
    if (!isfinite(p->temperature) || p->temperature < 0 || p->temperature > 100)
        return srt_error(SRT_ERR_INVALID_ARG, "temperature %g outside [0, 100]", p->temperature);
    if (!isfinite(p->top_p) || p->top_p < 0 || p->top_p > 1)
        return srt_error(SRT_ERR_INVALID_ARG, "top_p %g outside [0, 1]", p->top_p);
    if (!isfinite(p->min_p) || p->min_p < 0 || p->min_p > 1)
        return srt_error(SRT_ERR_INVALID_ARG, "min_p %g outside [0, 1]", p->min_p);
    if (p->top_k < 0) return srt_error(SRT_ERR_INVALID_ARG, "top_k %d is negative", p->top_k);
    if (!isfinite(p->repetition_penalty) || p->repetition_penalty < 0 || p->repetition_penalty > 100)
        return srt_error(SRT_ERR_INVALID_ARG, "repetition_penalty %g outside [0, 100]", p->repetition_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return srt_error(SRT_ERR_INVALID_ARG, "frequency/presence penalties must be finite");
    if (p->max_tokens > (1 << 24))
        return srt_error(SRT_ERR_INVALID_ARG, "max_tokens %d is too large", p->max_tokens);
    return SRT_OK;
}

srt_status tts_req_create(srt_tts_engine *e, const srt_tts_request *req, srt_tts_audio_cb cb, void *user,
                          tts_req **out) {
    *out = NULL;
    if (!req || !cb) return srt_error(SRT_ERR_INVALID_ARG, "submit needs a request and a callback");
    if (!req->text) return srt_error(SRT_ERR_INVALID_ARG, "the request has no text");
    size_t len = strlen(req->text);
    int max_chars = e->cfg.max_input_chars > 0 ? e->cfg.max_input_chars : 4096;
    if (len > (size_t)max_chars)
        return srt_error(SRT_ERR_RANGE, "text of %zu bytes is longer than the limit of %d", len, max_chars);
    const char *voice = NULL;
    if (!srt_layout_voice(e->layout, req->voice, &voice)) {
        char known[512] = "";
        for (int i = 0; i < e->layout->n_voices; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", e->layout->voices[i]);
        return srt_error(SRT_ERR_NOT_FOUND, "unknown voice '%s' (layout %s has: %s)", req->voice,
                         e->layout->name, e->layout->n_voices ? known : "no voices");
    }
    if (!e->layout->n_prompt && !(e->layout->chat.modes & SRT_MODE_AUDIO))
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s answers in text only: it cannot speak", e->layout->name);
    srt_sampling_params sp = req->sampling ? *req->sampling : e->cfg.sampling;
    SRT_TRY(tts_check_sampling(&sp));
    if (sp.max_tokens <= 0) sp.max_tokens = e->cfg.sampling.max_tokens > 0 ? e->cfg.sampling.max_tokens : 1200;
    sp.stop_ids = NULL;
    sp.n_stop_ids = 0;
    int has_audio = req->n_audio_in > 0;
    if (req->n_audio_in < 0 || (has_audio && (!req->audio_in || req->audio_in_rate <= 0)))
        return srt_error(SRT_ERR_INVALID_ARG, "audio_in needs samples and a sample rate");
    if (req->audio_text) {
        if (!has_audio)
            return srt_error(SRT_ERR_INVALID_ARG, "audio_text (the reference transcript) needs audio_in (the "
                             "reference clip)");
        if (!e->layout->has_clone)
            return srt_error(SRT_ERR_UNSUPPORTED, "layout %s has no \"clone\" section: it cannot place a reference "
                             "transcript", e->layout->name);
        if (strlen(req->audio_text) > (size_t)max_chars)
            return srt_error(SRT_ERR_RANGE, "audio_text of %zu bytes is longer than the limit of %d",
                             strlen(req->audio_text), max_chars);
    }
    if (req->instructions && strlen(req->instructions) > (size_t)max_chars)
        return srt_error(SRT_ERR_RANGE, "instructions of %zu bytes are longer than the limit of %d",
                         strlen(req->instructions), max_chars);
    if (has_audio && !req->audio_text) {
        int slot = !e->layout->n_prompt && e->layout->chat.audio_part.n;   /* a chat layout's audio part */
        for (int i = 0; i < e->layout->n_prompt; i++) slot |= e->layout->prompt[i].kind == SRT_LAYOUT_AUDIO;
        if (!slot)
            return srt_error(SRT_ERR_UNSUPPORTED, "layout %s has no audio slot in its prompt template",
                             e->layout->name);
        if (req->n_audio_in > (int64_t)req->audio_in_rate * 600)
            return srt_error(SRT_ERR_RANGE, "audio prompt longer than 10 minutes");
    }
    tts_req *r = srt_calloc(1, sizeof *r, "tts request");
    if (!r) return SRT_ERR_NOMEM;
    r->seq_id = -1;
    r->cb = cb;
    r->on_token = req->on_token;
    r->on_logits = req->on_logits;
    r->user = user;
    r->sp = sp;
    srt_status st = srt_tts_split_text(req->text, e->cfg.max_piece_chars, &r->pieces, &r->n_pieces);
    if (st == SRT_OK && r->n_pieces == 0) {
        if (!has_audio) st = srt_error(SRT_ERR_INVALID_ARG, "the text is empty");
        else if (!(r->pieces = calloc(1, sizeof(char *))) || !(r->pieces[0] = srt_strdup("")))
            st = srt_error(SRT_ERR_NOMEM, "out of memory");
        else r->n_pieces = 1;
    }
    if (st == SRT_OK && voice && !(r->voice = srt_strdup(voice))) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    if (st == SRT_OK && req->audio_text && !(r->audio_text = srt_strdup(req->audio_text)))
        st = srt_error(SRT_ERR_NOMEM, "out of memory");
    if (st == SRT_OK && req->instructions && req->instructions[0] && !(r->instructions = srt_strdup(req->instructions)))
        st = srt_error(SRT_ERR_NOMEM, "out of memory");
    if (st == SRT_OK && has_audio) {
        r->audio_in = srt_malloc(sizeof(float) * (size_t)req->n_audio_in, "audio prompt");
        if (!r->audio_in) st = SRT_ERR_NOMEM;
        else memcpy(r->audio_in, req->audio_in, sizeof(float) * (size_t)req->n_audio_in);
        r->n_audio_in = req->n_audio_in;
        r->audio_rate = req->audio_in_rate;
    }
    if (st != SRT_OK) { tts_req_free(e, r); return st; }
    *out = r;
    return SRT_OK;
}

/* Encode PCM into layout ids (whole frame groups). */
srt_status tts_encode_audio(srt_tts_engine *e, const float *pcm, int64_t n_in, int rate, int32_t **ids,
                            size_t *n_ids) {
    float *audio = NULL;
    int64_t n = 0;
    SRT_TRY(srt_audio_resample(pcm, n_in, rate, e->codec_info.sample_rate, &audio, &n));
    srt_codes codes = {0};
    const float *sig = audio;
    srt_status st = srt_codec_encode(e->codec, 1, &sig, &n, &codes, NULL, NULL);
    free(audio);
    if (st == SRT_OK) st = srt_layout_codes_to_ids(e->layout, &codes, ids, n_ids);
    srt_codes_free(&codes);
    return st;
}

srt_status tts_req_prepare(srt_tts_engine *e, tts_req *r) {
    if (r->chat) return tts_chat_prepare(e, r);
    int32_t *audio_ids = NULL;
    size_t n_audio = 0;
    if (r->n_audio_in) {
        srt_status st = tts_encode_audio(e, r->audio_in, r->n_audio_in, r->audio_rate, &audio_ids, &n_audio);
        if (st != SRT_OK) { srt_error_prefix(st, "encoding the audio prompt: "); return st; }
    }
    r->prompts = srt_calloc((size_t)r->n_pieces, sizeof *r->prompts, "tts prompts");
    r->n_prompts = srt_calloc((size_t)r->n_pieces, sizeof *r->n_prompts, "tts prompts");
    srt_status st = r->prompts && r->n_prompts ? SRT_OK : SRT_ERR_NOMEM;
    for (int k = 0; k < r->n_pieces && st == SRT_OK; k++)
        /* the audio prompt goes with every piece (each piece is its own generation) */
        st = r->audio_text ? srt_layout_build_clone(e->layout, e->lm, r->voice, r->audio_text, audio_ids, n_audio,
                                                    r->pieces[k], &r->prompts[k], &r->n_prompts[k])
                           : srt_layout_build_prompt_instr(e->layout, e->lm, r->voice, r->pieces[k],
                                                           r->instructions, r->n_audio_in ? audio_ids : NULL, n_audio,
                                                           &r->prompts[k], &r->n_prompts[k]);
    free(audio_ids);
    return st == SRT_OK ? tts_req_reserve(e, r) : st;
}

srt_status tts_req_reserve(srt_tts_engine *e, tts_req *r) {
    srt_status st = SRT_OK;
    int need = 0;
    for (int k = 0; k < r->n_pieces && st == SRT_OK; k++) {
        if (r->n_prompts[k] == 0) {
            st = srt_error(SRT_ERR_INVALID_ARG, "layout %s builds an empty prompt", e->layout->name);
            break;
        }
        int64_t total = (int64_t)r->n_prompts[k] + r->sp.max_tokens;
        if (total > e->lm_info.max_position)
            st = srt_error(SRT_ERR_RANGE, "piece %d needs %lld positions (prompt %zu + max_tokens %d), the model "
                           "has %d", k, (long long)total, r->n_prompts[k], r->sp.max_tokens, e->lm_info.max_position);
        else if (total > INT32_MAX / 2)
            st = srt_error(SRT_ERR_RANGE, "piece %d is too long", k);
        else {
            int blocks = srt_lm_kv_blocks_for(e->lm, (int)total);
            if (blocks > need) need = blocks;
        }
    }
    if (st == SRT_OK && need > e->lm_info.kv_n_blocks)
        st = srt_error(SRT_ERR_RANGE, "the request needs %d KV-cache blocks (prompt + max_tokens %d) but the cache "
                       "holds %d: raise kv_max_tokens or lower max_tokens", need, r->sp.max_tokens,
                       e->lm_info.kv_n_blocks);
    for (int k = 0; k < r->n_pieces && st == SRT_OK; k++) r->stats.prompt_tokens += (int64_t)r->n_prompts[k];
    r->reserved_blocks = need;
    return st;
}

srt_status tts_req_start_piece(srt_tts_engine *e, tts_req *r) {
    srt_sampling_params sp = r->sp;
    sp.seed = r->sp.seed + (uint64_t)r->piece * 0x9E3779B97F4A7C15ull;   /* each piece its own RNG stream */
    if (e->layout->mask && !r->chat) { sp.allowed_begin = e->mask_lo; sp.allowed_end = e->mask_hi; }
    else { sp.allowed_begin = 0; sp.allowed_end = 0; }
    SRT_TRY(srt_lm_step_open(e->lm, &sp, r->prompts[r->piece], r->n_prompts[r->piece], &r->sampler, &r->seq_id));
    r->prefilled = 0;
    r->n_gen = 0;
    r->pos = 0;
    r->group_bad = 0;
    r->phase = TTS_PREFILL;
    r->stats.pieces = r->piece + 1;
    return SRT_OK;
}

void tts_req_end_piece(srt_tts_engine *e, tts_req *r) {
    if (r->pos > 0) r->stats.dropped_frames++;      /* a partial frame group at the end is dropped */
    r->pos = 0;
    r->group_bad = 0;
    srt_lm_step_close(e->lm, &r->sampler, &r->seq_id);
}

void tts_req_free(srt_tts_engine *e, tts_req *r) {
    if (!r) return;
    srt_lm_step_close(e->lm, &r->sampler, &r->seq_id);
    srt_codec_stream_free(r->stream);
    if (r->pieces) tts_free_pieces(r->pieces, r->n_pieces);   /* a conversation has none */
    for (int k = 0; r->prompts && k < r->n_pieces; k++) free(r->prompts[k]);
    free(r->prompts);
    free(r->n_prompts);
    free(r->voice);
    free(r->audio_in);
    free(r->audio_text);
    free(r->instructions);
    srt_codes_free(&r->pending);
    tts_chat_free(r);
    free(r);
}
