#!/usr/bin/env bash
# test_cli_codec.sh: end-to-end checks of `snacrt encode/decode/info` on the bundled speech sample with the
# tiny models: every codes format decodes to the same audio, laion/orpheus follow the depth-first frame order
# of the json codes, the output is cut to n_samples, and bad inputs fail with a message and exit code 1.
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
S=$BIN/snacrt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }

for M in tiny24 tiny44; do
  MD=$SRC/tests/data/snac/$M
  check "$M info" "$S info $MD > $T/info.json && grep -q '\"levels\"' $T/info.json"
  check "$M encode json" "$S encode -m $MD -o $T/c.json $SRC/tests/data/speech/hello.wav"
  check "$M encode laion" "$S encode -m $MD --format laion -o $T/c.laion $SRC/tests/data/speech/hello.wav"
  check "$M encode npy" "$S encode -m $MD --format npy -o $T/c.npy $SRC/tests/data/speech/hello.wav"
  for F in json laion npy; do
    check "$M decode $F" "$S decode -m $MD -o $T/$F.wav $T/c.$F"
  done
  # laion and npy carry no n_samples: full padded decode, whose head is the json (cut) decode
  check "$M npy == laion audio" "cmp -s $T/npy.wav $T/laion.wav"
  check "$M json audio is the head of laion audio" "python3 - $T/json.wav $T/laion.wav <<'PY'
import sys, wave
a = wave.open(sys.argv[1]); b = wave.open(sys.argv[2])
na, nb = a.getnframes(), b.getnframes()
fa, fb = a.readframes(na), b.readframes(nb)
sys.exit(0 if nb > na and fb[:len(fa)] == fa else 1)
PY"
  # depth-first order: rebuild the laion string from the json codes
  check "$M laion order" "python3 - $T/c.json $T/c.laion <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); codes = j['codes']
got = open(sys.argv[2]).read().split()
strides = [len(codes[-1]) // len(c) for c in codes]
out = []
def walk(level, idx):
    out.append(codes[level][idx])
    if level + 1 < len(codes):
        r = strides[level] // strides[level + 1]
        for k in range(r): walk(level + 1, idx * r + k)
for f in range(len(codes[0])): walk(0, f)
sys.exit(0 if list(map(int, got)) == out else 1)
PY"
  check "$M decode stdin" "$S decode -m $MD -o $T/stdin.wav - < $T/c.json && cmp -s $T/json.wav $T/stdin.wav"
done
MD=$SRC/tests/data/snac/tiny24
$S encode -m $MD -o $T/c.json $SRC/tests/data/speech/hello.wav && $S decode -m $MD -o $T/json.wav $T/c.json
$S decode -m $MD -o $T/laion.wav $T/c.laion 2>/dev/null
check "length cut to n_samples" "[ \"\$(soxi -s $T/json.wav 2>/dev/null || python3 -c 'import wave,sys;print(wave.open(sys.argv[1]).getnframes())' $T/json.wav)\" = 70773 ]"
$S encode -m $MD --format laion -o $T/c24.laion $SRC/tests/data/speech/hello.wav && $S decode -m $MD -o $T/laion24.wav $T/c24.laion
check "orpheus offsets" "$S encode -m $MD --format orpheus -o $T/c.orp $SRC/tests/data/speech/hello.wav && $S decode -m $MD -o $T/orp.wav $T/c.orp && cmp -s $T/orp.wav $T/laion24.wav"
check "orpheus first id range" "awk '{exit !(\$1>=128266 && \$1<128266+4096 && \$2>=128266+4096 && \$7>=128266+6*4096)}' $T/c.orp"
check "f32 output" "$S decode -m $MD --sample-format f32 -o $T/f.wav $T/c.json"
check "flac output" "$S decode -m $MD -o $T/f.flac $T/c.json"
check "seeded noise deterministic" "$S decode -m $MD --noise 7 -o $T/n1.wav $T/c.json && $S decode -m $MD --noise 7 -o $T/n2.wav $T/c.json && cmp -s $T/n1.wav $T/n2.wav && ! cmp -s $T/n1.wav $T/json.wav"
# bad inputs: exit code 1 and a message naming the input
echo "1 2 3" > $T/bad.laion
check "bad length rejected" "! $S decode -m $MD -o $T/x.wav $T/bad.laion 2> $T/err && grep -q 'bad.laion' $T/err"
echo "0 0 0 0 0 0 999" > $T/bad2.laion
check "out-of-range code rejected" "! $S decode -m $MD -o $T/x.wav $T/bad2.laion 2> $T/err && grep -q 'outside' $T/err"
echo '{"codes":[[1],[1,2,3],[1,2,3,4]]}' > $T/bad.json
check "inconsistent levels rejected" "! $S decode -m $MD -o $T/x.wav $T/bad.json 2> $T/err && grep -q 'level 1' $T/err"
echo 'not audio' > $T/bad.wav
check "non-audio rejected" "! $S encode -m $MD $T/bad.wav 2> $T/err && grep -q 'bad.wav' $T/err"
check "missing model rejected" "! $S encode -m $T/nope $SRC/tests/data/speech/hello.wav 2> $T/err && grep -q 'nope' $T/err"
check "usage error is exit 2" "$S encode > /dev/null 2>&1; [ \$? = 2 ]"
# a 44.1 kHz stereo file is mixed and resampled
if command -v sox > /dev/null; then
  sox $SRC/tests/data/speech/hello.wav -r 44100 -c 2 $T/st.flac 2> /dev/null
  check "stereo 44.1k flac encodes" "$S encode -m $MD -o $T/st.json $T/st.flac && grep -q '\"n_samples\":70773' $T/st.json"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
