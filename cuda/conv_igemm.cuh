/* conv_igemm.cuh: dense (groups == 1) conv1d and conv_transpose1d as implicit GEMMs in fp32 FMA tiles held in
 * shared memory: no im2col buffer, no `cols` buffer, no col2im pass, no separate bias/residual pass.
 *   conv1d_igemm_kernel         Y (out_ch, out_len) of one item = W (out_ch, R) @ X (R, out_len), R = in_ch*kernel,
 *                               X[ic*kernel + k][t] = snake?(mask(x))[ic][t*stride - padding + k*dilation]: each
 *                               X tile is built in shared memory straight from the activation (mask and Snake
 *                               applied while loading); bias and residual added in the epilogue.
 *   convt1d_igemm_kernel        conv_transpose1d as `stride` phase convolutions stacked as the rows of one GEMM:
 *                               row (oc, phi) = oc*stride + phi, column m, the output t = m*stride + phi - padding:
 *                               Y[oc*stride + phi][m] = sum over ic, j < taps of w[ic][oc][phi + j*stride] *
 *                               x'[ic][m - j], taps = ceil(kernel / stride) (a tap with phi + j*stride >= kernel
 *                               weighs 0). A block's 64 rows are 64/stride channels x all their phases, so its
 *                               tile is contiguous output positions of each channel: staged in shared memory
 *                               (igemm_convt_flush) and written as 16-byte stores, not one float per sector.
 *   conv{,t}1d_igemm_{tf32,bf16}_kernel  the same on tensor cores (mma.cuh; precision modes tf32 / bf16).
 *   conv1d_igemm_{tf32,bf16}_cols_kernel the conv on tensor cores with IG_COLS column tiles of the batch per block
 *                               (the columns are the flattened (item, position) pairs: each W tile serves IG_COLS
 *                               tiles, of one item or of several; the default of those modes).
 * Block: IG_BM output channels x IG_BN positions, IG_THREADS threads, each 4 x 4 outputs (channels 4ty .. 4ty+3,
 * positions 4tx .. 4tx+3: one 16-byte shared read of W (a broadcast) and one of X per reduction row, 16-byte
 * stores); reduction in steps of IG_BK. Snake is the fast range-reduced one (snake_fast.cuh). Each output is summed
 * in reduction-index order whatever the grid and the batch: batch-invariant.
 * Pipelining: the global loads of reduction step i+1 go to registers (raw values, igemm_stage) before the math of
 * step i, and are stored (mask + Snake applied) into the other of two shared buffers after it: one barrier per step
 * and 8 independent loads per lane in flight over a whole tile of math. Traffic: where a step's channels' windows
 * fit in shared memory (any kernel; the step's rows may cover channels in part), a conv step's input windows are
 * loaded once into shared memory and the X tile built from them (win, igemm_build_x: one more barrier per step);
 * transposed W tiles are read as contiguous runs of w where the shape allows (w_runs).
 * Split reduction: where one item's grid is under IG_SPLIT_BLOCKS blocks, the reduction is cut into `splits` ranges
 * (blockIdx.x = split * column tiles + tile), each written as partial sums to `part`, and igemm_split_sum_kernel adds
 * them in split order + bias + residual. The split count depends on the item's shape only, never on the batch:
 * still batch-invariant. Where the batch alone fills the GPU (IG_SPLIT_BLOCKS blocks without splitting), the ranges
 * are not launched but folded: one block sums range after range and adds them in split order (igemm_fold, fold_rows):
 * the same bits as the split launches, without the partial sums' stores and the sum launch.
 * Tensor-core epilogue: the fragments (2 adjacent columns of 8 rows per lane) are staged in shared memory and the
 * tile written as rows of 16-byte stores (+ 16-byte residual loads): each output sector moved once, not twice.
 * Residual may alias y: a thread reads residual[o] before it writes y[o]. */
#include "cuda/common.cuh"
#include "cuda/snake_fast.cuh"
#include "cuda/mma.cuh"
#ifdef __CUDACC__
#define SRT_SIM_FLOPS(kernel, flops, unit) ((void)(flops))
#else
#include "tests/cudasim/cudasim_api.h"
/* the simulator's counters get the kernel's exact FLOPs from its shape (bench/gpu_model.py) */
#define SRT_SIM_FLOPS(kernel, flops, unit) cudasim_note_flops(#kernel, (double)(flops), (unit))
#endif

#define IG_BM 64
#define IG_BN 64
#define IG_BK 16
#define IG_THREADS 256
#define IG_SPLIT_BLOCKS 264     /* split the reduction while one item's grid has fewer blocks (2 x 132 SMs) */
#define IG_SPLIT_MIN_STEPS 16   /* ... but keep >= 16 reduction steps (256 rows) per split */
#define IG_SPLIT_MAX 16

struct srt_igemm_args {
    const float *x, *w, *bias, *alpha, *residual;
    float *y;
    float *part;    /* splits > 1: partial sums (splits, batch, out_ch, out_len) */
    const int *valid;
    int batch, in_ch, out_ch, in_len, out_len;
    int kernel, stride, dilation, padding;
    int taps;       /* reduction taps per input channel: kernel (conv), ceil(kernel/stride) (transposed) */
    int rows;       /* GEMM rows: out_ch (conv), out_ch * stride (transposed: row oc*stride + phase) */
    int col_tiles;  /* blocks along the columns of one split (gridDim.x = splits * col_tiles) */
    int col_groups; /* conv1d_igemm_cols: blocks of IG_COLS (item, column tile) pairs per split (gridDim.x = splits *
                     * col_groups, gridDim.z = 1); 0: one tile of one item per block (gridDim.z = batch) */
    int splits, split_rows;   /* split s sums reduction rows [s * split_rows, min(R, (s + 1) * split_rows)) */
    int fold_rows;  /* > 0 (splits == 1): the block sums the split ranges of fold_rows rows one after the other and
                     * adds them in split order (igemm_fold): the bits of the split sum, no part / sum pass */
    int win;        /* conv, > 0: X from the step's input windows in shared memory, win floats per input channel */
    int win_shift;  /* win: a window starts win_shift floats before m0*stride - padding (a 32-byte boundary) */
    int win_ch;     /* win: at most this many input channels (windows) per reduction step */
    int w_runs;     /* transposed, 1: W tiles fetched as contiguous runs of w (igemm_wrun) */
};

/* raw global loads of one reduction step of one thread: 4 W values, 4 X values and their Snake alphas */
struct igemm_stage {
    float w[4], x[4], al[4];
    float alw;   /* win: the Snake alpha of the step's input channel tid (tid < IG_BK / taps) */
};

/* Transposed, w_runs (stride divides IG_BM, taps divides IG_BK, kernel == taps * stride): a step's W tile is
 * IG_BK/taps input channels x a contiguous run of (IG_BM/stride)*kernel = IG_BM*taps floats of w (the block's
 * channels, all their taps), so element f = s*IG_THREADS + tid of the step is run f / (IG_BM*taps), offset `off`
 * in it; its tile slot is reduction row kk = icl*taps + j, stacked row mm = chl*stride + phi (k = phi + j*stride).
 * Returns the offset of the element in w from the step's first (channel, input channel) pair. */
