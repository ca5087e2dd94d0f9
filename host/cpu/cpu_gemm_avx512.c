/* cpu_gemm_avx512.c: the AVX-512 BF16 form of the direct small-M gemm kernel (cpu_gemm.c's decode path for bf16
 * weights): vdpbf16ps (_mm512_dpbf16_ps) multiplies bf16 pairs of A and B and adds them to f32 lanes, 32
 * multiply-adds per instruction on the weights as stored (no conversion).
 * Accuracy: A (f32 activations) is split once per call into two bf16 terms, hi = bf16(a) and lo = bf16(a - hi), so
 * a = hi + lo to ~2^-17 relative; every bf16 x bf16 product is exact in f32 and accumulates in f32, so the result
 * differs from the f32 AVX2 kernel only by f32 rounding of the sums (the same tolerance as AVX2, test_gemm_bf16.c).
 * Forms: with BF16ACT (the cpu backend's default precision "bf16", SNACRT_CPU_LM_PRECISION, every M) lo is
 * dropped: A is rounded to bf16 (relative error <= 2^-8 per element, as a bf16 PyTorch model computes) for half the
 * instructions. HILO is reachable only through the test / bench knob srt_cpu_gemm_set_dpbf16.
 * Tiles of 8 rows of A x 3 rows of B: 24 zmm accumulators; per k step the 3 weight vectors are loaded once and
 * feed 8 rows (4, 2, 1-row tiles for the tail rows). The 8 rows of A stay in L1 while they pass over a chunk of
 * ~100 KB of B (gemm_direct's unit of work): the first pass reads it from memory, the others from L2. M = 1
 * (batch-1 decode, a GEMV on memory bandwidth) takes tiles of 1 x 4 rows of B instead. Tiles that read B from memory
 * prefetch the next tile's rows of B at the same k (the hardware prefetcher stops at the 4 KB pages of the mmap'd
 * weights: the missing prefetch made batch 1 0.75x the AVX2 kernel, which has one); at M 1 into L2 only, and 4
 * rows ahead, not 8 (the 8-row T0 form kept 64 KB in flight per core, more than L1, and batch 1 did not scale to
 * 2 threads: 0.70x the AVX2 kernel there). Each output is one vdpbf16ps chain over k
 * in the same order, then the same lane reduction, whatever the tile: a row's result never depends on M.
 * K tails by masked loads of B (A is packed with zero padding to a multiple of 32).
 * Compiled with function-level target attributes (no -march needed); callers check srt_cpu_gemm_has_avx512bf16(). */
#include "cpu/cpu_gemm_kernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define GEMM_INLINE static inline __attribute__((always_inline))
#define DP_MR 8   /* rows of A per tile (then 4, 2, 1 for the tail rows) */
#define DP_NR 3   /* rows of B per tile: 8 x 3 = 24 accumulators */
#define DP_NR1 4  /* rows of B per tile when M is 1 */
#define DP_PF1 2  /* M 1 prefetches the next tile into L2 (T1), so L1 holds only the rows being read (see below) */
#define DP_NRMAX 8

static int g_max_isa = -1;    /* -1: not read yet from SNACRT_CPU_MAX_ISA */
static int g_dpbf16 = SRT_CPU_DPBF16_AUTO;   /* test / bench override of the backend's precision */

void srt_cpu_gemm_set_dpbf16(int mode) { g_dpbf16 = mode < 0 ? SRT_CPU_DPBF16_AUTO : mode; }
int srt_cpu_gemm_dpbf16(void) { return g_dpbf16; }

void srt_cpu_gemm_kernels_set_max_isa(int isa) { g_max_isa = isa; }
int srt_cpu_gemm_kernels_max_isa(void) {
    if (g_max_isa < 0) {
        const char *v = getenv("SNACRT_CPU_MAX_ISA");
        g_max_isa = v && !strcmp(v, "scalar") ? SRT_CPU_ISA_SCALAR : v && !strcmp(v, "avx2") ? SRT_CPU_ISA_AVX2
                                                                                              : SRT_CPU_ISA_AVX512BF16;
    }
    return g_max_isa;
}

