/* fuzz_torch_zip.c: a PyTorch zip checkpoint (zip directory, ZIP64, deflate, data.pkl, storages) through
 * srt_weights_open_torch. */
#include "fuzz_util.h"
#include "weights/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    srt_weights *w = NULL;
    if (srt_weights_open_torch(path, &w) == SRT_OK) srt_weights_free(w);
    close(fd);
    return 0;
}
