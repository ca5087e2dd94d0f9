/* scheduler.cpp: runs a kernel launch on the CPU: blocks one after another, each block's threads as fibers
 * (boost.context fcontext: a stack switch, no system call). A thread runs until it finishes or waits at a
 * __syncthreads or a warp collective; it never switches otherwise. Checks: every live thread of a block reaches
 * the same __syncthreads call site; a warp collective's lanes all call it with the same mask that includes
 * them, and every lane named by the mask arrives; launch configuration limits; dynamic shared memory is
 * NaN-filled before each block. Thread (and block) order: forward, reverse or random. In sampled mode
 * (sample.cpp, bench_gpu_model only) a launch runs a few representative blocks instead of the whole grid. */
#include "cudasim.h"
#include "counters.h"
#include "sample.h"
#include <boost/context/detail/fcontext.hpp>
#include <sys/mman.h>
#include <unistd.h>
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace bctx = boost::context::detail;

namespace cudasim {

thread_local Thread *t_current = nullptr;
thread_local uint3 t_block_idx;
thread_local dim3 t_block_dim, t_grid_dim;

enum ThreadState { RUNNABLE = 0, AT_BARRIER, AT_COLLECTIVE, DONE };

static const size_t kStackBytes = 128 * 1024;
static const size_t kMaxThreads = 1024;
static const size_t kMaxDynamicShared = 48 * 1024;   /* default limit without cudaFuncSetAttribute opt-in */

/* Per-warp state of a collective in progress. */
struct WarpSlot {
    unsigned arrived;    /* lanes that arrived */
    unsigned mask;       /* the mask they used */
    int kind, width;
    WarpOpFn op;         /* COLL_WARP_OP: the operation */
    const char *op_name;
    const char *file; int line;
};

struct Scheduler {
    bctx::fcontext_t home = nullptr;      /* the scheduler's context while a fiber runs */
    std::vector<Thread> threads;
    std::vector<WarpSlot> warps;
    std::vector<char *> stacks;
    std::vector<unsigned char> dyn_shared;
    KernelThunk fn = nullptr;
    void *closure = nullptr;
    const char *kernel_name = "";
    bool failed = false;                  /* a rule violation aborts the launch */
};

static thread_local Scheduler *t_sched = nullptr;

/* ---- options and error record ---- */
static cudasim_order g_order = CUDASIM_FORWARD;
static uint64_t g_seed = 1;
static bool g_env_read = false;
static std::string g_first_error;
static int g_error_count = 0;
static int g_quiet = 0;
/* Several host threads (tensor-parallel ranks) may share the one simulated device: kernel launches, allocations
 * and the error state are serialized by this lock (recursive: a launch checks the red zones under it). */
std::recursive_mutex g_device_mutex;
static int g_pending = 0;   /* a violation not yet returned by cudaGetLastError / a synchronize */
static uint64_t g_launches = 0, g_threads_run = 0;

static void read_env() {
    if (g_env_read) return;
    g_env_read = true;
    const char *o = getenv("CUDASIM_ORDER");
    if (o && !strcmp(o, "reverse")) g_order = CUDASIM_REVERSE;
    else if (o && !strcmp(o, "random")) g_order = CUDASIM_RANDOM;
    const char *s = getenv("CUDASIM_SEED");
    if (s) g_seed = strtoull(s, nullptr, 10);
}

void report(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_error_count++ == 0) g_first_error = msg;
    g_pending = 1;
    if (!g_quiet) fprintf(stderr, "cudasim: %s\n", msg);
}

