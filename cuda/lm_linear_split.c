/* lm_linear_split.c: the fused projections (lm_ops.h srt_linear_fused_args) of the "cuda" backend above the small-M
 * rows, for bf16 weights in bf16_gemm single mode (LM precision bf16: the normalized activations rounded to bf16 in
 * the norm kernel) or split mode (exact: hi + lo): one split (the RMSNorm prologue inside it), one tensor-core GEMM
 * over the whole fused weight (q|k|v rows, or interleaved gate|up rows), one sum that scatters q / k / v or applies
 * SwiGLU (cublas.c srt_cuda_gemm_split, gemm_split_bf16.cuh). Three launches instead of the 7-8 of
 * srt_linear_fused_by_ops (norm, a split + GEMM + sum per part, swiglu); the same values (the norm's sums in
 * lm_rmsnorm.cuh's order, each output column the same dot product). x_normed is not written. */
#include "cuda/backend_cuda.h"
#include "lm/lm_ops.h"

srt_status srt_cuda_linear_fused_split(srt_cuda_ctx *c, const srt_linear_fused_args *a) {
    srt_gemm_args g = {.M = a->rows, .N = a->N, .K = a->K, .trans_b = 1, .alpha = 1.0f, .A = a->x, .lda = a->K,
                       .B = a->w, .ldb = a->K, .b_dtype = a->w_dtype};
    srt_cuda_split_sum_args ep = {.alpha = 1.0f, .y0 = a->y0};
    if (a->mode == SRT_LINEAR_SWIGLU) {
        ep.mode = SRT_SMALL_M_SWIGLU;
    } else {
        ep.mode = SRT_SMALL_M_SPLIT3;
        ep.n0 = a->n0;
        ep.n1 = a->n1;
        ep.y1 = a->y1;
        ep.y2 = a->y2;
    }
    return srt_cuda_gemm_split(c, &g, a->norm_w, a->eps, &ep);
}
