/* conv1d.cuh: kernels of conv1d (semantics in host/backend.h: mask by in_valid, optional Snake on the input,
 * bias, residual; Snake is the fast range-reduced one of snake_fast.cuh). The dense case (groups == 1) is the
 * implicit GEMM of conv_igemm.cuh, or with SNACRT_CUDA_TF32=1 a cuBLAS GEMM over an im2col buffer
 * (cuda/cublas.c); this file holds the kernels around that GEMM and the non-GEMM cases:
 *   conv1d_depthwise_kernel  groups == in_ch == out_ch: a block computes DW_TILE (1024) outputs of one (item,
 *                            channel) row, 4 per thread; the input span it needs (+ halo) is loaded once into shared
 *                            memory with 16-byte loads, mask + Snake applied, taps / bias / alpha staged there too;
 *                            outputs (+ residual) go out as 16-byte accesses. Bias and residual fused.
 *   conv1d_direct_kernel     any groups/stride/dilation: one thread per output (fallback, grouped convs).
 *   conv1d_im2col_kernel     col (items, in_ch*kernel, out_len) = masked, Snake'd, shifted input.
 *   bias_residual_kernel     y += bias[c] + residual (GEMM epilogue).
 * Residual may alias y: every thread reads residual[o] before writing y[o] at the same index. */
#include "cuda/common.cuh"
#include "cuda/snake_fast.cuh"

__device__ __forceinline__ float conv_input(const float *row, int t, int valid, const float *alpha, int c) {
    if (t < 0 || t >= valid) return 0.0f;
    float x = row[t];
    return alpha ? srt_snake_fast_dev(x, alpha[c]) : x;
}

__device__ __forceinline__ int conv_valid(const int *valid, int b, int in_len) {
    return valid ? valid[b] : in_len;
}

/* Depthwise tile: DW_THREADS threads x DW_PER consecutive outputs. The tile's first output is aligned to 16 bytes of
 * y (so each thread stores its DW_PER outputs with one 16-byte store), and the input window starts at a 16-byte
 * boundary of x below the first input the tile needs (so it is filled with 16-byte loads). */
#define DW_THREADS 256
#define DW_PER 4
#define DW_TILE (DW_THREADS * DW_PER)

/* shared-memory index of window position i = 32a + 4b + r: r ^ (a & 3). A warp reads (or writes) positions
 * i0 + 4l + e (each thread's DW_PER consecutive positions, e fixed per instruction): 32 consecutive m = i/4, whose
 * (m mod 8, a mod 4) pairs are distinct, so the 32 lanes hit 32 distinct banks for any i0. */
__device__ __forceinline__ int dw_swz(int i) { return i ^ ((i >> 5) & 3); }

/* grid (ceil((out_len + 3) / DW_TILE), ch, batch), block DW_THREADS, dynamic smem = depthwise_smem_floats floats.
 * Shared: wk (kernel) taps, then bias and alpha, then the window (quads of input positions A0 .. A0 + 4*nq - 1,
 * masked by in_valid, Snake applied, permuted by dw_swz). Each thread: DW_PER outputs, taps in k order from bias
 * (the same sums as cpu-ref's loop). */
