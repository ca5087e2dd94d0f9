#!/usr/bin/env bash
# test_tokenize_sequences.sh: `snacrt tokenize --sequences` (docs/sequences.md) on two short clips of
# tests/data/speech/hello.wav with texts, tiny-orpheus's tokenizer and tests/data/snac/tiny24.
# Checks: the exact ids and masks per item for --task tts (orpheus layout) and --task asr (asr layout), expected
# values assembled by hand from `snacrt tokens` and `snacrt encode --format orpheus` of each clip alone and the
# layouts' token ids (layouts/README.md); the binary form read by tools/snac_seq_reader.py (numpy and plain lists)
# equals the JSONL form; --pack puts both items in one --seq-len sequence, each document's ids and mask equal the
# item alone, padding is mask 0 and outside every document, documents never overlap; a --seq-len shorter than
# an item splits it at frame-group boundaries into pieces whose concatenation is the item; an item without its
# text column goes to errors.jsonl and the run goes on; --voice-column puts each item's voice into the tts
# prompt (an unknown voice: errors.jsonl); a folder holding only tokenizer.json gives the same sequences; a resume after the last shard is uncommitted gives
# byte-identical sequence files.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
LM=$SRC/tests/data/llama/tiny-orpheus
R=$SRC/tools/snac_seq_reader.py
cd "$T"
sox "$SRC/tests/data/speech/hello.wav" a.wav trim 0.2 0.25
sox "$SRC/tests/data/speech/hello.wav" b.wav trim 0.6 0.4
printf '%s\n' '{"path":"a.wav","text":"Hi"}' '{"path":"b.wav","text":"Hello world."}' > man.jsonl
for x in a b; do $S encode -m $M --format orpheus -o $x.orph $x.wav; done
$S tokens -m $LM --text "tara: Hi" > ta.json
$S tokens -m $LM --text "tara: Hello world." > tb.json
$S tokens -m $LM --text "Hi" --no-bos > ra.json
$S tokens -m $LM --text "Hello world." --no-bos > rb.json

# expected sequences (JSON lines {"ids","mask"}), one per item in key order a, b
python3 - > exp_tts.jsonl <<'PY'
import json
for x in "ab":
    audio = [int(v) for v in open(f"{x}.orph").read().split()]
    text = json.load(open(f"t{x}.json"))["ids"]
    prompt = [128259] + text + [128009, 128260, 128261, 128257]
    print(json.dumps({"ids": prompt + audio + [128258], "mask": [0] * len(prompt) + [1] * (len(audio) + 1)}))
PY
python3 - > exp_asr.jsonl <<'PY'
import json
for x in "ab":
    audio = [int(v) for v in open(f"{x}.orph").read().split()]
    text = json.load(open(f"r{x}.json"))["ids"]
    prompt = [128000, 128259, 128257] + audio + [128258, 128260, 128261]
    print(json.dumps({"ids": prompt + text + [128262], "mask": [0] * len(prompt) + [1] * (len(text) + 1)}))
PY
check "clips give audio ids" '[ -s a.orph ] && [ -s b.orph ]'

SEQ="--sequences --tokenizer $LM --progress none"
# same(got_jsonl, expected_jsonl): the ids and mask of each line equal, one document each, whole
same() { python3 - "$1" "$2" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exp = [json.loads(l) for l in open(sys.argv[2])]
ok = len(got) == len(exp) and all(g["ids"] == e["ids"] and g["mask"] == e["mask"] and len(g["docs"]) == 1
                                  and g["docs"][0]["start"] == 0 and g["docs"][0]["len"] == len(e["ids"])
                                  and g["docs"][0]["parts"] == 1 for g, e in zip(got, exp))
sys.exit(0 if ok else 1)
PY
}
for task in tts asr; do
  layout=orpheus; [ $task = asr ] && layout=asr
  $S tokenize -m $M -o j_$task $SEQ --layout $layout --task $task --seq-format jsonl man.jsonl > /dev/null 2> err_$task.txt
  check "$task jsonl run: $(cat err_$task.txt)" '[ -s j_$task/w00000-of00001-s000000.seq.jsonl ]'
  check "$task: exact ids and masks" 'same j_$task/w00000-of00001-s000000.seq.jsonl exp_$task.jsonl'
  $S tokenize -m $M -o b_$task $SEQ --layout $layout --task $task man.jsonl > /dev/null 2> errb_$task.txt
  check "$task bin run: $(cat errb_$task.txt)" '[ -s b_$task/w00000-of00001-s000000.seq.idx ]'
  python3 $R b_$task/w00000-of00001-s000000.seq.idx > rd_$task.jsonl
  SNAC_SEQ_READER_NO_NUMPY=1 python3 $R b_$task/w00000-of00001-s000000.seq.ids > rdl_$task.jsonl
  check "$task: reader (bin) = jsonl form" 'cmp -s rd_$task.jsonl j_$task/w00000-of00001-s000000.seq.jsonl'
  check "$task: reader without numpy = jsonl form" 'cmp -s rdl_$task.jsonl j_$task/w00000-of00001-s000000.seq.jsonl'
  check "$task: reader reads the jsonl form back" \
    'python3 $R j_$task/w00000-of00001-s000000.seq.jsonl | cmp -s - j_$task/w00000-of00001-s000000.seq.jsonl'
  check "$task: shard codes unchanged by --sequences" \
    'cmp -s b_$task/w00000-of00001-s000000.jsonl j_$task/w00000-of00001-s000000.jsonl'
