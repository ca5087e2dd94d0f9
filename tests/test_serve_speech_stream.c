/* test_serve_speech_stream.c: streamed speech bodies (host/serve/http_speech_stream.c) without a server: "audio"
 * hands out the encoder's bytes (a streamed pcm body is the s16le of the signal; a streamed wav starts with the
 * unknown-size header), "sse" frames them as OpenAI's speech.audio.delta events whose base64 decodes to the same
 * bytes (Ogg: as many), and ends with speech.audio.done carrying the usage; flac cannot be streamed; the whole-body encoder
 * gives mp3 (an MPEG frame sync) and Ogg/Opus ("OggS" + "OpusHead"). */
#include "serve/http_server.h"
#include "snacrt_audio.h"
#include "testutil.h"

static uint8_t *collect(srt_http_audio_format f, int sse, const float *x, int64_t n, size_t *n_out) {
    srt_speech_stream *s;
    if (srt_speech_stream_open(f, sse, 24000, &s) != SRT_OK) return NULL;
    size_t cap = 1 << 22, len = 0;
    uint8_t *out = malloc(cap);
    const uint8_t *d;
    size_t k;
    for (int64_t i = 0; i <= n; i += 2048) {
        int64_t m = n - i < 2048 ? n - i : 2048;
        if (srt_speech_stream_push(s, i < n ? x + i : NULL, i < n ? m : 0, &d, &k) != SRT_OK) break;
        if (len + k < cap) memcpy(out + len, d, k), len += k;
    }
    srt_tts_stats st = {.prompt_tokens = 12, .generated_tokens = 70};
    if (srt_speech_stream_finish(s, &st, &d, &k) == SRT_OK && len + k < cap) memcpy(out + len, d, k), len += k;
    srt_speech_stream_free(s);
    *n_out = len;
    return out;
}

/* The bytes the deltas of an event stream carry, concatenated; checks the framing. */
static uint8_t *undelta(const uint8_t *ev, size_t n, size_t *n_out, int *done_ok) {
    char *text = malloc(n + 1);
    memcpy(text, ev, n);
    text[n] = 0;
    uint8_t *out = malloc(n + 1);
    size_t len = 0;
    *done_ok = 0;
    const char *pre = "data: {\"type\":\"speech.audio.delta\",\"audio\":\"";
    for (char *p = text; *p;) {
        char *end = strstr(p, "\n\n");
        TEST_CHECK(end != NULL, "event ends with a blank line");
        if (!end) break;
        *end = 0;
        if (!strncmp(p, pre, strlen(pre))) {
            const char *b64 = p + strlen(pre);
            const char *q = strchr(b64, '"');
            uint8_t *dec;
            size_t k, bad;
            TEST_CHECK(q && !strcmp(q, "\"}"), "delta event closes: %.40s", q ? q : "");
            if (q && srt_base64_decode(b64, (size_t)(q - b64), &dec, &k, &bad) == 0) {
                memcpy(out + len, dec, k);
                len += k;
                free(dec);
            } else TEST_CHECK(0, "delta base64 decodes");
        } else {
            TEST_CHECK(!strcmp(p, "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":12,"
                                  "\"output_tokens\":70,\"total_tokens\":82}}"), "done event: %s", p);
            TEST_CHECK(end + 2 == text + n, "done is the last event");
            *done_ok = 1;
        }
        p = end + 2;
    }
    free(text);
    *n_out = len;
    return out;
}

int main(void) {
    enum { N = 24000 };
    float *x = test_alloc_uniform(N, 5, -0.5f, 0.5f);
    uint8_t s16[2 * N];
    srt_audio_encode_s16le(x, N, s16);
    size_t n;
    uint8_t *pcm = collect(SRT_HTTP_PCM, 0, x, N, &n);
    TEST_CHECK(pcm && n == 2 * N && !memcmp(pcm, s16, n), "streamed pcm = s16le of the signal (%zu bytes)", n);
    uint8_t *wav = collect(SRT_HTTP_WAV, 0, x, N, &n);
    TEST_CHECK(wav && n == 44 + 2 * N && !memcmp(wav, "RIFF\xff\xff\xff\xff", 8) && !memcmp(wav + 44, s16, 2 * N),
               "streamed wav: unknown-size header + samples");
    for (int f = SRT_HTTP_WAV; f <= SRT_HTTP_OPUS; f++) {
        if (f == SRT_HTTP_FLAC) continue;
        size_t na, ns, nd;
        int done_ok;
        uint8_t *a = collect(f, 0, x, N, &na), *e = collect(f, 1, x, N, &ns);
        TEST_CHECK(a && e, "format %d streams", f);
        if (!a || !e) continue;
        uint8_t *d = undelta(e, ns, &nd, &done_ok);
        /* Ogg streams get a random serial number (and so other page checksums): compare their lengths */
        TEST_CHECK(done_ok && nd == na && (f == SRT_HTTP_OPUS ? !memcmp(d, "OggS", 4) : !memcmp(d, a, na)),
                   "format %d: sse deltas carry the audio bytes (%zu vs %zu)", f, nd, na);
        free(a), free(e), free(d);
    }
    srt_speech_stream *s = NULL;
    TEST_CHECK(srt_speech_stream_open(SRT_HTTP_FLAC, 0, 24000, &s) != SRT_OK && !s, "flac is not streamed");
    uint8_t *body;
    size_t nb;
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_MP3, x, N, 24000, &body, &nb) == SRT_OK && nb > 400 && body[0] == 0xff &&
               (body[1] & 0xe0) == 0xe0, "whole mp3 starts with an MPEG frame sync");
    free(body);
    TEST_CHECK(srt_http_encode_audio(SRT_HTTP_OPUS, x, N, 24000, &body, &nb) == SRT_OK && nb > 100 &&
               !memcmp(body, "OggS", 4) && memmem(body, nb, "OpusHead", 8), "whole opus is Ogg/Opus");
    free(body);
    TEST_CHECK(!strcmp(srt_http_audio_mime(SRT_HTTP_MP3), "audio/mpeg") && !strcmp(srt_http_audio_mime(SRT_HTTP_OPUS), "audio/ogg"),
               "mime types");
    free(pcm), free(wav), free(x);
    TEST_MAIN_END();
}