__global__ void conv1d_depthwise_kernel(srt_conv1d_args a, const int *valid, int span) {
    SRT_DYN_SHARED(float, sh);
    float *wk = sh, *win = sh + a.kernel + 2;
    int c = blockIdx.y, b = blockIdx.z;
    float *yrow = a.y + ((size_t)b * a.out_ch + c) * a.out_len;
    int ys = (int)(((uintptr_t)yrow >> 2) & 3);              /* yrow lies ys floats past a 16-byte boundary */
    int T0 = (int)blockIdx.x * DW_TILE - ys;                  /* the tile's first output (negative: before the row) */
    if (T0 >= a.out_len) return;                              /* the extra tile of rows with ys = 0 (block-uniform) */
    const float *row = a.x + ((size_t)b * a.in_ch + c) * a.in_len;
    int W0 = T0 * a.stride - a.padding;                       /* first input position the tile needs */
    int xs = (int)((((uintptr_t)row >> 2) + (uintptr_t)(intptr_t)W0) & 3);
    int A0 = W0 - xs;                                         /* row + A0 is 16-byte aligned */
    int nq = (xs + span + 3) >> 2;
    int n_valid = min(conv_valid(valid, b, a.in_len), a.in_len);   /* the quads never read past the row */
    int tid = threadIdx.x;
    for (int j = tid; j < a.kernel; j += DW_THREADS) wk[j] = a.w[(size_t)c * a.kernel + j];
    if (tid == DW_THREADS - 1) wk[a.kernel] = a.bias ? a.bias[c] : 0.0f;
    if (tid == DW_THREADS - 2) wk[a.kernel + 1] = a.in_alpha ? a.in_alpha[c] : 0.0f;
    __syncthreads();
    float alpha = wk[a.kernel + 1];
    for (int q = tid; q < nq; q += DW_THREADS) {
        int t = A0 + 4 * q;
        float v[4];
        if (t >= 0 && t + 4 <= n_valid) {
            float4 f = srt_load16<float4>(row + t);
            v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
        } else {
            for (int e = 0; e < 4; e++) v[e] = (t + e >= 0 && t + e < n_valid) ? row[t + e] : 0.0f;
        }
        for (int e = 0; e < 4; e++) win[dw_swz(4 * q + e)] = a.in_alpha ? srt_snake_fast_dev(v[e], alpha) : v[e];
    }
    __syncthreads();
    int tl = DW_PER * tid, t = T0 + tl;
    if (t >= a.out_len || t + DW_PER <= 0) return;
    float bias = wk[a.kernel];
    float acc[DW_PER];
    for (int e = 0; e < DW_PER; e++) acc[e] = bias;
    int base = xs + tl * a.stride;
    for (int k = 0; k < a.kernel; k++) {
        float wv = wk[k];
        int p = base + k * a.dilation;
        for (int e = 0; e < DW_PER; e++) acc[e] += wv * win[dw_swz(p + e * a.stride)];
    }
    float *yo = yrow + t;
    const float *ro = a.residual ? a.residual + (yo - a.y) : nullptr;
    if (t >= 0 && t + DW_PER <= a.out_len) {
        if (ro) {
            float r[4];
            if ((((uintptr_t)ro) & 15) == 0) {
                float4 f = srt_load16<float4>(ro);
                r[0] = f.x; r[1] = f.y; r[2] = f.z; r[3] = f.w;
            } else {
                for (int e = 0; e < 4; e++) r[e] = ro[e];
            }
            for (int e = 0; e < DW_PER; e++) acc[e] += r[e];
        }
        float4 f;
        f.x = acc[0]; f.y = acc[1]; f.z = acc[2]; f.w = acc[3];
        srt_store16(yo, f);
    } else {
        for (int e = 0; e < DW_PER; e++)
            if (t + e >= 0 && t + e < a.out_len) yo[e] = ro ? acc[e] + ro[e] : acc[e];
    }
}

__global__ void conv1d_direct_kernel(srt_conv1d_args a, const int *valid) {
    int cin_g = a.in_ch / a.groups, cout_g = a.out_ch / a.groups;
    int64_t total = (int64_t)a.batch * a.out_ch * a.out_len;
    srt_grid_stride(i, total) {
        int t = (int)(i % a.out_len);
        int oc = (int)((i / a.out_len) % a.out_ch);
        int b = (int)(i / ((int64_t)a.out_len * a.out_ch));
        int g = oc / cout_g, n_valid = conv_valid(valid, b, a.in_len);
        float acc = a.bias ? a.bias[oc] : 0.0f;
        for (int icg = 0; icg < cin_g; icg++) {
            int ic = g * cin_g + icg;
            const float *row = a.x + ((size_t)b * a.in_ch + ic) * a.in_len;
            const float *w = a.w + ((size_t)oc * cin_g + icg) * a.kernel;
            for (int k = 0; k < a.kernel; k++)
                acc += w[k] * conv_input(row, t * a.stride - a.padding + k * a.dilation, n_valid, a.in_alpha, ic);
        }
        if (a.residual) acc += a.residual[i];
        a.y[i] = acc;
    }
}

