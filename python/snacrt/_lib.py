"""_lib.py: finds and loads libsnacrt.so and declares the C API it uses (include/snacrt.h, snacrt_tts.h) with
ctypes. Lookup order: $SNACRT_LIB; the copy bundled in this package (pip install ./python after a build); the
source tree's build/lib (running from python/ in a checkout; $SNACRT_BUILD overrides build/); the dynamic loader
(LD_LIBRARY_PATH, an installed libsnacrt.so)."""
import ctypes
import ctypes.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


class SnacrtError(RuntimeError):
    """A libsnacrt call failed: .status is the srt_status name, the message is srt_last_error()."""

    def __init__(self, status, message):
        super().__init__(message or status)
        self.status = status


MAX_LEVELS = 8


class OwnedHandle:
    """A library handle this object frees once: close() (or garbage collection) calls the C free function named by
    the subclass's _FREE."""
    _FREE = None
    _handle = None

    def close(self):
        if self._handle:
            getattr(lib(), self._FREE)(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class CodecOptions(ctypes.Structure):
    _fields_ = [("backend", ctypes.c_char_p), ("n_threads", ctypes.c_int), ("precision", ctypes.c_char_p)]


class Codes(ctypes.Structure):
    _fields_ = [("n_levels", ctypes.c_int), ("n_frames", ctypes.c_int64 * MAX_LEVELS),
                ("codes", ctypes.POINTER(ctypes.c_int32) * MAX_LEVELS), ("n_samples", ctypes.c_int64)]


class CodecInfo(ctypes.Structure):
    _fields_ = [("sample_rate", ctypes.c_int), ("hop_length", ctypes.c_int), ("n_levels", ctypes.c_int),
                ("vq_strides", ctypes.c_int * 8), ("codebook_size", ctypes.c_int), ("codebook_dim", ctypes.c_int),
                ("latent_dim", ctypes.c_int), ("encoder_dim", ctypes.c_int), ("decoder_dim", ctypes.c_int),
                ("encoder_rates", ctypes.c_int * 8), ("decoder_rates", ctypes.c_int * 8), ("n_rates", ctypes.c_int),
                ("attn_window", ctypes.c_int), ("depthwise", ctypes.c_int), ("noise", ctypes.c_int),
                ("n_params", ctypes.c_int64), ("pad_multiple", ctypes.c_int)]


class BuildInfo(ctypes.Structure):
    _fields_ = [("version", ctypes.c_char_p), ("git_commit", ctypes.c_char_p), ("cuda", ctypes.c_int),
                ("cudasim", ctypes.c_int), ("nccl", ctypes.c_int), ("mpi", ctypes.c_int),
                ("blas", ctypes.c_char_p), ("compiler", ctypes.c_char_p)]


class DeviceInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 16), ("model", ctypes.c_char * 128), ("cores", ctypes.c_int),
                ("features", ctypes.c_char * 128), ("memory_bytes", ctypes.c_int64), ("simulated", ctypes.c_int)]


class SamplingParams(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float), ("repetition_penalty", ctypes.c_float),
                ("frequency_penalty", ctypes.c_float), ("presence_penalty", ctypes.c_float),
                ("seed", ctypes.c_uint64), ("max_tokens", ctypes.c_int), ("stop_ids", ctypes.POINTER(ctypes.c_int32)),
                ("n_stop_ids", ctypes.c_int), ("allowed_begin", ctypes.c_int32), ("allowed_end", ctypes.c_int32)]


class TTSConfig(ctypes.Structure):
    _fields_ = [("lm_dir", ctypes.c_char_p), ("codec_dir", ctypes.c_char_p), ("layout", ctypes.c_char_p),
                ("backend", ctypes.c_char_p), ("n_threads", ctypes.c_int), ("tp", ctypes.c_int),
                ("max_running", ctypes.c_int), ("max_queue", ctypes.c_int), ("kv_max_tokens", ctypes.c_int64),
                ("prefill_chunk", ctypes.c_int), ("max_input_chars", ctypes.c_int), ("noise_seed", ctypes.c_int64),
                ("sampling", SamplingParams), ("max_piece_chars", ctypes.c_int)]


def padded(struct):
    """struct followed by zeroed spare bytes: a struct the library fills (or reads) may gain fields at its end in a
    newer libsnacrt; they land in (or read as zeros from) the spare bytes instead of past the buffer."""
    fields = [("s", struct), ("_spare", ctypes.c_char * 1024)]
    return type(struct.__name__ + "Padded", (ctypes.Structure,), {"_fields_": fields})


TOKEN_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int32)
LOGITS_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float),
                             ctypes.c_int)


class TTSRequest(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("voice", ctypes.c_char_p), ("sampling", ctypes.POINTER(SamplingParams)),
                ("audio_in", ctypes.POINTER(ctypes.c_float)), ("n_audio_in", ctypes.c_int64),
                ("audio_in_rate", ctypes.c_int), ("on_token", TOKEN_CB), ("on_logits", LOGITS_CB),
                ("audio_text", ctypes.c_char_p)]


