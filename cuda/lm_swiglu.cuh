/* lm_swiglu.cuh: out = silu(gate) * up, one thread per element (grid-stride); out may alias gate or up
 * (each element is read before it is written, by the same thread). */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

__global__ void lm_swiglu_kernel(srt_swiglu_args a) {
    srt_grid_stride(i, a.n) {
        float g = a.gate[i];
        a.out[i] = g / (1.0f + expf(-g)) * a.up[i];
    }
}

extern "C" srt_status srt_cuda_lm_swiglu(const srt_swiglu_args *a, cudaStream_t stream) {
    if (a->n == 0) return SRT_OK;
    LAUNCH(lm_swiglu_kernel, srt_blocks_for(a->n), SRT_BLOCK, 0, stream, *a);
    return SRT_LAUNCH_STATUS(lm_swiglu_kernel);
}
