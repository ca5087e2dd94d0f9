/* convt1d_span.cuh: conv_transpose1d (groups 1, kernel == 2 x stride, stride divides 64: SNAC's decoder blocks) in
 * precision bf16 as one implicit GEMM on tensor cores whose column tiles span batch items, so each weight tile
 * staged in shared memory serves every item the tile covers (the per-item kernel of conv_igemm.cuh re-reads all
 * weights once per item and column tile: at batch 64 the first decoder block read its 33.5 MB of weights 64 times).
 *   rows     stacked (channel, phase) pairs, row oc*stride + phi (as conv_igemm.cuh's convt1d_igemm_*)
 *   columns  flattened (item, m) pairs, column c = b*n_cols + m, n_cols = (out_len - 1 + padding)/stride + 1;
 *            output t = m*stride + phi - padding
 *   Y[oc*stride + phi][c] = bias[oc] + sum over ic, j < 2 of w[ic][oc][phi + j*stride] x'[b][ic][m - j],
 *   x' = snake?(mask(x)) (positions outside [0, min(in_len, valid[b])) are 0).
 * Block: CS_BM = 128 rows x CS_BN = 128 columns, 8 warps (4 along rows x 2 along columns, 32 x 64 each: 2 x 8
 * m16n8k16 tiles), reduction in steps of 16 rows = 8 input channels x 2 taps, double-buffered: the global loads
 * of step i+1 (8 W + 4 X values per thread, W as contiguous runs of w, X along the columns) go to registers before
 * step i's math. Both tiles are stored in shared memory as packed bf16 pairs along the reduction (pair p = input
 * channel p of the step: W2[p][row] = (tap 0, tap 1), X2[p][col] = (x'[m], x'[m - 1])), so a fragment register is
 * one 32-bit shared read; each X value is loaded once per step and written to both taps' slots (tap 1 is 0 where
 * m - 1 leaves the item). Pitch 136 words: the fragment reads hit 32 banks.
 * Every output is summed over the reduction in the same order (one mma per step, steps in order, then + bias),
 * whatever the tile, the grid or the batch: batch-invariant. No split reduction (a grid of batch x columns fills
 * the GPU; at batch 1 the first decoder block runs 32 blocks of 128 steps).
 * Epilogue: the 128 x 128 tile is staged in two halves of 64 rows (in the shared memory of the tiles) and written
 * per (item, channel) as contiguous 16-byte aligned groups of 4 output positions (element by element at segment
 * edges and where out_len % 4 != 0), + bias. */
#ifndef SRT_CUDA_CONVT1D_SPAN_CUH
#define SRT_CUDA_CONVT1D_SPAN_CUH
#include "cuda/common.cuh"
#include "cuda/snake_fast.cuh"
#include "cuda/mma.cuh"
#include <stdlib.h>
#ifdef __CUDACC__
#define CS_SIM_FLOPS(kernel, flops) ((void)(flops))
#else
#include "tests/cudasim/cudasim_api.h"
#define CS_SIM_FLOPS(kernel, flops) cudasim_note_flops(#kernel, (double)(flops), 2)
#endif

#define CS_BM 128
#define CS_BN 128
#define CS_THREADS 256
#define CS_P 136             /* row pitch of the packed tiles, 32-bit words */
#define CS_YP (CS_BN + 4)    /* row pitch of the staged output half, floats */
#define CS_TILE_WORDS (2 * 8 * CS_P)   /* one double-buffered packed tile */
#define CS_SMEM_WORDS (64 * CS_YP > 2 * CS_TILE_WORDS ? 64 * CS_YP : 2 * CS_TILE_WORDS)

struct srt_convt_span_args {
    const float *x, *w, *bias, *alpha;
    float *y;
    const int *valid;
    int batch, in_ch, out_ch, in_len, out_len, stride, padding;
    int n_cols;      /* phase positions m per item */
    int64_t cols;    /* batch * n_cols */
};

