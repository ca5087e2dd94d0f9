/* runtime.cpp: CPU substitutes, resolved at link time, for the CUDA runtime calls snacrt uses.
 * Every call is a synchronous host operation (streams and events exist only as handles).
 * Devices: one by default; env CUDASIM_DEVICES=N (1..64) presents N. As in CUDA the current device is per host
 * thread (cudaSetDevice, default 0); cudaMalloc and cudaStreamCreate belong to the thread's current device;
 * cudaMemGetInfo counts the current device's allocations; a kernel launched on a stream of another device than the
 * launching thread's current one is reported as a violation (CUDA refuses it), and cudaMemcpyAsync likewise.
 * All devices share one host memory and one simulator lock, so they run one launch at a time. cudaMalloc returns 256-byte aligned (as CUDA's), NaN-filled memory (0xff bytes; zeros in sampled mode) framed by 256-byte red
 * zones that are checked after every kernel launch and on cudaFree; a clobbered red zone is reported as an
 * out-of-bounds write. Copies, synchronizations and graph launches are counted (counters.cpp). Env CUDASIM_NO_DEVICE=1 makes cudaGetDeviceCount report no device (to test that path).
 * Stream capture (cudaStreamBeginCapture .. cudaStreamEndCapture, cudaGraphInstantiate, cudaGraphLaunch): work
 * enqueued on a capturing stream -- kernel launches (closure copied: arguments by value), cudaMemcpyAsync /
 * cudaMemsetAsync (pointers and sizes by value; pageable host memory refused, as CUDA does), cuBLAS calls
 * (cublas.cpp) -- is stored, and a graph launch replays it in order. What CUDA forbids while capturing breaks the
 * capture the same way: a synchronize of the capturing stream or of the device, a synchronous cudaMemcpy, and
 * (outside relaxed mode) cudaMalloc / cudaFree invalidate it, and cudaStreamEndCapture then fails. */
#include "cudasim_api.h"
#include "counters.h"
#include <cuda_runtime_api.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

extern "C" int cudasim_take_pending(void);
extern "C" void cudasim_report(const char *msg);
namespace cudasim { extern std::recursive_mutex g_device_mutex; }   /* scheduler.cpp: one device, many host threads */

namespace {
const size_t kRedZone = 256;
const unsigned char kRedByte = 0xA5;

struct Allocation { size_t bytes; unsigned char *base; int device; };
std::map<uintptr_t, Allocation> g_allocs;   /* user pointer -> allocation */
cudaError_t g_last = cudaSuccess;
thread_local int t_device = 0;   /* the calling host thread's current device (CUDA: per thread) */
const int kMaxDevices = 64;

/* CUDASIM_DEVICES (1 .. 64, default 1); 0 with CUDASIM_NO_DEVICE=1. */
int device_count() {
    const char *nodev = getenv("CUDASIM_NO_DEVICE");
    if (nodev && atoi(nodev)) return 0;
    const char *n = getenv("CUDASIM_DEVICES");
    int v = n ? atoi(n) : 1;
    return v < 1 ? 1 : v > kMaxDevices ? kMaxDevices : v;
}

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

/* Stream capture. */
struct SimOp { std::string what; std::function<void()> fn; };
enum CaptureState { CAPTURE_NONE = 0, CAPTURE_ACTIVE, CAPTURE_INVALIDATED };
struct SimStream {
    int capture = CAPTURE_NONE;
    int device = 0;               /* the device current when it was created */
    cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
    std::vector<SimOp> ops;
    std::string broken_by;        /* the call that invalidated the capture */
};
struct SimGraph { std::vector<SimOp> ops; };
struct SimGraphExec { std::vector<SimOp> ops; };
std::vector<SimStream *> g_streams;               /* live streams (to find captures) */
std::map<uintptr_t, size_t> g_pinned;             /* cudaMallocHost blocks: pointer -> bytes */
uint64_t g_graph_launches = 0, g_graph_ops = 0;
uint64_t g_mallocs = 0;   /* cudaMalloc calls that succeeded */

SimStream *sim_stream(cudaStream_t stream) {
    for (SimStream *s : g_streams) if (reinterpret_cast<cudaStream_t>(s) == stream) return s;
    return nullptr;   /* the default stream (0, cudaStreamLegacy, cudaStreamPerThread) never captures here */
}

/* A call CUDA forbids while `s` captures: break the capture (reported at cudaStreamEndCapture). */
cudaError_t break_capture(SimStream *s, const char *call, cudaError_t e) {
    if (s->capture == CAPTURE_ACTIVE) { s->capture = CAPTURE_INVALIDATED; s->broken_by = call; }
    return set_error(e);
}

/* A forbidden call on the legacy stream / device while any stream captures (unless all captures are relaxed and
 * only_strict). Returns the error to report, or cudaSuccess. */
cudaError_t check_global_capture(const char *call, cudaError_t e, bool only_strict) {
    cudaError_t out = cudaSuccess;
    for (SimStream *s : g_streams)
        if (s->capture != CAPTURE_NONE && !(only_strict && s->mode == cudaStreamCaptureModeRelaxed))
            out = break_capture(s, call, e);
    return out;
}

bool is_pinned(const void *p, size_t count) {
    auto it = g_pinned.upper_bound((uintptr_t)p);
    if (it == g_pinned.begin()) return false;
    --it;
    return (uintptr_t)p + count <= it->first + it->second;
}
} // namespace

