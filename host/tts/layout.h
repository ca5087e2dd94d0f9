/* layout.h: token layouts: how SNAC codes map into a language model's vocabulary and how prompts are framed,
 * described as data (layouts/<name>.json, also compiled in: host/tts/layout_builtin.c).
 *
 * JSON fields (errors name the file and the field):
 *   "name"            string
 *   "codec"           {"levels": 3|4, "sample_rate": Hz (informative, 0 = any)}
 *   "audio"           {"base": first audio id, "position_stride": id offset per position (0 = flat),
 *                      "codebook_size": codes per position range, "positions": [level of each position of a
 *                      frame group, in order], "mask": true (sampling restricted to the position's range)}
 *                     The k-th occurrence of level L in "positions" is the k-th code of level L in the group, so
 *                     [0,1,2,2,1,2,2] is the 3-level depth-first order (one L0, two L1, four L2 codes per group)
 *                     and [0,1,2,3,3,2,3,3,1,2,3,3,2,3,3] the 4-level one.
 *                     id(position p, code c) = base + p * position_stride + c.
 *   "tokens"          {"name": id, ...}; "start_of_speech" and "end_of_speech" are required
 *   "prompt"          [items]: {"token": name|id} one id; {"text": "...{voice}...{text}...", "bos": bool} text
 *                     through the LM tokenizer (BOS from the tokenizer when "bos"); {"audio": true} the encoded
 *                     audio prompt; any item with "with_audio": true is kept only when the request has audio,
 *                     any with "with_instructions": true only when it has instructions (OpenAI's "instructions":
 *                     a text item may use {instructions}). The prompt's items with either make its slot for them.
 *                     The generated audio starts right after the prompt (so it normally ends with
 *                     start_of_speech).
 *   "voices"          [names] ({voice} must be one of them); "default_voice": name or null
 *   "voice_aliases"   {alias: voice} other names a request may use for a voice (OpenAI's alloy, ash, ...)
 *   "tags"            (optional) [strings]: in-text markup the model knows ("<laugh>"), shown to users as hints
 *   "chat"            (optional) conversations, see layout_chat.c and layouts/README.md:
 *                     {"start": [items] once before the first turn,
 *                      "turns": {"system"|"user"|"assistant": [items]} ({"content": true} = the turn's parts; a
 *                               role without a template cannot be used),
 *                      "text_part": [items] ({text} = the part's text), "audio_part": [items] ({"audio": true}),
 *                      "reply": [items] after the last turn: the assistant's answer is generated from there,
 *                      "output": {"modes": ["text"] | ["audio"] | ["text", "audio"], "first": "text"|"audio",
 *                                 "start_audio": token (text -> audio), "end_audio": token (audio -> text, or the
 *                                 answer's end when "text" is not a mode), "end_of_turn": [tokens]}}
 *                     Text items of chat templates may use {voice}, {role} and (text_part only) {text}.
 *                     "prompt" may be left out when "chat" is given: the TTS prompt is then the conversation of
 *                     one user turn (the text, then the audio prompt as an audio part) and the reply.
 *   "clone"           (optional, needs "chat" with user and assistant turns and an audio part) voice cloning:
 *                     {"text_part": [items] (optional, {text}; replaces "chat.text_part" for these prompts)}.
 *                     A request with a reference clip and its transcript is built as the conversation
 *                     user: transcript, assistant: reference audio, user: text, then "chat.reply". */
#ifndef SRT_LAYOUT_H
#define SRT_LAYOUT_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

#define SRT_LAYOUT_MAX_POSITIONS 64
#define SRT_LAYOUT_MAX_LEVELS 8

typedef enum srt_layout_item_kind {
    SRT_LAYOUT_TOKEN = 0, SRT_LAYOUT_TEXT, SRT_LAYOUT_AUDIO,
    SRT_LAYOUT_CONTENT            /* chat turn templates: the turn's parts */
} srt_layout_item_kind;

typedef struct srt_layout_item {
    srt_layout_item_kind kind;
    int32_t token;            /* SRT_LAYOUT_TOKEN */
    char *text;               /* SRT_LAYOUT_TEXT: template with {voice} and {text} */
    int bos;                  /* SRT_LAYOUT_TEXT: tokenizer adds BOS */
    int with_audio;           /* kept only when the request has audio */
    int with_instructions;    /* prompt items: kept only when the request has instructions */
} srt_layout_item;

