/* lm_sample.cuh: token sampling on the device, one block of SAMPLE_THREADS per row of logits; picks exactly the id
 * srt_sample_pick (host/lm/sample_pick.c) picks for the same row and draw u (distribution: srt_sample_row in
 * host/lm/lm_ops.h; shared arithmetic: host/lm/sample_dist.h). Never sorts the vocabulary:
 *   1. penalties applied in place to the listed ids (one thread per entry; ids are distinct)
 *   2. argmax (lowest id on ties) and the lowest NaN id: a NaN row writes -1 - id; greedy rows stop here
 *   3. top-k: radix select, 8 bits a pass over the monotone u32 keys of the logits, of the k-th key (counts)
 *   4. top-p: the same select weighted by the fixed-point weights W of the survivors, to the key where the
 *      cumulative mass from the top reaches the target
 *   A cut is (key, id): a logit survives when its key is above, or equal with an id at most the cut's; ties at a
 *   cut's key are resolved by an ordered scan of the row for the m-th survivor of that key in id order.
 *   5. min-p and the draw: an ordered scan (block-wide prefix sums of W in id order) finds the first survivor
 *      whose cumulative weight exceeds floor(u * total).
 * Integer weights make every sum exact, so thread and block order never change the pick. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"
#include "lm/sample_dist.h"

#define SAMPLE_THREADS 1024
#define SAMPLE_WARPS (SAMPLE_THREADS / 32)
#define SAMPLE_FULL 0xffffffffu

typedef unsigned long long sample_u64;

struct sample_shared {
    sample_u64 hist_w[256];
    int hist_n[256];
    sample_u64 warp_w[SAMPLE_WARPS];
    int warp_n[SAMPLE_WARPS];
    float warp_l[SAMPLE_WARPS];
    int warp_id[SAMPLE_WARPS], warp_nan[SAMPLE_WARPS];
    int sel_bin, sel_count, sel_rem, found;
    sample_u64 sel_above;
};

/* A rank cut: logits whose key is above key, or equal with an id <= id, survive. */
struct sample_cut { uint32_t key; int id; };

__device__ __forceinline__ bool sample_in_cut(uint32_t key, int id, sample_cut c) {
    return key > c.key || (key == c.key && id <= c.id);
}

__device__ sample_u64 sample_block_sum(sample_u64 v, sample_shared &sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(SAMPLE_FULL, v, o);
    if (lane == 0) sh.warp_w[warp] = v;
    __syncthreads();
    sample_u64 t = 0;
    for (int w = 0; w < SAMPLE_WARPS; w++) t += sh.warp_w[w];
    __syncthreads();
    return t;
}

/* The m-th (1-based) id in id order among logits with key `key` inside cut c. */
__device__ int sample_mth_id(const float *x, int begin, int end, uint32_t key, sample_cut c, int m,
                             sample_shared &sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, remaining = m;
    for (int base = begin; base < end; base += SAMPLE_THREADS) {
        int i = base + (int)threadIdx.x;
        int flag = 0;
        if (i < end) {
            uint32_t k = srt_sample_key(x[i]);
            flag = k == key && sample_in_cut(k, i, c);
        }
        unsigned ballot = __ballot_sync(SAMPLE_FULL, flag);
        if (lane == 0) sh.warp_n[warp] = __popc(ballot);
        __syncthreads();
        int before = 0, total = 0;
        for (int w = 0; w < SAMPLE_WARPS; w++) { if (w < warp) before += sh.warp_n[w]; total += sh.warp_n[w]; }
        if (flag && before + __popc(ballot & ((1u << lane) - 1u)) + 1 == remaining) sh.found = i;
        __syncthreads();
        if (total >= remaining) return sh.found;
        remaining -= total;
    }
    return c.id;   /* unreachable: the caller counted at least m */
}

/* Radix select from the top over the keys inside cut c: counts (weighted == false: stop where the count reaches
 * target) or fixed-point weights (weighted: stop where the mass reaches target). Returns the key; *above gets the
 * count or mass strictly above it, *at_key the number of survivors with exactly that key. */
