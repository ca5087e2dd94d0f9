/* http_metrics.c: the server's counters (requests by endpoint and status, the time-to-first-audio histogram,
 * real-time factors, cancellations) and their Prometheus text exposition (format 0.0.4) together with the
 * engine's metrics. Pure: the server takes its lock around these calls. */
#include "serve/http_server.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double srt_http_ttfa_bounds[SRT_HTTP_TTFA_BUCKETS] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, -1 /* +Inf */};

void srt_http_counters_add_status(srt_http_counters *c, srt_http_route route, int status) {
    for (int i = 0; i < c->n_by_status; i++)
        if (c->by_status[i].route == route && c->by_status[i].status == status) {
            c->by_status[i].count++;
            return;
        }
    if (c->n_by_status < SRT_HTTP_MAX_STATUS_SERIES) {
        c->by_status[c->n_by_status++] = (srt_http_status_count){route, status, 1};
        return;
    }
    /* table full (cannot happen with the fixed routes and the statuses the server sends): fold into the last */
    c->by_status[SRT_HTTP_MAX_STATUS_SERIES - 1].count++;
}

void srt_http_counters_observe_ttfb(srt_http_counters *c, double seconds) {
    if (!(seconds >= 0)) seconds = 0;
    for (int b = 0; b < SRT_HTTP_TTFA_BUCKETS; b++)
        if (srt_http_ttfa_bounds[b] < 0 || seconds <= srt_http_ttfa_bounds[b]) c->ttfb_bucket[b]++;
    c->ttfb_sum_s += seconds;
    c->ttfb_count++;
}

void srt_http_counters_observe_ttfa(srt_http_counters *c, double seconds) {
    if (!(seconds >= 0)) seconds = 0;
    for (int b = 0; b < SRT_HTTP_TTFA_BUCKETS; b++)
        if (srt_http_ttfa_bounds[b] < 0 || seconds <= srt_http_ttfa_bounds[b]) c->ttfa_bucket[b]++;
    c->ttfa_sum_s += seconds;
    c->ttfa_count++;
}

void srt_http_counters_observe_rtf(srt_http_counters *c, double rtf) {
    if (!(rtf >= 0) || rtf > 1e9) return;
    c->rtf_sum += rtf;
    c->rtf_count++;
}

/* ------------------------------------------------------------------ text exposition */

typedef struct text_buf { char *s; size_t len, cap; int failed; } text_buf;

static void emit(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(text_buf *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (k < 0) { t->failed = 1; return; }
        if ((size_t)k < t->cap - t->len) { t->len += (size_t)k; return; }
        size_t cap = t->cap * 2 + (size_t)k;
        char *grown = realloc(t->s, cap);
        if (!grown) { t->failed = 1; return; }
        t->s = grown;
        t->cap = cap;
    }
}

