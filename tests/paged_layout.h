/* paged_layout.h: a scrambled paged-KV-cache layout for the paged-attention tests of the cudasim build (C++):
 * block tables wider than needed, the cache blocks a random permutation dealt out to the sequences, the per-sequence
 * query and context lengths (test_paged_layout), and a sequence's cache filled around its new tokens
 * (test_paged_fill). Include after testutil.h. */
#ifndef SRT_TESTS_PAGED_LAYOUT_H
#define SRT_TESTS_PAGED_LAYOUT_H

#include <algorithm>
#include <vector>

/* seqs: each with .n_q (query rows) and .ctx (context length, the n_q rows included). *max_blocks = the most blocks
 * of block_size a sequence needs, plus a spare column; *n_blocks = n_seqs * max_blocks + 3 cache blocks, shuffled
 * with seed (test_rng_next) and dealt out in order: table (n_seqs, max_blocks); q_start, n_q, ctx_len (n_seqs).
 * Returns the query rows of all sequences. */
template <typename Seq>
static int test_paged_layout(const std::vector<Seq> &seqs, int block_size, uint64_t seed, int *max_blocks,
                             int *n_blocks, std::vector<int32_t> &table, std::vector<int32_t> &q_start,
                             std::vector<int32_t> &n_q, std::vector<int32_t> &ctx_len) {
    const int n_seqs = (int)seqs.size();
    int mb = 0, n_tokens = 0;
    for (const Seq &s : seqs) mb = std::max(mb, (s.ctx + block_size - 1) / block_size);
    mb += 1;   /* a spare column: block tables are wider than needed */
    const int nb = n_seqs * mb + 3;
    std::vector<int32_t> perm((size_t)nb);
    for (int i = 0; i < nb; i++) perm[(size_t)i] = i;
    uint64_t rng = seed;
    for (int i = nb - 1; i > 0; i--) std::swap(perm[(size_t)i], perm[test_rng_next(&rng) % (uint64_t)(i + 1)]);
    table.assign((size_t)n_seqs * mb, -1);
    q_start.clear();
    n_q.clear();
    ctx_len.clear();
    for (int s = 0, next = 0; s < n_seqs; s++) {
        q_start.push_back(n_tokens);
        n_q.push_back(seqs[(size_t)s].n_q);
        ctx_len.push_back(seqs[(size_t)s].ctx);
        n_tokens += seqs[(size_t)s].n_q;
        for (int b = 0; b < mb; b++) table[(size_t)s * mb + b] = perm[(size_t)next++];
    }
    *max_blocks = mb;
    *n_blocks = nb;
    return n_tokens;
}

/* One sequence of a paged layout: row its block table row (blocks of block_size), ctx its context whose last nq
 * positions are new tokens. The cache rows (kv_dim floats) of the older positions are copied from kvals / vvals
 * into kc / vc; the new tokens' positions and cache slots are appended to pos and slot, their rows left as they are
 * (NaN until the op stores them). */
static inline void test_paged_fill(const int32_t *row, int block_size, int ctx, int nq, int kv_dim,
                                   const std::vector<float> &kvals, const std::vector<float> &vvals,
                                   std::vector<float> &kc, std::vector<float> &vc, std::vector<int32_t> &pos,
                                   std::vector<int32_t> &slot) {
    for (int p = 0; p < ctx; p++) {
        const size_t sl = (size_t)row[p / block_size] * block_size + p % block_size;
        if (p >= ctx - nq) {
            pos.push_back(p);
            slot.push_back((int32_t)sl);
            continue;
        }
        for (int i = 0; i < kv_dim; i++) {
            kc[sl * kv_dim + i] = kvals[sl * kv_dim + i];
            vc[sl * kv_dim + i] = vvals[sl * kv_dim + i];
        }
    }
}

#endif