namespace cudasim {
thread_local cudaStream_t t_last_captured_stream = nullptr;   /* cudasim.h: launch() */
void counters_graph_replay(int on);   /* counters.cpp */
/* The cudaMalloc allocation holding address a (counters.cpp classifies global accesses). */
bool alloc_range(uintptr_t a, uintptr_t *lo, uintptr_t *hi) {
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return false;
    --it;
    if (a >= it->first + it->second.bytes) return false;
    *lo = it->first;
    *hi = it->first + it->second.bytes;
    return true;
}
bool capturing(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> device_lock(g_device_mutex);
    SimStream *s = sim_stream(stream);
    return s && s->capture != CAPTURE_NONE;
}
/* A launch (or async copy) on `stream` from this thread: CUDA needs the stream's device to be current. */
void check_stream_device(cudaStream_t stream, const char *what) {
    std::lock_guard<std::recursive_mutex> device_lock(g_device_mutex);
    SimStream *s = sim_stream(stream);
    if (s && s->device != t_device) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s on a stream of device %d while the thread's current device is %d "
                 "(cudaSetDevice missing on this thread)", what, s->device, t_device);
        cudasim_report(msg);
    }
}
void record_op(cudaStream_t stream, const char *what, std::function<void()> op) {
    std::lock_guard<std::recursive_mutex> device_lock(g_device_mutex);
    SimStream *s = sim_stream(stream);
    if (s && s->capture == CAPTURE_ACTIVE) s->ops.push_back(SimOp{what, std::move(op)});
}
} // namespace cudasim

extern "C" uint64_t cudasim_graph_launch_count(void) { return g_graph_launches; }
extern "C" uint64_t cudasim_graph_op_count(void) { return g_graph_ops; }
extern "C" uint64_t cudasim_malloc_count(void) { return g_mallocs; }

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

extern "C" int cudasim_device_count(void) { return device_count(); }
extern "C" int cudasim_pointer_device(const void *p) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    auto it = g_allocs.upper_bound((uintptr_t)p);
    if (it == g_allocs.begin()) return -1;
    --it;
    return (uintptr_t)p < it->first + it->second.bytes ? it->second.device : -1;
}
extern "C" int cudasim_stream_device(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = sim_stream(stream);
    return s ? s->device : -1;
}
extern "C" size_t cudasim_device_bytes(int device) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    size_t used = 0;
    for (auto &kv : g_allocs) if (kv.second.device == device) used += kv.second.bytes;
    return used;
}

cudaError_t cudaGetDeviceCount(int *count) {
    *count = device_count();
    return *count ? cudaSuccess : set_error(cudaErrorNoDevice);
}
cudaError_t cudaSetDevice(int device) {
    if (device < 0 || device >= device_count()) return set_error(cudaErrorInvalidDevice);
    t_device = device;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) { *device = t_device; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 13000; return cudaSuccess; }
