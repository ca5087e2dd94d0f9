/* lm_mask_rows.cuh: the mask_rows op (host/lm/lm_ops.h, srt_mask_rows_args): per row r, logits[r, id] = -inf for
 * every id in [clear_begin, clear_end) except [keep_begin, keep_end) and keep_id. Grid (x: ids of the widest clear
 * range, grid-stride; y: rows, grid-stride), one thread per id; rows come as device srt_mask_row (the backend
 * uploads the host array). Only writes -inf, so it equals cpu-ref (host/cpu/ref_lm.c) exactly; checked by
 * tests/test_cudasim_sample.cpp. */
#include "cuda/common.cuh"
#include "cuda/lm_kernels.h"

__global__ void lm_mask_rows_kernel(float *logits, int n_rows, int vocab, const srt_mask_row *rows) {
    for (int r = (int)blockIdx.y; r < n_rows; r += (int)gridDim.y) {
        srt_mask_row m = rows[r];
        float *row = logits + (size_t)r * (size_t)vocab;
        srt_grid_stride(j, m.clear_end - m.clear_begin) {
            int id = m.clear_begin + (int)j;
            bool keep = (id >= m.keep_begin && id < m.keep_end) || id == m.keep_id;
            if (!keep) row[id] = -INFINITY;
        }
    }
}

extern "C" srt_status srt_cuda_lm_mask_rows(float *logits, int n_rows, int vocab, const srt_mask_row *rows,
                                            int max_width, cudaStream_t stream) {
    if (n_rows < 0 || vocab < 1 || max_width < 0)
        return srt_error(SRT_ERR_INVALID_ARG, "mask_rows: %d rows of vocabulary %d, width %d", n_rows, vocab, max_width);
    if (n_rows == 0 || max_width == 0) return SRT_OK;
    unsigned bx = srt_blocks_for(max_width);
    if (bx > 1024) bx = 1024;                       /* the grid-stride covers the rest */
    dim3 grid(bx, (unsigned)(n_rows < 65535 ? n_rows : 65535));
    LAUNCH(lm_mask_rows_kernel, grid, SRT_BLOCK, 0, stream, logits, n_rows, vocab, rows);
    return SRT_LAUNCH_STATUS(lm_mask_rows_kernel);
}
