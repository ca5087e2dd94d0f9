/* fuzz_safetensors.c: a .safetensors file (header JSON, shapes, byte ranges) through srt_weights_open_safetensors. */
#include "fuzz_util.h"
#include "weights/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    srt_weights *w = NULL;
    if (srt_weights_open_safetensors(path, &w) == SRT_OK) srt_weights_free(w);
    close(fd);
    return 0;
}
