/* conv_igemm.cuh: dense (groups == 1) conv1d and conv_transpose1d as implicit GEMMs in fp32 FMA tiles held in
 * shared memory: no im2col buffer, no `cols` buffer, no col2im pass, no separate bias/residual pass.
 *   conv1d_igemm_kernel         Y (out_ch, out_len) of one item = W (out_ch, R) @ X (R, out_len), R = in_ch*kernel,
 *                               X[ic*kernel + k][t] = snake?(mask(x))[ic][t*stride - padding + k*dilation]: each
 *                               X tile is built in shared memory straight from the activation (mask and Snake
 *                               applied while loading); bias and residual added in the epilogue.
 *   convt1d_igemm_kernel        conv_transpose1d as `stride` phase convolutions (blockIdx.z = item*stride + phase):
 *                               the outputs t = m*stride + phi of phase phi are
 *                               Y_phi[oc][m] = sum over ic, j < taps of w[ic][oc][p + j*stride] * x'[ic][q0 + m - j]
 *                               with p = (phi + padding) % stride, q0 = (phi + padding) / stride,
 *                               taps = ceil(kernel / stride) (a tap with p + j*stride >= kernel weighs 0), written
 *                               straight to their output positions.
 *   conv{,t}1d_igemm_{tf32,bf16}_kernel  the same on tensor cores (mma.cuh; precision modes tf32 / bf16).
 * Block: IG_BM output channels x IG_BN positions, IG_THREADS threads, each 4 x 4 outputs (channels ty + 16i,
 * positions tx + 16j: shared reads are broadcasts / conflict-free, stores are 64-byte runs); reduction in steps of
 * IG_BK. Snake is the fast range-reduced one (snake_fast.cuh). Each output is summed in reduction-index order
 * whatever the grid and the batch: batch-invariant.
 * Residual may alias y: a thread reads residual[o] before it writes y[o]. */
#include "cuda/common.cuh"
#include "cuda/snake_fast.cuh"
#include "cuda/mma.cuh"
#ifdef __CUDACC__
#define SRT_SIM_FLOPS(kernel, flops, unit) ((void)(flops))
#else
#include "tests/cudasim/cudasim_api.h"
/* the simulator's counters get the kernel's exact FLOPs from its shape (bench/gpu_model.py) */
#define SRT_SIM_FLOPS(kernel, flops, unit) cudasim_note_flops(#kernel, (double)(flops), (unit))
#endif

#define IG_BM 64
#define IG_BN 64
#define IG_BK 16
#define IG_THREADS 256

struct srt_igemm_args {
    const float *x, *w, *bias, *alpha, *residual;
    float *y;
    const int *valid;
    int in_ch, out_ch, in_len, out_len;
    int kernel, stride, dilation, padding;
    int taps;       /* reduction taps per input channel: kernel (conv), ceil(kernel/stride) (transposed) */
};

/* snake?(mask(x)) of input position pos of channel ic (0 outside [0, n_valid)) */
__device__ __forceinline__ float igemm_input(const srt_igemm_args &a, const float *item, int ic, int pos, int n_valid) {
    if (pos < 0 || pos >= n_valid) return 0.0f;
    float v = item[(size_t)ic * a.in_len + pos];
    return a.alpha ? srt_snake_fast_dev(v, a.alpha[ic]) : v;
}

/* W tile (IG_BK reduction rows x IG_BM channels, reduction-major, row pitch wp) and X tile (IG_BK x IG_BN, pitch
 * xp) of reduction step r0 into shared memory. Conv W: lanes along a row of w (contiguous); X: lanes along the
 * positions (coalesced for stride 1). Out-of-range rows, channels and columns are 0. */
template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_load_tiles(const srt_igemm_args &a, const float *item, float *ws, int wp,
                                                 float *xs, int xp, int r0, int oc0, int m0, int n_cols, int n_valid,
                                                 int p, int q0, int R) {
    int tid = threadIdx.x;
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int kk = tid & 15, mm = (tid >> 4) + 16 * s;
        int r = r0 + kk, oc = oc0 + mm;
        float v = 0.0f;
        if (r < R && oc < a.out_ch) {
            if (TRANSPOSED) {
                int ic = r / a.taps, k = p + (r - ic * a.taps) * a.stride;
                if (k < a.kernel) v = a.w[((size_t)ic * a.out_ch + oc) * a.kernel + k];
            } else {
                v = a.w[(size_t)oc * R + r];
            }
        }
        ws[kk * wp + mm] = v;
    }
    /* X tile: (IG_BK reduction rows) x (IG_BN columns); lanes along the positions (coalesced for stride 1) */
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int nn = tid & 63, kk = (tid >> 6) + 4 * s;
        int r = r0 + kk, m = m0 + nn;
        float v = 0.0f;
        if (r < R && m < n_cols) {
            int ic = r / a.taps, k = r - ic * a.taps;
            int pos = TRANSPOSED ? q0 + m - k : m * a.stride - a.padding + k * a.dilation;
            v = igemm_input(a, item, ic, pos, n_valid);
        }
        xs[kk * xp + nn] = v;
    }
}

