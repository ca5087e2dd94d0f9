/* test_cpu_gemm_fixed_small_n.c: the fixed-order GEMM (host/cpu/cpu_gemm_fixed.h) on few columns: the packed-A
 * kernel for N <= 8 (a streaming push's window: rows across the vector lanes) and the narrow last panel of wider
 * products (N = 9, 33, 37: the same kernel on the L2-resident block). On odd shapes (M, K in 1, 7, 33, 1025;
 * packed rows starting at a multiple of SRT_GEMM_FIXED_ROW_ALIGN inside a larger matrix; B row- or column-major;
 * chains started from init (also aliasing C) and/or bias) every element must
 *   - equal the contract's chain bit for bit: acc = init + bias; acc = fmaf(A(m,k), B(k,n), acc) for k in order
 *     (what makes a streamed decode equal the offline one whatever the window), and
 *   - agree with the cpu-ref backend's gemm (double accumulation) within 1e-5 + 1e-4 |ref|.
 * At each ISA level this machine has (AVX-512, AVX2 forced, portable). */
#include "backend.h"
#include "cpu/cpu_gemm_fixed.h"
#include "testutil.h"

static srt_backend g_ref;

/* The contract's chain, element by element (fmaf: the same bits as the vector kernels' FMA). */
static void chain_ref(int M, int N, int K, const float *A, int lda, const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs,
                      const float *init, int ldi, const float *bias, float *C, int ldc) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = init ? (bias ? init[(size_t)m * ldi + n] + bias[m] : init[(size_t)m * ldi + n])
                             : (bias ? bias[m] : 0.0f);
            for (int k = 0; k < K; k++) acc = fmaf(A[(size_t)m * lda + k], B[k * b_rs + n * b_cs], acc);
            C[(size_t)m * ldc + n] = acc;
        }
}

/* cpu-ref: C (M, N) = A (M, K) @ B (K, N) (+ init + bias added here in double). */
static void ref_gemm(int M, int N, int K, const float *A, const float *B, int b_colmajor, const float *init,
                     const float *bias, double *C) {
    float *c = malloc(sizeof(float) * (size_t)M * N);
    srt_gemm_args g = {.M = M, .N = N, .K = K, .trans_b = b_colmajor, .alpha = 1.0f, .A = A, .lda = K, .B = B,
                       .ldb = b_colmajor ? K : N, .b_dtype = SRT_F32, .C = c, .ldc = N};
    TEST_CHECK(g_ref.ops->gemm(g_ref.ctx, &g) == SRT_OK, "cpu-ref gemm M %d N %d K %d", M, N, K);
    for (size_t i = 0; i < (size_t)M * N; i++)
        C[i] = (double)c[i] + (init ? init[i] : 0.0) + (bias ? bias[i / N] : 0.0);
    free(c);
}

