#!/bin/bash
# test_tts_replicas.sh: `snacrt tts --input` batch jobs over engine replicas: the items spread over 2 CPU replicas
# (thread groups) give WAVs byte-identical to one engine (every item seeded); over 2 simulated GPUs
# (CUDASIM_DEVICES=2, --devices cuda:0-1) byte-identical to one simulated device (cudasim builds only; 2 short
# items: the simulator is slow); kill -9 mid-run then --resume skips what the done-log holds and ends with the same
# files and no partial ones; --shard-index/--num-shards 0/2 and 1/2 together make the same set.
set -u
SRC=${SNACRT_SRC:-.}
BIN=$(cd "${SNACRT_BIN:-build}" && pwd)/snacrt
BUILD=$(cd "${SNACRT_BIN:-build}" && pwd)
SRC=$(cd "$SRC" && pwd)
LM=$SRC/tests/data/llama/tiny-orpheus
CODEC=$SRC/tests/data/snac/tiny24
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }
COMMON=(-m "$LM" --codec "$CODEC" --threads 2 --temperature 1 --top-p 0.95 --seed 7)
same_dirs() {   # same_dirs A B N: N wavs, byte-identical, nothing partial left
    local a=$1 b=$2 n=$3 ok=1
    [ "$(ls "$a"/*.wav 2>/dev/null | wc -l)" = "$n" ] && [ "$(ls "$b"/*.wav 2>/dev/null | wc -l)" = "$n" ] || ok=0
    for f in "$a"/*.wav; do cmp -s "$f" "$b/$(basename "$f")" || { ok=0; echo "differs: $(basename "$f")" >&2; }; done
    ls -a "$b" | grep -q '^\.partial-' && ok=0
    echo $ok
}

N=8
for i in $(seq 1 $N); do
  echo "{\"id\": \"utt$i\", \"text\": \"Sentence number $i.\", \"voice\": \"tara\", \"seed\": $i}"
done >"$T/prompts.jsonl"

"$BIN" tts "${COMMON[@]}" --max-tokens 28 --input "$T/prompts.jsonl" -o "$T/one" >/dev/null 2>"$T/one.err"
check "$?" "0" "one engine: exit code"
"$BIN" tts "${COMMON[@]}" --max-tokens 28 --devices cpu --replicas 2 --input "$T/prompts.jsonl" -o "$T/two" \
    >/dev/null 2>"$T/two.err"
check "$?" "0" "2 cpu replicas: exit code"
check "$(same_dirs "$T/one" "$T/two" $N)" "1" "2 cpu replicas: byte-identical to one engine"
check "$(wc -l <"$T/two/done-w0-of1.log")" "$N" "done-log lines"

# kill -9 once 3 items are logged (SNACRT_TEST_HANG_AFTER_LOG=3 holds the batch after the 3rd line, so the kill
# lands mid-run however fast or loaded the machine is), then --resume
SNACRT_TEST_HANG_AFTER_LOG=3 "$BIN" tts "${COMMON[@]}" --max-tokens 28 --devices cpu --replicas 2 --max-running 2 \
    --input "$T/prompts.jsonl" -o "$T/killed" >/dev/null 2>"$T/killed.err" &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(wc -l <"$T/killed/done-w0-of1.log" 2>/dev/null || echo 0)" -ge 3 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
logged=$(wc -l <"$T/killed/done-w0-of1.log" 2>/dev/null || echo 0)
[ "$logged" = 3 ] && passed=$((passed+1)) || {
  failed=$((failed+1)); echo "FAIL kill -9 must land mid-run: $logged of $N logged" >&2; }
"$BIN" tts "${COMMON[@]}" --max-tokens 28 --devices cpu --replicas 2 --input "$T/prompts.jsonl" -o "$T/killed" \
    --resume >"$T/resume.json" 2>"$T/resume.err"
check "$?" "0" "--resume: exit code"
skipped=$(python3 -c "import json; print(json.load(open('$T/resume.json'))['skipped_done'])")
check "$skipped" "$logged" "--resume skips the logged items"
check "$(same_dirs "$T/one" "$T/killed" $N)" "1" "killed + resumed: byte-identical to one engine"
check "$(sort "$T/killed/done-w0-of1.log" | uniq | wc -l)" "$N" "done-log after resume: every id once"

# shards
for s in 0 1; do
  "$BIN" tts "${COMMON[@]}" --max-tokens 28 --input "$T/prompts.jsonl" -o "$T/shards" --shard-index $s \
      --num-shards 2 >/dev/null 2>>"$T/shards.err"
  check "$?" "0" "shard $s of 2: exit code"
done
check "$(ls "$T/shards"/done-w*-of2.log | wc -l)" "2" "a done-log per shard"
check "$(same_dirs "$T/one" "$T/shards" $N)" "1" "shards 0/2 + 1/2: byte-identical to one engine"
# under a launcher (Open MPI's variables, 2 processes on one node): each process takes the shard of its world rank
# and its node-local share of --devices (here 2 CPU replicas each: the log says so), together the same set
for r in 0 1; do
  OMPI_COMM_WORLD_RANK=$r OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=$r OMPI_COMM_WORLD_LOCAL_SIZE=2 \
    "$BIN" tts "${COMMON[@]}" --max-tokens 28 --devices cpu --replicas 2 --input "$T/prompts.jsonl" -o "$T/mpi" \
    >/dev/null 2>"$T/mpi$r.err" &
done
wait
check "$(cat "$T"/mpi[01].err | grep -c "launcher (OMPI_COMM_WORLD_SIZE): process [01] of 2, [01] of 2 on its node: devices cpu, shard [01] of 2")" "2" "launcher: each process names its place ($(cat "$T"/mpi[01].err))"
check "$(ls "$T/mpi"/done-w*-of2.log | wc -l)" "2" "launcher: a done-log per world rank"
check "$(same_dirs "$T/one" "$T/mpi" $N)" "1" "launcher: 2 processes together byte-identical to one engine"
OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=0 OMPI_COMM_WORLD_LOCAL_SIZE=2 \
  "$BIN" tts "${COMMON[@]}" --devices cuda:0-2 --input "$T/prompts.jsonl" -o "$T/x" 2>"$T/mpibad.err" >/dev/null
check "$? $(grep -c "do not split into 2 processes on the node" "$T/mpibad.err")" "1 1" \
      "launcher: 3 devices over 2 processes: exit 1 naming it ($(cat "$T/mpibad.err"))"
"$BIN" tts "${COMMON[@]}" --input "$T/prompts.jsonl" -o "$T/x" --shard-index 2 --num-shards 2 >/dev/null 2>&1
check "$?" "2" "--shard-index >= --num-shards: usage error"

# device lists that do not make replicas: exit 1 naming the list
for bad in "cuda:0-2|--tp 2|do not split into replicas of --tp 2" "cuda:0,2|--tp 2|must be consecutive" \
           "cuda:0,0|--tp 1|twice" "gpu:0|--tp 1|expected cpu, cpu-ref or cuda" "cuda:0-3|--replicas 3|make 4 replica(s), not 3"; do
  IFS='|' read -r list opt want <<<"$bad"
  "$BIN" tts "${COMMON[@]}" --devices "$list" $opt -o "$T/bad.wav" "Hi" 2>"$T/bad.err"
  rc=$?
  check "$rc $(grep -c -- "$want" "$T/bad.err")" "1 1" "--devices $list $opt: exit 1 saying '$want' ($(cat "$T/bad.err"))"
done

# 2 simulated GPUs vs one (cudasim builds)
source "$SRC/tests/cuda_kind.sh"
if cuda_is_simulator "$BUILD"; then
  head -2 "$T/prompts.jsonl" >"$T/two.jsonl"
  CUDASIM_DEVICES=2 "$BIN" tts "${COMMON[@]}" --max-tokens 7 --device cuda --input "$T/two.jsonl" -o "$T/sim1" \
      >/dev/null 2>"$T/sim1.err"
  check "$?" "0" "one simulated device: exit code"
  CUDASIM_DEVICES=2 "$BIN" tts "${COMMON[@]}" --max-tokens 7 --devices cuda:0-1 --input "$T/two.jsonl" -o "$T/sim2" \
      >/dev/null 2>"$T/sim2.err"
  check "$?" "0" "2 simulated devices: exit code"
  check "$(same_dirs "$T/sim1" "$T/sim2" 2)" "1" "2 simulated devices: byte-identical to one"
  grep -q "current device" "$T/sim2.err" && { failed=$((failed+1)); echo "FAIL simulator violation" >&2; cat "$T/sim2.err" >&2; }
fi

echo "test_tts_replicas: $passed passed, $failed failed"
[ "$failed" = 0 ]
