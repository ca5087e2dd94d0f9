/* test_cudasim_counters.cpp: the simulator's per-launch traffic counters (tests/cudasim/counters.cpp) against
 * answers known by hand: a coalesced float copy touches 4 sectors per warp load (100% sector efficiency); a
 * stride-32 float gather 32 sectors per 128 requested bytes (1/8); a 32x32 shared transpose without padding reads
 * a column in 32 passes per warp (31 replays), padded to 33 in one; a sum with one atomic per thread on one
 * address hits the same address from every lane; barriers, local arrays, copies, synchronizations and the cuBLAS
 * substitute's exact FLOPs. Built with the counters' instrumentation (CUDASIM_COUNT_FLAGS). */
#include "cuda/common.cuh"
#include "cudasim_api.h"
#include <cublas_v2.h>
#include "tests/testutil.h"

__global__ void copy_coalesced(const float *in, float *out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = in[i];
}
__global__ void gather_stride32(const float *in, float *out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = in[(size_t)i * 32];
}
/* One 32x32 tile, block (32, 32): out = in^T through shared memory. */
template <int PAD> __global__ void transpose_tile(const float *in, float *out) {
    __shared__ float tile[32][32 + PAD];
    int x = threadIdx.x, y = threadIdx.y;
    tile[y][x] = in[y * 32 + x];
    __syncthreads();
    out[y * 32 + x] = tile[x][y];
}
__global__ void sum_hot_atomic(const float *in, float *sum) { atomicAdd(sum, in[blockIdx.x * blockDim.x + threadIdx.x]); }
__global__ void sum_warp_then_atomic(const float *in, float *sum) {
    float v = srt_warp_sum(in[blockIdx.x * blockDim.x + threadIdx.x]);
    if ((threadIdx.x & 31) == 0) atomicAdd(sum, v);
}
/* A per-thread array indexed at run time: g++ keeps it in the thread's stack frame (local memory). */
__global__ void local_array(const int *idx, float *out) {
    float a[64];
    for (int i = 0; i < 64; i++) a[i] = (float)(i * threadIdx.x);
    out[threadIdx.x] = a[idx[threadIdx.x] & 63];
}

static const cudasim_launch_stats *last(void) { return cudasim_launch_stats_at(cudasim_launch_stats_count() - 1); }
static double sector_eff(const cudasim_launch_stats *s) { return (double)s->gld_bytes / (32.0 * (double)s->gld_sectors); }

