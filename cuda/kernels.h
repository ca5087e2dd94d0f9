/* kernels.h: the launch functions of the codec kernels (the .cuh files in cuda/), callable from C (cuda/backend_cuda.c).
 * All pointers are device memory. `valid` is a device array of `batch` clamped valid lengths, or NULL
 * (everything valid). Each function launches on `stream` and returns SRT_OK or SRT_ERR_BACKEND with the
 * kernel named; asynchronous faults surface at the next synchronize. */
#ifndef SRT_CUDA_KERNELS_H
#define SRT_CUDA_KERNELS_H

#include "backend.h"
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* conv1d.cuh */
int srt_cuda_conv1d_depthwise_fits(const srt_conv1d_args *a);
srt_status srt_cuda_conv1d_depthwise(const srt_conv1d_args *a, const int *valid, cudaStream_t stream);
srt_status srt_cuda_conv1d_direct(const srt_conv1d_args *a, const int *valid, cudaStream_t stream);
/* col (n_items, in_ch*kernel, out_len) for batch items [b0, b0+n_items) */
srt_status srt_cuda_conv1d_im2col(const srt_conv1d_args *a, const int *valid, int b0, int n_items, float *col,
                                  cudaStream_t stream);
/* y (batch, ch, len) += bias[c] (if any) + residual (if any) */
srt_status srt_cuda_bias_residual(float *y, const float *bias, const float *residual, int batch, int ch, int len,
                                  cudaStream_t stream);

/* conv_igemm.cuh: dense (groups 1) conv1d / conv_transpose1d as implicit GEMMs (no im2col, no cols / col2im;
 * mask + Snake on load, bias + residual in the epilogue) */
int srt_cuda_conv1d_igemm_fits(const srt_conv1d_args *a);
/* grids of >= blocks (without a split) fold their split ranges in the block (default 264; <= 0 restores it) */
void srt_cuda_igemm_set_fold_blocks(int64_t blocks);
/* ... counting the grid at max(batch, plan batch) items (default 1: the batch; the GPU model's runs) */
void srt_cuda_igemm_set_plan_batch(int64_t batch);
/* tensor-core convs: 2 column tiles of the batch per block (default), or 1: one tile of one item per block */
void srt_cuda_igemm_set_cols(int cols);
enum { SRT_CUDA_FP32 = 0, SRT_CUDA_TF32 = 1, SRT_CUDA_BF16 = 2 };   /* precision of the dense convs */
/* part: device workspace of *_part_floats(a) floats for the split reduction of small grids (0: no split), or NULL
 * (never split) */
size_t srt_cuda_conv1d_igemm_part_floats(const srt_conv1d_args *a);
srt_status srt_cuda_conv1d_igemm(const srt_conv1d_args *a, const int *valid, int precision, float *part,
                                 cudaStream_t stream);
int srt_cuda_convt1d_igemm_fits(const srt_convt1d_args *a);
size_t srt_cuda_convt1d_igemm_part_floats(const srt_convt1d_args *a);
srt_status srt_cuda_convt1d_igemm(const srt_convt1d_args *a, const int *valid, int precision, float *part,
                                  cudaStream_t stream);

/* conv_transpose1d.cuh */
/* convt1d_span.cuh: bf16, groups 1, kernel == 2 x stride, stride divides 64 (a function of the shape and precision,
 * never of the batch); one launch, column tiles spanning batch items */
int srt_cuda_convt1d_span_fits(const srt_convt1d_args *a, int precision);
srt_status srt_cuda_convt1d_span(const srt_convt1d_args *a, const int *valid, cudaStream_t stream);
/* xp (batch, ch, len) = snake?(mask(x)) */
srt_status srt_cuda_prep_input(const float *x, const float *alpha, const int *valid, float *xp, int batch, int ch,
                               int len, cudaStream_t stream);
/* y (n_items, out_ch, out_len) = bias + overlap-add of cols (n_items, out_ch*kernel, in_len) */
srt_status srt_cuda_col2im(const float *cols, const float *bias, float *y, int n_items, int out_ch, int kernel,
                           int in_len, int out_len, int stride, int padding, cudaStream_t stream);
srt_status srt_cuda_convt1d_direct(const srt_convt1d_args *a, const int *valid, cudaStream_t stream);

/* elementwise and small ops */
srt_status srt_cuda_snake(const srt_snake_args *a, cudaStream_t stream);
srt_status srt_cuda_unary(const srt_unary_args *a, cudaStream_t stream);
srt_status srt_cuda_axpby(const srt_axpby_args *a, cudaStream_t stream);
srt_status srt_cuda_noise_add(const srt_noise_add_args *a, cudaStream_t stream);
srt_status srt_cuda_avgpool(const srt_avgpool_args *a, cudaStream_t stream);
srt_status srt_cuda_upsample_add(const srt_upsample_add_args *a, cudaStream_t stream);
srt_status srt_cuda_layernorm(const srt_layernorm_args *a, cudaStream_t stream);
srt_status srt_cuda_transpose(const srt_transpose_args *a, cudaStream_t stream);
srt_status srt_cuda_copy2d(const srt_copy2d_args *a, cudaStream_t stream);
/* items_dev: n descriptors in device memory; max_total: the largest rows * cols among them */
srt_status srt_cuda_copy2d_batch(const srt_copy2d_args *items_dev, int n, int64_t max_total, cudaStream_t stream);
srt_status srt_cuda_local_attention(const srt_local_attn_args *a, int precision, cudaStream_t stream);
srt_status srt_cuda_vq_nearest(const srt_vq_args *a, cudaStream_t stream);
/* bad_frame: device int preset to INT_MAX-ish; receives the lowest (b*len+t) whose code is out of range */
srt_status srt_cuda_embed(const srt_embed_args *a, int *bad_frame, cudaStream_t stream);
/* dst (n) f32 = src (n) bf16 (is_bf16) or f16 bits */
srt_status srt_cuda_half_to_f32(const uint16_t *src, float *dst, int64_t n, int is_bf16, cudaStream_t stream);

