/* test_cudasim_sample.cpp: the sample op (host/lm/lm_ops.h) of "cuda" (cuda/lm_sample.cuh in the CUDA simulator,
 * forward, reverse and random thread order), "cpu-ref" (full sort) and "cpu" against the host sampler
 * (srt_sampler_sample): the same id for every row, step after step, exactly.
 * Per case, two samplers per row with the same parameters, seed and prompt: one samples on the host, the other
 * plans rows (srt_sampler_plan: penalties, draw u) for the ops and is fed the host's pick. Shapes: vocabularies 1,
 * 7, 33, 1025, 156940; batches 1 and 7; top-k 1 / 40 / vocab; top-p 0.1 / 0.8 / 0.999; min-p; temperature and
 * greedy; repetition / frequency / presence penalties; allowed ranges down to a single id; logits with heavy ties
 * (top-k and top-p cuts inside a tie group), -inf logits, all -inf, +inf. Then a sweep of the draw u over one row
 * (boundaries of the cumulative weights) through srt_sample_pick, and NaN rows -> SRT_ERR_RANGE naming the id.
 * Then the mask_rows op (cuda/lm_mask_rows.cuh) of "cuda" and "cpu" against "cpu-ref", bit-exact (it only writes
 * -inf; NaN and +inf inputs outside the cleared ids stay): vocabularies 1, 7, 33, 1025 (156940 in forward order)
 * with 1, 7 and 33 rows of mixed clear / keep ranges (empty, whole row, across the edges) and keep ids. */
extern "C" {
#include "backend.h"
#include "lm/lm_ops.h"
#include "lm/sample_pick.h"
}
#include "cudasim_api.h"
#include "tests/testutil.h"
#include "tests/lm_mask_cases.h"
#include <algorithm>
#include <cmath>
#include <vector>

static srt_backend g_ref, g_cpu, g_cu;
static char g_case[200] = "";

enum pattern { UNIFORM, TIES, NEG_INF, ALL_NEG_INF, POS_INF, PEAKED };
static const char *pattern_name(pattern p) {
    static const char *n[] = {"uniform", "ties", "-inf", "all -inf", "+inf", "peaked"};
    return n[p];
}

static void fill_logits(float *x, int vocab, pattern p, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 17;
    for (int i = 0; i < vocab; i++) {
        float u = test_rand_uniform(&s, -6, 6);
        switch (p) {
        case UNIFORM: x[i] = u; break;
        case TIES: x[i] = std::floor(u * 0.5f) * 0.5f; break;          /* 24 distinct values, many ties */
        case NEG_INF: x[i] = u < -2 ? -INFINITY : u; break;
        case ALL_NEG_INF: x[i] = -INFINITY; break;
        case POS_INF: x[i] = u > 5.5f ? INFINITY : u; break;
        case PEAKED: x[i] = u * 0.3f; break;
        }
    }
    if (p == PEAKED) x[(seed * 7919) % (uint64_t)vocab] = 9.0f;
    if (p == TIES && vocab > 3) x[vocab / 3] = -0.0f;                 /* -0 ties +0 */
}

struct sample_case {
    const char *label;
    int vocab, batch, steps;
    pattern pat;
    srt_sampling_params p;
};

static srt_status run_op(srt_backend *be, const srt_sample_args &host_args, float *logits_dev, int32_t *ids) {
    srt_sample_args a = host_args;
    a.logits = logits_dev;
    a.ids = ids;
    return srt_op_sample(be, &a);
}

/* Each op on a fresh copy of the logits (ops overwrite them); returns false when the op fails. */
static bool op_ids(srt_backend *be, const char *name, const std::vector<float> &logits, const srt_sample_args &args,
                   std::vector<int32_t> &ids) {
    ids.assign((size_t)args.n_rows, -7);
    srt_status st;
    if (be == &g_cu) {
        void *dev = nullptr;
        st = g_cu.ops->alloc(g_cu.ctx, logits.size() * sizeof(float), &dev);
        if (st == SRT_OK) st = g_cu.ops->upload(g_cu.ctx, dev, logits.data(), logits.size() * sizeof(float));
        if (st == SRT_OK) st = run_op(be, args, (float *)dev, ids.data());
        g_cu.ops->free(g_cu.ctx, dev);
    } else {
        std::vector<float> copy = logits;
        st = run_op(be, args, copy.data(), ids.data());
    }
    TEST_CHECK(st == SRT_OK, "%s: %s sample: %s: %s", g_case, name, srt_status_name(st), srt_last_error());
    return st == SRT_OK;
}

