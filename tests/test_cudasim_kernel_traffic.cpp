/* test_cudasim_kernel_traffic.cpp: our CUDA kernels held to what their comments promise about memory traffic,
 * measured by the simulator's counters (tests/cudasim/counters.cpp), so that a regression fails here and not on a
 * GPU months later:
 *   conv1d_depthwise_kernel (conv1d.cuh)   "the input span it needs is loaded once": the window in 16-byte loads,
 *                                           taps and bias once per block, each input and output sector read /
 *                                           written once per launch, 16-byte stores, no shared bank conflicts;
 *   gemm_small_m_kernel (gemm_small_m.cuh)  "2 bytes of HBM per weight, whatever M; activations staged once per
 *                                           block": the footprint is weights + activations, and all load sectors
 *                                           are the weights once per 8-row pass (passes after the first hit L2)
 *                                           plus the activations once per column tile;
 *   conv1d_igemm_kernel (conv_igemm.cuh)    "no im2col buffer, bias and residual in the epilogue": one launch writes
 *                                           exactly the output, each output sector once in 64-byte runs; the
 *                                           input's and weights' read footprint is the tensors (nothing
 *                                           staged); shared tiles without bank conflicts; its FLOPs noted exactly;
 *                                           the tf32 / bf16 tensor-core variants likewise (the tile staged in
 *                                           shared memory: each output sector stored once), with the fragment
 *                                           reads conflict-free (<= 1.5 passes per shared instruction, the W-tile
 *                                           stores included);
 *                                           Strided (a SNAC encoder downsampling conv): "each input channel's
 *                                           window is loaded once per step": the input is read at most ~1.3x
 *                                           per output-channel tile (per tap, 16x, before), the weights once
 *                                           per column tile and item (fp32); the tensor-core convs
 *                                           (conv1d_igemm_*_cols_kernel) put 2 column tiles of the batch in a
 *                                           block: the weights once per 2 tiles, also where an item is shorter
 *                                           than a tile (8 items of 24 frames: 4 blocks);
 *   convt1d_igemm_kernel (conv_igemm.cuh)   "a block's tile is contiguous output positions, written as 16-byte
 *                                           stores": each output sector written once (+ one per tile edge), in
 *                                           16-byte stores, in all three precisions; "W tiles fetched as
 *                                           contiguous runs": load sectors are the weights once per column tile
 *                                           and item (1 of 8 bytes of a sector used, before) + the input once per
 *                                           tap and row tile;
 *   convt1d_span_bf16_kernel (convt1d_span.cuh)  "each weight tile staged in shared memory serves every item the
 *                                           tile covers": load sectors are the weights once per column tile of
 *                                           the whole batch + the input once per row tile; each output sector
 *                                           stored once; shared accesses conflict-free. */
