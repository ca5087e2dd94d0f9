#!/usr/bin/env bash
# test_tokenize_long.sh: long recordings (tests/data/snac/tiny24).
#  - Exactness: a ~20 s speech recording (24 kHz mono WAV, and the same as 44.1 kHz stereo FLAC, which is
#    resampled while it streams) tokenized with --chunk-seconds 2 (so it is decoded block by block into the
#    push-mode chunked encoder) has exactly the codes and n_samples of `snacrt encode` of the whole file, and of a
#    tokenize run with a chunk longer than the file (the batched path). With --max-seconds 8 --chunk-seconds 2 the
#    segments longer than a chunk go through the chunked encoder too, and equal `snacrt encode` of the cut audio.
#    The summary's per-device chunked_items shows which path ran: every item of the --chunk-seconds 2 run and the
#    segments longer than a chunk went through the chunked encoder, none of the --chunk-seconds 100 run did.
#  - Flat memory: 48 kHz stereo 16-bit noise + tone of 3 and 9 minutes (sox) tokenized with --chunk-seconds 5: the
#    peak RSS (summary's peak_rss_mb, getrusage) must not grow with the length (9 min within 12 MB of 3 min) and
#    its growth over a 1 s recording's peak (the process's own baseline: libraries, the CUDA runtime where it is
#    linked, the model) must stay below what merely holding the file would take (the 9 min file decoded as float
#    is 207 MB stereo at 48 kHz, 52 MB mono at 24 kHz; a whole-file encode would also need ~1.2 GB of tiny24
#    encoder activations). Only growth with length is asserted, never an absolute figure of one build.
#    The same holds for the recording as the audio member of a WebDataset tar (decoded through a window of the
#    archive, never read whole: the 9 min member alone is 103 MB), with the same codes as the file.
#    The peaks and the extrapolation to a 2 h file are printed.
#  - The full-size snac_24khz model (tools/make_snac_model, random weights) with the default chunk (from the
#    --memory-mb budget, ~22 s): a 70 s recording peaks less than 800 MB above the 1 s baseline (60 s chunks took
#    1.3 GB).
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
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
# items through the push-mode chunked encoder, summed over the devices of a summary
chunked() { python3 -c "import json,sys; print(sum(d['chunked_items'] for d in json.load(open(sys.argv[1]))['devices']))" "$1"; }
check "--chunk-seconds 2: both items went through the chunked encoder ($(chunked chunked.json))" "[ \"$(chunked chunked.json)\" = 2 ]"
check "--chunk-seconds 100: no item went through the chunked encoder ($(chunked whole.json))" "[ \"$(chunked whole.json)\" = 0 ]"
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
check "segments longer than a chunk went through the chunked encoder ($(chunked seg.json) of $nseg)" \
      "[ \"$(chunked seg.json)\" -ge 1 ]"

# ---- flat memory
peak() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peak_rss_mb'])" "$1"; }
mkdir -p mem
# the baseline: a 1 s recording's peak (libraries, runtimes, model, one chunk's buffers)
sox -n -r 48000 -c 2 -b 16 mem/short.wav synth 1 whitenoise sine 220 vol 0.3
$S tokenize $OPT --chunk-seconds 5 -o mem_short mem/short.wav > mem_short.json
check "1 s baseline run exits 0" "[ $? = 0 ]"
rm -f mem/short.wav
for min in 3 9; do
  sox -n -r 48000 -c 2 -b 16 mem/long$min.wav synth ${min}:00 whitenoise sine 220 vol 0.3   # noise left, tone right
  $S tokenize $OPT --chunk-seconds 5 -o mem_out$min mem/long$min.wav > mem$min.json
  check "$min min run exits 0" "[ $? = 0 ]"
  # the same recording as the audio member of a WebDataset tar (with a .txt sidecar): read through a window of
  # the archive, never whole
  echo "a long member" > mem/long$min.txt
  (cd mem && tar cf ../long$min.tar long$min.wav long$min.txt)
  rm -f mem/long$min.wav mem/long$min.txt
  $S tokenize $OPT --chunk-seconds 5 -o tar_out$min long$min.tar > tar$min.json
  check "$min min tar member run exits 0" "[ $? = 0 ]"
  check "$min min tar member: same codes as the file, sidecar passed through" "python3 - $min <<'PY'
