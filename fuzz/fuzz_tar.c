/* fuzz_tar.c: a tar archive (ustar, GNU long names, pax headers, sizes, checksums) through the tokenizer's tar reader
 * (host/dataset/ds_tar.c): every member listed and its body read. */
#include "fuzz_util.h"
#include "dataset/ds_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    srt_tar_reader *t = NULL;
    if (srt_tar_open(path, &t) == SRT_OK) {
        for (int i = 0; i < 10000; i++) {
            char *name = NULL;
            void *body = NULL;
            size_t n = 0;
            int eof = 0;
            srt_status st = srt_tar_next(t, &name, &body, &n, &eof);
            free(name);
            free(body);
            if (st != SRT_OK || eof) break;
        }
        srt_tar_close(t);
    }
    close(fd);
    return 0;
}