static void run_case(const sample_case &c) {
    int V = c.vocab, B = c.batch;
    std::vector<srt_sampler *> host((size_t)B), planner((size_t)B);
    std::vector<int32_t> prompt;
    for (int i = 0; i < 9; i++) prompt.push_back((int32_t)((i * 7 + 3) % V));
    for (int b = 0; b < B; b++) {
        srt_sampling_params p = c.p;
        p.seed = c.p.seed + (uint64_t)b;
        if (b % 3 == 2 && p.temperature > 0 && V > 1) p.top_k = 1 + b;   /* rows differ in a batch */
        for (srt_sampler **s : {&host[(size_t)b], &planner[(size_t)b]}) {
            srt_status st = srt_sampler_create(&p, V, s);
            TEST_CHECK(st == SRT_OK, "%s: sampler: %s", c.label, srt_last_error());
            if (st != SRT_OK) return;
            srt_sampler_add_prompt(*s, prompt.data(), prompt.size());
        }
    }
    std::vector<float> logits((size_t)B * V);
    std::vector<srt_sample_row> rows((size_t)B);
    std::vector<srt_sample_penalty> pen;
    for (int step = 0; step < c.steps; step++) {
        snprintf(g_case, sizeof g_case, "%s (vocab %d, batch %d, %s, step %d) [%s order]", c.label, V, B,
                 pattern_name(c.pat), step, cudasim_order_name(cudasim_get_order()));
        for (int b = 0; b < B; b++) fill_logits(&logits[(size_t)b * V], V, c.pat, 1000u * (uint64_t)step + (uint64_t)b);
        std::vector<int32_t> want((size_t)B);
        for (int b = 0; b < B; b++) {
            srt_status st = srt_sampler_sample(host[(size_t)b], &logits[(size_t)b * V], &want[(size_t)b]);
            TEST_CHECK(st == SRT_OK, "%s: host sampler: %s", g_case, srt_last_error());
        }
        size_t n_pen = 0;
        for (int b = 0; b < B; b++) n_pen += (size_t)srt_sampler_n_penalties(planner[(size_t)b]);
        pen.assign(n_pen ? n_pen : 1, srt_sample_penalty{0, 0});
        int start = 0;
        for (int b = 0; b < B; b++) {
            srt_sampler_plan(planner[(size_t)b], start, &rows[(size_t)b], pen.data() + start);
            start += rows[(size_t)b].n_pen;
        }
        srt_sample_args args = {B, V, nullptr, rows.data(), pen.data(), nullptr};
        std::vector<int32_t> got;
        struct { srt_backend *be; const char *name; } ops[3] = {{&g_ref, "cpu-ref"}, {&g_cpu, "cpu"}, {&g_cu, "cuda"}};
        for (auto &o : ops) {
            if (!op_ids(o.be, o.name, logits, args, got)) continue;
            for (int b = 0; b < B; b++)
                TEST_CHECK(got[(size_t)b] == want[(size_t)b], "%s: row %d: %s picked %d, the host sampler %d (u %.17g)",
                           g_case, b, o.name, got[(size_t)b], want[(size_t)b], rows[(size_t)b].u);
        }
        for (int b = 0; b < B; b++) srt_sampler_accept(planner[(size_t)b], want[(size_t)b]);
    }
    for (int b = 0; b < B; b++) { srt_sampler_free(host[(size_t)b]); srt_sampler_free(planner[(size_t)b]); }
}

static srt_sampling_params params(float temperature, int top_k, float top_p, float min_p, uint64_t seed) {
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    return p;
}

