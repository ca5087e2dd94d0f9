/* stream_wait.cpp: cudaStreamWaitEvent for the simulator. Work is done when it is enqueued (launches and copies
 * run at once, runtime.cpp), so a recorded event has always completed and the wait is a no-op; the stream must
 * belong to the current device, as for every stream call. */
#include "cudasim.h"
#include <cuda_runtime_api.h>
#include <mutex>

namespace cudasim { extern std::recursive_mutex g_device_mutex; }

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
    (void)event;
    (void)flags;
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    cudasim::check_stream_device(stream, "cudaStreamWaitEvent");
    return cudaSuccess;
}
