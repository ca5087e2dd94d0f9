/* audio_encode_stream.c: the streaming audio encoder of audio_encode.h. libsndfile writes flac / Ogg-Opus
 * through virtual IO into a byte buffer that holds the file's bytes from `base` (the bytes already taken) to its
 * end; a later write before `base` (an encoder going back to patch a header it wrote earlier) is dropped, which
 * is what streaming means. Ogg pages are flushed every 100 ms of audio, so a stream is never far behind.
 * mp3 is LAME's own (libsndfile's LAME writer puts an empty info frame first and fills it in at the end, which a
 * stream cannot do, and a decoder then believes the empty frame's count): constant 64 kbit/s, no info frame, whole
 * or streamed alike. wav and pcm are written here (srt_audio_encode_s16le, so every format carries the
 * same 16-bit integers as the file writers). */
#include "audio/audio_encode.h"
#include "snacrt_audio.h"
#include "common.h"
#include <lame/lame.h>
#include <sndfile.h>
#include <strings.h>

#define ENC_BLOCK 4096

struct srt_audio_encoder {
    srt_audio_codec codec;
    int rate, finished, failed;
    SNDFILE *sf;                 /* flac, opus */
    lame_global_flags *lame;     /* mp3 */
    uint8_t *buf;                /* (cap) bytes: the file's bytes [base, size) */
    sf_count_t base, size, pos, cap;
    size_t taken;                /* bytes handed out by the last take, dropped at the next call */
    short s16[ENC_BLOCK];
    float f32[ENC_BLOCK];
};

static const char *const codec_names[SRT_CODEC_COUNT] = {"wav", "pcm", "flac", "mp3", "opus"};

int srt_audio_codec_from_name(const char *name) {
    for (int i = 0; name && i < SRT_CODEC_COUNT; i++)
        if (!strcasecmp(name, codec_names[i])) return i;
    return -1;
}
const char *srt_audio_codec_name(srt_audio_codec codec) {
    return (unsigned)codec < SRT_CODEC_COUNT ? codec_names[codec] : "?";
}
const char *srt_audio_codec_mime(srt_audio_codec codec) {
    switch (codec) {
    case SRT_CODEC_PCM: return "audio/pcm";
    case SRT_CODEC_FLAC: return "audio/flac";
    case SRT_CODEC_MP3: return "audio/mpeg";
    case SRT_CODEC_OPUS: return "audio/ogg";
    default: return "audio/wav";
    }
}
int srt_audio_codec_streams(srt_audio_codec codec) { return codec != SRT_CODEC_FLAC; }

/* ------------------------------------------------------------------ the byte buffer */

static void drop_taken(srt_audio_encoder *e) {
    if (!e->taken) return;
    size_t live = (size_t)(e->size - e->base);
    memmove(e->buf, e->buf + e->taken, live - e->taken);
    e->base += (sf_count_t)e->taken;
    e->taken = 0;
}

static int reserve(srt_audio_encoder *e, sf_count_t end) {   /* logical end */
    sf_count_t need = end - e->base;
    if (need <= e->cap) return 0;
    sf_count_t cap = e->cap ? e->cap : 16384;
    while (cap < need) cap *= 2;
    uint8_t *grown = realloc(e->buf, (size_t)cap);
    if (!grown) { e->failed = 1; return -1; }
    e->buf = grown;
    e->cap = cap;
    return 0;
}

static sf_count_t vio_len(void *u) { return ((srt_audio_encoder *)u)->size; }
static sf_count_t vio_tell(void *u) { return ((srt_audio_encoder *)u)->pos; }
static sf_count_t vio_seek(sf_count_t off, int whence, void *u) {
    srt_audio_encoder *e = u;
    sf_count_t at = (whence == SEEK_CUR ? e->pos : whence == SEEK_END ? e->size : 0) + off;
    if (at < 0) return -1;
    e->pos = at;
    return at;
}
static sf_count_t vio_read(void *ptr, sf_count_t count, void *u) {
    srt_audio_encoder *e = u;   /* only bytes still held can be read back; the rest reads as zeros */
    sf_count_t n = e->pos < e->size ? e->size - e->pos : 0;
    if (n > count) n = count;
    for (sf_count_t i = 0; i < n; i++) {
        sf_count_t at = e->pos + i;
        ((uint8_t *)ptr)[i] = at >= e->base ? e->buf[at - e->base] : 0;
    }
    e->pos += n;
    return n;
}
static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u) {
    srt_audio_encoder *e = u;
    if (count <= 0) return 0;
    const uint8_t *src = ptr;
    sf_count_t from = e->pos, end = e->pos + count;
    if (from < e->base) from = e->base;   /* already taken: dropped */
    if (end > from) {
        if (reserve(e, end)) return 0;
        if (from > e->size) memset(e->buf + (e->size - e->base), 0, (size_t)(from - e->size));
        memcpy(e->buf + (from - e->base), src + (from - e->pos), (size_t)(end - from));
        if (end > e->size) e->size = end;
    }
    e->pos += count;
    return count;
}

