/* layout_map.c: what a layout does with codes and text: SNAC frame groups <-> token ids, and prompt assembly
 * from the template items (token, text through the tokenizer with {voice}/{text}/{instructions} substituted,
 * audio slot). */
#include "tts/layout.h"
#include "common.h"

srt_status srt_layout_codes_to_ids(const srt_layout *l, const srt_codes *codes, int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (codes->n_levels != l->n_levels)
        return srt_error(SRT_ERR_RANGE, "layout %s: codes have %d levels, the layout %d", l->name, codes->n_levels,
                         l->n_levels);
    int64_t groups = codes->n_frames[0];
    for (int L = 0; L < l->n_levels; L++)
        if (codes->n_frames[L] != groups * l->per_level[L])
            return srt_error(SRT_ERR_RANGE, "layout %s: level %d has %lld codes, %lld frame groups need %lld", l->name,
                             L, (long long)codes->n_frames[L], (long long)groups,
                             (long long)(groups * l->per_level[L]));
    size_t n = (size_t)groups * (size_t)l->n_positions;
    int32_t *out = srt_malloc(sizeof(int32_t) * (n ? n : 1), "layout ids");
    if (!out) return SRT_ERR_NOMEM;
    for (int64_t g = 0; g < groups; g++)
        for (int p = 0; p < l->n_positions; p++) {
            int L = l->pos_level[p];
            int32_t c = codes->codes[L][g * l->per_level[L] + l->pos_index[p]];
            if (c < 0 || c >= l->codebook_size) {
                free(out);
                return srt_error(SRT_ERR_RANGE, "layout %s: code %d (level %d, group %lld) outside [0, %d)", l->name,
                                 c, L, (long long)g, l->codebook_size);
            }
            out[(size_t)g * (size_t)l->n_positions + (size_t)p] = srt_layout_audio_id(l, p, c);
        }
    *ids = out;
    *n_ids = n;
    return SRT_OK;
}

srt_status srt_layout_ids_to_codes(const srt_layout *l, const int32_t *ids, size_t n_ids, srt_codes *codes) {
    memset(codes, 0, sizeof *codes);
    if (n_ids % (size_t)l->n_positions)
        return srt_error(SRT_ERR_RANGE, "layout %s: %zu ids is not a whole number of %d-id frame groups", l->name,
                         n_ids, l->n_positions);
    int64_t groups = (int64_t)(n_ids / (size_t)l->n_positions);
    codes->n_levels = l->n_levels;
    for (int L = 0; L < l->n_levels; L++) {
        codes->n_frames[L] = groups * l->per_level[L];
        codes->codes[L] = srt_malloc(sizeof(int32_t) * (size_t)(codes->n_frames[L] ? codes->n_frames[L] : 1), "codes");
        if (!codes->codes[L]) { srt_codes_free(codes); return SRT_ERR_NOMEM; }
    }
    for (size_t i = 0; i < n_ids; i++) {
        int p = (int)(i % (size_t)l->n_positions);
        int64_t g = (int64_t)(i / (size_t)l->n_positions);
        int32_t c = srt_layout_audio_code(l, p, ids[i]);
        if (c < 0) {
            srt_codes_free(codes);
            return srt_error(SRT_ERR_RANGE, "layout %s: id %d at index %zu is not an audio id of position %d "
                             "([%d, %d))", l->name, ids[i], i, p, srt_layout_audio_id(l, p, 0),
                             srt_layout_audio_id(l, p, l->codebook_size));
        }
        int L = l->pos_level[p];
        codes->codes[L][g * l->per_level[L] + l->pos_index[p]] = c;
    }
    return SRT_OK;
}

/* Append n ids to a growing array. */
static srt_status push_ids(int32_t **buf, size_t *n, size_t *cap, const int32_t *ids, size_t k) {
    if (*n + k > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + k) c *= 2;
        int32_t *grown = realloc(*buf, sizeof(int32_t) * c);
        if (!grown) return srt_error(SRT_ERR_NOMEM, "out of memory building a prompt");
        *buf = grown;
        *cap = c;
    }
    memcpy(*buf + *n, ids, sizeof(int32_t) * k);
    *n += k;
    return SRT_OK;
}

