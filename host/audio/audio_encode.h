/* audio_encode.h: a streaming audio encoder into memory: mono f32 in, the bytes of a wav / pcm (s16le) / flac /
 * mp3 / opus (Ogg) file out, taken as they are produced (audio_encode_stream.c). flac and Ogg/Opus go through
 * libsndfile's virtual IO (libFLAC, libopus behind it), mp3 through LAME (CBR 64 kbit/s, no info frame); wav and
 * pcm are written here. A streaming wav has a header with "unknown" sizes. Opus needs 8, 12, 16, 24 or 48 kHz. */
#ifndef SRT_AUDIO_ENCODE_H
#define SRT_AUDIO_ENCODE_H

#include "snacrt.h"
#include <stddef.h>
#include <stdint.h>

typedef enum srt_audio_codec {
    SRT_CODEC_WAV = 0, SRT_CODEC_PCM, SRT_CODEC_FLAC, SRT_CODEC_MP3, SRT_CODEC_OPUS, SRT_CODEC_COUNT
} srt_audio_codec;

/* "wav", "pcm", "flac", "mp3", "opus" (case-insensitive; "ogg" is not Opus here) -> codec, or -1. */
int srt_audio_codec_from_name(const char *name);
const char *srt_audio_codec_name(srt_audio_codec codec);
/* "audio/wav", "audio/pcm", "audio/flac", "audio/mpeg", "audio/ogg" */
const char *srt_audio_codec_mime(srt_audio_codec codec);
/* Can the codec be streamed (its bytes sent before the end of the signal)? All but flac. */
int srt_audio_codec_streams(srt_audio_codec codec);

typedef struct srt_audio_encoder srt_audio_encoder;

/* Open an encoder. n_total: the signal's length when known (the wav header is exact), < 0 when streaming. */
srt_status srt_audio_encoder_open(srt_audio_codec codec, int rate, int64_t n_total, srt_audio_encoder **out);
/* Encode n more samples. */
srt_status srt_audio_encoder_push(srt_audio_encoder *e, const float *pcm, int64_t n);
/* End the signal: the encoders' tails and trailers are produced. Later pushes fail. */
srt_status srt_audio_encoder_finish(srt_audio_encoder *e);
/* The bytes produced since the last take: *data points into the encoder (valid until the next call on it; never
 * NULL), *n bytes; they count as taken. */
void srt_audio_encoder_take(srt_audio_encoder *e, const uint8_t **data, size_t *n);
void srt_audio_encoder_free(srt_audio_encoder *e);

/* Encode a whole signal; *out malloc'd (n_out bytes). */
srt_status srt_audio_encode_all(srt_audio_codec codec, const float *pcm, int64_t n, int rate, uint8_t **out,
                                size_t *n_out);

#endif
