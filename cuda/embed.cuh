/* embed.cuh: y (batch, dim, len) = codebook[codes[b,t], :]; an out-of-range code writes 0 and records the
 * lowest bad frame index (b*len + t) in *bad_frame with atomicMin (the backend reports it). */
#include "cuda/common.cuh"

__global__ void embed_kernel(srt_embed_args a, int *bad_frame) {
    int64_t total = (int64_t)a.batch * a.dim * a.len;
    srt_grid_stride(i, total) {
        int t = (int)(i % a.len);
        int d = (int)((i / a.len) % a.dim);
        int b = (int)(i / ((int64_t)a.len * a.dim));
        int frame = b * a.len + t;
        int code = a.codes[frame];
        if (code < 0 || code >= a.n_codes) {
            atomicMin(bad_frame, frame);
            a.y[i] = 0.0f;
        } else {
            a.y[i] = a.codebook[(size_t)code * a.dim + d];
        }
    }
}

extern "C" srt_status srt_cuda_embed(const srt_embed_args *a, int *bad_frame, cudaStream_t stream) {
    int64_t total = (int64_t)a->batch * a->dim * a->len;
    if (total == 0) return SRT_OK;
    LAUNCH(embed_kernel, srt_blocks_for(total), SRT_BLOCK, 0, stream, *a, bad_frame);
    return SRT_LAUNCH_STATUS(embed_kernel);
}
