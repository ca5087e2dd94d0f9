/* layout.c: parse and validate token layout JSON (see layout.h), load a layout by name, path or model folder,
 * and check it against a codec. Every error names the source file and the field. */
#include "tts/layout.h"
#include "common.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <strings.h>

void srt_layout_free(srt_layout *l) {
    if (!l) return;
    free(l->name); free(l->source);
    for (int i = 0; i < l->n_tokens; i++) free(l->tokens[i].name);
    free(l->tokens);
    for (int i = 0; i < l->n_prompt; i++) free(l->prompt[i].text);
    free(l->prompt);
    srt_layout_chat_free(&l->chat);
    for (int i = 0; i < l->clone_text_part.n; i++) free(l->clone_text_part.items[i].text);
    free(l->clone_text_part.items);
    for (int i = 0; i < l->n_voices; i++) free(l->voices[i]);
    free(l->voices);
    free(l->default_voice);
    for (int i = 0; l->voice_aliases && l->voice_aliases[i]; i++) free(l->voice_aliases[i]);
    free(l->voice_aliases);
    for (int i = 0; l->tags && l->tags[i]; i++) free(l->tags[i]);
    free(l->tags);
    free(l);
}

/* An integer in [lo, hi] at obj[key] (missing: *out = dflt unless required). */
static srt_status get_int(const cJSON *obj, const char *key, const char *field, const char *src, int required,
                          long long lo, long long hi, long long dflt, long long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return srt_error(SRT_ERR_FORMAT, "%s: missing \"%s\"", src, field);
        *out = dflt;
        return SRT_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)lo || d > (double)hi)
        return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an integer in [%lld, %lld]", src, field, lo, hi);
    *out = (long long)d;
    return SRT_OK;
}

static srt_status get_bool(const cJSON *obj, const char *key, const char *field, const char *src, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) { *out = dflt; return SRT_OK; }
    if (!cJSON_IsBool(v)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be true or false", src, field);
    *out = cJSON_IsTrue(v);
    return SRT_OK;
}

int32_t srt_layout_token_id(const srt_layout *l, const char *name) {
    for (int i = 0; i < l->n_tokens; i++) if (!strcmp(l->tokens[i].name, name)) return l->tokens[i].id;
    return -1;
}
#define find_token srt_layout_token_id

static srt_status parse_audio(srt_layout *l, const cJSON *root, const char *src) {
    const cJSON *codec = cJSON_GetObjectItemCaseSensitive(root, "codec");
    if (!cJSON_IsObject(codec)) return srt_error(SRT_ERR_FORMAT, "%s: missing object \"codec\"", src);
    long long v;
    SRT_TRY(get_int(codec, "levels", "codec.levels", src, 1, 1, SRT_LAYOUT_MAX_LEVELS, 0, &v));
    l->n_levels = (int)v;
    SRT_TRY(get_int(codec, "sample_rate", "codec.sample_rate", src, 0, 0, 1000000, 0, &v));
    l->sample_rate = (int)v;
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(root, "audio");
    if (!cJSON_IsObject(audio)) return srt_error(SRT_ERR_FORMAT, "%s: missing object \"audio\"", src);
    SRT_TRY(get_int(audio, "base", "audio.base", src, 1, 0, INT32_MAX, 0, &v));
    l->audio_base = (int32_t)v;
    SRT_TRY(get_int(audio, "codebook_size", "audio.codebook_size", src, 1, 1, 1 << 20, 0, &v));
    l->codebook_size = (int32_t)v;
    SRT_TRY(get_int(audio, "position_stride", "audio.position_stride", src, 1, 0, 1 << 20, 0, &v));
    l->position_stride = (int32_t)v;
    if (l->position_stride && l->position_stride < l->codebook_size)
        return srt_error(SRT_ERR_FORMAT, "%s: \"audio.position_stride\" %d is below \"audio.codebook_size\" %d "
                         "(the positions' id ranges would overlap; use 0 for a flat layout)", src,
                         l->position_stride, l->codebook_size);
    SRT_TRY(get_bool(audio, "mask", "audio.mask", src, 1, &l->mask));
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(audio, "positions");
    int n = cJSON_IsArray(pos) ? cJSON_GetArraySize(pos) : -1;
    if (n < 1 || n > SRT_LAYOUT_MAX_POSITIONS)
        return srt_error(SRT_ERR_FORMAT, "%s: \"audio.positions\" must be an array of 1..%d levels", src,
                         SRT_LAYOUT_MAX_POSITIONS);
    l->n_positions = n;
    for (int p = 0; p < n; p++) {
        const cJSON *e = cJSON_GetArrayItem(pos, p);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble >= l->n_levels)
            return srt_error(SRT_ERR_FORMAT, "%s: \"audio.positions\"[%d] must be a level in [0, %d)", src, p,
                             l->n_levels);
        int level = (int)e->valuedouble;
        l->pos_level[p] = level;
        l->pos_index[p] = l->per_level[level]++;
    }
    for (int L = 0; L < l->n_levels; L++) {
        if (!l->per_level[L])
            return srt_error(SRT_ERR_FORMAT, "%s: \"audio.positions\" has no position of level %d", src, L);
        if (L && l->per_level[L] < l->per_level[L - 1])
            return srt_error(SRT_ERR_FORMAT, "%s: \"audio.positions\": level %d has fewer codes per group (%d) than "
                             "level %d (%d)", src, L, l->per_level[L], L - 1, l->per_level[L - 1]);
    }
    if (l->per_level[0] != 1)
        return srt_error(SRT_ERR_FORMAT, "%s: \"audio.positions\" must hold exactly one level-0 code per group", src);
    int64_t last = (int64_t)l->audio_base + (int64_t)(n - 1) * l->position_stride + l->codebook_size;
    if (last > INT32_MAX) return srt_error(SRT_ERR_FORMAT, "%s: \"audio\" ids overflow 32 bits", src);
    return SRT_OK;
}

