/* audio_stream.c: the one audio decoder of snacrt. libsndfile reads a path, a buffer in memory or a window of
 * a file (a tar member, read in place through sf_open_virtual) in blocks -> checks of every sample (non-finite or
 * absurd values) -> mean of the channels -> chunked libsoxr resampler -> blocks of mono samples at the target rate,
 * so a recording of any length is never held whole (srt_audio_read in audio_read.c collects the blocks).
 * Limits come before the samples: a duration limit is checked against the header's frame count at open, before
 * any sample is decoded, and again on every block (headers may lie or carry no length), so a compressed file
 * of any ratio costs at most the limit's worth of samples. A failure can come at the very end (truncation is
 * known only then): callers must be ready to drop what they did with the earlier blocks. */
#include "snacrt_audio.h"
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK_FRAMES 8192

/* ---- a byte source for sf_open_virtual: a buffer in memory, or the window [offset, offset + size) of a file */
typedef struct byte_source {
    const unsigned char *data;     /* memory source, or NULL */
    int fd;                        /* file window source, or -1 */
    sf_count_t offset, size, pos;  /* pos within [0, size) */
} byte_source;

static sf_count_t src_get_filelen(void *user) { return ((byte_source *)user)->size; }
static sf_count_t src_seek(sf_count_t offset, int whence, void *user) {
    byte_source *b = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? b->pos : b->size;
    sf_count_t pos = base + offset;
    if (pos < 0) return -1;
    b->pos = pos > b->size ? b->size : pos;
    return b->pos;
}
static sf_count_t src_read(void *ptr, sf_count_t count, void *user) {
    byte_source *b = user;
    sf_count_t left = b->size - b->pos, done = 0;
    if (count > left) count = left;
    if (count <= 0) return 0;
    if (b->data) {
        memcpy(ptr, b->data + b->pos, (size_t)count);
        done = count;
    } else {
        while (done < count) {
            ssize_t got = pread(b->fd, (char *)ptr + done, (size_t)(count - done), (off_t)(b->offset + b->pos + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) break;                   /* the file shrank: libsndfile sees a short read */
            done += got;
        }
    }
    b->pos += done;
    return done;
}
static sf_count_t src_write(const void *ptr, sf_count_t count, void *user) {
    (void)ptr; (void)count; (void)user;
    return 0;
}
static sf_count_t src_tell(void *user) { return ((byte_source *)user)->pos; }

struct srt_audio_stream {
    SNDFILE *sf;
    SF_INFO sfinfo;
    byte_source src;
    char *name;
    srt_audio_read_options opt;
    srt_resampler *rs;        /* NULL when the file is at the target rate */
    float *block;             /* (READ_BLOCK_FRAMES, channels) */
    float *mono;              /* (READ_BLOCK_FRAMES,) */
    int64_t frames_read, samples_out, bad_samples, max_frames;   /* max_frames 0: no duration limit */
    int eof;
};

static void describe_format(int format, char *out, size_t cap) {
    SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
    SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
    const char *major_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 ? major.name : "?";
    const char *sub_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 ? sub.name : "?";
    snprintf(out, cap, "%s, %s", major_name, sub_name);
}

/* libsndfile accepts a WAV whose data chunk is cut short (it reads what is there); its log then shows
 * "data : <header length> (should be <bytes present>)". A header length of 0 or near 4 GiB is the placeholder
 * of a stream whose writer never came back to fix the header: those are read as they are. */
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

static int header_frames_known(const SF_INFO *i) {
    return (i->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG && i->frames > 0 && i->frames != SF_COUNT_MAX;
}

void srt_audio_stream_close(srt_audio_stream *s) {
    if (!s) return;
    if (s->sf) sf_close(s->sf);
    if (s->src.fd >= 0) close(s->src.fd);
    srt_resampler_free(s->rs);
    free(s->block);
    free(s->mono);
    free(s->name);
    free(s);
}

static srt_audio_stream *stream_new(const char *name, int target_rate, const srt_audio_read_options *opt,
                                    srt_status *st) {
    *st = SRT_OK;
    if (target_rate < 0) { *st = srt_error(SRT_ERR_INVALID_ARG, "%s: negative target rate %d", name, target_rate); return NULL; }
    if (opt && !(opt->max_seconds >= 0)) {
        *st = srt_error(SRT_ERR_INVALID_ARG, "%s: bad duration limit %g s", name, opt->max_seconds);
        return NULL;
    }
    srt_audio_stream *s = srt_calloc(1, sizeof *s, "an audio stream");
    if (!s) { *st = SRT_ERR_NOMEM; return NULL; }
    s->src.fd = -1;
    if (opt) s->opt = *opt;
    s->name = srt_strdup(name);
    if (!s->name) { srt_audio_stream_close(s); *st = SRT_ERR_NOMEM; return NULL; }
    return s;
}

/* After sf_open*: header checks (format, duration limit), buffers and the resampler. Closes s on failure. */
static srt_status finish_open(srt_audio_stream *s, int target_rate, srt_audio_stream **out) {
    srt_status st = SRT_OK;
    int major = s->sfinfo.format & SF_FORMAT_TYPEMASK;
    if (major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_RF64)
        st = check_wav_data_length(s->sf, s->name);
    if (st == SRT_OK && (s->sfinfo.channels <= 0 || s->sfinfo.samplerate <= 0))
        st = srt_error(SRT_ERR_FORMAT, "%s: invalid header (%d channels, %d Hz)", s->name, s->sfinfo.channels,
                       s->sfinfo.samplerate);
    if (st == SRT_OK && s->opt.max_seconds > 0) {
        double limit = s->opt.max_seconds * s->sfinfo.samplerate;
        s->max_frames = limit >= 9e18 ? INT64_MAX : (int64_t)limit;
        if (s->max_frames < 1) s->max_frames = 1;
        if (header_frames_known(&s->sfinfo) && s->sfinfo.frames > s->max_frames)   /* before any sample */
            st = srt_error(SRT_ERR_RANGE, "%s: %.1f s of audio (the header announces %lld frames at %d Hz), longer "
                           "than the limit of %g s", s->name, (double)s->sfinfo.frames / s->sfinfo.samplerate,
                           (long long)s->sfinfo.frames, s->sfinfo.samplerate, s->opt.max_seconds);
    }
    if (st == SRT_OK) {
        s->block = srt_malloc((size_t)READ_BLOCK_FRAMES * (size_t)s->sfinfo.channels * sizeof(float),
                              "an audio read block");
        s->mono = srt_malloc((size_t)READ_BLOCK_FRAMES * sizeof(float), "an audio mono block");
        if (!s->block || !s->mono) st = SRT_ERR_NOMEM;
    }
    if (st == SRT_OK && target_rate > 0 && target_rate != s->sfinfo.samplerate)
        st = srt_resampler_create(s->sfinfo.samplerate, target_rate, &s->rs);
    if (st != SRT_OK) { srt_audio_stream_close(s); return st; }
    *out = s;
    return SRT_OK;
}

srt_status srt_audio_stream_open(const char *path, int target_rate, const srt_audio_read_options *opt,
                                 srt_audio_stream **out) {
    if (!out) return srt_error(SRT_ERR_INVALID_ARG, "audio stream: no output given");
    *out = NULL;
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "audio read: no path given");
    struct stat stbuf;
    if (stat(path, &stbuf) != 0) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(stbuf.st_mode)) return srt_error(SRT_ERR_IO, "%s: is a directory, not an audio file", path);
    if (stbuf.st_size == 0) return srt_error(SRT_ERR_FORMAT, "%s: empty file (0 bytes), not audio", path);
    srt_status st;
    srt_audio_stream *s = stream_new(path, target_rate, opt, &st);
    if (!s) return st;
    s->sf = sf_open(path, SFM_READ, &s->sfinfo);
    if (!s->sf) {
        srt_audio_stream_close(s);
        return srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", path, sf_strerror(NULL));
    }
    return finish_open(s, target_rate, out);
}

