# sh_prelude.sh: the common start of the shell tests (sourced, not a test itself):
#   SRC (source tree), BIN (build folder), S (the snacrt binary), M (the tiny 24 kHz SNAC model),
#   T (a temporary folder removed at exit), pass/fail counters and check NAME 'SHELL CONDITION'.
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
S=$BIN/snacrt
M=$SRC/tests/data/snac/tiny24
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }

# Lines in a file (0 when it does not exist), without a fork.
count_lines() { local n=0; [ -f "$1" ] && while IFS= read -r _; do n=$((n + 1)); done < "$1"; echo $n; }
# kill -9 at a chosen point: run a command in the background and kill it once LOG holds TARGET lines, plus EXTRA
# seconds (or when it ends first). Usage: kill_after_lines LOG TARGET EXTRA command args...
kill_after_lines() {
  local log=$1 target=$2 extra=$3; shift 3
  "$@" > /dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2> /dev/null && [ "$(count_lines "$log")" -lt "$target" ]; do sleep 0.01; done
  sleep "$extra"
  kill -9 $pid 2> /dev/null
  wait $pid 2> /dev/null
  return 0
}

# no_cuda_device RC ERRFILE: the run failed (RC != 0) only because this build or machine has no CUDA device
# (no backend compiled in, or no device found); tests then skip their --device cuda part with a note.
no_cuda_device() {
  [ "$1" != 0 ] && grep -q 'built without the CUDA backend\|no CUDA device' "$2"
}