typedef struct srt_layout_token { char *name; int32_t id; } srt_layout_token;

typedef enum srt_chat_role { SRT_ROLE_SYSTEM = 0, SRT_ROLE_USER, SRT_ROLE_ASSISTANT, SRT_ROLE_COUNT } srt_chat_role;
enum { SRT_MODE_TEXT = 1, SRT_MODE_AUDIO = 2 };   /* output modes (bits of srt_layout_chat.modes) */
#define SRT_LAYOUT_MAX_EOT 8

typedef struct srt_layout_seq { srt_layout_item *items; int n; } srt_layout_seq;

typedef struct srt_layout_chat {
    int present;                                /* the layout has a "chat" section */
    srt_layout_seq start, turn[SRT_ROLE_COUNT], text_part, audio_part, reply;
    int has_turn[SRT_ROLE_COUNT];
    int modes;                                  /* SRT_MODE_* bits the answer may hold */
    int first;                                  /* the answer's mode right after "reply" */
    int32_t start_audio, end_audio;             /* -1: none */
    int32_t end_of_turn[SRT_LAYOUT_MAX_EOT]; int n_end_of_turn;
} srt_layout_chat;

typedef struct srt_layout {
    char *name, *source;      /* source: the file (or "builtin:<name>") it was parsed from, for messages */
    int n_levels, sample_rate;
    int32_t audio_base, position_stride, codebook_size;
    int n_positions;
    int pos_level[SRT_LAYOUT_MAX_POSITIONS];   /* level of each position */
    int pos_index[SRT_LAYOUT_MAX_POSITIONS];   /* index of the code within its level in the frame group */
    int per_level[SRT_LAYOUT_MAX_LEVELS];      /* codes of each level per frame group */
    int mask;
    int32_t start_of_speech, end_of_speech;
    srt_layout_token *tokens; int n_tokens;
    srt_layout_item *prompt; int n_prompt;
    char **voices; int n_voices;               /* voices is NULL-terminated */
    char *default_voice;                       /* NULL when none */
    char **voice_aliases; int n_voice_aliases; /* "voice_aliases": NULL-terminated pairs alias, voice (2 * n + 1) */
    srt_layout_chat chat;
    int has_clone;                             /* "clone" section present: voice cloning is defined */
    srt_layout_seq clone_text_part;            /* "clone.text_part" (n = 0: the chat's text_part) */
    int has_instructions;                      /* "prompt" has a slot for instructions (see above) */
    char **tags; int n_tags;                   /* "tags", NULL-terminated */
} srt_layout;

/* One part of a conversation turn: text, or audio already mapped to layout ids (whole frame groups). */
typedef struct srt_chat_part {
    int is_audio;
    const char *text;
    const int32_t *audio_ids; size_t n_audio_ids;
} srt_chat_part;

typedef struct srt_chat_turn { srt_chat_role role; const srt_chat_part *parts; int n_parts; } srt_chat_turn;

/* Parse layout JSON text; source names it in messages. Malformed: SRT_ERR_FORMAT naming source and field. */
srt_status srt_layout_parse(const char *json, const char *source, srt_layout **out);
/* name_or_path: a built-in name ("orpheus", "laion-flat") or a .json path; NULL: model_dir/snacrt_layout.json
 * when it exists (model_dir may be NULL), else "orpheus". */
srt_status srt_layout_load(const char *name_or_path, const char *model_dir, srt_layout **out);
void srt_layout_free(srt_layout *layout);

/* The compiled-in JSON text of a built-in layout, or NULL; names lists them (NULL-terminated). */
const char *srt_layout_builtin(const char *name);
extern const char *const srt_layout_builtin_names[];

/* Does the codec fit the layout (levels, codes per group = the codec's strides, codebook within range)? */
srt_status srt_layout_check_codec(const srt_layout *layout, const srt_codec_info *info);

/* id of code c at position p, and back: the code, or -1 when id is not an audio id of position p. */
int32_t srt_layout_audio_id(const srt_layout *layout, int position, int32_t code);
int32_t srt_layout_audio_code(const srt_layout *layout, int position, int32_t id);
/* Is name a known voice (NULL: the default voice exists or the layout has no voices)? Returns the voice to use
 * through *resolved (NULL when the layout has none). Names match case-insensitively, voices first, then the
 * "voice_aliases" (OpenAI's names, e.g. "alloy" -> "tara"). */
