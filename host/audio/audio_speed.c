/* audio_speed.c: streaming time-stretch over libsonic (see audio_speed.h). sonic takes int counts, so input is fed
 * in blocks; its output is read into one growing buffer per call. */
#include "audio/audio_speed.h"
#include "common.h"
#include <sonic.h>

#define SPEED_BLOCK 16384

struct srt_audio_speed {
    sonicStream st;
    float *out;                  /* (cap) samples */
    int64_t cap;
    float in[SPEED_BLOCK];       /* sonic's write takes a non-const pointer */
};

srt_status srt_audio_speed_open(int rate, double speed, srt_audio_speed **out) {
    *out = NULL;
    if (rate <= 0) return srt_error(SRT_ERR_INVALID_ARG, "speed: invalid sample rate %d", rate);
    if (!(speed >= SRT_SPEED_MIN && speed <= SRT_SPEED_MAX))
        return srt_error(SRT_ERR_INVALID_ARG, "speed %g is out of range (%g .. %g)", speed, SRT_SPEED_MIN, SRT_SPEED_MAX);
    srt_audio_speed *s = srt_calloc(1, sizeof *s, "a speed changer");
    if (!s) return SRT_ERR_NOMEM;
    if (!(s->st = sonicCreateStream(rate, 1))) { free(s); return srt_error(SRT_ERR_NOMEM, "speed: out of memory"); }
    sonicSetSpeed(s->st, (float)speed);
    *out = s;
    return SRT_OK;
}

static srt_status drain(srt_audio_speed *s, int64_t *n_out) {
    for (;;) {
        int avail = sonicSamplesAvailable(s->st);
        if (avail <= 0) return SRT_OK;
        if (*n_out + avail > s->cap) {
            int64_t cap = s->cap ? s->cap : 16384;
            while (cap < *n_out + avail) cap *= 2;
            float *grown = realloc(s->out, (size_t)cap * sizeof *grown);
            if (!grown) return srt_error(SRT_ERR_NOMEM, "speed: out of memory");
            s->out = grown;
            s->cap = cap;
        }
        int got = sonicReadFloatFromStream(s->st, s->out + *n_out, avail);
        if (got <= 0) return SRT_OK;
        *n_out += got;
    }
}

srt_status srt_audio_speed_push(srt_audio_speed *s, const float *pcm, int64_t n, int final, const float **out,
                                int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    for (int64_t i = 0; i < n; i += SPEED_BLOCK) {
        int k = (int)(n - i < SPEED_BLOCK ? n - i : SPEED_BLOCK);
        memcpy(s->in, pcm + i, (size_t)k * sizeof(float));
        if (!sonicWriteFloatToStream(s->st, s->in, k)) return srt_error(SRT_ERR_NOMEM, "speed: out of memory");
        SRT_TRY(drain(s, n_out));
    }
    if (final) {
        if (!sonicFlushStream(s->st)) return srt_error(SRT_ERR_NOMEM, "speed: out of memory");
        SRT_TRY(drain(s, n_out));
    }
    static const float none[1];
    *out = s->out ? s->out : none;   /* never NULL, even with nothing ready yet */
    return SRT_OK;
}

void srt_audio_speed_free(srt_audio_speed *s) {
    if (!s) return;
    sonicDestroyStream(s->st);
    free(s->out);
    free(s);
}