/* Each device: 16 GiB, 8 GiB of it free before this process allocates (as if others held the rest). */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
    size_t used = cudasim_device_bytes(t_device), avail = (size_t)8 << 30;
    *free_bytes = used < avail ? avail - used : 0;
    *total = (size_t)16 << 30;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **ptr, size_t size) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    if (cudaError_t e = check_global_capture("cudaMalloc", cudaErrorStreamCaptureUnsupported, true)) {
        *ptr = nullptr;
        return e;
    }
    /* 256-byte aligned like cudaMalloc (the red zone is 256 bytes): sector counts depend on alignment */
    size_t total = (size + 2 * kRedZone + 255) / 256 * 256;
    unsigned char *base = static_cast<unsigned char *>(aligned_alloc(256, total));
    if (!base) { *ptr = nullptr; return set_error(cudaErrorMemoryAllocation); }
    memset(base, kRedByte, kRedZone);
    /* NaN: reading memory nobody wrote shows up in results. Sampled mode (sample.cpp): zeros, so the outputs of the
     * blocks that did not run read as finite values (a NaN latent would make the VQ search return no code) */
    memset(base + kRedZone, cudasim_get_sample_blocks() > 0 ? 0 : 0xff, size);
    memset(base + kRedZone + size, kRedByte, kRedZone);
    *ptr = base + kRedZone;
    g_allocs[(uintptr_t)*ptr] = Allocation{size, base, t_device};
    g_mallocs++;
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
    if (!ptr) return cudaSuccess;
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    if (cudaError_t e = check_global_capture("cudaFree", cudaErrorStreamCaptureUnsupported, true)) return e;
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
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    *ptr = malloc(size ? size : 1);
    if (!*ptr) return set_error(cudaErrorMemoryAllocation);
    g_pinned[(uintptr_t)*ptr] = size ? size : 1;
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *ptr) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    g_pinned.erase((uintptr_t)ptr);
    free(ptr);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind) {
    (void)kind;
    {
        std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
        if (cudaError_t e = check_global_capture("cudaMemcpy", cudaErrorStreamCaptureImplicit, false)) return e;
    }
    if (count) memmove(dst, src, count);
    cudasim::counters_copy(kind, count, false);
    return launch_status();
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    cudasim::check_stream_device(stream, "cudaMemcpyAsync");
    SimStream *s = sim_stream(stream);
    if (s && s->capture != CAPTURE_NONE) {
        /* a graph copies at replay time: host memory must stay valid and pinned (pageable memory is refused) */
        bool host_src = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyHostToHost;
        bool host_dst = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyHostToHost;
        if ((host_src && !is_pinned(src, count)) || (host_dst && !is_pinned(dst, count)) || kind == cudaMemcpyDefault)
            return break_capture(s, "cudaMemcpyAsync with pageable host memory", cudaErrorStreamCaptureUnsupported);
        cudasim::record_op(stream, "cudaMemcpyAsync", [=]() {
            if (count) memmove(dst, src, count);
            cudasim::counters_copy(kind, count, true);
        });
        return cudaSuccess;
    }
    if (count) memmove(dst, src, count);
    cudasim::counters_copy(kind, count, true);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *dst, int value, size_t count) {
    {
        std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
        if (cudaError_t e = check_global_capture("cudaMemset", cudaErrorStreamCaptureImplicit, false)) return e;
    }
    memset(dst, value, count);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream) {
    if (cudasim::capturing(stream)) {
        cudasim::record_op(stream, "cudaMemsetAsync", [=]() { memset(dst, value, count); });
        return cudaSuccess;
    }
    memset(dst, value, count);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = new SimStream();
    s->device = t_device;
    g_streams.push_back(s);
    *stream = reinterpret_cast<cudaStream_t>(s);
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) { (void)flags; return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = sim_stream(stream);
    if (!s) return set_error(cudaErrorInvalidResourceHandle);
    for (size_t i = 0; i < g_streams.size(); i++)
        if (g_streams[i] == s) { g_streams.erase(g_streams.begin() + (long)i); break; }
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    {
        std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
        SimStream *s = sim_stream(stream);
        if (s && s->capture != CAPTURE_NONE)
            return break_capture(s, "cudaStreamSynchronize", cudaErrorStreamCaptureUnsupported);
        if (!s) {   /* the legacy default stream synchronizes with every blocking stream */
            if (cudaError_t e = check_global_capture("cudaStreamSynchronize(default stream)",
                                                     cudaErrorStreamCaptureImplicit, false)) return e;
        }
    }
    cudasim::counters_sync(0);
    return launch_status();
}
/* Work is done when it is enqueued (launches run at once), so a query is a synchronization that never waits:
 * counted as one (a host loop polling a real stream ends with it). */
