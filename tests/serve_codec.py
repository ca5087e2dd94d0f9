"""serve_codec.py: POST /v1/codec/encode and /v1/codec/decode of `snacrt serve` (tiny24 codec): the codes of a wav
equal `snacrt encode`'s in json, laion and npy; decoding them gives `snacrt decode`'s audio (within 1 LSB) as wav
and the same samples as pcm; an edited code changes the audio; every refusal is a JSON 400 / 413 / 405 naming the
field or limit (empty body, not audio, a bad format name, codes out of range or of the wrong shape, more than the
60 s limit in or out). Run by tests/test_serve_codec.sh."""
import array
import io
import json
import os
import struct
import subprocess
import tempfile
import wave

from serve_util import BIN, CODEC, Checker, SRC, Server, serving

C = Checker("serve_codec")
WAV = os.path.join(SRC, "tests/data/speech/hello.wav")


def wav_samples(data):
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), array.array("h", w.readframes(w.getnframes()))


def snacrt(*args):
    r = subprocess.run([os.path.join(BIN, "snacrt"), *args], capture_output=True, timeout=300)
    if r.returncode:
        raise RuntimeError(f"snacrt {' '.join(args)}: {r.stderr.decode(errors='replace')}")


def error_of(status, body):
    try:
        return status, json.loads(body)["error"]
    except (ValueError, KeyError):
        return status, {"message": body[:200].decode(errors="replace")}


