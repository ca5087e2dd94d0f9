/* check.h: SRT_CHECK_CUDA / SRT_CHECK_CUBLAS / SRT_CHECK_NCCL: run a call, and on failure record the call,
 * file and line with srt_error and return the status (SRT_ERR_NO_DEVICE for "no device / no driver",
 * SRT_ERR_NOMEM for out-of-memory, SRT_ERR_BACKEND otherwise). C header, usable from C and CUDA C++. */
#ifndef SRT_CUDA_CHECK_H
#define SRT_CUDA_CHECK_H

#include "common.h"
#include <cuda_runtime_api.h>

static inline srt_status srt_cuda_status_of(cudaError_t e) {
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) return SRT_ERR_NO_DEVICE;
    if (e == cudaErrorMemoryAllocation) return SRT_ERR_NOMEM;
    return SRT_ERR_BACKEND;
}

#define SRT_CHECK_CUDA(call) do { \
    cudaError_t srt_cuda_e_ = (call); \
    if (srt_cuda_e_ != cudaSuccess) \
        return srt_error(srt_cuda_status_of(srt_cuda_e_), "%s failed at %s:%d: %s (%s)", #call, __FILE__, __LINE__, \
                         cudaGetErrorName(srt_cuda_e_), cudaGetErrorString(srt_cuda_e_)); \
} while (0)

#define SRT_CHECK_CUBLAS(call) do { \
    int srt_cublas_s_ = (int)(call); \
    if (srt_cublas_s_ != 0) \
        return srt_error(srt_cublas_s_ == 3 ? SRT_ERR_NOMEM : SRT_ERR_BACKEND, "%s failed at %s:%d: cuBLAS status %d", \
                         #call, __FILE__, __LINE__, srt_cublas_s_); \
} while (0)

#define SRT_CHECK_NCCL(call) do { \
    int srt_nccl_r_ = (int)(call); \
    if (srt_nccl_r_ != 0) \
        return srt_error(SRT_ERR_BACKEND, "%s failed at %s:%d: NCCL result %d", #call, __FILE__, __LINE__, srt_nccl_r_); \
} while (0)

#endif
