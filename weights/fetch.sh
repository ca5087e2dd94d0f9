#!/usr/bin/env bash
# fetch.sh: download a model from Hugging Face into a folder snacrt can load: any repository by id, or a model of
# weights/manifest.json by name.
#
#   weights/fetch.sh REPO_ID [DEST] [--include GLOB]... [--revision REV]   e.g. weights/fetch.sh canopylabs/orpheus-3b-0.1-ft
#   weights/fetch.sh MODEL [DEST]        a manifest name, e.g. weights/fetch.sh snac_24khz models/snac_24khz
#   weights/fetch.sh --list              list the models of the manifest
#
# REPO_ID (owner/name): the files are listed through the hub API ($HF_ENDPOINT/api/models/REPO_ID/revision/REV
# ?blobs=true), each is downloaded with resume (a partial file is kept as FILE.part and continued with curl -C -),
# and checked against the size and the LFS SHA-256 (or the git blob id of small files) the API gives. --include
# keeps only the files whose path matches one of the globs ('*.safetensors', 'config.json'; * also matches /).
# DEST defaults to models/NAME (the repository's name) or models/MODEL. HF_ENDPOINT overrides the hub's base URL
# (default https://huggingface.co; also used for the manifest's URLs). Sends "Authorization: Bearer $HF_TOKEN" when
# HF_TOKEN is set (needed for gated repositories such as canopylabs/orpheus-3b-0.1-ft). Uses curl (or wget for
# manifest models), and jq or python3 to read JSON. Files already present with the expected size/SHA-256 are kept.
# For manifest models without a known hash the computed SHA-256 is printed so it can be recorded; the shard names
# of sharded safetensors models are read from model.safetensors.index.json after downloading it.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="${SNACRT_MANIFEST:-$script_dir/manifest.json}"

die() { echo "fetch.sh: $*" >&2; exit 1; }

