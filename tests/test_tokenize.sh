#!/usr/bin/env bash
# test_tokenize.sh: `snacrt tokenize` end to end on a corpus made here with espeak-ng + sox (tests/data/snac/tiny24):
# speech at 8, 11.025, 16, 22.05, 32, 44.1 and 48 kHz, mono and stereo, WAV / FLAC / OGG / MP3 (MP3 written by
# `snacrt decode` through libsndfile: this sox has no MP3 writer), in a folder tree, a file list, a CSV manifest
# with text/speaker columns, a JSONL manifest (audio_filepath, numbers and lists pass through), a WebDataset tar with .json/.txt sidecars; plus an empty, a truncated, a non-audio,
# a missing file and a tar sample without audio.
# Checks: exit 0; every good input's item has exactly the codes and n_samples of `snacrt encode` of that file alone;
# every bad input is in errors.jsonl (key, source, error) and nothing else is; passthrough columns arrive; the csv
# and bin shards read back (tools/snac_shard_reader.py) to the same items as jsonl; the summary JSON counts items
# and errors; --dry-run lists the same keys and shard assignment; a second run needs --resume and then changes
# nothing; its summary (and that of a resume with the last shard uncommitted) counts every item and error; an
# input rewritten since (size/mtime) refuses --resume; the shard reader gives the same items with numpy (int32
# arrays) and without (SNAC_SHARD_READER_NO_NUMPY=1: lists); --max-seconds cuts contiguous segments whose codes
# equal `snacrt encode` of the cut audio. MP3 input is tested whenever libsndfile has MPEG (a failure then fails).
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check

# ---- corpus
cd "$T"
mkdir -p c/sub c/deep/er listed/sub2 man wds
espeak-ng -w b1.wav "The quick brown fox jumps over the lazy dog."
espeak-ng -w b2.wav "Tokenize every file, whatever its rate."
espeak-ng -w b3.wav "Short one."
sox b1.wav -r 8000 c/s08k.wav
sox b2.wav -r 16000 -c 2 c/sub/s16k_stereo.flac
cp b3.wav c/s22k.wav
sox b1.wav -r 44100 -c 2 c/deep/er/s44k_stereo.ogg
sox b2.wav -r 48000 -c 2 c/s48k_stereo.wav
sox b3.wav -r 48000 c/deep/s48k.flac
# MPEG support of libsndfile (>= 1.1.0 built with mpg123 + LAME): then writing the MP3 must work (a failure is a
# failure, not a skip); without it the MP3 input is not tested
MPEG_LIB=0
if ldd "$S" 2> /dev/null | grep -q 'libmp3lame' && ldd "$S" 2> /dev/null | grep -q 'libmpg123'; then MPEG_LIB=1; fi
MP3=0
if $S encode -m $M -o b1.json b1.wav && $S decode -m $M -o c/s24k.mp3 b1.json 2> mp3err.txt; then MP3=1
elif [ $MPEG_LIB = 1 ]; then
  check "libsndfile has MPEG (links libmp3lame + libmpg123) but writing c/s24k.mp3 failed: $(cat mp3err.txt)" false
  rm -f c/s24k.mp3
