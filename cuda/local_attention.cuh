/* local_attention.cuh: SNAC LocalMHA core (32 / 44 kHz models: window 32, head_dim 64).
 * Precision fp32 (exact against the golden codes): local_attention_kernel below. Precision tf32 / bf16 at head_dim
 * 16 / 32 / 64 / 128: the tensor-core kernels further down (local_attention_{bf16,tf32}_d*_kernel).
 * FMA kernel: one block per (window, head, item); thread n is query n of the
 * window. The block loads the window's rotary-embedded keys and its values into shared memory (2*window*head_dim
 * floats), then each thread keeps its rotated query and output accumulator in registers and runs an online
 * softmax over the window's keys (no score matrix). Rotary: rotate-half layout, base 10000, positions 0..window-1. */
#include "cuda/common.cuh"
#include "cuda/mma.cuh"
#include "cuda/attn_online_softmax.cuh"
#ifndef __CUDACC__
#include "tests/cudasim/cudasim_api.h"
#endif

static const int ATTN_MAX_HEAD_DIM = 128;

__device__ __forceinline__ float rotary_angle(int d, int half, int pos, int head_dim) {
    float inv_freq = powf(10000.0f, -(2.0f * (float)(d % half)) / (float)head_dim);
    return (float)pos * inv_freq;
}

__device__ __forceinline__ float rotary_at(const float *v, int d, int half, int pos, int head_dim) {
    float ang = rotary_angle(d, half, pos, head_dim);
    float rot = d < half ? -v[d + half] : v[d - half];
    return v[d] * cosf(ang) + rot * sinf(ang);
}

/* The same with the angle reduced to [-pi, pi] (2 pi in two parts; exact for angles < 2^8 x 2 pi, windows up to
 * 1608) and the fast __sinf / __cosf (abs. error ~2^-21): no Payne-Hanek reduction, no local memory. For the
 * tensor-core kernels, whose inputs are then rounded to tf32 / bf16. */
__device__ __forceinline__ float rotary_fast_at(const float *v, int d, int half, int pos, int head_dim) {
    float ang = rotary_angle(d, half, pos, head_dim);
    float k = rintf(ang * 0.159154943091895336f);
    float r = fmaf(-k, 1.9353071795864769e-3f, fmaf(-k, 6.28125f, ang));
    float rot = d < half ? -v[d + half] : v[d - half];
    return v[d] * __cosf(r) + rot * __sinf(r);
}

/* grid (len/window, heads, batch), block = window rounded up to 32; smem = 2*window*head_dim floats */
__global__ void local_attention_kernel(srt_local_attn_args a) {
    SRT_DYN_SHARED(float, kv);     /* keys (window, head_dim) then values (window, head_dim) */
    int W = a.window, D = a.head_dim, C = a.heads * D, half = D / 2;
    int w0 = blockIdx.x * W, h = blockIdx.y, b = blockIdx.z;
    const float *base = a.qkv + ((size_t)b * a.len + w0) * 3 * C;
    float *keys = kv, *vals = kv + (size_t)W * D;
    for (int i = threadIdx.x; i < W * D; i += blockDim.x) {
        int m = i / D, d = i % D;
        const float *row = base + (size_t)m * 3 * C;
        keys[i] = rotary_at(row + C + h * D, d, half, m, D);
        vals[i] = row[2 * C + h * D + d];
    }
    __syncthreads();
    int n = threadIdx.x;
    if (n >= W) return;
    float q[ATTN_MAX_HEAD_DIM], acc[ATTN_MAX_HEAD_DIM];
    const float *qrow = base + (size_t)n * 3 * C + h * D;
    float scale = rsqrtf((float)D);
    for (int d = 0; d < D; d++) { q[d] = rotary_at(qrow, d, half, n, D) * scale; acc[d] = 0.0f; }
    float mx = -INFINITY, sum = 0.0f;
    for (int m = 0; m < W; m++) {
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * keys[m * D + d];
        float new_mx = fmaxf(mx, s);
        float corr = expf(mx - new_mx), p = expf(s - new_mx);
        sum = sum * corr + p;
        for (int d = 0; d < D; d++) acc[d] = acc[d] * corr + p * vals[m * D + d];
        mx = new_mx;
    }
    float *out = a.out + ((size_t)b * a.len + w0 + n) * C + h * D;
    for (int d = 0; d < D; d++) out[d] = acc[d] / sum;
}


