#!/usr/bin/env bash
# test_tokenize_sequences_kill.sh: `snacrt tokenize --sequences` killed with SIGKILL at random points, then
# `--resume`, gives byte-for-byte the output set (shards, .seq.* files, plan, done-log, index, errors.jsonl) of an
# uninterrupted run. Corpus (sox): 16 short clips with texts and one without (errors.jsonl), --shard-size 2 and
# --seq-len/--pack, so a run commits 9 shards; a text corpus for --task interleave (documents spoken by
# tiny-orpheus), --shard-size 1. Seeded trials: each starts a run and kills it once a random number of shards is
# committed plus a random part of a shard's time (so mid-shard: sequence files may be renamed and the shard not),
# the odd trials kill the resumed run again; then it resumes to the end and compares the sha256 of every file.
# At least one kill must land mid-run: SNACRT_DS_COMMIT_PAUSE_MS widens each shard's two crash windows (sequence
# files renamed, data file not; data file committed, done-log line not) to 60 ms, so a shard takes that long on any
# machine and the kills land inside runs, most inside those windows. Also: no temp file is left behind.
set -u
export SNACRT_DS_COMMIT_PAUSE_MS=60
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
LM=$SRC/tests/data/llama/tiny-orpheus
cd "$T"
mkdir c
for i in $(seq 0 15); do
  sox -n -r 24000 c/r$(printf %02d $i).wav synth 0.$((2 + i % 5)) sine $((200 + 37 * i)) 2> /dev/null
  echo "{\"path\":\"c/r$(printf %02d $i).wav\",\"text\":\"Clip number $i.\"}"
done > man.jsonl
cp c/r00.wav c/notext.wav
echo '{"path":"c/notext.wav","caption":"no text"}' >> man.jsonl
printf '%s\n' 'First one. Then two.' 'A third line! And more.' 'Four. Five? Six.' 'Seven.' > corpus.txt

sha() { (cd "$1" && sha256sum $(ls | sort)); }
midrun=0
# trials NAME TRIALS RUN...: a reference run, then TRIALS killed-and-resumed runs compared with it
trials() {
  local name=$1 n=$2; shift 2
  local t0 t1 ref_t n_shards rpid
  # the reference run, timing a shard: from its first commit to its last (start-up left out)
  "$@" -o ref_$name > ref_$name.json 2> /dev/null &
  rpid=$!
  while kill -0 $rpid 2> /dev/null && [ "$(count_lines ref_$name/w00000-of00001.done.jsonl)" -lt 1 ]; do sleep 0.01; done
  t0=$(date +%s.%N)
  wait $rpid
  check "$name: reference run exits 0" "[ $? = 0 ]"
  t1=$(date +%s.%N)
  n_shards=$(python3 -c "import json; print(json.load(open('ref_$name.json'))['shards'])")
  ref_t=$(python3 -c "print(($t1 - $t0) / max(1, $n_shards - 1))")
  sha ref_$name > ref_$name.sha
  for trial in $(seq 1 $n); do
    rm -rf out
    for k in $(seq 1 $((1 + trial % 2))); do
      local before target extra pid done_lines
      before=$(count_lines out/w00000-of00001.done.jsonl)
      read -r target extra <<< "$(python3 -c "
import random; random.seed($trial * 100 + $k)
print(random.randint(0, $n_shards - 2), round(random.uniform(0, 1.5 * $ref_t), 3))")"
      kill_after_lines out/w00000-of00001.done.jsonl "$target" "$extra" "$@" -o out --resume
      done_lines=$(count_lines out/w00000-of00001.done.jsonl)
      [ "$done_lines" -gt "$before" ] && [ "$done_lines" -lt "$n_shards" ] && midrun=$((midrun + 1))
      echo "$name trial $trial kill $k (target $target + ${extra}s): $before -> $done_lines of $n_shards shards"
    done
    "$@" -o out --resume > /dev/null 2>&1
    check "$name trial $trial: resume exits 0" "[ $? = 0 ]"
    sha out > out.sha
    check "$name trial $trial: output set identical to the uninterrupted run" \
      "cmp -s ref_$name.sha out.sha || { diff ref_$name.sha out.sha >&2; false; }"
    check "$name trial $trial: no temp files left" "! ls out | grep -q '\\.tmp$'"
  done
}
trials tts 4 $S tokenize -m $M --shard-size 2 --threads 1 --progress none --sequences --layout orpheus \
  --tokenizer $LM --task tts --seq-len 64 --pack man.jsonl
check "tts: sequence files are part of the set" 'grep -q "seq.idx" ref_tts.sha && grep -q "seq.ids" ref_tts.sha'
check "tts: the item without text is in errors.jsonl" 'grep -q notext ref_tts/errors.jsonl'
trials interleave 2 $S tokenize -m $M --shard-size 1 --threads 1 --progress none --sequences --layout orpheus \
  --tokenizer $LM --task interleave --audio-rate 0.5 --seed 2 --tts-max-tokens 21 --tts-temperature 1 \
  --tts-top-p 0.95 corpus.txt
echo "kills mid-run: $midrun"
check "at least one kill landed mid-run ($midrun)" "[ $midrun -ge 1 ]"
echo "test_tokenize_sequences_kill: $pass passed, $fail failed"
[ $fail = 0 ]