static srt_status open_virtual(srt_audio_stream *s, int target_rate, srt_audio_stream **out) {
    SF_VIRTUAL_IO io = {.get_filelen = src_get_filelen, .seek = src_seek, .read = src_read, .write = src_write,
                        .tell = src_tell};
    s->sf = sf_open_virtual(&io, SFM_READ, &s->sfinfo, &s->src);
    if (!s->sf) {
        srt_status st = srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", s->name, sf_strerror(NULL));
        srt_audio_stream_close(s);
        return st;
    }
    return finish_open(s, target_rate, out);
}

srt_status srt_audio_stream_open_memory(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                        const srt_audio_read_options *opt, srt_audio_stream **out) {
    if (!out) return srt_error(SRT_ERR_INVALID_ARG, "audio stream: no output given");
    *out = NULL;
    const char *name = name_for_errors ? name_for_errors : "(audio in memory)";
    if (!data || size == 0) return srt_error(SRT_ERR_FORMAT, "%s: empty (0 bytes), not audio", name);
    srt_status st;
    srt_audio_stream *s = stream_new(name, target_rate, opt, &st);
    if (!s) return st;
    s->src.data = data;
    s->src.size = (sf_count_t)size;
    return open_virtual(s, target_rate, out);
}

srt_status srt_audio_stream_open_window(const char *path, int64_t offset, int64_t size, const char *name,
                                        int target_rate, const srt_audio_read_options *opt, srt_audio_stream **out) {
    if (!out) return srt_error(SRT_ERR_INVALID_ARG, "audio stream: no output given");
    *out = NULL;
    if (!name) name = path;
    if (size <= 0) return srt_error(SRT_ERR_FORMAT, "%s: empty (0 bytes), not audio", name);
    srt_status st;
    srt_audio_stream *s = stream_new(name, target_rate, opt, &st);
    if (!s) return st;
    s->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (s->src.fd < 0 || fstat(s->src.fd, &sb) != 0)
        st = srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (offset < 0 || (int64_t)sb.st_size < offset + size)
        st = srt_error(SRT_ERR_FORMAT, "%s: the member's bytes %lld..%lld are gone (the archive changed since it was "
                       "listed)", name, (long long)offset, (long long)(offset + size));
    if (st != SRT_OK) { srt_audio_stream_close(s); return st; }
    s->src.offset = offset;
    s->src.size = size;
    return open_virtual(s, target_rate, out);
}