__device__ uint32_t sample_select(const float *x, int begin, int end, float best, float inv_t, sample_cut c,
                                  bool weighted, sample_u64 target, sample_u64 *above, int *at_key,
                                  sample_shared &sh) {
    uint32_t prefix = 0, mask = 0;
    sample_u64 acc = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += SAMPLE_THREADS) { sh.hist_w[b] = 0; sh.hist_n[b] = 0; }
        __syncthreads();
        for (int i = begin + (int)threadIdx.x; i < end; i += SAMPLE_THREADS) {
            float l = x[i];
            uint32_t k = srt_sample_key(l);
            if ((k & mask) != prefix || !sample_in_cut(k, i, c)) continue;
            int bin = (int)((k >> shift) & 255u);
            atomicAdd(&sh.hist_n[bin], 1);
            if (weighted) atomicAdd(&sh.hist_w[bin], (sample_u64)srt_sample_fixed(srt_sample_weight(l, best, inv_t)));
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            sample_u64 cum = acc;
            int b = 255;
            for (; b > 0; b--) {
                sample_u64 here = weighted ? sh.hist_w[b] : (sample_u64)sh.hist_n[b];
                if (cum + here >= target) break;
                cum += here;
            }
            sh.sel_bin = b;
            sh.sel_above = cum;
            sh.sel_count = sh.hist_n[b];
        }
        __syncthreads();
        prefix |= (uint32_t)sh.sel_bin << shift;
        mask |= 255u << shift;
        acc = sh.sel_above;
        *at_key = sh.sel_count;
        __syncthreads();
    }
    *above = acc;
    return prefix;
}

