/* cublas.c: the ops of the CUDA backend that are GEMMs on cuBLAS (row-major data, column-major cuBLAS):
 *   gemm               C (M,N) = alpha op(A) op(B) + beta C. A bf16/f16 Linear weight B (N,K) with few rows
 *                      (decode: srt_cuda_small_m_limit) goes to gemm_small_m.cuh, which reads the weights once as they are (split-K
 *                      workspace from the context). More rows with a bf16 B (batched decode, prefill) take bf16
 *                      tensor cores, the weights read once as stored (cublasGemmEx bf16 x bf16 -> f32; it takes one
 *                      dtype for A and B), by the context's bf16_gemm mode (SNACRT_CUDA_LM_PRECISION, overridden
 *                      by SNACRT_CUDA_BF16_GEMM; backend_cuda.c), both through srt_cuda_gemm_split:
 *                        single (LM precision bf16, the default)  A rounded to bf16 once (as a PyTorch / vLLM
 *                                         bf16 model computes: <= 2^-8 relative per activation), one GEMM of M
 *                                         rows, C written by cuBLAS (alpha, beta);
 *                        split (exact)    A split into bf16 hi + lo rows, one GEMM of 2M rows, the halves summed
 *                                         (gemm_split_bf16.cuh): A kept to ~2^-17, f32-level results;
 *                                         srt_cuda_gemm_split also serves the fused projections above the
 *                                         small-M rows (lm_linear_split.c: norm in the split / rounding, q|k|v or
 *                                         SwiGLU in the sum);
 *                        widen (=0)       the f32 path below, for comparison.
 *                      Otherwise cublasSgemm on the transposed problem, a half B widened to f32 first.
 *   conv1d, groups 1   (precision fp32; tf32 / bf16 take the implicit GEMM of conv_igemm.cuh)
 *                      per item: y (out_ch, out_len) = W (out_ch, in_ch*k) @ col (in_ch*k, out_len), col from the
 *                      im2col kernel (mask + Snake fused) or x itself for a plain 1x1 conv; strided-batched over
 *                      items, chunked so col stays under scratch_cap; bias/residual in an epilogue kernel
 *                      (a residual aliasing y is folded in as beta = 1).
 *   conv_transpose1d   (TF32 mode only, likewise) per item: cols (out_ch*k, in_len) = W^T (out_ch*k, in_ch) @ x' (in_ch, in_len), then col2im.
 * TF32 tensor cores when the context asks (SNACRT_CUDA_TF32=1); fp32 otherwise. */
#include "cuda/backend_cuda.h"
#include "cuda/check.h"
#include "cuda/kernels.h"

/* bf16_gemm split (exact): A2 (2m,K) bf16 = [bf16(A); bf16(A - bf16(A))] (A RMS-normalized first when
 * norm_w is set), C2 (2m,N) f32 = A2 op(B) in one GEMM (the weights read once), then the halves summed by ep's
 * mode (PLAIN: C = alpha (C2[0:m] + C2[m:2m]) + beta C; SPLIT3 / SWIGLU: ep's y0..y2).
 * bf16_gemm single (LM precision bf16): A2 (m,K) = bf16(A) (rounded once, in the same kernel as the norm), C2 (m,N)
 * = A2 op(B); PLAIN has cuBLAS write C (alpha, beta) directly (no C2, no sum launch), SPLIT3 / SWIGLU take the sum
 * kernel on the one product (ep->single). Each element of A is rounded alone, so a row's activations do not depend
 * on its batch mates (its sums follow cuBLAS's algorithm for the shape).
 * Scratch slot 0 holds A2 then C2 (one allocation: slot 1 may be live in a caller; nothing else holds slot 0 across
 * an op). Rows go in chunks of m so that A2 + C2 stay within scratch_cap (one chunk unless M x N is large: all-row
 * logits of a long prefill).
 * SwiGLU hand-off (single, one chunk): the SWIGLU sum also writes bf16(y0) into slot 0 after C2 and the context
 * remembers it (srt_cuda_ctx.swiglu_of); the next call, when it is a PLAIN GEMM whose A is that y0 (the MLP's down
 * projection), takes those bf16 rows as its A2: the rounding it would do itself, without its launch. */