static srt_status parse_tokens(srt_layout *l, const cJSON *root, const char *src) {
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    if (!cJSON_IsObject(toks)) return srt_error(SRT_ERR_FORMAT, "%s: missing object \"tokens\"", src);
    int n = cJSON_GetArraySize(toks);
    l->tokens = srt_calloc((size_t)(n ? n : 1), sizeof *l->tokens, "layout tokens");
    if (!l->tokens) return SRT_ERR_NOMEM;
    const cJSON *t;
    cJSON_ArrayForEach(t, toks) {
        char field[160];
        snprintf(field, sizeof field, "tokens.%s", t->string);
        long long v;
        if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 ||
            t->valuedouble > INT32_MAX)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be a token id (a non-negative integer)", src, field);
        v = (long long)t->valuedouble;
        l->tokens[l->n_tokens].name = srt_strdup(t->string);
        if (!l->tokens[l->n_tokens].name) return SRT_ERR_NOMEM;
        l->tokens[l->n_tokens++].id = (int32_t)v;
    }
    l->start_of_speech = find_token(l, "start_of_speech");
    l->end_of_speech = find_token(l, "end_of_speech");
    if (l->start_of_speech < 0) return srt_error(SRT_ERR_FORMAT, "%s: missing \"tokens.start_of_speech\"", src);
    if (l->end_of_speech < 0) return srt_error(SRT_ERR_FORMAT, "%s: missing \"tokens.end_of_speech\"", src);
    int64_t hi = (int64_t)l->audio_base + (int64_t)(l->n_positions - 1) * l->position_stride + l->codebook_size;
    if (l->end_of_speech >= l->audio_base && l->end_of_speech < hi)
        return srt_error(SRT_ERR_FORMAT, "%s: \"tokens.end_of_speech\" %d lies inside the audio ids [%d, %lld)", src,
                         l->end_of_speech, l->audio_base, (long long)hi);
    return SRT_OK;
}

/* Items of a template array (see layout.h): allow_content permits {"content": true} (a turn's parts), placeholders
 * lists the {names} a text item may use. *n_audio counts audio slots. */