usage() {
    sed -n '4,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

endpoint="${HF_ENDPOINT:-https://huggingface.co}"
endpoint="${endpoint%/}"

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
# git's blob id of a file (sha1 of "blob SIZE\0" + content): the hub's id of a file not stored in LFS
git_blob_of() {
    if have git; then git hash-object --no-filters "$1"; else
        python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"
    fi
}

# The file at DEST matches the expected size and hashes (unknown ones, "null", are not checked)?
file_ok() {
    local file="$1" size="$2" sha="$3" blob="${4:-null}"
    [[ -f "$file" ]] || return 1
    if [[ "$size" != "null" && "$(size_of "$file")" != "$size" ]]; then return 1; fi
    if [[ "$sha" != "null" && "$(sha256_of "$file")" != "$sha" ]]; then return 1; fi
    if [[ "$sha" == "null" && "$blob" != "null" && "$(git_blob_of "$file")" != "$blob" ]]; then return 1; fi
    return 0
}

download() {
    local url="$1" out="$2"
    local -a auth=()
    if have curl; then
        if [[ -n "${HF_TOKEN:-}" ]]; then auth=(-H "Authorization: Bearer $HF_TOKEN"); fi
        curl -fsSL --retry 3 --retry-delay 2 -C - "${auth[@]}" -o "$out" "$url"
    elif have wget; then
        if [[ -n "${HF_TOKEN:-}" ]]; then auth=(--header="Authorization: Bearer $HF_TOKEN"); fi
        wget -q -c --tries=3 "${auth[@]}" -O "$out" "$url"
    else
        die "need curl or wget"
    fi
}

# fetch_one DEST PATH URL SIZE SHA256 [GIT_BLOB_ID]
fetch_one() {
    local dest="$1" path="$2" url="$3" size="$4" sha="$5" blob="${6:-null}"
    local out="$dest/$path"
    mkdir -p "$(dirname "$out")"
    if [[ -f "$out" ]]; then
        if [[ "$size" == "null" && "$sha" == "null" && "$blob" == "null" ]]; then
            echo "ok       $path (already present; nothing to verify it against; delete it to fetch again)"
            return 0
        fi
        if file_ok "$out" "$size" "$sha" "$blob"; then
            echo "ok       $path (already present, verified)"
            return 0
        fi
    fi
    # resume a partial download kept under .part; move into place only once verified
    local part_size=0
    if [[ -f "$out.part" ]]; then part_size="$(size_of "$out.part")"; fi
    if [[ "$size" != "null" && "$part_size" -gt "$size" ]]; then
        rm -f "$out.part"
        part_size=0
    fi
    if [[ "$size" != "null" && "$part_size" -eq "$size" ]]; then
        echo "fetching $path (complete in $path.part)"
    else
        if [[ "$part_size" -gt 0 ]]; then echo "fetching $path (resuming at byte $part_size)"; else echo "fetching $path"; fi
        if ! download "$url" "$out.part"; then
            if [[ -z "${HF_TOKEN:-}" ]]; then
                die "$url: download failed (a gated repository needs HF_TOKEN set to a token that accepted its license; a partial file is kept as $out.part and resumed by the next run)"
            fi
            die "$url: download failed (a partial file is kept as $out.part and resumed by the next run)"
        fi
    fi
    local got_size got_sha
    got_size="$(size_of "$out.part")"
    got_sha="$(sha256_of "$out.part")"
    if [[ "$size" != "null" && "$got_size" != "$size" ]]; then
        rm -f "$out.part"
        die "$path: got $got_size bytes, expected $size (removed; run again to fetch it anew)"
    fi
    if [[ "$sha" != "null" && "$got_sha" != "$sha" ]]; then
        rm -f "$out.part"
        die "$path: SHA-256 $got_sha does not match the expected $sha (removed; run again to fetch it anew)"
    fi
    if [[ "$sha" == "null" && "$blob" != "null" ]]; then
        local got_blob
        got_blob="$(git_blob_of "$out.part")"
        if [[ "$got_blob" != "$blob" ]]; then
            rm -f "$out.part"
            die "$path: git blob id $got_blob does not match the expected $blob (removed; run again to fetch it anew)"
        fi
    fi
    mv -f "$out.part" "$out"
    if [[ "$sha" != "null" ]]; then
        echo "         $path: $got_size bytes, SHA-256 verified"
    elif [[ "$blob" != "null" ]]; then
        echo "         $path: $got_size bytes, git blob id verified"
    else
        echo "         $path: $got_size bytes, sha256 $got_sha (not in the manifest: unverified)"
    fi
}

# Print "path<TAB>size<TAB>sha256<TAB>git_blob_id" for each file of a hub API answer ("null" when unknown).
# Reads both the revision API (siblings: rfilename, size, blobId, lfs.sha256) and the tree API (path, size, oid,
# lfs.oid).
hub_files() {
    local json="$1"
    if have jq; then
        jq -r '(if type == "array" then .[] | select(.type == "file") else .siblings[] end) |
            [(.rfilename // .path), (.size // .lfs.size // "null" | tostring),
             (.lfs.sha256 // .lfs.oid // "null"), (if .lfs then "null" else (.blobId // .oid // "null") end)] | @tsv' "$json"
    elif have python3; then
        python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
files = [f for f in d if f.get("type") == "file"] if isinstance(d, list) else d.get("siblings", [])
for f in files:
    lfs = f.get("lfs") or {}
    size = f.get("size", lfs.get("size"))
    sha = lfs.get("sha256") or lfs.get("oid")
    blob = None if lfs else (f.get("blobId") or f.get("oid"))
    print("\t".join([f.get("rfilename") or f["path"], "null" if size is None else str(size), sha or "null", blob or "null"]))
PY
    else
        die "need jq or python3 to read the hub's answer"
    fi
}

# fetch_repo REPO REVISION DEST INCLUDE_GLOB...: every file of a hub repository (matching a glob when given).
fetch_repo() {
    local repo="$1" revision="$2" dest="$3"
    shift 3
    have curl || die "need curl to list $repo through the hub API"
    case "$repo" in
        */*/*|/*|*/|*..*|*[!A-Za-z0-9._/-]*) die "'$repo' is not a Hugging Face repository id (owner/name)" ;;
    esac
    local tmp code
    tmp="$(mktemp)"
    # shellcheck disable=SC2064
    trap "rm -f '$tmp'" EXIT
    local api="$endpoint/api/models/$repo/revision/$revision?blobs=true"
    local -a auth=()
    if [[ -n "${HF_TOKEN:-}" ]]; then auth=(-H "Authorization: Bearer $HF_TOKEN"); fi
    code="$(curl -sSL --retry 3 --retry-delay 2 "${auth[@]}" -o "$tmp" -w '%{http_code}' "$api")" ||
        die "$api: request failed (no network? HF_ENDPOINT=$endpoint)"
    case "$code" in
        200) ;;
        401|403)
            if [[ -z "${HF_TOKEN:-}" ]]; then
                die "$repo is gated or private (HTTP $code): accept its license on $endpoint/$repo and set HF_TOKEN to a read token"
            fi
            die "$repo: HTTP $code with HF_TOKEN set: the token has no access (accept the license on $endpoint/$repo)" ;;
        404) die "$repo (revision $revision): no such model repository on $endpoint (HTTP 404)" ;;
        *) die "$api: HTTP $code" ;;
    esac
    mkdir -p "$dest"
    local path size sha blob n=0 skipped=0 total=0
    while IFS=$'\t' read -r path size sha blob; do
        [[ -n "$path" ]] || continue
        case "$path" in
            /*|../*|*/../*|*/..|..) die "the hub lists '$path', outside the model folder" ;;
        esac
        if [[ $# -gt 0 ]]; then
            local pat keep=0
            for pat in "$@"; do
                # shellcheck disable=SC2053
                if [[ "$path" == $pat ]]; then keep=1; break; fi
            done
            if [[ $keep -eq 0 ]]; then skipped=$((skipped + 1)); continue; fi
        fi
        fetch_one "$dest" "$path" "$endpoint/$repo/resolve/$revision/$path" "$size" "$sha" "$blob"
        n=$((n + 1))
        if [[ "$size" != "null" ]]; then total=$((total + size)); fi
    done < <(hub_files "$tmp")
    if [[ $n -eq 0 ]]; then
        if [[ $skipped -gt 0 ]]; then die "no file of $repo matches --include $* ($skipped files listed)"; fi
        die "$repo lists no files"
    fi
    local note=""
    if [[ $skipped -gt 0 ]]; then note=" ($skipped more not matching --include)"; fi
    echo "done: $n files ($total bytes) of $repo@$revision in $dest$note"
}

main() {
    local -a pos=() include=()
    local revision_opt=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            -h|--help) usage ;;
            --list) [[ -f "$manifest" ]] || die "manifest not found: $manifest"; list_models; return 0 ;;
            --include) [[ $# -ge 2 ]] || die "--include needs a glob"; include+=("$2"); shift 2 ;;
            --include=*) include+=("${1#--include=}"); shift ;;
            --revision) [[ $# -ge 2 ]] || die "--revision needs a branch, tag or commit"; revision_opt="$2"; shift 2 ;;
            --revision=*) revision_opt="${1#--revision=}"; shift ;;
            -*) die "unknown option '$1' (see: $0 --help)" ;;
            *) pos+=("$1"); shift ;;
        esac
    done
    [[ ${#pos[@]} -ge 1 && ${#pos[@]} -le 2 ]] || usage
    local model="${pos[0]}"
    if [[ "$model" == */* ]]; then
        fetch_repo "$model" "${revision_opt:-main}" "${pos[1]:-models/${model##*/}}" "${include[@]}"
        return 0
    fi
    [[ -f "$manifest" ]] || die "manifest not found: $manifest"
    [[ ${#include[@]} -eq 0 ]] || die "--include is for a repository id (owner/name); '$model' is a manifest name"
    local dest="${pos[1]:-models/$model}"
    local repo revision
    repo="$(manifest_field "$model" repo)"
    [[ -n "$repo" ]] || die "unknown model '$model' (see: $0 --list; any Hugging Face repository works as owner/name)"
    revision="$(manifest_field "$model" revision)"
    revision="${revision_opt:-${revision:-main}}"
    mkdir -p "$dest"
    local path url size sha n=0
    while IFS=$'\t' read -r path url size sha; do
        [[ -n "$path" ]] || continue
        url="${url/#https:\/\/huggingface.co/$endpoint}"
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
            fetch_one "$dest" "$shard" "$endpoint/$repo/resolve/$revision/$shard" null null
        done < <(index_shards "$dest/$index")
    fi
    echo "done: $model in $dest"
}

main "$@"
