#!/usr/bin/env python3
"""bench_vs_torch.py: the snacrt codec (whole `snacrt encode` / `snacrt decode` processes) against the official
PyTorch SNAC code (hubertsiuzdak/snac, its encode / decode calls alone: no import, model build or I/O timed), on
the same signal and the same model dimensions, side by side in one run (snacrt runs before and after PyTorch; the
best of its runs is kept). Prints one JSON line: wall seconds and speedups, and the same in CPU seconds ("cpu_"
fields: the snacrt processes' user + system time, PyTorch's process time during the calls), which a machine loaded
by other jobs inflates much less than wall time.

Usage (PyTorch from Debian's python3-torch, so /usr/bin/python3; SNAC_SRC is a checkout of the official repo,
the folder that holds snac/__init__.py):
    /usr/bin/python3 bench/bench_vs_torch.py --snac-src SNAC_SRC --build build [--arch 24khz] [--seconds 30]
        [--threads 2] [--repeat 2]

The PyTorch model has random weights with the published dimensions (speed does not depend on the values); snacrt
uses tools/make_snac_model's random-weight model of the same dimensions. Debian 12 ships torch 1.13, which lacks
torch.nn.utils.parametrizations.weight_norm (torch >= 2.1) and has no einops package: the first is mapped to the
older torch.nn.utils.weight_norm (same computation: the weight is rebuilt from g and v at every forward) and the
second replaced by the few rearrange patterns the SNAC code uses (below); the official code itself is unchanged.
OpenBLAS / OpenMP settings of the environment are left as they are for both sides."""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
import wave

try:
    import numpy as np
    import torch
except ImportError as e:
    sys.exit("bench_vs_torch: %s under %s (Debian 12: apt-get install python3-torch, then run it with "
             "/usr/bin/python3)" % (e, sys.executable))

