#!/usr/bin/env bash
# test_tokenize_lock.sh: two `snacrt tokenize --resume` runs of one worker on one output folder (#17 item 5).
# The first run is stopped (SIGSTOP) once it holds the folder's lock, so the second always starts while the first
# is alive: the second must stop at once with a message naming the first's PID, leaving the folder alone; the first,
# continued, must finish with the output set of an undisturbed run (and no lock file left). Then a done-log with a
# duplicated line (what two runs without a lock left behind) is repaired by --resume, not refused.
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
S=$BIN/snacrt
M=$SRC/tests/data/snac/tiny24
T=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -CONT "$p" 2> /dev/null; kill -9 "$p" 2> /dev/null; done; rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
cd "$T"
mkdir c
for i in $(seq 0 11); do
  sox -n -r 24000 c/r$(printf %02d $i).wav synth 0.$((3 + i % 6)) sine $((300 + 40 * i)) 2> /dev/null
done
RUN="$S tokenize -m $M --shard-size 2 --threads 1 --progress none c"
sha() { (cd "$1" && sha256sum $(ls | sort)); }
LOCK=out/w00000-of00001.lock

$RUN -o ref > /dev/null 2>&1
check "reference run exits 0" "[ $? = 0 ]"
sha ref > ref.sha
check "no lock file is left after a run" "[ ! -e ref/w00000-of00001.lock ]"

# run 1: stopped as soon as its lock file holds its PID
$RUN -o out --resume > run1.json 2> run1.err &
pid1=$!
pids+=($pid1)
for _ in $(seq 1 3000); do
  [ -s $LOCK ] && break
  sleep 0.01
done
kill -STOP $pid1
check "run 1 holds the lock with its PID" "[ \"\$(cat $LOCK 2> /dev/null)\" = $pid1 ]"
before=$(ls out | sort | tr '\n' ' ')
t0=$(date +%s.%N)
$RUN -o out --resume > run2.json 2> run2.err
rc2=$?
t1=$(date +%s.%N)
echo "run 2: exit $rc2 in $(python3 -c "print(round($t1 - $t0, 2))") s: $(cat run2.err)"
check "run 2 is refused" "[ $rc2 != 0 ]"
check "run 2 names run 1's PID" "grep -q \"PID $pid1\" run2.err"
check "run 2 stops at once (< 5 s)" "python3 -c 'import sys; sys.exit(0 if $t1 - $t0 < 5 else 1)'"
check "run 2 changed nothing in the folder" "[ \"\$(ls out | sort | tr '\n' ' ')\" = \"$before\" ]"
kill -CONT $pid1
wait $pid1
check "run 1 completes" "[ $? = 0 ]"
sha out > out.sha
check "run 1's output is that of an undisturbed run (lock file gone)" "cmp -s ref.sha out.sha || { diff ref.sha out.sha >&2; false; }"

# a done-log line logged twice, shard files complete: --resume repairs it
LOG=out/w00000-of00001.done.jsonl
head -1 $LOG >> $LOG
$RUN -o out --resume > run3.json 2> run3.err
check "resume of a done-log with a duplicated line exits 0" "[ $? = 0 ] || { cat run3.err >&2; false; }"
sha out > out.sha
check "the done-log is repaired: output identical to the reference" "cmp -s ref.sha out.sha || { diff ref.sha out.sha >&2; false; }"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
