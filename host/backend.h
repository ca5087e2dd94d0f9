/* backend.h: the op table every compute backend fills, and the argument structs of each op.
 * The model graphs (host/snac, host/lm, host/tts) are written once against this table and never branch on the
 * backend; they call every op through the dispatch layer (srt_op_*, backend_dispatch.c), which checks the arguments
 * once for all backends (backend_check.c) and then calls the table.
 * Backends: "cpu-ref" (plain loops, the truth), "cpu" (threads + SIMD + BLAS), "cuda" (cuda/). Each defines one
 * complete const table written out in full; entries two backends share on purpose are named srt_shared_*
 * (host/cpu/shared_ops.h), and tests/test_backend_tables.c fails on any other reference entry in a fast table.
 *
 * Conventions
 *  - All tensor pointers in *_args are backend memory (device pointers for CUDA) unless marked "host".
 *  - Layouts are row-major; shapes are written beside each pointer as (dim0, dim1, ...).
 *  - Activations of the codec are (batch, channels, time) float32.
 *  - `in_valid` (host array of `batch` ints, or NULL): positions t >= in_valid[b] of the input are read as
 *    zero whatever the buffer holds (batched signals of different lengths; must be a select, not a multiply,
 *    so garbage (even NaN) in padding never leaks).
 *  - An op returns SRT_OK or a status with srt_error() set. Optional entries may be NULL (marked "optional").
 */
#ifndef SRT_BACKEND_H
#define SRT_BACKEND_H

#include "common.h"
#include <stddef.h>
#include <stdint.h>

typedef enum srt_dtype {
    SRT_F32 = 0,
    SRT_F16,
    SRT_BF16,
    SRT_F64,
    SRT_I32,
    SRT_I64,
    SRT_U8,
    SRT_I8,
    SRT_I16,
    SRT_U16,
    SRT_BOOL,
    SRT_F8E4M3,   /* fp8 e4m3 (OCP "e4m3fn": bias 7, no infinities, 0x7f / 0xff NaN, max 448); KV cache only */
    SRT_DTYPE_COUNT
} srt_dtype;

size_t srt_dtype_size(srt_dtype dt);
const char *srt_dtype_name(srt_dtype dt);

/* ---- codec ops ---- */

/* y = conv1d(snake?(mask(x)), w) + bias (+ residual). Zero padding `padding` on both sides.
 * out_len = (in_len + 2*padding - dilation*(kernel-1) - 1)/stride + 1 (caller computes, op checks). */
typedef struct srt_conv1d_args {
    int batch, in_ch, out_ch, in_len, out_len;
    int kernel, stride, dilation, padding, groups;
    const float *x;          /* (batch, in_ch, in_len) */
    const float *w;          /* (out_ch, in_ch/groups, kernel) */
    const float *bias;       /* (out_ch) or NULL */
    const float *in_alpha;   /* (in_ch) Snake alpha applied to the input first, or NULL */
    const float *residual;   /* (batch, out_ch, out_len) added to the output, or NULL; may equal y (res_ld 0) */
    const int *in_valid;     /* host (batch) or NULL */
    float *y;                /* (batch, out_ch, out_len); must not alias x */
    int w_static;            /* w (in a block from alloc) keeps its contents until its block is freed (model
                              * weights): a backend may keep a prepared copy of it keyed by the pointer */
    int res_ld;              /* residual (batch, out_ch, res_ld): its row stride, 0 = out_len; another value
                              * (>= out_len, residual not y) only on a backend whose ops set conv1d_res_ld */
} srt_conv1d_args;

/* y = conv_transpose1d(snake?(mask(x)), w) + bias, PyTorch semantics (padding cut from both ends).
 * out_len = (in_len-1)*stride - 2*padding + kernel + output_padding (caller computes). */
typedef struct srt_convt1d_args {
    int batch, in_ch, out_ch, in_len, out_len;
    int kernel, stride, padding, groups;
    const float *x;          /* (batch, in_ch, in_len) */
    const float *w;          /* (in_ch, out_ch/groups, kernel) */
    const float *bias;       /* (out_ch) or NULL */
    const float *in_alpha;   /* (in_ch) or NULL */
    const int *in_valid;     /* host (batch) or NULL */
    float *y;                /* (batch, out_ch, out_len) */
    int w_static;            /* as in srt_conv1d_args */
} srt_convt1d_args;