/* Report a violation from inside a fiber: record it and abandon the launch (never returns to the kernel). */
[[noreturn]] static void fail_in_fiber(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_in_fiber(const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Scheduler *s = t_sched;
    Thread *t = t_current;
    report("kernel %s block (%u,%u,%u) thread (%u,%u,%u): %s", s->kernel_name, t_block_idx.x, t_block_idx.y,
           t_block_idx.z, t->idx.x, t->idx.y, t->idx.z, msg);
    s->failed = true;
    bctx::jump_fcontext(s->home, nullptr);
    abort(); /* unreachable: an abandoned fiber is never resumed */
}

static void yield_to_scheduler() {
    bctx::transfer_t back = bctx::jump_fcontext(t_sched->home, nullptr);
    t_sched->home = back.fctx;
}

static void fiber_entry(bctx::transfer_t from) {
    Scheduler *s = static_cast<Scheduler *>(from.data);
    s->home = from.fctx;
    s->fn(s->closure);
    t_current->state = DONE;
    bctx::jump_fcontext(s->home, nullptr);
}

void *dynamic_shared() { return t_sched->dyn_shared.data(); }

/* ---- __syncthreads ---- */
void syncthreads(const char *file, int line) {
    Thread *t = t_current;
    t->state = AT_BARRIER;
    t->wait_file = file;
    t->wait_line = line;
    yield_to_scheduler();
}

/* ---- warp collectives ---- */
static uint64_t lane_result(const Scheduler *s, const WarpSlot &w, int warp, int lane, const Thread &me) {
    const Thread *base = &s->threads[(size_t)warp * 32];
    int seg = (lane / w.width) * w.width, src = lane;
    switch (w.kind) {
    case COLL_SHFL: src = seg + (me.coll_param % w.width + w.width) % w.width; break;
    case COLL_SHFL_XOR: src = lane ^ me.coll_param; if (src >= seg + w.width) src = lane; break;
    case COLL_SHFL_UP: src = lane - me.coll_param; if (src < seg) src = lane; break;
    case COLL_SHFL_DOWN: src = lane + me.coll_param; if (src >= seg + w.width) src = lane; break;
    case COLL_BALLOT: case COLL_ANY: case COLL_ALL: {
        unsigned bits = 0;
        for (int l = 0; l < 32; l++)
            if ((w.mask >> l & 1u) && base[l].coll_value) bits |= 1u << l;
        if (w.kind == COLL_BALLOT) return bits;
        if (w.kind == COLL_ANY) return bits != 0;
        return bits == w.mask;
    }
    default: return 0;
    }
    return base[src].coll_value;
}

static const char *coll_name(int kind) {
    static const char *names[] = {"__shfl_sync", "__shfl_xor_sync", "__shfl_up_sync", "__shfl_down_sync",
                                  "__ballot_sync", "__any_sync", "__all_sync", "__syncwarp", "warp operation"};
    return names[kind];
}

/* A collective (op null) or a warp-wide operation (kind COLL_WARP_OP, op its function, value the lane's operand
 * pointer): the arrival checks, then the last lane computes every lane's result and wakes the others. */
static uint64_t collective(CollKind kind, unsigned mask, uint64_t value, int param, int width, WarpOpFn op,
                           const char *op_name, const char *file, int line) {
    Scheduler *s = t_sched;
    const char *name = op ? op_name : coll_name(kind);
    Thread *t = t_current;
    int lane = t->lane;
    int n_threads = (int)s->threads.size();
    int warp_first = t->warp * 32;
    unsigned existing = 0;   /* lanes that exist in this (possibly partial) warp */
    for (int l = 0; l < 32 && warp_first + l < n_threads; l++) existing |= 1u << l;
    if (!(mask >> lane & 1u))
        fail_in_fiber("%s at %s:%d: mask 0x%08x does not include the calling lane %d", name, file, line,
                      mask, lane);
    if (mask & ~existing)
        fail_in_fiber("%s at %s:%d: mask 0x%08x names lanes that do not exist in this warp (0x%08x)",
                      name, file, line, mask, existing);
    if (width < 1 || width > 32 || (width & (width - 1)))
        fail_in_fiber("%s at %s:%d: width %d is not a power of two in [1, 32]", name, file, line, width);
    WarpSlot &w = s->warps[t->warp];
    if (w.arrived && (w.mask & mask)) {
        if (w.mask != mask || w.kind != (int)kind)
            fail_in_fiber("%s at %s:%d with mask 0x%08x meets %s at %s:%d with mask 0x%08x in the same warp",
                          name, file, line, mask, coll_name(w.kind), w.file, w.line, w.mask);
        if (w.op != op)
            fail_in_fiber("%s at %s:%d meets %s at %s:%d in the same warp", op_name, file, line, w.op_name, w.file,
                          w.line);
    } else if (w.arrived) {
        fail_in_fiber("%s at %s:%d: two collectives with disjoint masks in flight in one warp (0x%08x and 0x%08x); "
                      "not supported by the simulator", name, file, line, mask, w.mask);
    } else {
        w.mask = mask; w.kind = kind; w.width = width; w.op = op; w.op_name = op_name; w.file = file; w.line = line;
    }
    if (kind == COLL_SHFL || kind == COLL_SHFL_XOR) {
        /* the source lane must take part */
        int seg = (lane / width) * width;
        int src = kind == COLL_SHFL ? seg + (param % width + width) % width : (lane ^ param);
        if (kind == COLL_SHFL_XOR && src >= seg + width) src = lane;
        if (!(mask >> src & 1u))
            fail_in_fiber("%s at %s:%d: lane %d reads lane %d which is not in mask 0x%08x", name, file,
                          line, lane, src, mask);
    }
    w.arrived |= 1u << lane;
    t->coll_value = value;
    t->coll_param = param;
    t->wait_file = file;
    t->wait_line = line;
    if (w.arrived == w.mask) {
        /* last lane: compute every lane's result, wake the others */
        Thread *base = &s->threads[(size_t)warp_first];
        if (op) {   /* mask is the full warp */
            void *args[32];
            for (int l = 0; l < 32; l++) args[l] = reinterpret_cast<void *>(base[l].coll_value);
            op(args);
        } else {
            for (int l = 0; l < 32; l++)
                if (w.mask >> l & 1u) base[l].coll_result = lane_result(s, w, t->warp, l, base[l]);
        }
        for (int l = 0; l < 32; l++)
            if ((w.mask >> l & 1u) && l != lane) base[l].state = RUNNABLE;
        w.arrived = 0;
        return t->coll_result;
    }
    t->state = AT_COLLECTIVE;
    yield_to_scheduler();
    return t->coll_result;
}

uint64_t warp_collective(CollKind kind, unsigned mask, uint64_t value, int param, int width, const char *file, int line) {
    return collective(kind, mask, value, param, width, nullptr, nullptr, file, line);
}

void warp_op(WarpOpFn fn, void *lane_arg, const char *what, const char *file, int line) {
    collective(COLL_WARP_OP, 0xffffffffu, reinterpret_cast<uintptr_t>(lane_arg), 0, 32, fn, what, file, line);
}

/* ---- stacks ---- */
static char *stack_for(Scheduler *s, size_t i) {
    while (s->stacks.size() <= i) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        void *p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("cudasim: mmap fiber stack"); abort(); }
        mprotect(p, page, PROT_NONE);   /* guard page: a stack overflow faults instead of corrupting memory */
        s->stacks.push_back(static_cast<char *>(p) + page);
    }
    return s->stacks[i];
}

