#!/usr/bin/env bash
# test_python.sh: the snacrt Python package (python/: ctypes over lib/libsnacrt.so, numpy):
#  - `pip install ./python` into a venv, offline (--no-index: the in-tree build backend needs nothing), bundling
#    the built libsnacrt.so; the installed package runs from another folder with no SNACRT_LIB / PYTHONPATH
#  - a script written for the official snac package (tests/snac_official_style.py: from_pretrained, eval, to,
#    encode of [1, 1, T], the notebook's 7-per-frame flattening, decode of redistributed codes, a [2, 1, T] batch
#    and forward) gets the codes of `snacrt encode` (json and orpheus) and the audio of `snacrt decode`
#  - SNAC.from_pretrained of a repo id goes through weights/fetch.sh (the mock hub, tests/hub_mock.py)
#  - generate_speech streams the samples of `snacrt tts --stream` (same seed), in several chunks
#  - snacrt.shards reads what `snacrt tokenize` writes
#  - devices() and build_info() answer; a wrong shape is a ValueError naming the expected shape
set -u
source "$(dirname "$0")/sh_prelude.sh"
PY=
for p in python3 /usr/bin/python3; do   # an interpreter with numpy (a pyenv shim may have none)
  if command -v $p > /dev/null && $p -c 'import numpy' 2> /dev/null; then PY=$(command -v $p); break; fi
done
[ -n "$PY" ] || { echo "SKIP: no python3 with numpy"; exit 77; }
LM=$SRC/tests/data/llama/tiny-orpheus
sox -n -r 24000 -b 16 -c 1 $T/a.wav synth 0.7 sine 300 vol 0.5 2> /dev/null
$S encode -m $M --format json $T/a.wav > $T/cli.json
$S encode -m $M --format orpheus $T/a.wav > $T/cli.orpheus
$S decode -m $M --sample-format f32 -o $T/cli_dec.wav $T/cli.json
# a sanitizer build's libsnacrt.so cannot be loaded into an uninstrumented python (ASan must come first; preloaded,
# it is inherited by every tool the package starts, e.g. weights/fetch.sh's curl): the release build runs this test
if ldd $BIN/lib/libsnacrt.so 2> /dev/null | grep -q 'libasan'; then
  echo "SKIP: libsnacrt.so is built with AddressSanitizer (the release build runs the Python package test)"; exit 77
fi

# offline install into a venv (system site packages give numpy; the venv gets no pip of its own, which is slow to
# copy: the system pip installs into it with --python)
if $PY -m venv --without-pip --system-site-packages $T/venv > $T/venv.log 2>&1 && $PY -m pip --version > /dev/null 2>&1; then
  SNACRT_BUILD=$BIN $PY -m pip --python $T/venv/bin/python install --no-index --no-cache-dir -q $SRC/python \
    > $T/pip.log 2>&1; rc=$?
  check "pip install ./python offline ($(tail -2 $T/pip.log))" "[ $rc = 0 ]"
  check "the wheel bundles libsnacrt.so" "ls $T/venv/lib/python3*/site-packages/snacrt/libsnacrt.so > /dev/null"
  RUNPY=$T/venv/bin/python
  cd $T
  env -u SNACRT_LIB -u PYTHONPATH $RUNPY $SRC/tests/snac_official_style.py $M $T/a.wav $T/py.json 2> $T/py.err; rc=$?
  cd - > /dev/null
else
  echo "note: python3 -m venv or pip unavailable (python3-venv, python3-pip); testing from the source tree" >&2
  RUNPY=$PY
  export PYTHONPATH=$SRC/python SNACRT_LIB=$BIN/lib/libsnacrt.so
  $RUNPY $SRC/tests/snac_official_style.py $M $T/a.wav $T/py.json 2> $T/py.err; rc=$?
fi
check "official-style script runs ($(tail -3 $T/py.err))" "[ $rc = 0 ]"

cat > $T/compare.py << 'PYEOF'
import json, sys, wave
import numpy as np
t = sys.argv[1]
py, cli = json.load(open(t + "/py.json")), json.load(open(t + "/cli.json"))
print("codes", "ok" if py["codes"] == cli["codes"] else "DIFFER")
orph = [int(v) for v in open(t + "/cli.orpheus").read().split()]
print("orpheus", "ok" if py["orpheus"] == orph else "DIFFER %s vs %s" % (py["orpheus"][:7], orph[:7]))
with wave.open(t + "/cli_dec.wav") as w:
    pass
PYEOF
# f32 wav: read its data chunk by hand (the wave module reads integer PCM only)
cat >> $T/compare.py << 'PYEOF'
def read_f32_wav(path):
    b = open(path, "rb").read()
    i = 12
    while i < len(b):
        cid, size = b[i:i + 4], int.from_bytes(b[i + 4:i + 8], "little")
        if cid == b"data":
            return np.frombuffer(b[i + 8:i + 8 + size], dtype="<f4")
        i += 8 + size + (size & 1)
ref = read_f32_wav(t + "/cli_dec.wav")
got = np.asarray(py["audio"], dtype=np.float32)
n = min(len(ref), len(got))
print("decode", "ok" if len(got) >= len(ref) and np.abs(got[:n] - ref[:n]).max() < 1e-5 else
      "DIFFER len %d/%d max %g" % (len(got), len(ref), np.abs(got[:n] - ref[:n]).max()))
