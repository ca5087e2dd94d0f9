/* counters.cpp: per-launch traffic counters of the simulator. Kernel translation units are compiled with g++
 * -fsanitize=kernel-address in call mode: every load and store calls __asan_{load,store}N_noabort(addr) below
 * (this file is not instrumented). While counting is on and a simulated thread runs, the address is classified:
 *   the running fiber's stack             -> local memory (bytes)
 *   the block's Thread records             -> ignored (threadIdx reads)
 *   dynamic shared memory or writable static data of a loaded module (__shared__ is a plain static under the
 *   simulator; the modules' writable PT_LOAD segments are listed once with dl_iterate_phdr)
 *                                          -> shared memory (bank conflicts per warp instruction)
 *   a cudaMalloc allocation                -> global memory (sectors per warp instruction, footprint)
 *   anything else (kernel arguments, host) -> ignored.
 * Warp instruction rule: the k-th access of a kind (global load, global store, shared load, shared store,
 * atomic) of each lane of a warp is one instruction; the lanes of a block run one after another, so the
 * instruction's lane accesses are collected per warp and reduced when the block ends. */
#include "counters.h"
#include "cudasim.h"
#include "cudasim_api.h"
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <link.h>

namespace cudasim {
bool alloc_range(uintptr_t a, uintptr_t *lo, uintptr_t *hi);   /* runtime.cpp */
bool g_count_on = false;

namespace {
enum Kind { GLD = 0, GST, SLD, SST, ATOM, NKIND };
const int kMaxSectors = 64;

struct GInstr { uint32_t n; uint64_t sec[kMaxSectors]; };         /* distinct sectors of one warp instruction */
struct SInstr { uint32_t n; uint32_t word[64]; };                 /* 4-byte words of one shared instruction */
struct AInstr { uint32_t n; uintptr_t addr[32]; };                /* atomic addresses of the lanes */
struct Warp {
    std::vector<GInstr> g[2];
    std::vector<SInstr> s[2];
    std::vector<AInstr> a;
    uint32_t used[NKIND];
};
struct Lane { uint32_t k[NKIND]; };
struct Bitmap {
    std::vector<uint64_t> rd, wr;
    bool touched = false;
    /* per kind (0 read, 1 write): distinct sectors this launch, the count at the last block end, the weighted
     * estimate (sampled mode: each block's new sectors x its weight), lowest and highest sector index touched */
    uint64_t n[2] = {0, 0}, mark[2] = {0, 0}, lo[2] = {UINT64_MAX, UINT64_MAX}, hi[2] = {0, 0};
    double est[2] = {0, 0};
};
/* Counters that sampled mode scales (the rest: config, flags, footprint estimated per allocation). */
const size_t kScaled[] = {
    offsetof(cudasim_launch_stats, gld_bytes), offsetof(cudasim_launch_stats, gst_bytes),
    offsetof(cudasim_launch_stats, gld_requests), offsetof(cudasim_launch_stats, gst_requests),
    offsetof(cudasim_launch_stats, gld_sectors), offsetof(cudasim_launch_stats, gst_sectors),
    offsetof(cudasim_launch_stats, sh_requests), offsetof(cudasim_launch_stats, sh_bytes),
    offsetof(cudasim_launch_stats, sh_wavefronts), offsetof(cudasim_launch_stats, local_bytes),
    offsetof(cudasim_launch_stats, atomics), offsetof(cudasim_launch_stats, atomic_requests),
    offsetof(cudasim_launch_stats, atomic_same_addr), offsetof(cudasim_launch_stats, barriers),
    offsetof(cudasim_launch_stats, ld4_lanes), offsetof(cudasim_launch_stats, threads)};
const size_t kNScaled = sizeof kScaled / sizeof kScaled[0];
inline uint64_t &field(cudasim_launch_stats &s, size_t off) { return *reinterpret_cast<uint64_t *>(reinterpret_cast<char *>(&s) + off); }

bool g_enabled = false, g_env_read = false;
std::vector<cudasim_launch_stats> g_launches;
cudasim_host_stats g_host;
cudasim_launch_stats g_cur;
cudasim_launch_stats g_block_snap;   /* g_cur when the running block began */
double g_extra[sizeof kScaled / sizeof kScaled[0]];   /* sampled mode: sum of (weight - 1) x each block's delta */
bool g_weighted = false;             /* some block of this launch had a weight other than 1 */
bool g_in_launch = false;
std::vector<Warp> g_warps;
std::vector<Lane> g_lanes;
uintptr_t g_stack_lo = 0, g_stack_hi = 0, g_thr_lo = 0, g_thr_hi = 0, g_dyn_lo = 0, g_dyn_hi = 0;
std::vector<std::pair<uintptr_t, uintptr_t>> g_static;   /* writable segments of the program and its libraries */
uintptr_t g_static_lo = UINTPTR_MAX, g_static_hi = 0;
int g_lane_linear = 0;
/* footprint bitmaps per allocation (base -> bits per 32-byte sector); the last one hit is cached */
std::unordered_map<uintptr_t, Bitmap> g_bitmaps;
std::vector<Bitmap *> g_touched;
uintptr_t g_alo = 1, g_ahi = 0;
Bitmap *g_abits = nullptr;
int g_in_graph = 0;

void read_env() {
    if (g_env_read) return;
    g_env_read = true;
    const char *e = getenv("CUDASIM_COUNTERS");
    if (e && atoi(e)) g_enabled = true;
    dl_iterate_phdr([](struct dl_phdr_info *info, size_t, void *) -> int {
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) &ph = info->dlpi_phdr[i];
            if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W)) {
                uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
                g_static.emplace_back(lo, lo + ph.p_memsz);
            }
        }
        return 0;
    }, nullptr);
}

