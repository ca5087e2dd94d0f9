"""codec.py: SNAC, the codec with the official snac package's API (from snac import SNAC -> from snacrt import SNAC):
from_pretrained, encode(audio [B, 1, T]) -> codes per level [B, T_l], decode(codes) -> audio [B, 1, T], forward,
preprocess, eval / to / cuda / cpu. numpy arrays in and out; torch tensors are accepted when torch is importable and
answered with torch tensors on the input's device. Runs on libsnacrt's devices ("cpu", "cpu-ref", "cuda", "cuda:N")."""
import ctypes
import os
import re
import subprocess

import numpy as np

from . import _lib

_HERE = os.path.dirname(os.path.abspath(__file__))


def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def _to_numpy(x, dtype):
    if _is_torch(x):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


def _like(arr, ref):
    """arr as a torch tensor on ref's device when ref is a torch tensor, else arr."""
    if ref is not None and _is_torch(ref):
        import torch
        return torch.from_numpy(arr).to(ref.device)
    return arr


def _device_name(device):
    if device is None:
        return "cpu"
    name = str(device)           # torch.device("cuda", 1) -> "cuda:1"
    return name


def _fetch_script():
    """weights/fetch.sh: the copy bundled in the wheel, else the source tree's."""
    for p in (os.path.join(_HERE, "weights", "fetch.sh"), os.path.join(_HERE, "..", "..", "weights", "fetch.sh")):
        if os.path.isfile(p):
            return os.path.abspath(p)
    raise FileNotFoundError("weights/fetch.sh not found (reinstall the snacrt package from a source tree)")


def fetch(repo_id, cache_dir=None, include=("config.json", "*.safetensors", "pytorch_model.bin")):
    """Download a Hugging Face repository with weights/fetch.sh (resumed, verified; HF_TOKEN and HF_ENDPOINT as
    the script reads them) into cache_dir/owner--name (default $SNACRT_CACHE or ~/.cache/snacrt) and return that
    folder. include: the file globs to fetch (None: every file)."""
    cache = cache_dir or os.environ.get("SNACRT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snacrt")
    dest = os.path.join(cache, repo_id.replace("/", "--"))
    cmd = ["bash", _fetch_script(), repo_id, dest]
    for pat in include or ():
        cmd += ["--include", pat]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        raise OSError("fetching %s failed:\n%s" % (repo_id, r.stdout.strip()))
    return dest