template <bool TRANSPOSED>
__device__ __forceinline__ void conv_igemm_fp32(const srt_igemm_args &a) {
    __shared__ float ws[IG_BK][IG_BM + 1];   /* W tile, reduction-major (+1: conflict-free transposed store) */
    __shared__ float xs[IG_BK][IG_BN];       /* X tile */
    int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    int oc0 = blockIdx.y * IG_BM, m0 = blockIdx.x * IG_BN;
    int b = TRANSPOSED ? blockIdx.z / a.stride : blockIdx.z;
    int phi = TRANSPOSED ? blockIdx.z % a.stride : 0;
    /* columns of this block: output positions (conv) or phase positions m, t = m*stride + phi (transposed) */
    int n_cols = TRANSPOSED ? (phi < a.out_len ? (a.out_len - phi + a.stride - 1) / a.stride : 0) : a.out_len;
    if (m0 >= n_cols) return;   /* uniform over the block, before any barrier */
    int p = TRANSPOSED ? (phi + a.padding) % a.stride : 0, q0 = TRANSPOSED ? (phi + a.padding) / a.stride : 0;
    int n_valid = a.valid ? a.valid[b] : a.in_len;
    const float *item = a.x + (size_t)b * a.in_ch * a.in_len;
    int R = a.in_ch * a.taps;

    float acc[4][4];
    SRT_UNROLL
    for (int i = 0; i < 4; i++)
        SRT_UNROLL
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (int r0 = 0; r0 < R; r0 += IG_BK) {
        igemm_load_tiles<TRANSPOSED>(a, item, &ws[0][0], IG_BM + 1, &xs[0][0], IG_BN, r0, oc0, m0, n_cols, n_valid,
                                     p, q0, R);
        __syncthreads();
        SRT_UNROLL
        for (int kk = 0; kk < IG_BK; kk++) {
            float wv[4], xv[4];
            SRT_UNROLL
            for (int i = 0; i < 4; i++) wv[i] = ws[kk][ty + 16 * i];
            SRT_UNROLL
            for (int j = 0; j < 4; j++) xv[j] = xs[kk][tx + 16 * j];
            SRT_UNROLL
            for (int i = 0; i < 4; i++)
                SRT_UNROLL
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(wv[i], xv[j], acc[i][j]);
        }
        __syncthreads();
    }

    SRT_UNROLL
    for (int i = 0; i < 4; i++) {
        int oc = oc0 + ty + 16 * i;
        if (oc >= a.out_ch) continue;
        float bias = a.bias ? a.bias[oc] : 0.0f;
        float *yrow = a.y + ((size_t)b * a.out_ch + oc) * a.out_len;
        SRT_UNROLL
        for (int j = 0; j < 4; j++) {
            int m = m0 + tx + 16 * j;
            if (m >= n_cols) continue;
            int t = TRANSPOSED ? m * a.stride + phi : m;
            float v = acc[i][j] + bias;
            if (!TRANSPOSED && a.residual) v += a.residual[((size_t)b * a.out_ch + oc) * a.out_len + t];
            yrow[t] = v;
        }
    }
}

/* The same implicit GEMM on tensor cores (mma.cuh): 8 warps, warp w computes channels (w%4)*16 .. +15 x columns
 * (w/4)*32 .. +31 of the block tile as 4 m16n8 tiles; tiles are built in fp32 exactly as above and rounded to
 * tf32 (m16n8k8, two k-steps per IG_BK) or bf16 (m16n8k16) when the fragments are read; f32 accumulate.
 * Row pitches (72 tf32, 68 bf16 floats) make the fragment reads conflict-free. */
