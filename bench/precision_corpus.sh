#!/usr/bin/env bash
# precision_corpus.sh: the precision table's corpus and run (bench/PRECISION.md): the bundled sample plus a small
# espeak-ng corpus (voices x speaking rates, one sentence each), then bench_precision over all of it on the cuda
# device. On a machine without a GPU the "cuda" device is the simulator (slow): keep the corpus small.
#   bench/precision_corpus.sh [BUILD_DIR (build)] [MODEL_DIR (tests/data/snac/tiny24)] [SECONDS per file (2)]
set -euo pipefail
build=${1:-build}
model=${2:-tests/data/snac/tiny24}
seconds=${3:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
files=(tests/data/speech/hello.wav)
if command -v espeak-ng > /dev/null; then
  text="The quick brown fox jumps over the lazy dog while seven wizards quietly judge the boxing match."
  for voice in en-us en-gb+f3 de; do
    for rate in 120 200; do
      f="$dir/${voice//+/_}_$rate.wav"
      espeak-ng -v "$voice" -s "$rate" -w "$f" "$text"
      files+=("$f")
    done
  done
else
  echo "precision_corpus.sh: espeak-ng not installed: the bundled sample only" >&2
fi
"$build/bench_precision" -m "$model" --device cuda --seconds "$seconds" "${files[@]}"
