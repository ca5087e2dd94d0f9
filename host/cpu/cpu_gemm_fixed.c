/* cpu_gemm_fixed.c: f32 GEMM with one fixed FMA chain per output element (contract: cpu_gemm_fixed.h).
 * Blocking as in BLIS: K in blocks of KC, M in blocks of MC packed into micro-panels of MR rows (k-major; or
 * packed once by the caller for many calls), N in blocks of NC packed into panels of NR columns (k-major); a
 * register-blocked micro-kernel keeps an MR x NR tile of accumulators, one lane per output element, so an
 * element's arithmetic never depends on where it falls. The chain's start (init + bias) is formed in the kernel;
 * between K blocks the partial sums go through C as floats, exactly the register value, so the chain is unchanged.
 * Edge tiles (fewer than MR rows or NR columns) run the same kernel (half width when the columns fit) on a
 * zero-padded copy; up to ROW_KERNEL_MAX_M rows use a one-row kernel reading B in place (masked at the row end);
 * with A packed once and N <= SMALL_N_MAX columns (a streaming push) a kernel puts rows across the lanes instead.
 *  - AVX-512F (run-time check): 12 x 32 tile (24 zmm accumulators);
 *  - AVX2 + FMA: 6 x 16 tile (12 ymm accumulators);
 *  - portable: plain loops with fmaf where the CPU has FMA (same bits as the vector kernels), else a*b + acc. */
#include "cpu/cpu_gemm_fixed.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KC 256      /* k per block: a B panel (KC x NR) stays in L1 */
#define MC 96       /* rows of A per packed block (multiple of both MRs): MC x KC floats stay in L2 */
#define NC 1024     /* columns of B per packed block (multiple of both NRs): KC x NC floats, read row by row */
#define MR_MAX 12
#define NR_MAX 32
#define MR_AVX2 6
#define NR_AVX2 16
#define MR_AVX512 12
#define NR_AVX512 32

static int g_force_level = 0;

void srt_cpu_gemm_fixed_force_isa(int level) { g_force_level = level; }

/* 2: AVX-512F + FMA, 1: AVX2 + FMA, 0: portable (with fmaf when the CPU has FMA). */
static int cpu_level(int *has_fma) {
    static int cached = -1, fma = 0;
    if (cached < 0) {
        __builtin_cpu_init();
        fma = __builtin_cpu_supports("fma");
        cached = !fma || !__builtin_cpu_supports("avx2") ? 0 : __builtin_cpu_supports("avx512f") ? 2 : 1;
    }
    *has_fma = fma;
    if (g_force_level == 2) return 0;
    if (g_force_level == 1 && cached > 1) return 1;
    return cached;
}

int srt_cpu_gemm_fixed_level(void) {
    int fma;
    return cpu_level(&fma);
}

/* Ap, Bp, the edge tile, then the partial sums of a narrow last panel (MC rows, SN_REM_FLOATS) */
#define SN_REM_FLOATS ((MC / MR_AVX2) * 8 * 16)
#define SN_REM_MAX_AVX2 5
size_t srt_cpu_gemm_fixed_ws_floats(void) {
    return (size_t)MC * KC + (size_t)KC * NC + (size_t)MR_MAX * NR_MAX + SN_REM_FLOATS;
}

/* Start of an element's chain: init (+ bias), the same formula in every path. */
static inline float chain_start(const float *init, const float *bias) {
    return init ? (bias ? *init + *bias : *init) : (bias ? *bias : 0.0f);
}

float *srt_cpu_gemm_fixed_ws_alloc(void) {
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(float) * srt_cpu_gemm_fixed_ws_floats())) return NULL;
    return p;
}

/* ---- packing ---- */
/* 8 x 8 transpose: r[i] = row i in, r[k] = column k out. */
__attribute__((target("avx2"))) static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++)   /* rows 4h .. 4h+3 */
        for (int j = 0; j < 2; j++) {
            u[4 * h + 2 * j] = _mm256_shuffle_ps(t[4 * h + j], t[4 * h + j + 2], _MM_SHUFFLE(1, 0, 1, 0));
            u[4 * h + 2 * j + 1] = _mm256_shuffle_ps(t[4 * h + j], t[4 * h + j + 2], _MM_SHUFFLE(3, 2, 3, 2));
        }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