done

# packing: both items in one sequence of N tokens
N=$(python3 -c "import json; print(sum(len(json.loads(l)['ids']) for l in open('exp_tts.jsonl')) + 5)")
$S tokenize -m $M -o p $SEQ --layout orpheus --task tts --seq-len $N --pack --seq-format jsonl man.jsonl > /dev/null 2> errp.txt
check "pack run: $(cat errp.txt)" '[ -s p/w00000-of00001-s000000.seq.jsonl ]'
check "pack: one sequence of exactly N, each document = the item alone, padding mask 0 outside documents" \
  'python3 - p/w00000-of00001-s000000.seq.jsonl exp_tts.jsonl $N <<"PY"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exp = [json.loads(l) for l in open(sys.argv[2])]
n = int(sys.argv[3])
assert len(got) == 1 and len(got[0]["ids"]) == n and len(got[0]["mask"]) == n
g = got[0]
docs = g["docs"]
assert [d["key"] for d in docs] == ["a.wav", "b.wav"], docs
covered = [0] * n
for d, e in zip(docs, exp):
    s, l = d["start"], d["len"]
    assert g["ids"][s:s + l] == e["ids"] and g["mask"][s:s + l] == e["mask"]
    for i in range(s, s + l):
        assert not covered[i]
        covered[i] = 1
assert all(m == 0 and i == 128009 for i, m, c in zip(g["ids"], g["mask"], covered) if not c)
PY'

# splitting: --seq-len shorter than item b: pieces <= L, cut between frame groups, concatenation = the item
L=38   # not a prompt length + a multiple of 7 for b: the cut must back off to a frame-group boundary
$S tokenize -m $M -o s $SEQ --layout orpheus --task tts --seq-len $L --seq-format jsonl man.jsonl > /dev/null 2> errs.txt
check "split run: $(cat errs.txt)" '[ -s s/w00000-of00001-s000000.seq.jsonl ]'
check "split: pieces <= L at frame-group boundaries, concatenated = the items" \
  'python3 - s/w00000-of00001-s000000.seq.jsonl exp_tts.jsonl $L <<"PY"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exp = [json.loads(l) for l in open(sys.argv[2])]
L = int(sys.argv[3])
pieces = {}
for g in got:
    assert len(g["ids"]) <= L and len(g["docs"]) == 1
    d = g["docs"][0]
    pieces.setdefault(d["key"], []).append((d["part"], d["parts"], g))
for key, e in zip(["a.wav", "b.wav"], exp):
    ps = sorted(pieces[key], key=lambda p: p[0])
    assert [p[0] for p in ps] == list(range(ps[0][1])) and (ps[0][1] > 1) == (len(e["ids"]) > L), key
    ids = sum((p[2]["ids"] for p in ps), [])
    mask = sum((p[2]["mask"] for p in ps), [])
    assert ids == e["ids"] and mask == e["mask"]
    first_audio = e["mask"].index(1)
    pos = 0
    for p in ps[:-1]:
        pos += len(p[2]["ids"])
        if pos > first_audio:
            assert (pos - first_audio) % 7 == 0, (key, pos)
assert len(pieces["b.wav"]) > 1
PY'

