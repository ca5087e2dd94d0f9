/* unicode.c: UTF-8 decoding/encoding with maximal-subpart error handling, lossy repair to U+FFFD and the
 * GPT-2 byte-level byte <-> character table. */
#include "lm/unicode.h"
#include "common.h"
#include <string.h>

int srt_utf8_next(const unsigned char *s, size_t n, uint32_t *codepoint) {
    unsigned c = s[0];
    if (c < 0x80) { *codepoint = c; return 1; }
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;          /* no overlong forms */
        else if (c == 0xED) hi = 0x9F;     /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;          /* no overlong forms */
        else if (c == 0xF4) hi = 0x8F;     /* nothing above U+10FFFF */
    } else return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -i;
        unsigned b = s[i];
        unsigned blo = i == 1 ? lo : 0x80, bhi = i == 1 ? hi : 0xBF;
        if (b < blo || b > bhi) return -i;
        cp = (cp << 6) | (b & 0x3F);
    }
    *codepoint = cp;
    return len;
}

int srt_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t srt_utf8_valid_prefix(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        int k = srt_utf8_next(u + i, n - i, &cp);
        if (k < 0) break;
        i += (size_t)k;
    }
    return i;
}

srt_status srt_utf8_repair(const char *s, size_t n, char **out, size_t *out_len) {
    *out = NULL;
    /* Worst case: every byte becomes a 3-byte U+FFFD. */
    char *buf = srt_malloc(3 * n + 1, "UTF-8 repair buffer");
    if (!buf) return SRT_ERR_NOMEM;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    uint32_t cp;
    while (i < n) {
        int k = srt_utf8_next(u + i, n - i, &cp);
        if (k > 0) { memcpy(buf + o, s + i, (size_t)k); o += (size_t)k; i += (size_t)k; }
        else { memcpy(buf + o, SRT_UTF8_REPLACEMENT, 3); o += 3; i += (size_t)-k; }
    }
    buf[o] = 0;
    *out = buf;
    if (out_len) *out_len = o;
    return SRT_OK;
}

void srt_byte_level_tables(uint16_t byte_to_char[256], int16_t char_to_byte[512]) {
    for (int c = 0; c < 512; c++) char_to_byte[c] = -1;
    int next_extra = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint16_t c = (uint16_t)(printable ? b : next_extra++);
        byte_to_char[b] = c;
        char_to_byte[c] = (int16_t)b;
    }
}
