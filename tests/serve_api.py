"""serve_api.py: `snacrt serve` end to end over HTTP (run by tests/test_serve_api.sh).
/health, /v1/models, /v1/voices, /metrics (Prometheus format), the page at / (= web/index.html); speech as wav
(valid per python's wave, length = frames * 2048), pcm (= the wav's samples), flac (decoded by sox to the same
samples), stream=true pcm and wav (chunked, same samples as the whole body for the same seed); speed (libsonic time-stretch, X-Snacrt-Speed);
every 4xx with its JSON error; 404/405; 413 by Content-Length and by a chunked body; the "audio" field (hello.wav
in base64 gives the samples `snacrt tts --audio` gives; as a data: URL too; bad base64, undecodable audio and a
wrong type -> 400 naming the field, too large -> 413); "audio_transcript" with "audio" (voice cloning: other samples,
the same as `snacrt tts --audio --audio-text`) and without it (400 naming both fields); --api-key (401 without or with a wrong key, 200 with it,
/health open); queue full -> 503; a client that hangs up while its request is queued has it removed from the
queue before admission (/metrics); the request log; SIGTERM (also mid-stream) -> exit 0."""
import base64
import json
import os
import socket
import subprocess
import threading
import time

from serve_util import (BIN, CODEC, GROUP_SAMPLES, LM, SRC, Checker, Server, metric_value, pcm_max_diff,
                        prometheus_problems, serving, wav_info)

C = Checker("serve_api")


def json_error(status, headers, body, want_status, needle=None, what="", code=None):
    """An OpenAI error object: {"error": {"message", "type", "param", "code"}}, type invalid_request_error (4xx) or
    server_error (5xx), code a string (= code when given)."""
    ok = C.check(status == want_status, f"{what}: status {status}, want {want_status}: {body[:200]!r}")
    ok &= C.check(headers.get("content-type", "").startswith("application/json"), f"{what}: content-type {headers}")
    try:
        err = json.loads(body)["error"]
        ok &= C.check(isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str),
                      f"{what}: error fields {err}")
        want_type = "server_error" if want_status >= 500 else "invalid_request_error"
        ok &= C.check(err["type"] == want_type and isinstance(err["code"], str) and err["code"] and "param" in err,
                      f"{what}: OpenAI error shape (type {want_type}, string code, param): {err}")
        if code:
            ok &= C.check(err["code"] == code, f"{what}: code {err['code']!r}, want {code!r}")
        if needle:
            ok &= C.check(needle in err["message"], f"{what}: message {err['message']!r} lacks {needle!r}")
    except (ValueError, KeyError, TypeError) as e:
        C.check(False, f"{what}: not a JSON error ({e}): {body[:200]!r}")
        return False
    return ok


