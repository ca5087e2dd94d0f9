"""serve_attack.py: `snacrt serve` under attack (run by tests/test_serve_attack.sh, python3 stdlib, loopback only;
issue #17). Each part prints the server's RSS and the worst /health latency it saw.
 1. slow clients: 600 connections from 127.0.0.2 trickle one header byte every 0.3 s, more than the 512 slots of
    the server (default limits, but a 2 s head deadline): /health from 127.0.0.1 answers 200 within 1 s
    throughout, and the trickling connections are closed by the server within the deadline (+ slack);
 2. audio bombs: a FLAC of 30 minutes of silence at 192 kHz (~80 KB, written here: constant subframes) in the
    "audio" field is answered 413 before decoding, the same file with no length in its header (total samples 0)
    is answered 413 while decoding, and the server's peak RSS grows by less than 64 MB (decoding it whole costs
    1.3 GB of float samples);
 3. a request that cannot fit the KV cache (an audio prompt of 12 s with --max-running 1 --max-tokens 64) is
    answered 413 naming the KV cache, whole-body and stream=true, never 500 or a cut 200;
 4. 200 requests (48 in the sanitizer build; every 4th with an audio prompt, 8 at a time): all 200, RSS growth from
    the 40th to the last request under 24 MB.
SNACRT_ATTACK_BASELINE=1 leaves out the flags this test sets, to measure a server that lacks them (the numbers
for an older build: SNACRT_BIN=old/build)."""
import base64
import http.client
import io
import math
import os
import socket
import struct
import threading
import time
import wave

from serve_util import Checker, Server, serving

C = Checker("serve_attack")
BASELINE = os.environ.get("SNACRT_ATTACK_BASELINE") == "1"


def flags(*args):
    return () if BASELINE else args


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def health_ms(srv, timeout=5):
    t = time.time()
    try:
        status, _, _ = srv.request("GET", "/health", timeout=timeout)
    except OSError:
        status = 0
    return status, (time.time() - t) * 1e3


# ---------------------------------------------------------------- FLAC of constant subframes (a compression bomb)

def crc8(data):
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


CRC16_TABLE = []
for i in range(256):
    c = i << 8
    for _ in range(8):
        c = ((c << 1) ^ 0x8005) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    CRC16_TABLE.append(c)


def crc16(data):
    c = 0
    for b in data:
        c = ((c << 8) & 0xFFFF) ^ CRC16_TABLE[(c >> 8) ^ b]
    return c