/* y = x + 1/(alpha+1e-9) * sin(alpha*x)^2, per channel alpha. y may equal x. */
typedef struct srt_snake_args {
    int batch, ch, len;
    const float *x;          /* (batch, ch, len) */
    const float *alpha;      /* (ch) */
    float *y;                /* (batch, ch, len) */
} srt_snake_args;

/* C = alpha * op(A) @ op(B) + beta * C, row-major. op(A) is (M,K), op(B) is (K,N).
 * trans_a: A stored (K,M); trans_b: B stored (N,K) (a PyTorch Linear weight). b_dtype: SRT_F32, SRT_BF16 or SRT_F16
 * (A and C are always f32; accumulation in f32), or SRT_I8 with trans_b: int8 per-output-channel weights
 * (docs/int8-weights.md): B (N,K) int8 codes, b_scale (N) f32, element (n,k) = B[n,k] * b_scale[n], so
 * C[m,n] = alpha * b_scale[n] * sum_k A[m,k] B[n,k] + beta * C[m,n] ("cpu-ref", "cuda"; "cpu" refuses it). */
typedef struct srt_gemm_args {
    int M, N, K;
    int trans_a, trans_b;
    float alpha, beta;
    const float *A; int lda;
    const void *B; int ldb; srt_dtype b_dtype;
    float *C; int ldc;
    const float *b_scale;    /* (N) SRT_I8 only: the per-output-channel scales */
} srt_gemm_args;

/* Row-wise LayerNorm: y[r,:] = (x[r,:]-mean)/sqrt(var+eps)*gamma + beta. y may equal x. */
typedef struct srt_layernorm_args {
    int rows, dim;
    float eps;
    const float *x;          /* (rows, dim) */
    const float *gamma, *beta; /* (dim) each; beta may be NULL */
    float *y;                /* (rows, dim) */
} srt_layernorm_args;

/* Per batch, y[b] = transpose(x[b]): x (batch, rows, cols) -> y (batch, cols, rows); optional residual
 * (batch, cols, rows) added: y = x^T + residual (residual may equal y). */
typedef struct srt_transpose_args {
    int batch, rows, cols;
    const float *x;
    const float *residual;
    float *y;
} srt_transpose_args;

/* SNAC LocalMHA core: non-causal attention inside windows of `window` frames, rotary embedding
 * (rotate-half layout, base 10000, positions 0..window-1 inside each window), scale 1/sqrt(head_dim).
 * len must be a multiple of window. */
typedef struct srt_local_attn_args {
    int batch, len, heads, head_dim, window;
    const float *qkv;        /* (batch, len, 3*heads*head_dim): q | k | v, each (heads, head_dim) */
    float *out;              /* (batch, len, heads*head_dim) */
} srt_local_attn_args;

/* y (batch, ch, len/kernel) = mean over non-overlapping windows of x (batch, ch, len). */
typedef struct srt_avgpool_args {
    int batch, ch, len, kernel;
    const float *x;
    float *y;
} srt_avgpool_args;

/* y (batch, ch, len*factor) += scale * repeat_interleave(x (batch, ch, len), factor, time axis).
 * If acc is non-NULL, acc (same shape as y) -= scale * the same (residual update, may be NULL). */
typedef struct srt_upsample_add_args {
    int batch, ch, len, factor;
    float scale;
    const float *x;
    float *y;
    float *acc;
} srt_upsample_add_args;

/* Residual-VQ nearest code: for each frame, the codebook row maximizing -(|e|^2 - 2 e.c + |c|^2) where
 * e = z[:,t]/max(|z[:,t]|,1e-12) and c = normalized codebook rows (given, precomputed). Ties: lowest index. */
typedef struct srt_vq_args {
    int batch, dim, len, n_codes;
    const float *z;          /* (batch, dim, len) projected latent */
    const float *codebook_n; /* (n_codes, dim) L2-normalized codebook */
    int32_t *codes;          /* (batch, len) */
    float *margin;           /* (batch, len) best minus second-best score, or NULL */
} srt_vq_args;

/* y (batch, dim, len) = codebook[codes[b,t], :] (raw codebook rows); codes outside [0,n_codes) fail. */
typedef struct srt_embed_args {
    int batch, dim, len, n_codes;
    const float *codebook;   /* (n_codes, dim) */
    const int32_t *codes;    /* (batch, len) */
    float *y;                /* (batch, dim, len) */
    int trusted;             /* 1: codes known to lie in [0, n_codes) (the VQ's own output, codes the caller
                              * validated): a device backend skips reading its range check back (no sync) */
} srt_embed_args;

