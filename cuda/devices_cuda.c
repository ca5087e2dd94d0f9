/* devices_cuda.c: srt_cuda_list_devices: the CUDA devices the runtime sees (name, compute capability, SMs, memory),
 * or why there is none (no driver, a driver older than the runtime, no visible device), for srt_list_devices. */
#include "backend.h"
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

srt_status srt_cuda_list_devices(srt_device_info *devs, int cap, int *n, char *note, size_t note_size) {
    *n = 0;
    if (note && note_size) note[0] = 0;
    int count = 0, driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        cudaGetLastError();
        if (!note || !note_size) return SRT_OK;
        if (driver == 0)
            snprintf(note, note_size, "no NVIDIA driver is installed (libcuda.so.1 not found; %s)",
                     e == cudaSuccess ? "0 devices" : cudaGetErrorName(e));
        else if (e == cudaErrorInsufficientDriver || driver < runtime)
            snprintf(note, note_size, "the NVIDIA driver (CUDA %d.%d) is older than this build's CUDA runtime (%d.%d); "
                     "update the driver", driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
        else
            snprintf(note, note_size, "no CUDA device is visible (%s; driver CUDA %d.%d; check nvidia-smi and "
                     "CUDA_VISIBLE_DEVICES)", e == cudaSuccess ? "0 devices" : cudaGetErrorName(e), driver / 1000,
                     driver % 1000 / 10);
        return SRT_OK;
    }
    for (int d = 0; d < count && *n < cap; d++) {
        srt_device_info *v = &devs[*n];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "cuda:%d", d);
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
            cudaGetLastError();
            snprintf(v->model, sizeof v->model, "(properties unavailable)");
        } else {
            p.name[sizeof p.name - 1] = 0;
            snprintf(v->model, sizeof v->model, "%.127s", p.name);
            snprintf(v->features, sizeof v->features, "sm_%d%d", p.major, p.minor);
            v->cores = p.multiProcessorCount;
            v->memory_bytes = (int64_t)p.totalGlobalMem;
        }
        (*n)++;
    }
    return SRT_OK;
}
