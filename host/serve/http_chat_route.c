/* http_chat_route.c: the handlers of POST /v1/chat/completions and POST /v1/audio/transcriptions in `snacrt serve`.
 * The body (read by http_server.c) is parsed by http_chat.c into a conversation and submitted with
 * srt_chat_submit to the same engine queue as speech; the request then goes through http_server.c's machinery
 * (http_conn.h): suspended while the engine works, cancelled when the client goes away, counted in /metrics
 * (active requests, status by route, time to first output as time to first audio).
 *   non-streamed: text and each audio segment's PCM are collected; the answer is a chat.completion document
 *                 (srt_chat_completion_json), or a transcription (srt_transcription_response)
 *   streamed:     each engine event becomes a chat.completion.chunk server-sent event appended to the request's
 *                 stream buffer (bounded as for speech), then the finish chunk, the usage chunk
 *                 (stream_options.include_usage) and `data: [DONE]`
 * A layout without a "chat" section (or one that cannot answer in text, for transcriptions) is a 400 naming
 * what the request needs. Model names are not checked: clients send OpenAI's (gpt-4o-audio-preview, whisper-1). */
#include "serve/http_conn.h"
#include "serve/http_chat.h"
#include "common.h"
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#define CHAT_MAX_TURNS 64

struct chat_state {
    int transcription;
    srt_chat_body body;            /* chat */
    srt_transcription_body tbody;  /* transcription */
    srt_chat_input_part tpart;     /* transcription: the one audio part */
    srt_chat_message tturn;
    char id[48];
    long long created;
    int sent_first;                /* streamed: the first chunk (role) went out */
    char *text; size_t n_text, cap_text;
    float **seg; int64_t *n_seg, *cap_seg; int n_segs;
    srt_chat_stats stats;
};

void srt_chat_route_free(chat_state *c) {
    if (!c) return;
    srt_chat_body_free(&c->body);
    srt_transcription_body_free(&c->tbody);
    free(c->text);
    for (int i = 0; i < c->n_segs; i++) free(c->seg[i]);
    free(c->seg); free(c->n_seg); free(c->cap_seg);
    free(c);
}

static int text_append(chat_state *c, const char *t, size_t n) {
    if (c->n_text + n + 1 > c->cap_text) {
        size_t cap = c->cap_text ? c->cap_text * 2 : 256;
        while (cap < c->n_text + n + 1) cap *= 2;
        char *g = realloc(c->text, cap);
        if (!g) return -1;
        c->text = g;
        c->cap_text = cap;
    }
    memcpy(c->text + c->n_text, t, n);
    c->n_text += n;
    c->text[c->n_text] = 0;
    return 0;
}

static int audio_append(chat_state *c, int segment, const float *pcm, int64_t n) {
    if (segment < 0 || segment > 4096) return -1;
    if (segment >= c->n_segs) {
        int k = segment + 1;
        float **s = realloc(c->seg, (size_t)k * sizeof *s);
        if (s) c->seg = s;
        int64_t *a = realloc(c->n_seg, (size_t)k * sizeof *a);
        if (a) c->n_seg = a;
        int64_t *b = realloc(c->cap_seg, (size_t)k * sizeof *b);
        if (b) c->cap_seg = b;
        if (!s || !a || !b) return -1;
        for (int i = c->n_segs; i < k; i++) c->seg[i] = NULL, c->n_seg[i] = c->cap_seg[i] = 0;
        c->n_segs = k;
    }
    if (c->n_seg[segment] + n > c->cap_seg[segment]) {
        int64_t cap = c->cap_seg[segment] ? c->cap_seg[segment] * 2 : 16384;
        while (cap < c->n_seg[segment] + n) cap *= 2;
        float *g = realloc(c->seg[segment], (size_t)cap * sizeof *g);
        if (!g) return -1;
        c->seg[segment] = g;
        c->cap_seg[segment] = cap;
    }
    memcpy(c->seg[segment] + c->n_seg[segment], pcm, (size_t)n * sizeof *pcm);
    c->n_seg[segment] += n;
    return 0;
}

/* Append one SSE event (malloc'd, freed here) to the stream buffer (r->lock held): 0, or a cancel reason. */
static int push_event(req_state *r, char *ev, size_t max) {
    if (!ev) return CANCEL_NOMEM;
    int rc = srt_conn_sbuf_append(r, (const uint8_t *)ev, strlen(ev), max);
    free(ev);
    if (rc) return rc == -1 ? CANCEL_OVERFLOW : CANCEL_NOMEM;
    r->stream_started = 1;
    return 0;
}