static void all_cases(bool big) {
    std::vector<sample_case> cases;
    auto add = [&](const char *label, int vocab, int batch, int steps, pattern pat, srt_sampling_params p) {
        cases.push_back(sample_case{label, vocab, batch, steps, pat, p});
    };
    add("vocab 1", 1, 7, 2, UNIFORM, params(1, 0, 1, 0, 1));
    add("greedy", 33, 7, 3, TIES, params(0, 0, 1, 0, 2));
    add("temperature", 7, 7, 4, UNIFORM, params(0.7f, 0, 1, 0, 3));
    add("top-k 1", 33, 1, 3, UNIFORM, params(1, 1, 1, 0, 4));
    add("top-k 40 ties", 1025, 7, 2, TIES, params(1, 40, 1, 0, 5));
    add("top-k vocab", 33, 7, 2, UNIFORM, params(1.3f, 33, 1, 0, 6));
    add("top-p 0.1", 1025, 7, 2, UNIFORM, params(1, 0, 0.1f, 0, 7));
    add("top-p 0.8 ties", 1025, 7, 2, TIES, params(1, 0, 0.8f, 0, 8));
    add("top-p 0.999", 1025, 1, 2, UNIFORM, params(2, 0, 0.999f, 0, 9));
    add("top-k 40 + top-p 0.8", 1025, 7, 2, TIES, params(1, 40, 0.8f, 0, 10));
    add("min-p 0.05", 1025, 7, 2, UNIFORM, params(1, 0, 1, 0.05f, 11));
    add("top-k + top-p + min-p", 33, 7, 3, TIES, params(0.9f, 20, 0.9f, 0.1f, 12));
    add("-inf logits", 1025, 7, 2, NEG_INF, params(1, 0, 0.8f, 0, 13));
    add("all -inf", 33, 7, 2, ALL_NEG_INF, params(1, 5, 0.5f, 0, 14));
    add("+inf logits", 1025, 7, 2, POS_INF, params(1, 0, 0.8f, 0, 15));
    add("peaked top-p 0.999", 1025, 7, 2, PEAKED, params(1, 0, 0.999f, 0, 16));
    srt_sampling_params pen = params(1, 40, 0.95f, 0, 17);
    pen.repetition_penalty = 1.3f; pen.frequency_penalty = 0.4f; pen.presence_penalty = 0.2f;
    add("penalties", 33, 7, 6, UNIFORM, pen);
    srt_sampling_params one = params(1, 0, 0.5f, 0, 18);
    one.allowed_begin = 20; one.allowed_end = 21;
    add("allowed range of one id", 33, 7, 2, UNIFORM, one);
    srt_sampling_params range = params(0.8f, 0, 0.8f, 0, 19);
    range.allowed_begin = 3; range.allowed_end = 1020; range.repetition_penalty = 1.2f;
    add("allowed range", 1025, 7, 3, TIES, range);
    if (big) {
        add("Orpheus vocab top-k 40", 156940, 1, 2, UNIFORM, params(0.6f, 40, 1, 0, 20));
        add("Orpheus vocab top-p 0.8", 156940, 7, 1, UNIFORM, params(1, 0, 0.8f, 0, 21));
        srt_sampling_params orpheus = params(0.6f, 0, 0.95f, 0, 22);
        orpheus.repetition_penalty = 1.1f;
        orpheus.allowed_begin = 128266; orpheus.allowed_end = 156938;   /* the audio-code range */
        add("Orpheus vocab audio range, top-p 0.95, ties", 156940, 7, 2, TIES, orpheus);
    }
    for (const sample_case &c : cases) run_case(c);
}

/* The draw u swept over one row, boundaries included: cuda vs srt_sample_pick. */
static void u_sweep() {
    int V = 33;
    std::vector<float> logits((size_t)V);
    fill_logits(logits.data(), V, TIES, 99);
    const int N = 67;
    std::vector<srt_sample_row> rows((size_t)N);
    for (int i = 0; i < N; i++) {
        srt_sample_row &r = rows[(size_t)i];
        r = srt_sample_row{0, V, 1.0f, i % 3 == 0 ? 0 : 10, i % 2 ? 0.7f : 1.0f, 0, 1.0f, 0, 0, 0.0};
        r.u = i == N - 1 ? 1.0 - 1.0 / 9007199254740992.0 : (double)i / (N - 1);
    }
    std::vector<float> all((size_t)N * V);
    for (int i = 0; i < N; i++) std::copy(logits.begin(), logits.end(), all.begin() + (size_t)i * V);
    srt_sample_work work = {nullptr, nullptr, 0};
    std::vector<int32_t> want((size_t)N), got;
    for (int i = 0; i < N; i++) srt_sample_pick(logits.data(), &rows[(size_t)i], nullptr, &work, &want[(size_t)i]);
    srt_sample_work_free(&work);
    snprintf(g_case, sizeof g_case, "u sweep [%s order]", cudasim_order_name(cudasim_get_order()));
    srt_sample_args args = {N, V, nullptr, rows.data(), nullptr, nullptr};
    if (op_ids(&g_cu, "cuda", all, args, got)) {
        int diff = 0;
        for (int i = 0; i < N; i++) diff += got[(size_t)i] != want[(size_t)i];
        TEST_CHECK(diff == 0, "%s: %d of %d draws differ", g_case, diff, N);
    }
}

