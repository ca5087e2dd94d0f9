/* nccl.cpp: CPU substitutes, resolved at link time, for the NCCL calls snacrt uses (declarations from the real
 * nccl.h): ncclGetUniqueId, ncclCommInitRank / ncclCommInitAll, ncclAllReduce (ncclSum), ncclAllGather,
 * ncclGroupStart/End, ncclCommDestroy / ncclCommAbort, ncclCommCount / UserRank / CuDevice, ncclGetErrorString.
 * Ranks are threads of one process; a clique is found by its unique id. Every collective is synchronous (the
 * stream is ignored, "device" memory is host memory): the last rank to arrive does the whole collective for
 * everyone, summing in rank order, so results are deterministic and bit-identical on every rank. Groups are
 * no-ops, so one thread cannot drive several ranks of a clique inside a group (ncclCommInitAll is the way).
 * ncclCommAbort(comm) is local, as in NCCL: it releases only the caller's comm (a collective waiting on it returns
 * ncclRemoteError); ranks waiting for the aborted rank keep waiting -- a real GPU would hang there -- until their
 * own comm is aborted. ncclCommGetAsyncError reports ncclRemoteError on the other comms once a rank of the clique
 * aborted (as NCCL does when a peer process dies). */
#include <nccl.h>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace {

enum CollKind { COLL_ALL_REDUCE = 1, COLL_ALL_GATHER = 2 };

struct Clique {
    int size = 0, joined = 0, handles = 0, waiting = 0;
    bool peer_aborted = false;                  /* some rank called ncclCommAbort */
    std::vector<ncclComm *> comms;              /* freed with the clique (never, once a comm was aborted) */
    std::mutex mu;
    std::condition_variable cv;
    /* the collective being assembled: slot r filled by rank r */
    uint64_t generation = 0;
    int arrived = 0;
    std::vector<const void *> send;
    std::vector<void *> recv;
    std::vector<int> kind;
    std::vector<size_t> count;
    std::vector<int> dtype;
    ncclResult_t result = ncclSuccess;   /* of the last completed collective */
};

std::mutex g_registry_mu;
std::map<uint64_t, Clique *> g_cliques;   /* by unique id, while ranks are joining */
uint64_t g_next_id = 1;

size_t dtype_bytes(ncclDataType_t t) {
    switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
    }
}

uint64_t id_of(const ncclUniqueId &id) { uint64_t v; memcpy(&v, id.internal, sizeof v); return v; }

Clique *new_clique(int size) {
    Clique *c = new Clique;
    c->size = size;
    c->send.assign(size, nullptr);
    c->recv.assign(size, nullptr);
    c->kind.assign(size, 0);
    c->count.assign(size, 0);
    c->dtype.assign(size, 0);
    return c;
}

/* Run the assembled collective for every rank (called by the last arrival, clique locked). */
ncclResult_t execute(Clique *c) {
    for (int r = 1; r < c->size; r++)
        if (c->kind[r] != c->kind[0] || c->count[r] != c->count[0] || c->dtype[r] != c->dtype[0])
            return ncclInvalidUsage;   /* ranks disagree on the collective */
    size_t n = c->count[0];
    if (c->kind[0] == COLL_ALL_REDUCE) {
        std::vector<float> sum(n);     /* (count): rank-order sum; recv may alias send */
        const float *first = static_cast<const float *>(c->send[0]);
        for (size_t i = 0; i < n; i++) sum[i] = first[i];
        for (int r = 1; r < c->size; r++) {
            const float *x = static_cast<const float *>(c->send[r]);
            for (size_t i = 0; i < n; i++) sum[i] += x[i];
        }
        for (int r = 0; r < c->size; r++) memcpy(c->recv[r], sum.data(), n * sizeof(float));
        return ncclSuccess;
    }
    size_t bytes = n * dtype_bytes(static_cast<ncclDataType_t>(c->dtype[0]));
    std::vector<unsigned char> all(bytes * c->size);   /* (size, sendcount) */
    for (int r = 0; r < c->size; r++) memcpy(all.data() + r * bytes, c->send[r], bytes);
    for (int r = 0; r < c->size; r++) memcpy(c->recv[r], all.data(), all.size());
    return ncclSuccess;
}

ncclResult_t collective(ncclComm_t comm, int kind, const void *send, void *recv, size_t count, ncclDataType_t dt);

} // namespace

struct ncclComm { Clique *clique; int rank, device; bool aborted; };

