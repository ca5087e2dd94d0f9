#!/bin/bash
# test_lm_generate_cli.sh: `snacrt generate` end to end: greedy ids of the golden prompts (tests/data/llama
# golden.json) on both CPU backends, JSON output shape, and a clear error with exit code 1 for a bad model folder.
set -u
SRC=${SNACRT_SRC:-.}
BIN=${SNACRT_BIN:-build}/snacrt
passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }

for dev in cpu-ref cpu; do
  out=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 2000,5 --max-tokens 4 --device $dev --format json)
  check "$out" '{"ids":[249,1462,249,1462],"text":null,"finish_reason":"length"}' "qwen2 p1 greedy on $dev"
  out=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-orpheus" --max-tokens 3 --device $dev --format json \
        --ids 128259,128000,83,5169,25,22691,1917,11,420,374,264,1296,13,128009,128260,128261,128257)
  ids=$(echo "$out" | sed -n 's/.*"ids":\[\([^]]*\)\].*/\1/p')
  check "$ids" "88587,73015,73015" "orpheus p0 greedy on $dev"
done
# ids of a JSON output, comma-separated ("" when there are none)
ids_of() { echo "$1" | sed -n 's/.*"ids":\[\([^]]*\)\].*/\1/p'; }
nids() { ids_of "$1" | tr ',' '\n' | grep -c '^[0-9][0-9]*$'; }
# same seed, same sampled ids; both runs succeed with 8 ids, and sampling is not the greedy pick
a=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 5,6,7 --max-tokens 8 --temperature 1 --top-k 50 --seed 9 --format json); ra=$?
b=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 5,6,7 --max-tokens 8 --temperature 1 --top-k 50 --seed 9 --format json); rb=$?
g=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 5,6,7 --max-tokens 8 --format json); rg=$?
check "$ra $rb $rg" "0 0 0" "sampled and greedy runs exit 0"
check "$(nids "$a") $(nids "$b") $(nids "$g")" "8 8 8" "sampled and greedy runs give 8 ids each"
check "$a" "$b" "seeded sampling repeats"
if [ -n "$(ids_of "$a")" ] && [ "$(ids_of "$a")" != "$(ids_of "$g")" ]; then passed=$((passed+1)); else
  failed=$((failed+1)); echo "FAIL seeded sampling (temperature 1, top-k 50) differs from greedy: '$(ids_of "$a")' vs '$(ids_of "$g")'" >&2; fi
err=$("$BIN" generate -m /nonexistent-model --ids 1 2>&1 >/dev/null); rc=$?
check "$rc" "1" "missing model exit code"
case "$err" in *"snacrt generate: "*"/nonexistent-model"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL message: $err" >&2;; esac
"$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 1,x >/dev/null 2>&1; check "$?" "2" "bad --ids exit code"
# numeric options are checked, not read as 0
for bad in "--temperature x" "--top-p 1.5" "--top-k -1" "--max-tokens 0" "--seed abc" "--repetition-penalty 0" "--tp two"; do
  err=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 1 $bad 2>&1 >/dev/null); rc=$?
  check "$rc" "2" "bad value $bad exit code"
  case "$err" in *"bad value for ${bad%% *}"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL message for $bad: $err" >&2;; esac
done
# sampling flags change the draw but stay reproducible; text output prints the ids when there is no tokenizer
c=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 5,6,7 --max-tokens 8 --temperature 1 --top-p 0.9 \
    --repetition-penalty 1.3 --presence-penalty 0.5 --frequency-penalty 0.2 --seed 9 --format json); rc_c=$?
d=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 5,6,7 --max-tokens 8 --temperature 1 --top-p 0.9 \
    --repetition-penalty 1.3 --presence-penalty 0.5 --frequency-penalty 0.2 --seed 9 --format json); rc_d=$?
check "$rc_c $rc_d" "0 0" "sampling with penalties exits 0"
check "$c" "$d" "seeded sampling with penalties repeats"
check "$(nids "$c")" "8" "8 sampled ids"
if [ "$(ids_of "$c")" != "$(ids_of "$a")" ]; then passed=$((passed+1)); else
  failed=$((failed+1)); echo "FAIL the penalties and top-p change the draw: '$(ids_of "$c")' equals the plain sampled run" >&2; fi
out=$("$BIN" generate -m "$SRC/tests/data/llama/tiny-qwen2" --ids 2000,5 --max-tokens 4 --format text)
check "$out" "249 1462 249 1462" "text output without a tokenizer"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