class SNAC(_lib.OwnedHandle):
    """A SNAC model loaded by libsnacrt. Attributes as the official class: sampling_rate, hop_length, vq_strides,
    codebook_size, codebook_dim, n_codebooks, encoder_rates, decoder_rates, latent_dim, attn_window_size, noise,
    depthwise; plus device and pad_multiple."""
    _FREE = "srt_codec_free"

    def __init__(self, model_dir, device="cpu", n_threads=0, noise_seed=None):
        self._dir = os.fspath(model_dir)
        self._threads = int(n_threads)
        self._handle = None
        self.noise_seed = noise_seed  # None: decoder noise off (deterministic); an int: seeded noise
        self.device = _device_name(device)
        self._load()

    # -- construction

    @classmethod
    def from_pretrained(cls, repo_id_or_path, device="cpu", n_threads=0, cache_dir=None, **kwargs):
        """A local model folder (config.json + model.safetensors or pytorch_model.bin), or a Hugging Face repo id
        ("hubertsiuzdak/snac_24khz") fetched with weights/fetch.sh into the cache first."""
        path = os.fspath(repo_id_or_path)
        if not os.path.isdir(path):
            if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", path) and not os.path.exists(path):
                path = fetch(path, cache_dir=cache_dir)
            else:
                raise FileNotFoundError("%s: not a model folder (config.json + weights) nor a Hugging Face repo id"
                                        % path)
        return cls(path, device=device, n_threads=n_threads, **kwargs)

    def _load(self):
        l = _lib.lib()
        if self._handle:
            l.srt_codec_free(self._handle)
            self._handle = None
        opts = _lib.CodecOptions(self.device.encode(), self._threads)
        h = ctypes.c_void_p()
        _lib.check(l.srt_codec_load(self._dir.encode(), ctypes.byref(opts), ctypes.byref(h)),
                   "loading " + self._dir)
        self._handle = h
        info = _lib.CodecInfoPadded()
        _lib.check(l.srt_codec_get_info(h, ctypes.byref(info)), "srt_codec_get_info")
        i = info.s
        self.sampling_rate = i.sample_rate
        self.hop_length = i.hop_length
        self.n_codebooks = i.n_levels
        self.vq_strides = list(i.vq_strides[:i.n_levels])
        self.codebook_size = i.codebook_size
        self.codebook_dim = i.codebook_dim
        self.latent_dim = i.latent_dim
        self.encoder_dim = i.encoder_dim
        self.decoder_dim = i.decoder_dim
        self.encoder_rates = list(i.encoder_rates[:i.n_rates])
        self.decoder_rates = list(i.decoder_rates[:i.n_rates])
        self.attn_window_size = i.attn_window or None
        self.noise = bool(i.noise)
        self.depthwise = bool(i.depthwise)
        self.pad_multiple = i.pad_multiple
        self.n_params = i.n_params

    # -- torch.nn.Module look-alikes (so scripts written for the official class run unchanged)

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def requires_grad_(self, requires_grad=True):
        return self

    def to(self, device=None, *args, **kwargs):
        """Move to a device: "cpu", "cuda", "cuda:N", a torch.device (dtype arguments are ignored)."""
        if device is not None and not str(device).startswith(("float", "torch.float", "torch.bfloat", "torch.half")):
            name = _device_name(device)
            if name != self.device:
                self.device = name
                self._load()
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else "cuda:%d" % device if isinstance(device, int) else device)

    def cpu(self):
        return self.to("cpu")

    def parameters(self):
        return iter(())

    # -- the codec

    def preprocess(self, audio):
        """Right-pad [B, 1, T] with zeros to a multiple of pad_multiple, as the official preprocess does (encode
        pads by itself; this is for callers that want the padded length)."""
        x = _to_numpy(audio, np.float32)
        pad = (-x.shape[-1]) % self.pad_multiple
        if pad:
            x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
        return _like(x, audio)

    def _signals(self, audio):
        x = _to_numpy(audio, np.float32)
        if x.ndim == 1:
            x = x[None, :]
        elif x.ndim == 3:
            if x.shape[1] != 1:
                raise ValueError("audio: expected [B, 1, T] (mono), got shape %s" % (tuple(x.shape),))
            x = x[:, 0, :]
        elif x.ndim != 2:
            raise ValueError("audio: expected [B, 1, T], [B, T] or [T], got shape %s" % (tuple(x.shape),))
        if x.shape[1] == 0:
            raise ValueError("audio: no samples")
        return np.ascontiguousarray(x)

    def encode(self, audio):
        """audio [B, 1, T] at sampling_rate -> a list of n_codebooks code arrays [B, T_l] (int64, coarse first)."""
        x = self._signals(audio)
        batch = x.shape[0]
        ptrs = (ctypes.POINTER(ctypes.c_float) * batch)(
            *[x[b].ctypes.data_as(ctypes.POINTER(ctypes.c_float)) for b in range(batch)])
        lens = (ctypes.c_int64 * batch)(*([x.shape[1]] * batch))
        codes = (_lib.Codes * batch)()
        l = _lib.lib()
        _lib.check(l.srt_codec_encode(self._handle, batch, ptrs, lens, codes, None, None), "encode")
        try:
            levels = []
            for lv in range(codes[0].n_levels):
                n = codes[0].n_frames[lv]
                out = np.empty((batch, n), dtype=np.int64)
                for b in range(batch):
                    out[b] = np.ctypeslib.as_array(codes[b].codes[lv], shape=(n,))
                levels.append(_like(out, audio))
        finally:
            for b in range(batch):
                l.srt_codes_free(ctypes.byref(codes[b]))
        return levels

    def decode(self, codes):
        """codes: a list of n_codebooks arrays [B, T_l] (or [T_l] for one signal) -> audio [B, 1, T] float32."""
        if not isinstance(codes, (list, tuple)) or len(codes) != self.n_codebooks:
            raise ValueError("codes: expected a list of %d code arrays (one per level, coarse first), got %s"
                             % (self.n_codebooks, type(codes).__name__ if not isinstance(codes, (list, tuple))
                                else "%d" % len(codes)))
        levels = [_to_numpy(c, np.int32) for c in codes]
        levels = [c[None, :] if c.ndim == 1 else c for c in levels]
        batch = levels[0].shape[0]
        for i, c in enumerate(levels):
            if c.ndim != 2 or c.shape[0] != batch:
                raise ValueError("codes[%d]: expected shape [%d, T_%d], got %s" % (i, batch, i, tuple(c.shape)))
        sets = (_lib.Codes * batch)()
        for b in range(batch):
            sets[b].n_levels = len(levels)
            sets[b].n_samples = 0
            for i, c in enumerate(levels):
                sets[b].n_frames[i] = c.shape[1]
                sets[b].codes[i] = c[b].ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        audio = (ctypes.POINTER(ctypes.c_float) * batch)()
        n_out = (ctypes.c_int64 * batch)()
        seed = -1 if self.noise_seed is None else int(self.noise_seed)
        _lib.check(_lib.lib().srt_codec_decode(self._handle, batch, sets, seed, audio, n_out), "decode")
        try:
            n = max(n_out[b] for b in range(batch))
            out = np.zeros((batch, 1, n), dtype=np.float32)
            for b in range(batch):
                out[b, 0, :n_out[b]] = np.ctypeslib.as_array(audio[b], shape=(n_out[b],))
        finally:
            for b in range(batch):
                _lib.free(audio[b])
        return _like(out, codes[0])

    def forward(self, audio):
        """(audio_hat [B, 1, T], codes), as the official forward: decode(encode(audio)), cut to the input length."""
        length = audio.shape[-1]
        codes = self.encode(audio)
        audio_hat = self.decode(codes)
        return audio_hat[..., :length], codes

    __call__ = forward