/* Store the first n (4, 6 or 8) floats of v at d. */
__attribute__((target("avx2"))) static inline void store_n(float *d, __m256 v, int n) {
    if (n == 8) {
        _mm256_storeu_ps(d, v);
        return;
    }
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    if (n == 6) _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(v, 1));
}

/* One micro-panel from rows with contiguous k (a_cs == 1): blocks of 8 k through 8 x 8 transposes. */
__attribute__((target("avx2"))) static void pack_panel_rows(int MR, int rows, int kc, const float *src, ptrdiff_t a_rs,
                                                             float *dst) {
    int k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int g0 = 0; g0 < MR; g0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = g0 + i < rows ? _mm256_loadu_ps(src + (ptrdiff_t)(g0 + i) * a_rs + k) : _mm256_setzero_ps();
            transpose8(r);
            int n = MR - g0 < 8 ? MR - g0 : 8;
            for (int kk = 0; kk < 8; kk++) store_n(dst + (size_t)(k + kk) * MR + g0, r[kk], n);
        }
    for (; k < kc; k++)
        for (int i = 0; i < MR; i++) dst[(size_t)k * MR + i] = i < rows ? src[(ptrdiff_t)i * a_rs + k] : 0.0f;
}

/* Ap[(p*kc + k)*MR + i] = A(m0 + p*MR + i, k0 + k), rows >= M zero. */
static void pack_a(int MR, int mc, int kc, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, float *Ap) {
    for (int p = 0; p * MR < mc; p++) {
        int rows = mc - p * MR < MR ? mc - p * MR : MR;
        float *dst = Ap + (size_t)p * MR * kc;
        const float *src = A + (ptrdiff_t)p * MR * a_rs;
        if (a_cs == 1) {
            pack_panel_rows(MR, rows, kc, src, a_rs, dst);
        } else if (a_rs == 1) {
            for (int k = 0; k < kc; k++) {
                const float *s = src + (ptrdiff_t)k * a_cs;
                float *d = dst + (size_t)k * MR;
                memcpy(d, s, sizeof(float) * (size_t)rows);
                for (int i = rows; i < MR; i++) d[i] = 0.0f;
            }
        } else {
            for (int i = 0; i < rows; i++) {
                const float *s = src + (ptrdiff_t)i * a_rs;
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = s[(ptrdiff_t)k * a_cs];
            }
            for (int i = rows; i < MR; i++)
                for (int k = 0; k < kc; k++) dst[(size_t)k * MR + i] = 0.0f;
        }
    }
}

/* Panels of NR columns: Bp[(p*kc + k)*NR + j] = B(k, p*NR + j) for k < kc, p*NR + j < nc. A last partial
 * panel of rem columns is packed NR/2 wide when rem <= NR/2 (for the half-width kernel), else NR wide; its
 * columns >= rem are zero. B is read row by row (sequential when b_cs == 1). */
static int last_panel_width(int NR, int nc) {
    int rem = nc % NR;
    return rem == 0 ? NR : rem <= NR / 2 ? NR / 2 : NR;
}

static void pack_b(int NR, int nc, int kc, const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs, float *Bp) {
    const int n_full = nc / NR, rem = nc - n_full * NR, wl = last_panel_width(NR, nc);
    for (int k = 0; k < kc; k++) {
        const float *s = B + (ptrdiff_t)k * b_rs;
        float *d = Bp + (size_t)k * NR;
        if (b_cs == 1) {
            for (int p = 0; p < n_full; p++) memcpy(d + (size_t)p * kc * NR, s + (size_t)p * NR, sizeof(float) * (size_t)NR);
        } else {
            for (int p = 0; p < n_full; p++)
                for (int j = 0; j < NR; j++) d[(size_t)p * kc * NR + j] = s[(ptrdiff_t)(p * NR + j) * b_cs];
        }
        if (rem) {
            float *dr = Bp + (size_t)n_full * kc * NR + (size_t)k * wl;
            for (int j = 0; j < rem; j++) dr[j] = s[(ptrdiff_t)(n_full * NR + j) * b_cs];
            for (int j = rem; j < wl; j++) dr[j] = 0.0f;
        }
    }
}

/* ---- micro-kernels: C tile (MR x NV vectors, row stride ldc) = the chains over kc steps, each started from
 * init[i][j] (row stride ldi; may be C itself) and/or bias[i] (either may be NULL: chain_start()).
 * NV = 2 is the main tile; NV = 1 serves edge panels of at most one vector of columns. ---- */
