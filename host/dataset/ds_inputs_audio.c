/* ds_inputs_audio.c: incremental audio decoding for the tokenizer: libsndfile blocks (a path, or a tar member
 * read through a window of the archive) -> mean of the channels -> chunked libsoxr resampler -> blocks of mono
 * samples at the model rate, so a recording of any length is never held whole. The checks and messages are those
 * of srt_audio_read (host/audio/audio_read.c: empty file, not audio, truncated WAV data chunk, fewer frames than
 * the header announces, no frames) and the concatenated blocks equal its samples exactly (same READ_BLOCK_FRAMES blocks into
 * the same resampler, whose chunked output equals one-shot). A failure can come at the very end (truncation is
 * known only then): callers must be ready to drop what they did with the earlier blocks. */
#include "dataset/ds_pipeline_internal.h"
#include "snacrt_audio.h"
#include "common.h"
#include <errno.h>
#include <sndfile.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK_FRAMES 8192

typedef struct window_file {
    int fd;                   /* -1 when not open */
    sf_count_t offset, size, pos;   /* the window [offset, offset + size) of the file; pos within it */
} window_file;

struct ds_audio_stream {
    SNDFILE *sf;
    SF_INFO sfinfo;
    window_file win;
    char *name;
    srt_resampler *rs;        /* NULL when the file is at the model rate */
    float *block;             /* (READ_BLOCK_FRAMES, channels) */
    float *mono;              /* (READ_BLOCK_FRAMES,) */
    int64_t frames_read, samples_out;
    int eof;
};

