/* sample.cpp: the sampled ("light") simulation mode, for bench_gpu_model only (cudasim_set_sample_blocks; never
 * for correctness: the blocks that do not run write nothing, so every output is wrong). Per launch, K sample
 * units run instead of the whole grid:
 *   - a unit is one block, or, for a kernel listed in kGroups, every block along the listed axes (a group whose
 *     last block to arrive combines the others' partials: the group runs whole so the combine, its traffic and
 *     the reset of its arrival counter happen as on the GPU);
 *   - the first and the last unit run first and stand for themselves (weight 1: edge tiles, and the first reader
 *     of data every block shares); K - 2 interior units, one per equal stratum of the rest at a hashed position
 *     inside it (deterministic, and not aliased with a grid dimension's period), stand for their stratum;
 *   - a grid whose x axis is short (<= 32 blocks: splits, a few tiles) and that has more than one row (y, z)
 *     samples whole x rows, so x edge tiles (a partial last split, splits with no work) are exact, when that
 *     runs at most 8 K blocks (x x min(rows, K)); otherwise blocks are the units;
 *   - grids of at most K units run whole (exact).
 * counters.cpp scales each block's counter deltas by its weight and estimates the footprint per allocation (see
 * counters_launch_end). A launch whose sampled blocks do global atomics and that kGroups does not list is
 * completed: the remaining blocks run too and its counters are exact (atomics usually mean blocks depend on
 * each other: a last-block combine, an accumulation). */
#include "sample.h"
#include "cudasim_api.h"
#include <algorithm>
#include <cstring>

namespace cudasim {
namespace {
int g_k = 0;
/* Kernels whose blocks cooperate: axes (bit 0 x, 1 y, 2 z) along which a group's blocks run together.
 * axes 0: independent blocks despite global atomics (sample them freely); 7: the whole grid always runs. */
struct GroupRule { const char *name; unsigned axes; };
const GroupRule kGroups[] = {
    {"gemm_small_m_kernel", 2u},   /* split-K over gridDim.y: the tile's last split adds the partials */
    {"gemm_small_m_i8_kernel", 2u},   /* the same, int8 weights */
    /* decode attention: the splits of a (seq, head chunk) over gridDim.x; the last one merges them */
    {"lm_attn_decode_g1_kernel", 1u}, {"lm_attn_decode_g2_kernel", 1u}, {"lm_attn_decode_g3_kernel", 1u},
    {"lm_attn_decode_g4_kernel", 1u}, {"lm_attn_decode_g8_kernel", 1u},
    {"lm_attn_decode_fp8_g1_kernel", 1u}, {"lm_attn_decode_fp8_g2_kernel", 1u},   /* the same for fp8 KV */
    {"lm_attn_decode_fp8_g3_kernel", 1u}, {"lm_attn_decode_fp8_g4_kernel", 1u}, {"lm_attn_decode_fp8_g8_kernel", 1u},
    {"vq_nearest_kernel", 7u},     /* one group = the whole grid (runs whole): its codes are indices that the next
                                      kernel (embed) range-checks and gathers by; sampled, they would be garbage */
    {"vq_nearest_wide_kernel", 7u}, {"vq_nearest_warp_kernel", 7u},  /* the same (dims > 8; few frames) */
};

const uint64_t kRowMax = 32, kRowBudget = 8;   /* x rows: at most 32 blocks long, at most 8 K blocks in all */

uint64_t mix(uint64_t x) {   /* splitmix64 */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
} /* namespace */

int sample_blocks() { return g_k; }

bool sample_plan(const char *name, dim3 grid, std::vector<SampledBlock> &plan, bool *grouped) {
    plan.clear();
    *grouped = false;
    if (g_k <= 0) return false;
    unsigned axes = 0;
    for (const GroupRule &r : kGroups)
        if (!strcmp(r.name, name)) { axes = r.axes; *grouped = true; }
    const uint64_t dim[3] = {grid.x, grid.y, grid.z};
    /* a short x axis (splits, a few tiles) with many rows: whole rows are the units, so the edge tiles along x
     * (a partial last split or tile) are counted exactly and only the rows (heads, channels, items) are sampled */
    if (!*grouped && dim[0] <= kRowMax && dim[1] * dim[2] > 1 &&
        dim[0] * std::min<uint64_t>(dim[1] * dim[2], (uint64_t)g_k) <= kRowBudget * (uint64_t)g_k)
        axes = 1u;
    uint64_t udim[3], gdim[3];
    for (int d = 0; d < 3; d++) {
        udim[d] = (axes >> d & 1u) ? 1 : dim[d];   /* sample units span the other axes */
        gdim[d] = (axes >> d & 1u) ? dim[d] : 1;   /* a unit's blocks span the group axes */
    }
    const uint64_t n = udim[0] * udim[1] * udim[2], k = (uint64_t)g_k;
    if (n <= k) return false;
    std::vector<std::pair<uint64_t, double>> units;   /* unit index, weight */
    units.emplace_back(0, 1.0);
    units.emplace_back(n - 1, 1.0);
    const uint64_t inner = n - 2, strata = k - 2;
    for (uint64_t i = 0; i < strata; i++) {
        uint64_t lo = 1 + i * inner / strata, hi = 1 + (i + 1) * inner / strata;
        if (hi <= lo) continue;
        units.emplace_back(lo + mix(i * 0x100000001ull + n) % (hi - lo), (double)(hi - lo));
    }
    for (const auto &u : units) {
        uint64_t ux = u.first % udim[0], uy = u.first / udim[0] % udim[1], uz = u.first / (udim[0] * udim[1]);
        for (uint64_t gz = 0; gz < gdim[2]; gz++)
            for (uint64_t gy = 0; gy < gdim[1]; gy++)
                for (uint64_t gx = 0; gx < gdim[0]; gx++) {
                    uint64_t x = ux + gx, y = uy + gy, z = uz + gz;
                    plan.push_back({x + dim[0] * (y + dim[1] * z), u.second});
                }
    }
    return true;
}
} /* namespace cudasim */

extern "C" {
void cudasim_set_sample_blocks(int k) { cudasim::g_k = k <= 0 ? 0 : k < 3 ? 3 : k; }
int cudasim_get_sample_blocks(void) { return cudasim::g_k; }
}