#define UKR_INLINE static inline __attribute__((always_inline))
#define UKR_ARGS int kc, const float *Ap, const float *Bp, float *C, ptrdiff_t ldc, const float *init, ptrdiff_t ldi, \
                 const float *bias

UKR_INLINE __attribute__((target("avx2,fma"))) void ukr_avx2_t(const int NV, UKR_ARGS) {
    __m256 c[MR_AVX2][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR_AVX2; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            if (init) {
                c[i][v] = _mm256_loadu_ps(init + i * ldi + 8 * v);
                if (bias) c[i][v] = _mm256_add_ps(c[i][v], _mm256_set1_ps(bias[i]));
            } else {
                c[i][v] = bias ? _mm256_set1_ps(bias[i]) : _mm256_setzero_ps();
            }
        }
    for (int k = 0; k < kc; k++) {
        __m256 b[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) b[v] = _mm256_load_ps(Bp + 8 * v);
#pragma GCC unroll 6
        for (int i = 0; i < MR_AVX2; i++) {
            __m256 a = _mm256_broadcast_ss(Ap + i);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) c[i][v] = _mm256_fmadd_ps(a, b[v], c[i][v]);
        }
        Ap += MR_AVX2;
        Bp += 8 * NV;
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR_AVX2; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) _mm256_storeu_ps(C + i * ldc + 8 * v, c[i][v]);
}

