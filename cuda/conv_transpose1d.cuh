/* conv_transpose1d.cuh: kernels of conv_transpose1d (PyTorch semantics, see host/backend.h).
 * The dense case (groups == 1) is the stride-phase implicit GEMM of conv_igemm.cuh; with SNACRT_CUDA_TF32=1 it is
 * cols = W^T @ x' with cuBLAS (cuda/cublas.c) between:
 *   prep_input_kernel   x' (batch, ch, len) = snake?(mask(x))      (skipped when neither applies)
 *   col2im_kernel       y[b,oc,t] = bias[oc] + sum over taps k with t + padding - k = ti*stride of
 *                       cols[b, oc*kernel + k, ti]: a gather (no atomics), one thread per output.
 * convt1d_direct_kernel  any groups: one thread per output, the same gather over the input (fallback).
 * Precision bf16, kernel == 2 x stride (SNAC's decoder): convt1d_span.cuh (column tiles spanning batch items). */
#include "cuda/common.cuh"
#include "cuda/convt1d_span.cuh"

__global__ void prep_input_kernel(const float *x, const float *alpha, const int *valid, float *xp, int ch, int len,
                                  int64_t total) {
    srt_grid_stride(i, total) {
        int t = (int)(i % len), c = (int)((i / len) % ch), b = (int)(i / ((int64_t)len * ch));
        int n_valid = valid ? valid[b] : len;
        float v = t < n_valid ? x[i] : 0.0f;
        xp[i] = alpha ? srt_snake_dev(v, alpha[c]) : v;
    }
}

/* cols (n_items, out_ch*kernel, in_len) -> y (n_items, out_ch, out_len) */
__global__ void col2im_kernel(const float *cols, const float *bias, float *y, int out_ch, int kernel, int in_len,
                              int out_len, int stride, int padding, int64_t total) {
    srt_grid_stride(i, total) {
        int t = (int)(i % out_len);
        int oc = (int)((i / out_len) % out_ch);
        int64_t b = i / ((int64_t)out_len * out_ch);
        const float *c = cols + (b * out_ch + oc) * (int64_t)kernel * in_len;
        float acc = bias ? bias[oc] : 0.0f;
        /* taps k = (t + padding) mod stride, then every stride-th */
        int num0 = t + padding;
        for (int k = num0 % stride; k < kernel && k <= num0; k += stride) {
            int ti = (num0 - k) / stride;
            if (ti < in_len) acc += c[(int64_t)k * in_len + ti];
        }
        y[i] = acc;
    }
}

__global__ void convt1d_direct_kernel(srt_convt1d_args a, const int *valid) {
    int cin_g = a.in_ch / a.groups, cout_g = a.out_ch / a.groups;
    int64_t total = (int64_t)a.batch * a.out_ch * a.out_len;
    srt_grid_stride(i, total) {
        int t = (int)(i % a.out_len);
        int oc = (int)((i / a.out_len) % a.out_ch);
        int b = (int)(i / ((int64_t)a.out_len * a.out_ch));
        int g = oc / cout_g, ocg = oc % cout_g, n_valid = valid ? valid[b] : a.in_len;
        float acc = a.bias ? a.bias[oc] : 0.0f;
        int num0 = t + a.padding;
        for (int icg = 0; icg < cin_g; icg++) {
            int ic = g * cin_g + icg;
            const float *row = a.x + ((size_t)b * a.in_ch + ic) * a.in_len;
            const float *w = a.w + ((size_t)ic * cout_g + ocg) * a.kernel;
            for (int k = num0 % a.stride; k < a.kernel && k <= num0; k += a.stride) {
                int ti = (num0 - k) / a.stride;
                if (ti >= a.in_len || ti >= n_valid) continue;
                float v = row[ti];
                acc += w[k] * (a.in_alpha ? srt_snake_dev(v, a.in_alpha[ic]) : v);
            }
        }
        a.y[i] = acc;
    }
}

extern "C" srt_status srt_cuda_prep_input(const float *x, const float *alpha, const int *valid, float *xp, int batch,
                                          int ch, int len, cudaStream_t stream) {
    int64_t total = (int64_t)batch * ch * len;
    if (total == 0) return SRT_OK;
    LAUNCH(prep_input_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, x, alpha, valid, xp, ch, len, total);
    return SRT_LAUNCH_STATUS(prep_input_kernel);
}

extern "C" srt_status srt_cuda_col2im(const float *cols, const float *bias, float *y, int n_items, int out_ch, int kernel,
                                      int in_len, int out_len, int stride, int padding, cudaStream_t stream) {
    int64_t total = (int64_t)n_items * out_ch * out_len;
    if (total == 0) return SRT_OK;
    LAUNCH(col2im_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, cols, bias, y, out_ch, kernel, in_len, out_len,
           stride, padding, total);
    return SRT_LAUNCH_STATUS(col2im_kernel);
}

extern "C" srt_status srt_cuda_convt1d_direct(const srt_convt1d_args *a, const int *valid, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->out_ch * a->out_len;
    if (total == 0) return SRT_OK;
    LAUNCH(convt1d_direct_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, *a, valid);
    return SRT_LAUNCH_STATUS(convt1d_direct_kernel);
}