srt_status srt_layout_parse_items(const srt_layout *l, const void *json_array, const char *field, const char *src,
                                  int allow_content, const char *const *placeholders, srt_layout_item **items,
                                  int *n_items, int *n_audio) {
    const cJSON *pr = json_array;
    *items = NULL;
    *n_items = 0;
    *n_audio = 0;
    int n = cJSON_IsArray(pr) ? cJSON_GetArraySize(pr) : -1;
    if (n < 0) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an array of items", src, field);
    *items = srt_calloc((size_t)(n ? n : 1), sizeof **items, "layout items");
    if (!*items) return SRT_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(pr, i);
        srt_layout_item *it = &(*items)[(*n_items)++];
        char f[160];
        snprintf(f, sizeof f, "%s[%d]", field, i);
        if (!cJSON_IsObject(e)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" must be an object", src, f);
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(e, "token");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "text");
        const cJSON *audio = cJSON_GetObjectItemCaseSensitive(e, "audio");
        const cJSON *content = allow_content ? cJSON_GetObjectItemCaseSensitive(e, "content") : NULL;
        if ((tok != NULL) + (text != NULL) + (audio != NULL) + (content != NULL) != 1)
            return srt_error(SRT_ERR_FORMAT, "%s: \"%s\" needs exactly one of \"token\", \"text\", \"audio\"%s", src,
                             f, allow_content ? ", \"content\"" : "");
        char sub[192];
        snprintf(sub, sizeof sub, "%s.with_audio", f);
        SRT_TRY(get_bool(e, "with_audio", sub, src, 0, &it->with_audio));
        snprintf(sub, sizeof sub, "%s.with_instructions", f);
        SRT_TRY(get_bool(e, "with_instructions", sub, src, 0, &it->with_instructions));
        if (tok) {
            it->kind = SRT_LAYOUT_TOKEN;
            if (cJSON_IsString(tok)) it->token = find_token(l, tok->valuestring);
            else if (cJSON_IsNumber(tok) && tok->valuedouble == floor(tok->valuedouble) && tok->valuedouble >= 0 &&
                     tok->valuedouble <= INT32_MAX) it->token = (int32_t)tok->valuedouble;
            else it->token = -1;
            if (it->token < 0)
                return srt_error(SRT_ERR_FORMAT, "%s: \"%s.token\" must be a name from \"tokens\" or an id", src, f);
        } else if (text) {
            it->kind = SRT_LAYOUT_TEXT;
            if (!cJSON_IsString(text)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s.text\" must be a string", src, f);
            it->text = srt_strdup(text->valuestring);
            if (!it->text) return SRT_ERR_NOMEM;
            snprintf(sub, sizeof sub, "%s.bos", f);
            SRT_TRY(get_bool(e, "bos", sub, src, 0, &it->bos));
            for (const char *p = it->text; (p = strchr(p, '{')); p++) {
                int known = 0;
                for (int k = 0; placeholders[k]; k++)
                    known |= !strncmp(p + 1, placeholders[k], strlen(placeholders[k])) &&
                             p[1 + strlen(placeholders[k])] == '}';
                if (!known) {
                    char list[96] = "";
                    for (int k = 0; placeholders[k]; k++)
                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s{%s}", k ? " or " : "",
                                 placeholders[k]);
                    return srt_error(SRT_ERR_FORMAT, "%s: \"%s.text\" has an unknown placeholder at '%.16s' "
                                     "(expected %s)", src, f, p, list);
                }
            }
        } else if (audio) {
            it->kind = SRT_LAYOUT_AUDIO;
            if (!cJSON_IsTrue(audio)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s.audio\" must be true", src, f);
            it->with_audio = 1;
            (*n_audio)++;
        } else {
            it->kind = SRT_LAYOUT_CONTENT;
            if (!cJSON_IsTrue(content)) return srt_error(SRT_ERR_FORMAT, "%s: \"%s.content\" must be true", src, f);
        }
    }
    return SRT_OK;
}

static srt_status parse_prompt(srt_layout *l, const cJSON *root, const char *src) {
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!pr && cJSON_GetObjectItemCaseSensitive(root, "chat")) return SRT_OK;   /* built from the chat templates */
    int n = cJSON_IsArray(pr) ? cJSON_GetArraySize(pr) : -1;
    if (n < 1) return srt_error(SRT_ERR_FORMAT, "%s: \"prompt\" must be a non-empty array of items", src);
    static const char *const ph[] = {"voice", "text", "instructions", NULL};
    int n_audio = 0;
    SRT_TRY(srt_layout_parse_items(l, pr, "prompt", src, 0, ph, &l->prompt, &l->n_prompt, &n_audio));
    for (int i = 0; i < l->n_prompt; i++)
        l->has_instructions |= l->prompt[i].with_instructions ||
                               (l->prompt[i].kind == SRT_LAYOUT_TEXT && strstr(l->prompt[i].text, "{instructions}"));
    if (n_audio > 1) return srt_error(SRT_ERR_FORMAT, "%s: \"prompt\" has %d audio slots (at most 1)", src, n_audio);
    return SRT_OK;
}

