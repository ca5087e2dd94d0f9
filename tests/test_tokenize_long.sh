#!/usr/bin/env bash
# test_tokenize_long.sh: long recordings (tests/data/snac/tiny24).
#  - Exactness: a ~20 s speech recording (24 kHz mono WAV, and the same as 44.1 kHz stereo FLAC, which is
#    resampled while it streams) tokenized with --chunk-seconds 2 (so it is decoded block by block into the
#    push-mode chunked encoder) has exactly the codes and n_samples of `snacrt encode` of the whole file, and of a
#    tokenize run with a chunk longer than the file (the batched path). With --max-seconds 8 --chunk-seconds 2 the
#    segments longer than a chunk go through the chunked encoder too, and equal `snacrt encode` of the cut audio.
#  - Flat memory: 48 kHz stereo 16-bit noise + tone of 3 and 9 minutes (sox) tokenized with --chunk-seconds 5: the
#    peak RSS (summary's peak_rss_mb, getrusage) must not grow with the length (9 min within 12 MB of 3 min) and
#    must stay below what merely holding the file would take (the 9 min file decoded as float is 207 MB stereo at
#    48 kHz, 52 MB mono at 24 kHz; a whole-file encode would also need ~1.2 GB of tiny24 encoder activations).
#    The peaks and the extrapolation to a 2 h file are printed.
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
S=$BIN/snacrt
M=$SRC/tests/data/snac/tiny24
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
cd "$T"
mkdir -p long
espeak-ng -w p1.wav "A long recording is read in blocks, resampled while it streams, and encoded in overlapped chunks."
espeak-ng -w p2.wav "Its codes must equal those of the whole file, and memory must stay flat."
sox -n -r 22050 -c 1 sil.wav trim 0 0.5
sox p1.wav sil.wav p2.wav sil.wav p1.wav sil.wav p2.wav -r 24000 long/speech24.wav
sox long/speech24.wav -r 44100 -c 2 long/speech44_stereo.flac
echo "durations: $(soxi -D long/speech24.wav) s"
OPT="-m $M --threads 1 --progress none"
$S tokenize $OPT --chunk-seconds 2 -o chunked long > chunked.json
check "chunked run exits 0" "[ $? = 0 ]"
$S tokenize $OPT --chunk-seconds 100 -o whole long > whole.json
check "whole-item run exits 0" "[ $? = 0 ]"
for f in speech24.wav speech44_stereo.flac; do
  $S encode -m $M --threads 1 -o ref_$f.json long/$f
  check "$f: chunked codes == snacrt encode == batched path" "python3 - $f <<'PY'
import json, sys
key = sys.argv[1]
ref = json.load(open('ref_%s.json' % key))
def item(d):
    for l in open(d + '/w00000-of00001-s000000.jsonl'):
        it = json.loads(l)
        if it['key'] == key: return it
a, b = item('chunked'), item('whole')
sys.exit(0 if a['codes'] == ref['codes'] == b['codes'] and a['n_samples'] == ref['n_samples'] == b['n_samples'] else 1)
PY"
done
$S tokenize $OPT --chunk-seconds 2 --max-seconds 8 -o seg long/speech24.wav > seg.json
check "segmented + chunked run exits 0" "[ $? = 0 ]"
segbad=0; nseg=0
while read -r key off n; do
  nseg=$((nseg + 1))
  sox long/speech24.wav cut.wav trim ${off}s ${n}s
  $S encode -m $M --threads 1 -o cut.json cut.wav
  python3 - "$key" <<'PY' || segbad=$((segbad + 1))
import json, sys
ref = json.load(open('cut.json'))
for l in open('seg/w00000-of00001-s000000.jsonl'):
    it = json.loads(l)
    if it['key'] == sys.argv[1]:
        sys.exit(0 if it['codes'] == ref['codes'] and it['n_samples'] == ref['n_samples'] else 1)
sys.exit(1)
PY
done < <(python3 -c "
import json
for l in open('seg/w00000-of00001-s000000.jsonl'):
    it = json.loads(l); print(it['key'], it['offset'], it['n_samples'])")
check "segments (>= 3, longer than a chunk) equal snacrt encode of the cut audio" "[ $nseg -ge 3 ] && [ $segbad = 0 ]"

# ---- flat memory
peak() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peak_rss_mb'])" "$1"; }
mkdir -p mem
for min in 3 9; do
  sox -n -r 48000 -c 2 -b 16 mem/long$min.wav synth ${min}:00 whitenoise sine 220 vol 0.3   # noise left, tone right
  $S tokenize $OPT --chunk-seconds 5 -o mem_out$min mem/long$min.wav > mem$min.json
  check "$min min run exits 0" "[ $? = 0 ]"
  rm -f mem/long$min.wav
done
P3=$(peak mem3.json); P9=$(peak mem9.json)
echo "peak RSS: 3 min $P3 MB, 9 min $P9 MB; growth per minute $(python3 -c "print(round(($P9 - $P3) / 6, 3))") MB;" \
     "extrapolated 2 h peak $(python3 -c "print(round(max($P3, $P9) + max(0, $P9 - $P3) / 6 * 111, 1))") MB (holding a 2 h file: 2765 MB stereo float at 48 kHz)"
if ldd "$S" 2> /dev/null | grep -q libasan; then
  echo "NOTE: AddressSanitizer build (its quarantine holds freed memory): peak RSS limits not checked"
else
  check "peak RSS does not grow with the length" "python3 -c \"import sys; sys.exit(0 if $P9 < $P3 + 12 else 1)\""
  check "peak RSS below the decoded file (52 MB mono at 24 kHz for 9 min)" "python3 -c \"import sys; sys.exit(0 if $P9 < 52 else 1)\""
fi
check "9 min item has 9 min of samples" "python3 -c \"import json,sys; sys.exit(0 if json.load(open('mem_out9/index.items.jsonl'))['n_samples'] == 9*60*24000 else 1)\""
echo "$pass passed, $fail failed"
[ $fail = 0 ]
