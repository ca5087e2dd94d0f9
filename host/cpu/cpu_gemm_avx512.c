/* cpu_gemm_avx512.c: the AVX-512 BF16 form of the direct small-M gemm kernel (cpu_gemm.c's decode path for bf16
 * weights): vdpbf16ps (_mm512_dpbf16_ps) multiplies bf16 pairs of A and B and adds them to f32 lanes, 32
 * multiply-adds per instruction on the weights as stored, bit for bit (repacked, not converted).
 * Accuracy: A (f32 activations) is split once per call into two bf16 terms, hi = bf16(a) and lo = bf16(a - hi), so
 * a = hi + lo to ~2^-17 relative; every bf16 x bf16 product is exact in f32 and accumulates in f32, so the result
 * differs from the f32 AVX2 kernel only by f32 rounding of the sums (the same tolerance as AVX2, test_gemm_bf16.c).
 * Forms: with BF16ACT (the cpu backend's default precision "bf16", SNACRT_CPU_LM_PRECISION, every M) lo is
 * dropped: A is rounded to bf16 (relative error <= 2^-8 per element, as a bf16 PyTorch model computes) for half the
 * instructions. HILO is reachable only through the test / bench knob srt_cpu_gemm_set_dpbf16.
 * Outer-product form: B is read in k-pair panels (cpu_gemm_kernels.h: 16 output columns per 64-byte vector, each
 * lane the pair B[n][2kh], B[n][2kh+1]; 3 panels interleaved per k pair, so a tile reads one sequential stream),
 * packed once for the LM's weights (cpu_wcache.c) or per call chunk by chunk. A tile of 8 rows of A x 3 panels
 * (48 columns) keeps 24 accumulators; per k pair it loads the 3 weight vectors once and multiplies each by the
 * 8 rows' A pairs, broadcast from memory: 11 loads per 24 vdpbf16ps, no horizontal sums (the dot-product form
 * before it loaded 8 A vectors + 3 B vectors of 64 bytes per 24 and reached ~55% of vdpbf16ps' peak at M 16-64;
 * bench/README.md #16 item 5). Tails: 4, 2, 1 rows; 2, 1 panels; M 1 (a GEMV) takes 1 x 3 tiles.
 * Each output is one vdpbf16ps chain over the k pairs in order from 0, then alpha (and beta) in one fixed
 * arithmetic, whatever the tile: a row's result never depends on M, N, the chunking or the threads.
 * Tiles prefetch the stream PANEL_PFD pairs ahead into L2 on the pass that reads it from memory (the first row
 * tile of a chunk; the others find the chunk in L2). Odd K: the last pair's high half is zero in A and B.
 * Compiled with function-level target attributes (no -march needed); callers check srt_cpu_gemm_has_avx512bf16(). */
#include "cpu/cpu_gemm_kernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define GEMM_INLINE static inline __attribute__((always_inline))
#define PB_MRMAX 8   /* rows of A per tile (then 4, 2, 1 for the tail rows) */
#define PB_NVMAX 3   /* 16-column panels per tile: 3 (8 x 3 = 24 accumulators) */
#define PB_GROUP 3   /* panels interleaved per k pair in B's packed layout: a tile's panels */

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


/* ---- B packed in k-pair panels (SRT_CPU_GEMM_PANEL_* in cpu_gemm_kernels.h) ---- */

/* Columns [n0, n1) of B (N, K) row stride ldb in panels of 16 columns, interleaved in groups of PB_GROUP panels
 * (cpu_gemm_kernels.h): the group at panel g (a multiple of PB_GROUP) starts at dst + g * KH * 16 words and holds,
 * for each k pair kh, its gw panels' vectors one after the other: word [(kh * gw + j) * 16 + c] =
 * B[n][2kh] | B[n][2kh+1] << 16 for column n = n0 + 16 (g + j) + c (zero past n1 and past K), gw = PB_GROUP or
 * what is left. A tile then reads one sequential stream. One 16-lane gather of 32-bit pairs per vector; an odd K's
 * last pair reads its one element alone (the pair would run past the row). */
