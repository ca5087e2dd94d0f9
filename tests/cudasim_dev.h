/* cudasim_dev.h: device buffers for the op tests of the "cuda" backend in the simulator (C++): host data uploaded
 * into a buffer followed by tail_floats sentinels (a kernel writing past its output shows there), kept in the
 * case's list and freed together when the case ends; the two backends the tests compare; the checks that end one
 * thread order's pass. Include after backend.h, cudasim_api.h and testutil.h. */
#ifndef SRT_TESTS_CUDASIM_DEV_H
#define SRT_TESTS_CUDASIM_DEV_H

#include <vector>

/* bytes of host (none when bytes is 0) then tail_floats x sentinel, in a new buffer of be that keep records; NULL
 * (a failed check naming `what`) when the allocation fails */
static inline void *test_dev_of(srt_backend *be, std::vector<void *> &keep, const void *host, size_t bytes,
                                size_t tail_floats, float sentinel, const char *what) {
    void *d = nullptr;
    srt_status st = be->ops->alloc(be->ctx, bytes + tail_floats * sizeof(float), &d);
    TEST_CHECK(st == SRT_OK, "%s: alloc: %s", what, srt_last_error());
    if (st != SRT_OK) return nullptr;
    std::vector<float> tail(tail_floats, sentinel);
    if (bytes) be->ops->upload(be->ctx, d, host, bytes);
    if (tail_floats) be->ops->upload(be->ctx, (char *)d + bytes, tail.data(), tail_floats * sizeof(float));
    keep.push_back(d);
    return d;
}

/* cpu-ref (1 thread) into *ref and the simulator's "cuda" into *cu, each a check; the status of "cuda" */
static inline srt_status test_cudasim_backends(srt_backend *ref, srt_backend *cu) {
    srt_status st = srt_backend_create("cpu-ref", 1, ref);
    TEST_CHECK(st == SRT_OK, "cpu-ref: %s", srt_last_error());
    st = srt_backend_create("cuda", 0, cu);
    TEST_CHECK(st == SRT_OK, "srt_backend_create(\"cuda\") in the simulator build: %s", srt_last_error());
    return st;
}

/* frees every buffer keep records */
static inline void test_dev_free(srt_backend *be, std::vector<void *> &keep) {
    for (void *d : keep) be->ops->free(be->ctx, d);
    keep.clear();
}

/* The end of one thread order's pass: no out-of-bounds writes (redzones), no simulator rule violation (each a
 * check), the pass's failures since failed_before printed; the simulator's error cleared for the next order. */
static inline void test_cudasim_order_end(cudasim_order order, int failed_before) {
    TEST_CHECK(cudasim_check_redzones() == 0, "%s order: out-of-bounds writes: %s", cudasim_order_name(order),
               cudasim_last_error());
    TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
               cudasim_last_error());
    printf("%s order: %d failures\n", cudasim_order_name(order), test_failed_count - failed_before);
    cudasim_clear_error();
}

#endif
