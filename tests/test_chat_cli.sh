#!/usr/bin/env bash
# test_chat_cli.sh: `snacrt transcribe` and `snacrt chat` end to end on the tiny random-weight models (structure,
# not meaning). transcribe: a folder of two copies of hello.wav plus a bad file -> three JSON lines in order, the
# two copies transcribed alike (greedy, batched together), the bad file's line names its error, exit 1; alone the
# folder exits 0. chat: --interactive turns (text, @file.wav with text, a bad @file reported and skipped) answer
# each good turn (a summary line each on stderr); --layout orpheus answers in audio: PREFIX-0-0.wav, a 24 kHz mono WAV of whole
# frame groups; bad arguments exit 2.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
LM=$SRC/tests/data/llama/tiny-orpheus
cd "$T" || exit 1
mkdir in
cp "$SRC/tests/data/speech/hello.wav" in/a.wav
cp "$SRC/tests/data/speech/hello.wav" in/b.wav

"$S" transcribe -m "$LM" --codec "$M" --threads 2 --max-tokens 6 in -o out.jsonl 2>err.txt
rc=$?
check "transcribe a folder exits 0 (rc $rc: $(tail -1 err.txt))" "[ $rc -eq 0 ]"
check "two lines, files in order, same text for the same audio" "python3 -c '
import json,sys
L=[json.loads(l) for l in open(\"out.jsonl\")]
sys.exit(not (len(L)==2 and L[0][\"file\"].endswith(\"in/a.wav\") and L[1][\"file\"].endswith(\"in/b.wav\")
              and L[0][\"text\"]==L[1][\"text\"] and L[0][\"tokens\"]==6 and L[0][\"finish\"]==\"length\"))'"
check "a progress bar on stderr" "grep -q '2/2 files' err.txt"
printf 'not audio' > bad.wav
"$S" transcribe -m "$LM" --codec "$M" --threads 2 --max-tokens 6 in/a.wav bad.wav in/b.wav > out2.jsonl 2>err2.txt
rc=$?
check "a bad file: exit 1" "[ $rc -eq 1 ]"
check "a bad file: its line names the error, the others are transcribed" "python3 -c '
import json,sys
L=[json.loads(l) for l in open(\"out2.jsonl\")]
sys.exit(not (len(L)==3 and \"error\" in L[1] and \"bad.wav\" in L[1][\"error\"] and L[0][\"text\"]==L[2][\"text\"]))'"

printf 'Hi there\n@in/a.wav What is this?\n@missing.wav\n\nBye\n' | \
  "$S" chat -m "$LM" --codec "$M" --threads 2 --max-tokens 12 --seed 3 --system "Be brief." --interactive \
  -o turn > chat.txt 2>chat.err
rc=$?
check "interactive chat exits 0 (rc $rc: $(tail -1 chat.err))" "[ $rc -eq 0 ]"
check "three answers for three good turns" "[ \$(grep -c '\"turn\": ' chat.err) -eq 3 ] && grep -q '\"turn\": 2' chat.err"
check "the bad @file is reported" "grep -q 'missing.wav' chat.err"

"$S" chat -m "$LM" --codec "$M" --threads 2 --layout orpheus --max-tokens 30 --temperature 1 --text "Hi" -o sp \
  > sp.txt 2>sp.err
rc=$?
check "orpheus chat exits 0 (rc $rc: $(tail -1 sp.err))" "[ $rc -eq 0 ]"
check "orpheus answers in audio: sp-0-0.wav of whole frame groups" "python3 -c '
import wave,sys
w=wave.open(\"sp-0-0.wav\")
sys.exit(not (w.getframerate()==24000 and w.getnchannels()==1 and w.getnframes()>0 and w.getnframes()%2048==0))'"

"$S" chat -m "$LM" --codec "$M" 2>/dev/null
check "chat without a turn exits 2" "[ $? -eq 2 ]"
"$S" transcribe -m "$LM" --codec "$M" 2>/dev/null
check "transcribe without files exits 2" "[ $? -eq 2 ]"
"$S" chat -m "$LM" --codec "$M" --text hi --modalities video 2>/dev/null
check "a bad --modalities exits 2" "[ $? -eq 2 ]"
echo "test_chat_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
