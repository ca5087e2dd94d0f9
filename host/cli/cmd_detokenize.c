/* cmd_detokenize.c: `snacrt detokenize`: parse the flags, call srt_detokenize (host/dataset/ds_detokenize.c:
 * shards of `snacrt tokenize` -> one audio file per item) and print the summary. */
#include "cli/cli_common.h"
#include "snacrt.h"
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: snacrt detokenize -m MODEL_DIR -o OUT_DIR [--keys K1,K2,... | --limit N] [--format wav|flac]\n"
    "                         [--sample-format s16|f32] [--noise off|SEED] [--batch N] [--device cpu|cpu-ref|cuda[:N]]\n"
    "                         [--threads N] SHARD_OR_DIR...\n"
    "  Reads shard files (.jsonl, .csv, .bin/.idx) or every shard in a folder (sorted by name) and writes one audio\n"
    "  file per item to OUT_DIR, named after its key (made filesystem-safe and unique; an audio extension in the\n"
    "  key is replaced: key a.flac -> a.wav), cut to the item's n_samples.\n"
    "  --keys: only these items (all must be found); --limit: the first N items. --batch: items per decoder call\n"
    "  (default 8; fewer when they are long). --noise off (default) disables the decoder's noise blocks.\n";

int srt_cmd_detokenize(int argc, char **argv) {
    const char *model = NULL, *out_dir = NULL, *keys_arg = NULL, *limit_arg = NULL, *format = "wav";
    const char *sample_fmt = "s16", *noise = "off", *device = "cpu", *threads = NULL, *batch_arg = NULL, *v;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);   /* the SHARD_OR_DIR arguments */
    int n_inputs = 0;
    if (!inputs) return cli_fail("detokenize", srt_error(SRT_ERR_NOMEM, "out of memory"));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); free(inputs); return 0; }
        if (cli_flag_value(argc, argv, &i, "-m", &v) || cli_flag_value(argc, argv, &i, "--model", &v)) model = v;
        else if (cli_flag_value(argc, argv, &i, "-o", &v) || cli_flag_value(argc, argv, &i, "--output", &v)) out_dir = v;
        else if (cli_flag_value(argc, argv, &i, "--keys", &v)) keys_arg = v;
        else if (cli_flag_value(argc, argv, &i, "--limit", &v)) limit_arg = v;
        else if (cli_flag_value(argc, argv, &i, "--format", &v)) format = v;
        else if (cli_flag_value(argc, argv, &i, "--sample-format", &v)) sample_fmt = v;
        else if (cli_flag_value(argc, argv, &i, "--noise", &v)) noise = v;
        else if (cli_flag_value(argc, argv, &i, "--batch", &v)) batch_arg = v;
        else if (cli_flag_value(argc, argv, &i, "--device", &v)) device = v;
        else if (cli_flag_value(argc, argv, &i, "--threads", &v)) threads = v;
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(inputs);
            return cli_unknown_option("detokenize", usage, argv[i]);
        } else {
            inputs[n_inputs++] = argv[i];
            continue;
        }
        if (!v) { free(inputs); return cli_usage_error("detokenize", usage, "%s needs a value", argv[i]); }
    }
    const char *problem = NULL;
    long long limit = -1, seed = -1, n_threads = 0, max_batch = 8;
    if (!model || !out_dir || !n_inputs) problem = "need -m MODEL_DIR, -o OUT_DIR and at least one SHARD_OR_DIR";
    else if (keys_arg && limit_arg) problem = "--keys and --limit exclude each other";
    else if (limit_arg && cli_parse_int(limit_arg, 0, (1LL << 62), &limit)) problem = "--limit must be a count >= 0";
    else if (strcmp(format, "wav") && strcmp(format, "flac")) problem = "--format must be wav or flac";
    else if (strcmp(sample_fmt, "s16") && strcmp(sample_fmt, "f32")) problem = "--sample-format must be s16 or f32";
    else if (!strcmp(sample_fmt, "f32") && strcmp(format, "wav")) problem = "--sample-format f32 needs --format wav";
    else if (strcmp(noise, "off") && cli_parse_int(noise, 0, (1LL << 62), &seed))
        problem = "--noise must be off or a non-negative integer seed";
    else if (threads && cli_parse_int(threads, 0, 1024, &n_threads)) problem = "--threads must be 0..1024";
    else if (batch_arg && cli_parse_int(batch_arg, 1, 64, &max_batch)) problem = "--batch must be 1..64";
    if (problem) { free(inputs); return cli_usage_error("detokenize", usage, "%s", problem); }

    /* --keys K1,K2,...: the keys in place in a copy of the argument */
    char *keys_copy = keys_arg ? strdup(keys_arg) : NULL, *save = NULL;
    const char **keys = calloc(keys_arg ? strlen(keys_arg) / 2 + 1 : 1, sizeof *keys);
    int n_keys = 0;
    srt_status st = SRT_OK;
    if (!keys || (keys_arg && !keys_copy)) st = srt_error(SRT_ERR_NOMEM, "out of memory");
    for (char *k = st == SRT_OK && keys_copy ? strtok_r(keys_copy, ",", &save) : NULL; k; k = strtok_r(NULL, ",", &save))
        keys[n_keys++] = k;
    srt_detokenize_options o = {
        .model_dir = model, .device = device, .n_threads = (int)n_threads,
        .inputs = inputs, .n_inputs = n_inputs, .out_dir = out_dir,
        .keys = keys, .n_keys = n_keys, .limit = limit, .format = format,
        .sample_format = !strcmp(sample_fmt, "f32") ? SRT_AUDIO_F32 : SRT_AUDIO_S16, .noise_seed = seed,
        .max_batch = (int)max_batch,
    };
    srt_detokenize_result r;
    memset(&r, 0, sizeof r);
    if (st == SRT_OK) st = srt_detokenize(&o, &r);
    if (r.n_empty_folders)
        fprintf(stderr, "snacrt detokenize: warning: no shards in %s%s\n", r.empty_folder,
                r.n_empty_folders > 1 ? " (and other folders)" : "");
    if (st == SRT_OK)
        printf("detokenize: %lld items (%.1f s of audio) from %lld shard%s -> %s\n", (long long)r.items,
               r.sample_rate ? (double)r.samples / r.sample_rate : 0.0, (long long)r.shards,
               r.shards == 1 ? "" : "s", out_dir);
    free(keys);
    free(keys_copy);
    free(inputs);
    return st == SRT_OK ? 0 : cli_fail("detokenize", st);
}