static GEMM_AVX512BF16 void pack_b_panels(const uint16_t *B, int ldb, int K, int n0, int n1, uint32_t *dst) {
    const int KH = SRT_CPU_GEMM_PANEL_KH(K), kfull = K / 2, np = (n1 - n0 + 15) / 16;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(2 * ldb));   /* byte offsets of the 16 rows */
    for (int g = 0; g < np; g += PB_GROUP) {
        const int gw = np - g < PB_GROUP ? np - g : PB_GROUP;
        uint32_t *d = dst + (size_t)g * KH * 16;
        for (int j = 0; j < gw; j++) {
            const int n = n0 + 16 * (g + j), cols = n1 - n < 16 ? n1 - n : 16;
            const __mmask16 mask = (__mmask16)((1u << cols) - 1);
            const uint16_t *b = B + (size_t)n * ldb;
            for (int kh = 0; kh < kfull; kh++)
                _mm512_store_si512(d + ((size_t)kh * gw + j) * 16,
                                   _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, idx, b + 2 * kh, 1));
            if (K & 1) {
                uint32_t *t = d + ((size_t)kfull * gw + j) * 16;
                for (int c = 0; c < 16; c++) t[c] = c < cols ? b[(size_t)c * ldb + K - 1] : 0;
            }
        }
    }
}

void srt_cpu_gemm_pack_b_panels(const uint16_t *B, int ldb, int K, int n0, int n1, uint32_t *dst) {
    pack_b_panels(B, ldb, K, n0, n1, dst);
}

/* acc[i][j] (lane c: output column 16j + c of A row i) = the chain over k pairs kh = 0 .. KH-1 of
 * vdpbf16ps(acc, panel j's pair vector, A row i's pair (hi, then lo with PASSES 2) broadcast), from 0.
 * Per k pair the NV weight vectors are loaded once and each feeds MR rows (MR x NV accumulators + NV weight
 * registers <= 28 of the 32 zmm at 8 x 3; A comes as a 32-bit broadcast from memory, folded into vdpbf16ps).
 * PF: prefetch the weight vectors PANEL_PFD pairs ahead (the pass that reads them from memory). */
#define PANEL_PFD 32   /* k pairs ahead: 6 KB of a 3-panel group's stream, into L2 (bench_gemm: T0, or 24 or 128
                        * pairs ahead, or none, were slower at M 8-64) */
GEMM_INLINE GEMM_AVX512BF16 void tile_pb(const int PASSES, const int PF, const int MR, const int NV, int KH,
                                         const uint16_t *hi, const uint16_t *lo, int lda, const uint32_t *P,
                                         __m512 acc[PB_MRMAX][PB_NVMAX]) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    for (int kh = 0; kh < KH; kh++) {
        __m512bh w[PB_NVMAX];
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) {
            if (PF) _mm_prefetch((const char *)(P + ((size_t)(kh + PANEL_PFD) * NV + j) * 16), _MM_HINT_T1);
            w[j] = (__m512bh)_mm512_load_si512(P + ((size_t)kh * NV + j) * 16);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, hi + (size_t)i * lda + 2 * kh, 4);
            const __m512bh ah = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 8
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w[j], ah);
            if (PASSES == 2) {
                memcpy(&pair, lo + (size_t)i * lda + 2 * kh, 4);
                const __m512bh al = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 8
                for (int j = 0; j < NV; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w[j], al);
            }
        }
    }
}

/* C[m + i][n + 16j + c] = alpha * acc (+ beta * C when beta != 0) for columns below n1: the same arithmetic for
 * every tile shape. */
GEMM_INLINE GEMM_AVX512BF16 void tile_pb_store(const int MR, const int NV, int m, int n, int n1, float alpha,
                                               float beta, float *C, int ldc, __m512 acc[PB_MRMAX][PB_NVMAX]) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
        const int cols = n1 - (n + 16 * j);
        if (cols <= 0) break;
        const __mmask16 mask = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float *c = C + (size_t)(m + i) * ldc + n + 16 * j;
            __m512 v = _mm512_mul_ps(va, acc[i][j]);
            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, c), v);
            _mm512_mask_storeu_ps(c, mask, v);
        }
    }
}

#define PB_TILE(MR_, NV_, PF_)                                                                  \
    do {                                                                                        \
        tile_pb(P_, PF_, MR_, NV_, KH, h, l, lda, Pn, acc);                                 \
        tile_pb_store(MR_, NV_, m, n, n1, alpha, beta, C, ldc, acc);                            \
    } while (0)