/* col (n_items, in_ch*kernel, out_len); row index ic*kernel + k matches the weight layout (out_ch, in_ch, kernel). */
__global__ void conv1d_im2col_kernel(srt_conv1d_args a, const int *valid, int b0, int n_items, float *col) {
    int rows = a.in_ch * a.kernel;
    int64_t total = (int64_t)n_items * rows * a.out_len;
    srt_grid_stride(i, total) {
        int t = (int)(i % a.out_len);
        int r = (int)((i / a.out_len) % rows);
        int b = b0 + (int)(i / ((int64_t)a.out_len * rows));
        int ic = r / a.kernel, k = r % a.kernel;
        const float *row = a.x + ((size_t)b * a.in_ch + ic) * a.in_len;
        col[i] = conv_input(row, t * a.stride - a.padding + k * a.dilation, conv_valid(valid, b, a.in_len), a.in_alpha, ic);
    }
}

__global__ void bias_residual_kernel(float *y, const float *bias, const float *residual, int ch, int len, int64_t total) {
    srt_grid_stride(i, total) {
        float v = y[i];
        if (bias) v += bias[(i / len) % ch];
        if (residual) v += residual[i];
        y[i] = v;
    }
}

static int depthwise_span(const srt_conv1d_args *a) {
    return (DW_TILE - 1) * a->stride + (a->kernel - 1) * a->dilation + 1;
}

/* taps + bias + alpha + the window of at most (span + 6) / 4 quads (xs <= 3 floats before the span) */
static size_t depthwise_smem_floats(const srt_conv1d_args *a) {
    return (size_t)a->kernel + 2 + (size_t)((depthwise_span(a) + 6) / 4) * 4;
}

extern "C" int srt_cuda_conv1d_depthwise_fits(const srt_conv1d_args *a) {
    return a->groups == a->in_ch && a->in_ch == a->out_ch && a->out_ch <= 65535 && a->batch <= 65535 &&
           depthwise_smem_floats(a) * sizeof(float) <= 48 * 1024;
}

extern "C" srt_status srt_cuda_conv1d_depthwise(const srt_conv1d_args *a, const int *valid, cudaStream_t stream) {
    if (a->out_len == 0) return SRT_OK;
    int span = depthwise_span(a);
    dim3 grid((unsigned)((a->out_len + 3 + DW_TILE - 1) / DW_TILE), (unsigned)a->out_ch, (unsigned)a->batch);
    LAUNCH(conv1d_depthwise_kernel, grid, DW_THREADS, depthwise_smem_floats(a) * sizeof(float), stream, *a, valid,
           span);
    return SRT_LAUNCH_STATUS(conv1d_depthwise_kernel);
}

extern "C" srt_status srt_cuda_conv1d_direct(const srt_conv1d_args *a, const int *valid, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->out_ch * a->out_len;
    if (total == 0) return SRT_OK;
    LAUNCH(conv1d_direct_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, *a, valid);
    return SRT_LAUNCH_STATUS(conv1d_direct_kernel);
}

extern "C" srt_status srt_cuda_conv1d_im2col(const srt_conv1d_args *a, const int *valid, int b0, int n_items, float *col,
                                             cudaStream_t stream) {
    int64_t total = (int64_t)n_items * a->in_ch * a->kernel * a->out_len;
    if (total == 0) return SRT_OK;
    LAUNCH(conv1d_im2col_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, *a, valid, b0, n_items, col);
    return SRT_LAUNCH_STATUS(conv1d_im2col_kernel);
}

extern "C" srt_status srt_cuda_bias_residual(float *y, const float *bias, const float *residual, int batch, int ch,
                                             int len, cudaStream_t stream) {
    int64_t total = (int64_t)batch * ch * len;
    if (total == 0 || (!bias && !residual)) return SRT_OK;
    LAUNCH(bias_residual_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, y, bias, residual, ch, len, total);
    return SRT_LAUNCH_STATUS(bias_residual_kernel);
}