/* The engine's callback (engine thread). */
static int on_chat(void *user, const srt_chat_event *ev) {
    req_state *r = user;
    chat_state *c = r->chat;
    srt_http_server *s = r->server;
    double t = srt_conn_now_ms();
    int first = 0, newly_cancelled = 0, appended = 0, done = ev->kind == SRT_CHAT_EV_DONE;
    pthread_mutex_lock(&r->lock);
    int has_output = (ev->kind == SRT_CHAT_EV_TEXT && ev->n_text) || (ev->kind == SRT_CHAT_EV_AUDIO && ev->n_samples > 0);
    if (has_output && r->t_first_audio == 0) r->t_first_audio = t, first = 1;
    if (ev->kind == SRT_CHAT_EV_AUDIO && ev->n_samples > 0) r->samples += ev->n_samples;
    if (!r->mhd_gone && !r->cancel_reason) {
        int why = 0;
        size_t max = s->cfg.stream_buffer_max;
        if (r->sreq.stream) {
            const char *model = c->body.model ? c->body.model : "";
            if (has_output) {
                why = push_event(r, srt_chat_chunk_sse(c->id, model, c->created, &c->body, !c->sent_first,
                                                       ev->kind == SRT_CHAT_EV_TEXT ? ev->text : NULL,
                                                       ev->kind == SRT_CHAT_EV_TEXT ? ev->n_text : 0,
                                                       ev->kind == SRT_CHAT_EV_AUDIO ? ev->pcm : NULL,
                                                       ev->kind == SRT_CHAT_EV_AUDIO ? ev->n_samples : 0, NULL, NULL),
                                 max);
                c->sent_first = 1, appended = 1;
            } else if (done && ev->status == SRT_OK) {
                const char *finish = ev->stats && ev->stats->finish == SRT_FINISH_LENGTH ? "length" : "stop";
                why = push_event(r, srt_chat_chunk_sse(c->id, model, c->created, &c->body, !c->sent_first, NULL, 0,
                                                       NULL, 0, finish, NULL), max + 65536);
                if (!why && c->body.include_usage && ev->stats)
                    why = push_event(r, srt_chat_chunk_sse(c->id, model, c->created, &c->body, 0, NULL, 0, NULL, 0,
                                                           NULL, ev->stats), max + 65536);
                if (!why) {
                    static const char tail[] = "data: [DONE]\n\n";
                    int rc = srt_conn_sbuf_append(r, (const uint8_t *)tail, sizeof tail - 1, max + 65536);
                    if (rc) why = rc == -1 ? CANCEL_OVERFLOW : CANCEL_NOMEM;
                }
            }
        } else if (ev->kind == SRT_CHAT_EV_TEXT && ev->n_text) {
            if (text_append(c, ev->text, ev->n_text)) why = CANCEL_NOMEM;
        } else if (ev->kind == SRT_CHAT_EV_AUDIO && ev->n_samples > 0) {
            if (audio_append(c, ev->segment, ev->pcm, ev->n_samples)) why = CANCEL_NOMEM;
        }
        if (why) newly_cancelled = srt_conn_mark_cancel(r, why);
    }
    int reason = r->cancel_reason, cancel = r->cancel_reason || r->mhd_gone;
    if (done) {
        r->engine_done = 1;
        r->engine_status = ev->status;
        if (ev->stats) c->stats = *ev->stats;
        if (ev->status != SRT_OK && ev->status != SRT_ERR_CANCELLED)
            snprintf(r->engine_error, sizeof r->engine_error, "%s",
                     srt_last_error()[0] ? srt_last_error() : srt_status_name(ev->status));
    }
    if (done || r->cancel_reason || appended) srt_conn_resume_locked(r);
    pthread_mutex_unlock(&r->lock);

    if (newly_cancelled && reason != CANCEL_NOMEM) srt_conn_count_cancel(s, reason);
    if (first || done) {
        pthread_mutex_lock(&s->lock);
        if (first) srt_http_counters_observe_ttfa(&s->counters, (t - r->t_start) / 1e3);
        if (done) s->counters.active_speech--;
        pthread_mutex_unlock(&s->lock);
    }
    if (done) {
        srt_conn_release(r);       /* the engine's reference; r may be gone now */
        return 0;
    }
    return cancel;
}

/* "logit_bias" (engine thread; user is the submit's: r). */
static void chat_bias(void *user, int piece, int n_gen, float *logits, int vocab_size) {
    (void)piece; (void)n_gen;
    const srt_chat_body *b = &((req_state *)user)->chat->body;
    for (int i = 0; i < b->n_bias; i++)
        if (b->bias_ids[i] < vocab_size) logits[b->bias_ids[i]] += b->bias[i];
}

