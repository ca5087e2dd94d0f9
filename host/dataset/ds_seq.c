/* ds_seq.c: one tokenized item -> its training sequence (ids + loss mask) through the layout's own prompt
 * builders (srt_layout_build_prompt for tts, srt_layout_build_chat for asr), and where it may be cut. */
#include "dataset/ds_seq.h"
#include "dataset/ds_seq_internal.h"
#include "dataset/ds_internal.h"
#include "common.h"
#include <stdlib.h>
#include <string.h>

srt_status srt_ds_seq_open(const srt_ds_run_options *o, const srt_codec_info *info, srt_ds_seq_ctx **out) {
    *out = NULL;
    if (!o->seq_tokenizer) return srt_error(SRT_ERR_INVALID_ARG, "--sequences needs --tokenizer LM_DIR");
    if (o->seq_pack && o->seq_len <= 0) return srt_error(SRT_ERR_INVALID_ARG, "--pack needs --seq-len N");
    srt_ds_seq_ctx *c = srt_calloc(1, sizeof *c, "the sequence writer");
    if (!c) return SRT_ERR_NOMEM;
    c->o = o;
    c->text_column = o->seq_text_column ? o->seq_text_column : "text";
    srt_status st = srt_layout_load(o->seq_layout, NULL, &c->layout);
    if (st == SRT_OK) st = srt_layout_check_codec(c->layout, info);
    if (st == SRT_OK) st = srt_lm_load_tokenizer(o->seq_tokenizer, &c->lm);   /* the weights are not mapped */
    const char *task = o->seq_task == SRT_DS_TASK_DIALOG ? "dialog" : "asr";
    if (st == SRT_OK && (o->seq_task == SRT_DS_TASK_ASR || o->seq_task == SRT_DS_TASK_DIALOG) &&
        !c->layout->chat.present)
        st = srt_error(SRT_ERR_UNSUPPORTED, "--task %s: layout %s (%s) has no \"chat\" section", task,
                       c->layout->name, c->layout->source);
    if (st == SRT_OK && o->seq_task == SRT_DS_TASK_ASR && c->layout->chat.n_end_of_turn < 1)
        st = srt_error(SRT_ERR_UNSUPPORTED, "--task asr: layout %s (%s) has no output end_of_turn token",
                       c->layout->name, c->layout->source);
    if (st != SRT_OK) { srt_ds_seq_close(c); return st; }
    int32_t eot = srt_layout_token_id(c->layout, "end_of_text");
    c->pad_id = eot >= 0 ? eot : 0;
    const srt_layout *l = c->layout;
    c->audio_lo = l->audio_base;
    c->audio_hi = l->audio_base + (l->position_stride ? (int64_t)l->position_stride * l->n_positions : l->codebook_size);
    *out = c;
    return SRT_OK;
}

void srt_ds_seq_close(srt_ds_seq_ctx *c) {
    if (!c) return;
    srt_layout_free(c->layout);
    srt_lm_free(c->lm);
    free(c);
}

/* The item's text column as a string (malloc'd), or SRT_ERR_FORMAT naming the item; with --voice-column (tts)
 * also its voice, resolved by the layout (*voice points into the layout; an unknown voice: SRT_ERR_FORMAT). */
static srt_status item_text(const srt_ds_seq_ctx *c, const char *key, const char *extra_json, char **text,
                            const char **voice) {
    *text = NULL;
    *voice = NULL;
    cJSON *obj = NULL;
    srt_status st = ds_extra_parse(extra_json, key, &obj);
    if (st != SRT_OK) return st;
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, c->text_column) : NULL;
    const char *vc = c->o->seq_task == SRT_DS_TASK_TTS ? c->o->seq_voice_column : NULL;
    const cJSON *vv = vc && obj ? cJSON_GetObjectItemCaseSensitive(obj, vc) : NULL;
    if (!cJSON_IsString(v)) st = srt_error(SRT_ERR_FORMAT, "%s: no text column \"%s\" (a string) for --sequences",
                                           key, c->text_column);
    else if (vc && !cJSON_IsString(vv))
        st = srt_error(SRT_ERR_FORMAT, "%s: no voice column \"%s\" (a string) for --sequences", key, vc);
    else if (vc && !srt_layout_voice(c->layout, vv->valuestring, voice))
        st = srt_error(SRT_ERR_FORMAT, "%s: voice \"%s\" (column \"%s\") is not a voice of layout %s", key,
                       vv->valuestring, vc, c->layout->name);
    else if (!(*text = srt_strdup(v->valuestring))) st = SRT_ERR_NOMEM;
    cJSON_Delete(obj);
    return st;
}

