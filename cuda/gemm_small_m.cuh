/* gemm_small_m.cuh: the decode GEMM (M <= SRT_CUDA_GEMM_ROWS_MAX_M rows) with half-precision weights read as stored:
 *   C (M, N) = alpha * A (M, K) @ B^T + beta * C,  A f32 (row stride lda), B (N, K) bf16 or f16 bits (row stride
 *   ldb: a PyTorch Linear weight), C f32 (row stride ldc), f32 accumulation.
 * Bandwidth-bound by design (2 bytes of HBM per weight, whatever M):
 *   - a block (8 warps) owns a tile of SM_TILE_N = 32 output columns (SM_COLS = 4 per warp) and a slice of K;
 *   - per chunk of SM_KC columns of K, the block stages A's rows (<= SM_ROWS per pass) in shared memory once
 *     (coalesced 16-byte loads) and every warp reuses them for its 4 columns (each 16-byte shared read of A
 *     feeds all 4 columns: one shared read per 4 x 8 FMAs per row);
 *   - each lane issues SM_COLS x SM_UNROLL = 8 independent 16-byte weight loads (8 halves each) before it uses any,
 *     so 4 KiB per warp are in flight (2-byte loads when rows of B are not 16-byte aligned: odd K or ldb);
 *   - split-K over gridDim.y when the column tiles alone give fewer than 2 x 132 blocks: each split writes its
 *     partial sums to a workspace, the last block of a tile to arrive (a per-tile counter, reset by that block) adds
 *     them in split order: the same sums in every block order (deterministic), no atomics on C.
 * RMSNorm (norm_w set), saving the rmsnorm launch without a second read of A: staging multiplies A by the norm
 * weight and each thread sums the squares of what it stages; the block reduces them per row (warp shuffles, then
 * warps in order) and the epilogue scales each sum by 1 / rms (the norm is linear in the row: x / rms . w . B =
 * (x . w . B) / rms). With split-K each split stores its slice's sum of squares beside its partial sums and the
 * tile's last block adds them in split order.
 * int8 weights (b_dtype SRT_I8, gemm_small_m_i8_kernel: the same body, docs/int8-weights.md): 16 codes per 16-byte
 * load (1 byte of HBM per weight), widened in registers (srt_i8_at), the chunk of A staged with an XOR swizzle
 * (small_m_slot) so each lane's 4 float4 per load hit distinct banks, the column's scale applied once in the store.
 * Lane partials are reduced through shared memory by one thread per (column, row) in lane order (deterministic).
 * Epilogues (srt_cuda_small_m_args.mode): PLAIN (alpha, beta: beta 1 is the residual add in place), SPLIT3 (fused
 * QKV: columns [0,n0) -> y0 (M,n0), [n0,n0+n1) -> y1 (M,n1), the rest -> y2), SWIGLU (rows of B interleave gate and
 * up: row 2j gate j, 2j+1 up j; y0 (M, N/2) = silu(gate) * up). Checked against cpu-ref by
 * tests/test_cudasim_backend.cpp (gemm cases) and tests/test_cudasim_gemm_small_m.cpp (epilogues, split-K). */
#include "cuda/common.cuh"
#include "cuda/f16_bits.cuh"

#ifndef __CUDACC__
#define __threadfence() ((void)0)      /* the simulator runs a launch's blocks on one OS thread */
#endif

#define SM_ROWS 8           /* rows of A per pass */
#define SM_COLS 4           /* output columns per warp */
#define SM_WARPS 8          /* warps per block */
#define SM_UNROLL 2         /* 16-byte groups of K per lane and column in flight at once */
#define SM_TILE_N (SM_COLS * SM_WARPS)
static_assert(SM_WARPS == SM_ROWS, "the RMSNorm prologue gives each row of a pass one warp");
#define SM_KC 1024          /* columns of K staged per chunk: SM_ROWS x SM_KC floats = 32 KiB */
#define SM_MAX_BLOCKS 1056
#define SM_TARGET_BLOCKS 264   /* 2 x 132 SMs */

__device__ __forceinline__ float srt_half_bits_to_f32(unsigned h, int is_bf16) {
    return is_bf16 ? __uint_as_float(h << 16) : srt_f16_bits_to_f32(h);
}

