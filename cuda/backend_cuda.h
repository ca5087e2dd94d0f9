/* backend_cuda.h: the private state of the CUDA backend, shared by backend_cuda.c (table, memory, dispatch)
 * and cublas.c (the GEMM-based ops). */
#ifndef SRT_BACKEND_CUDA_H
#define SRT_BACKEND_CUDA_H

#include "backend.h"
#include "cuda/kernels.h"
#include "cuda/pool.h"
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

enum { SRT_CUDA_SCRATCH_SLOTS = 2 };
enum { SRT_CUDA_BF16_GEMM_SPLIT = 0, SRT_CUDA_BF16_GEMM_SINGLE = 1, SRT_CUDA_BF16_GEMM_WIDEN = 2 };
/* The LM precision (SNACRT_CUDA_LM_PRECISION=bf16|exact, read at backend creation, an unknown value refused by name;
 * as the cpu backend's SNACRT_CPU_LM_PRECISION): how GEMMs with bf16 weights above the small-M rows meet their f32
 * activations.
 *  SRT_CUDA_LM_BF16 (default): rounded to bf16 once (in the kernel that already reads them: the fused RMSNorm, else
 *    one rounding pass), one bf16 x bf16 -> f32 tensor-core GEMM (bf16_gemm SINGLE; <= 2^-8 relative per
 *    activation, as PyTorch / vLLM bf16 models compute). The small-M decode kernel (<= small_m_rows rows) keeps f32
 *    activations (its norm is applied after the sums: the normalized value a rounding would need does not exist
 *    there), so a row's result depends on whether its step has more rows than that (by the bf16 bound);
 *  SRT_CUDA_LM_EXACT: split into bf16 hi + lo (bf16_gemm SPLIT, f32-level results; the golden tests run it). */
enum { SRT_CUDA_LM_EXACT = 0, SRT_CUDA_LM_BF16 = 1 };

typedef struct srt_cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    int tf32;                       /* SNACRT_CUDA_TF32=1: dense convs and GEMMs on TF32 tensor cores */
    int precision;                  /* dense codec convs: SRT_CUDA_FP32 / TF32 / BF16 (kernels.h); the codec's
                                     * precision option, else SNACRT_CUDA_PRECISION=fp32|tf32|bf16 */
    int fp32_igemm;                 /* SNACRT_CUDA_FP32_IGEMM=1: precision fp32 through the FMA implicit GEMM */
    int lm_precision;               /* SRT_CUDA_LM_BF16 (default) / SRT_CUDA_LM_EXACT: SNACRT_CUDA_LM_PRECISION */
    int bf16_gemm;                  /* GEMMs above the small-M rows with bf16 weights (batched decode, prefill;
                                       cublas.c): SRT_CUDA_BF16_GEMM_SINGLE (LM precision bf16: A rounded to bf16
                                       once), _SPLIT (exact: A split in hi + lo, f32-level results), _WIDEN
                                       (weights widened to f32, cublasSgemm); SNACRT_CUDA_BF16_GEMM=1|split|0
                                       overrides the precision's choice (comparisons) */
    int small_m_rows;               /* bf16 weights in bf16_gemm single / split mode: GEMMs of at most this many rows
                                       take gemm_small_m.cuh, more the tensor-core GEMM; SNACRT_CUDA_SMALL_M_ROWS
                                       (0..SRT_CUDA_GEMM_ROWS_MAX_M; 0: never), default
                                       SRT_CUDA_SMALL_M_ROWS_DEFAULT (single) / _EXACT (split) */
    float *small_m_ws;              /* split-K workspace of gemm_small_m.cuh (srt_cuda_small_m_ws_floats()) */
    int *small_m_counters;          /* its per-tile arrival counters (SRT_SMALL_M_COUNTERS, zeroed once) */
    int *attn_counters;             /* decode attention's per-unit arrival counters (SRT_CUDA_ATTN_COUNTERS, zeroed once) */
    size_t scratch_cap;             /* max bytes of one scratch slot (im2col chunking); SNACRT_CUDA_SCRATCH_MB */
    srt_cuda_pool pool;
    void *scratch[SRT_CUDA_SCRATCH_SLOTS];   /* device work buffers (im2col, cols, widened weights) */
    size_t scratch_bytes[SRT_CUDA_SCRATCH_SLOTS];
    int *valid_dev; int valid_cap;  /* device copy of in_valid (clamped) */
    int *valid_host;                /* host staging of the same */
    int *flag_dev;                  /* one device int: bad code frame of embed */
    void *pinned; size_t pinned_bytes;   /* pinned staging buffer for upload/download */
    size_t pinned_head;             /* uploads use it as a ring: next free byte (backend_cuda.c: cu_upload) */
    void *lm_graphs;                /* recorded decode steps (lm_graph.c), NULL until the first forward */
    int cg_mode;                    /* a recorded codec pass is running (codec_graph.c): 0, SRT_CUDA_CG_SHADOW (host
                                     * only: ops return at once) or SRT_CUDA_CG_RUN */
    void *codec_graph;              /* its state (codec_graph.c), NULL until the first one */
    cudaStream_t copy_stream;       /* uploads of batches in flight (backend_cuda_async.c), created on first use */
    cudaEvent_t copy_done;          /* the last such upload: the stream waits for it */
    /* the bf16 hand-off (cublas.c): the last fused gate|up (LM precision bf16; the SwiGLU sum) or prefill attention
     * (qkv_rope_store_attention, backend_cuda_lm.c; its tensor-core epilogue) left bf16(swiglu_of) (rows, cols)
     * packed in scratch slot 0 at swiglu_bf16; the next GEMM with A == swiglu_of takes it as its bf16 A (no
     * rounding launch). Cleared by that GEMM, by any GEMM, and whenever slot 0 is handed out again. */
    int prefill_fuse;               /* qkv_rope_store_attention fuses (default 1; SNACRT_CUDA_PREFILL_FUSE=0: off) */
    const float *swiglu_of;
    const uint16_t *swiglu_bf16;
    int64_t swiglu_rows, swiglu_cols;
} srt_cuda_ctx;

