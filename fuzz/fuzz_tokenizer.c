/* fuzz_tokenizer.c: a tokenizer.json (the in-place JSON reader, vocab, merges, added tokens, pre-tokenizer regexes)
 * through srt_tokenizer_load. */
#include "fuzz_util.h"
#include "snacrt_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    srt_tokenizer *t = NULL;
    if (srt_tokenizer_load(path, &t) == SRT_OK) srt_tokenizer_free(t);
    close(fd);
    return 0;
}