/* *dst = *x * *w elementwise, with one 16-byte load per operand; returns the sum of the squares of *x. Under g++
 * (the simulator) a float4 whose fields are used one by one is split into 4-byte loads, which the traffic counters
 * would see as 4x the sectors: there the same arithmetic runs on a GCC vector type, loaded whole, as nvcc's
 * LDG.128 does. */
__device__ __forceinline__ float stage_norm4(float4 *dst, const float4 *x, const float4 *w) {
#ifdef __CUDACC__
    const float4 v = *x, g = *w;
    *dst = make_float4(v.x * g.x, v.y * g.y, v.z * g.z, v.w * g.w);
    return v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
#else
    typedef float v4f __attribute__((vector_size(16)));
    const v4f v = *reinterpret_cast<const v4f *>(x);
    *reinterpret_cast<v4f *>(dst) = v * *reinterpret_cast<const v4f *>(w);
    return v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[3] * v[3];
#endif
}

/* *p with one 16-byte load (a GCC vector under g++, as in stage_norm4) */
__device__ __forceinline__ float4 load_f4(const float4 *p) {
#ifdef __CUDACC__
    return *p;
#else
    typedef float v4f __attribute__((vector_size(16)));
    const v4f v = *reinterpret_cast<const v4f *>(p);
    float4 r;
    r.x = v[0]; r.y = v[1]; r.z = v[2]; r.w = v[3];
    return r;
#endif
}

/* Column n of row m gets the reduced sum (and, for SWIGLU at an even n, the up sum of column n + 1); int8 weights
 * scale each column's sum by its channel's scale here, once. */
__device__ __forceinline__ void small_m_store(const srt_cuda_small_m_args &a, int m, int n, float sum, float up) {
    if (a.g.b_dtype == SRT_I8) {
        sum *= a.g.b_scale[n];
        if (a.mode == SRT_SMALL_M_SWIGLU) up *= a.g.b_scale[n + 1];
    }
    if (a.mode == SRT_SMALL_M_SWIGLU) {
        float g = a.g.alpha * sum, u = a.g.alpha * up;
        a.y0[(int64_t)m * (a.g.N / 2) + n / 2] = g / (1.0f + expf(-g)) * u;
        return;
    }
    float *c;
    if (a.mode == SRT_SMALL_M_SPLIT3) {
        int n2 = a.g.N - a.n0 - a.n1;
        c = n < a.n0 ? a.y0 + (int64_t)m * a.n0 + n
          : n < a.n0 + a.n1 ? a.y1 + (int64_t)m * a.n1 + (n - a.n0) : a.y2 + (int64_t)m * n2 + (n - a.n0 - a.n1);
        *c = a.g.alpha * sum;
        return;
    }
    c = a.g.C + (int64_t)m * a.g.ldc + n;
    *c = a.g.alpha * sum + (a.g.beta != 0.0f ? a.g.beta * *c : 0.0f);
}

/* int8 weights: 16 codes per 16-byte load, each widened in registers (exact: int8 -> f32). nvcc: the code's byte
 * XOR 0x80 is placed under the exponent of 2^23 with one PRMT and 2^23 + 128 subtracted (one FADD; no I2F, whose
 * quarter-rate throughput would bind at HBM speed); the simulator converts directly (the same value). */
__device__ __forceinline__ float srt_i8_at(unsigned w, int i) {
#ifdef __CUDACC__
    return __uint_as_float(__byte_perm(w ^ 0x80808080u, 0x4b000000u, 0x7540u | (unsigned)i)) - 8388736.0f;
#else
    return (float)(int8_t)(w >> (8 * i));
#endif
}

/* Where float4 f of a staged chunk row lives: int8 weights give a lane 4 consecutive float4 of A per 16-byte
 * load (64-byte lane stride, 4-way bank conflicts); XOR-ing the position inside each group of 4 with bits 1-2 of
 * the group puts the 8 lanes of a 128-bit phase on distinct banks (staging writes stay conflict-free too). */
template <int I8>
__device__ __forceinline__ int small_m_slot(int f) { return I8 ? f ^ ((f >> 3) & 3) : f; }

template <int I8>
__device__ __forceinline__ float small_m_w(const void *B, int64_t i, int is_bf16) {
    return I8 ? (float)((const int8_t *)B)[i] : srt_half_bits_to_f32(((const uint16_t *)B)[i], is_bf16);
}