__device__ __forceinline__ uint16_t cs_bf16(float v) { return (uint16_t)(srt_bf16x2_bits(v, 0.0f) & 0xffffu); }

/* One step's global loads of one thread: W elements f = s*256 + tid of the step's 8 runs (run s: input channel
 * r0/2 + s, the block's 128/stride channels x 2*stride taps, contiguous in w), X slots s: input channel
 * 2s + tid/128 of the step at the thread's column tid % 128, and the halo (tid < 8: channel tid at the column before
 * the tile). Raw values; mask applied (0 outside), Snake at the store. */
struct cs_stage {
    float w[8], x[4], h;
    float al;   /* lane l < 8 of each warp: the Snake alpha of the step's input channel l (one load per warp,
                 * shuffled to the slots at the store) */
};

/* Every lane issues the same loads (addresses clamped into the tensors, values selected after): the step's loads
 * are warp-uniform instructions, as the counters group them (tests/cudasim/counters.cpp: the k-th load of each
 * lane); the clamped ones fall in sectors the warp reads anyway except at the grid's edges. */
__device__ __forceinline__ void cs_fetch(const srt_convt_span_args &a, cs_stage &st, int ic0, const float *wrow,
                                         bool w_ok, const float *xcol, bool x_ok, const float *xhalo, bool h_ok) {
    int tid = threadIdx.x, lane = tid & 31, last = a.in_ch - 1;
    size_t wstride = (size_t)a.out_ch * 2 * a.stride;
    SRT_UNROLL
    for (int s = 0; s < 8; s++) {
        float v = wrow[(size_t)min(ic0 + s, last) * wstride];
        st.w[s] = w_ok && ic0 + s < a.in_ch ? v : 0.0f;
    }
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int ic = ic0 + 2 * s + (tid >> 7);
        float v = xcol[(size_t)min(ic, last) * a.in_len];
        st.x[s] = x_ok && ic < a.in_ch ? v : 0.0f;
    }
    int icl = ic0 + (lane & 7);
    st.al = a.alpha ? a.alpha[min(icl, last)] : 1.0f;
    st.h = 0.0f;
    if (tid < 32) {   /* warp 0: the halo (lanes 8..31 repeat lanes 0..7's addresses) */
        float v = xhalo[(size_t)min(icl, last) * a.in_len];
        st.h = h_ok && lane < 8 && icl < a.in_ch ? v : 0.0f;
    }
}

/* Store a fetched step as packed bf16 pairs: W2 (8 pairs x 128 rows), X2 (8 pairs x 128 columns), as 16-bit
 * halves (half = tap) */
__device__ __forceinline__ void cs_put(const srt_convt_span_args &a, const cs_stage &st, uint16_t *w2, uint16_t *x2,
                                       int w_row, int w_tap, bool tap1_ok, bool h_tap1_ok) {
    int tid = threadIdx.x, n = tid & 127;
    SRT_UNROLL
    for (int s = 0; s < 8; s++) w2[(s * CS_P + w_row) * 2 + w_tap] = cs_bf16(st.w[s]);
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int p = 2 * s + (tid >> 7);
        float al = __shfl_sync(0xffffffffu, st.al, p);   /* every lane: warp-uniform p */
        uint16_t v = cs_bf16(a.alpha ? srt_snake_fast_dev(st.x[s], al) : st.x[s]);
        x2[(p * CS_P + n) * 2] = v;                                       /* tap 0 at column n */
        if (n + 1 < CS_BN) x2[(p * CS_P + n + 1) * 2 + 1] = tap1_ok ? v : 0;   /* tap 1 at column n + 1 */
    }
    if (tid < 8) {   /* tap 1 at column 0: the element before the tile */
        uint16_t v = cs_bf16(a.alpha ? srt_snake_fast_dev(st.h, st.al) : st.h);   /* lane tid: channel tid */
        x2[(tid * CS_P) * 2 + 1] = h_tap1_ok ? v : 0;
    }
}