__device__ __forceinline__ int igemm_wrun(const srt_igemm_args &a, int s, int *kk, int *mm) {
    int f = s * IG_THREADS + (int)threadIdx.x, per = IG_BM * a.taps;
    int icl = f / per, rem = f - icl * per, chl = rem / a.kernel, k = rem - chl * a.kernel, j = k / a.stride;
    *kk = icl * a.taps + j;
    *mm = chl * a.stride + (k - j * a.stride);
    return icl * a.out_ch * a.kernel + rem;
}

/* Conv, win > 0 (win_ch * win <= 4 * IG_THREADS): a step's reduction rows r0 .. r0 + IG_BK - 1 are rows of the
 * input channels c0 = r0 / taps .. (r0 + IG_BK - 1) / taps, at most win_ch of them (IG_BK/taps whole channels where
 * taps divides IG_BK: steps start at multiples of IG_BK; else up to (IG_BK - 2 + taps)/taps + 1 channels, the
 * first and last in part: a kernel of 7 takes 3 or 4); each channel's window x[ic][p0 - win_shift + u], p0 =
 * m0*stride - padding, u < win =
 * win_shift + (IG_BN-1)*stride + (taps-1)*dilation + 1 (starting on a 32-byte boundary), is loaded once (coalesced:
 * element f = s*IG_THREADS + tid is channel f / win, u = f % win) raw into shared memory with the channels' Snake
 * alphas (one load each), and the X tile is built from it with mask and Snake applied as igemm_fetch + igemm_put
 * do (igemm_build_x): each input element is read once per step instead of once per tap (and once per sector per
 * column for strided convs), each alpha once per step instead of once per X element. */
#define IG_WIN_MAX (4 * IG_THREADS)
/* window element f sits at f + f/32 in shared memory: the build's reads at stride 2, 4 or 8 hit 32 banks */
#define IG_WIN_AT(f) ((f) + ((f) >> 5))
#define IG_WIN_FLOATS IG_WIN_AT(IG_WIN_MAX)

/* Load (into registers) the W tile (IG_BK reduction rows x IG_BM channels) and X tile (IG_BK x IG_BN) of the
 * step at r0. Conv W: lanes along a row of w (contiguous); X: lanes along the positions (coalesced for stride 1)
 * or the step's input windows (win). Transposed W: lanes along (channel, tap) runs of w (w_runs) or along the
 * reduction rows. Rows >= r_end, channels >= out_ch, columns >= n_cols and positions outside [0, n_valid) are 0
 * (not loaded). */
template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_fetch_w(const srt_igemm_args &a, igemm_stage &st, int r0, int r_end, int oc0) {
    int tid = threadIdx.x;
    int R = a.in_ch * a.taps;
    if (TRANSPOSED && a.w_runs) {
        const float *w0 = a.w + ((size_t)(r0 / a.taps) * a.out_ch + oc0 / a.stride) * a.kernel;
        SRT_UNROLL
        for (int s = 0; s < 4; s++) {
            int kk, mm, off = igemm_wrun(a, s, &kk, &mm);
            st.w[s] = r0 + kk < r_end && oc0 + mm < a.rows ? w0[off] : 0.0f;
        }
    } else {
        SRT_UNROLL
        for (int s = 0; s < 4; s++) {
            int kk = tid & 15, mm = (tid >> 4) + 16 * s;
            int r = r0 + kk, oc = oc0 + mm;
            float v = 0.0f;
            if (r < r_end && oc < a.rows) {
                if (TRANSPOSED) {   /* oc is a stacked row (channel, phase) */
                    int ch = oc / a.stride, phi = oc - ch * a.stride;
                    int ic = r / a.taps, k = phi + (r - ic * a.taps) * a.stride;
                    if (k < a.kernel) v = a.w[((size_t)ic * a.out_ch + ch) * a.kernel + k];
                } else {
                    v = a.w[(size_t)oc * R + r];
                }
            }
            st.w[s] = v;
        }
    }
}

/* the X part of igemm_fetch (alphas: also the window alphas of a step, win) */
template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_fetch_x(const srt_igemm_args &a, const float *item, igemm_stage &st, int r0,
                                              int r_end, int m0, int n_cols, int n_valid, bool alphas = true) {
    int tid = threadIdx.x;
    if (!TRANSPOSED && a.win) {
        /* the step's channels [c0, c_end): those with a row in [r0, min(r_end, r0 + IG_BK)) */
        int p0 = m0 * a.stride - a.padding - a.win_shift, c0 = r0 / a.taps;
        int c_end = (min(r_end, r0 + IG_BK) - 1) / a.taps + 1;
        SRT_UNROLL
        for (int s = 0; s < 4; s++) {
            int f = s * IG_THREADS + tid, icl = f / a.win, u = f - icl * a.win;
            int ic = c0 + icl, pos = p0 + u;
            st.x[s] = ic < c_end && pos >= 0 && pos < n_valid ? item[(size_t)ic * a.in_len + pos] : 0.0f;
        }
        if (alphas) st.alw = a.alpha && c0 + tid < c_end ? a.alpha[c0 + tid] : 1.0f;
        return;
    }
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int nn = tid & 63, kk = (tid >> 6) + 4 * s;
        int r = r0 + kk, m = m0 + nn;
        float v = 0.0f, al = 1.0f;
        if (r < r_end && m < n_cols) {
            int ic = r / a.taps, k = r - ic * a.taps;
            int pos = TRANSPOSED ? m - k : m * a.stride - a.padding + k * a.dilation;
            if (pos >= 0 && pos < n_valid) {
                v = item[(size_t)ic * a.in_len + pos];
                if (a.alpha) al = a.alpha[ic];
            }
        }
        st.x[s] = v;
        st.al[s] = al;
    }
}

template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_fetch(const srt_igemm_args &a, const float *item, igemm_stage &st, int r0,
                                            int r_end, int oc0, int m0, int n_cols, int n_valid) {
    igemm_fetch_w<TRANSPOSED>(a, st, r0, r_end, oc0);
    igemm_fetch_x<TRANSPOSED>(a, item, st, r0, r_end, m0, n_cols, n_valid);
}

/* Store a fetched step into shared memory (W row pitch wp, X pitch xp; win: the windows, built into X by
 * igemm_build_x after a barrier), Snake applied to X (snake(0) = 0) */
template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_put_w(const srt_igemm_args &a, const igemm_stage &st, float *ws, int wp) {
    int tid = threadIdx.x;
    if (TRANSPOSED && a.w_runs) {
        SRT_UNROLL
        for (int s = 0; s < 4; s++) {
            int kk, mm;
            igemm_wrun(a, s, &kk, &mm);
            ws[kk * wp + mm] = st.w[s];
        }
    } else {
        SRT_UNROLL
        for (int s = 0; s < 4; s++) ws[(tid & 15) * wp + (tid >> 4) + 16 * s] = st.w[s];
    }
}

/* the X part of igemm_put (walpha NULL: the window alphas are put by another call) */
template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_put_x(const srt_igemm_args &a, const igemm_stage &st, float *xs, int xp,
                                            float *win, float *walpha) {
    int tid = threadIdx.x;
    if (!TRANSPOSED && a.win) {
        SRT_UNROLL
        for (int s = 0; s < 4; s++) win[IG_WIN_AT(s * IG_THREADS + tid)] = st.x[s];
        if (walpha && tid < IG_BK) walpha[tid] = st.alw;
        return;
    }
    SRT_UNROLL
    for (int s = 0; s < 4; s++)
        xs[((tid >> 6) + 4 * s) * xp + (tid & 63)] = a.alpha ? srt_snake_fast_dev(st.x[s], st.al[s]) : st.x[s];
}