/* The kernel body; I8: int8 codes (srt_gemm_args.b_dtype SRT_I8, scales in the epilogue), else bf16 / f16 bits. */
template <int I8>
__device__ __forceinline__ void small_m_run(const srt_cuda_small_m_args &a, int is_bf16, int vec16, int k_split) {
    /* staged rows of A during the K loop; the lanes' partial sums ((warp, column, row) x 32 lanes, +1 column so the
     * summing threads hit distinct banks) after it */
    __shared__ float4 smem4[(SM_WARPS * SM_COLS * SM_ROWS * 33 + 3) / 4];
    __shared__ int last_block;
    __shared__ float ss_warp[SM_WARPS][SM_ROWS];                        /* RMSNorm: per-warp sums of squares */
    float *xs = reinterpret_cast<float *>(smem4);                       /* (rows, SM_KC) */
    float (*partial)[33] = reinterpret_cast<float (*)[33]>(smem4);
    const srt_gemm_args &g = a.g;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, splits = gridDim.y, split = blockIdx.y;
    const int n_tiles = (g.N + SM_TILE_N - 1) / SM_TILE_N, n_pass = (g.M + SM_ROWS - 1) / SM_ROWS;
    const int k_lo = split * k_split, k_hi = min(g.K, k_lo + k_split);
    for (int tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const int n0 = tile * SM_TILE_N + warp * SM_COLS;      /* this warp's first column */
        for (int pass = 0; pass < n_pass; pass++) {
            const int m0 = pass * SM_ROWS, rows = min(SM_ROWS, g.M - m0);
            float acc[SM_COLS][SM_ROWS];
            SRT_UNROLL
            for (int c = 0; c < SM_COLS; c++)
                SRT_UNROLL
                for (int r = 0; r < SM_ROWS; r++) acc[c][r] = 0.0f;
            float ss[SM_ROWS];                                   /* RMSNorm: this thread's sums of squares */
            SRT_UNROLL
            for (int r = 0; r < SM_ROWS; r++) ss[r] = 0.0f;
            for (int kc = k_lo; kc < k_hi; kc += SM_KC) {
                const int kn = min(SM_KC, k_hi - kc);
                __syncthreads();                                 /* the previous chunk (or reduction) is done */
                SRT_UNROLL
                for (int r = 0; r < SM_ROWS; r++) {
                    if (r >= rows) break;
                    const float *src = g.A + (int64_t)(m0 + r) * g.lda + kc;
                    if (vec16) {                                  /* kc, kn, lda multiples of 8; A 16-byte aligned */
                        for (int k4 = threadIdx.x; k4 * 4 < kn; k4 += blockDim.x) {
                            float4 *dst = reinterpret_cast<float4 *>(xs + r * SM_KC) + small_m_slot<I8>(k4);
                            const float4 *x4 = reinterpret_cast<const float4 *>(src) + k4;
                            if (a.norm_w) ss[r] += stage_norm4(dst, x4, reinterpret_cast<const float4 *>(a.norm_w + kc) + k4);
                            else *dst = *x4;
                        }
                    } else {
                        for (int k = threadIdx.x; k < kn; k += blockDim.x) {
                            const float x = src[k];
                            xs[r * SM_KC + k] = a.norm_w ? x * a.norm_w[kc + k] : x;
                            ss[r] += x * x;
                        }
                    }
                }
                __syncthreads();
                if (I8 && vec16) {
                    const int n16 = kn / 16;
                    for (int k16 = lane; k16 < n16; k16 += 32 * SM_UNROLL) {
                        uint4 wv[SM_COLS][SM_UNROLL];
                        SRT_UNROLL
                        for (int c = 0; c < SM_COLS; c++)        /* every load issued before any is used */
                            SRT_UNROLL
                            for (int u = 0; u < SM_UNROLL; u++) {
                                const int kk = k16 + 32 * u;
                                wv[c][u] = uint4{0u, 0u, 0u, 0u};
                                if (n0 + c < g.N && kk < n16)
                                    wv[c][u] = reinterpret_cast<const uint4 *>(
                                        (const int8_t *)g.B + (int64_t)(n0 + c) * g.ldb + kc)[kk];
                            }
                        SRT_UNROLL
                        for (int u = 0; u < SM_UNROLL; u++) {
                            const int kk = k16 + 32 * u, sw = (kk >> 1) & 3;
                            if (kk >= n16) break;
                            SRT_UNROLL
                            for (int r = 0; r < SM_ROWS; r++) {      /* 16 activations from shared, used by 4 columns */
                                if (r < rows) {
                                    const float4 *xr = reinterpret_cast<const float4 *>(xs + r * SM_KC) + kk * 4;
                                    const float4 x0 = load_f4(xr + (0 ^ sw)), x1 = load_f4(xr + (1 ^ sw)),
                                                 x2 = load_f4(xr + (2 ^ sw)), x3 = load_f4(xr + (3 ^ sw));
                                    SRT_UNROLL
                                    for (int c = 0; c < SM_COLS; c++) {
                                        const uint4 w = wv[c][u];
                                        float s = acc[c][r];
                                        s += srt_i8_at(w.x, 0) * x0.x; s += srt_i8_at(w.x, 1) * x0.y;
                                        s += srt_i8_at(w.x, 2) * x0.z; s += srt_i8_at(w.x, 3) * x0.w;
                                        s += srt_i8_at(w.y, 0) * x1.x; s += srt_i8_at(w.y, 1) * x1.y;
                                        s += srt_i8_at(w.y, 2) * x1.z; s += srt_i8_at(w.y, 3) * x1.w;
                                        s += srt_i8_at(w.z, 0) * x2.x; s += srt_i8_at(w.z, 1) * x2.y;
                                        s += srt_i8_at(w.z, 2) * x2.z; s += srt_i8_at(w.z, 3) * x2.w;
                                        s += srt_i8_at(w.w, 0) * x3.x; s += srt_i8_at(w.w, 1) * x3.y;
                                        s += srt_i8_at(w.w, 2) * x3.z; s += srt_i8_at(w.w, 3) * x3.w;
                                        acc[c][r] = s;
                                    }
                                }
                            }
                        }
                    }
                } else if (vec16) {
                    const int n8 = kn / 8;
                    for (int k8 = lane; k8 < n8; k8 += 32 * SM_UNROLL) {
                        uint4 wv[SM_COLS][SM_UNROLL];
                        SRT_UNROLL
                        for (int c = 0; c < SM_COLS; c++)        /* every load issued before any is used */
                            SRT_UNROLL
                            for (int u = 0; u < SM_UNROLL; u++) {
                                const int kk = k8 + 32 * u;
                                wv[c][u] = uint4{0u, 0u, 0u, 0u};
                                if (n0 + c < g.N && kk < n8)
                                    wv[c][u] = reinterpret_cast<const uint4 *>(
                                        (const uint16_t *)g.B + (int64_t)(n0 + c) * g.ldb + kc)[kk];
                            }
                        SRT_UNROLL
                        for (int u = 0; u < SM_UNROLL; u++) {
                            const int kk = k8 + 32 * u;
                            if (kk >= n8) break;
                            SRT_UNROLL
                            for (int r = 0; r < SM_ROWS; r++) {      /* 8 activations from shared, used by 4 columns */
                                if (r < rows) {
                                    const float4 *xr = reinterpret_cast<const float4 *>(xs + r * SM_KC + kk * 8);
                                    const float4 x0 = load_f4(xr), x1 = load_f4(xr + 1);
                                    SRT_UNROLL
                                    for (int c = 0; c < SM_COLS; c++) {
                                        const uint4 w = wv[c][u];
                                        float s = acc[c][r];
                                        s += srt_half_bits_to_f32(w.x & 0xffffu, is_bf16) * x0.x;
                                        s += srt_half_bits_to_f32(w.x >> 16, is_bf16) * x0.y;
                                        s += srt_half_bits_to_f32(w.y & 0xffffu, is_bf16) * x0.z;
                                        s += srt_half_bits_to_f32(w.y >> 16, is_bf16) * x0.w;
                                        s += srt_half_bits_to_f32(w.z & 0xffffu, is_bf16) * x1.x;
                                        s += srt_half_bits_to_f32(w.z >> 16, is_bf16) * x1.y;
                                        s += srt_half_bits_to_f32(w.w & 0xffffu, is_bf16) * x1.z;
                                        s += srt_half_bits_to_f32(w.w >> 16, is_bf16) * x1.w;
                                        acc[c][r] = s;
                                    }
                                }
                            }
                        }
                    }
                } else {
                    for (int k = lane; k < kn; k += 32) {
                        float wk[SM_COLS];
                        SRT_UNROLL
                        for (int c = 0; c < SM_COLS; c++)
                            wk[c] = n0 + c < g.N ? small_m_w<I8>(g.B, (int64_t)(n0 + c) * g.ldb + kc + k, is_bf16)
                                                 : 0.0f;
                        SRT_UNROLL
                        for (int c = 0; c < SM_COLS; c++)
                            SRT_UNROLL
                            for (int r = 0; r < SM_ROWS; r++)
                                if (r < rows) acc[c][r] += wk[c] * xs[r * SM_KC + k];
                    }
                }
            }
            if (a.norm_w) {                                      /* reduce the sums of squares per warp */
                SRT_UNROLL
                for (int r = 0; r < SM_ROWS; r++) {
                    const float w = srt_warp_sum(ss[r]);
                    if (lane == 0) ss_warp[warp][r] = w;
                }
            }
            __syncthreads();                                     /* xs is reused as partial */
            SRT_UNROLL
            for (int c = 0; c < SM_COLS; c++)
                SRT_UNROLL
                for (int r = 0; r < SM_ROWS; r++) partial[(warp * SM_COLS + c) * SM_ROWS + r][lane] = acc[c][r];
            __syncthreads();
            /* thread t sums (column t / SM_ROWS of the tile, row t % SM_ROWS) over the lanes in order */
            const int t = threadIdx.x, r = t % SM_ROWS, tn = t / SM_ROWS, n = tile * SM_TILE_N + tn;
            const int swiglu = a.mode == SRT_SMALL_M_SWIGLU, mine = r < rows && n < g.N && (!swiglu || n % 2 == 0);
            float sum = 0.0f, up = 0.0f, row_ss = 0.0f;
            if (mine) {
                for (int l = 0; l < 32; l++) sum += partial[t][l];
                if (swiglu) for (int l = 0; l < 32; l++) up += partial[t + SM_ROWS][l];
            }
            if (a.norm_w)
                for (int w = 0; w < SM_WARPS; w++) row_ss += ss_warp[w][r];   /* this block's K range, warp order */
            if (splits == 1) {
                const float inv = a.norm_w ? rsqrtf(row_ss / (float)g.K + a.eps) : 1.0f;
                if (mine) small_m_store(a, m0 + r, n, sum * inv, up * inv);
                continue;
            }
            /* split-K: partial sums to the workspace (splits, M, N), then each split's sums of squares (splits, M)
             * (every tile's block of a split writes the same values); the tile's last block adds them in order */
            float *ws_ss = a.ws + (int64_t)splits * g.M * g.N;
            if (mine) {
                a.ws[((int64_t)split * g.M + m0 + r) * g.N + n] = sum;
                if (swiglu) a.ws[((int64_t)split * g.M + m0 + r) * g.N + n + 1] = up;
            }
            if (a.norm_w && t < rows) ws_ss[(int64_t)split * g.M + m0 + t] = row_ss;
            __threadfence();
            __syncthreads();
            if (t == 0) last_block = atomicAdd(&a.counters[tile * n_pass + pass], 1) == splits - 1;
            __syncthreads();
            if (!last_block) continue;
            __threadfence();
            if (mine) {
                const volatile float *ws = a.ws, *vss = ws_ss;
                sum = 0.0f;
                up = 0.0f;
                row_ss = 0.0f;
                for (int s = 0; s < splits; s++) {
                    sum += ws[((int64_t)s * g.M + m0 + r) * g.N + n];
                    if (swiglu) up += ws[((int64_t)s * g.M + m0 + r) * g.N + n + 1];
                    if (a.norm_w) row_ss += vss[(int64_t)s * g.M + m0 + r];
                }
                const float inv = a.norm_w ? rsqrtf(row_ss / (float)g.K + a.eps) : 1.0f;
                small_m_store(a, m0 + r, n, sum * inv, up * inv);
            }
            if (t == 0) a.counters[tile * n_pass + pass] = 0;   /* ready for the next launch */
        }
    }
}