/* One item segment of a tile: columns [lo, hi) of item b (phase positions ma .. mb-1, tile columns from na), its
 * output positions [t_lo, t_hi) clipped to the output, enumerated as `groups` groups of 4 from g0: g0 is t_lo
 * rounded down to 8 and the count even, so the two groups of a 32-byte sector (out_len % 8 == 0) go to lanes 2i,
 * 2i + 1 of one store instruction. */
struct cs_segment {
    int b, ma, na, t_lo, t_hi, g0, groups;
};

__device__ __forceinline__ cs_segment cs_segment_at(const srt_convt_span_args &a, int64_t lo, int64_t c_end,
                                                    int64_t c0, int64_t *hi) {
    cs_segment g;
    g.b = (int)(lo / a.n_cols);
    *hi = (int64_t)(g.b + 1) * a.n_cols < c_end ? (int64_t)(g.b + 1) * a.n_cols : c_end;
    g.ma = (int)(lo - (int64_t)g.b * a.n_cols);
    int mb = (int)(*hi - (int64_t)g.b * a.n_cols);
    g.na = (int)(lo - c0);
    g.t_lo = max(g.ma * a.stride - a.padding, 0);
    g.t_hi = min(mb * a.stride - a.padding, a.out_len);
    g.g0 = g.t_lo - g.t_lo % 8;
    g.groups = g.t_hi > g.t_lo ? ((g.t_hi - g.g0 + 7) / 8) * 2 : 0;
    return g;
}

/* Write staged rows [oc0, oc0 + 64) of the tile (ys: 64 rows x CS_YP) + bias: work items e = (segment, channel,
 * group) numbered over the whole half tile, so every thread does the same number of stores but the last round's
 * (the counters group the k-th store of each lane: tests/cudasim/counters.cpp) */
__device__ __forceinline__ void cs_flush(const srt_convt_span_args &a, const float *ys, int oc0, int64_t c0) {
    int s = a.stride, ch0 = oc0 / s, nch = min(64 / s, a.out_ch - ch0);
    if (nch <= 0) return;   /* uniform */
    bool vec = (a.out_len & 3) == 0;
    int64_t c_end = c0 + CS_BN < a.cols ? c0 + CS_BN : a.cols, hi;
    int total = 0;
    for (int64_t lo = c0; lo < c_end; lo = hi) total += nch * cs_segment_at(a, lo, c_end, c0, &hi).groups;
    for (int e = threadIdx.x; e < total; e += CS_THREADS) {
        int r = e;
        int64_t lo = c0;
        cs_segment g = cs_segment_at(a, lo, c_end, c0, &hi);
        while (r >= nch * g.groups) {   /* a few segments at most (CS_BN / n_cols + 2) */
            r -= nch * g.groups;
            lo = hi;
            g = cs_segment_at(a, lo, c_end, c0, &hi);
        }
        int c = r / g.groups, oc = ch0 + c, t = g.g0 + 4 * (r - c * g.groups);
        float bias = a.bias ? a.bias[oc] : 0.0f, v[4];
        bool in[4], all = true;
        SRT_UNROLL
        for (int j = 0; j < 4; j++) {
            int u = t + j + a.padding, m = u / s;   /* u >= 0 where in (t + j >= 0) */
            in[j] = t + j >= g.t_lo && t + j < g.t_hi;
            v[j] = in[j] ? ys[(c * s + (u - m * s)) * CS_YP + g.na + (m - g.ma)] + bias : 0.0f;
            all = all && in[j];
        }
        float *dst = a.y + ((size_t)g.b * a.out_ch + oc) * a.out_len + t;
        if (vec && all) {
            float4 v4;
            v4.x = v[0]; v4.y = v[1]; v4.z = v[2]; v4.w = v[3];
            srt_store16(dst, v4);
        } else {
            SRT_UNROLL
            for (int j = 0; j < 4; j++)
                if (in[j]) dst[j] = v[j];
        }
    }
}