def raw_exchange(port, data, timeout=30):
    """Send raw bytes, read until the server closes or the response is complete enough; -> bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and len(body) >= int(line.split(b":")[1]):
                        return out
        return out
    finally:
        s.close()


def basic_endpoints(srv):
    st, h, b = srv.request("GET", "/health")
    C.check(st == 200 and json.loads(b)["status"] == "ok", f"/health: {st} {b!r}")
    st, h, b = srv.request("GET", "/v1/models")
    models = json.loads(b) if st == 200 else {}
    ids = [m["id"] for m in models.get("data", [])]
    C.check(st == 200 and models.get("object") == "list" and "tiny-orpheus" in ids and "tts-1" in ids,
            f"/v1/models: {st} {b[:300]!r}")
    C.check(all("tara" in m["voices"] and m["object"] == "model" for m in models.get("data", [])), "model voices")
    st, h, b = srv.request("GET", "/v1/voices")
    voices = json.loads(b) if st == 200 else {}
    C.check(st == 200 and "tara" in voices.get("voices", []) and voices.get("sample_rate") == 24000,
            f"/v1/voices: {st} {b!r}")
    st, h, b = srv.request("GET", "/")
    with open(os.path.join(SRC, "web/index.html"), "rb") as f:
        page = f.read()
    C.check(st == 200 and b == page and h.get("content-type", "").startswith("text/html"),
            f"/ serves web/index.html ({st}, {len(b)} vs {len(page)} bytes)")
    rc = subprocess.run(["python3", os.path.join(SRC, "web/embed_page.py"), "--check"]).returncode
    C.check(rc == 0, "host/serve/http_page.c matches web/index.html (web/embed_page.py --check)")
    st, h, b = srv.request("HEAD", "/health")
    C.check(st == 200 and b == b"", f"HEAD /health: {st} {b!r}")


def speech_formats(srv):
    t0 = time.time()
    st, h, wav = srv.speech(seed=7, voice="tara", response_format="wav")
    C.check(st == 200 and h.get("content-type") == "audio/wav", f"wav: {st} {h} {wav[:200]!r}")
    if st != 200:
        return
    ch, width, rate, frames, pcm_from_wav = wav_info(wav)
    n_frames = int(h.get("x-snacrt-frames", -1))
    C.check(ch == 1 and width == 2 and rate == 24000, f"wav format {ch} ch, {width} bytes, {rate} Hz")
    C.check(frames > 0 and frames == n_frames * GROUP_SAMPLES == int(h.get("x-snacrt-samples", -1)),
            f"wav length {frames} = frames {n_frames} * {GROUP_SAMPLES}")
    C.check(int(h.get("x-snacrt-tokens", 0)) == 84 and h.get("x-snacrt-finish") == "length",
            f"84 tokens, finish length (random weights never stop): {h}")
    C.check(len(wav) == 44 + 2 * frames and int(h["content-length"]) == len(wav), "wav content-length")
    print(f"serve_api: 84-token wav request took {time.time() - t0:.2f} s ({frames} samples)", flush=True)

    st, h, pcm = srv.speech(seed=7, voice="tara", response_format="pcm")
    C.check(st == 200 and h.get("content-type") == "audio/pcm" and h.get("x-snacrt-sample-rate") == "24000",
            f"pcm: {st} {h}")
    C.check(pcm == pcm_from_wav, f"pcm body = wav samples ({len(pcm)} vs {len(pcm_from_wav)} bytes)")

    st, h, flac = srv.speech(seed=7, voice="tara", response_format="flac")
    C.check(st == 200 and h.get("content-type") == "audio/flac" and flac[:4] == b"fLaC", f"flac: {st} {flac[:8]!r}")
    dec = subprocess.run(["sox", "-t", "flac", "-", "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
                         input=flac, capture_output=True)
    C.check(dec.returncode == 0 and dec.stdout == pcm_from_wav,
            f"flac decodes (sox) to the same samples: rc {dec.returncode}, {len(dec.stdout)} bytes {dec.stderr[-200:]!r}")

    # streaming: chunked, same samples
    c = srv.conn()
    c.request("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": "Hello there.", "seed": 7,
                                                      "voice": "tara", "response_format": "pcm", "stream": True}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    chunks = []
    while True:
        piece = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
        if not piece:
            break
        chunks.append(piece)
    c.close()
    body = b"".join(chunks)
    C.check(r.status == 200 and (r.getheader("Transfer-Encoding") or "").lower() == "chunked",
            f"stream pcm is chunked: {r.status} {r.getheaders()}")
    C.check(body == pcm_from_wav, f"stream pcm = whole pcm ({len(body)} vs {len(pcm_from_wav)} bytes)")
    C.check(len(chunks) >= 2, f"stream arrives in pieces ({len(chunks)} reads)")

    st, h, swav = srv.speech(seed=7, voice="tara", response_format="wav", stream=True)
    C.check(st == 200 and swav[:4] == b"RIFF" and swav[4:8] == b"\xff\xff\xff\xff" and swav[40:44] == b"\xff\xff\xff\xff",
            f"streaming wav header with unknown sizes: {swav[:44]!r}")
    C.check(swav[44:] == pcm_from_wav, "stream wav data = whole pcm")

    st, h, other = srv.speech(seed=8, voice="tara", response_format="pcm")
    C.check(st == 200 and other != pcm_from_wav, "another seed gives other audio")
    st, h, leo = srv.speech(seed=7, voice="leo", response_format="pcm", speed=1.5, max_tokens=14)
    want = 2 * GROUP_SAMPLES / 1.5   # max_tokens 14 -> 2 frames, time-stretched by libsonic to 1/1.5 of them
    C.check(st == 200 and h.get("x-snacrt-speed") == "1.5" and abs(len(leo) / 2 - want) < 0.1 * want,
            f"voice leo, speed 1.5, max_tokens 14 -> 2 frames in 1/1.5 the time: {st} {h.get('x-snacrt-speed')} "
            f"{len(leo) // 2} samples, want about {want:.0f}")
    st, h, b = srv.speech(seed=7, response_format="pcm", speed=1.0, max_tokens=7)
    C.check(st == 200 and "x-snacrt-speed" not in h and len(b) == 2 * GROUP_SAMPLES, f"speed 1: unchanged, 1 frame")


def error_cases(srv):
    sp = "/v1/audio/speech"
    cases = [
        ("malformed JSON", b'{"model":"tts-1","input":"hi"', "malformed JSON"),
        ("not an object", b'["tts-1"]', "JSON object"),
        ("missing model", {"input": "hi"}, "'model'"),
        ("missing input", {"model": "tts-1"}, "'input'"),
        ("empty input", {"model": "tts-1", "input": "  "}, "empty"),
        ("input too long", {"model": "tts-1", "input": "x" * 201}, "too long"),
        ("unknown voice", {"model": "tts-1", "input": "hi", "voice": "nobody"}, "unknown voice"),
        ("unknown format", {"model": "tts-1", "input": "hi", "response_format": "aac"}, "response_format"),
        ("stream flac", {"model": "tts-1", "input": "hi", "response_format": "flac", "stream": True}, "flac"),
        ("wrong type", {"model": "tts-1", "input": "hi", "temperature": "warm"}, "temperature"),
        ("max_tokens over cap", {"model": "tts-1", "input": "hi", "max_tokens": 85}, "max_tokens"),
        ("speed out of range", {"model": "tts-1", "input": "hi", "speed": 0}, "speed"),
        ("invalid UTF-8", b'{"model":"tts-1","input":"\xc3("}', "UTF-8"),
        ("NUL escape", b'{"model":"tts-1","input":"a\\u0000"}', "NUL"),
    ]
    for what, body, needle in cases:
        st, h, b = srv.request("POST", sp, body)
        json_error(st, h, b, 400, needle, what)
    st, h, b = srv.request("POST", sp, {"model": "whisper-1", "input": "hi"})
    json_error(st, h, b, 404, "does not exist", "unknown model", code="model_not_found")
    st, h, b = srv.request("GET", "/v1/nothing")
    json_error(st, h, b, 404, "no such endpoint", "unknown path", code="not_found")
    C.check("access-control-allow-origin" not in h, f"no CORS headers without --cors-origin: {h}")
    st, h, b = srv.request("OPTIONS", sp, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    C.check(st == 405 and "access-control-allow-origin" not in h, f"no preflight without --cors-origin: {st} {h}")
    st, h, b = srv.request("GET", sp)
    json_error(st, h, b, 405, "not allowed", "GET speech")
    C.check(h.get("allow") == "POST", f"405 Allow header: {h}")
    st, h, b = srv.request("DELETE", "/health")
    json_error(st, h, b, 405, None, "DELETE /health")
    # 413: declared too large (answered before the body is read) and a chunked body that grows too large
    big = b'{"model":"tts-1","input":"' + b"x" * 400000 + b'"}'   # over 6 * 200 + 16384 + base64 of 256 KiB
    st, h, b = srv.request("POST", sp, big)
    json_error(st, h, b, 413, "too large", "oversized body")
    resp = raw_exchange(srv.port, b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
    C.check(resp.startswith(b"HTTP/1.1 413 "), f"giant Content-Length -> 413: {resp[:100]!r}")
    chunked = b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    for _ in range(100):
        chunked += b"1000\r\n" + b" " * 4096 + b"\r\n"
    chunked += b"0\r\n\r\n"
    resp = raw_exchange(srv.port, chunked)
    C.check(resp.startswith(b"HTTP/1.1 413 ") and b'"error"' in resp, f"chunked oversized body -> 413: {resp[:200]!r}")
    # a valid request still works after all that
    st, h, b = srv.speech(seed=1, max_tokens=7, response_format="pcm")
    C.check(st == 200 and len(b) == 2 * GROUP_SAMPLES, f"valid after errors: {st}")


HELLO = os.path.join(SRC, "tests/data/speech/hello.wav")
MAX_AUDIO = 262144           # --max-audio-bytes of the main server


def audio_prompt(srv):
    """The "audio" field: the same samples as `snacrt tts --audio` with the same text and sampling."""
    with open(HELLO, "rb") as f:
        hello = f.read()
    b64 = base64.b64encode(hello).decode()
    params = {"seed": 5, "temperature": 1.0, "top_p": 0.95, "repetition_penalty": 1.1, "max_tokens": 28}
    st, h, with_audio = srv.speech(input="Reply.", response_format="pcm", audio=b64, **params)
    C.check(st == 200 and len(with_audio) == 2 * GROUP_SAMPLES * int(h.get("x-snacrt-frames", -1)) and with_audio,
            f"speech with an audio prompt: {st} {with_audio[:200]!r}")
    st2, _, plain = srv.speech(input="Reply.", response_format="pcm", **params)
    C.check(st2 == 200 and plain != with_audio, "the audio prompt changes the output")
    cli = subprocess.run([os.path.join(BIN, "snacrt"), "tts", "-m", LM, "--codec", CODEC, "--threads", "2",
                          "--seed", "5", "--temperature", "1", "--top-p", "0.95", "--repetition-penalty", "1.1",
                          "--max-tokens", "28", "--audio", HELLO, "--stream", "Reply."], capture_output=True)
    d = pcm_max_diff(cli.stdout, with_audio)
    C.check(cli.returncode == 0 and d is not None and d <= 1,
            f"HTTP audio prompt = snacrt tts --audio: rc {cli.returncode}, {len(cli.stdout)} vs {len(with_audio)} "
            f"bytes, max diff {d} {cli.stderr[-300:]!r}")
    st, h, url = srv.speech(input="Reply.", response_format="pcm", audio="data:audio/wav;base64," + b64, **params)
    C.check(st == 200 and url == with_audio, f"audio as a data: URL: {st}")
    st, h, b = srv.speech(input="Reply.", response_format="pcm", stream=True, audio=b64, **params)
    C.check(st == 200 and b == with_audio, f"streamed with an audio prompt: {st} {len(b)} bytes")
    # errors name the field
    st, h, b = srv.speech(audio=b64[:100] + "!" + b64[100:])
    json_error(st, h, b, 400, "'audio' is not valid base64", "audio: bad base64")
    st, h, b = srv.speech(audio=base64.b64encode(b"hello, not audio at all").decode())
    json_error(st, h, b, 400, "'audio'", "audio: not an audio file")
    st, h, b = srv.speech(audio=base64.b64encode(hello[:2000]).decode())
    json_error(st, h, b, 400, "'audio'", "audio: truncated WAV")
    st, h, b = srv.speech(audio=12345)
    json_error(st, h, b, 400, "'audio' must be a string", "audio: a number")
    st, h, b = srv.speech(audio="")
    json_error(st, h, b, 400, "'audio' is empty", "audio: empty")
    # voice cloning: the clip's transcript as a prior turn (the layout's "clone"), as `snacrt tts --audio-text`
    st, h, cloned = srv.speech(input="Reply.", response_format="pcm", audio=b64, audio_transcript="Hello there.",
                               **params)
    C.check(st == 200 and len(cloned) == 2 * GROUP_SAMPLES * int(h.get("x-snacrt-frames", -1)) and cloned,
            f"speech with audio + audio_transcript: {st} {cloned[:200]!r}")
    C.check(cloned != with_audio, "audio_transcript changes the prompt (and the output)")
    cli = subprocess.run([os.path.join(BIN, "snacrt"), "tts", "-m", LM, "--codec", CODEC, "--threads", "2",
                          "--seed", "5", "--temperature", "1", "--top-p", "0.95", "--repetition-penalty", "1.1",
                          "--max-tokens", "28", "--audio", HELLO, "--audio-text", "Hello there.", "--stream",
                          "Reply."], capture_output=True)
    d = pcm_max_diff(cli.stdout, cloned)
    C.check(cli.returncode == 0 and d is not None and d <= 1,
            f"HTTP audio_transcript = snacrt tts --audio-text: rc {cli.returncode}, max diff {d} {cli.stderr[-300:]!r}")
    st, h, b = srv.speech(input="Reply.", audio_transcript="Hello there.")
    json_error(st, h, b, 400, "'audio_transcript'", "audio_transcript without audio")
    C.check(b"'audio'" in b, f"the 400 names 'audio' too: {b[:300]!r}")
    st, h, b = srv.speech(input="Reply.", audio=b64, audio_transcript=7)
    json_error(st, h, b, 400, "'audio_transcript' must be a string", "audio_transcript: a number")
    big = base64.b64encode(hello + hello[:130000]).decode()   # 271590 bytes > 256 KiB; the body is under its limit
    st, h, b = srv.speech(audio=big)
    json_error(st, h, b, 413, "'audio' is too large", "audio: too large")


def queued_hangup_server():
    """One running slot: a long stream runs, a second request queues behind it and its client hangs up. The
    watcher must cancel it while it is still queued (snacrt_engine_cancelled_before_admission_total), while the
    first is still running. The long stream asks for 60,000 tokens (minutes with the tiny model, whatever the
    machine; its unread audio fits the 64 MB stream buffer) so it is still running whenever the test gets there:
    with 700 it could end first on a fast machine."""
    with serving(C, Server("--max-tokens", 60000, "--max-running", 1, "--max-queue", 4, "--stream-buffer-max",
                           1 << 26, name="queued"), "queued-hangup server") as srv:
        c = srv.conn()
        c.request("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": "Hello there.", "stream": True,
                                                          "temperature": 0, "max_tokens": 60000,
                                                          "response_format": "pcm"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        first = r.read1(100)
        C.check(r.status == 200 and first, f"the long stream runs: {r.status}")
        body = json.dumps({"model": "tts-1", "input": "Queued behind it.", "response_format": "wav"}).encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        deadline, health = time.time() + 10, {}
        while time.time() < deadline:
            health = json.loads(srv.request("GET", "/health")[2])
            if health.get("queue_depth") == 1:
                break
            time.sleep(0.02)
        C.check(health.get("queue_depth") == 1 and health.get("running") == 1, f"the second request is queued: {health}")
        t0 = time.time()
        s.close()
        deadline, m = time.time() + 10, ""
        while time.time() < deadline:
            m = srv.metrics()
            if (metric_value(m, "snacrt_engine_cancelled_before_admission_total") or 0) >= 1:
                break
            time.sleep(0.02)
        took = time.time() - t0
        C.check(metric_value(m, "snacrt_engine_cancelled_before_admission_total") == 1 and
                metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') == 1 and
                metric_value(m, "snacrt_queue_depth") == 0,
                f"the hung-up queued request is cancelled before admission ({took:.2f} s): "
                f"{[l for l in m.splitlines() if 'cancel' in l or 'queue_depth' in l]}")
        C.check(metric_value(m, "snacrt_running") == 1,
                f"... while the long stream still runs (running {metric_value(m, 'snacrt_running')}, {took:.2f} s)")
        c.close()                      # hang up the stream too: cancelled while running
        deadline = time.time() + 10
        while time.time() < deadline:
            m = srv.metrics()
            if metric_value(m, "snacrt_running") == 0 and metric_value(m, "snacrt_http_speech_in_flight") == 0:
                break
            time.sleep(0.05)
        C.check(metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') == 2 and
                metric_value(m, "snacrt_engine_cancelled_before_admission_total") == 1 and
                metric_value(m, "snacrt_engine_requests_total", 'result="ok"') == 0,
                "the stream's hang-up is cancelled after admission; nothing ran to the end")
        C.check("(cancelled: client went away)" in srv.log(), "the log notes the cancellations")


def api_key_server():
    with serving(C, Server("--max-tokens", 14, "--api-key", "sekrit-Key", name="apikey"), "api-key server") as srv:
        st, h, b = srv.request("GET", "/v1/models")
        json_error(st, h, b, 401, "API key", "no key", code="invalid_api_key")
        C.check(h.get("www-authenticate", "").startswith("Bearer"), f"401 WWW-Authenticate: {h}")
        st, h, b = srv.request("GET", "/v1/models", headers={"Authorization": "Bearer sekrit-kex"})
        json_error(st, h, b, 401, None, "wrong key")
        st, h, b = srv.speech(max_tokens=7, headers={"Authorization": "Bearer sekrit"})
        json_error(st, h, b, 401, None, "prefix of the key")
        st, h, b = srv.request("GET", "/v1/models", headers={"Authorization": "Bearer sekrit-Key"})
        C.check(st == 200, f"right key: {st}")
        st, h, b = srv.speech(max_tokens=7, response_format="pcm", headers={"Authorization": "Bearer sekrit-Key"})
        C.check(st == 200 and len(b) == 2 * GROUP_SAMPLES, f"speech with the key: {st}")
        st, h, b = srv.request("GET", "/health")
        C.check(st == 200, f"/health needs no key: {st}")
        C.check("API key required" in srv.log(), "start line says a key is required")


def openai_names_server():
    """--served-model-name (twice) and --cors-origin: OpenAI's documented request unchanged, model ids, 404
    model_not_found, voices case-insensitive and OpenAI's voice names through the layout's aliases, CORS."""
    origin = "https://app.example"
    with serving(C, Server("--max-tokens", 14, "--served-model-name", "gpt-4o-mini-tts", "--served-model-name",
                           "my-tts", "--cors-origin", origin, name="names"), "names server") as srv:
        st, h, b = srv.request("GET", "/v1/models")
        ids = [m["id"] for m in json.loads(b)["data"]] if st == 200 else []
        C.check(ids == ["gpt-4o-mini-tts", "my-tts", "tiny-orpheus"], f"served names then the folder: {ids}")
        C.check(h.get("access-control-allow-origin") == origin, f"CORS header on GET /v1/models: {h}")
        st, h, b = srv.request("GET", "/v1/models/my-tts")
        m = json.loads(b) if st == 200 else {}
        C.check(m.get("id") == "my-tts" and m.get("object") == "model" and "tara" in m.get("voices", []),
                f"GET /v1/models/my-tts: {st} {b[:200]!r}")
        for bad_id in ("tts-1", "whisper-1"):
            st, h, b = srv.request("GET", f"/v1/models/{bad_id}")
            json_error(st, h, b, 404, bad_id, f"GET /v1/models/{bad_id}", code="model_not_found")
            C.check(h.get("access-control-allow-origin") == origin, f"CORS header on an error: {h}")
        st, h, b = srv.request("POST", "/v1/audio/speech", {"model": "tts-1", "input": "hi"})
        json_error(st, h, b, 404, "tts-1", "tts-1 is not served once names are given", code="model_not_found")
        # OpenAI's documented curl body, unchanged (instructions is accepted)
        doc = {"model": "gpt-4o-mini-tts", "input": "Today is a wonderful day to build something people love!",
               "voice": "coral", "instructions": "Speak in a cheerful and positive tone."}
        st, h, b = srv.request("POST", "/v1/audio/speech", doc)
        C.check("instructions" in h.get("x-snacrt-note", ""), f"instructions reported as ignored: {h}")
        C.check(st == 200 and h.get("content-type") == "audio/mpeg" and b[:1] == b"\xff" and b[1] & 0xe0 == 0xe0,
                f"OpenAI's documented request: mp3 (OpenAI's default format): {st} {h} {b[:100]!r}")
        st, h, b = srv.request("GET", "/v1/voices")
        al = json.loads(b).get("aliases", {}) if st == 200 else {}
        names = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
        C.check(all(al.get(n) in json.loads(b)["voices"] for n in names), f"/v1/voices aliases: {b[:400]!r}")
        ref = None
        for v in ("tara", "Tara", "TARA", "alloy", "Alloy"):
            st, h, b = srv.request("POST", "/v1/audio/speech", {"model": "my-tts", "input": "Hello there.", "voice": v,
                                                                 "seed": 3, "max_tokens": 14, "response_format": "pcm"})
            C.check(st == 200 and len(b) > 0, f"voice {v!r}: {st} {b[:200]!r}")
            ref = b if ref is None else ref
            C.check(b == ref, f"voice {v!r} is tara (alloy is its alias): same samples")
        st, h, b = srv.request("POST", "/v1/audio/speech", {"model": "my-tts", "input": "Hello there.", "voice": "nova",
                                                             "seed": 3, "max_tokens": 14, "response_format": "pcm"})
        C.check(st == 200 and b != ref, f"nova maps to another voice than alloy: {st}")
        st, h, b = srv.request("POST", "/v1/audio/speech", {"model": "my-tts", "input": "hi", "voice": "glados"})
        json_error(st, h, b, 400, "unknown voice", "unknown voice", code="invalid_value")
        C.check(json.loads(b)["error"].get("param") == "voice", f"param names the field: {b!r}")
        # CORS preflight, as a browser sends it before a cross-origin POST with a JSON body
        st, h, b = srv.request("OPTIONS", "/v1/audio/speech", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        allow_h = h.get("access-control-allow-headers", "").lower()
        C.check(st == 204 and h.get("access-control-allow-origin") == origin and
                "POST" in h.get("access-control-allow-methods", "") and "authorization" in allow_h and
                "content-type" in allow_h, f"preflight: {st} {h}")
        st, h, b = srv.request("GET", "/health", headers={"Origin": origin})
        C.check(st == 200 and h.get("access-control-allow-origin") == origin, f"CORS header on /health: {h}")
        C.check("model gpt-4o-mini-tts" in srv.log(), "start line names the first served name")


def queue_full_server():
    with serving(C, Server("--max-tokens", 84, "--max-queue", 1, "--max-running", 1, name="queue"),
                 "queue server") as srv:
        results = []
        lock = threading.Lock()

        def one(i):
            st, h, b = srv.speech(seed=i, response_format="pcm")
            with lock:
                results.append((st, h, b))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(st for st, _, _ in results)
        n503 = codes.count(503)
        C.check(n503 >= 1 and codes.count(200) >= 1 and codes.count(200) + n503 == 8,
                f"8 concurrent with --max-queue 1 --max-running 1: some 503, the rest 200: {codes}")
        for st, h, b in results:
            if st == 503:
                json_error(st, h, b, 503, "busy", "queue full")
                C.check(h.get("retry-after") == "1", f"503 Retry-After: {h}")
                break
        m = srv.metrics()
        C.check((metric_value(m, "snacrt_http_rejected_full_total") or 0) == n503 and
                metric_value(m, "snacrt_http_requests_total", 'path="/v1/audio/speech",code="503"') == n503,
                f"metrics count the {n503} rejections")
        # SIGTERM while a stream is running: exits 0 promptly, the stream is cut
        c = srv.conn()
        c.request("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": "Hello.", "stream": True,
                                                          "response_format": "pcm"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        first = r.read1(100)
        t0 = time.time()
        rc = srv.stop()
        C.check(rc == 0 and time.time() - t0 < 10, f"SIGTERM mid-stream: exit {rc} after {time.time() - t0:.1f} s")
        C.check(len(first) > 0, "the stream had started")
        c.close()
        C.check("shutting down" in srv.log() and "stopped" in srv.log(), "shutdown logged")


def main():
    with serving(C, Server("--max-tokens", 84, "--max-input-chars", 200, "--max-audio-bytes", MAX_AUDIO,
                           name="api")) as srv:
        basic_endpoints(srv)
        speech_formats(srv)
        error_cases(srv)
        audio_prompt(srv)
        m = srv.metrics()
        problems = prometheus_problems(m)
        C.check(not problems, f"/metrics format: {problems[:5]}")
        for fam in ("snacrt_http_requests_total", "snacrt_queue_depth", "snacrt_running", "snacrt_tokens_per_second",
                    "snacrt_time_to_first_audio_seconds", "snacrt_real_time_factor", "snacrt_dropped_frames_total"):
            C.check(f"# TYPE {fam} " in m, f"/metrics has {fam}")
        ok200 = metric_value(m, "snacrt_http_requests_total", 'path="/v1/audio/speech",code="200"') or 0
        C.check(ok200 >= 9, f"speech 200s counted: {ok200}")
        C.check((metric_value(m, "snacrt_http_requests_total", 'path="/v1/audio/speech",code="400"') or 0) >= 15,
                "400s counted")
        C.check((metric_value(m, "snacrt_time_to_first_audio_seconds_count") or 0) >= 9, "time to first audio observed")
        C.check((metric_value(m, "snacrt_generated_tokens_total") or 0) >= 9 * 7, "tokens counted")
        dev_steps = metric_value(m, "snacrt_engine_sample_steps_total", 'where="device"') or 0
        host_steps = metric_value(m, "snacrt_engine_sample_steps_total", 'where="host"')
        C.check(dev_steps >= 9 and host_steps == 0,
                f"the server's engine picks tokens on the LM's device: {dev_steps} device steps, {host_steps} host")
        C.check(srv.alive(), "server alive")
        log = srv.log()
        C.check("POST /v1/audio/speech 200 " in log and " ms" in log and "GET /health 200 " in log,
                "one log line per request (method, path, status, ms)")
    api_key_server()
    openai_names_server()
    queue_full_server()
    queued_hangup_server()
    C.finish()


if __name__ == "__main__":
    main()
