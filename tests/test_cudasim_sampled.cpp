/* test_cudasim_sampled.cpp: the simulator's sampled mode (tests/cudasim/sample.cpp, used only by bench_gpu_model)
 * against full simulation on shapes small enough to run whole: the same launches, and every scaled counter
 * (bytes, sectors, footprint, shared passes, barriers, lane loads, local bytes, threads) within TOL of the full
 * run's, for
 *   - the decode GEMM (gemm_small_m_kernel, split-K over gridDim.y: sampled as whole groups) through the fused
 *     gate|up + SwiGLU linear, and the same kernel without split-K (many column tiles);
 *   - the dense conv as implicit GEMM (conv1d_igemm_kernel) and the depthwise conv (conv1d_depthwise_kernel);
 *   - decode attention at a real context (lm_attn_decode + its combine: whatever kernels the cuda backend runs);
 *   - a hand-written last-block-combine kernel (global atomics, not listed in sample.cpp): the launch must fall back
 *     to running every block, so its counters equal the full run's exactly and its result is right.
 * And a sampled run must leave nothing behind: a full run after it (split-K arrival counters back at zero) gives
 * the same result as the first full run. Built with the counters' instrumentation (CUDASIM_COUNT_FLAGS). */
#include "cuda/common.cuh"
extern "C" {
#include "backend.h"
#include "cuda/kernels.h"
#include "lm/lm_ops.h"
#include "weights/weights.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <cmath>
#include <string>
#include <vector>

/* Sampled counters may differ from the full run's by this fraction (+ SLACK units): sampling error of K = 8
 * blocks on grids of 64-512 blocks whose blocks do the same work except the edge tiles. */
static const double TOL = 0.03, SLACK = 16;
static const int K_SAMPLE = 8;

/* partials of 256 floats per block; the last block to arrive adds them (block order independent) */
__global__ void last_block_sum(const float *in, float *partial, unsigned *arrived, float *out) {
    __shared__ float s[256];
    __shared__ int last;
    s[threadIdx.x] = in[blockIdx.x * 256 + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = 0;
        for (int i = 0; i < 256; i++) t += s[i];
        partial[blockIdx.x] = t;
        last = atomicAdd(arrived, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        float t = 0;
        for (unsigned b = 0; b < gridDim.x; b++) t += partial[b];
        *out = t;
        *arrived = 0;
    }
}

static srt_backend g_cu;

static void *dev_upload(const std::vector<float> &h) {
    void *d = nullptr;
    TEST_CHECK(srt_backend_alloc_upload(&g_cu, h.data(), h.size() * 4, &d) == SRT_OK, "upload: %s", srt_last_error());
    return d;
}
static void *dev_bf16(size_t n, uint64_t seed) {
    std::vector<float> f(n);
    test_fill_uniform(f.data(), n, seed, -0.05f, 0.05f);
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; i++) h[i] = srt_f32_to_bf16(f[i]);
    void *d = nullptr;
    TEST_CHECK(srt_backend_alloc_upload(&g_cu, h.data(), n * 2, &d) == SRT_OK, "upload: %s", srt_last_error());
    return d;
}
static std::vector<float> rnd(size_t n, uint64_t seed) {
    std::vector<float> v(n);
    test_fill_uniform(v.data(), n, seed, -1.0f, 1.0f);
    return v;
}

/* Run `body` once whole and once sampled; compare launch by launch. */
template <class F> static void compare(const char *what, F body) {
    cudasim_set_sample_blocks(0);
    cudasim_counters_reset();
    body();
    g_cu.ops->sync(g_cu.ctx);
    std::vector<cudasim_launch_stats> full;
    for (size_t i = 0; i < cudasim_launch_stats_count(); i++) full.push_back(*cudasim_launch_stats_at(i));
    cudasim_set_sample_blocks(K_SAMPLE);
    cudasim_counters_reset();
    body();
    g_cu.ops->sync(g_cu.ctx);
    cudasim_set_sample_blocks(0);
    TEST_CHECK(cudasim_launch_stats_count() == full.size(), "%s: %zu launches sampled, %zu whole", what,
               cudasim_launch_stats_count(), full.size());
    int sampled = 0;
    double worst = 0;
    std::string worst_what = "-";
    for (size_t i = 0; i < full.size() && i < cudasim_launch_stats_count(); i++) {
        const cudasim_launch_stats &f = full[i], &s = *cudasim_launch_stats_at(i);
        TEST_CHECK(!strcmp(f.name, s.name), "%s: launch %zu is %s sampled, %s whole", what, i, s.name, f.name);
        if (f.is_gemm) continue;
        uint64_t grid = (uint64_t)f.grid[0] * f.grid[1] * f.grid[2];
        TEST_CHECK(f.blocks_run == grid, "%s: full run of %s ran %llu of %llu blocks", what, f.name,
                   (unsigned long long)f.blocks_run, (unsigned long long)grid);
        sampled += s.blocks_run < grid;
        const struct { const char *n; uint64_t a, b; } c[] = {
            {"gld_bytes", f.gld_bytes, s.gld_bytes}, {"gst_bytes", f.gst_bytes, s.gst_bytes},
            {"gld_requests", f.gld_requests, s.gld_requests}, {"gst_requests", f.gst_requests, s.gst_requests},
            {"gld_sectors", f.gld_sectors, s.gld_sectors}, {"gst_sectors", f.gst_sectors, s.gst_sectors},
            {"gld_unique", f.gld_unique, s.gld_unique}, {"gst_unique", f.gst_unique, s.gst_unique},
            {"sh_requests", f.sh_requests, s.sh_requests}, {"sh_wavefronts", f.sh_wavefronts, s.sh_wavefronts},
            {"local_bytes", f.local_bytes, s.local_bytes}, {"barriers", f.barriers, s.barriers},
            {"ld4_lanes", f.ld4_lanes, s.ld4_lanes}, {"threads", f.threads, s.threads},
            {"atomics", f.atomics, s.atomics}};
        for (const auto &x : c) {
            double dev = x.a ? fabs((double)x.b - (double)x.a) / (double)x.a : 0;
            if (dev > worst) { worst = dev; worst_what = std::string(f.name) + " " + x.n; }
            TEST_CHECK(fabs((double)x.b - (double)x.a) <= TOL * (double)x.a + SLACK,
                       "%s: %s (grid %llu, %llu blocks run): %s sampled %llu, whole %llu", what, f.name,
                       (unsigned long long)grid, (unsigned long long)s.blocks_run, x.n, (unsigned long long)x.b,
                       (unsigned long long)x.a);
        }
        TEST_CHECK(f.flops == s.flops, "%s: %s flops %.0f sampled, %.0f whole", what, f.name, s.flops, f.flops);
    }
    printf("%s: %zu launches, %d sampled; largest deviation %.2f%% (%s)\n", what, full.size(), sampled, 100 * worst,
           worst_what.c_str());
    TEST_CHECK(sampled > 0, "%s: no launch was sampled (grids too small for K = %d?)", what, K_SAMPLE);
    TEST_CHECK(cudasim_error_count() == 0, "%s: simulator: %s", what, cudasim_last_error());
}

int main(void) {
    /* 8-row decode GEMMs take gemm_small_m only with the small-M limit raised (default 4: above it, split bf16) */
    setenv("SNACRT_CUDA_SMALL_M_ROWS", "16", 1);
    cudasim_counters_enable(1);
    TEST_CHECK(srt_backend_create("cuda", 0, &g_cu) == SRT_OK, "cuda backend: %s", srt_last_error());

    /* decode GEMM, fused gate|up + SwiGLU: 8 rows, I 1024 (N 2048), K 1024: 64 column tiles x 2 K-splits */
    {
        const int rows = 8, inter = 1024, N = 2 * inter, K = 1024;
        float *x = (float *)dev_upload(rnd((size_t)rows * K, 1));
        void *w = dev_bf16((size_t)N * K, 2);
        float *y0 = (float *)dev_upload(std::vector<float>((size_t)rows * inter, 0.0f));
        float *y1 = (float *)dev_upload(std::vector<float>((size_t)rows * inter, 0.0f));   /* up (by-ops path) */
        srt_linear_fused_args a = {rows, N, K, SRT_LINEAR_SWIGLU, 0, 0, x, w, SRT_BF16, y0, y1, nullptr,
                                   nullptr, 0.0f, nullptr, nullptr};
        auto run = [&] { TEST_CHECK(srt_op_linear_fused(&g_cu, &a) == SRT_OK, "swiglu: %s", srt_last_error()); };
        compare("gemm_small_m split-K (swiglu)", run);
        /* nothing left behind: a whole run after the sampled one equals a whole run before it */
        std::vector<float> before((size_t)rows * inter), after((size_t)rows * inter);
        run();
        g_cu.ops->download(g_cu.ctx, before.data(), y0, before.size() * 4);
        cudasim_set_sample_blocks(K_SAMPLE);
        run();
        cudasim_set_sample_blocks(0);
        run();
        g_cu.ops->download(g_cu.ctx, after.data(), y0, after.size() * 4);
        TEST_CHECK(before == after, "gemm_small_m: a whole run after a sampled one differs (arrival counters left "
                                    "set?)");
    }
    /* decode GEMM without split-K: 4096 columns (128 tiles), K 512 */
    {
        const int M = 8, N = 4096, K = 512;
        srt_gemm_args g;
        memset(&g, 0, sizeof g);
        g.M = M; g.N = N; g.K = K; g.alpha = 1.0f; g.trans_b = 1; g.b_dtype = SRT_BF16;
        g.A = (const float *)dev_upload(rnd((size_t)M * K, 3)); g.lda = K;
        g.B = dev_bf16((size_t)N * K, 4); g.ldb = K;
        g.C = (float *)dev_upload(std::vector<float>((size_t)M * N, 0.0f)); g.ldc = N;
        srt_cuda_small_m_args sm;
        memset(&sm, 0, sizeof sm);
        sm.g = g;
        compare("gemm_small_m", [&] {
            TEST_CHECK(srt_cuda_gemm_small_m(&sm, 0) == SRT_OK, "gemm_small_m: %s", cudasim_last_error());
        });
    }
    /* convs: 1 item x 64 -> 64 channels x 4096 samples, kernel 7 (implicit GEMM, fp32: 64 time tiles) and
     * depthwise */
    {
        const int B = 1, C = 64, L = 4096, KD = 7;
        srt_conv1d_args d;
        memset(&d, 0, sizeof d);
        d.batch = B; d.in_ch = C; d.out_ch = C; d.in_len = L; d.out_len = L;
        d.kernel = KD; d.stride = 1; d.dilation = 1; d.padding = 3; d.groups = 1;
        d.x = (float *)dev_upload(rnd((size_t)B * C * L, 5));
        d.w = (float *)dev_upload(rnd((size_t)C * C * KD, 6));
        d.bias = (float *)dev_upload(rnd(C, 7));
        d.in_alpha = (float *)dev_upload(std::vector<float>(C, 1.0f));
        d.y = (float *)dev_upload(std::vector<float>((size_t)B * C * L, 0.0f));
        TEST_CHECK(srt_cuda_conv1d_igemm_fits(&d), "igemm does not fit");
        compare("conv1d_igemm", [&] {
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, 0, nullptr, 0) == SRT_OK, "igemm: %s", cudasim_last_error());
        });
        srt_conv1d_args dw = d;
        dw.groups = C; dw.dilation = 3; dw.padding = 9; dw.in_alpha = nullptr;
        dw.w = (float *)dev_upload(rnd((size_t)C * KD, 8));
        TEST_CHECK(srt_cuda_conv1d_depthwise_fits(&dw), "depthwise does not fit");
        compare("conv1d_depthwise", [&] {
            TEST_CHECK(srt_cuda_conv1d_depthwise(&dw, nullptr, 0) == SRT_OK, "depthwise: %s", cudasim_last_error());
        });
    }
    /* decode attention, Orpheus-3B heads (24 / 8 KV, head_dim 128), batch 8, context 300, bf16 KV, KV blocks of 16
     * interleaved over the cache */
    {
        const int B = 8, H = 24, KVH = 8, D = 128, BS = 16, ctx = 300, nb = (ctx + BS - 1) / BS;
        std::vector<int32_t> table((size_t)B * nb), qs(B), nq(B, 1), cl(B, ctx);
        for (int s = 0; s < B; s++) {
            qs[s] = s;
            for (int b = 0; b < nb; b++) table[(size_t)s * nb + b] = b * B + s;
        }
        void *kc = nullptr, *vc = nullptr, *dt = nullptr, *dqs = nullptr, *dnq = nullptr, *dcl = nullptr;
        size_t cache = (size_t)2 * B * nb * BS * KVH * D;
        srt_backend_alloc_zero(&g_cu, cache, &kc);
        srt_backend_alloc_zero(&g_cu, cache, &vc);
        srt_backend_alloc_upload(&g_cu, table.data(), table.size() * 4, &dt);
        srt_backend_alloc_upload(&g_cu, qs.data(), B * 4, &dqs);
        srt_backend_alloc_upload(&g_cu, nq.data(), B * 4, &dnq);
        srt_backend_alloc_upload(&g_cu, cl.data(), B * 4, &dcl);
        void *q = dev_upload(rnd((size_t)B * H * D, 9));
        void *out = dev_upload(std::vector<float>((size_t)B * H * D, 0.0f));
        srt_paged_attn_args at = {B, H, KVH, D, BS, nb, (float *)q, kc, vc, (int32_t *)dt, (int32_t *)dqs,
                                  (int32_t *)dnq, (int32_t *)dcl, (float *)out, SRT_BF16, nullptr, nullptr};
        srt_attn_host_plan plan = {nq.data(), cl.data(), ctx};
        compare("paged attention decode", [&] {
            TEST_CHECK(srt_op_paged_attention(&g_cu, &at, &plan) == SRT_OK, "attention: %s", srt_last_error());
        });
    }
    /* global atomics in a kernel sample.cpp does not list: the launch runs whole, exactly */
    {
        const int blocks = 64;
        std::vector<float> ones((size_t)blocks * 256, 1.0f);
        float *in = (float *)dev_upload(ones), *partial = (float *)dev_upload(std::vector<float>(blocks, 0.0f));
        float *out = (float *)dev_upload(std::vector<float>(1, 0.0f));
        unsigned *arrived = nullptr;
        srt_backend_alloc_zero(&g_cu, 4, (void **)&arrived);
        cudasim_set_sample_blocks(K_SAMPLE);
        cudasim_counters_reset();
        LAUNCH(last_block_sum, blocks, 256, 0, 0, in, partial, arrived, out);
        cudasim_set_sample_blocks(0);
        float sum = 0;
        g_cu.ops->download(g_cu.ctx, &sum, out, 4);
        const cudasim_launch_stats *s = cudasim_launch_stats_at(0);
        TEST_CHECK(s && s->blocks_run == (uint64_t)blocks && s->atomics == (uint64_t)blocks,
                   "last-block combine: %llu blocks run, %llu atomics (expected %d, every block)",
                   s ? (unsigned long long)s->blocks_run : 0ull, s ? (unsigned long long)s->atomics : 0ull, blocks);
        TEST_CHECK(sum == (float)(blocks * 256), "last-block combine in sampled mode: sum %g, expected %d", sum,
                   blocks * 256);
    }
    srt_backend_destroy(&g_cu);
    TEST_MAIN_END();
}