extern "C" {
#include "backend.h"
#include "cuda/kernels.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <vector>

static const cudasim_launch_stats *find_last(const char *name) {
    for (size_t i = cudasim_launch_stats_count(); i-- > 0;)
        if (!strcmp(cudasim_launch_stats_at(i)->name, name)) return cudasim_launch_stats_at(i);
    return nullptr;
}

static float *dev_floats(size_t n, float v) {
    float *d = nullptr;
    cudaMalloc((void **)&d, n * sizeof(float));
    std::vector<float> h(n, v);
    cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}

/* A dense conv (dilation 1, one group, Snake on the input) of batch items, ci -> co channels, in_len -> out_len
 * samples, its tensors on the device in this order: x 0.5, w 0.25, bias 0, alphas 1, (residual 1 when asked), y 0. */
static srt_conv1d_args dense_conv(int batch, int ci, int co, int in_len, int out_len, int kernel, int stride,
                                  int padding, bool residual) {
    srt_conv1d_args d;
    memset(&d, 0, sizeof d);
    d.batch = batch; d.in_ch = ci; d.out_ch = co; d.in_len = in_len; d.out_len = out_len;
    d.kernel = kernel; d.stride = stride; d.dilation = 1; d.padding = padding; d.groups = 1;
    d.x = dev_floats((size_t)batch * ci * in_len, 0.5f);
    d.w = dev_floats((size_t)co * ci * kernel, 0.25f);
    d.bias = dev_floats(co, 0.0f);
    d.in_alpha = dev_floats(ci, 1.0f);
    if (residual) d.residual = dev_floats((size_t)batch * co * out_len, 1.0f);
    d.y = dev_floats((size_t)batch * co * out_len, 0.0f);
    return d;
}

/* A transposed conv (one group, Snake on the input) as dense_conv: x 0.5, w 0.25, bias 0, alphas 1, y 0. */
static srt_convt1d_args dense_convt(int batch, int ci, int co, int in_len, int out_len, int kernel, int stride,
                                   int padding) {
    srt_convt1d_args t;
    memset(&t, 0, sizeof t);
    t.batch = batch; t.in_ch = ci; t.out_ch = co; t.in_len = in_len; t.out_len = out_len;
    t.kernel = kernel; t.stride = stride; t.padding = padding; t.groups = 1;
    t.x = dev_floats((size_t)batch * ci * in_len, 0.5f);
    t.w = dev_floats((size_t)ci * co * kernel, 0.25f);
    t.bias = dev_floats(co, 0.0f);
    t.in_alpha = dev_floats(ci, 1.0f);
    t.y = dev_floats((size_t)batch * co * out_len, 0.0f);
    return t;
}

int main(void) {
    cudasim_counters_enable(1);
    cudasim_counters_reset();

    /* depthwise conv: 2 items x 64 channels x 1024 samples, kernel 7, dilation 3 (a SNAC residual unit) */
    const int B = 2, C = 64, L = 1024, K = 7;
    srt_conv1d_args a;
    memset(&a, 0, sizeof a);
    a.batch = B; a.in_ch = C; a.out_ch = C; a.in_len = L; a.out_len = L;
    a.kernel = K; a.stride = 1; a.dilation = 3; a.padding = 9; a.groups = C;
    a.x = dev_floats((size_t)B * C * L, 0.5f);
    a.w = dev_floats((size_t)C * K, 0.25f);
    a.bias = dev_floats(C, 0.0f);
    a.y = dev_floats((size_t)B * C * L, 0.0f);
    TEST_CHECK(srt_cuda_conv1d_depthwise_fits(&a), "depthwise does not fit");
    TEST_CHECK(srt_cuda_conv1d_depthwise(&a, nullptr, 0) == SRT_OK, "depthwise failed: %s", cudasim_last_error());
    const cudasim_launch_stats *s = find_last("conv1d_depthwise_kernel");
    TEST_CHECK(s != nullptr, "no conv1d_depthwise_kernel launch recorded");
    if (s) {
        double in_bytes = (double)B * C * L * 4, out_bytes = in_bytes, w_bytes = (double)C * K * 4 + C * 4;
        /* per block (1024 outputs; rows 16-byte aligned, so one tile per row does work and the second exits): the
         * window of (span + 6) / 4 quads in 16-byte loads (16 per sector pair: (span + 6) / 8 sectors), the K taps
         * in one warp load and the bias in another (1-2 sectors each); +10%: the taps (lanes 0..6), the bias (lane
         * 255) and the edge quads are divergent loads that the k-th access rule (tests/cudasim/cudasim_api.h) groups
         * with other lanes' window loads, splitting a few 16-byte warp loads in two */
        int span = 1023 * a.stride + (K - 1) * a.dilation + 1, blocks = ((L + 1023) / 1024) * C * B;
        double bound = 1.1 * (double)blocks * ((span + 6) / 8 + 2 + 2);
        TEST_CHECK((double)s->gld_sectors <= bound, "depthwise: %llu load sectors > %.0f (16-byte window bound)",
                   (unsigned long long)s->gld_sectors, bound);
        TEST_CHECK(s->gld_requests <= (uint64_t)blocks * ((span + 6) / 4 / 32 + 1 + 2),
                   "depthwise: %llu load requests for %d blocks (window not in 16-byte loads?)",
                   (unsigned long long)s->gld_requests, blocks);
        TEST_CHECK((double)s->gld_unique * 32 <= 1.02 * (in_bytes + w_bytes) + 64 * 32,
                   "depthwise: read footprint %.0f bytes for %.0f bytes of tensors", (double)s->gld_unique * 32,
                   in_bytes + w_bytes);
        TEST_CHECK(s->gst_sectors == s->gst_unique && (double)s->gst_unique * 32 == out_bytes &&
                   s->gst_sectors == 16 * s->gst_requests,
                   "depthwise stores (16-byte, each sector once): %llu sectors, %llu unique, %llu requests",
                   (unsigned long long)s->gst_sectors, (unsigned long long)s->gst_unique,
                   (unsigned long long)s->gst_requests);
        TEST_CHECK(s->sh_wavefronts == s->sh_requests || s->sh_wavefronts <= s->sh_requests * 11 / 10,
                   "depthwise: shared bank conflicts: %llu passes for %llu requests",
                   (unsigned long long)s->sh_wavefronts, (unsigned long long)s->sh_requests);
    }

    /* dense conv as implicit GEMM: 2 items x 64 -> 64 channels x 1024 samples, kernel 7, Snake on the input */
    {
        const int CI = 64, CO = 64, KD = 7;
        srt_conv1d_args d = dense_conv(B, CI, CO, L, L, KD, 1, 3, false);
        const char *names[3] = {"conv1d_igemm_kernel", "conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel"};
        const int units[3] = {0, 1, 2};
        for (int prec = 0; prec < 3; prec++) {
            size_t before = cudasim_launch_stats_count();
            TEST_CHECK(srt_cuda_conv1d_igemm_fits(&d), "igemm does not fit");
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, prec, nullptr, 0) == SRT_OK, "igemm failed: %s", cudasim_last_error());
            TEST_CHECK(cudasim_launch_stats_count() == before + 1, "%s: %zu launches for one dense conv", names[prec],
                       cudasim_launch_stats_count() - before);
            const cudasim_launch_stats *q = find_last(names[prec]);
            TEST_CHECK(q != nullptr, "no %s launch recorded", names[prec]);
            if (!q) continue;
            double out_bytes = (double)B * CO * L * 4;
            double in_bytes = (double)B * CI * L * 4 + (double)CO * CI * KD * 4 + CO * 4 + CI * 4;
            /* fp32: 64-byte runs, each sector once; mma: the tile staged in shared memory and stored as 256-byte
             * rows, each sector once (a lane's c0/c1 pair stored directly wrote each sector twice) */
            TEST_CHECK((double)q->gst_unique * 32 == out_bytes && q->gst_sectors == q->gst_unique,
                       "%s stores: %llu sectors, %llu unique for %.0f output bytes", names[prec],
                       (unsigned long long)q->gst_sectors, (unsigned long long)q->gst_unique, out_bytes);
            TEST_CHECK((double)q->gld_unique * 32 <= in_bytes + 64 * 32, "%s: read footprint %.0f bytes for %.0f",
                       names[prec], (double)q->gld_unique * 32, in_bytes);
            /* fp32: per reduction row a 16-byte W read (a broadcast: 1 pass) and a 16-byte X read (256 bytes per
             * warp: 2 passes, no conflict), per step 4 W stores at 2 passes (pitch 68) and 4 X stores at 1: 60
             * passes for 40 requests; mma: fragment reads */
            const double conflict = 1.5;
            TEST_CHECK(q->sh_wavefronts <= q->sh_requests * conflict, "%s: shared: %llu passes for %llu requests",
                       names[prec], (unsigned long long)q->sh_wavefronts, (unsigned long long)q->sh_requests);
            TEST_CHECK(q->flops == 2.0 * B * CO * L * CI * KD && q->unit == units[prec], "%s: flops %.0f unit %d",
                       names[prec], q->flops, q->unit);
        }
    }

    /* strided dense conv (a SNAC encoder downsampling conv): 2 items x 64 -> 128 channels, 1024 -> 128 samples,
     * stride 8, kernel 16, padding 4, Snake on the input. Per block (64 channels x 64 positions) and step (one
     * input channel: 16 taps), the 32-byte aligned input window of 524 floats is read once (<= 66 sectors, the
     * alpha once): <= 1.3x the input per output-channel tile; the weights once per column tile and item. One load
     * per tap read a sector per column: 16x the input per tile. */
    {
        const int CI = 64, CO = 128, LI = 1024, S = 8, KD = 16, LO = 128;
        srt_conv1d_args d = dense_conv(B, CI, CO, LI, LO, KD, S, 4, false);
        const char *names[3] = {"conv1d_igemm_kernel", "conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel"};
        for (int prec = 0; prec < 3; prec++) {
            TEST_CHECK(srt_cuda_conv1d_igemm_fits(&d), "strided igemm does not fit");
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, prec, nullptr, 0) == SRT_OK, "strided igemm failed: %s",
                       cudasim_last_error());
            const cudasim_launch_stats *q = find_last(names[prec]);
            TEST_CHECK(q != nullptr, "no %s launch recorded", names[prec]);
            if (!q) continue;
            double x_bytes = (double)B * CI * LI * 4, w_bytes = (double)CO * CI * KD * 4;
            /* the tensor-core kernels: the weights once per 2 column tiles of the batch */
            double row_tiles = CO / 64, col_tiles = (LO + 63) / 64 * (prec ? 0.5 : 1.0);
            double bound = 1.3 * row_tiles * x_bytes + col_tiles * B * w_bytes + 64 * 32;
            TEST_CHECK((double)q->gld_sectors * 32 <= bound,
                       "%s: %.0f bytes of load sectors for %.0f input bytes x %.0f channel tiles + %.0f weight "
                       "bytes x %.0f column tiles x %d items (bound %.0f)", names[prec], (double)q->gld_sectors * 32,
                       x_bytes, row_tiles, w_bytes, col_tiles, B, bound);
        }
    }

    /* transposed conv as implicit GEMM: 2 items x 64 -> 32 channels, 128 -> 1024 samples, stride 8, kernel 16,
     * padding 4 (a SNAC decoder block): a block covers all 8 phases of 64/8 channels, so each output sector is
     * written once, in 16-byte stores, except the one sector a tile shares with the next (its origin 8*m0 - 4 is
     * not sector-aligned): <= 1.1 x the unique sectors (one block per phase wrote each sector 8 times) */
    {
        const int CI = 64, CO = 32, LI = 128, S = 8, KT = 16, LO = 1024;
        srt_convt1d_args t = dense_convt(B, CI, CO, LI, LO, KT, S, 4);
        const char *names[3] = {"convt1d_igemm_kernel", "convt1d_igemm_tf32_kernel", "convt1d_igemm_bf16_kernel"};
        for (int prec = 0; prec < 3; prec++) {
            TEST_CHECK(srt_cuda_convt1d_igemm_fits(&t), "transposed igemm does not fit");
            TEST_CHECK(srt_cuda_convt1d_igemm(&t, nullptr, prec, nullptr, 0) == SRT_OK, "transposed igemm failed: %s",
                       cudasim_last_error());
            const cudasim_launch_stats *q = find_last(names[prec]);
            TEST_CHECK(q != nullptr, "no %s launch recorded", names[prec]);
            if (!q) continue;
            double out_bytes = (double)B * CO * LO * 4;
            /* loads: each block reads its channels' weights (all input channels and taps) once, in 128-byte runs,
             * and the input once per tap (2) per row tile (+ the Snake alphas, 1 sector per 4, and the sector a
             * window that is not 32-byte aligned adds) */
            double x_bytes = (double)B * CI * LI * 4, w_bytes = (double)CI * CO * KT * 4;
            double row_tiles = CO * S / 64, col_tiles = ((LO - 1 + 4) / S + 1 + 63) / 64, taps = KT / S;
            double bound = 1.1 * col_tiles * B * w_bytes + 1.5 * row_tiles * taps * x_bytes + 64 * 32;
            TEST_CHECK((double)q->gld_sectors * 32 <= bound,
                       "%s: %.0f bytes of load sectors for %.0f weight bytes x %.0f column tiles x %d items + %.0f "
                       "input bytes x %.0f row tiles x %.0f taps (bound %.0f)", names[prec],
                       (double)q->gld_sectors * 32, w_bytes, col_tiles, B, x_bytes, row_tiles, taps, bound);
            TEST_CHECK((double)q->gst_unique * 32 == out_bytes && (double)q->gst_sectors <= 1.1 * q->gst_unique &&
                           q->gst_bytes >= 256 * q->gst_requests,
                       "%s stores: %llu sectors, %llu unique, %llu requests of %llu bytes for %.0f output bytes",
                       names[prec], (unsigned long long)q->gst_sectors, (unsigned long long)q->gst_unique,
                       (unsigned long long)q->gst_requests, (unsigned long long)q->gst_bytes, out_bytes);
        }
    }

    /* bf16 transposed conv whose column tiles span items (convt1d_span.cuh): 8 items x 64 -> 64 channels, 16 -> 128
     * samples, stride 8, kernel 16, padding 4: 17 phase columns per item, 136 columns = 2 tiles of 128 (a tile
     * holds 7-8 items), 512 stacked rows = 4 row tiles. "each weight tile staged in shared memory serves every item
     * the tile covers": load sectors <= the weights once per column tile (not per item: the per-item kernel reads
     * them 8 x 1 = 8 times, here 2) + the input about 2x per row tile (each x value loaded once per step for both
     * taps; items of 16 samples: a warp's 32 columns touch 2-3 item rows of 2 sectors each; + the alphas and warp
     * 0's halo); stores: each output sector written
     * once in 16-byte stores (<= 1.05x: the 64 sectors the two tiles share, and the lanes that skip an empty group
     * at the partial segment, which shifts the counters' k-th-store grouping after it); shared: fragment reads and 16-bit tile stores
     * conflict-free; with 8 reduction steps here the epilogue's share is large (8-byte staging stores: >= 2 passes
     * by width; flush reads of 4 rows apart at stride 8): <= 1.3 passes per instruction in all */
    {
        const int BS = 8, CI = 64, CO = 64, LI = 16, S = 8, KT = 16, LO = 128;
        srt_convt1d_args t = dense_convt(BS, CI, CO, LI, LO, KT, S, 4);
        TEST_CHECK(srt_cuda_convt1d_span_fits(&t, SRT_CUDA_BF16), "span kernel does not fit");
        TEST_CHECK(srt_cuda_convt1d_span(&t, nullptr, 0) == SRT_OK, "span kernel failed: %s", cudasim_last_error());
        const cudasim_launch_stats *q = find_last("convt1d_span_bf16_kernel");
        TEST_CHECK(q != nullptr, "no convt1d_span_bf16_kernel launch recorded");
        if (q) {
            double x_bytes = (double)BS * CI * LI * 4, w_bytes = (double)CI * CO * KT * 4, out_bytes = (double)BS * CO * LO * 4;
            double col_tiles = (BS * ((LO - 1 + 4) / S + 1) + 127) / 128, row_tiles = CO * S / 128;
            double bound = 1.05 * col_tiles * w_bytes + 2.1 * row_tiles * x_bytes + 64 * 32;
            TEST_CHECK(col_tiles == 2 && (double)q->gld_sectors * 32 <= bound,
                       "span: %.0f bytes of load sectors for %.0f weight bytes x %.0f column tiles + %.0f input bytes "
                       "x %.0f row tiles (bound %.0f; per item and column tile: %.0f)", (double)q->gld_sectors * 32,
                       w_bytes, col_tiles, x_bytes, row_tiles, bound, BS * w_bytes);
            TEST_CHECK((double)q->gst_unique * 32 == out_bytes && (double)q->gst_sectors <= 1.05 * q->gst_unique &&
                           q->gst_bytes >= 256 * q->gst_requests,
                       "span stores: %llu sectors, %llu unique, %llu requests of %llu bytes for %.0f output bytes",
                       (unsigned long long)q->gst_sectors, (unsigned long long)q->gst_unique,
                       (unsigned long long)q->gst_requests, (unsigned long long)q->gst_bytes, out_bytes);
            TEST_CHECK(q->sh_wavefronts * 10 <= q->sh_requests * 13, "span: shared: %llu passes for %llu requests",
                       (unsigned long long)q->sh_wavefronts, (unsigned long long)q->sh_requests);
            TEST_CHECK(q->flops == 2.0 * BS * CI * CO * LI * KT, "span: flops %.0f", q->flops);
        }
    }

    /* a SNAC residual unit's 1x1 conv with its residual (tensor cores): bytes moved <= the input once per
     * channel tile, the weights once per column tile and item, the residual and the output once each (+ the bias
     * and alpha sectors, 64 per block). Before staging the tile, a lane's two adjacent outputs and residuals were separate
     * 4-byte accesses: each output and residual sector moved twice (1.33x this bound). */
    {
        const int CI = 64, CO = 64, LO = 1024;
        srt_conv1d_args d = dense_conv(B, CI, CO, LO, LO, 1, 1, 0, true);
        const char *names[2] = {"conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel"};
        for (int i = 0; i < 2; i++) {
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, 1 + i, nullptr, 0) == SRT_OK, "1x1 igemm failed: %s",
                       cudasim_last_error());
            const cudasim_launch_stats *q = find_last(names[i]);
            TEST_CHECK(q != nullptr, "no %s launch recorded", names[i]);
            if (!q) continue;
            double act = (double)B * CI * LO * 4, w_bytes = (double)CO * CI * 4, col_tiles = LO / 64;
            /* + per column tile 64 sectors: the bias (a 2-row sector per warp store) and the alphas (<= 2 per
             * step); the weights once per block of 2 column tiles */
            double bound = 3 * act + col_tiles * B / 2 * w_bytes + 64 * 32 * col_tiles * B;
            double moved = (double)(q->gld_sectors + q->gst_sectors) * 32;
            TEST_CHECK(moved <= bound, "%s: %.0f bytes moved for 3 x %.0f activation bytes + %.0f weight bytes x %.0f "
                       "column tiles x %d items (bound %.0f)", names[i], moved, act, w_bytes, col_tiles, B, bound);
        }
    }

    /* column tiles of the batch, not of an item (conv1d_igemm_*_cols_kernel): a SNAC encoder's last 1x1 conv at 24
     * frames per item, 8 items x 128 -> 64 channels. A block holds 2 column tiles (here 2 items), so the weights are
     * read once per 2 items: loads <= the input (+10%) + the weights x 4 blocks + 64 sectors per block (alphas,
     * bias). One item per block (srt_cuda_igemm_set_cols(1)) reads them once per item: 8 x 32 KB, over the bound. */
    {
        const int CI = 128, CO = 64, LO = 24, NB = 8;
        srt_conv1d_args d = dense_conv(NB, CI, CO, LO, LO, 1, 1, 0, false);
        const char *names[2] = {"conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel"};
        for (int i = 0; i < 2; i++) {
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, 1 + i, nullptr, 0) == SRT_OK, "short-item igemm failed: %s",
                       cudasim_last_error());
            const cudasim_launch_stats *q = find_last(names[i]);
            TEST_CHECK(q != nullptr, "no %s launch recorded", names[i]);
            if (!q) continue;
            double x_bytes = (double)NB * CI * LO * 4, w_bytes = (double)CO * CI * 4, blocks = NB / 2;
            double loads = (double)q->gld_sectors * 32, bound = 1.1 * x_bytes + blocks * w_bytes + 64 * 32 * blocks;
            TEST_CHECK(q->grid[0] * q->grid[1] * q->grid[2] == blocks, "%s: grid %u x %u x %u for %.0f blocks",
                       names[i], q->grid[0], q->grid[1], q->grid[2], blocks);
            TEST_CHECK(loads <= bound, "%s: %.0f bytes of load sectors for %.0f input bytes + %.0f weight bytes x %.0f "
                       "blocks (bound %.0f)", names[i], loads, x_bytes, w_bytes, blocks, bound);
        }
    }

    /* split reductions folded in the block (conv_igemm.cuh fold_rows): a reduction of 512 rows over a 1-block
     * item grid is planned as 2 splits; launched, they write partial sums and a sum launch adds them; folded (the
     * grid counted as full: srt_cuda_igemm_set_fold_blocks), one launch writes each output sector once, with the
     * same bits */
    {
        const int CI = 512, CO = 64, LO = 64;
        srt_conv1d_args d;
        memset(&d, 0, sizeof d);
        d.batch = B; d.in_ch = CI; d.out_ch = CO; d.in_len = LO; d.out_len = LO;
        d.kernel = 1; d.stride = 1; d.dilation = 1; d.padding = 0; d.groups = 1;
        std::vector<float> hx((size_t)B * CI * LO), hw((size_t)CO * CI);
        for (size_t i = 0; i < hx.size(); i++) hx[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < hw.size(); i++) hw[i] = (float)((i * 104729) % 997) * 1e-4f - 0.05f;
        d.x = dev_floats(hx.size(), 0.0f);
        d.w = dev_floats(hw.size(), 0.0f);
        cudaMemcpy((void *)d.x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice);
        cudaMemcpy((void *)d.w, hw.data(), hw.size() * 4, cudaMemcpyHostToDevice);
        d.bias = dev_floats(CO, 0.125f);
        size_t n = (size_t)B * CO * LO, n_part = srt_cuda_conv1d_igemm_part_floats(&d);
        TEST_CHECK(n_part == 2 * n, "split plan: %zu part floats for %zu outputs (2 splits expected)", n_part, n);
        float *part = dev_floats(n_part ? n_part : 1, 0.0f), *y_split = dev_floats(n, 0.0f);
        float *y_fold = dev_floats(n, 0.0f);
        const char *names[3] = {"conv1d_igemm_kernel", "conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel"};
        for (int prec = 0; prec < 3; prec++) {
            d.y = y_split;
            size_t before = cudasim_launch_stats_count();
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, prec, part, 0) == SRT_OK, "split igemm: %s",
                       cudasim_last_error());
            TEST_CHECK(cudasim_launch_stats_count() == before + 2, "%s split: %zu launches", names[prec],
                       cudasim_launch_stats_count() - before);
            srt_cuda_igemm_set_fold_blocks(1);
            TEST_CHECK(srt_cuda_conv1d_igemm_part_floats(&d) == 0, "folded plan asks for a part buffer");
            d.y = y_fold;
            before = cudasim_launch_stats_count();
            TEST_CHECK(srt_cuda_conv1d_igemm(&d, nullptr, prec, part, 0) == SRT_OK, "folded igemm: %s",
                       cudasim_last_error());
            srt_cuda_igemm_set_fold_blocks(0);
            TEST_CHECK(cudasim_launch_stats_count() == before + 1, "%s folded: %zu launches", names[prec],
                       cudasim_launch_stats_count() - before);
            const cudasim_launch_stats *q = find_last(names[prec]);
            TEST_CHECK(q != nullptr && (double)q->gst_sectors * 32 == (double)n * 4,
                       "%s folded: %llu store sectors for %zu outputs", names[prec],
                       q ? (unsigned long long)q->gst_sectors : 0ull, n);
            std::vector<float> hs(n), hf(n);
            cudaMemcpy(hs.data(), y_split, n * 4, cudaMemcpyDeviceToHost);
            cudaMemcpy(hf.data(), y_fold, n * 4, cudaMemcpyDeviceToHost);
            size_t diff = 0;
            for (size_t i = 0; i < n; i++) diff += memcmp(&hs[i], &hf[i], 4) != 0;
            TEST_CHECK(diff == 0, "%s: %zu of %zu outputs differ between split launches and the folded block",
                       names[prec], diff, n);
        }
    }

    /* decode GEMM: C (16, 256) = A (16, 512) f32 @ B^T, B (256, 512) bf16 */
    const int M = 16, N = 256, KK = 512;
    srt_gemm_args g;
    memset(&g, 0, sizeof g);
    g.M = M; g.N = N; g.K = KK; g.alpha = 1.0f; g.beta = 0.0f; g.trans_b = 1; g.b_dtype = SRT_BF16;
    g.A = dev_floats((size_t)M * KK, 0.5f);
    g.lda = KK;
    uint16_t *wb = nullptr;
    cudaMalloc((void **)&wb, (size_t)N * KK * 2);
    cudaMemset(wb, 0x3f, (size_t)N * KK * 2);
    g.B = wb; g.ldb = KK;
    g.C = dev_floats((size_t)M * N, 0.0f);
    g.ldc = N;
    srt_cuda_small_m_args sm;
    memset(&sm, 0, sizeof sm);
    sm.g = g;                                 /* no workspace: no split-K, one pass over K per tile */
    TEST_CHECK(srt_cuda_gemm_small_m(&sm, 0) == SRT_OK, "gemm_small_m failed: %s", cudasim_last_error());
    s = find_last("gemm_small_m_kernel");
    TEST_CHECK(s != nullptr, "no gemm_small_m_kernel launch recorded");
    if (s) {
        double wbytes = (double)N * KK * 2, abytes = (double)M * KK * 4, tiles = N / 32, passes = (M + 7) / 8;
        TEST_CHECK((double)s->gld_unique * 32 <= 1.01 * (wbytes + abytes) + 64 * 32,
                   "gemm_small_m: read footprint %.0f bytes for %.0f bytes of weights + activations",
                   (double)s->gld_unique * 32, wbytes + abytes);
        TEST_CHECK((double)s->gld_sectors * 32 <= 1.01 * (passes * wbytes + tiles * abytes),
                   "gemm_small_m: %.0f bytes of load sectors for %.0f passes x %.0f of weights + %.0f tiles x %.0f "
                   "of activations", (double)s->gld_sectors * 32, passes, wbytes, tiles, abytes);
        TEST_CHECK(s->gst_unique * 32 == (uint64_t)M * N * 4, "gemm_small_m: wrote %llu sectors",
                   (unsigned long long)s->gst_unique);
    }
    TEST_CHECK(cudaDeviceSynchronize() == cudaSuccess && cudasim_error_count() == 0, "simulator: %s",
               cudasim_last_error());
    TEST_MAIN_END();
}
