/* ds_run_devices.c: the tokenizer's encoder workers from --device, one codec each:
 *   "cpu", "cpu-ref", "cuda:N"    one worker (the cpu backend uses all cores, or n_threads);
 *   "cuda"                        one worker per visible device: cuda:0, cuda:1, ... until the backend reports no
 *                                 such device (the simulator build has one simulated device);
 *   a comma list                  one worker per element: "cuda:0,2" (bare numbers continue the cuda list),
 *                                 "cuda:0,cuda:1", or "cpu,cpu" (two CPU workers, e.g. with --threads 1 each). */
#include "dataset/ds_pipeline_internal.h"
#include "common.h"
#include <ctype.h>
#include <string.h>

#define DS_MAX_WORKERS 16

static srt_status load_one(const char *model_dir, const char *name, int n_threads, const char *precision,
                           ds_worker *w) {
    memset(w, 0, sizeof *w);
    srt_codec_options opts = {.backend = name, .n_threads = n_threads, .precision = precision};
    SRT_TRY(srt_codec_load(model_dir, &opts, &w->codec));
    snprintf(w->stats.device, sizeof w->stats.device, "%s", name);
    w->stats.device_busy_seconds = strncmp(name, "cuda", 4) ? -1 : 0;   /* cpu: no device timer */
    return SRT_OK;
}

void ds_workers_free(ds_worker *w, int n) {
    if (!w) return;
    for (int i = 0; i < n; i++) srt_codec_free(w[i].codec);
    free(w);
}

srt_status ds_workers_load(const char *model_dir, const char *device, int n_threads, const char *precision,
                           ds_worker **out, int *n_out) {
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
            st = load_one(model_dir, name, n_threads, precision, &w[n]);
            if (st == SRT_ERR_NO_DEVICE && d > 0) { st = SRT_OK; srt_clear_error(); break; }
            if (st != SRT_OK) break;
            n++;
        }
    } else {
        const char *s = device;
        int last_cuda = 0;
        while (st == SRT_OK) {
            const char *end = strchr(s, ',');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            char name[32];
            if (len == 0 || len >= 24) {
                st = srt_error(SRT_ERR_INVALID_ARG, "--device %s: empty or overlong element", device);
                break;
            }
            if (isdigit((unsigned char)s[0]) && last_cuda) snprintf(name, sizeof name, "cuda:%.*s", (int)len, s);
            else snprintf(name, sizeof name, "%.*s", (int)len, s);
            last_cuda = !strncmp(name, "cuda", 4);
            if (n == DS_MAX_WORKERS) {
                st = srt_error(SRT_ERR_RANGE, "--device %s: at most %d encoder workers", device, DS_MAX_WORKERS);
                break;
            }
            st = load_one(model_dir, name, n_threads, precision, &w[n]);
            if (st == SRT_OK) n++;
            if (!end) break;
            s = end + 1;
        }
    }
    if (st != SRT_OK) { ds_workers_free(w, n); return st; }
    *out = w;
    *n_out = n;
    return SRT_OK;
}