/* C[0:M, n0:n1] from P, the panels of columns [n0, n1) (P's first group starts at column n0). Rows in tiles of 8
 * (then 4, 2, 1), each passing over the groups of 3 panels (then 2, 1): a group (K x 48 bf16, <= 768 KB at K 8192)
 * stays in L2 after the first row tile, which reads it from memory and prefetches. M = 1 (batch-1 decode, a GEMV
 * on memory bandwidth): 1 x 3 tiles. */
GEMM_INLINE GEMM_AVX512BF16 void rows_pb(const int P_, int M, int K, float alpha, float beta, const uint16_t *hi,
                                         const uint16_t *lo, const uint32_t *P, float *C, int ldc, int n0, int n1) {
    const int lda = SRT_CPU_GEMM_BF16X2_KP(K), KH = SRT_CPU_GEMM_PANEL_KH(K);
    const size_t ps = (size_t)KH * 16;   /* words per panel */
    __m512 acc[PB_MRMAX][PB_NVMAX];
    const int np = (n1 - n0 + 15) / 16;
    if (M == 1) {
        const uint16_t *h = hi, *l = lo;
        const int m = 0;
        for (int p = 0; p < np;) {
            const int nv = np - p >= 3 ? 3 : np - p, n = n0 + 16 * p;
            const uint32_t *Pn = P + (size_t)p * ps;
            if (nv == 3) PB_TILE(1, 3, 1);
            else if (nv == 2) PB_TILE(1, 2, 1);
            else PB_TILE(1, 1, 1);
            p += nv;
        }
        return;
    }
    for (int m = 0; m < M;) {
        const int left = M - m, MR = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const uint16_t *h = hi + (size_t)m * lda, *l = lo ? lo + (size_t)m * lda : NULL;
        for (int p = 0; p < np;) {
            const int nv = np - p >= 3 ? 3 : np - p, n = n0 + 16 * p;
            const uint32_t *Pn = P + (size_t)p * ps;
            if (nv == 3) {
                if (MR == 8 && m > 0) PB_TILE(8, 3, 0);   /* the group is in L2 */
                else if (MR == 8) PB_TILE(8, 3, 1);
                else if (MR == 4) PB_TILE(4, 3, 1);
                else if (MR == 2) PB_TILE(2, 3, 1);
                else PB_TILE(1, 3, 1);
            } else if (nv == 2) {
                if (MR == 8) PB_TILE(8, 2, 1);
                else if (MR == 4) PB_TILE(4, 2, 1);
                else if (MR == 2) PB_TILE(2, 2, 1);
                else PB_TILE(1, 2, 1);
            } else {
                if (MR == 8) PB_TILE(8, 1, 1);
                else if (MR == 4) PB_TILE(4, 1, 1);
                else if (MR == 2) PB_TILE(2, 1, 1);
                else PB_TILE(1, 1, 1);
            }
            p += nv;
        }
        m += MR;
    }
}
#undef PB_TILE

static GEMM_AVX512BF16 void rows_pb_hi_lo(int M, int K, float alpha, float beta, const uint16_t *hi,
                                          const uint16_t *lo, const uint32_t *P, float *C, int ldc, int n0, int n1) {
    rows_pb(2, M, K, alpha, beta, hi, lo, P, C, ldc, n0, n1);
}
static GEMM_AVX512BF16 void rows_pb_hi(int M, int K, float alpha, float beta, const uint16_t *hi, const uint32_t *P,
                                       float *C, int ldc, int n0, int n1) {
    rows_pb(1, M, K, alpha, beta, hi, NULL, P, C, ldc, n0, n1);
}

void srt_cpu_gemm_rows_bf16p(int M, int K, float alpha, float beta, const uint16_t *hi, const uint16_t *lo,
                             const uint32_t *P, float *C, int ldc, int n0, int n1) {
    if (lo) rows_pb_hi_lo(M, K, alpha, beta, hi, lo, P, C, ldc, n0, n1);
    else rows_pb_hi(M, K, alpha, beta, hi, P, C, ldc, n0, n1);
}
