/* cudasim.h: the CUDA device language for g++, so that cuda/ *.cuh kernels run on the CPU (tests only).
 * Included by cuda/common.cuh when __CUDACC__ is not defined. Provides:
 *   __global__/__device__/__host__ (empty), __shared__ (static: one copy per block, since the blocks of a
 *   launch run one after another and launches are serialized by the device lock; not thread_local, so that the
 *   counters' instrumentation sees its accesses: counters.cpp), threadIdx/blockIdx/blockDim/gridDim,
 *   __syncthreads() (block barrier checking that every live thread arrives at the same call site),
 *   __syncwarp, __shfl_{sync,xor,up,down}_sync, __ballot_sync, __any_sync, __all_sync (32-lane warp
 *   exchanges honouring mask and width; a lane outside the mask or a lane that never arrives is reported),
 *   atomics (plain read-modify-write: fibers only switch at barriers), fast-math intrinsics,
 *   and cudasim::launch (used by LAUNCH in cuda/common.cuh). Types (dim3, cudaStream_t) come from CUDA's
 *   host headers. Scheduling and checks are in scheduler.cpp. */
#ifndef CUDASIM_H
#define CUDASIM_H

#ifndef __cplusplus
#error "cudasim.h is C++: compile kernel sources with g++"
#endif

#include <cuda_runtime_api.h>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>
#include "cudasim_api.h"

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __constant__ static const
#define __shared__ static
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)

namespace cudasim {

/* One simulated CUDA thread (a fiber). */
struct Thread {
    uint3 idx;           /* threadIdx */
    int linear;          /* x + y*bx + z*bx*by */
    int lane, warp;
    int state;           /* see scheduler.cpp */
    const char *wait_file; int wait_line;   /* call site of the barrier / collective it waits at */
    uint64_t coll_value; /* value this lane contributed to a warp collective (warp_op: its operand pointer) */
    int coll_param;      /* source lane / delta / lane mask */
    uint64_t coll_result;
    void *fiber;         /* fcontext */
};

extern thread_local Thread *t_current;
extern thread_local uint3 t_block_idx;
extern thread_local dim3 t_block_dim, t_grid_dim;

enum CollKind { COLL_SHFL = 0, COLL_SHFL_XOR, COLL_SHFL_UP, COLL_SHFL_DOWN, COLL_BALLOT, COLL_ANY, COLL_ALL, COLL_SYNCWARP,
                COLL_WARP_OP };

void syncthreads(const char *file, int line);
uint64_t warp_collective(CollKind kind, unsigned mask, uint64_t value, int param, int width, const char *file, int line);
/* A warp-wide operation (the tensor-core instructions of sim_mma.h): every lane of a full warp calls it with the
 * same fn and a pointer to its own operands; the last lane to arrive calls fn once with the 32 lanes' pointers
 * (index = lane), then all lanes go on. The same checks as a collective with mask 0xffffffff. */
typedef void (*WarpOpFn)(void *const lane_args[32]);
void warp_op(WarpOpFn fn, void *lane_arg, const char *what, const char *file, int line);
void *dynamic_shared();
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef void (*KernelThunk)(void *closure);
void launch_impl(const char *name, dim3 grid, dim3 block, size_t smem_bytes, cudaStream_t stream, KernelThunk fn,
                 void *closure);

/* Stream capture (runtime.cpp): while `stream` records a graph, work enqueued on it is stored instead of run
 * (a kernel's closure is copied: its arguments are captured by value, as a CUDA graph's kernel node does). */
bool capturing(cudaStream_t stream);
void record_op(cudaStream_t stream, const char *what, std::function<void()> op);

/* A kernel call with its arguments evaluated and copied now (LAUNCH in cuda/common.cuh). */
template <class K, class... A> inline auto bind_args(K kernel, A &&...args) {
    return [kernel, t = std::make_tuple(std::forward<A>(args)...)]() mutable { std::apply(kernel, t); };
}

template <class F> static void thunk_of(void *closure) { (*static_cast<F *>(closure))(); }
void check_stream_device(cudaStream_t stream, const char *what);   /* runtime.cpp: CUDASIM_DEVICES */
/* The stream this thread's last launch was recorded on (null: it ran): cudasim_note_flops after a captured launch
 * records the note on that stream, so the replayed launch gets it (counters.cpp). */
extern thread_local cudaStream_t t_last_captured_stream;
template <class F> inline void launch(const char *name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, F fn) {
    check_stream_device(stream, name);
    if (capturing(stream)) {
        record_op(stream, name, [=]() mutable { launch_impl(name, grid, block, smem, stream, &thunk_of<F>, &fn); });
        t_last_captured_stream = stream;
        return;
    }
    t_last_captured_stream = nullptr;
    launch_impl(name, grid, block, smem, stream, &thunk_of<F>, &fn);
}

template <class T> inline uint64_t to_bits(T v) { uint64_t u = 0; static_assert(sizeof(T) <= 8, "shuffle of >8 bytes"); std::memcpy(&u, &v, sizeof v); return u; }
template <class T> inline T from_bits(uint64_t u) { T v; std::memcpy(&v, &u, sizeof v); return v; }

} /* namespace cudasim */

