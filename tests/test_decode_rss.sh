#!/usr/bin/env bash
# test_decode_rss.sh: `snacrt decode` streams (issue #17 finding 3): codes in, audio written as it decodes, so the
# peak RSS does not grow with the input's length. tiny24 codes of 150 and 1500 groups (laion text, random codes,
# fixed seed): the longer decode's peak RSS may exceed the shorter's by at most 12 MB (the whole-signal decode grew
# by ~100 KB per group: ~140 MB here), and each output holds groups * 2048 samples.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check

# In the sanitizer build, ASan's quarantine keeps freed blocks resident (~60 MB more at 1500 groups here): measure
# the program's own memory, not the quarantine's.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
for G in 150 1500; do
  python3 - "$G" > "$T/c$G.laion" <<'PY'
import random, sys
g = int(sys.argv[1]); r = random.Random(5); out = []
for _ in range(g):   # depth-first per group: 1 coarse, 2 middle, 4 fine codes (strides 4, 2, 1)
    out.append(r.randrange(256))
    for _ in range(2):
        out.append(r.randrange(256)); out += [r.randrange(256) for _ in range(2)]
print(" ".join(map(str, out)))
PY
  check "decode $G groups" "/usr/bin/time -f %M -o $T/rss$G $S decode -m $M --threads 1 -o $T/a$G.wav $T/c$G.laion"
  check "$G groups: $((G * 2048)) samples" "python3 -c \"import wave,sys; sys.exit(0 if wave.open('$T/a$G.wav').getnframes() == $G * 2048 else 1)\""
done
short=$(tail -1 "$T/rss150" 2>/dev/null || echo 0); long=$(tail -1 "$T/rss1500" 2>/dev/null || echo 999999999)
echo "peak RSS: $short KB at 150 groups, $long KB at 1500 groups"
check "RSS growth $((long - short)) KB <= 12288 KB" "[ $((long - short)) -le 12288 ]"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