else rm -f c/s24k.mp3; echo "NOTE: no MP3 writer (libsndfile without MPEG): MP3 input not tested" >&2; fi
: > c/empty.wav
head -c 3000 c/s48k_stereo.wav > c/truncated.wav
echo "this is not audio" > c/notaudio.flac
echo "ignored: not an audio extension" > c/readme.txt
sox b2.wav -r 32000 listed/one.wav
sox b3.wav -r 11025 -c 2 listed/sub2/two.flac
printf 'one.wav\n# a comment\n\nsub2/two.flac\nmissing.wav\n' > listed/list.txt
sox b1.wav -r 16000 man/m1.wav
sox b3.wav -r 44100 man/m2.flac
printf 'path,text,speaker\nm1.wav,"Hello, world",alice\nm2.flac,second one,bob\n' > man/manifest.csv
sox b2.wav -r 16000 -c 2 man/j1.wav
printf '{"audio_filepath": "j1.wav", "duration": 1.5, "text": "from jsonl", "tags": ["a", "b"]}\n' > man/extra.jsonl
sox b2.wav -r 22050 -c 2 wds/utt001.flac
sox b1.wav -r 48000 wds/utt002.wav
python3 - <<'PY'
import io, tarfile
def add(t, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0; t.addfile(ti, io.BytesIO(data))
with tarfile.open("wds/data.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "utt001.flac", open("wds/utt001.flac", "rb").read())
    add(t, "utt001.json", b'{"speaker": "carol", "lang": "en"}')
    add(t, "utt001.txt", b"tar text one\n")
    add(t, "utt002.wav", open("wds/utt002.wav", "rb").read())
    add(t, "utt002.txt", b"tar text two")
    add(t, "utt003.json", b'{"speaker": "nobody"}')
PY
mkdir -p wdsx && (cd wdsx && tar xf ../wds/data.tar)
INPUTS="c/ listed/list.txt man/manifest.csv man/extra.jsonl wds/data.tar"

# ---- the run (jsonl)
$S tokenize -m $M -o out --shard-size 3 --readers 3 --threads 1 --progress lines $INPUTS > summary.json 2> progress.txt
rc=$?
check "tokenize exits 0" "[ $rc = 0 ]"
check "progress lines on stderr" "grep -q 'real time' progress.txt"
check "index written" "[ -s out/index.json ] && [ -s out/index.items.jsonl ] && [ -f out/errors.jsonl ]"

# key -> the file `snacrt encode` gets
cat > expected.txt <<EOF
s08k.wav c/s08k.wav
sub/s16k_stereo.flac c/sub/s16k_stereo.flac
s22k.wav c/s22k.wav
deep/er/s44k_stereo.ogg c/deep/er/s44k_stereo.ogg
s48k_stereo.wav c/s48k_stereo.wav
deep/s48k.flac c/deep/s48k.flac
one.wav listed/one.wav
sub2/two.flac listed/sub2/two.flac
m1.wav man/m1.wav
m2.flac man/m2.flac
j1.wav man/j1.wav
utt001 wdsx/utt001.flac
utt002 wdsx/utt002.wav
EOF
[ $MP3 = 1 ] && echo "s24k.mp3 c/s24k.mp3" >> expected.txt
while read -r key file; do $S encode -m $M -o "ref_$(echo "$key" | tr '/' '_').json" "$file" || echo "encode failed: $file" >&2; done < expected.txt
BAD="empty.wav truncated.wav notaudio.flac missing.wav utt003"

cat > compare.py <<'PY'
import glob, json, os, sys
sys.path.insert(0, os.path.join(os.environ["SRC"], "tools"))
from snac_shard_reader import open_shard
out, fmt = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(out, "index.json")))
items = {}
for sh in idx["shards"]:
    data = [f for f in sh["files"] if not f.endswith(".idx")][0]
    for it in open_shard(os.path.join(out, data)):
        assert it["key"] not in items, "duplicate " + it["key"]
        it["shard"] = sh["name"]
        items[it["key"]] = it
bad = 0
expected = [l.split() for l in open("expected.txt")]
for key, f in expected:
    ref = json.load(open("ref_" + key.replace("/", "_") + ".json"))
    it = items.get(key)
    if it is None:
        print("missing item", key); bad += 1; continue
    codes = [list(map(int, c)) for c in it["codes"]]
    if codes != ref["codes"] or it["n_samples"] != ref["n_samples"] or it["offset"] != 0:
        print("codes/n_samples differ for", key, it["n_samples"], ref["n_samples"]); bad += 1
extra = set(items) - set(k for k, _ in expected)
if extra:
    print("unexpected items", sorted(extra)); bad += 1
errs = [json.loads(l) for l in open(os.path.join(out, "errors.jsonl"))]
if sorted(e["key"] for e in errs) != sorted(sys.argv[3].split()):
    print("errors.jsonl keys", sorted(e["key"] for e in errs)); bad += 1