enum { SRT_CUDA_CG_SHADOW = 1, SRT_CUDA_CG_RUN = 2 };
/* In an op: return at once during a recorded codec pass's shadow pass (codec_graph.c). */
#define SRT_CUDA_SHADOW_RETURN(c) do { if ((c)->cg_mode == SRT_CUDA_CG_SHADOW) return SRT_OK; } while (0)

/* Rows up to which a half-precision weight GEMM takes gemm_small_m.cuh (above: tensor cores). The crossover of
 * the two paths for bf16 weights, from the GPU model (bench/GPU_MODEL.md section 6; ms per 3B decode step, context
 * 515): single mode (LM precision bf16) M 3: 2.78 small-M vs 2.80 tensor cores, M 4: 2.91 vs 2.80, so 3; split mode
 * (exact, twice the rows) M 4: 3.18 vs 3.24, M 8: 3.83 vs 3.39, so 4. Widen and f16 keep the small-M kernel up to
 * its limit (their alternative is slower). SNACRT_CUDA_SMALL_M_ROWS overrides both. */
#define SRT_CUDA_SMALL_M_ROWS_DEFAULT 3   /* bf16_gemm single (the default LM precision bf16) */
#define SRT_CUDA_SMALL_M_ROWS_EXACT 4     /* bf16_gemm split (LM precision exact) */
static inline int srt_cuda_bf16_tensor_cores(const srt_cuda_ctx *c) {
    return c->bf16_gemm == SRT_CUDA_BF16_GEMM_SPLIT || c->bf16_gemm == SRT_CUDA_BF16_GEMM_SINGLE;
}
static inline int srt_cuda_small_m_limit(const srt_cuda_ctx *c, srt_dtype w) {
    return w == SRT_BF16 && srt_cuda_bf16_tensor_cores(c) ? c->small_m_rows : SRT_CUDA_GEMM_ROWS_MAX_M;
}

/* backend_cuda_async.c: pinned memory, copy-stream uploads, fences (srt_async_ops) */
extern const srt_async_ops srt_cuda_async_ops;
void srt_cuda_async_destroy(srt_cuda_ctx *c);

/* A device work buffer of at least `bytes` in slot `slot` (grown on demand, kept for the next op). */
srt_status srt_cuda_scratch(srt_cuda_ctx *c, int slot, size_t bytes, void **ptr);
/* precision of the dense codec convs by name: fp32, tf32, bf16 (else SRT_ERR_ARG) */
srt_status srt_cuda_set_precision(srt_cuda_ctx *c, const char *name);
/* Device array of the clamped valid lengths, or NULL when in_valid is NULL. */
srt_status srt_cuda_valid(srt_cuda_ctx *c, const int *in_valid, int batch, int in_len, const int **dev);

/* The pinned-ring upload of the table (stream-ordered, does not wait). */
srt_status srt_cuda_upload(void *ctx, void *dst, const void *src_host, size_t bytes);

/* codec_graph.c: recorded codec passes (srt_backend_ops.graph_run) and the hooks alloc / free / srt_cuda_valid
 * call while one runs (cg_mode set). */
srt_status srt_cuda_codec_graph_run(void *ctx, uint64_t key, srt_codec_graph_body body, void *arg);
void srt_cuda_codec_graph_free(srt_cuda_ctx *c);
srt_status srt_cuda_cg_alloc(srt_cuda_ctx *c, size_t bytes, void **ptr);
int srt_cuda_cg_free(srt_cuda_ctx *c, void *ptr);   /* 1: one of the pass's kept work buffers (not freed) */
srt_status srt_cuda_cg_valid(srt_cuda_ctx *c, const int *in_valid, int batch, int in_len, const int **dev);

/* cublas.c */
srt_status srt_cuda_gemm(void *ctx, const srt_gemm_args *a);
/* bf16 weights on tensor cores with A split in hi + lo (exact) or rounded once (single) (RMS-normalized first when
 * norm_w is set; A then packed), the halves summed by ep (mode, alpha, beta and the destinations; c2 / rows / cols /
 * row offsets / single are set here) */
srt_status srt_cuda_gemm_split(srt_cuda_ctx *c, const srt_gemm_args *a, const float *norm_w, float eps,
                               const srt_cuda_split_sum_args *ep);
srt_status srt_cuda_conv1d_dense(srt_cuda_ctx *c, const srt_conv1d_args *a, const int *valid);
srt_status srt_cuda_convt1d_dense(srt_cuda_ctx *c, const srt_convt1d_args *a, const int *valid);

/* lm_linear_split.c: srt_linear_fused_args (host/lm/lm_ops.h) above the small-M rows, bf16 weights, single or split
 * mode */
struct srt_linear_fused_args;
srt_status srt_cuda_linear_fused_split(srt_cuda_ctx *c, const struct srt_linear_fused_args *a);
/* q|k|v (SPLIT3) in LM precision bf16 above the small-M rows, as one chunk: the norm + rounding launch and the
 * GEMM only, the product (rows, N) f32 left in scratch slot 0 at *qkv (no scatter: the qkv_rope_store_attention
 * op's rope reads it); *qkv NULL (nothing launched) when a takes srt_cuda_linear_fused_split's path instead */
srt_status srt_cuda_linear_qkv_product(srt_cuda_ctx *c, const struct srt_linear_fused_args *a, const float **qkv);

#endif
