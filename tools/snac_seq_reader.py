#!/usr/bin/env python3
"""snac_seq_reader.py: read the training sequences `snacrt tokenize --sequences` writes (docs/sequences.md).

    from snac_seq_reader import read_sequences
    for ids, mask, docs in read_sequences("out/w00000-of00001-s000000.seq.idx"):   # or .seq.jsonl
        ...   # ids: uint32 array, mask: uint8 array (1 = a target), docs: [{"key","start","len","part","parts"}]

Without numpy (or with SNAC_SEQ_READER_NO_NUMPY=1) ids and mask come back as plain lists of ints.

CLI: `python3 tools/snac_seq_reader.py FILE...` prints one JSON line {"ids","mask","docs"} per sequence (the
.seq.jsonl form), so both forms of a shard can be compared with diff.
"""
import array
import json
import os
import struct
import sys

MAGIC = b"SRTSEQ01"


def _stem(path):
    for suf in (".seq.idx", ".seq.ids", ".seq.mask", ".seq.docs.jsonl", ".seq.jsonl"):
        if path.endswith(suf):
            return path[: -len(suf)], suf
    raise ValueError(f"{path}: not a sequence file (.seq.idx / .seq.jsonl)")


def _numpy():
    if os.environ.get("SNAC_SEQ_READER_NO_NUMPY"):
        return None
    try:
        import numpy
        return numpy
    except ImportError:
        return None


def read_sequences(path):
    """Yield (ids, mask, docs) per sequence of one shard, in order."""
    np = _numpy()
    stem, suf = _stem(path)
    if suf == ".seq.jsonl":
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                j = json.loads(line)
                if len(j["ids"]) != len(j["mask"]):
                    raise ValueError(f"{path}:{n}: ids and mask differ in length")
                if np is not None:
                    yield np.asarray(j["ids"], np.uint32), np.asarray(j["mask"], np.uint8), j["docs"]
                else:
                    yield j["ids"], j["mask"], j["docs"]
        return
    with open(stem + ".seq.idx", "rb") as f:
        head = f.read(24)
        if len(head) != 24 or head[:8] != MAGIC:
            raise ValueError(f"{stem}.seq.idx: not a snacrt sequence index")
        n_seq, n_tok = struct.unpack("<QQ", head[8:])
        raw = f.read(8 * (n_seq + 1))
    if len(raw) != 8 * (n_seq + 1):
        raise ValueError(f"{stem}.seq.idx: truncated offsets")
    off = struct.unpack(f"<{n_seq + 1}Q", raw)
    if off[0] != 0 or off[-1] != n_tok or any(off[i + 1] <= off[i] for i in range(n_seq)):
        raise ValueError(f"{stem}.seq.idx: inconsistent offsets")
    if np is not None:
        ids = np.fromfile(stem + ".seq.ids", "<u4")
        mask = np.fromfile(stem + ".seq.mask", np.uint8)
    else:
        ids = array.array("I")
        with open(stem + ".seq.ids", "rb") as f:
            ids.frombytes(f.read())
        if sys.byteorder != "little":
            ids.byteswap()
        with open(stem + ".seq.mask", "rb") as f:
            mask = f.read()
    if len(ids) != n_tok or len(mask) != n_tok:
        raise ValueError(f"{stem}: .seq.ids / .seq.mask do not hold {n_tok} tokens")
    docs = [[] for _ in range(n_seq)]
    with open(stem + ".seq.docs.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs[d.pop("seq")].append(d)
    for i in range(n_seq):
        a, b = off[i], off[i + 1]
        if np is not None:
            yield ids[a:b], mask[a:b], docs[i]
        else:
            yield list(ids[a:b]), list(mask[a:b]), docs[i]


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    for p in argv:
        for ids, mask, docs in read_sequences(p):
            print(json.dumps({"ids": [int(x) for x in ids], "mask": [int(x) for x in mask], "docs": docs}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