typedef enum srt_unary_op { SRT_UNARY_TANH = 0, SRT_UNARY_COPY, SRT_UNARY_SCALE } srt_unary_op;

/* y = op(x) elementwise over n floats (y may equal x); SCALE multiplies by `scale`. */
typedef struct srt_unary_args {
    srt_unary_op op;
    int64_t n;
    float scale;
    const float *x;
    float *y;
} srt_unary_args;

/* y = a*x + b*y over n floats. */
typedef struct srt_axpby_args {
    int64_t n;
    float a, b;
    const float *x;
    float *y;
} srt_axpby_args;

/* SNAC NoiseBlock tail: x (batch, ch, len) += noise (batch, len) * h (batch, ch, len). */
typedef struct srt_noise_add_args {
    int batch, ch, len;
    const float *noise;
    const float *h;
    float *x;
} srt_noise_add_args;

/* Strided copy of a (rows, cols) block of floats: y[r * y_ld + c] = x[r * x_ld + c]. x_ld 0 repeats one row of x
 * (e.g. a zero row); y_ld >= cols when rows > 1. x and y must not overlap. */
typedef struct srt_copy2d_args {
    int rows, cols;
    int64_t x_ld, y_ld;
    const float *x;
    float *y;
} srt_copy2d_args;

/* n independent copy2d blocks in one op (one launch on a device): items[i] as srt_copy2d_args, in any order or
 * concurrently, so no block's y may overlap another block's x or y. items is host memory. A backend without the
 * entry gets one copy2d per block from the dispatch layer. items_dev (optional, device backends): the same table
 * already in backend memory, uploaded by the caller before the op; the op then reads it there and transfers
 * nothing, so it can be recorded (graph_run) while the table's contents change from call to call. */
typedef struct srt_copy2d_batch_args {
    int n;
    const srt_copy2d_args *items;
    const srt_copy2d_args *items_dev;
} srt_copy2d_batch_args;

/* ---- language-model ops (host/lm): filled in by the transformer work; all optional for codec-only backends ---- */
struct srt_lm_ops;

/* Optional record / replay of a codec pass (a CUDA graph, cuda/codec_graph.c). body(arg) is a sequence of codec
 * ops that never waits for the device, uploads or downloads; it may allocate and free work buffers. */
typedef srt_status (*srt_codec_graph_body)(void *arg);
/* ---- batches in flight (optional; cuda): pinned host memory, transfers that return at once, and fences (events on
 * the backend's stream) to wait on and to time the device's work. The codec's submit/collect encode
 * (host/snac/codec_async.c) uses them; without them it encodes synchronously. ---- */
typedef struct srt_async_ops {
    srt_status (*host_alloc)(void *ctx, size_t bytes, void **ptr);   /* pinned (page-locked) host memory */
    void (*host_free)(void *ctx, void *ptr);
    /* host -> device from pinned memory, on a copy stream: the compute that follows on the backend's stream waits
     * for it, the host does not; src must stay untouched until a fence recorded after a later op has been waited */
    srt_status (*upload)(void *ctx, void *dst, const void *src_pinned, size_t bytes);
    /* device -> pinned host memory, queued on the backend's stream (valid once a fence recorded after it is waited) */
    srt_status (*download)(void *ctx, void *dst_pinned, const void *src, size_t bytes);
    srt_status (*fence_create)(void *ctx, void **fence);
    void (*fence_destroy)(void *ctx, void *fence);
    srt_status (*fence_record)(void *ctx, void *fence);             /* on the backend's stream */
    srt_status (*fence_wait)(void *ctx, void *fence);
    /* device time between two waited fences, milliseconds */
    srt_status (*fence_elapsed_ms)(void *ctx, void *start, void *end, double *ms);
} srt_async_ops;

