/* audio_speed.h: time-stretch without pitch change, streaming (libsonic, the library espeak-ng uses): a speed of
 * 2 halves the length, 0.5 doubles it (audio_speed.c). Samples go in as they come and come out as soon as sonic
 * has them; the end flushes the rest, so streamed and whole give the same samples. */
#ifndef SRT_AUDIO_SPEED_H
#define SRT_AUDIO_SPEED_H

#include "snacrt.h"
#include <stdint.h>

#define SRT_SPEED_MIN 0.25
#define SRT_SPEED_MAX 4.0

typedef struct srt_audio_speed srt_audio_speed;

/* speed in [SRT_SPEED_MIN, SRT_SPEED_MAX]; mono at rate Hz. */
srt_status srt_audio_speed_open(int rate, double speed, srt_audio_speed **out);
/* Feed n samples (n may be 0); final = 1 flushes the end. *out points to the samples ready now (*n_out of them;
 * never NULL), valid until the next call. */
srt_status srt_audio_speed_push(srt_audio_speed *s, const float *pcm, int64_t n, int final, const float **out,
                                int64_t *n_out);
void srt_audio_speed_free(srt_audio_speed *s);

#endif
