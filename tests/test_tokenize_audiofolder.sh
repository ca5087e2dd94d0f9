#!/usr/bin/env bash
# test_tokenize_audiofolder.sh: Hugging Face AudioFolder datasets in `snacrt tokenize`: a folder with metadata.csv
# (file_name + other columns) is read through it (its columns pass through to the items, files it does not list
# are not encoded), metadata.jsonl likewise, split folders (train/, test/) each with their metadata keep their
# prefix in the keys, a row naming a file outside its folder is an error item, and metadata.csv given as a manifest
# works without --path-column (file_name is a default path column). The progress lines end at 100%.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
cd "$T"
mkdir -p af/sub ds/train ds/test
sox -n -r 24000 af/a.wav synth 0.3 sine 300 2> /dev/null
sox -n -r 24000 af/sub/b.wav synth 0.2 sine 500 2> /dev/null
sox -n -r 24000 af/unlisted.wav synth 0.2 sine 600 2> /dev/null
sox -n -r 24000 secret.wav synth 0.2 sine 700 2> /dev/null
printf 'file_name,transcription,speaker\na.wav,"Hello, there",alice\nsub/b.wav,second,bob\n../secret.wav,escape,eve\n' > af/metadata.csv
cp af/a.wav ds/train/x.wav
cp af/sub/b.wav ds/test/y.wav
printf '{"file_name": "x.wav", "text": "train one", "duration": 0.3}\n' > ds/train/metadata.jsonl
printf '{"file_name": "y.wav", "text": "test one", "duration": 0.2}\n' > ds/test/metadata.jsonl
RUN="$S tokenize -m $M --threads 1"
# one python3 run per output folder (python3 may be a slow wrapper script): "key<TAB>passthrough JSON" per item
dump() { python3 - "$1" > "$1.items" <<'PY'
import glob, json, sys
skip = ("key", "source", "offset", "n_samples", "sample_rate", "codes", "shard")
for f in sorted(glob.glob(sys.argv[1] + "/*.jsonl")):
    if f.endswith("index.items.jsonl") or f.endswith("errors.jsonl"): continue
    for l in open(f):
        it = json.loads(l)
        print(it["key"] + "\t" + json.dumps(it.get("extra") or {k: v for k, v in it.items() if k not in skip}, sort_keys=True))
PY
}
items() { cut -f1 "$1.items"; }
shard_json() { awk -F'\t' -v k="$2" '$1 == k {print $2}' "$1.items"; }

$RUN --progress lines --progress-every 0.01 -o out1 af > out1.json 2> out1.err; rc=$?
dump out1
check "AudioFolder (csv): exit 0 ($(tail -1 out1.err))" "[ $rc = 0 ]"
check "AudioFolder (csv): the listed files are the items" "[ \"\$(items out1 | sort | tr '\n' ' ')\" = 'a.wav sub/b.wav ' ]"
check "AudioFolder (csv): columns pass through" \
  "[ \"\$(shard_json out1 a.wav)\" = '{\"speaker\": \"alice\", \"transcription\": \"Hello, there\"}' ]"
check "AudioFolder (csv): sub/b.wav columns" "shard_json out1 sub/b.wav | grep -q '\"speaker\": \"bob\"'"
check "AudioFolder: the row outside the folder is an error item" \
  "grep -q 'secret.wav is outside the folder of the metadata file' out1/errors.jsonl"
check "AudioFolder: nothing read outside" "! items out1 | grep -q secret"
check "progress ends at 100%" "tail -1 out1.err | grep -q '100.0%'"
check "progress lines never show 100% before the end" "[ \$(grep -c '100.0%' out1.err) = 1 ]"

$RUN --progress none -o out2 ds > out2.json 2> out2.err; rc=$?
dump out2
check "AudioFolder splits (jsonl): exit 0 ($(tail -1 out2.err))" "[ $rc = 0 ]"
check "AudioFolder splits: keys keep the split folder" "[ \"\$(items out2 | sort | tr '\n' ' ')\" = 'test/y.wav train/x.wav ' ]"
check "AudioFolder splits: columns pass through" "shard_json out2 train/x.wav | grep -q '\"text\": \"train one\"'"

$RUN --progress none -o out3 af/metadata.csv > out3.json 2> out3.err; rc=$?
dump out3
check "metadata.csv as a manifest: exit 0 ($(tail -1 out3.err))" "[ $rc = 0 ]"
check "metadata.csv as a manifest: file_name found" "items out3 | grep -q '^a.wav$' && items out3 | grep -q '^sub/b.wav$'"
echo "test_tokenize_audiofolder: $pass passed, $fail failed"
[ $fail = 0 ]