static void nan_rows() {
    int V = 1025, B = 3;
    std::vector<float> logits((size_t)B * V);
    for (int b = 0; b < B; b++) fill_logits(&logits[(size_t)b * V], V, UNIFORM, 500u + (uint64_t)b);
    logits[(size_t)1 * V + 700] = NAN;
    logits[(size_t)1 * V + 300] = NAN;
    std::vector<srt_sample_row> rows((size_t)B, srt_sample_row{0, V, 1.0f, 0, 1.0f, 0, 1.0f, 0, 0, 0.5});
    rows[1].inv_temp = 0;   /* greedy rows check too */
    srt_sample_args args = {B, V, nullptr, rows.data(), nullptr, nullptr};
    struct { srt_backend *be; const char *name; } ops[3] = {{&g_ref, "cpu-ref"}, {&g_cpu, "cpu"}, {&g_cu, "cuda"}};
    for (auto &o : ops) {
        std::vector<float> copy = logits;
        std::vector<int32_t> ids((size_t)B);
        srt_status st;
        if (o.be == &g_cu) {
            void *dev = nullptr;
            g_cu.ops->alloc(g_cu.ctx, copy.size() * sizeof(float), &dev);
            g_cu.ops->upload(g_cu.ctx, dev, copy.data(), copy.size() * sizeof(float));
            st = run_op(o.be, args, (float *)dev, ids.data());
            g_cu.ops->free(g_cu.ctx, dev);
        } else {
            st = run_op(o.be, args, copy.data(), ids.data());
        }
        const char *msg = srt_last_error();
        TEST_CHECK(st == SRT_ERR_RANGE && strstr(msg, "row 1") && strstr(msg, "id 300"),
                   "%s with NaN logits: %s (%s), want SRT_ERR_RANGE naming row 1, id 300", o.name,
                   srt_status_name(st), msg);
    }
}

static void mask_rows_case(int vocab, int n_rows, uint64_t seed) {
    uint64_t s = seed;
    std::vector<srt_mask_row> rows((size_t)n_rows);
    for (auto &m : rows) m = test_random_mask_row(vocab, &s);
    if (n_rows >= 7) rows[1] = srt_mask_row{0, 0, 0, 0, -1};      /* a row left alone (not sampled this step) */
    size_t n = (size_t)n_rows * (size_t)vocab;
    std::vector<float> x(n);
    test_fill_uniform(x.data(), n, seed, -4, 4);
    for (size_t i = 0; i < n; i += 97) x[i] = (i / 97) % 2 ? INFINITY : NAN;
    std::vector<float> want = x;
    srt_mask_rows_args a = {n_rows, vocab, want.data(), rows.data()};
    snprintf(g_case, sizeof g_case, "mask_rows vocab %d, %d rows [%s order]", vocab, n_rows,
             cudasim_order_name(cudasim_get_order()));
    TEST_CHECK(srt_op_mask_rows(&g_ref, &a) == SRT_OK, "%s: cpu-ref: %s", g_case, srt_last_error());
    auto count_diff = [&](const std::vector<float> &got) {
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += memcmp(&got[i], &want[i], sizeof(float)) != 0;
        return diff;
    };
    std::vector<float> cpu = x;
    a.logits = cpu.data();
    TEST_CHECK(srt_op_mask_rows(&g_cpu, &a) == SRT_OK, "%s: cpu: %s", g_case, srt_last_error());
    size_t d_cpu = count_diff(cpu);
    TEST_CHECK(d_cpu == 0, "%s: cpu: %zu of %zu logits differ from cpu-ref", g_case, d_cpu, n);
    void *dev = nullptr;
    srt_status st = g_cu.ops->alloc(g_cu.ctx, n * sizeof(float), &dev);
    if (st == SRT_OK) st = g_cu.ops->upload(g_cu.ctx, dev, x.data(), n * sizeof(float));
    a.logits = (float *)dev;
    if (st == SRT_OK) st = srt_op_mask_rows(&g_cu, &a);
    std::vector<float> cu(n, 0.0f);
    if (st == SRT_OK) st = g_cu.ops->download(g_cu.ctx, cu.data(), dev, n * sizeof(float));
    g_cu.ops->free(g_cu.ctx, dev);
    TEST_CHECK(st == SRT_OK, "%s: cuda: %s", g_case, srt_last_error());
    if (st != SRT_OK) return;
    size_t d_cu = count_diff(cu);
    TEST_CHECK(d_cu == 0, "%s: cuda: %zu of %zu logits differ from cpu-ref", g_case, d_cu, n);
}

