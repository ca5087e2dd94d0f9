/* snacrt_audio.h (public API): audio file I/O and resampling for snacrt.
 * Reading: any format libsndfile reads (WAV, FLAC, OGG/Vorbis, MP3, AIFF, ...), from a path, from memory or
 * from a window of a file (tar members), whole or streamed in blocks, with duration limits checked before
 * decoding and bad (non-finite) samples refused or zeroed; mixed to mono (mean of the channels) and resampled with libsoxr (SOXR_HQ, float32) to a target rate.
 * Writing: WAV / FLAC / OGG / MP3 chosen by the file extension, one-shot or streaming (open/append/close),
 * plus raw s16 little-endian PCM bytes for streaming over the network.
 * Resampling: one-shot (srt_audio_resample) and chunked (srt_resampler_*), which give the same samples.
 *
 * Sample conventions (float <-> 16-bit integer), used by every writer and matching libsndfile's reader:
 *   write: s = clamp(lrint(clamp(x, -1, 1) * 32768), -32768, 32767) (nearest, ties to even; NaN -> 0)
 *   read:  x = s / 32768
 * so a value written and read back moves by at most 0.5/32768 (1/32768 at x = +1, which clips to 32767). */
#ifndef SNACRT_AUDIO_H
#define SNACRT_AUDIO_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- reading */

/* Bad samples: NaN, +-Inf, and finite values of magnitude above SRT_AUDIO_MAX_ABS_SAMPLE (1e4, 80 dB over full
 * scale: no recording holds them, and values like 3e38 overflow the codec's float arithmetic into Inf/NaN and
 * come out as all-zero codes). Integer formats cannot hold any; float WAV / CAF / AIFF files can. */
#define SRT_AUDIO_MAX_ABS_SAMPLE 1e4f

typedef struct srt_audio_read_options {
    double max_seconds;       /* > 0: refuse audio longer than this (SRT_ERR_RANGE): from the header's frame count
                                 before any sample is decoded, and while decoding for headers without a length
                                 (or lying about it), so memory stays bounded whatever the compression ratio */
    int allow_nonfinite;      /* 0: a bad sample (see above) is an SRT_ERR_FORMAT error naming the file and the
                                 sample's position; 1: bad samples become 0 and are counted (bad_samples) */
} srt_audio_read_options;

typedef struct srt_audio_source_info {
    int sample_rate;          /* Hz, as stored in the file */
    int channels;             /* as stored in the file (the samples returned are always mono) */
    int64_t frames;           /* frames actually decoded, at the source rate */
    int64_t header_frames;    /* frames the header announces, -1 when it has no length (or an estimate: MPEG) */
    int64_t bad_samples;      /* samples replaced by 0 (allow_nonfinite) */
    char format[96];          /* libsndfile's names: "WAV (Microsoft), Signed 16 bit PCM" */
} srt_audio_source_info;

/* Read an audio file as mono float32 at target_rate (0 = keep the source rate).
 * *samples receives a malloc'd buffer of *n_samples values (free with free()); info may be NULL.
 * The file is decoded in blocks straight into the resampler, so only the mono output is held in memory.
 * Output length (target_rate != source rate): what libsoxr emits after a flush, which is
 * round(frames * target_rate / source_rate) (see srt_resampler_*).
 * Unreadable, empty, corrupt or truncated input: SRT_ERR_IO (cannot open) or SRT_ERR_FORMAT with a message
 * naming the file and libsndfile's own explanation (sf_strerror). Bad samples: SRT_ERR_FORMAT (the defaults of
 * srt_audio_read_options: no duration limit, bad samples refused). */
srt_status srt_audio_read(const char *path, int target_rate, float **samples, int64_t *n_samples,
                          srt_audio_source_info *info);
srt_status srt_audio_read_opts(const char *path, int target_rate, const srt_audio_read_options *opt, float **samples,
                               int64_t *n_samples, srt_audio_source_info *info);

/* Same as srt_audio_read for a file held in memory (e.g. a request field); name_for_errors names it in messages. */
srt_status srt_audio_read_memory(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                 float **samples, int64_t *n_samples, srt_audio_source_info *info);
srt_status srt_audio_read_memory_opts(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                      const srt_audio_read_options *opt, float **samples, int64_t *n_samples,
                                      srt_audio_source_info *info);

/* Streaming reader (the one decoder behind every read above): open a path, a buffer in memory, or the window
 * [offset, offset + size) of a file (a tar member, read in place), then take blocks of mono samples at
 * target_rate (0 = the source rate) until *eof. The concatenated blocks equal srt_audio_read's samples.
 * The checks and messages are srt_audio_read's; a duration limit found in the header fails the open, before
 * any sample is decoded. A failure can come at the very end (truncation is known only then). Block pointers
 * are valid until the next call. opt may be NULL (the defaults). */
typedef struct srt_audio_stream srt_audio_stream;

srt_status srt_audio_stream_open(const char *path, int target_rate, const srt_audio_read_options *opt,
                                 srt_audio_stream **out);
srt_status srt_audio_stream_open_memory(const void *data, size_t size, const char *name_for_errors, int target_rate,
                                        const srt_audio_read_options *opt, srt_audio_stream **out);
