/* cmd_transcribe.c: `snacrt transcribe`: audio files -> text with a model that hears, through an ASR layout
 * (include/snacrt_chat.h): every file is a one-turn conversation (its audio), all submitted at once so they share
 * the engine's batch; a progress bar on stderr; one JSON line per file, in argument order:
 * {"file": ..., "text": ..., "tokens": N} or {"file": ..., "error": ...}. A folder argument stands for its audio
 * files (.wav .flac .mp3 .ogg .opus), sorted by name. Exit codes: 0 ok, 1 a failure (any file), 2 bad arguments. */
#include "snacrt.h"
#include "snacrt_chat.h"
#include "snacrt_audio.h"
#include "cli/cli_common.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *USAGE =
    "usage: snacrt transcribe -m LM_DIR --codec SNAC_DIR [options] FILES_OR_FOLDERS... [-o out.jsonl]\n"
    "  --layout NAME|PATH        asr (default) or another layout that answers in text\n"
    "  -o FILE                   JSON lines output (default: stdout)\n"
    "  --prompt TEXT             a text part after the audio (e.g. an instruction)\n"
    "  --max-tokens N            per file (default 256); --temperature T (default 0: greedy); --seed N\n"
    "  --max-running N           files decoded together (default 16)\n"
    "  --device NAME             cpu (default), cpu-ref, cuda, cuda:N\n"
    "  --threads N               CPU threads (default: all cores)\n";

typedef struct file_list { char **paths; int n, cap; } file_list;

static int add_path(file_list *f, const char *p) {
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 16;
        char **g = realloc(f->paths, sizeof *g * (size_t)cap);
        if (!g) return -1;
        f->paths = g;
        f->cap = cap;
    }
    return (f->paths[f->n] = strdup(p)) ? (f->n++, 0) : -1;
}

static int is_audio_name(const char *name) {
    const char *dot = strrchr(name, '.');
    static const char *const ext[] = {".wav", ".flac", ".mp3", ".ogg", ".opus"};
    for (int i = 0; dot && i < 5; i++) if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A file, or a folder's audio files sorted by name. */
static int add_arg(file_list *f, const char *arg) {
    struct stat sb;
    if (stat(arg, &sb) || !S_ISDIR(sb.st_mode)) return add_path(f, arg);
    DIR *d = opendir(arg);
    if (!d) return add_path(f, arg);
    int first = f->n;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && is_audio_name(de->d_name)) {
            size_t len = strlen(arg) + strlen(de->d_name) + 2;
            char *p = malloc(len);
            if (p) snprintf(p, len, "%s/%s", arg, de->d_name);
            int bad = !p || add_path(f, p);
            free(p);
            if (bad) { closedir(d); return -1; }
        }
    closedir(d);
    qsort(f->paths + first, (size_t)(f->n - first), sizeof *f->paths, cmp_str);
    return 0;
}

static void progress(void *user, int index, const srt_chat_result *r) {
    int *done = user;
    (void)index; (void)r;
    ++done[0];
    fprintf(stderr, "\rtranscribe: %d/%d files", done[0], done[1]);
    if (done[0] == done[1]) fprintf(stderr, "\n");
}