__global__ void __launch_bounds__(CS_THREADS, 2) convt1d_span_bf16_kernel(srt_convt_span_args a) {
    __shared__ __align__(16) uint32_t smem[CS_SMEM_WORDS];
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    int wm = (warp & 3) * 32, wn = (warp >> 2) * 64;
    int oc0 = blockIdx.y * CS_BM, ch0 = oc0 / a.stride, K = 2 * a.stride;
    int64_t c0 = (int64_t)blockIdx.x * CS_BN;

    /* per-thread constants: the W run element (row, tap) and the X column (item, m) of this thread */
    int wch = tid / K, wk = tid - wch * K;
    int w_row = wch * a.stride + wk % a.stride, w_tap = wk / a.stride;
    bool w_ok = ch0 + wch < a.out_ch;
    const float *wrow = a.w + (size_t)ch0 * K + (w_ok ? tid : 0);   /* + ic * out_ch * K: input channel ic's run */
    int64_t col = c0 + (tid & 127);
    int xb = (int)(col / a.n_cols), xm = (int)(col - (int64_t)xb * a.n_cols);
    bool x_ok = col < a.cols && xm < min(a.in_len, a.valid ? a.valid[xb] : a.in_len);
    /* tap 1 at column n + 1 stays in the item (for valid shapes, out_len >= (in_len - 1)*stride - 2*padding + kernel,
     * it is 0 across the boundary anyway: the item's last column has no input when padding < stride, and column
     * 0's outputs are all cropped when padding >= stride; kept so the tile never mixes items) */
    bool tap1_ok = xm + 1 < a.n_cols;
    const float *xcol = a.x + (size_t)min(xb, a.batch - 1) * a.in_ch * a.in_len + min(xm, a.in_len - 1);
    int64_t hcol = c0 - 1;   /* the halo: the column before the tile */
    int hb = hcol >= 0 ? (int)(hcol / a.n_cols) : 0, hm = hcol >= 0 ? (int)(hcol - (int64_t)hb * a.n_cols) : 0;
    bool h_ok = hcol >= 0 && hm < min(a.in_len, a.valid ? a.valid[hb] : a.in_len);
    bool h_tap1_ok = hcol >= 0 && hm + 1 < a.n_cols;
    const float *xhalo = a.x + (size_t)hb * a.in_ch * a.in_len + min(hm, a.in_len - 1);

    /* buffer q: W2 at smem + q*8*CS_P, X2 at smem + CS_TILE_WORDS + q*8*CS_P (32-bit words) */
    uint16_t *w2b = reinterpret_cast<uint16_t *>(smem), *x2b = reinterpret_cast<uint16_t *>(smem + CS_TILE_WORDS);

    float acc[2][8][4];
    SRT_UNROLL
    for (int i = 0; i < 2; i++)
        SRT_UNROLL
        for (int j = 0; j < 8; j++)
            SRT_UNROLL
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;

    cs_stage st;
    cs_fetch(a, st, 0, wrow, w_ok, xcol, x_ok, xhalo, h_ok);
    cs_put(a, st, w2b, x2b, w_row, w_tap, tap1_ok, h_tap1_ok);
    __syncthreads();
    int cur = 0;
    for (int ic0 = 0; ic0 < a.in_ch; ic0 += 8) {
        bool more = ic0 + 8 < a.in_ch;
        if (more) cs_fetch(a, st, ic0 + 8, wrow, w_ok, xcol, x_ok, xhalo, h_ok);
        const uint32_t *W = smem + cur * 8 * CS_P, *X = smem + CS_TILE_WORDS + cur * 8 * CS_P;
        uint32_t af[2][4];
        SRT_UNROLL
        for (int mt = 0; mt < 2; mt++) {
            int r = wm + 16 * mt + g;
            af[mt][0] = W[t * CS_P + r];
            af[mt][1] = W[t * CS_P + r + 8];
            af[mt][2] = W[(t + 4) * CS_P + r];
            af[mt][3] = W[(t + 4) * CS_P + r + 8];
        }
        SRT_UNROLL
        for (int nt = 0; nt < 8; nt++) {
            int n = wn + 8 * nt + g;
            uint32_t bf[2] = {X[t * CS_P + n], X[(t + 4) * CS_P + n]};
            srt_mma_bf16(acc[0][nt], af[0], bf);
            srt_mma_bf16(acc[1][nt], af[1], bf);
        }
        if (more) cs_put(a, st, w2b + (cur ^ 1) * 16 * CS_P, x2b + (cur ^ 1) * 16 * CS_P, w_row, w_tap, tap1_ok, h_tap1_ok);
        __syncthreads();
        cur ^= 1;
    }

    /* epilogue: two halves of 64 rows staged over the tiles' shared memory (free after the last barrier) */
    float *ys = reinterpret_cast<float *>(smem);
    SRT_UNROLL
    for (int h = 0; h < 2; h++) {
        if ((wm >> 6) == h) {   /* warp-uniform */
            SRT_UNROLL
            for (int mt = 0; mt < 2; mt++)
                SRT_UNROLL
                for (int nt = 0; nt < 8; nt++)
                    srt_mma_stage_c(&ys[(wm - 64 * h + 16 * mt) * CS_YP + wn + 8 * nt], CS_YP, acc[mt][nt], g, t);
        }
        __syncthreads();
        cs_flush(a, ys, oc0 + 64 * h, c0);
        __syncthreads();
    }
}

