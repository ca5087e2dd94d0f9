/* layout_chat.c: the "chat" section of a token layout (see layout.h and layouts/README.md): per-role turn
 * templates, how a text or audio part is framed, the reply prefix, and the output modes with the tokens that
 * switch between them; and the prompt ids of a whole conversation. */
#include "tts/layout.h"
#include "common.h"
#include <cjson/cJSON.h>

static const char *const role_names[SRT_ROLE_COUNT] = {"system", "user", "assistant"};

const char *srt_chat_role_name(srt_chat_role role) {
    return role >= 0 && role < SRT_ROLE_COUNT ? role_names[role] : "?";
}

static void seq_free(srt_layout_seq *s) {
    for (int i = 0; i < s->n; i++) free(s->items[i].text);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

void srt_layout_chat_free(srt_layout_chat *c) {
    seq_free(&c->start); seq_free(&c->text_part); seq_free(&c->audio_part); seq_free(&c->reply);
    for (int r = 0; r < SRT_ROLE_COUNT; r++) seq_free(&c->turn[r]);
}

/* obj[key] as a template array (missing: empty unless required). */
static srt_status parse_seq(srt_layout *l, const cJSON *obj, const char *key, const char *field, const char *src,
                            int required, int allow_content, const char *const *ph, srt_layout_seq *out,
                            int *n_audio, int *n_content) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    *n_audio = 0;
    if (n_content) *n_content = 0;
    if (!a) {
        if (required) return srt_error(SRT_ERR_FORMAT, "%s: missing \"%s\"", src, field);
        return SRT_OK;
    }
    SRT_TRY(srt_layout_parse_items(l, a, field, src, allow_content, ph, &out->items, &out->n, n_audio));
    for (int i = 0; i < out->n; i++) {
        if (out->items[i].with_audio && out->items[i].kind != SRT_LAYOUT_AUDIO)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s[%d].with_audio\" is for \"prompt\" only", src, field, i);
        if (out->items[i].with_instructions)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s[%d].with_instructions\" is for \"prompt\" only (a "
                             "conversation's instructions are its system turn)", src, field, i);
        if (out->items[i].kind == SRT_LAYOUT_CONTENT && n_content) (*n_content)++;
        if (out->items[i].kind == SRT_LAYOUT_TEXT && strstr(out->items[i].text, "{voice}") && !l->default_voice)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s[%d].text\" uses {voice} but \"default_voice\" is not set", src,
                             field, i);
    }
    return SRT_OK;
}

/* A token given by name (from "tokens") or id; NULL/absent -> -1 unless required. */
static srt_status get_token(const srt_layout *l, const cJSON *v, const char *field, const char *src, int32_t *out) {
    *out = -1;
    if (!v || cJSON_IsNull(v)) return SRT_OK;
    if (cJSON_IsString(v)) *out = srt_layout_token_id(l, v->valuestring);
    else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= INT32_MAX &&
             v->valuedouble == (double)(int32_t)v->valuedouble) *out = (int32_t)v->valuedouble;
    if (*out < 0) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be a name from \"tokens\" or an id", src, field);
    return SRT_OK;
}