static void mask_rows_cases(bool big) {
    for (int vocab : {1, 7, 33, 1025})
        for (int rows : {1, 7, 33}) mask_rows_case(vocab, rows, 7000u + (uint64_t)vocab * 64 + (uint64_t)rows);
    if (big) mask_rows_case(156940, 7, 424242);
    /* bad rows are refused before any launch */
    float *none = nullptr;
    srt_mask_row bad = {0, 34, 0, 0, -1};
    srt_mask_rows_args a = {1, 33, none, &bad};
    g_cu.ops->alloc(g_cu.ctx, 33 * sizeof(float), (void **)&none);
    a.logits = none;
    TEST_CHECK(srt_op_mask_rows(&g_cu, &a) == SRT_ERR_INVALID_ARG, "cuda mask_rows: clear past the vocabulary");
    g_cu.ops->free(g_cu.ctx, none);
}

int main(void) {
    TEST_CHECK(srt_backend_create("cpu-ref", 1, &g_ref) == SRT_OK, "cpu-ref: %s", srt_last_error());
    TEST_CHECK(srt_backend_create("cpu", 2, &g_cpu) == SRT_OK, "cpu: %s", srt_last_error());
    srt_status st = srt_backend_create("cuda", 0, &g_cu);
    TEST_CHECK(st == SRT_OK, "srt_backend_create(\"cuda\") in the simulator build: %s", srt_last_error());
    if (st != SRT_OK) TEST_MAIN_END();
    for (srt_backend *be : {&g_ref, &g_cpu, &g_cu})
        TEST_CHECK(be->ops->lm && be->ops->lm->sample && be->ops->lm->mask_rows, "%s has sample and mask_rows ops",
                   be->ops->name);
    const cudasim_order orders[3] = {CUDASIM_FORWARD, CUDASIM_REVERSE, CUDASIM_RANDOM};
    for (cudasim_order order : orders) {
        cudasim_set_order(order, 777);
        int failed_before = test_failed_count;
        all_cases(order != CUDASIM_REVERSE);   /* the 156940-id rows in two orders: they take most of the time */
        u_sweep();
        if (order == CUDASIM_FORWARD) nan_rows();
        mask_rows_cases(order == CUDASIM_FORWARD);
        TEST_CHECK(cudasim_check_redzones() == 0, "%s order: out-of-bounds writes: %s", cudasim_order_name(order),
                   cudasim_last_error());
        TEST_CHECK(cudasim_error_count() == 0, "%s order: the simulator reported: %s", cudasim_order_name(order),
                   cudasim_last_error());
        printf("%s order: %d failures, %llu launches, %llu simulated threads so far\n", cudasim_order_name(order),
               test_failed_count - failed_before, (unsigned long long)cudasim_launch_count(),
               (unsigned long long)cudasim_thread_count());
        fflush(stdout);
        cudasim_clear_error();
    }
    srt_backend_destroy(&g_cu);
    srt_backend_destroy(&g_cpu);
    srt_backend_destroy(&g_ref);
    TEST_MAIN_END();
}