static srt_status parse_voices(srt_layout *l, const cJSON *root, const char *src) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "voices");
    int n = 0;
    if (v && !cJSON_IsArray(v)) return srt_error(SRT_ERR_FORMAT, "%s: \"voices\" must be an array of names", src);
    if (v) n = cJSON_GetArraySize(v);
    l->voices = srt_calloc((size_t)n + 1, sizeof *l->voices, "layout voices");
    if (!l->voices) return SRT_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return srt_error(SRT_ERR_FORMAT, "%s: \"voices\"[%d] must be a non-empty string", src, i);
        if (!(l->voices[l->n_voices++] = srt_strdup(e->valuestring))) return SRT_ERR_NOMEM;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "default_voice");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsString(d)) return srt_error(SRT_ERR_FORMAT, "%s: \"default_voice\" must be a string or null", src);
        int found = 0;
        for (int i = 0; i < l->n_voices; i++) found |= !strcmp(l->voices[i], d->valuestring);
        if (!found)
            return srt_error(SRT_ERR_FORMAT, "%s: \"default_voice\" '%s' is not in \"voices\"", src, d->valuestring);
        if (!(l->default_voice = srt_strdup(d->valuestring))) return SRT_ERR_NOMEM;
    }
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(root, "voice_aliases");
    if (al && !cJSON_IsObject(al))
        return srt_error(SRT_ERR_FORMAT, "%s: \"voice_aliases\" must be an object {\"alias\": \"voice\"}", src);
    int na = al ? cJSON_GetArraySize(al) : 0;
    l->voice_aliases = srt_calloc((size_t)na * 2 + 1, sizeof *l->voice_aliases, "layout voice aliases");
    if (!l->voice_aliases) return SRT_ERR_NOMEM;
    for (const cJSON *e = al ? al->child : NULL; e; e = e->next) {
        int found = 0;
        for (int i = 0; cJSON_IsString(e) && i < l->n_voices; i++) found |= !strcmp(l->voices[i], e->valuestring);
        if (!found || !e->string[0])
            return srt_error(SRT_ERR_FORMAT, "%s: \"voice_aliases\".\"%s\" must name one of \"voices\"", src, e->string);
        char **pair = l->voice_aliases + 2 * l->n_voice_aliases++;
        if (!(pair[0] = srt_strdup(e->string)) || !(pair[1] = srt_strdup(e->valuestring))) return SRT_ERR_NOMEM;
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (tags && !cJSON_IsArray(tags)) return srt_error(SRT_ERR_FORMAT, "%s: \"tags\" must be an array of strings", src);
    int nt = tags ? cJSON_GetArraySize(tags) : 0;
    if (!(l->tags = srt_calloc((size_t)nt + 1, sizeof *l->tags, "layout tags"))) return SRT_ERR_NOMEM;
    for (int i = 0; i < nt; i++) {
        const cJSON *e = cJSON_GetArrayItem(tags, i);
        if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) > 64)
            return srt_error(SRT_ERR_FORMAT, "%s: \"tags\"[%d] must be a string of 1 to 64 bytes", src, i);
        if (!(l->tags[l->n_tags++] = srt_strdup(e->valuestring))) return SRT_ERR_NOMEM;
    }
    for (int i = 0; i < l->n_prompt; i++)
        if (l->prompt[i].kind == SRT_LAYOUT_TEXT && strstr(l->prompt[i].text, "{voice}") && !l->default_voice)
            return srt_error(SRT_ERR_FORMAT, "%s: \"prompt[%d].text\" uses {voice} but \"default_voice\" is not set",
                             src, i);
    return SRT_OK;
}