static srt_status parse_output(srt_layout *l, const cJSON *chat, const char *src) {
    srt_layout_chat *c = &l->chat;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(chat, "output");
    if (!cJSON_IsObject(o)) return srt_error(SRT_ERR_FORMAT, "%s: missing object \"chat.output\"", src);
    const cJSON *modes = cJSON_GetObjectItemCaseSensitive(o, "modes"), *m;
    if (!cJSON_IsArray(modes) || !cJSON_GetArraySize(modes))
        return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.modes\" must be a non-empty array of \"text\" / \"audio\"",
                         src);
    cJSON_ArrayForEach(m, modes) {
        if (cJSON_IsString(m) && !strcmp(m->valuestring, "text")) c->modes |= SRT_MODE_TEXT;
        else if (cJSON_IsString(m) && !strcmp(m->valuestring, "audio")) c->modes |= SRT_MODE_AUDIO;
        else return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.modes\" holds only \"text\" and \"audio\"", src);
    }
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(o, "first");
    if (!first) c->first = c->modes & SRT_MODE_TEXT ? SRT_MODE_TEXT : SRT_MODE_AUDIO;
    else if (cJSON_IsString(first) && !strcmp(first->valuestring, "text")) c->first = SRT_MODE_TEXT;
    else if (cJSON_IsString(first) && !strcmp(first->valuestring, "audio")) c->first = SRT_MODE_AUDIO;
    else return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.first\" must be \"text\" or \"audio\"", src);
    if (!(c->modes & c->first))
        return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.first\" is not one of \"chat.output.modes\"", src);
    SRT_TRY(get_token(l, cJSON_GetObjectItemCaseSensitive(o, "start_audio"), "chat.output.start_audio", src,
                      &c->start_audio));
    SRT_TRY(get_token(l, cJSON_GetObjectItemCaseSensitive(o, "end_audio"), "chat.output.end_audio", src,
                      &c->end_audio));
    if (c->modes & SRT_MODE_AUDIO) {
        if (c->end_audio < 0) c->end_audio = l->end_of_speech;
        if ((c->modes & SRT_MODE_TEXT) && c->start_audio < 0)
            return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.start_audio\" is needed when the answer may switch "
                             "from text to audio", src);
    }
    const cJSON *eot = cJSON_GetObjectItemCaseSensitive(o, "end_of_turn"), *t;
    int n_eot = cJSON_IsArray(eot) ? cJSON_GetArraySize(eot) : -1;
    if ((c->modes & SRT_MODE_TEXT) && (n_eot < 1 || n_eot > SRT_LAYOUT_MAX_EOT))
        return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.end_of_turn\" must be an array of 1..%d tokens", src,
                         SRT_LAYOUT_MAX_EOT);
    if (eot && (n_eot < 0 || n_eot > SRT_LAYOUT_MAX_EOT))
        return srt_error(SRT_ERR_FORMAT, "%s: \"chat.output.end_of_turn\" must be an array of at most %d tokens", src,
                         SRT_LAYOUT_MAX_EOT);
    int k = 0;
    cJSON_ArrayForEach(t, eot) {
        char f[64];
        snprintf(f, sizeof f, "chat.output.end_of_turn[%d]", k++);
        SRT_TRY(get_token(l, t, f, src, &c->end_of_turn[c->n_end_of_turn]));
        c->n_end_of_turn++;
    }
    return SRT_OK;
}

srt_status srt_layout_parse_chat(srt_layout *l, const void *section, const char *src) {
    const cJSON *chat = section;
    srt_layout_chat *c = &l->chat;
    c->start_audio = c->end_audio = -1;
    if (!chat) {
        if (!l->n_prompt) return srt_error(SRT_ERR_FORMAT, "%s: \"prompt\" must be a non-empty array of items", src);
        return SRT_OK;
    }
    if (!cJSON_IsObject(chat)) return srt_error(SRT_ERR_FORMAT, "%s: \"chat\" must be an object", src);
    c->present = 1;
    static const char *const ph_turn[] = {"voice", "role", NULL}, *const ph_text[] = {"voice", "role", "text", NULL};
    int n_audio, n_content;
    SRT_TRY(parse_seq(l, chat, "start", "chat.start", src, 0, 0, ph_turn, &c->start, &n_audio, NULL));
    if (n_audio) return srt_error(SRT_ERR_FORMAT, "%s: \"chat.start\" cannot hold audio", src);
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(chat, "turns");
    if (!cJSON_IsObject(turns)) return srt_error(SRT_ERR_FORMAT, "%s: missing object \"chat.turns\"", src);
    for (const cJSON *e = turns->child; e; e = e->next) {
        int r = 0;
        while (r < SRT_ROLE_COUNT && strcmp(e->string, role_names[r])) r++;
        if (r == SRT_ROLE_COUNT)
            return srt_error(SRT_ERR_FORMAT, "%s: \"chat.turns.%s\": roles are system, user, assistant", src,
                             e->string);
    }
    for (int r = 0; r < SRT_ROLE_COUNT; r++) {
        char f[64];
        snprintf(f, sizeof f, "chat.turns.%s", role_names[r]);
        c->has_turn[r] = cJSON_GetObjectItemCaseSensitive(turns, role_names[r]) != NULL;
        SRT_TRY(parse_seq(l, turns, role_names[r], f, src, 0, 1, ph_turn, &c->turn[r], &n_audio, &n_content));
        if (c->has_turn[r] && (n_audio || n_content != 1))
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must hold one {\"content\": true} and no audio", src, f);
    }
    if (!c->has_turn[SRT_ROLE_USER]) return srt_error(SRT_ERR_FORMAT, "%s: missing \"chat.turns.user\"", src);
    SRT_TRY(parse_seq(l, chat, "text_part", "chat.text_part", src, 1, 0, ph_text, &c->text_part, &n_audio, NULL));
    if (n_audio) return srt_error(SRT_ERR_FORMAT, "%s: \"chat.text_part\" cannot hold audio", src);
    SRT_TRY(parse_seq(l, chat, "audio_part", "chat.audio_part", src, 0, 0, ph_turn, &c->audio_part, &n_audio, NULL));
    if (c->audio_part.n && n_audio != 1)
        return srt_error(SRT_ERR_FORMAT, "%s: \"chat.audio_part\" must hold exactly one {\"audio\": true}", src);
    SRT_TRY(parse_seq(l, chat, "reply", "chat.reply", src, 1, 0, ph_turn, &c->reply, &n_audio, NULL));
    if (n_audio) return srt_error(SRT_ERR_FORMAT, "%s: \"chat.reply\" cannot hold audio", src);
    return parse_output(l, chat, src);
}

