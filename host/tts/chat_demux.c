/* chat_demux.c: see chat_demux.h. Text: each token's raw bytes (srt_tokenizer_id_bytes) are appended to the
 * bytes held from before; everything up to the start of a character that may still be completed is repaired
 * (invalid sequences -> U+FFFD, as srt_tokenizer_decode does) and handed out, the rest held. Cutting only at the
 * lead byte of a possibly incomplete character keeps the streamed text equal to decoding all ids at once. */
#include "tts/chat_demux.h"
#include "lm/unicode.h"
#include "common.h"

srt_status srt_chat_demux_init(srt_chat_demux *d, const srt_layout *l, const srt_tokenizer *tok, int codebook_size,
                               int modes) {
    memset(d, 0, sizeof *d);
    if (!l->chat.present)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s has no \"chat\" section", l->name);
    d->layout = l;
    d->tok = tok;
    d->codebook_size = codebook_size;
    d->modes = modes & l->chat.modes;
    if (!d->modes)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s answers in %s only", l->name,
                         l->chat.modes == SRT_MODE_TEXT ? "text" : "audio");
    if ((d->modes & SRT_MODE_TEXT) && !tok)
        return srt_error(SRT_ERR_UNSUPPORTED, "a text answer needs the model's tokenizer.json");
    d->mode = l->chat.first & d->modes ? l->chat.first : d->modes;
    if (d->mode == SRT_MODE_AUDIO && l->chat.first == SRT_MODE_AUDIO) d->segments = 1;   /* the reply opened it */
    return SRT_OK;
}

void srt_chat_demux_free(srt_chat_demux *d) {
    free(d->buf);
    d->buf = NULL;
    d->cap = 0;
}

static srt_status grow(srt_chat_demux *d, size_t need) {
    if (need <= d->cap) return SRT_OK;
    size_t c = d->cap ? d->cap : 256;
    while (c < need) c *= 2;
    char *b = realloc(d->buf, c);
    if (!b) return srt_error(SRT_ERR_NOMEM, "out of memory decoding text");
    d->buf = b;
    d->cap = c;
    return SRT_OK;
}

/* Bytes needed by a sequence starting with lead byte b (1 for ASCII and stray bytes). */
static int seq_len(unsigned char b) { return b >= 0xF0 && b < 0xF5 ? 4 : b >= 0xE0 ? (b < 0xF0 ? 3 : 1) : b >= 0xC2 ? 2 : 1; }

/* Hand out d->buf[0, n) except a possibly incomplete last character (held, unless flush). */
static srt_status emit_text(srt_chat_demux *d, size_t n, int flush, srt_demux_event *ev) {
    size_t cut = n;
    if (!flush)
        for (size_t i = n; i > 0 && n - i < 3;) {
            unsigned char b = (unsigned char)d->buf[--i];
            if ((b & 0xC0) == 0x80) continue;                       /* continuation: look further back */
            if (seq_len(b) > (int)(n - i)) cut = i;                 /* a lead byte still missing bytes */
            break;
        }
    d->n_held = (int)(n - cut);
    memcpy(d->held, d->buf + cut, (size_t)d->n_held);
    char *text = NULL;
    size_t len = 0;
    SRT_TRY(srt_utf8_repair(d->buf, cut, &text, &len));
    srt_status st = grow(d, len + 1);
    if (st == SRT_OK) { memcpy(d->buf, text, len); d->buf[len] = 0; ev->text = d->buf; ev->n_text = len; }
    free(text);
    return st;
}

static srt_status push_text(srt_chat_demux *d, int32_t token, srt_demux_event *ev) {
    SRT_TRY(grow(d, (size_t)d->n_held + 64));
    long n = srt_tokenizer_id_bytes(d->tok, token, 1, d->buf + d->n_held, d->cap - (size_t)d->n_held);
    if (n > (long)(d->cap - (size_t)d->n_held)) {
        SRT_TRY(grow(d, (size_t)d->n_held + (size_t)n));
        n = srt_tokenizer_id_bytes(d->tok, token, 1, d->buf + d->n_held, d->cap - (size_t)d->n_held);
    }
    if (n < 0) return srt_error(SRT_ERR_RANGE, "generated id %d has no token in the tokenizer", token);
    memcpy(d->buf, d->held, (size_t)d->n_held);
    return emit_text(d, (size_t)d->n_held + (size_t)n, 0, ev);
}

