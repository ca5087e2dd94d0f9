/* common.cuh: what every kernel file includes.
 *   LAUNCH(kernel, grid, block, smem_bytes, stream, args...)  a <<<>>> launch under nvcc; under g++ the
 *       simulator's launch (tests/cudasim), so the same kernel sources run on the CPU in tests.
 *   SRT_DYN_SHARED(type, name)   `type *name` pointing at the launch's dynamic shared memory.
 *   SRT_UNROLL                   `#pragma unroll` for nvcc (nothing for g++ in the simulator).
 *   srt_grid_stride(i, n)        for-loop header over [0, n) with a grid-stride.
 *   srt_snake_dev(x, alpha)      Snake activation, the formula of cpu-ref.
 *   srt_warp_sum / srt_block_sum reductions with warp shuffles.
 * Launch functions (the extern "C" entries in each .cuh) end with srt_cuda_launch_status(). */
#ifndef SRT_CUDA_COMMON_CUH
#define SRT_CUDA_COMMON_CUH

#ifdef __CUDACC__
#include <cuda_runtime.h>
#define LAUNCH(kernel, grid, block, smem_bytes, stream, ...) \
    kernel<<<(grid), (block), (smem_bytes), (stream)>>>(__VA_ARGS__)
#define SRT_DYN_SHARED(type, name) \
    extern __shared__ float4 srt_dyn_smem_[]; type *name = reinterpret_cast<type *>(srt_dyn_smem_)
#define SRT_UNROLL _Pragma("unroll")
#else
#define SRT_UNROLL
#include "tests/cudasim/cudasim.h"
/* the arguments are evaluated and copied at the launch (cudasim::bind_args), as a CUDA launch does: a recorded
 * graph replays them by value */
#define LAUNCH(kernel, grid, block, smem_bytes, stream, ...) \
    cudasim::launch(#kernel, dim3(grid), dim3(block), (size_t)(smem_bytes), (stream), \
                    cudasim::bind_args(kernel, __VA_ARGS__))
#define SRT_DYN_SHARED(type, name) type *name = static_cast<type *>(cudasim::dynamic_shared())
#endif

#include <stdint.h>
extern "C" {
#include "cuda/check.h"
#include "cuda/kernels.h"
}

#define srt_grid_stride(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (int64_t)(n); i += (int64_t)blockDim.x * gridDim.x)

static const int SRT_BLOCK = 256;

/* Blocks for n elements at SRT_BLOCK threads each, capped (grid-stride loops cover the rest). */
static inline unsigned srt_blocks_for(int64_t n) {
    int64_t b = (n + SRT_BLOCK - 1) / SRT_BLOCK;
    if (b < 1) b = 1;
    if (b > 65535 * 16) b = 65535 * 16;
    return (unsigned)b;
}

__device__ __forceinline__ float srt_snake_dev(float x, float alpha) {
    float s = sinf(alpha * x);
    return x + (1.0f / (alpha + 1e-9f)) * s * s;
}

__device__ __forceinline__ float srt_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
 * `scratch` is 32 floats of shared memory; the function ends with a barrier so it may be reused. */
__device__ __forceinline__ float srt_block_sum(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = (blockDim.x + 31) >> 5;
    v = srt_warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < n_warps; w++) total += scratch[w];
    __syncthreads();
    return total;
}

/* One 16-byte load / store. Under the simulator through a 16-byte memcpy, which g++ keeps as one access (its
 * counters then see what nvcc's ld/st.global.v4 does); a float4 / uint4 dereference is split by g++ into four 4-byte
 * accesses. */
template <typename V>
__device__ __forceinline__ V srt_load16(const void *p) {
#ifdef __CUDACC__
    return *reinterpret_cast<const V *>(p);
#else
    V v;
    __builtin_memcpy(&v, p, 16);
    return v;
#endif
}
template <typename V>
__device__ __forceinline__ void srt_store16(void *p, V v) {
#ifdef __CUDACC__
    *reinterpret_cast<V *>(p) = v;
#else
    __builtin_memcpy(p, &v, 16);
#endif
}
/* The same for one 8-byte access (float2 / uint2). */
template <typename V>
__device__ __forceinline__ V srt_load8(const void *p) {
#ifdef __CUDACC__
    return *reinterpret_cast<const V *>(p);
#else
    V v;
    __builtin_memcpy(&v, p, 8);
    return v;
#endif
}
template <typename V>
__device__ __forceinline__ void srt_store8(void *p, V v) {
#ifdef __CUDACC__
    *reinterpret_cast<V *>(p) = v;
#else
    __builtin_memcpy(p, &v, 8);
#endif
}

/* Check the launch just made (configuration errors appear at once; faults appear at the next sync). */
static inline srt_status srt_cuda_launch_status(const char *kernel, const char *file, int line) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return srt_error(SRT_ERR_BACKEND, "launch of %s failed at %s:%d: %s (%s)", kernel, file, line,
                         cudaGetErrorName(e), cudaGetErrorString(e));
    return SRT_OK;
}
#define SRT_LAUNCH_STATUS(kernel) srt_cuda_launch_status(#kernel, __FILE__, __LINE__)

#endif