/* ---- building a conversation's ids ---- */

typedef struct id_buf { int32_t *ids; size_t n, cap; } id_buf;

static srt_status push(id_buf *b, const int32_t *ids, size_t k) {
    if (b->n + k > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->n + k) c *= 2;
        int32_t *grown = realloc(b->ids, sizeof(int32_t) * c);
        if (!grown) return srt_error(SRT_ERR_NOMEM, "out of memory building a conversation prompt");
        b->ids = grown;
        b->cap = c;
    }
    if (k) memcpy(b->ids + b->n, ids, sizeof(int32_t) * k);
    b->n += k;
    return SRT_OK;
}

/* tmpl with {voice}, {role}, {text} substituted (malloc'd). */
static char *fill(const char *tmpl, const char *voice, const char *role, const char *text) {
    const char *val[3] = {voice ? voice : "", role ? role : "", text ? text : ""};
    static const char *const key[3] = {"{voice}", "{role}", "{text}"};
    size_t len = strlen(tmpl) + 1;
    for (const char *p = tmpl; *p; p++)
        for (int k = 0; k < 3; k++) if (!strncmp(p, key[k], strlen(key[k]))) len += strlen(val[k]);
    char *out = malloc(len), *o = out;
    if (!out) return NULL;
    for (const char *p = tmpl; *p;) {
        int hit = -1;
        for (int k = 0; k < 3 && hit < 0; k++) if (!strncmp(p, key[k], strlen(key[k]))) hit = k;
        if (hit < 0) { *o++ = *p++; continue; }
        size_t n = strlen(val[hit]);
        memcpy(o, val[hit], n);
        o += n;
        p += strlen(key[hit]);
    }
    *o = 0;
    return out;
}

typedef struct build_ctx {
    const srt_layout *l;
    const srt_lm *lm;
    const char *voice, *role;
    id_buf *b;
} build_ctx;

static srt_status emit_seq(build_ctx *x, const srt_layout_seq *s, const srt_chat_part *part);

static srt_status emit_part(build_ctx *x, const srt_chat_part *p, int turn_no, int part_no) {
    if (!p->is_audio) return emit_seq(x, &x->l->chat.text_part, p);
    if (!x->l->chat.audio_part.n)
        return srt_error(SRT_ERR_UNSUPPORTED, "turn %d part %d is audio but layout %s (%s) takes no audio input",
                         turn_no, part_no, x->l->name, x->l->source);
    return emit_seq(x, &x->l->chat.audio_part, p);
}