static srt_status append(srt_audio_encoder *e, const void *p, size_t n) {
    e->pos = e->size;
    if (vio_write(p, (sf_count_t)n, e) != (sf_count_t)n) return srt_error(SRT_ERR_NOMEM, "audio encoder: out of memory");
    return SRT_OK;
}

/* ------------------------------------------------------------------ the encoder */

static void wav_header(uint8_t out[44], int rate, int64_t n) {
    uint32_t data = 0xFFFFFFFFu, riff = 0xFFFFFFFFu;
    if (n >= 0 && n <= (int64_t)(0xFFFFFFFFu - 36) / 2) data = (uint32_t)(n * 2), riff = data + 36;
    uint32_t v[] = {riff, 16, 0, (uint32_t)rate, (uint32_t)rate * 2, 0, data};
    memcpy(out, "RIFF", 4);
    memcpy(out + 8, "WAVEfmt ", 8);
    memcpy(out + 36, "data", 4);
    const int at[] = {4, 16, -1, 24, 28, -1, 40};
    for (int i = 0; i < 7; i++)
        if (at[i] >= 0)
            for (int b = 0; b < 4; b++) out[at[i] + b] = (uint8_t)(v[i] >> (8 * b));
    out[20] = 1, out[21] = 0;     /* PCM */
    out[22] = 1, out[23] = 0;     /* mono */
    out[32] = 2, out[33] = 0;     /* block align */
    out[34] = 16, out[35] = 0;    /* bits per sample */
}

srt_status srt_audio_encoder_open(srt_audio_codec codec, int rate, int64_t n_total, srt_audio_encoder **out) {
    *out = NULL;
    if ((unsigned)codec >= SRT_CODEC_COUNT) return srt_error(SRT_ERR_INVALID_ARG, "audio encoder: unknown format %d", (int)codec);
    if (rate <= 0) return srt_error(SRT_ERR_INVALID_ARG, "audio encoder: invalid sample rate %d", rate);
    srt_audio_encoder *e = srt_calloc(1, sizeof *e, "an audio encoder");
    if (!e) return SRT_ERR_NOMEM;
    e->codec = codec;
    e->rate = rate;
    srt_status st = SRT_OK;
    if (codec == SRT_CODEC_WAV) {
        uint8_t h[44];
        wav_header(h, rate, n_total);
        st = append(e, h, sizeof h);
    } else if (codec == SRT_CODEC_MP3) {
        e->lame = lame_init();
        if (!e->lame) st = srt_error(SRT_ERR_NOMEM, "mp3 encoder: out of memory");
        else {
            lame_set_in_samplerate(e->lame, rate);
            lame_set_num_channels(e->lame, 1);
            lame_set_mode(e->lame, MONO);
            lame_set_brate(e->lame, 64);
            lame_set_VBR(e->lame, vbr_off);
            lame_set_bWriteVbrTag(e->lame, 0);
            lame_set_quality(e->lame, 5);
            if (lame_init_params(e->lame) < 0)
                st = srt_error(SRT_ERR_UNSUPPORTED, "mp3 encoder: LAME cannot encode %d Hz mono", rate);
        }
    } else if (codec != SRT_CODEC_PCM) {
        int format = codec == SRT_CODEC_FLAC ? SF_FORMAT_FLAC | SF_FORMAT_PCM_16 : SF_FORMAT_OGG | SF_FORMAT_OPUS;
        SF_INFO info = {.samplerate = rate, .channels = 1, .format = format};
        SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
        if (!sf_format_check(&info))
            st = srt_error(SRT_ERR_UNSUPPORTED, "%s encoder: this libsndfile cannot write %s at %d Hz%s",
                           codec_names[codec], codec_names[codec], rate,
                           codec == SRT_CODEC_OPUS ? " (opus needs 8, 12, 16, 24 or 48 kHz)" : "");
        else if (!(e->sf = sf_open_virtual(&vio, SFM_WRITE, &info, e)))
            st = srt_error(SRT_ERR_FORMAT, "%s encoder: %s", codec_names[codec], sf_strerror(NULL));
        else if (codec == SRT_CODEC_OPUS) {
            double page_ms = 100;
            sf_command(e->sf, SFC_SET_OGG_PAGE_LATENCY_MS, &page_ms, sizeof page_ms);
        }
    }
    if (st != SRT_OK) { srt_audio_encoder_free(e); return st; }
    *out = e;
    return SRT_OK;
}

