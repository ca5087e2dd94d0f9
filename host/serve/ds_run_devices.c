/* ds_run_devices.c: the tokenizer's encoder workers from --device: "cpu" / "cpu-ref" one worker (the cpu backend
 * uses all cores, or n_threads), "cuda" one worker per visible device (cuda:0, cuda:1, ... until the backend says
 * there is no such device; with the simulator build that is the one simulated device), "cuda:0,2" the listed
 * devices. Each worker loads its own codec. */
#include "serve/ds_pipeline_internal.h"
#include "common.h"
#include <string.h>

#define DS_MAX_WORKERS 16

static srt_status load_one(const char *model_dir, const char *name, int n_threads, ds_worker *w) {
    memset(w, 0, sizeof *w);
    srt_codec_options opts = {.backend = name, .n_threads = n_threads};
    SRT_TRY(srt_codec_load(model_dir, &opts, &w->codec));
    snprintf(w->stats.device, sizeof w->stats.device, "%s", name);
    return SRT_OK;
}

void ds_workers_free(ds_worker *w, int n) {
    for (int i = 0; i < n; i++) srt_codec_free(w[i].codec);
    free(w);
}

srt_status ds_workers_load(const char *model_dir, const char *device, int n_threads, ds_worker **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    ds_worker *w = srt_calloc(DS_MAX_WORKERS, sizeof *w, "encoder workers");
    if (!w) return SRT_ERR_NOMEM;
    int n = 0;
    srt_status st = SRT_OK;
    if (!strcmp(device, "cuda")) {
        for (int d = 0; d < DS_MAX_WORKERS; d++) {
            char name[32];
            snprintf(name, sizeof name, "cuda:%d", d);
            st = load_one(model_dir, name, n_threads, &w[n]);
            if (st == SRT_ERR_NO_DEVICE && d > 0) { st = SRT_OK; srt_clear_error(); break; }
            if (st != SRT_OK) break;
            n++;
        }
    } else if (!strncmp(device, "cuda:", 5) && strchr(device, ',')) {
        const char *s = device + 5;
        while (st == SRT_OK && *s) {
            char *end = NULL;
            long d = strtol(s, &end, 10);
            if (end == s || d < 0 || d > 1024 || (*end && *end != ',')) {
                st = srt_error(SRT_ERR_INVALID_ARG, "--device %s: expected cuda:N,M,...", device);
                break;
            }
            if (n == DS_MAX_WORKERS) { st = srt_error(SRT_ERR_RANGE, "--device %s: at most %d devices", device, DS_MAX_WORKERS); break; }
            for (int i = 0; i < n && st == SRT_OK; i++)
                if (atoi(w[i].stats.device + 5) == (int)d)
                    st = srt_error(SRT_ERR_INVALID_ARG, "--device %s: cuda:%ld listed twice", device, d);
            char name[32];
            snprintf(name, sizeof name, "cuda:%ld", d);
            if (st == SRT_OK) st = load_one(model_dir, name, n_threads, &w[n]);
            if (st == SRT_OK) n++;
            s = *end ? end + 1 : end;
        }
    } else {
        st = load_one(model_dir, device, n_threads, &w[0]);
        if (st == SRT_OK) n = 1;
    }
    if (st != SRT_OK) { ds_workers_free(w, n); return st; }
    *out = w;
    *n_out = n;
    return SRT_OK;
}
