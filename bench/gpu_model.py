#!/usr/bin/env python3
# gpu_model.py: the GPU model of bench/GPU_MODEL.md. Reads the per-launch counters that bench_gpu_model prints
# (JSON lines, stdin or --runs FILE), a device (bench/devices/<name>.json) and the kernels' ptxas resource usage
# (build/ptxas_sm90.txt, captured at build time; "unknown" when absent), scales the simulated runs to the full
# shapes, models every launch's time and prints one JSON object: per kernel and per workload.
#   python3 bench/gpu_model.py --runs runs.jsonl [--device h100_sxm] [--ptxas build/ptxas_sm90.txt]
#                              [--roofline bench/ROOFLINE.md]   (also writes the roofline tables)
import argparse, json, math, os, re, subprocess, sys

FIELDS = ("name gx gy gz bx by bz dyn_smem static_smem is_gemm unit gld_bytes gst_bytes gld_req gst_req gld_sec "
          "gst_sec gld_uniq gst_uniq sh_req sh_bytes sh_wave local_bytes atomics atomic_req atomic_same barriers "
          "threads ld4 flops in_graph blocks_run").split()
COUNTS = FIELDS[9:]   # summed / scaled fields (is_gemm, unit, in_graph are flags: kept)
FLAGS = ("is_gemm", "unit", "in_graph")
# FLOPs of kernels (cuBLAS calls are exact): 2 per f32 operand load where each loaded float feeds one FMA with a
# register operand; 1 where both FMA operands are loaded. Every other kernel: 0 (elementwise: a few FLOPs per
# element, far under its memory time). A kernel whose launch function notes its FLOPs from the shape
# (cudasim_note_flops: the implicit-GEMM convs, the tensor-core prefill attention) gets those.
FLOP_PER_LD4 = {"conv1d_direct_kernel": 1.0, "convt1d_direct_kernel": 1.0,
                "conv1d_depthwise_kernel": 1.0, "lm_attn_prefill_kernel": 1.0, "lm_attn_decode_kernel": 1.0,
                "local_attention_kernel": 1.0, "vq_nearest_kernel": 1.0}
# gemm_small_m_kernel reads its activations from shared memory as float4 pairs (32 bytes feed 8 FMAs in each of 4 columns with register
# weights): 2 FLOPs per shared byte (the staging stores and the lane reduction add ~3%: counted as FLOPs too).
# gemm_small_m_i8_kernel: 4 float4 (64 bytes) feed 16 FMAs in each of 4 columns: 2 as well.
FLOP_PER_SH_BYTE = {"gemm_small_m_kernel": 2.0, "gemm_small_m_i8_kernel": 2.0}
UNIT_PEAK = {0: "fp32_flops", 1: "tf32_flops", 2: "bf16_flops"}
LOADS_IN_FLIGHT_PER_WARP = 2   # independent global loads a warp has outstanding (Little's law term)
# Kernels whose source issues more independent loads before using any (read off the source, not counted):
# gemm_small_m.cuh loads SM_COLS x SM_UNROLL = 8 weight vectors per lane before the first FMA.
# conv_igemm.cuh's kernels fetch the next reduction step (4 W + 4 X values per lane, igemm_fetch) into registers
# before the current step's math (double-buffered shared tiles): 8.
# gemm_split_bf16.cuh's vector paths: the sum loaded 2 x 16 bytes of each half (4) before adding until branch prefill
# made each load one whole-sector 16-byte load (single: 1, exact: 2 now); 4 is kept for the older runs.jsonl lines
# (decode batches >= 12); the prefill and batch-8 sums are DRAM- or launch-bound, where it does not enter. The splits
# 2; the norm-split
# (split_norm_bf16_rows_kernel) 4: its sum of squares loads 4 strided values before adding, its vector pass x and w
# of two 4-element groups.
# lm_paged_attention.cuh's decode kernels (per G): 4, see below.
# copy2d.cuh's copy2d_batch_kernel loads COPY2D_ILP = 4 elements per lane before storing: 4.
LOADS_IN_FLIGHT = {"gemm_small_m_kernel": 8, "gemm_small_m_i8_kernel": 8, "sum_split_rows_kernel": 4, "copy2d_batch_kernel": 4,
                   "split_norm_bf16_rows_kernel": 4,
                   # lm_rope_kv_store_fp8.cuh: a lane's x, x + half and inv_freq loads of its 2 pairs (head_dim 128)
                   # before the math (key rows also v's 4): 6
                   "lm_rope_kv_store_fp8_kernel": 6,
                   **{k: 8 for k in ("conv1d_igemm_kernel", "convt1d_igemm_kernel", "conv1d_igemm_tf32_kernel",
                                     "convt1d_igemm_tf32_kernel", "conv1d_igemm_bf16_kernel",
                                     "convt1d_igemm_bf16_kernel")},
                   # conv1d_igemm_{tf32,bf16}_cols_kernel: the next step's 4 W + 2 tiles x 4 X values per lane: 12
                   **{k: 12 for k in ("conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel")},
                   # lm_paged_attention.cuh's decode kernels: the K and V 16-byte loads of 2 positions (bf16) or the
                   # two halves of K and V of 1 position (f32) per lane are issued before the first is used: 4
                   **{"lm_attn_decode_g%d_kernel" % g: 4 for g in (1, 2, 3, 4, 8)},
                   # the fp8 KV kernels: 4 positions' K and V 8-byte code loads and the trip's one row-scale load
                   # (branch ttfa2; before it each position's K and V scales were loaded per lane: 16, the figure of
                   # the fp8 lines made before 2026-12-08)
                   **{"lm_attn_decode_fp8_g%d_kernel" % g: 9 for g in (1, 2, 3, 4, 8)},
                   # lm_prefill_attention.cuh: a thread's K and V 16-byte loads of its 2 keys (4) before storing any
                   **{"lm_attn_prefill_tc%d_kernel" % d: 4 for d in (16, 32, 64, 128)}}
