/* cmd_tts.c: `snacrt tts`: text -> speech through the engine (include/snacrt_tts.h).
 *   snacrt tts -m LM --codec SNAC [options] TEXT (-o out.wav | --stream)   one request; --stream writes raw s16le
 *                                                                        PCM to stdout as it is generated
 *   snacrt tts -m LM --codec SNAC [options] --input prompts.jsonl -o DIR  a batch: one JSON object per line
 *                     {"text", "voice", "id", "seed"} -> DIR/<id>.wav, a progress bar on stderr, DIR/summary.json;
 *                     each file is written as DIR/.partial-<id>.wav and renamed when whole, then its id is appended
 *                     (fsynced) to the done-log DIR/done-wI-ofN.log; --resume skips the ids logged there (kill -9
 *                     safe); --shard-index I --num-shards N takes lines j with j mod N = I (Slurm arrays);
 *                     --devices / --tp / --replicas spread the items over engine replicas (same output: every item
 *                     is seeded, by its "seed" or --seed, whatever replica or batch it lands in); under mpirun /
 *                     srun each process takes its node-local share of --devices and its world rank's shard
 *                     (srt_launch_place_from_env)
 * Exit codes: 0 ok, 1 a failure (model, I/O, a failed request or a bad jsonl line), 2 bad arguments. */
#include "snacrt.h"
#include "snacrt_tts.h"
#include "snacrt_audio.h"
#include "cli/cli_common.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "usage: snacrt tts -m LM_DIR --codec SNAC_DIR [options] TEXT (-o out.wav | --stream)\n"
    "       snacrt tts -m LM_DIR --codec SNAC_DIR [options] --input prompts.jsonl -o OUTDIR\n"
    "  --voice NAME              voice of the layout (orpheus: tara, leah, jess, leo, dan, mia, zac, zoe)\n"
    "  --layout NAME|PATH        token layout: orpheus, laion-flat or a .json file (default: the model folder's\n"
    "                            snacrt_layout.json, else orpheus)\n"
    "  -o PATH                   output .wav/.flac (single) or directory (--input)\n"
    "  --stream                  raw 16-bit little-endian mono PCM at the codec rate to stdout, as generated\n"
    "  --input FILE.jsonl        batch: lines {\"text\": ..., \"voice\": ..., \"id\": ..., \"seed\": ...}\n"
    "  --audio FILE              audio prompt, encoded into the layout's audio slot\n"
    "  --instructions TEXT       how to speak, placed where the layout has a slot (spoken-chat: a system turn;\n"
    "                            others: ignored, said on stderr; layouts/README.md)\n"
    "  --speed X                 time-stretch 0.25 .. 4 without pitch change (libsonic; --stream too)\n"
    "  --audio-text TEXT         transcript of --audio: voice cloning, the clip and its transcript placed as a\n"
    "                            prior turn (the layout's \"clone\" section; orpheus has one)\n"
    "  --seed S --temperature T --top-p P --top-k K --repetition-penalty R --max-tokens N\n"
    "                            sampling (defaults: 0, 0.6, 0.8, off, 1.1, 1200)\n"
    "  --max-running N           streams generated together (default 16)\n"
    "  --device cpu|cpu-ref|cuda[:N]  --threads N\n"
    "  --lm-precision bf16|exact  the LM on bf16 weights (cpu, cuda): bf16 activations (default) or f32-level\n"
    "  --lm-weights stored|int8   LM Linear weights as stored or int8 per channel (cpu-ref, cuda)\n"
    "  --devices LIST --tp N --replicas N   replicas over devices (cuda:0-3: each --tp consecutive devices one\n"
    "                            replica, tensor parallel) or CPU thread groups (cpu --replicas N)\n"
    "  --resume                  (--input) skip the items in OUTDIR's done-log of this shard\n"
    "  --shard-index I --num-shards N   (--input) be worker I of N: lines j with j mod N = I (default 0 of 1;\n"
    "                            under mpirun / srun: the process's world rank of the world size)\n"
    "  under mpirun / srun (--input) --devices lists the GPUs of a node: each process takes its share by its\n"
    "  node-local rank (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID of the local size)\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* One request's output, filled by the engine thread's callback. */
