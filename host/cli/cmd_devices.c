/* cmd_devices.c: `snacrt devices [--json]`: the CPU (model, cores, SIMD, memory, BLAS) and each CUDA device, or why
 * there is none (no CUDA backend in this build, no driver, no device). */
#include "cli/cli_common.h"
#include <string.h>

static const char *usage =
    "usage: snacrt devices [--json]\n"
    "  Lists the devices --device accepts: cpu (model, cores, SIMD extensions, memory, BLAS) and each CUDA device\n"
    "  (cuda:N: name, compute capability, multiprocessors, memory), or why there is none.\n"
    "  --json   one JSON object instead of text\n";

enum { MAX_DEVICES = 65 };

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int srt_cmd_devices(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_unknown_option("devices", usage, argv[i]);
        else return cli_usage_error("devices", usage, "takes no arguments");
    }
    srt_device_info devs[MAX_DEVICES];
    char note[512];
    int n = 0;
    srt_status st = srt_list_devices(devs, MAX_DEVICES, &n, note, sizeof note);
    if (st != SRT_OK) return cli_fail("devices", st);
    srt_build_info b;
    srt_get_build_info(&b);
    if (json) {
        printf("{\"devices\":[");
        for (int i = 0; i < n; i++) {
            printf("%s{\"name\":", i ? "," : "");
            json_string(devs[i].name);
            printf(",\"model\":");
            json_string(devs[i].model);
            printf(",\"%s\":%d,\"%s\":", i ? "multiprocessors" : "cores", devs[i].cores, i ? "compute" : "simd");
            json_string(devs[i].features);
            printf(",\"memory_bytes\":%lld", (long long)devs[i].memory_bytes);
            if (i) printf(",\"simulated\":%s", devs[i].simulated ? "true" : "false");
            else { printf(",\"blas\":"); json_string(b.blas); }
            printf("}");
        }
        printf("],\"cuda_note\":");
        json_string(note);
        printf("}\n");
        return 0;
    }
    const srt_device_info *c = &devs[0];
    printf("cpu       %s\n          %d cores, SIMD: %s, %.1f GiB memory\n          BLAS: %s\n", c->model, c->cores,
           c->features, (double)c->memory_bytes / (1 << 30), b.blas);
    for (int i = 1; i < n; i++) {
        const srt_device_info *d = &devs[i];
        printf("%-9s %s%s\n          %s, %d multiprocessors, %.1f GiB memory\n", d->name, d->model,
               d->simulated ? " (the CUDA simulator: kernels run on the CPU; a test build, not a GPU)" : "",
               d->features[0] ? d->features : "compute capability unknown", d->cores,
               (double)d->memory_bytes / (1 << 30));
    }
    if (n == 1) printf("cuda      none: %s\n", note[0] ? note : "no CUDA device");
    return 0;
}
