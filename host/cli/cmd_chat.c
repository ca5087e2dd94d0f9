/* cmd_chat.c: `snacrt chat`: a conversation with a model that hears and speaks (include/snacrt_chat.h).
 *   snacrt chat -m LM --codec SNAC [--layout L] [--system TEXT] [--audio in.wav]... [--text TEXT] [-o PREFIX]
 *               [--interactive]
 * The first user turn holds the --audio files then --text; --interactive then reads one user turn per stdin
 * line: text, or "@file.wav" optionally followed by text. Each answer's text goes to stdout, each of its audio
 * segments to PREFIX-<turn>-<segment>.wav (PREFIX default "chat"), a JSON summary line per answer to stderr;
 * answers join the history as assistant turns.
 * Exit codes: 0 ok, 1 a failure, 2 bad arguments. */
#include "snacrt.h"
#include "snacrt_chat.h"
#include "snacrt_audio.h"
#include "cli/cli_common.h"
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: snacrt chat -m LM_DIR --codec SNAC_DIR [options] [--audio in.wav]... [--text TEXT] [--interactive]\n"
    "  --layout NAME|PATH        spoken-chat (default), asr, orpheus, laion-flat or a .json file\n"
    "  --system TEXT             a system turn first\n"
    "  --audio FILE              an audio part of the first user turn (repeatable)\n"
    "  --text TEXT               the text part of the first user turn (after its audio)\n"
    "  --interactive             then read user turns from stdin: a line of text, or @file.wav [text]\n"
    "  -o PREFIX                 audio segments go to PREFIX-<turn>-<segment>.wav (default: chat)\n"
    "  --modalities M            text, audio or text,audio (default: what the layout answers with)\n"
    "  --voice NAME              voice, for layouts that have voices\n"
    "  --seed N --temperature T --top-p P --max-tokens N   sampling (defaults: 0, 0.6, 0.8, 1200)\n"
    "  --device NAME             cpu (default), cpu-ref, cuda, cuda:N\n"
    "  --threads N               CPU threads (default: all cores)\n"
    "  --lm-precision bf16|exact the LM on bf16 weights (cpu, cuda): bf16 activations (default) or f32-level\n"
    "  --lm-weights stored|int8  LM Linear weights as stored or int8 per channel (cpu-ref, cuda)\n";

#define MAX_AUDIO_ARGS 16

typedef struct options {
    const char *lm_dir, *codec_dir, *layout, *system, *text, *prefix, *voice, *device, *lm_precision, *lm_weights;
    const char *audio[MAX_AUDIO_ARGS]; int n_audio;
    int interactive, modalities, threads;
    srt_sampling_params sp;
} options;

/* The conversation so far: turns with owned parts. */
typedef struct history {
    srt_chat_message *turns; int n, cap;
} history;

static int parse_args(int argc, char **argv, options *o) {
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(USAGE, stdout); return -1; }
        if (!strcmp(a, "--interactive")) { o->interactive = 1; continue; }
        const char *flags[] = {"-m", "--model", "--codec", "--layout", "--system", "--audio", "--text", "-o",
                               "--modalities", "--voice", "--seed", "--temperature", "--top-p", "--max-tokens",
                               "--device", "--threads", "--lm-precision", "--lm-weights"};
        int f = -1;
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]) && f < 0; k++)
            if (cli_flag_value(argc, argv, &i, flags[k], &val)) f = k;
        if (f < 0) return cli_unknown_option("chat", USAGE, a);
        if (!val) return cli_usage_error("chat", USAGE, "%s needs a value", a);
        int bad = 0;
        switch (f) {
        case 0: case 1: o->lm_dir = val; break;
        case 2: o->codec_dir = val; break;
        case 3: o->layout = val; break;
        case 4: o->system = val; break;
        case 5:
            if (o->n_audio == MAX_AUDIO_ARGS) return cli_usage_error("chat", USAGE, "at most %d --audio", MAX_AUDIO_ARGS);
            o->audio[o->n_audio++] = val;
            break;
        case 6: o->text = val; break;
        case 7: o->prefix = val; break;
        case 8:
            o->modalities = !strcmp(val, "text") ? SRT_CHAT_TEXT : !strcmp(val, "audio") ? SRT_CHAT_AUDIO
                          : (!strcmp(val, "text,audio") || !strcmp(val, "audio,text")) ? SRT_CHAT_TEXT | SRT_CHAT_AUDIO : 0;
            bad = !o->modalities;
            break;
        case 9: o->voice = val; break;
        case 10: bad = cli_parse_int(val, 0, INT64_MAX, &v); o->sp.seed = (uint64_t)v; break;
        case 11: bad = cli_parse_float(val, &o->sp.temperature) || o->sp.temperature < 0; break;
        case 12: bad = cli_parse_float(val, &o->sp.top_p) || o->sp.top_p < 0 || o->sp.top_p > 1; break;
        case 13: bad = cli_parse_int(val, 1, 1 << 20, &v); o->sp.max_tokens = (int)v; break;
        case 14: o->device = val; break;
        case 15: bad = cli_parse_int(val, 1, 1024, &v); o->threads = (int)v; break;
        case 16: o->lm_precision = val; bad = cli_check_lm_precision(val); break;
        case 17: o->lm_weights = val; bad = cli_check_lm_weights(val); break;
        }
        if (bad) return cli_usage_error("chat", USAGE, "bad value for %s: '%s'", a, val);
    }
    if (!o->lm_dir || !o->codec_dir) return cli_usage_error("chat", USAGE, "need -m LM_DIR and --codec SNAC_DIR");
    if (!o->interactive && !o->text && !o->n_audio)
        return cli_usage_error("chat", USAGE, "need --text, --audio or --interactive");
    return 0;
}