srt_status srt_ds_seq_check_unit(const srt_ds_seq_ctx *c, const char *key, const char *extra_json, char **error) {
    *error = NULL;
    char *text = NULL;
    const char *voice = NULL;
    srt_status st = item_text(c, key, extra_json, &text, &voice);
    free(text);
    if (st == SRT_ERR_NOMEM) return st;
    if (st != SRT_OK && !(*error = srt_strdup(srt_last_error()))) return SRT_ERR_NOMEM;
    return SRT_OK;
}

static srt_status push(int32_t **ids, uint8_t **mask, size_t *n, size_t *cap, const int32_t *src, size_t k, int m) {
    if (*n + k > *cap) {
        size_t nc = (*n + k) * 2 + 16;
        int32_t *ni = realloc(*ids, nc * sizeof **ids);
        if (ni) *ids = ni;
        uint8_t *nm = realloc(*mask, nc);
        if (nm) *mask = nm;
        if (!ni || !nm) return srt_error(SRT_ERR_NOMEM, "out of memory building a sequence");
        *cap = nc;
    }
    memcpy(*ids + *n, src, k * sizeof *src);
    memset(*mask + *n, m, k);
    *n += k;
    return SRT_OK;
}

uint8_t *srt_ds_seq_cuts(const srt_ds_seq_ctx *c, const int32_t *ids, size_t n) {
    uint8_t *cut = srt_malloc(n + 1, "a sequence");
    if (!cut) return NULL;
    /* inside a run of audio ids only frame-group boundaries (counted from the run's start) may be cut */
    size_t run = 0;
    for (size_t i = 0; i <= n; i++) {
        int in_audio = i < n && ids[i] >= c->audio_lo && ids[i] < c->audio_hi;
        cut[i] = !(in_audio && run % (size_t)c->layout->n_positions != 0);
        run = in_audio ? run + 1 : 0;
    }
    return cut;
}

srt_status srt_ds_seq_item(const srt_ds_seq_ctx *c, const srt_ds_item *item, int32_t **ids_out, uint8_t **mask_out,
                           uint8_t **cut_out, size_t *n_out) {
    *ids_out = NULL; *mask_out = NULL; *cut_out = NULL; *n_out = 0;
    const srt_layout *l = c->layout;
    char *text = NULL;
    int32_t *audio = NULL, *prompt = NULL, *tids = NULL, *ids = NULL;
    uint8_t *mask = NULL;
    size_t n_audio = 0, n_prompt = 0, n_t = 0, n = 0, cap = 0;
    const char *voice = NULL;
    srt_status st = item_text(c, item->key, item->extra_json, &text, &voice);
    if (st == SRT_OK) st = srt_layout_codes_to_ids(l, &item->codes, &audio, &n_audio);
    if (st == SRT_OK && c->o->seq_task == SRT_DS_TASK_TTS) {
        /* the served TTS prompt, then the audio the model must say, closed by end_of_speech */
        st = srt_layout_build_prompt(l, c->lm, voice, text, NULL, 0, &prompt, &n_prompt);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, prompt, n_prompt, 0);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, audio, n_audio, 1);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, &l->end_of_speech, 1, 1);
    } else if (st == SRT_OK) {
        /* the served conversation "user: <audio>", then the transcript, closed by the first end_of_turn */
        srt_chat_part part = {1, NULL, audio, n_audio};
        srt_chat_turn turn = {SRT_ROLE_USER, &part, 1};
        st = srt_layout_build_chat(l, c->lm, NULL, &turn, 1, &prompt, &n_prompt);
        if (st == SRT_OK) st = srt_lm_encode(c->lm, text, 0, &tids, &n_t);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, prompt, n_prompt, 0);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, tids, n_t, 1);
        if (st == SRT_OK) st = push(&ids, &mask, &n, &cap, &l->chat.end_of_turn[0], 1, 1);
    }
    uint8_t *cut = NULL;
    if (st == SRT_OK && !(cut = srt_ds_seq_cuts(c, ids, n))) st = SRT_ERR_NOMEM;
    free(text); free(audio); free(prompt); free(tids);
    if (st != SRT_OK) { free(ids); free(mask); free(cut); return st; }
    *ids_out = ids; *mask_out = mask; *cut_out = cut; *n_out = n;
    return SRT_OK;
}
