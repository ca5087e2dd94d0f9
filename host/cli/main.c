/* main.c: the snacrt command: dispatches `snacrt <subcommand>` to srt_cmd_<subcommand> (one file each).
 * Subcommands are weak references so a build without one of them still links and says so. */
#include "snacrt.h"
#include <stdio.h>
#include <string.h>

#define SRT_CLI_WEAK __attribute__((weak))
int srt_cmd_encode(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_decode(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_info(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_generate(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_tokens(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_tts(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_serve(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_tokenize(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_detokenize(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_merge_index(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_devices(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_chat(int argc, char **argv) SRT_CLI_WEAK;
int srt_cmd_transcribe(int argc, char **argv) SRT_CLI_WEAK;

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static void print_usage(FILE *out, const cli_command *cmds, size_t n) {
    fprintf(out, "usage: snacrt <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-11s %s%s\n", cmds[i].name, cmds[i].summary, cmds[i].run ? "" : " (not in this build)");
    fprintf(out, "\n`snacrt <command> --help` shows a command's options.\n");
}

/* `snacrt --version` / `snacrt version`: version, commit, build options, BLAS. */
static int print_version(int argc, char **argv) {
    (void)argc; (void)argv;
    srt_build_info b;
    srt_get_build_info(&b);
    printf("snacrt %s (commit %s)\n", b.version, b.git_commit);
    printf("build: CUDA %s, cudasim %s, NCCL %s, MPI %s, %s\n", b.cuda ? "on" : "off", b.cudasim ? "on" : "off",
           b.nccl ? "on" : "off", b.mpi ? "on" : "off", b.compiler);
    printf("BLAS: %s\n", b.blas);
    return 0;
}

int main(int argc, char **argv) {
    const cli_command cmds[] = {
        {"encode", srt_cmd_encode, "audio file -> SNAC codes (json, npy, laion, orpheus)"},
        {"decode", srt_cmd_decode, "SNAC codes -> audio file (wav, flac)"},
        {"info", srt_cmd_info, "describe a SNAC model folder"},
        {"generate", srt_cmd_generate, "run a Llama-family model on a prompt"},
        {"tokens", srt_cmd_tokens, "tokenize text or detokenize ids with a model's tokenizer.json"},
        {"tts", srt_cmd_tts, "text -> speech with an LM and the SNAC codec"},
        {"chat", srt_cmd_chat, "a conversation with a model that hears and speaks (text and audio turns)"},
        {"transcribe", srt_cmd_transcribe, "audio files -> text through an ASR layout, batched"},
        {"serve", srt_cmd_serve, "HTTP text-to-speech server (OpenAI-compatible)"},
        {"tokenize", srt_cmd_tokenize, "audio dataset -> sharded SNAC codes"},
        {"detokenize", srt_cmd_detokenize, "sharded SNAC codes -> audio"},
        {"merge-index", srt_cmd_merge_index, "join the indexes of tokenize workers (--num-shards)"},
        {"devices", srt_cmd_devices, "list compute devices"},
        {"version", print_version, "version, git commit and build options (also --version)"},
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout, cmds, n);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) return print_version(argc - 1, argv + 1);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cmds[i].name)) continue;
        if (!cmds[i].run) {
            fprintf(stderr, "snacrt: command '%s' is not part of this build\n", argv[1]);
            return 2;
        }
        return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "snacrt: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr, cmds, n);
    return 2;
}