int srt_cpu_gemm_has_avx512bf16(void) {
    static int cached = -1;
    if (srt_cpu_gemm_kernels_max_isa() < SRT_CPU_ISA_AVX512BF16) return 0;
    if (cached < 0) {
        __builtin_cpu_init();   /* libgcc also checks that the OS saves the zmm state (XCR0) */
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    }
    return cached;
}

/* hi/lo (M, Kp) row-major from A (M, K) with row stride lda; columns K..Kp-1 zero. */
static GEMM_AVX512BF16 void pack_avx512(int M, int K, int Kp, const float *A, int lda, uint16_t *hi, uint16_t *lo) {
    const __m512 inf = _mm512_set1_ps(INFINITY);
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)m * lda;
        uint16_t *h = hi + (size_t)m * Kp, *l = lo ? lo + (size_t)m * Kp : NULL;
        for (int k = 0; k < Kp; k += 16) {
            int left = K - k;
            __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            __m512 x = _mm512_maskz_loadu_ps(mask, a + k);
            __m256bh hb = _mm512_cvtneps_pbh(x);
            __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)hb), 16));
            /* lo of +-inf / NaN is 0: hi carries them (inf - inf would turn an infinite product into NaN) */
            __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(x), inf, _CMP_LT_OQ);
            __m256bh lb = _mm512_cvtneps_pbh(_mm512_maskz_sub_ps(finite, x, hf));
            _mm256_storeu_si256((__m256i *)(h + k), (__m256i)hb);
            if (lo) _mm256_storeu_si256((__m256i *)(l + k), (__m256i)lb);
        }
    }
}

void srt_cpu_gemm_pack_a_bf16x2(int M, int K, const float *A, int lda, uint16_t *hi, uint16_t *lo) {
    pack_avx512(M, K, SRT_CPU_GEMM_BF16X2_KP(K), A, lda, hi, lo);
}

/* dot[i][j] = A row i . B row j over K (i < MR, j < NR; compile-time after inlining). Per k step: the NR weight
 * vectors are loaded once, then each row of A is loaded and feeds NR vdpbf16ps (MR x NR accumulators + NR weight
 * + 1-2 A registers <= 29 of the 32 zmm at 8 x 3). Prefetch (PF): the next tile's weight rows at the same k (a
 * 4 KB weight row is one page: the hardware prefetcher stops at each); not on the passes that find B in L2. */
GEMM_INLINE GEMM_AVX512BF16 void tile_dp(const int PASSES, const int PF, const int MR, const int NR, int K, const uint16_t *hi,
                                         const uint16_t *lo, int lda, const uint16_t *B, int ldb,
                                         float dot[DP_MR][DP_NRMAX]) {
    __m512 acc[DP_MR][DP_NRMAX];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
    const int kfull = K & ~31;
    for (int k = 0; k < K; k += 32) {
        __m512bh w[DP_NRMAX];
        if (k < kfull) {
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) {
                if (PF == 1) _mm_prefetch((const char *)(B + (size_t)(j + NR) * ldb + k), _MM_HINT_T0);
                if (PF == 2) _mm_prefetch((const char *)(B + (size_t)(j + NR) * ldb + k), _MM_HINT_T1);
                w[j] = (__m512bh)_mm512_loadu_si512(B + (size_t)j * ldb + k);
            }
        } else {   /* K tail: masked loads (A is zero padded to a multiple of 32) */
            const __mmask32 mask = (__mmask32)((1u << (K - k)) - 1);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) w[j] = (__m512bh)_mm512_maskz_loadu_epi16(mask, B + (size_t)j * ldb + k);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512bh ah = (__m512bh)_mm512_loadu_si512(hi + (size_t)i * lda + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], ah, w[j]);
            if (PASSES == 2) {
                const __m512bh al = (__m512bh)_mm512_loadu_si512(lo + (size_t)i * lda + k);
#pragma GCC unroll 8
                for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], al, w[j]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) dot[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/* One MR x NR tile at (m, n), C written; MR in {8, 4, 2, 1}, NR in {DP_NR, 2, 1} (M = 1: DP_NR1). */
#define DP_TILE(MR_, NR_) tile_dp(P, 1, MR_, NR_, K, h, l, lda, Bn, ldb, dot)
GEMM_INLINE GEMM_AVX512BF16 void tile_store(int MR, int NR, int m, int n, float alpha, float beta, float *C, int ldc,
                                            float dot[DP_MR][DP_NRMAX]) {
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float *c = C + (size_t)(m + i) * ldc + n + j;
            *c = beta != 0.0f ? alpha * dot[i][j] + beta * *c : alpha * dot[i][j];
        }
}

