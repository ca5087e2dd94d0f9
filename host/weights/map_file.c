/* map_file.c: read-only mmap of a whole weights file, and the overflow-checked shape -> byte size helper. */
#include "weights/weights_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

srt_status srt_map_file(const char *path, const uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return srt_error(SRT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) { close(fd); return srt_error(SRT_ERR_IO, "%s: not a regular file", path); }
    if (st.st_size == 0) { close(fd); return srt_error(SRT_ERR_FORMAT, "%s: empty file", path); }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return srt_error(SRT_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    *data = p;
    *size = (size_t)st.st_size;
    return SRT_OK;
}

void srt_unmap_file(const void *data, size_t size) {
    if (data) munmap((void *)data, size);
}

srt_status srt_shape_bytes(int ndim, const int64_t *shape, size_t elem_size, size_t *numel, size_t *nbytes,
                           const char *what) {
    const uint64_t limit = (uint64_t)1 << 62;
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return srt_error(SRT_ERR_FORMAT, "%s: negative dimension %lld", what, (long long)shape[d]);
        uint64_t s = (uint64_t)shape[d];
        if (s != 0 && n > limit / s)
            return srt_error(SRT_ERR_FORMAT, "%s: shape overflows (element count > 2^62)", what);
        n *= s;
    }
    if (elem_size && n > limit / elem_size)
        return srt_error(SRT_ERR_FORMAT, "%s: byte size overflows (> 2^62)", what);
    if (n * elem_size > SIZE_MAX) return srt_error(SRT_ERR_FORMAT, "%s: too large for this machine", what);
    *numel = (size_t)n;
    *nbytes = (size_t)(n * elem_size);
    return SRT_OK;
}