template <bool TRANSPOSED>
__device__ __forceinline__ void igemm_put(const srt_igemm_args &a, const igemm_stage &st, float *ws, int wp,
                                          float *xs, int xp, float *win, float *walpha) {
    igemm_put_w<TRANSPOSED>(a, st, ws, wp);
    igemm_put_x<TRANSPOSED>(a, st, xs, xp, win, walpha);
}

/* win: the X tile of the step at r0 from the windows and alphas put by igemm_put: X[kk][nn] = Snake of window
 * ic - c0 (ic = (r0 + kk) / taps, c0 = r0 / taps) at win_shift + nn*stride + ((r0 + kk) % taps)*dilation, exactly
 * the value igemm_fetch + igemm_put give
 * (Snake of 0 with alpha 1 for rows >= r_end, columns >= n_cols and positions outside [0, n_valid)) */
__device__ __forceinline__ void igemm_build_x(const srt_igemm_args &a, const float *win, const float *walpha,
                                              float *xs, int xp, int r0, int r_end, int m0, int n_cols,
                                              int n_valid) {
    int tid = threadIdx.x, p0 = m0 * a.stride - a.padding, c0 = r0 / a.taps;
    SRT_UNROLL
    for (int s = 0; s < 4; s++) {
        int nn = tid & 63, kk = (tid >> 6) + 4 * s, ic = (r0 + kk) / a.taps, icl = ic - c0;
        int u = nn * a.stride + (r0 + kk - ic * a.taps) * a.dilation, pos = p0 + u;
        bool in = r0 + kk < r_end && m0 + nn < n_cols && pos >= 0 && pos < n_valid;
        float v = in ? win[IG_WIN_AT(icl * a.win + a.win_shift + u)] : 0.0f;
        xs[kk * xp + nn] = a.alpha ? srt_snake_fast_dev(v, in ? walpha[icl] : 1.0f) : v;
    }
}

/* Where a block works: item b, split, its row (channel; transposed: stacked row) / column origin and reduction
 * range. */
struct igemm_block {
    int b, split, oc0, m0, n_cols, n_valid, r_begin, r_end;
    const float *item;
};

template <bool TRANSPOSED>
__device__ __forceinline__ igemm_block igemm_where(const srt_igemm_args &a) {
    igemm_block k;
    k.split = blockIdx.x / a.col_tiles;
    k.m0 = (blockIdx.x - k.split * a.col_tiles) * IG_BN;
    k.oc0 = blockIdx.y * IG_BM;
    k.b = blockIdx.z;
    /* columns: output positions (conv) or phase positions m, t = m*stride + phi - padding (transposed) */
    k.n_cols = TRANSPOSED ? (a.out_len - 1 + a.padding) / a.stride + 1 : a.out_len;
    k.n_valid = a.valid ? a.valid[k.b] : a.in_len;
    k.item = a.x + (size_t)k.b * a.in_ch * a.in_len;
    int R = a.in_ch * a.taps;
    k.r_begin = k.split * a.split_rows;
    k.r_end = min(R, k.r_begin + a.split_rows);
    return k;
}

/* one output of a conv: the partial sum of its split, or acc + bias (+ residual) */
__device__ __forceinline__ void igemm_store(const srt_igemm_args &a, const igemm_block &k, int oc, int m, float acc) {
    size_t o = ((size_t)k.b * a.out_ch + oc) * a.out_len + m;
    if (a.splits > 1) {
        a.part[(size_t)k.split * a.batch * a.out_ch * a.out_len + o] = acc;
        return;
    }
    float v = acc + (a.bias ? a.bias[oc] : 0.0f);
    if (a.residual) v += a.residual[o];
    a.y[o] = v;
}

/* 16-byte shared / global accesses: one ld/st.v4 under nvcc; a 16-byte memcpy under g++, so the simulator's
 * counters see one 16-byte access (a float4 dereference is split by g++ into four 4-byte accesses) */
__device__ __forceinline__ float4 igemm_ld4(const float *p) { return srt_load16<float4>(p); }
__device__ __forceinline__ void igemm_st4(float *p, float4 v) { srt_store16(p, v); }

/* conv outputs (oc, m .. m+3) of one thread: 16-byte stores (and residual loads) where the 4 positions are in
 * range and the rows 16-byte aligned (out_len % 4 == 0), else one at a time */
__device__ __forceinline__ void igemm_store4(const srt_igemm_args &a, const igemm_block &k, int oc, int m,
                                             const float acc[4]) {
    if ((a.out_len & 3) == 0 && m + 3 < k.n_cols) {
        size_t o = ((size_t)k.b * a.out_ch + oc) * a.out_len + m;
        float4 v;
        v.x = acc[0]; v.y = acc[1]; v.z = acc[2]; v.w = acc[3];
        if (a.splits > 1) {
            igemm_st4(a.part + (size_t)k.split * a.batch * a.out_ch * a.out_len + o, v);
            return;
        }
        float bias = a.bias ? a.bias[oc] : 0.0f;
        v.x += bias; v.y += bias; v.z += bias; v.w += bias;
        if (a.residual) {
            float4 r = igemm_ld4(a.residual + o);
            v.x += r.x; v.y += r.y; v.z += r.z; v.w += r.w;
        }
        igemm_st4(a.y + o, v);
        return;
    }
    SRT_UNROLL
    for (int j = 0; j < 4; j++)
        if (m + j < k.n_cols) igemm_store(a, k, oc, m + j, acc[j]);
}

/* Transposed: the block's tile ys (IG_BM stacked rows (oc, phi) x IG_BN columns m, pitch IG_YP) covers the output
 * positions t0 .. t0 + IG_BN*stride - 1 (t0 = m0*stride - padding) of each of its channels. Written channel by
 * channel in 16-byte aligned groups of 4 positions: one 16-byte store where the group lies in this tile and in the
 * output (and rows are 16-byte aligned: out_len % 4 == 0), else element by element (the groups at a tile's edges,
 * rows shared with a neighbouring block when stride does not divide IG_BM). Partial sums of a split, or + bias. */
