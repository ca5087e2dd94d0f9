"""snacrt: the SNAC codec and SNAC-token TTS of libsnacrt from Python (ctypes, numpy; no compiled extension).

    from snacrt import SNAC                      # drop-in for `from snac import SNAC`
    model = SNAC.from_pretrained("hubertsiuzdak/snac_24khz").eval()   # or a local folder; .to("cuda")
    codes = model.encode(audio)                  # audio [B, 1, T] numpy or torch -> [codes [B, T_l] per level]
    audio_hat = model.decode(codes)              # -> [B, 1, T]

    from snacrt import generate_speech           # streamed PCM chunks (float32, mono)
    for pcm in generate_speech("Hello", voice="tara", model="models/orpheus", codec="models/snac_24khz"): ...

    from snacrt.shards import open_shard         # the shards of `snacrt tokenize` (bin, jsonl, csv)

The library: $SNACRT_LIB, the copy bundled by `pip install ./python`, the source tree's build/, or the loader."""
from ._lib import SnacrtError, build_info, devices
from .codec import SNAC, fetch
from .tts import TTS, generate_speech
from . import shards

__version__ = "0.1.0"
__all__ = ["SNAC", "TTS", "generate_speech", "fetch", "devices", "build_info", "SnacrtError", "shards"]
