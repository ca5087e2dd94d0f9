#!/usr/bin/env python3
"""node_model.py: the modeled figure per GPU node (issue #18): real-time Orpheus-3B streams and decode tokens/s of
one `snacrt serve --devices cuda:0-(G-1) --tp T` node = G / T replicas, from bench/gpu_model.py's per-GPU model.

    python3 bench/gpu_model.py --runs bench/gpu_model/runs.jsonl | python3 bench/node_model.py [--gpus 8] [--tp 1,2,4]

How it is derived (bench/README.md, "bench_replicas"):
  - replicas are independent engines (the router is host work and never waits on a GPU), so
        streams per node = (G / T) x streams per replica
  - tp 1: a replica is one GPU: streams per replica = gpu_model.py's realtime_orpheus_streams (the largest batch B
    with 82.03 x step(B) + push(B) / g <= 1: the decode step at batch B from the simulated batches, the codec's
    streaming push beside it on the same GPU; see orpheus_load there)
  - tp T > 1: the same equation with the decode step of a tensor-parallel group:
        step_T(B) = kernel_s(B) / T + host_s(B) + 2 x layers x (allreduce_latency + 2 (T-1)/T x B x hidden x 4 B / link)
    (each GPU holds 1/T of every weight and KV head: kernel time / T, optimistic; host time is not split; two f32
    all-reduces of the hidden state per layer, ring algorithm over NVLink; the codec runs on the group's first GPU)
  - decode tokens/s per node at batch B = (G / T) x B / step_T(B)
Constants (--allreduce-us 10, --link-gbs 450: H100 SXM NVLink 4, per direction) are published typical figures,
to be measured on a node. Prints one JSON object per T; every figure is modeled, none measured."""
import argparse
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gpu_model", os.path.join(HERE, "gpu_model.py"))
gpu_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_model)

HIDDEN_3B = 3072


def tp_step(w, T, layers, allreduce_s, link_bytes_per_s):
    """The decode step of a T-way tensor-parallel group from the one-GPU workload w."""
    if T == 1:
        return w["modeled_s"]
    B = w["batch"]
    kv_extra = w["modeled_s"] - w["kernel_s"] - w["host_s"]          # gpu_model.py's added KV reads (split too)
    comm = 2 * layers * (allreduce_s + 2.0 * (T - 1) / T * B * HIDDEN_3B * 4 / link_bytes_per_s)
    return (w["kernel_s"] + kv_extra) / T + w["host_s"] + comm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, default=8, help="GPUs per node")
    ap.add_argument("--tp", default="1,2,4", help="tensor-parallel sizes (each divides --gpus)")
    ap.add_argument("--allreduce-us", type=float, default=10.0, help="latency of one small NCCL all-reduce")
    ap.add_argument("--link-gbs", type=float, default=450.0, help="NVLink bandwidth per direction, GB/s")
    args = ap.parse_args()
    out = json.load(sys.stdin)
    W = out["workloads"]
    layers = gpu_model.FULL_LM["3b"]["layers"]
    dec = [w for w in W if w["workload"] == "lm_decode" and w.get("dims") == "3b" and
           w.get("settings") == gpu_model.DEFAULT_SETTINGS]
    if not dec:
        sys.exit("node_model.py: no Orpheus-3B decode workload in the model (run bench_gpu_model --only lm --lm 3b)")
    for T in (int(x) for x in args.tp.split(",")):
        if args.gpus % T:
            continue
        replicas = args.gpus // T
        steps = {w["batch"]: tp_step(w, T, layers, args.allreduce_us * 1e-6, args.link_gbs * 1e9) for w in dec}
        W2 = [dict(w, modeled_s=steps[w["batch"]]) if w in dec else w for w in W]
        load = gpu_model.orpheus_load(W2) or {}
        per = load.get("realtime_orpheus_streams")
        print(json.dumps({
            "node": "%d x %s" % (args.gpus, out.get("device", "H100 SXM")), "tp": T, "replicas": replicas,
            "streams_per_replica": per, "streams_per_node": per * replicas if per is not None else None,
            "decode_batches_simulated": sorted(steps),
            "decode_tok_s_per_node": {str(B): round(replicas * B / s, 1) for B, s in sorted(steps.items())},
            "step_ms": {str(B): round(s * 1e3, 3) for B, s in sorted(steps.items())},
            "how": "streams per node = replicas x streams per replica (gpu_model.py orpheus_load with the decode "
                   "step of a tp-%d group: kernel/T + host + 2 x %d all-reduces of %d us + ring bytes at %g GB/s)" % (
                       T, layers, args.allreduce_us, args.link_gbs),
            "streams_note": load.get("streams_note")}))


if __name__ == "__main__":
    main()