# Kernels whose blocks hold several items (conv_igemm.cuh: 2 column tiles of the flattened (item, tile) index per
# block): their counters are affine in the batch from 2 items on, not from 1 (GPU_MODEL.md section 4)
# convt1d_span.cuh: column tiles of the flattened (item, position) index, several items per block
ITEM_SHARING_KERNELS = ("conv1d_igemm_tf32_cols_kernel", "conv1d_igemm_bf16_cols_kernel", "convt1d_span_bf16_kernel")
# convt1d_span.cuh: the next step's 8 W + 4 X values per lane (and the Snake alpha) before the current step's math
LOADS_IN_FLIGHT["convt1d_span_bf16_kernel"] = 12
L2_USABLE = 0.5                # fraction of L2 a launch's footprint may use and still re-read from L2
DEFAULT_SETTINGS = "precision=default"   # runs without opt-in flags (bench_gpu_model's "settings")
FP8_KV_SETTINGS = DEFAULT_SETTINGS + " SNACRT_KV_DTYPE=fp8"   # the fp8 e4m3 KV cache: its own table rows
SMALL_M_ROWS = 3               # cuda/backend_cuda.h SRT_CUDA_SMALL_M_ROWS_DEFAULT: decode GEMM path switch (bf16)
TYPICAL_PROMPT_TOKENS = 64    # an Orpheus TTS prompt: voice name + a sentence + the special tokens
TTFA_TARGET_S = 0.150           # issue #11: time to first audio at the stream target's load
STREAMS_TARGET = 300            # issue #11: real-time Orpheus streams per H100
TOKENS_PER_GROUP = 7            # Orpheus: 7 SNAC codes (tokens) per frame group, one codec push unit
ORPHEUS_TOKENS_PER_S = 24000 * 7 / 2048.0    # SNAC 24 kHz: 7 codes per 2048 samples -> 82.03 tokens per audio second
FULL_LM = {"1b": {"label": "Llama-3.2-1B", "layers": 16, "vocab": 128256, "params": 1.236e9, "kv_heads": 8,
                  "head_dim": 64},
           "3b": {"label": "Orpheus-3B", "layers": 28, "vocab": 156940, "params": 3.3e9, "kv_heads": 8,
                  "head_dim": 128},
           "tiny": {"label": "tiny (smoke)", "layers": 2, "vocab": 512, "params": 0, "kv_heads": 1, "head_dim": 16}}


def load_ptxas(path):
    use = {}
    if not path or not os.path.exists(path):
        return use
    text = open(path).read()
    blocks = re.split(r"Compiling entry function '", text)[1:]
    names = [b.split("'", 1)[0] for b in blocks]
    try:
        dem = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.split("\n")
    except OSError:
        dem = names
    for mangled, d, b in zip(names, dem, blocks):
        base = re.sub(r"<.*", "", d.split("(")[0]).split("::")[-1] or mangled
        regs = re.search(r"Used (\d+) registers", b)
        smem = re.search(r"(\d+) bytes smem", b)
        stack = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", b)
        rec = {"registers": int(regs.group(1)) if regs else None, "smem": int(smem.group(1)) if smem else 0,
               "stack": int(stack.group(1)) if stack else 0, "spill_stores": int(stack.group(2)) if stack else 0}
        old = use.get(base)
        if not old or (rec["registers"] or 0) > (old["registers"] or 0):
            use[base] = rec
    return use


def launch_dict(rec):
    d = dict(zip(FIELDS, rec))
    d.setdefault("blocks_run", d["gx"] * d["gy"] * d["gz"])   # runs from before sampled mode: every block ran
    d["name"] = d["name"].replace("StridedBatched", "")   # batch 1 calls cublasSgemm, batch > 1 the strided form
    return d


def combine(a, b, wa, wb):
    """wa * a + wb * b for counters and grid dims (a and b: the same launch in two runs)."""
    out = dict(a)
    for k in COUNTS + ["gx", "gy", "gz"]:
        if k in FLAGS:
            continue
        out[k] = max(0.0, wa * a[k] + wb * b[k])
    for k in ("gx", "gy", "gz"):
        out[k] = max(1, int(round(out[k])))
    return out


def extrapolate(r1, r2, x1, x2, x):
    """Counters affine in x, fitted on runs at x1 and x2 (same launch sequence); None when the sequences differ."""
    l1, l2 = r1["launches"], r2["launches"]
    if len(l1) != len(l2) or any(p["name"] != q["name"] for p, q in zip(l1, l2)):
        return None
    t = (x - x1) / float(x2 - x1)
    out = dict(r1)
    out["launches"] = [combine(p, q, 1 - t, t) for p, q in zip(l1, l2)]
    out["host"] = {k: max(0.0, (1 - t) * r1["host"][k] + t * r2["host"][k]) for k in r1["host"]}
    return out


