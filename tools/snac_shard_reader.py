#!/usr/bin/env python3
"""snac_shard_reader.py: read the shards `snacrt tokenize` writes (docs/binary-format.md) from Python.

Formats: <name>.idx + <name>.bin (binary, seekable), <name>.jsonl, <name>.csv (LAION-style code string).
Codes come back as one array per level, coarse first: numpy int32 arrays when numpy is installed, plain lists
of ints otherwise (the standard library is enough); SNAC_SHARD_READER_NO_NUMPY=1 in the environment gives the
lists even with numpy installed.

    from snac_shard_reader import open_shard
    shard = open_shard("out/w00000-of00001-s000000.bin")   # .bin or .idx: the pair is used
    print(len(shard), shard[3]["key"])                     # bin shards are seekable
    for item in open_shard("out/w00000-of00001-s000001.jsonl"):
        item["key"], item["n_samples"], item["codes"]

Command line: `python3 snac_shard_reader.py [--index I] [--strides 4,2,1] SHARD...` prints one JSON line per item.
"""
import array
import csv
import io
import json
import os
import re
import struct
import sys

IDX_MAGIC = b"SNACIDX\0"
BIN_MAGIC = b"SNACBIN\0"
VERSION = 1
IDX_HEADER = struct.Struct("<8sIIIIIII8IIQQQ")   # 96 bytes
ENTRY = struct.Struct("<QQqqQQQQQQ")             # 80 bytes


def _numpy():
    """numpy when it is installed (imported on first use) and SNAC_SHARD_READER_NO_NUMPY is not set, else None."""
    if os.environ.get("SNAC_SHARD_READER_NO_NUMPY", "") not in ("", "0"):
        return None
    try:
        import numpy
        return numpy
    except ImportError:
        return None


class ShardError(ValueError):
    """A truncated or malformed shard; the message names the file and the item or line."""


def _default_strides(sample_rate):
    """Level strides of the published SNAC models, for CSV shards (which do not store them)."""
    return [4, 2, 1] if sample_rate <= 24000 else [8, 4, 2, 1]


def _rate_from_khz(khz):
    return khz * 1000 + khz * 25 // 11 if khz in (11, 22, 44, 88) else khz * 1000


def _item(key, source, offset, n_samples, sample_rate, codes, extra):
    return {"key": key, "source": source, "offset": offset, "n_samples": n_samples, "sample_rate": sample_rate,
            "codes": codes, "extra": extra}


