/* f16_bits.cuh: IEEE half bit pattern -> f32 on the device (subnormals, Inf and NaN included), integer-only,
 * bit-exact with host/dtype.c. Shared by the gemm operand widening and the LM embedding kernels. */
#ifndef SRT_CUDA_F16_BITS_CUH
#define SRT_CUDA_F16_BITS_CUH
#include "cuda/common.cuh"

__device__ __forceinline__ float srt_f16_bits_to_f32(unsigned h) {
    unsigned sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else {
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            u = sign | ((unsigned)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    return __uint_as_float(u);
}

#endif