/* The shapes this kernel takes (the rest: conv_igemm.cuh); a function of the item shape and precision only, never
 * of the batch (batch invariance) */
extern "C" int srt_cuda_convt1d_span_fits(const srt_convt1d_args *a, int precision) {
    static int off = -1;   /* SNACRT_CUDA_CONVT_SPAN=0: the per-item kernel instead (A/B measurements) */
    if (off < 0) {
        const char *v = getenv("SNACRT_CUDA_CONVT_SPAN");
        off = v && *v && atoi(v) == 0;
    }
    if (off) return 0;
    int64_t n_cols = a->stride >= 1 ? ((int64_t)a->out_len - 1 + a->padding) / a->stride + 1 : 0;
    return precision == SRT_CUDA_BF16 && a->groups == 1 && a->stride >= 1 && 64 % a->stride == 0 &&
           a->kernel == 2 * a->stride && a->padding >= 0 && a->in_len >= 1 && a->out_len >= 1 &&
           (int64_t)a->out_len + a->padding < INT32_MAX / 2 && (int64_t)a->batch * n_cols < INT32_MAX &&
           ((int64_t)a->out_ch * a->stride + CS_BM - 1) / CS_BM <= 65535;
}

extern "C" srt_status srt_cuda_convt1d_span(const srt_convt1d_args *a, const int *valid, cudaStream_t stream) {
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    srt_convt_span_args g;
    g.x = a->x; g.w = a->w; g.bias = a->bias; g.alpha = a->in_alpha; g.y = a->y; g.valid = valid;
    g.batch = a->batch; g.in_ch = a->in_ch; g.out_ch = a->out_ch; g.in_len = a->in_len; g.out_len = a->out_len;
    g.stride = a->stride; g.padding = a->padding;
    g.n_cols = (a->out_len - 1 + a->padding) / a->stride + 1;
    g.cols = (int64_t)a->batch * g.n_cols;
    dim3 grid((unsigned)((g.cols + CS_BN - 1) / CS_BN), (unsigned)((a->out_ch * a->stride + CS_BM - 1) / CS_BM), 1);
    LAUNCH(convt1d_span_bf16_kernel, grid, CS_THREADS, 0, stream, g);
    CS_SIM_FLOPS(convt1d_span_bf16_kernel, 2.0 * a->batch * a->in_ch * a->out_ch * a->in_len * a->kernel);
    return SRT_LAUNCH_STATUS(convt1d_span_bf16_kernel);
}
#endif