def main():
    tmp = tempfile.mkdtemp(prefix="serve_codec.")
    snacrt("encode", "-m", CODEC, "--format", "json", "-o", os.path.join(tmp, "ref.json"), WAV)
    snacrt("encode", "-m", CODEC, "--format", "laion", "-o", os.path.join(tmp, "ref.laion"), WAV)
    snacrt("decode", "-m", CODEC, "-o", os.path.join(tmp, "ref.wav"), os.path.join(tmp, "ref.json"))
    ref = json.load(open(os.path.join(tmp, "ref.json")))
    with open(os.path.join(tmp, "ref.wav"), "rb") as f:
        ref_rate, ref_pcm = wav_samples(f.read())
    audio = open(WAV, "rb").read()
    with serving(C, Server(name="codec")) as srv:
        OCT = {"Content-Type": "application/octet-stream"}
        st, h, body = srv.request("POST", "/v1/codec/encode", audio, headers=OCT)
        C.check(st == 200 and h.get("content-type") == "application/json", f"encode: {st} {body[:200]}")
        got = json.loads(body) if st == 200 else {}
        C.check(got.get("codes") == ref["codes"], "encode: the codes equal `snacrt encode --format json`'s")
        C.check(got.get("n_samples") == ref.get("n_samples") and got.get("hop_length") == ref.get("hop_length"),
                f"encode: n_samples / hop_length as the CLI's: {got.get('n_samples')} {got.get('hop_length')}")
        C.check(h.get("x-snacrt-levels") == str(len(ref["codes"])) and
                h.get("x-snacrt-frames") == str(len(ref["codes"][0])), f"encode headers: {h}")
        st, h, body = srv.request("POST", "/v1/codec/encode?format=laion", audio, headers=OCT)
        C.check(st == 200 and body.split() == open(os.path.join(tmp, "ref.laion"), "rb").read().split(),
                f"encode ?format=laion equals the CLI's laion file: {st}")
        st, h, npy = srv.request("POST", "/v1/codec/encode?format=npy", audio, headers=OCT)
        C.check(st == 200 and npy.startswith(b"\x93NUMPY") and h.get("content-type") == "application/octet-stream",
                f"encode ?format=npy: {st} {npy[:20]}")

        # decode: the CLI's audio, as wav and as pcm; from json, laion and npy alike
        st, h, body = srv.request("POST", "/v1/codec/decode", json.dumps(ref))
        C.check(st == 200 and h.get("content-type") == "audio/wav", f"decode: {st} {body[:200]}")
        if st == 200:
            rate, pcm = wav_samples(body)
            C.check(rate == ref_rate and len(pcm) == len(ref_pcm), f"decode: {rate} Hz, {len(pcm)} samples vs "
                    f"{ref_rate} Hz, {len(ref_pcm)}")
            C.check(len(pcm) == len(ref_pcm) and max((abs(a - b) for a, b in zip(pcm, ref_pcm)), default=0) <= 1,
                    "decode: the samples of `snacrt decode` (within 1 LSB)")
            C.check(h.get("x-snacrt-samples") == str(len(pcm)), f"X-Snacrt-Samples {h.get('x-snacrt-samples')}")
            st2, _, raw = srv.request("POST", "/v1/codec/decode?response_format=pcm", json.dumps(ref))
            C.check(st2 == 200 and raw == pcm.tobytes(), "decode as pcm: the wav's samples")
            st2, _, lw = srv.request("POST", "/v1/codec/decode?format=laion",
                                     open(os.path.join(tmp, "ref.laion"), "rb").read(),
                                     headers={"Content-Type": "text/plain"})
            st3, _, nw = srv.request("POST", "/v1/codec/decode", npy, headers=OCT)
            C.check(st2 == 200 and st3 == 200 and wav_samples(lw)[1][:len(pcm)] == wav_samples(nw)[1][:len(pcm)],
                    f"decode from laion and from npy agree: {st2} {st3}")
            edited = json.loads(json.dumps(ref))
            edited["codes"][0][0] = (edited["codes"][0][0] + 97) % 256   # tiny24: 256 codes
            st2, _, ew = srv.request("POST", "/v1/codec/decode", json.dumps(edited))
            C.check(st2 == 200 and wav_samples(ew)[1] != pcm, "an edited code changes the audio")

        # refusals
        def refused(method, path, body, want, words, what, headers=None):
            st, err = error_of(*srv.request(method, path, body, headers=headers)[::2])
            msg = err.get("message", "")
            C.check(st == want and all(w in msg for w in words), f"{what}: {st} {msg}")

        refused("POST", "/v1/codec/encode", b"", 400, ["audio file"], "encode: empty body", OCT)
        refused("POST", "/v1/codec/encode", b"this is not audio at all" * 8, 400, ["request body"],
                "encode: not audio", OCT)
        refused("POST", "/v1/codec/encode?format=mp3", audio, 400, ["unsupported codes format 'mp3'", "laion"],
                "encode: bad format", OCT)
        long_wav = io.BytesIO()
        with wave.open(long_wav, "wb") as w:                 # 61 s of silence, over the 60 s limit
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\0\0" * 8000 * 61)
        refused("POST", "/v1/codec/encode", long_wav.getvalue(), 413, ["60"], "encode: longer than 60 s", OCT)
        refused("POST", "/v1/codec/decode", b"", 400, ["codes"], "decode: empty body")
        refused("POST", "/v1/codec/decode", b"{\"codes\": 5}", 400, ["request body"], "decode: bad json codes")
        bad = json.loads(json.dumps(ref))
        bad["codes"][1][0] = 5000
        refused("POST", "/v1/codec/decode", json.dumps(bad), 400, ["request body"], "decode: code out of range")
        refused("POST", "/v1/codec/decode?response_format=aac", json.dumps(ref), 400,
                ["unsupported response_format 'aac'"], "decode: bad response_format")
        refused("POST", "/v1/codec/decode?format=xml", json.dumps(ref), 400, ["unsupported codes format 'xml'"],
                "decode: bad codes format")
        frames = 61 * 24000 // 2048 + 1                       # coarse frames of tiny24 for > 60 s
        refused("POST", "/v1/codec/decode?format=laion", " ".join(["1"] * 7 * frames), 413, ["60 s"],
                "decode: more than 60 s of audio", {"Content-Type": "text/plain"})
        refused("GET", "/v1/codec/encode", None, 405, ["POST"], "GET /v1/codec/encode")
        log = srv.log()
        C.check("POST /v1/codec/encode 200" in log and "POST /v1/codec/decode 400" in log,
                "the server log names the codec routes")
    C.finish()


if __name__ == "__main__":
    main()