/* ---- the table ---- */
typedef struct srt_backend_ops {
    const char *name;
    int host_memory;         /* 1: tensors are host memory (cpu backends): the dispatch layer may read them */
    int conv1d_res_ld;       /* 1: conv1d reads its residual with any row stride (srt_conv1d_args.res_ld) */
    /* memory */
    srt_status (*alloc)(void *ctx, size_t bytes, void **ptr);
    void (*free)(void *ctx, void *ptr);
    srt_status (*upload)(void *ctx, void *dst, const void *src_host, size_t bytes);
    srt_status (*download)(void *ctx, void *dst_host, const void *src, size_t bytes);
    srt_status (*memset0)(void *ctx, void *dst, size_t bytes);
    srt_status (*copy)(void *ctx, void *dst, const void *src, size_t bytes);   /* device to device */
    /* optional: [ptr, ptr + bytes) (memory the caller reads the op arguments from: the LM's mmap'd weights on host
     * backends) keeps its contents for the backend's life; the backend may keep derived copies of it (the cpu
     * gemm's bf16 weights in panels, cpu_wcache.c) */
    void (*mark_static)(void *ctx, const void *ptr, size_t bytes);
    srt_status (*sync)(void *ctx);
    void (*destroy)(void *ctx);
    /* codec */
    srt_status (*conv1d)(void *ctx, const srt_conv1d_args *a);
    srt_status (*conv_transpose1d)(void *ctx, const srt_convt1d_args *a);
    srt_status (*snake)(void *ctx, const srt_snake_args *a);
    srt_status (*gemm)(void *ctx, const srt_gemm_args *a);
    srt_status (*layernorm)(void *ctx, const srt_layernorm_args *a);
    srt_status (*transpose)(void *ctx, const srt_transpose_args *a);
    srt_status (*local_attention)(void *ctx, const srt_local_attn_args *a);
    srt_status (*avgpool)(void *ctx, const srt_avgpool_args *a);
    srt_status (*upsample_add)(void *ctx, const srt_upsample_add_args *a);
    srt_status (*vq_nearest)(void *ctx, const srt_vq_args *a);
    srt_status (*embed)(void *ctx, const srt_embed_args *a);
    srt_status (*unary)(void *ctx, const srt_unary_args *a);
    srt_status (*axpby)(void *ctx, const srt_axpby_args *a);
    srt_status (*noise_add)(void *ctx, const srt_noise_add_args *a);
    srt_status (*copy2d)(void *ctx, const srt_copy2d_args *a);
    srt_status (*copy2d_batch)(void *ctx, const srt_copy2d_batch_args *a);   /* optional (see the args) */
    /* language model (optional; see host/lm/lm_ops.h) */
    const struct srt_lm_ops *lm;
    /* precision of the dense convs, "fp32" | "tf32" | "bf16" (optional: a backend without it computes in fp32) */
    srt_status (*set_precision)(void *ctx, const char *name);
    /* Optional: run body(arg), recorded once and replayed while `key` comes back. The key names every host value
     * and pointer of the caller's buffers that the body hands to the ops, except the ops' in_valid lengths (the
     * backend keeps those device-side and refreshes them per call) and buffers the body allocates itself. With
     * body NULL: SRT_OK when recording is on. */
    srt_status (*graph_run)(void *ctx, uint64_t key, srt_codec_graph_body body, void *arg);
    /* batches in flight (optional; see srt_async_ops) */
    const srt_async_ops *async;
} srt_backend_ops;

/* A backend instance: its table and its private state. */
typedef struct srt_backend {
    const srt_backend_ops *ops;
    void *ctx;
    char device[32];         /* "cpu", "cpu-ref", "cuda:0" */
    int n_threads;           /* host threads its ops run on ("cpu": every parallel region, n_threads of
                              * srt_backend_create, 0 = all cores resolved; "cpu-ref": 1; "cuda": 0) */
    int lm_precision_bf16;   /* "cpu", "cuda": 1 when the LM GEMMs round activations to bf16 (cpu_ops.h,
                                cuda/backend_cuda.h); else 0 */
} srt_backend;

/* The dispatch layer (backend_dispatch.c): the graphs call every codec op through these; each checks its arguments
 * once for all backends (backend_check.h), then calls b->ops. */