int main(void) {
    cudasim_counters_enable(1);
    cudasim_counters_reset();
    const int n = 1024;
    float *in, *out, *big;
    cudaMalloc((void **)&in, n * sizeof(float));
    cudaMalloc((void **)&out, n * sizeof(float));
    cudaMalloc((void **)&big, (size_t)n * 32 * sizeof(float));
    float host[1024];
    for (int i = 0; i < n; i++) host[i] = 1.0f;
    cudaMemcpy(in, host, sizeof host, cudaMemcpyHostToDevice);
    cudaMemset(big, 0, (size_t)n * 32 * sizeof(float));

    LAUNCH(copy_coalesced, n / 256, 256, 0, 0, in, out);
    const cudasim_launch_stats *s = last();
    TEST_CHECK(!strcmp(s->name, "copy_coalesced") && s->grid[0] == 4 && s->block[0] == 256, "name/config: %s", s->name);
    TEST_CHECK(s->gld_bytes == 4096 && s->gst_bytes == 4096, "copy bytes %llu %llu", (unsigned long long)s->gld_bytes,
               (unsigned long long)s->gst_bytes);
    TEST_CHECK(s->gld_requests == 32 && s->gld_sectors == 128 && s->gst_sectors == 128, "copy: %llu requests, %llu sectors",
               (unsigned long long)s->gld_requests, (unsigned long long)s->gld_sectors);
    TEST_CHECK(sector_eff(s) == 1.0, "copy sector efficiency %g", sector_eff(s));
    TEST_CHECK(s->gld_unique == 128 && s->gst_unique == 128, "copy footprint %llu", (unsigned long long)s->gld_unique);
    TEST_CHECK(s->sh_requests == 0 && s->local_bytes == 0 && s->atomics == 0 && s->barriers == 0, "copy: stray counts");

    LAUNCH(gather_stride32, n / 256, 256, 0, 0, big, out);
    s = last();
    TEST_CHECK(s->gld_requests == 32 && s->gld_sectors == 32 * 32, "gather: %llu sectors", (unsigned long long)s->gld_sectors);
    TEST_CHECK(sector_eff(s) == 1.0 / 8, "gather sector efficiency %g (want 1/8)", sector_eff(s));

    LAUNCH(transpose_tile<0>, 1, dim3(32, 32), 0, 0, in, out);
    s = last();
    /* 32 conflict-free row writes + 32 column reads in 32 passes each */
    TEST_CHECK(s->sh_requests == 64 && s->sh_wavefronts == 32 + 32 * 32, "unpadded transpose: %llu requests, %llu passes",
               (unsigned long long)s->sh_requests, (unsigned long long)s->sh_wavefronts);
    TEST_CHECK(s->barriers == 1 && s->static_smem > 0, "transpose: %llu barriers, static smem %llu",
               (unsigned long long)s->barriers, (unsigned long long)s->static_smem);
    LAUNCH(transpose_tile<1>, 1, dim3(32, 32), 0, 0, in, out);
    s = last();
    TEST_CHECK(s->sh_requests == 64 && s->sh_wavefronts == 64, "padded transpose: %llu requests, %llu passes",
               (unsigned long long)s->sh_requests, (unsigned long long)s->sh_wavefronts);

    LAUNCH(sum_hot_atomic, n / 256, 256, 0, 0, in, out);
    s = last();
    TEST_CHECK(s->atomics == 1024 && s->atomic_requests == 32 && s->atomic_same_addr == 1024,
               "hot atomic: %llu atomics, %llu instr, %llu same-address", (unsigned long long)s->atomics,
               (unsigned long long)s->atomic_requests, (unsigned long long)s->atomic_same_addr);
    LAUNCH(sum_warp_then_atomic, n / 256, 256, 0, 0, in, out);
    s = last();
    TEST_CHECK(s->atomics == 32 && s->atomic_requests == 32 && s->atomic_same_addr == 0,
               "warp-reduced atomic: %llu atomics, %llu same-address", (unsigned long long)s->atomics,
               (unsigned long long)s->atomic_same_addr);
    float total = 0;
    cudaMemcpy(&total, out, sizeof total, cudaMemcpyDeviceToHost);
    TEST_CHECK(total > 0, "atomic sums ran");

    int *idx;
    cudaMalloc((void **)&idx, 64 * sizeof(int));
    cudaMemset(idx, 0, 64 * sizeof(int));
    LAUNCH(local_array, 1, 64, 0, 0, idx, out);
    s = last();
    TEST_CHECK(s->local_bytes >= 64 * 64 * 4, "local array: %llu local bytes", (unsigned long long)s->local_bytes);

    cublasHandle_t h;
    cublasCreate(&h);
    float one = 1, zero = 0;
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 16, 4, &one, in, 8, in, 4, &zero, out, 8);
    s = last();
    TEST_CHECK(s->is_gemm && s->flops == 2.0 * 8 * 16 * 4 && s->gst_bytes == 8 * 16 * 4, "gemm flops %g", s->flops);
    cublasDestroy(h);

    cudaMemcpyAsync(out, host, 64, cudaMemcpyHostToDevice, 0);
    cudaStreamSynchronize(0);
    cudasim_host_stats hs;
    cudasim_host_stats_get(&hs);
    TEST_CHECK(hs.h2d_sync == 1 && hs.h2d_async == 1 && hs.h2d_bytes == sizeof host + 64, "h2d %llu/%llu %llu bytes",
               (unsigned long long)hs.h2d_sync, (unsigned long long)hs.h2d_async, (unsigned long long)hs.h2d_bytes);
    TEST_CHECK(hs.d2h_sync == 1 && hs.d2h_bytes == 4 && hs.stream_syncs == 1 && hs.launches == 7 && hs.gemms == 1,
               "d2h %llu, syncs %llu, launches %llu", (unsigned long long)hs.d2h_sync,
               (unsigned long long)hs.stream_syncs, (unsigned long long)hs.launches);

    /* counting off: nothing recorded */
    size_t before = cudasim_launch_stats_count();
    cudasim_counters_enable(0);
    LAUNCH(copy_coalesced, n / 256, 256, 0, 0, in, out);
    TEST_CHECK(cudasim_launch_stats_count() == before, "launch recorded while counting is off");
    TEST_CHECK(cudaDeviceSynchronize() == cudaSuccess && cudasim_error_count() == 0, "simulator error: %s",
               cudasim_last_error());
    cudaFree(in); cudaFree(out); cudaFree(big); cudaFree(idx);
    TEST_MAIN_END();
}