#define IG_YP (IG_BN + 4)
__device__ __forceinline__ void igemm_convt_flush(const srt_igemm_args &a, const igemm_block &k, const float *ys) {
    int s = a.stride, span = IG_BN * s, t0 = k.m0 * s - a.padding;
    int g0 = t0 - (((t0 % 4) + 4) % 4);   /* t0 rounded down to a multiple of 4 */
    int groups = (t0 + span - g0 + 3) / 4, ch0 = k.oc0 / s, nch = (k.oc0 + IG_BM - 1) / s - ch0 + 1;
    bool vec = (a.out_len & 3) == 0;
    float *dst = a.splits > 1 ? a.part + (size_t)k.split * a.batch * a.out_ch * a.out_len : a.y;
    for (int e = threadIdx.x; e < nch * groups; e += IG_THREADS) {
        int c = e / groups, oc = ch0 + c, t = g0 + 4 * (e - c * groups);
        if (oc >= a.out_ch) break;   /* e only grows */
        float bias = a.splits <= 1 && a.bias ? a.bias[oc] : 0.0f;
        float v[4];
        bool in[4], all = true;
        SRT_UNROLL
        for (int j = 0; j < 4; j++) {
            int u = t + j - t0, col = u / s, row = oc * s + (u - col * s) - k.oc0;
            in[j] = u >= 0 && u < span && t + j >= 0 && t + j < a.out_len && row >= 0 && row < IG_BM;
            v[j] = in[j] ? ys[row * IG_YP + col] + bias : 0.0f;
            all = all && in[j];
        }
        size_t o = ((size_t)k.b * a.out_ch + oc) * a.out_len + t;
        if (vec && all) {
            float4 v4;
            v4.x = v[0]; v4.y = v[1]; v4.z = v[2]; v4.w = v[3];
            igemm_st4(dst + o, v4);
        } else {
            SRT_UNROLL
            for (int j = 0; j < 4; j++)
                if (in[j]) dst[o + j] = v[j];
        }
    }
}

/* Conv: the block's staged tile ys (IG_BM channels x IG_BN columns from k.m0, pitch IG_YP) written with lanes along a
 * row's 16 groups of 4 columns: 2 rows of 256 bytes per warp, 16-byte stores (igemm_store4). */
__device__ __forceinline__ void igemm_conv_flush(const srt_igemm_args &a, const igemm_block &k, const float *ys) {
    for (int e = threadIdx.x; e < IG_BM * (IG_BN / 4); e += IG_THREADS) {
        int row = e / (IG_BN / 4), c = 4 * (e - row * (IG_BN / 4)), oc = k.oc0 + row;
        if (oc >= a.out_ch || k.m0 + c >= k.n_cols) continue;
        float4 v = igemm_ld4(&ys[row * IG_YP + c]);
        float r[4] = {v.x, v.y, v.z, v.w};
        igemm_store4(a, k, oc, k.m0 + c, r);
    }
}

/* Reduction step r0 done: where it ends a split range (fold_rows; the last step ends the last range), add the
 * range's sums to the total in split order (the first range is copied: the split sum's v = part[0]; v += ...) and
 * restart them from 0. Without folding the one range ends at the last step: tot = acc. */
__device__ __forceinline__ void igemm_fold(const srt_igemm_args &a, const igemm_block &k, int r0, bool more,
                                           float acc[4][4], float tot[4][4]) {
    int done = r0 + IG_BK - k.r_begin;
    if (more && !(a.fold_rows && done % a.fold_rows == 0)) return;
    bool first = done <= (a.fold_rows ? a.fold_rows : done);
    SRT_UNROLL
    for (int i = 0; i < 4; i++)
        SRT_UNROLL
        for (int j = 0; j < 4; j++) {
            tot[i][j] = first ? acc[i][j] : tot[i][j] + acc[i][j];
            acc[i][j] = 0.0f;
        }
}

/* fp32 FMA tiles: thread (tx, ty) computes channels 4ty .. 4ty+3 x columns 4tx .. 4tx+3 from one 16-byte W and
 * one 16-byte X shared read per reduction row (3 shared passes per warp for 16 FMAs). W pitch 68 floats: rows stay
 * 16-byte aligned and the transposed stores of igemm_put hit 16 banks. */
#define IG_WP (IG_BM + 4)
template <bool TRANSPOSED>
__device__ __forceinline__ void conv_igemm_fp32(const srt_igemm_args &a) {
    __shared__ __align__(16) float ws[2][IG_BK][IG_WP];   /* W tiles, reduction-major */
    __shared__ __align__(16) float xs[2][IG_BK][IG_BN];   /* X tiles */
    __shared__ __align__(16) float ys[TRANSPOSED ? IG_BM * IG_YP : 4];   /* transposed: the output tile */
    __shared__ float win[TRANSPOSED ? 4 : IG_WIN_FLOATS];                 /* conv: the step's input windows */
    __shared__ float walpha[IG_BK];                                       /* ... and their Snake alphas */
    int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    igemm_block k = igemm_where<TRANSPOSED>(a);
    if (k.m0 >= k.n_cols) return;   /* uniform over the block, before any barrier */

    float acc[4][4], tot[4][4];
    SRT_UNROLL
    for (int i = 0; i < 4; i++)
        SRT_UNROLL
        for (int j = 0; j < 4; j++) acc[i][j] = tot[i][j] = 0.0f;

    igemm_stage st;
    igemm_fetch<TRANSPOSED>(a, k.item, st, k.r_begin, k.r_end, k.oc0, k.m0, k.n_cols, k.n_valid);
    igemm_put<TRANSPOSED>(a, st, &ws[0][0][0], IG_WP, &xs[0][0][0], IG_BN, win, walpha);
    __syncthreads();
    if (!TRANSPOSED && a.win) {   /* uniform over the launch */
        igemm_build_x(a, win, walpha, &xs[0][0][0], IG_BN, k.r_begin, k.r_end, k.m0, k.n_cols, k.n_valid);
        __syncthreads();
    }
    int cur = 0;
    for (int r0 = k.r_begin; r0 < k.r_end; r0 += IG_BK) {
        bool more = r0 + IG_BK < k.r_end;
        if (more)   /* next step's loads in flight during this step's math */
            igemm_fetch<TRANSPOSED>(a, k.item, st, r0 + IG_BK, k.r_end, k.oc0, k.m0, k.n_cols, k.n_valid);
        SRT_UNROLL
        for (int kk = 0; kk < IG_BK; kk++) {
            float4 w4 = igemm_ld4(&ws[cur][kk][4 * ty]), x4 = igemm_ld4(&xs[cur][kk][4 * tx]);
            float wv[4] = {w4.x, w4.y, w4.z, w4.w}, xv[4] = {x4.x, x4.y, x4.z, x4.w};
            SRT_UNROLL
            for (int i = 0; i < 4; i++)
                SRT_UNROLL
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(wv[i], xv[j], acc[i][j]);
        }
        igemm_fold(a, k, r0, more, acc, tot);
        if (more) igemm_put<TRANSPOSED>(a, st, &ws[cur ^ 1][0][0], IG_WP, &xs[cur ^ 1][0][0], IG_BN, win, walpha);
        __syncthreads();
        if (!TRANSPOSED && a.win && more) {   /* the windows were read by the last build before this step */
            igemm_build_x(a, win, walpha, &xs[cur ^ 1][0][0], IG_BN, r0 + IG_BK, k.r_end, k.m0, k.n_cols,
                          k.n_valid);
            __syncthreads();
        }
        cur ^= 1;
    }

    if (TRANSPOSED) {   /* stage the tile, then contiguous stores */
        SRT_UNROLL
        for (int i = 0; i < 4; i++) {
            float4 v;
            v.x = tot[i][0]; v.y = tot[i][1]; v.z = tot[i][2]; v.w = tot[i][3];
            igemm_st4(&ys[(4 * ty + i) * IG_YP + 4 * tx], v);
        }
        __syncthreads();
        igemm_convt_flush(a, k, ys);
    } else {
        SRT_UNROLL
        for (int i = 0; i < 4; i++) {
            int oc = k.oc0 + 4 * ty + i;
            if (oc < a.out_ch) igemm_store4(a, k, oc, k.m0 + 4 * tx, tot[i]);
        }
    }
}

