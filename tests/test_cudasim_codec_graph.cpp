/* test_cudasim_codec_graph.cpp: recorded codec passes (CUDA graphs, cuda/codec_graph.c + host/snac/codec_api.c)
 * through the CUDA simulator. tests/data/snac/tiny24 on the "cuda" device with SNACRT_CUDA_GRAPHS=0 (the eager
 * reference) and =1, in forward, reverse and random thread order:
 *   - four encode + decode rounds of 3 signals whose lengths change from round to round inside one length bucket:
 *     round 1 runs eagerly, round 2 records, rounds 3 and 4 replay (one graph launch per encode and per decode,
 *     counted by the simulator) with no cudaMalloc (no allocation on the hot path); the reverse and random orders
 *     replay rounds 3 and 4;
 *   - in forward order, a batch of 9 (bucket 16: padding items) and one signal of 9 length units (bucket 10: padding
 *     frames), run eagerly in graph mode;
 * codes, encoder latents, quantized latents and decoded audio must equal the eager reference bit for bit;
 *   - in bf16 mode, the FLOPs the implicit-GEMM launches note for bench_gpu_model (cudasim_note_flops) are the same
 *     when a graph replays them as when they run eagerly (a note made while a launch is only recorded must reach
 *     the replayed launch). */
extern "C" {
#include "snacrt.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/cudasim_codec_load.h"
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

struct result {                     /* everything one encode + decode call returns, flattened */
    std::vector<int32_t> codes;
    std::vector<float> latents, audio;
};

static double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Encode `lens` (signals from seeds), then decode the codes (noise off). */
static result round_trip(srt_codec *c, const std::vector<int64_t> &lens, uint64_t seed) {
    result r;
    int n = (int)lens.size();
    std::vector<std::vector<float>> sig((size_t)n);
    std::vector<const float *> ptrs((size_t)n);
    for (int b = 0; b < n; b++) {
        sig[(size_t)b].resize((size_t)lens[(size_t)b]);
        test_fill_uniform(sig[(size_t)b].data(), sig[(size_t)b].size(), seed + (uint64_t)b, -0.5f, 0.5f);
        ptrs[(size_t)b] = sig[(size_t)b].data();
    }
    std::vector<srt_codes> codes((size_t)n);
    std::vector<float *> lat((size_t)n), quant((size_t)n), audio((size_t)n);
    std::vector<int64_t> n_out((size_t)n);
    srt_codec_info info;
    srt_codec_get_info(c, &info);
    srt_status st = srt_codec_encode(c, n, ptrs.data(), lens.data(), codes.data(), lat.data(), quant.data());
    TEST_CHECK(st == SRT_OK, "encode: %s", srt_last_error());
    if (st != SRT_OK) return r;
    for (int b = 0; b < n; b++) {
        int64_t T = codes[(size_t)b].n_frames[0] * info.vq_strides[0];
        for (int l = 0; l < codes[(size_t)b].n_levels; l++)
            r.codes.insert(r.codes.end(), codes[(size_t)b].codes[l], codes[(size_t)b].codes[l] + codes[(size_t)b].n_frames[l]);
        r.latents.insert(r.latents.end(), lat[(size_t)b], lat[(size_t)b] + (size_t)(T * info.latent_dim));
        r.latents.insert(r.latents.end(), quant[(size_t)b], quant[(size_t)b] + (size_t)(T * info.latent_dim));
        free(lat[(size_t)b]);
        free(quant[(size_t)b]);
    }
    st = srt_codec_decode(c, n, codes.data(), -1, audio.data(), n_out.data());
    TEST_CHECK(st == SRT_OK, "decode: %s", srt_last_error());
    for (int b = 0; b < n && st == SRT_OK; b++) {
        r.audio.insert(r.audio.end(), audio[(size_t)b], audio[(size_t)b] + n_out[(size_t)b]);
        free(audio[(size_t)b]);
    }
    for (int b = 0; b < n; b++) srt_codes_free(&codes[(size_t)b]);
    return r;
}

static void expect_same(const result &got, const result &ref, const char *what) {
    TEST_CHECK(got.codes == ref.codes, "%s [%s order]: codes differ from the eager pass", what,
               cudasim_order_name(cudasim_get_order()));
    TEST_CHECK(got.latents.size() == ref.latents.size() &&
                   !memcmp(got.latents.data(), ref.latents.data(), ref.latents.size() * sizeof(float)),
               "%s [%s order]: latents differ from the eager pass", what, cudasim_order_name(cudasim_get_order()));
    TEST_CHECK(got.audio.size() == ref.audio.size() &&
                   !memcmp(got.audio.data(), ref.audio.data(), ref.audio.size() * sizeof(float)),
               "%s [%s order]: decoded audio differs from the eager pass", what,
               cudasim_order_name(cudasim_get_order()));
}

static void model_case(const char *model) {
    srt_codec *eager = test_codec_load_cuda(model, 0, nullptr), *graph = test_codec_load_cuda(model, 1, nullptr);
    if (!eager || !graph) { srt_codec_free(eager); srt_codec_free(graph); return; }
    srt_codec_info info;
    srt_codec_get_info(eager, &info);
    int64_t u = info.pad_multiple;
    /* rounds: three signals, lengths changing inside 3 length units */
    const std::vector<std::vector<int64_t>> rounds = {
        {u - 48, u / 2 + 7, 100}, {u / 3, u, u - 5}, {1, 9, u - 1}, {u, u, u}};
    std::vector<result> ref;
    uint64_t launches_before = cudasim_graph_launch_count();
    double t0 = now_s();
    for (size_t i = 0; i < rounds.size(); i++) ref.push_back(round_trip(eager, rounds[i], 100 + i));
    fprintf(stderr, "%s: eager rounds %.1f s\n", model, now_s() - t0);
    TEST_CHECK(cudasim_graph_launch_count() == launches_before, "%s: SNACRT_CUDA_GRAPHS=0 launched graphs", model);
    std::vector<int64_t> nine((size_t)9), one = {9 * u - 3};
    for (int b = 0; b < 9; b++) nine[(size_t)b] = u / 8 + 37 * b;
    result ref_nine = round_trip(eager, nine, 7), ref_one = round_trip(eager, one, 9);
    fprintf(stderr, "%s: eager batch 9 and 9 units %.1f s\n", model, now_s() - t0);

    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 4321);
        uint64_t mallocs = 0, launches = 0;
        /* rounds 1-2 run eagerly or record (also after the bigger shapes below grew the kept buffers: a new key) */
        for (size_t i = 0; i < rounds.size(); i++) {
            if (i == 2) { mallocs = cudasim_malloc_count(); launches = cudasim_graph_launch_count(); }
            result got = round_trip(graph, rounds[i], 100 + i);
            char what[64];
            snprintf(what, sizeof what, "%s round %zu", model, i + 1);
            expect_same(got, ref[i], what);
        }
        /* rounds 3 and 4: one replay per encode and per decode, nothing allocated on the device */
        TEST_CHECK(cudasim_graph_launch_count() - launches == 4, "%s [%s order]: %llu graph launches in rounds 3-4 "
                   "(expected 4: encode and decode replayed)", model, cudasim_order_name(order),
                   (unsigned long long)(cudasim_graph_launch_count() - launches));
        TEST_CHECK(cudasim_malloc_count() == mallocs, "%s [%s order]: %llu cudaMalloc calls while replaying", model,
                   cudasim_order_name(order), (unsigned long long)(cudasim_malloc_count() - mallocs));
        if (order == CUDASIM_FORWARD) {   /* padding items and frames (eager: seen once) */
            expect_same(round_trip(graph, nine, 7), ref_nine, "batch 9 (bucket 16)");
            expect_same(round_trip(graph, one, 9), ref_one, "9 length units (bucket 10)");
        }
        TEST_CHECK(cudasim_error_count() == 0, "%s [%s order]: the simulator reported: %s", model,
                   cudasim_order_name(order), cudasim_last_error());
        fprintf(stderr, "%s [%s order]: %.1f s\n", model, cudasim_order_name(order), now_s() - t0);
    }
    srt_codec_free(eager);
    srt_codec_free(graph);
}

