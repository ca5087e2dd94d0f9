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
