/* conv1d.cuh: kernels of conv1d (semantics in host/backend.h: mask by in_valid, optional Snake on the input,
 * bias, residual; Snake is the fast range-reduced one of snake_fast.cuh). The dense case (groups == 1) is the
 * implicit GEMM of conv_igemm.cuh, or with SNACRT_CUDA_TF32=1 a cuBLAS GEMM over an im2col buffer
 * (cuda/cublas.c); this file holds the kernels around that GEMM and the non-GEMM cases:
 *   conv1d_depthwise_kernel  groups == in_ch == out_ch: a block computes CONV_TILE outputs of one (item, channel)
 *                            row; the input span it needs is loaded once into shared memory with mask + Snake
 *                            applied, then each thread does its `kernel` taps. Bias and residual fused.
 *   conv1d_direct_kernel     any groups/stride/dilation: one thread per output (fallback, grouped convs).
 *   conv1d_im2col_kernel     col (items, in_ch*kernel, out_len) = masked, Snake'd, shifted input.
 *   bias_residual_kernel     y += bias[c] + residual (GEMM epilogue).
 * Residual may alias y: every thread reads residual[o] before writing y[o] at the same index. */
#include "cuda/common.cuh"
#include "cuda/snake_fast.cuh"

static const int CONV_TILE = 256;

__device__ __forceinline__ float conv_input(const float *row, int t, int valid, const float *alpha, int c) {
    if (t < 0 || t >= valid) return 0.0f;
    float x = row[t];
    return alpha ? srt_snake_fast_dev(x, alpha[c]) : x;
}

__device__ __forceinline__ int conv_valid(const int *valid, int b, int in_len) {
    return valid ? valid[b] : in_len;
}

/* grid (ceil(out_len/CONV_TILE), ch, batch), block CONV_TILE, dynamic smem = span floats */
__global__ void conv1d_depthwise_kernel(srt_conv1d_args a, const int *valid, int span) {
    SRT_DYN_SHARED(float, window);   /* (span): input positions t0 .. t0+span-1 */
    int c = blockIdx.y, b = blockIdx.z;
    int t_first = blockIdx.x * CONV_TILE;
    int t0 = t_first * a.stride - a.padding;
    int n_valid = conv_valid(valid, b, a.in_len);
    const float *row = a.x + ((size_t)b * a.in_ch + c) * a.in_len;
    for (int j = threadIdx.x; j < span; j += blockDim.x) window[j] = conv_input(row, t0 + j, n_valid, a.in_alpha, c);
    __syncthreads();
    int t = t_first + threadIdx.x;
    if (t >= a.out_len) return;
    const float *w = a.w + (size_t)c * a.kernel;
    float acc = a.bias ? a.bias[c] : 0.0f;
    const float *base = window + threadIdx.x * a.stride;
    for (int k = 0; k < a.kernel; k++) acc += w[k] * base[k * a.dilation];
    size_t o = ((size_t)b * a.out_ch + c) * a.out_len + t;
    if (a.residual) acc += a.residual[o];
    a.y[o] = acc;
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
    return (CONV_TILE - 1) * a->stride + (a->kernel - 1) * a->dilation + 1;
}

extern "C" int srt_cuda_conv1d_depthwise_fits(const srt_conv1d_args *a) {
    return a->groups == a->in_ch && a->in_ch == a->out_ch && a->out_ch <= 65535 && a->batch <= 65535 &&
           (size_t)depthwise_span(a) * sizeof(float) <= 48 * 1024;
}

extern "C" srt_status srt_cuda_conv1d_depthwise(const srt_conv1d_args *a, const int *valid, cudaStream_t stream) {
    if (a->out_len == 0) return SRT_OK;
    int span = depthwise_span(a);
    dim3 grid((unsigned)((a->out_len + CONV_TILE - 1) / CONV_TILE), (unsigned)a->out_ch, (unsigned)a->batch);
    LAUNCH(conv1d_depthwise_kernel, grid, CONV_TILE, (size_t)span * sizeof(float), stream, *a, valid, span);
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