template <bool TRANSPOSED, bool BF16>
__device__ __forceinline__ void conv1d_igemm_mma(const srt_igemm_args &a) {
    const int P = BF16 ? IG_BM + 4 : IG_BM + 8;
    __shared__ float ws[IG_BK][(BF16 ? IG_BM + 4 : IG_BM + 8)];
    __shared__ float xs[IG_BK][(BF16 ? IG_BN + 4 : IG_BN + 8)];
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
    int oc0 = blockIdx.y * IG_BM, m0 = blockIdx.x * IG_BN;
    int b = TRANSPOSED ? blockIdx.z / a.stride : blockIdx.z;
    int phi = TRANSPOSED ? blockIdx.z % a.stride : 0;
    int n_cols = TRANSPOSED ? (phi < a.out_len ? (a.out_len - phi + a.stride - 1) / a.stride : 0) : a.out_len;
    if (m0 >= n_cols) return;   /* uniform over the block, before any barrier */
    int p = TRANSPOSED ? (phi + a.padding) % a.stride : 0, q0 = TRANSPOSED ? (phi + a.padding) / a.stride : 0;
    int n_valid = a.valid ? a.valid[b] : a.in_len;
    const float *item = a.x + (size_t)b * a.in_ch * a.in_len;
    int R = a.in_ch * a.taps;

    float acc[4][4];   /* [n tile][c0..c3] */
    SRT_UNROLL
    for (int i = 0; i < 4; i++)
        SRT_UNROLL
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (int r0 = 0; r0 < R; r0 += IG_BK) {
        igemm_load_tiles<TRANSPOSED>(a, item, &ws[0][0], P, &xs[0][0], P, r0, oc0, m0, n_cols, n_valid, p, q0, R);
        __syncthreads();
        if (BF16) {
            uint32_t af[4] = {srt_bf16x2_bits(ws[2 * t][wm + g], ws[2 * t + 1][wm + g]),
                              srt_bf16x2_bits(ws[2 * t][wm + g + 8], ws[2 * t + 1][wm + g + 8]),
                              srt_bf16x2_bits(ws[2 * t + 8][wm + g], ws[2 * t + 9][wm + g]),
                              srt_bf16x2_bits(ws[2 * t + 8][wm + g + 8], ws[2 * t + 9][wm + g + 8])};
            SRT_UNROLL
            for (int nt = 0; nt < 4; nt++) {
                int n = wn + nt * 8 + g;
                uint32_t bf[2] = {srt_bf16x2_bits(xs[2 * t][n], xs[2 * t + 1][n]),
                                  srt_bf16x2_bits(xs[2 * t + 8][n], xs[2 * t + 9][n])};
                srt_mma_bf16(acc[nt], af, bf);
            }
        } else {
            SRT_UNROLL
            for (int ks = 0; ks < IG_BK; ks += 8) {
                uint32_t af[4] = {srt_tf32_bits(ws[ks + t][wm + g]), srt_tf32_bits(ws[ks + t][wm + g + 8]),
                                  srt_tf32_bits(ws[ks + t + 4][wm + g]), srt_tf32_bits(ws[ks + t + 4][wm + g + 8])};
                SRT_UNROLL
                for (int nt = 0; nt < 4; nt++) {
                    int n = wn + nt * 8 + g;
                    uint32_t bf[2] = {srt_tf32_bits(xs[ks + t][n]), srt_tf32_bits(xs[ks + t + 4][n])};
                    srt_mma_tf32(acc[nt], af, bf);
                }
            }
        }
        __syncthreads();
    }

    SRT_UNROLL
    for (int nt = 0; nt < 4; nt++)
        SRT_UNROLL
        for (int e = 0; e < 4; e++) {
            int oc = oc0 + wm + g + (e >= 2 ? 8 : 0), m = m0 + wn + nt * 8 + 2 * t + (e & 1);
            if (oc >= a.out_ch || m >= n_cols) continue;
            int t_out = TRANSPOSED ? m * a.stride + phi : m;
            size_t o = ((size_t)b * a.out_ch + oc) * a.out_len + t_out;
            float v = acc[nt][e] + (a.bias ? a.bias[oc] : 0.0f);
            if (!TRANSPOSED && a.residual) v += a.residual[o];
            a.y[o] = v;
        }
}

/* the kernels: conv1d / conv_transpose1d x fp32 FMA / tf32 / bf16 tensor cores */
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_kernel(srt_igemm_args a) { conv_igemm_fp32<false>(a); }
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_kernel(srt_igemm_args a) { conv_igemm_fp32<true>(a); }
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_tf32_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<false, false>(a);
}
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_tf32_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<true, false>(a);
}
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_bf16_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<false, true>(a);
}
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_bf16_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<true, true>(a);
}

