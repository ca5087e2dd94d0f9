/* cudasim_api.h: the C interface of the CUDA simulator (tests/cudasim) that tests use to steer and query it.
 * Thread order inside a block: forward, reverse or random (seeded). The env var CUDASIM_ORDER
 * (forward|reverse|random) and CUDASIM_SEED set the initial values. A kernel launch that breaks a rule
 * (divergent __syncthreads, wrong shuffle mask, out-of-bounds write into a red zone, bad launch config)
 * records a message, prints it to stderr, and makes cudaGetLastError()/cudaDeviceSynchronize() fail. */
#ifndef CUDASIM_API_H
#define CUDASIM_API_H

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
/* Stream capture: graphs launched with cudaGraphLaunch, and the operations (kernels, copies, memsets, cuBLAS
 * calls) those launches replayed, so far. */
uint64_t cudasim_graph_launch_count(void);
uint64_t cudasim_graph_op_count(void);

#ifdef __cplusplus
}
#endif
#endif
