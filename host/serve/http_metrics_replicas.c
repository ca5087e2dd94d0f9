/* http_metrics_replicas.c: the per-replica part of /metrics when the engine runs data-parallel replicas
 * (srt_tts_config.devices / replicas): each family labelled {replica="K",devices="cuda:2-3"}; the unlabelled engine
 * families of http_metrics.c stay the totals over all replicas. Nothing is added for an engine without replicas. */
#include "serve/http_server.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *state_name(srt_tts_replica_state s) {
    switch (s) {
    case SRT_TTS_REPLICA_UP: return "up";
    case SRT_TTS_REPLICA_DRAINING: return "draining";
    case SRT_TTS_REPLICA_RESTARTING: return "restarting";
    default: return "down";
    }
}

typedef struct family_def { const char *name, *type, *help; } family_def;

static const family_def kFamilies[] = {
    {"snacrt_replica_up", "gauge", "1 while the replica takes requests (0: draining, restarting or down)."},
    {"snacrt_replica_state", "gauge", "The replica's state, as a label (value 1)."},
    {"snacrt_replica_requests_total", "counter", "Requests the replica's engine accepted."},
    {"snacrt_replica_requests_failed_total", "counter", "Requests the replica's engine ended with an error."},
    {"snacrt_replica_running", "gauge", "Streams the replica generates now."},
    {"snacrt_replica_queue_depth", "gauge", "Requests waiting in the replica's queue."},
    {"snacrt_replica_active_requests", "gauge", "Requests the router sent to the replica and not finished."},
    {"snacrt_replica_kv_demand_tokens", "gauge", "KV tokens the router counts as taken on the replica."},
    {"snacrt_replica_kv_capacity_tokens", "gauge", "KV tokens of the replica's cache."},
    {"snacrt_replica_generated_tokens_total", "counter", "Tokens the replica generated."},
    {"snacrt_replica_tokens_per_second", "gauge", "The replica's generation rate over the last ~10 s."},
    {"snacrt_replica_failures_total", "counter", "Times the replica failed and was drained."},
    {"snacrt_replica_restarts_total", "counter", "Times the replica was reloaded after a failure."},
    {"snacrt_replica_requests_cancelled_total", "counter",
     "Requests the replica's engine ended cancelled (e.g. the client went away)."},
};

char *srt_http_metrics_append_replicas(char *text, srt_tts_engine *engine) {
    int n = srt_tts_replica_count(engine);
    if (!text || n <= 0) return text;
    srt_tts_replica_info *info = calloc((size_t)n, sizeof *info);
    if (!info) return text;
    for (int k = 0; k < n; k++) srt_tts_get_replica_info(engine, k, &info[k]);
    size_t len = strlen(text), cap = len + 4096 + (size_t)n * 2048;
    char *out = realloc(text, cap);
    if (!out) { free(info); return text; }
    int nf = (int)(sizeof kFamilies / sizeof kFamilies[0]);
    for (int f = 0; f < nf; f++) {
        len += (size_t)snprintf(out + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n", kFamilies[f].name,
                                kFamilies[f].help, kFamilies[f].name, kFamilies[f].type);
        for (int k = 0; k < n; k++) {
            const srt_tts_replica_info *r = &info[k];
            const srt_tts_metrics *m = &r->metrics;
            char labels[128];
            snprintf(labels, sizeof labels, "replica=\"%d\",devices=\"%s\"", k, r->devices);
            double v = 0;
            switch (f) {
            case 0: v = r->state == SRT_TTS_REPLICA_UP; break;
            case 1: len += (size_t)snprintf(out + len, cap - len, "%s{%s,state=\"%s\"} 1\n", kFamilies[f].name, labels,
                                            state_name(r->state));
                    continue;
            case 2: v = (double)m->requests_total; break;
            case 3: v = (double)m->requests_failed; break;
            case 4: v = m->running; break;
            case 5: v = m->queue_depth; break;
            case 6: v = r->active; break;
            case 7: v = (double)r->kv_demand_tokens; break;
            case 8: v = (double)r->kv_capacity_tokens; break;
            case 9: v = (double)m->generated_tokens_total; break;
            case 10: v = m->tokens_per_s; break;
            case 11: v = (double)r->failures; break;
            case 12: v = (double)r->restarts; break;
            default: v = (double)m->requests_cancelled; break;
            }
            len += (size_t)snprintf(out + len, cap - len, "%s{%s} %.10g\n", kFamilies[f].name, labels, v);
        }
    }
    free(info);
    return out;
}