b = py["batch_codes"]
print("batch", "ok" if [lv[0] for lv in b] == cli["codes"] and len(b[0]) == 2 else "DIFFER")
PYEOF
sed -i '/^with wave.open(t + "\/cli_dec.wav") as w:$/,/^    pass$/d' $T/compare.py
$PY $T/compare.py $T > $T/cmp.txt 2>&1
check "python codes = snacrt encode json ($(cat $T/cmp.txt | tr '\n' ' '))" "grep -qx 'codes ok' $T/cmp.txt"
check "notebook flattening = snacrt encode orpheus" "grep -qx 'orpheus ok' $T/cmp.txt"
check "python decode = snacrt decode" "grep -qx 'decode ok' $T/cmp.txt"
check "batch row 0 = the signal alone" "grep -qx 'batch ok' $T/cmp.txt"

# a repo id through weights/fetch.sh and the mock hub
mkdir -p $T/hub/acme/tiny-snac
cp $M/config.json $M/model.safetensors $T/hub/acme/tiny-snac/
$PY $SRC/tests/hub_mock.py $T/hub $T/port $T/hublog &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -f $T/port ] && break; sleep 0.05; done
HF_ENDPOINT=http://127.0.0.1:$(cat $T/port) SNACRT_CACHE=$T/cache $RUNPY -c '
import sys, numpy as np
from snacrt import SNAC
m = SNAC.from_pretrained("acme/tiny-snac")
c = m.encode(np.zeros((1, 1, 4096), np.float32))
print("repo", len(c), m.sampling_rate)
' > $T/repo.txt 2>&1
check "from_pretrained(repo id) via fetch.sh ($(tail -1 $T/repo.txt))" "grep -qx 'repo 3 24000' $T/repo.txt && [ -f $T/cache/acme--tiny-snac/model.safetensors ]"

# devices, build info, errors
$RUNPY -c '
import snacrt, numpy as np
d, note = snacrt.devices()
print("devices", d[0]["name"], d[0]["cores"] > 0)
print("version", snacrt.build_info()["version"] != "")
m = snacrt.SNAC.from_pretrained(__import__("sys").argv[1])
try:
    m.encode(np.zeros((1, 2, 100), np.float32))
except ValueError as e:
    print("shape", "[B, 1, T]" in str(e))
try:
    m.decode([np.zeros((1, 3), np.int64)])
except ValueError as e:
    print("levels", "list of 3 code arrays" in str(e))
' $M > $T/misc.txt 2>&1
check "devices() lists the cpu" "grep -qx 'devices cpu True' $T/misc.txt"
check "build_info()" "grep -qx 'version True' $T/misc.txt"
check "wrong audio shape named ($(tr '\n' ' ' < $T/misc.txt))" "grep -qx 'shape True' $T/misc.txt"
check "wrong level count named" "grep -qx 'levels True' $T/misc.txt"

# the shard readers: a bin shard of `snacrt tokenize` holds the codes of `snacrt encode`
$S tokenize -m $M -o $T/tok --format bin --threads 1 --progress none $T/a.wav > /dev/null 2>&1
$RUNPY -c '
import glob, json, sys
import numpy as np
from snacrt.shards import open_shard
items = [it for f in glob.glob(sys.argv[1] + "/*.bin") for it in open_shard(f)]
ref = json.load(open(sys.argv[2]))["codes"]
print("shards", len(items), all(np.asarray(c).tolist() == r for c, r in zip(items[0]["codes"], ref)))
' $T/tok $T/cli.json > $T/shards.txt 2>&1
check "snacrt.shards reads a tokenize bin shard ($(tail -1 $T/shards.txt))" "grep -qx 'shards 1 True' $T/shards.txt"

# generate_speech = snacrt tts --stream (same seed and sampling)
TEXT="Hello there. This is a test."
$S tts -m $LM --codec $M --threads 2 --max-tokens 143 --temperature 1 --top-p 0.95 --seed 7 --voice leo --stream \
  "$TEXT" > $T/cli.pcm 2> /dev/null
chunks=$($RUNPY $SRC/tests/tts_stream.py $LM $M leo 7 143 "$TEXT" $T/py.pcm 2> $T/tts.err); rc=$?
check "generate_speech runs ($(tail -2 $T/tts.err))" "[ $rc = 0 ]"
check "generate_speech streams in chunks ($chunks)" "[ \"\${chunks:-0}\" -gt 1 ]"
$PY -c '
import sys, numpy as np
a = np.fromfile(sys.argv[1], "<i2").astype(int); b = np.fromfile(sys.argv[2], "<i2").astype(int)
print("tts", len(a), len(b), int(np.abs(a - b).max()) if len(a) == len(b) and len(a) else -1)
' $T/cli.pcm $T/py.pcm > $T/tts.txt
check "generate_speech = snacrt tts --stream ($(cat $T/tts.txt))" "awk '{exit !(\$2 > 0 && \$2 == \$3 && \$4 >= 0 && \$4 <= 2)}' $T/tts.txt"
echo "test_python: $pass passed, $fail failed"
[ $fail = 0 ]
