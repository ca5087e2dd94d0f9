/* counters.h: hooks from the simulator's scheduler, runtime and cuBLAS substitute into the per-launch traffic
 * counters (counters.cpp). Internal to tests/cudasim; tests read the counters through cudasim_api.h. */
#ifndef CUDASIM_COUNTERS_H
#define CUDASIM_COUNTERS_H
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>

namespace cudasim {
extern bool g_count_on;   /* counting enabled and a kernel is running: the memory callbacks record */
bool counters_enabled();
/* A launch: its config, the block's thread records (to ignore threadIdx reads), the dynamic shared memory. */
void counters_launch_begin(const char *name, dim3 grid, dim3 block, size_t smem);
void counters_block_begin(int nthreads, const void *threads_lo, const void *threads_hi, const void *dyn_lo,
                          const void *dyn_hi);
void counters_fiber(int linear, const char *stack_lo, size_t stack_bytes);
void counters_barrier();
void counters_block_end(double weight = 1.0);   /* sampled mode: the block stands for `weight` blocks */
uint64_t counters_launch_atomics();             /* global atomics so far in the running launch */
void counters_sample_exact();                   /* sampled mode gave up on the running launch: exact counters */
void counters_launch_end();
/* cuBLAS substitute: one GEMM call (flops exact, bytes = each operand once). unit: 0 fp32, 1 tf32, 2 bf16/f16. */
void counters_gemm(const char *name, long long m, long long n, long long k, long long batch, int a_bytes,
                   int b_bytes, bool reads_c, int unit);
/* Host side: copies (kind as cudaMemcpyKind; async or not), synchronizations. */
void counters_copy(int kind, size_t bytes, bool async);
void counters_sync(int what);   /* 0 stream, 1 device, 2 event */
void counters_graph_launch();
} /* namespace cudasim */
#endif
