/* map_file.c: read-only mmap of a whole weights file, and the overflow-checked shape -> byte size helper. */
#include "weights/weights_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

/* Files at least this large are copied into huge-page memory instead of mapped. */
#define SRT_HUGEPAGE_COPY_MIN ((off_t)256 << 20)

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
    void *p;
    int e;
    const char *keep_mmap = getenv("SNACRT_WEIGHTS_MMAP");
    if (st.st_size >= SRT_HUGEPAGE_COPY_MIN && !(keep_mmap && *keep_mmap == '1')) {
        /* Large files (LM weights): read into anonymous memory backed by transparent huge pages. Decode streams
         * every weight once per token, and 4 KiB file pages stop the hardware prefetcher at every page boundary
         * (measured: ~36% -> see bench/README.md); SNACRT_WEIGHTS_MMAP=1 keeps the plain file mapping. */
        p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        e = errno;
        if (p != MAP_FAILED) {
            madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);
            size_t done = 0;
            while (done < (size_t)st.st_size) {
                ssize_t got = pread(fd, (char *)p + done, (size_t)st.st_size - done, (off_t)done);
                if (got <= 0) {
                    e = got < 0 ? errno : EIO;
                    munmap(p, (size_t)st.st_size);
                    close(fd);
                    return srt_error(SRT_ERR_IO, "%s: read failed at byte %zu: %s", path, done, strerror(e));
                }
                done += (size_t)got;
            }
            mprotect(p, (size_t)st.st_size, PROT_READ);
        }
    } else {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        e = errno;
    }
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
