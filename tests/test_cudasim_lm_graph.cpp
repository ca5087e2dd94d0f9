/* test_cudasim_lm_graph.cpp: recorded decode steps (CUDA graphs, cuda/lm_graph.c) through the CUDA simulator.
 *  1. The simulator's stream capture: a captured launch runs only at cudaGraphLaunch, with the arguments it had at
 *     capture (a struct passed as *ptr and changed afterwards keeps its captured value); memsets replay; a
 *     synchronize or a pageable-memory copy while capturing breaks the capture (cudaStreamEndCapture fails).
 *  2. tiny-qwen2 and tiny-orpheus on the "cuda" device with SNACRT_CUDA_GRAPHS=0 and =1: three sequences
 *     prefilled together, then greedy decode steps whose batch shrinks 3 -> 2 -> 1 (buckets 4, 2, 1), one sequence
 *     running past 256 tokens of context (the capacity bucket grows); then srt_lm_generate greedy and sampled
 *     (top-k/top-p, device sample op). Graphs on == off: identical ids, logits within 1e-6; with graphs on the
 *     simulator counts graph launches (replays happen), with graphs off none. */
#include "cuda/common.cuh"
extern "C" {
#include "snacrt.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include <cmath>
#include <vector>

/* ---------------------------------------------------------------- the simulator's capture */
struct add_params { float v; int n; };
__global__ void add_value(add_params p, float *out) {
    if ((int)threadIdx.x < p.n) out[threadIdx.x] += p.v;
}

static void capture_selftest() {
    cudaStream_t stream;
    TEST_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess, "stream");
    float *out = nullptr;
    cudaMalloc((void **)&out, 32 * sizeof(float));
    cudaMemset(out, 0, 32 * sizeof(float));
    add_params params = {1.0f, 32};
    const add_params *pp = &params;   /* the backend passes its argument structs as *a */
    uint64_t launches0 = cudasim_graph_launch_count();
    TEST_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed) == cudaSuccess, "begin capture");
    enum cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    cudaStreamIsCapturing(stream, &status);
    TEST_CHECK(status == cudaStreamCaptureStatusActive, "capturing: status %d", (int)status);
    cudaMemsetAsync(out, 0, 32 * sizeof(float), stream);
    LAUNCH(add_value, 1, 32, 0, stream, *pp, out);
    params.v = 100.0f;                /* after the launch: the graph keeps 1.0 */
    cudaGraph_t graph = nullptr;
    TEST_CHECK(cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph, "end capture");
    float host[32];
    cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost);
    TEST_CHECK(host[0] == 0.0f, "a captured kernel does not run at capture (out[0] = %g)", host[0]);
    cudaGraphExec_t exec = nullptr;
    TEST_CHECK(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess, "instantiate");
    cudaMemset(out, 0x7f, 32 * sizeof(float));
    for (int i = 0; i < 2; i++) TEST_CHECK(cudaGraphLaunch(exec, stream) == cudaSuccess, "graph launch %d", i);
    cudaStreamSynchronize(stream);
    cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost);
    TEST_CHECK(host[0] == 1.0f && host[31] == 1.0f, "replay: memset then += the captured 1.0: out = %g, %g", host[0],
               host[31]);
    TEST_CHECK(cudasim_graph_launch_count() == launches0 + 2, "graph launches counted");
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);

    /* a synchronize while capturing breaks the capture */
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
    LAUNCH(add_value, 1, 32, 0, stream, params, out);
    TEST_CHECK(cudaStreamSynchronize(stream) == cudaErrorStreamCaptureUnsupported, "synchronize while capturing");
    TEST_CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorStreamCaptureInvalidated && !graph,
               "a capture broken by a synchronize fails");
    /* a copy from pageable host memory cannot be captured */
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
    TEST_CHECK(cudaMemcpyAsync(out, host, sizeof host, cudaMemcpyHostToDevice, stream) ==
                   cudaErrorStreamCaptureUnsupported, "pageable copy while capturing");
    TEST_CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorStreamCaptureInvalidated, "broken by a pageable copy");
    cudaStreamIsCapturing(stream, &status);
    TEST_CHECK(status == cudaStreamCaptureStatusNone, "capture over");
    cudaGetLastError();
    cudaFree(out);
    cudaStreamDestroy(stream);
}

/* ---------------------------------------------------------------- decode with and without graphs */
struct run_result {
    std::vector<float> logits;                /* every step's rows, in order */
    std::vector<int32_t> ids;                 /* greedy ids of the forward loop */
    std::vector<std::vector<int32_t>> greedy, sampled;   /* srt_lm_generate outputs */
    uint64_t graph_launches = 0;
};

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

static void generate(srt_lm *lm, const char *tag, const std::vector<std::vector<int32_t>> &prompts, float temperature,
                     std::vector<std::vector<int32_t>> &out) {
    size_t n = prompts.size();
    std::vector<srt_lm_request> reqs(n);
    std::vector<srt_lm_output> outs(n);
    for (size_t r = 0; r < n; r++) {
        srt_sampling_defaults(&reqs[r].sampling);
        reqs[r].sampling.temperature = temperature;
        reqs[r].sampling.top_k = temperature > 0 ? 40 : 0;
        reqs[r].sampling.top_p = temperature > 0 ? 0.9f : 1.0f;
        reqs[r].sampling.repetition_penalty = temperature > 0 ? 1.1f : 1.0f;
        reqs[r].sampling.seed = 42 + r;
        reqs[r].sampling.max_tokens = 3 + 4 * (int)r;
        reqs[r].prompt = prompts[r].data();
        reqs[r].n_prompt = prompts[r].size();
    }
    srt_status st = srt_lm_generate(lm, (int)n, reqs.data(), outs.data());
    TEST_CHECK(st == SRT_OK, "%s: generate: %s", tag, srt_last_error());
    for (size_t r = 0; st == SRT_OK && r < n; r++) {
        out.emplace_back(outs[r].ids, outs[r].ids + outs[r].n_ids);
        srt_lm_output_free(&outs[r]);
    }
}