/* grid (n_rows), block SAMPLE_THREADS. */
__global__ void __launch_bounds__(SAMPLE_THREADS) lm_sample_kernel(float *logits, int vocab,
                                                                   const srt_sample_row *rows,
                                                                   const srt_sample_penalty *pen, int32_t *ids) {
    __shared__ sample_shared sh;
    const srt_sample_row row = rows[blockIdx.x];
    float *x = logits + (size_t)blockIdx.x * vocab;   /* (vocab) */
    int begin = row.begin, end = row.end, n = end - begin, tid = threadIdx.x;
    int lane = tid & 31, warp = tid >> 5;
    /* 1. penalties */
    for (int e = tid; e < row.n_pen; e += SAMPLE_THREADS) {
        srt_sample_penalty p = pen[row.pen_start + e];
        if (p.id >= begin && p.id < end) x[p.id] = srt_sample_penalize(x[p.id], row.rep_penalty, p.sub);
    }
    __syncthreads();
    /* 2. argmax and NaN */
    float bl = -INFINITY;
    int bid = 0x7fffffff, nan_id = 0x7fffffff;
    for (int i = begin + tid; i < end; i += SAMPLE_THREADS) {
        float l = x[i];
        if (l != l) { if (i < nan_id) nan_id = i; }
        else if (l > bl || (l == bl && i < bid)) { bl = l; bid = i; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ol = __shfl_xor_sync(SAMPLE_FULL, bl, o);
        int oid = __shfl_xor_sync(SAMPLE_FULL, bid, o), onan = __shfl_xor_sync(SAMPLE_FULL, nan_id, o);
        if (ol > bl || (ol == bl && oid < bid)) { bl = ol; bid = oid; }
        if (onan < nan_id) nan_id = onan;
    }
    if (lane == 0) { sh.warp_l[warp] = bl; sh.warp_id[warp] = bid; sh.warp_nan[warp] = nan_id; }
    __syncthreads();
    for (int w = 0; w < SAMPLE_WARPS; w++) {
        float ol = sh.warp_l[w];
        int oid = sh.warp_id[w];
        if (ol > bl || (ol == bl && oid < bid)) { bl = ol; bid = oid; }
        if (sh.warp_nan[w] < nan_id) nan_id = sh.warp_nan[w];
    }
    if (nan_id != 0x7fffffff) {
        if (tid == 0) ids[blockIdx.x] = -1 - nan_id;
        return;
    }
    float inv_t = row.inv_temp;
    if (inv_t == 0.0f || !(bl > -INFINITY && bl < INFINITY)) {
        if (tid == 0) ids[blockIdx.x] = bid;
        return;
    }
    /* 3. top-k */
    sample_cut cut = {0u, 0x7fffffff};
    sample_u64 above;
    int at_key;
    bool top_k = row.top_k > 0 && row.top_k < n;
    if (top_k) {
        uint32_t key = sample_select(x, begin, end, bl, inv_t, cut, false, (sample_u64)row.top_k, &above, &at_key, sh);
        int m = row.top_k - (int)above;
        cut.key = key;
        cut.id = m >= at_key ? 0x7fffffff : sample_mth_id(x, begin, end, key, cut, m, sh);
    }
    /* 4. top-p */
    if (row.top_p > 0.0f && row.top_p < 1.0f) {
        sample_u64 mass = 0;
        for (int i = begin + tid; i < end; i += SAMPLE_THREADS) {
            float l = x[i];
            if (sample_in_cut(srt_sample_key(l), i, cut)) mass += srt_sample_fixed(srt_sample_weight(l, bl, inv_t));
        }
        sample_u64 target = srt_sample_target(row.top_p, sample_block_sum(mass, sh));
        uint32_t key = sample_select(x, begin, end, bl, inv_t, cut, true, target, &above, &at_key, sh);
        sample_u64 w_key = srt_sample_fixed(srt_sample_weight(srt_sample_unkey(key), bl, inv_t));
        sample_u64 m = (target - above + w_key - 1) / w_key;
        sample_cut prior = cut;
        cut.key = key;
        cut.id = m >= (sample_u64)at_key ? (key == prior.key ? prior.id : 0x7fffffff)
                                         : sample_mth_id(x, begin, end, key, prior, (int)m, sh);
    }
    /* 5. min-p, total, draw */
    float min_p = row.min_p;
    sample_u64 mass = 0;
    for (int i = begin + tid; i < end; i += SAMPLE_THREADS) {
        float l = x[i];
        if (!sample_in_cut(srt_sample_key(l), i, cut)) continue;
        float w = srt_sample_weight(l, bl, inv_t);
        if (min_p <= 0.0f || w >= min_p || i == bid) mass += srt_sample_fixed(w);
    }
    sample_u64 total = sample_block_sum(mass, sh), point = srt_sample_draw(row.u, total), cum = 0;
    for (int base = begin; base < end; base += SAMPLE_THREADS) {
        int i = base + tid;
        sample_u64 w_fixed = 0;
        if (i < end) {
            float l = x[i];
            if (sample_in_cut(srt_sample_key(l), i, cut)) {
                float w = srt_sample_weight(l, bl, inv_t);
                if (min_p <= 0.0f || w >= min_p || i == bid) w_fixed = srt_sample_fixed(w);
            }
        }
        sample_u64 inc = w_fixed;
        for (int o = 1; o < 32; o <<= 1) {
            sample_u64 t = __shfl_up_sync(SAMPLE_FULL, inc, o);
            if (lane >= o) inc += t;
        }
        if (lane == 31) sh.warp_w[warp] = inc;
        __syncthreads();
        sample_u64 before = 0, chunk = 0;
        for (int w = 0; w < SAMPLE_WARPS; w++) { if (w < warp) before += sh.warp_w[w]; chunk += sh.warp_w[w]; }
        sample_u64 through = cum + before + inc;
        if (w_fixed > 0 && through > point && through - w_fixed <= point) sh.found = i;
        __syncthreads();
        if (cum + chunk > point) {
            if (tid == 0) ids[blockIdx.x] = sh.found;
            return;
        }
        cum += chunk;
    }
    if (tid == 0) ids[blockIdx.x] = bid;   /* unreachable: point < total */
}

extern "C" srt_status srt_cuda_lm_sample(float *logits, int n_rows, int vocab, const srt_sample_row *rows,
                                         const srt_sample_penalty *pen, int32_t *ids, cudaStream_t stream) {
    if (n_rows < 0 || vocab < 1) return srt_error(SRT_ERR_INVALID_ARG, "sample: %d rows, vocabulary %d", n_rows, vocab);
    if (n_rows == 0) return SRT_OK;
    LAUNCH(lm_sample_kernel, (unsigned)n_rows, SAMPLE_THREADS, 0, stream, logits, vocab, rows, pen, ids);
    return SRT_LAUNCH_STATUS(lm_sample_kernel);
}
