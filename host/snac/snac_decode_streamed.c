/* snac_decode_streamed.c: srt_codec_decode_streamed, the decode of whole code sequences in bounded memory (the
 * `decode` and `detokenize` commands): the items go through streaming decoders (snac_stream*.c) together, at most
 * chunk_groups groups per item per push, and each piece of audio goes to the caller's sink as soon as it is final,
 * cut at the item's n_samples. Memory is O(items * chunk_groups) whatever the lengths. The codes are validated
 * as srt_codec_decode does (whole attention windows), and the audio equals srt_codec_decode's bit for bit on the
 * cpu backend (tests/test_snac_decode_streamed.c). */
#include "snac/snac_stream.h"

/* Hand the first `n` samples of item i's next piece to the sink, cut at its n_samples. */
static srt_status emit(srt_audio_sink sink, void *user, int i, const srt_codes *c, int64_t *written,
                       const float *a, int64_t n) {
    if (c->n_samples > 0 && *written + n > c->n_samples) n = c->n_samples - *written;
    if (n <= 0) return SRT_OK;
    *written += n;
    return sink(user, i, a, n);
}

srt_status srt_codec_decode_streamed(srt_codec *codec, int n, const srt_codes *codes, int64_t noise_seed,
                                     int64_t chunk_groups, srt_audio_sink sink, void *user) {
    if (!codec || n < 1 || !codes || !sink)
        return srt_error(SRT_ERR_INVALID_ARG, "decode_streamed: no codec, codes or sink, or %d items", n);
    if (chunk_groups < 1) chunk_groups = 64;
    srt_codec_info I;
    SRT_TRY(srt_codec_get_info(codec, &I));
    for (int i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "codes of item %d", i);
        SRT_TRY(srt_codes_validate(&I, &codes[i], what));
    }
    srt_codec_stream **s = srt_calloc((size_t)n, sizeof *s, "decode streams");
    srt_codec_stream **live = srt_calloc((size_t)n, sizeof *live, "decode streams");
    int *idx = srt_calloc((size_t)n, sizeof *idx, "decode streams"), *fin = srt_calloc((size_t)n, sizeof *fin, "decode streams");
    int64_t *sent = srt_calloc((size_t)n, sizeof *sent, "decode streams");      /* groups pushed */
    int64_t *written = srt_calloc((size_t)n, sizeof *written, "decode streams"); /* samples handed out */
    int64_t *cnt = srt_calloc((size_t)n, sizeof *cnt, "decode streams");
    srt_codes *k = srt_calloc((size_t)n, sizeof *k, "decode streams");
    float **a = srt_calloc((size_t)n, sizeof *a, "decode streams");
    srt_status st = SRT_OK;
    if (!s || !live || !idx || !fin || !sent || !written || !cnt || !k || !a) { st = SRT_ERR_NOMEM; goto done; }
        for (int i = 0; i < n && st == SRT_OK; i++)
        st = srt_codec_stream_open(codec, noise_seed, &s[i]);
    int64_t gs = I.vq_strides[0];
    while (st == SRT_OK) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (sent[i] < 0) continue;
            int64_t left = codes[i].n_frames[0] - sent[i], g = left < chunk_groups ? left : chunk_groups;
            memset(&k[m], 0, sizeof k[m]);
            k[m].n_levels = codes[i].n_levels;
            for (int l = 0; l < codes[i].n_levels; l++) {
                int64_t per = gs / I.vq_strides[l];
                k[m].n_frames[l] = g * per;
                k[m].codes[l] = codes[i].codes[l] + sent[i] * per;
            }
            fin[m] = g == left;
            live[m] = s[i];
            idx[m++] = i;
            sent[i] += g;
        }
        if (!m) break;
        st = srt_codec_stream_push(m, live, k, fin, a, cnt);
        for (int j = 0; j < m; j++) {
            int i = idx[j];
            if (st == SRT_OK) st = emit(sink, user, i, &codes[i], &written[i], a[j], cnt[j]);
            free(a[j]);
            a[j] = NULL;
            if (fin[j]) sent[i] = -1;
        }
    }
done:
    for (int i = 0; s && i < n; i++) srt_codec_stream_free(s[i]);
    free(s); free(live); free(idx); free(fin); free(sent); free(written); free(cnt); free(k); free(a);
    return st;
}