static sf_count_t win_get_filelen(void *user) { return ((window_file *)user)->size; }
static sf_count_t win_seek(sf_count_t offset, int whence, void *user) {
    window_file *w = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? w->pos : w->size;
    sf_count_t pos = base + offset;
    if (pos < 0) return -1;
    w->pos = pos > w->size ? w->size : pos;
    return w->pos;
}
static sf_count_t win_read(void *ptr, sf_count_t count, void *user) {
    window_file *w = user;
    sf_count_t left = w->size - w->pos, done = 0;
    if (count > left) count = left;
    while (done < count) {
        ssize_t got = pread(w->fd, (char *)ptr + done, (size_t)(count - done), (off_t)(w->offset + w->pos + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;                       /* the file shrank: libsndfile sees a short read */
        done += got;
    }
    w->pos += done;
    return done;
}
static sf_count_t win_write(const void *ptr, sf_count_t count, void *user) {
    (void)ptr; (void)count; (void)user;
    return 0;
}
static sf_count_t win_tell(void *user) { return ((window_file *)user)->pos; }

/* A WAV whose data chunk is cut short: libsndfile logs "data : <declared> (should be <present>)" (see
 * audio_read.c; header lengths 0 or near 4 GiB are streaming placeholders and are accepted). */
static srt_status check_wav_data_length(SNDFILE *sf, const char *name) {
    char log[8192];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char *line = strstr(log, "\ndata : ");
    long long declared = 0, present = 0;
    if (!line || sscanf(line, "\ndata : %lld (should be %lld)", &declared, &present) != 2) return SRT_OK;
    int placeholder = declared == 0 || declared >= 0x7FFFF000LL;
    if (placeholder || declared <= present) return SRT_OK;
    return srt_error(SRT_ERR_FORMAT, "%s: truncated: the WAV header announces %lld data bytes but the file holds %lld",
                     name, declared, present);
}

void ds_audio_close(ds_audio_stream *s) {
    if (!s) return;
    if (s->sf) sf_close(s->sf);
    if (s->win.fd >= 0) close(s->win.fd);
    srt_resampler_free(s->rs);
    free(s->block);
    free(s->mono);
    free(s->name);
    free(s);
}

/* After sf_open*: header checks, buffers and the resampler. */
static srt_status finish_open(ds_audio_stream *s, int target_rate) {
    int major = s->sfinfo.format & SF_FORMAT_TYPEMASK;
    if (major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_RF64)
        SRT_TRY(check_wav_data_length(s->sf, s->name));
    if (s->sfinfo.channels <= 0 || s->sfinfo.samplerate <= 0)
        return srt_error(SRT_ERR_FORMAT, "%s: invalid header (%d channels, %d Hz)", s->name, s->sfinfo.channels,
                         s->sfinfo.samplerate);
    s->block = srt_malloc((size_t)READ_BLOCK_FRAMES * (size_t)s->sfinfo.channels * sizeof(float), "an audio read block");
    s->mono = srt_malloc((size_t)READ_BLOCK_FRAMES * sizeof(float), "an audio mono block");
    if (!s->block || !s->mono) return SRT_ERR_NOMEM;
    if (target_rate > 0 && target_rate != s->sfinfo.samplerate)
        SRT_TRY(srt_resampler_create(s->sfinfo.samplerate, target_rate, &s->rs));
    return SRT_OK;
}

srt_status ds_audio_open_file(const char *path, int target_rate, ds_audio_stream **out) {
    *out = NULL;
    struct stat stbuf;
    if (stat(path, &stbuf) != 0) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(stbuf.st_mode)) return srt_error(SRT_ERR_IO, "%s: is a directory, not an audio file", path);
    if (stbuf.st_size == 0) return srt_error(SRT_ERR_FORMAT, "%s: empty file (0 bytes), not audio", path);
    ds_audio_stream *s = srt_calloc(1, sizeof *s, "an audio stream");
    if (!s) return SRT_ERR_NOMEM;
    s->win.fd = -1;
    s->name = srt_strdup(path);
    if (!s->name) { ds_audio_close(s); return SRT_ERR_NOMEM; }
    s->sf = sf_open(path, SFM_READ, &s->sfinfo);
    if (!s->sf) {
        ds_audio_close(s);
        return srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", path, sf_strerror(NULL));
    }
    srt_status st = finish_open(s, target_rate);
    if (st != SRT_OK) { ds_audio_close(s); return st; }
    *out = s;
    return SRT_OK;
}

srt_status ds_audio_open_window(const char *path, int64_t offset, int64_t size, const char *name, int target_rate,
                                ds_audio_stream **out) {
    *out = NULL;
    if (size <= 0) return srt_error(SRT_ERR_FORMAT, "%s: empty (0 bytes), not audio", name);
    ds_audio_stream *s = srt_calloc(1, sizeof *s, "an audio stream");
    if (!s) return SRT_ERR_NOMEM;
    s->win.fd = open(path, O_RDONLY | O_CLOEXEC);
    s->name = srt_strdup(name);
    struct stat sb;
    srt_status st = SRT_OK;
    if (!s->name) st = SRT_ERR_NOMEM;
    else if (s->win.fd < 0 || fstat(s->win.fd, &sb) != 0)
        st = srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (offset < 0 || (int64_t)sb.st_size < offset + size)
        st = srt_error(SRT_ERR_FORMAT, "%s: the member's bytes %lld..%lld are gone (the archive changed since it was "
                       "listed)", name, (long long)offset, (long long)(offset + size));
    if (st != SRT_OK) { ds_audio_close(s); return st; }
    s->win.offset = offset;
    s->win.size = size;
    SF_VIRTUAL_IO io = {.get_filelen = win_get_filelen, .seek = win_seek, .read = win_read, .write = win_write,
                        .tell = win_tell};
    s->sf = sf_open_virtual(&io, SFM_READ, &s->sfinfo, &s->win);
    if (!s->sf) {
        ds_audio_close(s);
        return srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", name, sf_strerror(NULL));
    }
    st = finish_open(s, target_rate);
    if (st != SRT_OK) { ds_audio_close(s); return st; }
    *out = s;
    return SRT_OK;
}

int ds_audio_source_rate(const ds_audio_stream *s) { return s->sfinfo.samplerate; }
int ds_audio_source_channels(const ds_audio_stream *s) { return s->sfinfo.channels; }

/* End of the input: the same checks as srt_audio_read, then the resampler's tail. */
static srt_status finish_stream(ds_audio_stream *s, const float **samples, int64_t *n) {
    s->eof = 1;
    if (sf_error(s->sf) != SF_ERR_NO_ERROR)
        return srt_error(SRT_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", s->name,
                         (long long)s->frames_read, sf_strerror(s->sf));
    int is_mpeg = (s->sfinfo.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
    if (!is_mpeg && s->sfinfo.frames > 0 && s->sfinfo.frames != SF_COUNT_MAX && s->frames_read < s->sfinfo.frames)
        return srt_error(SRT_ERR_FORMAT, "%s: truncated: the header announces %lld frames but only %lld could be decoded",
                         s->name, (long long)s->sfinfo.frames, (long long)s->frames_read);
    if (s->frames_read == 0) return srt_error(SRT_ERR_FORMAT, "%s: contains no audio frames", s->name);
    if (s->rs) {
        srt_status st = srt_resampler_flush(s->rs, samples, n);
        if (st != SRT_OK) return srt_error_prefix(st, "%s: ", s->name);
    }
    s->samples_out += *n;
    if (s->samples_out == 0) return srt_error(SRT_ERR_FORMAT, "%s: no audio samples", s->name);
    return SRT_OK;
}

srt_status ds_audio_next(ds_audio_stream *s, const float **samples, int64_t *n, int *eof) {
    *samples = NULL;
    *n = 0;
    *eof = 0;
    if (s->eof) { *eof = 1; return SRT_OK; }
    int channels = s->sfinfo.channels;
    for (;;) {
        sf_count_t got = sf_readf_float(s->sf, s->block, READ_BLOCK_FRAMES);
        if (got <= 0) {
            *eof = 1;
            return finish_stream(s, samples, n);
        }
        for (sf_count_t f = 0; f < got; f++) {
            float sum = 0;
            for (int c = 0; c < channels; c++) sum += s->block[f * channels + c];
            s->mono[f] = channels == 1 ? sum : sum / (float)channels;
        }
        s->frames_read += got;
        if (!s->rs) {
            *samples = s->mono;
            *n = got;
        } else {
            srt_status st = srt_resampler_process(s->rs, s->mono, got, samples, n);
            if (st != SRT_OK) return srt_error_prefix(st, "%s: ", s->name);
        }
        s->samples_out += *n;
        if (*n > 0) return SRT_OK;   /* the resampler may hold back the first blocks */
    }
}
