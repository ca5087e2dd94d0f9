#!/usr/bin/env bash
# fuzz/run.sh: build the libFuzzer targets (fuzz/fuzz_*.c) with clang under AddressSanitizer + UBSan in build-fuzz/
# and run each for a bounded time from its seed corpus (fuzz/corpus/<t>/, committed and tiny, plus seeds made here
# from tests/data). Prints one JSON line per target (executions, seconds, corpus size, crash or not) and a total.
# A crashing input is copied to fuzz/regress/<t>/ (commit it: the ctest fuzz_<t>_regress replays it in every build)
# and the script fails. Stage "fuzzing" of test.sh; needs clang, libclang-rt-14-dev and libomp-dev (setup.sh).
# Usage: bash fuzz/run.sh [seconds per target, default 30] [target ...]   (targets: safetensors torch_zip ...)
set -u
cd "$(dirname "$0")/.."
SECS=${1:-30}
shift $(( $# > 0 ? 1 : 0 ))
JOBS=${JOBS:-$(nproc)}
CC_FUZZ=$(command -v clang || true)
CXX_FUZZ=$(command -v clang++ || true)
if [ -z "$CC_FUZZ" ] || [ -z "$CXX_FUZZ" ]; then echo "fuzz/run.sh: clang not found: fuzzing skipped"; exit 0; fi
TARGETS=("$@")
if [ ${#TARGETS[@]} = 0 ]; then
  for f in fuzz/fuzz_*.c; do t=$(basename "$f" .c); TARGETS+=("${t#fuzz_}"); done
fi
B=build-fuzz
CC=$CC_FUZZ CXX=$CXX_FUZZ cmake -S . -B $B -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNACRT_SANITIZE=ON -DSNACRT_FUZZ=ON \
  -DSNACRT_CUDA=OFF -DSNACRT_CUDASIM=OFF -DSNACRT_NCCL=OFF -DSNACRT_MPI=OFF > $B.log 2>&1 &&
  cmake --build $B -j"$JOBS" --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >> $B.log 2>&1 ||
  { tail -40 $B.log; echo "fuzz/run.sh: the fuzz build failed"; exit 1; }

W=$B/fuzz-work
mkdir -p $W
# seeds made from tests/data (too large to commit twice)
seed_extra() { # target dir
  case $1 in
    safetensors) cp tests/data/llama/tiny-qwen2/golden.safetensors "$2/" ;;
    pickle) python3 -c "
import zipfile, sys
z = zipfile.ZipFile('tests/data/snac/tiny24/pytorch_model.bin')
open(sys.argv[1] + '/tiny24.pkl', 'wb').write(z.read([n for n in z.namelist() if n.endswith('data.pkl')][0]))" "$2" ;;
    config) printf '\001' | cat - tests/data/snac/tiny44/config.json > "$2/tiny44.json" ;;
  esac
}
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0; total=0
for t in "${TARGETS[@]}"; do
  bin=$B/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz/run.sh: no target $t"; failed=1; continue; }
  rm -rf "$W/$t"
  mkdir -p "$W/$t/corpus" "$W/$t/seeds"
  cp fuzz/corpus/$t/* "$W/$t/seeds/" 2> /dev/null
  seed_extra "$t" "$W/$t/seeds"
  start=$(date +%s)
  "$bin" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$W/$t/" "$W/$t/corpus" "$W/$t/seeds" > "$W/$t/log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/$t/log" | tail -1)
  corpus=$(ls "$W/$t/corpus" | wc -l)
  crashes=$(ls "$W/$t" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
  status=ok
  if [ $rc != 0 ] || [ -n "$crashes" ]; then
    status=crash
    failed=1
    mkdir -p fuzz/regress/$t
    for c in $crashes; do cp "$W/$t/$c" fuzz/regress/$t/; done
    grep -E 'ERROR|SUMMARY|runtime error' "$W/$t/log" | head -5
    echo "fuzz/run.sh: $t: crash inputs copied to fuzz/regress/$t/ ($crashes): fix, then commit them"
  fi
  total=$(( total + ${execs:-0} ))
  echo "{\"target\": \"$t\", \"seconds\": $secs, \"executions\": ${execs:-0}, \"corpus\": $corpus, \"status\": \"$status\"}"
done
echo "{\"fuzz_total_executions\": $total, \"targets\": ${#TARGETS[@]}, \"seconds_per_target\": $SECS, \"failed\": $failed}"
exit $failed
