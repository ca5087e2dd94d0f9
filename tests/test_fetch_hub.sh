#!/usr/bin/env bash
# test_fetch_hub.sh: weights/fetch.sh REPO_ID against a local mock of the Hugging Face hub API (tests/hub_mock.py on
# 127.0.0.1, HF_ENDPOINT pointing at it; no network): every file listed and verified (LFS SHA-256, git blob ids),
# --include globs, resume of a partial download (Range), a corrupt download refused and removed, a gated repository
# with and without HF_TOKEN, an unknown repository, and a manifest name (snac_24khz) through the same endpoint. The
# fetched tiny SNAC model loads in snacrt.
set -u
source "$(dirname "$0")/sh_prelude.sh"
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "SKIP: needs curl and python3"; exit 77; }
F=$SRC/weights/fetch.sh
HUB=$T/hub
mkdir -p $HUB/acme/tiny-snac/sub $HUB/gated/model $HUB/acme/liar $HUB/hubertsiuzdak/snac_24khz
cp $M/config.json $M/model.safetensors $HUB/acme/tiny-snac/
echo "# tiny" > $HUB/acme/tiny-snac/README.md
echo "extra" > $HUB/acme/tiny-snac/sub/extra.txt
cp $M/config.json $M/model.safetensors $HUB/gated/model/
cp $M/config.json $M/model.safetensors $HUB/acme/liar/
cp $M/config.json $M/pytorch_model.bin $HUB/hubertsiuzdak/snac_24khz/
python3 $SRC/tests/hub_mock.py $HUB $T/port $T/log &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -f $T/port ] && break; sleep 0.05; done
export HF_ENDPOINT=http://127.0.0.1:$(cat $T/port)
unset HF_TOKEN

# a whole repository: every file, verified, loadable
bash $F acme/tiny-snac $T/d1 > $T/o1 2>&1; rc=$?
check "repo fetch exits 0 (rc $rc: $(tail -2 $T/o1))" "[ $rc = 0 ]"
for f in config.json model.safetensors README.md sub/extra.txt; do
  check "repo fetch: $f identical" "cmp -s $HUB/acme/tiny-snac/$f $T/d1/$f"
done
check "LFS file checked by SHA-256" "grep -q 'model.safetensors: [0-9]* bytes, SHA-256 verified' $T/o1"
check "small file checked by git blob id" "grep -q 'config.json: [0-9]* bytes, git blob id verified' $T/o1"
check "summary names 4 files" "grep -q 'done: 4 files' $T/o1"
check "no .part left" "! find $T/d1 -name '*.part' | grep -q ."
check "the LFS file came through the redirect" "grep -q 'GET /cdn/acme/tiny-snac/model.safetensors' $T/log"
check "snacrt loads the fetched model" "$S info $T/d1 | grep -q '\"architecture\":\"SNAC\"'"

# a second run downloads nothing
: > $T/log
bash $F acme/tiny-snac $T/d1 > $T/o2 2>&1
check "rerun keeps verified files" "[ \$(grep -c 'already present, verified' $T/o2) = 4 ]"
check "rerun downloads nothing" "! grep -q resolve $T/log"

# --include
bash $F acme/tiny-snac $T/d2 --include 'config.json' --include '*.safetensors' > $T/o3 2>&1; rc=$?
check "--include exits 0" "[ $rc = 0 ]"
check "--include keeps matches" "[ -f $T/d2/config.json ] && [ -f $T/d2/model.safetensors ]"
check "--include drops the rest" "[ ! -e $T/d2/README.md ] && [ ! -e $T/d2/sub ]"
check "--include counts the rest" "grep -q '2 more not matching --include' $T/o3"
bash $F acme/tiny-snac $T/d2 --include '*.gguf' > $T/o4 2>&1; rc=$?
check "--include matching nothing fails and says so" "[ $rc != 0 ] && grep -q 'no file of acme/tiny-snac matches' $T/o4"

# resume: a partial download is continued from its end (Range), not restarted
rm $T/d2/model.safetensors
head -c 100000 $M/model.safetensors > $T/d2/model.safetensors.part
: > $T/log
bash $F acme/tiny-snac $T/d2 --include '*.safetensors' > $T/o5 2>&1; rc=$?
check "resume exits 0 ($(tail -1 $T/o5))" "[ $rc = 0 ]"
check "resume says where it resumes" "grep -q 'resuming at byte 100000' $T/o5"
check "resume asked for the rest only" "grep -q 'model.safetensors bytes=100000- ' $T/log"
check "resumed file identical" "cmp -s $M/model.safetensors $T/d2/model.safetensors"

# a corrupt partial file: the result fails the LFS SHA-256, is removed, and the next run fetches it anew
rm $T/d2/model.safetensors
head -c 100000 /dev/urandom > $T/d2/model.safetensors.part
bash $F acme/tiny-snac $T/d2 --include '*.safetensors' > $T/o6 2>&1; rc=$?
check "corrupt resume fails" "[ $rc != 0 ] && grep -q 'does not match the expected' $T/o6"
check "corrupt file removed, not installed" "[ ! -e $T/d2/model.safetensors.part ] && [ ! -e $T/d2/model.safetensors ]"
bash $F acme/tiny-snac $T/d2 --include '*.safetensors' > $T/o7 2>&1; rc=$?
check "next run recovers" "[ $rc = 0 ] && cmp -s $M/model.safetensors $T/d2/model.safetensors"

# the API's hash is the reference: a file that does not match it is refused
bash $F acme/liar $T/d3 > $T/o8 2>&1; rc=$?
check "SHA-256 mismatch refused" "[ $rc != 0 ] && grep -q 'model.safetensors: SHA-256 .* does not match' $T/o8 && [ ! -e $T/d3/model.safetensors ]"

# gated repositories need HF_TOKEN
bash $F gated/model $T/d4 > $T/o9 2>&1; rc=$?
check "gated without token fails naming HF_TOKEN" "[ $rc != 0 ] && grep -q 'gated or private (HTTP 401).*HF_TOKEN' $T/o9"
HF_TOKEN=wrong bash $F gated/model $T/d4 > $T/o10 2>&1; rc=$?
check "gated with a wrong token fails" "[ $rc != 0 ] && grep -q 'the token has no access' $T/o10"
HF_TOKEN=secret-token bash $F gated/model $T/d4 > $T/o11 2>&1; rc=$?
check "gated with HF_TOKEN works" "[ $rc = 0 ] && cmp -s $M/model.safetensors $T/d4/model.safetensors"

# unknown repository, bad id
bash $F acme/nothing-here $T/d5 > $T/o12 2>&1; rc=$?
check "unknown repo: 404 message" "[ $rc != 0 ] && grep -q 'no such model repository' $T/o12"
bash $F 'acme/../etc' $T/d5 > $T/o13 2>&1; rc=$?
check "bad repo id refused" "[ $rc != 0 ] && grep -q 'not a Hugging Face repository id' $T/o13"
bash $F no_such_name $T/d5 > $T/o14 2>&1; rc=$?
check "unknown manifest name points to owner/name" "[ $rc != 0 ] && grep -q 'any Hugging Face repository works as owner/name' $T/o14"

# a manifest name goes through the same endpoint
bash $F snac_24khz $T/d6 > $T/o15 2>&1; rc=$?
check "manifest name via HF_ENDPOINT ($(tail -1 $T/o15))" "[ $rc = 0 ] && cmp -s $M/pytorch_model.bin $T/d6/pytorch_model.bin"

echo "test_fetch_hub: $pass passed, $fail failed"
[ $fail = 0 ]
