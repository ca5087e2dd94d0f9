#!/usr/bin/env bash
# test_tokenize_inputs.sh: hostile inputs of `snacrt tokenize` (#17 item 8).
#  - symbolic links in an input folder: not followed by default (a link named evil.wav pointing at /etc/passwd and
#    one at a real recording outside the folder both go to errors.jsonl, nothing is read through them); with
#    --follow-symlinks the outside recording is encoded; a link cycle (a folder linking to its parent) ends;
#  - a manifest with bad lines (a wrong field count, a stray quote, an empty path): those lines go to errors.jsonl
#    with the manifest's name and line, the good lines are encoded, the run exits 0;
#  - CSV output: a transcript starting with = is written with a leading ' (no formula reaches a spreadsheet).
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T"
mkdir -p data/sub outside
sox -n -r 24000 data/a.wav synth 0.4 sine 300 2> /dev/null
sox -n -r 24000 data/sub/b.wav synth 0.3 sine 500 2> /dev/null
sox -n -r 24000 outside/secret.wav synth 0.5 sine 700 2> /dev/null
ln -s /etc/passwd data/evil.wav
ln -s "$T/outside/secret.wav" data/linked.wav
ln -s .. data/sub/loop
RUN="$S tokenize -m $M --threads 1 --progress none"

$RUN -o out1 data > out1.json 2> out1.err
check "folder with links: exit 0" "[ $? = 0 ] || { cat out1.err >&2; false; }"
check "the two regular files are encoded" "[ \$(grep -c '\"key\"' out1/index.items.jsonl) = 2 ]"
check "evil.wav (link to /etc/passwd) is an error item, not read" \
  "grep -q '\"evil.wav\".*symbolic link' out1/errors.jsonl"
check "linked.wav (link outside the folder) is an error item" "grep -q '\"linked.wav\".*symbolic link' out1/errors.jsonl"
check "the folder link is not followed" "! grep -q 'loop' out1/index.items.jsonl out1/errors.jsonl"

$RUN -o out2 --follow-symlinks data > out2.json 2> out2.err
check "--follow-symlinks: exit 0" "[ $? = 0 ] || { cat out2.err >&2; false; }"
check "--follow-symlinks: the outside recording is encoded" "grep -q '\"key\":\"linked.wav\"' out2/index.items.jsonl"
check "--follow-symlinks: /etc/passwd is read and fails as audio" "grep -q '\"evil.wav\"' out2/errors.jsonl"
check "--follow-symlinks: the cycle ends, each folder once" \
  "[ \$(grep -c '\"key\"' out2/index.items.jsonl) = 3 ]"

# a manifest: good, wrong field count, stray quote, empty path, good (a transcript that is a formula)
cat > list.csv << 'EOF'
path,text
data/a.wav,"=HYPERLINK(""http://example.com"",""click"")"
data/sub/b.wav,one,two
data/a.wav,"broken"quote
,empty path
data/sub/b.wav,@SUM(1+1)
EOF
$RUN -o out3 --format csv list.csv > out3.json 2> out3.err
check "manifest with bad lines: exit 0" "[ $? = 0 ] || { cat out3.err >&2; false; }"
check "the good lines are encoded" "[ \$(grep -c '\"key\"' out3/index.items.jsonl) = 2 ]"
for line in 3 4 5; do
  check "manifest line $line is in errors.jsonl" "grep -q 'list.csv:$line' out3/errors.jsonl"
done
check "CSV: the formula transcript is escaped" "grep -q \"^data/a.wav,data/a.wav,0,[0-9]*,\\\"'=HYPERLINK\" out3/*.csv"
check "CSV: the @ transcript is escaped" "grep -q \",'@SUM(1+1),\" out3/*.csv"
check "CSV: no cell starts with = or @" "! grep -qE '(^|,)\"?[=@]' out3/*.csv"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
