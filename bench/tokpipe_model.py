#!/usr/bin/env python3
# tokpipe_model.py: modeled GPU-busy fraction of `snacrt tokenize --device cuda` (#12 item 6) on a mixed-length
# corpus, from the GPU model's encode kernel time (gpu_model.py's JSON on stdin) and the host stages' costs.
#   python3 bench/gpu_model.py --runs bench/gpu_model/runs.jsonl | python3 bench/tokpipe_model.py \
#       [--summary cpu_tokenize_summary.json] [--readers 8] [--hours 100] [--batch-seconds 300]
# How it is computed (one GPU worker; printed as JSON with every input):
#  1. batches: a seeded corpus of recordings with log-uniform lengths in [--min-s, --max-s] goes through a port of
#     take_batch / pick_bucket (ds_pipeline_encode.c) with the pool full (4 x batch budget of audio, what the
#     encoder waits for): length buckets and arrival order; padded seconds = items x longest padded length.
#  2. GPU time per batch = k x padded seconds, k = kernel_s / audio of the model's 24 kHz encode at batch 64
#     (fp32 default settings; kernels only: the model's per-call copies and syncs are replaced by step 3).
#  3. the encoder thread per batch (two slots: batch n+1 is submitted before n is collected, so the GPU waits only
#     if this exceeds the batch's GPU time): padding into pinned memory (valid + padded bytes at --memcpy-gbs),
#     queueing the launches (launches x launch_overhead_us of the device file), unpacking the codes; the upload
#     (padded bytes at h2d_bytes_per_s) runs on the copy stream, under the previous batch's kernels.
#  4. supply: readers decode at read_busy / audio seconds each (--summary: a real `snacrt tokenize` summary, else
#     --read-cost), the writer at write_busy / audio; the GPU cannot consume faster than either.
#  5. steady busy = GPU time per audio second / max(GPU, encoder thread, readers, writer time per audio second);
#     the run adds the first pool fill (4 x batch budget decoded before the first batch, the GPU idle):
#     busy = GPU time / wall.
import argparse, json, math, random, sys


