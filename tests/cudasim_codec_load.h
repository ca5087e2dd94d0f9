/* cudasim_codec_load.h: a SNAC model of tests/data/snac on the "cuda" backend for the recorded-pass (CUDA graph)
 * tests in the simulator (test_cudasim_codec_graph.cpp, test_cudasim_stream_graph.cpp), in graph mode or eager.
 * Include after snacrt.h and tests/testutil.h (C++). */
#ifndef SRT_TESTS_CUDASIM_CODEC_LOAD_H
#define SRT_TESTS_CUDASIM_CODEC_LOAD_H

#include <cstdlib>
#include <string>

/* tests/data/snac/<model> on "cuda" (precision NULL: the default) with SNACRT_CUDA_GRAPHS=graphs, after one tiny
 * encode: the backend reads SNACRT_CUDA_GRAPHS at its first pass, made here while the variable says `graphs`.
 * NULL (a failed check) when the load fails. */
static inline srt_codec *test_codec_load_cuda(const char *model, int graphs, const char *precision) {
    setenv("SNACRT_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    const char *src = getenv("SNACRT_SRC");
    std::string dir = std::string(src ? src : ".") + "/tests/data/snac/" + model;
    srt_codec_options opts = {};
    opts.backend = "cuda";
    opts.precision = precision;
    srt_codec *c = nullptr;
    srt_status st = srt_codec_load(dir.c_str(), &opts, &c);
    TEST_CHECK(st == SRT_OK, "load %s: %s", dir.c_str(), srt_last_error());
    if (st != SRT_OK) return nullptr;
    float one = 0.0f;
    const float *p = &one;
    int64_t len = 1;
    srt_codes codes;
    st = srt_codec_encode(c, 1, &p, &len, &codes, nullptr, nullptr);
    TEST_CHECK(st == SRT_OK, "first encode: %s", srt_last_error());
    srt_codes_free(&codes);
    return c;
}

#endif