/* The mma fragments of a reduction k-step ks (16 rows of the tile in bf16, 8 in tf32) of the tensor-core kernels,
 * read from the staged tiles (rows = reduction index, pitch P floats) and rounded as the mode asks: the A fragment of
 * W at channel m = wm + g (rows ks + 2t, +1, +8, +9 in bf16; ks + t, +4 in tf32) and the B fragment of X at column n;
 * igemm_mma: the mma of the mode. */
template <bool BF16>
__device__ __forceinline__ void igemm_frag_a(const float *W, int P, int ks, int m, int t, uint32_t af[4]) {
    if (BF16) {
        const float *r = W + (ks + 2 * t) * P + m;
        af[0] = srt_bf16x2_bits(r[0], r[P]);
        af[1] = srt_bf16x2_bits(r[8], r[P + 8]);
        af[2] = srt_bf16x2_bits(r[8 * P], r[9 * P]);
        af[3] = srt_bf16x2_bits(r[8 * P + 8], r[9 * P + 8]);
    } else {
        const float *r = W + (ks + t) * P + m;
        af[0] = srt_tf32_bits(r[0]);
        af[1] = srt_tf32_bits(r[8]);
        af[2] = srt_tf32_bits(r[4 * P]);
        af[3] = srt_tf32_bits(r[4 * P + 8]);
    }
}
template <bool BF16>
__device__ __forceinline__ void igemm_frag_b(const float *X, int P, int ks, int n, int t, uint32_t bf[2]) {
    if (BF16) {
        const float *r = X + (ks + 2 * t) * P + n;
        bf[0] = srt_bf16x2_bits(r[0], r[P]);
        bf[1] = srt_bf16x2_bits(r[8 * P], r[9 * P]);
    } else {
        const float *r = X + (ks + t) * P + n;
        bf[0] = srt_tf32_bits(r[0]);
        bf[1] = srt_tf32_bits(r[4 * P]);
    }
}
template <bool BF16>
__device__ __forceinline__ void igemm_mma(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    if (BF16)
        srt_mma_bf16(c, a, b);
    else
        srt_mma_tf32(c, a, b);
}

/* The same implicit GEMM on tensor cores (mma.cuh): 8 warps, warp w computes channels (w%4)*16 .. +15 x columns
 * (w/4)*32 .. +31 of the block tile as 4 m16n8 tiles; tiles are built in fp32 exactly as above and rounded to
 * tf32 (m16n8k8, two k-steps per IG_BK) or bf16 (m16n8k16) when the fragments are read; f32 accumulate.
 * Row pitches (72 tf32, 68 bf16 floats) make the fragment reads conflict-free. */
template <bool TRANSPOSED, bool BF16>
__device__ __forceinline__ void conv1d_igemm_mma(const srt_igemm_args &a) {
    const int P = BF16 ? IG_BM + 4 : IG_BM + 8;
    __shared__ float ws[2][IG_BK][(BF16 ? IG_BM + 4 : IG_BM + 8)];
    __shared__ float xs[2][IG_BK][(BF16 ? IG_BN + 4 : IG_BN + 8)];
    __shared__ __align__(16) float ys[IG_BM * IG_YP];                    /* the output tile */
    __shared__ float win[TRANSPOSED ? 4 : IG_WIN_FLOATS];                 /* conv: the step's input windows */
    __shared__ float walpha[IG_BK];                                       /* ... and their Snake alphas */
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
    igemm_block k = igemm_where<TRANSPOSED>(a);
    if (k.m0 >= k.n_cols) return;   /* uniform over the block, before any barrier */

    float acc[4][4], tot[4][4];   /* [n tile][c0..c3] */
    SRT_UNROLL
    for (int i = 0; i < 4; i++)
        SRT_UNROLL
        for (int j = 0; j < 4; j++) acc[i][j] = tot[i][j] = 0.0f;

    igemm_stage st;
    igemm_fetch<TRANSPOSED>(a, k.item, st, k.r_begin, k.r_end, k.oc0, k.m0, k.n_cols, k.n_valid);
    igemm_put<TRANSPOSED>(a, st, &ws[0][0][0], P, &xs[0][0][0], P, win, walpha);
    __syncthreads();
    if (!TRANSPOSED && a.win) {   /* uniform over the launch */
        igemm_build_x(a, win, walpha, &xs[0][0][0], P, k.r_begin, k.r_end, k.m0, k.n_cols, k.n_valid);
        __syncthreads();
    }
    int cur = 0;
    for (int r0 = k.r_begin; r0 < k.r_end; r0 += IG_BK) {
        bool more = r0 + IG_BK < k.r_end;
        if (more)   /* next step's loads in flight during this step's math */
            igemm_fetch<TRANSPOSED>(a, k.item, st, r0 + IG_BK, k.r_end, k.oc0, k.m0, k.n_cols, k.n_valid);
        float (*W)[(BF16 ? IG_BM + 4 : IG_BM + 8)] = ws[cur];
        float (*X)[(BF16 ? IG_BN + 4 : IG_BN + 8)] = xs[cur];
        SRT_UNROLL
        for (int ks = 0; ks < IG_BK; ks += BF16 ? 16 : 8) {
            uint32_t af[4];
            igemm_frag_a<BF16>(&W[0][0], P, ks, wm + g, t, af);
            SRT_UNROLL
            for (int nt = 0; nt < 4; nt++) {
                uint32_t bf[2];
                igemm_frag_b<BF16>(&X[0][0], P, ks, wn + nt * 8 + g, t, bf);
                igemm_mma<BF16>(acc[nt], af, bf);
            }
        }
        igemm_fold(a, k, r0, more, acc, tot);
        if (more) igemm_put<TRANSPOSED>(a, st, &ws[cur ^ 1][0][0], P, &xs[cur ^ 1][0][0], P, win, walpha);
        __syncthreads();
        if (!TRANSPOSED && a.win && more) {   /* the windows were read by the last build before this step */
            igemm_build_x(a, win, walpha, &xs[cur ^ 1][0][0], P, r0 + IG_BK, k.r_end, k.m0, k.n_cols, k.n_valid);
            __syncthreads();
        }
        cur ^= 1;
    }

    /* stage the tile (fragment pairs as 8-byte shared stores), then contiguous 16-byte stores: a fragment's
     * lanes hold 2 adjacent columns of 8 rows, so direct stores would use half of each 32-byte sector */
    SRT_UNROLL
    for (int nt = 0; nt < 4; nt++) srt_mma_stage_c(&ys[wm * IG_YP + wn + nt * 8], IG_YP, tot[nt], g, t);
    __syncthreads();
    if (TRANSPOSED)
        igemm_convt_flush(a, k, ys);
    else
        igemm_conv_flush(a, k, ys);
}

