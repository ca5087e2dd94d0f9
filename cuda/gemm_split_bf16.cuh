/* gemm_split_bf16.cuh: the small kernels around the default GEMM of bf16 weights above the small-M rows
 * (cuda/cublas.c, srt_cuda_gemm_split): A (M,K) f32 is split into A_hi = bf16(A) and A_lo = bf16(A - A_hi), stacked as
 * one (2M, K) bf16 matrix for one cublasGemmEx (bf16 x bf16 -> f32) that reads the weights once; the two halves of its
 * result (2M, N) are then summed into C. A_hi + A_lo is A to ~2^-17 relative (two 8-bit significands), so C is
 * within f32 rounding of the widen-to-f32 path, at bf16 tensor-core speed. Rounding as host/dtype.c (nearest even).
 * That is the LM precision "exact" (SNACRT_CUDA_LM_PRECISION, backend_cuda.c). The default "bf16" writes A_hi only
 * (lo = 0: A rounded to bf16 once, as a PyTorch / vLLM bf16 model computes): one (M, K) bf16 matrix, a GEMM of M
 * rows (half the tensor-core work), and a sum that reads one product (single) or none (PLAIN: cuBLAS writes C).
 * Fusions: the split can apply the RMSNorm of its rows first (split_norm, the same sums as lm_rmsnorm.cuh, so the
 * normalized values are bit-identical); the sum can scatter fused q|k|v columns or apply SwiGLU to interleaved
 * gate|up columns (the SRT_SMALL_M_* modes of gemm_small_m.cuh). Bandwidth: 4 elements per thread, one 16-byte
 * load per f32 row segment (a warp's loads whole sectors), when the rows are 16-byte aligned multiples of 4 (else one
 * element per thread), grids capped at
 * SPLIT_MAX_BLOCKS (8 resident 256-thread blocks on each of 132 SMs; grid-stride beyond). */
#include "cuda/common.cuh"

static const int SPLIT_MAX_BLOCKS = 132 * 8;

static inline unsigned split_blocks(int64_t n) {
    int64_t b = (n + SRT_BLOCK - 1) / SRT_BLOCK;
    return (unsigned)(b < 1 ? 1 : b > SPLIT_MAX_BLOCKS ? SPLIT_MAX_BLOCKS : b);
}

