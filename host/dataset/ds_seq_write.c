/* ds_seq_write.c: a shard's training sequences: items appended in shard order, optionally packed into
 * --seq-len sequences (an item is split only when longer than a sequence, at frame-group boundaries), written as
 * the binary files or JSONL of docs/sequences.md through temp files renamed into place before the shard commits. */
#include "dataset/ds_seq_internal.h"
#include "dataset/ds_internal.h"
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seq_doc { uint64_t seq, start, len; int part, parts; char *key; } seq_doc;

struct srt_ds_seq_writer {
    const srt_ds_seq_ctx *c;
    char *dir, *name;
    int32_t *ids; uint8_t *mask; size_t n, cap;   /* every token of the shard's sequences */
    uint64_t *off; size_t n_seq, cap_seq;         /* off[i]: start of sequence i; off[n_seq]: the open one */
    seq_doc *docs; size_t n_docs, cap_docs;
};

static const char *const seq_suffix_bin[4] = {".seq.ids", ".seq.mask", ".seq.idx", ".seq.docs.jsonl"};

int srt_ds_seq_files(const srt_ds_seq_ctx *c, const char *name, char files[4][512]) {
    if (c->o->seq_jsonl) { snprintf(files[0], 512, "%s.seq.jsonl", name); return 1; }
    for (int i = 0; i < 4; i++) snprintf(files[i], 512, "%s%s", name, seq_suffix_bin[i]);
    return 4;
}

srt_status srt_ds_seq_begin(const srt_ds_seq_ctx *c, const char *dir, const char *name, srt_ds_seq_writer **out) {
    srt_ds_seq_writer *w = srt_calloc(1, sizeof *w, "the sequence writer");
    if (!w) return SRT_ERR_NOMEM;
    w->c = c;
    w->dir = srt_strdup(dir);
    w->name = srt_strdup(name);
    w->cap_seq = 64;
    w->off = calloc(w->cap_seq, sizeof *w->off);
    if (!w->dir || !w->name || !w->off) { srt_ds_seq_abort(w); return srt_error(SRT_ERR_NOMEM, "out of memory"); }
    *out = w;
    return SRT_OK;
}

void srt_ds_seq_abort(srt_ds_seq_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_docs; i++) free(w->docs[i].key);
    free(w->docs); free(w->ids); free(w->mask); free(w->off); free(w->dir); free(w->name);
    free(w);
}

static srt_status reserve(srt_ds_seq_writer *w, size_t k) {
    if (w->n + k <= w->cap) return SRT_OK;
    size_t nc = (w->n + k) * 2 + 256;
    int32_t *ni = realloc(w->ids, nc * sizeof *ni);
    if (ni) w->ids = ni;
    uint8_t *nm = realloc(w->mask, nc);
    if (nm) w->mask = nm;
    if (!ni || !nm) return srt_error(SRT_ERR_NOMEM, "out of memory collecting sequences");
    w->cap = nc;
    return SRT_OK;
}

/* Close the open sequence (padded to --seq-len when packing); nothing when it is empty. */
static srt_status close_seq(srt_ds_seq_writer *w) {
    size_t len = w->n - w->off[w->n_seq];
    if (!len) return SRT_OK;
    const srt_ds_run_options *o = w->c->o;
    if (o->seq_pack && len < (size_t)o->seq_len) {
        size_t pad = (size_t)o->seq_len - len;
        srt_status st = reserve(w, pad);
        if (st != SRT_OK) return st;
        for (size_t i = 0; i < pad; i++) { w->ids[w->n + i] = w->c->pad_id; w->mask[w->n + i] = 0; }
        w->n += pad;
    }
    if (w->n_seq + 2 > w->cap_seq) {
        size_t nc = w->cap_seq * 2;
        uint64_t *no = realloc(w->off, nc * sizeof *no);
        if (!no) return srt_error(SRT_ERR_NOMEM, "out of memory collecting sequences");
        w->off = no;
        w->cap_seq = nc;
    }
    w->off[++w->n_seq] = w->n;
    return SRT_OK;
}