inline bool in_static(uintptr_t a) {
    for (const auto &r : g_static)
        if (a >= r.first && a < r.second) return true;
    return false;
}

inline Warp &warp_of(int linear) { return g_warps[(size_t)linear / 32]; }

bool global_access(uintptr_t a, size_t size, bool store) {
    if (a < g_alo || a >= g_ahi) {
        uintptr_t lo, hi;
        if (!alloc_range(a, &lo, &hi)) return false;
        Bitmap &b = g_bitmaps[lo];
        size_t nsec = (hi - lo + 31) / 32, words = (nsec + 63) / 64;
        if (b.rd.size() != words) { b.rd.assign(words, 0); b.wr.assign(words, 0); }
        g_alo = lo; g_ahi = hi; g_abits = &b;
    }
    Lane &ln = g_lanes[(size_t)g_lane_linear];
    Warp &w = warp_of(g_lane_linear);
    int kind = store ? GST : GLD;
    uint32_t k = ln.k[kind]++;
    std::vector<GInstr> &v = w.g[kind];
    if (k >= v.size()) { size_t old = v.size(); v.resize(std::max<size_t>(k + 1, old * 2)); for (size_t i = old; i < v.size(); i++) v[i].n = 0; }
    if (k + 1 > w.used[kind]) w.used[kind] = k + 1;
    GInstr &in = v[k];
    (store ? g_cur.gst_bytes : g_cur.gld_bytes) += size;
    Bitmap *bm = g_abits;
    if (!bm->touched) { bm->touched = true; g_touched.push_back(bm); }
    for (uintptr_t s = a / 32; s <= (a + size - 1) / 32; s++) {
        size_t bit = s - g_alo / 32;
        std::vector<uint64_t> &bits = store ? bm->wr : bm->rd;
        if (bit / 64 < bits.size() && !(bits[bit / 64] >> (bit % 64) & 1u)) {
            bits[bit / 64] |= 1ull << (bit % 64);
            (store ? g_cur.gst_unique : g_cur.gld_unique)++;
            bm->n[store]++;
            if (bit < bm->lo[store]) bm->lo[store] = bit;
            if (bit > bm->hi[store]) bm->hi[store] = bit;
        }
        bool seen = false;
        for (uint32_t i = in.n; i-- > 0;) if (in.sec[i] == s) { seen = true; break; }
        if (!seen && in.n < (uint32_t)kMaxSectors) in.sec[in.n++] = s;
    }
    return true;
}

void shared_access(uintptr_t a, size_t size, bool store) {
    if (!(a >= g_dyn_lo && a < g_dyn_hi)) {
        if (a < g_static_lo) g_static_lo = a;
        if (a + size > g_static_hi) g_static_hi = a + size;
    }
    Lane &ln = g_lanes[(size_t)g_lane_linear];
    Warp &w = warp_of(g_lane_linear);
    int kind = store ? SST : SLD;
    uint32_t k = ln.k[kind]++;
    std::vector<SInstr> &v = w.s[kind - SLD];
    if (k >= v.size()) { size_t old = v.size(); v.resize(std::max<size_t>(k + 1, old * 2)); for (size_t i = old; i < v.size(); i++) v[i].n = 0; }
    if (k + 1 > w.used[kind]) w.used[kind] = k + 1;
    SInstr &in = v[k];
    g_cur.sh_bytes += size;
    for (uintptr_t wd = a / 4; wd <= (a + size - 1) / 4 && in.n < 64; wd++) in.word[in.n++] = (uint32_t)wd;
}

