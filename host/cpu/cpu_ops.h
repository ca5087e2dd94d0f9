/* cpu_ops.h: the fast "cpu" backend: its context and the ops it specializes (threads + AVX2/AVX-512/FMA +
 * OpenBLAS for the LM's 16-bit GEMMs).
 * Threading model: OpenMP owns the cores (n_threads per parallel region); OpenBLAS is kept single-threaded
 * (openblas_set_num_threads(1) at backend creation) and called from inside the parallel regions on
 * per-thread tiles, so the two never oversubscribe.
 * Batch invariance: the codec ops (conv, transposed conv, f32 gemm, Snake, tanh and the elementwise ops) give
 * every output element one fixed arithmetic whatever the batch, the padded length, the work split or the thread
 * count (the GEMMs through cpu_gemm_fixed.h, not OpenBLAS, whose reduction per element changes with M and N).
 * Semantics of every op: host/backend.h. */
#ifndef SRT_CPU_OPS_H
#define SRT_CPU_OPS_H

#include "backend.h"
#include "cpu/cpu_alloc.h"
#include "cpu/cpu_wcache.h"

typedef struct srt_cpu_ctx {
    srt_cpu_pool *pool;      /* tensor memory (cached blocks) */
    srt_cpu_pool *scratch;   /* the ops' own temporary buffers (packed weights, unrolled inputs, GEMM workspaces):
                              * cached apart from the tensors so they never evict the graph's workspaces */
    int n_threads;           /* OpenMP threads per op */
    int has_avx2;            /* AVX2 + FMA available at run time */
    int lm_precision;        /* SRT_CPU_LM_BF16 (default) or SRT_CPU_LM_EXACT: SNACRT_CPU_LM_PRECISION, cpu_gemm.c */
    srt_cpu_wcache *wcache;  /* packed copies of w_static conv weights, dropped when their block is freed */
} srt_cpu_ctx;

/* How the gemm meets bf16 weights (SNACRT_CPU_LM_PRECISION=exact|bf16, read at backend creation; an unknown value
 * is refused by name):
 *  SRT_CPU_LM_BF16 (default): with bf16 B stored (N,K) (the LM's Linear weights) on a CPU with AVX-512 BF16,
 *    for every M (decode and prefill), A is rounded to bf16 and multiplied by vdpbf16ps with f32 accumulation (what a bf16 PyTorch or
 *    llama.cpp model computes; <= 2^-8 relative per product; 2.5-3x the f32 kernel at batch 8-64, bench/README.md). Every M
 *    takes the same kernel, so a row's result does not depend on how many rows share its step. Otherwise (other
 *    CPUs, f16/f32 B) as exact;
 *  SRT_CPU_LM_EXACT: f32 activations times the exactly widened weights, f32 accumulation (the golden tolerances). */
enum { SRT_CPU_LM_EXACT = 0, SRT_CPU_LM_BF16 = 1 };
/* Parses name ("exact" or "bf16") into *precision; SRT_ERR_INVALID_ARG naming `what` and the value otherwise. */
srt_status srt_cpu_lm_precision_parse(const char *what, const char *name, int *precision);

/* A temporary buffer of the ops (64-byte aligned, cached in ctx->scratch; NULL when out of memory), and its release. */
void *srt_cpu_scratch_alloc(const srt_cpu_ctx *ctx, size_t bytes);
void srt_cpu_scratch_free(const srt_cpu_ctx *ctx, void *p);

/* The process-wide AVX2+FMA check (cached). */
int srt_cpu_has_avx2(void);
/* Tests: on != 0 makes srt_cpu_has_avx2() report no AVX2, so Snake, tanh and (in a cpu backend created while it
 * is on) the depthwise conv take their scalar fallbacks on an AVX2 machine; 0 restores the real check. */
void srt_cpu_force_scalar(int on);

srt_status srt_cpu_conv1d(void *ctx, const srt_conv1d_args *a);
srt_status srt_cpu_conv_transpose1d(void *ctx, const srt_convt1d_args *a);
srt_status srt_cpu_snake(void *ctx, const srt_snake_args *a);
srt_status srt_cpu_gemm(void *ctx, const srt_gemm_args *a);
srt_status srt_cpu_layernorm(void *ctx, const srt_layernorm_args *a);
srt_status srt_cpu_transpose(void *ctx, const srt_transpose_args *a);
srt_status srt_cpu_local_attention(void *ctx, const srt_local_attn_args *a);
srt_status srt_cpu_avgpool(void *ctx, const srt_avgpool_args *a);
srt_status srt_cpu_upsample_add(void *ctx, const srt_upsample_add_args *a);
srt_status srt_cpu_vq_nearest(void *ctx, const srt_vq_args *a);
srt_status srt_cpu_embed(void *ctx, const srt_embed_args *a);
srt_status srt_cpu_unary(void *ctx, const srt_unary_args *a);
srt_status srt_cpu_axpby(void *ctx, const srt_axpby_args *a);
srt_status srt_cpu_noise_add(void *ctx, const srt_noise_add_args *a);
srt_status srt_cpu_copy2d(void *ctx, const srt_copy2d_args *a);

/* Row kernels shared by the ops (cpu_rows.c); all dispatch AVX2/scalar at run time.
 * dst[i] = snake(src[i], alpha) for i < n, with positions >= valid read as 0 (a select). dst may equal src. */
void srt_cpu_snake_row(float *dst, const float *src, int n, int valid, float alpha);
/* dst[i] = (i < valid) ? src[i] : 0 — masked copy. */
void srt_cpu_mask_row(float *dst, const float *src, int n, int valid);
/* dst[i] = tanh(src[i]). */
void srt_cpu_tanh_row(float *dst, const float *src, int64_t n);

#endif