# an item without the text column goes to errors.jsonl naming the column; the run goes on with the others
printf '%s\n' '{"path":"a.wav","caption":"Hi"}' '{"path":"b.wav","text":"Hello world."}' > notext.jsonl
$S tokenize -m $M -o nt $SEQ --layout orpheus --task tts --seq-format jsonl notext.jsonl > /dev/null 2> errnt.txt
check "missing text column: the run succeeds: $(cat errnt.txt)" '[ -s nt/w00000-of00001-s000000.seq.jsonl ]'
check "missing text column: errors.jsonl names the item and the column" \
  'grep -F "\"key\":\"a.wav\"" nt/errors.jsonl | grep -qF "no text column"'
check "missing text column: the other item's sequence is exact, the item is in no shard" \
  'tail -n 1 exp_tts.jsonl > exp_b.jsonl && same nt/w00000-of00001-s000000.seq.jsonl exp_b.jsonl &&
   ! grep -q "\"a.wav\"" nt/w00000-of00001-s000000.jsonl'

# --voice-column: the item's voice in the tts prompt (resolved by the layout: "Mia" -> mia); an unknown voice goes
# to errors.jsonl
cp a.wav c.wav
printf '%s\n' '{"path":"a.wav","text":"Hi","speaker":"leo"}' '{"path":"b.wav","text":"Hello world.","speaker":"Mia"}' \
  '{"path":"c.wav","text":"Hi","speaker":"nobody"}' > vman.jsonl
$S tokens -m $LM --text "leo: Hi" > va.json
$S tokens -m $LM --text "mia: Hello world." > vb.json
python3 - > exp_voice.jsonl <<'PY'
import json
for x in "ab":
    audio = [int(v) for v in open(f"{x}.orph").read().split()]
    text = json.load(open(f"v{x}.json"))["ids"]
    prompt = [128259] + text + [128009, 128260, 128261, 128257]
    print(json.dumps({"ids": prompt + audio + [128258], "mask": [0] * len(prompt) + [1] * (len(audio) + 1)}))
PY
$S tokenize -m $M -o vc $SEQ --layout orpheus --task tts --voice-column speaker --seq-format jsonl vman.jsonl \
  > /dev/null 2> errvc.txt
check "voice column run: $(cat errvc.txt)" '[ -s vc/w00000-of00001-s000000.seq.jsonl ]'
check "voice column: exact ids and masks with each item's voice" 'same vc/w00000-of00001-s000000.seq.jsonl exp_voice.jsonl'
check "voice column: an unknown voice goes to errors.jsonl" \
  'grep -F "\"key\":\"c.wav\"" vc/errors.jsonl | grep -qF "nobody"'

# the tokenizer alone: a folder with only tokenizer.json gives the same sequences (no weights are needed)
mkdir tok && cp $LM/tokenizer.json tok/
$S tokenize -m $M -o to --sequences --tokenizer tok --progress none --layout orpheus --task tts --seq-format jsonl \
  man.jsonl > /dev/null 2> errto.txt
check "tokenizer-only folder: $(cat errto.txt)" 'cmp -s to/w00000-of00001-s000000.seq.jsonl j_tts/w00000-of00001-s000000.seq.jsonl'

# resume: the last shard uncommitted (its done-log line and files gone) -> byte-identical sequence files
$S tokenize -m $M -o r $SEQ --layout orpheus --task tts --shard-size 1 man.jsonl > /dev/null 2>&1
cp -r r r0
sed -i "\$d" r/w00000-of00001.done.jsonl
rm -f r/w00000-of00001-s000001.*
$S tokenize -m $M -o r $SEQ --layout orpheus --task tts --shard-size 1 --resume man.jsonl > /dev/null 2> errr.txt
check "resume: $(cat errr.txt)" '[ -s r/w00000-of00001-s000001.seq.idx ]'
check "resume: sequence files byte-identical" \
  'for f in r0/*.seq.*; do cmp -s $f r/$(basename $f) || exit 1; done'
check "resume with other sequence options is refused" \
  '! $S tokenize -m $M -o r $SEQ --layout orpheus --task tts --seq-len 1000 --shard-size 1 --resume man.jsonl > /dev/null 2>&1'

echo "test_tokenize_sequences: $pass passed, $fail failed"
[ $fail = 0 ]
