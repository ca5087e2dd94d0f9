"""serve_fuzz.py: a bounded, seeded fuzz run against `snacrt serve` over raw sockets (run by
tests/test_serve_fuzz.sh, also in the sanitizer build). Cases mix mutated speech bodies (truncated JSON, wrong
types, huge numbers, NULs, invalid UTF-8, deep nesting, long strings, malformed "audio": bad base64, base64 of
garbage, of cut or corrupted WAV files, wrong types, odd data: URLs), random request lines and paths, header
mutations (giant, duplicated, negative or non-numeric Content-Length, Expect, obs-fold), chunked bodies (valid,
malformed, oversized), raw garbage and early hang-ups. Every answer must be well-formed HTTP (status line,
headers, a body that matches its Content-Length or chunked framing; JSON bodies parse, our errors carry
{"error":{"message","type"}}); a complete request must be answered; afterwards the server still answers /health
and a real speech request, /metrics is well-formed, SIGTERM exits 0 and the log has no sanitizer report.
Environment: SNACRT_FUZZ_CASES (default 2000), SNACRT_FUZZ_SEED (default 20240611)."""
import base64
import io
import json
import os
import random
import wave
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from serve_util import GROUP_SAMPLES, Checker, Server, prometheus_problems, serving

C = Checker("serve_fuzz")
N_CASES = int(os.environ.get("SNACRT_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("SNACRT_FUZZ_SEED", "20240611"))
WORKERS = 16

PATHS = ["/v1/audio/speech", "/v1/audio/speech", "/v1/audio/speech", "/health", "/metrics", "/v1/models",
         "/v1/voices", "/", "/index.html", "/v1/audio/speech/", "/v1/audio", "/v1//audio/speech", "/%00",
         "/v1/audio/speech?x=1", "/../../etc/passwd", "/" + "a" * 3000, "*", "/v1/%2e%2e/health", "/\xe9t\xe9"]
METHODS = ["POST", "POST", "POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
           "get", "P0ST", "", "POST POST", "\x00POST"]
VERSIONS = ["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "http/1.1", "HTTP/1.1 extra", ""]
FORMATS = ["wav", "pcm", "flac", "mp3", "", "WAV", None, 7]
HUGE = [1e308, -1e308, 2 ** 64, -(2 ** 63), 1e-320, 0, -1, 1.5, 7, 85, 4096, 2 ** 53, 2 ** 53 + 1]


def valid_body(r):
    b = {"model": r.choice(["tts-1", "tiny-orpheus", "tts-1-hd"]), "input": r.choice(["Hi.", "Hello there.", "x"])}
    if r.random() < 0.5:
        b["voice"] = r.choice(["tara", "leo", "zoe"])
    if r.random() < 0.5:
        b["response_format"] = r.choice(["wav", "pcm", "flac"])
    if r.random() < 0.3:
        b["stream"] = b.get("response_format") != "flac" and r.random() < 0.7
    if r.random() < 0.3:
        b["seed"] = r.randrange(0, 1000)
    return b


def tiny_wav(frames=1200, rate=24000, channels=1):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes((i * 37) & 0xFF for i in range(2 * frames * channels)))
    return out.getvalue()


WAV = tiny_wav()


def malformed_audio(r):
    """A bad (or, now and then, valid) "audio" value."""
    kind = r.randrange(12)
    if kind == 0:                      # not base64 at all
        return r.choice(["!!!", "****", "a", "ab=c", "====", "\u00e9\u00e9", "x" * 301, "QUJD\x00REVG"])
    if kind == 1:                      # base64 of garbage bytes
        return base64.b64encode(bytes(r.randrange(256) for _ in range(r.randint(1, 300)))).decode()
    if kind == 2:                      # a WAV cut short (header only, or mid-data)
        return base64.b64encode(WAV[: r.choice([4, 12, 36, 44, 45, 100, len(WAV) - 1])]).decode()
    if kind == 3:                      # a WAV with flipped header bytes
        b = bytearray(WAV)
        for _ in range(r.randint(1, 4)):
            b[r.randrange(44)] = r.randrange(256)
        return base64.b64encode(bytes(b)).decode()
    if kind == 4:                      # base64 cut mid-group, padding in the middle, bad padding
        t = base64.b64encode(WAV).decode()
        return r.choice([t[:-1], t[:-2] + "=", t[:100] + "=" + t[100:], t + "==", t[:101]])
    if kind == 5:                      # wrong types
        return r.choice([None, True, 7, -1.5, [], {}, ["UklGRg=="], {"data": "UklGRg=="}])
    if kind == 6:                      # odd data: URLs
        t = base64.b64encode(WAV).decode()
        return r.choice(["data:", "data:,", "data:audio/wav,", "data:audio/wav;base64", "data:;base64," + t,
                         "data:audio/wav;base64,", "data:audio/wav;charset=x;base64,!" + t])
    if kind == 7:                      # a header claiming far more data than present, or odd formats
        b = bytearray(WAV)
        b[40:44] = r.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\x01\x00\x00\x00"])
        if r.random() < 0.5:
            b[22:24] = r.choice([b"\x00\x00", b"\xff\xff", b"\x08\x00"])   # channels
        return base64.b64encode(bytes(b)).decode()
    if kind == 8:                      # whitespace and line breaks inside
        t = base64.b64encode(WAV).decode()
        return "\n".join(t[i:i + 76] for i in range(0, len(t), 76)) + r.choice(["", "\n", " \t"])
    if kind == 9:                      # only whitespace, empty
        return r.choice(["", " ", "\n\n", "data:audio/wav;base64, "])
    if kind == 10:                     # a valid stereo file at another rate (the server must accept it)
        return base64.b64encode(tiny_wav(frames=r.choice([1, 100, 800]), rate=r.choice([8000, 44100]),
                                         channels=2)).decode()
    return base64.b64encode(WAV).decode()


def mutate_json_value(r):
    return r.choice([None, True, False, 0, -1, 1e308, float("inf") if r.random() < 0.1 else 2 ** 70, "", "x" * 300,
                     [], {}, [1, [2, [3]]], {"a": {"b": None}}, "\u0000", "\ud7ff\ue000", r.choice(HUGE)])


def mutated_body(r):
    """-> body bytes (the HTTP framing stays consistent, so the request is complete)."""
    b = valid_body(r)
    kind = r.randrange(12)
    if kind == 0:                      # drop fields
        for k in list(b):
            if r.random() < 0.5:
                del b[k]
    elif kind == 1:                    # wrong types / odd values
        for _ in range(r.randint(1, 3)):
            b[r.choice(["model", "input", "voice", "response_format", "stream", "speed", "seed", "temperature",
                        "top_p", "repetition_penalty", "max_tokens", "stream_format"])] = mutate_json_value(r)
    elif kind == 2:                    # numbers at the edges
        b[r.choice(["speed", "seed", "temperature", "top_p", "repetition_penalty", "max_tokens"])] = r.choice(HUGE)
    elif kind == 3:                    # long or unicode input
        b["input"] = r.choice(["\u00e9" * r.randint(90, 110), "x" * r.randint(95, 105), "\U0001F600" * 50,
                               "a\u2028b\u0085c", "Hello.\n\nNew paragraph! Yes? " * 3])
    elif kind == 4:
        b["response_format"] = r.choice(FORMATS)
    raw = json.dumps(b, ensure_ascii=r.random() < 0.5).encode()
    if kind == 5:                      # truncate
        raw = raw[: r.randrange(len(raw))]
    elif kind == 6:                    # flip bytes
        raw = bytearray(raw)
        for _ in range(r.randint(1, 4)):
            raw[r.randrange(len(raw))] = r.randrange(256)
        raw = bytes(raw)
    elif kind == 7:                    # NULs and invalid UTF-8 inside the input
        raw = raw.replace(b'"input": "', b'"input": "' + r.choice([b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80",
                                                                  b"\\u0000", b"\\ud800", b"\xf4\x90\x80\x80"]), 1)
        raw = raw.replace(b'"input":"', b'"input":"' + b"\x00", 1)
    elif kind == 8:                    # deep nesting
        d = r.randint(10, 3000)
        raw = raw[:-1] + b', "deep": ' + b"[" * d + b"]" * d + b"}"
    elif kind == 9:                    # duplicate keys, trailing garbage
        raw = raw[:-1] + b', "input": 5}' + r.choice([b"", b" ", b"x", b"{}", b"\x00"])
    elif kind == 10:                   # not an object at all
        raw = r.choice([b"null", b"[]", b"\"str\"", b"1e999", b"-", b"{", b"}", b"", b"\xef\xbb\xbf{}", b"{\"a\":}"])
    elif kind == 11:                   # an audio prompt, mostly malformed
        b["audio"] = malformed_audio(r)
        raw = json.dumps(b).encode()
    return raw


def chunked(body, r):
    out, i = b"", 0
    while i < len(body):
        n = min(r.randint(1, 64), len(body) - i)
        ext = r.choice([b"", b"", b";ext=1", b";x"])
        out += b"%x" % n + ext + b"\r\n" + body[i:i + n] + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


def make_case(i):
    """-> (bytes to send, complete: the server must answer, close_early: hang up right after sending)."""
    r = random.Random(SEED * 1000003 + i)
    kind = r.randrange(10)
    method, path, version = "POST", "/v1/audio/speech", "HTTP/1.1"
    headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json"), ("Connection", "close")]
    body = mutated_body(r) if r.random() < 0.8 else json.dumps(valid_body(r)).encode()
    complete, framing = True, "length"
    if kind == 0:                      # request line
        method, path, version = r.choice(METHODS), r.choice(PATHS), r.choice(VERSIONS)
        complete = False               # MHD may wait for more on a garbled line
    elif kind == 1:                    # header mutations
        m = r.randrange(9)
        if m == 0:
            headers.append(("X-Big", "y" * r.choice([100, 8000, 40000])))
        elif m == 1:
            framing = "dup-length"
        elif m == 2:
            framing = "neg-length"
        elif m == 3:
            framing = "giant-length"
        elif m == 4:
            framing = "text-length"
        elif m == 5:
            headers.append(("Expect", "100-continue"))
        elif m == 6:
            headers.append(("X-Folded", "a\r\n  b"))
        elif m == 7:
            headers.append((r.choice(["Bad Header", "X\x00Y", ":", "A" * 300]), "v"))
        else:
            headers = [h for h in headers if h[0] != "Host"]
        complete = m in (0, 5, 8)
    elif kind == 2:                    # chunked bodies
        framing = r.choice(["chunked", "chunked", "chunked-bad", "chunked-big", "chunked+length"])
        complete = framing in ("chunked", "chunked-big")
    elif kind == 3:                    # raw garbage
        data = bytes(r.randrange(256) for _ in range(r.randint(0, 400)))
        if r.random() < 0.5:
            data += b"\r\n\r\n"
        return data, False, r.random() < 0.3
    elif kind == 4:                    # body shorter than declared: the server waits (and times out)
        framing = "short"
        complete = False
    elif kind == 5:                    # GET endpoints with a body or odd methods
        method, path = r.choice(["GET", "HEAD", "POST", "PUT"]), r.choice(PATHS[3:9])
        if r.random() < 0.5:
            body = b""
    lines = [f"{method} {path} {version}".encode("latin-1", "replace")]
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "dup-length":
        headers += [("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 1))]
    elif framing == "neg-length":
        headers.append(("Content-Length", "-5"))
    elif framing == "giant-length":
        headers.append(("Content-Length", r.choice(["99999999999999999999999", "18446744073709551615",
                                                     "1000000000"])))
    elif framing == "text-length":
        headers.append(("Content-Length", r.choice(["abc", "1e3", "0x10", " 12", "12 13"])))
    elif framing.startswith("chunked"):
        headers.append(("Transfer-Encoding", "chunked"))
        if framing == "chunked+length":
            headers.append(("Content-Length", "5"))
        if framing == "chunked-big":
            body = body + b" " * 40000
        body = chunked(body, r)
        if framing == "chunked-bad":
            body = body.replace(b"\r\n", r.choice([b"\n", b"\r\nzz\r\n", b""]), 1)
    elif framing == "short":
        headers.append(("Content-Length", str(len(body) + 10)))
    for k, v in headers:
        lines.append(k.encode("latin-1", "replace") + b": " + v.encode("latin-1", "replace"))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    return data, complete, r.random() < 0.05


def read_response(s, deadline, head_request=False):
    """Read one response (after any 1xx interim ones); -> (status, headers, body, problem). problem None when
    well-formed; status None when nothing came back. A HEAD answer has no body whatever its headers say."""
    buf = b""

    def more():
        nonlocal buf
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk

    while True:
        try:
            while b"\r\n\r\n" not in buf:
                more()
        except (EOFError, socket.timeout, ConnectionResetError):
            if not buf:
                return None, None, None, None
            return None, None, None, f"incomplete head: {buf[:200]!r}"
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1].isdigit() or len(parts[1]) != 3:
            return None, None, None, f"bad status line {lines[0][:100]!r}"
        status = int(parts[1])
        if status >= 200:
            break
        buf = rest                     # 100 Continue: the real answer follows
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(b":")
        if not sep or not k or k != k.strip():
            return status, None, None, f"bad header line {line[:100]!r}"
        headers[k.decode("latin-1").lower()] = v.strip().decode("latin-1")
    buf = rest
    body = b""
    deadline = max(deadline, time.time() + 60)   # an answer has begun: give its body time
    try:
        if head_request or status in (204, 304):
            pass
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(buf) < n:
                more()
            body = buf[:n]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in buf:
                    more()
                size_line, _, buf = buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    more()
                if buf[size:size + 2] != b"\r\n":
                    return status, headers, body, "bad chunk framing"
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            try:
                while True:
                    more()
            except EOFError:
                pass
            body = buf
    except EOFError:
        return status, headers, body, "connection closed inside the body"
    except socket.timeout:
        return status, headers, body, "timed out inside the body"
    except ValueError as e:
        return status, headers, body, f"bad framing: {e}"
    return status, headers, body, None


def check_answer(status, headers, body):
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return f"JSON body does not parse: {body[:200]!r}"
        if status >= 400 and body:
            err = doc.get("error") if isinstance(doc, dict) else None
            if not (isinstance(err, dict) and isinstance(err.get("message"), str) and isinstance(err.get("type"), str)):
                return f"error body without error.message/type: {body[:200]!r}"
    if status == 200 and ctype == "audio/pcm" and len(body) % 2:
        return "odd pcm length"
    return None


def run_case(srv, i):
    data, complete, close_early = make_case(i)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass                       # the server answered early and closed (e.g. 413 before the body)
        if close_early:
            return i, "hung up", None, 0.0
        t0 = time.time()
        status, headers, body, problem = read_response(s, t0 + (60 if complete else 0.5), data.startswith(b"HEAD "))
        took = time.time() - t0
        if problem is None and status is not None:
            problem = check_answer(status, headers, body)
        if problem is None and status is None and complete:
            problem = "no answer to a complete request"
        if took > 2 and os.environ.get("SNACRT_FUZZ_VERBOSE"):
            print(f"slow answer {took:.1f} s to {data[:300]!r}", flush=True)
        return i, status, problem and f"{problem} (request {data[:300]!r})", took
    finally:
        s.close()


def main():
    with serving(C, Server("--max-tokens", 7, "--max-input-chars", 100, "--timeout", 3, "--max-queue", 64,
                           name="fuzz")) as srv:
        t0 = time.time()
        statuses, problems, slowest = Counter(), [], 0.0
        lock = threading.Lock()

        def work(i):
            nonlocal slowest
            try:
                res = run_case(srv, i)
            except OSError as e:
                res = (i, "socket error", f"socket error {e}", 0.0)
            with lock:
                statuses[res[1]] += 1
                if res[2]:
                    problems.append((res[0], res[2]))
                slowest = max(slowest, res[3])
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(work, range(N_CASES)))
        wall = time.time() - t0
        print(f"serve_fuzz: {N_CASES} cases (seed {SEED}) in {wall:.1f} s; answers: "
              f"{dict(sorted(statuses.items(), key=str))}; slowest answer {slowest:.2f} s", flush=True)
        C.check(not problems, f"{len(problems)} malformed or missing answers, e.g. {problems[:3]}")
        C.check(srv.alive(), "server survived")
        C.check(sum(v for k, v in statuses.items() if isinstance(k, int)) > N_CASES // 2, "most cases answered")
        C.check(statuses.get(200, 0) > 0 and statuses.get(400, 0) > 0, "the mix reached both 200 and 400")
        # the malformed-audio corpus once more, each answer checked: 400 naming the field (a NUL is refused before
        # any field is looked at), or 200 for the valid ones; never a server error
        r = random.Random(SEED)
        audio_answers = Counter()
        for k in range(60):
            value = malformed_audio(r)
            st, h, b = srv.speech(timeout=60, max_tokens=7, response_format="pcm", audio=value)
            try:
                msg = json.loads(b)["error"]["message"] if st != 200 else ""
            except (ValueError, KeyError, TypeError):
                msg = None
            audio_answers[st] += 1
            C.check(st == 200 or (st == 400 and msg is not None and ("'audio'" in msg or "NUL" in msg)),
                    f"malformed audio {str(value)[:80]!r}: {st} {b[:200]!r}")
        print(f"serve_fuzz: malformed audio answers {dict(audio_answers)}", flush=True)
        C.check(audio_answers[400] >= 30, f"most malformed audio is refused ({dict(audio_answers)})")
        st, h, b = srv.request("GET", "/health")
        C.check(st == 200, f"/health after the fuzz: {st}")
        st, h, b = srv.speech(seed=3, response_format="pcm")
        C.check(st == 200 and len(b) == 2 * GROUP_SAMPLES * int(h.get("x-snacrt-frames", -1)),
                f"a real request after the fuzz: {st} {len(b)}")
        problems_m = prometheus_problems(srv.metrics())
        C.check(not problems_m, f"/metrics after the fuzz: {problems_m[:3]}")
    C.finish()


if __name__ == "__main__":
    main()