UKR_INLINE __attribute__((target("avx512f,fma"))) void ukr_avx512_t(const int NV, UKR_ARGS) {
    __m512 c[MR_AVX512][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            if (init) {
                c[i][v] = _mm512_loadu_ps(init + i * ldi + 16 * v);
                if (bias) c[i][v] = _mm512_add_ps(c[i][v], _mm512_set1_ps(bias[i]));
            } else {
                c[i][v] = bias ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
            }
        }
    for (int k = 0; k < kc; k++) {
        __m512 b[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(Bp + 16 * v);
#pragma GCC unroll 12
        for (int i = 0; i < MR_AVX512; i++) {
            __m512 a = _mm512_set1_ps(Ap[i]);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
        }
        Ap += MR_AVX512;
        Bp += 16 * NV;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR_AVX512; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(C + i * ldc + 16 * v, c[i][v]);
}

__attribute__((target("avx2,fma"))) static void ukr_avx2(UKR_ARGS) { ukr_avx2_t(2, kc, Ap, Bp, C, ldc, init, ldi, bias); }
__attribute__((target("avx2,fma"))) static void ukr_avx2_half(UKR_ARGS) {
    ukr_avx2_t(1, kc, Ap, Bp, C, ldc, init, ldi, bias);
}
__attribute__((target("avx512f,fma"))) static void ukr_avx512(UKR_ARGS) {
    ukr_avx512_t(2, kc, Ap, Bp, C, ldc, init, ldi, bias);
}
__attribute__((target("avx512f,fma"))) static void ukr_avx512_half(UKR_ARGS) {
    ukr_avx512_t(1, kc, Ap, Bp, C, ldc, init, ldi, bias);
}

typedef void (*ukr_fn)(UKR_ARGS);

/* ---- single rows: c[n] for n < N = the chains over kc steps with a(k) = a[k*a_cs], B read in place (rows
 * b_rs apart, contiguous columns), ROW_VECS vectors of columns per pass, masked at the row end. init may be c. ---- */
#define ROW_KERNEL_MAX_M 4
#define ROW_VECS 8

__attribute__((target("avx512f,fma"))) static void row_avx512(int N, int kc, const float *a, ptrdiff_t a_cs,
                                                               const float *B, ptrdiff_t b_rs, float *c,
                                                               const float *init, const float *bias) {
    for (int n0 = 0; n0 < N; n0 += 16 * ROW_VECS) {
        __mmask16 m[ROW_VECS];
        __m512 acc[ROW_VECS];
#pragma GCC unroll 8
        for (int v = 0; v < ROW_VECS; v++) {
            int left = N - n0 - 16 * v;
            m[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
            if (init) {
                acc[v] = _mm512_maskz_loadu_ps(m[v], init + n0 + 16 * v);
                if (bias) acc[v] = _mm512_add_ps(acc[v], _mm512_set1_ps(*bias));
            } else {
                acc[v] = bias ? _mm512_set1_ps(*bias) : _mm512_setzero_ps();
            }
        }
        for (int k = 0; k < kc; k++) {
            __m512 av = _mm512_set1_ps(a[(ptrdiff_t)k * a_cs]);
            const float *b = B + (ptrdiff_t)k * b_rs + n0;
#pragma GCC unroll 8
            for (int v = 0; v < ROW_VECS; v++)
                acc[v] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m[v], b + 16 * v), acc[v]);
        }
#pragma GCC unroll 8
        for (int v = 0; v < ROW_VECS; v++) _mm512_mask_storeu_ps(c + n0 + 16 * v, m[v], acc[v]);
    }
}

__attribute__((target("avx2,fma"))) static void row_avx2(int N, int kc, const float *a, ptrdiff_t a_cs,
                                                          const float *B, ptrdiff_t b_rs, float *c, const float *init,
                                                          const float *bias) {
    for (int n0 = 0; n0 < N; n0 += 8 * ROW_VECS) {
        __m256i m[ROW_VECS];
        __m256 acc[ROW_VECS];
#pragma GCC unroll 8
        for (int v = 0; v < ROW_VECS; v++) {
            int left = N - n0 - 8 * v;
            m[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            if (init) {
                acc[v] = _mm256_maskload_ps(init + n0 + 8 * v, m[v]);
                if (bias) acc[v] = _mm256_add_ps(acc[v], _mm256_set1_ps(*bias));
            } else {
                acc[v] = bias ? _mm256_set1_ps(*bias) : _mm256_setzero_ps();
            }
        }
        for (int k = 0; k < kc; k++) {
            __m256 av = _mm256_set1_ps(a[(ptrdiff_t)k * a_cs]);
            const float *b = B + (ptrdiff_t)k * b_rs + n0;
#pragma GCC unroll 8
            for (int v = 0; v < ROW_VECS; v++)
                acc[v] = _mm256_fmadd_ps(av, _mm256_maskload_ps(b + 8 * v, m[v]), acc[v]);
        }
#pragma GCC unroll 8
        for (int v = 0; v < ROW_VECS; v++) _mm256_maskstore_ps(c + n0 + 8 * v, m[v], acc[v]);
    }
}

/* ---- portable ---- */
static void gemm_portable(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *B,
                          ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init, ptrdiff_t ldi,
                          const float *bias, int use_fma) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = chain_start(init ? init + (ptrdiff_t)m * ldi + n : NULL, bias ? bias + m : NULL);
            const float *a = A + (ptrdiff_t)m * a_rs, *b = B + (ptrdiff_t)n * b_cs;
            if (use_fma)
                for (int k = 0; k < K; k++) acc = fmaf(a[(ptrdiff_t)k * a_cs], b[(ptrdiff_t)k * b_rs], acc);
            else
                for (int k = 0; k < K; k++) acc = acc + a[(ptrdiff_t)k * a_cs] * b[(ptrdiff_t)k * b_rs];
            C[(ptrdiff_t)m * ldc + n] = acc;
        }
}

/* ---- packed A (weights packed once, shared by many calls) ---- */
static int level_mr(int level) { return level == 2 ? MR_AVX512 : MR_AVX2; }

size_t srt_cpu_gemm_fixed_a_floats(int M, int K) {
    int fma, level = cpu_level(&fma);
    if (level == 0) return (size_t)M * K;
    int MR = level_mr(level);
    return (size_t)((M + MR - 1) / MR * MR) * K;
}

int srt_cpu_gemm_fixed_a_parts(int M, int K) { return ((K + KC - 1) / KC) * ((M + MC - 1) / MC); }

void srt_cpu_gemm_fixed_pack_a(float *Apk, int M, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, int part) {
    int fma, level = cpu_level(&fma);
    int n_mb = (M + MC - 1) / MC, k0 = part / n_mb * KC, m0 = part % n_mb * MC;
    int kc = K - k0 < KC ? K - k0 : KC, mc = M - m0 < MC ? M - m0 : MC;
    if (level == 0) {   /* portable: plain (M, K) rows */
        for (int m = m0; m < m0 + mc; m++)
            for (int k = k0; k < k0 + kc; k++) Apk[(size_t)m * K + k] = A[(ptrdiff_t)m * a_rs + (ptrdiff_t)k * a_cs];
        return;
    }
    int MR = level_mr(level), Mpad = (M + MR - 1) / MR * MR;
    pack_a(MR, mc, kc, A + (ptrdiff_t)m0 * a_rs + (ptrdiff_t)k0 * a_cs, a_rs, a_cs, Apk + (size_t)k0 * Mpad + (size_t)m0 * kc);
}