static void end_audio(srt_chat_demux *d, srt_demux_event *ev) {
    if (d->pos > 0) ev->dropped++;
    d->pos = 0;
    d->group_bad = 0;
    ev->audio_end = 1;
}

static int is_eot(const srt_layout_chat *c, int32_t t) {
    for (int i = 0; i < c->n_end_of_turn; i++) if (c->end_of_turn[i] == t) return 1;
    return 0;
}

srt_status srt_chat_demux_push(srt_chat_demux *d, int32_t t, srt_demux_event *ev) {
    memset(ev, 0, sizeof *ev);
    ev->text = "";
    if (d->done) return srt_error(SRT_ERR_INVALID_ARG, "the answer is already over");
    const srt_layout *l = d->layout;
    const srt_layout_chat *c = &l->chat;
    if (d->mode == SRT_MODE_TEXT) {
        if (is_eot(c, t) || (t == c->start_audio && !(d->modes & SRT_MODE_AUDIO))) {
            d->done = ev->end = 1;
            return srt_chat_demux_finish(d, ev);
        }
        if (t == c->start_audio) {
            SRT_TRY(grow(d, 8));
            memcpy(d->buf, d->held, (size_t)d->n_held);
            SRT_TRY(emit_text(d, (size_t)d->n_held, 1, ev));   /* a character cut by the switch -> U+FFFD */
            d->n_held = 0;
            d->mode = SRT_MODE_AUDIO;
            d->segments++;
            ev->audio_begin = 1;
            return SRT_OK;
        }
        d->text_tokens++;
        return push_text(d, t, ev);
    }
    if (t == c->end_audio || is_eot(c, t)) {
        end_audio(d, ev);
        if (t == c->end_audio && (d->modes & SRT_MODE_TEXT)) d->mode = SRT_MODE_TEXT;
        else d->done = ev->end = 1;
        return SRT_OK;
    }
    d->audio_tokens++;
    int32_t code = srt_layout_audio_code(l, d->pos, t);
    if (code < 0 || code >= d->codebook_size) d->group_bad = 1;
    else d->group[d->pos] = code;
    if (++d->pos == l->n_positions) {
        if (d->group_bad) ev->dropped++;
        else ev->group = 1;
        d->pos = 0;
        d->group_bad = 0;
    }
    return SRT_OK;
}

srt_status srt_chat_demux_finish(srt_chat_demux *d, srt_demux_event *ev) {
    if (!ev->end) { memset(ev, 0, sizeof *ev); ev->text = ""; }
    d->done = ev->end = 1;
    if (d->mode == SRT_MODE_AUDIO) { end_audio(d, ev); return SRT_OK; }
    if (!d->n_held) return SRT_OK;
    SRT_TRY(grow(d, 8));
    memcpy(d->buf, d->held, (size_t)d->n_held);
    srt_status st = emit_text(d, (size_t)d->n_held, 1, ev);
    d->n_held = 0;
    return st;
}

void srt_chat_demux_mask(const srt_chat_demux *d, int32_t vocab, srt_mask_row *m) {
    const srt_layout *l = d->layout;
    int32_t lo = l->audio_base, hi = srt_layout_audio_id(l, l->n_positions - 1, d->codebook_size);
    if (hi > vocab) hi = vocab;
    if (d->mode == SRT_MODE_TEXT) {
        if (!(d->modes & SRT_MODE_AUDIO) && l->chat.start_audio >= 0 && l->chat.start_audio < lo)
            lo = l->chat.start_audio;                      /* clears [start_audio, audio end): no audio asked for */
        *m = (srt_mask_row){.clear_begin = lo, .clear_end = hi, .keep_begin = lo, .keep_end = lo, .keep_id = -1};
        return;
    }
    int32_t klo = srt_layout_audio_id(l, d->pos, 0), khi = klo + d->codebook_size;
    if (khi > vocab) khi = vocab;
    if (klo > khi) klo = khi;
    int32_t keep = l->chat.end_audio >= 0 && l->chat.end_audio < vocab ? l->chat.end_audio : -1;
    *m = (srt_mask_row){.clear_begin = 0, .clear_end = vocab, .keep_begin = klo, .keep_end = khi, .keep_id = keep};
}
