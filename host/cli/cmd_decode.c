/* cmd_decode.c: `snacrt decode`: SNAC codes (json, npy, laion or orpheus) -> audio file (wav, flac), decoded and
 * written a piece at a time (srt_codec_decode_streamed): memory does not grow with the length of the audio. */
#include "cli/cli_common.h"
#include "snacrt_audio.h"
#include "snacrt_codes.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage =
    "usage: snacrt decode -m MODEL_DIR [--noise off|SEED] [--sample-format s16|f32] [--format auto|json|npy|laion|orpheus]\n"
    "                     [--device cpu|cpu-ref|cuda[:N]] [--threads N] [--precision fp32|tf32|bf16] -o OUT.wav CODES\n"
    "  CODES is a file written by `snacrt encode` (or - for standard input); the format is detected unless given.\n"
    "  laion text may separate frames with 4097 or '#' (the LAION tutorial's and mini-omni's variants).\n"
    "  The output is cut to n_samples when the codes carry it. --noise off (default) disables the decoder's noise\n"
    "  blocks; a SEED gives deterministic noise.\n"
    "  --precision P: fp32 (default), tf32 or bf16: the dense convs on GPU tensor cores (--device cuda).\n";

#define DECODE_CHUNK_GROUPS 64   /* groups per streaming push: ~5 s of audio, memory flat in the input's length */

static srt_status write_piece(void *user, int item, const float *samples, int64_t n) {
    (void)item;
    return srt_audio_write_append(user, samples, n);
}

int srt_cmd_decode(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *device = "cpu", *threads = NULL, *input = NULL, *noise = "off";
    const char *sample_fmt = "s16", *fmt_name = "auto", *precision = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (cli_flag_value(argc, argv, &i, "-m", &v) || cli_flag_value(argc, argv, &i, "--model", &v)) model = v;
        else if (cli_flag_value(argc, argv, &i, "-o", &v) || cli_flag_value(argc, argv, &i, "--output", &v)) out = v;
        else if (cli_flag_value(argc, argv, &i, "--noise", &v)) noise = v;
        else if (cli_flag_value(argc, argv, &i, "--sample-format", &v)) sample_fmt = v;
        else if (cli_flag_value(argc, argv, &i, "--format", &v)) fmt_name = v;
        else if (cli_flag_value(argc, argv, &i, "--device", &v)) device = v;
        else if (cli_flag_value(argc, argv, &i, "--threads", &v)) threads = v;
        else if (cli_flag_value(argc, argv, &i, "--precision", &v)) precision = v;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_unknown_option("decode", usage, argv[i]);
        else if (!input) { input = argv[i]; continue; }
        else return cli_usage_error("decode", usage, "only one CODES file may be given");
        if (!v) return cli_usage_error("decode", usage, "%s needs a value", argv[i]);
    }
    if (!model || !input || !out) return cli_usage_error("decode", usage, "need -m MODEL_DIR, -o OUT and a CODES file");
    srt_codes_format fmt;
    if (srt_codes_format_parse(fmt_name, &fmt) != SRT_OK) return cli_usage_error("decode", usage, "unknown --format %s", fmt_name);
    srt_audio_write_format wfmt;
    if (!strcmp(sample_fmt, "s16")) wfmt = SRT_AUDIO_S16;
    else if (!strcmp(sample_fmt, "f32")) wfmt = SRT_AUDIO_F32;
    else return cli_usage_error("decode", usage, "--sample-format must be s16 or f32");
    long long seed = -1, n_threads = 0;
    if (strcmp(noise, "off") && cli_parse_int(noise, 0, (1LL << 62), &seed))
        return cli_usage_error("decode", usage, "--noise must be off or a non-negative integer seed");
    if (threads && cli_parse_int(threads, 0, 1024, &n_threads)) return cli_usage_error("decode", usage, "--threads must be 0..1024");

    if (cli_check_model_dir("decode", "-m", model, CLI_DIR_SNAC) || cli_check_output_parent("decode", "-o", out))
        return 1;
    char *data = NULL;
    size_t size = 0;
    srt_status st;
    if (!strcmp(input, "-")) {
        size_t cap = 1 << 16;
        data = malloc(cap);
        st = data ? SRT_OK : srt_error(SRT_ERR_NOMEM, "out of memory");
        size_t got;
        while (st == SRT_OK && (got = fread(data + size, 1, cap - size - 1, stdin)) > 0) {
            size += got;
            if (cap - size < 2) {
                char *q = realloc(data, cap * 2);
                if (!q) st = srt_error(SRT_ERR_NOMEM, "out of memory");
                else { data = q; cap *= 2; }
            }
        }
        if (data) data[size] = 0;
    } else {
        st = srt_read_file(input, &data, &size);
    }
    if (st != SRT_OK) { free(data); return cli_fail("decode", st); }
    srt_codec_options opts = {.backend = device, .n_threads = (int)n_threads, .precision = precision};
    srt_codec *codec = NULL;
    st = srt_codec_load(model, &opts, &codec);
    if (st != SRT_OK) { free(data); return cli_fail("decode", st); }
    srt_codec_info info;
    srt_codec_get_info(codec, &info);
    srt_codes codes = {0};
    srt_audio_writer *w = NULL;
    st = srt_codes_parse(&info, data, size, fmt, input, &codes);
    free(data);
    data = NULL;
    if (st == SRT_OK) st = srt_audio_write_open(out, info.sample_rate, wfmt, &w);
    if (st == SRT_OK) st = srt_codec_decode_streamed(codec, 1, &codes, seed, DECODE_CHUNK_GROUPS, write_piece, w);
    if (w) {
        srt_status cst = srt_audio_write_close(w);
        if (st == SRT_OK) st = cst;
        if (st != SRT_OK) unlink(out);   /* no half-written file is left behind */
    }
    srt_codes_free(&codes);
    srt_codec_free(codec);
    return st == SRT_OK ? 0 : cli_fail("decode", st);
}