typedef struct job {
    char *id;
    srt_audio_writer *writer;     /* file output, or NULL with to_stdout */
    int to_stdout;
    char *path;
    char *final_path;             /* batch items: path is the partial file, renamed to final_path when whole */
    int done;
    srt_status status;
    char error[512];
    srt_tts_stats stats;
    srt_status write_status;
    srt_audio_speed *speed;       /* --speed != 1: time-stretch before writing (engine thread) */
} job;

typedef struct runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_done, n_failed, n_total, progress;
} runner;

static runner R = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

static void draw_progress(void) {
    if (!R.progress) return;
    int width = 30, filled = R.n_total ? R.n_done * width / R.n_total : 0;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : ' ', stderr);
    fprintf(stderr, "] %d/%d done, %d failed", R.n_done, R.n_total, R.n_failed);
    if (R.n_done == R.n_total) fputc('\n', stderr);
    fflush(stderr);
}

static int on_audio(void *user, const float *pcm, int64_t n, int done, srt_status status, const srt_tts_stats *st) {
    job *j = user;
    int cancel = 0;
    if (j->speed && j->write_status == SRT_OK &&          /* the stretched samples replace the engine's */
        (j->write_status = srt_audio_speed_push(j->speed, pcm, n > 0 && pcm ? n : 0, done && status == SRT_OK, &pcm,
                                                &n)) != SRT_OK) {
        snprintf(j->error, sizeof j->error, "%s", srt_last_error());
        cancel = 1;
    }
    if (n > 0 && j->write_status == SRT_OK) {
        if (j->to_stdout) {
            uint8_t *buf = malloc((size_t)n * 2);
            if (!buf || fwrite(buf ? (srt_audio_encode_s16le(pcm, n, buf), buf) : buf, 2, (size_t)n, stdout) !=
                            (size_t)n || fflush(stdout)) {
                j->write_status = SRT_ERR_IO;
                snprintf(j->error, sizeof j->error, "cannot write to standard output: %s", strerror(errno));
                cancel = 1;
            }
            free(buf);
        } else if ((j->write_status = srt_audio_write_append(j->writer, pcm, n)) != SRT_OK) {
            snprintf(j->error, sizeof j->error, "%s", srt_last_error());
            cancel = 1;
        }
    }
    if (done) {
        pthread_mutex_lock(&R.mu);
        j->done = 1;
        j->status = status;
        if (status != SRT_OK && !j->error[0]) snprintf(j->error, sizeof j->error, "%s", srt_last_error());
        if (st) j->stats = *st;
        R.n_done++;
        if (status != SRT_OK || j->write_status != SRT_OK) R.n_failed++;
        draw_progress();
        pthread_cond_broadcast(&R.cv);
        pthread_mutex_unlock(&R.mu);
    }
    return cancel;
}

/* --speed other than 1: the job's time-stretcher. */
static srt_status open_speed(double speed, srt_tts_engine *e, job *j) {
    if (!speed || speed == 1.0) return SRT_OK;
    return srt_audio_speed_open(srt_tts_sample_rate(e), speed, &j->speed);
}

/* Close a finished job's file: keep it when everything went well (a batch item's partial file renamed to its
 * final name), remove it otherwise. Returns 0 when ok. */
static int finish_job(job *j) {
    int ok = j->status == SRT_OK && j->write_status == SRT_OK;
    srt_audio_speed_free(j->speed);
    j->speed = NULL;
    if (j->writer) {
        srt_status st = srt_audio_write_close(j->writer);
        j->writer = NULL;
        if (ok && st != SRT_OK) { ok = 0; snprintf(j->error, sizeof j->error, "%s", srt_last_error()); }
        if (ok && j->final_path && rename(j->path, j->final_path)) {
            ok = 0;
            snprintf(j->error, sizeof j->error, "%s: cannot rename to %s: %s", j->path, j->final_path, strerror(errno));
        }
        if (!ok) remove(j->path);
    }
    return ok ? 0 : -1;
}