void count_access(void *p, size_t size, bool store) {
    if (!t_current || !size) return;
    uintptr_t a = (uintptr_t)p;
    bool ld4 = size == 4 && !store;
    if (a >= g_stack_lo && a < g_stack_hi) { g_cur.local_bytes += size; return; }
    if (a >= g_thr_lo && a < g_thr_hi) return;
    if ((a >= g_dyn_lo && a < g_dyn_hi) || ((a < g_alo || a >= g_ahi) && in_static(a))) {
        g_cur.ld4_lanes += ld4;
        shared_access(a, size, store);
        return;
    }
    if (global_access(a, size, store)) g_cur.ld4_lanes += ld4;
}

/* Bank-conflict passes of one shared instruction: the most distinct 4-byte words that map to one bank. */
uint32_t wavefronts(const SInstr &in) {
    uint32_t w[64];
    std::copy(in.word, in.word + in.n, w);
    std::sort(w, w + in.n);
    uint32_t n = (uint32_t)(std::unique(w, w + in.n) - w);
    uint32_t per_bank[32] = {0}, worst = 1;
    for (uint32_t i = 0; i < n; i++) worst = std::max(worst, ++per_bank[w[i] % 32]);
    return worst;
}
} /* namespace */

bool counters_enabled() { read_env(); return g_enabled; }

void counters_launch_begin(const char *name, dim3 grid, dim3 block, size_t smem) {
    read_env();
    if (!g_enabled) return;
    memset(&g_cur, 0, sizeof g_cur);
    memset(g_extra, 0, sizeof g_extra);
    g_weighted = false;
    snprintf(g_cur.name, sizeof g_cur.name, "%s", name);
    g_cur.grid[0] = grid.x; g_cur.grid[1] = grid.y; g_cur.grid[2] = grid.z;
    g_cur.block[0] = block.x; g_cur.block[1] = block.y; g_cur.block[2] = block.z;
    g_cur.dyn_smem = smem;
    g_cur.in_graph = g_in_graph;
    g_static_lo = UINTPTR_MAX; g_static_hi = 0;
    g_alo = 1; g_ahi = 0;
    g_in_launch = true;
    g_host.launches++;
}

void counters_block_begin(int nthreads, const void *threads_lo, const void *threads_hi, const void *dyn_lo,
                          const void *dyn_hi) {
    if (!g_in_launch) return;
    g_lanes.assign((size_t)nthreads, Lane());
    size_t nw = ((size_t)nthreads + 31) / 32;
    if (g_warps.size() < nw) g_warps.resize(nw);
    for (size_t i = 0; i < nw; i++) memset(g_warps[i].used, 0, sizeof g_warps[i].used);
    g_thr_lo = (uintptr_t)threads_lo; g_thr_hi = (uintptr_t)threads_hi;
    g_dyn_lo = (uintptr_t)dyn_lo; g_dyn_hi = (uintptr_t)dyn_hi;
    g_block_snap = g_cur;
    g_cur.threads += (uint64_t)nthreads;
    g_cur.blocks_run++;
    g_count_on = true;
}

void counters_fiber(int linear, const char *stack_lo, size_t stack_bytes) {
    g_lane_linear = linear;
    g_stack_lo = (uintptr_t)stack_lo; g_stack_hi = (uintptr_t)stack_lo + stack_bytes;
}

void counters_barrier() { if (g_in_launch) g_cur.barriers++; }

