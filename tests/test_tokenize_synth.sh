#!/usr/bin/env bash
# test_tokenize_synth.sh: `snacrt tokenize --sequences --task interleave|dialog` (docs/sequences.md) with
# tiny-orpheus speaking through tests/data/snac/tiny24.
# Checks: the exact ids and masks of every document, assembled by hand from `snacrt tokens` (text), `snacrt tts`
# of each spoken span alone with the voice and seed its shard item records, then `snacrt encode --format orpheus`
# of that WAV (audio), and the layouts' token ids (layouts/README.md); the shard items are the spoken spans; a
# second run gives byte-identical files; a dialog with a role the layout has no template for goes to errors.jsonl;
# --user-text puts the user's turns as text parts; the binary form read by tools/snac_seq_reader.py equals the
# JSONL form.
set -u
. "${SNACRT_SRC:-$(pwd)}/tests/sh_prelude.sh"   # SRC BIN S M T pass fail check
LM=$SRC/tests/data/llama/tiny-orpheus
R=$SRC/tools/snac_seq_reader.py
cd "$T"
SEQ="--sequences --tokenizer $LM --layout orpheus --tts-max-tokens 28 --tts-temperature 1 --tts-top-p 0.95 --threads 2
     --progress none"
SH=w00000-of00001-s000000

# expected(shard_jsonl, kind) -> expected sequences, one JSON line per document in order. Spoken spans: the shard
# items "<doc>#<i>" (text, voice, seed), synthesized alone by `snacrt tts` and encoded by `snacrt encode`.
cat > expect.py <<'PY'
import json, re, subprocess, sys
S, M, LM, shard, kind = sys.argv[1:6]
docs_in = sys.argv[6]
items = {}
for l in open(shard):
    j = json.loads(l)
    items[j["key"]] = j
