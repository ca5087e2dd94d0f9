/* test_cudasim_mma.cpp: the simulator's tensor-core instructions (tests/cudasim/sim_mma.h, used through
 * cuda/mma.cuh) against a host matrix product, with fragments loaded and stored by the PTX layouts that header
 * documents: one warp computes D = A B + C for m16n8k8 tf32 and m16n8k16 bf16, on small integers (exact in both
 * formats, so every element must match exactly) and in the three thread orders; then on random values already in
 * the input format, bit for bit against the documented sum (fp32, k order, starting from C); then the roundings: tf32 round to
 * nearest with ties away (cvt.rna), bf16 round to nearest even, on hand-picked ties. */
#include "cuda/mma.cuh"
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <vector>

/* A (16, K) row-major, B (K, 8) row-major, C / D (16, 8) row-major; K = 8 (tf32) or 16 (bf16) */
template <bool BF16> __global__ void mma_tile(const float *A, const float *B, const float *C, float *D) {
    const int K = BF16 ? 16 : 8;
    int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t a[4], b[2];
    if (BF16) {
        a[0] = srt_bf16x2_bits(A[g * K + 2 * t], A[g * K + 2 * t + 1]);
        a[1] = srt_bf16x2_bits(A[(g + 8) * K + 2 * t], A[(g + 8) * K + 2 * t + 1]);
        a[2] = srt_bf16x2_bits(A[g * K + 2 * t + 8], A[g * K + 2 * t + 9]);
        a[3] = srt_bf16x2_bits(A[(g + 8) * K + 2 * t + 8], A[(g + 8) * K + 2 * t + 9]);
        b[0] = srt_bf16x2_bits(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]);
        b[1] = srt_bf16x2_bits(B[(2 * t + 8) * 8 + g], B[(2 * t + 9) * 8 + g]);
    } else {
        a[0] = srt_tf32_bits(A[g * K + t]);
        a[1] = srt_tf32_bits(A[(g + 8) * K + t]);
        a[2] = srt_tf32_bits(A[g * K + t + 4]);
        a[3] = srt_tf32_bits(A[(g + 8) * K + t + 4]);
        b[0] = srt_tf32_bits(B[t * 8 + g]);
        b[1] = srt_tf32_bits(B[(t + 4) * 8 + g]);
    }
    float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
    if (BF16) srt_mma_bf16(c, a, b);
    else srt_mma_tf32(c, a, b);
    D[g * 8 + 2 * t] = c[0];
    D[g * 8 + 2 * t + 1] = c[1];
    D[(g + 8) * 8 + 2 * t] = c[2];
    D[(g + 8) * 8 + 2 * t + 1] = c[3];
}

/* misuse the simulator must report: half the warp runs the tf32 instruction and half the bf16 one (mixed), or the
 * block is a partial warp (16 threads) */
__global__ void mma_misuse(float *D, int mixed) {
    uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
    float c[4] = {0, 0, 0, 0};
    if (mixed && threadIdx.x >= 16) srt_mma_bf16(c, a, b);
    else srt_mma_tf32(c, a, b);
    D[threadIdx.x] = c[0];
}

static void check_misuse() {
    float *dD;
    cudaMalloc((void **)&dD, 32 * 4);
    cudasim_set_quiet(1);
    const struct { int threads, mixed; const char *what; } cases[2] = {{32, 1, "tf32 and bf16 mma in one warp"},
                                                                       {16, 0, "mma in a 16-thread warp"}};
    for (const auto &c : cases) {
        cudasim_clear_error();
        LAUNCH(mma_misuse, 1, c.threads, 0, (cudaStream_t)0, dD, c.mixed);
        cudaDeviceSynchronize();
        TEST_CHECK(cudasim_error_count() > 0, "%s: not reported", c.what);
        cudaGetLastError();
    }
    cudasim_clear_error();
    cudasim_set_quiet(0);
    cudaFree(dD);
}