GEMM_INLINE GEMM_AVX512BF16 void rows_avx512(const int P, int M, int K, float alpha, float beta, const uint16_t *hi,
                                        const uint16_t *lo, const uint16_t *B, int ldb, float *C, int ldc, int n0,
                                        int n1) {
    const int lda = SRT_CPU_GEMM_BF16X2_KP(K);
    float dot[DP_MR][DP_NRMAX];
    if (M == 1) {   /* GEMV: DP_NR1 rows of B per tile, the same per-output arithmetic as below */
        const uint16_t *h = hi, *l = lo;
        for (int n = n0; n < n1;) {
            const int NR = n1 - n >= DP_NR1 ? DP_NR1 : 1;
            const uint16_t *Bn = B + (size_t)n * ldb;
            if (NR == DP_NR1) tile_dp(P, DP_PF1, 1, DP_NR1, K, h, l, lda, Bn, ldb, dot);
            else DP_TILE(1, 1);
            tile_store(1, NR, 0, n, alpha, beta, C, ldc, dot);
            n += NR;
        }
        return;
    }
    /* tiles of 8 rows of A (then 4, 2, 1: the tail rows), each passing over [n0, n1) in tiles of DP_NR weight rows:
     * the 8 rows of A stay in L1 while the chunk of B (~100 KB, read from memory by the first pass, gemm_direct)
     * comes from L2 for the other passes; with M 8 the weights are read once, from memory, for all rows */
    for (int m = 0; m < M;) {
        const int left = M - m, MR = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const uint16_t *h = hi + (size_t)m * lda, *l = lo ? lo + (size_t)m * lda : NULL;
        for (int n = n0; n < n1;) {
            const int NR = n1 - n >= DP_NR ? DP_NR : n1 - n;
            const uint16_t *Bn = B + (size_t)n * ldb;
            if (NR == DP_NR) {
                if (MR == 8 && m > 0) tile_dp(P, 0, 8, DP_NR, K, h, l, lda, Bn, ldb, dot);   /* B in L2 */
                else if (MR == 8) DP_TILE(8, DP_NR);
                else if (MR == 4) DP_TILE(4, DP_NR);
                else if (MR == 2) DP_TILE(2, DP_NR);
                else DP_TILE(1, DP_NR);
            } else if (NR == 2) {
                if (MR == 8) DP_TILE(8, 2);
                else if (MR == 4) DP_TILE(4, 2);
                else if (MR == 2) DP_TILE(2, 2);
                else DP_TILE(1, 2);
            } else {
                if (MR == 8) DP_TILE(8, 1);
                else if (MR == 4) DP_TILE(4, 1);
                else if (MR == 2) DP_TILE(2, 1);
                else DP_TILE(1, 1);
            }
            tile_store(MR, NR, m, n, alpha, beta, C, ldc, dot);
            n += NR;
        }
        m += MR;
    }
}
#undef DP_TILE

static GEMM_AVX512BF16 void rows_hi_lo(int M, int K, float alpha, float beta, const uint16_t *hi,
                                       const uint16_t *lo, const uint16_t *B, int ldb, float *C, int ldc, int n0, int n1) {
    rows_avx512(2, M, K, alpha, beta, hi, lo, B, ldb, C, ldc, n0, n1);
}
static GEMM_AVX512BF16 void rows_hi(int M, int K, float alpha, float beta, const uint16_t *hi, const uint16_t *B,
                                    int ldb, float *C, int ldc, int n0, int n1) {
    rows_avx512(1, M, K, alpha, beta, hi, NULL, B, ldb, C, ldc, n0, n1);
}

void srt_cpu_gemm_rows_bf16x2(int M, int K, float alpha, float beta, const uint16_t *hi, const uint16_t *lo,
                              const uint16_t *B, int ldb, float *C, int ldc, int n0, int n1) {
    if (lo) rows_hi_lo(M, K, alpha, beta, hi, lo, B, ldb, C, ldc, n0, n1);
    else rows_hi(M, K, alpha, beta, hi, B, ldb, C, ldc, n0, n1);
}