def occupancy(L, dev, ptx):
    threads = L["bx"] * L["by"] * L["bz"]
    warps = (threads + 31) // 32
    base = L["name"].split("<")[0]
    p = ptx.get(base)
    regs = p["registers"] if p and p["registers"] else None
    smem = (p["smem"] if p else L["static_smem"]) + L["dyn_smem"] + dev["smem_reserved_per_block"]
    lim = [dev["max_blocks_per_sm"], dev["max_warps_per_sm"] // max(1, warps)]
    if regs:
        per_warp = math.ceil(regs * 32 / dev["reg_alloc_unit"]) * dev["reg_alloc_unit"]
        lim.append(dev["regs_per_sm"] // (per_warp * warps))
    lim.append(dev["smem_per_sm"] // max(1, smem))
    bps = max(0, min(lim))
    return bps, warps, regs, p


def model_launch(L, dev, ptx):
    blocks = L["gx"] * L["gy"] * L["gz"]
    o = {"name": L["name"], "blocks": blocks}
    overhead = (dev["graph_launch_overhead_us"] if L["in_graph"] else dev["launch_overhead_us"]) * 1e-6
    base = L["name"].split("<")[0]
    flops = L["flops"] if L["is_gemm"] or L["flops"] else (FLOP_PER_LD4.get(base, 0.0) * L["ld4"] +
                                             FLOP_PER_SH_BYTE.get(base, 0.0) * L["sh_bytes"])
    peak = dev[UNIT_PEAK[int(L["unit"])]]
    moved = (L["gld_sec"] + L["gst_sec"]) * 32.0
    foot = (L["gld_uniq"] + L["gst_uniq"]) * 32.0
    l2 = dev["l2_bytes"] * L2_USABLE
    dram = foot + (moved - foot) * max(0.0, 1.0 - l2 / foot) if foot > 0 else 0.0
    terms = {"dram": dram / dev["hbm_bytes_per_s"], "l2": moved / dev["l2_bytes_per_s"], "compute": flops / peak}
    o.update(bytes_requested=L["gld_bytes"] + L["gst_bytes"], bytes_moved=moved, ideal_bytes=foot, dram_bytes=dram,
             flops=flops, sector_efficiency=(L["gld_bytes"] + L["gst_bytes"]) / moved if moved else None)
    if L["is_gemm"]:
        o.update(occupancy=None, waves=None, registers=None)
    else:
        bps, warps, regs, p = occupancy(L, dev, ptx)
        resident = bps * dev["sm_count"]
        o["occupancy"] = bps * warps / dev["max_warps_per_sm"]
        o["waves"] = blocks / resident if resident else None
        o["registers"] = regs if regs else "unknown"
        o["local_bytes_ptxas"] = p["stack"] if p else "unknown"
        # Little's law: bytes in flight = resident warps (on the SMs the grid occupies) x loads in flight x bytes
        # per warp load; achieved bandwidth = in flight / latency
        reqs = L["gld_req"] + L["gst_req"]
        per_req = moved / reqs if reqs else 0.0
        active_blocks = min(blocks, resident) if resident else blocks
        inflight = active_blocks * warps * LOADS_IN_FLIGHT.get(base, LOADS_IN_FLIGHT_PER_WARP) * per_req
        if inflight > 0:
            terms["latency"] = dram / (inflight / (dev["dram_latency_ns"] * 1e-9))
        # shared memory: one 128-byte pass per bank-conflict wavefront per SM clock
        terms["shared"] = L["sh_wave"] / (dev["sm_count"] * min(1.0, max(blocks, 1) / dev["sm_count"]) *
                                          dev["clock_ghz"] * 1e9)
        terms["atomic"] = L["atomic_same"] / (dev["clock_ghz"] * 1e9)
    bound = max(terms, key=terms.get)
    o["time_s"] = terms[bound] + overhead
    o["bound"] = bound if terms[bound] > overhead else "launch"
    o["terms_us"] = {k: round(v * 1e6, 3) for k, v in terms.items()}
    o["in_graph"] = bool(L["in_graph"])
    return o


def host_time(h, dev):
    copies = h["h2d_sync"] + h["h2d_async"] + h["d2h_sync"] + h["d2h_async"]
    return ((h["h2d_bytes"] + h["d2h_bytes"]) / dev["h2d_bytes_per_s"] + copies * dev["copy_overhead_us"] * 1e-6 +
            (h["stream_syncs"] + h["device_syncs"] + h["event_syncs"]) * dev["sync_overhead_us"] * 1e-6)


def model_run(run, dev, ptx):
    ls = [model_launch(L, dev, ptx) for L in run["launches"]]
    kt = sum(x["time_s"] for x in ls)
    ht = host_time(run["host"], dev)
    return ls, kt, ht


def per_kernel(ls):
    agg = {}
    for x in ls:
        a = agg.setdefault(x["name"], {"launches": 0, "time_s": 0.0, "bytes_moved": 0.0, "bytes_requested": 0.0,
                                       "ideal_bytes": 0.0, "flops": 0.0, "bounds": {}, "occupancy": x.get("occupancy"),
                                       "waves_max": 0.0, "registers": x.get("registers")})
        a["launches"] += 1
        for k in ("time_s", "bytes_moved", "bytes_requested", "ideal_bytes", "flops"):
            a[k] += x[k]
        a["bounds"][x["bound"]] = a["bounds"].get(x["bound"], 0) + 1
        if x.get("waves"):
            a["waves_max"] = max(a["waves_max"], x["waves"])
    for a in agg.values():
        a["sector_efficiency"] = a["bytes_requested"] / a["bytes_moved"] if a["bytes_moved"] else None
        a["bound"] = max(a["bounds"], key=a["bounds"].get)
    return dict(sorted(agg.items(), key=lambda kv: -kv[1]["time_s"]))


def layer_split(r1, r2):
    """Launch lists of a 1-layer and a 2-layer run -> (prefix, layer, suffix) of the 1-layer run. The longest
    matching prefix wins: with a layer that ends in GEMMs like the LM head, a shorter one would count the layer's
    last launches as suffix and scale them by the vocabulary. Launches match by name and grid: a layer that starts
    with the same kernel as the LM head (the decode GEMM with a norm prologue) is told apart by its grid."""
    a, b = r1["launches"], r2["launches"]
    d = len(b) - len(a)
    key = lambda ls: [(x["name"], x["gx"], x["gy"], x["gz"]) for x in ls]
    for k in range(len(a), -1, -1):
        if key(b[:k]) == key(a[:k]) and key(b[k + d:]) == key(a[k:]):
            return a[:k], b[k:k + d], a[k:]
    return None


def scale_launch(L, f):
    out = dict(L)
    for k in COUNTS:
        if k not in FLAGS:
            out[k] = L[k] * f
    out["gx"] = max(1, int(round(L["gx"] * f)))
    return out


# Suffix kernels (after the last layer) that work on the (rows, hidden) activations before the LM head: the final
# norm, its bf16 rounding, the prefill's gather of the last rows. Their counters do not grow with the vocabulary;
# every other suffix launch (the head GEMM, the exact mode's sum of its two products) is linear in the vocabulary
# rows. (Until branch ttfa2 every suffix launch was scaled: at batch 256 the final norm and rounding counted 38x,
# +0.2 ms per step.)
SUFFIX_PER_ROW = {"lm_gather_rows_kernel", "lm_rmsnorm_kernel", "split_bf16_rows_kernel", "split_norm_bf16_rows_kernel"}


def full_depth_lm(r1, r2, dims):
    full = FULL_LM[dims]
    split = layer_split(r1, r2)
    if not split:
        return None
    pre, layer, suf = split
    vf = full["vocab"] / float(r1["vocab"])
    # pre (the embedding and the first layer: layer_split's longest matching prefix) + the other layers + (suffix:
    # final norm + LM head; the head's counters are linear in the vocabulary rows). Until branch ttfa2 the layer was
    # repeated `layers` times after a prefix that already holds one: 29 layers for Orpheus-3B's 28 (+3.5% per step).
    launches = pre + [x for _ in range(full["layers"] - 1) for x in layer] + [
        x if x["name"].split("<")[0] in SUFFIX_PER_ROW else scale_launch(x, vf) for x in suf]
    h1, h2 = r1["host"], r2["host"]
    host = {k: h1[k] + (full["layers"] - 1) * (h2[k] - h1[k]) for k in h1}
    out = dict(r1)
    out.update(launches=launches, host=host, layers=full["layers"], vocab=full["vocab"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="-")
    ap.add_argument("--device", default="h100_sxm")
    ap.add_argument("--ptxas", default="build/ptxas_sm90.txt")
    ap.add_argument("--roofline", default=None)
    ap.add_argument("--kernels", type=int, default=12, help="kernels listed per workload")
    ap.add_argument("--figures", action="store_true", help="print the headline figures as a markdown table "
                    "(bench/GPU_MODEL.md section 6) instead of the JSON")
    ap.add_argument("--kv-context", type=int, default=512,
                    help="decode: add the bf16 KV-cache reads of this many tokens per sequence beyond the simulated "
                         "context, at HBM bandwidth, read once (optimistic)")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    dev = json.load(open(os.path.join(here, "devices", args.device + ".json")))
    ptx = load_ptxas(args.ptxas)
    src = sys.stdin if args.runs == "-" else open(args.runs)
    runs = []
    for line in src:
        line = line.strip()
        if not line.startswith("{"):
            continue
        j = json.loads(line)
        if "launches" not in j:
            continue
        j["launches"] = [launch_dict(r) for r in j["launches"]]
        j.setdefault("settings", DEFAULT_SETTINGS)
        j.setdefault("sampled_blocks", 0)
        runs.append(j)
    # a run made again (same workload, model, batch, layers, tokens, audio, settings) replaces the earlier line
    keyed = {}
    for j in runs:
        keyed[tuple(j.get(k) for k in ("workload", "model", "batch", "layers", "tokens", "audio_s", "settings"))] = j
    runs = list(keyed.values())
    find = lambda **kw: [r for r in runs if all(r.get(k) == v for k, v in kw.items())]
    out = {"device": dev["name"], "ptxas": "captured" if ptx else "unknown registers (no ptxas file)",
           "model": "bench/GPU_MODEL.md", "workloads": []}
    W = out["workloads"]
    # codec: batch 1 and 2 simulated, counters affine in the batch
    for wl in ("codec_encode", "codec_decode", "codec_stream"):
        for arch, st, a in sorted({(r["model"], r["settings"], r["audio_s"]) for r in find(workload=wl)}):
            r = {x["batch"]: x for x in find(workload=wl, model=arch, settings=st, audio_s=a)}
            if 1 not in r or 2 not in r:
                continue
            # the batches simulated together with batch 1 (bench_gpu_model --codec-batches, default 1,2): the
            # launches of kernels that put several items in a block (ITEM_SHARING_KERNELS) are fitted on the two
            # largest (affine from 2 items on), every other launch on 1 and 2 as before (GPU_MODEL.md section 4)
            made = [int(v) for v in str(r[1].get("codec_batches", "1,2")).split(",") if v.strip().isdigit()]
            fit = sorted(b for b in made if b in r and r[b].get("codec_batches") == r[1].get("codec_batches"))[-2:]
            lo, hi = fit if len(fit) == 2 else (1, 2)
            for B in ((1, 64, 256) if wl == "codec_stream" else (1, 16, 64)):
                run = r[B] if B in r else extrapolate(r[1], r[2], 1, 2, B)
                if B not in r and run is not None and (lo, hi) != (1, 2):
                    shared = extrapolate(r[lo], r[hi], lo, hi, B)
                    if shared is not None:
                        run["launches"] = [q if q["name"] in ITEM_SHARING_KERNELS else p
                                           for p, q in zip(run["launches"], shared["launches"])]
                if run is None:
                    continue
                ls, kt, ht = model_run(run, dev, ptx)
                t = kt + ht
                audio = run["audio_s"] * B
                w = {"workload": wl, "model": "snac_" + arch, "batch": B, "audio_s_per_item": run["audio_s"],
                     "settings": st, "precision": precision_of(st), "sampled_blocks": max(r[1]["sampled_blocks"],
                                                                                           r[2]["sampled_blocks"]),
                     "scaled": "simulated" if B in r else "counters extrapolated from batch 1 and 2 (affine in batch)" + (
                         "; 2-tile conv blocks from batch %d and %d" % (lo, hi) if (lo, hi) != (1, 2) else ""),
                     "modeled_s": t, "kernel_s": kt, "host_s": ht, "launches": len(ls),
                     "x_real_time": audio / t, "host": run["host"]}
                flops = sum(x["flops"] for x in ls)
                w["flops"] = flops
                w["fraction_of_tensor_core_peak"] = flops / t / dev["tf32_flops"] if t else None
                if wl == "codec_stream":
                    w["push_ms"] = t * 1e3
                    # the push that emits a new stream's first final samples (the decoder emits every final
                    # sample); runs before it was printed: tokens = 1 + lookahead (the first whole group)
                    w["first_audio_groups"] = run.get("first_audio_groups") or run["tokens"] or 3
                    w["lookahead"] = run.get("lookahead", max(0, (run["tokens"] or 1) - 1))
                    if run.get("first_audio_s") is not None:
                        w["first_audio_s"] = run["first_audio_s"]   # audio in the first audio's push
                    w["realtime_streams"] = B * run["audio_s"] / t
                w["kernels"] = dict(list(per_kernel(ls).items())[:args.kernels])
                W.append(w)
    # LM: 1 and 2 layers -> full depth; decode batch 1, 8, 16 simulated, 64 affine from 8 and 16
    for dims, st in sorted({(r["model"], r["settings"]) for r in find(workload="lm_decode") +
                            find(workload="lm_prefill")}):
        full = FULL_LM[dims]
        for wl in ("lm_decode", "lm_prefill"):
            byb = {}
            for r1 in find(workload=wl, model=dims, layers=1, settings=st):
                r2 = [x for x in find(workload=wl, model=dims, layers=2, settings=st)
                      if x["batch"] == r1["batch"] and x["tokens"] == r1["tokens"]]
                if r2:
                    fr = full_depth_lm(r1, r2[0], dims)
                    if fr:
                        fr["sampled_blocks"] = max(r1["sampled_blocks"], r2[0]["sampled_blocks"])
                        key = r1["batch"] if wl == "lm_decode" else (1, r1["tokens"])
                        if key not in byb or byb[key]["tokens"] < fr["tokens"]:   # decode: the longest context
                            byb[key] = fr
            # (not for int8 weights: above 16 rows they take another path, bf16 widening + tensor cores)
            if wl == "lm_decode" and 64 not in byb and 8 in byb and (16 in byb or 1 in byb) and \
                    "SNACRT_LM_WEIGHTS=int8" not in st:
                lo = 16 if 16 in byb else 1   # from 1 and 8: misses the decode GEMM's weight re-walk per 8 rows
                byb[64] = extrapolate(byb[min(lo, 8)], byb[max(lo, 8)], min(lo, 8), max(lo, 8), 64)
                if byb[64]:
                    byb[64]["batch"] = 64
                    byb[64]["extrapolated"] = "from batch %d and %d%s" % (min(lo, 8), max(lo, 8), "" if lo == 16 else
                        " (approximate: the decode GEMM re-walks its weights per group of 8 rows, not counted)")
            byb = {b: r for b, r in byb.items() if r}
            for key in sorted(byb):
                run = byb[key]
                B = run["batch"]
                ls, kt, ht = model_run(run, dev, ptx)
                t = kt + ht
                w = {"workload": wl, "model": full["label"], "dims": dims, "batch": B, "settings": st,
                     "sampled_blocks": run.get("sampled_blocks", 0),
                     "scaled": "1- and 2-layer runs -> %d layers; LM head scaled %d -> %d rows%s" % (
                         full["layers"], run.get("vocab_sim", 4096 if dims != "tiny" else 512), full["vocab"],
                         "; counters extrapolated " + run["extrapolated"] if run.get("extrapolated") else ""),
                     "modeled_s": t, "kernel_s": kt, "host_s": ht, "launches": len(ls), "host": run["host"]}
                if wl == "lm_decode":
                    extra = max(0, args.kv_context - run["tokens"])
                    row = kv_row_bytes(st, full["head_dim"])   # K or V of one (token, KV head), the run's dtype
                    kv_x = 2.0 * row * full["layers"] * full["kv_heads"] * extra * B
                    t += kv_x / dev["hbm_bytes_per_s"]
                    w.update(modeled_s=t, kv_context=max(args.kv_context, run["tokens"]), kv_dtype=kv_dtype_of(st),
                             kv_note="simulated at %d tokens of context; + %s KV reads of %d more tokens per sequence "
                                     "at HBM speed (%.3f ms)" % (run["tokens"], kv_dtype_of(st), extra,
                                                                  kv_x / dev["hbm_bytes_per_s"] * 1e3))
                    tok_s = B / t
                    kv = 2.0 * row * full["layers"] * full["kv_heads"] * w["kv_context"] * B   # K and V once
                    wbytes = 1.0 if "SNACRT_LM_WEIGHTS=int8" in st else 2.0   # int8 weights: 1 byte per weight
                    bound = B * dev["hbm_bytes_per_s"] / (wbytes * full["params"] + kv) if full["params"] else None
                    w.update(tokens_per_s=tok_s, hbm_bound_tokens_per_s=bound,
                             fraction_of_hbm_bound=tok_s / bound if bound else None)
                    if dims == "3b":
                        w["realtime_orpheus_streams_lm_only"] = tok_s / ORPHEUS_TOKENS_PER_S
                else:
                    ntok = B * run["tokens"]
                    flops = sum(x["flops"] for x in ls)
                    w.update(tokens=ntok, tokens_per_s=ntok / t, flops=flops,
                             fraction_of_bf16_peak=flops / t / dev["bf16_flops"] if t else None, time_to_prefill_s=t)
                w["kernels"] = dict(list(per_kernel(ls).items())[:args.kernels])
                W.append(w)
    # one layer's KV store + decode attention at Orpheus-3B widths, real context (bench_gpu_model --only attn)
    for r in sorted(find(workload="lm_attention"), key=lambda r: (r["model"], r["batch"])):
        ls, kt, ht = model_run(r, dev, ptx)
        full = FULL_LM["3b"]
        # bytes per (token, KV head) row: the elements, plus fp8's f32 row scale (host/lm/lm_ops.h)
        row = full["head_dim"] * (2 if r["model"].endswith("bf16") else 1 if r["model"].endswith("fp8") else 4)
        row += 4 if r["model"].endswith("fp8") else 0
        kv_ideal = 2.0 * row * full["kv_heads"] * r["tokens"] * r["batch"]   # K and V once
        attn = [x for x in ls if x["name"].startswith("lm_attn_")]
        moved = sum(x["bytes_moved"] for x in attn)
        at = sum(x["time_s"] for x in attn)
        W.append({"workload": "lm_attention", "model": r["model"], "batch": r["batch"], "context": r["tokens"],
                  "settings": r["settings"], "sampled_blocks": r["sampled_blocks"],
                  "scaled": "one layer simulated; x %d layers for a step" % full["layers"],
                  "modeled_s": kt + ht, "kernel_s": kt, "host_s": ht, "launches": len(ls), "host": r["host"],
                  "attention_s_per_layer": at, "attention_s_per_step": at * full["layers"],
                  "kv_store_s_per_layer": kt - at, "attention_bytes_moved": moved, "kv_bytes_ideal": kv_ideal,
                  "bytes_moved_over_ideal": moved / kv_ideal, "hbm_bound_s_per_step": kv_ideal * full["layers"] /
                  dev["hbm_bytes_per_s"], "fraction_of_hbm_bound": kv_ideal / dev["hbm_bytes_per_s"] / at if at else None,
                  "attention_blocks": [x["blocks"] for x in attn], "sm_count": dev["sm_count"],
                  "kernels": dict(list(per_kernel(ls).items())[:args.kernels])})
    summarize(out, dev)
    if args.figures:
        print("\n".join(figures_table(out, dev)))
    else:
        print(json.dumps(out, indent=1, default=lambda v: round(v, 6) if isinstance(v, float) else v))
    if args.roofline:
        write_roofline(out, dev, args.roofline)


def kv_dtype_of(settings):
    """The KV-cache dtype of a run: SNACRT_KV_DTYPE in its settings, else the cuda default (bf16)."""
    m = re.search(r"SNACRT_KV_DTYPE=(\S+)", settings or "")
    return m.group(1) if m else "bf16"


def kv_row_bytes(settings, head_dim):
    """Bytes of one K (or V) row of one token and KV head: the elements, plus fp8's f32 row scale (lm_ops.h)."""
    d = kv_dtype_of(settings)
    return head_dim * 4 if d == "f32" else head_dim + 4 if d == "fp8" else head_dim * 2


def precision_of(settings):
    """The codec's conv precision of a run: fp32 (im2col + cuBLAS), fp32-igemm (SNACRT_CUDA_FP32_IGEMM=1: the FMA
    implicit GEMM), tf32 or bf16 (tensor-core implicit GEMM)."""
    m = re.search(r"precision=(\S+)", settings or "")
    p = "fp32" if not m or m.group(1) == "default" else m.group(1)
    if p == "fp32" and re.search(r"SNACRT_CUDA_FP32_IGEMM=1\b", settings or ""):
        p = "fp32-igemm"
    return p


def interp(points, x):
    """Piecewise-linear y(x) through sorted (x, y) points; straight-line extrapolation past either end. One point:
    y there below it (a step has a fixed part), proportional above it."""
    if len(points) == 1:
        return points[0][1] * max(1.0, x / float(points[0][0]))
    i = next((k for k, p in enumerate(points) if x <= p[0]), len(points) - 1)
    i = min(max(i, 1), len(points) - 1)
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / float(x1 - x0)


def orpheus_load(W, settings=DEFAULT_SETTINGS, prompt_tokens=TYPICAL_PROMPT_TOKENS):
    """Real-time Orpheus streams per GPU and time to first audio (bench/GPU_MODEL.md, section 4b), as the scheduler
    runs them (host/tts/tts_sched.c): each iteration is one decode step of every running stream (step(B): the
    modeled 3B decode step at batch B, piecewise linear between the simulated batches) followed by one batched
    codec push of the streams whose group of TOKENS_PER_GROUP tokens completed in that step (push(n) = a + b n: the
    modeled 24 kHz streaming push of one group for n streams, affine in n). With the streams' phases spread, an
    iteration pushes B / 7 streams on average, and has a push at all with probability q(B) = 1 - (6/7)^B:
        iteration(B) = step(B) + q(B) a + b B / 7;   need(B) = 82.03 x iteration(B)   (GPU busy per wall second)
    streams = the largest B with need(B) <= 1. A request joining B - 1 streams gets one token per iteration; its
    first audio comes with the push of its G-th group (G: the push after which a new stream's first sample is final,
    codec_stream's first_audio_groups; 3 at 24 kHz), after 7 G iterations: its own G pushes, and in each of the other
    6 G iterations a push when one of the B - 1 others completes a group:
        TTFA(B) = prefill(P) + 7 G step(B) + (G + 6 G q(B - 1)) a + G B b
    (P: the prompt, TYPICAL_PROMPT_TOKENS, in the first iteration beside the decode rows: charged prefill(P) +
    step(B), an upper bound, as it reads the weights once). At B = streams the GPU is saturated, so an iteration
    is ~1 / 82.03 s and TTFA ~ prefill + 7 G / 82.03 s (~260 ms at G = 3) whatever the kernels: the TTFA target
    is met at a load only where 7 G iterations fit in it, i.e. with capacity to spare. Reported at B = 1 (idle), at
    B = streams, and at B = STREAMS_TARGET (the issue's 300), with the terms that bound it: 7 G x step(B), the
    pushes, step(B) against its HBM bound; also the most streams with TTFA <= TTFA_TARGET_S. (Until branch ttfa2
    the model charged TTFA = prefill + 7 G step(B) + push(B): the other streams' pushes during the newcomer's 7 G
    steps were left out, 33 ms at 311 streams, and need(B) had push(B) / g, one push's fixed cost per group.)"""
    dec = sorted((w["batch"], w["modeled_s"]) for w in W
                 if w["workload"] == "lm_decode" and w.get("dims") == "3b" and w.get("settings") == settings)
    cs = {w["batch"]: w for w in W if w["workload"] == "codec_stream" and w["model"] == "snac_24khz"
          and w.get("settings") == DEFAULT_SETTINGS}
    if not dec or 1 not in cs or 64 not in cs:
        return None
    g = cs[1]["audio_s_per_item"]
    T = TOKENS_PER_GROUP
    pb = (cs[64]["modeled_s"] - cs[1]["modeled_s"]) / 63.0     # push(n) = pa + pb n
    pa = cs[1]["modeled_s"] - pb
    push = lambda n: pa + pb * n
    q = lambda n: 1.0 - (1.0 - 1.0 / T) ** max(0, n)         # P(some of n spread streams completes a group)
    # the decode GEMMs change path above SMALL_M_ROWS rows (gemm_small_m -> split-bf16 cuBLAS): interpolate within a
    # path only, so a step at 17..63 rows is never a blend of the two
    small = [p for p in dec if p[0] <= SMALL_M_ROWS]
    large = [p for p in dec if p[0] > SMALL_M_ROWS]
    step = lambda B: interp(small if (B <= SMALL_M_ROWS and small) or not large else large, B)
    iteration = lambda B: step(B) + q(B) * pa + pb * B / T
    need = lambda B: ORPHEUS_TOKENS_PER_S * iteration(B)
    streams = 0
    for B in range(1, 4097):
        if need(B) <= 1.0:
            streams = B
    out = {"realtime_orpheus_streams": streams, "decode_batches": [b for b, _ in dec], "settings": settings,
           "streams_note": "largest B with 82.03 x (step(B) + a q(B) + b B / %d) <= 1: one step and one push of the "
                           "streams whose group completed per iteration, push(n) = a + b n = %.3f + %.4f n ms (%s)" % (
               T, pa * 1e3, pb * 1e3,
               ("step(B) interpolated within one GEMM path (<= %d rows: gemm_small_m; above: cuBLAS)" % SMALL_M_ROWS)
               if streams <= dec[-1][0] else
               "extrapolated past batch %d: straight line through the last two batches" % dec[-1][0])}
    if streams:
        out.update(step_ms_at_streams=step(streams) * 1e3, lm_share_at_streams=ORPHEUS_TOKENS_PER_S * step(streams),
                   codec_share_at_streams=need(streams) - ORPHEUS_TOKENS_PER_S * step(streams))
    pf = sorted((w["tokens"], w["modeled_s"]) for w in W
                if w["workload"] == "lm_prefill" and w.get("dims") == "3b" and w.get("settings") == settings)
    if not pf:   # a setting without its own prefill runs (e.g. the KV dtype: prefill reads no cache) takes the default's
        pf = sorted((w["tokens"], w["modeled_s"]) for w in W
                    if w["workload"] == "lm_prefill" and w.get("dims") == "3b" and w.get("settings") == DEFAULT_SETTINGS)
    if pf:
        G = cs[1].get("first_audio_groups", 3)
        prefill = interp(pf, prompt_tokens) if len(pf) > 1 else pf[0][1] * prompt_tokens / pf[0][0]
        pushes = lambda B: (G + (T - 1) * G * q(B - 1)) * pa + G * B * pb   # the pushes of the 7 G iterations
        ttfa = lambda B, st=step: prefill + T * G * st(B) + pushes(B)
        targets = (("idle", 1), ("at_streams", max(1, streams)), ("at_target", STREAMS_TARGET))
        for label, B in targets:
            out["time_to_first_audio_%s_s" % label] = ttfa(B)
        out["streams_target"] = STREAMS_TARGET
        out["time_to_first_audio_groups"] = G
        out["time_to_first_audio_note"] = (
            "prefill(%d tokens) %.1f ms + %d G step(B) + the pushes of those %d G iterations (%d G x a when every "
            "iteration pushes, + G B b); G = %d: the first final sample (lookahead %d); B = 1 (idle), %d (at that "
            "load) or %d (the target)%s" % (
                prompt_tokens, prefill * 1e3, T, T, T, G, cs[1].get("lookahead", G - 1), max(1, streams),
                STREAMS_TARGET, "" if any(t == prompt_tokens for t, _ in pf) else
                "; prefill interpolated from the %s-token runs" % ",".join(str(t) for t, _ in pf)))
        ok = [B for B in range(1, max(1, streams) + 1) if ttfa(B) <= TTFA_TARGET_S]
        out["streams_with_ttfa_target"] = max(ok) if ok else 0
        # the step the TTFA target allows at the target load: prefill + 7 G step + pushes <= TTFA_TARGET_S
        out["step_allowed_for_ttfa_at_target_s"] = (TTFA_TARGET_S - prefill - pushes(STREAMS_TARGET)) / (T * G)
        hb = sorted((w["batch"], w["batch"] / w["hbm_bound_tokens_per_s"]) for w in W
                    if w["workload"] == "lm_decode" and w.get("dims") == "3b" and w.get("settings") == settings
                    and w.get("hbm_bound_tokens_per_s"))
        for label, B in targets[1:]:
            # the bounding terms at that load: the 7 G token steps, the pushes, and the step against its HBM bound
            # (weights + the KV read, affine in B: interpolated through the simulated batches' bounds)
            out["ttfa_token_steps_s_%s" % label] = T * G * step(B)
            out["ttfa_pushes_s_%s" % label] = pushes(B)
            out["step_s_%s" % label] = step(B)
            if len(hb) > 1:
                out["step_hbm_bound_s_%s" % label] = interp(hb, B)
                out["ttfa_at_hbm_bound_s_%s" % label] = ttfa(B, lambda x: interp(hb, x))
        if streams:
            out["gpu_idle_share_at_streams"] = 1.0 - need(streams)
            if cs[1].get("first_audio_s") is not None:
                # a player that starts at the first audio runs dry unless the newcomer's next push (7 iterations
                # later) comes before the first push's audio is played: the start that never stalls (24 kHz: final
                # samples are affine in the groups, so the next push is the tightest)
                nxt = T * step(streams) + (1 + (T - 1) * q(streams - 1)) * pa + streams * pb
                out["time_to_gapless_audio_at_streams_s"] = ttfa(streams) + max(0.0, nxt - cs[1]["first_audio_s"])
    return out


def summarize(out, dev):
    W = out["workloads"]
    get = lambda **kw: next((w for w in W if all(w.get(k) == v for k, v in kw.items())), None)
    s = {}
    for wl in ("codec_encode", "codec_decode"):
        for prec in ("fp32", "fp32-igemm", "tf32", "bf16"):
            w = get(workload=wl, model="snac_24khz", batch=64, precision=prec)
            if w:
                s["%s_24khz_b64_x_real_time%s" % (wl, "" if prec == "fp32" else "_" + prec.replace("-", "_"))] = \
                    w["x_real_time"]
    for B in (1, 8, 64, 256):
        d = get(workload="lm_decode", dims="3b", batch=B, settings=DEFAULT_SETTINGS)
        if d:
            s["orpheus3b_decode_b%d_tok_s" % B] = d["tokens_per_s"]
            s["orpheus3b_decode_b%d_fraction_of_hbm" % B] = d["fraction_of_hbm_bound"]
    pf = get(workload="lm_prefill", dims="3b", tokens=512, settings=DEFAULT_SETTINGS)
    if pf:
        s["orpheus3b_prefill_512_ms"] = pf["modeled_s"] * 1e3
        s["orpheus3b_prefill_512_fraction_of_bf16_peak"] = pf["fraction_of_bf16_peak"]
    for B in (1, 8, 64, 256):
        a = get(workload="lm_attention", model="3b-bf16", batch=B)
        if a:
            s["decode_attention_ctx%d_b%d_ms_per_step" % (a["context"], B)] = a["attention_s_per_step"] * 1e3
        a = get(workload="lm_attention", model="3b-fp8", batch=B)
        if a:
            s["decode_attention_fp8kv_ctx%d_b%d_ms_per_step" % (a["context"], B)] = a["attention_s_per_step"] * 1e3
    load = orpheus_load(W)
    if load:
        s.update(load)
    load = orpheus_load(W, settings=FP8_KV_SETTINGS)   # the fp8 KV cache: its own load figures (the table's rows)
    if load:
        s["fp8_kv"] = load
    sampled = sorted({w.get("sampled_blocks", 0) for w in W} - {0})
    s["sampled_blocks"] = sampled[0] if len(sampled) == 1 else sampled if sampled else 0
    out["summary"] = s


def figures_table(out, dev):
    """The headline figures: one markdown row each (also in bench/ROOFLINE.md)."""
    W, S = out["workloads"], out["summary"]
    samp = lambda w: " (sampled, K=%d)" % w["sampled_blocks"] if w.get("sampled_blocks") else ""
    L = ["| figure | modeled (%s) | physical bound | fraction | how |" % dev["name"], "|---|---|---|---|---|"]
    int8 = DEFAULT_SETTINGS + " SNACRT_LM_WEIGHTS=int8"   # int8 weights (docs/int8-weights.md): their own rows
    for st, tag in ((DEFAULT_SETTINGS, ""), (int8, ", int8 weights"), (FP8_KV_SETTINGS, ", fp8 KV")):
        for w in W:
            if w["workload"] == "lm_decode" and w.get("dims") == "3b" and w.get("settings") == st:
                L.append("| Orpheus-3B decode%s, batch %d, context %d | %s tok/s (%.2f ms/step) | %s tok/s (HBM) | %.2f "
                         "| %s%s |" % (tag, w["batch"], w["kv_context"], fmt(w["tokens_per_s"]), w["modeled_s"] * 1e3,
                                       fmt(w["hbm_bound_tokens_per_s"]), w["fraction_of_hbm_bound"], w["scaled"], samp(w)))
    for st, tag in ((DEFAULT_SETTINGS, ""), (int8, ", int8 weights")):
        for w in W:
            if w["workload"] == "lm_prefill" and w.get("dims") == "3b" and w.get("settings") == st:
                L.append("| Orpheus-3B prefill%s, %d tokens | %.1f ms (%s tok/s) | %.2f ms (bf16 peak) | %.3f | %s%s |" % (
                    tag, w["tokens"], w["modeled_s"] * 1e3, fmt(w["tokens_per_s"]), w["flops"] / dev["bf16_flops"] * 1e3,
                    w["fraction_of_bf16_peak"], w["scaled"], samp(w)))
    for w in W:
        if w["workload"] == "lm_attention" and w["model"] in ("3b-bf16", "3b-fp8"):
            L.append("| decode attention, context %d, batch %d, %s KV | %.2f ms/step (28 layers) | %.3f ms (KV once) "
                     "| %.2f | %s%s |" % (w["context"], w["batch"], w["model"][3:], w["attention_s_per_step"] * 1e3,
                                          w["hbm_bound_s_per_step"] * 1e3, w["fraction_of_hbm_bound"], w["scaled"],
                                          samp(w)))
    for w in W:
        if w["workload"] in ("codec_encode", "codec_decode") and w["model"] == "snac_24khz" and w["batch"] == 64:
            unit = "bf16" if w["precision"] == "bf16" else "tf32"   # the peak of the mode's fastest unit
            bound = w["batch"] * w["audio_s_per_item"] / max(w["flops"] / dev[unit + "_flops"], 1e-12)
            extra = "".join(", " + f for f in w["settings"].split() if not f.startswith("precision="))
            L.append("| 24 kHz %s, batch 64, %s, %g s%s | %sx real time | %sx (%s peak) | %.3f | %s%s |" % (
                w["workload"][6:], w["precision"], w["audio_s_per_item"], extra, fmt(w["x_real_time"]), fmt(bound),
                unit.upper(),
                w["x_real_time"] / bound, w["scaled"], samp(w)))
    for S_, tag in ((S, "default settings"), (S.get("fp8_kv") or {}, "fp8 KV cache, SNACRT_KV_DTYPE=fp8")):
        if "realtime_orpheus_streams" not in S_:
            continue
        L.append("| real-time Orpheus streams per GPU (%s) | %d | - | - | %s |" % (
            tag, S_["realtime_orpheus_streams"], S_["streams_note"]))
        for k, label in (("idle", "idle GPU"), ("at_streams", "at that load (%d streams)" % S_["realtime_orpheus_streams"]),
                         ("at_target", "at %d streams" % S_.get("streams_target", STREAMS_TARGET))):
            key = "time_to_first_audio_%s_s" % k
            if key not in S_:
                continue
            hb = S_.get("ttfa_at_hbm_bound_s_%s" % k)
            L.append("| time to first audio (%s), %s | %.0f ms | %s | %s | %s |" % (
                tag, label, S_[key] * 1e3, "-" if hb is None else "%.0f ms (step at its HBM bound)" % (hb * 1e3),
                "-" if hb is None else "%.2f" % (hb / S_[key]),
                S_["time_to_first_audio_note"] + ("" if k == "idle" else "; %s: steps %.0f ms (step %.2f ms), "
                                                  "pushes %.0f ms" % (label, S_["ttfa_token_steps_s_%s" % k] * 1e3,
                                                                      S_["step_s_%s" % k] * 1e3,
                                                                      S_["ttfa_pushes_s_%s" % k] * 1e3))))
        if "streams_with_ttfa_target" in S_:
            L.append("| real-time streams with time to first audio <= %.0f ms (%s) | %d | - | - | largest B with "
                     "need(B) <= 1 and TTFA(B) <= %.0f ms; at %d streams the GPU's idle share is %.1f%%; the target "
                     "at %d streams allows a step of %.2f ms (GPU_MODEL.md 4b) |" % (
                         TTFA_TARGET_S * 1e3, tag, S_["streams_with_ttfa_target"], TTFA_TARGET_S * 1e3,
                         S_["realtime_orpheus_streams"], 100 * S_.get("gpu_idle_share_at_streams", 0),
                         S_.get("streams_target", STREAMS_TARGET), S_.get("step_allowed_for_ttfa_at_target_s", 0) * 1e3))
    return L


def codec_label(w):
    """A codec workload's model and, when not the default fp32 path, its conv precision."""
    p = w.get("precision", "fp32")
    return w["model"] if p == "fp32" else "%s (%s)" % (w["model"], p)


def write_roofline(out, dev, path):
    L = ["# GPU roofline: physical bound vs the kernels as they are (modeled, %s)" % dev["name"], "",
         "Generated by `bench/gpu_model.py --roofline bench/ROOFLINE.md` from the counters of `bench_gpu_model` "
         "(the real kernel sources run through tests/cudasim at full widths; see bench/GPU_MODEL.md for the model, "
         "its assumptions and expected error). Do not edit by hand: rerun the command. No GPU measured these.", "",
         "Physical bound: HBM for LM decode (weights once + KV cache, bf16); tensor-core peak (TF32 for the codec, "
         "bf16 for prefill) for compute-heavy work, counting the FLOPs the kernels actually do.", "",
         "| workload | model | batch | modeled | physical bound | fraction | launches | how scaled |",
         "|---|---|---|---|---|---|---|---|"]
    # codec rows: the model, the audio per item and any non-default settings (runs of several lengths / settings)
    codec_model = lambda w: "%s, %g s%s" % (codec_label(w), w["audio_s_per_item"], "".join(
        ", " + f for f in w["settings"].split() if not f.startswith("precision=")))
    for w in out["workloads"]:
        if w["workload"] in ("codec_encode", "codec_decode"):
            bound_t = max(w["flops"] / dev["tf32_flops"], 1e-12)
            xb = w["batch"] * w["audio_s_per_item"] / bound_t
            L.append("| %s | %s | %d | %s x real time | %s x real time (TF32) | %.3f | %d | %s |" % (
                w["workload"], codec_model(w), w["batch"], fmt(w["x_real_time"]), fmt(xb), w["x_real_time"] / xb,
                w["launches"], w["scaled"]))
        elif w["workload"] == "codec_stream":
            L.append("| %s | %s | %d | %.2f ms per push (%s real-time streams) | - | - | %d | %s |" % (
                w["workload"], codec_model(w), w["batch"], w["push_ms"], fmt(w["realtime_streams"]), w["launches"],
                w["scaled"]))
        elif w["workload"] == "lm_decode":
            L.append("| %s | %s | %d | %s tok/s | %s tok/s (HBM) | %s | %d | %s |" % (
                w["workload"], w["model"], w["batch"], fmt(w["tokens_per_s"]), fmt(w["hbm_bound_tokens_per_s"]),
                "%.3f" % w["fraction_of_hbm_bound"] if w["fraction_of_hbm_bound"] else "-", w["launches"],
                w["scaled"]))
        elif w["workload"] == "lm_prefill":
            bt = w["flops"] / dev["bf16_flops"]
            L.append("| %s | %s | %d | %s tok/s (%.1f ms) | %s tok/s (bf16) | %.3f | %d | %s |" % (
                w["workload"], w["model"], w["batch"], fmt(w["tokens_per_s"]), w["modeled_s"] * 1e3,
                fmt(w["tokens"] / bt) if bt else "-", w["fraction_of_bf16_peak"] or 0, w["launches"], w["scaled"]))
    L += ["", "## Headline figures (`gpu_model.py --figures`)", ""] + figures_table(out, dev)
    L += ["", "## Summary", ""]
    for k, v in out["summary"].items():
        if isinstance(v, dict):   # a setting's own load figures (fp8_kv): one line each, prefixed
            for k2, v2 in v.items():
                L.append("- %s.%s: %s" % (k, k2, fmt(v2) if isinstance(v2, float) else v2))
            continue
        L.append("- %s: %s" % (k, fmt(v) if isinstance(v, float) else v))
    L += ["", "## Where the time goes (top kernels per workload, batch 64 codec / batch 1 decode)", ""]
    for w in out["workloads"]:
        if (w["workload"].startswith("codec_") and w["batch"] == 64 and "24khz" in w["model"]) or \
           (w["workload"] == "lm_decode" and w["batch"] == 1):
            L.append("### %s %s batch %d" % (w["workload"], w["model"], w["batch"]))
            L.append("| kernel | launches | time share | bound | sector efficiency | bytes moved / ideal | occupancy |")
            L.append("|---|---|---|---|---|---|---|")
            for name, k in list(w["kernels"].items())[:8]:
                L.append("| %s | %d | %.1f%% | %s | %s | %s | %s |" % (
                    name, k["launches"], 100 * k["time_s"] / w["modeled_s"], k["bound"],
                    "%.2f" % k["sector_efficiency"] if k["sector_efficiency"] else "-",
                    "%.2f" % (k["bytes_moved"] / k["ideal_bytes"]) if k["ideal_bytes"] else "-",
                    "%.2f" % k["occupancy"] if k["occupancy"] is not None else "-"))
            L.append("")
    L += ["## Physical bounds per layer type (analytic: `python3 bench/roofline.py`)", "",
          "Per second of audio, each layer reading its input and writing its output once (fp32, Snake unfused), and "
          "the x-real-time bound each implies on one H100 SXM. The modeled tables above use the FLOPs and bytes the "
          "kernels actually execute instead."]
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        L.append(subprocess.run([sys.executable, os.path.join(here, "roofline.py")], capture_output=True, text=True,
                                check=True).stdout)
    except (OSError, subprocess.CalledProcessError) as e:
        L.append("(roofline.py failed: %s)" % e)
    open(path, "w").write("\n".join(L) + "\n")


def fmt(v):
    if v is None:
        return "-"
    return "{:,.0f}".format(v) if abs(v) >= 100 else "{:.3g}".format(v)


if __name__ == "__main__":
    main()
