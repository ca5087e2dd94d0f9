#!/usr/bin/env bash
# test_cli_edges.sh: the CLI's rough edges a new user hits (issue 15, item 7): `snacrt --version` / `version`
# (version, commit, build options, BLAS); a folder of the wrong kind (a SNAC codec as -m of tts/generate, an LM as
# --codec or as -m of encode) names the flag and what the folder is; an "org/name" -m that does not exist says how
# to fetch it; "did you mean" for misspelled flags; a single-file -o into a missing folder names the folder; a batch
# -o folder is created with its parents. Each message is checked, and the exit code (1 runtime, 2 usage).
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"
LM=$SRC/tests/data/llama/tiny-orpheus
SNAC=$SRC/tests/data/snac/tiny24
WAV=$SRC/tests/data/speech/hello.wav
# check, with the failing command's stderr shown
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; [ -f "$T/err" ] && head -c 600 "$T/err" >&2; echo >&2; fi; }
# run CMD...: stdout to $T/out, stderr to $T/err, exit code in $rc
run() { "$@" > "$T/out" 2> "$T/err"; rc=$?; }

run "$S" --version
check "--version: exit 0, version and commit" "[ $rc = 0 ] && grep -Eq '^snacrt [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown)\)' $T/out"
check "--version: build options" "grep -Eq 'CUDA (on|off), cudasim (on|off), NCCL (on|off), MPI (on|off)' $T/out && grep -q '^BLAS: ' $T/out"
cp "$T/out" "$T/v1"
run "$S" version
check "version == --version" "[ $rc = 0 ] && cmp -s $T/out $T/v1"
run "$S" --help
check "help lists version" "grep -q 'version' $T/out"

# a SNAC folder where a language model is wanted, and the reverse
run "$S" tts -m "$SNAC" --codec "$SNAC" -o "$T/x.wav" "Hi"
check "tts -m SNAC folder" "[ $rc = 1 ] && grep -q -- '-m .*tiny24 is a SNAC codec folder' $T/err && grep -q 'language model folder' $T/err && grep -q -- '--codec' $T/err"
run "$S" tts -m "$LM" --codec "$LM" -o "$T/x.wav" "Hi"
check "tts --codec LM folder" "[ $rc = 1 ] && grep -q -- '--codec .*tiny-orpheus is a language model folder' $T/err && grep -q 'SNAC codec folder' $T/err"
run "$S" generate -m "$SNAC" --prompt hi
check "generate -m SNAC folder" "[ $rc = 1 ] && grep -q -- '-m .*is a SNAC codec folder' $T/err"
run "$S" encode -m "$LM" -o "$T/c.json" "$WAV"
check "encode -m LM folder" "[ $rc = 1 ] && grep -q -- '-m .*is a language model folder' $T/err && grep -q 'needs a SNAC codec folder' $T/err"
run "$S" serve -m "$SNAC" --codec "$SNAC" --port 0
check "serve -m SNAC folder" "[ $rc = 1 ] && grep -q -- '-m .*is a SNAC codec folder' $T/err"

# a Hugging Face repo id given as -m
run "$S" tts -m canopylabs/orpheus-3b-0.1-ft --codec "$SNAC" -o "$T/x.wav" "Hi"
check "repo id -m says how to fetch it" "[ $rc = 1 ] && grep -q 'canopylabs/orpheus-3b-0.1-ft: no such folder' $T/err && grep -q 'Hugging Face repo id' $T/err && grep -q 'weights/fetch.sh' $T/err"
run "$S" encode -m hubertsiuzdak/snac_24khz -o "$T/c.json" "$WAV"
check "repo id as encode -m" "[ $rc = 1 ] && grep -q 'weights/fetch.sh' $T/err"

# did you mean
run "$S" tts -m "$LM" --codec "$SNAC" --tempreature 0.5 -o "$T/x.wav" "Hi"
check "tts --tempreature: did you mean --temperature" "[ $rc = 2 ] && grep -q 'unknown option --tempreature (did you mean --temperature?)' $T/err"
run "$S" serve -m "$LM" --codec "$SNAC" --served-model-nme x
check "serve --served-model-nme" "[ $rc = 2 ] && grep -q 'did you mean --served-model-name?' $T/err"
run "$S" encode -m "$SNAC" --fromat npy "$WAV"
check "encode --fromat" "[ $rc = 2 ] && grep -q 'did you mean --format?' $T/err"
run "$S" decode -m "$SNAC" --xyzzy-plugh 1 x.json
check "no suggestion for a far-off flag" "[ $rc = 2 ] && grep -q 'unknown option --xyzzy-plugh$' $T/err"

# -o into a missing folder; batch -o folders are created
run "$S" encode -m "$SNAC" -o "$T/nope/deeper/c.json" "$WAV"
check "encode -o into a missing folder" "[ $rc = 1 ] && grep -q \"the folder $T/nope/deeper does not exist\" $T/err"
run "$S" tts -m "$LM" --codec "$SNAC" --max-tokens 14 -o "$T/missing/x.wav" "Hi"
check "tts -o into a missing folder" "[ $rc = 1 ] && grep -q \"the folder $T/missing does not exist\" $T/err"
echo '{"id": "a", "text": "Hi"}' > "$T/in.jsonl"
run "$S" tts -m "$LM" --codec "$SNAC" --max-tokens 14 --input "$T/in.jsonl" -o "$T/batch/out/dir"
check "tts batch creates -o with parents" "[ $rc = 0 ] && [ -f $T/batch/out/dir/a.wav ]"

echo "test_cli_edges: $pass passed, $fail failed"
[ "$fail" = 0 ]