/* Tensor-core FLOPs noted by non-cuBLAS launches since the last counter reset. */
static double noted_tc_flops() {
    double sum = 0;
    for (size_t i = 0; i < cudasim_launch_stats_count(); i++) {
        const cudasim_launch_stats *l = cudasim_launch_stats_at(i);
        if (!l->is_gemm && l->unit != 0) sum += l->flops;
    }
    return sum;
}

/* bf16 mode: the same round eagerly and replayed from a graph note the same FLOPs (forward order). */
static void flops_case(const char *model) {
    cudasim_set_order(CUDASIM_FORWARD, 1);
    srt_codec *eager = test_codec_load_cuda(model, 0, "bf16"), *graph = test_codec_load_cuda(model, 1, "bf16");
    if (!eager || !graph) { srt_codec_free(eager); srt_codec_free(graph); return; }
    srt_codec_info info;
    srt_codec_get_info(eager, &info);
    const std::vector<int64_t> lens = {info.pad_multiple, info.pad_multiple / 2 + 5};
    cudasim_counters_enable(1);
    cudasim_counters_reset();
    round_trip(eager, lens, 11);
    double eager_flops = noted_tc_flops();
    round_trip(graph, lens, 11);   /* runs eagerly (first sight of the shape) */
    round_trip(graph, lens, 11);   /* records */
    uint64_t launches = cudasim_graph_launch_count();
    cudasim_counters_reset();
    round_trip(graph, lens, 11);   /* replays */
    double replay_flops = noted_tc_flops();
    cudasim_counters_enable(0);
    TEST_CHECK(cudasim_graph_launch_count() - launches == 2, "%s bf16: the third round did not replay", model);
    TEST_CHECK(eager_flops > 0 && replay_flops == eager_flops, "%s bf16: tensor-core FLOPs noted eagerly %.6g, "
               "replayed from a graph %.6g (must be equal)", model, eager_flops, replay_flops);
    srt_codec_free(eager);
    srt_codec_free(graph);
}

int main() {
    flops_case("tiny24");
    model_case("tiny24");
    printf("%llu graph launches\n", (unsigned long long)cudasim_graph_launch_count());
    TEST_MAIN_END();
}