/* Items of a template (a turn's content item is expanded by the caller); part: the text / audio part framed. */
static srt_status emit_seq(build_ctx *x, const srt_layout_seq *s, const srt_chat_part *part) {
    for (int i = 0; i < s->n; i++) {
        const srt_layout_item *it = &s->items[i];
        if (it->kind == SRT_LAYOUT_TOKEN) SRT_TRY(push(x->b, &it->token, 1));
        else if (it->kind == SRT_LAYOUT_AUDIO) SRT_TRY(push(x->b, part->audio_ids, part->n_audio_ids));
        else if (it->kind == SRT_LAYOUT_CONTENT) continue;
        else {
            char *s2 = fill(it->text, x->voice, x->role, part ? part->text : NULL);
            int32_t *tok = NULL;
            size_t n_tok = 0;
            srt_status st = s2 ? srt_lm_encode(x->lm, s2, it->bos, &tok, &n_tok)
                               : srt_error(SRT_ERR_NOMEM, "out of memory building a prompt");
            if (st == SRT_OK) st = push(x->b, tok, n_tok);
            free(tok);
            free(s2);
            SRT_TRY(st);
        }
    }
    return SRT_OK;
}

srt_status srt_layout_build_chat(const srt_layout *l, const srt_lm *lm, const char *voice, const srt_chat_turn *turns,
                                 int n_turns, int32_t **ids, size_t *n_ids) {
    return srt_layout_build_chat_turns(l, lm, voice, turns, n_turns, 1, ids, n_ids, NULL);
}

srt_status srt_layout_build_chat_turns(const srt_layout *l, const srt_lm *lm, const char *voice,
                                       const srt_chat_turn *turns, int n_turns, int with_reply, int32_t **ids,
                                       size_t *n_ids, size_t *turn_start) {
    *ids = NULL;
    *n_ids = 0;
    if (!l->chat.present)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) has no \"chat\" section: it cannot hold conversations",
                         l->name, l->source);
    if (n_turns < 0 || (n_turns && !turns)) return srt_error(SRT_ERR_INVALID_ARG, "conversation: bad turn list");
    id_buf b = {0};
    build_ctx x = {l, lm, voice ? voice : l->default_voice, NULL, &b};
    srt_status st = emit_seq(&x, &l->chat.start, NULL);
    for (int t = 0; t < n_turns && st == SRT_OK; t++) {
        srt_chat_role r = turns[t].role;
        if (r < 0 || r >= SRT_ROLE_COUNT || !l->chat.has_turn[r]) {
            st = srt_error(SRT_ERR_UNSUPPORTED, "turn %d: layout %s (%s) has no template for role '%s'", t, l->name,
                           l->source, srt_chat_role_name(r));
            break;
        }
        if (turns[t].n_parts < 0 || (turns[t].n_parts && !turns[t].parts)) {
            st = srt_error(SRT_ERR_INVALID_ARG, "turn %d: bad part list", t);
            break;
        }
        for (int k = 0; k < turns[t].n_parts && st == SRT_OK; k++) {
            const srt_chat_part *p = &turns[t].parts[k];
            if (p->is_audio && (!p->audio_ids || !p->n_audio_ids || p->n_audio_ids % (size_t)l->n_positions))
                st = srt_error(SRT_ERR_INVALID_ARG, "turn %d part %d: audio needs whole frame groups of %d ids", t, k,
                               l->n_positions);
            else if (!p->is_audio && !p->text)
                st = srt_error(SRT_ERR_INVALID_ARG, "turn %d part %d: text part without text", t, k);
        }
        x.role = srt_chat_role_name(r);
        if (turn_start) turn_start[t] = b.n;
        for (int i = 0; i < l->chat.turn[r].n && st == SRT_OK; i++) {
            const srt_layout_item *it = &l->chat.turn[r].items[i];
            if (it->kind != SRT_LAYOUT_CONTENT) {
                srt_layout_seq one = {(srt_layout_item *)it, 1};
                st = emit_seq(&x, &one, NULL);
                continue;
            }
            for (int k = 0; k < turns[t].n_parts && st == SRT_OK; k++) st = emit_part(&x, &turns[t].parts[k], t, k);
        }
    }
    x.role = srt_chat_role_name(SRT_ROLE_ASSISTANT);
    if (turn_start && st == SRT_OK) turn_start[n_turns] = b.n;
    if (st == SRT_OK && with_reply) st = emit_seq(&x, &l->chat.reply, NULL);
    if (st != SRT_OK) { free(b.ids); return st; }
    *ids = b.ids;
    *n_ids = b.n;
    return SRT_OK;
}
