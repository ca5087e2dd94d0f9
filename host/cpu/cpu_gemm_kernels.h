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
#define SRT_CPU_GEMM_DIRECT_MAX_M 64   /* bench_gemm --threads 1 (OpenBLAS autodetecting this Zen 4: env -u
                                        * OPENBLAS_CORETYPE): AVX2 direct 63 ms, panel + sgemm 86 ms at M 64
                                        * (cpu_ms of the 4 shapes); at 32 the exact decode at batch 64 took panel
                                        * + sgemm and ran slower per token than batch 32 */
/* Benchmark knob (not thread-safe; set before use): override the crossover, -1 restores the default. */
void srt_cpu_gemm_set_direct_max_m(int max_m);

/* Test knobs (not thread-safe; set before use): the highest instruction set the kernels may use, so every path
 * runs on an AVX-512 machine. Default from the environment: SNACRT_CPU_MAX_ISA=scalar|avx2|avx512bf16 (unset:
 * avx512bf16, i.e. the best this CPU has). force_scalar(1) = set_max_isa(SRT_CPU_ISA_SCALAR), force_scalar(0)
 * restores run-time dispatch (SRT_CPU_ISA_AVX512BF16). */
enum { SRT_CPU_ISA_SCALAR = 0, SRT_CPU_ISA_AVX2 = 1, SRT_CPU_ISA_AVX512BF16 = 2 };
void srt_cpu_gemm_kernels_set_max_isa(int isa);
int srt_cpu_gemm_kernels_max_isa(void);
void srt_cpu_gemm_kernels_force_scalar(int on);

/* ---- AVX-512 BF16 direct kernel (cpu_gemm_avx512.c), for bf16 B and M >= 2 ---- */
/* 1 when this CPU has AVX-512 F/BW/VL/BF16 (OS-enabled) and the max-isa knob allows it. */
int srt_cpu_gemm_has_avx512bf16(void);
/* Whether the direct kernel uses vdpbf16ps, and how (bf16 B, srt_cpu_gemm_has_avx512bf16()):
 *  OFF:     the AVX2 f32 kernel (f32-accurate; SNACRT_CPU_LM_PRECISION=exact);
 *  HILO:    A = hi + lo in bf16, ~2^-17 relative (f32-like; on this Zen CPU only ~10% faster than AVX2, and a row's
 *           result then depends on whether M is 1 (AVX2) or more, enough to flip sampled tokens in test_tts_engine);
 *  BF16ACT: A rounded to bf16 (relative error <= 2^-8 per activation, as a bf16 PyTorch model computes): 2.5-3x
 *           AVX2 at M 8-64, outside test_lm_golden's 1e-3 logit tolerance (4e-3). The cpu backend's default
 *           (precision "bf16", cpu_ops.h), for every M.
 * AUTO (the default): each call follows its backend's precision. Test / bench knob (not thread-safe: set before
 * use; set(-1) restores AUTO): forces one form for every backend, for M >= 2. */
enum { SRT_CPU_DPBF16_AUTO = -1, SRT_CPU_DPBF16_OFF = 0, SRT_CPU_DPBF16_HILO = 1, SRT_CPU_DPBF16_BF16ACT = 2 };
void srt_cpu_gemm_set_dpbf16(int mode);
int srt_cpu_gemm_dpbf16(void);
/* Packed row length of A for K: K rounded up to 32 (one zmm of bf16). */
#define SRT_CPU_GEMM_BF16X2_KP(K) (((K) + 31) / 32 * 32)
/* A (M, K) f32 row stride lda -> hi, lo (M, KP(K)) bf16 bits with A = hi + lo to ~2^-17 relative (hi = bf16(A),
 * lo = bf16(A - hi); lo 0 where A is inf/NaN), zero padded. Only when srt_cpu_gemm_has_avx512bf16(). */
void srt_cpu_gemm_pack_a_bf16x2(int M, int K, const float *A, int lda, uint16_t *hi, uint16_t *lo);
/* B (N, K) bf16 in k-pair panels, the layout the vdpbf16ps kernel reads: panels of 16 columns (output features),
 * each KH = ceil(K/2) 64-byte vectors, vector kh holding the pairs (B[n][2kh], B[n][2kh+1]) of its 16 columns as
 * 32-bit words (low half the even k), zero past N and K; the panels of each group of SRT_CPU_GEMM_PANEL_COLS
 * columns interleaved per k pair (the vectors of pair kh of its 3 panels one after the other: one stream per tile).
 * Column n0's group (n0 a multiple of SRT_CPU_GEMM_PANEL_COLS) starts at word SRT_CPU_GEMM_PANEL_WORDS(n0, K).
 * 64-byte aligned. */
#define SRT_CPU_GEMM_PANEL_COLS 48
#define SRT_CPU_GEMM_PANEL_KH(K) (((K) + 1) / 2)
#define SRT_CPU_GEMM_PANEL_WORDS(N, K) ((size_t)(((N) + 15) / 16) * SRT_CPU_GEMM_PANEL_KH(K) * 16)
/* Columns [n0, n1) of B (row stride ldb; n0 a multiple of SRT_CPU_GEMM_PANEL_COLS) -> dst,
 * SRT_CPU_GEMM_PANEL_WORDS(n1 - n0, K) words, 64-byte aligned.
 * Only when srt_cpu_gemm_has_avx512bf16(). */
void srt_cpu_gemm_pack_b_panels(const uint16_t *B, int ldb, int K, int n0, int n1, uint32_t *dst);
/* srt_cpu_gemm_rows for bf16 B given as P, the panels of its columns [n0, n1) (pack_b_panels(B, ldb, K, n0, n1, P)),
 * and A packed as hi/lo: C = alpha * (hi + lo) @ B^T (+ beta * C) for n0 <= n < n1; lo NULL: C = alpha * hi @ B^T
 * (+ beta * C), A rounded to bf16. Each output is one chain over the k pairs in order (vdpbf16ps, f32), from 0,
 * whatever M, the tile or the thread: a row's result never depends on the batch. Only when
 * srt_cpu_gemm_has_avx512bf16(). */
void srt_cpu_gemm_rows_bf16p(int M, int K, float alpha, float beta, const uint16_t *hi, const uint16_t *lo,
                             const uint32_t *P, float *C, int ldc, int n0, int n1);

/* dst[i] = (float)src[i] for i < n, src bf16 or f16 bits (exact conversions). */
void srt_cpu_half_to_f32_row(float *dst, const uint16_t *src, int n, srt_dtype dtype);

#endif
