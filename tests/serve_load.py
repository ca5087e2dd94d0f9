"""serve_load.py: `snacrt serve` under load (run by tests/test_serve_load.sh).
1. References: each (text, voice, seed) combination alone, one at a time.
2. 200 requests at concurrency 32 on loopback, mixing whole-body pcm/wav, streamed pcm/wav and unseeded requests;
   none may get a 503 (the queue of 64 holds all 32 clients beyond the 16 running). Streamed requests generate
   STREAM_TOKENS = 6 frame groups, more than the decoder's lookahead of 3, so their audio goes out while they are
   still generating (the incremental path, under load), not only at the final flush; whole-body ones 2 groups.
   Every request must succeed with length = frames * 2048 samples and, when seeded, the
   reference's samples (no lost, duplicated or reordered frame whatever else is in the batch). "The same" allows
   1 step of 16 bits: the batched codec decode matches a lone decode within 1e-5, not bit for bit, so a sample
   near a rounding boundary may land one step away; a wrong token or frame changes thousands of samples by far more.
3. Misbehaving clients next to well-behaved ones: a slow reader (1 byte per 100 ms, small receive buffer), a
   client that disconnects mid-stream and one that hangs up while waiting for a whole body. The others' latency
   must stay within a bound of the undisturbed latency; /metrics must show the cancellations (client_gone) and the
   slow stream cut at its buffer cap (buffer_overflow); the engine must be idle again afterwards."""
import http.client
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serve_util import GROUP_SAMPLES, Checker, Server, metric_value, pcm_max_diff, serving, wav_info

C = Checker("serve_load")
TOKENS = 14                  # whole-body requests: 2 frame groups (the sanitizer build is ~5x slower)
STREAM_TOKENS = 42           # streamed requests: 6 frame groups > lookahead 3, so audio is sent before the end
N_REQUESTS, CONCURRENCY = 200, 32
COMBOS = [("Hello there.", "tara", 11), ("The quick brown fox.", "leo", 12), ("One, two, three!", "mia", 13),
          ("Good morning to you.", "zac", 14)]


