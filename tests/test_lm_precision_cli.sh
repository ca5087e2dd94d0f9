#!/bin/bash
# test_lm_precision_cli.sh: --lm-precision bf16|exact (the cpu backend's LM precision, srt_lm_options.lm_precision)
# on generate, tts, serve and chat: both values run (exact gives the golden greedy ids of test_lm_generate_cli.sh),
# and any other value is refused with exit code 2 and a message naming the flag and the value.
set -u
SRC=${SNACRT_SRC:-.}
BIN=${SNACRT_BIN:-build}/snacrt
passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }
M="$SRC/tests/data/llama/tiny-qwen2"

out=$("$BIN" generate -m "$M" --ids 2000,5 --max-tokens 4 --lm-precision exact --format json); rc=$?
check "$rc $out" '0 {"ids":[249,1462,249,1462],"text":null,"finish_reason":"length"}' "generate --lm-precision exact"
out=$(SNACRT_CPU_LM_PRECISION=exact "$BIN" generate -m "$M" --ids 2000,5 --max-tokens 4 --lm-precision bf16 --format json)
check "$?" "0" "generate --lm-precision bf16"
for cmd in "generate -m $M --ids 1" "tts -m $M --codec x hello -o /dev/null" "serve -m $M --codec x" \
           "chat -m $M --codec x --text hi"; do
  err=$("$BIN" $cmd --lm-precision fp8 2>&1 >/dev/null); rc=$?
  check "$rc" "2" "${cmd%% *} --lm-precision fp8 exit code"
  case "$err" in *"--lm-precision"*"'fp8'"*) passed=$((passed+1));;
    *) failed=$((failed+1)); echo "FAIL ${cmd%% *} message: $err" >&2;; esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
