"""tts_stream.py: snacrt.generate_speech from Python, for tests/test_python.sh: writes the streamed chunks as raw
s16le (as `snacrt tts --stream` does) and the chunk count on stdout.

    python3 tts_stream.py LM_DIR CODEC_DIR VOICE SEED MAX_TOKENS TEXT OUT.pcm"""
import sys

import numpy as np

from snacrt import generate_speech

lm, codec, voice, seed, max_tokens, text, out = sys.argv[1:8]
chunks = 0
with open(out, "wb") as f:
    for pcm in generate_speech(text, voice=voice, model=lm, codec=codec, seed=int(seed), max_tokens=int(max_tokens),
                               temperature=1.0, top_p=0.95):
        assert pcm.dtype == np.float32 and pcm.ndim == 1
        chunks += 1
        f.write((np.clip(pcm, -1, 1) * 32767).round().astype("<i2").tobytes())
print(chunks)
