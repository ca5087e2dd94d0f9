/* cmd_encode.c: `snacrt encode`: audio file(s) -> SNAC codes in json, npy, laion or orpheus format. */
#include "cli/cli_common.h"
#include "snacrt_audio.h"
#include "snacrt_codes.h"
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: snacrt encode -m MODEL_DIR [--format FORMAT] [-o OUT] [--device cpu|cpu-ref|cuda[:N]]\n"
    "                     [--threads N] [--precision fp32|tf32|bf16] [--max-seconds S] [--allow-nonfinite] AUDIO\n"
    "  Reads any audio libsndfile reads, mixes to mono, resamples to the model rate and writes the codes\n"
    "  (default json to standard output). FORMAT: json, npy (frames x codes per frame), laion (flat codes),\n"
    "  laion-4097 / laion-hash (laion with 4097 / '#' before each frame), orpheus (Orpheus LM token ids).\n"
    "  --precision P       fp32 (default, exact), tf32 or bf16: the dense convs on GPU tensor cores (--device cuda)\n"
    "  --max-seconds S     refuse audio longer than S seconds, from the file's header before decoding\n"
    "  --allow-nonfinite   read NaN, Inf and absurd (|x| > 1e4) samples as 0 (counted on stderr) instead of\n"
    "                      failing on the first\n";

int srt_cmd_encode(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *fmt_name = "json", *device = "cpu", *threads = NULL, *input = NULL, *v;
    const char *max_seconds = NULL, *precision = NULL;
    srt_audio_read_options ropt = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--allow-nonfinite")) { ropt.allow_nonfinite = 1; continue; }
        if (cli_flag_value(argc, argv, &i, "-m", &v) || cli_flag_value(argc, argv, &i, "--model", &v)) model = v;
        else if (cli_flag_value(argc, argv, &i, "-o", &v) || cli_flag_value(argc, argv, &i, "--output", &v)) out = v;
        else if (cli_flag_value(argc, argv, &i, "--format", &v)) fmt_name = v;
        else if (cli_flag_value(argc, argv, &i, "--device", &v)) device = v;
        else if (cli_flag_value(argc, argv, &i, "--threads", &v)) threads = v;
        else if (cli_flag_value(argc, argv, &i, "--max-seconds", &v)) max_seconds = v;
        else if (cli_flag_value(argc, argv, &i, "--precision", &v)) precision = v;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_unknown_option("encode", usage, argv[i]);
        else if (!input) { input = argv[i]; continue; }
        else return cli_usage_error("encode", usage, "only one AUDIO file may be given");
        if (!v) return cli_usage_error("encode", usage, "%s needs a value", argv[i]);
    }
    if (!model || !input) return cli_usage_error("encode", usage, "need -m MODEL_DIR and an AUDIO file");
    srt_codes_format fmt;
    if (srt_codes_format_parse(fmt_name, &fmt) != SRT_OK || fmt == SRT_CODES_AUTO)
        return cli_usage_error("encode", usage, "unknown --format %s", fmt_name);
    float max_s = 0;
    if (max_seconds && (cli_parse_float(max_seconds, &max_s) || !(max_s > 0)))
        return cli_usage_error("encode", usage, "--max-seconds must be a number > 0");
    ropt.max_seconds = max_s;
    long long n_threads = 0;
    if (threads && cli_parse_int(threads, 0, 1024, &n_threads))
        return cli_usage_error("encode", usage, "--threads must be 0..1024");
    srt_codec_options opts = {.backend = device, .n_threads = (int)n_threads, .precision = precision};
    srt_codec *codec = NULL;
    if (cli_check_model_dir("encode", "-m", model, CLI_DIR_SNAC) || cli_check_output_parent("encode", "-o", out)) return 1;
    srt_status st = srt_codec_load(model, &opts, &codec);
    if (st != SRT_OK) return cli_fail("encode", st);
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    float *audio = NULL;
    int64_t n = 0;
    srt_codes codes = {0};
    char *data = NULL;
    size_t size = 0;
    srt_audio_source_info ainfo;
    st = srt_audio_read_opts(input, info.sample_rate, &ropt, &audio, &n, &ainfo);
    if (st == SRT_OK && n == 0) st = srt_error(SRT_ERR_FORMAT, "%s: no audio samples", input);
    if (st == SRT_OK && ainfo.bad_samples)
        fprintf(stderr, "snacrt encode: %s: %lld non-finite or absurd samples read as 0\n", input,
                (long long)ainfo.bad_samples);
    if (st == SRT_OK) {
        const float *items[1] = {audio};
        st = srt_codec_encode(codec, 1, items, &n, &codes, NULL, NULL);
        if (st != SRT_OK) srt_error_prefix(st, "%s: ", input);
    }
    if (st == SRT_OK) st = srt_codes_serialize(&info, &codes, fmt, &data, &size);
    if (st == SRT_OK) st = cli_write_output(out, data, size);
    free(data);
    free(audio);
    srt_codes_free(&codes);
    srt_codec_free(codec);
    return st == SRT_OK ? 0 : cli_fail("encode", st);
}