static uint64_t rng_next(uint64_t *x) { *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17; return *x; }

static void order_indices(std::vector<int> &ord, int n, uint64_t *rng) {
    ord.resize((size_t)n);
    for (int i = 0; i < n; i++) ord[(size_t)i] = g_order == CUDASIM_REVERSE ? n - 1 - i : i;
    if (g_order == CUDASIM_RANDOM)
        for (int i = n - 1; i > 0; i--) std::swap(ord[(size_t)i], ord[(size_t)(rng_next(rng) % (uint64_t)(i + 1))]);
}

static void set_block_idx(dim3 grid, uint64_t b) {
    t_block_idx.x = (unsigned)(b % grid.x);
    t_block_idx.y = (unsigned)((b / grid.x) % grid.y);
    t_block_idx.z = (unsigned)(b / ((uint64_t)grid.x * grid.y));
}

/* Run one block to completion; false when a violation aborted it. */
static bool run_block(Scheduler *s, uint64_t *rng) {
    dim3 bd = t_block_dim;
    int n = (int)(bd.x * bd.y * bd.z);
    s->threads.assign((size_t)n, Thread());
    s->warps.assign((size_t)(n + 31) / 32, WarpSlot());
    for (int i = 0; i < n; i++) {
        Thread &t = s->threads[(size_t)i];
        t.idx.x = (unsigned)i % bd.x;
        t.idx.y = ((unsigned)i / bd.x) % bd.y;
        t.idx.z = (unsigned)i / (bd.x * bd.y);
        t.linear = i; t.lane = i % 32; t.warp = i / 32;
        t.state = RUNNABLE;
        t.fiber = bctx::make_fcontext(stack_for(s, (size_t)i) + kStackBytes, kStackBytes, fiber_entry);
    }
    if (!s->dyn_shared.empty()) memset(s->dyn_shared.data(), 0xff, s->dyn_shared.size());   /* NaN / -1 */
    counters_block_begin(n, s->threads.data(), s->threads.data() + n, s->dyn_shared.data(),
                         s->dyn_shared.data() + s->dyn_shared.size());
    std::vector<int> ord;
    for (;;) {
        order_indices(ord, n, rng);
        bool ran = false;
        for (int i : ord) {
            Thread &t = s->threads[(size_t)i];
            if (t.state != RUNNABLE) continue;
            t_current = &t;
            if (g_count_on) counters_fiber(i, s->stacks[(size_t)i], kStackBytes);
            bctx::transfer_t back = bctx::jump_fcontext(t.fiber, s);
            t.fiber = back.fctx;
            t_current = nullptr;
            if (s->failed) return false;
            ran = true;
        }
        if (ran) continue;
        /* nobody can run: everyone is done, or waiting at a barrier or a collective */
        const Thread *first_bar = nullptr;
        int live = 0, at_bar = 0;
        for (const Thread &t : s->threads) {
            if (t.state == DONE) continue;
            live++;
            if (t.state == AT_COLLECTIVE) {
                const WarpSlot &w = s->warps[(size_t)t.warp];
                unsigned missing = w.mask & ~w.arrived;
                report("kernel %s block (%u,%u,%u): %s at %s:%d in warp %d waits for lanes 0x%08x that never arrive "
                       "(exited or at a __syncthreads): wrong mask or divergent collective", s->kernel_name,
                       t_block_idx.x, t_block_idx.y, t_block_idx.z, coll_name(w.kind), w.file, w.line, t.warp,
                       missing);
                return false;
            }
            at_bar++;
            if (!first_bar) first_bar = &t;
            else if (t.wait_line != first_bar->wait_line || strcmp(t.wait_file, first_bar->wait_file)) {
                report("kernel %s block (%u,%u,%u): divergent __syncthreads: thread %d waits at %s:%d, thread %d at %s:%d",
                       s->kernel_name, t_block_idx.x, t_block_idx.y, t_block_idx.z, first_bar->linear,
                       first_bar->wait_file, first_bar->wait_line, t.linear, t.wait_file, t.wait_line);
                return false;
            }
        }
        if (live == 0) return true;
        if (at_bar != n) {
            int done = n - live;
            report("kernel %s block (%u,%u,%u): divergent __syncthreads at %s:%d: %d threads wait there while %d "
                   "threads already exited", s->kernel_name, t_block_idx.x, t_block_idx.y, t_block_idx.z,
                   first_bar->wait_file, first_bar->wait_line, at_bar, done);
            return false;
        }
        for (Thread &t : s->threads) t.state = RUNNABLE;
        counters_barrier();
    }
}