int srt_layout_voice(const srt_layout *layout, const char *name, const char **resolved);

/* Does a prompt built for a request place its instructions (clone: a voice-cloning prompt, which never does)?
 * A "prompt" with a slot (items "with_instructions" or text using {instructions}) does; a layout without
 * "prompt" builds its TTS prompt as a conversation, where the instructions go in as a system turn when the chat
 * has a "system" template. */
int srt_layout_instructions_slot(const srt_layout *layout, int clone);

/* Codes (whole frame groups) -> ids, n_positions per group. *ids malloc'd. */
srt_status srt_layout_codes_to_ids(const srt_layout *layout, const srt_codes *codes, int32_t **ids, size_t *n_ids);
/* ids (a multiple of n_positions, position 0 first) -> codes; an id outside its position's range is
 * SRT_ERR_RANGE naming the index. codes must be freed with srt_codes_free. */
srt_status srt_layout_ids_to_codes(const srt_layout *layout, const int32_t *ids, size_t n_ids, srt_codes *codes);

/* Build the prompt ids for (voice, text, audio ids) with the LM's tokenizer. voice NULL: none (a template using
 * {voice} then gets the default). audio_ids may be NULL (no audio: items "with_audio" dropped). *ids malloc'd. */
srt_status srt_layout_build_prompt(const srt_layout *layout, const srt_lm *lm, const char *voice, const char *text,
                                   const int32_t *audio_ids, size_t n_audio_ids, int32_t **ids, size_t *n_ids);
/* The same with instructions (NULL or "": none; a layout without a slot leaves them out, see
 * srt_layout_instructions_slot). */
srt_status srt_layout_build_prompt_instr(const srt_layout *layout, const srt_lm *lm, const char *voice,
                                         const char *text, const char *instructions, const int32_t *audio_ids,
                                         size_t n_audio_ids, int32_t **ids, size_t *n_ids);

/* layout_chat.c: the "chat" section (json_section may be NULL: none). */
srt_status srt_layout_parse_chat(srt_layout *layout, const void *json_section, const char *source);
void srt_layout_chat_free(srt_layout_chat *chat);
/* The prompt of a conversation: "start", each turn through its role's template (parts through text_part /
 * audio_part), then "reply". voice NULL: the default. A role without a template or an audio part in a layout
 * without "audio_part" is SRT_ERR_UNSUPPORTED naming the turn. *ids malloc'd. */
srt_status srt_layout_build_chat(const srt_layout *layout, const srt_lm *lm, const char *voice,
                                 const srt_chat_turn *turns, int n_turns, int32_t **ids, size_t *n_ids);
/* The same without "reply" when with_reply = 0 (a whole conversation, e.g. training data), and where each turn
 * starts: turn_start (n_turns + 1, may be NULL) gets turn t's first index and, last, the end of the turns. */
srt_status srt_layout_build_chat_turns(const srt_layout *layout, const srt_lm *lm, const char *voice,
                                       const srt_chat_turn *turns, int n_turns, int with_reply, int32_t **ids,
                                       size_t *n_ids, size_t *turn_start);
/* Shared by layout.c and layout_chat.c: parse an array of template items (a cJSON array). */
srt_status srt_layout_parse_items(const srt_layout *layout, const void *json_array, const char *field,
                                  const char *source, int allow_content, const char *const *placeholders,
                                  srt_layout_item **items, int *n_items, int *n_audio);
int32_t srt_layout_token_id(const srt_layout *layout, const char *name);   /* -1 when absent */
const char *srt_chat_role_name(srt_chat_role role);
/* layout_clone.c: the "clone" section (json_section may be NULL: none), and a cloning prompt: ref_text and the
 * reference audio ids (whole frame groups) as a prior exchange, then text. A layout without "clone" is
 * SRT_ERR_UNSUPPORTED naming it. *ids malloc'd. */
srt_status srt_layout_parse_clone(srt_layout *layout, const void *json_section, const char *source);
srt_status srt_layout_build_clone(const srt_layout *layout, const srt_lm *lm, const char *voice, const char *ref_text,
                                  const int32_t *ref_ids, size_t n_ref_ids, const char *text, int32_t **ids,
                                  size_t *n_ids);

#endif