def fetch(srv, body, stream, timeout=120):
    """POST a speech request; -> (status, headers, pcm bytes). Streams are read chunk by chunk."""
    c = srv.conn(timeout)
    try:
        c.request("POST", "/v1/audio/speech", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        h = {k.lower(): v for k, v in r.getheaders()}
        if stream:
            parts = []
            while True:
                p = r.read1(65536)
                if not p:
                    break
                parts.append(p)
            data = b"".join(parts)
        else:
            data = r.read()
        if r.status == 200 and body.get("response_format") == "wav":
            data = data[44:] if stream else wav_info(data)[4]
        return r.status, h, data
    finally:
        c.close()


def load_phase(srv, refs):
    jobs = []
    for j in range(N_REQUESTS):
        text, voice, seed = COMBOS[j % len(COMBOS)]
        mode = j % 5
        body = {"model": "tts-1", "input": text, "voice": voice,
                "max_tokens": STREAM_TOKENS if mode in (1, 3) else TOKENS,
                "response_format": "wav" if mode in (2, 3) else "pcm", "stream": mode in (1, 3)}
        if mode != 4:
            body["seed"] = seed
        jobs.append((j, body))
    retries = [0]
    lat = []
    lock = threading.Lock()

    def run(job):
        j, body = job
        t0 = time.time()
        while True:
            st, h, data = fetch(srv, body, body["stream"])
            if st != 503:
                break
            with lock:
                retries[0] += 1
            time.sleep(0.1)
        with lock:
            lat.append(time.time() - t0)
        return j, body, st, h, data

    t0 = time.time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(run, jobs))
    wall = time.time() - t0
    bad_status = [(j, st) for j, _, st, _, _ in results if st != 200]
    C.check(not bad_status, f"all {N_REQUESTS} requests succeed: failures {bad_status[:10]}")
    wrong_len, mismatched, exact = [], [], 0
    for j, body, st, h, data in results:
        if st != 200:
            continue
        if not body["stream"]:
            frames = int(h.get("x-snacrt-frames", -1))
            if len(data) != 2 * frames * GROUP_SAMPLES or frames < 0:
                wrong_len.append((j, len(data), frames))
        elif len(data) % (2 * GROUP_SAMPLES):
            wrong_len.append((j, len(data), None))
        if "seed" in body:
            ref = refs[(j % len(COMBOS), body["max_tokens"])]
            d = pcm_max_diff(data, ref)
            exact += d == 0
            if d is None or d > 1:
                mismatched.append((j, len(data), len(ref), d))
    C.check(not wrong_len, f"every response is whole frame groups: {wrong_len[:10]}")
    n_seeded = sum("seed" in body for _, body, _, _, _ in results)
    C.check(not mismatched, f"seeded requests equal their reference under load (within 1/32768): {len(mismatched)} "
                            f"differ, e.g. (request, bytes, reference bytes, max diff) {mismatched[:5]}")
    print(f"serve_load: {exact} of {n_seeded} seeded responses bit-exact, the others within one 16-bit step",
          flush=True)
    lat.sort()
    tokens = sum(body["max_tokens"] for _, body, _, _, _ in results)
    print(f"serve_load: {N_REQUESTS} requests at concurrency {CONCURRENCY}: {wall:.1f} s wall, "
          f"{tokens / wall:.0f} tokens/s, latency p50 {lat[len(lat) // 2]:.2f} s "
          f"p95 {lat[int(len(lat) * 0.95)]:.2f} s max {lat[-1]:.2f} s, {retries[0]} retries after 503", flush=True)
    C.check(retries[0] == 0, f"no 503 with a queue of 64 for 32 clients ({retries[0]} retries)")
    C.check(wall < 90, f"load phase within 90 s ({wall:.1f} s)")
    # incremental streaming under load: the engine delivered a stream's first audio while it was still generating
    # (the request log's engine timeline: how many of its tokens were generated when its first audio left). The
    # first group is final after group 4 (token 28 of 42); audio held back to the final flush would leave after the
    # last token. Counted in tokens, not in time, so a loaded or a fast machine gives the same answer.
    timeline = {int(m.group(1)): tuple(map(float, m.groups()[1:])) for m in re.finditer(
        r"\(id (\d+): \d+ frames, queued ([\d.]+) ms, first audio at ([\d.]+) ms after (\d+) of (\d+) tokens, "
        r"done at ([\d.]+) ms\)", srv.log())}
    fractions, late = [], []
    for j, body, st, h, data in results:
        if body["stream"] and st == 200:
            rid = int(h.get("x-snacrt-request-id", 0))
            queued, first, first_tokens, tokens, done = timeline.get(rid, (0.0, 0.0, -1, 0, 0.0))
            fractions.append((done - first) / (done - queued) if done > queued else 0.0)
            if not 0 < first_tokens < tokens:
                late.append((rid, first_tokens, tokens))
    fractions.sort()
    n_streams = sum(body["stream"] for _, body, _, _, _ in results)
    print(f"serve_load: streams' first audio came {fractions[0]:.2f} .. {fractions[-1]:.2f} of their run before "
          f"their end (median {fractions[len(fractions) // 2]:.2f})", flush=True)
    C.check(len(fractions) == n_streams and not late,
            f"every stream sent audio while still generating (its first audio before its last token): {len(late)} "
            f"of {n_streams} did not, e.g. (request id, tokens at first audio, tokens) {late[:5]}")

def batch_latency(srv, n):
    """n concurrent seeded whole-body requests; -> (max latency, all ok)."""
    def one(i):
        t0 = time.time()
        text, voice, seed = COMBOS[i % len(COMBOS)]
        st, h, data = fetch(srv, {"model": "tts-1", "input": text, "voice": voice, "seed": seed, "max_tokens": TOKENS,
                                  "response_format": "pcm"}, False)
        return time.time() - t0, st == 200 and len(data) > 0
    with ThreadPoolExecutor(n) as pool:
        res = list(pool.map(one, range(n)))
    return max(t for t, _ in res), all(ok for _, ok in res)


