/* fuzz_codes.c: SNAC codes files (json, npy, laion, orpheus: host/snac/codes_format.c) for a 24 kHz 3-level model;
 * the first byte picks the format. */
#include "fuzz_util.h"
#include "snacrt_codes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const srt_codes_format formats[4] = {SRT_CODES_JSON, SRT_CODES_NPY, SRT_CODES_LAION, SRT_CODES_ORPHEUS};
    srt_codec_info info;
    memset(&info, 0, sizeof info);
    info.sample_rate = 24000;
    info.hop_length = 512;
    info.n_levels = 3;
    info.vq_strides[0] = 4; info.vq_strides[1] = 2; info.vq_strides[2] = 1;
    info.codebook_size = 4096;
    char *copy = malloc(size);   /* exact size, not NUL-terminated: the parsers take (data, size) */
    if (!copy) return 0;
    memcpy(copy, data + 1, size - 1);
    srt_codes codes;
    if (srt_codes_parse(&info, copy, size - 1, formats[data[0] & 3], "fuzz.codes", &codes) == SRT_OK)
        srt_codes_free(&codes);
    free(copy);
    return 0;
}
