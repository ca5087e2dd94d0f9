#!/usr/bin/env bash
# test_tokenize_workers.sh: scale-out and multi-device. The same inputs (a folder of 24 recordings at several rates,
# a WebDataset tar, a CSV manifest, two bad files) tokenized
#  - by one worker (the reference);
#  - by two workers (--shard-index 0/1 --num-shards 2, run at the same time into one folder) + `snacrt merge-index`:
#    same items_digest and totals in index.json, the same index.items.jsonl apart from shard names, the same
#    errors.jsonl, the same codes per key when the shards are read back, no file name shared by the two workers;
#  - by one worker with two encoder workers (--device cpu,cpu: batches go to either): both encoders got batches
#    (the summary's per-device counts), and the output set is byte-identical to the reference (codes never depend
#    on batch mates or on which encoder ran them);
#  - the tar and the manifest by one --device cuda worker (the simulator in a cudasim build; skipped when the build
#    has no cuda device): byte-identical to the cpu encoder.
# merge-index on the reference rewrites the same index; it refuses (exit 1, nothing written) when a shard file or a
# worker is missing, or a worker is unfinished (a planned shard not in its done-log).
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T"
mkdir -p c/x c/y wds man
RATES=(16000 22050 24000 44100 48000 8000)
for i in $(seq 0 23); do
  d=$((3 + i * 7 % 12)); dur="$((d / 10)).$((d % 10))"
  sox -n -r ${RATES[$((i % 6))]} -c $((1 + i % 2)) c/$([ $((i % 3)) = 0 ] && echo x || echo y)/r$(printf %02d $i).wav \
      synth $dur sine $((150 + 31 * i)) sine $((900 - 17 * i)) vol 0.4 2> /dev/null
done
: > c/x/empty.wav
head -c 2000 c/y/r01.wav > c/y/cut.wav
for i in $(seq 0 5); do
  sox -n -r 32000 wds/k$i.flac synth 0.$((4 + i)) sine $((400 + 60 * i)) 2> /dev/null
  printf '{"speaker":"s%d"}' $i > wds/k$i.json
done
(cd wds && tar cf ../set.tar $(ls | sort))
sox -n -r 22050 man/a.wav synth 0.7 sine 500 2> /dev/null
sox -n -r 22050 man/b.wav synth 0.9 sine 700 2> /dev/null
printf 'audio,text\na.wav,alpha\nb.wav,beta\n' > man/list.csv
IN="c set.tar man/list.csv"
OPT="-m $M --shard-size 4 --threads 1 --progress none"

$S tokenize $OPT -o one $IN > one.json
check "one worker exits 0" "[ $? = 0 ]"
$S tokenize $OPT -o two --shard-index 0 --num-shards 2 $IN > w0.json &
p0=$!
$S tokenize $OPT -o two --shard-index 1 --num-shards 2 $IN > w1.json
r1=$?
wait $p0
r0=$?
check "two workers exit 0" "[ $r0 = 0 ] && [ $r1 = 0 ]"
check "workers do not write the index themselves" "[ ! -e two/index.json ]"
$S merge-index two > merge.json
check "merge-index exits 0" "[ $? = 0 ]"
check "worker file names never collide (w00000-of00002-* vs w00001-of00002-*)" \
      "[ \$(ls two | grep -c '^w00000-of00002') -gt 2 ] && [ \$(ls two | grep -c '^w00001-of00002') -gt 2 ]"
check "same items digest, totals, items and errors as one worker" "python3 - <<'PY'
import json, sys
a, b = json.load(open('one/index.json')), json.load(open('two/index.json'))
ok = a['items_digest'] == b['items_digest'] and a['totals']['items'] == b['totals']['items'] > 0 \
     and a['totals']['errors'] == b['totals']['errors'] == 2 and a['totals']['audio_samples'] == b['totals']['audio_samples']
strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != 'shard'} for l in open(p)]
ok &= strip('one/index.items.jsonl') == strip('two/index.items.jsonl')
ok &= open('one/errors.jsonl').read() == open('two/errors.jsonl').read()
ok &= b['num_workers'] == 2 and len(set(s['worker'] for s in b['shards'])) == 2
sys.exit(0 if ok else 1)
PY"
check "same codes per key read back from the shards" "python3 - <<'PY'
import json, os, sys
sys.path.insert(0, os.path.join('$SRC', 'tools'))
from snac_shard_reader import open_shard
def load(d):
    items = {}
    for s in json.load(open(d + '/index.json'))['shards']:
        for it in open_shard(os.path.join(d, s['files'][0])):
            items[it['key']] = (it['codes'], it['n_samples'], it['source'])
    return items
a, b = load('one'), load('two')
sys.exit(0 if a == b and len(a) == 32 else 1)
PY"
check "merge summary" "grep -q '\"workers\":2' merge.json && grep -q '\"errors\":2' merge.json"

# merge-index on one worker's folder rewrites the same index
sha() { (cd "$1" && sha256sum $(ls | sort)); }
sha one > one.sha
$S merge-index one > /dev/null
check "merge-index of a finished single run is idempotent" "sha one | cmp -s - one.sha"

# broken folders: nothing written, exit 1, the problem named
cp -r two broken
rm broken/index.json
rm "broken/$(ls broken | grep '^w00001-of00002-s' | head -1)"
$S merge-index broken > /dev/null 2> err.txt
check "missing shard file: exit 1 naming it" "[ $? = 1 ] && grep -q 'missing' err.txt && [ ! -e broken/index.json ]"
cp -r two lonely
rm lonely/w00000-of00002.*
$S merge-index lonely > /dev/null 2> err.txt
check "missing worker: exit 1 naming it" "[ $? = 1 ] && grep -q 'w00000-of00002' err.txt"
# an unfinished worker (killed before its last shard was committed: the done-log lacks it) is refused too
cp -r two unfinished
rm unfinished/index.json
head -n -1 unfinished/w00001-of00002.done.jsonl > part.tmp && mv part.tmp unfinished/w00001-of00002.done.jsonl
$S merge-index unfinished > /dev/null 2> err.txt
check "unfinished worker: exit 1 naming the uncommitted shard, nothing written" \
      "[ $? = 1 ] && grep -q 'w00001-of00002-s.* is not committed' err.txt && [ ! -e unfinished/index.json ]"

# two encoder workers in one run: byte-identical output set
$S tokenize $OPT --device cpu,cpu --batch-seconds 1 -o dual $IN > dual.json
check "--device cpu,cpu exits 0 with two devices in the summary" "[ $? = 0 ] && python3 -c \"import json,sys; s=json.load(open('dual.json')); sys.exit(0 if len(s['devices'])==2 else 1)\""
check "--device cpu,cpu: output set byte-identical to one encoder" "sha dual | cmp -s - one.sha"
check "--device cpu,cpu: both encoders got batches (summary's per-device batches and items)" "python3 - <<'PY'
import json, sys
s = json.load(open('dual.json'))
d = s['devices']
print('  per device: ' + ', '.join('%s %d batches %d items' % (x['device'], x['batches'], x['items']) for x in d), file=sys.stderr)
sys.exit(0 if len(d) == 2 and all(x['batches'] >= 1 and x['items'] >= 1 for x in d) and sum(x['items'] for x in d) == s['items'] else 1)
PY"
# --device cuda (the simulator in a cudasim build, a GPU in an nvcc build; skipped without either): a small subset,
# byte-identical to the cpu encoder's output set
$S tokenize $OPT -o sub_cpu set.tar man/list.csv > /dev/null
$S tokenize $OPT --device cuda -o sub_cuda set.tar man/list.csv > sub_cuda.json 2> err.txt
rc=$?
if no_cuda_device $rc err.txt; then
  echo "NOTE: no cuda device (simulator or GPU): --device cuda not tested: $(cat err.txt)" >&2
else
  check "--device cuda exits 0 on a cuda device" "[ $rc = 0 ] && grep -q '\"device\":\"cuda:0\"' sub_cuda.json"
  check "--device cuda: output set byte-identical to the cpu encoder" "sha sub_cuda | cmp -s - <(sha sub_cpu)"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