ARCHS = {  # the published configs (config.json of hubertsiuzdak/snac_24khz, _32khz, _44khz)
    "24khz": dict(sampling_rate=24000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
                  decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=4096, codebook_dim=8,
                  vq_strides=[4, 2, 1], noise=True, depthwise=True),
    "32khz": dict(sampling_rate=32000, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
    "44khz": dict(sampling_rate=44100, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
}


def _rearrange(t, pattern, **kw):
    """The rearrange patterns of snac 1.2.1 (attention.py, vq.py), for machines without einops."""
    p = " ".join(pattern.split())
    if p == "b d t -> (b t) d":
        return t.permute(0, 2, 1).reshape(-1, t.shape[1])
    if p == "(b t) -> b t":
        return t.reshape(kw["b"], -1)
    if p == "n -> n 1":
        return t.unsqueeze(-1)
    if p == "b ... (r d) -> b ... r d":
        return t.reshape(*t.shape[:-1], kw["r"], t.shape[-1] // kw["r"])
    if p == "b (w n) (h d) -> b h w n d":
        b, wn, hd = t.shape
        w, h = kw["w"], kw["h"]
        return t.reshape(b, w, wn // w, h, hd // h).permute(0, 3, 1, 2, 4)
    if p == "b h w n d -> b (w n) (h d)":
        b, h, w, n, d = t.shape
        return t.permute(0, 2, 3, 1, 4).reshape(b, w * n, h * d)
    raise NotImplementedError("einops shim: pattern " + pattern)


def import_snac(src):
    try:
        import einops  # noqa: F401
    except ImportError:
        sys.modules["einops"] = types.SimpleNamespace(rearrange=_rearrange)
    import torch.nn.utils.parametrizations as par
    if not hasattr(par, "weight_norm"):
        par.weight_norm = torch.nn.utils.weight_norm
    sys.path.insert(0, src)
    from snac import SNAC
    return SNAC


def speech_like(n, sr, seed=1):
    """Voiced segments (harmonics of a gliding pitch under syllable envelopes) plus a little noise, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    ph = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * ph) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None) ** 2
    x = 0.25 * x * env + 0.01 * rng.standard_normal(n)
    return np.clip(x, -1, 1)


def write_wav16(path, x, sr):
    s = np.round(x * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(s.tobytes())
    return s.astype(np.float32) / 32768.0


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_timed(cmd, env):
    """(wall s, CPU s) of one whole process."""
    c0, t0 = child_cpu(), time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt, dc = time.perf_counter() - t0, child_cpu() - c0
    if r.returncode != 0:
        raise SystemExit("bench_vs_torch: %s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return dt, dc


def best(runs):
    """The fastest run by wall time and the smallest CPU time, over (wall, cpu) pairs."""
    return min(w for w, _ in runs), min(c for _, c in runs)


def timed_call(f, *args):
    c0, t0 = time.process_time(), time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snac-src", required=True, help="folder holding the official snac/ package")
    ap.add_argument("--build", default="build", help="build folder with snacrt and make_snac_model")
    ap.add_argument("--arch", default="24khz", choices=sorted(ARCHS))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2, help="threads for both (torch.set_num_threads, --threads)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per side; the best is reported")
    ap.add_argument("--models", default="/tmp/snacrt_bench_models")
    a = ap.parse_args()

    cfg = ARCHS[a.arch]
    sr = cfg["sampling_rate"]
    model_dir = os.path.join(a.models, "snac_" + a.arch)
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        os.makedirs(a.models, exist_ok=True)
        subprocess.run([os.path.join(a.build, "make_snac_model"), a.arch, model_dir], check=True,
                       stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="snacrt_vs_torch_")
    wav = os.path.join(work, "in.wav")
    x = write_wav16(wav, speech_like(int(a.seconds * sr), sr), sr)

    # snacrt: whole processes (start, model load, read, encode/decode, write)
    exe = os.path.join(a.build, "snacrt")
    codes = os.path.join(work, "codes.json")
    enc_cmd = [exe, "encode", "-m", model_dir, "--threads", str(a.threads), "-o", codes, wav]
    dec_cmd = [exe, "decode", "-m", model_dir, "--noise", "1", "--threads", str(a.threads), "-o", os.path.join(work, "out.wav"), codes]
    env = dict(os.environ)
    srt_runs = [[], []]

    def snacrt_runs():   # run before and after PyTorch, so a change of the machine's load shows in both
        for _ in range(a.repeat):
            srt_runs[0].append(run_timed(enc_cmd, env))
            srt_runs[1].append(run_timed(dec_cmd, env))

    snacrt_runs()

    # PyTorch: the calls alone, after a 1 s warm-up
    SNAC = import_snac(a.snac_src)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = SNAC(**cfg).eval()
    audio = torch.from_numpy(x).reshape(1, 1, -1)
    with torch.inference_mode():
        model.decode(model.encode(audio[..., :sr]))
        te, td = [], []
        for _ in range(a.repeat):
            c, w, cpu = timed_call(model.encode, audio)
            te.append((w, cpu))
            _, w, cpu = timed_call(model.decode, c)
            td.append((w, cpu))
    snacrt_runs()
    (se, sec), (sd, sdc) = best(srt_runs[0]), best(srt_runs[1])
    (pe, pec), (pd, pdc) = best(te), best(td)
    r3 = lambda v: round(v, 3)
    print(json.dumps({
        "arch": a.arch, "audio_seconds": a.seconds, "threads": a.threads, "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "snacrt_encode_process_s": r3(se), "snacrt_decode_process_s": r3(sd),
        "torch_encode_s": r3(pe), "torch_decode_s": r3(pd),
        "encode_speedup": round(pe / se, 2), "decode_speedup": round(pd / sd, 2),
        "cpu_snacrt_encode_process_s": r3(sec), "cpu_snacrt_decode_process_s": r3(sdc),
        "cpu_torch_encode_s": r3(pec), "cpu_torch_decode_s": r3(pdc),
        "cpu_encode_speedup": round(pec / sec, 2), "cpu_decode_speedup": round(pdc / sdc, 2),
        "load_avg": [round(v, 2) for v in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
