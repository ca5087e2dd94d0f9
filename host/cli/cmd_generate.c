/* cmd_generate.c: `snacrt generate`: run a Llama-family model on a prompt (text through tokenizer.json, or ids)
 * and print the continuation as text or as JSON {"ids":[...],"text":"..."}. Under mpirun / srun with --mpi (or
 * --tp N and a launcher environment, see launched_by_mpi) each process is one tensor-parallel rank and only the
 * first process prints the output. */
#include "snacrt.h"
#include "cli/cli_common.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: snacrt generate -m MODEL_DIR [--prompt TEXT | --ids 1,2,3] [options]\n"
            "  --max-tokens N            tokens to generate (default 64)\n"
            "  --temperature T           0 = greedy (default 0)\n"
            "  --top-p P, --top-k K, --min-p P, --repetition-penalty R, --frequency-penalty F,\n"
            "  --presence-penalty P\n"
            "  --seed S                  sampling seed (default 0)\n"
            "  --device cpu|cpu-ref|cuda[:N]  backend (default cpu)\n"
            "  --lm-precision bf16|exact the Linear layers on bf16 weights (cpu, cuda): bf16 (default; activations\n"
            "                            rounded to bf16: vdpbf16ps on AVX-512 BF16, one tensor-core pass on\n"
            "                            cuda) or exact (f32-level); default from SNACRT_CPU_LM_PRECISION /\n"
            "                            SNACRT_CUDA_LM_PRECISION\n"
            "  --lm-weights stored|int8  Linear weights as stored (default) or int8 per channel (cpu-ref, cuda;\n"
            "                            docs/int8-weights.md); default from SNACRT_LM_WEIGHTS\n"
            "  --tp N                    tensor-parallel ranks (default 1)\n"
            "  --mpi, --no-mpi           each MPI process is one of the --tp ranks (mpirun -np N / srun -n N;\n"
            "                            N a multiple of --tp: N / tp data-parallel replicas); default: on when\n"
            "                            --tp > 1 and mpirun/srun started this process with a multiple of --tp\n"
            "                            processes (OMPI_COMM_WORLD_SIZE, PMI_SIZE or SLURM_STEP_NUM_TASKS)\n"
            "  --format text|json        output (default text)\n");
}

static int fail(srt_status st) {
    fprintf(stderr, "snacrt generate: %s\n", srt_last_error()[0] ? srt_last_error() : srt_status_name(st));
    return 1;
}

/* Started by an MPI launcher with a multiple of tp (> 1) processes? OMPI_COMM_WORLD_SIZE: Open MPI's mpirun;
 * PMI_SIZE: MPICH / Hydra and srun --mpi=pmi2; SLURM_STEP_NUM_TASKS: srun (not set for an sbatch script itself). */
static int launched_by_mpi(int tp) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        int n = v ? atoi(v) : 0;
        if (n > 1) return tp > 1 && n % tp == 0;
    }
    return 0;
}

static int parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 16, count = 0;
    int32_t *out = malloc(sizeof(int32_t) * cap);
    if (!out) return -1;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX) { free(out); return -1; }
        if (count == cap) {
            int32_t *grown = realloc(out, sizeof(int32_t) * (cap *= 2));
            if (!grown) { free(out); return -1; }
            out = grown;
        }
        out[count++] = (int32_t)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) { free(out); return -1; }
    }
    *ids = out;
    *n = count;
    return count ? 0 : -1;
}