/* Conv on tensor cores, IG_COLS column tiles per block (conv1d_igemm_{tf32,bf16}_cols_kernel, the default of the
 * tensor-core modes; srt_cuda_igemm_set_cols(1) selects the one-tile kernels above). The GEMM's columns are the
 * flattened (item, column tile) index q = b * col_tiles + tile; block g of a split takes q = g*IG_COLS + j, j <
 * IG_COLS, so a block's tiles may belong to different items (an item shorter than IG_BN columns shares a block with
 * the next). Each reduction step loads and stores the W tile once for all of them and reads its A fragments once:
 * the weights are read once per IG_COLS column tiles of the whole batch instead of once per tile and item. The X
 * tiles and conv windows are per tile (mask, Snake and the item's valid length as in the one-tile kernel); every
 * output is the same sum in the same order as there (bit-identical whatever the grouping: batch-invariant). Warps
 * whose 16 rows are past the GEMM's rows, or whose 8-column mma tiles are past a tile's columns, skip those mma
 * (uniform per warp). The output tile is staged, tile after tile, in the X buffers (not read after the last step). */
#define IG_COLS 2
#define IG_MAXI(p, q) ((p) > (q) ? (p) : (q))
template <bool BF16>
__device__ __forceinline__ void conv1d_igemm_cols(const srt_igemm_args &a) {
    const int P = BF16 ? IG_BM + 4 : IG_BM + 8;   /* W and X row pitch (floats) */
    const int XT = IG_BK * P;                     /* one X tile */
    __shared__ float ws[2][IG_BK][(BF16 ? IG_BM + 4 : IG_BM + 8)];
    /* X tiles [buffer][tile] (2 * IG_COLS * XT floats), then the output tile (IG_BM x IG_YP) */
    __shared__ __align__(16) float xy[IG_MAXI(2 * IG_COLS * IG_BK * (BF16 ? IG_BN + 4 : IG_BN + 8), IG_BM * IG_YP)];
    __shared__ float win[IG_COLS][IG_WIN_FLOATS];   /* the step's input windows of each tile */
    __shared__ float walpha[IG_BK];                 /* ... and their Snake alphas (the same channels) */
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    int wm = (warp & 3) * 16, wn = (warp >> 2) * 32;
    igemm_block k;   /* the block's rows and reduction range; item and columns are per tile */
    k.b = 0; k.m0 = 0; k.n_valid = 0; k.item = a.x;
    k.split = blockIdx.x / a.col_groups;
    int grp = blockIdx.x - k.split * a.col_groups;
    k.oc0 = blockIdx.y * IG_BM;
    k.n_cols = a.out_len;
    int R = a.in_ch * a.taps;
    k.r_begin = k.split * a.split_rows;
    k.r_end = min(R, k.r_begin + a.split_rows);
    /* tile j: item bj[j], columns from mj[j]; a tile past the batch has no columns (mj = n_cols) and no input */
    int bj[IG_COLS], mj[IG_COLS], vj[IG_COLS];
    const float *xj[IG_COLS];
    int tiles = a.batch * a.col_tiles;
    SRT_UNROLL
    for (int j = 0; j < IG_COLS; j++) {
        int q = grp * IG_COLS + j, b = q / a.col_tiles;
        bool live = q < tiles;
        bj[j] = live ? b : 0;
        mj[j] = live ? (q - b * a.col_tiles) * IG_BN : k.n_cols;
        vj[j] = !live ? 0 : a.valid ? a.valid[b] : a.in_len;
        xj[j] = a.x + (size_t)bj[j] * a.in_ch * a.in_len;
    }
    if (mj[0] >= k.n_cols) return;   /* uniform over the block, before any barrier */
    bool rows_live = k.oc0 + wm < a.rows;   /* this warp's 16 rows hold a channel */

    float acc[IG_COLS][4][4], tot[IG_COLS][4][4];   /* [tile][n tile][c0..c3] */
    SRT_UNROLL
    for (int j = 0; j < IG_COLS; j++)
        SRT_UNROLL
        for (int i = 0; i < 4; i++)
            SRT_UNROLL
            for (int c = 0; c < 4; c++) acc[j][i][c] = tot[j][i][c] = 0.0f;

    igemm_stage st[IG_COLS];
    igemm_fetch_w<false>(a, st[0], k.r_begin, k.r_end, k.oc0);
    SRT_UNROLL
    for (int j = 0; j < IG_COLS; j++)
        igemm_fetch_x<false>(a, xj[j], st[j], k.r_begin, k.r_end, mj[j], k.n_cols, vj[j], j == 0);
    igemm_put_w<false>(a, st[0], &ws[0][0][0], P);
    SRT_UNROLL
    for (int j = 0; j < IG_COLS; j++) igemm_put_x<false>(a, st[j], xy + j * XT, P, win[j], j ? NULL : walpha);
    __syncthreads();
    if (a.win) {   /* uniform over the launch */
        SRT_UNROLL
        for (int j = 0; j < IG_COLS; j++)
            igemm_build_x(a, win[j], walpha, xy + j * XT, P, k.r_begin, k.r_end, mj[j], k.n_cols, vj[j]);
        __syncthreads();
    }
    int cur = 0;
    for (int r0 = k.r_begin; r0 < k.r_end; r0 += IG_BK) {
        bool more = r0 + IG_BK < k.r_end;
        if (more) {   /* next step's loads in flight during this step's math */
            igemm_fetch_w<false>(a, st[0], r0 + IG_BK, k.r_end, k.oc0);
            SRT_UNROLL
            for (int j = 0; j < IG_COLS; j++)
                igemm_fetch_x<false>(a, xj[j], st[j], r0 + IG_BK, k.r_end, mj[j], k.n_cols, vj[j], j == 0);
        }
        float (*W)[(BF16 ? IG_BM + 4 : IG_BM + 8)] = ws[cur];
        if (rows_live) {
            SRT_UNROLL
            for (int ks = 0; ks < IG_BK; ks += BF16 ? 16 : 8) {
                uint32_t af[4];
                igemm_frag_a<BF16>(&W[0][0], P, ks, wm + g, t, af);
                SRT_UNROLL
                for (int j = 0; j < IG_COLS; j++) {
                    const float *X = xy + (cur * IG_COLS + j) * XT;
                    SRT_UNROLL
                    for (int nt = 0; nt < 4; nt++) {
                        if (mj[j] + wn + nt * 8 >= k.n_cols) continue;   /* uniform per warp */
                        uint32_t bf[2];
                        igemm_frag_b<BF16>(X, P, ks, wn + nt * 8 + g, t, bf);
                        igemm_mma<BF16>(acc[j][nt], af, bf);
                    }
                }
            }
        }
        SRT_UNROLL
        for (int j = 0; j < IG_COLS; j++) igemm_fold(a, k, r0, more, acc[j], tot[j]);
        if (more) {
            igemm_put_w<false>(a, st[0], &ws[cur ^ 1][0][0], P);
            SRT_UNROLL
            for (int j = 0; j < IG_COLS; j++)
                igemm_put_x<false>(a, st[j], xy + ((cur ^ 1) * IG_COLS + j) * XT, P, win[j], j ? NULL : walpha);
        }
        __syncthreads();
        if (a.win && more) {   /* the windows were read by the last build before this step */
            SRT_UNROLL
            for (int j = 0; j < IG_COLS; j++)
                igemm_build_x(a, win[j], walpha, xy + ((cur ^ 1) * IG_COLS + j) * XT, P, r0 + IG_BK, k.r_end, mj[j],
                              k.n_cols, vj[j]);
            __syncthreads();
        }
        cur ^= 1;
    }

    /* each tile: stage it (fragment pairs as 8-byte shared stores) over the X buffers, then contiguous 16-byte
     * stores as the one-tile kernel */
    float *ys = xy;
    SRT_UNROLL
    for (int j = 0; j < IG_COLS; j++) {
        if (mj[j] >= k.n_cols) break;   /* uniform: the tiles past the batch are the last ones */
        if (j) __syncthreads();         /* the last tile's stores have read ys */
        SRT_UNROLL
        for (int nt = 0; nt < 4; nt++) srt_mma_stage_c(&ys[wm * IG_YP + wn + nt * 8], IG_YP, tot[j][nt], g, t);
        __syncthreads();
        igemm_block kj = k;
        kj.b = bj[j];
        kj.m0 = mj[j];
        igemm_conv_flush(a, kj, ys);
    }
}