__global__ void __launch_bounds__(SM_WARPS * 32, 2) gemm_small_m_kernel(srt_cuda_small_m_args a, int is_bf16, int vec16,
                                                                     int k_split) {
    small_m_run<0>(a, is_bf16, vec16, k_split);
}

__global__ void __launch_bounds__(SM_WARPS * 32, 2) gemm_small_m_i8_kernel(srt_cuda_small_m_args a, int vec16,
                                                                        int k_split) {
    small_m_run<1>(a, 0, vec16, k_split);
}

/* Splits of K for n_tiles column tiles: enough blocks for SM_TARGET_BLOCKS, each split >= SM_KC / 2 columns. */
static int small_m_splits(int n_tiles, int K) {
    int s = (SM_TARGET_BLOCKS + n_tiles - 1) / n_tiles;
    int by_k = K / (SM_KC / 2);
    if (s > by_k) s = by_k;
    if (s > SRT_SMALL_M_MAX_SPLITS) s = SRT_SMALL_M_MAX_SPLITS;
    return s < 1 ? 1 : s;
}

extern "C" size_t srt_cuda_small_m_ws_floats(void) {
    /* splits only when n_tiles < SM_TARGET_BLOCKS: splits x n_tiles < 2 x SM_TARGET_BLOCKS tiles of 32 x M, and
     * the splits' sums of squares (splits x M) */
    return (size_t)2 * SM_TARGET_BLOCKS * (SM_TILE_N + 1) * SRT_CUDA_GEMM_ROWS_MAX_M;
}

