/* audio_read.c: decode an audio file (path or memory) with libsndfile in blocks, mix to mono and resample
 * to the requested rate while reading, so only the mono output is ever held whole. */
#include "snacrt_audio.h"
#include "common.h"
#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define READ_BLOCK_FRAMES 8192

/* ---- an in-memory file for sf_open_virtual */
typedef struct memory_file {
    const unsigned char *data;
    sf_count_t size, pos;
} memory_file;

static sf_count_t mem_get_filelen(void *user) { return ((memory_file *)user)->size; }
static sf_count_t mem_seek(sf_count_t offset, int whence, void *user) {
    memory_file *m = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    sf_count_t pos = base + offset;
    if (pos < 0) return -1;
    m->pos = pos > m->size ? m->size : pos;
    return m->pos;
}
static sf_count_t mem_read(void *ptr, sf_count_t count, void *user) {
    memory_file *m = user;
    sf_count_t left = m->size - m->pos;
    if (count > left) count = left;
    if (count > 0) memcpy(ptr, m->data + m->pos, (size_t)count);
    m->pos += count > 0 ? count : 0;
    return count > 0 ? count : 0;
}
static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user) {
    (void)ptr; (void)count; (void)user;
    return 0;
}
static sf_count_t mem_tell(void *user) { return ((memory_file *)user)->pos; }

/* ---- growing mono output */
typedef struct mono_buffer {
    float *data;             /* (cap,) */
    int64_t n, cap;
} mono_buffer;

static srt_status mono_append(mono_buffer *b, const float *x, int64_t n, const char *name) {
    if (b->n + n > b->cap) {
        int64_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n) cap *= 2;
        float *p = realloc(b->data, (size_t)cap * sizeof(float));
        if (!p) return srt_error(SRT_ERR_NOMEM, "%s: out of memory for %lld samples", name, (long long)cap);
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->n, x, (size_t)n * sizeof(float));
    b->n += n;
    return SRT_OK;
}

static void describe_format(int format, char *out, size_t cap) {
    SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
    SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
    const char *major_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 ? major.name : "?";
    const char *sub_name = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 ? sub.name : "?";
    snprintf(out, cap, "%s, %s", major_name, sub_name);
}

