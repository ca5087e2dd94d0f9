/* runtime.cpp: CPU substitutes, resolved at link time, for the CUDA runtime calls snacrt uses.
 * One simulated device; every call is a synchronous host operation (streams and events exist only as
 * handles). cudaMalloc returns NaN-filled memory (0xff bytes) framed by 256-byte red zones that are
 * checked after every kernel launch and on cudaFree; a clobbered red zone is reported as an
 * out-of-bounds write. Env CUDASIM_NO_DEVICE=1 makes cudaGetDeviceCount report no device (to test that path). */
#include "cudasim_api.h"
#include <cuda_runtime_api.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

extern "C" int cudasim_take_pending(void);
extern "C" void cudasim_report(const char *msg);
namespace cudasim { extern std::recursive_mutex g_device_mutex; }   /* scheduler.cpp: one device, many host threads */

namespace {
const size_t kRedZone = 256;
const unsigned char kRedByte = 0xA5;

struct Allocation { size_t bytes; unsigned char *base; };
std::map<uintptr_t, Allocation> g_allocs;   /* user pointer -> allocation */
cudaError_t g_last = cudaSuccess;
int g_device = 0;

cudaError_t set_error(cudaError_t e) { if (e != cudaSuccess) g_last = e; return e; }

/* The sticky launch error: a simulator violation since the last query. */
cudaError_t launch_status() { return cudasim_take_pending() ? set_error(cudaErrorLaunchFailure) : cudaSuccess; }

bool redzone_intact(uintptr_t user, const Allocation &a, char *where, size_t cap) {
    const unsigned char *lo = a.base, *hi = a.base + kRedZone + a.bytes;
    for (size_t i = 0; i < kRedZone; i++) {
        if (lo[i] != kRedByte) { snprintf(where, cap, "%zu bytes before", kRedZone - i); return false; }
        if (hi[i] != kRedByte) {
            /* report the first clobbered byte past the end */
            snprintf(where, cap, "%zu bytes past the end", i + 1);
            return false;
        }
    }
    (void)user;
    return true;
}

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
struct SimEvent { double ms; };
struct SimStream { int id; };
} // namespace

extern "C" int cudasim_check_redzones(void) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    int bad = 0;
    for (auto &kv : g_allocs) {
        char where[64];
        if (!redzone_intact(kv.first, kv.second, where, sizeof where)) {
            char msg[256];
            snprintf(msg, sizeof msg, "out-of-bounds write: allocation %p of %zu bytes clobbered %s", (void *)kv.first,
                     kv.second.bytes, where);
            cudasim_report(msg);
            bad++;
            memset(kv.second.base, kRedByte, kRedZone);   /* report each clobber once */
            memset(kv.second.base + kRedZone + kv.second.bytes, kRedByte, kRedZone);
        }
    }
    return bad;
}

cudaError_t cudaGetDeviceCount(int *count) {
    const char *nodev = getenv("CUDASIM_NO_DEVICE");
    if (nodev && atoi(nodev)) { *count = 0; return set_error(cudaErrorNoDevice); }
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { if (device != 0) return set_error(cudaErrorInvalidDevice); g_device = device; return cudaSuccess; }
cudaError_t cudaGetDevice(int *device) { *device = g_device; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) { *free_bytes = (size_t)8 << 30; *total = (size_t)16 << 30; return cudaSuccess; }

cudaError_t cudaMalloc(void **ptr, size_t size) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    unsigned char *base = static_cast<unsigned char *>(malloc(size + 2 * kRedZone));
    if (!base) { *ptr = nullptr; return set_error(cudaErrorMemoryAllocation); }
    memset(base, kRedByte, kRedZone);
    memset(base + kRedZone, 0xff, size);      /* NaN: reading memory nobody wrote shows up in results */
    memset(base + kRedZone + size, kRedByte, kRedZone);
    *ptr = base + kRedZone;
    g_allocs[(uintptr_t)*ptr] = Allocation{size, base};
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
    if (!ptr) return cudaSuccess;
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    auto it = g_allocs.find((uintptr_t)ptr);
    if (it == g_allocs.end()) return set_error(cudaErrorInvalidValue);
    char where[64];
    if (!redzone_intact(it->first, it->second, where, sizeof where)) {
        char msg[256];
        snprintf(msg, sizeof msg, "out-of-bounds write found at cudaFree: allocation %p of %zu bytes clobbered %s",
                 ptr, it->second.bytes, where);
        cudasim_report(msg);
    }
    free(it->second.base);
    g_allocs.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t size) {
    *ptr = malloc(size ? size : 1);
    return *ptr ? cudaSuccess : set_error(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void *ptr) { free(ptr); return cudaSuccess; }

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind) {
    (void)kind;
    if (count) memmove(dst, src, count);
    return launch_status();
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
    (void)stream;
    (void)kind;
    if (count) memmove(dst, src, count);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *dst, int value, size_t count) { memset(dst, value, count); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream) {
    (void)stream;
    memset(dst, value, count);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    *stream = reinterpret_cast<cudaStream_t>(new SimStream{1});
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) { (void)flags; return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) { delete reinterpret_cast<SimStream *>(stream); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t stream) { (void)stream; return launch_status(); }
cudaError_t cudaDeviceSynchronize(void) { return launch_status(); }

cudaError_t cudaGetLastError(void) {
    launch_status();
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { launch_status(); return g_last; }

const char *cudaGetErrorName(cudaError_t error) {
    switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaError(simulated)";
    }
}
const char *cudaGetErrorString(cudaError_t error) {
    static thread_local char buf[1200];
    switch (error) {
    case cudaErrorLaunchFailure:
        snprintf(buf, sizeof buf, "kernel failed in the simulator: %s", cudasim_last_error());
        return buf;
    case cudaErrorNoDevice: return "no CUDA-capable device is detected (simulated)";
    default: return cudaGetErrorName(error);
    }
}

cudaError_t cudaEventCreate(cudaEvent_t *event) { *event = reinterpret_cast<cudaEvent_t>(new SimEvent{0}); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) { (void)flags; return cudaEventCreate(event); }
cudaError_t cudaEventDestroy(cudaEvent_t event) { delete reinterpret_cast<SimEvent *>(event); return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    (void)stream;
    reinterpret_cast<SimEvent *>(event)->ms = now_ms();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { (void)event; return launch_status(); }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    *ms = (float)(reinterpret_cast<SimEvent *>(end)->ms - reinterpret_cast<SimEvent *>(start)->ms);
    return cudaSuccess;
}
