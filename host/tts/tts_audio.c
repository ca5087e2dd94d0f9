/* tts_audio.c: the codec side of a step: the complete frame groups of every running request (and the final flush
 * of those whose last piece ended) go to the streaming decoder in one batched srt_codec_stream_push; the audio
 * that became final is handed to each request's callback right away. All pieces of a request go through one
 * codec stream, so the decoder sees one continuous code sequence: the join between pieces is smoothed by the
 * decoder itself (no splice, no crossfade, no click from cutting), and the streamed audio equals the offline
 * decode of all the request's codes. */
#include "tts/tts_internal.h"

static void deliver(srt_tts_engine *e, tts_req *r, const float *pcm, int64_t n) {
    if (n <= 0) return;
    r->stats.samples += n;
    if (!r->got_audio) {
        r->got_audio = 1;
        r->stats.first_audio_ms = tts_now_ms() - r->t_submit;
        r->stats.first_audio_tokens = r->stats.generated_tokens;
    }
    (void)e;
    if (r->cb(r->user, pcm, n, 0, SRT_OK, &r->stats)) r->cancel = 1;
}

/* New groups, or a final flush: the answer's end, or (conversations) the end of an audio segment. */
static int needs_push(const tts_req *r) {
    return r->pending_groups > 0 || r->phase == TTS_FLUSH || (r->chat && r->chat->seg_flush);
}

srt_status tts_audio_push(srt_tts_engine *e) {
    int n = 0;
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->finished || r->cancel) continue;
        if (r->chat && tts_chat_settle(e, r)) continue;
        if (needs_push(r)) n++;
    }
    if (!n) return SRT_OK;
    srt_codec_stream **streams = malloc(sizeof *streams * (size_t)n);
    srt_codes *chunks = calloc((size_t)n, sizeof *chunks);
    int *final = malloc(sizeof(int) * (size_t)n);
    float **audio = calloc((size_t)n, sizeof *audio);
    int64_t *n_out = calloc((size_t)n, sizeof *n_out);
    tts_req **reqs = malloc(sizeof *reqs * (size_t)n);
    srt_status st = SRT_OK;
    if (!streams || !chunks || !final || !audio || !n_out || !reqs) {
        st = srt_error(SRT_ERR_NOMEM, "out of memory pushing audio");
        goto done;
    }
    int k = 0;
    for (int i = 0; i < e->n_running; i++) {
        tts_req *r = e->running[i];
        if (r->finished || r->cancel || !needs_push(r)) continue;
        streams[k] = r->stream;
        chunks[k] = r->pending;                      /* shallow: the arrays stay r's */
        chunks[k].n_levels = e->codec_info.n_levels;
        for (int L = 0; L < e->codec_info.n_levels; L++)
            chunks[k].n_frames[L] = r->pending_groups * e->layout->per_level[L];
        chunks[k].n_samples = 0;
        final[k] = r->phase == TTS_FLUSH || (r->chat && r->chat->seg_flush);
        reqs[k++] = r;
    }
    st = srt_codec_stream_push(n, streams, chunks, final, audio, n_out);
    for (int i = 0; i < n; i++) {
        tts_req *r = reqs[i];
        if (st != SRT_OK) { tts_mark_failed(r, st); continue; }
        r->pending_groups = 0;
        deliver(e, r, audio[i], n_out[i]);
        if (final[i] && r->chat) tts_chat_segment_done(e, r);
        if (final[i] && r->phase == TTS_FLUSH) { r->finished = 1; r->final_status = SRT_OK; }
    }
done:
    for (int i = 0; audio && i < n; i++) free(audio[i]);
    free(streams); free(chunks); free(final); free(audio); free(n_out); free(reqs);
    return st;
}