srt_status srt_audio_stream_open_window(const char *path, int64_t offset, int64_t size, const char *name,
                                        int target_rate, const srt_audio_read_options *opt, srt_audio_stream **out);
srt_status srt_audio_stream_next(srt_audio_stream *s, const float **samples, int64_t *n, int *eof);
/* The source's rate, channels and format; frames and bad_samples so far. */
void srt_audio_stream_info(const srt_audio_stream *s, srt_audio_source_info *info);
/* Samples the header's length gives at target_rate (plus one), -1 when unknown. */
int64_t srt_audio_stream_expected_samples(const srt_audio_stream *s, int target_rate);
void srt_audio_stream_close(srt_audio_stream *s);

/* --------------------------------------------------------------- resampling */

/* Resample a mono signal from in_rate to out_rate (libsoxr, SOXR_HQ). *out is malloc'd (free with free()).
 * Same rates: a plain copy. The length is round(n * out_rate / in_rate), halves rounded up (what libsoxr emits).
 * The samples equal libsoxr's soxr_oneshot with the same settings. */
srt_status srt_audio_resample(const float *in, int64_t n, int in_rate, int out_rate, float **out, int64_t *n_out);

/* Chunked mono resampling for long inputs. Feed chunks of any size with srt_resampler_process, then call
 * srt_resampler_flush once at the end of the input.
 * Latency: libsoxr removes its filter delay, so output sample k is still the signal at time k / out_rate, but a
 * process call returns only the output whose filter support (and soxr's internal block) is complete: the first
 * calls may return nothing, and the output trails the input by a few hundred to about a thousand output samples
 * at SOXR_HQ (measured flush tails: 303 for 44100->24000, 526-856 for 22050->24000, 1095 for 8000->24000 Hz).
 * The flush returns that tail; without it the last samples are never produced.
 * The concatenation of every process output and the flush output equals srt_audio_resample of the whole input
 * (tests/test_audio.c checks it sample for sample). After the flush the resampler accepts no more input.
 * Output pointers point into a buffer owned by the resampler, valid until its next call. */
typedef struct srt_resampler srt_resampler;

srt_status srt_resampler_create(int in_rate, int out_rate, srt_resampler **out);
srt_status srt_resampler_process(srt_resampler *rs, const float *in, int64_t n_in, const float **out,
                                 int64_t *n_out);
srt_status srt_resampler_flush(srt_resampler *rs, const float **out, int64_t *n_out);
void srt_resampler_free(srt_resampler *rs);

/* --------------------------------------------------------------- writing */

typedef enum srt_audio_write_format {
    SRT_AUDIO_S16 = 0,        /* 16-bit integer, clipped to [-1, 1] and rounded (the default) */
    SRT_AUDIO_F32             /* 32-bit float, values stored as they are (WAV only) */
} srt_audio_write_format;

/* Write a mono signal. The container comes from the extension: .wav, .flac (16-bit only), .ogg (Vorbis),
 * .mp3 (when libsndfile was built with MPEG support), .opus (Ogg/Opus: 8, 12, 16, 24 or 48 kHz); the lossy ones
 * take the clipped float signal. */
srt_status srt_audio_write(const char *path, const float *samples, int64_t n, int rate, srt_audio_write_format fmt);

/* Streaming writer: open, append any number of chunks, close. The bytes equal srt_audio_write of the
 * concatenated signal. close finalises the header and frees the writer (also on failure). */
typedef struct srt_audio_writer srt_audio_writer;

srt_status srt_audio_write_open(const char *path, int rate, srt_audio_write_format fmt, srt_audio_writer **out);
srt_status srt_audio_write_append(srt_audio_writer *w, const float *samples, int64_t n);
srt_status srt_audio_write_close(srt_audio_writer *w);

/* Encode n samples as 16-bit little-endian PCM into out (2 * n bytes, caller-owned), same rounding as the
 * writers: for raw PCM streaming. */
void srt_audio_encode_s16le(const float *samples, int64_t n, uint8_t *out);
/* One float sample to 16-bit with the convention above. */
int16_t srt_audio_float_to_s16(float x);

/* --------------------------------------------------------------- speed (time-stretch) */

/* Time-stretch without pitch change, streaming (libsonic, the library espeak-ng uses): a speed of 2 halves the
 * length, 0.5 doubles it. Samples go in as they come and come out as soon as sonic has them; the end flushes the
 * rest, so streamed and whole give the same samples (the speech endpoint's "speed", `snacrt tts --speed`). */
#define SRT_SPEED_MIN 0.25
#define SRT_SPEED_MAX 4.0

typedef struct srt_audio_speed srt_audio_speed;

/* speed in [SRT_SPEED_MIN, SRT_SPEED_MAX] (else SRT_ERR_INVALID_ARG, "out of range"); mono at rate Hz. */
srt_status srt_audio_speed_open(int rate, double speed, srt_audio_speed **out);
/* Feed n samples (n may be 0); final = 1 flushes the end. *out points to the samples ready now (*n_out of them;
 * never NULL), valid until the next call. */
srt_status srt_audio_speed_push(srt_audio_speed *s, const float *pcm, int64_t n, int final, const float **out,
                                int64_t *n_out);
void srt_audio_speed_free(srt_audio_speed *s);

#ifdef __cplusplus
}
#endif
#endif