#define threadIdx (cudasim::t_current->idx)
#define blockIdx (cudasim::t_block_idx)
#define blockDim (cudasim::t_block_dim)
#define gridDim (cudasim::t_grid_dim)
#define warpSize 32

#define __syncthreads() cudasim::syncthreads(__FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xffffffffu, const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    cudasim::warp_collective(cudasim::COLL_SYNCWARP, mask, 0, 0, 32, file, line);
}
template <class T> inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
                                       const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::from_bits<T>(cudasim::warp_collective(cudasim::COLL_SHFL, mask, cudasim::to_bits(var), src_lane, width, file, line));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                                           const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::from_bits<T>(cudasim::warp_collective(cudasim::COLL_SHFL_XOR, mask, cudasim::to_bits(var), lane_mask, width, file, line));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                                          const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::from_bits<T>(cudasim::warp_collective(cudasim::COLL_SHFL_UP, mask, cudasim::to_bits(var), (int)delta, width, file, line));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                                            const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return cudasim::from_bits<T>(cudasim::warp_collective(cudasim::COLL_SHFL_DOWN, mask, cudasim::to_bits(var), (int)delta, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (unsigned)cudasim::warp_collective(cudasim::COLL_BALLOT, mask, pred != 0, 0, 32, file, line);
}
inline int __any_sync(unsigned mask, int pred, const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)cudasim::warp_collective(cudasim::COLL_ANY, mask, pred != 0, 0, 32, file, line);
}
inline int __all_sync(unsigned mask, int pred, const char *file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)cudasim::warp_collective(cudasim::COLL_ALL, mask, pred != 0, 0, 32, file, line);
}

/* Atomics: fibers never switch inside one, so a plain read-modify-write is atomic here. The read-modify-write
 * itself is not instrumented: cudasim::count_atomic records it as one atomic (counters.cpp). */
namespace cudasim { extern bool g_count_on; void count_atomic(const void *p); }
#define CUDASIM_ATOMIC(name, body) \
    template <class T> __attribute__((no_sanitize_address, noinline)) T name(T *p, T v) { \
        if (cudasim::g_count_on) cudasim::count_atomic(p); \
        T old = *p; body; return old; }
CUDASIM_ATOMIC(atomicAdd, *p = old + v)
CUDASIM_ATOMIC(atomicSub, *p = old - v)
CUDASIM_ATOMIC(atomicMax, if (v > old) *p = v)
CUDASIM_ATOMIC(atomicMin, if (v < old) *p = v)
CUDASIM_ATOMIC(atomicExch, *p = v)
CUDASIM_ATOMIC(atomicOr, *p = old | v)
template <class T> __attribute__((no_sanitize_address, noinline)) T atomicCAS(T *p, T cmp, T v) {
    if (cudasim::g_count_on) cudasim::count_atomic(p);
    T old = *p; if (old == cmp) *p = v; return old; }
#undef CUDASIM_ATOMIC

/* Device math and bit intrinsics. */
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
template <class T> inline T __ldg(const T *p) { return *p; }

#endif