/* ---- packed A, few columns (N <= SMALL_N_MAX: a streaming push's window): rows across the vector lanes ----
 * The tile kernels above give each (row, k) of A one broadcast and one FMA per NR columns, so at N = 5 most lanes
 * are idle and the GEMM is bound by FMAs, not by reading A once. Here lane i of acc[p][n] is the chain of row i of
 * panel p, column n: per step k a panel's MR packed rows are one (masked) vector load and B(k, n) one broadcast,
 * so A is streamed once in its packed order (K block by K block, panel by panel: one sequential read) at
 * N FMAs per MR rows. The loads are unmasked but the last of a panel (masked loads measured 3x slower from
 * memory). Between K blocks the partial sums wait in the workspace as floats (exactly the register
 * values), so every element is still the one chain of the contract. */
#define SMALL_N_MAX 8
#define SN_BLOCK_PANELS 96   /* panels per row block: their partial sums (96 x N x 16 floats) stay in L1/L2 */
_Static_assert(SN_BLOCK_PANELS * SMALL_N_MAX * 16 <= KC * NC, "the small-N partial sums use the B-panel workspace");
_Static_assert(SMALL_N_MAX <= 8 && MC % MR_AVX2 == 0 && (MR_MAX * NR_MAX) % 16 == 0, "SN_REM_FLOATS holds MC rows");

/* np panels of one K block (Ap: the first panel's rows at step 0; panels MR*kc floats apart, read in order) over
 * steps [0, kc), NN columns of B (rows b_rs apart, columns b_cs apart); acc: np * NN lane vectors (16 floats each,
 * 64-byte aligned, panel-major) holding the chains so far. One panel at a time, so A is one sequential stream
 * (interleaving panels measured slower: the prefetcher follows one stream best). */
UKR_INLINE __attribute__((target("avx512f,fma"))) void sn_panels_512(const int NN, int np, int kc, const float *Ap,
                                                                     const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs,
                                                                     float *acc) {
    for (int p = 0; p < np; p++, Ap += (size_t)MR_AVX512 * kc, acc += 16 * NN) {
        __m512 c[SMALL_N_MAX];
#pragma GCC unroll 8
        for (int n = 0; n < NN; n++) c[n] = _mm512_load_ps(acc + 16 * n);
        /* MR_AVX512 == 12 rows: lanes 12..15 read the next step (ignored); the panel's last step is masked */
        for (int k = 0; k < kc; k++) {
            const float *ak = Ap + (size_t)k * MR_AVX512, *b = B + (ptrdiff_t)k * b_rs;
            __m512 a;
            if (__builtin_expect(k + 1 < kc, 1)) a = _mm512_loadu_ps(ak);
            else a = _mm512_maskz_loadu_ps(0x0FFF, ak);
#pragma GCC unroll 8
            for (int n = 0; n < NN; n++) c[n] = _mm512_fmadd_ps(a, _mm512_set1_ps(b[(ptrdiff_t)n * b_cs]), c[n]);
        }
#pragma GCC unroll 8
        for (int n = 0; n < NN; n++) _mm512_store_ps(acc + 16 * n, c[n]);
    }
}

UKR_INLINE __attribute__((target("avx2,fma"))) void sn_panels_256(const int NN, int np, int kc, const float *Ap,
                                                                  const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs,
                                                                  float *acc) {
    const __m256i rows = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);   /* MR_AVX2 == 6 rows */
    for (int p = 0; p < np; p++, Ap += (size_t)MR_AVX2 * kc, acc += 16 * NN) {
        __m256 c[SMALL_N_MAX];
#pragma GCC unroll 8
        for (int n = 0; n < NN; n++) c[n] = _mm256_load_ps(acc + 16 * n);
        for (int k = 0; k < kc; k++) {
            const float *ak = Ap + (size_t)k * MR_AVX2;   /* as above: 6 rows, lanes 6..7 read the next step */
            const __m256 a = k + 1 < kc ? _mm256_loadu_ps(ak) : _mm256_maskload_ps(ak, rows);
            const float *b = B + (ptrdiff_t)k * b_rs;
#pragma GCC unroll 8
            for (int n = 0; n < NN; n++) c[n] = _mm256_fmadd_ps(a, _mm256_set1_ps(b[(ptrdiff_t)n * b_cs]), c[n]);
        }
#pragma GCC unroll 8
        for (int n = 0; n < NN; n++) _mm256_store_ps(acc + 16 * n, c[n]);
    }
}