srt_status srt_layout_parse(const char *json, const char *source, srt_layout **out) {
    *out = NULL;
    const char *src = source ? source : "layout";
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return srt_error(SRT_ERR_FORMAT, "%s: not valid JSON (near '%.20s')", src, at ? at : "?");
    }
    srt_layout *l = srt_calloc(1, sizeof *l, "layout");
    srt_status st = l ? SRT_OK : SRT_ERR_NOMEM;
    if (st == SRT_OK && !cJSON_IsObject(root)) st = srt_error(SRT_ERR_FORMAT, "%s: the layout must be a JSON object", src);
    if (st == SRT_OK) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0])
            st = srt_error(SRT_ERR_FORMAT, "%s: \"name\" must be a non-empty string", src);
        else if (!(l->name = srt_strdup(name->valuestring)) || !(l->source = srt_strdup(src)))
            st = SRT_ERR_NOMEM;
    }
    if (st == SRT_OK) st = parse_audio(l, root, src);
    if (st == SRT_OK) st = parse_tokens(l, root, src);
    if (st == SRT_OK) st = parse_prompt(l, root, src);
    if (st == SRT_OK) st = parse_voices(l, root, src);
    if (st == SRT_OK) st = srt_layout_parse_chat(l, cJSON_GetObjectItemCaseSensitive(root, "chat"), src);
    if (st == SRT_OK) st = srt_layout_parse_clone(l, cJSON_GetObjectItemCaseSensitive(root, "clone"), src);
    cJSON_Delete(root);
    if (st != SRT_OK) { srt_layout_free(l); return st; }
    *out = l;
    return SRT_OK;
}

srt_status srt_layout_load(const char *name_or_path, const char *model_dir, srt_layout **out) {
    *out = NULL;
    char *path = NULL;
    if (!name_or_path && model_dir) {
        path = srt_path_join(model_dir, "snacrt_layout.json");
        if (!path) return SRT_ERR_NOMEM;
        if (!srt_file_exists(path)) { free(path); path = NULL; }
    }
    if (!path) {
        const char *name = name_or_path ? name_or_path : "orpheus";
        const char *text = srt_layout_builtin(name);
        if (text) {
            char src[128];
            snprintf(src, sizeof src, "builtin layout '%s'", name);
            return srt_layout_parse(text, src, out);
        }
        if (!strchr(name, '/') && !strstr(name, ".json")) {
            char known[256] = "";
            for (int i = 0; srt_layout_builtin_names[i]; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                         srt_layout_builtin_names[i]);
            return srt_error(SRT_ERR_NOT_FOUND, "unknown layout '%s' (built in: %s; or give a .json path)", name, known);
        }
        path = srt_strdup(name);
        if (!path) return SRT_ERR_NOMEM;
    }
    char *text = NULL;
    size_t size = 0;
    srt_status st = srt_read_file(path, &text, &size);
    if (st == SRT_OK) st = srt_layout_parse(text, path, out);
    else srt_error_prefix(st, "layout %s: ", path);
    free(text);
    free(path);
    return st;
}

srt_status srt_layout_check_codec(const srt_layout *l, const srt_codec_info *info) {
    if (info->n_levels != l->n_levels)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) is for %d-level codecs; the codec has %d levels", l->name,
                         l->source, l->n_levels, info->n_levels);
    if (l->sample_rate && info->sample_rate != l->sample_rate)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) is for %d Hz codecs; the codec runs at %d Hz", l->name,
                         l->source, l->sample_rate, info->sample_rate);
    for (int L = 0; L < l->n_levels; L++) {
        int want = info->vq_strides[0] / info->vq_strides[L];
        if (l->per_level[L] != want)
            return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) has %d level-%d codes per frame group; the codec "
                             "has %d (vq_strides)", l->name, l->source, l->per_level[L], L, want);
    }
    if (info->codebook_size > l->codebook_size)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) holds %d codes per position; the codec has %d",
                         l->name, l->source, l->codebook_size, info->codebook_size);
    return SRT_OK;
}

int32_t srt_layout_audio_id(const srt_layout *l, int position, int32_t code) {
    return l->audio_base + position * l->position_stride + code;
}

int32_t srt_layout_audio_code(const srt_layout *l, int position, int32_t id) {
    int64_t c = (int64_t)id - l->audio_base - (int64_t)position * l->position_stride;
    return c >= 0 && c < l->codebook_size ? (int32_t)c : -1;
}

int srt_layout_voice(const srt_layout *l, const char *name, const char **resolved) {
    *resolved = l->default_voice;
    if (!name) return 1;
    for (int i = 0; i < l->n_voices; i++)
        if (!strcasecmp(l->voices[i], name)) { *resolved = l->voices[i]; return 1; }
    for (int i = 0; i < l->n_voice_aliases; i++)
        if (!strcasecmp(l->voice_aliases[2 * i], name))
            return srt_layout_voice(l, l->voice_aliases[2 * i + 1], resolved);
    return 0;
}
