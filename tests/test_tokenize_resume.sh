#!/usr/bin/env bash
# test_tokenize_resume.sh: kill -9 at random moments, then `--resume`, gives byte-for-byte the output set of an
# uninterrupted run. Corpus (made here with sox): 72 short recordings at 16/22.05/44.1/48 kHz, mono and stereo,
# WAV and FLAC, a WebDataset tar of 12 samples with .txt sidecars, two bad files; small shards (--shard-size 3) so
# a run commits 29 shards. 5 seeded trials: each starts a run and kills it with SIGKILL at a random point (once a
# random number of shards is committed, plus a random part of a shard's time; the odd trials kill the resumed run
# a second time), then resumes to the end and compares the sorted sha256 list of every file in the output folder
# (shards, plan, done-log, index.json, index.items.jsonl, errors.jsonl) with the reference. At least one kill must
# land mid-run (the killed run had committed a shard and not the last); kills during start-up are counted apart.
# Also: no temp file is left behind. --threads 1: the tiny model gains nothing from more, and a loaded machine's
# OpenMP barriers lose. SNACRT_DS_COMMIT_PAUSE_MS=20 widens each shard's crash windows so a shard takes at least
# 40 ms on any machine: the kills land inside runs however fast the machine is.
set -u
export SNACRT_DS_COMMIT_PAUSE_MS=20
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T"
mkdir -p c/a c/b wds
RATES=(16000 22050 44100 48000)
for i in $(seq 0 71); do
  r=${RATES[$((i % 4))]}; ch=$((1 + i % 2)); ext=$([ $((i % 3)) = 0 ] && echo flac || echo wav)
  d=$((4 + i * 37 % 11)); dur="$((d / 10)).$((d % 10))"
  f=$((200 + i * 23))
  sox -n -r $r -c $ch c/$([ $((i % 2)) = 0 ] && echo a || echo b)/rec$(printf %03d $i).$ext \
      synth $dur sine $f sine $((f * 3 / 2)) tremolo 3 40 vol 0.5 2> /dev/null
done
: > c/a/empty.wav
echo "not audio" > c/b/text.wav
for i in $(seq 0 11); do
  sox -n -r 24000 wds/s$(printf %02d $i).wav synth 0.$((3 + i % 6)) sine $((300 + 50 * i)) 2> /dev/null
  echo "sample $i" > wds/s$(printf %02d $i).txt
done
(cd wds && tar cf ../samples.tar $(ls | sort))
RUN="$S tokenize -m $M --shard-size 3 --readers 2 --batch-seconds 2 --threads 1 --progress none c samples.tar"

t0=$(date +%s.%N)
$RUN -o ref > ref.json
check "reference run exits 0" "[ $? = 0 ]"
t1=$(date +%s.%N)
REF_T=$(python3 -c "print($t1 - $t0)")
N_SHARDS=$(python3 -c "import json; print(json.load(open('ref.json'))['shards'])")
echo "reference run: ${REF_T}s, $N_SHARDS shards"
sha() { (cd "$1" && sha256sum $(ls | sort)); }
sha ref > ref.sha

midrun=0; startup=0
for trial in 1 2 3 4 5; do
  rm -rf out
  kills=$((1 + trial % 2))
  for k in $(seq 1 $kills); do
    before=$(count_lines out/w00000-of00001.done.jsonl)
    # a random point: once `target` shards are committed (0: during start-up), plus a random part of a shard's time
    read -r target extra <<< "$(python3 -c "
import random; random.seed($trial * 100 + $k)
print(random.randint(0, $N_SHARDS - 2), round(random.uniform(0, 1.5 * $REF_T / $N_SHARDS), 3))")"
    kill_after_lines out/w00000-of00001.done.jsonl "$target" "$extra" $RUN -o out --resume
    done_lines=$(count_lines out/w00000-of00001.done.jsonl)
    # mid-run: this run committed at least one shard and was killed before the last; a kill before its first
    # commit (start-up: planning, the model, the first batches) is counted apart
    if [ "$done_lines" -gt "$before" ] && [ "$done_lines" -lt "$N_SHARDS" ]; then what=mid-run; midrun=$((midrun + 1))
    elif [ "$done_lines" -lt "$N_SHARDS" ]; then what=start-up; startup=$((startup + 1))
    else what="after the end"; fi
    echo "trial $trial kill $k (target $target shards + ${extra}s): $before -> $done_lines of $N_SHARDS shards committed ($what)"
  done
  $RUN -o out --resume > resumed.json
  check "trial $trial: resume exits 0" "[ $? = 0 ]"
  sha out > out.sha
  check "trial $trial: output set identical to the uninterrupted run" "cmp -s ref.sha out.sha || { diff ref.sha out.sha >&2; false; }"
  check "trial $trial: no temp files left" "! ls out | grep -q '\\.tmp$'"
done
echo "kills: $midrun mid-run, $startup during start-up"
check "at least one kill landed mid-run (after this run's first committed shard, before its last) ($midrun)" "[ $midrun -ge 1 ]"
check "errors.jsonl lists the two bad files" "[ \$(wc -l < ref/errors.jsonl) = 2 ]"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