/* ---- Tensor-core path (precision tf32 / bf16), FlashAttention-2 style, head_dim 16, 32, 64 or 128.
 * Grid (len / W x query tiles, heads, batch), block LA_WARPS(W) warps (at most 4), warp w owns the window's queries
 * r0 + 16w .. + 15 of the block's tile r0 (rows past the window: the last query's, not stored). Per warp, in
 * registers (fixed-size arrays indexed by unrolled constants only: no local memory):
 *   Q  16 x D as mma A fragments (rotated, rounded), read once straight from qkv;
 *   S  16 x LA_KEYS scores (f32 accumulators); O  16 x D output accumulator (f32); m, l running max / sum.
 * The block walks the window in LA_KEYS-key tiles: K rotated (key, d) and V transposed (d, key) are staged into
 * shared memory already rounded to the mma input format, keys past the window as zeros, masked to -inf in S;
 * S = Q K^T (mma), online softmax in f32 (exp2, scale 1/sqrt(D) x log2 e folded in), O += P V (mma) with P rounded.
 * Words: a 32-bit shared / fragment word holds 2 bf16 (bf16: elements 2w, 2w + 1) or 1 tf32 (element w); with that
 * the A / B fragment words of both m16n8k16 bf16 and m16n8k8 tf32 are (row g, word 8kk + t) and (g, 8kk + t + 4)
 * (tests/cudasim/sim_mma.h). The tf32 P fragment of keys 8kk .. + 7 is the S accumulator (c0 c2 c1 c3): its
 * column t is key 2t and column t + 4 key 2t + 1, so V's tf32 tile keeps key 8c + r at column 8c + r/2 + 4 (r&1).
 * Rows are padded by 4 words: fragment reads hit 32 distinct banks. */
#define LA_KEYS 32                                         /* keys per K / V tile */

template <bool BF16> struct la_fmt {
    static const int EW = BF16 ? 2 : 1;                    /* elements per 32-bit word */
    __device__ static __forceinline__ uint32_t word(float x0, float x1) {
        return BF16 ? srt_bf16x2_bits(x0, x1) : srt_tf32_bits(x0);
    }
    __device__ static __forceinline__ void mma(float c[4], const uint32_t a[4], const uint32_t b[2]) {
        if constexpr (BF16) srt_mma_bf16(c, a, b);
        else srt_mma_tf32(c, a, b);
    }
};

template <int D, bool BF16> struct alignas(16) la_tc_tiles {
    uint32_t k[LA_KEYS][D / la_fmt<BF16>::EW + 4];          /* K tile (key, d words) */
    uint32_t vt[D][LA_KEYS / la_fmt<BF16>::EW + 4];         /* V tile transposed (d, key words) */
};

static inline int la_tc_warps(int W) { return W >= 64 ? 4 : (W + 15) / 16; }

