/* test_cudasim_harness.cpp: self-tests of the CUDA simulator (tests/cudasim). Each rule the simulator enforces
 * is provoked on purpose and must be caught: a missing barrier gives a wrong result in reverse and random order,
 * a divergent __syncthreads and wrong shuffle masks are reported, an out-of-bounds write hits a red zone,
 * dynamic shared memory starts NaN. Correct reductions (block sum, warp shuffles, ballot) pass in all 3 orders. */
#include "cuda/common.cuh"
#include "cudasim_api.h"
#include "tests/testutil.h"

/* s[i] = i + 1, then out[i] = s[i-1] (0 for i = 0): needs a barrier between the write and the read. */
__global__ void neighbour_no_barrier(float *out) {
    SRT_DYN_SHARED(float, s);
    int i = threadIdx.x;
    s[i] = (float)(i + 1);
    out[i] = i ? s[i - 1] : 0.0f;
}
__global__ void neighbour_with_barrier(float *out) {
    SRT_DYN_SHARED(float, s);
    int i = threadIdx.x;
    s[i] = (float)(i + 1);
    __syncthreads();
    out[i] = i ? s[i - 1] : 0.0f;
}

__global__ void divergent_sites(float *out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}
__global__ void barrier_after_early_exit(float *out) {
    if (threadIdx.x >= 40) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

/* Only the first half-warp calls a full-mask shuffle: lanes 16..31 never arrive. */
__global__ void shuffle_half_warp_full_mask(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
/* Mask 0x0000ffff but every lane calls: lanes 16..31 are not in their own mask. */
__global__ void shuffle_mask_excludes_caller(float *out) {
    float v = __shfl_xor_sync(0x0000ffffu, (float)threadIdx.x, 1);
    out[threadIdx.x] = v;
}
/* Half-warp mask, xor 16 reads lanes outside the mask. */
__global__ void shuffle_reads_outside_mask(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16) v = __shfl_xor_sync(0x0000ffffu, v, 16);
    out[threadIdx.x] = v;
}

/* Correct code: block sum of x (gridDim.x blocks of blockDim.x), warp sums with __shfl_down_sync, ballot. */
__global__ void block_sums(const float *x, float *sums, float *warp_down, unsigned *ballots) {
    __shared__ float scratch[32];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    float total = srt_block_sum(v, scratch);
    float d = v;
    for (int o = 16; o > 0; o >>= 1) d += __shfl_down_sync(0xffffffffu, d, o);
    unsigned b = __ballot_sync(0xffffffffu, v > 0.5f);
    if (threadIdx.x == 0) sums[blockIdx.x] = total;
    if ((threadIdx.x & 31) == 0) {
        warp_down[i / 32] = d;
        ballots[i / 32] = b;
    }
}

/* Shuffles inside segments of 8 lanes (width 8) with a partial final warp (blockDim 40). */
__global__ void segment_broadcast(float *out) {
    float v = (float)threadIdx.x;
    unsigned mask = threadIdx.x < 32 ? 0xffffffffu : 0x000000ffu;
    out[threadIdx.x] = __shfl_sync(mask, v, 3, 8);
}

__global__ void write_one_past(float *out, int n) {
    if (threadIdx.x == 0) out[n] = 1.0f;
}

__global__ void read_dynamic_shared(float *out) {
    SRT_DYN_SHARED(float, s);
    out[threadIdx.x] = s[threadIdx.x];
}

static const cudasim_order kOrders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};

static float *dev_floats(int n) {
    void *p = nullptr;
    cudaMalloc(&p, sizeof(float) * (size_t)n);
    return (float *)p;
}

/* Launch result: number of violations reported by the simulator for this launch. */
static int violations_of(void (*run)(float *), float *dev) {
    cudasim_clear_error();
    run(dev);
    cudaError_t e = cudaDeviceSynchronize();
    int n = cudasim_error_count();
    if (n) TEST_CHECK(e == cudaErrorLaunchFailure, "a violation must fail the sync (got %d)", (int)e);
    cudaGetLastError();
    return n;
}