static void family(text_buf *t, const char *name, const char *type, const char *help) {
    emit(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *srt_http_metrics_text(const srt_http_counters *c, const srt_tts_metrics *m) {
    text_buf t = {malloc(8192), 0, 8192, 0};
    if (!t.s) return NULL;
    t.s[0] = 0;

    family(&t, "snacrt_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
    for (int i = 0; i < c->n_by_status; i++)
        emit(&t, "snacrt_http_requests_total{path=\"%s\",code=\"%d\"} %lld\n",
             srt_http_route_label(c->by_status[i].route), c->by_status[i].status,
             (long long)c->by_status[i].count);
    family(&t, "snacrt_http_active_requests", "gauge", "HTTP requests being handled now.");
    emit(&t, "snacrt_http_active_requests %lld\n", (long long)c->active_requests);
    family(&t, "snacrt_http_speech_in_flight", "gauge", "Speech requests submitted to the engine and not finished.");
    emit(&t, "snacrt_http_speech_in_flight %lld\n", (long long)c->active_speech);
    family(&t, "snacrt_http_cancelled_total", "counter",
           "Speech requests the server cancelled, by reason (client_gone: the client disconnected; "
           "buffer_overflow: a streaming client fell too far behind; shutdown).");
    emit(&t, "snacrt_http_cancelled_total{reason=\"client_gone\"} %lld\n", (long long)c->cancelled_client_gone);
    emit(&t, "snacrt_http_cancelled_total{reason=\"buffer_overflow\"} %lld\n", (long long)c->cancelled_overflow);
    emit(&t, "snacrt_http_cancelled_total{reason=\"shutdown\"} %lld\n", (long long)c->cancelled_shutdown);
    family(&t, "snacrt_http_streams_backlogged_total", "counter",
           "Streaming responses whose unsent audio went over the soft buffer bound (slow clients).");
    emit(&t, "snacrt_http_streams_backlogged_total %lld\n", (long long)c->streams_backlogged);
    family(&t, "snacrt_http_rejected_full_total", "counter", "Speech requests answered 503 because the queue was full.");
    emit(&t, "snacrt_http_rejected_full_total %lld\n", (long long)c->rejected_full);
    family(&t, "snacrt_http_connections_timed_out_total", "counter",
           "Connections closed for not sending a whole request head (or body) within the deadline.");
    emit(&t, "snacrt_http_connections_timed_out_total %lld\n", (long long)c->timed_out);

    family(&t, "snacrt_time_to_first_audio_seconds", "histogram",
           "Time from receiving a speech request to its first audio samples.");
    for (int b = 0; b < SRT_HTTP_TTFA_BUCKETS; b++) {
        if (srt_http_ttfa_bounds[b] < 0)
            emit(&t, "snacrt_time_to_first_audio_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)c->ttfa_bucket[b]);
        else
            emit(&t, "snacrt_time_to_first_audio_seconds_bucket{le=\"%g\"} %lld\n", srt_http_ttfa_bounds[b],
                 (long long)c->ttfa_bucket[b]);
    }
    emit(&t, "snacrt_time_to_first_audio_seconds_sum %.6f\n", c->ttfa_sum_s);
    emit(&t, "snacrt_time_to_first_audio_seconds_count %lld\n", (long long)c->ttfa_count);
    family(&t, "snacrt_time_to_first_byte_seconds", "histogram",
           "Time from receiving a speech request to the first byte of its audio body handed to the socket "
           "(streamed: the first encoded audio; whole: the finished body).");
    for (int b = 0; b < SRT_HTTP_TTFA_BUCKETS; b++) {
        if (srt_http_ttfa_bounds[b] < 0)
            emit(&t, "snacrt_time_to_first_byte_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)c->ttfb_bucket[b]);
        else
            emit(&t, "snacrt_time_to_first_byte_seconds_bucket{le=\"%g\"} %lld\n", srt_http_ttfa_bounds[b],
                 (long long)c->ttfb_bucket[b]);
    }
    emit(&t, "snacrt_time_to_first_byte_seconds_sum %.6f\n", c->ttfb_sum_s);
    emit(&t, "snacrt_time_to_first_byte_seconds_count %lld\n", (long long)c->ttfb_count);
    family(&t, "snacrt_request_real_time_factor", "summary",
           "Audio seconds produced per wall-clock second, per finished speech request.");
    emit(&t, "snacrt_request_real_time_factor_sum %.6f\n", c->rtf_sum);
    emit(&t, "snacrt_request_real_time_factor_count %lld\n", (long long)c->rtf_count);

    family(&t, "snacrt_engine_requests_total", "counter", "Engine requests by outcome.");
    emit(&t, "snacrt_engine_requests_total{result=\"submitted\"} %lld\n", (long long)m->requests_total);
    emit(&t, "snacrt_engine_requests_total{result=\"ok\"} %lld\n", (long long)m->requests_ok);
    emit(&t, "snacrt_engine_requests_total{result=\"failed\"} %lld\n", (long long)m->requests_failed);
    emit(&t, "snacrt_engine_requests_total{result=\"cancelled\"} %lld\n", (long long)m->requests_cancelled);
    emit(&t, "snacrt_engine_requests_total{result=\"rejected\"} %lld\n", (long long)m->requests_rejected);
    family(&t, "snacrt_engine_cancelled_before_admission_total", "counter",
           "Engine requests cancelled while still queued (never admitted to the running batch).");
    emit(&t, "snacrt_engine_cancelled_before_admission_total %lld\n", (long long)m->requests_cancelled_queued);
    family(&t, "snacrt_engine_sample_steps_total", "counter",
           "Engine forward steps by where the tokens were picked (device: only ids downloaded; host: logits rows).");
    emit(&t, "snacrt_engine_sample_steps_total{where=\"device\"} %lld\n", (long long)m->sample_steps_device);
    emit(&t, "snacrt_engine_sample_steps_total{where=\"host\"} %lld\n", (long long)m->sample_steps_host);
    family(&t, "snacrt_queue_depth", "gauge", "Requests waiting for a place in the running batch.");
    emit(&t, "snacrt_queue_depth %d\n", m->queue_depth);
    family(&t, "snacrt_running", "gauge", "Requests in the running batch.");
    emit(&t, "snacrt_running %d\n", m->running);
    family(&t, "snacrt_generated_tokens_total", "counter", "Tokens sampled by the language model.");
    emit(&t, "snacrt_generated_tokens_total %lld\n", (long long)m->generated_tokens_total);
    family(&t, "snacrt_audio_samples_total", "counter", "Audio samples delivered.");
    emit(&t, "snacrt_audio_samples_total %lld\n", (long long)m->samples_total);
    family(&t, "snacrt_dropped_frames_total", "counter", "Invalid SNAC frame groups dropped.");
    emit(&t, "snacrt_dropped_frames_total %lld\n", (long long)m->dropped_frames_total);
    family(&t, "snacrt_tokens_per_second", "gauge", "Generated tokens per second over the last seconds.");
    emit(&t, "snacrt_tokens_per_second %.3f\n", m->tokens_per_s);
    family(&t, "snacrt_engine_first_audio_seconds", "gauge",
           "Engine time from submit to first audio: average and maximum over finished requests.");
    emit(&t, "snacrt_engine_first_audio_seconds{stat=\"avg\"} %.6f\n", m->first_audio_ms_avg / 1000.0);
    emit(&t, "snacrt_engine_first_audio_seconds{stat=\"max\"} %.6f\n", m->first_audio_ms_max / 1000.0);
    family(&t, "snacrt_real_time_factor", "gauge",
           "Audio seconds per wall-clock second of finished requests, averaged (engine).");
    emit(&t, "snacrt_real_time_factor %.6f\n", m->rtf_avg);
    if (t.failed) { free(t.s); return NULL; }
    return t.s;
}