/* One case: rows [m0, m0 + M) of an (m0 + M + 5, K) weight matrix, packed once, times B (K, N). */
static void run_case(int level, int M, int N, int K, int b_colmajor, int with_init, int alias, int with_bias,
                     uint64_t seed) {
    const int m0 = M > 12 ? 2 * SRT_GEMM_FIXED_ROW_ALIGN : 0, M_all = m0 + M + 5;
    uint64_t s = seed;
    float *W = malloc(sizeof(float) * (size_t)M_all * K), *B = malloc(sizeof(float) * (size_t)K * N);
    float *init = malloc(sizeof(float) * (size_t)M * N), *bias = malloc(sizeof(float) * (size_t)M);
    float *C = malloc(sizeof(float) * (size_t)M * N), *want = malloc(sizeof(float) * (size_t)M * N);
    double *ref = malloc(sizeof(double) * (size_t)M * N);
    const float scale = 1.0f / sqrtf((float)K);
    for (size_t i = 0; i < (size_t)M_all * K; i++) W[i] = test_rand_uniform(&s, -scale, scale);
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = test_rand_uniform(&s, -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)M * N; i++) init[i] = test_rand_uniform(&s, -1.0f, 1.0f);
    for (int i = 0; i < M; i++) bias[i] = test_rand_uniform(&s, -0.5f, 0.5f);
    const float *A = W + (size_t)m0 * K;
    const ptrdiff_t b_rs = b_colmajor ? 1 : N, b_cs = b_colmajor ? K : 1;
    const float *in = with_init ? init : NULL, *bi = with_bias ? bias : NULL;
    chain_ref(M, N, K, A, K, B, b_rs, b_cs, in, N, bi, want, N);
    ref_gemm(M, N, K, A, B, b_colmajor, in, bi, ref);

    srt_cpu_gemm_fixed_force_isa(level);
    float *Apk = NULL;
    if (posix_memalign((void **)&Apk, 64, sizeof(float) * srt_cpu_gemm_fixed_a_floats(M_all, K))) Apk = NULL;
    float *ws = srt_cpu_gemm_fixed_ws_alloc();
    TEST_CHECK(Apk && ws, "out of memory");
    if (Apk && ws) {
        for (int part = 0; part < srt_cpu_gemm_fixed_a_parts(M_all, K); part++)
            srt_cpu_gemm_fixed_pack_a(Apk, M_all, K, W, K, 1, part);
        for (int packed = 0; packed < 2; packed++) {
            for (size_t i = 0; i < (size_t)M * N; i++) C[i] = alias ? init[i] : NAN;
            const float *ci = with_init ? (alias ? C : init) : NULL;
            if (packed)
                srt_cpu_gemm_fixed_packed(Apk, M_all, K, m0, M, N, B, b_rs, b_cs, C, N, ci, N, bi, ws);
            else
                srt_cpu_gemm_fixed(M, N, K, A, K, 1, B, b_rs, b_cs, C, N, ci, N, bi, ws);
            size_t bad = (size_t)-1, far = (size_t)-1;
            for (size_t i = 0; i < (size_t)M * N; i++) {
                if (memcmp(&C[i], &want[i], sizeof(float)) && bad == (size_t)-1) bad = i;
                if (!(fabs(C[i] - ref[i]) <= 1e-5 + 1e-4 * fabs(ref[i])) && far == (size_t)-1) far = i;
            }
            const char *what = packed ? "packed" : "unpacked";
            TEST_CHECK(bad == (size_t)-1, "level %d %s M %d N %d K %d (b %s, init %d alias %d bias %d): element "
                       "(%zu, %zu) = %.9g, the chain gives %.9g", level, what, M, N, K, b_colmajor ? "col" : "row",
                       with_init, alias, with_bias, bad / N, bad % N, bad == (size_t)-1 ? 0.0 : C[bad],
                       bad == (size_t)-1 ? 0.0 : want[bad]);
            TEST_CHECK(far == (size_t)-1, "level %d %s M %d N %d K %d: element (%zu, %zu) = %.9g, cpu-ref %.9g",
                       level, what, M, N, K, far / N, far % N, far == (size_t)-1 ? 0.0 : C[far],
                       far == (size_t)-1 ? 0.0 : ref[far]);
        }
    }
    srt_cpu_gemm_fixed_force_isa(0);
    free(Apk); free(ws); free(W); free(B); free(init); free(bias); free(C); free(want); free(ref);
}

int main(void) {
    if (srt_backend_create("cpu-ref", 1, &g_ref) != SRT_OK) {
        fprintf(stderr, "cpu-ref: %s\n", srt_last_error());
        return 1;
    }
    static const int dims[] = {1, 7, 33, 1025};
    static const int ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 37};
    uint64_t seed = 1;
    /* levels: 0 = run-time dispatch (AVX-512 here when the CPU has it), 1 = AVX2, 2 = portable */
    for (int level = 0; level < 3; level++)
        for (int mi = 0; mi < 4; mi++)
            for (int ki = 0; ki < 4; ki++)
                for (int ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++) {
                    int M = dims[mi], K = dims[ki], N = ns[ni];
                    if ((int64_t)M * K * N > 3000000 && N != 5 && N != 37) continue;   /* keep it seconds */
                    int v = (int)(seed % 4);
                    run_case(level, M, N, K, v & 1, v != 0, v == 3, v >= 2, seed++);
                }
    /* every start variant on one shape per level */
    for (int level = 0; level < 3; level++)
        for (int v = 0; v < 8; v++) run_case(level, 33, 5, 33, v & 1, (v >> 1) & 1, v == 3 || v == 7, v >= 4, seed++);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