if any(not e["source"] or not e["error"] for e in errs):
    print("errors without source/error"); bad += 1
def ex(key):
    it = items.get(key, {})
    return it.get("extra") or {k: v for k, v in it.items() if k not in ("key", "source", "offset", "n_samples", "sample_rate", "codes", "shard", "extra")}
want = {"m1.wav": {"text": "Hello, world", "speaker": "alice"}, "m2.flac": {"text": "second one", "speaker": "bob"},
        "utt001": {"speaker": "carol", "lang": "en", "text": "tar text one"}, "utt002": {"text": "tar text two"}}
if fmt != "csv":   # CSV cells are strings; jsonl and bin keep JSON values
    want["j1.wav"] = {"duration": 1.5, "text": "from jsonl", "tags": ["a", "b"]}
for key, kv in want.items():
    got = ex(key)
    for k, v in kv.items():
        if got.get(k) != v:
            print("passthrough", key, k, "=", got.get(k), "expected", v); bad += 1
if fmt != "jsonl":   # same items as the jsonl run
    ref_items = {}
    for sh in json.load(open("out/index.json"))["shards"]:
        for it in open_shard(os.path.join("out", sh["files"][0])):
            ref_items[it["key"]] = it
    for k, it in ref_items.items():
        o = items.get(k)
        if o is None or [list(map(int, c)) for c in o["codes"]] != [list(map(int, c)) for c in it["codes"]] \
                or o["n_samples"] != it["n_samples"] or o["source"] != it["source"]:
            print(fmt, "differs from jsonl for", k); bad += 1
json.dump({k: v["shard"] for k, v in items.items()}, open(out + ".shards.json", "w"))
sys.exit(1 if bad else 0)
PY
export SRC
check "jsonl: codes and n_samples equal snacrt encode; errors; passthrough" "python3 compare.py out jsonl '$BAD'"
check "summary counts" "python3 -c \"import json,sys; s=json.load(open('summary.json')); n=len(open('expected.txt').readlines()); sys.exit(0 if s['items']==n and s['errors']==5 and s['units']==n+5 and s['audio_hours']>0 and s['devices'][0]['device']=='cpu' else 1)\""
check "errors.jsonl entries name the file" "grep -q 'truncated.wav' out/errors.jsonl && grep -q '\"source\":\".*data.tar' out/errors.jsonl"
check "a folder given as c/ gives sources c/..." "grep -q '\"source\":\"c/sub/s16k_stereo.flac\"' out/w00000-of00001-s*.jsonl"

for F in csv bin; do
  $S tokenize -m $M -o out_$F --format $F --shard-size 4 --threads 1 --progress none $INPUTS > summary_$F.json
  check "$F run exits 0" "[ $? = 0 ]"
  check "$F shards read back equal jsonl and snacrt encode" "python3 compare.py out_$F $F '$BAD'"
  check "$F shards read back without numpy (SNAC_SHARD_READER_NO_NUMPY=1) too" \
        "SNAC_SHARD_READER_NO_NUMPY=1 python3 compare.py out_$F $F '$BAD'"