int srt_cmd_transcribe(int argc, char **argv) {
    const char *lm_dir = NULL, *codec_dir = NULL, *layout = "asr", *out = NULL, *device = NULL, *prompt = NULL;
    int threads = 0, max_running = 16;
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 0;
    sp.max_tokens = 256;
    file_list files = {0};
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        if (a[0] != '-' || !a[1]) {
            if (add_arg(&files, a)) return cli_fail("transcribe", srt_error(SRT_ERR_NOMEM, "out of memory"));
            continue;
        }
        const char *flags[] = {"-m", "--model", "--codec", "--layout", "-o", "--output", "--prompt", "--max-tokens",
                               "--temperature", "--seed", "--max-running", "--device", "--threads"};
        int f = -1;
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]) && f < 0; k++)
            if (cli_flag_value(argc, argv, &i, flags[k], &val)) f = k;
        if (f < 0) return cli_unknown_option("transcribe", USAGE, a);
        if (!val) return cli_usage_error("transcribe", USAGE, "%s needs a value", a);
        int bad = 0;
        switch (f) {
        case 0: case 1: lm_dir = val; break;
        case 2: codec_dir = val; break;
        case 3: layout = val; break;
        case 4: case 5: out = val; break;
        case 6: prompt = val; break;
        case 7: bad = cli_parse_int(val, 1, 1 << 20, &v); sp.max_tokens = (int)v; break;
        case 8: bad = cli_parse_float(val, &sp.temperature) || sp.temperature < 0; break;
        case 9: bad = cli_parse_int(val, 0, INT64_MAX, &v); sp.seed = (uint64_t)v; break;
        case 10: bad = cli_parse_int(val, 1, 4096, &v); max_running = (int)v; break;
        case 11: device = val; break;
        case 12: bad = cli_parse_int(val, 1, 1024, &v); threads = (int)v; break;
        }
        if (bad) return cli_usage_error("transcribe", USAGE, "bad value for %s: '%s'", a, val);
    }
    if (!lm_dir || !codec_dir) return cli_usage_error("transcribe", USAGE, "need -m LM_DIR and --codec SNAC_DIR");
    if (!files.n) return cli_usage_error("transcribe", USAGE, "need audio files or folders");
    if (cli_check_model_dir("transcribe", "-m", lm_dir, CLI_DIR_LM) ||
        cli_check_model_dir("transcribe", "--codec", codec_dir, CLI_DIR_SNAC) ||
        (out && cli_check_output_parent("transcribe", "-o", out)))
        return 1;
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = lm_dir;
    cfg.codec_dir = codec_dir;
    cfg.layout = layout;
    cfg.backend = device;
    cfg.n_threads = threads;
    cfg.max_running = max_running;
    cfg.max_queue = files.n > 256 ? files.n : 256;
    cfg.sampling = sp;
    srt_tts_engine *e = NULL;
    srt_status st = srt_tts_engine_create(&cfg, &e);
    int n = files.n;
    srt_chat_input_part *parts = calloc((size_t)n * 2, sizeof *parts);
    srt_chat_message *turns = calloc((size_t)n, sizeof *turns);
    srt_chat_request *reqs = calloc((size_t)n, sizeof *reqs);
    srt_chat_result *res = calloc((size_t)n, sizeof *res);
    char **read_error = calloc((size_t)n, sizeof *read_error);
    int *index = calloc((size_t)n, sizeof *index), n_req = 0;
    if (st == SRT_OK && (!parts || !turns || !reqs || !res || !read_error || !index))
        st = srt_error(SRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == SRT_OK; i++) {
        srt_audio_source_info info;
        float *pcm = NULL;
        int64_t ns = 0;
        if (srt_audio_read(files.paths[i], 0, &pcm, &ns, &info) != SRT_OK) {
            read_error[i] = strdup(srt_last_error());
            continue;
        }
        srt_chat_input_part *p = parts + 2 * n_req;
        p[0] = (srt_chat_input_part){NULL, pcm, ns, info.sample_rate};
        p[1] = (srt_chat_input_part){prompt, NULL, 0, 0};
        turns[n_req] = (srt_chat_message){SRT_CHAT_USER, p, prompt ? 2 : 1};
        reqs[n_req] = (srt_chat_request){.turns = &turns[n_req], .n_turns = 1, .modalities = SRT_CHAT_TEXT,
                                         .sampling = &sp};
        index[n_req++] = i;
    }
    int counts[2] = {0, n_req};
    if (st == SRT_OK && n_req) st = srt_chat_run(e, n_req, reqs, res, progress, counts);
    int failed = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = st == SRT_OK ? open_memstream(&text, &len) : NULL;
    for (int i = 0, k = 0; mem && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", files.paths[i]);
        if (read_error[i]) { cJSON_AddStringToObject(o, "error", read_error[i]); failed++; }
        else {
            srt_chat_result *r = &res[k++];
            if (r->status != SRT_OK) { cJSON_AddStringToObject(o, "error", r->error); failed++; }
            else {
                cJSON_AddStringToObject(o, "text", r->text ? r->text : "");
                cJSON_AddNumberToObject(o, "tokens", (double)(r->stats.text_tokens + r->stats.audio_tokens));
                cJSON_AddStringToObject(o, "finish", r->stats.finish == SRT_FINISH_STOP ? "stop" : "length");
            }
        }
        char *line = cJSON_PrintUnformatted(o);
        if (line) fprintf(mem, "%s\n", line);
        free(line);
        cJSON_Delete(o);
    }
    if (mem) {
        fclose(mem);
        st = cli_write_output(out, text, len);
    }
    free(text);
    for (int k = 0; k < n_req; k++) { free((float *)parts[2 * k].pcm); srt_chat_result_free(&res[k]); }
    for (int i = 0; i < n; i++) { free(read_error ? read_error[i] : NULL); free(files.paths[i]); }
    free(files.paths); free(parts); free(turns); free(reqs); free(res); free(read_error); free(index);
    srt_tts_engine_free(e);
    if (st != SRT_OK) return cli_fail("transcribe", st);
    if (failed) fprintf(stderr, "snacrt transcribe: %d of %d files failed\n", failed, n);
    return failed ? 1 : 0;
}