typedef struct options {
    const char *lm_dir, *codec_dir, *voice, *layout, *out, *input, *audio, *device, *text, *devices;
    const char *audio_text, *instructions, *lm_precision, *lm_weights;
    int stream, threads, max_running, tp, replicas, resume, shard_index, num_shards;
    double speed;
    int shards_given;                 /* --num-shards on the command line (else a launcher's world) */
    char local_devices[512];          /* under a launcher: this process's share of --devices */
    srt_sampling_params sp;
} options;

static int parse_args(int argc, char **argv, options *o) {
    long long v;
    float fval = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return -1; }
        if (!strcmp(a, "--stream")) { o->stream = 1; continue; }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (a[0] != '-' || !a[1]) {
            if (o->text) return cli_usage_error("tts", USAGE, "more than one TEXT argument ('%s')", a);
            o->text = a;
            continue;
        }
        const char *flags[] = {"-m", "--model", "--codec", "--voice", "--layout", "-o", "--output", "--input",
                               "--audio", "--device", "--seed", "--temperature", "--top-p", "--top-k",
                               "--repetition-penalty", "--max-tokens", "--threads", "--max-running", "--devices",
                               "--tp", "--replicas", "--shard-index", "--num-shards", "--audio-text",
                               "--speed", "--instructions", "--lm-precision", "--lm-weights"};
        int f = -1;
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]) && f < 0; k++)
            if (cli_flag_value(argc, argv, &i, flags[k], &val)) f = k;
        if (f < 0) return cli_unknown_option("tts", USAGE, a);
        if (!val) return cli_usage_error("tts", USAGE, "%s needs a value", a);
        int bad = 0;
        switch (f) {
        case 0: case 1: o->lm_dir = val; break;
        case 2: o->codec_dir = val; break;
        case 3: o->voice = val; break;
        case 4: o->layout = val; break;
        case 5: case 6: o->out = val; break;
        case 7: o->input = val; break;
        case 8: o->audio = val; break;
        case 9: o->device = val; break;
        case 10: bad = cli_parse_int(val, 0, INT64_MAX, &v); o->sp.seed = (uint64_t)v; break;
        case 11: bad = cli_parse_float(val, &o->sp.temperature) || o->sp.temperature < 0; break;
        case 12: bad = cli_parse_float(val, &o->sp.top_p) || o->sp.top_p < 0 || o->sp.top_p > 1; break;
        case 13: bad = cli_parse_int(val, 0, 1 << 20, &v); o->sp.top_k = (int)v; break;
        case 14: bad = cli_parse_float(val, &o->sp.repetition_penalty) || o->sp.repetition_penalty <= 0; break;
        case 15: bad = cli_parse_int(val, 1, 1 << 20, &v); o->sp.max_tokens = (int)v; break;
        case 16: bad = cli_parse_int(val, 1, 1024, &v); o->threads = (int)v; break;
        case 17: bad = cli_parse_int(val, 1, 4096, &v); o->max_running = (int)v; break;
        case 18: o->devices = val; bad = !*val; break;
        case 19: bad = cli_parse_int(val, 1, 64, &v); o->tp = (int)v; break;
        case 20: bad = cli_parse_int(val, 1, 64, &v); o->replicas = (int)v; break;
        case 21: bad = cli_parse_int(val, 0, 99998, &v); o->shard_index = (int)v; break;
        case 22: bad = cli_parse_int(val, 1, 99999, &v); o->num_shards = (int)v; break;
        case 23: o->audio_text = val; break;
        case 24: bad = cli_parse_float(val, &fval) || !(fval >= SRT_SPEED_MIN && fval <= SRT_SPEED_MAX);
                 o->speed = fval;
                 if (bad) return cli_usage_error("tts", USAGE, "--speed must be a number in %g .. %g, not '%s'",
                                                 SRT_SPEED_MIN, SRT_SPEED_MAX, val);
                 break;
        case 25: o->instructions = val; break;
        case 26: o->lm_precision = val; bad = cli_check_lm_precision(val); break;
        case 27: o->lm_weights = val; bad = cli_check_lm_weights(val); break;
        }
        if (bad) return cli_usage_error("tts", USAGE, "bad value for %s: '%s'", a, val);
    }
    if (!o->lm_dir || !o->codec_dir) return cli_usage_error("tts", USAGE, "need -m LM_DIR and --codec SNAC_DIR");
    if (o->audio_text && !o->audio)
        return cli_usage_error("tts", USAGE, "--audio-text is the transcript of a reference clip: it needs --audio FILE");
    if (o->input) {
        if (o->text || o->stream || o->audio)
            return cli_usage_error("tts", USAGE, "--input takes no TEXT, --stream, --audio or --audio-text");
        if (!o->out) return cli_usage_error("tts", USAGE, "--input needs -o OUTDIR");
        o->shards_given = o->num_shards > 0;
        if (!o->num_shards) o->num_shards = 1;
        if (o->shard_index >= o->num_shards) return cli_usage_error("tts", USAGE, "--shard-index must be < --num-shards");
    } else {
        if (o->resume || o->num_shards) return cli_usage_error("tts", USAGE, "--resume and --num-shards need --input");
        if (!o->text) return cli_usage_error("tts", USAGE, "need a TEXT (or --input FILE.jsonl)");
        if (!o->stream == !o->out) return cli_usage_error("tts", USAGE, "need exactly one of -o FILE and --stream");
    }
    return 0;
}