def pick_bucket(pool, budget, pad, max_pad=0.10, max_batch=256):
    """Port of pick_bucket (ds_pipeline_encode.c): pool lengths in arrival order -> the pool indices of the batch."""
    P = lambda n: (n + pad - 1) // pad * pad
    order = sorted(range(len(pool)), key=lambda i: (P(pool[i]), i))
    L = [P(pool[i]) for i in order]
    pre = [0]
    for x in L:
        pre.append(pre[-1] + x)
    pos = order.index(0)
    best_v, best = -1, (pos, pos)
    for j in range(pos, len(L)):
        cmax = min(max(budget // L[j], 1), max_batch)
        if j - cmax + 1 > pos:
            break
        for c in range(min(cmax, j + 1), j - pos, -1):
            s = j - c + 1
            v, padded = pre[j + 1] - pre[s], c * L[j]
            if padded - v <= max_pad * padded:
                if v > best_v:
                    best_v, best = v, (s, j)
                break
    return [order[k] for k in range(best[0], best[1] + 1)]


def take_batches(lengths, budget, pool_cap, pad, buckets):
    """The pool (filled up to pool_cap samples, as the encoder waits for) and take_batch: lengths in samples (arrival
    order) -> list of batches (lists of lengths)."""
    P = lambda n: (n + pad - 1) // pad * pad
    pool, i, out, total = [], 0, [], 0
    while i < len(lengths) or pool:
        while i < len(lengths) and (not pool or total + lengths[i] <= pool_cap):
            pool.append(lengths[i])
            total += lengths[i]
            i += 1
        if buckets:
            idx = pick_bucket(pool, budget, pad)
        else:
            idx, longest = [0], P(pool[0])
            while len(idx) < min(len(pool), 256) and (len(idx) + 1) * max(longest, P(pool[len(idx)])) <= budget:
                longest = max(longest, P(pool[len(idx)]))
                idx.append(len(idx))
        batch = [pool[k] for k in idx]
        for k in sorted(idx, reverse=True):
            total -= pool.pop(k)
        out.append(batch)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="snac_24khz")
    ap.add_argument("--batch", type=int, default=64, help="the modeled encode batch whose kernel time is used")
    ap.add_argument("--device", default="h100_sxm")
    ap.add_argument("--summary", help="a `snacrt tokenize` summary JSON: host read and write cost per audio second")
    ap.add_argument("--read-cost", type=float, default=0.48 / 240, help="reader seconds per audio second (no --summary; default: bench_tokenize in bench/README.md, 0.48 s for ~4 min of audio)")
    ap.add_argument("--write-cost", type=float, default=1 / 20000.0, help="writer seconds per audio second")
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--hours", type=float, default=100)
    ap.add_argument("--min-s", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=30.0)
    ap.add_argument("--batch-seconds", type=float, default=300)
    ap.add_argument("--memcpy-gbs", type=float, default=5.0, help="host memcpy into pinned memory, GB/s (one thread)")
    ap.add_argument("--rate", type=int, default=24000)
    ap.add_argument("--pad", type=int, default=2048, help="the model's pad multiple (snac_24khz: hop 512 x lcm of the VQ strides 4)")
    args = ap.parse_args()
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    dev = json.load(open(os.path.join(here, "devices", args.device + ".json")))
    gm = json.load(sys.stdin)
    w = [x for x in gm["workloads"] if x["workload"] == "codec_encode" and x["model"] == args.model
         and x["batch"] == args.batch and x["settings"] == "precision=default"]
    if not w:
        sys.exit("tokpipe_model: no codec_encode %s batch %d in the GPU model's output" % (args.model, args.batch))
    w = w[0]
    k = w["kernel_s"] / (w["batch"] * w["audio_s_per_item"])          # GPU seconds per (padded) audio second
    launches = w["launches"]
    read_cost, write_cost, src = args.read_cost, args.write_cost, "defaults"
    if args.summary:
        s = json.load(open(args.summary))
        read_cost = s["stages"]["read_busy_seconds"] / s["audio_seconds"]
        write_cost = s["stages"]["write_busy_seconds"] / s["audio_seconds"]
        src = args.summary
    rnd = random.Random(0)
    lengths, total = [], 0.0
    while total < args.hours * 3600:
        d = math.exp(rnd.uniform(math.log(args.min_s), math.log(args.max_s)))
        lengths.append(int(d * args.rate))
        total += d
    budget = int(args.batch_seconds * args.rate)
    out = {"gpu_model": {"model": args.model, "batch": args.batch, "kernel_s_per_audio_s": k,
                         "kernel_x_real_time": 1 / k, "launches_per_batch": launches, "device": dev["name"]},
           "corpus": {"items": len(lengths), "hours": total / 3600, "lengths_s": [args.min_s, args.max_s],
                      "distribution": "log-uniform, seed 0"},
           "host": {"cost_source": src, "read_s_per_audio_s": read_cost, "write_s_per_audio_s": write_cost,
                    "readers": args.readers, "memcpy_gbs": args.memcpy_gbs},
           "modes": {}}
    for name, buckets in (("length_buckets", True), ("arrival_order", False)):
        batches = take_batches(lengths, budget, 4 * budget, args.pad, buckets)
        valid = sum(sum(b) for b in batches) / args.rate
        pad = lambda n: (n + args.pad - 1) // args.pad * args.pad
        padded_each = [len(b) * max(pad(n) for n in b) / args.rate for b in batches]
        padded = sum(padded_each)
        gpu = k * padded                                               # GPU seconds, whole corpus
        enc_host = sum(((sum(b) / args.rate + p) * args.rate * 4) / (args.memcpy_gbs * 1e9) +
                       launches * dev["launch_overhead_us"] * 1e-6 for b, p in zip(batches, padded_each))
        upload = padded * args.rate * 4 / dev["h2d_bytes_per_s"]
        readers = valid * read_cost / args.readers
        writer = valid * write_cost
        # steady state: the slowest of the GPU (kernels; the upload overlaps on the copy stream unless it is longer),
        # the encoder thread, the readers and the writer sets the pace
        steady = max(gpu, upload, enc_host, readers, writer)
        fill = 4 * args.batch_seconds * read_cost / args.readers        # the first pool, decoded before batch 1
        wall = fill + steady
        out["modes"][name] = {
            "batches": len(batches), "padding_fraction": 1 - valid / padded,
            "gpu_s": gpu, "encoder_thread_s": enc_host, "upload_s": upload, "readers_s": readers, "writer_s": writer,
            "bound": ["gpu", "upload", "encoder thread", "readers", "writer"][
                [gpu, upload, enc_host, readers, writer].index(steady)],
            "first_fill_s": fill, "wall_s": wall, "gpu_busy_fraction": gpu / wall,
            "useful_busy_fraction": gpu / wall * valid / padded,          # busy on audio, not on padding
            "x_real_time": valid / wall,
            "readers_needed_for_gpu_bound": math.ceil(valid * read_cost / gpu)}
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
