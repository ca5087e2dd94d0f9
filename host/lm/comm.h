/* comm.h: the tensor-parallel communicator: a group of `size` ranks, each holding one srt_comm, exchanging f32
 * buffers. NCCL-shaped (ncclAllReduce / ncclAllGather argument order, a stream pointer) so an NCCL implementation
 * (behind SNACRT_NCCL) can slot in. Implementations: CPU (comm_cpu.c: ranks are threads of one process; buffers are
 * host memory, i.e. the cpu / cpu-ref backends), MPI (comm_mpi.c: each rank is a process, possibly on another node)
 * and NCCL (below; in one process, or across processes with the unique id sent over MPI). Every rank must make the
 * same calls in the same order.
 * A rank that fails calls abort so the others leave their collectives with SRT_ERR_CANCELLED instead of hanging. */
#ifndef SRT_LM_COMM_H
#define SRT_LM_COMM_H

#include "common.h"
#include <stddef.h>

typedef struct srt_comm srt_comm;

typedef struct srt_comm_ops {
    /* recv[i] = sum over ranks of send[i], i < count (recv may equal send). Summed in rank order: deterministic, and
     * every rank gets bit-identical results. */
    srt_status (*all_reduce_sum)(srt_comm *c, const float *send, float *recv, size_t count, void *stream);
    /* recv (size, send_count): rank r's send lands at recv + r * send_count. */
    srt_status (*all_gather)(srt_comm *c, const float *send, float *recv, size_t send_count, void *stream);
    srt_status (*barrier)(srt_comm *c);
    /* Make every pending and future collective of the group fail (called by a rank that hit an error). */
    void (*abort)(srt_comm *c);
    /* Free this rank's handle (the group goes away with its last handle). */
    void (*destroy)(srt_comm *c);
    /* Optional (NULL: nothing to do): called on the thread that is about to run this rank's compute
     * (NCCL: make the rank's CUDA device current on that thread). */
    srt_status (*enter_thread)(srt_comm *c);
    /* Optional (NULL where one caller drives every rank, i.e. ranks are threads): copy `bytes` of host memory from
     * rank `root`'s buf to every rank's buf. Multi-process groups use it for control: rank 0's sampled ids. */
    srt_status (*broadcast)(srt_comm *c, void *buf, size_t bytes, int root);
} srt_comm_ops;

struct srt_comm {
    const srt_comm_ops *ops;
    int rank, size;
    void *impl;
};

/* A CPU group of `size` ranks: comms[r] is rank r's handle, to be used by one thread each. */
srt_status srt_comm_cpu_create_group(int size, srt_comm **comms);

/* NCCL (cuda/comm_nccl.c; defined when the build has SNACRT_WITH_NCCL): ranks on the "cuda" backend, buffers in
 * device memory. srt_comm_nccl_devices: devices[r] = (first_device + r) mod the device count (in the simulator all
 * ranks share the one simulated device). srt_comm_nccl_create_group: comms[r] is rank r's handle on devices[r];
 * srt_comm_nccl_bind then gives it rank r's "cuda" backend, whose stream the collectives are enqueued on. */
struct srt_backend;
srt_status srt_comm_nccl_devices(int size, int first_device, int *devices);
srt_status srt_comm_nccl_create_group(int size, const int *devices, srt_comm **comms);
void srt_comm_nccl_bind(srt_comm *c, const struct srt_backend *be);

/* Multi-process groups (comm_mpi.c; SRT_ERR_UNSUPPORTED when the build has no MPI, i.e. without SNACRT_HAVE_MPI).
 * MPI is initialized on first use (MPI_THREAD_SERIALIZED; finalized at exit when snacrt initialized it). The world
 * is split into consecutive groups of tp processes (world size must be a multiple of tp): group g = world ranks
 * [g*tp, (g+1)*tp) holds one model (tensor parallel), the groups are data-parallel replicas. */
typedef struct srt_comm_place {
    int world_rank, world_size;   /* MPI_COMM_WORLD */
    int dp_rank, dp_size;         /* this process's group (world_rank / tp) and the number of groups */
    int local_rank, local_size;   /* among the processes on this node (MPI_COMM_TYPE_SHARED): picks the GPU */
} srt_comm_place;
/* This process's rank of its group: rank = world_rank % tp; buffers in host memory (cpu, cpu-ref). Collectives are
 * non-blocking MPI calls waited on together with an abort notice, so a rank's abort makes the other processes'
 * pending and future collectives return SRT_ERR_CANCELLED. all_reduce_sum is bit-identical to the CPU group's. */
srt_status srt_comm_mpi_create(int tp, srt_comm **comm, srt_comm_place *place);
/* NCCL across processes (comm_nccl.c, SNACRT_WITH_NCCL): `host` (from srt_comm_mpi_create; owned by the result
 * from then on, also on failure) broadcasts rank 0's ncclUniqueId, then ncclCommInitRank on `device`.
 * srt_comm_nccl_local_device: device = (first_device + local_rank) mod the device count. */
srt_status srt_comm_nccl_local_device(int first_device, int local_rank, int *device);
srt_status srt_comm_nccl_create_mpi(srt_comm *host, int device, srt_comm **comm);

#endif
