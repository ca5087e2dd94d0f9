/* test_cudasim_stream_graph.cpp: the streaming decoder's push as a recorded pass (CUDA graph,
 * host/snac/snac_stream_exec.c + cuda/codec_graph.c) through the CUDA simulator, tests/data/snac/tiny24 on "cuda":
 *   - three streams (noise seeds 5, none, 9) get the first 1 + lookahead groups, then one group per push, then a
 *     final group, with SNACRT_CUDA_GRAPHS=0 (the eager reference) and =1; the first one-group push runs eagerly,
 *     the second records, the later ones must replay: one graph launch, one host-to-device copy (the packed codes,
 *     block tables and noise), no cudaMalloc, and no more kernel launches or bytes moved (32-byte sectors per warp
 *     instruction, summed) than the bounds below (the push as landed: a regression fails here);
 *   - every push's audio must equal the eager reference bit for bit, and each stream's audio, concatenated, must
 *     equal srt_codec_decode of its codes (fp32, the simulator: bit for bit). */
extern "C" {
#include "snacrt.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/cudasim_codec_load.h"
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

enum { NS = 3, STEADY = 5 };                 /* streams; one-group pushes after the first */
/* A replayed one-group push of tiny24 (3 streams, forward order) as landed: 80 kernels and 15,722,293 bytes moved
 * (32-byte sectors per warp instruction, summed: bench/gpu_model.py's bytes moved; 18,659,349 before the streams
 * were laid side by side in one row, branch push2). Bounds: those, + 1%. */
static const uint64_t MAX_LAUNCHES = 80;
static const uint64_t MAX_BYTES = 15880000;

struct run_out {
    std::vector<std::vector<float>> pushes;    /* per push, the streams' new audio one after the other */
    std::vector<float> audio[NS];              /* per stream, all of it */
    uint64_t graph_launches = 0, h2d = 0, launches = 0, bytes = 0, mallocs = 0;   /* over the replayed pushes */
    int replayed = 0;
};

/* Push `codes` (NS streams, `groups` groups each) as described above. */
static run_out run(srt_codec *c, const srt_codes *codes, int groups) {
    run_out r;
    srt_codec_info info;
    srt_codec_get_info(c, &info);
    const int64_t seeds[NS] = {5, -1, 9};
    srt_codec_stream *s[NS] = {};
    for (int i = 0; i < NS; i++) TEST_CHECK(srt_codec_stream_open(c, seeds[i], &s[i]) == SRT_OK, "open");
    int la = srt_codec_stream_lookahead(s[0]);
    std::vector<int> sizes = {1 + la};
    for (int k = 0; k < STEADY; k++) sizes.push_back(1);
    sizes.push_back(groups - 1 - la - STEADY);
    int at = 0;
    for (size_t p = 0; p < sizes.size(); p++) {
        srt_codes chunk[NS];
        int fin[NS];
        float *out[NS] = {};
        int64_t n_out[NS] = {};
        for (int i = 0; i < NS; i++) {
            memset(&chunk[i], 0, sizeof chunk[i]);
            chunk[i].n_levels = info.n_levels;
            for (int l = 0; l < info.n_levels; l++) {
                int per = info.vq_strides[0] / info.vq_strides[l];
                chunk[i].n_frames[l] = (int64_t)sizes[p] * per;
                chunk[i].codes[l] = codes[i].codes[l] + (int64_t)at * per;
            }
            fin[i] = p + 1 == sizes.size();
        }
        /* pushes 3.. of one group replay (1: eager, 2: records) */
        int replay = p >= 3 && sizes[p] == 1 && !fin[0];
        uint64_t g0 = cudasim_graph_launch_count(), m0 = cudasim_malloc_count();
        if (replay) { cudasim_counters_enable(1); cudasim_counters_reset(); }
        srt_status st = srt_codec_stream_push(NS, s, chunk, fin, out, n_out);
        TEST_CHECK(st == SRT_OK, "push %zu: %s", p, srt_last_error());
        if (replay) {
            cudasim_host_stats h;
            cudasim_host_stats_get(&h);
            cudasim_counters_enable(0);
            r.replayed++;
            r.graph_launches += cudasim_graph_launch_count() - g0;
            r.mallocs += cudasim_malloc_count() - m0;
            r.h2d += h.h2d_sync + h.h2d_async;
            r.launches += h.launches;
            for (size_t j = 0; j < cudasim_launch_stats_count(); j++) {
                const cudasim_launch_stats *ls = cudasim_launch_stats_at(j);
                r.bytes += 32 * (ls->gld_sectors + ls->gst_sectors);
            }
        }
        std::vector<float> all;
        for (int i = 0; i < NS; i++) {
            all.insert(all.end(), out[i], out[i] + n_out[i]);
            r.audio[i].insert(r.audio[i].end(), out[i], out[i] + n_out[i]);
            free(out[i]);
        }
        r.pushes.push_back(all);
        at += sizes[p];
    }
    for (int i = 0; i < NS; i++) srt_codec_stream_free(s[i]);
    return r;
}

int main() {
    cudasim_set_order(CUDASIM_FORWARD, 1);
    srt_codec *eager = test_codec_load_cuda("tiny24", 0, nullptr), *graph = test_codec_load_cuda("tiny24", 1, nullptr);
    if (!eager || !graph) TEST_MAIN_END();
    srt_codec_info info;
    srt_codec_get_info(graph, &info);
    const int groups = 12;
    srt_codes codes[NS];
    uint64_t rng = 12345;
    for (int i = 0; i < NS; i++) {
        memset(&codes[i], 0, sizeof codes[i]);
        codes[i].n_levels = info.n_levels;
        for (int l = 0; l < info.n_levels; l++) {
            int64_t n = (int64_t)groups * info.vq_strides[0] / info.vq_strides[l];
            codes[i].n_frames[l] = n;
            codes[i].codes[l] = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
            for (int64_t t = 0; t < n; t++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                codes[i].codes[l][t] = (int32_t)((rng >> 33) % (uint64_t)info.codebook_size);
            }
        }
    }
    run_out ref = run(eager, codes, groups);
    run_out got = run(graph, codes, groups);
    TEST_CHECK(ref.pushes == got.pushes, "push audio with graphs differs from the eager pushes");
    TEST_CHECK(got.replayed == STEADY - 2, "%d pushes replayed (expected %d)", got.replayed, STEADY - 2);
    TEST_CHECK(got.graph_launches == (uint64_t)got.replayed, "%llu graph launches in %d steady pushes (expected one "
               "each: the push is recorded)", (unsigned long long)got.graph_launches, got.replayed);
    TEST_CHECK(got.h2d == (uint64_t)got.replayed, "%llu host-to-device copies in %d steady pushes (expected one "
               "each: codes, block tables and noise packed)", (unsigned long long)got.h2d, got.replayed);
    TEST_CHECK(got.mallocs == 0, "%llu cudaMalloc calls in the replayed pushes", (unsigned long long)got.mallocs);
    uint64_t per_l = got.replayed ? got.launches / got.replayed : 0, per_b = got.replayed ? got.bytes / got.replayed : 0;
    printf("replayed push: %llu kernels, %llu bytes moved (eager: %llu kernels)\n", (unsigned long long)per_l,
           (unsigned long long)per_b, (unsigned long long)(ref.replayed ? ref.launches / ref.replayed : 0));
    TEST_CHECK(per_l > 0 && per_l <= MAX_LAUNCHES, "a replayed push ran %llu kernels (bound %llu)",
               (unsigned long long)per_l, (unsigned long long)MAX_LAUNCHES);
    TEST_CHECK(per_b > 0 && per_b <= MAX_BYTES, "a replayed push moved %llu bytes (bound %llu)",
               (unsigned long long)per_b, (unsigned long long)MAX_BYTES);
    /* streamed == offline, per stream (its own noise seed) */
    const int64_t seeds[NS] = {5, -1, 9};
    for (int i = 0; i < NS; i++) {
        float *dec = nullptr;
        int64_t nd = 0;
        TEST_CHECK(srt_codec_decode(graph, 1, &codes[i], seeds[i], &dec, &nd) == SRT_OK, "decode: %s",
                   srt_last_error());
        TEST_CHECK(nd == (int64_t)got.audio[i].size() && dec &&
                   memcmp(dec, got.audio[i].data(), sizeof(float) * (size_t)nd) == 0,
                   "stream %d: streamed audio (%zu samples) differs from the offline decode (%lld)", i,
                   got.audio[i].size(), (long long)nd);
        free(dec);
        srt_codes_free(&codes[i]);
    }
    TEST_CHECK(cudasim_error_count() == 0, "the simulator reported: %s", cudasim_last_error());
    srt_codec_free(eager);
    srt_codec_free(graph);
    TEST_MAIN_END();
}
