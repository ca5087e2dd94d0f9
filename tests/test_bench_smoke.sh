#!/bin/bash
# test_bench_smoke.sh: the benchmarks run and print the JSON they document (no timing is asserted: benchmarks are
# measured by hand, see bench/README.md). bench_lm on tiny-qwen2 on the cpu backend and, in a cudasim build, on
# the simulated cuda device (the path a GPU machine runs: decode graphs, logits left on the device).
set -u
SRC=${SNACRT_SRC:-.}
BUILD=${SNACRT_BIN:-build}
passed=0; failed=0
check_json() { # name, json text, python assertion over `j`
  if python3 -c "import json,sys; j=json.loads(sys.argv[1]); assert $3, j" "$2" 2>/dev/null; then passed=$((passed+1))
  else failed=$((failed+1)); echo "FAIL $1: $2" >&2; fi
}
RUNS_OK='len(j["runs"]) == 2 and [r["batch"] for r in j["runs"]] == [1, 3] and all(r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0 and r["decode_gb_per_step"] > 0 for r in j["runs"])'
out=$(OMP_NUM_THREADS=1 "$BUILD/bench_lm" "$SRC/tests/data/llama/tiny-qwen2" --batches 1,3 --prompt-len 5 --decode-steps 2)
check_json "bench_lm cpu" "$out" "j['device'] == 'cpu' and j['read_gb_per_s'] > 0 and j['triad_gb_per_s'] > 0 and $RUNS_OK and all(0 < r['decode_fraction_of_bound'] for r in j['runs'])"
source "$SRC/tests/cuda_kind.sh"
if cuda_is_simulator "$BUILD"; then
  out=$("$BUILD/bench_lm" "$SRC/tests/data/llama/tiny-qwen2" --device cuda --batches 1,3 --prompt-len 5 --decode-steps 2)
  check_json "bench_lm cuda (simulated)" "$out" "j['device'] == 'cuda' and $RUNS_OK"
else
  echo "NOTE: the cuda device of $BUILD is not the simulator: bench_lm --device cuda not run"
fi
out=$("$BUILD/bench_lm" /nonexistent-model 2>/dev/null); rc=$?
check_json "bench_lm bad model" "$out" "'error' in j and 'nonexistent' in j['error']"
[ $rc = 1 ] && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL bench_lm bad model exit $rc" >&2; }
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