static float f32_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
/* a value in [-2, 2) already in the input format (rounding it again is the identity) */
template <bool BF16> static float in_format(uint64_t *x) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    float v = (float)((double)(*x >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    return BF16 ? f32_of((uint32_t)sim_f32_to_bf16_rn(v) << 16) : f32_of(sim_cvt_rna_tf32(v));
}

/* random: values where the order of the sum matters; else small integers (exact in any order) */
template <bool BF16> static void check_mma(const char *label, bool random) {
    const int K = BF16 ? 16 : 8;
    std::vector<float> A(16 * K), B(K * 8), C(16 * 8), D(16 * 8, -1.0f);
    uint64_t seed = 12345;
    for (int i = 0; i < 16 * K; i++) A[i] = random ? in_format<BF16>(&seed) : (float)((i * 7 + 3) % 13 - 6);
    for (int i = 0; i < K * 8; i++) B[i] = random ? in_format<BF16>(&seed) : (float)((i * 5 + 1) % 11 - 5);
    for (int i = 0; i < 16 * 8; i++) C[i] = random ? in_format<false>(&seed) * 1.37f : (float)(i % 9) - 4.0f;
    float *dA, *dB, *dC, *dD;
    cudaMalloc((void **)&dA, A.size() * 4);
    cudaMalloc((void **)&dB, B.size() * 4);
    cudaMalloc((void **)&dC, C.size() * 4);
    cudaMalloc((void **)&dD, D.size() * 4);
    cudaMemcpy(dA, A.data(), A.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dB, B.data(), B.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dC, C.data(), C.size() * 4, cudaMemcpyHostToDevice);
    LAUNCH(mma_tile<BF16>, 1, 32, 0, (cudaStream_t)0, dA, dB, dC, dD);
    cudaMemcpy(D.data(), dD, D.size() * 4, cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++) {
            float want = C[m * 8 + n];
            for (int k = 0; k < K; k++) want += A[m * K + k] * B[k * 8 + n];
            if (D[m * 8 + n] != want && bad++ < 3)
                TEST_CHECK(0, "%s [%s order]: D[%d][%d] = %.9g, A B + C = %.9g", label, cudasim_order_name(cudasim_get_order()),
                           m, n, D[m * 8 + n], want);
        }
    TEST_CHECK(bad == 0, "%s: %d of 128 outputs wrong", label, bad);
    cudaFree(dA); cudaFree(dB); cudaFree(dC); cudaFree(dD);
}

int main(void) {
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 99);
        check_mma<false>("mma m16n8k8 tf32", false);
        check_mma<true>("mma m16n8k16 bf16", false);
        check_mma<false>("mma m16n8k8 tf32, random values", true);
        check_mma<true>("mma m16n8k16 bf16, random values", true);
    }
    TEST_CHECK(cudasim_error_count() == 0, "the simulator reported: %s", cudasim_last_error());
    check_misuse();
    /* tf32: 1 + 2^-11 (a tie between 1 and 1 + 2^-10) rounds away to 1 + 2^-10; 1 + 2^-12 rounds down to 1 */
    TEST_CHECK(srt_tf32_bits(f32_of(0x3f801000u)) == 0x3f802000u, "tf32 tie rounds away: %08x", srt_tf32_bits(f32_of(0x3f801000u)));
    TEST_CHECK(srt_tf32_bits(f32_of(0x3f800800u)) == 0x3f800000u, "tf32 below half rounds down");
    TEST_CHECK(srt_tf32_bits(-1.5f) == 0xbfc00000u, "tf32 exact value kept");
    /* bf16: 1 + 2^-8 (a tie between 1 and 1 + 2^-7) goes to even 1; 1 + 3*2^-8 goes to even 1 + 2^-6 */
    TEST_CHECK((srt_bf16x2_bits(f32_of(0x3f808000u), f32_of(0x3f818000u)) == (0x3f80u | (0x3f82u << 16))),
               "bf16 ties to even: %08x", srt_bf16x2_bits(f32_of(0x3f808000u), f32_of(0x3f818000u)));
    TEST_MAIN_END();
}