/* y = sum over splits of part, in split order, + bias + residual (residual may alias y: read before written).
 * Grid (ceil(out_len / 256), out_ch, batch) in 32-bit indices. */
__global__ void igemm_split_sum_kernel(srt_igemm_args a) {
    int t = blockIdx.x * blockDim.x + threadIdx.x, oc = blockIdx.y, b = blockIdx.z;
    if (t >= a.out_len) return;
    size_t o = ((size_t)b * a.out_ch + oc) * a.out_len + t, n = (size_t)a.batch * a.out_ch * a.out_len;
    float v = a.part[o];
    for (int s = 1; s < a.splits; s++) v += a.part[(size_t)s * n + o];
    v += a.bias ? a.bias[oc] : 0.0f;
    if (a.residual) v += a.residual[o];
    a.y[o] = v;
}

/* the kernels: conv1d / conv_transpose1d x fp32 FMA / tf32 / bf16 tensor cores */
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_kernel(srt_igemm_args a) { conv_igemm_fp32<false>(a); }
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_kernel(srt_igemm_args a) { conv_igemm_fp32<true>(a); }
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_tf32_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<false, false>(a);
}
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_tf32_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<true, false>(a);
}
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_bf16_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<false, true>(a);
}
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_tf32_cols_kernel(srt_igemm_args a) {
    conv1d_igemm_cols<false>(a);
}
__global__ void __launch_bounds__(IG_THREADS) conv1d_igemm_bf16_cols_kernel(srt_igemm_args a) {
    conv1d_igemm_cols<true>(a);
}
__global__ void __launch_bounds__(IG_THREADS) convt1d_igemm_bf16_kernel(srt_igemm_args a) {
    conv1d_igemm_mma<true, true>(a);
}

static srt_igemm_args igemm_args(const float *x, const float *w, const float *bias, const float *alpha,
                                 const int *valid, float *y, int batch, int in_ch, int out_ch, int in_len,
                                 int out_len) {
    srt_igemm_args g;
    g.x = x; g.w = w; g.bias = bias; g.alpha = alpha; g.residual = NULL; g.y = y; g.part = NULL; g.valid = valid;
    g.batch = batch; g.in_ch = in_ch; g.out_ch = out_ch; g.in_len = in_len; g.out_len = out_len;
    g.kernel = 1; g.stride = 1; g.dilation = 1; g.padding = 0; g.taps = 1; g.rows = out_ch;
    g.col_tiles = 1; g.col_groups = 0; g.splits = 1; g.split_rows = 0; g.fold_rows = 0;
    g.win = 0; g.win_shift = 0; g.win_ch = 0; g.w_runs = 0;
    return g;
}

/* Split count of one item's grid (item_blocks blocks, reduction of R rows): enough splits to reach
 * IG_SPLIT_BLOCKS blocks, each >= IG_SPLIT_MIN_STEPS steps, at most IG_SPLIT_MAX; a function of the item's shape
 * only (batch-invariant). Sets split_rows (a multiple of IG_BK) and returns the split count. */
static int igemm_plan_splits(int64_t item_blocks, int R, int *split_rows) {
    int steps = (R + IG_BK - 1) / IG_BK;
    int64_t want = item_blocks >= IG_SPLIT_BLOCKS ? 1 : (IG_SPLIT_BLOCKS + item_blocks - 1) / item_blocks;
    int64_t cap = steps / IG_SPLIT_MIN_STEPS;
    if (want > cap) want = cap;
    if (want > IG_SPLIT_MAX) want = IG_SPLIT_MAX;
    if (want < 1) want = 1;
    int per = (int)((steps + want - 1) / want);
    *split_rows = per * IG_BK;
    return (steps + per - 1) / per;
}

/* one launch, its FLOPs noted for the simulator's counters (unit 0 fp32, 1 tf32, 2 bf16) */
#define IGEMM_LAUNCH(kernel, unit)                                      \
    do {                                                                \
        LAUNCH(kernel, grid, IG_THREADS, 0, stream, g);                 \
        SRT_SIM_FLOPS(kernel, flops, unit);                             \
        SRT_TRY(SRT_LAUNCH_STATUS(kernel));                             \
        goto launched;                                                  \
    } while (0)

/* precision: SRT_CUDA_FP32 (FMA tiles), SRT_CUDA_TF32 or SRT_CUDA_BF16 (tensor cores); then the split sum */
static srt_status igemm_launch(const srt_igemm_args &g, bool transposed, dim3 grid, int precision, double flops,
                               cudaStream_t stream) {
    if (precision == SRT_CUDA_BF16) {
        if (transposed) IGEMM_LAUNCH(convt1d_igemm_bf16_kernel, 2);
        if (g.col_groups) IGEMM_LAUNCH(conv1d_igemm_bf16_cols_kernel, 2);
        IGEMM_LAUNCH(conv1d_igemm_bf16_kernel, 2);
    }
    if (precision == SRT_CUDA_TF32) {
        if (transposed) IGEMM_LAUNCH(convt1d_igemm_tf32_kernel, 1);
        if (g.col_groups) IGEMM_LAUNCH(conv1d_igemm_tf32_cols_kernel, 1);
        IGEMM_LAUNCH(conv1d_igemm_tf32_kernel, 1);
    }
    if (transposed) IGEMM_LAUNCH(convt1d_igemm_kernel, 0);
    IGEMM_LAUNCH(conv1d_igemm_kernel, 0);
launched:
    if (g.splits <= 1) return SRT_OK;
    LAUNCH(igemm_split_sum_kernel, dim3((unsigned)((g.out_len + 255) / 256), (unsigned)g.out_ch, (unsigned)g.batch),
           256, 0, stream, g);
    return SRT_LAUNCH_STATUS(igemm_split_sum_kernel);
}

/* Grids of at least this many blocks without a split fold the split ranges in the block (fold_rows) instead of
 * launching them (srt_cuda_igemm_set_fold_blocks: tests lower it to compare both at small shapes). The grid is
 * counted at max(batch, plan batch) items (srt_cuda_igemm_set_plan_batch; SNACRT_CUDA_IGEMM_PLAN_BATCH): the GPU
 * model runs batches 1 and 2 with the plan of the batch it extrapolates to. Either way the bits are the same. */