int srt_cmd_generate(int argc, char **argv) {
    const char *model_dir = NULL, *prompt = NULL, *ids_arg = NULL, *device = "cpu", *format = "text";
    const char *lm_precision = NULL, *lm_weights = NULL;
    int tp = 1, mpi = -1;     /* mpi -1: decide from the launcher's environment */
    srt_sampling_params sp;
    srt_sampling_defaults(&sp);
    sp.temperature = 0;
    sp.max_tokens = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--mpi") || !strcmp(a, "--no-mpi")) { mpi = !strcmp(a, "--mpi"); continue; }
        if (!v) { fprintf(stderr, "snacrt generate: %s needs a value\n", a); usage(stderr); return 2; }
        i++;
        long long n = 0;
        int bad = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--ids")) ids_arg = v;
        else if (!strcmp(a, "--max-tokens")) { bad = cli_parse_int(v, 1, 1 << 24, &n); sp.max_tokens = (int)n; }
        else if (!strcmp(a, "--temperature")) bad = cli_parse_float(v, &sp.temperature) || sp.temperature < 0;
        else if (!strcmp(a, "--top-p")) bad = cli_parse_float(v, &sp.top_p) || sp.top_p < 0 || sp.top_p > 1;
        else if (!strcmp(a, "--top-k")) { bad = cli_parse_int(v, 0, 1 << 24, &n); sp.top_k = (int)n; }
        else if (!strcmp(a, "--min-p")) bad = cli_parse_float(v, &sp.min_p) || sp.min_p < 0 || sp.min_p > 1;
        else if (!strcmp(a, "--repetition-penalty"))
            bad = cli_parse_float(v, &sp.repetition_penalty) || sp.repetition_penalty <= 0;
        else if (!strcmp(a, "--frequency-penalty")) bad = cli_parse_float(v, &sp.frequency_penalty);
        else if (!strcmp(a, "--presence-penalty")) bad = cli_parse_float(v, &sp.presence_penalty);
        else if (!strcmp(a, "--seed")) { bad = cli_parse_int(v, 0, INT64_MAX, &n); sp.seed = (uint64_t)n; }
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--lm-precision")) { lm_precision = v; bad = cli_check_lm_precision(v); }
        else if (!strcmp(a, "--lm-weights")) { lm_weights = v; bad = cli_check_lm_weights(v); }
        else if (!strcmp(a, "--tp")) { bad = cli_parse_int(v, 1, 4096, &n); tp = (int)n; }
        else { fprintf(stderr, "snacrt generate: unknown option %s\n", a); usage(stderr); return 2; }
        if (bad) { fprintf(stderr, "snacrt generate: bad value for %s: '%s'\n", a, v); usage(stderr); return 2; }
    }
    if (!model_dir || (!prompt == !ids_arg) || sp.max_tokens < 1 || tp < 1 ||
        (strcmp(format, "text") && strcmp(format, "json"))) {
        fprintf(stderr, "snacrt generate: need -m, exactly one of --prompt/--ids, --max-tokens >= 1, --tp >= 1, "
                "--format text|json\n");
        usage(stderr);
        return 2;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (ids_arg && parse_ids(ids_arg, &ids, &n_ids)) {
        fprintf(stderr, "snacrt generate: --ids '%s': expected comma-separated non-negative integers\n", ids_arg);
        return 2;
    }
    srt_lm_options opts = {.backend = device, .tp = tp, .mpi = mpi >= 0 ? mpi : launched_by_mpi(tp),
                           .lm_precision = lm_precision, .weights_dtype = lm_weights};
    srt_lm *lm = NULL;
    if (cli_check_model_dir("generate", "-m", model_dir, CLI_DIR_LM)) return 1;
    srt_status st = srt_lm_load(model_dir, &opts, &lm);
    if (st != SRT_OK) { free(ids); return fail(st); }
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    int prints = info.tp_rank == 0 && info.dp_rank == 0;    /* one output per job, from its first process */
    if (prompt) st = srt_lm_encode(lm, prompt, 1, &ids, &n_ids);
    sp.stop_ids = info.eos_ids;
    sp.n_stop_ids = info.n_eos;
    srt_lm_request req = {.prompt = ids, .n_prompt = n_ids, .sampling = sp};
    srt_lm_output out = {0};
    if (st == SRT_OK) st = srt_lm_generate(lm, 1, &req, &out);
    char *text = NULL;
    srt_status text_st = st == SRT_OK ? srt_lm_decode(lm, out.ids, out.n_ids, 1, &text) : st;
    int rc = 0;
    if (st != SRT_OK) {
        rc = fail(st);
    } else if (!prints) {                  /* another process of this MPI job prints */
    } else if (!strcmp(format, "json")) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "ids");
        for (size_t i = 0; i < out.n_ids; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(out.ids[i]));
        if (text_st == SRT_OK) cJSON_AddStringToObject(root, "text", text);
        else cJSON_AddNullToObject(root, "text");
        cJSON_AddStringToObject(root, "finish_reason", out.finish == SRT_FINISH_STOP ? "stop" : "length");
        char *s = cJSON_PrintUnformatted(root);
        printf("%s\n", s ? s : "{}");
        free(s);
        cJSON_Delete(root);
    } else if (text_st == SRT_OK) {
        printf("%s\n", text);
    } else {                                /* no tokenizer: print the ids */
        for (size_t i = 0; i < out.n_ids; i++) printf("%s%d", i ? " " : "", out.ids[i]);
        printf("\n");
    }
    free(text);
    srt_lm_output_free(&out);
    free(ids);
    srt_lm_free(lm);
    return rc;
}