void launch_impl(const char *name, dim3 grid, dim3 block, size_t smem_bytes, cudaStream_t stream, KernelThunk fn,
                 void *closure) {
    (void)stream;
    std::lock_guard<std::recursive_mutex> device_lock(g_device_mutex);
    read_env();
    g_launches++;
    uint64_t nthreads = (uint64_t)block.x * block.y * block.z;
    if (nthreads == 0 || nthreads > kMaxThreads || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535) {
        report("kernel %s: invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u)", name, grid.x, grid.y,
               grid.z, block.x, block.y, block.z);
        return;
    }
    if (smem_bytes > kMaxDynamicShared) {
        report("kernel %s: %zu bytes of dynamic shared memory exceed the %zu-byte default limit", name, smem_bytes,
               kMaxDynamicShared);
        return;
    }
    static thread_local Scheduler sched;
    Scheduler *s = &sched;
    Scheduler *outer = t_sched;
    if (outer && outer->fn) { report("kernel %s launched from inside a kernel", name); return; }
    t_sched = s;
    s->fn = fn; s->closure = closure; s->kernel_name = name; s->failed = false;
    s->dyn_shared.assign(smem_bytes, 0xff);
    t_block_dim = block;
    t_grid_dim = grid;
    counters_launch_begin(name, grid, block, smem_bytes);
    uint64_t n_blocks = (uint64_t)grid.x * grid.y * grid.z;
    uint64_t rng = g_seed * 0x9E3779B97F4A7C15ull + 0x1234567ull + g_launches;
    /* sampled mode (sample.cpp, bench_gpu_model only): a few blocks stand for the grid */
    static thread_local std::vector<SampledBlock> plan;
    bool grouped = false;
    if (counters_enabled() && sample_plan(name, grid, plan, &grouped)) {
        std::vector<char> ran(grouped ? 0 : n_blocks, 0);
        bool ok = true;
        for (const SampledBlock &sb : plan) {
            set_block_idx(grid, sb.linear);
            g_threads_run += nthreads;
            ok = run_block(s, &rng);
            counters_block_end(sb.weight);
            if (!ok) break;
            if (!grouped) ran[sb.linear] = 1;
        }
        if (ok && !grouped && counters_launch_atomics() > 0) {   /* blocks may depend on each other: run them all */
            counters_sample_exact();
            for (uint64_t b = 0; b < n_blocks && ok; b++) {
                if (ran[b]) continue;
                set_block_idx(grid, b);
                g_threads_run += nthreads;
                ok = run_block(s, &rng);
                counters_block_end();
            }
        }
        n_blocks = 0;   /* done */
    }
    for (uint64_t i = 0; i < n_blocks; i++) {
        uint64_t b = g_order == CUDASIM_REVERSE ? n_blocks - 1 - i : i;
        if (g_order == CUDASIM_RANDOM) {   /* random but each block exactly once: a stride coprime with n_blocks */
            uint64_t stride = 1 + (g_seed % n_blocks);
            while (n_blocks > 1 && std::__gcd(stride, n_blocks) != 1) stride++;
            b = (i * stride + g_seed) % n_blocks;
        }
        t_block_idx.x = (unsigned)(b % grid.x);
        t_block_idx.y = (unsigned)((b / grid.x) % grid.y);
        t_block_idx.z = (unsigned)(b / ((uint64_t)grid.x * grid.y));
        g_threads_run += nthreads;
        bool ok = run_block(s, &rng);
        counters_block_end();
        if (!ok) break;
    }
    counters_launch_end();
    s->fn = nullptr;
    t_sched = outer;
    cudasim_check_redzones();
}

} /* namespace cudasim */