int main(void) {
    cudasim_set_quiet(1);
    const int n = 64;
    float *dev = dev_floats(256);
    float host[256];

    /* missing barrier: forward order happens to work, reverse and random must break it */
    for (cudasim_order order : kOrders) {
        cudasim_set_order(order, 7);
        for (int with_barrier = 0; with_barrier < 2; with_barrier++) {
            if (with_barrier) LAUNCH(neighbour_with_barrier, 1, n, n * sizeof(float), 0, dev);
            else LAUNCH(neighbour_no_barrier, 1, n, n * sizeof(float), 0, dev);
            TEST_CHECK(cudaDeviceSynchronize() == cudaSuccess, "neighbour kernel failed");
            cudaMemcpy(host, dev, sizeof(float) * n, cudaMemcpyDeviceToHost);
            int wrong = 0;
            for (int i = 0; i < n; i++) wrong += host[i] != (float)i;
            if (with_barrier || order == CUDASIM_FORWARD)
                TEST_CHECK(wrong == 0, "%s order, barrier %d: %d wrong values", cudasim_order_name(order), with_barrier, wrong);
            else
                TEST_CHECK(wrong > 0, "%s order: a missing barrier went unnoticed", cudasim_order_name(order));
        }
    }

    for (cudasim_order order : kOrders) {
        cudasim_set_order(order, 11);
        int v;
        v = violations_of([](float *d) { LAUNCH(divergent_sites, 1, 64, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "divergent __syncthreads"), "%s: divergent sites not reported: %s",
                   cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(barrier_after_early_exit, 1, 64, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "exited"), "%s: barrier after early exit not reported: %s",
                   cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(shuffle_half_warp_full_mask, 1, 32, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "never arrive"), "%s: half-warp full-mask shuffle: %s",
                   cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(shuffle_mask_excludes_caller, 1, 32, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "does not include the calling lane"),
                   "%s: mask excluding the caller: %s", cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(shuffle_reads_outside_mask, 1, 32, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "not in mask"), "%s: read outside mask: %s",
                   cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(write_one_past, 1, 32, 0, 0, d, 256); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "out-of-bounds"), "%s: write past the end: %s",
                   cudasim_order_name(order), cudasim_last_error());
        v = violations_of([](float *d) { LAUNCH(read_dynamic_shared, 1, 32, 0, 0, d); }, dev);
        TEST_CHECK(v == 0, "reading dynamic shared memory is legal");
        v = violations_of([](float *d) { LAUNCH(read_dynamic_shared, 1, 32, 32 * sizeof(float), 0, d); }, dev);
        cudaMemcpy(host, dev, sizeof(float) * 32, cudaMemcpyDeviceToHost);
        int nans = 0;
        for (int i = 0; i < 32; i++) nans += isnan(host[i]) != 0;
        TEST_CHECK(v == 0 && nans == 32, "dynamic shared memory must start NaN (%d of 32)", nans);
        v = violations_of([](float *d) { LAUNCH(read_dynamic_shared, 1, 2048, 0, 0, d); }, dev);
        TEST_CHECK(v == 1 && strstr(cudasim_last_error(), "launch configuration"), "block of 2048 threads accepted");
    }

    /* correct reductions: identical results in every order, no violation */
    const int blocks = 3, threads = 96, total = blocks * threads;
    float x[blocks * threads];
    test_fill_uniform(x, (size_t)total, 5, 0.0f, 1.0f);
    float *dx = dev_floats(total), *dsum = dev_floats(blocks), *dwarp = dev_floats(total / 32);
    unsigned *dballot = nullptr;
    cudaMalloc((void **)&dballot, sizeof(unsigned) * (size_t)(total / 32));
    cudaMemcpy(dx, x, sizeof x, cudaMemcpyHostToDevice);
    for (cudasim_order order : kOrders) {
        cudasim_set_order(order, 3);
        cudasim_clear_error();
        LAUNCH(block_sums, blocks, threads, 0, 0, dx, dsum, dwarp, dballot);
        TEST_CHECK(cudaDeviceSynchronize() == cudaSuccess && cudasim_error_count() == 0, "%s: reduction reported: %s",
                   cudasim_order_name(order), cudasim_last_error());
        float sums[blocks], warps[total / 32];
        unsigned ballots[total / 32];
        cudaMemcpy(sums, dsum, sizeof sums, cudaMemcpyDeviceToHost);
        cudaMemcpy(warps, dwarp, sizeof warps, cudaMemcpyDeviceToHost);
        cudaMemcpy(ballots, dballot, sizeof ballots, cudaMemcpyDeviceToHost);
        for (int b = 0; b < blocks; b++) {
            double ref = 0;
            for (int i = 0; i < threads; i++) ref += x[b * threads + i];
            TEST_CHECK(fabs(sums[b] - ref) < 1e-4, "%s: block %d sum %g vs %g", cudasim_order_name(order), b, sums[b], ref);
        }
        for (int w = 0; w < total / 32; w++) {
            double ref = 0;
            unsigned bits = 0;
            for (int l = 0; l < 32; l++) { ref += x[w * 32 + l]; if (x[w * 32 + l] > 0.5f) bits |= 1u << l; }
            TEST_CHECK(fabs(warps[w] - ref) < 1e-4, "%s: warp %d shfl_down sum %g vs %g", cudasim_order_name(order), w, warps[w], ref);
            TEST_CHECK(ballots[w] == bits, "%s: warp %d ballot %08x vs %08x", cudasim_order_name(order), w, ballots[w], bits);
        }
        cudasim_clear_error();
        LAUNCH(segment_broadcast, 1, 40, 0, 0, dev);
        TEST_CHECK(cudaDeviceSynchronize() == cudaSuccess, "%s: segment broadcast reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        cudaMemcpy(host, dev, sizeof(float) * 40, cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int i = 0; i < 40; i++) wrong += host[i] != (float)((i / 8) * 8 + 3);
        TEST_CHECK(wrong == 0, "%s: width-8 broadcast: %d wrong lanes", cudasim_order_name(order), wrong);
    }
    printf("simulated %llu launches, %llu threads\n", (unsigned long long)cudasim_launch_count(),
           (unsigned long long)cudasim_thread_count());
    cudaFree(dx); cudaFree(dsum); cudaFree(dwarp); cudaFree(dballot); cudaFree(dev);
    TEST_MAIN_END();
}