srt_status srt_op_conv1d(const srt_backend *b, const srt_conv1d_args *a);
srt_status srt_op_conv_transpose1d(const srt_backend *b, const srt_convt1d_args *a);
srt_status srt_op_snake(const srt_backend *b, const srt_snake_args *a);
srt_status srt_op_gemm(const srt_backend *b, const srt_gemm_args *a);
srt_status srt_op_layernorm(const srt_backend *b, const srt_layernorm_args *a);
srt_status srt_op_transpose(const srt_backend *b, const srt_transpose_args *a);
srt_status srt_op_copy2d(const srt_backend *b, const srt_copy2d_args *a);
srt_status srt_op_copy2d_batch(const srt_backend *b, const srt_copy2d_batch_args *a);
srt_status srt_op_local_attention(const srt_backend *b, const srt_local_attn_args *a);
srt_status srt_op_avgpool(const srt_backend *b, const srt_avgpool_args *a);
srt_status srt_op_upsample_add(const srt_backend *b, const srt_upsample_add_args *a);
srt_status srt_op_vq_nearest(const srt_backend *b, const srt_vq_args *a);
srt_status srt_op_embed(const srt_backend *b, const srt_embed_args *a);
srt_status srt_op_unary(const srt_backend *b, const srt_unary_args *a);
srt_status srt_op_axpby(const srt_backend *b, const srt_axpby_args *a);
srt_status srt_op_noise_add(const srt_backend *b, const srt_noise_add_args *a);
/* body(arg) through the backend's graph_run, or eagerly when it has none (body NULL: whether it records). */
srt_status srt_op_codec_graph_run(const srt_backend *b, uint64_t key, srt_codec_graph_body body, void *arg);

/* Create a backend by name: "cpu-ref", "cpu", "cuda", "cuda:N". n_threads 0 = all cores (CPU backends). */
srt_status srt_backend_create(const char *name, int n_threads, srt_backend *out);
void srt_backend_destroy(srt_backend *b);
/* Precision of the dense convs by name: NULL or "fp32" (every backend), "tf32" or "bf16" (a backend with
 * set_precision: cuda); anything else is SRT_ERR_INVALID_ARG, a mode the backend lacks SRT_ERR_UNSUPPORTED. */
srt_status srt_backend_set_precision(srt_backend *b, const char *name);

/* The cpu backend's LM GEMM precision by name (srt_lm_options.lm_precision): NULL or "" keeps what the backend
 * took at creation (SNACRT_CPU_LM_PRECISION, else bf16); "bf16" or "exact" (cpu/cpu_ops.h) set it on "cpu"; the
 * other backends have no such switch and ignore a valid name ("cpu-ref" is always exact; "cuda" has
 * SNACRT_CUDA_LM_PRECISION). Anything else is SRT_ERR_INVALID_ARG naming the value, on every backend. */
srt_status srt_backend_set_lm_precision(srt_backend *b, const char *name);

/* Registration of the built-in backends (each backend file defines its create function). */
srt_status srt_cpu_ref_backend_create(int n_threads, srt_backend *out);
srt_status srt_cpu_backend_create(int n_threads, srt_backend *out);
/* precision: SRT_CPU_LM_EXACT or SRT_CPU_LM_BF16 (cpu/cpu_ops.h); b must be a "cpu" backend. */
void srt_cpu_backend_set_lm_precision(srt_backend *b, int precision);
/* Defined only when the CUDA backend is linked in (SNACRT_WITH_CUDA); otherwise srt_backend_create reports it. */
srt_status srt_cuda_backend_create(int device, srt_backend *out);
/* bf16 1: one bf16 tensor-core pass per LM GEMM, 0: exact (split hi + lo); b must be a "cuda" backend (a no-op in
 * a build without it). */
void srt_cuda_backend_set_lm_precision(srt_backend *b, int bf16);
/* Make the device of backend `name` current on the calling thread ("cuda:N": cudaSetDevice(N), as CUDA keeps the
 * current device per host thread; host backends: nothing). A thread that runs a "cuda:N" backend it did not create
 * calls it first. srt_cuda_enter_device: defined with the CUDA backend (SNACRT_WITH_CUDA). */
srt_status srt_backend_enter_thread(const char *name);
srt_status srt_cuda_enter_device(int device);
/* The CUDA devices for srt_list_devices (cuda/devices_cuda.c), or why there is none in note; in backend.c for a build
 * when the CUDA backend is not linked in. */
srt_status srt_cuda_list_devices(srt_device_info *devs, int cap, int *n, char *note, size_t note_size);

/* Convenience wrappers: allocate + upload, download into a malloc'd host buffer. */
srt_status srt_backend_alloc_upload(srt_backend *b, const void *host, size_t bytes, void **dev);
srt_status srt_backend_alloc_zero(srt_backend *b, size_t bytes, void **dev);

#endif