extern "C" {
void cudasim_set_order(cudasim_order order, uint64_t seed) {
    cudasim::read_env();
    cudasim::g_order = order;
    cudasim::g_seed = seed ? seed : 1;
}
cudasim_order cudasim_get_order(void) { cudasim::read_env(); return cudasim::g_order; }
const char *cudasim_order_name(cudasim_order order) {
    return order == CUDASIM_REVERSE ? "reverse" : order == CUDASIM_RANDOM ? "random" : "forward";
}
const char *cudasim_last_error(void) { return cudasim::g_first_error.c_str(); }
int cudasim_error_count(void) { return cudasim::g_error_count; }
void cudasim_clear_error(void) { cudasim::g_first_error.clear(); cudasim::g_error_count = 0; }
void cudasim_set_quiet(int quiet) { cudasim::g_quiet = quiet; }
uint64_t cudasim_launch_count(void) { return cudasim::g_launches; }
uint64_t cudasim_thread_count(void) { return cudasim::g_threads_run; }
/* Used by runtime.cpp: 1 once after each violation (the sticky launch error of cudaGetLastError). */
int cudasim_take_pending(void) {
    std::lock_guard<std::recursive_mutex> device_lock(cudasim::g_device_mutex);
    int p = cudasim::g_pending; cudasim::g_pending = 0; return p; }
void cudasim_report(const char *msg) { cudasim::report("%s", msg); }
}