cudaError_t cudaStreamQuery(cudaStream_t stream) {
    {
        std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
        SimStream *s = sim_stream(stream);
        if (s && s->capture != CAPTURE_NONE)
            return break_capture(s, "cudaStreamQuery", cudaErrorStreamCaptureUnsupported);
    }
    cudasim::counters_sync(0);
    return launch_status();
}
cudaError_t cudaDeviceSynchronize(void) {
    {
        std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
        if (cudaError_t e = check_global_capture("cudaDeviceSynchronize", cudaErrorStreamCaptureUnsupported, false))
            return e;
    }
    cudasim::counters_sync(1);
    return launch_status();
}

/* ---- stream capture and graphs ---- */
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = sim_stream(stream);
    if (!s) return set_error(cudaErrorStreamCaptureUnsupported);   /* the legacy stream cannot capture */
    if (s->capture != CAPTURE_NONE) return set_error(cudaErrorIllegalState);
    s->capture = CAPTURE_ACTIVE;
    s->mode = mode;
    s->ops.clear();
    s->broken_by.clear();
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = sim_stream(stream);
    *graph = nullptr;
    if (!s || s->capture == CAPTURE_NONE) return set_error(cudaErrorIllegalState);
    bool broken = s->capture == CAPTURE_INVALIDATED;
    s->capture = CAPTURE_NONE;
    if (broken) {
        s->ops.clear();
        return set_error(cudaErrorStreamCaptureInvalidated);
    }
    *graph = reinterpret_cast<cudaGraph_t>(new SimGraph{std::move(s->ops)});
    s->ops.clear();
    return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus *status) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    SimStream *s = sim_stream(stream);
    *status = !s || s->capture == CAPTURE_NONE ? cudaStreamCaptureStatusNone
              : s->capture == CAPTURE_ACTIVE ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusInvalidated;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    (void)flags;
    if (!graph) return set_error(cudaErrorInvalidValue);
    *exec = reinterpret_cast<cudaGraphExec_t>(new SimGraphExec{reinterpret_cast<SimGraph *>(graph)->ops});
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    if (!exec) return set_error(cudaErrorInvalidValue);
    if (cudasim::capturing(stream)) return set_error(cudaErrorStreamCaptureUnsupported);   /* not simulated */
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    g_graph_launches++;
    cudasim::counters_graph_launch();
    cudasim::counters_graph_replay(1);
    for (SimOp &op : reinterpret_cast<SimGraphExec *>(exec)->ops) {
        g_graph_ops++;
        op.fn();
    }
    cudasim::counters_graph_replay(0);
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) { delete reinterpret_cast<SimGraphExec *>(exec); return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t graph) { delete reinterpret_cast<SimGraph *>(graph); return cudaSuccess; }

/* Device attributes: the simulator has no memory system, so its clock and bus width read 0. */
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device) {
    if (device < 0 || device >= device_count()) return set_error(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMemoryClockRate: case cudaDevAttrGlobalMemoryBusWidth: *value = 0; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = 1; return cudaSuccess;
    default: return set_error(cudaErrorInvalidValue);
    }
}

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
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
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
cudaError_t cudaEventSynchronize(cudaEvent_t event) { (void)event; cudasim::counters_sync(2); return launch_status(); }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    *ms = (float)(reinterpret_cast<SimEvent *>(end)->ms - reinterpret_cast<SimEvent *>(start)->ms);
    return cudaSuccess;
}
