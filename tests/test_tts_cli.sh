#!/bin/bash
# test_tts_cli.sh: `snacrt tts` end to end on the tiny random-weight models: a valid WAV (24 kHz, mono, 16-bit,
# frames * 2048 samples: the streaming decoder's output is never trimmed), --stream gives the same samples, a
# 16-line --input jsonl gives 16 WAVs + summary.json, bad jsonl lines are reported by line number and skipped
# (exit 1), --layout laion-flat from another directory, --audio, --audio + --audio-text (voice cloning: a longer
# prompt, other samples) and --audio-text alone (exit 2 naming --audio), --speed 2 (half the length, streamed ==
# whole; out-of-range speeds exit 2), --instructions (placed by spoken-chat, noted by orpheus), bad arguments exit 2,
# a missing model exits 1 naming it.
set -u
SRC=${SNACRT_SRC:-.}
BIN=$(cd "${SNACRT_BIN:-build}" && pwd)/snacrt
SRC=$(cd "$SRC" && pwd)
LM=$SRC/tests/data/llama/tiny-orpheus
CODEC=$SRC/tests/data/snac/tiny24
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }
COMMON=(-m "$LM" --codec "$CODEC" --threads 2 --max-tokens 143 --temperature 1 --top-p 0.95 --seed 7)