/* Decode an opened file: blocks of interleaved frames -> mean of channels -> resampler -> output. */
static srt_status decode_open_file(SNDFILE *sf, const SF_INFO *sfinfo, const char *name, int target_rate,
                                   float **samples, int64_t *n_samples, srt_audio_source_info *info) {
    if (sfinfo->channels <= 0 || sfinfo->samplerate <= 0)
        return srt_error(SRT_ERR_FORMAT, "%s: invalid header (%d channels, %d Hz)", name, sfinfo->channels,
                         sfinfo->samplerate);
    int channels = sfinfo->channels, source_rate = sfinfo->samplerate;
    int out_rate = target_rate > 0 ? target_rate : source_rate;
    srt_status st = SRT_OK;
    srt_resampler *rs = NULL;
    mono_buffer result = {0};
    float *block = srt_malloc((size_t)READ_BLOCK_FRAMES * (size_t)channels * sizeof(float),
                              "an audio read block"); /* (READ_BLOCK_FRAMES, channels) */
    float *mono = srt_malloc((size_t)READ_BLOCK_FRAMES * sizeof(float), "an audio mono block"); /* (frames,) */
    if (!block || !mono) { st = SRT_ERR_NOMEM; goto done; }
    if (out_rate != source_rate) SRT_TRY_GOTO(srt_resampler_create(source_rate, out_rate, &rs), done);

    int64_t frames_read = 0;
    for (;;) {
        sf_count_t got = sf_readf_float(sf, block, READ_BLOCK_FRAMES);
        if (got <= 0) break;
        for (sf_count_t f = 0; f < got; f++) {
            float sum = 0;
            for (int c = 0; c < channels; c++) sum += block[f * channels + c];
            mono[f] = channels == 1 ? sum : sum / (float)channels;
        }
        frames_read += got;
        if (rs) {
            const float *chunk;
            int64_t n_chunk;
            SRT_TRY_GOTO(srt_resampler_process(rs, mono, got, &chunk, &n_chunk), fail_resample);
            SRT_TRY_GOTO(mono_append(&result, chunk, n_chunk, name), done);
        } else {
            SRT_TRY_GOTO(mono_append(&result, mono, got, name), done);
        }
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        st = srt_error(SRT_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", name, (long long)frames_read,
                       sf_strerror(sf));
        goto done;
    }
    /* A header promising more frames than the stream holds means a cut file (MPEG lengths are estimates). */
    int is_mpeg = (sfinfo->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
    if (!is_mpeg && sfinfo->frames > 0 && sfinfo->frames != SF_COUNT_MAX && frames_read < sfinfo->frames) {
        st = srt_error(SRT_ERR_FORMAT, "%s: truncated: the header announces %lld frames but only %lld could be decoded",
                       name, (long long)sfinfo->frames, (long long)frames_read);
        goto done;
    }
    if (frames_read == 0) {
        st = srt_error(SRT_ERR_FORMAT, "%s: contains no audio frames", name);
        goto done;
    }
    if (rs) {
        const float *chunk;
        int64_t n_chunk;
        SRT_TRY_GOTO(srt_resampler_flush(rs, &chunk, &n_chunk), fail_resample);
        SRT_TRY_GOTO(mono_append(&result, chunk, n_chunk, name), done);
    }
    if (info) {
        info->sample_rate = source_rate;
        info->channels = channels;
        info->frames = frames_read;
        describe_format(sfinfo->format, info->format, sizeof info->format);
    }
    *samples = result.data;
    *n_samples = result.n;
    result.data = NULL;
    goto done;
fail_resample:
    srt_error_prefix(st, "%s: ", name);
done:
    free(result.data);
    free(block);
    free(mono);
    srt_resampler_free(rs);
    return st;
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

static srt_status decode_and_close(SNDFILE *sf, SF_INFO *sfinfo, const char *name, int target_rate,
                                   float **samples, int64_t *n_samples, srt_audio_source_info *info) {
    srt_status st = SRT_OK;
    int major = sfinfo->format & SF_FORMAT_TYPEMASK;
    if (major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_RF64)
        st = check_wav_data_length(sf, name);
    if (st == SRT_OK) st = decode_open_file(sf, sfinfo, name, target_rate, samples, n_samples, info);
    sf_close(sf);
    return st;
}

static srt_status check_read_args(const char *name, int target_rate, float **samples, int64_t *n_samples) {
    if (!samples || !n_samples) return srt_error(SRT_ERR_INVALID_ARG, "%s: no output buffer given", name);
    *samples = NULL;
    *n_samples = 0;
    if (target_rate < 0) return srt_error(SRT_ERR_INVALID_ARG, "%s: negative target rate %d", name, target_rate);
    return SRT_OK;
}

srt_status srt_audio_read(const char *path, int target_rate, float **samples, int64_t *n_samples,
                          srt_audio_source_info *info) {
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "audio read: no path given");
    SRT_TRY(check_read_args(path, target_rate, samples, n_samples));
    struct stat stbuf;
    if (stat(path, &stbuf) != 0) return srt_error(SRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(stbuf.st_mode)) return srt_error(SRT_ERR_IO, "%s: is a directory, not an audio file", path);
    if (stbuf.st_size == 0) return srt_error(SRT_ERR_FORMAT, "%s: empty file (0 bytes), not audio", path);
    SF_INFO sfinfo = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &sfinfo);
    if (!sf) return srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", path, sf_strerror(NULL));
    return decode_and_close(sf, &sfinfo, path, target_rate, samples, n_samples, info);
}

srt_status srt_audio_read_memory(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                 float **samples, int64_t *n_samples, srt_audio_source_info *info) {
    const char *name = name_for_errors ? name_for_errors : "(audio in memory)";
    SRT_TRY(check_read_args(name, target_rate, samples, n_samples));
    if (!data || size == 0) return srt_error(SRT_ERR_FORMAT, "%s: empty (0 bytes), not audio", name);
    memory_file mem = {.data = data, .size = (sf_count_t)size, .pos = 0};
    SF_VIRTUAL_IO io = {.get_filelen = mem_get_filelen, .seek = mem_seek, .read = mem_read,
                        .write = mem_write, .tell = mem_tell};
    SF_INFO sfinfo = {0};
    SNDFILE *sf = sf_open_virtual(&io, SFM_READ, &sfinfo, &mem);
    if (!sf) return srt_error(SRT_ERR_FORMAT, "%s: cannot read as audio: %s", name, sf_strerror(NULL));
    return decode_and_close(sf, &sfinfo, name, target_rate, samples, n_samples, info);
}