static srt_igemm_args igemm_args(const float *x, const float *w, const float *bias, const float *alpha,
                                 const int *valid, float *y, int in_ch, int out_ch, int in_len, int out_len) {
    srt_igemm_args g;
    g.x = x; g.w = w; g.bias = bias; g.alpha = alpha; g.residual = NULL; g.y = y; g.valid = valid;
    g.in_ch = in_ch; g.out_ch = out_ch; g.in_len = in_len; g.out_len = out_len;
    g.kernel = 1; g.stride = 1; g.dilation = 1; g.padding = 0; g.taps = 1;
    return g;
}

/* one launch, its FLOPs noted for the simulator's counters (unit 0 fp32, 1 tf32, 2 bf16) */
#define IGEMM_LAUNCH(kernel, unit)                                      \
    do {                                                                \
        LAUNCH(kernel, grid, IG_THREADS, 0, stream, g);                 \
        SRT_SIM_FLOPS(kernel, flops, unit);                             \
        return SRT_LAUNCH_STATUS(kernel);                               \
    } while (0)

/* precision: SRT_CUDA_FP32 (FMA tiles), SRT_CUDA_TF32 or SRT_CUDA_BF16 (tensor cores) */
static srt_status igemm_launch(const srt_igemm_args &g, bool transposed, dim3 grid, int precision, double flops,
                               cudaStream_t stream) {
    if (precision == SRT_CUDA_BF16) {
        if (transposed) IGEMM_LAUNCH(convt1d_igemm_bf16_kernel, 2);
        IGEMM_LAUNCH(conv1d_igemm_bf16_kernel, 2);
    }
    if (precision == SRT_CUDA_TF32) {
        if (transposed) IGEMM_LAUNCH(convt1d_igemm_tf32_kernel, 1);
        IGEMM_LAUNCH(conv1d_igemm_tf32_kernel, 1);
    }
    if (transposed) IGEMM_LAUNCH(convt1d_igemm_kernel, 0);
    IGEMM_LAUNCH(conv1d_igemm_kernel, 0);
}

extern "C" int srt_cuda_conv1d_igemm_fits(const srt_conv1d_args *a) {
    return a->groups == 1 && a->batch <= 65535 && (int64_t)a->in_ch * a->kernel < INT32_MAX &&
           (a->out_ch + IG_BM - 1) / IG_BM <= 65535;
}

extern "C" srt_status srt_cuda_conv1d_igemm(const srt_conv1d_args *a, const int *valid, int precision,
                                             cudaStream_t stream) {
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    srt_igemm_args g = igemm_args(a->x, a->w, a->bias, a->in_alpha, valid, a->y, a->in_ch, a->out_ch, a->in_len,
                                  a->out_len);
    g.residual = a->residual;
    g.kernel = a->kernel; g.stride = a->stride; g.dilation = a->dilation; g.padding = a->padding; g.taps = a->kernel;
    dim3 grid((unsigned)((a->out_len + IG_BN - 1) / IG_BN), (unsigned)((a->out_ch + IG_BM - 1) / IG_BM),
              (unsigned)a->batch);
    return igemm_launch(g, false, grid, precision, 2.0 * a->batch * a->out_ch * a->out_len * a->in_ch * a->kernel,
                        stream);
}

extern "C" int srt_cuda_convt1d_igemm_fits(const srt_convt1d_args *a) {
    return a->groups == 1 && a->stride >= 1 && (int64_t)a->batch * a->stride <= 65535 &&
           (a->out_ch + IG_BM - 1) / IG_BM <= 65535;
}

extern "C" srt_status srt_cuda_convt1d_igemm(const srt_convt1d_args *a, const int *valid, int precision,
                                              cudaStream_t stream) {
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    srt_igemm_args g = igemm_args(a->x, a->w, a->bias, a->in_alpha, valid, a->y, a->in_ch, a->out_ch, a->in_len,
                                  a->out_len);
    g.kernel = a->kernel; g.stride = a->stride; g.padding = a->padding;
    g.taps = (a->kernel + a->stride - 1) / a->stride;
    int cols = (a->out_len + a->stride - 1) / a->stride;   /* phase 0 has the most positions */
    dim3 grid((unsigned)((cols + IG_BN - 1) / IG_BN), (unsigned)((a->out_ch + IG_BM - 1) / IG_BM),
              (unsigned)(a->batch * a->stride));
    return igemm_launch(g, true, grid, precision, 2.0 * a->batch * a->in_ch * a->out_ch * a->in_len * a->kernel,
                        stream);
}
