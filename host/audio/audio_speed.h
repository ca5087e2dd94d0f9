/* audio_speed.h: time-stretch without pitch change, streaming (libsonic): declared in the public header
 * include/snacrt_audio.h (srt_audio_speed_*, SRT_SPEED_MIN/MAX), implemented in audio_speed.c. */
#ifndef SRT_AUDIO_SPEED_H
#define SRT_AUDIO_SPEED_H

#include "snacrt_audio.h"

#endif
