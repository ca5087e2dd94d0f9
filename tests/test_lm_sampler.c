/* test_lm_sampler.c: token sampling (host/lm/sampler.c): greedy and ties, allowed range, seeds, temperature
 * frequencies against the softmax, top-k / top-p / min-p kept sets against a full sort, penalties. */
#include "testutil.h"
#include "snacrt.h"

static int32_t sample_once(const srt_sampling_params *p, const float *logits, int vocab) {
    srt_sampler *s = NULL;
    int32_t id = -1;
    if (srt_sampler_create(p, vocab, &s) == SRT_OK) srt_sampler_sample(s, logits, &id);
    srt_sampler_free(s);
    return id;
}

static void test_greedy(void) {
    float logits[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.temperature = 0;
    TEST_CHECK(sample_once(&p, logits, 6) == 1, "greedy takes the lowest id of a tie");
    p.allowed_begin = 2; p.allowed_end = 6;
    TEST_CHECK(sample_once(&p, logits, 6) == 3, "greedy inside [2, 6)");
    p.allowed_begin = 4;
    TEST_CHECK(sample_once(&p, logits, 6) == 4, "greedy inside [4, 6)");
    p.allowed_end = 7;
    srt_sampler *s = NULL;
    TEST_CHECK(srt_sampler_create(&p, 6, &s) == SRT_ERR_RANGE, "allowed range beyond the vocabulary is refused");
    srt_sampler_free(s);
}

/* Draw n tokens with one sampler; counts[vocab]. */
static void draw(const srt_sampling_params *p, const float *logits, int vocab, int n, int *counts) {
    srt_sampler *s = NULL;
    memset(counts, 0, sizeof(int) * vocab);
    TEST_CHECK(srt_sampler_create(p, vocab, &s) == SRT_OK, "create: %s", srt_last_error());
    for (int i = 0; i < n && s; i++) {
        int32_t id;
        srt_sampler_sample(s, logits, &id);
        counts[id]++;
    }
    srt_sampler_free(s);
}

static void test_distribution(void) {
    float logits[5] = {1.0f, 0.5f, 0.0f, -0.5f, -3.0f};
    double prob[5], z = 0;
    int counts[5], n = 40000;
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.seed = 7;
    p.temperature = 0.7f;
    for (int i = 0; i < 5; i++) z += prob[i] = exp(logits[i] / 0.7);
    draw(&p, logits, 5, n, counts);
    /* each id within 5 sigma of its own binomial (id 4 has p = 0.0018: 72 +- 42 of 40000, so never drawing it
     * fails), and Pearson's chi-square over the 5 ids (4 degrees of freedom) below 35: P(chi2 > 35) =
     * exp(-17.5) * 18.5 = 5e-7 for a correct sampler */
    double chi2 = 0;
    for (int i = 0; i < 5; i++) {
        double q = prob[i] / z, expect = n * q, sigma = sqrt(n * q * (1 - q));
        chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
        TEST_CHECK(fabs(counts[i] - expect) <= 5 * sigma, "temperature 0.7: id %d drawn %d times, expected %.1f "
                   "+- %.1f (5 sigma)", i, counts[i], expect, 5 * sigma);
    }
    TEST_CHECK(chi2 < 35, "temperature 0.7: chi-square %.2f over 5 ids (bound 35)", chi2);
    p.top_k = 2;   /* renormalized over ids 0, 1 */
    draw(&p, logits, 5, n, counts);
    TEST_CHECK(counts[2] + counts[3] + counts[4] == 0, "top_k 2 keeps ids 0 and 1 only");
    double q0 = prob[0] / (prob[0] + prob[1]);   /* id 0 renormalized: within 5 sigma of its binomial */
    TEST_CHECK(fabs(counts[0] - n * q0) <= 5 * sqrt(n * q0 * (1 - q0)), "top_k 2 renormalizes: %d of %d, "
               "expected %.1f", counts[0], n, n * q0);
    p.top_k = 0;
    p.top_p = (float)((prob[0] + prob[1]) / z - 1e-4);   /* needs ids 0 and 1 exactly */
    draw(&p, logits, 5, n, counts);
    TEST_CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] + counts[3] + counts[4] == 0, "top_p keeps {0, 1}: %d %d "
               "%d", counts[0], counts[1], counts[2]);
    p.top_p = 1;
    p.min_p = (float)(prob[2] / prob[0] * 0.999);         /* keeps 0, 1, 2 */
    draw(&p, logits, 5, n, counts);
    TEST_CHECK(counts[2] > 0 && counts[3] + counts[4] == 0, "min_p keeps {0, 1, 2}: %d %d", counts[2], counts[3]);
}

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* Partial selection over a big vocabulary agrees with a full sort: every sampled id is in the exact kept set. */
static void test_partial_selection(void) {
    int vocab = 50021, n = 1000;
    float *logits = malloc(sizeof(float) * vocab), *sorted = malloc(sizeof(float) * vocab);
    test_fill_uniform(logits, (size_t)vocab, 99, -8, 8);
    memcpy(sorted, logits, sizeof(float) * vocab);
    qsort(sorted, (size_t)vocab, sizeof(float), cmp_desc);
    int *counts = malloc(sizeof(int) * vocab);
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.seed = 3;
    p.top_k = 40;
    draw(&p, logits, vocab, n, counts);
    int outside = 0, distinct = 0;
    for (int i = 0; i < vocab; i++) {
        if (counts[i] && logits[i] < sorted[39]) outside++;
        distinct += counts[i] > 0;
    }
    TEST_CHECK(outside == 0 && distinct > 20, "top_k 40: %d draws outside the top 40, %d distinct", outside, distinct);
    /* top_p 0.9: the kept set is the shortest sorted prefix whose mass reaches 0.9 */
    p.top_k = 0;
    p.top_p = 0.9f;
    double z = 0, cum = 0;
    for (int i = 0; i < vocab; i++) z += exp(sorted[i] - sorted[0]);
    int cut = 0;
    while (cum < 0.9 * z) cum += exp(sorted[cut++] - sorted[0]);
    draw(&p, logits, vocab, n, counts);
    outside = 0; distinct = 0;
    for (int i = 0; i < vocab; i++) {
        if (counts[i] && logits[i] < sorted[cut - 1]) outside++;
        distinct += counts[i] > 0;
    }
    TEST_CHECK(cut > 200 && outside == 0 && distinct > 100, "top_p 0.9 (%d kept): %d draws outside, %d distinct", cut,
               outside, distinct);
    free(logits); free(sorted); free(counts);
}