template <int D, bool BF16>
__device__ __forceinline__ void local_attention_tc_body(const srt_local_attn_args &a) {
    typedef la_fmt<BF16> F;
    const int EW = F::EW, KW = D / EW, W = a.window, C = a.heads * D, half = D / 2;
    __shared__ la_tc_tiles<D, BF16> sm;
    const int rows = 16 * (int)(blockDim.x >> 5), q_tiles = (W + rows - 1) / rows;
    const int w0 = (int)(blockIdx.x / q_tiles) * W, r0 = (int)(blockIdx.x % q_tiles) * rows;
    const int h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const float *base = a.qkv + ((size_t)b * a.len + w0) * 3 * C;
    const int nA = r0 + 16 * (tid >> 5) + g, nB = nA + 8;          /* this lane's two queries */
    const int pA = min(nA, W - 1), pB = min(nB, W - 1);
    const float *qA = base + (size_t)pA * 3 * C + h * D, *qB = base + (size_t)pB * 3 * C + h * D;

    uint32_t qf[D / (8 * EW)][4];                          /* Q (16, D) as A fragments */
    SRT_UNROLL
    for (int kk = 0; kk < D / (8 * EW); kk++) {
        const int d0 = (8 * kk + t) * EW, d1 = d0 + 4 * EW;
        qf[kk][0] = F::word(rotary_fast_at(qA, d0, half, pA, D), BF16 ? rotary_fast_at(qA, d0 + 1, half, pA, D) : 0.0f);
        qf[kk][1] = F::word(rotary_fast_at(qB, d0, half, pB, D), BF16 ? rotary_fast_at(qB, d0 + 1, half, pB, D) : 0.0f);
        qf[kk][2] = F::word(rotary_fast_at(qA, d1, half, pA, D), BF16 ? rotary_fast_at(qA, d1 + 1, half, pA, D) : 0.0f);
        qf[kk][3] = F::word(rotary_fast_at(qB, d1, half, pB, D), BF16 ? rotary_fast_at(qB, d1 + 1, half, pB, D) : 0.0f);
    }
    float o[D / 8][4];                                     /* O (16, D): n-tile n holds columns 8n .. 8n + 7 */
    SRT_UNROLL
    for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float mA = -INFINITY, mB = -INFINITY, lA = 0.0f, lB = 0.0f;
    const float c = rsqrtf((float)D) * 1.4426950408889634f;    /* scale x log2 e */

    for (int k0 = 0; k0 < W; k0 += LA_KEYS) {
        __syncthreads();                                   /* the previous tile is consumed */
        for (int i = tid; i < LA_KEYS * KW; i += blockDim.x) {     /* K: word (key, wd) */
            const int key = i / KW, d = (i % KW) * EW, m = k0 + key;
            float x0 = 0.0f, x1 = 0.0f;
            if (m < W) {
                const float *kr = base + (size_t)m * 3 * C + C + h * D;
                x0 = rotary_fast_at(kr, d, half, m, D);
                if (BF16) x1 = rotary_fast_at(kr, d + 1, half, m, D);
            }
            sm.k[key][i % KW] = F::word(x0, x1);
        }
        for (int i = tid; i < D * (LA_KEYS / EW); i += blockDim.x) {   /* V^T: word (d, key word), d fastest */
            const int d = i % D, kw = i / D, m = k0 + kw * EW;
            const float *vr = base + (size_t)m * 3 * C + 2 * C + h * D + d;
            const float x0 = m < W ? vr[0] : 0.0f, x1 = BF16 && m + 1 < W ? vr[3 * C] : 0.0f;
            const int col = BF16 ? kw : (kw & ~7) + ((kw & 7) >> 1) + 4 * (kw & 1);
            sm.vt[d][col] = F::word(x0, x1);
        }
        __syncthreads();

        float sc[LA_KEYS / 8][4];                          /* S (16, LA_KEYS): n-tile j holds keys k0 + 8j .. + 7 */
        SRT_UNROLL
        for (int j = 0; j < LA_KEYS / 8; j++) sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.0f;
        SRT_UNROLL
        for (int kk = 0; kk < D / (8 * EW); kk++) {
            SRT_UNROLL
            for (int j = 0; j < LA_KEYS / 8; j++) {
                const uint32_t bk[2] = {sm.k[8 * j + g][8 * kk + t], sm.k[8 * j + g][8 * kk + t + 4]};
                F::mma(sc[j], qf[kk], bk);
            }
        }
        if (k0 + LA_KEYS > W) {                            /* the window's last tile: mask keys past its end */
            SRT_UNROLL
            for (int j = 0; j < LA_KEYS / 8; j++) {
                const int key = k0 + 8 * j + 2 * t;
                if (key >= W) sc[j][0] = sc[j][2] = -INFINITY;
                if (key + 1 >= W) sc[j][1] = sc[j][3] = -INFINITY;
            }
        }
        srt_attn_online_softmax(sc, o, mA, mB, lA, lB, c);   /* finite max: key k0 < W is in every tile */
        SRT_UNROLL
        for (int kk = 0; kk < LA_KEYS / (8 * EW); kk++) {  /* O += P V, keys k0 + 8 EW kk .. */
            uint32_t pf[4];
            if constexpr (BF16) {                          /* two S n-tiles make one k16 step */
                pf[0] = F::word(sc[2 * kk][0], sc[2 * kk][1]);
                pf[1] = F::word(sc[2 * kk][2], sc[2 * kk][3]);
                pf[2] = F::word(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
                pf[3] = F::word(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
            } else {                                       /* one S n-tile is one k8 step (V columns permuted) */
                pf[0] = F::word(sc[kk][0], 0.0f);
                pf[1] = F::word(sc[kk][2], 0.0f);
                pf[2] = F::word(sc[kk][1], 0.0f);
                pf[3] = F::word(sc[kk][3], 0.0f);
            }
            SRT_UNROLL
            for (int n = 0; n < D / 8; n++) {
                const uint32_t bv[2] = {sm.vt[8 * n + g][8 * kk + t], sm.vt[8 * n + g][8 * kk + t + 4]};
                F::mma(o[n], pf, bv);
            }
        }
    }
    lA += __shfl_xor_sync(0xffffffffu, lA, 1);
    lA += __shfl_xor_sync(0xffffffffu, lA, 2);
    lB += __shfl_xor_sync(0xffffffffu, lB, 1);
    lB += __shfl_xor_sync(0xffffffffu, lB, 2);
    const float invA = 1.0f / lA, invB = 1.0f / lB;
    float *outA = a.out + ((size_t)b * a.len + w0 + nA) * C + h * D, *outB = outA + (size_t)8 * C;
    SRT_UNROLL
    for (int n = 0; n < D / 8; n++) {
        if (nA < W) srt_store8(outA + 8 * n + 2 * t, float2{o[n][0] * invA, o[n][1] * invA});
        if (nB < W) srt_store8(outB + 8 * n + 2 * t, float2{o[n][2] * invB, o[n][3] * invB});
    }
}

#define LA_TC_KERNEL(name, D, BF16) \
    __global__ void __launch_bounds__(128) name(srt_local_attn_args a) { local_attention_tc_body<D, BF16>(a); }
LA_TC_KERNEL(local_attention_bf16_d16_kernel, 16, true)
LA_TC_KERNEL(local_attention_bf16_d32_kernel, 32, true)
LA_TC_KERNEL(local_attention_bf16_d64_kernel, 64, true)
LA_TC_KERNEL(local_attention_bf16_d128_kernel, 128, true)
LA_TC_KERNEL(local_attention_tf32_d16_kernel, 16, false)
LA_TC_KERNEL(local_attention_tf32_d32_kernel, 32, false)
LA_TC_KERNEL(local_attention_tf32_d64_kernel, 64, false)
LA_TC_KERNEL(local_attention_tf32_d128_kernel, 128, false)

/* precision: SRT_CUDA_FP32 / TF32 / BF16 (kernels.h); fp32, or a head_dim the tensor-core kernels lack: FMA */
extern "C" srt_status srt_cuda_local_attention(const srt_local_attn_args *a, int precision, cudaStream_t stream) {
    int W = a->window, D = a->head_dim;
    const bool tc = precision != SRT_CUDA_FP32 && W <= 1024 && (D == 16 || D == 32 || D == 64 || D == 128);
    if (a->heads > 65535 || a->batch > 65535 ||
        (!tc && (D > ATTN_MAX_HEAD_DIM || W > 1024 || (size_t)2 * W * D * sizeof(float) > 48 * 1024)))
        return srt_error(SRT_ERR_UNSUPPORTED, "local_attention: window %d x head_dim %d (heads %d, batch %d) exceeds the "
                         "kernel's limits (head_dim <= %d, 2*window*head_dim floats <= 48 KiB)", W, D, a->heads,
                         a->batch, ATTN_MAX_HEAD_DIM);
    if (a->len == 0 || a->batch == 0) return SRT_OK;
    if (!tc) {
        dim3 grid((unsigned)(a->len / W), (unsigned)a->heads, (unsigned)a->batch);
        unsigned threads = (unsigned)((W + 31) / 32 * 32);
        LAUNCH(local_attention_kernel, grid, threads, (size_t)2 * W * D * sizeof(float), stream, *a);
        return SRT_LAUNCH_STATUS(local_attention_kernel);
    }
    const int warps = la_tc_warps(W), q_tiles = (W + 16 * warps - 1) / (16 * warps);
    dim3 grid((unsigned)((int64_t)(a->len / W) * q_tiles), (unsigned)a->heads, (unsigned)a->batch);
    const unsigned threads = (unsigned)(32 * warps);
#define LA_TC_LAUNCH(kernel)                                   \
    do {                                                       \
        LAUNCH(kernel, grid, threads, 0, stream, *a);          \
        SRT_TRY(SRT_LAUNCH_STATUS(kernel));                    \
    } while (0)
    const bool bf16 = precision == SRT_CUDA_BF16;
    switch (D) {
    case 16: if (bf16) LA_TC_LAUNCH(local_attention_bf16_d16_kernel); else LA_TC_LAUNCH(local_attention_tf32_d16_kernel); break;
    case 32: if (bf16) LA_TC_LAUNCH(local_attention_bf16_d32_kernel); else LA_TC_LAUNCH(local_attention_tf32_d32_kernel); break;
    case 64: if (bf16) LA_TC_LAUNCH(local_attention_bf16_d64_kernel); else LA_TC_LAUNCH(local_attention_tf32_d64_kernel); break;
    default: if (bf16) LA_TC_LAUNCH(local_attention_bf16_d128_kernel); else LA_TC_LAUNCH(local_attention_tf32_d128_kernel); break;
    }
#undef LA_TC_LAUNCH
#ifndef __CUDACC__
    /* the simulator's counters: the useful FLOPs (2 D per score, 2 D per P V term, W keys per query) on tensor cores
     * (a captured launch drops the note) */
    cudasim_note_flops("local_attention_", 4.0 * D * W * (double)a->len * a->heads * a->batch, bf16 ? 2 : 1);
#endif
    return SRT_OK;
}