/* Under mpirun / srun (--input): this process takes its node-local share of --devices and, unless --num-shards
 * says otherwise, the shard of its world rank. */
static srt_status apply_launcher(options *o) {
    srt_launch_place p;
    srt_status st = srt_launch_place_from_env(&p);
    if (st != SRT_OK || !p.found) return st;
    if (!o->shards_given) {
        o->shard_index = p.world_rank;
        o->num_shards = p.world_size;
    }
    if (o->devices && p.local_size > 1) {
        st = srt_launch_local_devices(o->devices, o->tp, p.local_rank, p.local_size, o->local_devices,
                                      sizeof o->local_devices);
        if (st != SRT_OK) return st;
        o->devices = o->local_devices;
    }
    fprintf(stderr, "snacrt tts: launcher (%s): process %d of %d, %d of %d on its node: devices %s, shard %d of %d\n",
            p.source, p.world_rank, p.world_size, p.local_rank, p.local_size, o->devices ? o->devices : "(--device)",
            o->shard_index, o->num_shards);
    return SRT_OK;
}

static srt_status start_engine(const options *o, srt_tts_engine **e) {
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = o->lm_dir;
    cfg.codec_dir = o->codec_dir;
    cfg.layout = o->layout;
    cfg.backend = o->device;
    cfg.n_threads = o->threads;
    cfg.lm_precision = o->lm_precision;
    cfg.lm_weights = o->lm_weights;
    cfg.devices = o->devices;
    cfg.tp = o->tp;
    cfg.replicas = o->replicas;
    if (o->max_running) cfg.max_running = o->max_running;
    cfg.sampling = o->sp;
    return srt_tts_engine_create(&cfg, e);
}

static cJSON *summary_json(job *jobs, int n, double wall_ms, int sample_rate, int lookahead) {
    int64_t samples = 0, tokens = 0, dropped = 0, frames = 0, prompt = 0;
    double fa_sum = 0, fa_max = 0;
    int ok = 0, fa_n = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].status == SRT_OK && jobs[i].write_status == SRT_OK && jobs[i].done) ok++;
        samples += jobs[i].stats.samples;
        tokens += jobs[i].stats.generated_tokens;
        prompt += jobs[i].stats.prompt_tokens;
        dropped += jobs[i].stats.dropped_frames;
        frames += jobs[i].stats.frames;
        if (jobs[i].stats.samples > 0) {
            fa_sum += jobs[i].stats.first_audio_ms;
            fa_n++;
            if (jobs[i].stats.first_audio_ms > fa_max) fa_max = jobs[i].stats.first_audio_ms;
        }
    }
    double audio_s = (double)samples / sample_rate, wall_s = wall_ms / 1000.0;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "requests", n);
    cJSON_AddNumberToObject(j, "ok", ok);
    cJSON_AddNumberToObject(j, "failed", n - ok);
    cJSON_AddNumberToObject(j, "audio_seconds", audio_s);
    cJSON_AddNumberToObject(j, "wall_seconds", wall_s);
    cJSON_AddNumberToObject(j, "real_time_factor", audio_s > 0 ? wall_s / audio_s : 0);   /* < 1: faster than real time */
    cJSON_AddNumberToObject(j, "x_real_time", wall_s > 0 ? audio_s / wall_s : 0);
    cJSON_AddNumberToObject(j, "first_audio_ms_avg", fa_n ? fa_sum / fa_n : 0);
    cJSON_AddNumberToObject(j, "first_audio_ms_max", fa_max);
    cJSON_AddNumberToObject(j, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(j, "generated_tokens", (double)tokens);
    cJSON_AddNumberToObject(j, "tokens_per_s", wall_s > 0 ? tokens / wall_s : 0);
    cJSON_AddNumberToObject(j, "frames", (double)frames);
    cJSON_AddNumberToObject(j, "dropped_frames", (double)dropped);
    cJSON_AddNumberToObject(j, "lookahead_frames", lookahead);
    return j;
}

