/* tts_launch.c: where this process stands under an MPI or Slurm launcher (srt_launch_place_from_env: world and
 * node-local rank and size from the launcher's environment variables) and its node-local share of a device list
 * (srt_launch_local_devices), so that `mpirun -npernode 4 snacrt tts --input ... --devices cuda:0-7 --tp 2` gives
 * each process two GPUs of its node and its shard of the input (snacrt_tts.h). */
#include "tts/tts_internal.h"
#include <errno.h>
#include <stdlib.h>

/* *v = the variable's value (>= lo), 0 when it is not set, -1 (with the error set) when it is not a number. */
static int env_int(const char *name, int lo, int *v) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || x < lo || x > 1000000 || (*end && *end != '(')) {
        srt_error(SRT_ERR_INVALID_ARG, "launcher variable %s='%s': expected a number >= %d", name, s, lo);
        return -1;
    }
    *v = (int)x;
    return 1;
}

/* The first pair (rank, size) of vars[] that is set; 0 none, 1 found, -1 error. */
static int env_pair(const char *const (*vars)[2], int n, int *rank, int *size, const char **from) {
    for (int i = 0; i < n; i++) {
        int r = 0, sz = 0;
        int has_r = env_int(vars[i][0], 0, &r), has_s = env_int(vars[i][1], 1, &sz);
        if (has_r < 0 || has_s < 0) return -1;
        if (!has_r && !has_s) continue;
        if (!has_s) {
            srt_error(SRT_ERR_INVALID_ARG, "launcher variable %s is set but %s is not", vars[i][0], vars[i][1]);
            return -1;
        }
        if (r >= sz) {
            srt_error(SRT_ERR_INVALID_ARG, "launcher variables %s=%d and %s=%d: the rank is not below the size",
                      vars[i][0], r, vars[i][1], sz);
            return -1;
        }
        *rank = r;
        *size = sz;
        *from = vars[i][1];
        return 1;
    }
    return 0;
}

srt_status srt_launch_place_from_env(srt_launch_place *p) {
    memset(p, 0, sizeof *p);
    p->world_size = p->local_size = 1;
    static const char *const world[][2] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                           {"PMI_RANK", "PMI_SIZE"},
                                           {"SLURM_PROCID", "SLURM_NTASKS"}};
    static const char *const local[][2] = {{"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
                                           {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
                                           {"SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
                                           {"SLURM_LOCALID", "SLURM_STEP_TASKS_PER_NODE"}};
    const char *from = NULL;
    int got = env_pair(world, 3, &p->world_rank, &p->world_size, &from);
    if (got < 0) return SRT_ERR_INVALID_ARG;
    if (!got || p->world_size < 2) {
        p->world_rank = 0;
        p->world_size = 1;
        return SRT_OK;
    }
    p->found = 1;
    snprintf(p->source, sizeof p->source, "%s", from);
    const char *lfrom = NULL;
    /* SLURM_NTASKS_PER_NODE is only set with --ntasks-per-node: then the step's first count (nodes get equal
     * shares in the layouts this supports) */
    int lgot = 0;
    for (int i = 0; i < 4 && !lgot; i++) {
        lgot = env_pair(&local[i], 1, &p->local_rank, &p->local_size, &lfrom);
        if (lgot < 0) {
            if (i == 2 && !getenv("SLURM_NTASKS_PER_NODE")) { lgot = 0; continue; }
            return SRT_ERR_INVALID_ARG;
        }
    }
    if (!lgot) p->local_rank = 0, p->local_size = 1;
    if (p->local_size > p->world_size)
        return srt_error(SRT_ERR_INVALID_ARG, "launcher: %d processes on the node (%s) but %d in all (%s)",
                         p->local_size, lfrom, p->world_size, from);
    return SRT_OK;
}

srt_status srt_launch_local_devices(const char *devices, int tp, int local_rank, int local_size, char *out,
                                    size_t cap) {
    if (!devices || !out || cap < 2) return srt_error(SRT_ERR_INVALID_ARG, "launch devices: no list or no room");
    if (tp < 1) tp = 1;
    if (local_size < 1 || local_rank < 0 || local_rank >= local_size)
        return srt_error(SRT_ERR_INVALID_ARG, "launch devices: local rank %d of %d", local_rank, local_size);
    if (strncmp(devices, "cuda", 4)) {
        if (strlen(devices) >= cap) return srt_error(SRT_ERR_RANGE, "devices '%s': too long", devices);
        snprintf(out, cap, "%s", devices);
        return SRT_OK;
    }
    int devs[1024];
    int n = tts_parse_cuda_list(devices + 4, devs, 1024);
    if (n < 1)
        return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': expected cuda:N, cuda:A-B or a comma list of those",
                         devices);
    if (n % local_size || (n / local_size) % tp)
        return srt_error(SRT_ERR_INVALID_ARG, "devices '%s': %d device(s) do not split into %d processes on the node "
                         "(launcher local size) of whole --tp %d replicas", devices, n, local_size, tp);
    int share = n / local_size, first = local_rank * share;
    size_t len = (size_t)snprintf(out, cap, "cuda:");
    for (int i = first; i < first + share; i++) {
        int j = i;   /* a run of consecutive ids is written A-B */
        while (j + 1 < first + share && devs[j + 1] == devs[j] + 1) j++;
        int w = j > i ? snprintf(out + len, cap - len, "%s%d-%d", i > first ? "," : "", devs[i], devs[j])
                      : snprintf(out + len, cap - len, "%s%d", i > first ? "," : "", devs[i]);
        if (w < 0 || (size_t)w >= cap - len) return srt_error(SRT_ERR_RANGE, "devices '%s': share too long", devices);
        len += (size_t)w;
        i = j;
    }
    return SRT_OK;
}