srt_status srt_cuda_gemm_split(srt_cuda_ctx *c, const srt_gemm_args *a, const float *norm_w, float eps,
                               const srt_cuda_split_sum_args *ep) {
    const int single = c->bf16_gemm == SRT_CUDA_BF16_GEMM_SINGLE, halves = single ? 1 : 2;
    const int direct = single && ep->mode == SRT_SMALL_M_PLAIN;   /* cuBLAS writes C itself */
    const int handed = direct && !norm_w && c->swiglu_of && a->A == c->swiglu_of && a->lda == a->K &&
                       a->M == c->swiglu_rows && a->K == c->swiglu_cols;
    const uint16_t *handed_a2 = c->swiglu_bf16;
    c->swiglu_of = NULL;                   /* valid for this call only */
    if (handed) {
        SRT_CHECK_CUBLAS(cublasGemmEx(c->blas, a->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, a->N, a->M, a->K,
                                      &ep->alpha, a->B, CUDA_R_16BF, a->ldb, handed_a2, CUDA_R_16BF, a->K, &ep->beta,
                                      a->C, CUDA_R_32F, a->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return SRT_OK;
    }
    size_t row_bytes = (size_t)halves * a->K * sizeof(uint16_t) + (direct ? 0 : (size_t)halves * a->N * sizeof(float));
    int64_t chunk = (int64_t)(c->scratch_cap / row_bytes);
    if (chunk < 1) chunk = 1;
    if (chunk > a->M) chunk = a->M;
    size_t a2_bytes = ((size_t)halves * chunk * a->K * sizeof(uint16_t) + 255) & ~(size_t)255;
    size_t c2_bytes = direct ? 0 : (size_t)halves * chunk * a->N * sizeof(float);
    const int hand_off = single && ep->mode == SRT_SMALL_M_SWIGLU && chunk == a->M;
    size_t out_bytes = hand_off ? (size_t)chunk * (size_t)(a->N / 2) * sizeof(uint16_t) : 0;
    void *buf = NULL;
    SRT_TRY(srt_cuda_scratch(c, 0, a2_bytes + c2_bytes + out_bytes, &buf));
    uint16_t *a2 = buf;
    float *c2 = (float *)((char *)buf + a2_bytes);
    uint16_t *y0_bf16 = hand_off ? (uint16_t *)((char *)buf + a2_bytes + c2_bytes) : NULL;
    const float one = 1.0f, zero = 0.0f;
    cublasOperation_t op_b = a->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int64_t n2 = (int64_t)a->N - ep->n0 - ep->n1;
    for (int64_t m0 = 0; m0 < a->M; m0 += chunk) {
        int m = (int)(a->M - m0 < chunk ? a->M - m0 : chunk);
        SRT_TRY(srt_cuda_split_bf16_rows(a->A + m0 * a->lda, a->lda, m, a->K, norm_w, eps, !single, a2, c->stream));
        if (direct) {
            SRT_CHECK_CUBLAS(cublasGemmEx(c->blas, op_b, CUBLAS_OP_N, a->N, m, a->K, &ep->alpha, a->B, CUDA_R_16BF,
                                          a->ldb, a2, CUDA_R_16BF, a->K, &ep->beta, a->C + m0 * a->ldc, CUDA_R_32F,
                                          a->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
            continue;
        }
        SRT_CHECK_CUBLAS(cublasGemmEx(c->blas, op_b, CUBLAS_OP_N, a->N, halves * m, a->K, &one, a->B, CUDA_R_16BF,
                                      a->ldb, a2, CUDA_R_16BF, a->K, &zero, c2, CUDA_R_32F, a->N, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
        srt_cuda_split_sum_args s = *ep;
        s.c2 = c2;
        s.single = single;
        s.rows = m;
        s.cols = a->N;
        if (s.mode == SRT_SMALL_M_PLAIN) s.C = a->C + m0 * a->ldc;
        if (s.mode == SRT_SMALL_M_SPLIT3) {
            s.y0 = ep->y0 + m0 * ep->n0;
            s.y1 = ep->y1 + m0 * ep->n1;
            s.y2 = ep->y2 ? ep->y2 + m0 * n2 : NULL;
        }
        if (s.mode == SRT_SMALL_M_SWIGLU) {
            s.y0 = ep->y0 + m0 * (a->N / 2);
            s.y0_bf16 = y0_bf16;
        }
        SRT_TRY(srt_cuda_sum_split_rows(&s, c->stream));
    }
    if (hand_off) {
        c->swiglu_of = ep->y0;
        c->swiglu_bf16 = y0_bf16;
        c->swiglu_rows = a->M;
        c->swiglu_cols = a->N / 2;
    }
    return SRT_OK;
}

/* int8 weights above the small-M rows: chunks of weight rows (output columns) widened to bf16 with their scales
 * (dequant_i8.cuh) into scratch slot 1 (at most a quarter of scratch_cap), each chunk then the bf16 GEMM of its
 * columns of C. Weight traffic 1 + 2 + 2 bytes per weight (int8 read, bf16 written and read): the price of tensor
 * cores for prefill; decode batches up to SRT_CUDA_GEMM_ROWS_MAX_M rows stay on the int8 small-M kernel. */
static srt_status gemm_i8_wide(srt_cuda_ctx *c, const srt_gemm_args *a) {
    int64_t chunk = (int64_t)(c->scratch_cap / 4 / ((size_t)a->K * sizeof(uint16_t)));
    if (chunk < 64) chunk = 64;
    if (chunk > a->N) chunk = a->N;
    void *buf = NULL;
    SRT_TRY(srt_cuda_scratch(c, 1, (size_t)chunk * a->K * sizeof(uint16_t), &buf));
    for (int64_t n0 = 0; n0 < a->N; n0 += chunk) {
        int nc = (int)(a->N - n0 < chunk ? a->N - n0 : chunk);
        SRT_TRY(srt_cuda_dequant_i8_bf16((const int8_t *)a->B + n0 * a->ldb, a->ldb, a->b_scale + n0, nc, a->K, buf,
                                         c->stream));
        srt_gemm_args g = *a;
        g.N = nc;
        g.B = buf;
        g.ldb = a->K;
        g.b_dtype = SRT_BF16;
        g.b_scale = NULL;
        g.C = a->C + n0;
        SRT_TRY(srt_cuda_gemm(c, &g));
    }
    return SRT_OK;
}

/* Row-major (rows, cols) matrices as cuBLAS column-major: C^T = B^T A^T. */
srt_status srt_cuda_gemm(void *ctx, const srt_gemm_args *a) {
    srt_cuda_ctx *c = ctx;
    if (a->M == 0 || a->N == 0) return SRT_OK;
    /* decode: a Linear weight in bf16/f16 times a few rows: read the weights once, as they are */
    const int small = srt_cuda_small_m_limit(c, a->b_dtype);
    if (a->b_dtype != SRT_F32 && a->trans_b && !a->trans_a && a->M <= small) {
        c->swiglu_of = NULL;
        srt_cuda_small_m_args s = {.g = *a, .mode = SRT_SMALL_M_PLAIN, .ws = c->small_m_ws,
                                   .counters = c->small_m_counters};
        return srt_cuda_gemm_small_m(&s, c->stream);
    }
    if (a->b_dtype == SRT_I8) return gemm_i8_wide(c, a);
    if (a->b_dtype == SRT_BF16 && !a->trans_a && a->M > small && c->bf16_gemm != SRT_CUDA_BF16_GEMM_WIDEN) {
        srt_cuda_split_sum_args ep = {.alpha = a->alpha, .beta = a->beta, .mode = SRT_SMALL_M_PLAIN, .ldc = a->ldc};
        return srt_cuda_gemm_split(c, a, NULL, 0.0f, &ep);
    }
    c->swiglu_of = NULL;   /* the SwiGLU hand-off serves the next GEMM only (srt_cuda_gemm_split) */
    const float *B = a->B;
    if (a->b_dtype != SRT_F32) {
        int rows = a->trans_b ? a->N : a->K, cols = a->trans_b ? a->K : a->N;
        int64_t n = rows ? (int64_t)(rows - 1) * a->ldb + cols : 0;
        void *wide = NULL;
        SRT_TRY(srt_cuda_scratch(c, 0, (size_t)(n ? n : 1) * sizeof(float), &wide));
        SRT_TRY(srt_cuda_half_to_f32(a->B, wide, n, a->b_dtype == SRT_BF16, c->stream));
        B = wide;
    }
    cublasOperation_t op_b = a->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = a->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    SRT_CHECK_CUBLAS(cublasSgemm(c->blas, op_b, op_a, a->N, a->M, a->K, &a->alpha, B, a->ldb, a->A, a->lda, &a->beta,
                                 a->C, a->ldc));
    return SRT_OK;
}

static int items_per_chunk(const srt_cuda_ctx *c, size_t bytes_per_item, int batch) {
    size_t n = bytes_per_item ? c->scratch_cap / bytes_per_item : (size_t)batch;
    if (n < 1) n = 1;
    return n > (size_t)batch ? batch : (int)n;
}

srt_status srt_cuda_conv1d_dense(srt_cuda_ctx *c, const srt_conv1d_args *a, const int *valid) {
    int CK = a->in_ch * a->kernel;
    int direct = a->kernel == 1 && a->stride == 1 && a->padding == 0 && !a->in_alpha && !valid;
    float one = 1.0f, zero = 0.0f;
    const float *beta = a->residual && a->residual == a->y ? &one : &zero;
    size_t col_item = (size_t)CK * a->out_len * sizeof(float);
    int chunk = direct ? a->batch : items_per_chunk(c, col_item, a->batch);
    for (int b0 = 0; b0 < a->batch; b0 += chunk) {
        int nb = a->batch - b0 < chunk ? a->batch - b0 : chunk;
        const float *col;
        if (direct) {
            col = a->x + (size_t)b0 * a->in_ch * a->in_len;
        } else {
            void *buf = NULL;
            SRT_TRY(srt_cuda_scratch(c, 0, col_item * (size_t)nb, &buf));
            SRT_TRY(srt_cuda_conv1d_im2col(a, valid, b0, nb, buf, c->stream));
            col = buf;
        }
        SRT_CHECK_CUBLAS(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, a->out_len, a->out_ch, CK, &one,
                                                   col, a->out_len, (long long)CK * a->out_len, a->w, CK, 0, beta,
                                                   a->y + (size_t)b0 * a->out_ch * a->out_len, a->out_len,
                                                   (long long)a->out_ch * a->out_len, nb));
    }
    const float *residual = a->residual && a->residual != a->y ? a->residual : NULL;
    return srt_cuda_bias_residual(a->y, a->bias, residual, a->batch, a->out_ch, a->out_len, c->stream);
}

srt_status srt_cuda_convt1d_dense(srt_cuda_ctx *c, const srt_convt1d_args *a, const int *valid) {
    const float *xp = a->x;
    if (a->in_alpha || valid) {
        void *buf = NULL;
        SRT_TRY(srt_cuda_scratch(c, 1, (size_t)a->batch * a->in_ch * a->in_len * sizeof(float), &buf));
        SRT_TRY(srt_cuda_prep_input(a->x, a->in_alpha, valid, buf, a->batch, a->in_ch, a->in_len, c->stream));
        xp = buf;
    }
    int OK = a->out_ch * a->kernel;
    float one = 1.0f, zero = 0.0f;
    size_t cols_item = (size_t)OK * a->in_len * sizeof(float);
    int chunk = items_per_chunk(c, cols_item, a->batch);
    for (int b0 = 0; b0 < a->batch; b0 += chunk) {
        int nb = a->batch - b0 < chunk ? a->batch - b0 : chunk;
        void *cols = NULL;
        SRT_TRY(srt_cuda_scratch(c, 0, cols_item * (size_t)nb, &cols));
        SRT_CHECK_CUBLAS(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, a->in_len, OK, a->in_ch, &one,
                                                   xp + (size_t)b0 * a->in_ch * a->in_len, a->in_len,
                                                   (long long)a->in_ch * a->in_len, a->w, OK, 0, &zero, cols, a->in_len,
                                                   (long long)OK * a->in_len, nb));
        SRT_TRY(srt_cuda_col2im(cols, a->bias, a->y + (size_t)b0 * a->out_ch * a->out_len, nb, a->out_ch, a->kernel,
                                a->in_len, a->out_len, a->stride, a->padding, c->stream));
    }
    return SRT_OK;
}