/* The kernels with the column count a constant (registers, not a stack array). */
#define SN_DISPATCH(fn, N, ...)                                                                                        \
    switch (N) {                                                                                                       \
    case 1: fn(1, __VA_ARGS__); break;                                                                                 \
    case 2: fn(2, __VA_ARGS__); break;                                                                                 \
    case 3: fn(3, __VA_ARGS__); break;                                                                                 \
    case 4: fn(4, __VA_ARGS__); break;                                                                                 \
    case 5: fn(5, __VA_ARGS__); break;                                                                                 \
    case 6: fn(6, __VA_ARGS__); break;                                                                                 \
    case 7: fn(7, __VA_ARGS__); break;                                                                                 \
    default: fn(8, __VA_ARGS__); break;                                                                                \
    }

__attribute__((target("avx512f,fma"))) static void sn_block_512(int N, int np, int kc, const float *Ap, const float *B,
                                                                 ptrdiff_t b_rs, ptrdiff_t b_cs, float *acc) {
    SN_DISPATCH(sn_panels_512, N, np, kc, Ap, B, b_rs, b_cs, acc)
}

__attribute__((target("avx2,fma"))) static void sn_block_256(int N, int np, int kc, const float *Ap, const float *B,
                                                              ptrdiff_t b_rs, ptrdiff_t b_cs, float *acc) {
    SN_DISPATCH(sn_panels_256, N, np, kc, Ap, B, b_rs, b_cs, acc)
}

/* acc (np panels of MR rows, N lane vectors each, 16 floats apart) = the chain starts of rows [0, M) (row m at
 * panel m / MR, lane m % MR; init row stride ldi, may be NULL; bias may be NULL); lanes past M or MR start at 0. */
static void sn_start(float *acc, int np, int MR, int M, int N, const float *init, ptrdiff_t ldi, const float *bias) {
    for (int p = 0; p < np; p++)
        for (int n = 0; n < N; n++) {
            float *v = acc + ((size_t)p * N + n) * 16;
            for (int i = 0; i < 16; i++) {
                int m = p * MR + i;
                v[i] = i < MR && m < M ? chain_start(init ? init + (ptrdiff_t)m * ldi + n : NULL, bias ? bias + m : NULL)
                                       : 0.0f;
            }
        }
}

/* C rows [0, M) (row stride ldc) = the chains held in acc (as sn_start lays them out). */
static void sn_store(const float *acc, int np, int MR, int M, int N, float *C, ptrdiff_t ldc) {
    for (int p = 0; p < np; p++)
        for (int i = 0; i < MR; i++) {
            int m = p * MR + i;
            if (m >= M) return;
            for (int n = 0; n < N; n++) C[(ptrdiff_t)m * ldc + n] = acc[((size_t)p * N + n) * 16 + i];
        }
}

static void sn_block(int level, int N, int np, int kc, const float *Ap, const float *B, ptrdiff_t b_rs,
                     ptrdiff_t b_cs, float *acc) {
    if (level == 2) sn_block_512(N, np, kc, Ap, B, b_rs, b_cs, acc);
    else sn_block_256(N, np, kc, Ap, B, b_rs, b_cs, acc);
}

/* Rows [row0, row0 + M) (row0 a multiple of MR) of the packed (Mpad, K) matrix times B (K, N <= SMALL_N_MAX). */
static void gemm_packed_small_n(int level, const float *Apk, int Mpad, int row0, int M, int N, int K, const float *B,
                                ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init,
                                ptrdiff_t ldi, const float *bias, float *ws) {
    const int MR = level_mr(level), n_pan = (M + MR - 1) / MR;
    float *acc = ws + (size_t)MC * KC;   /* SN_BLOCK_PANELS * SMALL_N_MAX * 16 floats (in the B-panel area) */
    for (int pb = 0; pb < n_pan; pb += SN_BLOCK_PANELS) {
        const int np = n_pan - pb < SN_BLOCK_PANELS ? n_pan - pb : SN_BLOCK_PANELS, m0 = pb * MR;
        sn_start(acc, np, MR, M - m0, N, init ? init + (ptrdiff_t)m0 * ldi : NULL, ldi, bias ? bias + m0 : NULL);
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
            sn_block(level, N, np, kc, Apk + (size_t)k0 * Mpad + (size_t)(row0 + m0) * kc, B + (ptrdiff_t)k0 * b_rs,
                     b_rs, b_cs, acc);
        }
        sn_store(acc, np, MR, M - m0, N, C + (ptrdiff_t)m0 * ldc, ldc);
    }
}

