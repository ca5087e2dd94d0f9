/* gemm_run.h: run one srt_op_gemm on a backend from host arrays (upload A, B, C; gemm; download C), for the GEMM
 * tests that compare backends (C or C++). */
#ifndef SNACRT_TESTS_GEMM_RUN_H
#define SNACRT_TESTS_GEMM_RUN_H
#include "backend.h"

/* g's A (a_floats f32), B (b_bytes, raw) and C_host (c_floats f32, in and out) are host pointers. */
static inline srt_status test_run_gemm(srt_backend *be, srt_gemm_args g, size_t a_floats, size_t b_bytes,
                                       float *C_host, size_t c_floats) {
    void *A = NULL, *B = NULL, *C = NULL;
    srt_status st = srt_backend_alloc_upload(be, g.A, a_floats * 4, &A);
    if (st == SRT_OK) st = srt_backend_alloc_upload(be, g.B, b_bytes, &B);
    if (st == SRT_OK) st = srt_backend_alloc_upload(be, C_host, c_floats * 4, &C);
    if (st == SRT_OK) {
        g.A = (const float *)A; g.B = B; g.C = (float *)C;
        st = srt_op_gemm(be, &g);
        if (st == SRT_OK) st = be->ops->sync(be->ctx);
        if (st == SRT_OK) st = be->ops->download(be->ctx, C_host, C, c_floats * 4);
    }
    if (A) be->ops->free(be->ctx, A);
    if (B) be->ops->free(be->ctx, B);
    if (C) be->ops->free(be->ctx, C);
    return st;
}
#endif
