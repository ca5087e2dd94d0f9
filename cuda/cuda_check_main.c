/* cuda_check_main.c: snacrt_cuda_check, a tiny program proving the CUDA backend links; run it to see whether a
 * device is usable ("no CUDA device" and exit 2 on machines without a GPU or driver). */
#include "backend.h"
#include <stdio.h>

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cuda";
    srt_backend b;
    srt_status st = srt_backend_create(name, 0, &b);
    if (st == SRT_ERR_NO_DEVICE) {
        fprintf(stderr, "snacrt_cuda_check: no CUDA device: %s\n", srt_last_error());
        printf("no CUDA device\n");
        return 2;
    }
    if (st != SRT_OK) {
        fprintf(stderr, "snacrt_cuda_check: %s: %s\n", srt_status_name(st), srt_last_error());
        return 1;
    }
    printf("backend %s ready (%s)\n", b.ops->name, b.device);
    srt_backend_destroy(&b);
    return 0;
}
