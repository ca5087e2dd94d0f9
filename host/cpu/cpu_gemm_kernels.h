/* cpu_gemm_kernels.h: the inner kernels of the cpu gemm (cpu_gemm.c): a direct small-M kernel that streams a
 * (N,K) weight once (decode-time GEMV/GEMM), and a vectorized 16-bit -> f32 row conversion for the panel path.
 * Both dispatch AVX2+FMA+F16C / portable scalar at run time. */
#ifndef SRT_CPU_GEMM_KERNELS_H
#define SRT_CPU_GEMM_KERNELS_H

#include "backend.h"

/* For m < M and n0 <= n < n1:
 *   C[m*ldc + n] = alpha * sum_k A[m*lda + k] * B[n*ldb + k] + (beta != 0 ? beta * C[m*ldc + n] : 0)
 * A f32 (M, K) row-major, B (N, K) in dtype b_dtype (SRT_F32, SRT_BF16 or SRT_F16), accumulation in f32.
 * beta == 0 never reads C. One thread; callers split [0, N) between threads. */
void srt_cpu_gemm_rows(int M, int K, float alpha, float beta, const float *A, int lda, const void *B, int ldb,
                       srt_dtype b_dtype, float *C, int ldc, int n0, int n1);

/* The cpu gemm sends M <= this (with B stored (N,K)) to srt_cpu_gemm_rows, larger M to panel + sgemm. */
#define SRT_CPU_GEMM_DIRECT_MAX_M 32   /* bench_gemm: direct >= panel+sgemm up to M 32, tie at 64 */
/* Benchmark knob (not thread-safe; set before use): override the crossover, -1 restores the default. */
void srt_cpu_gemm_set_direct_max_m(int max_m);

/* Test knob (not thread-safe): 1 makes both kernels take their scalar fallback, 0 restores run-time dispatch. */
void srt_cpu_gemm_kernels_force_scalar(int on);

/* dst[i] = (float)src[i] for i < n, src bf16 or f16 bits (exact conversions). */
void srt_cpu_half_to_f32_row(float *dst, const uint16_t *src, int n, srt_dtype dtype);

#endif