/* The layout's voice for "audio.voice": a voice, or an alias of one (case-insensitive: "alloy" -> "tara"); with a
 * layout that has no voices (spoken-chat) any name is accepted and ignored, as OpenAI clients must send one. Other
 * names go to the engine, which answers 400 naming them. */
static const char *chat_voice(const srt_http_server *s, const char *voice) {
    if (!voice || !s->voices || !s->voices[0]) return NULL;
    for (const char *const *v = s->voices; *v; v++)
        if (!strcasecmp(*v, voice)) return *v;
    for (const char *const *a = s->voice_aliases; a && a[0] && a[1]; a += 2)
        if (!strcasecmp(a[0], voice)) return a[1];
    return voice;
}

enum MHD_Result srt_chat_route_start(req_state *r) {
    srt_http_server *s = r->server;
    srt_http_error err;
    chat_state *c = calloc(1, sizeof *c);
    if (!c) return MHD_NO;
    r->chat = c;
    c->transcription = r->route == SRT_ROUTE_TRANSCRIPTIONS;
    static atomic_ullong counter;
    unsigned long long k = atomic_fetch_add(&counter, 1) + 1;
    c->created = (long long)time(NULL);
    snprintf(c->id, sizeof c->id, "chatcmpl-%llx%06llx", (unsigned long long)c->created, k & 0xFFFFFF);

    int modes = srt_chat_modalities(s->engine);
    if (!modes || (c->transcription && !(modes & SRT_CHAT_TEXT))) {
        srt_http_error_set(&err, 400, "invalid_request_error", "%s needs a layout with a \"chat\" section%s, and the "
                           "served layout has none: start snacrt serve with --layout spoken-chat (or asr)",
                           srt_http_route_label(r->route), c->transcription ? " that answers in text" : "");
        err.param = c->transcription ? "file" : "messages";
        err.code = "layout_unsupported";
        return srt_conn_reply_error(r, &err, NULL);
    }
    if (text_append(c, "", 0)) return MHD_NO;
    srt_chat_limits lim = {.max_turns = CHAT_MAX_TURNS, .max_tokens = s->cfg.max_tokens,
                           .max_text_bytes = (size_t)s->cfg.max_input_chars * 4, .max_audio_bytes = s->max_audio,
                           .max_audio_seconds = s->cfg.max_audio_seconds, .audio_rate = s->sample_rate,
                           .modalities = modes, .models = NULL};
    int rc;
    if (c->transcription) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        rc = srt_transcription_parse(ct ? ct : "", r->body ? r->body : "", r->body_len, &lim, &c->tbody, &err);
    } else {
        rc = srt_chat_body_parse(r->body ? r->body : "", r->body_len, &lim, &c->body, &err);
    }
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    if (rc) return srt_conn_reply_error(r, &err, NULL);

    srt_sampling_params sp;
    srt_chat_request req;
    if (c->transcription) {
        sp = s->cfg.sampling;
        if (c->tbody.has_temperature) sp.temperature = c->tbody.temperature;
        c->tpart = (srt_chat_input_part){.pcm = c->tbody.pcm, .n_samples = c->tbody.n_pcm, .rate = c->tbody.rate};
        c->tturn = (srt_chat_message){.role = SRT_CHAT_USER, .parts = &c->tpart, .n_parts = 1};
        req = (srt_chat_request){.turns = &c->tturn, .n_turns = 1, .modalities = SRT_CHAT_TEXT, .sampling = &sp};
        c->body.modalities = SRT_CHAT_TEXT;
    } else {
        srt_chat_body_request(&c->body, &s->cfg.sampling, &sp, &req);
        req.voice = chat_voice(s, c->body.voice);
        if (c->body.n_bias) req.on_logits = chat_bias;
        r->sreq.stream = c->body.stream;   /* http_server.c streams what the handler buffers */
    }
    enum MHD_Result reply;
    if (srt_conn_enter(r, &reply)) return reply;
    uint64_t id = 0;
    srt_status st = srt_chat_submit(s->engine, &req, on_chat, r, &id);
    return srt_conn_submitted(r, st, id);
}

enum MHD_Result srt_chat_route_reply(req_state *r) {
    chat_state *c = r->chat;
    if (c->transcription) {
        const char *mime = "application/json";
        char *body = srt_transcription_response(&c->tbody, c->text, &mime);
        return srt_conn_reply_json(r, 200, body, mime);
    }
    srt_chat_result res = {.text = c->text, .n_text = c->n_text, .segments = c->seg,
                           .n_samples = c->n_seg, .n_segments = c->n_segs, .status = SRT_OK, .stats = c->stats};
    char *json = srt_chat_completion_json(c->id, c->body.model ? c->body.model : "", c->created, &c->body, &res,
                                          r->server->sample_rate);
    return srt_conn_reply_json(r, 200, json, "application/json");
}
