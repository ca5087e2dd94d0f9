/* cmd_tokenize.c: `snacrt tokenize`: audio corpora -> sharded SNAC codes (host/dataset/ds_pipeline.h), with a
 * progress bar on stderr, the summary JSON on stdout, and --dry-run listing the plan. */
#include "cli/cli_common.h"
#include "snacrt_dataset.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *usage =
    "usage: snacrt tokenize -m MODEL_DIR -o OUT_DIR [options] INPUT...\n"
    "  INPUT: a folder (searched recursively for audio files and .tar archives), a file list (.txt: one path per\n"
    "  line, relative to the list), a WebDataset .tar (audio members; .json sidecar fields and .txt as \"text\"\n"
    "  pass through), a CSV/JSONL manifest (a path column; every other column passes through), or an audio file.\n"
    "  A folder holding metadata.csv / metadata.jsonl (Hugging Face AudioFolder: a file_name column) is read\n"
    "  through it: its rows are the items, their columns pass through, files it does not list are left out.\n"
    "  Any format libsndfile reads, any rate and channel count (mixed to mono, resampled to the model rate).\n"
    "options:\n"
    "  --format jsonl|csv|bin    shard format (default jsonl)\n"
    "  --shard-size N            inputs per shard (default 1000): audio files and tar samples, counted before\n"
    "                            --max-seconds splits them (a shard holds N inputs' items, and their errors)\n"
    "  --shard-index I --num-shards N   be worker I of N (default 0 of 1): input j of the sorted list goes to\n"
    "                            worker j % N (a tar archive is one input), e.g. under Slurm:\n"
    "                            --shard-index $SLURM_ARRAY_TASK_ID --num-shards $SLURM_ARRAY_TASK_COUNT;\n"
    "                            then `snacrt merge-index OUT_DIR` joins the workers' indexes\n"
    "  --resume                  continue a killed run in OUT_DIR (same command): committed shards are kept\n"
    "  --allow-nonfinite         read NaN, Inf and absurd (|x| > 1e4) samples as 0 (counted in the summary)\n"
    "                            instead of sending the file to errors.jsonl\n"
    "  --max-seconds S           split recordings longer than S at silence (items KEY#0, KEY#1, ... with offsets)\n"
    "  --chunk-seconds S         recordings longer than S are encoded in overlapped chunks of S while they are\n"
    "                            decoded: flat memory, the same codes (default: on cpu the longest chunk that\n"
    "                            fits --memory-mb, ~22 s for snac_24khz; 60 on cuda)\n"
    "  --memory-mb M             cpu: memory for the encoder's activations, sets the default chunk and caps the\n"
    "                            default batch (default 512: peak RSS ~0.6 GB with snac_24khz, any file length)\n"
    "  --batch-seconds S         audio per encoder batch, padded (default 20 on cpu, 300 on cuda)\n"
    "  --no-length-buckets       batch items in arrival order instead of by length (more padding; the summary's\n"
    "                            padding_fraction shows the difference; the codes are the same)\n"
    "  --device D                cpu (default: one encoder, all cores), cpu-ref, cuda (one encoder per visible\n"
    "                            GPU), cuda:N, or a list: cuda:0,2 / cpu,cpu (one encoder each)\n"
    "  --threads N               CPU threads of the cpu encoder (default all cores)\n"
    "  --precision P             fp32 (default, exact), tf32 or bf16: the encoders' dense convs on GPU tensor\n"
    "                            cores (cuda devices only; bench/PRECISION.md)\n"
    "  --readers N               decode + resample threads (default 2 on cpu, 6 per GPU on cuda, at most the\n"
    "                            cores but one: the GPU waits for none)\n"
    "  --path-column NAME        manifests: the column with the audio path (default: the first of path, audio,\n"
    "                            file, filename, audio_path, audio_filepath, file_name)\n"
    "  --follow-symlinks         folder inputs: follow symbolic links (default: a link is listed in errors.jsonl\n"
    "                            and not read, so a dataset folder cannot point at files outside it)\n"
    "  --dry-run                 list the inputs, keys and shard assignment (JSON lines) without encoding\n"
    "  --progress auto|bar|lines|none   progress on stderr (auto: a bar on a terminal, else a line every\n"
    "                            --progress-every seconds, default 10)\n"
    "  --summary FILE            also write the summary JSON to FILE\n"
    "Training sequences (docs/sequences.md), written beside each shard in the same commit:\n"
    "  --sequences               also write each item as model-ready ids + loss mask (needs --layout, --tokenizer)\n"
    "  --layout L                layout name (orpheus, asr, laion-flat, spoken-chat) or .json (layouts/README.md)\n"
    "  --tokenizer LM_DIR        the LM folder whose tokenizer.json gives the text ids\n"
    "  --task T                  tts (default): prompt(text) + audio + end_of_speech, targets the audio and\n"
    "                            end_of_speech; asr: conversation(user audio) + text + end_of_turn, targets the text;\n"
    "                            interleave: INPUTs are text (.txt: a document per line; .jsonl: --text-column),\n"
    "                            sentences spoken at --audio-rate by the TTS model, BOS + text / framed audio, all\n"
    "                            targets; dialog: INPUTs are chat .jsonl ({\"messages\": [{role, content}]}), the\n"
    "                            conversation through the layout's chat turns, targets the assistant's turns\n"
    "  --text-column C           passthrough column holding the item's text (default text); an item without it\n"
    "                            goes to errors.jsonl\n"
    "  --voice-column C          tts: passthrough column with the item's voice for the prompt (default: the\n"
    "                            layout's default voice)\n"
    "  --tts-model LM_DIR        interleave/dialog: the TTS model that speaks (default --tokenizer's folder)\n"
    "  --tts-layout L            its layout (default: its folder's, else orpheus)\n"
    "  --voices A,B,...          interleave: voices rotated over the spoken sentences; dialog: the user's and the\n"
    "                            assistant's voice (default: the TTS layout's default voice)\n"
    "  --audio-rate R            interleave: chance that a sentence is spoken (default 0)\n"
    "  --seed S                  interleave/dialog: which sentences are spoken and each span's sampling seed\n"
    "  --tts-max-tokens N --tts-temperature T --tts-top-p P   sampling of the spoken spans (default the\n"
    "                            engine's: 1200, 0.6, 0.8)\n"
    "  --user-text --assistant-text   dialog: that role's turns as text (default: both spoken)\n"
    "  --seq-len N               sequences of at most N tokens: a longer item is split at frame-group boundaries\n"
    "                            (its docs entries say part/parts)\n"
    "  --pack                    pack whole items into sequences of exactly --seq-len (padded, mask 0)\n"
    "  --seq-format bin|jsonl    bin (default): .seq.ids/.seq.mask/.seq.idx/.seq.docs.jsonl; jsonl: .seq.jsonl\n"
    "Output set (byte-identical whatever crashes and resumes happened): the shard files, w*.plan.json,\n"
    "w*.done.jsonl, index.json, index.items.jsonl and errors.jsonl (single worker: written at the end; several\n"
    "workers: by merge-index). Timings appear only in the summary (stdout). Undecodable inputs (and, with\n"
    "--sequences, items without text) are listed in errors.jsonl and do not fail the run.\n";