done
check "jsonl shards read back without numpy too" "SNAC_SHARD_READER_NO_NUMPY=1 python3 compare.py out jsonl '$BAD'"
# the reader hands numpy int32 arrays when numpy is there, lists when disabled. setup.sh installs python3-numpy
# (for Debian's /usr/bin/python3, which may not be the python3 first on PATH)
NPY=""
for py in python3 /usr/bin/python3; do "$py" -c "import numpy" 2> /dev/null && { NPY=$py; break; }; done
check "numpy importable by python3 or /usr/bin/python3 (setup.sh installs python3-numpy)" "[ -n '$NPY' ]"
check "shard reader: numpy arrays with numpy, lists without, same codes (bin, csv, jsonl)" "[ -n '$NPY' ] && $NPY - <<'PY'
import glob, os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ['SRC'], 'tools'))
import numpy
import snac_shard_reader as r
ok = True
for shard in sorted(glob.glob('out_bin/*.bin'))[:2] + sorted(glob.glob('out_csv/*.csv'))[:2] + sorted(glob.glob('out/w*.jsonl'))[:2]:
    items = list(r.open_shard(shard))
    ok &= len(items) > 0 and all(isinstance(c, numpy.ndarray) and c.dtype == numpy.int32 for it in items for c in it['codes'])
    os.environ['SNAC_SHARD_READER_NO_NUMPY'] = '1'
    plain = list(r.open_shard(shard))
    del os.environ['SNAC_SHARD_READER_NO_NUMPY']
    ok &= all(type(c) is list for it in plain for c in it['codes'])
    ok &= [[c.tolist() for c in it['codes']] for it in items] == [it['codes'] for it in plain]
    # the command line gives the same JSON lines either way
    a = subprocess.run([sys.executable, r.__file__, shard], capture_output=True, text=True)
    b = subprocess.run([sys.executable, r.__file__, shard], capture_output=True, text=True,
                       env=dict(os.environ, SNAC_SHARD_READER_NO_NUMPY='1'))
    ok &= a.returncode == b.returncode == 0 and a.stdout == b.stdout and a.stdout.count(chr(10)) == len(items)
sys.exit(0 if ok else 1)
PY"
check "bin shards have .idx" "ls out_bin/*.idx > /dev/null 2>&1"

# ---- detokenize names files after the keys without doubling their audio extension
$S detokenize -m $M -o detok --threads 1 --keys 's08k.wav,deep/er/s44k_stereo.ogg,utt001' out > /dev/null
check "detokenize: key a.wav -> a.wav (not a.wav.wav), a.ogg -> a.wav, tar key kept" \
      "[ \"\$(ls detok | sort | tr '\n' ' ')\" = 'deep_er_s44k_stereo.wav s08k.wav utt001.wav ' ]"

# ---- dry run: same keys and shard assignment
$S tokenize --dry-run --shard-size 3 $INPUTS > dry.jsonl
check "dry run lists every unit with its shard" "python3 - <<'PY'
import json, sys
lines = [json.loads(l) for l in open('dry.jsonl')]
units, summary = lines[:-1], lines[-1]
shards = json.load(open('out.shards.json'))
ok = summary['units'] == len(units) == len(shards) + 5 and all(shards[u['key']] == u['shard'] for u in units if u['key'] in shards)
sys.exit(0 if ok else 1)
PY"

