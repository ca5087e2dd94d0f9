/* test_launch_env.c: srt_launch_place_from_env and srt_launch_local_devices (snacrt_tts.h) by environment: no
 * launcher; Open MPI (world and node-local variables); MPICH / Hydra; srun with SLURM_NTASKS_PER_NODE and with only
 * SLURM_STEP_TASKS_PER_NODE "4(x2)"; bad values named; each process's share of the node's devices (2 nodes x 4
 * processes over cuda:0-7 --tp 2: local rank 1 -> cuda:2-3), shares that cut a replica refused, cpu unchanged. */
#include "snacrt.h"
#include "snacrt_tts.h"
#include "testutil.h"

static const char *const VARS[] = {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                                   "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID",
                                   "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                                   "SLURM_NTASKS_PER_NODE", "SLURM_STEP_TASKS_PER_NODE"};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) unsetenv(VARS[i]);
}

/* env: "NAME=VALUE" strings, NULL-terminated */
static srt_status place_of(const char *const *env, srt_launch_place *p) {
    clear_env();
    for (int i = 0; env[i]; i++) putenv((char *)env[i]);
    return srt_launch_place_from_env(p);
}

#define PLACE(p, found_, wr, ws, lr, ls) \
    ((p).found == (found_) && (p).world_rank == (wr) && (p).world_size == (ws) && (p).local_rank == (lr) && \
     (p).local_size == (ls))

int main(void) {
    srt_launch_place p;
    const char *none[] = {NULL};
    TEST_CHECK(place_of(none, &p) == SRT_OK && PLACE(p, 0, 0, 1, 0, 1), "no launcher: 0 of 1");
    const char *one[] = {"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=1", NULL};
    TEST_CHECK(place_of(one, &p) == SRT_OK && PLACE(p, 0, 0, 1, 0, 1), "mpirun -np 1 is no launcher");
    const char *ompi[] = {"OMPI_COMM_WORLD_RANK=5", "OMPI_COMM_WORLD_SIZE=8", "OMPI_COMM_WORLD_LOCAL_RANK=1",
                          "OMPI_COMM_WORLD_LOCAL_SIZE=4", "SLURM_PROCID=0", "SLURM_NTASKS=2", NULL};
    TEST_CHECK(place_of(ompi, &p) == SRT_OK && PLACE(p, 1, 5, 8, 1, 4) && !strcmp(p.source, "OMPI_COMM_WORLD_SIZE"),
               "Open MPI (before Slurm's): rank 5 of 8, local 1 of 4 (%d %d %d %d from %s)", p.world_rank,
               p.world_size, p.local_rank, p.local_size, p.source);
    const char *hydra[] = {"PMI_RANK=3", "PMI_SIZE=4", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", NULL};
    TEST_CHECK(place_of(hydra, &p) == SRT_OK && PLACE(p, 1, 3, 4, 1, 2), "MPICH / Hydra: 3 of 4, local 1 of 2");
    const char *srun[] = {"SLURM_PROCID=6", "SLURM_NTASKS=8", "SLURM_LOCALID=2", "SLURM_NTASKS_PER_NODE=4", NULL};
    TEST_CHECK(place_of(srun, &p) == SRT_OK && PLACE(p, 1, 6, 8, 2, 4), "srun --ntasks-per-node 4: 6 of 8, local 2 of 4");
    const char *srun2[] = {"SLURM_PROCID=6", "SLURM_NTASKS=8", "SLURM_LOCALID=2", "SLURM_STEP_TASKS_PER_NODE=4(x2)",
                           NULL};
    TEST_CHECK(place_of(srun2, &p) == SRT_OK && PLACE(p, 1, 6, 8, 2, 4), "srun: local size from '4(x2)' (%d of %d)",
               p.local_rank, p.local_size);
    const char *nolocal[] = {"PMI_RANK=1", "PMI_SIZE=2", NULL};
    TEST_CHECK(place_of(nolocal, &p) == SRT_OK && PLACE(p, 1, 1, 2, 0, 1), "no local variables: one per node");
    /* bad values: an error naming the variable */
    const char *bad_num[] = {"OMPI_COMM_WORLD_RANK=x", "OMPI_COMM_WORLD_SIZE=2", NULL};
    TEST_CHECK(place_of(bad_num, &p) == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "OMPI_COMM_WORLD_RANK='x'"),
               "a rank that is not a number: '%s'", srt_last_error());
    const char *no_size[] = {"PMI_RANK=1", NULL};
    TEST_CHECK(place_of(no_size, &p) == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "PMI_SIZE"),
               "a rank without its size: '%s'", srt_last_error());
    const char *past[] = {"SLURM_PROCID=8", "SLURM_NTASKS=8", NULL};
    TEST_CHECK(place_of(past, &p) == SRT_ERR_INVALID_ARG && strstr(srt_last_error(), "SLURM_PROCID=8"),
               "a rank past its size: '%s'", srt_last_error());
    const char *local_big[] = {"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=0",
                               "OMPI_COMM_WORLD_LOCAL_SIZE=4", NULL};
    TEST_CHECK(place_of(local_big, &p) == SRT_ERR_INVALID_ARG, "more processes on the node than in all");
    clear_env();

    /* shares of the node's devices */
    char out[128];
    const char *want[] = {"cuda:0-1", "cuda:2-3", "cuda:4-5", "cuda:6-7"};
    for (int r = 0; r < 4; r++)
        TEST_CHECK(srt_launch_local_devices("cuda:0-7", 2, r, 4, out, sizeof out) == SRT_OK && !strcmp(out, want[r]),
                   "cuda:0-7, tp 2, local %d of 4: '%s' (want %s)", r, out, want[r]);
    TEST_CHECK(srt_launch_local_devices("cuda:0-7", 1, 1, 2, out, sizeof out) == SRT_OK && !strcmp(out, "cuda:4-7"),
               "cuda:0-7, tp 1, local 1 of 2: '%s'", out);
    TEST_CHECK(srt_launch_local_devices("cuda:0,2,4,6", 1, 1, 2, out, sizeof out) == SRT_OK &&
               !strcmp(out, "cuda:4,6"), "cuda:0,2,4,6 local 1 of 2: '%s'", out);
    TEST_CHECK(srt_launch_local_devices("cuda:0-3", 2, 0, 1, out, sizeof out) == SRT_OK && !strcmp(out, "cuda:0-3"),
               "one process on the node keeps the list: '%s'", out);
    TEST_CHECK(srt_launch_local_devices("cuda:0-5", 2, 0, 4, out, sizeof out) == SRT_ERR_INVALID_ARG &&
               strstr(srt_last_error(), "cuda:0-5"), "6 devices over 4 processes: '%s'", srt_last_error());
    TEST_CHECK(srt_launch_local_devices("cuda:0-5", 2, 0, 6, out, sizeof out) == SRT_ERR_INVALID_ARG,
               "a share of 1 device cannot hold a tp 2 replica");
    TEST_CHECK(srt_launch_local_devices("cpu", 2, 1, 2, out, sizeof out) == SRT_OK && !strcmp(out, "cpu"),
               "cpu is unchanged: '%s'", out);
    TEST_CHECK(srt_launch_local_devices("cuda:x", 1, 0, 2, out, sizeof out) == SRT_ERR_INVALID_ARG,
               "a bad list is refused");
    TEST_MAIN_END();
}