extern "C" srt_status srt_cuda_gemm_small_m(const srt_cuda_small_m_args *a, cudaStream_t stream) {
    const srt_gemm_args *g = &a->g;
    const int i8 = g->b_dtype == SRT_I8;
    if (!g->trans_b || g->trans_a || (g->b_dtype != SRT_BF16 && g->b_dtype != SRT_F16 && !(i8 && g->b_scale)))
        return srt_error(SRT_ERR_INVALID_ARG, "gemm_small_m: needs B (N,K) in bf16/f16 (or int8 with scales) and A "
                                              "not transposed");
    if (g->M > SRT_CUDA_GEMM_ROWS_MAX_M)
        return srt_error(SRT_ERR_INVALID_ARG, "gemm_small_m: %d rows (at most %d)", g->M, SRT_CUDA_GEMM_ROWS_MAX_M);
    if (a->mode == SRT_SMALL_M_SWIGLU && g->N % 2)
        return srt_error(SRT_ERR_INVALID_ARG, "gemm_small_m: swiglu needs an even N (gate/up pairs), got %d", g->N);
    if (g->M == 0 || g->N == 0) return SRT_OK;
    /* 16-byte loads need every row of B and A to start 16-byte aligned and K to be a multiple of 8 (16 for int8) */
    const int per16 = i8 ? 16 : 8;
    const int vec16 = ((uintptr_t)g->B % 16 == 0) && g->ldb % per16 == 0 && g->K % per16 == 0 &&
                      ((uintptr_t)g->A % 16 == 0) && g->lda % 4 == 0 && ((uintptr_t)a->norm_w % 16 == 0);
    const int n_tiles = (g->N + SM_TILE_N - 1) / SM_TILE_N, n_pass = (g->M + SM_ROWS - 1) / SM_ROWS;
    int splits = a->ws && a->counters && n_tiles < SM_TARGET_BLOCKS ? small_m_splits(n_tiles, g->K) : 1;
    int k_split = g->K;
    if (splits > 1) {
        k_split = (g->K + splits - 1) / splits;
        k_split = (k_split + per16 - 1) / per16 * per16;    /* split boundaries keep 16-byte alignment */
        splits = (g->K + k_split - 1) / k_split;
        if ((size_t)splits * g->M * (g->N + 1) > srt_cuda_small_m_ws_floats() || n_tiles * n_pass > SRT_SMALL_M_COUNTERS)
            splits = 1, k_split = g->K;
    }
    const unsigned blocks = (unsigned)(n_tiles < SM_MAX_BLOCKS ? n_tiles : SM_MAX_BLOCKS);
    if (i8) {
        LAUNCH(gemm_small_m_i8_kernel, dim3(blocks, (unsigned)splits), SM_WARPS * 32, 0, stream, *a, vec16, k_split);
        return SRT_LAUNCH_STATUS(gemm_small_m_i8_kernel);
    }
    LAUNCH(gemm_small_m_kernel, dim3(blocks, (unsigned)splits), SM_WARPS * 32, 0, stream, *a,
           g->b_dtype == SRT_BF16, vec16, k_split);
    return SRT_LAUNCH_STATUS(gemm_small_m_kernel);
}