void counters_block_end(double weight) {
    if (!g_in_launch) return;
    g_count_on = false;
    size_t nw = (g_lanes.size() + 31) / 32;
    for (size_t wi = 0; wi < nw; wi++) {
        Warp &w = g_warps[wi];
        for (int kind = GLD; kind <= GST; kind++)
            for (uint32_t k = 0; k < w.used[kind]; k++) {
                GInstr &in = w.g[kind][k];
                if (!in.n) continue;
                (kind == GLD ? g_cur.gld_requests : g_cur.gst_requests)++;
                (kind == GLD ? g_cur.gld_sectors : g_cur.gst_sectors) += in.n;
                in.n = 0;
            }
        for (int kind = SLD; kind <= SST; kind++)
            for (uint32_t k = 0; k < w.used[kind]; k++) {
                SInstr &in = w.s[kind - SLD][k];
                if (!in.n) continue;
                g_cur.sh_requests++;
                g_cur.sh_wavefronts += wavefronts(in);
                in.n = 0;
            }
        for (uint32_t k = 0; k < w.used[ATOM]; k++) {
            AInstr &in = w.a[k];
            if (!in.n) continue;
            g_cur.atomic_requests++;
            std::sort(in.addr, in.addr + in.n);
            for (uint32_t i = 0; i < in.n; i++)
                if ((i > 0 && in.addr[i] == in.addr[i - 1]) || (i + 1 < in.n && in.addr[i] == in.addr[i + 1]))
                    g_cur.atomic_same_addr++;
            in.n = 0;
        }
    }
    /* the block's share: its deltas x weight (sampled mode), its new footprint sectors per allocation x weight */
    if (weight != 1.0) {
        g_weighted = true;
        for (size_t i = 0; i < kNScaled; i++)
            g_extra[i] += (weight - 1.0) * (double)(field(g_cur, kScaled[i]) - field(g_block_snap, kScaled[i]));
    }
    for (Bitmap *b : g_touched)
        for (int s = 0; s < 2; s++) {
            b->est[s] += weight * (double)(b->n[s] - b->mark[s]);
            b->mark[s] = b->n[s];
        }
}

uint64_t counters_launch_atomics() { return g_in_launch ? g_cur.atomics : 0; }

/* Sampled mode gave up on this launch (it runs whole): forget the weights. */
void counters_sample_exact() {
    memset(g_extra, 0, sizeof g_extra);
    g_weighted = false;
    for (Bitmap *b : g_touched)
        for (int s = 0; s < 2; s++) b->est[s] = (double)b->n[s];
}

void counters_launch_end() {
    if (!g_in_launch) return;
    g_count_on = false;
    g_in_launch = false;
    if (g_static_hi > g_static_lo) g_cur.static_smem = g_static_hi - g_static_lo;
    if (g_weighted) {
        /* sampled: each counter = the sampled blocks' sum + (weight - 1) x their deltas; the footprint per
         * allocation = its weighted new sectors, capped at the span (lowest..highest sector) the sampled blocks
         * touched: data every block shares is counted once (its first reader runs first, weight 1), tiles that
         * blocks own scale with the grid */
        for (size_t i = 0; i < kNScaled; i++)
            field(g_cur, kScaled[i]) = (uint64_t)((double)field(g_cur, kScaled[i]) + g_extra[i] + 0.5);
        double u[2] = {0, 0};
        for (Bitmap *b : g_touched)
            for (int s = 0; s < 2; s++)
                if (b->n[s]) u[s] += std::min(b->est[s], (double)(b->hi[s] - b->lo[s] + 1));
        g_cur.gld_unique = (uint64_t)(u[0] + 0.5);
        g_cur.gst_unique = (uint64_t)(u[1] + 0.5);
    }
    for (Bitmap *b : g_touched) {
        for (int s = 0; s < 2; s++) { b->n[s] = b->mark[s] = 0; b->lo[s] = UINT64_MAX; b->hi[s] = 0; b->est[s] = 0; }
        std::fill(b->rd.begin(), b->rd.end(), 0);
        std::fill(b->wr.begin(), b->wr.end(), 0);
        b->touched = false;
    }
    g_touched.clear();
    g_abits = nullptr; g_alo = 1; g_ahi = 0;
    g_launches.push_back(g_cur);
}

void counters_gemm(const char *name, long long m, long long n, long long k, long long batch, int a_bytes,
                   int b_bytes, bool reads_c, int unit) {
    read_env();
    if (!g_enabled) return;
    cudasim_launch_stats st;
    memset(&st, 0, sizeof st);
    snprintf(st.name, sizeof st.name, "%s", name);
    st.is_gemm = 1;
    st.unit = unit;
    st.in_graph = g_in_graph;
    st.flops = 2.0 * (double)m * (double)n * (double)k * (double)batch;
    uint64_t a = (uint64_t)(m * k * batch * a_bytes), b = (uint64_t)(k * n * batch * b_bytes);
    uint64_t c = (uint64_t)(m * n * batch * 4);
    st.gld_bytes = a + b + (reads_c ? c : 0);
    st.gst_bytes = c;
    st.gld_sectors = st.gld_unique = (st.gld_bytes + 31) / 32;
    st.gst_sectors = st.gst_unique = (st.gst_bytes + 31) / 32;
    g_launches.push_back(st);
    g_host.gemms++;
}

