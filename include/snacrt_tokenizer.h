/* snacrt_tokenizer.h (public API): byte-level BPE tokenizer read from a Hugging Face tokenizer.json (Llama 3, GPT-2, Qwen style).
 * Added tokens are matched in the text first (longest match), the rest is split by the pre-tokenizer
 * regex, byte-level mapped and BPE-merged. Supported: model BPE (merges as "a b" or [a, b], ignore_merges),
 * no normalizer, pre-tokenizers Sequence / Split (Isolated, Removed) / ByteLevel (last), post-processors
 * TemplateProcessing / Roberta / Bert / ByteLevel, decoder ByteLevel; anything else fails to load with
 * SRT_ERR_UNSUPPORTED naming it. Encoding is thread-safe on a shared tokenizer (it is read-only
 * after load).
 *
 * Input text that is not valid UTF-8 is tokenized as if every maximal invalid byte sequence were
 * U+FFFD (Python's bytes.decode("utf-8", "replace")); decode() likewise replaces invalid byte sequences
 * in its output with U+FFFD (Rust's String::from_utf8_lossy, as Hugging Face tokenizers do). */
#ifndef SNACRT_TOKENIZER_H
#define SNACRT_TOKENIZER_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct srt_tokenizer srt_tokenizer;

srt_status srt_tokenizer_load(const char *tokenizer_json_path, srt_tokenizer **out);
void srt_tokenizer_free(srt_tokenizer *t);
/* add_bos: add BOS as the post-processor (TemplateProcessing) says, when the file has one; 0 = never.
 * (Precisely: the special tokens of the post-processor's single-sequence template, before and after the text;
 * for Llama 3 that is <|begin_of_text|> before it.) Special tokens written in the text map to their ids.
 * *ids is malloc'd (the caller frees it; non-NULL even when *n_ids is 0). */
srt_status srt_tokenizer_encode(const srt_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids,
                                size_t *n_ids);
/* Decode to UTF-8 text (malloc'd); invalid UTF-8 byte sequences become U+FFFD; skip_special: omit special added tokens.
 * An id with no token fails with SRT_ERR_RANGE. (A decoded NUL byte ends the C string early.) */
srt_status srt_tokenizer_decode(const srt_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text);
/* The raw bytes one token stands for, without UTF-8 repair (a multi-byte character may be split over tokens:
 * streaming decoders join them). Returns the bytes written to buf; when the token may need more than cap bytes,
 * a bound larger than cap is returned and nothing written (grow buf and call again); 0 for a special token when
 * skip_special; -1 for an id with no token. */
long srt_tokenizer_id_bytes(const srt_tokenizer *t, int32_t id, int skip_special, char *buf, size_t cap);
int32_t srt_tokenizer_token_to_id(const srt_tokenizer *t, const char *token);   /* -1 when absent */
const char *srt_tokenizer_id_to_token(const srt_tokenizer *t, int32_t id);      /* NULL when out of range */
int32_t srt_tokenizer_bos_id(const srt_tokenizer *t);  /* -1 if none */
size_t srt_tokenizer_vocab_size(const srt_tokenizer *t); /* incl. added tokens: max id + 1 */

#ifdef __cplusplus
}
#endif
#endif
