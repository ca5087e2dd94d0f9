/* lm_mask_cases.h: random rows for the mask_rows op (host/lm/lm_ops.h srt_mask_row), shared by the cpu test
 * (test_lm_sample_op.c) and the simulated-cuda test (test_cudasim_sample.cpp), so both walk the same cases. */
#ifndef SRT_TEST_LM_MASK_CASES_H
#define SRT_TEST_LM_MASK_CASES_H
#include "lm/lm_ops.h"
#include "testutil.h"

/* A random mask row for vocab: empty, whole, edge and inner clear ranges; keep ranges inside, across the edges of,
 * outside or covering the clear range, or empty; keep ids inside, outside or none. */
static inline srt_mask_row test_random_mask_row(int vocab, uint64_t *s) {
    int32_t v = vocab;
    int32_t a = (int32_t)(test_rng_next(s) % (uint64_t)(v + 1)), b = (int32_t)(test_rng_next(s) % (uint64_t)(v + 1));
    int32_t c = (int32_t)(test_rng_next(s) % (uint64_t)(v + 1)), d = (int32_t)(test_rng_next(s) % (uint64_t)(v + 1));
    srt_mask_row m = {a < b ? a : b, a < b ? b : a, c < d ? c : d, c < d ? d : c, -1};
    switch (test_rng_next(s) % 8) {
    case 0: m.clear_begin = m.clear_end = a; break;                          /* nothing cleared */
    case 1: m.clear_begin = 0; m.clear_end = v; break;                       /* the whole row */
    case 2: m.keep_begin = m.keep_end = c; break;                            /* no keep range */
    case 3: m.keep_begin = 0; m.keep_end = v; break;                         /* everything kept */
    default: break;
    }
    uint64_t k = test_rng_next(s) % 3;
    if (k == 1) m.keep_id = (int32_t)(test_rng_next(s) % (uint64_t)v);
    else if (k == 2 && m.clear_end > m.clear_begin) m.keep_id = m.clear_begin + (m.clear_end - m.clear_begin) / 2;
    return m;
}

#endif