static srt_chat_message *new_turn(history *h, int role, int n_parts) {
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 8;
        srt_chat_message *t = realloc(h->turns, sizeof *t * (size_t)cap);
        if (!t) return NULL;
        h->turns = t;
        h->cap = cap;
    }
    srt_chat_input_part *parts = calloc((size_t)(n_parts ? n_parts : 1), sizeof *parts);
    if (!parts) return NULL;
    srt_chat_message *m = &h->turns[h->n++];
    *m = (srt_chat_message){role, parts, 0};
    return m;
}

static void history_free(history *h) {
    for (int t = 0; t < h->n; t++) {
        for (int k = 0; k < h->turns[t].n_parts; k++) {
            free((char *)h->turns[t].parts[k].text);
            free((float *)h->turns[t].parts[k].pcm);
        }
        free((srt_chat_input_part *)h->turns[t].parts);
    }
    free(h->turns);
}

static srt_status add_text(srt_chat_message *m, const char *text) {
    srt_chat_input_part *p = (srt_chat_input_part *)&m->parts[m->n_parts];
    if (!(p->text = strdup(text))) return srt_error(SRT_ERR_NOMEM, "out of memory");
    m->n_parts++;
    return SRT_OK;
}

static srt_status add_audio_file(srt_chat_message *m, const char *path) {
    srt_chat_input_part *p = (srt_chat_input_part *)&m->parts[m->n_parts];
    float *pcm = NULL;
    int64_t n = 0;
    srt_audio_source_info info;
    srt_status st = srt_audio_read(path, 0, &pcm, &n, &info);
    if (st != SRT_OK) return st;
    *p = (srt_chat_input_part){NULL, pcm, n, info.sample_rate};
    m->n_parts++;
    return SRT_OK;
}

/* Run the conversation, print the answer, write its segments, and add it to the history. */
static srt_status answer(srt_tts_engine *e, const options *o, history *h, int turn_no) {
    srt_chat_request req = {.turns = h->turns, .n_turns = h->n, .modalities = o->modalities, .voice = o->voice,
                            .sampling = &o->sp};
    srt_chat_result res;
    srt_status st = srt_chat_run(e, 1, &req, &res, NULL, NULL);
    if (st == SRT_OK && res.status != SRT_OK) st = srt_error(res.status, "%s", res.error);
    if (st == SRT_OK) {
        if (res.n_text) printf("%s\n", res.text);
        fflush(stdout);
        fprintf(stderr, "{\"turn\": %d, \"text_tokens\": %lld, \"audio_tokens\": %lld, \"segments\": %d, "
                "\"finish\": \"%s\"}\n", turn_no, (long long)res.stats.text_tokens, (long long)res.stats.audio_tokens,
                res.stats.segments, res.stats.finish == SRT_FINISH_STOP ? "stop" : "length");
        int rate = srt_tts_sample_rate(e);
        for (int s = 0; s < res.n_segments && st == SRT_OK; s++) {
            char path[4096];
            snprintf(path, sizeof path, "%s-%d-%d.wav", o->prefix ? o->prefix : "chat", turn_no, s);
            st = srt_audio_write(path, res.segments[s], res.n_samples[s], rate, SRT_AUDIO_S16);
            if (st == SRT_OK) fprintf(stderr, "audio: %s (%.2f s)\n", path, (double)res.n_samples[s] / rate);
        }
        srt_chat_message *m = st == SRT_OK ? new_turn(h, SRT_CHAT_ASSISTANT, res.n_segments + 1) : NULL;
        if (st == SRT_OK && !m) st = srt_error(SRT_ERR_NOMEM, "out of memory");
        if (m && res.n_text) st = add_text(m, res.text);
        for (int s = 0; m && st == SRT_OK && s < res.n_segments; s++) {   /* the answer's audio joins the history */
            srt_chat_input_part *p = (srt_chat_input_part *)&m->parts[m->n_parts++];
            *p = (srt_chat_input_part){NULL, res.segments[s], res.n_samples[s], rate};
            res.segments[s] = NULL;
        }
    }
    srt_chat_result_free(&res);
    return st;
}

