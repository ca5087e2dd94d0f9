#!/usr/bin/env bash
# fetch.sh: download a model listed in weights/manifest.json from Hugging Face into a folder snacrt can load.
#
#   weights/fetch.sh MODEL [DEST]        e.g. weights/fetch.sh snac_24khz models/snac_24khz
#   weights/fetch.sh --list              list the models of the manifest
#
# DEST defaults to models/MODEL. Uses curl (or wget). Sends "Authorization: Bearer $HF_TOKEN" when HF_TOKEN is set
# (needed for gated repositories such as canopylabs/orpheus-3b-0.1-ft). Reads the manifest with jq (or python3).
# Files already present with the expected size/SHA-256 are kept. When the manifest knows a file's size or SHA-256
# the download is verified against it; otherwise the computed SHA-256 is printed so it can be recorded.
# For sharded safetensors models the shard names are read from model.safetensors.index.json after downloading it.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="${SNACRT_MANIFEST:-$script_dir/manifest.json}"

die() { echo "fetch.sh: $*" >&2; exit 1; }

usage() {
    sed -n '3,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

have() { command -v "$1" >/dev/null 2>&1; }

# Print "path<TAB>url<TAB>size<TAB>sha256" for each file of MODEL ("null" when unknown).
manifest_files() {
    local model="$1"
    if have jq; then
        jq -r --arg m "$model" '.models[] | select(.name == $m) | .files[] |
            [.path, .url, (.size // "null" | tostring), (.sha256 // "null")] | @tsv' "$manifest"
    elif have python3; then
        python3 - "$manifest" "$model" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if m["name"] == sys.argv[2]:
        for f in m["files"]:
            size = f.get("size")
            print("\t".join([f["path"], f["url"], "null" if size is None else str(size), f.get("sha256") or "null"]))
PY
    else
        die "need jq or python3 to read $manifest"
    fi
}

# Print one top-level string field of MODEL ("" when absent).
manifest_field() {
    local model="$1" field="$2"
    if have jq; then
        jq -r --arg m "$model" --arg f "$field" '.models[] | select(.name == $m) | .[$f] // "" | tostring' "$manifest"
    else
        python3 - "$manifest" "$model" "$field" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if m["name"] == sys.argv[2]:
        v = m.get(sys.argv[3])
        print("" if v is None else v)
PY
    fi
}

list_models() {
    if have jq; then
        jq -r '.models[] | "\(.name)\t\(.repo)\t\(.description)"' "$manifest"
    else
        python3 -c 'import json,sys; [print(m["name"], m["repo"], m["description"], sep="\t") for m in json.load(open(sys.argv[1]))["models"]]' "$manifest"
    fi
}

# Distinct shard file names of a safetensors index, in order of first mention.
index_shards() {
    local index="$1"
    if have jq; then
        jq -r '[.weight_map[]] | reduce .[] as $s ([]; if index([$s]) then . else . + [$s] end) | .[]' "$index"
    else
        python3 -c 'import json,sys; s=[]; [s.append(v) for v in json.load(open(sys.argv[1]))["weight_map"].values() if v not in s]; print("\n".join(s))' "$index"
    fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { wc -c < "$1" | tr -d ' '; }

# The file at DEST matches the expected size and hash (unknown ones are not checked)?
file_ok() {
    local file="$1" size="$2" sha="$3"
    [[ -f "$file" ]] || return 1
    if [[ "$size" != "null" && "$(size_of "$file")" != "$size" ]]; then return 1; fi
    if [[ "$sha" != "null" && "$(sha256_of "$file")" != "$sha" ]]; then return 1; fi
    return 0
}

download() {
    local url="$1" out="$2"
    local -a auth=()
    if have curl; then
        if [[ -n "${HF_TOKEN:-}" ]]; then auth=(-H "Authorization: Bearer $HF_TOKEN"); fi
        curl -fL --retry 3 --retry-delay 2 -C - "${auth[@]}" -o "$out" "$url"
    elif have wget; then
        if [[ -n "${HF_TOKEN:-}" ]]; then auth=(--header="Authorization: Bearer $HF_TOKEN"); fi
        wget -c --tries=3 "${auth[@]}" -O "$out" "$url"
    else
        die "need curl or wget"
    fi
}

# fetch_one DEST PATH URL SIZE SHA256
fetch_one() {
    local dest="$1" path="$2" url="$3" size="$4" sha="$5"
    local out="$dest/$path"
    mkdir -p "$(dirname "$out")"
    if [[ -f "$out" ]]; then
        if [[ "$size" == "null" && "$sha" == "null" ]]; then
            echo "ok       $path (already present; nothing to verify it against; delete it to fetch again)"
            return 0
        fi
        if file_ok "$out" "$size" "$sha"; then
            echo "ok       $path (already present, verified)"
            return 0
        fi
    fi
    echo "fetching $path"
    # resume a partial download kept under .part; move into place only once verified
    if ! download "$url" "$out.part"; then
        if [[ -z "${HF_TOKEN:-}" ]]; then
            die "$url: download failed (a gated repository needs HF_TOKEN set to a token that accepted its license)"
        fi
        die "$url: download failed"
    fi
    local got_size got_sha
    got_size="$(size_of "$out.part")"
    got_sha="$(sha256_of "$out.part")"
    if [[ "$size" != "null" && "$got_size" != "$size" ]]; then
        die "$path: got $got_size bytes, the manifest says $size (kept as $out.part)"
    fi
    if [[ "$sha" != "null" && "$got_sha" != "$sha" ]]; then
        die "$path: SHA-256 $got_sha does not match the manifest's $sha (kept as $out.part)"
    fi
    mv -f "$out.part" "$out"
    if [[ "$sha" == "null" ]]; then
        echo "         $path: $got_size bytes, sha256 $got_sha (not in the manifest: unverified)"
    else
        echo "         $path: $got_size bytes, SHA-256 verified"
    fi
}

main() {
    [[ $# -ge 1 ]] || usage
    [[ -f "$manifest" ]] || die "manifest not found: $manifest"
    case "$1" in
        -h|--help) usage ;;
        --list) list_models; return 0 ;;
    esac
    local model="$1" dest="${2:-models/$1}"
    local repo revision
    repo="$(manifest_field "$model" repo)"
    [[ -n "$repo" ]] || die "unknown model '$model' (see: $0 --list)"
    revision="$(manifest_field "$model" revision)"
    revision="${revision:-main}"
    mkdir -p "$dest"
    local path url size sha n=0
    while IFS=$'\t' read -r path url size sha; do
        [[ -n "$path" ]] || continue
        fetch_one "$dest" "$path" "$url" "$size" "$sha"
        n=$((n + 1))
    done < <(manifest_files "$model")
    [[ $n -gt 0 ]] || die "model '$model' lists no files"
    local index
    index="$(manifest_field "$model" shards_from_index)"
    if [[ -n "$index" ]]; then
        [[ -f "$dest/$index" ]] || die "$dest/$index missing after download"
        local shard
        while IFS= read -r shard; do
            [[ -n "$shard" ]] || continue
            case "$shard" in
                /*|*..*) die "$index names shard '$shard' outside the model folder" ;;
            esac
            fetch_one "$dest" "$shard" "https://huggingface.co/$repo/resolve/$revision/$shard" null null
        done < <(index_shards "$dest/$index")
    fi
    echo "done: $model in $dest"
}

main "$@"