static void print_json(FILE *f, cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    fprintf(f, "%s\n", s ? s : "{}");
    free(s);
}

static void wait_done(job *j) {
    pthread_mutex_lock(&R.mu);
    while (!j->done) pthread_cond_wait(&R.cv, &R.mu);
    pthread_mutex_unlock(&R.mu);
}

static int run_single(const options *o, srt_tts_engine *e) {
    float *audio = NULL;
    int64_t n_audio = 0;
    srt_audio_source_info info = {0};
    if (o->audio) {
        srt_status st = srt_audio_read(o->audio, 0, &audio, &n_audio, &info);
        if (st != SRT_OK) return cli_fail("tts", st);
    }
    job j = {.to_stdout = o->stream, .path = (char *)o->out};
    if (!o->stream) {
        srt_status st = srt_audio_write_open(o->out, srt_tts_sample_rate(e), SRT_AUDIO_S16, &j.writer);
        if (st != SRT_OK) { free(audio); return cli_fail("tts", st); }
    }
    srt_status sst = open_speed(o->speed, e, &j);
    if (sst != SRT_OK) {
        free(audio);
        if (j.writer) { srt_audio_write_close(j.writer); remove(o->out); }
        return cli_fail("tts", sst);
    }
    double t0 = now_ms();
    srt_tts_request req = {.text = o->text, .voice = o->voice, .sampling = &o->sp, .audio_in = audio,
                           .n_audio_in = n_audio, .audio_in_rate = info.sample_rate,
                           .audio_text = o->audio_text, .instructions = o->instructions};
    if (o->instructions && o->instructions[0] && !srt_tts_takes_instructions(e, o->audio_text != NULL))
        fprintf(stderr, "snacrt tts: note: --instructions ignored: the layout has no slot for them%s\n",
                o->audio_text ? " in a voice-cloning prompt" : "");
    srt_status st = srt_tts_submit(e, &req, on_audio, &j, NULL);
    free(audio);
    if (st != SRT_OK) {
        srt_audio_speed_free(j.speed);
        if (j.writer) { srt_audio_write_close(j.writer); remove(o->out); }
        return cli_fail("tts", st);
    }
    wait_done(&j);
    int rc = finish_job(&j);
    if (rc) { fprintf(stderr, "snacrt tts: %s\n", j.error[0] ? j.error : srt_status_name(j.status)); return 1; }
    cJSON *sum = summary_json(&j, 1, now_ms() - t0, srt_tts_sample_rate(e), srt_tts_lookahead(e));
    print_json(stderr, sum);
    cJSON_Delete(sum);
    return 0;
}

/* An id usable as a file name. */
static int id_ok(const char *id) {
    if (!id[0] || id[0] == '.' || strlen(id) > 200) return 0;
    for (const char *p = id; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 32) return 0;
    return 1;
}