static int64_t srt_igemm_fold_blocks = IG_SPLIT_BLOCKS, srt_igemm_plan_batch = 1;
extern "C" void srt_cuda_igemm_set_fold_blocks(int64_t blocks) {
    srt_igemm_fold_blocks = blocks > 0 ? blocks : IG_SPLIT_BLOCKS;
}
extern "C" void srt_cuda_igemm_set_plan_batch(int64_t batch) { srt_igemm_plan_batch = batch > 1 ? batch : 1; }
/* tensor-core convs: IG_COLS column tiles per block (conv1d_igemm_cols), or 1: the one-tile kernels (the same bits) */
static int srt_igemm_cols = IG_COLS;
extern "C" void srt_cuda_igemm_set_cols(int cols) { srt_igemm_cols = cols == 1 ? 1 : IG_COLS; }

/* grid (splits * column tiles, row tiles, z) of a plan; part floats needed (0: no split) */
static size_t igemm_plan(srt_igemm_args *g, int cols, int z_per_item, int allow_split) {
    g->col_tiles = (cols + IG_BN - 1) / IG_BN;
    int64_t item_blocks = (int64_t)g->col_tiles * ((g->rows + IG_BM - 1) / IG_BM) * z_per_item;
    int R = g->in_ch * g->taps;
    g->splits = igemm_plan_splits(item_blocks, R, &g->split_rows);
    g->fold_rows = 0;
    if (g->splits > 1 && item_blocks * (g->batch > srt_igemm_plan_batch ? g->batch : srt_igemm_plan_batch) >=
                              srt_igemm_fold_blocks) {
        /* the batch alone fills the GPU: each block sums the item's split ranges itself (the same bits as the
         * split launches; no part buffer needed) */
        g->fold_rows = g->split_rows;
        g->splits = 1;
    }
    if (!allow_split) g->splits = 1;   /* no part buffer: one pass over the reduction */
    if (g->splits <= 1) g->split_rows = R;
    return g->splits > 1 ? (size_t)g->splits * g->batch * g->out_ch * g->out_len : 0;
}

extern "C" int srt_cuda_conv1d_igemm_fits(const srt_conv1d_args *a) {
    return a->groups == 1 && a->batch <= 65535 && (int64_t)a->in_ch * a->kernel < INT32_MAX &&
           (a->out_ch + IG_BM - 1) / IG_BM <= 65535 && a->out_ch <= 65535;
}

static srt_igemm_args conv1d_igemm_args(const srt_conv1d_args *a, const int *valid) {
    srt_igemm_args g = igemm_args(a->x, a->w, a->bias, a->in_alpha, valid, a->y, a->batch, a->in_ch, a->out_ch,
                                  a->in_len, a->out_len);
    g.residual = a->residual;
    g.kernel = a->kernel; g.stride = a->stride; g.dilation = a->dilation; g.padding = a->padding; g.taps = a->kernel;
    /* input windows in shared memory where a step's channels' windows fit; a window starts at m0*stride - padding
     * - shift, m0*stride a multiple of 64: 32-byte aligned when in_len % 8 == 0 */
    int shift = ((-(a->padding % 8)) % 8 + 8) % 8;
    int64_t win = shift + (int64_t)(IG_BN - 1) * a->stride + (int64_t)(a->kernel - 1) * a->dilation + 1;
    int win_ch = IG_BK % a->kernel == 0 ? IG_BK / a->kernel : (IG_BK - 2 + a->kernel) / a->kernel + 1;
    if (win * win_ch <= IG_WIN_MAX) {
        g.win = (int)win;
        g.win_shift = shift;
        g.win_ch = win_ch;
    }
    return g;
}

extern "C" size_t srt_cuda_conv1d_igemm_part_floats(const srt_conv1d_args *a) {
    srt_igemm_args g = conv1d_igemm_args(a, NULL);
    return igemm_plan(&g, a->out_len, 1, 1);
}

extern "C" srt_status srt_cuda_conv1d_igemm(const srt_conv1d_args *a, const int *valid, int precision, float *part,
                                             cudaStream_t stream) {
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    srt_igemm_args g = conv1d_igemm_args(a, valid);
    igemm_plan(&g, a->out_len, 1, part != NULL);
    g.part = part;
    dim3 grid((unsigned)(g.col_tiles * g.splits), (unsigned)((a->out_ch + IG_BM - 1) / IG_BM), (unsigned)a->batch);
    int64_t groups = ((int64_t)a->batch * g.col_tiles + IG_COLS - 1) / IG_COLS;
    if (precision != SRT_CUDA_FP32 && srt_igemm_cols > 1 && groups * g.splits <= INT32_MAX) {
        /* the (item, column tile) pairs of the batch in groups of IG_COLS per block */
        g.col_groups = (int)groups;
        grid = dim3((unsigned)(groups * g.splits), grid.y, 1);
    }
    return igemm_launch(g, false, grid, precision, 2.0 * a->batch * a->out_ch * a->out_len * a->in_ch * a->kernel,
                        stream);
}

extern "C" int srt_cuda_convt1d_igemm_fits(const srt_convt1d_args *a) {
    int64_t rows = (int64_t)a->out_ch * a->stride;
    return a->groups == 1 && a->stride >= 1 && a->padding >= 0 && (rows + IG_BM - 1) / IG_BM <= 65535 &&
           a->batch <= 65535 && (int64_t)IG_BN * a->stride + a->padding + a->out_len < INT32_MAX / 2 &&
           (int64_t)a->in_ch * ((a->kernel + a->stride - 1) / a->stride) < INT32_MAX;
}

static srt_igemm_args convt1d_igemm_args(const srt_convt1d_args *a, const int *valid) {
    srt_igemm_args g = igemm_args(a->x, a->w, a->bias, a->in_alpha, valid, a->y, a->batch, a->in_ch, a->out_ch,
                                  a->in_len, a->out_len);
    g.kernel = a->kernel; g.stride = a->stride; g.padding = a->padding;
    g.taps = (a->kernel + a->stride - 1) / a->stride;
    g.rows = a->out_ch * a->stride;
    /* W as contiguous runs where a block's rows are whole channels and a step's rows whole input channels */
    g.w_runs = IG_BM % a->stride == 0 && IG_BK % g.taps == 0 && a->kernel == g.taps * a->stride;
    return g;
}

/* transposed: phase positions m (t = m*stride + phi - padding) of the longest phase */
static int convt1d_igemm_cols(const srt_convt1d_args *a) {
    return (a->out_len - 1 + a->padding) / a->stride + 1;
}

extern "C" size_t srt_cuda_convt1d_igemm_part_floats(const srt_convt1d_args *a) {
    srt_igemm_args g = convt1d_igemm_args(a, NULL);
    return igemm_plan(&g, convt1d_igemm_cols(a), 1, 1);
}

extern "C" srt_status srt_cuda_convt1d_igemm(const srt_convt1d_args *a, const int *valid, int precision,
                                              float *part, cudaStream_t stream) {
    if ((int64_t)a->batch * a->out_ch * a->out_len == 0) return SRT_OK;
    srt_igemm_args g = convt1d_igemm_args(a, valid);
    igemm_plan(&g, convt1d_igemm_cols(a), 1, part != NULL);
    g.part = part;
    dim3 grid((unsigned)(g.col_tiles * g.splits), (unsigned)((g.rows + IG_BM - 1) / IG_BM), (unsigned)a->batch);
    return igemm_launch(g, true, grid, precision, 2.0 * a->batch * a->in_ch * a->out_ch * a->in_len * a->kernel,
                        stream);
}
