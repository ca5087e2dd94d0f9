/* cudasim_api.h: the C interface of the CUDA simulator (tests/cudasim) that tests use to steer and query it.
 * Thread order inside a block: forward, reverse or random (seeded). The env var CUDASIM_ORDER
 * (forward|reverse|random) and CUDASIM_SEED set the initial values. A kernel launch that breaks a rule
 * (divergent __syncthreads, wrong shuffle mask, out-of-bounds write into a red zone, bad launch config)
 * records a message, prints it to stderr, and makes cudaGetLastError()/cudaDeviceSynchronize() fail. */
#ifndef CUDASIM_API_H
#define CUDASIM_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cudasim_order { CUDASIM_FORWARD = 0, CUDASIM_REVERSE = 1, CUDASIM_RANDOM = 2 } cudasim_order;

void cudasim_set_order(cudasim_order order, uint64_t seed);
cudasim_order cudasim_get_order(void);
const char *cudasim_order_name(cudasim_order order);
/* The first rule violation since the last cudasim_clear_error() ("" if none). */
const char *cudasim_last_error(void);
int cudasim_error_count(void);
void cudasim_clear_error(void);
/* Silence the stderr report of violations (self-tests that provoke them on purpose). */
void cudasim_set_quiet(int quiet);
/* Number of kernel launches and simulated CUDA threads run so far (statistics for tests). */
uint64_t cudasim_launch_count(void);
uint64_t cudasim_thread_count(void);
/* Check every cudaMalloc'd allocation's red zones now; returns the number of clobbered ones (and records them). */
int cudasim_check_redzones(void);
/* Simulated devices (env CUDASIM_DEVICES=N, default 1; runtime.cpp): the count, the device an allocation
 * (any address inside it) or a stream belongs to (-1: not one), and the bytes allocated on a device. */
int cudasim_device_count(void);
int cudasim_pointer_device(const void *p);
struct CUstream_st;
int cudasim_stream_device(struct CUstream_st *stream);   /* a cudaStream_t */
size_t cudasim_device_bytes(int device);
/* NCCL substitute (nccl.cpp): how many ranks of comm's clique are blocked in a collective now (tests wait for
 * this instead of sleeping before they abort a rank). */
struct ncclComm;
int cudasim_nccl_waiting(struct ncclComm *comm);
/* Stream capture: graphs launched with cudaGraphLaunch, and the operations (kernels, copies, memsets, cuBLAS
 * calls) those launches replayed, so far. */
uint64_t cudasim_graph_launch_count(void);
uint64_t cudasim_graph_op_count(void);
/* cudaMalloc calls that succeeded so far (a hot path that allocates nothing leaves it unchanged). */
uint64_t cudasim_malloc_count(void);

/* ---- Per-launch traffic counters (counters.cpp; off unless enabled: env CUDASIM_COUNTERS=1 or the call below).
 * Kernel sources (tests/cudasim/sim_*.cpp and the counter tests) are compiled with g++'s kernel-address
 * instrumentation, which calls the simulator on every load and store; the simulator classifies the address
 * (a cudaMalloc allocation: global; dynamic or static __shared__: shared; the simulated thread's own stack:
 * local; anything else, e.g. kernel arguments and threadIdx: not counted) and groups accesses into warp-level
 * instructions by the rule: the k-th global load of each lane of a warp is one instruction (likewise the k-th
 * global store, shared load, shared store, atomic). Exact for straight-line and uniform-branch code; in
 * divergent code lanes' k-th accesses may be different instructions (approximate). A 32-byte sector is
 * counted once per instruction however many lanes touch it. */
typedef struct cudasim_launch_stats {
    char name[80];               /* kernel name, or "cublasSgemm[Ex]..." for the cuBLAS substitute */
    unsigned grid[3], block[3];
    uint64_t dyn_smem;           /* dynamic shared memory bytes */
    uint64_t static_smem;        /* static __shared__ bytes touched (span of addresses seen; 0 if none) */
    int is_gemm;                 /* 1: a cuBLAS call (traffic = each operand once; flops exact) */
    int unit;                    /* compute unit: 0 fp32 CUDA cores, 1 TF32 tensor cores, 2 bf16/f16 tensor cores */
    uint64_t gld_bytes, gst_bytes;         /* global bytes requested by loads / stores */
    uint64_t gld_requests, gst_requests;   /* warp-level instructions */
    uint64_t gld_sectors, gst_sectors;     /* 32-byte sectors per instruction, summed */
    uint64_t gld_unique, gst_unique;       /* distinct sectors read / written in the launch (the footprint) */
    uint64_t sh_requests, sh_bytes;        /* shared-memory warp instructions (loads + stores) and bytes */
    uint64_t sh_wavefronts;                /* bank-conflict passes summed over instructions (>= sh_requests) */
    uint64_t local_bytes;                  /* bytes of the thread's own stack touched (g++ frame: see GPU_MODEL.md) */
    uint64_t atomics, atomic_requests;     /* atomic operations (lanes) and warp-level atomic instructions */
    uint64_t atomic_same_addr;             /* lanes whose atomic hit an address another lane of the warp hit */
    uint64_t barriers;                     /* __syncthreads executed, per block, summed */
    uint64_t ld4_lanes;                    /* lane-level 4-byte loads (global + shared): the FLOP proxy of kernels */
    uint64_t threads;
    double flops;                          /* exact for GEMMs; 0 for kernels (bench/gpu_model derives them) */
    int in_graph;                          /* replayed from a CUDA graph */
    uint64_t blocks_run;                   /* blocks simulated (< the grid in sampled mode: counters scaled) */
} cudasim_launch_stats;

typedef struct cudasim_host_stats {
    uint64_t launches, gemms, graph_launches;
    uint64_t h2d_bytes, h2d_sync, h2d_async;   /* bytes; number of synchronous / asynchronous copies */
    uint64_t d2h_bytes, d2h_sync, d2h_async;
    uint64_t d2d_bytes, d2d_copies;
    uint64_t stream_syncs, device_syncs, event_syncs;
} cudasim_host_stats;

void cudasim_counters_enable(int on);
int cudasim_counters_enabled(void);
/* Forget every recorded launch and zero the host counters. */
void cudasim_counters_reset(void);
size_t cudasim_launch_stats_count(void);
const cudasim_launch_stats *cudasim_launch_stats_at(size_t i);
void cudasim_host_stats_get(cudasim_host_stats *out);
/* A kernel's exact FLOPs from its shape, noted by its launch function right after the launch: set on the last
 * recorded launch, with its compute unit (as `unit` above), when that is `name` (prefix) with no FLOPs yet; else dropped (e.g. a launch captured into a graph,
 * not run). bench/gpu_model.py uses them instead of its per-load estimate. */
void cudasim_note_flops(const char *name, double flops, int unit);

/* ---- Sampled ("light") mode, for bench_gpu_model only (sample.cpp; bench/GPU_MODEL.md): while counting is on and
 * k > 0 (at least 3), a launch with more than k sample units runs only k of them (first, last, k - 2 spread over
 * the grid) and scales their counters to the grid (footprint: per allocation, capped at the span the sampled
 * blocks touched). Outputs of the blocks that do not run are never written: every result is wrong, so never
 * use it in a correctness test. The cuBLAS substitute skips its arithmetic (counters exact from the shapes).
 * Launches whose sampled blocks do global atomics run whole unless sample.cpp lists the kernel's groups. 0: off. */
void cudasim_set_sample_blocks(int k);
int cudasim_get_sample_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