def tokens(text, bos):
    out = subprocess.run([S, "tokens", "-m", LM, "--text", text] + ([] if bos else ["--no-bos"]),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["ids"]
import os
cache = json.load(open("cache.json")) if os.path.exists("cache.json") else {}   # spans heard by an earlier call
def speak(it, n):
    k = "\t".join((it["text"], it["voice"], it["seed"]))
    if k not in cache:
        w = f"span{len(cache)}.wav"
        subprocess.run([S, "tts", "-m", LM, "--codec", M, "--threads", "2", "--max-tokens", "28", "--temperature", "1",
                        "--top-p", "0.95", "--seed", it["seed"], "--voice", it["voice"], it["text"], "-o", w],
                       check=True, capture_output=True)
        subprocess.run([S, "encode", "-m", M, "--format", "orpheus", "-o", w + ".orph", w], check=True,
                       capture_output=True)
        cache[k] = [int(v) for v in open(w + ".orph").read().split()]
        json.dump(cache, open("cache.json", "w"))
    return cache[k]
n = 0
for line_no, line in enumerate(open(docs_in), 1):
    if not line.strip():
        continue
    key = f"{docs_in}:{line_no}"
    if kind == "interleave":
        sents = [s.strip() for s in re.findall(r'.*?[.!?]+["\')\]]*(?=\s|$)|.+$', line.strip()) if s.strip()]
        ids = tokens("", True)
        for i, s in enumerate(sents):
            it = items.get(f"{key}#{i}")
            if it:
                assert it["text"] == s, (it, s)
                n += 1
                ids += [128257] + speak(it, n) + [128258]
            else:
                ids += tokens((" " if i else "") + s, False)
        print(json.dumps({"ids": ids, "mask": [1] * len(ids), "key": key}))
    else:
        msgs = json.loads(line)["messages"]
        ids, mask = [], []
        for i, m in enumerate(msgs):
            if m["role"] not in ("user", "assistant"):
                ids = None
                break
            it = items.get(f"{key}#{i}")
            if it:
                assert it["text"] == m["content"] and it["role"] == m["role"]
                n += 1
                part = [128257] + speak(it, n) + [128258]
            else:
                part = tokens("tara: " + m["content"], True)
            if m["role"] == "user":
                t = [128259] + part + [128009, 128260]
                ids += t; mask += [0] * len(t)
            else:   # reply = start_of_ai start_of_speech: targets after what the turn shares with it
                t = [128261] + part + [128262]
                k = 2 if part[0] == 128257 else 1
                ids += t; mask += [0] * k + [1] * (len(t) - k)
        if ids is not None:
            print(json.dumps({"ids": ids, "mask": mask, "key": key}))
print(n, file=sys.stderr)
PY
# same(got_jsonl, expected_jsonl): each sequence's ids and mask equal, one whole document each, keys in order
same() { python3 - "$1" "$2" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
exp = [json.loads(l) for l in open(sys.argv[2])]
ok = len(got) == len(exp) and all(g["ids"] == e["ids"] and g["mask"] == e["mask"] and len(g["docs"]) == 1
                                  and g["docs"][0]["key"] == e["key"] and g["docs"][0]["len"] == len(e["ids"])
                                  for g, e in zip(got, exp))
if not ok:
    for g, e in zip(got, exp):
        print("got", g["ids"], g["mask"], "\nexp", e["ids"], e["mask"], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

# ---- interleave: two documents of a text corpus, half the sentences spoken, voices rotated
printf '%s\n' 'Hello there. How are you today? I am fine!' '' 'One more line. It ends here.' > corpus.txt
$S tokenize -m $M -o il $SEQ --task interleave --audio-rate 0.5 --seed 3 --voices tara,leo --seq-format jsonl \
  corpus.txt > /dev/null 2> err_il.txt
check "interleave run: $(cat err_il.txt)" '[ -s il/$SH.seq.jsonl ]'
python3 expect.py $S $M $LM il/$SH.jsonl interleave corpus.txt > exp_il.jsonl 2> n_il.txt
check "interleave: some sentences spoken, some text ($(cat n_il.txt) spoken of 5)" \
  '[ "$(cat n_il.txt)" -ge 1 ] && [ "$(cat n_il.txt)" -le 4 ]'
check "interleave: voices rotated" '[ $(grep -o "\"voice\":\"[a-z]*\"" il/$SH.jsonl | sort -u | wc -l) = 2 ] ||
  [ "$(cat n_il.txt)" = 1 ]'
check "interleave: exact ids and masks" 'same il/$SH.seq.jsonl exp_il.jsonl'
$S tokenize -m $M -o il2 $SEQ --task interleave --audio-rate 0.5 --seed 3 --voices tara,leo --seq-format jsonl \
  corpus.txt > /dev/null 2>&1
check "interleave: a second run gives byte-identical files" \
  'for f in il/w*; do cmp -s $f il2/$(basename $f) || exit 1; done'
$S tokenize -m $M -o ilb $SEQ --task interleave --audio-rate 0.5 --seed 3 --voices tara,leo corpus.txt > /dev/null 2>&1
check "interleave: reader (bin) = jsonl form" 'python3 $R ilb/$SH.seq.idx | cmp -s - il/$SH.seq.jsonl'

# ---- dialog: both roles spoken; a conversation with a system turn (orpheus has no system template) -> errors
cat > chat.jsonl <<'EOF'
{"messages": [{"role": "user", "content": "Hi there."}, {"role": "assistant", "content": "Hello!"}]}
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]}
{"messages": [{"role": "user", "content": "Name a color."}, {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Thanks."}, {"role": "assistant", "content": "Bye."}]}
EOF
$S tokenize -m $M -o dl $SEQ --task dialog --voices leo,tara --seq-format jsonl chat.jsonl > /dev/null 2> err_dl.txt
check "dialog run: $(cat err_dl.txt)" '[ -s dl/$SH.seq.jsonl ]'
python3 expect.py $S $M $LM dl/$SH.jsonl dialog chat.jsonl > exp_dl.jsonl 2> n_dl.txt
check "dialog: every turn of the two usable dialogs spoken ($(cat n_dl.txt))" '[ "$(cat n_dl.txt)" = 6 ]'
check "dialog: voices per role" 'grep "\"role\":\"user\"" dl/$SH.jsonl | grep -q "\"voice\":\"leo\"" &&
  ! grep "\"role\":\"assistant\"" dl/$SH.jsonl | grep -q "\"voice\":\"leo\""'
check "dialog: exact ids and masks" 'same dl/$SH.seq.jsonl exp_dl.jsonl'
check "dialog: the system-turn conversation is in errors.jsonl" \
  'grep -F "chat.jsonl:2" dl/errors.jsonl | grep -qF "system"'
$S tokenize -m $M -o dt $SEQ --task dialog --voices leo,tara --user-text --seq-format jsonl chat.jsonl \
  > /dev/null 2> err_dt.txt
check "dialog --user-text run: $(cat err_dt.txt)" '[ -s dt/$SH.seq.jsonl ]'
python3 expect.py $S $M $LM dt/$SH.jsonl dialog chat.jsonl > exp_dt.jsonl 2> n_dt.txt
check "dialog --user-text: only the assistant spoken ($(cat n_dt.txt))" '[ "$(cat n_dt.txt)" = 3 ]'
check "dialog --user-text: exact ids and masks" 'same dt/$SH.seq.jsonl exp_dt.jsonl'
$S tokenize -m $M -o dlb $SEQ --task dialog --voices leo,tara chat.jsonl > /dev/null 2>&1
check "dialog: reader (bin) = jsonl form" 'python3 $R dlb/$SH.seq.idx | cmp -s - dl/$SH.seq.jsonl'
check "dialog: detokenize gives each spoken turn's audio" \
  '$S detokenize -m $M -o wavs dl > /dev/null 2>&1 && [ $(find wavs -name "*.wav" | wc -l) = 6 ]'

echo "test_tokenize_synth: $pass passed, $fail failed"
[ $fail = 0 ]