static srt_status append(srt_ds_seq_writer *w, const char *key, const int32_t *ids, const uint8_t *mask, size_t k,
                         int part, int parts) {
    srt_status st = reserve(w, k);
    if (st != SRT_OK) return st;
    if (w->n_docs == w->cap_docs) {
        size_t nc = w->cap_docs * 2 + 16;
        seq_doc *nd = realloc(w->docs, nc * sizeof *nd);
        if (!nd) return srt_error(SRT_ERR_NOMEM, "out of memory collecting sequences");
        w->docs = nd;
        w->cap_docs = nc;
    }
    seq_doc *d = &w->docs[w->n_docs];
    *d = (seq_doc){w->n_seq, w->n - w->off[w->n_seq], k, part, parts, srt_strdup(key)};
    if (!d->key) return SRT_ERR_NOMEM;
    w->n_docs++;
    memcpy(w->ids + w->n, ids, k * sizeof *ids);
    memcpy(w->mask + w->n, mask, k);
    w->n += k;
    return SRT_OK;
}

srt_status srt_ds_seq_add(srt_ds_seq_writer *w, const srt_ds_item *item) {
    int32_t *ids = NULL;
    uint8_t *mask = NULL, *cut = NULL;
    size_t n = 0;
    srt_status st = srt_ds_seq_item(w->c, item, &ids, &mask, &cut, &n);
    if (st == SRT_OK) st = srt_ds_seq_add_ids(w, item->key, ids, mask, cut, n);
    free(ids); free(mask); free(cut);
    return st;
}

srt_status srt_ds_seq_add_ids(srt_ds_seq_writer *w, const char *key, const int32_t *ids, const uint8_t *mask,
                              const uint8_t *cut, size_t n) {
    srt_status st = SRT_OK;
    size_t L = w->c->o->seq_len > 0 ? (size_t)w->c->o->seq_len : 0;
    size_t open_len = w->n - w->off[w->n_seq];
    if (!L || n <= L) {
        /* whole: into the open sequence when packing and it fits, else a sequence of its own */
        if (!(w->c->o->seq_pack && open_len + n <= L)) st = close_seq(w);
        if (st == SRT_OK) st = append(w, key, ids, mask, n, 0, 1);
        if (st == SRT_OK && !w->c->o->seq_pack) st = close_seq(w);
    } else {
        /* longer than a sequence: pieces of at most L tokens, each cut at a frame-group boundary */
        size_t ends[4096], n_parts = 0, s = 0;
        while (st == SRT_OK && s < n) {
            size_t e = s + L < n ? s + L : n;
            while (e > s && !cut[e]) e--;
            if (e == s) st = srt_error(SRT_ERR_INVALID_ARG, "%s: --seq-len %zu is shorter than a frame group",
                                       key, L);
            else if (n_parts == sizeof ends / sizeof *ends)
                st = srt_error(SRT_ERR_INVALID_ARG, "%s: over %zu pieces of --seq-len %zu", key, n_parts, L);
            else { ends[n_parts++] = e; s = e; }
        }
        if (st == SRT_OK) st = close_seq(w);
        for (size_t p = 0, b = 0; p < n_parts && st == SRT_OK; b = ends[p], p++) {
            st = append(w, key, ids + b, mask + b, ends[p] - b, (int)p, (int)n_parts);
            if (st == SRT_OK && (p + 1 < n_parts || !w->c->o->seq_pack)) st = close_seq(w);
        }
    }
    return st;
}