class TTSStats(ctypes.Structure):
    _fields_ = [("prompt_tokens", ctypes.c_int64), ("generated_tokens", ctypes.c_int64), ("frames", ctypes.c_int64),
                ("dropped_frames", ctypes.c_int64), ("samples", ctypes.c_int64), ("queue_ms", ctypes.c_double),
                ("first_audio_ms", ctypes.c_double), ("total_ms", ctypes.c_double), ("finish", ctypes.c_int),
                ("lookahead_frames", ctypes.c_int), ("pieces", ctypes.c_int),
                ("first_audio_tokens", ctypes.c_int64)]


TTSConfigPadded = padded(TTSConfig)
TTSRequestPadded = padded(TTSRequest)
CodecInfoPadded = padded(CodecInfo)

AUDIO_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64,
                            ctypes.c_int, ctypes.c_int, ctypes.POINTER(TTSStats))

_P = ctypes.POINTER
_SIGNATURES = {
    "srt_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "srt_last_error": (ctypes.c_char_p, []),
    "srt_get_build_info": (None, [_P(BuildInfo)]),
    "srt_list_devices": (ctypes.c_int, [_P(DeviceInfo), ctypes.c_int, _P(ctypes.c_int), ctypes.c_char_p,
                                        ctypes.c_size_t]),
    "srt_codec_load": (ctypes.c_int, [ctypes.c_char_p, _P(CodecOptions), _P(ctypes.c_void_p)]),
    "srt_codec_free": (None, [ctypes.c_void_p]),
    "srt_codec_get_info": (ctypes.c_int, [ctypes.c_void_p, _P(CodecInfoPadded)]),
    "srt_codec_encode": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, _P(_P(ctypes.c_float)), _P(ctypes.c_int64),
                                        _P(Codes), ctypes.c_void_p, ctypes.c_void_p]),
    "srt_codec_decode": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, _P(Codes), ctypes.c_int64,
                                        _P(_P(ctypes.c_float)), _P(ctypes.c_int64)]),
    "srt_codes_free": (None, [_P(Codes)]),
    "srt_tts_config_defaults": (None, [_P(TTSConfigPadded)]),
    "srt_tts_engine_create": (ctypes.c_int, [_P(TTSConfigPadded), _P(ctypes.c_void_p)]),
    "srt_tts_engine_free": (None, [ctypes.c_void_p]),
    "srt_tts_submit": (ctypes.c_int, [ctypes.c_void_p, _P(TTSRequestPadded), AUDIO_CB, ctypes.c_void_p,
                                      _P(ctypes.c_uint64)]),
    "srt_tts_cancel": (None, [ctypes.c_void_p, ctypes.c_uint64]),
    "srt_tts_sample_rate": (ctypes.c_int, [ctypes.c_void_p]),
    "srt_tts_voices": (_P(ctypes.c_char_p), [ctypes.c_void_p]),
}

_lib = None
_libc = None


def _candidates():
    env = os.environ.get("SNACRT_LIB")
    if env:
        yield env
    yield os.path.join(_HERE, "libsnacrt.so")
    build = os.environ.get("SNACRT_BUILD", os.path.join(_HERE, "..", "..", "build"))
    yield os.path.join(build, "lib", "libsnacrt.so")
    found = ctypes.util.find_library("snacrt")
    yield found or "libsnacrt.so"


def lib():
    """The loaded libsnacrt (declared functions), loaded on first use."""
    global _lib, _libc
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.isfile(path):
            tried.append(path + " (absent)")
            continue
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        for name, (res, args) in _SIGNATURES.items():
            f = getattr(handle, name)
            f.restype = res
            f.argtypes = args
        _lib = handle
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.free.argtypes = [ctypes.c_void_p]
        _libc.free.restype = None
        return _lib
    raise OSError("snacrt: libsnacrt.so not found; build the project (cmake --build build) and set SNACRT_LIB to "
                  "build/lib/libsnacrt.so, or pip install ./python after building. Tried: " + "; ".join(tried))


def free(ptr):
    """free() of a buffer the library handed out."""
    lib()
    _libc.free(ptr)


def check(status, what=""):
    """Raise SnacrtError for a failed status, with srt_last_error() of this thread."""
    if status != 0:
        l = lib()
        name = l.srt_status_name(status).decode()
        msg = (l.srt_last_error() or b"").decode(errors="replace")
        raise SnacrtError(name, ("%s: " % what if what else "") + (msg or name))


def build_info():
    """The library's version and build options (srt_get_build_info) as a dict."""
    b = BuildInfo()
    lib().srt_get_build_info(ctypes.byref(b))
    return {"version": b.version.decode(), "git_commit": b.git_commit.decode(), "cuda": bool(b.cuda),
            "cudasim": bool(b.cudasim), "nccl": bool(b.nccl), "mpi": bool(b.mpi), "blas": b.blas.decode(),
            "compiler": b.compiler.decode()}


def devices():
    """The devices this machine offers (srt_list_devices): a list of dicts, the CPU first; and why there is no
    CUDA device ("" when there is one)."""
    cap = 65
    arr = (DeviceInfo * cap)()
    n = ctypes.c_int(0)
    note = ctypes.create_string_buffer(512)
    check(lib().srt_list_devices(arr, cap, ctypes.byref(n), note, len(note)), "srt_list_devices")
    out = []
    for i in range(n.value):
        d = arr[i]
        out.append({"name": d.name.decode(), "model": d.model.decode(errors="replace"), "cores": d.cores,
                    "features": d.features.decode(), "memory_bytes": d.memory_bytes, "simulated": bool(d.simulated)})
    return out, note.value.decode(errors="replace")