typedef struct progress_printer {
    int mode;                 /* 0 none, 1 bar (redraw), 2 lines */
    double every, last;
    int drawn;
} progress_printer;

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void print_progress(const srt_ds_progress *p, void *user) {
    progress_printer *pp = user;
    if (pp->mode == 0) return;
    double t = wall_now();
    if (!p->finished && pp->drawn && t - pp->last < pp->every) return;
    pp->last = t;
    pp->drawn = 1;
    char line[512];
    srt_ds_progress_format(p, line, sizeof line);
    if (pp->mode == 1) fprintf(stderr, "\r\033[K%s%s", line, p->finished ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static int parse_seconds(const char *s, double lo, double *out) {
    if (!s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || !isfinite(v) || v < lo) return -1;
    *out = v;
    return 0;
}

static int dry_run(const srt_ds_run_options *o) {
    srt_ds_plan_unit *units = NULL;
    int64_t n = 0, n_shards = 0;
    srt_status st = srt_ds_plan_list(o, &units, &n, &n_shards);
    if (st != SRT_OK) return cli_fail("tokenize", st);
    int64_t known_errors = 0;
    for (int64_t i = 0; i < n; i++) {
        char shard[128];
        srt_ds_shard_name(o->shard_index, o->num_shards, units[i].shard, shard, sizeof shard);
        /* JSON strings: keys and paths are escaped minimally (quote, backslash, control characters) */
        const char *fields[3] = {units[i].key, units[i].source, units[i].error};
        const char *names[3] = {"key", "source", "error"};
        printf("{");
        for (int f = 0; f < 3; f++) {
            if (!fields[f]) continue;
            printf("%s\"%s\":\"", f ? "," : "", names[f]);
            for (const unsigned char *c = (const unsigned char *)fields[f]; *c; c++) {
                if (*c == '"' || *c == '\\') printf("\\%c", *c);
                else if (*c < 0x20) printf("\\u%04x", *c);
                else putchar(*c);
            }
            printf("\"");
        }
        printf(",\"shard\":\"%s\"}\n", shard);
        known_errors += units[i].error != NULL;
    }
    printf("{\"dry_run\":true,\"worker\":%d,\"num_workers\":%d,\"units\":%lld,\"shards\":%lld,\"known_errors\":%lld}\n",
           o->shard_index, o->num_shards, (long long)n, (long long)n_shards, (long long)known_errors);
    srt_ds_plan_free(units, n);
    return 0;
}

int srt_cmd_tokenize(int argc, char **argv) {
    srt_ds_run_options o;
    srt_ds_run_defaults(&o);
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return cli_fail("tokenize", srt_error(SRT_ERR_NOMEM, "out of memory"));
    int n_inputs = 0, dry = 0, rc = 2;
    const char *v = NULL, *progress = "auto", *summary_path = NULL, *layout = NULL;
    int sequences = 0;
    double every = 10;
    long long ll = 0;
#define USAGE_ERROR(...) do { rc = cli_usage_error("tokenize", usage, __VA_ARGS__); goto out; } while (0)
#define INT_OPTION(flag, lo, hi, dst) \
    else if (cli_flag_value(argc, argv, &i, flag, &v)) { \
        if (v && cli_parse_int(v, lo, hi, &ll)) USAGE_ERROR("%s must be %lld..%lld", flag, (long long)(lo), (long long)(hi)); \
        dst = ll; }
#define SECONDS_OPTION(flag, lo, dst) \
    else if (cli_flag_value(argc, argv, &i, flag, &v)) { \
        if (v && (parse_seconds(v, 0, &dst) || dst < (lo))) USAGE_ERROR("%s must be a number >= %g", flag, (double)(lo)); }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); free(inputs); return 0; }
        if (!strcmp(a, "--resume")) { o.resume = 1; continue; }
        if (!strcmp(a, "--allow-nonfinite")) { o.allow_nonfinite = 1; continue; }
        if (!strcmp(a, "--no-length-buckets")) { o.no_length_buckets = 1; continue; }
        if (!strcmp(a, "--dry-run")) { dry = 1; continue; }
        if (!strcmp(a, "--follow-symlinks")) { o.follow_symlinks = 1; continue; }
        if (!strcmp(a, "--sequences")) { sequences = 1; continue; }
        if (!strcmp(a, "--pack")) { o.seq_pack = 1; continue; }
        if (!strcmp(a, "--user-text")) { o.synth_user_text = 1; continue; }
        if (!strcmp(a, "--assistant-text")) { o.synth_assistant_text = 1; continue; }
        if (cli_flag_value(argc, argv, &i, "-m", &v) || cli_flag_value(argc, argv, &i, "--model", &v)) o.model_dir = v;
        else if (cli_flag_value(argc, argv, &i, "-o", &v) || cli_flag_value(argc, argv, &i, "--output", &v)) o.out_dir = v;
        else if (cli_flag_value(argc, argv, &i, "--format", &v)) {
            if (v && srt_ds_format_parse(v, &o.format) != SRT_OK) USAGE_ERROR("unknown --format %s", v);
        }
        else if (cli_flag_value(argc, argv, &i, "--device", &v)) o.device = v;
        else if (cli_flag_value(argc, argv, &i, "--precision", &v)) o.precision = v;
        else if (cli_flag_value(argc, argv, &i, "--path-column", &v)) o.path_column = v;
        else if (cli_flag_value(argc, argv, &i, "--progress", &v)) progress = v;
        else if (cli_flag_value(argc, argv, &i, "--summary", &v)) summary_path = v;
        else if (cli_flag_value(argc, argv, &i, "--layout", &v)) layout = v;
        else if (cli_flag_value(argc, argv, &i, "--tokenizer", &v)) o.seq_tokenizer = v;
        else if (cli_flag_value(argc, argv, &i, "--text-column", &v)) o.seq_text_column = v;
        else if (cli_flag_value(argc, argv, &i, "--task", &v)) {
            static const char *const tasks[] = {"tts", "asr", "interleave", "dialog"};
            int t = 0;
            while (v && t < 4 && strcmp(v, tasks[t])) t++;
            if (v && t == 4) USAGE_ERROR("unknown --task %s (tts, asr, interleave or dialog)", v);
            o.seq_task = t;
        }
        else if (cli_flag_value(argc, argv, &i, "--voice-column", &v)) o.seq_voice_column = v;
        else if (cli_flag_value(argc, argv, &i, "--tts-model", &v)) o.synth_tts_model = v;
        else if (cli_flag_value(argc, argv, &i, "--tts-layout", &v)) o.synth_tts_layout = v;
        else if (cli_flag_value(argc, argv, &i, "--voices", &v)) o.synth_voices = v;
        else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
            if (v && cli_parse_int(v, 0, INT64_MAX, &ll)) USAGE_ERROR("--seed must be 0..%lld", (long long)INT64_MAX);
            o.synth_seed = (uint64_t)ll;
        }
        else if (cli_flag_value(argc, argv, &i, "--audio-rate", &v)) {
            char *end = NULL;
            o.synth_audio_rate = v ? strtod(v, &end) : 0;
            if (v && (end == v || *end || !(o.synth_audio_rate >= 0 && o.synth_audio_rate <= 1)))
                USAGE_ERROR("--audio-rate must be a number 0..1");
        }
        INT_OPTION("--tts-max-tokens", 1, 1 << 20, o.synth_max_tokens)
        else if (cli_flag_value(argc, argv, &i, "--tts-temperature", &v) ||
                 cli_flag_value(argc, argv, &i, "--tts-top-p", &v)) {
            char *end = NULL;
            double x = v ? strtod(v, &end) : 0;
            int top_p = !strcmp(a, "--tts-top-p") || !strncmp(a, "--tts-top-p=", 12);
            if (v && (end == v || *end || !(x >= 0 && x <= (top_p ? 1 : 100))))
                USAGE_ERROR("%s must be a number 0..%d", top_p ? "--tts-top-p" : "--tts-temperature", top_p ? 1 : 100);
            if (top_p) o.synth_top_p = x; else o.synth_temperature = x;
        }
        else if (cli_flag_value(argc, argv, &i, "--seq-format", &v)) {
            if (v && strcmp(v, "bin") && strcmp(v, "jsonl")) USAGE_ERROR("unknown --seq-format %s (bin or jsonl)", v);
            if (v) o.seq_jsonl = !strcmp(v, "jsonl");
        }
        INT_OPTION("--seq-len", 1, 1LL << 31, o.seq_len)
        INT_OPTION("--threads", 0, 1024, o.n_threads)
        INT_OPTION("--readers", 1, 64, o.n_readers)
        INT_OPTION("--shard-size", 1, 1LL << 40, o.shard_size)
        INT_OPTION("--shard-index", 0, 99998, o.shard_index)
        INT_OPTION("--num-shards", 1, 99999, o.num_shards)
        SECONDS_OPTION("--batch-seconds", 0.001, o.batch_seconds)
        SECONDS_OPTION("--chunk-seconds", 0.01, o.chunk_seconds)
        SECONDS_OPTION("--memory-mb", 1, o.memory_mb)
        SECONDS_OPTION("--max-seconds", 0, o.max_seconds)
        SECONDS_OPTION("--progress-every", 0, every)
        else if (a[0] == '-' && a[1]) { rc = cli_unknown_option("tokenize", usage, a); goto out; }
        else { inputs[n_inputs++] = a; continue; }
        if (!v) USAGE_ERROR("%s needs a value", a);
    }
    if (o.shard_index >= o.num_shards) USAGE_ERROR("--shard-index must be < --num-shards");
    if (!n_inputs) USAGE_ERROR("no INPUT given");
    if (sequences) {
        if (!layout || !o.seq_tokenizer) USAGE_ERROR("--sequences needs --layout L and --tokenizer LM_DIR");
        if (o.seq_pack && o.seq_len <= 0) USAGE_ERROR("--pack needs --seq-len N");
        o.seq_layout = layout;
    } else if (layout || o.seq_tokenizer || o.seq_pack || o.seq_len) {
        USAGE_ERROR("--layout, --tokenizer, --seq-len and --pack go with --sequences");
    }
    o.inputs = inputs;
    o.n_inputs = n_inputs;
    if (dry && sequences && (o.seq_task == SRT_DS_TASK_INTERLEAVE || o.seq_task == SRT_DS_TASK_DIALOG))
        USAGE_ERROR("--dry-run lists audio inputs: not with --task interleave or dialog");
    if (dry) { rc = dry_run(&o); goto out; }
    if (!o.model_dir || !o.out_dir) USAGE_ERROR("need -m MODEL_DIR and -o OUT_DIR");
    progress_printer pp = {0};
    if (!strcmp(progress, "auto")) pp.mode = isatty(2) ? 1 : 2;
    else if (!strcmp(progress, "bar")) pp.mode = 1;
    else if (!strcmp(progress, "lines")) pp.mode = 2;
    else if (!strcmp(progress, "none")) pp.mode = 0;
    else USAGE_ERROR("unknown --progress %s", progress);
    pp.every = pp.mode == 1 ? 0.25 : every;
    o.progress = print_progress;
    o.progress_user = &pp;
    srt_ds_summary summary;
    srt_status st = srt_ds_run(&o, &summary);
    if (st != SRT_OK) { rc = cli_fail("tokenize", st); goto out; }
    char *json = srt_ds_summary_json(&summary);
    if (!json) { rc = cli_fail("tokenize", srt_error(SRT_ERR_NOMEM, "out of memory")); goto out; }
    printf("%s\n", json);
    fflush(stdout);
    rc = 0;
    if (summary_path) {
        size_t n = strlen(json);
        json[n] = '\n';   /* the terminating NUL becomes the newline; size n + 1 */
        st = cli_write_output(summary_path, json, n + 1);
        json[n] = 0;
        if (st != SRT_OK) rc = cli_fail("tokenize", st);
    }
    free(json);
out:
    free(inputs);
    return rc;
}