/* dst (rows, cols) packed bf16 = src (rows, cols) f32 with row stride ld, rounded to nearest even */
srt_status srt_cuda_f32_to_bf16_rows(const float *src, int64_t ld, int64_t rows, int64_t cols, uint16_t *dst,
                                     cudaStream_t stream);
/* gemm_split_bf16.cuh (the GEMM of bf16 weights above the small-M rows, cublas.c srt_cuda_gemm_split):
 * lo set (LM precision exact): dst (2 rows, cols) packed bf16: rows [0, rows) bf16(x), rows [rows, 2 rows)
 * bf16(x - bf16(x)); lo 0 (LM precision bf16): dst (rows, cols) = bf16(x) only (round to nearest even, overflow to
 * Inf, NaN quiet: host/dtype.c). x = src (rows, cols) f32 with row stride ld, or, when norm_w (cols) is set,
 * RMSNorm(src) (src packed: ld = cols; as lm_rmsnorm.cuh) */
srt_status srt_cuda_split_bf16_rows(const float *src, int64_t ld, int64_t rows, int64_t cols, const float *norm_w,
                                    float eps, int lo, uint16_t *dst, cudaStream_t stream);
/* the sum of the halves of c2 (2 rows, cols) packed f32 (single: c2 (rows, cols), one product, no lo half), by mode
 * (SRT_SMALL_M_* below; "c2[r] + c2[rows + r]" reads c2[r] alone when single):
 *   PLAIN   C (rows, cols; row stride ldc) = alpha (c2[r] + c2[rows + r]) + beta C
 *   SPLIT3  columns [0,n0) -> y0 (rows,n0), [n0,n0+n1) -> y1 (rows,n1), the rest -> y2 (alpha; beta must be 0)
 *   SWIGLU  y0 (rows, cols/2) = silu(g) * u, g / u the sums (alpha) of columns 2j / 2j+1 */
typedef struct srt_cuda_split_sum_args {
    const float *c2;
    int64_t rows, cols;
    int single;                 /* 1: c2 holds one product (LM precision bf16), 0: hi and lo halves (exact) */
    float alpha, beta;
    int mode, n0, n1;
    float *C;
    int64_t ldc;
    float *y0, *y1, *y2;
    uint16_t *y0_bf16;          /* SWIGLU, or NULL: also bf16(y0) (rows, cols/2) packed, nearest even (the A of a
                                   following bf16 GEMM: cublas.c's SwiGLU hand-off) */
} srt_cuda_split_sum_args;
srt_status srt_cuda_sum_split_rows(const srt_cuda_split_sum_args *a, cudaStream_t stream);
/* The decode GEMM (gemm_small_m.cuh): C (M,N) = alpha A (M,K) @ B^T + beta C with B (N,K) bf16/f16 read directly
 * (or int8 codes times g.b_scale per column, gemm_small_m_i8_kernel),
 * M <= SRT_CUDA_GEMM_ROWS_MAX_M; larger M goes to bf16 tensor cores (cublas.c: A split in hi + lo by default).
 * Epilogue modes: */
#define SRT_CUDA_GEMM_ROWS_MAX_M 16
enum { SRT_SMALL_M_PLAIN = 0,   /* C = alpha sum + beta C */
       SRT_SMALL_M_SPLIT3 = 1,  /* columns [0,n0) -> y0 (M,n0), [n0,n0+n1) -> y1 (M,n1), [n0+n1,N) -> y2 (fused QKV) */
       SRT_SMALL_M_SWIGLU = 2,  /* B rows interleave gate/up (2j, 2j+1): y0 (M,N/2) = silu(alpha g) * alpha u */
       SRT_SMALL_M_MAX_SPLITS = 8, SRT_SMALL_M_COUNTERS = 1024 };
typedef struct srt_cuda_small_m_args {
    srt_gemm_args g;            /* C/ldc/beta used by PLAIN only */
    int mode, n0, n1;
    float *y0, *y1, *y2;
    float *ws;                  /* split-K workspace, srt_cuda_small_m_ws_floats() floats, or NULL: no split-K */
    int *counters;              /* SRT_SMALL_M_COUNTERS ints, zero between launches (the kernel resets them) */
    const float *norm_w;        /* (K) or NULL: A's rows RMS-normalized first, A[r,:] / sqrt(mean(A[r,:]^2) + eps) * w */
    float eps;
} srt_cuda_small_m_args;
size_t srt_cuda_small_m_ws_floats(void);
/* dequant_i8.cuh: dst (rows, cols) bf16 = bf16(q (rows, cols; row stride ldq) int8 * scale[row]) (int8 weights above
 * the small-M rows, cublas.c / backend_cuda_lm.c) */
srt_status srt_cuda_dequant_i8_bf16(const int8_t *q, int64_t ldq, const float *scale, int64_t rows, int64_t cols,
                                    uint16_t *dst, cudaStream_t stream);
srt_status srt_cuda_gemm_small_m(const srt_cuda_small_m_args *a, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