/* Parse and submit one jsonl line; 0 ok, -1 a bad line (reported). Submits wait while the queue is full. */
static int submit_line(const options *o, srt_tts_engine *e, const char *line, int lineno, job *j, char **seen_ids,
                       int n_seen, char **done_ids, int n_done) {
    cJSON *root = cJSON_Parse(line);
    const char *why = NULL;
    char msg[600];
    const cJSON *text = NULL, *voice = NULL, *id = NULL, *seed = NULL;
    if (!cJSON_IsObject(root)) why = "not a JSON object";
    else {
        text = cJSON_GetObjectItemCaseSensitive(root, "text");
        voice = cJSON_GetObjectItemCaseSensitive(root, "voice");
        id = cJSON_GetObjectItemCaseSensitive(root, "id");
        seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
        if (!cJSON_IsString(text)) why = "\"text\" must be a string";
        else if (voice && !cJSON_IsNull(voice) && !cJSON_IsString(voice)) why = "\"voice\" must be a string";
        else if (id && !cJSON_IsString(id) && !cJSON_IsNumber(id)) why = "\"id\" must be a string or a number";
        else if (seed && (!cJSON_IsNumber(seed) || seed->valuedouble < 0)) why = "\"seed\" must be a non-negative number";
    }
    char idbuf[256];
    if (!why) {
        if (cJSON_IsString(id)) snprintf(idbuf, sizeof idbuf, "%s", id->valuestring);
        else if (cJSON_IsNumber(id)) snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
        else snprintf(idbuf, sizeof idbuf, "line%d", lineno);
        if (!id_ok(idbuf)) why = "\"id\" is not usable as a file name";
        for (int k = 0; k < n_seen && !why; k++) if (!strcmp(seen_ids[k], idbuf)) why = "duplicate \"id\"";
        for (int k = 0; k < n_done && !why; k++)
            if (!strcmp(done_ids[k], idbuf)) { cJSON_Delete(root); return 1; }   /* done in an earlier run */
    }
    int rc = -1;
    if (!why) {
        srt_sampling_params sp = o->sp;
        if (seed) sp.seed = (uint64_t)seed->valuedouble;
        size_t n = strlen(o->out) + strlen(idbuf) + 8;
        j->id = strdup(idbuf);
        j->path = malloc(n + 16);
        j->final_path = malloc(n);
        if (!j->path || !j->final_path) { cJSON_Delete(root); fprintf(stderr, "snacrt tts: out of memory\n"); return -1; }
        snprintf(j->path, n + 16, "%s/.partial-%s.wav", o->out, idbuf);
        snprintf(j->final_path, n, "%s/%s.wav", o->out, idbuf);
        srt_status st = srt_audio_write_open(j->path, srt_tts_sample_rate(e), SRT_AUDIO_S16, &j->writer);
        if (st == SRT_OK) st = open_speed(o->speed, e, j);
        srt_tts_request req = {.text = text->valuestring, .voice = cJSON_IsString(voice) ? voice->valuestring : NULL,
                               .sampling = &sp, .instructions = o->instructions};
        while (st == SRT_OK && (st = srt_tts_submit(e, &req, on_audio, j, NULL)) == SRT_ERR_FULL) {
            pthread_mutex_lock(&R.mu);            /* wait for a completion, then retry */
            int before = R.n_done;
            while (R.n_done == before) pthread_cond_wait(&R.cv, &R.mu);
            pthread_mutex_unlock(&R.mu);
            st = SRT_OK;
        }
        if (st == SRT_OK) rc = 0;
        else {
            snprintf(msg, sizeof msg, "%s", srt_last_error());
            why = msg;
            srt_audio_speed_free(j->speed);
            j->speed = NULL;
            if (j->writer) { srt_audio_write_close(j->writer); j->writer = NULL; remove(j->path); }
        }
    }
    if (why) fprintf(stderr, "%ssnacrt tts: %s:%d: %s (skipped)\n", R.progress ? "\n" : "", o->input, lineno, why);
    cJSON_Delete(root);
    return rc;
}