# ---- rerun: refused without --resume; with it nothing changes
sha() { (cd "$1" && sha256sum $(ls | sort)); }
sha out > before.sha
$S tokenize -m $M -o out --shard-size 3 --progress none $INPUTS > /dev/null 2> err.txt
check "rerun without --resume is refused" "[ $? = 1 ] && grep -q -- '--resume' err.txt"
$S tokenize -m $M -o out --shard-size 3 --progress none --resume $INPUTS > resumed.json
check "rerun with --resume exits 0" "[ $? = 0 ]"
sha out > after.sha
check "resume of a finished run changes nothing" "cmp -s before.sha after.sha"
check "resume skips every shard" "python3 -c \"import json,sys; s=json.load(open('resumed.json')); sys.exit(0 if s['shards_written']==0 and s['shards_skipped']==s['shards'] else 1)\""
# the summary of a resumed run counts the earlier runs' items and errors too (from the done-log)
counts_ok() {   # summary.json written_shards: items, errors and the skipped parts match the whole corpus
  python3 - "$1" "$2" <<'PY'
import json, sys
s, n = json.load(open(sys.argv[1])), len(open('expected.txt').readlines())
written = int(sys.argv[2])
ok = s['items'] == n and s['errors'] == 5 and s['index_items'] == n and s['index_errors'] == 5
ok &= s['shards_written'] == written and (written > 0 or (s['items_skipped'] == n and s['errors_skipped'] == 5))
ok &= written == 0 or (0 < s['items_skipped'] + s['errors_skipped'] < n + 5)
if not ok: print(s)
sys.exit(0 if ok else 1)
PY
}
check "summary after --resume of a finished run counts all items and errors" "counts_ok resumed.json 0"
cp -r out out_part
head -n -1 out_part/w00000-of00001.done.jsonl > part.tmp && mv part.tmp out_part/w00000-of00001.done.jsonl
$S tokenize -m $M -o out_part --shard-size 3 --progress none --resume $INPUTS > part.json
check "resume of an unfinished run (last shard uncommitted) exits 0" "[ $? = 0 ]"
check "summary after a partial --resume counts all items and errors, one shard written" "counts_ok part.json 1"
check "partial resume gives the same output set" "sha out_part | cmp -s - before.sha"
$S tokenize -m $M -o out --shard-size 2 --progress none --resume $INPUTS > /dev/null 2> err.txt
check "resume with other settings is refused" "[ $? = 1 ] && grep -q 'different run' err.txt"
# an input rewritten between the runs (same name, another size or mtime) changes the inputs fingerprint
cp -p listed/one.wav one.keep
touch -d '2001-02-03 04:05:06' listed/one.wav
$S tokenize -m $M -o out --shard-size 3 --progress none --resume $INPUTS > /dev/null 2> err.txt
check "resume after an input's mtime changed is refused" "[ $? = 1 ] && grep -q 'different run' err.txt"
sox one.keep -r 32000 -b 8 one8.wav && cp one8.wav listed/one.wav && touch -r one.keep listed/one.wav   # size only
$S tokenize -m $M -o out --shard-size 3 --progress none --resume $INPUTS > /dev/null 2> err.txt
check "resume after an input was rewritten (same mtime, other size) is refused" "[ $? = 1 ] && grep -q 'different run' err.txt"
cp -p one.keep listed/one.wav

# ---- --max-seconds: a 24 kHz recording with pauses, cut at silence
sox b1.wav -r 24000 p1.wav; sox b2.wav -r 24000 p2.wav
sox -n -r 24000 -c 1 sil.wav trim 0 0.6
sox p1.wav sil.wav p2.wav sil.wav p1.wav sil.wav p2.wav seg/long24.wav 2> /dev/null || { mkdir -p seg && sox p1.wav sil.wav p2.wav sil.wav p1.wav sil.wav p2.wav seg/long24.wav; }
$S tokenize -m $M -o out_seg --max-seconds 4 --threads 1 --progress none seg > seg_summary.json
check "segmented run exits 0" "[ $? = 0 ]"
python3 - > seg_list.txt <<'PY'
import json
for l in open("out_seg/w00000-of00001-s000000.jsonl"):
    it = json.loads(l); print(it["key"], it["offset"], it["n_samples"])
PY
TOTAL=$(soxi -s seg/long24.wav)
check "segments are contiguous, <= 4 s, cover the file, keys #0.." "python3 - $TOTAL <<'PY'
import sys
rows = [l.split() for l in open('seg_list.txt')]
pos, ok = 0, len(rows) >= 3
for i, (k, off, n) in enumerate(rows):
    ok &= k == 'long24.wav#%d' % i and int(off) == pos and 0 < int(n) <= 96000
    pos += int(n)
sys.exit(0 if ok and pos == int(sys.argv[1]) else 1)
PY"
check "at least one cut at a pause (not every segment is exactly 4 s)" "awk '\$3 != 96000' seg_list.txt | head -n -1 | grep -q ."
segbad=0
while read -r key off n; do
  sox seg/long24.wav cut.wav trim ${off}s ${n}s
  $S encode -m $M -o cut.json cut.wav
  python3 - "$key" <<'PY' || segbad=$((segbad+1))
import json, sys
ref = json.load(open("cut.json"))
for l in open("out_seg/w00000-of00001-s000000.jsonl"):
    it = json.loads(l)
    if it["key"] == sys.argv[1]:
        sys.exit(0 if it["codes"] == ref["codes"] and it["n_samples"] == ref["n_samples"] else 1)
sys.exit(1)
PY
done < seg_list.txt
check "every segment's codes equal snacrt encode of the cut audio" "[ $segbad = 0 ]"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
