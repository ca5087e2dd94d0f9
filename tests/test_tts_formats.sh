#!/bin/bash
# test_tts_formats.sh: `snacrt tts -o` picks the format by extension, the speech endpoint's formats included: .mp3
# (MPEG frames), .opus (Ogg/Opus), .flac, .ogg (Vorbis), .wav; an unknown extension (.aac) exits nonzero naming the
# supported ones. Tiny random-weight models, 2 frames each.
set -u
SRC=$(cd "${SNACRT_SRC:-.}" && pwd)
BIN=$(cd "${SNACRT_BIN:-build}" && pwd)/snacrt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }
COMMON=(-m "$SRC/tests/data/llama/tiny-orpheus" --codec "$SRC/tests/data/snac/tiny24" --threads 2 --max-tokens 14 --seed 7)
magic() {
  python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
if b[:4] == b"OggS": print("opus" if b"OpusHead" in b[:200] else "vorbis" if b"vorbis" in b[:200] else "ogg?")
elif b[:4] == b"fLaC": print("flac")
elif b[:4] == b"RIFF": print("wav")
elif b[:3] == b"ID3" or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE0 == 0xE0): print("mp3")
else: print("unknown", b[:8])
PY
}
for ext in mp3 opus flac ogg wav; do
  "$BIN" tts "${COMMON[@]}" -o "$T/a.$ext" "Hello there." 2>"$T/$ext.err"
  check "$?" "0" "tts -o a.$ext exit code ($(tail -c 300 "$T/$ext.err"))"
  want=$ext; [ "$ext" = ogg ] && want=vorbis
  check "$(magic "$T/a.$ext")" "$want" "a.$ext holds $want"
done
"$BIN" tts "${COMMON[@]}" -o "$T/a.aac" "Hello there." 2>"$T/aac.err"
[ "$?" != 0 ] && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL .aac accepted" >&2; }
grep -q "\.mp3 or \.opus" "$T/aac.err" && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL .aac message: $(cat "$T/aac.err")" >&2; }
echo "test_tts_formats: $passed passed, $failed failed"
[ "$failed" = 0 ]