class BinShard:
    """A binary shard: the .idx is read whole, item i's codes with one read of the .bin."""

    def __init__(self, path):
        stem = os.path.splitext(path)[0]
        self.idx_path, self.bin_path = stem + ".idx", stem + ".bin"
        with open(self.idx_path, "rb") as f:
            self.idx = f.read()
        if len(self.idx) < 16 or self.idx[:8] != IDX_MAGIC:
            raise ShardError("%s: not a snacrt shard index (bad magic)" % self.idx_path)
        version = struct.unpack_from("<I", self.idx, 8)[0]
        if version != VERSION:
            raise ShardError("%s: shard format version %d (this reader knows %d)" % (self.idx_path, version, VERSION))
        if len(self.idx) < IDX_HEADER.size:
            raise ShardError("%s: truncated index" % self.idx_path)
        h = IDX_HEADER.unpack_from(self.idx, 0)
        (_, _, self.header_size, self.entry_size, self.sample_rate, self.hop_length, self.codebook_size,
         self.n_levels) = h[:8]
        self.strides = list(h[8:8 + self.n_levels]) if 1 <= self.n_levels <= 8 else []
        self.n_items, self.strings_size, self.bin_size = h[17], h[18], h[19]
        if (not self.strides or min(self.strides) < 1 or any(self.strides[0] % s for s in self.strides)
                or self.header_size < IDX_HEADER.size or self.entry_size < ENTRY.size):
            raise ShardError("%s: corrupt header" % self.idx_path)
        self.strings_at = self.header_size + self.n_items * self.entry_size
        if self.strings_at + self.strings_size != len(self.idx):
            raise ShardError("%s: truncated or corrupt index (%d bytes, the header says %d items and %d bytes of "
                             "strings)" % (self.idx_path, len(self.idx), self.n_items, self.strings_size))
        self.ratios = [self.strides[0] // s for s in self.strides]
        self.per_frame = sum(self.ratios)
        self.bin = open(self.bin_path, "rb")
        size = os.fstat(self.bin.fileno()).st_size
        if size != self.bin_size:
            raise ShardError("%s: truncated or corrupt: %d bytes, its index says %d" % (self.bin_path, size, self.bin_size))
        head = self.bin.read(16)
        if len(head) != 16 or head[:8] != BIN_MAGIC:
            raise ShardError("%s: not a snacrt shard (bad magic)" % self.bin_path)

    def __len__(self):
        return self.n_items

    def _string(self, off, length, what, field):
        if off + length >= self.strings_size or self.idx[self.strings_at + off + length] != 0:
            raise ShardError("%s: %s string outside the table" % (what, field))
        return self.idx[self.strings_at + off:self.strings_at + off + length].decode("utf-8")

    def __getitem__(self, i):
        if i < 0:
            i += self.n_items
        if not 0 <= i < self.n_items:
            raise IndexError(i)
        what = "%s: item %d" % (self.idx_path, i)
        e = ENTRY.unpack_from(self.idx, self.header_size + i * self.entry_size)
        data_offset, frames, n_samples, offset = e[:4]
        count = frames * self.per_frame
        if frames < 1 or data_offset < 16 or data_offset + 2 * count > self.bin_size:
            raise ShardError("%s: codes outside %s" % (what, self.bin_path))
        key = self._string(e[4], e[5], what, "key")
        source = self._string(e[6], e[7], what, "source")
        extra = json.loads(self._string(e[8], e[9], what, "extra")) if e[9] else None
        self.bin.seek(data_offset)
        raw = self.bin.read(2 * count)
        if len(raw) != 2 * count:
            raise ShardError("%s: short read" % what)
        np = _numpy()
        codes, at = [], 0
        if np is not None:
            flat = np.frombuffer(raw, dtype="<u2")
            if count and int(flat.max()) >= self.codebook_size:
                raise ShardError("%s: code outside [0, %d)" % (what, self.codebook_size))
            for r in self.ratios:
                codes.append(flat[at:at + frames * r].astype(np.int32))
                at += frames * r
        else:
            flat = array.array("H")
            flat.frombytes(raw)
            if sys.byteorder == "big":
                flat.byteswap()
            if count and max(flat) >= self.codebook_size:
                raise ShardError("%s: code outside [0, %d)" % (what, self.codebook_size))
            for r in self.ratios:
                codes.append(flat[at:at + frames * r].tolist())
                at += frames * r
        return _item(key, source, offset, n_samples, self.sample_rate, codes, extra)

    def __iter__(self):
        for i in range(self.n_items):
            yield self[i]


def _as_codes(levels):
    np = _numpy()
    return [np.asarray(level, dtype=np.int32) for level in levels] if np is not None else levels


class JsonlShard:
    def __init__(self, path):
        self.path = path

    def __iter__(self):
        reserved = ("key", "source", "offset", "n_samples", "sample_rate", "codes")
        with open(self.path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.endswith(b"\n"):
                    raise ShardError("%s:%d: truncated shard (no line break at the end)" % (self.path, n))
                if not raw.strip():
                    continue
                try:
                    o = json.loads(raw)
                    codes = o["codes"]
                    if not (isinstance(codes, list) and codes and all(isinstance(l, list) for l in codes)):
                        raise ValueError("codes")
                    item = _item(o["key"], o["source"], int(o["offset"]), int(o["n_samples"]), int(o["sample_rate"]),
                                 _as_codes(codes), {k: v for k, v in o.items() if k not in reserved} or None)
                except (ValueError, KeyError, TypeError) as e:
                    raise ShardError("%s:%d: malformed item (%s)" % (self.path, n, e))
                yield item


class CsvShard:
    def __init__(self, path, strides=None):
        self.path, self.strides = path, strides

    def __iter__(self):
        with open(self.path, newline="", encoding="utf-8") as f:
            data = f.read()
        if data and not data.endswith("\n"):
            raise ShardError("%s: truncated shard (no line break at the end)" % self.path)
        rows = csv.reader(io.StringIO(data, newline=""), strict=True)
        try:
            head = next(rows)
        except StopIteration:
            raise ShardError("%s: empty file (no header row)" % self.path)
        except csv.Error as e:
            raise ShardError("%s:1: %s" % (self.path, e))
        code_cols = [i for i, c in enumerate(head) if re.fullmatch(r"snac(\d+)khz", c)]
        fixed = ("key", "source", "offset", "n_samples")
        if not code_cols or any(c not in head for c in fixed):
            raise ShardError("%s:1: the header needs key, source, offset, n_samples and snac<k>khz" % self.path)
        cc = code_cols[-1]
        rate = _rate_from_khz(int(re.fullmatch(r"snac(\d+)khz", head[cc]).group(1)))
        strides = self.strides or _default_strides(rate)
        ratios = [strides[0] // s for s in strides]
        # depth-first layout of one coarse frame: (level, index within the frame) per position
        layout = []

        def walk(level, off):
            layout.append((level, off))
            if level + 1 < len(strides):
                r = strides[level] // strides[level + 1]
                for k in range(r):
                    walk(level + 1, off * r + k)
        walk(0, 0)
        col = {c: head.index(c) for c in fixed}
        extra_cols = [i for i in range(len(head)) if i != cc and i not in col.values()]
        line = 2
        try:
            for row in rows:
                what = "%s:%d" % (self.path, line)
                line += sum(field.count("\n") for field in row) + 1
                if len(row) != len(head):
                    raise ShardError("%s: %d fields, the header has %d" % (what, len(row), len(head)))
                try:
                    flat = [int(v) for v in row[cc].split()]
                    offset, n_samples = int(row[col["offset"]]), int(row[col["n_samples"]])
                except ValueError as e:
                    raise ShardError("%s: %s" % (what, e))
                per = len(layout)
                if not flat or len(flat) % per:
                    raise ShardError("%s: %d codes is not a multiple of %d per frame" % (what, len(flat), per))
                frames = len(flat) // per
                codes = [[0] * (frames * r) for r in ratios]
                for i, v in enumerate(flat):
                    level, off = layout[i % per]
                    codes[level][(i // per) * ratios[level] + off] = v
                extra = {head[i]: row[i] for i in extra_cols} or None
                yield _item(row[col["key"]], row[col["source"]], offset, n_samples, rate, _as_codes(codes), extra)
        except csv.Error as e:
            raise ShardError("%s:%d: %s" % (self.path, line, e))


def open_shard(path, strides=None):
    """A shard reader by extension: .bin/.idx -> BinShard, .jsonl -> JsonlShard, .csv -> CsvShard (strides: the
    model's vq_strides for CSV; default from the rate)."""
    ext = os.path.splitext(path)[1]
    if ext in (".bin", ".idx"):
        return BinShard(path)
    if ext == ".jsonl":
        return JsonlShard(path)
    if ext == ".csv":
        return CsvShard(path, strides)
    raise ShardError("%s: not a shard (expected .jsonl, .csv, .bin or .idx)" % path)


def _jsonable(codes):
    return [level.tolist() if hasattr(level, "tolist") else list(level) for level in codes]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Print the items of snacrt shards as JSON lines.")
    ap.add_argument("shards", nargs="+", help=".jsonl, .csv, .bin or .idx files")
    ap.add_argument("--index", type=int, help="print only item I of each shard")
    ap.add_argument("--strides", help="vq_strides for CSV shards, e.g. 4,2,1 (default from the rate)")
    a = ap.parse_args(argv)
    strides = [int(s) for s in a.strides.split(",")] if a.strides else None
    try:
        for path in a.shards:
            shard = open_shard(path, strides)
            if a.index is not None:
                items = [shard[a.index]] if isinstance(shard, BinShard) else \
                        [it for i, it in enumerate(shard) if i == a.index]
            else:
                items = shard
            for it in items:
                out = dict(it, codes=_jsonable(it["codes"]))
                sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    except (ShardError, OSError, IndexError) as e:
        sys.stderr.write("snac_shard_reader: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