def raw_request(body, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return s, ("POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def long_text(srv):
    """A text whose greedy generation runs to max_tokens 700 (the random-weight model sometimes samples
    end-of-speech early): the misbehaving clients need requests that are still running when they misbehave."""
    for text in ("Never mind.", "I will leave early.", "Hello there.", "One, two, three!", "Good morning to you."):
        st, h, _ = fetch(srv, {"model": "tts-1", "input": text, "temperature": 0, "max_tokens": 700,
                               "response_format": "pcm"}, False)
        if st == 200 and h.get("x-snacrt-finish") == "length":
            return text
    return None


def misbehaving_phase(srv):
    text = long_text(srv)
    if not C.check(text is not None, "found a text that generates 700 tokens greedily"):
        return
    base, ok = batch_latency(srv, 8)
    C.check(ok, "undisturbed batch ok")
    stop = threading.Event()
    slow_got = [0]
    gone_got = [0]

    def slow_reader():
        s, req = raw_request(json.dumps({"model": "tts-1", "input": text, "stream": True, "temperature": 0,
                                         "response_format": "pcm", "max_tokens": 7 * 100}).encode(), rcvbuf=4096)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(req)
        s.settimeout(1)
        while not stop.is_set():
            try:
                b = s.recv(1)
            except socket.timeout:
                continue
            if not b:
                break
            slow_got[0] += 1
            time.sleep(0.1)
        s.close()

    def disconnect_mid_stream():
        s, req = raw_request(json.dumps({"model": "tts-1", "input": text, "stream": True, "temperature": 0,
                                         "response_format": "pcm", "max_tokens": 7 * 100}).encode())
        s.connect(("127.0.0.1", srv.port))
        s.sendall(req)
        s.settimeout(30)
        while gone_got[0] < 3000:
            b = s.recv(4096)
            if not b:
                break
            gone_got[0] += len(b)
        s.close()

    def hang_up_waiting():
        s, req = raw_request(json.dumps({"model": "tts-1", "input": text, "max_tokens": 7 * 100, "temperature": 0,
                                         "response_format": "wav"}).encode())
        s.connect(("127.0.0.1", srv.port))
        s.sendall(req)
        time.sleep(0.5)
        s.close()

    threads = [threading.Thread(target=f) for f in (slow_reader, disconnect_mid_stream, hang_up_waiting)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    disturbed, ok = batch_latency(srv, 8)
    disturbed2, ok2 = batch_latency(srv, 8)
    worst = max(disturbed, disturbed2)
    print(f"serve_load: 8 concurrent requests: {base:.2f} s undisturbed, {disturbed:.2f} s and {disturbed2:.2f} s "
          f"next to a slow reader, a mid-stream disconnect and a hang-up", flush=True)
    C.check(ok and ok2, "disturbed batches ok")
    C.check(worst < 3 * base + 3, f"others are not stalled: {worst:.2f} s vs {base:.2f} s undisturbed")
    C.check(gone_got[0] > 0, f"the leaving client got audio first ({gone_got[0]} bytes)")
    # the cancellations show up in /metrics
    deadline = time.time() + 60
    m = ""
    while time.time() < deadline:
        m = srv.metrics()
        gone = metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') or 0
        over = metric_value(m, "snacrt_http_cancelled_total", 'reason="buffer_overflow"') or 0
        if gone >= 2 and over >= 1:
            break
        time.sleep(0.25)
    gone = metric_value(m, "snacrt_http_cancelled_total", 'reason="client_gone"') or 0
    over = metric_value(m, "snacrt_http_cancelled_total", 'reason="buffer_overflow"') or 0
    C.check(gone >= 2, f"/metrics: the mid-stream disconnect and the hang-up are cancelled (client_gone {gone})")
    C.check(over >= 1, f"/metrics: the slow reader is cut at its buffer cap (buffer_overflow {over}; it read "
                       f"{slow_got[0]} bytes)")
    eng = metric_value(m, "snacrt_engine_requests_total", 'result="cancelled"') or 0
    C.check(eng >= 3, f"/metrics: the engine cancelled them ({eng})")
    stop.set()
    for t in threads:
        t.join()
    deadline = time.time() + 30
    while time.time() < deadline:
        m = srv.metrics()
        if metric_value(m, "snacrt_http_speech_in_flight") == 0 and metric_value(m, "snacrt_running") == 0:
            break
        time.sleep(0.2)
    C.check(metric_value(m, "snacrt_http_speech_in_flight") == 0 and metric_value(m, "snacrt_running") == 0 and
            metric_value(m, "snacrt_queue_depth") == 0, "engine idle afterwards")


def shutdown_under_load(srv):
    """SIGTERM with 24 requests queued, running, streaming and waiting: exit 0 within seconds; each client gets
    a whole answer (200, or 503 'shutting down') or a cut stream, never a hang."""
    outcomes = []
    lock = threading.Lock()

    def one(i):
        body = {"model": "tts-1", "input": "Shutting down soon.", "max_tokens": 7 * 100, "temperature": 0,
                "response_format": "pcm", "stream": i % 2 == 0}
        try:
            st, h, data = fetch(srv, body, body["stream"], timeout=30)
            if st == 200 and body["stream"]:
                # a stream ended at shutdown: what it had, in whole frame groups
                ok = len(data) % (2 * GROUP_SAMPLES) == 0
            elif st == 200:
                ok = len(data) == 2 * int(h.get("x-snacrt-frames", -1)) * GROUP_SAMPLES
            elif st == 503:
                ok = b"shutting down" in data
            else:
                ok = False
            res = (st, "ok" if ok else f"not a whole answer ({len(data)} bytes: {data[:80]!r})")
        except http.client.IncompleteRead as e:   # a cut stream: the chunked body ends early
            res = (type(e).__name__, "ok" if body["stream"] else "a whole-body request cut")
        except Exception as e:         # a timeout (a hang), a reset, a refused connection: none is an answer
            res = (type(e).__name__, str(e)[:80])
        with lock:
            outcomes.append((i, body["stream"]) + res)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t0 = time.time()
    rc = srv.stop()
    took = time.time() - t0
    for t in threads:
        t.join(30)
    C.check(rc == 0 and took < 15, f"SIGTERM under load -> exit 0 ({rc}) within 15 s ({took:.1f} s)")
    C.check(len(outcomes) == 24 and not any(t.is_alive() for t in threads), "every client got an outcome")
    bad = [o for o in outcomes if o[3] != "ok"]
    C.check(not bad, f"every outcome is a whole 200, a 503 'shutting down' or (streams) a cut chunked body: {bad[:6]}")
    print(f"serve_load: SIGTERM under load: exit {rc} after {took:.1f} s; client outcomes "
          f"{sorted(str(o[2]) for o in outcomes)}", flush=True)


def main():
    with serving(C, Server("--max-tokens", 7 * 100, "--max-running", 16, "--max-queue", 64, "--stream-buffer-max",
                           65536, name="load")) as srv:
        refs = {}                # (combo, max_tokens) -> pcm of the request alone
        for k, (text, voice, seed) in enumerate(COMBOS):
            for tokens in (TOKENS, STREAM_TOKENS):
                st, h, data = fetch(srv, {"model": "tts-1", "input": text, "voice": voice, "seed": seed,
                                          "max_tokens": tokens, "response_format": "pcm"}, False)
                C.check(st == 200 and len(data) == 2 * int(h.get("x-snacrt-frames", -1)) * GROUP_SAMPLES and data,
                        f"reference {text!r} ({tokens} tokens): {st} {len(data)} bytes")
                refs[(k, tokens)] = data
        C.check(len(set(refs.values())) == len(refs), "the references differ from each other")
        load_phase(srv, refs)
        misbehaving_phase(srv)
        C.check(srv.request("GET", "/health")[0] == 200, "/health after the load")
        shutdown_under_load(srv)
    C.finish()


if __name__ == "__main__":
    main()
