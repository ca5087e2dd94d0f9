"""shards.py: the readers of the shards `snacrt tokenize` writes (bin, jsonl, csv): open_shard(path) -> items with
key, source, offset, n_samples, sample_rate, codes (one numpy array per level) and passthrough columns. The code is
tools/snac_shard_reader.py (bundled in the wheel as snacrt/snac_shard_reader.py; read from the source tree
otherwise)."""
import importlib.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load():
    for p in (os.path.join(_HERE, "snac_shard_reader.py"),
              os.path.join(_HERE, "..", "..", "tools", "snac_shard_reader.py")):
        if os.path.isfile(p):
            spec = importlib.util.spec_from_file_location("snacrt._snac_shard_reader", p)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise ImportError("snac_shard_reader.py not found (reinstall the snacrt package from a source tree)")


_mod = _load()
open_shard = _mod.open_shard
ShardError = _mod.ShardError
BinShard, JsonlShard, CsvShard = _mod.BinShard, _mod.JsonlShard, _mod.CsvShard
__all__ = ["open_shard", "ShardError", "BinShard", "JsonlShard", "CsvShard"]
