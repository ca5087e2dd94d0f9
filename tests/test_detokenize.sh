#!/usr/bin/env bash
# test_detokenize.sh: `snacrt detokenize` end to end. The codes of tests/data/speech/hello.wav (and of a 1.3 s cut
# of it) from `snacrt encode` go into a shard of each format (written by `test_ds_format --write-shard`); then
#  - with --batch 1 detokenize writes, per item, exactly the file `snacrt decode` writes for the same codes
#    (byte-identical WAV, s16 and f32, noise off and seeded); batched (items of different lengths in one decoder
#    call) the samples equal those within 1e-5 (f32) / 1 LSB (s16): the backend's batched GEMMs round differently;
#  - a folder of shards is read in sorted order, keys become safe unique file names, --keys/--limit select;
#  - tools/snac_shard_reader.py prints the same codes as the JSONL shard and as `snacrt encode`, for every format;
#  - the 44.1 kHz 4-level model through a bin shard;
#  - a missing or corrupt shard, an unknown key, a shard of another model: exit 1 naming the file or key.
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
S="$BIN/snacrt"
SN() { "$S" "$@" --threads 1; }   # one thread: the machine is shared and the models are tiny
W="$BIN/test_ds_format --write-shard"
# the interpreter itself (python3 may be a slow wrapper script, e.g. a pyenv shim)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)
READER="$PY $SRC/tools/snac_shard_reader.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
# same WAV format and length, samples within TOL (f32) or TOL LSBs (s16); prints the largest difference
close() { $PY - "$1" "$2" "$3" <<'PY'
import struct, sys
def samples(path):
    d = open(path, "rb").read()
    fmt = struct.unpack_from("<H", d, 20)[0]
    i = d.find(b"data")
    n = struct.unpack_from("<I", d, i + 4)[0]
    body = d[i + 8:i + 8 + n]
    return (fmt, struct.unpack("<%df" % (n // 4), body)) if fmt == 3 else (fmt, struct.unpack("<%dh" % (n // 2), body))
(fa, a), (fb, b) = samples(sys.argv[1]), samples(sys.argv[2])
worst = max((abs(x - y) for x, y in zip(a, b)), default=0)
print("  %s: %d samples, max diff %g" % (sys.argv[1].split("/")[-1], len(a), worst), file=sys.stderr)
sys.exit(0 if fa == fb and len(a) == len(b) and len(a) > 0 and worst <= float(sys.argv[3]) else 1)
PY
}

M24=$SRC/tests/data/snac/tiny24
M44=$SRC/tests/data/snac/tiny44
WAV=$SRC/tests/data/speech/hello.wav
$PY - "$WAV" "$T/short.wav" <<'PY'
import sys, wave
a = wave.open(sys.argv[1]); b = wave.open(sys.argv[2], "wb")
b.setparams(a.getparams()); b.writeframes(a.readframes(int(1.3 * a.getframerate()))); b.close()
PY
check "encode" "SN encode -m $M24 -o $T/c.json $WAV && SN encode -m $M24 -o $T/s.json $T/short.wav"
for F in f32 s16; do
  check "decode reference $F" "SN decode -m $M24 --sample-format $F -o $T/ref-$F.wav $T/c.json && SN decode -m $M24 --sample-format $F -o $T/refs-$F.wav $T/s.json"
done
for F in f32 s16; do
  check "decode reference noise $F" "SN decode -m $M24 --noise 5 --sample-format $F -o $T/ref-noise-$F.wav $T/c.json && SN decode -m $M24 --noise 5 --sample-format $F -o $T/refs-noise-$F.wav $T/s.json"
done
check "seeded noise changes the audio" "! cmp -s $T/ref-noise-f32.wav $T/ref-f32.wav"

# one shard per format: items hello (long) and "clips/short one#1" (short), then hello again under another key
KEYS='hello,clips/short one#1,again'
for FMT in jsonl csv bin; do
  mkdir -p $T/$FMT
  check "write $FMT shard" "$W $M24 $T/c.json,$T/s.json $FMT $T/$FMT shard-0 '$KEYS'"
done
check "shard files" "[ -f $T/jsonl/shard-0.jsonl ] && [ -f $T/csv/shard-0.csv ] && [ -f $T/bin/shard-0.bin ] && [ -f $T/bin/shard-0.idx ]"

for FMT in jsonl csv bin; do
  SH=$T/$FMT/shard-0.$FMT
  for F in f32 s16; do
    O=$T/out-$FMT-$F
    TOL=$([ $F = f32 ] && echo 1e-5 || echo 1)
    check "$FMT $F detokenize" "SN detokenize -m $M24 -o $O --sample-format $F $SH > $T/log"
    check "$FMT $F summary" "grep -q '3 items' $T/log"
    check "$FMT $F long item ~ decode" "close $O/hello.wav $T/ref-$F.wav $TOL"
    check "$FMT $F short item ~ decode (batched with longer ones)" "close '$O/clips_short_one_1.wav' $T/refs-$F.wav $TOL"
    check "$FMT $F third item" "close $O/again.wav $T/ref-$F.wav $TOL"
    check "$FMT $F only these files" "[ \$(ls $O | wc -l) = 3 ]"
  done
  # --batch 1: byte-identical to `snacrt decode`, s16 and f32, noise off and seeded
  for F in f32 s16; do
    for N in off 5; do
      O=$T/one-$FMT-$F-$N
      R=$([ $N = off ] && echo "" || echo "-noise")
      check "$FMT --batch 1 --sample-format $F --noise $N == decode" "SN detokenize -m $M24 -o $O --batch 1 --sample-format $F --noise $N $SH > /dev/null && cmp -s '$O/clips_short_one_1.wav' $T/refs$R-$F.wav && cmp -s $O/hello.wav $T/ref$R-$F.wav && cmp -s $O/again.wav $T/ref$R-$F.wav"
    done
  done
  # the python reader prints the codes of the encode
  check "$FMT python reader" "$READER $SH > $T/py-$FMT.jsonl && $PY - $T/py-$FMT.jsonl $T/c.json $T/s.json <<'PY'
import json, sys
items = [json.loads(l) for l in open(sys.argv[1])]
want = [json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))]
ok = len(items) == 3 and [i['key'] for i in items] == ['hello', 'clips/short one#1', 'again']
for k, it in enumerate(items):
    w = want[k % 2]
    ok = ok and it['codes'] == w['codes'] and it['n_samples'] == w['n_samples']
sys.exit(0 if ok else 1)
PY"
done
check "python reader: same output for all formats" "cmp -s $T/py-jsonl.jsonl $T/py-bin.jsonl && cmp -s $T/py-jsonl.jsonl $T/py-csv.jsonl"
check "python reader --index (seek)" "$READER --index 1 $T/bin/shard-0.idx > $T/py1 && [ \$(wc -l < $T/py1) = 1 ] && sed -n 2p $T/py-bin.jsonl | cmp -s - $T/py1"

# a folder: shards in sorted order, same keys made unique, the run's logs ignored
mkdir -p $T/dir
cp $T/jsonl/shard-0.jsonl $T/dir/b.jsonl; cp $T/bin/shard-0.bin $T/bin/shard-0.idx $T/dir/; cp $T/csv/shard-0.csv $T/dir/a.csv
echo '{"not":"a shard"}' > $T/dir/w00000-of00001.done.jsonl
echo 'junk' > $T/dir/x.jsonl.tmp
check "folder" "SN detokenize -m $M24 -o $T/out-dir $T/dir > $T/log && grep -q '9 items' $T/log && grep -q '3 shards' $T/log"
# sorted: a.csv, b.jsonl, shard-0.bin -> hello.wav from a.csv, hello-2 from b.jsonl, hello-3 from the bin shard
check "folder names unique" "[ \$(ls $T/out-dir | wc -l) = 9 ] && [ -f $T/out-dir/hello-3.wav ] && [ -f $T/out-dir/again-2.wav ] && [ -f '$T/out-dir/clips_short_one_1-3.wav' ]"
check "folder audio" "close $T/out-dir/hello-2.wav $T/ref-s16.wav 1 && close '$T/out-dir/clips_short_one_1-3.wav' $T/refs-s16.wav 1"
check "--keys" "SN detokenize -m $M24 -o $T/out-keys --keys 'again,clips/short one#1' $T/bin/shard-0.bin > /dev/null && [ \$(ls $T/out-keys | wc -l) = 2 ] && close $T/out-keys/again.wav $T/ref-s16.wav 1"
check "--limit" "SN detokenize -m $M24 -o $T/out-limit --limit 2 $T/jsonl/shard-0.jsonl $T/csv/shard-0.csv > /dev/null && [ \$(ls $T/out-limit | wc -l) = 2 ] && [ -f $T/out-limit/hello.wav ]"
check "flac output" "SN detokenize -m $M24 -o $T/out-flac --format flac --keys hello $T/jsonl/shard-0.jsonl > /dev/null && [ -f $T/out-flac/hello.flac ] && $PY -c 'import sys; d=open(sys.argv[1],\"rb\").read(4); sys.exit(d!=b\"fLaC\")' $T/out-flac/hello.flac"

# the 44.1 kHz 4-level model through a bin shard
check "44k encode + decode" "SN encode -m $M44 -o $T/c44.json $WAV && SN decode -m $M44 -o $T/ref44.wav $T/c44.json"
mkdir -p $T/b44
check "44k bin shard" "$W $M44 $T/c44.json bin $T/b44 s hello44 && SN detokenize -m $M44 -o $T/out44 $T/b44/s.bin > /dev/null && cmp -s $T/out44/hello44.wav $T/ref44.wav"
check "44k csv via python (default strides)" "mkdir -p $T/c44 && $W $M44 $T/c44.json csv $T/c44 s hello44 && $READER $T/c44/s.csv | $PY -c 'import json,sys; i=json.loads(sys.stdin.readline()); w=json.load(open(sys.argv[1])); sys.exit(i[\"codes\"]!=w[\"codes\"])' $T/c44.json"

# bad inputs: exit 1 and the file (or key) named
code() { "$@" > /dev/null 2> $T/err; echo $?; }
check "missing shard" "[ \$(code SN detokenize -m $M24 -o $T/x $T/nope.jsonl) = 1 ] && grep -q nope.jsonl $T/err"
L1=$(head -1 $T/jsonl/shard-0.jsonl | wc -c)
head -c $((L1 + 100)) $T/jsonl/shard-0.jsonl > $T/cut.jsonl
check "truncated jsonl" "[ \$(code SN detokenize -m $M24 -o $T/x $T/cut.jsonl) = 1 ] && grep -q 'cut.jsonl:2' $T/err"
mkdir -p $T/cutbin; cp $T/bin/shard-0.idx $T/cutbin/; head -c 1000 $T/bin/shard-0.bin > $T/cutbin/shard-0.bin
check "truncated bin" "[ \$(code SN detokenize -m $M24 -o $T/x $T/cutbin/shard-0.bin) = 1 ] && grep -q 'shard-0.bin' $T/err"
sed '2s/^{"key":"clips/{"key":"xclips/; 2s/"codes":\[\[[0-9]*,/"codes":[[9999,/' $T/jsonl/shard-0.jsonl > $T/bad.jsonl
check "out-of-range code" "[ \$(code SN detokenize -m $M24 -o $T/x $T/bad.jsonl) = 1 ] && grep -q 'bad.jsonl:2' $T/err && grep -q xclips $T/err"
check "unknown key" "[ \$(code SN detokenize -m $M24 -o $T/x --keys nokey $T/jsonl/shard-0.jsonl) = 1 ] && grep -q nokey $T/err"
check "other model" "[ \$(code SN detokenize -m $M44 -o $T/x $T/bin/shard-0.bin) = 1 ] && grep -q 'shard-0' $T/err"
check "python reader: truncated shard" "! $READER $T/cut.jsonl > /dev/null 2> $T/err && grep -q cut.jsonl $T/err"
check "python reader: truncated bin" "! $READER $T/cutbin/shard-0.bin > /dev/null 2> $T/err && grep -q shard-0.bin $T/err"
check "usage error is exit 2" "[ \$(code SN detokenize -m $M24 $T/jsonl/shard-0.jsonl) = 2 ]"
check "--keys with --limit is a usage error" "[ \$(code SN detokenize -m $M24 -o $T/x --keys a --limit 1 $T/jsonl/shard-0.jsonl) = 2 ]"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
