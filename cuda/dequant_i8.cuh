/* dequant_i8.cuh: int8 per-channel weights (srt_gemm_args.b_dtype SRT_I8, docs/int8-weights.md) widened to bf16 for
 * the tensor-core GEMM above the small-M rows (cublas.c: a chunk of weight rows at a time into a scratch buffer):
 *   dst (rows, cols) bf16 bits = bf16(q (rows, cols; row stride ldq) * scale[r]), round to nearest even.
 * One thread per 16 codes when rows are 16-byte aligned (a 16-byte load, two 16-byte stores), else per code.
 * The product of a code (8 bits) and a scale (24) is rounded once to bf16 (<= 2^-9 relative on top of the int8
 * step), so prefill and batched decode see the weights a bf16 model of them would hold. */
#include "cuda/common.cuh"

__device__ __forceinline__ unsigned srt_dq_bf16(float f) {       /* finite f: round to nearest even */
    const unsigned u = __float_as_uint(f);
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

/* the two codes in the low 16 bits of w, times s, as a bf16 pair (low code in the low half) */
__device__ __forceinline__ unsigned srt_dq_pair(unsigned w, float s) {
    return srt_dq_bf16((float)(int8_t)(w & 0xffu) * s) | srt_dq_bf16((float)(int8_t)((w >> 8) & 0xffu) * s) << 16;
}

__global__ void dequant_i8_bf16_kernel(const int8_t *q, int64_t ldq, const float *scale, int64_t rows, int64_t cols,
                                       uint16_t *dst, int vec16) {
    if (vec16) {
        const int64_t per_row = cols / 16;
        srt_grid_stride(i, rows * per_row) {
            const int64_t r = i / per_row, c16 = i % per_row;
            const float s = scale[r];
            const uint4 w = srt_load16<uint4>(q + r * ldq + c16 * 16);
            uint4 lo, hi;                                  /* codes 0-7, 8-15 as bf16 pairs */
            lo.x = srt_dq_pair(w.x, s); lo.y = srt_dq_pair(w.x >> 16, s);
            lo.z = srt_dq_pair(w.y, s); lo.w = srt_dq_pair(w.y >> 16, s);
            hi.x = srt_dq_pair(w.z, s); hi.y = srt_dq_pair(w.z >> 16, s);
            hi.z = srt_dq_pair(w.w, s); hi.w = srt_dq_pair(w.w >> 16, s);
            srt_store16(dst + r * cols + c16 * 16, lo);
            srt_store16(dst + r * cols + c16 * 16 + 8, hi);
        }
        return;
    }
    srt_grid_stride(i, rows * cols) {
        const int64_t r = i / cols, k = i % cols;
        dst[i] = (uint16_t)srt_dq_bf16((float)q[r * ldq + k] * scale[r]);
    }
}

extern "C" srt_status srt_cuda_dequant_i8_bf16(const int8_t *q, int64_t ldq, const float *scale, int64_t rows,
                                               int64_t cols, uint16_t *dst, cudaStream_t stream) {
    if (rows * cols == 0) return SRT_OK;
    const int vec16 = (uintptr_t)q % 16 == 0 && ldq % 16 == 0 && cols % 16 == 0 && (uintptr_t)dst % 16 == 0;
    const int64_t n = vec16 ? rows * (cols / 16) : rows * cols;
    LAUNCH(dequant_i8_bf16_kernel, srt_blocks_for(n), SRT_BLOCK, 0, stream, q, ldq, scale, rows, cols, dst, vec16);
    return SRT_LAUNCH_STATUS(dequant_i8_bf16_kernel);
}