namespace {
void free_clique(Clique *c) {
    for (ncclComm *m : c->comms) delete m;
    delete c;
}

ncclResult_t collective(ncclComm_t comm, int kind, const void *send, void *recv, size_t count, ncclDataType_t dt) {
    if (!comm || !comm->clique) return ncclInvalidArgument;
    if ((count && (!send || !recv)) || dtype_bytes(dt) == 0) return ncclInvalidArgument;
    Clique *c = comm->clique;
    std::unique_lock<std::mutex> lock(c->mu);
    if (comm->aborted) return ncclInvalidUsage;
    int r = comm->rank;
    c->send[r] = send; c->recv[r] = recv; c->kind[r] = kind; c->count[r] = count; c->dtype[r] = dt;
    uint64_t gen = c->generation;
    if (++c->arrived == c->size) {
        c->result = execute(c);
        c->arrived = 0;
        c->generation++;
        c->cv.notify_all();
        return c->result;
    }
    c->waiting++;
    c->cv.wait(lock, [&] { return c->generation != gen || comm->aborted; });
    c->waiting--;
    if (c->generation == gen) {                          /* this comm was aborted before the collective completed */
        c->arrived--;
        bool last = c->handles == 0 && c->waiting == 0;
        lock.unlock();
        if (last) free_clique(c);
        return ncclRemoteError;
    }
    return c->result;
}

void release(ncclComm_t comm) {
    Clique *c = comm->clique;
    bool last;
    {
        std::lock_guard<std::mutex> lock(c->mu);
        last = --c->handles == 0 && c->waiting == 0;
    }
    if (last) free_clique(c);
}
} // namespace

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId) {
    if (!uniqueId) return ncclInvalidArgument;
    memset(uniqueId, 0, sizeof *uniqueId);
    std::lock_guard<std::mutex> lock(g_registry_mu);
    uint64_t id = g_next_id++;
    memcpy(uniqueId->internal, &id, sizeof id);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank) {
    if (!comm || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
    uint64_t id = id_of(commId);
    Clique *c;
    {
        std::lock_guard<std::mutex> lock(g_registry_mu);
        if (id == 0 || id >= g_next_id) return ncclInvalidArgument;   /* not from ncclGetUniqueId */
        auto it = g_cliques.find(id);
        if (it == g_cliques.end()) it = g_cliques.emplace(id, new_clique(nranks)).first;
        c = it->second;
        if (c->size != nranks) return ncclInvalidUsage;
    }
    std::unique_lock<std::mutex> lock(c->mu);
    c->joined++;
    c->handles++;
    *comm = new ncclComm{c, rank, 0, false};
    c->comms.push_back(*comm);
    if (c->joined == c->size) {
        std::lock_guard<std::mutex> reg(g_registry_mu);
        g_cliques.erase(id);           /* complete: the id may not be joined again */
        c->cv.notify_all();
    }
    c->cv.wait(lock, [&] { return c->joined == c->size; });   /* like NCCL: returns once every rank joined */
    return ncclSuccess;
}

ncclResult_t ncclCommInitAll(ncclComm_t *comm, int ndev, const int *devlist) {
    if (!comm || ndev < 1) return ncclInvalidArgument;
    Clique *c = new_clique(ndev);
    c->joined = c->handles = ndev;
    for (int r = 0; r < ndev; r++) {
        comm[r] = new ncclComm{c, r, devlist ? devlist[r] : r, false};
        c->comms.push_back(comm[r]);
    }
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    if (comm) release(comm);
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
    if (!comm) return ncclSuccess;
    {
        std::lock_guard<std::mutex> lock(comm->clique->mu);
        comm->aborted = true;
        comm->clique->peer_aborted = true;
        comm->clique->cv.notify_all();
    }
    /* no release: a clique with an aborted comm is never freed, so a thread still on its way into a collective on
     * it gets ncclInvalidUsage instead of reading freed memory (NCCL frees the comm; using it after is undefined) */
    return ncclSuccess;
}

extern "C" int cudasim_nccl_waiting(ncclComm_t comm) {
    if (!comm || !comm->clique) return 0;
    std::lock_guard<std::mutex> lock(comm->clique->mu);
    return comm->clique->waiting;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError) {
    if (!comm || !asyncError) return ncclInvalidArgument;
    std::lock_guard<std::mutex> lock(comm->clique->mu);
    *asyncError = comm->clique->peer_aborted && !comm->aborted ? ncclRemoteError : ncclSuccess;
    return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int *count) {
    if (!comm || !count) return ncclInvalidArgument;
    *count = comm->clique->size;
    return ncclSuccess;
}
ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device) {
    if (!comm || !device) return ncclInvalidArgument;
    *device = comm->device;
    return ncclSuccess;
}
ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank) {
    if (!comm || !rank) return ncclInvalidArgument;
    *rank = comm->rank;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
    (void)stream;
    if (op != ncclSum || datatype != ncclFloat) return ncclInvalidArgument;   /* the only reduction we simulate */
    return collective(comm, COLL_ALL_REDUCE, sendbuff, recvbuff, count, datatype);
}

ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream) {
    (void)stream;
    return collective(comm, COLL_ALL_GATHER, sendbuff, recvbuff, sendcount, datatype);
}

ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }

const char *ncclGetErrorString(ncclResult_t result) {
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error (simulated: clique aborted)";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
    }
}

} // extern "C"
