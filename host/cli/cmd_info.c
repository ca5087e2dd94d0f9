/* cmd_info.c: `snacrt info MODEL_DIR`: architecture, parameter count and token rates of a SNAC model (JSON). */
#include "cli/cli_common.h"
#include <string.h>

static const char *usage = "usage: snacrt info MODEL_DIR\n  Prints the model's architecture, parameters and token rates as JSON.\n";

int srt_cmd_info(int argc, char **argv) {
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (argv[i][0] == '-') return cli_unknown_option("info", usage, argv[i]);
        else model = argv[i];
    }
    if (!model) return cli_usage_error("info", usage, "need MODEL_DIR");
    srt_codec_options opts = {.backend = "cpu-ref"};
    srt_codec *codec = NULL;
    if (cli_check_model_dir("info", "-m", model, CLI_DIR_SNAC)) return 1;
    srt_status st = srt_codec_load(model, &opts, &codec);
    if (st != SRT_OK) return cli_fail("info", st);
    srt_codec_info in;
    srt_codec_get_info(codec, &in);
    printf("{\"model\":\"%s\",\"architecture\":\"SNAC\",\"sample_rate\":%d,\"hop_length\":%d,\"latent_dim\":%d,"
           "\"encoder_dim\":%d,\"decoder_dim\":%d,\"encoder_rates\":[", model, in.sample_rate, in.hop_length,
           in.latent_dim, in.encoder_dim, in.decoder_dim);
    for (int i = 0; i < in.n_rates; i++) printf("%s%d", i ? "," : "", in.encoder_rates[i]);
    printf("],\"decoder_rates\":[");
    for (int i = 0; i < in.n_rates; i++) printf("%s%d", i ? "," : "", in.decoder_rates[i]);
    printf("],\"attn_window\":%d,\"depthwise\":%s,\"noise\":%s,\"codebook_size\":%d,\"codebook_dim\":%d,\"vq_strides\":[",
           in.attn_window, in.depthwise ? "true" : "false", in.noise ? "true" : "false", in.codebook_size, in.codebook_dim);
    for (int i = 0; i < in.n_levels; i++) printf("%s%d", i ? "," : "", in.vq_strides[i]);
    printf("],\"levels\":%d,\"token_rates_hz\":[", in.n_levels);
    double total = 0;
    for (int i = 0; i < in.n_levels; i++) {
        double r = (double)in.sample_rate / ((double)in.hop_length * in.vq_strides[i]);
        total += r;
        printf("%s%.4f", i ? "," : "", r);
    }
    printf("],\"tokens_per_second\":%.4f,\"codes_per_coarse_frame\":%d,\"pad_multiple\":%d,\"parameters\":%lld}\n",
           total, (int)(total / ((double)in.sample_rate / ((double)in.hop_length * in.vq_strides[0])) + 0.5),
           in.pad_multiple, (long long)in.n_params);
    srt_codec_free(codec);
    return 0;
}
