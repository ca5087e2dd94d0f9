/* unicode.h: the UTF-8 helpers the tokenizer needs: strict decoding with maximal-subpart error lengths,
 * encoding, lossy repair (invalid sequences -> U+FFFD) and GPT-2's byte-level byte <-> character table. */
#ifndef SRT_LM_UNICODE_H
#define SRT_LM_UNICODE_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

#define SRT_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* Decode the character at s (n > 0 bytes available). Returns its length (1-4) and sets *codepoint, or, when
 * the bytes are not valid UTF-8, returns -k where k >= 1 is the length of the maximal invalid subpart
 * (the bytes one U+FFFD replaces, as in the Unicode standard's recommendation). */
int srt_utf8_next(const unsigned char *s, size_t n, uint32_t *codepoint);
/* Write the UTF-8 form of codepoint (< 0x110000) to out; returns its length (1-4). */
int srt_utf8_encode(uint32_t codepoint, char out[4]);
/* Length of the valid UTF-8 prefix of s (== n when all of s is valid). */
size_t srt_utf8_valid_prefix(const char *s, size_t n);
/* Copy s to a malloc'd NUL-terminated string, each maximal invalid subpart replaced by U+FFFD. */
srt_status srt_utf8_repair(const char *s, size_t n, char **out, size_t *out_len);

/* GPT-2 byte-level mapping: byte_to_char[b] is the codepoint standing for byte b (printable bytes map to
 * themselves, the others to 256 + k). char_to_byte[c] (c < 512) is the inverse, -1 where none. */
void srt_byte_level_tables(uint16_t byte_to_char[256], int16_t char_to_byte[512]);

#endif