import json, sys
m = sys.argv[1]
a = [json.loads(l) for l in open('mem_out%s/index.items.jsonl' % m)]
b = [json.loads(l) for l in open('tar_out%s/index.items.jsonl' % m)]
it = json.loads(open('tar_out%s/w00000-of00001-s000000.jsonl' % m).readline())
ok = len(a) == len(b) == 1 and a[0]['codes_hash'] == b[0]['codes_hash'] and a[0]['n_samples'] == b[0]['n_samples']
sys.exit(0 if ok and it.get('text') == 'a long member' and it['key'] == 'long' + m else 1)
PY"
  rm -f long$min.tar
done
P0=$(peak mem_short.json); P3=$(peak mem3.json); P9=$(peak mem9.json); T3=$(peak tar3.json); T9=$(peak tar9.json)
echo "peak RSS: 1 s $P0 MB (baseline), 3 min $P3 MB, 9 min $P9 MB; growth per minute $(python3 -c "print(round(($P9 - $P3) / 6, 3))") MB;" \
     "extrapolated 2 h peak $(python3 -c "print(round(max($P3, $P9) + max(0, $P9 - $P3) / 6 * 111, 1))") MB (holding a 2 h file: 2765 MB stereo float at 48 kHz)"
echo "tar member peak RSS: 3 min $T3 MB, 9 min $T9 MB (the 9 min member is 103 MB)"
if ldd "$S" 2> /dev/null | grep -q libasan; then
  echo "NOTE: AddressSanitizer build (its quarantine holds freed memory): peak RSS limits not checked"
else
  check "peak RSS does not grow with the length" "python3 -c \"import sys; sys.exit(0 if $P9 < $P3 + 12 else 1)\""
  check "peak RSS over the 1 s baseline below the decoded file (52 MB mono at 24 kHz for 9 min)" \
        "python3 -c \"import sys; sys.exit(0 if $P9 - $P0 < 52 else 1)\""
  check "tar member: peak RSS does not grow with the length" "python3 -c \"import sys; sys.exit(0 if $T9 < $T3 + 12 else 1)\""
  check "tar member: peak RSS over the 1 s baseline below the member's bytes (103 MB for 9 min) and the decoded audio (52 MB)" \
        "python3 -c \"import sys; sys.exit(0 if $T9 - $P0 < 52 else 1)\""
fi
# ---- the full-size snac_24khz model (random weights): the default chunk comes from the memory budget, so a
# recording longer than any chunk (70 s: chunked in ~22 s spans) peaks well below 1 GiB (60 s chunks took 1.3 GB)
if [ -x "$BIN/make_snac_model" ] && "$BIN/make_snac_model" 24khz full24 > /dev/null; then
  sox -n -r 24000 -c 1 -b 16 mem/full70.wav synth 70 whitenoise sine 220 vol 0.3
  $S tokenize -m full24 --progress none -o full_out mem/full70.wav > full.json
  check "full-size model run exits 0" "[ $? = 0 ]"
  echo "full-size snac_24khz, 70 s: $(python3 -c "import json; s=json.load(open('full.json')); print('chunk', round(s['stages']['chunk_seconds'], 2), 's, batch', round(s['stages']['batch_seconds'], 2), 's, peak RSS', round(s['peak_rss_mb']), 'MB')")"
  check "full-size model: default chunk from the memory budget (15..30 s), batch <= 20 s" "python3 -c \"import json,sys; s=json.load(open('full.json'))['stages']; sys.exit(0 if 15 <= s['chunk_seconds'] <= 30 and s['batch_seconds'] <= 20 else 1)\""
  if ! ldd "$S" 2> /dev/null | grep -q libasan; then
    check "full-size model: peak RSS of a 70 s recording < 800 MB over the 1 s baseline (the default budget's ~0.6 GB)" \
          "python3 -c \"import json,sys; sys.exit(0 if json.load(open('full.json'))['peak_rss_mb'] - $P0 < 800 else 1)\""
  fi
  rm -rf mem/full70.wav full_out full24
else
  check "make_snac_model (next to snacrt) makes the full-size 24khz model" false
fi
check "9 min item has 9 min of samples" "python3 -c \"import json,sys; sys.exit(0 if json.load(open('mem_out9/index.items.jsonl'))['n_samples'] == 9*60*24000 else 1)\""
echo "$pass passed, $fail failed"
[ $fail = 0 ]
