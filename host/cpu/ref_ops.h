/* ref_ops.h: the plain-loop reference implementations of every codec op (cpu-ref backend).
 * Other CPU code may call them as a fallback; semantics are documented in host/backend.h. */
#ifndef SRT_REF_OPS_H
#define SRT_REF_OPS_H

#include "backend.h"
#include <math.h>

extern const srt_backend_ops srt_cpu_ref_ops;

srt_status srt_ref_conv1d(void *ctx, const srt_conv1d_args *a);
srt_status srt_ref_conv_transpose1d(void *ctx, const srt_convt1d_args *a);
srt_status srt_ref_snake(void *ctx, const srt_snake_args *a);
srt_status srt_ref_gemm(void *ctx, const srt_gemm_args *a);
srt_status srt_ref_layernorm(void *ctx, const srt_layernorm_args *a);
srt_status srt_ref_transpose(void *ctx, const srt_transpose_args *a);
srt_status srt_ref_local_attention(void *ctx, const srt_local_attn_args *a);
srt_status srt_ref_avgpool(void *ctx, const srt_avgpool_args *a);
srt_status srt_ref_upsample_add(void *ctx, const srt_upsample_add_args *a);
srt_status srt_ref_vq_nearest(void *ctx, const srt_vq_args *a);
srt_status srt_ref_embed(void *ctx, const srt_embed_args *a);
srt_status srt_ref_unary(void *ctx, const srt_unary_args *a);
srt_status srt_ref_axpby(void *ctx, const srt_axpby_args *a);
srt_status srt_ref_noise_add(void *ctx, const srt_noise_add_args *a);
srt_status srt_ref_copy2d(void *ctx, const srt_copy2d_args *a);

/* Snake activation of one value (reference formula). */
static inline float srt_snake1(float x, float alpha) {
    float s = sinf(alpha * x);
    return x + (1.0f / (alpha + 1e-9f)) * s * s;
}

#endif