static void test_seeds(void) {
    float logits[64];
    test_fill_uniform(logits, 64, 5, -1, 1);
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    int32_t a[32], b[32], c[32];
    int32_t *outs[3] = {a, b, c};
    uint64_t seeds[3] = {11, 11, 12};
    for (int k = 0; k < 3; k++) {
        srt_sampler *s = NULL;
        p.seed = seeds[k];
        srt_sampler_create(&p, 64, &s);
        for (int i = 0; i < 32; i++) srt_sampler_sample(s, logits, &outs[k][i]);
        srt_sampler_free(s);
    }
    TEST_CHECK(!memcmp(a, b, sizeof a), "same seed, same draws");
    TEST_CHECK(memcmp(a, c, sizeof a), "different seeds, different draws");
}

static void test_penalties(void) {
    float logits[4] = {2.0f, 1.9f, -1.0f, -1.05f};
    srt_sampling_params p;
    srt_sampling_defaults(&p);
    p.temperature = 0;
    p.repetition_penalty = 1.2f;
    srt_sampler *s = NULL;
    int32_t prompt[2] = {0, 2}, id;
    srt_sampler_create(&p, 4, &s);
    srt_sampler_add_prompt(s, prompt, 2);
    srt_sampler_sample(s, logits, &id);
    TEST_CHECK(id == 1, "repetition penalty: 2.0/1.2 < 1.9, got %d", id);
    srt_sampler_free(s);
    p.allowed_begin = 2; p.allowed_end = 4;   /* -1.0*1.2 = -1.2 < -1.05 */
    srt_sampler_create(&p, 4, &s);
    srt_sampler_add_prompt(s, prompt, 2);
    srt_sampler_sample(s, logits, &id);
    TEST_CHECK(id == 3, "repetition penalty multiplies negative logits, got %d", id);
    srt_sampler_free(s);

    srt_sampling_defaults(&p);
    p.temperature = 0;
    p.presence_penalty = 0.15f;
    srt_sampler_create(&p, 4, &s);
    int32_t seq[3];
    for (int i = 0; i < 3; i++) srt_sampler_sample(s, logits, &seq[i]);
    TEST_CHECK(seq[0] == 0 && seq[1] == 1 && seq[2] == 0, "presence penalty alternates 0,1,0: %d %d %d", seq[0],
               seq[1], seq[2]);
    srt_sampler_free(s);
    srt_sampling_defaults(&p);
    p.temperature = 0;
    p.frequency_penalty = 0.06f;   /* 0 twice: 2.0 - 0.12 < 1.9 */
    srt_sampler_create(&p, 4, &s);
    for (int i = 0; i < 3; i++) srt_sampler_sample(s, logits, &seq[i]);
    TEST_CHECK(seq[0] == 0 && seq[1] == 0 && seq[2] == 1, "frequency penalty: %d %d %d", seq[0], seq[1], seq[2]);
    srt_sampler_free(s);
}

int main(void) {
    test_greedy();
    test_distribution();
    test_partial_selection();
    test_seeds();
    test_penalties();
    TEST_MAIN_END();
}