static inline int split_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* f32 bits -> bf16 bits, round to nearest even, NaN kept quiet (as f32_to_bf16_rows_kernel, half_to_f32.cuh) */
__device__ __forceinline__ uint16_t srt_split_round_bf16(unsigned u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* a -> (hi, lo). A finite value that would round to infinity keeps its truncation as hi (the remainder goes to lo);
 * Inf / NaN get lo 0, so hi + lo is the value itself. */
__device__ __forceinline__ void srt_split_one(float a, uint16_t *hi_out, uint16_t *lo_out) {
    unsigned u = __float_as_uint(a);
    uint16_t hi = srt_split_round_bf16(u), lo = 0;
    if ((u & 0x7f800000u) != 0x7f800000u) {                    /* finite */
        if ((hi & 0x7f80u) == 0x7f80u) hi = (uint16_t)(u >> 16);   /* rounded up to Inf: truncate instead */
        lo = srt_split_round_bf16(__float_as_uint(a - __uint_as_float((unsigned)hi << 16)));
    }
    *hi_out = hi;
    *lo_out = lo;
}

/* a -> hi (lo non-NULL: exact, srt_split_one) or bf16(a) alone (lo NULL: precision bf16, plain nearest even) */
__device__ __forceinline__ void srt_split_or_round(float a, uint16_t *hi, uint16_t *lo) {
    if (lo) srt_split_one(a, hi, lo);
    else *hi = srt_split_round_bf16(__float_as_uint(a));
}

__device__ __forceinline__ uint2 split_pack4(const uint16_t h[4]) {
    uint2 v;
    v.x = h[0] | (unsigned)h[1] << 16; v.y = h[2] | (unsigned)h[3] << 16;
    return v;
}

/* 4 values -> 4 hi and 4 lo bf16, stored as two 8-byte vectors; lo NULL: 4 bf16(v) (precision bf16) */
__device__ __forceinline__ void srt_split_store4(const float v[4], uint16_t *hi, uint16_t *lo) {
    uint16_t h[4], l[4];
    if (!lo) {
        SRT_UNROLL
        for (int j = 0; j < 4; j++) h[j] = srt_split_round_bf16(__float_as_uint(v[j]));
        srt_store8(hi, split_pack4(h));
        return;
    }
    SRT_UNROLL
    for (int j = 0; j < 4; j++) srt_split_one(v[j], &h[j], &l[j]);
    srt_store8(hi, split_pack4(h));
    srt_store8(lo, split_pack4(l));
}

/* one 16-byte load of 4 f32: a warp's 32 loads cover 512 contiguous bytes (16 whole sectors; two loads 32 bytes
 * apart per thread would each touch twice the sectors they use) */
__device__ __forceinline__ void split_ld4(const float *p, float v[4]) {
    const float4 a = srt_load16<float4>(p);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
}

/* two packed bf16 as one 4-byte store (p 4-byte aligned) */
__device__ __forceinline__ void split_st2_bf16(uint16_t *p, unsigned v) {
#ifdef __CUDACC__
    *reinterpret_cast<unsigned *>(p) = v;
#else
    __builtin_memcpy(p, &v, 4);
#endif
}

__device__ __forceinline__ void split_st4(float *p, const float v[4]) {
    float4 o;
    o.x = v[0]; o.y = v[1]; o.z = v[2]; o.w = v[3];
    srt_store16(p, o);
}

/* dst rows [0, rows) = hi, rows [rows, 2 rows) = lo, each (rows, cols) packed bf16; src (rows, cols) f32, row
 * stride ld; lo 0: dst (rows, cols) = bf16(src) only. vec: 4 elements per thread (cols % 4 == 0, ld % 4 == 0, src
 * 16-byte aligned; dst is 8-byte aligned: scratch). */
__global__ void split_bf16_rows_kernel(const float *src, int64_t ld, int64_t rows, int64_t cols, uint16_t *dst,
                                       int vec, int lo) {
    const int64_t half = rows * cols;
    uint16_t *dlo = lo ? dst + half : nullptr;
    if (vec) {
        const int64_t per_row = cols / 4;
        srt_grid_stride(i, rows * per_row) {
            const int64_t r = i / per_row, c = (i - r * per_row) * 4;
            float v[4];
            split_ld4(src + r * ld + c, v);
            srt_split_store4(v, dst + r * cols + c, dlo ? dlo + r * cols + c : nullptr);
        }
        return;
    }
    srt_grid_stride(i, half) srt_split_or_round(src[(i / cols) * ld + i % cols], &dst[i], dlo ? dlo + i : nullptr);
}

/* The same with the RMSNorm of lm_rmsnorm.cuh applied first: one block (SRT_BLOCK) per row of src (rows, cols)
 * packed; the sum of squares in lm_rmsnorm_kernel's order (strided by thread, then srt_block_sum), so
 * x * inv * w is bit-identical; the normalized row is split 4 elements per thread (16-byte loads, 8-byte stores)
 * when vec (cols % 4 == 0, src and w 16-byte aligned). */
__global__ void split_norm_bf16_rows_kernel(const float *src, int64_t rows, int cols, const float *w, float eps,
                                            uint16_t *dst, int vec, int with_lo) {
    __shared__ float scratch[32];
    const int64_t r = blockIdx.x;
    const float *x = src + r * cols;                /* (cols) */
    uint16_t *hi = dst + r * cols, *lo = with_lo ? dst + rows * cols + r * cols : nullptr;
    float ss = 0.0f;
    const int bd = blockDim.x;
    int i = threadIdx.x;
    for (; i + 3 * bd < cols; i += 4 * bd) {        /* 4 loads in flight, summed in the same order */
        const float a = x[i], b = x[i + bd], c = x[i + 2 * bd], d = x[i + 3 * bd];
        ss += a * a;
        ss += b * b;
        ss += c * c;
        ss += d * d;
    }
    for (; i < cols; i += bd) ss += x[i] * x[i];
    const float inv = rsqrtf(srt_block_sum(ss, scratch) / (float)cols + eps);
    if (vec) {   /* two 4-element groups a pass: 4 loads (x, w of each) in flight */
        for (int c = threadIdx.x * 4; c < cols; c += bd * 8) {
            const int c1 = c + bd * 4;
            float v[8], g[8];
            split_ld4(x + c, v);
            split_ld4(w + c, g);
            if (c1 < cols) {
                split_ld4(x + c1, v + 4);
                split_ld4(w + c1, g + 4);
            }
            SRT_UNROLL
            for (int j = 0; j < 8; j++) v[j] = v[j] * inv * g[j];
            srt_split_store4(v, hi + c, lo ? lo + c : nullptr);
            if (c1 < cols) srt_split_store4(v + 4, hi + c1, lo ? lo + c1 : nullptr);
        }
        return;
    }
    for (int i = threadIdx.x; i < cols; i += blockDim.x)
        srt_split_or_round(x[i] * inv * w[i], &hi[i], lo ? lo + i : nullptr);
}

extern "C" srt_status srt_cuda_split_bf16_rows(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                               const float *norm_w, float eps, int lo, uint16_t *dst,
                                               cudaStream_t stream) {
    if (rows * cols == 0) return SRT_OK;
    if (norm_w) {
        int vec = cols % 4 == 0 && split_aligned16(src) && split_aligned16(norm_w);
        LAUNCH(split_norm_bf16_rows_kernel, (unsigned)rows, SRT_BLOCK, 0, stream, src, rows, (int)cols, norm_w, eps,
               dst, vec, lo);
        return SRT_LAUNCH_STATUS(split_norm_bf16_rows_kernel);
    }
    int vec = cols % 4 == 0 && ld % 4 == 0 && split_aligned16(src);
    LAUNCH(split_bf16_rows_kernel, split_blocks(vec ? rows * cols / 4 : rows * cols), SRT_BLOCK, 0, stream, src, ld,
           rows, cols, dst, vec, lo);
    return SRT_LAUNCH_STATUS(split_bf16_rows_kernel);
}

/* where column c of a row of the sum goes (modes PLAIN / SPLIT3; SWIGLU pairs columns) */
__device__ __forceinline__ float *sum_dst(const srt_cuda_split_sum_args &a, int64_t r, int64_t c) {
    if (a.mode == SRT_SMALL_M_SPLIT3) {
        if (c < a.n0) return a.y0 + r * a.n0 + c;
        if (c < a.n0 + a.n1) return a.y1 + r * a.n1 + (c - a.n0);
        const int64_t n2 = a.cols - a.n0 - a.n1;
        return a.y2 + r * n2 + (c - a.n0 - a.n1);
    }
    return a.C + r * a.ldc + c;
}

__device__ __forceinline__ float sum_silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

/* The halves of c2 (2 rows, cols) packed summed (single: c2 (rows, cols), its one product taken as it is): PLAIN
 * C = alpha (hi + lo) + beta C (beta 0 never reads C); SPLIT3 the sum (alpha, beta 0) to y0 / y1 / y2 by column
 * range; SWIGLU y0[r, j] = silu(g) * u (and bf16 of it into y0_bf16 when set) with g, u the sums
 * (alpha) of columns 2j, 2j+1 (lm_swiglu.cuh's formula). vec: 4 columns per thread, one 16-byte load of each
 * product row (cols % 4 == 0 and every destination row 16-byte aligned, 8-byte for SWIGLU's half-width rows:
 * checked by the launcher). */
__global__ void sum_split_rows_kernel(srt_cuda_split_sum_args a, int vec) {
    const float *c2 = a.c2;
    const int64_t half = a.rows * a.cols;
    if (vec) {
        const int64_t per_row = a.cols / 4;
        srt_grid_stride(i, a.rows * per_row) {
            const int64_t r = i / per_row, c = (i - r * per_row) * 4, e = r * a.cols + c;
            float h[4], l[4], v[4];
            split_ld4(c2 + e, h);
            if (a.single) {
                SRT_UNROLL
                for (int j = 0; j < 4; j++) v[j] = a.alpha * h[j];
            } else {
                split_ld4(c2 + half + e, l);
                SRT_UNROLL
                for (int j = 0; j < 4; j++) v[j] = a.alpha * (h[j] + l[j]);
            }
            if (a.mode == SRT_SMALL_M_SWIGLU) {
                float2 o;
                o.x = sum_silu_mul(v[0], v[1]);
                o.y = sum_silu_mul(v[2], v[3]);
                const int64_t yi = r * (a.cols / 2) + c / 2;
                srt_store8(a.y0 + yi, o);
                if (a.y0_bf16)
                    split_st2_bf16(a.y0_bf16 + yi, srt_split_round_bf16(__float_as_uint(o.x)) |
                                                       (unsigned)srt_split_round_bf16(__float_as_uint(o.y)) << 16);
                continue;
            }
            float *y = sum_dst(a, r, c);
            if (a.beta != 0.0f) {
                float old[4];
                split_ld4(y, old);
                SRT_UNROLL
                for (int j = 0; j < 4; j++) v[j] = v[j] + a.beta * old[j];
            }
            split_st4(y, v);
        }
        return;
    }
    if (a.mode == SRT_SMALL_M_SWIGLU) {
        const int64_t n = a.cols / 2;
        srt_grid_stride(i, a.rows * n) {
            const int64_t e = (i / n) * a.cols + 2 * (i % n);
            float g = a.alpha * (a.single ? c2[e] : c2[e] + c2[half + e]);
            float u = a.alpha * (a.single ? c2[e + 1] : c2[e + 1] + c2[half + e + 1]);
            a.y0[i] = sum_silu_mul(g, u);
            if (a.y0_bf16) a.y0_bf16[i] = srt_split_round_bf16(__float_as_uint(a.y0[i]));
        }
        return;
    }
    srt_grid_stride(i, half) {
        float *y = sum_dst(a, i / a.cols, i % a.cols);
        float v = a.alpha * (a.single ? c2[i] : c2[i] + c2[half + i]);
        *y = a.beta == 0.0f ? v : v + a.beta * *y;
    }
}

extern "C" srt_status srt_cuda_sum_split_rows(const srt_cuda_split_sum_args *a, cudaStream_t stream) {
    if (a->rows * a->cols == 0) return SRT_OK;
    int vec = a->cols % 4 == 0 && split_aligned16(a->c2);
    if (a->mode == SRT_SMALL_M_PLAIN) vec = vec && a->ldc % 4 == 0 && split_aligned16(a->C);
    if (a->mode == SRT_SMALL_M_SPLIT3)
        vec = vec && a->n0 % 4 == 0 && a->n1 % 4 == 0 && split_aligned16(a->y0) && split_aligned16(a->y1) &&
              split_aligned16(a->y2);
    if (a->mode == SRT_SMALL_M_SWIGLU) vec = vec && ((uintptr_t)a->y0 & 7u) == 0;
    int64_t n = vec ? a->rows * a->cols / 4 : a->mode == SRT_SMALL_M_SWIGLU ? a->rows * (a->cols / 2)
                                                                             : a->rows * a->cols;
    LAUNCH(sum_split_rows_kernel, split_blocks(n), SRT_BLOCK, 0, stream, *a, vec);
    return SRT_LAUNCH_STATUS(sum_split_rows_kernel);
}
