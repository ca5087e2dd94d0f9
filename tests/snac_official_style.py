"""snac_official_style.py: the calls a script written for the official `snac` package makes (its README and the
LAION / Orpheus data-preparation notebooks), with the import line changed to snacrt; used by tests/test_python.sh.

    python3 snac_official_style.py MODEL (folder or repo id) AUDIO.wav OUT.json

Writes {"codes": levels of signal 0, "orpheus": the notebook's 7-per-frame token ids, "audio": decode of the
redistributed codes (first signal), "batch_codes": levels of a 2-signal batch [audio, reversed audio],
"sampling_rate": ...}. Uses torch tensors when torch is importable (as the notebooks do), numpy otherwise."""
import json
import sys
import wave

import numpy as np

from snacrt import SNAC   # was: from snac import SNAC

try:
    import torch
except ImportError:
    torch = None

model_id, wav_path, out_path = sys.argv[1:4]
snac_model = SNAC.from_pretrained(model_id)
snac_model = snac_model.eval()
snac_model = snac_model.to("cpu")

with wave.open(wav_path) as w:
    assert w.getframerate() == snac_model.sampling_rate and w.getsampwidth() == 2 and w.getnchannels() == 1
    waveform = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0

# tokenise_audio, as the Orpheus fine-tuning notebook does it
if torch is not None:
    waveform = torch.from_numpy(waveform).unsqueeze(0)
    waveform = waveform.to(dtype=torch.float32)
    waveform = waveform.unsqueeze(0)
    with torch.inference_mode():
        codes = snac_model.encode(waveform)
else:
    waveform = waveform[None, None, :]
    codes = snac_model.encode(waveform)

all_codes = []
for i in range(codes[0].shape[1]):
    all_codes.append(codes[0][0][i].item() + 128266)
    all_codes.append(codes[1][0][2 * i].item() + 128266 + 4096)
    all_codes.append(codes[2][0][4 * i].item() + 128266 + (2 * 4096))
    all_codes.append(codes[2][0][(4 * i) + 1].item() + 128266 + (3 * 4096))
    all_codes.append(codes[1][0][(2 * i) + 1].item() + 128266 + (4 * 4096))
    all_codes.append(codes[2][0][(4 * i) + 2].item() + 128266 + (5 * 4096))
    all_codes.append(codes[2][0][(4 * i) + 3].item() + 128266 + (6 * 4096))

# redistribute_codes, as the Orpheus inference notebook does it
layer_1, layer_2, layer_3 = [], [], []
for i in range((len(all_codes) + 1) // 7):
    layer_1.append(all_codes[7 * i] - 128266)
    layer_2.append(all_codes[7 * i + 1] - 128266 - 4096)
    layer_3.append(all_codes[7 * i + 2] - 128266 - (2 * 4096))
    layer_3.append(all_codes[7 * i + 3] - 128266 - (3 * 4096))
    layer_2.append(all_codes[7 * i + 4] - 128266 - (4 * 4096))
    layer_3.append(all_codes[7 * i + 5] - 128266 - (5 * 4096))
    layer_3.append(all_codes[7 * i + 6] - 128266 - (6 * 4096))
if torch is not None:
    new_codes = [torch.tensor(layer_1).unsqueeze(0), torch.tensor(layer_2).unsqueeze(0),
                 torch.tensor(layer_3).unsqueeze(0)]
    with torch.inference_mode():
        audio_hat = snac_model.decode(new_codes)
    audio = audio_hat.detach().squeeze().to("cpu").numpy()
else:
    new_codes = [np.array(layer_1)[None, :], np.array(layer_2)[None, :], np.array(layer_3)[None, :]]
    audio_hat = snac_model.decode(new_codes)
    audio = audio_hat.squeeze()

# a batch, as the README's example: [B, 1, T]
x = np.asarray(waveform.numpy() if torch is not None else waveform)[0, 0]
batch = np.stack([x, x[::-1].copy()])[:, None, :]
batch_codes = snac_model.encode(batch)
audio_b, codes_b = snac_model(batch)
assert tuple(audio_b.shape) == (2, 1, x.shape[0]), audio_b.shape
assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(codes_b, batch_codes))

json.dump({"sampling_rate": snac_model.sampling_rate, "codes": [np.asarray(c[0]).tolist() for c in codes],
           "orpheus": all_codes, "audio": np.asarray(audio).tolist(),
           "batch_codes": [np.asarray(c).tolist() for c in batch_codes]}, open(out_path, "w"))
