/* audio_write.c: write mono audio with libsndfile (WAV s16/f32, FLAC 16-bit, OGG Vorbis, MP3, Ogg/Opus), one-shot or
 * streaming, and encode s16 little-endian PCM bytes for raw streaming. */
#include "snacrt_audio.h"
#include "common.h"
#include <math.h>
#include <sndfile.h>
#include <strings.h>
#include <string.h>

#define WRITE_BLOCK_SAMPLES 8192

struct srt_audio_writer {
    SNDFILE *sf;
    char *path;
    int write_s16;           /* integer containers: convert ourselves and sf_write_short */
    int clip_float;          /* lossy containers: clip to [-1, 1] and sf_write_float */
    short s16_block[WRITE_BLOCK_SAMPLES];
    float f32_block[WRITE_BLOCK_SAMPLES];
};

int16_t srt_audio_float_to_s16(float x) {
    if (!(x > -1.0f)) x = x != x ? 0.0f : -1.0f; /* NaN -> 0 */
    if (x > 1.0f) x = 1.0f;
    long v = lrintf(x * 32768.0f);
    if (v > 32767) v = 32767;
    if (v < -32768) v = -32768;
    return (int16_t)v;
}

void srt_audio_encode_s16le(const float *samples, int64_t n, uint8_t *out) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)srt_audio_float_to_s16(samples[i]);
        out[2 * i] = (uint8_t)(v & 0xff);
        out[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

/* The libsndfile format for a path's extension and sample format. */
static srt_status format_for_path(const char *path, srt_audio_write_format fmt, int *format_out, int *write_s16,
                                  int *clip_float) {
    const char *dot = strrchr(path, '.');
    const char *ext = dot ? dot + 1 : "";
    *write_s16 = 0;
    *clip_float = 0;
    *format_out = 0;
    if (fmt != SRT_AUDIO_S16 && fmt != SRT_AUDIO_F32)
        return srt_error(SRT_ERR_INVALID_ARG, "%s: unknown sample format %d", path, (int)fmt);
    if (strcasecmp(ext, "wav") == 0) {
        *write_s16 = fmt == SRT_AUDIO_S16;
        *format_out = SF_FORMAT_WAV | (fmt == SRT_AUDIO_S16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
        return SRT_OK;
    }
    int format = 0;
    if (strcasecmp(ext, "flac") == 0) format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16, *write_s16 = 1;
    else if (strcasecmp(ext, "ogg") == 0 || strcasecmp(ext, "oga") == 0)
        format = SF_FORMAT_OGG | SF_FORMAT_VORBIS, *clip_float = 1;
    else if (strcasecmp(ext, "mp3") == 0) format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, *clip_float = 1;
    else if (strcasecmp(ext, "opus") == 0) format = SF_FORMAT_OGG | SF_FORMAT_OPUS, *clip_float = 1;
    else
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: unknown audio extension \".%s\" (use .wav, .flac, .ogg, .mp3 or .opus)",
                         path, ext);
    if (fmt == SRT_AUDIO_F32)
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: 32-bit float samples are only written to .wav", path);
    *format_out = format;
    return SRT_OK;
}

srt_status srt_audio_write_open(const char *path, int rate, srt_audio_write_format fmt, srt_audio_writer **out) {
    *out = NULL;
    if (!path) return srt_error(SRT_ERR_INVALID_ARG, "audio write: no path given");
    if (rate <= 0) return srt_error(SRT_ERR_INVALID_ARG, "%s: invalid sample rate %d", path, rate);
    int format, write_s16, clip_float;
    SRT_TRY(format_for_path(path, fmt, &format, &write_s16, &clip_float));
    SF_INFO sfinfo = {.samplerate = rate, .channels = 1, .format = format};
    if (!sf_format_check(&sfinfo))
        return srt_error(SRT_ERR_UNSUPPORTED, "%s: this libsndfile cannot write that format at %d Hz", path, rate);
    srt_audio_writer *w = srt_calloc(1, sizeof *w, "an audio writer");
    if (!w) return SRT_ERR_NOMEM;
    w->path = srt_strdup(path);
    if (!w->path) { free(w); return SRT_ERR_NOMEM; }
    w->write_s16 = write_s16;
    w->clip_float = clip_float;
    w->sf = sf_open(path, SFM_WRITE, &sfinfo);
    if (!w->sf) {
        srt_status st = srt_error(SRT_ERR_IO, "%s: cannot open for writing: %s", path, sf_strerror(NULL));
        free(w->path);
        free(w);
        return st;
    }
    /* The PEAK chunk of float WAVs carries a timestamp: leave it out so equal signals give equal bytes. */
    sf_command(w->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    *out = w;
    return SRT_OK;
}

srt_status srt_audio_write_append(srt_audio_writer *w, const float *samples, int64_t n) {
    if (!w) return srt_error(SRT_ERR_INVALID_ARG, "audio write: no writer");
    if (n < 0 || (n > 0 && !samples)) return srt_error(SRT_ERR_INVALID_ARG, "%s: bad chunk (%lld samples)",
                                                       w->path, (long long)n);
    for (int64_t start = 0; start < n; start += WRITE_BLOCK_SAMPLES) {
        sf_count_t count = (sf_count_t)(n - start < WRITE_BLOCK_SAMPLES ? n - start : WRITE_BLOCK_SAMPLES);
        sf_count_t written;
        if (w->write_s16) {
            for (sf_count_t i = 0; i < count; i++) w->s16_block[i] = srt_audio_float_to_s16(samples[start + i]);
            written = sf_write_short(w->sf, w->s16_block, count);
        } else if (w->clip_float) {
            for (sf_count_t i = 0; i < count; i++) {
                float x = samples[start + i];
                w->f32_block[i] = x != x ? 0.0f : x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            }
            written = sf_write_float(w->sf, w->f32_block, count);
        } else {
            written = sf_write_float(w->sf, samples + start, count);
        }
        if (written != count)
            return srt_error(SRT_ERR_IO, "%s: write failed after %lld samples: %s", w->path,
                             (long long)(start + (written > 0 ? written : 0)), sf_strerror(w->sf));
    }
    return SRT_OK;
}

srt_status srt_audio_write_close(srt_audio_writer *w) {
    if (!w) return SRT_OK;
    srt_status st = SRT_OK;
    int err = sf_close(w->sf);
    if (err != 0) st = srt_error(SRT_ERR_IO, "%s: closing failed: %s", w->path, sf_error_number(err));
    free(w->path);
    free(w);
    return st;
}

srt_status srt_audio_write(const char *path, const float *samples, int64_t n, int rate, srt_audio_write_format fmt) {
    srt_audio_writer *w = NULL;
    SRT_TRY(srt_audio_write_open(path, rate, fmt, &w));
    srt_status st = srt_audio_write_append(w, samples, n);
    srt_status close_st = srt_audio_write_close(w);
    return st != SRT_OK ? st : close_st;
}
