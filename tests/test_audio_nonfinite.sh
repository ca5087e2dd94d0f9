#!/usr/bin/env bash
# test_audio_nonfinite.sh: non-finite and absurd samples in the CLI (issue #17 item 7). A float WAV with a NaN at
# sample 2500 and one with 3e38 at sample 100: `snacrt encode` fails naming the file and the sample; with
# --allow-nonfinite it succeeds, says how many samples it zeroed, and its codes equal those of the same file with
# zeros written in. `snacrt tokenize` sends both files to errors.jsonl (file and sample named) and encodes the good
# one; with --allow-nonfinite all three are items and the summary counts the zeroed samples.
# Also --max-seconds of encode refuses a longer file from its header.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T" || exit 1
mkdir in
python3 - <<'PY'
import math, struct
def fwav(path, x, rate=24000):
    data = struct.pack(f"<{len(x)}f", *x)
    head = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32)
    open(path, "wb").write(head + b"data" + struct.pack("<I", len(data)) + data)
x = [0.3 * math.sin(2 * math.pi * 220 * i / 24000) for i in range(12000)]
fwav("in/good.wav", x)
y = list(x); y[2500] = float("nan"); fwav("in/nan.wav", y)
y = list(x); y[2500] = 0.0; fwav("nan_zeroed.wav", y)
y = list(x); y[100] = 3e38; fwav("in/huge.wav", y)
PY
$S encode -m $M in/nan.wav > nan.json 2> nan.err; rc=$?
check "encode of a NaN file fails" "[ $rc -ne 0 ]"
check "encode names the file and the sample" "grep -q 'in/nan.wav: sample 2500 ' nan.err"
$S encode -m $M in/huge.wav > huge.json 2> huge.err; rc=$?
check "encode of a 3e38 file fails" "[ $rc -ne 0 ] && grep -q 'in/huge.wav: sample 100 ' huge.err"
$S encode -m $M --allow-nonfinite in/nan.wav > nan_allowed.json 2> nan_allowed.err; rc=$?
check "encode --allow-nonfinite succeeds" "[ $rc -eq 0 ] && grep -q '1 non-finite or absurd samples read as 0' nan_allowed.err"
$S encode -m $M nan_zeroed.wav > zeroed.json
check "encode --allow-nonfinite = the file with a zero written" "cmp -s nan_allowed.json zeroed.json"
$S encode -m $M --max-seconds 0.4 in/good.wav > /dev/null 2> long.err; rc=$?
check "encode --max-seconds refuses from the header" "[ $rc -ne 0 ] && grep -q 'the header announces 12000 frames' long.err"

$S tokenize -m $M -o out --threads 1 --progress none in > summary.json 2> tok.err; rc=$?
check "tokenize exits 0" "[ $rc -eq 0 ]"
check "tokenize: nan.wav and huge.wav in errors.jsonl with the sample" \
  "grep -q 'nan.wav: sample 2500 ' out/errors.jsonl && grep -q 'huge.wav: sample 100 ' out/errors.jsonl && [ \$(wc -l < out/errors.jsonl) -eq 2 ]"
check "tokenize: 1 item" "python3 -c 'import json,sys; s=json.load(open(\"summary.json\")); sys.exit(not (s[\"items\"] == 1 and s[\"errors\"] == 2))'"
$S tokenize -m $M -o out2 --threads 1 --progress none --allow-nonfinite in > summary2.json 2> tok2.err; rc=$?
check "tokenize --allow-nonfinite: 3 items, 2 zeroed samples, no errors" \
  "[ $rc -eq 0 ] && python3 -c 'import json,sys; s=json.load(open(\"summary2.json\")); sys.exit(not (s[\"items\"] == 3 and s[\"errors\"] == 0 and s[\"nonfinite_samples_replaced\"] == 2))'"
echo "test_audio_nonfinite: $pass passed, $fail failed"
[ $fail -eq 0 ]