/* Read the non-empty lines of a file (with their line numbers). */
static int read_lines(const char *path, char ***lines, int **linenos, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "snacrt tts: %s: cannot open: %s\n", path, strerror(errno)); return -1; }
    char *line = NULL;
    size_t line_cap = 0;
    int cap = 0, lineno = 0;
    *lines = NULL; *linenos = NULL; *n = 0;
    while (getline(&line, &line_cap, f) >= 0) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        if (!len) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **gl = realloc(*lines, sizeof(char *) * (size_t)cap);
            if (gl) *lines = gl;
            int *gn = realloc(*linenos, sizeof(int) * (size_t)cap);
            if (gn) *linenos = gn;
            if (!gl || !gn) { fprintf(stderr, "snacrt tts: out of memory\n"); break; }
        }
        (*lines)[*n] = strdup(line);
        (*linenos)[(*n)++] = lineno;
    }
    int err = ferror(f);
    free(line);
    fclose(f);
    if (err) { fprintf(stderr, "snacrt tts: %s: read error\n", path); return -1; }
    return 0;
}

/* The done-log: ids of finished items, one a line, fsynced. On --resume the complete lines are kept (a torn last
 * line from a kill is dropped by writing the log again); without it the log starts empty. */
static FILE *open_done_log(const options *o, char ***ids, int *n_ids) {
    char path[4200];
    snprintf(path, sizeof path, "%s/done-w%d-of%d.log", o->out, o->shard_index, o->num_shards);
    *ids = NULL;
    *n_ids = 0;
    if (o->resume) {
        char **lines = NULL;
        int *linenos = NULL, n = 0;
        FILE *probe = fopen(path, "r");
        if (probe) {
            fclose(probe);
            if (read_lines(path, &lines, &linenos, &n)) return NULL;
            /* read_lines drops the newline: keep a line only if the file had one after it */
            FILE *f = fopen(path, "rb");
            int torn = 0;
            if (f && !fseek(f, -1, SEEK_END)) torn = fgetc(f) != '\n';
            if (f) fclose(f);
            if (torn && n > 0) free(lines[--n]);
        }
        free(linenos);
        *ids = lines;
        *n_ids = n;
    }
    FILE *log = fopen(path, "w");
    if (!log) { fprintf(stderr, "snacrt tts: %s: cannot write the done-log: %s\n", path, strerror(errno)); return NULL; }
    for (int i = 0; i < *n_ids; i++) fprintf(log, "%s\n", (*ids)[i]);
    if (fflush(log) || fsync(fileno(log))) {
        fprintf(stderr, "snacrt tts: %s: cannot write the done-log: %s\n", path, strerror(errno));
        fclose(log);
        return NULL;
    }
    return log;
}

/* Test hook SNACRT_TEST_HANG_AFTER_LOG=N: after the N-th fsynced line the batch stops here for good (a kill -9
 * then lands mid-run whatever the machine's speed: tests/test_tts_replicas.sh). */
static void hang_after_log_hook(void) {
    static int logged;
    const char *hook = getenv("SNACRT_TEST_HANG_AFTER_LOG");
    if (hook && atoi(hook) > 0 && ++logged >= atoi(hook))
        for (;;) pause();
}

static int log_done(FILE *log, const char *id) {
    fprintf(log, "%s\n", id);
    if (fflush(log) || fsync(fileno(log))) return -1;
    hang_after_log_hook();
    return 0;
}

