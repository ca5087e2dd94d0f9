#!/bin/bash
# test_bench_gpu_model.sh: bench_gpu_model at smoke size (the real kernels through the simulator with its counters)
# piped into bench/gpu_model.py (the H100 model): the JSON has codec and LM workloads with modeled times, per-kernel
# tables and the figures bench/ROOFLINE.md is made of. No timing is asserted. Skipped outside a simulator build.
set -u
SRC=${SNACRT_SRC:-.}
BUILD=${SNACRT_BIN:-build}
source "$SRC/tests/cuda_kind.sh"
if ! cuda_is_simulator "$BUILD"; then
  echo "SKIP: bench_gpu_model needs the simulator build (-DSNACRT_CUDA=OFF -DSNACRT_CUDASIM=ON)"; exit 77
fi
models=$(mktemp -d)
trap 'rm -rf "$models"' EXIT
runs=$("$BUILD/bench_gpu_model" --smoke --models "$models") || { echo "FAIL bench_gpu_model exit $?"; exit 1; }
out=$(printf '%s\n' "$runs" | python3 "$SRC/bench/gpu_model.py" --device h100_sxm --ptxas "$BUILD/ptxas_sm90.txt" \
      --roofline "$models/ROOFLINE.md") || { echo "FAIL gpu_model.py"; exit 1; }
python3 - "$out" "$models/ROOFLINE.md" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
W = j["workloads"]
kinds = {(w["workload"], w["batch"]) for w in W}
need = [("codec_encode", 1), ("codec_encode", 64), ("codec_decode", 16), ("lm_decode", 1), ("lm_decode", 64),
        ("lm_prefill", 1)]
missing = [k for k in need if k not in kinds]
assert not missing, "missing workloads %s" % missing
for w in W:
    assert w["modeled_s"] > 0 and w["launches"] > 0 and w["kernels"], w["workload"]
    for name, k in w["kernels"].items():
        assert k["bound"] in ("dram", "l2", "compute", "latency", "shared", "atomic", "launch"), (name, k["bound"])
enc = [w for w in W if w["workload"] == "codec_encode" and w["batch"] == 64][0]
assert enc["x_real_time"] > 0 and "extrapolated" in enc["scaled"]
assert any(k.startswith("cublasSgemm") for k in enc["kernels"]), list(enc["kernels"])
assert j["summary"]["sampled_blocks"] == 0 and all(w["sampled_blocks"] == 0 for w in W), "full simulation expected"
dec = [w for w in W if w["workload"] == "lm_decode" and w["batch"] == 1][0]
assert dec["tokens_per_s"] > 0 and dec["host"]["graph_launches"] >= 1
text = open(sys.argv[2]).read()
assert "| workload | model | batch | modeled |" in text and "codec_encode" in text
print("bench_gpu_model smoke: %d workloads, encode b64 %.0fx real time (0.05 s items), tiny decode b1 %.0f tok/s"
      % (len(W), enc["x_real_time"], dec["tokens_per_s"]))
PY