def utf8_number(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x800:
        return bytes([0xC0 | (n >> 6), 0x80 | (n & 0x3F)])
    return bytes([0xE0 | (n >> 12), 0x80 | ((n >> 6) & 0x3F), 0x80 | (n & 0x3F)])


def flac_silence(seconds, rate=192000, header_length=True):
    """A valid 16-bit mono FLAC of `seconds` of digital silence: 15 bytes per 65535 samples."""
    block = 65535
    n_frames = int(math.ceil(seconds * rate / block))
    total = n_frames * block if header_length else 0
    info = struct.pack(">HH", block, block) + b"\0" * 6
    bits = (rate << 44) | (0 << 41) | (15 << 36) | total          # rate 20, channels-1 3, bps-1 5, total 36 bits
    info += bits.to_bytes(8, "big") + b"\0" * 16
    out = bytearray(b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info)
    for k in range(n_frames):
        head = bytes([0xFF, 0xF8, 0x70, 0x08]) + utf8_number(k) + struct.pack(">H", block - 1)
        head += bytes([crc8(head)])
        frame = head + b"\x00\x00\x00"                                # CONSTANT subframe, value 0
        out += frame + struct.pack(">H", crc16(frame))
    return bytes(out)


def wav_noise(seconds, rate=24000):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        x = 12345
        frames = bytearray()
        for _ in range(int(seconds * rate)):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            frames += struct.pack("<h", (x >> 16) % 8000 - 4000)
        w.writeframes(bytes(frames))
    return buf.getvalue()


# ---------------------------------------------------------------- 1. slow clients

def slow_clients():
    with serving(C, Server(*flags("--header-timeout", 2), name="attack-slow"), "after the slow clients") as srv:
        base = rss_kb(srv.proc.pid)
        socks, stop = [], threading.Event()
        for _ in range(600):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", srv.port))
                socks.append(s)
            except OSError:
                s.close()
        closed_at = {}
        t0 = time.time()

        def trickle():
            head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
            for i in range(len(head)):
                if stop.is_set():
                    return
                for k, s in enumerate(socks):
                    if k in closed_at:
                        continue
                    try:
                        s.send(head[i:i + 1])
                    except OSError:
                        closed_at[k] = time.time() - t0
                time.sleep(0.3)

        def reap():                       # notice connections the server closed
            while not stop.is_set():
                for k, s in enumerate(socks):
                    if k in closed_at:
                        continue
                    s.setblocking(False)
                    try:
                        if s.recv(4096) == b"":
                            closed_at[k] = time.time() - t0
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed_at[k] = time.time() - t0
                time.sleep(0.1)

        th = [threading.Thread(target=trickle), threading.Thread(target=reap)]
        for t in th:
            t.start()
        worst, bad = 0.0, []
        while time.time() - t0 < 5:
            status, ms = health_ms(srv)
            worst = max(worst, ms)
            if status != 200 or ms > 1000:
                bad.append((round(time.time() - t0, 1), status, round(ms)))
            time.sleep(0.2)
        stop.set()
        for t in th:
            t.join()
        rss = rss_kb(srv.proc.pid)
        late = [k for k in range(len(socks)) if closed_at.get(k, 99) > 2 + 2.5]
        print(f"slow clients: {len(socks)} trickling connections; /health worst {worst:.0f} ms; RSS {base // 1024} -> "
              f"{rss // 1024} MB; {len(closed_at)} closed by the server, last at "
              f"{max(closed_at.values()) if closed_at else -1:.1f} s", flush=True)
        C.check(not bad, f"/health failed or slow while slow clients held connections (t s, status, ms): {bad[:8]}")
        C.check(not late, f"{len(late)} trickling connections were not closed within the 2 s head deadline + 2.5 s")
        for s in socks:
            s.close()
        status, ms = health_ms(srv)
        C.check(status == 200, f"/health after the slow clients: {status}")


# ---------------------------------------------------------------- 2.-4. requests

def audio_bombs(srv):
    base, base_hwm = rss_kb(srv.proc.pid), rss_kb(srv.proc.pid, "VmHWM")
    for header_length in (True, False):
        bomb = flac_silence(1800, header_length=header_length)
        what = "bomb with its length in the header" if header_length else "bomb without a length"
        t = time.time()
        status, _, body = srv.speech(audio=base64.b64encode(bomb).decode(), timeout=120)
        ms = (time.time() - t) * 1e3
        C.check(status == 413 and b"longer than" in body, f"{what}: status {status}: {body[:300]!r}")
        hstatus, hms = health_ms(srv)
        hwm = rss_kb(srv.proc.pid, "VmHWM")
        print(f"audio {what}: {len(bomb)} bytes of FLAC (30 min at 192 kHz) -> {status} in {ms:.0f} ms; /health "
              f"{hms:.0f} ms; RSS {base // 1024} MB, peak {base_hwm // 1024} -> {hwm // 1024} MB", flush=True)
        C.check(hstatus == 200, f"/health after the {what}: {hstatus}")
        C.check(hwm - max(base, base_hwm) < 64 * 1024, f"{what}: peak RSS grew by {(hwm - base_hwm) // 1024} MB")


def kv_too_big(srv):
    prompt = base64.b64encode(wav_noise(12)).decode()
    for stream in (False, True):
        try:
            status, _, body = srv.speech(audio=prompt, stream=stream, max_tokens=64, timeout=120)
        except (OSError, http.client.HTTPException) as e:   # a 200 whose stream is cut
            status, body = f"broken response ({type(e).__name__})", b""
        print(f"request that cannot fit the KV cache (stream={stream}): {status} {body[:160]!r}", flush=True)
        C.check(status in (400, 413) and b"KV-cache" in body,
                f"KV-cache overflow (stream={stream}): status {status}, want 413: {body[:300]!r}")


def sanitizer_build():
    """True when SNACRT_BIN is an AddressSanitizer build (its CMakeCache says SNACRT_SANITIZE ON)."""
    try:
        with open(os.path.join(os.environ.get("SNACRT_BIN", "build"), "CMakeCache.txt")) as f:
            return "SNACRT_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def many_requests(srv):
    prompt = base64.b64encode(wav_noise(0.5)).decode()
    statuses, lock, rss_at = [], threading.Lock(), {}
    total, first = (48, 16) if sanitizer_build() else (200, 40)   # the sanitizer build is ~10x slower
    counter = iter(range(total))

    def worker():
        for i in counter:
            fields = {"max_tokens": 21, "seed": i}
            if i % 4 == 0:
                fields["audio"] = prompt
            try:
                status, _, _ = srv.speech(timeout=120, **fields)
            except (OSError, http.client.HTTPException) as e:
                status = repr(e)
            with lock:
                statuses.append(status)
                if len(statuses) in (first, total):
                    rss_at[len(statuses)] = rss_kb(srv.proc.pid)
    th = [threading.Thread(target=worker) for _ in range(8)]
    t = time.time()
    for x in th:
        x.start()
    for x in th:
        x.join()
    hstatus, hms = health_ms(srv)
    growth = rss_at.get(total, 0) - rss_at.get(first, 0)
    print(f"{total} requests in {time.time() - t:.1f} s: RSS after {first} {rss_at.get(first, 0) // 1024} MB, after "
          f"{total} {rss_at.get(total, 0) // 1024} MB (growth {growth // 1024} MB); /health {hms:.0f} ms", flush=True)
    bad = [s for s in statuses if s != 200]
    C.check(len(statuses) == total and not bad, f"{len(bad)} of {len(statuses)} requests failed: {bad[:5]}")
    C.check(growth < 24 * 1024, f"RSS grew by {growth // 1024} MB over 160 requests")


def main():
    slow_clients()
    with serving(C, Server("--max-running", 1, "--max-tokens", 64, *flags("--max-audio-seconds", 30),
                           name="attack")) as srv:
        audio_bombs(srv)
        kv_too_big(srv)
        many_requests(srv)
    C.finish()


if __name__ == "__main__":
    main()