/* ---- the blocked driver ----
 * Rows [0, M) of C from A (a_rs, a_cs) when Apk is NULL, else from the packed A of a matrix with Mpad padded rows,
 * rows [row0, row0 + M) of it (row0 a multiple of MR). */
static void gemm_blocked(int level, int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs,
                         const float *Apk, int Mpad, int row0, const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs,
                         float *C, ptrdiff_t ldc, const float *init, ptrdiff_t ldi, const float *bias, float *ws) {
    const int MR = level_mr(level), NR = level == 2 ? NR_AVX512 : NR_AVX2;
    if (M <= ROW_KERNEL_MAX_M && b_cs == 1) {
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
            for (int m = 0; m < M; m++) {
                const float *a;
                ptrdiff_t acs;
                if (Apk) {
                    int r = row0 + m;
                    a = Apk + (size_t)k0 * Mpad + (size_t)(r / MR) * MR * kc + r % MR;
                    acs = MR;
                } else {
                    a = A + (ptrdiff_t)m * a_rs + (ptrdiff_t)k0 * a_cs;
                    acs = a_cs;
                }
                float *c = C + (ptrdiff_t)m * ldc;
                const float *in = k0 ? c : init ? init + (ptrdiff_t)m * ldi : NULL, *bi = k0 || !bias ? NULL : bias + m;
                const float *b = B + (ptrdiff_t)k0 * b_rs;
                if (level == 2) row_avx512(N, kc, a, acs, b, b_rs, c, in, bi);
                else row_avx2(N, kc, a, acs, b, b_rs, c, in, bi);
            }
        }
        return;
    }
    const ukr_fn ukr = level == 2 ? ukr_avx512 : ukr_avx2, ukr_half = level == 2 ? ukr_avx512_half : ukr_avx2_half;
    float *Ap = ws, *Bp = ws + (size_t)MC * KC, *tile = Bp + (size_t)KC * NC;   /* 64-byte aligned each */
    float *sn_acc = tile + MR_MAX * NR_MAX;
    /* a last panel this narrow takes the few-columns kernel: N/MR FMAs per row and step instead of one (AVX2's
     * 6-row lanes win only below 6 columns) */
    const int sn_max = level == 2 ? SMALL_N_MAX : SN_REM_MAX_AVX2;
    for (int n0 = 0; n0 < N; n0 += NC) {
        const int nc = N - n0 < NC ? N - n0 : NC;
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
            /* chain start: init/bias in the first K block, the partial sums in C after */
            const float *in = k0 ? C + n0 : init ? init + n0 : NULL, *bi = k0 ? NULL : bias;
            const ptrdiff_t ld_in = k0 ? ldc : ldi;
            pack_b(NR, nc, kc, B + (ptrdiff_t)k0 * b_rs + (ptrdiff_t)n0 * b_cs, b_rs, b_cs, Bp);
            for (int m0 = 0; m0 < M; m0 += MC) {
                const int mc = M - m0 < MC ? M - m0 : MC;
                const float *ablk;
                if (Apk) {
                    ablk = Apk + (size_t)k0 * Mpad + (size_t)(row0 + m0) * kc;
                } else {
                    pack_a(MR, mc, kc, A + (ptrdiff_t)m0 * a_rs + (ptrdiff_t)k0 * a_cs, a_rs, a_cs, Ap);
                    ablk = Ap;
                }
                for (int np = 0; np * NR < nc; np++) {
                    const int nr = nc - np * NR < NR ? nc - np * NR : NR;
                    if (nr <= sn_max) {   /* a few columns left: rows across the lanes, A's block from L2 */
                        const int pan = (mc + MR - 1) / MR;
                        sn_start(sn_acc, pan, MR, mc, nr, in ? in + (ptrdiff_t)m0 * ld_in + np * NR : NULL, ld_in,
                                 bi ? bi + m0 : NULL);
                        sn_block(level, nr, pan, kc, ablk, B + (ptrdiff_t)k0 * b_rs + (ptrdiff_t)(n0 + np * NR) * b_cs,
                                 b_rs, b_cs, sn_acc);
                        sn_store(sn_acc, pan, MR, mc, nr, C + (ptrdiff_t)m0 * ldc + n0 + np * NR, ldc);
                        continue;
                    }
                    const int w = nr == NR ? NR : last_panel_width(NR, nc);   /* packed width of this panel */
                    const ukr_fn kern = w == NR ? ukr : ukr_half;
                    const float *bp = Bp + (size_t)np * kc * NR;
                    for (int mt = 0; mt < mc; mt += MR) {
                        const int mr = mc - mt < MR ? mc - mt : MR, m = m0 + mt;
                        const float *ap = ablk + (size_t)mt * kc;
                        float *c = C + (ptrdiff_t)m * ldc + n0 + np * NR;
                        const float *ci = in ? in + (ptrdiff_t)m * ld_in + np * NR : NULL;
                        const float *cb = bi ? bi + m : NULL;
                        if (mr == MR && nr == w) {
                            if (ci && mt + MR < mc)   /* the next tile's chain starts, while this one computes */
                                for (int i = 0; i < MR; i++) {
                                    const char *p = (const char *)(ci + (ptrdiff_t)(MR + i) * ld_in);
                                    _mm_prefetch(p, _MM_HINT_T0);
                                    _mm_prefetch(p + sizeof(float) * (size_t)w - 1, _MM_HINT_T0);
                                }
                            kern(kc, ap, bp, c, ldc, ci, ld_in, cb);
                            continue;
                        }
                        /* edge: the same kernel on a zero-padded copy whose values are the chain starts */
                        memset(tile, 0, sizeof(float) * (size_t)MR * w);
                        for (int i = 0; i < mr; i++)
                            for (int j = 0; j < nr; j++)
                                tile[i * w + j] = chain_start(ci ? ci + (ptrdiff_t)i * ld_in + j : NULL, cb ? cb + i : NULL);
                        kern(kc, ap, bp, tile, w, tile, w, NULL);
                        for (int i = 0; i < mr; i++) memcpy(c + (ptrdiff_t)i * ldc, tile + i * w, sizeof(float) * (size_t)nr);
                    }
                }
            }
        }
    }
}