static int run_batch(const options *o, srt_tts_engine *e) {
    char **lines = NULL;
    int *linenos = NULL, n_lines = 0;
    if (read_lines(o->input, &lines, &linenos, &n_lines)) return 1;
    char **done_ids = NULL;
    int n_done_ids = 0;
    FILE *log = NULL;
    if (cli_mkdirs(o->out) || !(log = open_done_log(o, &done_ids, &n_done_ids))) {
        if (!log) fprintf(stderr, "snacrt tts: %s: cannot create the directory or its done-log: %s\n", o->out,
                          strerror(errno));
        for (int i = 0; i < n_lines; i++) free(lines[i]);
        free(lines); free(linenos);
        return 1;
    }
    job *jobs = calloc((size_t)(n_lines ? n_lines : 1), sizeof *jobs);
    char **ids = malloc(sizeof(char *) * (size_t)(n_lines ? n_lines : 1));
    if (!jobs || !ids) { fprintf(stderr, "snacrt tts: out of memory\n"); return 1; }
    int n = 0, bad = 0, failed = 0, skipped = 0;
    double t0 = now_ms();
    R.progress = 1;
    pthread_mutex_lock(&R.mu);
    R.n_total = n_lines;                      /* lowered as bad lines are found */
    pthread_mutex_unlock(&R.mu);
    for (int i = 0; i < n_lines; i++) {
        int r = i % o->num_shards == o->shard_index
                    ? submit_line(o, e, lines[i], linenos[i], &jobs[n], ids, n, done_ids, n_done_ids) : 2;
        if (r) {
            free(jobs[n].id); free(jobs[n].path); free(jobs[n].final_path);
            memset(&jobs[n], 0, sizeof jobs[n]);
            if (r < 0) bad++;
            else if (r == 1) skipped++;
            pthread_mutex_lock(&R.mu);
            R.n_total--;
            draw_progress();
            pthread_mutex_unlock(&R.mu);
            continue;
        }
        ids[n] = jobs[n].id;
        n++;
    }
    for (int i = 0; i < n; i++) {
        wait_done(&jobs[i]);
        int rc_job = finish_job(&jobs[i]);
        if (!rc_job && log_done(log, jobs[i].id)) {
            snprintf(jobs[i].error, sizeof jobs[i].error, "cannot append to the done-log: %s", strerror(errno));
            rc_job = -1;
        }
        if (rc_job) {
            failed++;
            pthread_mutex_lock(&R.mu);
            fprintf(stderr, "%ssnacrt tts: %s: %s\n", R.n_done < R.n_total ? "\n" : "", jobs[i].id,
                    jobs[i].error[0] ? jobs[i].error : srt_status_name(jobs[i].status));
            pthread_mutex_unlock(&R.mu);
        }
    }
    cJSON *sum = summary_json(jobs, n, now_ms() - t0, srt_tts_sample_rate(e), srt_tts_lookahead(e));
    cJSON_AddNumberToObject(sum, "bad_lines", bad);
    cJSON_AddNumberToObject(sum, "skipped_done", skipped);
    char *s = cJSON_PrintUnformatted(sum);
    size_t plen = strlen(o->out) + 48, slen = s ? strlen(s) : 0;
    char *path = malloc(plen);
    srt_status st = SRT_ERR_NOMEM;
    if (s && path) {
        if (o->num_shards > 1) snprintf(path, plen, "%s/summary-w%d-of%d.json", o->out, o->shard_index, o->num_shards);
        else snprintf(path, plen, "%s/summary.json", o->out);
        s[slen] = '\n';                     /* the file ends with a newline; restored below */
        st = cli_write_output(path, s, slen + 1);
        s[slen] = 0;
    }
    printf("%s\n", s ? s : "{}");
    free(s); free(path);
    cJSON_Delete(sum);
    for (int i = 0; i < n; i++) { free(jobs[i].id); free(jobs[i].path); free(jobs[i].final_path); }
    for (int i = 0; i < n_done_ids; i++) free(done_ids[i]);
    free(done_ids);
    fclose(log);
    for (int i = 0; i < n_lines; i++) free(lines[i]);
    free(jobs); free(ids); free(lines); free(linenos);
    if (st != SRT_OK) return cli_fail("tts", st);
    return failed || bad ? 1 : 0;
}

int srt_cmd_tts(int argc, char **argv) {
    options o = {0};
    srt_tts_config defaults;
    srt_tts_config_defaults(&defaults);
    o.sp = defaults.sampling;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (cli_check_model_dir("tts", "-m", o.lm_dir, CLI_DIR_LM) ||
        cli_check_model_dir("tts", "--codec", o.codec_dir, CLI_DIR_SNAC) ||
        (!o.input && cli_check_output_parent("tts", "-o", o.out)))
        return 1;
    signal(SIGPIPE, SIG_IGN);                 /* a closed --stream pipe is a write error, not a kill */
    srt_tts_engine *e = NULL;
    srt_status st = o.input ? apply_launcher(&o) : SRT_OK;
    if (st == SRT_OK) st = start_engine(&o, &e);
    if (st != SRT_OK) return cli_fail("tts", st);
    rc = o.input ? run_batch(&o, e) : run_single(&o, e);
    srt_tts_engine_free(e);
    return rc;
}