# WAV: rate, channels, width; length = frames * 2048 (frames from the summary on stderr)
"$BIN" tts "${COMMON[@]}" --voice leo -o "$T/a.wav" "Hello there. This is a test." 2>"$T/a.err"
check "$?" "0" "single tts exit code"
frames=$(python3 -c "import json,sys; print(json.loads(open('$T/a.err').read().strip().splitlines()[-1])['frames'])")
info=$(python3 -c "
import wave; w = wave.open('$T/a.wav'); print(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())")
check "$info" "24000 1 2 $((frames * 2048))" "wav header (rate channels width samples)"
[ "$frames" -ge 18 ] && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL frames $frames < 18" >&2; }

# --stream: the same samples as raw s16le
"$BIN" tts "${COMMON[@]}" --voice leo --stream "Hello there. This is a test." >"$T/a.pcm" 2>/dev/null
check "$?" "0" "stream exit code"
same=$(python3 -c "
import wave; w = wave.open('$T/a.wav'); d = w.readframes(w.getnframes()); print(d == open('$T/a.pcm','rb').read())")
check "$same" "True" "--stream bytes equal the wav samples"

# --speed 2 (libsonic time-stretch): about half the samples of a.wav; --stream gives the same bytes; out of range
# and a non-number exit 2 naming the range
"$BIN" tts "${COMMON[@]}" --voice leo --speed 2 -o "$T/fast.wav" "Hello there. This is a test." 2>/dev/null
check "$?" "0" "--speed 2 exit code"
"$BIN" tts "${COMMON[@]}" --voice leo --speed 2 --stream "Hello there. This is a test." >"$T/fast.pcm" 2>/dev/null
check "$?" "0" "--speed 2 --stream exit code"
ratio=$(python3 -c "
import wave
a, f = wave.open('$T/a.wav'), wave.open('$T/fast.wav')
d = f.readframes(f.getnframes())
print(round(f.getnframes() / a.getnframes(), 1), d == open('$T/fast.pcm', 'rb').read())")
check "$ratio" "0.5 True" "--speed 2: half the length, streamed == whole"
for bad in 5 0.1 fast; do
  err=$("$BIN" tts "${COMMON[@]}" --speed $bad -o "$T/x.wav" "Hi." 2>&1 >/dev/null); rc=$?
  check "$rc" "2" "--speed $bad exit code"
  case "$err" in *"--speed must be a number in 0.25 .. 4"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL --speed $bad message: $err" >&2;; esac
done

# --instructions: spoken-chat places them (a system turn: more prompt tokens), orpheus has no slot (the same
# prompt, a note on stderr)
ptok() { python3 -c "import json; print(json.loads(open('$1').read().strip().splitlines()[-1])['prompt_tokens'])"; }
"$BIN" tts "${COMMON[@]}" --max-tokens 14 --layout spoken-chat -o "$T/i0.wav" "Hi." 2>"$T/i0.err"
"$BIN" tts "${COMMON[@]}" --max-tokens 14 --layout spoken-chat --instructions "Speak slowly." -o "$T/i1.wav" "Hi." 2>"$T/i1.err"
check "$(( $(ptok "$T/i1.err") - $(ptok "$T/i0.err") ))" "8" "spoken-chat: instructions add the system turn (8 ids: header, 3 text ids, eot)"
"$BIN" tts "${COMMON[@]}" --max-tokens 14 -o "$T/i2.wav" "Hi." 2>"$T/i2.err"
"$BIN" tts "${COMMON[@]}" --max-tokens 14 --instructions "Speak slowly." -o "$T/i3.wav" "Hi." 2>"$T/i3.err"
check "$(ptok "$T/i3.err") $(grep -c 'instructions ignored: the layout has no slot' "$T/i3.err")" "$(ptok "$T/i2.err") 1" \
  "orpheus: the same prompt, a note"

# batch: 16 lines -> 16 wavs + summary
for i in $(seq 1 16); do
  echo "{\"id\": \"utt$i\", \"text\": \"Sentence number $i.\", \"voice\": \"tara\", \"seed\": $i}"
done >"$T/prompts.jsonl"
"$BIN" tts "${COMMON[@]}" --max-tokens 59 --input "$T/prompts.jsonl" -o "$T/out" >"$T/sum.json" 2>"$T/batch.err"
check "$?" "0" "batch exit code"
check "$(ls "$T/out"/utt*.wav | wc -l)" "16" "16 wavs"
summary=$(python3 -c "
import json, wave
s = json.load(open('$T/out/summary.json')); t = json.load(open('$T/sum.json'))
n = sum(wave.open('$T/out/utt%d.wav' % i).getnframes() for i in range(1, 17))
ok = all(k in s for k in ('real_time_factor', 'first_audio_ms_avg', 'tokens_per_s', 'dropped_frames'))
print(s['requests'], s['ok'], s['failed'], s == t, ok, n == s['frames'] * 2048, 16 * 7 <= s['generated_tokens'] <= 16 * 59)")
check "$summary" "16 16 0 True True True True" "summary (requests ok failed same-on-stdout keys lengths tokens)"
grep -q "16/16 done" "$T/batch.err" && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL no progress bar" >&2; }
# a line's seed makes it reproducible: utt3 again alone equals the batch's utt3
echo '{"id": "again", "text": "Sentence number 3.", "voice": "tara", "seed": 3}' >"$T/one.jsonl"
# (samples may differ by one 16-bit step: the batched codec call rounds differently with other streams in it)
"$BIN" tts "${COMMON[@]}" --max-tokens 59 --input "$T/one.jsonl" -o "$T/out" >/dev/null 2>&1
same=$(python3 -c "
import wave, struct
a, b = wave.open('$T/out/again.wav'), wave.open('$T/out/utt3.wav')
x, y = [struct.unpack('<%dh' % w.getnframes(), w.readframes(w.getnframes())) for w in (a, b)]
print(len(x) > 0 and len(x) == len(y) and max(abs(i - j) for i, j in zip(x, y)) <= 1)")
check "$same" "True" "same seed alone and in a batch of 16"

# bad lines: reported with their line number, skipped, exit 1
printf '%s\n' '{"id": "good1", "text": "Fine."}' 'not json' '{"id": "x"}' '{"id": "v", "text": "Hi.", "voice": "nobody"}' \
  '{"id": "good2", "text": "Also fine."}' >"$T/bad.jsonl"
"$BIN" tts "${COMMON[@]}" --max-tokens 15 --input "$T/bad.jsonl" -o "$T/bad" >/dev/null 2>"$T/bad.err"
check "$?" "1" "bad lines exit code"
for n in 2 3 4; do
  grep -q "bad.jsonl:$n:" "$T/bad.err" && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL line $n not reported" >&2; }
done
check "$(ls "$T/bad" | sort | tr '\n' ' ')" "done-w0-of1.log good1.wav good2.wav summary.json " "good lines still produced"

# layout by name from another directory, and an audio prompt
(cd "$T" && "$BIN" tts -m "$LM" --codec "$CODEC" --threads 2 --max-tokens 29 --layout laion-flat -o flat.wav "Hi." 2>/dev/null)
check "$?" "0" "--layout laion-flat from another directory"
"$BIN" tts "${COMMON[@]}" --max-tokens 28 --audio "$SRC/tests/data/speech/hello.wav" -o "$T/au.wav" "Reply." 2>/dev/null
check "$?" "0" "--audio prompt"
check "$(python3 -c "import wave; print(wave.open('$T/au.wav').getnframes())")" "8192" "--audio output length"
"$BIN" tts "${COMMON[@]}" --max-tokens 28 --audio "$SRC/tests/data/speech/hello.wav" --audio-text "Hello there." \
    -o "$T/clone.wav" "Reply." 2>"$T/clone.err"
check "$?" "0" "--audio + --audio-text (voice cloning)"
au_prompt=$(python3 -c "import json; print(json.loads(open('$T/clone.err').read().strip().splitlines()[-1])['prompt_tokens'])" 2>/dev/null)
"$BIN" tts "${COMMON[@]}" --max-tokens 28 --audio "$SRC/tests/data/speech/hello.wav" -o "$T/au2.wav" "Reply." 2>"$T/au2.err"
plain_prompt=$(python3 -c "import json; print(json.loads(open('$T/au2.err').read().strip().splitlines()[-1])['prompt_tokens'])" 2>/dev/null)
[ -n "$au_prompt" ] && [ -n "$plain_prompt" ] && [ "$au_prompt" -gt "$plain_prompt" ] && passed=$((passed+1)) || \
    { failed=$((failed+1)); echo "FAIL cloning prompt ($au_prompt ids) longer than the audio prompt ($plain_prompt)" >&2; }
cmp -s "$T/clone.wav" "$T/au.wav" && { failed=$((failed+1)); echo "FAIL --audio-text changes nothing" >&2; } || passed=$((passed+1))
err=$("$BIN" tts "${COMMON[@]}" --audio-text "Hello there." -o "$T/x.wav" "Reply." 2>&1 >/dev/null); rc=$?
check "$rc" "2" "--audio-text without --audio exit code"
case "$err" in *"--audio-text"*"--audio FILE"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL message: $err" >&2;; esac

# errors
"$BIN" tts -m "$LM" -o "$T/x.wav" "Hi." >/dev/null 2>&1; check "$?" "2" "missing --codec"
"$BIN" tts "${COMMON[@]}" --max-tokens x -o "$T/x.wav" "Hi." >/dev/null 2>&1; check "$?" "2" "bad --max-tokens"
"$BIN" tts "${COMMON[@]}" "Hi." >/dev/null 2>&1; check "$?" "2" "neither -o nor --stream"
"$BIN" tts "${COMMON[@]}" --bogus -o "$T/x.wav" "Hi." >/dev/null 2>&1; check "$?" "2" "unknown option"
err=$("$BIN" tts -m /nonexistent-lm --codec "$CODEC" -o "$T/x.wav" "Hi." 2>&1 >/dev/null); rc=$?
check "$rc" "1" "missing model exit code"
case "$err" in *"snacrt tts: "*"/nonexistent-lm"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL message: $err" >&2;; esac
err=$("$BIN" tts "${COMMON[@]}" --voice nobody -o "$T/x.wav" "Hi." 2>&1 >/dev/null); rc=$?
check "$rc" "1" "unknown voice exit code"
case "$err" in *"nobody"*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL message: $err" >&2;; esac
[ ! -e "$T/x.wav" ] && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL a failed run left x.wav" >&2; }
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