void srt_cpu_gemm_fixed(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *B,
                        ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init, ptrdiff_t ldi,
                        const float *bias, float *ws) {
    if (M <= 0 || N <= 0) return;
    int has_fma = 0, level = cpu_level(&has_fma);
    if (K <= 0 || level == 0) {
        gemm_portable(M, N, K > 0 ? K : 0, A, a_rs, a_cs, B, b_rs, b_cs, C, ldc, init, ldi, bias, has_fma);
        return;
    }
    gemm_blocked(level, M, N, K, A, a_rs, a_cs, NULL, 0, 0, B, b_rs, b_cs, C, ldc, init, ldi, bias, ws);
}

void srt_cpu_gemm_fixed_packed(const float *Apk, int M_all, int K, int m0, int M, int N, const float *B,
                               ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t ldc, const float *init,
                               ptrdiff_t ldi, const float *bias, float *ws) {
    if (M <= 0 || N <= 0) return;
    int has_fma = 0, level = cpu_level(&has_fma);
    if (K <= 0 || level == 0) {
        gemm_portable(M, N, K > 0 ? K : 0, Apk + (size_t)m0 * K, K, 1, B, b_rs, b_cs, C, ldc, init, ldi, bias, has_fma);
        return;
    }
    int MR = level_mr(level), Mpad = (M_all + MR - 1) / MR * MR;
    if (N <= SMALL_N_MAX && !(M <= ROW_KERNEL_MAX_M && b_cs == 1)) {
        gemm_packed_small_n(level, Apk, Mpad, m0, M, N, K, B, b_rs, b_cs, C, ldc, init, ldi, bias, ws);
        return;
    }
    gemm_blocked(level, M, N, K, NULL, 0, 0, Apk, Mpad, m0, B, b_rs, b_cs, C, ldc, init, ldi, bias, ws);
}
