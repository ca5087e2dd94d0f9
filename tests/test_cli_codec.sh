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
# LAION variants (issue 15, item 10): 4097 or '#' before each frame, written on request and read back (also as
# hand-written text with the separators only between frames); a separated frame of the wrong size is refused
for F in laion-4097 laion-hash; do
  check "$F written" "$S encode -m $MD --format $F -o $T/c24.$F $SRC/tests/data/speech/hello.wav"
  check "$F decodes as laion" "$S decode -m $MD -o $T/$F.wav $T/c24.$F && cmp -s $T/$F.wav $T/laion24.wav"
done
check "laion-4097 has 4097 before each frame" "awk '{exit !(\$1==4097 && \$9==4097 && NF%8==0)}' $T/c24.laion-4097"
check "laion-hash has # before each frame" "awk '{exit !(\$1==\"#\" && \$9==\"#\" && NF%8==0)}' $T/c24.laion-hash"
awk '{for(i=1;i<=NF;i++){printf "%s%s", (i>1 && (i-1)%7==0) ? " # " : (i>1 ? " " : ""), $i}; print ""}' $T/c24.laion > $T/between.txt
check "'#' only between frames" "$S decode -m $MD -o $T/between.wav $T/between.txt && cmp -s $T/between.wav $T/laion24.wav"
echo "4097 1 2 3 4 5 6 7 4097 1 2 3 4 5 6" > $T/short.txt
echo "# 1 2 3 4 5 6 # 1 2 3 4 5 6 7" > $T/short2.txt
check "short first frame refused" "! $S decode -m $MD -o $T/x.wav $T/short2.txt 2> $T/err && grep -q \"frame 0 holds 6 codes between separators ('#')\" $T/err"
check "short separated frame refused" "! $S decode -m $MD -o $T/x.wav $T/short.txt 2> $T/err && grep -q 'frame holds 6 codes after its separator, a frame has 7' $T/err"
# an npy that does not hold every level of each frame is refused naming the expected shape
python3 - $T <<'PY'
import struct, sys
def npy(path, shape, vals):
    h = "{'descr': '<i4', 'fortran_order': False, 'shape': %s, }" % (shape,)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%di" % len(vals), *vals))
npy(sys.argv[1] + "/l0.npy", "(14,)", [1] * 14)            # level 0 only, a multiple of 7 codes
npy(sys.argv[1] + "/l01.npy", "(2, 3)", [1] * 6)           # levels 0 and 1 only
npy(sys.argv[1] + "/t.npy", "(7, 2)", [1] * 14)            # transposed
PY
for N in l0 l01 t; do
  check "npy $N refused naming the shape" "! $S decode -m $MD -o $T/x.wav $T/$N.npy 2> $T/err && grep -q 'expected shape (frames, 7)' $T/err"
done

# a 44.1 kHz stereo file is mixed and resampled
if command -v sox > /dev/null; then
  sox $SRC/tests/data/speech/hello.wav -r 44100 -c 2 $T/st.flac 2> /dev/null
  check "stereo 44.1k flac encodes" "$S encode -m $MD -o $T/st.json $T/st.flac && grep -q '\"n_samples\":70773' $T/st.json"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