/* One stdin line -> a user turn (text, or @file.wav then optional text). 0: added, 1: nothing (blank). */
static srt_status read_turn(history *h, char *line, int *added) {
    *added = 0;
    line[strcspn(line, "\r\n")] = 0;
    while (*line == ' ' || *line == '\t') line++;
    if (!*line) return SRT_OK;
    srt_chat_message *m = new_turn(h, SRT_CHAT_USER, 2);
    if (!m) return srt_error(SRT_ERR_NOMEM, "out of memory");
    *added = 1;
    if (*line == '@') {
        char *path = line + 1, *rest = path + strcspn(path, " \t");
        if (*rest) *rest++ = 0;
        while (*rest == ' ' || *rest == '\t') rest++;
        srt_status st = add_audio_file(m, path);
        return st == SRT_OK && *rest ? add_text(m, rest) : st;
    }
    return add_text(m, line);
}

int srt_cmd_chat(int argc, char **argv) {
    options o = {0};
    srt_sampling_defaults(&o.sp);
    o.sp.temperature = 0.6f;
    o.sp.top_p = 0.8f;
    o.sp.repetition_penalty = 1.1f;
    o.sp.max_tokens = 1200;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (cli_check_model_dir("chat", "-m", o.lm_dir, CLI_DIR_LM) ||
        cli_check_model_dir("chat", "--codec", o.codec_dir, CLI_DIR_SNAC))
        return 1;
    srt_tts_config cfg;
    srt_tts_config_defaults(&cfg);
    cfg.lm_dir = o.lm_dir;
    cfg.codec_dir = o.codec_dir;
    cfg.layout = o.layout ? o.layout : "spoken-chat";
    cfg.backend = o.device;
    cfg.n_threads = o.threads;
    cfg.lm_precision = o.lm_precision;
    cfg.lm_weights = o.lm_weights;
    cfg.max_running = 1;
    cfg.sampling = o.sp;
    srt_tts_engine *e = NULL;
    srt_status st = srt_tts_engine_create(&cfg, &e);
    history h = {0};
    int turn_no = 0;
    if (st == SRT_OK && o.system) {
        srt_chat_message *m = new_turn(&h, SRT_CHAT_SYSTEM, 1);
        st = m ? add_text(m, o.system) : srt_error(SRT_ERR_NOMEM, "out of memory");
    }
    if (st == SRT_OK && (o.text || o.n_audio)) {
        srt_chat_message *m = new_turn(&h, SRT_CHAT_USER, o.n_audio + 1);
        if (!m) st = srt_error(SRT_ERR_NOMEM, "out of memory");
        for (int i = 0; i < o.n_audio && st == SRT_OK; i++) st = add_audio_file(m, o.audio[i]);
        if (st == SRT_OK && o.text) st = add_text(m, o.text);
        if (st == SRT_OK) st = answer(e, &o, &h, turn_no++);
    }
    char line[8192];
    while (st == SRT_OK && o.interactive && fgets(line, sizeof line, stdin)) {
        int added;
        st = read_turn(&h, line, &added);
        if (st != SRT_OK && added) {                /* a bad line: say so, forget the turn, go on */
            fprintf(stderr, "snacrt chat: %s\n", srt_last_error());
            srt_chat_message *m = &h.turns[--h.n];
            for (int k = 0; k < m->n_parts; k++) { free((char *)m->parts[k].text); free((float *)m->parts[k].pcm); }
            free((srt_chat_input_part *)m->parts);
            st = SRT_OK;
            continue;
        }
        if (st == SRT_OK && added) st = answer(e, &o, &h, turn_no++);
    }
    history_free(&h);
    srt_tts_engine_free(e);
    return st == SRT_OK ? 0 : cli_fail("chat", st);
}