/* Write data to dir/file.tmp, fsync, rename to dir/file. */
static srt_status write_atomic(const char *dir, const char *file, const void *data, size_t size) {
    char *path = srt_path_join(dir, file);
    size_t pl = path ? strlen(path) : 0;
    char *tmp = path ? malloc(pl + 5) : NULL;
    if (!tmp) { free(path); return SRT_ERR_NOMEM; }
    snprintf(tmp, pl + 5, "%s.tmp", path);
    srt_status st = SRT_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) st = srt_error(SRT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    for (size_t done = 0; st == SRT_OK && done < size;) {
        ssize_t k = write(fd, (const char *)data + done, size - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) st = srt_error(SRT_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        else done += (size_t)k;
    }
    if (st == SRT_OK && fsync(fd) != 0) st = srt_error(SRT_ERR_IO, "%s: cannot sync: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    if (st == SRT_OK && rename(tmp, path) != 0)
        st = srt_error(SRT_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != SRT_OK) unlink(tmp);
    free(tmp); free(path);
    return st;
}

static void put_doc(ds_buf *b, const seq_doc *d, int with_seq) {
    ds_buf_puts(b, "{");
    if (with_seq) ds_buf_printf(b, "\"seq\":%llu,", (unsigned long long)d->seq);
    ds_buf_puts(b, "\"key\":");
    ds_buf_json_string(b, d->key);
    ds_buf_printf(b, ",\"start\":%llu,\"len\":%llu,\"part\":%d,\"parts\":%d}", (unsigned long long)d->start,
                  (unsigned long long)d->len, d->part, d->parts);
}

srt_status srt_ds_seq_commit(srt_ds_seq_writer *w) {
    srt_status st = close_seq(w);
    char files[4][512];
    srt_ds_seq_files(w->c, w->name, files);
    ds_buf b = {0};
    if (st == SRT_OK && w->c->o->seq_jsonl) {
        for (size_t s = 0, d = 0; s < w->n_seq; s++) {
            ds_buf_puts(&b, "{\"ids\":[");
            for (uint64_t i = w->off[s]; i < w->off[s + 1]; i++)
                ds_buf_printf(&b, "%s%d", i > w->off[s] ? "," : "", (int)w->ids[i]);
            ds_buf_puts(&b, "],\"mask\":[");
            for (uint64_t i = w->off[s]; i < w->off[s + 1]; i++)
                ds_buf_printf(&b, "%s%d", i > w->off[s] ? "," : "", w->mask[i]);
            ds_buf_puts(&b, "],\"docs\":[");
            for (int first = 1; d < w->n_docs && w->docs[d].seq == s; d++, first = 0) {
                if (!first) ds_buf_puts(&b, ",");
                put_doc(&b, &w->docs[d], 0);
            }
            ds_buf_puts(&b, "]}\n");
        }
        st = ds_buf_status(&b, "sequences");
        if (st == SRT_OK) st = write_atomic(w->dir, files[0], b.p ? b.p : "", b.n);
    } else if (st == SRT_OK) {
        /* little-endian host (x86-64, aarch64): the arrays are written as they are in memory */
        size_t idx_size = 24 + (w->n_seq + 1) * 8;
        uint8_t *idx = malloc(idx_size);
        if (!idx) st = SRT_ERR_NOMEM;
        else {
            uint64_t head[2] = {w->n_seq, w->n};
            memcpy(idx, "SRTSEQ01", 8);
            memcpy(idx + 8, head, 16);
            memcpy(idx + 24, w->off, (w->n_seq + 1) * 8);
            for (size_t d = 0; d < w->n_docs; d++) { put_doc(&b, &w->docs[d], 1); ds_buf_puts(&b, "\n"); }
            st = ds_buf_status(&b, "sequences");
            if (st == SRT_OK) st = write_atomic(w->dir, files[0], w->ids ? (void *)w->ids : "", w->n * 4);
            if (st == SRT_OK) st = write_atomic(w->dir, files[1], w->mask ? (void *)w->mask : "", w->n);
            if (st == SRT_OK) st = write_atomic(w->dir, files[3], b.p ? b.p : "", b.n);
            if (st == SRT_OK) st = write_atomic(w->dir, files[2], idx, idx_size);
            free(idx);
        }
    }
    ds_buf_free(&b);
    srt_ds_seq_abort(w);
    return st;
}
