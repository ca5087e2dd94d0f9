#!/usr/bin/env bash
# test_tokenize_buckets.sh: the tokenizer's batches (#12 item 6). A mixed-length corpus made with sox (short and
# long recordings interleaved in key order) tokenized with one reader:
#  - with length buckets (default) and with --no-length-buckets: exit 0, byte-identical output sets (an item's
#    codes never depend on its batch mates), the summary's padding_fraction in [0, 1), lower with buckets than
#    without (one reader and batches taken only once the pool is full: the batches, so the padding, do not depend on
#    timing), gpu_busy_fraction null on the cpu;
#  - on --device cuda (the simulator in a cudasim build; skipped without a cuda device), three of the files: batches
#    through the submit/collect slots (pinned buffers, copy stream, events): byte-identical to the cpu,
#    gpu_busy_fraction in [0, 1] with its timer named (the simulator says its number is not a GPU's), the same
#    padding as the cpu; with two simulated GPUs (CUDASIM_DEVICES=2, one encoder thread per device) the same
#    output set as the cpu.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T"
mkdir -p c
for i in $(seq 0 15); do      # even: 0.20-0.34 s, odd: 1.60-1.74 s; 24 kHz and 16 kHz
  if [ $((i % 2)) = 0 ]; then dur=0.$((20 + i)); else dur=1.$((60 + i)); fi
  sox -n -r $([ $((i % 4)) -lt 2 ] && echo 24000 || echo 16000) c/r$(printf %02d $i).wav \
      synth $dur sine $((200 + 37 * i)) vol 0.4 2> /dev/null
done
OPT="-m $M --threads 1 --readers 1 --batch-seconds 8 --progress none"
sha() { (cd "$1" && sha256sum $(ls | sort)); }
field() { python3 -c "import json,sys; v=json.load(open('$1'))$2; print('null' if v is None else v)"; }

$S tokenize $OPT -o bk c > bk.json
check "length buckets: exit 0" "[ $? = 0 ]"
$S tokenize $OPT --no-length-buckets -o fifo c > fifo.json
check "arrival order: exit 0" "[ $? = 0 ]"
check "16 items each" "[ \$(field bk.json \"['items']\") = 16 ] && [ \$(field fifo.json \"['items']\") = 16 ]"
check "output sets byte-identical with and without buckets (batch invariance)" "sha bk | cmp -s - <(sha fifo)"
pb=$(field bk.json "['padding_fraction']"); pf=$(field fifo.json "['padding_fraction']")
echo "  padding_fraction: buckets $pb, arrival order $pf" >&2
check "padding_fraction in [0, 1) and lower with buckets" \
      "python3 -c 'import sys; b, f = $pb, $pf; sys.exit(not (0 <= b < 1 and 0 <= f < 1 and b < f))'"
check "per-device padding_fraction equals the total (one device)" \
      "[ \$(field bk.json \"['devices'][0]['padding_fraction']\") = $pb ]"
check "cpu: gpu_busy_fraction null, no gpu_busy_seconds" \
      "[ \$(field bk.json \"['gpu_busy_fraction']\") = null ] && ! grep -q gpu_busy_seconds bk.json"

# the simulator is slow: three files (two short, one long) on cuda against the cpu on the same files
mkdir -p c3 && cp c/r00.wav c/r01.wav c/r02.wav c3/
$S tokenize $OPT -o cpu3 c3 > cpu3.json
$S version > version.txt
$S tokenize $OPT --device cuda -o cu c3 > cu.json 2> err.txt
rc=$?
if no_cuda_device $rc err.txt; then
  echo "NOTE: no cuda device (simulator or GPU): --device cuda not tested: $(cat err.txt)" >&2
else
  check "cuda: exit 0" "[ $rc = 0 ]"
  check "cuda: output set byte-identical to the cpu" "sha cu | cmp -s - <(sha cpu3)"
  check "cuda: gpu_busy_fraction in [0, 1], timer named, per-device busy seconds, same padding as the cpu" "python3 - <<'PY'
import json, sys
s = json.load(open('cu.json'))
d = s['devices'][0]
print('  cuda: gpu_busy_fraction %s (%s), busy %s s of %s s wall' % (s['gpu_busy_fraction'], s['gpu_busy_timer'],
      d['gpu_busy_seconds'], s['wall_seconds']), file=sys.stderr)
ok = 0 <= s['gpu_busy_fraction'] <= 1 and d['gpu_busy_seconds'] > 0 and 0 <= d['gpu_busy_fraction'] <= 1
ok &= ('simulator' in s['gpu_busy_timer']) == ('cudasim on' in open('version.txt').read())
ok &= s['padding_fraction'] == json.load(open('cpu3.json'))['padding_fraction'] and s['items'] == 3
sys.exit(0 if ok else 1)
PY"
  # two simulated GPUs (one encoder thread each, which must make its device current): the same output set
  if grep -q 'cudasim on' version.txt; then
    mkdir -p c2 && cp c/r00.wav c/r02.wav c2/
    $S tokenize $OPT -o cpu2 c2 > /dev/null
    CUDASIM_DEVICES=2 $S tokenize $OPT --device cuda --batch-seconds 0.3 -o cu2 c2 > cu2.json 2> err2.txt
    rc2=$?
    check "two simulated GPUs: exit 0, two devices, byte-identical to the cpu" \
          "[ $rc2 = 0 ] && [ \$(field cu2.json \"['devices'][1]['device']\") = cuda:1 ] && sha cu2 | cmp -s - <(sha cpu2)"
  fi
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