void srt_audio_stream_info(const srt_audio_stream *s, srt_audio_source_info *info) {
    memset(info, 0, sizeof *info);
    info->sample_rate = s->sfinfo.samplerate;
    info->channels = s->sfinfo.channels;
    info->frames = s->frames_read;
    info->header_frames = header_frames_known(&s->sfinfo) ? s->sfinfo.frames : -1;
    info->bad_samples = s->bad_samples;
    describe_format(s->sfinfo.format, info->format, sizeof info->format);
}

/* End of the input: truncation and emptiness checks, then the resampler's tail. */
static srt_status finish_stream(srt_audio_stream *s, const float **samples, int64_t *n) {
    s->eof = 1;
    if (sf_error(s->sf) != SF_ERR_NO_ERROR)
        return srt_error(SRT_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", s->name,
                         (long long)s->frames_read, sf_strerror(s->sf));
    /* A header promising more frames than the stream holds means a cut file (MPEG lengths are estimates). */
    if (header_frames_known(&s->sfinfo) && s->frames_read < s->sfinfo.frames)
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

/* Non-finite or absurd samples of one block: an error naming the first, or (allow_nonfinite) zeros, counted. */
static srt_status check_block(srt_audio_stream *s, sf_count_t got) {
    int channels = s->sfinfo.channels;
    float *x = s->block;
    for (sf_count_t i = 0; i < got * channels; i++) {
        if (fabsf(x[i]) <= SRT_AUDIO_MAX_ABS_SAMPLE) continue;   /* false for NaN too */
        if (!s->opt.allow_nonfinite) {
            int64_t frame = s->frames_read + i / channels;
            return srt_error(SRT_ERR_FORMAT, "%s: sample %lld (%.3f s, channel %d) is %g: not a finite audio sample "
                             "of magnitude at most %g", s->name, (long long)frame,
                             (double)frame / s->sfinfo.samplerate, (int)(i % channels), (double)x[i],
                             (double)SRT_AUDIO_MAX_ABS_SAMPLE);
        }
        x[i] = 0;
        s->bad_samples++;
    }
    return SRT_OK;
}

srt_status srt_audio_stream_next(srt_audio_stream *s, const float **samples, int64_t *n, int *eof) {
    *samples = NULL;
    *n = 0;
    *eof = 0;
    if (s->eof) { *eof = 1; return SRT_OK; }
    int channels = s->sfinfo.channels;
    for (;;) {
        sf_count_t want = READ_BLOCK_FRAMES;
        if (s->max_frames > 0 && s->max_frames - s->frames_read + 1 < want)   /* one frame past the limit tells */
            want = s->max_frames - s->frames_read + 1;
        sf_count_t got = sf_readf_float(s->sf, s->block, want);
        if (got <= 0) {
            *eof = 1;
            return finish_stream(s, samples, n);
        }
        if (s->max_frames > 0 && s->frames_read + got > s->max_frames) {
            s->eof = 1;
            return srt_error(SRT_ERR_RANGE, "%s: longer than the limit of %g s (more than %lld frames at %d Hz)",
                             s->name, s->opt.max_seconds, (long long)s->max_frames, s->sfinfo.samplerate);
        }
        srt_status st = check_block(s, got);
        if (st != SRT_OK) { s->eof = 1; return st; }
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
            st = srt_resampler_process(s->rs, s->mono, got, samples, n);
            if (st != SRT_OK) { s->eof = 1; return srt_error_prefix(st, "%s: ", s->name); }
        }
        s->samples_out += *n;
        if (*n > 0) return SRT_OK;   /* the resampler may hold back the first blocks */
    }
}

int64_t srt_audio_stream_expected_samples(const srt_audio_stream *s, int target_rate) {
    if (!header_frames_known(&s->sfinfo)) return -1;
    int out_rate = target_rate > 0 ? target_rate : s->sfinfo.samplerate;
    return (int64_t)((double)s->sfinfo.frames * out_rate / s->sfinfo.samplerate) + 1;
}
