/* device_props.cpp: cudaGetDeviceProperties of the simulated device (name "cudasim", compute capability 9.0, one
 * multiprocessor, the memory cudaMemGetInfo reports), for `snacrt devices` and anything else that asks. */
#include <cuda_runtime_api.h>
#include <cstring>

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || device < 0 || device >= count) return cudaErrorInvalidDevice;
    std::memset(prop, 0, sizeof *prop);
    std::strncpy(prop->name, "cudasim", sizeof prop->name - 1);
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    prop->totalGlobalMem = total;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}