/* Substitute {voice}, {text} and {instructions} in a template into a malloc'd string. */
static char *fill_template(const char *tpl, const char *voice, const char *text, const char *instr) {
    size_t lv = voice ? strlen(voice) : 0, lt = strlen(text), li = instr ? strlen(instr) : 0, cap = strlen(tpl) + 1;
    for (const char *p = tpl; (p = strchr(p, '{')); p++) cap += lv + lt + li;
    char *out = malloc(cap), *o = out;
    if (!out) return NULL;
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{voice}", 7)) { if (lv) memcpy(o, voice, lv); o += lv; p += 7; }
        else if (!strncmp(p, "{text}", 6)) { memcpy(o, text, lt); o += lt; p += 6; }
        else if (!strncmp(p, "{instructions}", 14)) { if (li) memcpy(o, instr, li); o += li; p += 14; }
        else *o++ = *p++;
    }
    *o = 0;
    return out;
}

int srt_layout_instructions_slot(const srt_layout *l, int clone) {
    if (clone) return 0;
    return l->n_prompt ? l->has_instructions : l->chat.has_turn[SRT_ROLE_SYSTEM];
}

srt_status srt_layout_build_prompt(const srt_layout *l, const srt_lm *lm, const char *voice, const char *text,
                                   const int32_t *audio_ids, size_t n_audio_ids, int32_t **ids, size_t *n_ids) {
    return srt_layout_build_prompt_instr(l, lm, voice, text, NULL, audio_ids, n_audio_ids, ids, n_ids);
}

srt_status srt_layout_build_prompt_instr(const srt_layout *l, const srt_lm *lm, const char *voice, const char *text,
                                         const char *instr, const int32_t *audio_ids, size_t n_audio_ids,
                                         int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (!voice) voice = l->default_voice;
    int with_audio = audio_ids != NULL, with_instr = instr && instr[0];
    if (!l->n_prompt) {             /* no TTS template: one user turn (text, then the audio prompt) and the reply,
                                       after a system turn with the instructions when the chat has that role */
        srt_chat_part sys = {0, with_instr ? instr : "", NULL, 0};
        srt_chat_part parts[2] = {{0, text ? text : "", NULL, 0}, {1, NULL, audio_ids, n_audio_ids}};
        srt_chat_turn turns[2] = {{SRT_ROLE_SYSTEM, &sys, 1},
                                  {SRT_ROLE_USER, parts, with_audio && n_audio_ids ? 2 : 1}};
        int first = with_instr && l->chat.has_turn[SRT_ROLE_SYSTEM] ? 0 : 1;
        return srt_layout_build_chat(l, lm, voice, turns + first, 2 - first, ids, n_ids);
    }
    int32_t *buf = NULL;
    size_t n = 0, cap = 0;
    srt_status st = SRT_OK;
    for (int i = 0; i < l->n_prompt && st == SRT_OK; i++) {
        const srt_layout_item *it = &l->prompt[i];
        if ((it->with_audio && !with_audio) || (it->with_instructions && !with_instr)) continue;
        if (it->kind == SRT_LAYOUT_TOKEN) {
            st = push_ids(&buf, &n, &cap, &it->token, 1);
        } else if (it->kind == SRT_LAYOUT_AUDIO) {
            if (n_audio_ids) st = push_ids(&buf, &n, &cap, audio_ids, n_audio_ids);
        } else {
            char *s = fill_template(it->text, voice, text ? text : "", with_instr ? instr : "");
            int32_t *tok = NULL;
            size_t n_tok = 0;
            if (!s) st = srt_error(SRT_ERR_NOMEM, "out of memory building a prompt");
            else st = srt_lm_encode(lm, s, it->bos, &tok, &n_tok);
            if (st == SRT_OK) st = push_ids(&buf, &n, &cap, tok, n_tok);
            free(tok);
            free(s);
        }
    }
    if (st == SRT_OK && with_audio) {
        int has_slot = 0;
        for (int i = 0; i < l->n_prompt; i++) has_slot |= l->prompt[i].kind == SRT_LAYOUT_AUDIO;
        if (!has_slot)
            st = srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) has no audio slot in its prompt: it takes no audio "
                           "input", l->name, l->source);
    }
    if (st != SRT_OK) { free(buf); return st; }
    *ids = buf;
    *n_ids = n;
    return SRT_OK;
}
