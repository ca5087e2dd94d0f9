/* layout_clone.c: the "clone" section of a token layout (voice cloning, see layout.h and layouts/README.md): a
 * reference clip's transcript and audio placed as a prior exchange (user: the transcript, assistant: the audio),
 * then the new text as the next user turn, answered in audio through the "chat" templates. */
#include "tts/layout.h"
#include "common.h"
#include <cjson/cJSON.h>

srt_status srt_layout_parse_clone(srt_layout *l, const void *section, const char *src) {
    const cJSON *clone = section;
    if (!clone) return SRT_OK;
    if (!cJSON_IsObject(clone)) return srt_error(SRT_ERR_FORMAT, "%s: \"clone\" must be an object", src);
    const srt_layout_chat *c = &l->chat;
    if (!c->present || !c->has_turn[SRT_ROLE_ASSISTANT] || !c->audio_part.n || !(c->modes & SRT_MODE_AUDIO))
        return srt_error(SRT_ERR_FORMAT, "%s: \"clone\" needs a \"chat\" section with user and assistant turns, an "
                         "\"audio_part\" and audio output", src);
    l->has_clone = 1;
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(clone, "text_part");
    if (!tp) return SRT_OK;
    static const char *const ph[] = {"voice", "role", "text", NULL};
    int n_audio = 0;
    SRT_TRY(srt_layout_parse_items(l, tp, "clone.text_part", src, 0, ph, &l->clone_text_part.items,
                                   &l->clone_text_part.n, &n_audio));
    for (int i = 0; i < l->clone_text_part.n; i++)
        if (n_audio || l->clone_text_part.items[i].with_audio || l->clone_text_part.items[i].with_instructions)
            return srt_error(SRT_ERR_FORMAT, "%s: \"clone.text_part\" cannot hold audio or instructions", src);
    return SRT_OK;
}

srt_status srt_layout_build_clone(const srt_layout *l, const srt_lm *lm, const char *voice, const char *ref_text,
                                  const int32_t *ref_ids, size_t n_ref_ids, const char *text, int32_t **ids,
                                  size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (!l->has_clone)
        return srt_error(SRT_ERR_UNSUPPORTED, "layout %s (%s) has no \"clone\" section: it cannot place a reference "
                         "transcript", l->name, l->source);
    srt_layout tmp = *l;                     /* shallow: only the text part's template differs */
    if (l->clone_text_part.n) tmp.chat.text_part = l->clone_text_part;
    srt_chat_part ref = {.text = ref_text}, audio = {.is_audio = 1, .audio_ids = ref_ids, .n_audio_ids = n_ref_ids},
                  next = {.text = text};
    srt_chat_turn turns[3] = {{SRT_ROLE_USER, &ref, 1}, {SRT_ROLE_ASSISTANT, &audio, 1}, {SRT_ROLE_USER, &next, 1}};
    return srt_layout_build_chat(&tmp, lm, voice, turns, 3, ids, n_ids);
}