static void run(const char *model, bool graphs, int long_steps, run_result *res) {
    char rel[128], dir[512], tag[160];
    snprintf(rel, sizeof rel, "tests/data/llama/%s", model);
    test_src_path(rel, dir, sizeof dir);
    snprintf(tag, sizeof tag, "%s graphs %s", model, graphs ? "on" : "off");
    setenv("SNACRT_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    srt_lm_options opts = {};
    opts.backend = "cuda";
    opts.kv_block_size = 8;
    opts.kv_max_tokens = 2048;
    srt_lm *lm = nullptr;
    srt_status st = srt_lm_load(dir, &opts, &lm);
    TEST_CHECK(st == SRT_OK, "%s: load: %s", tag, srt_last_error());
    if (st != SRT_OK) return;
    srt_lm_info info;
    srt_lm_get_info(lm, &info);
    int vocab = info.vocab_size;
    uint64_t launches0 = cudasim_graph_launch_count();
    std::vector<std::vector<int32_t>> prompts = {{}, {}, {}};
    int lens[3] = {5, 9, 3}, budget[3] = {long_steps, 10, 4};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < lens[s]; i++) prompts[(size_t)s].push_back((int32_t)((i * 37 + 11 + 101 * s) % vocab));
    int seqs[3], n_new[3];
    const int32_t *toks[3];
    std::vector<float> logits((size_t)3 * vocab);
    for (int s = 0; s < 3; s++) {
        srt_lm_seq_open(lm, &seqs[s]);
        toks[s] = prompts[(size_t)s].data();
        n_new[s] = lens[s];
    }
    st = srt_lm_forward(lm, 3, seqs, toks, n_new, 0, logits.data());
    TEST_CHECK(st == SRT_OK, "%s: prefill: %s", tag, srt_last_error());
    int32_t next[3];
    for (int s = 0; s < 3; s++) next[s] = argmax(&logits[(size_t)s * vocab], vocab);
    for (int step = 0; st == SRT_OK && step < long_steps; step++) {
        int nb = 0, bs[3];
        const int32_t *bt[3];
        int bseq[3], ones[3] = {1, 1, 1};
        for (int s = 0; s < 3; s++)
            if (step < budget[s]) { bs[nb] = s; bseq[nb] = seqs[s]; bt[nb] = &next[s]; nb++; }
        st = srt_lm_forward(lm, nb, bseq, bt, ones, 0, logits.data());
        TEST_CHECK(st == SRT_OK, "%s: step %d (batch %d): %s", tag, step, nb, srt_last_error());
        res->logits.insert(res->logits.end(), logits.begin(), logits.begin() + (size_t)nb * vocab);
        for (int b = 0; b < nb; b++) {
            next[bs[b]] = argmax(&logits[(size_t)b * vocab], vocab);
            res->ids.push_back(next[bs[b]]);
        }
    }
    TEST_CHECK(srt_lm_seq_length(lm, seqs[0]) == lens[0] + long_steps, "%s: sequence 0 holds %d tokens", tag,
               srt_lm_seq_length(lm, seqs[0]));
    for (int s = 0; s < 3; s++) srt_lm_seq_close(lm, seqs[s]);
    generate(lm, tag, prompts, 0.0f, res->greedy);
    generate(lm, tag, prompts, 0.8f, res->sampled);
    res->graph_launches = cudasim_graph_launch_count() - launches0;
    srt_lm_free(lm);
}

static void compare_model(const char *model, int long_steps) {
    run_result off, on;
    run(model, false, long_steps, &off);
    run(model, true, long_steps, &on);
    TEST_CHECK(off.graph_launches == 0, "%s: graphs off launched %llu graphs", model,
               (unsigned long long)off.graph_launches);
    /* decode steps: long_steps + 9 + 3 forwards plus generate's; all but the first two of each key replay */
    TEST_CHECK(on.graph_launches >= (uint64_t)long_steps - 8, "%s: graphs on: only %llu graph launches for %d decode "
               "steps", model, (unsigned long long)on.graph_launches, long_steps);
    TEST_CHECK(on.ids == off.ids && !on.ids.empty(), "%s: greedy ids differ with graphs (%zu vs %zu ids)", model,
               on.ids.size(), off.ids.size());
    TEST_CHECK(on.greedy == off.greedy && on.sampled == off.sampled && on.sampled.size() == 3,
               "%s: srt_lm_generate ids differ with graphs", model);
    size_t worst = 0;
    double maxerr = 0;
    bool same_size = on.logits.size() == off.logits.size();
    double excess = same_size ? test_compare(on.logits.data(), off.logits.data(), on.logits.size(), 1e-6, 0, &worst,
                                             &maxerr) : 1;
    TEST_CHECK(same_size && excess <= 0, "%s: logits with graphs differ: element %zu, max abs err %g (tolerance 1e-6)",
               model, worst, maxerr);
    printf("%s: %zu decode rows, %llu graph launches, max logit difference %g\n", model, on.ids.size(),
           (unsigned long long)on.graph_launches, maxerr);
}

int main(void) {
    capture_selftest();
    compare_model("tiny-qwen2", 262);     /* context 5 + 262 > 256: the capacity bucket grows to 512 */
    compare_model("tiny-orpheus", 14);
    TEST_CHECK(cudasim_error_count() == 0, "the simulator reported: %s", cudasim_last_error());
    TEST_MAIN_END();
}
