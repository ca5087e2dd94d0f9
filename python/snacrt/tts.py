"""tts.py: the TTS engine of libsnacrt (include/snacrt_tts.h) from Python: TTS(model, codec) loads a Llama-family
SNAC-token model and the codec once; generate(text, voice=...) yields mono float32 PCM chunks at sample_rate as the
engine produces them (streamed, not buffered). generate_speech(text, voice=..., model=..., codec=...) does the same
through an engine kept per (model, codec, device)."""
import ctypes
import queue
import threading

import numpy as np

from . import _lib


class TTS(_lib.OwnedHandle):
    """A running TTS engine: one scheduler thread batches every request submitted to it (thread-safe)."""
    _FREE = "srt_tts_engine_free"

    def __init__(self, model, codec, layout=None, device="cpu", n_threads=0, max_running=0):
        l = _lib.lib()
        cfg = _lib.TTSConfigPadded()
        l.srt_tts_config_defaults(ctypes.byref(cfg))
        self._keep = [str(model).encode(), str(codec).encode(), layout.encode() if layout else None,
                      str(device).encode()]
        c = cfg.s
        c.lm_dir, c.codec_dir, c.layout, c.backend = self._keep
        c.n_threads = int(n_threads)
        c.max_running = int(max_running)
        self._defaults = c.sampling
        h = ctypes.c_void_p()
        _lib.check(l.srt_tts_engine_create(ctypes.byref(cfg), ctypes.byref(h)), "loading the TTS engine")
        self._handle = h
        self.sample_rate = l.srt_tts_sample_rate(h)
        self.voices = []
        v = l.srt_tts_voices(h)
        i = 0
        while v and v[i]:
            self.voices.append(v[i].decode())
            i += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def generate(self, text, voice=None, temperature=None, top_p=None, top_k=None, repetition_penalty=None,
                 max_tokens=None, seed=None):
        """Yield float32 numpy chunks of the speech for text (mono, sample_rate Hz) as they are decoded. Sampling
        arguments left None keep the engine's defaults (the layout's). Stopping the iteration cancels the
        request. Raises SnacrtError (unknown voice, text too long, ...)."""
        l = _lib.lib()
        sp = _lib.SamplingParams()
        ctypes.pointer(sp)[0] = self._defaults
        if temperature is not None: sp.temperature = float(temperature)
        if top_p is not None: sp.top_p = float(top_p)
        if top_k is not None: sp.top_k = int(top_k)
        if repetition_penalty is not None: sp.repetition_penalty = float(repetition_penalty)
        if max_tokens is not None: sp.max_tokens = int(max_tokens)
        if seed is not None: sp.seed = int(seed)
        req = _lib.TTSRequestPadded()
        text_b = str(text).encode()
        voice_b = voice.encode() if voice else None
        req.s.text = text_b
        req.s.voice = voice_b
        req.s.sampling = ctypes.pointer(sp)
        q = queue.Queue()
        done = threading.Event()

        def on_audio(user, pcm, n, is_done, status, stats):
            # the engine's thread: copy, hand over, never block
            if n > 0:
                q.put(np.ctypeslib.as_array(pcm, shape=(n,)).copy())
            if is_done:
                err = None
                if status != 0 and _lib.lib().srt_status_name(status) != b"SRT_ERR_CANCELLED":
                    err = _lib.SnacrtError(l.srt_status_name(status).decode(),
                                           (l.srt_last_error() or b"").decode(errors="replace"))
                q.put(err if err else StopIteration)
                done.set()
            return 0

        cb = _lib.AUDIO_CB(on_audio)
        rid = ctypes.c_uint64(0)
        _lib.check(l.srt_tts_submit(self._handle, ctypes.byref(req), cb, None, ctypes.byref(rid)), "tts submit")
        try:
            while True:
                item = q.get()
                if item is StopIteration:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            if not done.is_set():
                l.srt_tts_cancel(self._handle, rid.value)
            done.wait()   # the callback (cb) must stay alive until the engine's last call
            del cb, sp, text_b, voice_b


_engines = {}
_engines_lock = threading.Lock()


def generate_speech(text, voice=None, model=None, codec=None, device="cpu", layout=None, **sampling):
    """Yield float32 PCM chunks of text spoken by voice (model: the LM folder, codec: the SNAC folder; the engine
    is loaded once per (model, codec, device, layout) and kept). sampling: temperature, top_p, top_k,
    repetition_penalty, max_tokens, seed."""
    if model is None or codec is None:
        raise ValueError("generate_speech needs model= (the LM folder) and codec= (the SNAC folder)")
    key = (str(model), str(codec), str(device), layout)
    with _engines_lock:
        eng = _engines.get(key)
        if eng is None:
            eng = _engines[key] = TTS(model, codec, layout=layout, device=device)
    return eng.generate(text, voice=voice, **sampling)
