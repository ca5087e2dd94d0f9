/* gemm_half_rows.cuh: the decode GEMM with half-precision weights read directly (no f32 copy of the weights):
 *   C (M, N) = alpha * A (M, K) @ B^T + beta * C,  A f32 (row stride lda), B (N, K) bf16 or f16 bits (row stride
 *   ldb: a PyTorch Linear weight), C f32 (row stride ldc), f32 accumulation.
 * A block owns a tile of GEMM_TILE_N = 32 output columns, GEMM_COLS = 4 per warp: the lanes of a warp stream those
 * 4 rows of B once per pass (16-byte loads of 8 halves when the rows are 16-byte aligned, 2-byte loads otherwise),
 * converting in registers, and multiply them with GEMM_ROWS = 8 rows of A (every lane's partial sums in registers:
 * 4 x 8). The 32 lanes' partials go to shared memory and one thread per (column, row) adds them in lane order:
 * one barrier pair per tile and pass instead of 5 shuffles per output (and the same sums in every thread order).
 * For M > 8 the warp walks its rows of B again per group of 8 rows (a few KiB, from L1/L2): HBM traffic stays
 * ~2 bytes per weight whatever M, against ~10 for widen-to-f32 + cublasSgemm. Tiles are grid-strided over at most
 * GEMM_MAX_BLOCKS blocks (8 resident 256-thread blocks on each of 132 SMs).
 * Used by srt_cuda_gemm for trans_b, !trans_a and M <= SRT_CUDA_GEMM_ROWS_MAX_M (decode batches); larger M is
 * compute-bound and goes to cuBLAS. Checked against cpu-ref by tests/test_cudasim_backend.cpp (gemm cases). */
#include "cuda/common.cuh"
#include "cuda/f16_bits.cuh"

#define GEMM_ROWS 8          /* rows of A per pass */
#define GEMM_COLS 4          /* output columns per warp */
#define GEMM_WARPS 8         /* warps per block */
#define GEMM_TILE_N (GEMM_COLS * GEMM_WARPS)
#define GEMM_MAX_BLOCKS 1056

__device__ __forceinline__ float srt_half_bits_to_f32(unsigned h, int is_bf16) {
    return is_bf16 ? __uint_as_float(h << 16) : srt_f16_bits_to_f32(h);
}

__global__ void gemm_half_rows_kernel(srt_gemm_args a, int is_bf16, int vec16) {
    /* (warp, column, row) x 32 lanes of partial sums; +1 column so the summing threads hit distinct banks */
    __shared__ float partial[GEMM_WARPS * GEMM_COLS * GEMM_ROWS][33];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_tiles = (a.N + GEMM_TILE_N - 1) / GEMM_TILE_N;
    for (int tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const int n0 = tile * GEMM_TILE_N + warp * GEMM_COLS;     /* this warp's first column */
        for (int m0 = 0; m0 < a.M; m0 += GEMM_ROWS) {
            const int rows = min(GEMM_ROWS, a.M - m0);
            const float *x = a.A + (int64_t)m0 * a.lda;            /* (rows, K) */
            float acc[GEMM_COLS][GEMM_ROWS];
            SRT_UNROLL
            for (int c = 0; c < GEMM_COLS; c++)
                SRT_UNROLL
                for (int r = 0; r < GEMM_ROWS; r++) acc[c][r] = 0.0f;
            SRT_UNROLL
            for (int c = 0; c < GEMM_COLS; c++) {
                if (n0 + c >= a.N) continue;                        /* uniform per warp */
                const uint16_t *w = (const uint16_t *)a.B + (int64_t)(n0 + c) * a.ldb;     /* (K) */
                if (vec16) {
                    const uint4 *wv = reinterpret_cast<const uint4 *>(w);
                    for (int k8 = lane; k8 * 8 < a.K; k8 += 32) {
                        const uint4 v = wv[k8];
                        const unsigned packed[4] = {v.x, v.y, v.z, v.w};
                        float wf[8];
                        SRT_UNROLL
                        for (int j = 0; j < 4; j++) {
                            wf[2 * j] = srt_half_bits_to_f32(packed[j] & 0xffffu, is_bf16);
                            wf[2 * j + 1] = srt_half_bits_to_f32(packed[j] >> 16, is_bf16);
                        }
                        SRT_UNROLL
                        for (int r = 0; r < GEMM_ROWS; r++) {
                            if (r < rows) {
                                const float *xr = x + (int64_t)r * a.lda + k8 * 8;
                                float s = acc[c][r];
                                SRT_UNROLL
                                for (int j = 0; j < 8; j++) s += wf[j] * xr[j];
                                acc[c][r] = s;
                            }
                        }
                    }
                } else {
                    for (int k = lane; k < a.K; k += 32) {
                        const float wk = srt_half_bits_to_f32(w[k], is_bf16);
                        SRT_UNROLL
                        for (int r = 0; r < GEMM_ROWS; r++)
                            if (r < rows) acc[c][r] += wk * x[(int64_t)r * a.lda + k];
                    }
                }
            }
            SRT_UNROLL
            for (int c = 0; c < GEMM_COLS; c++)
                SRT_UNROLL
                for (int r = 0; r < GEMM_ROWS; r++) partial[(warp * GEMM_COLS + c) * GEMM_ROWS + r][lane] = acc[c][r];
            __syncthreads();
            /* thread t sums (column t / GEMM_ROWS of the tile, row t % GEMM_ROWS) over the lanes in order */
            const int t = threadIdx.x, r = t % GEMM_ROWS, n = tile * GEMM_TILE_N + t / GEMM_ROWS;
            if (r < rows && n < a.N) {
                float sum = 0.0f;
                for (int l = 0; l < 32; l++) sum += partial[t][l];
                float *c = a.C + (int64_t)(m0 + r) * a.ldc + n;
                *c = a.alpha * sum + (a.beta != 0.0f ? a.beta * *c : 0.0f);
            }
            __syncthreads();                                        /* partial is rewritten by the next pass */
        }
    }
}

extern "C" srt_status srt_cuda_gemm_half_rows(const srt_gemm_args *a, cudaStream_t stream) {
    if (!a->trans_b || a->trans_a || (a->b_dtype != SRT_BF16 && a->b_dtype != SRT_F16))
        return srt_error(SRT_ERR_INVALID_ARG, "gemm_half_rows: needs B (N,K) in bf16/f16 and A not transposed");
    if (a->M == 0 || a->N == 0) return SRT_OK;
    /* 16-byte loads need every row of B to start 16-byte aligned and K to be a multiple of 8 */
    const int vec16 = ((uintptr_t)a->B % 16 == 0) && a->ldb % 8 == 0 && a->K % 8 == 0;
    const int n_tiles = (a->N + GEMM_TILE_N - 1) / GEMM_TILE_N;
    const unsigned blocks = (unsigned)(n_tiles < GEMM_MAX_BLOCKS ? n_tiles : GEMM_MAX_BLOCKS);
    LAUNCH(gemm_half_rows_kernel, blocks, GEMM_WARPS * 32, 0, stream, *a, a->b_dtype == SRT_BF16, vec16);
    return SRT_LAUNCH_STATUS(gemm_half_rows_kernel);
}