void counters_copy(int kind, size_t bytes, bool async) {
    read_env();
    if (!g_enabled) return;
    switch (kind) {
    case cudaMemcpyHostToDevice: g_host.h2d_bytes += bytes; (async ? g_host.h2d_async : g_host.h2d_sync)++; break;
    case cudaMemcpyDeviceToHost: g_host.d2h_bytes += bytes; (async ? g_host.d2h_async : g_host.d2h_sync)++; break;
    case cudaMemcpyDeviceToDevice: g_host.d2d_bytes += bytes; g_host.d2d_copies++; break;
    default: break;
    }
}
void counters_sync(int what) {
    read_env();
    if (!g_enabled) return;
    (what == 0 ? g_host.stream_syncs : what == 1 ? g_host.device_syncs : g_host.event_syncs)++;
}
void counters_graph_launch() { read_env(); if (g_enabled) g_host.graph_launches++; }
void counters_graph_replay(int on) { g_in_graph = on; }

/* Called by the atomic templates of cudasim.h (their own load and store are not instrumented). */
void count_atomic(const void *p) {
    if (!t_current) return;
    uintptr_t a = (uintptr_t)p;
    if ((a >= g_dyn_lo && a < g_dyn_hi) || in_static(a)) { g_cur.sh_requests++; g_cur.sh_wavefronts++; return; }
    g_cur.atomics++;
    Warp &w = warp_of(g_lane_linear);
    uint32_t k = g_lanes[(size_t)g_lane_linear].k[ATOM]++;
    if (k >= w.a.size()) { size_t old = w.a.size(); w.a.resize(std::max<size_t>(k + 1, old * 2)); for (size_t i = old; i < w.a.size(); i++) w.a[i].n = 0; }
    if (k + 1 > w.used[ATOM]) w.used[ATOM] = k + 1;
    AInstr &in = w.a[k];
    if (in.n < 32) in.addr[in.n++] = a;
}
} /* namespace cudasim */

extern "C" {
#define CUDASIM_ACCESS(n) \
    void __asan_load##n##_noabort(void *p) { if (cudasim::g_count_on) cudasim::count_access(p, n, false); } \
    void __asan_store##n##_noabort(void *p) { if (cudasim::g_count_on) cudasim::count_access(p, n, true); }
CUDASIM_ACCESS(1)
CUDASIM_ACCESS(2)
CUDASIM_ACCESS(4)
CUDASIM_ACCESS(8)
CUDASIM_ACCESS(16)
void __asan_loadN_noabort(void *p, size_t n) { if (cudasim::g_count_on) cudasim::count_access(p, n, false); }
void __asan_storeN_noabort(void *p, size_t n) { if (cudasim::g_count_on) cudasim::count_access(p, n, true); }
void __asan_handle_no_return(void) {}

void cudasim_counters_enable(int on) { cudasim::read_env(); cudasim::g_enabled = on != 0; }
int cudasim_counters_enabled(void) { return cudasim::counters_enabled(); }
void cudasim_counters_reset(void) {
    cudasim::g_launches.clear();
    memset(&cudasim::g_host, 0, sizeof cudasim::g_host);
}
size_t cudasim_launch_stats_count(void) { return cudasim::g_launches.size(); }
const cudasim_launch_stats *cudasim_launch_stats_at(size_t i) {
    return i < cudasim::g_launches.size() ? &cudasim::g_launches[i] : nullptr;
}
void cudasim_host_stats_get(cudasim_host_stats *out) { *out = cudasim::g_host; }
/* The useful FLOPs of the launch just made (its name starts with `name`). After a launch that a capturing stream
 * recorded, the note is recorded on that stream too and applied when the graph replays that launch. */
static void note_flops_now(const char *name, double flops, int unit) {
    if (cudasim::g_launches.empty()) return;
    cudasim_launch_stats &l = cudasim::g_launches.back();
    if (l.flops == 0 && !l.is_gemm && !strncmp(l.name, name, strlen(name))) {
        l.flops = flops;
        l.unit = unit;
    }
}
void cudasim_note_flops(const char *name, double flops, int unit) {
    cudaStream_t s = cudasim::t_last_captured_stream;
    if (s && cudasim::capturing(s)) {
        std::string n(name);
        cudasim::record_op(s, "cudasim_note_flops", [n, flops, unit]() { note_flops_now(n.c_str(), flops, unit); });
        return;
    }
    note_flops_now(name, flops, unit);
}
}