srt_status srt_audio_encoder_push(srt_audio_encoder *e, const float *pcm, int64_t n) {
    if (e->finished) return srt_error(SRT_ERR_INVALID_ARG, "audio encoder: push after finish");
    if (n < 0) return srt_error(SRT_ERR_INVALID_ARG, "audio encoder: negative length");
    drop_taken(e);
    for (int64_t i = 0; i < n; i += ENC_BLOCK) {
        int64_t k = n - i < ENC_BLOCK ? n - i : ENC_BLOCK;
        if (e->lame) {   /* worst case of lame.h: 1.25 * samples + 7200 bytes */
            unsigned char mp3[ENC_BLOCK * 5 / 4 + 7200];
            for (int64_t j = 0; j < k; j++) {
                float x = pcm[i + j];
                e->f32[j] = x != x ? 0.0f : x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            }
            int got = lame_encode_buffer_ieee_float(e->lame, e->f32, NULL, (int)k, mp3, (int)sizeof mp3);
            if (got < 0) return srt_error(SRT_ERR_IO, "mp3 encoder: LAME error %d", got);
            SRT_TRY(append(e, mp3, (size_t)got));
            continue;
        }
        if (!e->sf) {   /* wav, pcm */
            uint8_t b[2 * ENC_BLOCK];
            srt_audio_encode_s16le(pcm + i, k, b);
            SRT_TRY(append(e, b, (size_t)k * 2));
            continue;
        }
        sf_count_t wrote;
        if (e->codec == SRT_CODEC_FLAC) {
            for (int64_t j = 0; j < k; j++) e->s16[j] = srt_audio_float_to_s16(pcm[i + j]);
            wrote = sf_write_short(e->sf, e->s16, k);
        } else {   /* lossy: clipped as the file writers clip */
            for (int64_t j = 0; j < k; j++) {
                float x = pcm[i + j];
                e->f32[j] = x != x ? 0.0f : x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            }
            wrote = sf_write_float(e->sf, e->f32, k);
        }
        if (e->failed) return srt_error(SRT_ERR_NOMEM, "%s encoder: out of memory", codec_names[e->codec]);
        if (wrote != k) return srt_error(SRT_ERR_IO, "%s encoder: %s", codec_names[e->codec], sf_strerror(e->sf));
    }
    return SRT_OK;
}

srt_status srt_audio_encoder_finish(srt_audio_encoder *e) {
    if (e->finished) return SRT_OK;
    e->finished = 1;
    drop_taken(e);
    if (e->lame) {
        unsigned char tail[7200];
        int got = lame_encode_flush(e->lame, tail, (int)sizeof tail);
        if (got < 0) return srt_error(SRT_ERR_IO, "mp3 encoder: LAME error %d", got);
        SRT_TRY(append(e, tail, (size_t)got));
    }
    if (e->sf) {
        int rc = sf_close(e->sf);
        e->sf = NULL;
        if (e->failed) return srt_error(SRT_ERR_NOMEM, "%s encoder: out of memory", codec_names[e->codec]);
        if (rc) return srt_error(SRT_ERR_IO, "%s encoder: closing failed", codec_names[e->codec]);
    }
    return SRT_OK;
}

void srt_audio_encoder_take(srt_audio_encoder *e, const uint8_t **data, size_t *n) {
    static const uint8_t none[1];
    drop_taken(e);
    *data = e->buf ? e->buf : none;   /* never NULL, even with nothing written yet */
    *n = (size_t)(e->size - e->base);
    e->taken = *n;
}

void srt_audio_encoder_free(srt_audio_encoder *e) {
    if (!e) return;
    if (e->sf) sf_close(e->sf);
    if (e->lame) lame_close(e->lame);
    free(e->buf);
    free(e);
}

srt_status srt_audio_encode_all(srt_audio_codec codec, const float *pcm, int64_t n, int rate, uint8_t **out,
                                size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    srt_audio_encoder *e;
    SRT_TRY(srt_audio_encoder_open(codec, rate, n, &e));
    srt_status st = srt_audio_encoder_push(e, pcm, n);
    if (st == SRT_OK) st = srt_audio_encoder_finish(e);
    if (st == SRT_OK) {
        *n_out = (size_t)(e->size - e->base);
        if (!(*out = malloc(*n_out + 1))) st = srt_error(SRT_ERR_NOMEM, "audio encoder: out of memory");
        else memcpy(*out, e->buf, *n_out);
    }
    srt_audio_encoder_free(e);
    return st;
}
