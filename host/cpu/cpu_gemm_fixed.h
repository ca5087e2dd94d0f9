/* cpu_gemm_fixed.h: the cpu backend's f32 GEMM with a fixed arithmetic per output element, so that results never
 * depend on the batch, the padded length, the time chunking or the thread count (OpenBLAS's sgemm changes its
 * reduction per element with M and N, by ~1 ulp). Every element is one chain
 *     acc = init[m][n] + bias[m] (either part may be absent: init only, bias only, or +0);
 *     for k = 0, 1, ..., K-1: acc = fma(A(m,k), B(k,n), acc);   C[m][n] = acc
 * whatever M, N, the element's position, the blocking or the vector width (AVX-512 and AVX2 give the same bits;
 * machines without FMA use acc + a*b, the same for every element there). Used by the dense/grouped conv, the
 * transposed conv and the f32 gemm op. A(m,k) = A[m*a_rs + k*a_cs], B(k,n) = B[k*b_rs + n*b_cs]; C (M, N) has row
 * stride ldc; init (M, N) has row stride ldi and may be C itself (then C is read first); C is never read when init
 * is not C (NaN there cannot leak). One thread per call; ws: a workspace from srt_cpu_gemm_fixed_ws_alloc(). */
#ifndef SRT_CPU_GEMM_FIXED_H
#define SRT_CPU_GEMM_FIXED_H

#include <stddef.h>

/* Floats of the per-thread workspace (packed blocks of A and B, an edge tile). */
size_t srt_cpu_gemm_fixed_ws_floats(void);
/* A malloc'd workspace (64-byte aligned; free with free()), NULL when out of memory. */
float *srt_cpu_gemm_fixed_ws_alloc(void);

void srt_cpu_gemm_fixed(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *B,
                        ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init, ptrdiff_t ldi,
                        const float *bias, float *ws);

/* Weights packed once for many calls: Apk holds srt_cpu_gemm_fixed_a_floats(M, K) floats (64-byte aligned) and is
 * filled by srt_cpu_gemm_fixed_pack_a for every part in [0, srt_cpu_gemm_fixed_a_parts(M, K)) (parts are
 * independent: threads may share them). srt_cpu_gemm_fixed_packed then computes rows [m0, m0 + M) of the product
 * of the whole (M_all, K) matrix (m0 a multiple of SRT_GEMM_FIXED_ROW_ALIGN; C, init and bias point at row m0);
 * same bits as srt_cpu_gemm_fixed. */
#define SRT_GEMM_FIXED_ROW_ALIGN 12
size_t srt_cpu_gemm_fixed_a_floats(int M, int K);
int srt_cpu_gemm_fixed_a_parts(int M, int K);
void srt_cpu_gemm_fixed_pack_a(float *Apk, int M, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, int part);
void srt_cpu_gemm_fixed_packed(const float *Apk, int M_all, int K, int m0, int M, int N, const float *B,
                               ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init,
                               ptrdiff_t ldi, const float *bias, float *ws);

/* The kernel level packings are made for (2 AVX-512, 1 AVX2, 0 portable): part of a cached packing's key. */
int srt_cpu_gemm_fixed_level(void);

/* Test/bench knob (not thread-safe; never change it between packing and use): 0 = run-time dispatch, 1 = AVX2
 * even where AVX-512 exists, 2 = portable. */
void srt_cpu_gemm_fixed_force_isa(int level);

#endif
