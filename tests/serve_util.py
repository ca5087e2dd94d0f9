"""serve_util.py: shared helpers of the `snacrt serve` tests (tests/serve_*.py, python3 stdlib only):
start a server on a free port (--port 0; the port is read from its "listening on" log line, which must show the
default bind address 127.0.0.1 unless the test passed --host), HTTP requests over
http.client, a checker that counts passed/failed checks, WAV parsing, a Prometheus text-format validator, and
the check that a server's log holds no sanitizer report."""
import array
import contextlib
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import wave

SRC = os.environ.get("SNACRT_SRC", ".")
BIN = os.environ.get("SNACRT_BIN", "build")
LM = os.path.join(SRC, "tests/data/llama/tiny-orpheus")
CODEC = os.path.join(SRC, "tests/data/snac/tiny24")
GROUP_SAMPLES = 2048   # samples per SNAC frame group of tiny24 (hop 512 * coarse stride 4)


class Checker:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, cond, msg):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {self.name}: {msg}", file=sys.stderr, flush=True)
        return bool(cond)

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def listen_addresses(port):
    """IPv4 addresses with a listening TCP socket on port, from /proc/net/tcp (+ "[v6]" if /proc/net/tcp6 has
    one); None when /proc is not there."""
    found = []
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            if not v6:
                return None
            continue
        for line in lines:
            fields = line.split()
            addr, _, hexport = fields[1].partition(":")
            if fields[3] != "0A" or int(hexport, 16) != port:
                continue
            found.append("[v6]" if v6 else ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


class Server:
    """`snacrt serve` with the tiny test models on a free loopback port."""

    def __init__(self, *extra, name="serve", env=None, startup_timeout=120):
        self.log_file = tempfile.NamedTemporaryFile(prefix=f"snacrt-{name}-", suffix=".log", delete=False)
        self.log_path = self.log_file.name
        args = [os.path.join(BIN, "snacrt"), "serve", "-m", LM, "--codec", CODEC, "--port", "0", *map(str, extra)]
        if env is None:
            env = dict(os.environ)
            # OpenMP threads that spin at barriers starve the HTTP threads and the test clients on 2 shared cores
            # (measured 6x slower batches on a loaded machine); the engine itself is unchanged.
            env.setdefault("OMP_WAIT_POLICY", "passive")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log_file, env=env)
        self.port = self.host = None
        deadline = time.time() + startup_timeout
        while time.time() < deadline:
            m = re.search(r"listening on http://(\[[^]]*\]|[^ :/]*):(\d+)/", self.log())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"snacrt serve did not start ({' '.join(args)}):\n{self.log()}")
        if "--host" not in args:
            bound = listen_addresses(self.port)
            if self.host != "127.0.0.1" or (bound is not None and bound != ["127.0.0.1"]):
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"snacrt serve without --host must bind 127.0.0.1 (local clients only), but it "
                                   f"says it listens on {self.host!r} (listening sockets on port {self.port}: "
                                   f"{bound}):\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """-> (status, {lower-case header: value}, body bytes)"""
        c = self.conn(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            h = dict(headers or {})
            if body is not None and "Content-Type" not in h:
                h["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def speech(self, timeout=120, headers=None, **fields):
        body = {"model": "tiny-orpheus", "input": "Hello there.", **fields}
        return self.request("POST", "/v1/audio/speech", body, headers=headers, timeout=timeout)

    def metrics(self):
        status, _, body = self.request("GET", "/metrics")
        return body.decode() if status == 200 else ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig and wait; -> exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def metric_value(text, name, labels=""):
    """Value of the sample `name{labels}` (labels as written, e.g. 'reason="client_gone"'), or None."""
    key = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split(" ", 1)[1])
    return None


def prometheus_problems(text):
    """Problems with a Prometheus text exposition (0.0.4): every sample after its family's # TYPE, names and
    values well-formed, histogram buckets cumulative and ending in +Inf = _count."""
    problems, types, buckets = [], {}, {}
    if not text.endswith("\n"):
        problems.append("no final newline")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary"):
                problems.append("bad TYPE line: " + line)
            else:
                types[parts[2]] = parts[3]
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (\S+)', line)
        if not m:
            problems.append("malformed sample: " + line)
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            problems.append("bad value: " + line)
            continue
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in types:
                fam = name[: -len(suffix)]
        if fam not in types:
            problems.append("sample before its # TYPE: " + line)
        if name.endswith("_bucket") and types.get(fam) == "histogram":
            buckets.setdefault(fam, []).append((labels, v))
        if name.endswith("_count") and types.get(fam) == "histogram":
            b = buckets.get(fam, [])
            if not b or 'le="+Inf"' not in b[-1][0] or b[-1][1] != v:
                problems.append(f"{fam}: +Inf bucket != _count")
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                problems.append(f"{fam}: buckets not cumulative")
    return problems


def wav_info(data):
    """-> (channels, sample_width, rate, frames, pcm bytes) of a WAV body, via the wave module."""
    with wave.open(io.BytesIO(data)) as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), w.readframes(w.getnframes())


def pcm_max_diff(a, b):
    """Largest |difference| between two s16le bodies in 16-bit steps (None when the lengths differ)."""
    if len(a) != len(b) or len(a) % 2:
        return None
    x, y = array.array("h", a), array.array("h", b)
    return max((abs(p - q) for p, q in zip(x, y)), default=0)


def sanitizer_report(log):
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer"):
        if marker in log:
            i = log.index(marker)
            return log[max(0, i - 200): i + 2000]
    return None


def check_clean_exit(C, srv, what="the server"):
    """The end of a server test: SIGTERM exits 0, the log holds no sanitizer report; on any failure the log's tail
    goes to stderr."""
    rc = srv.stop()
    C.check(rc == 0, f"{what}: SIGTERM -> exit 0 (got {rc})")
    rep = sanitizer_report(srv.log())
    C.check(rep is None, f"{what}: sanitizer report: {rep}")
    if C.failed:
        print(srv.log()[-3000:], file=sys.stderr, flush=True)


@contextlib.contextmanager
def serving(C, srv, what="the server"):
    """`with serving(C, Server(...)) as srv:` runs the block with the server up; when the block ends normally,
    check_clean_exit; whatever happens, the server is killed if still running and its log removed."""
    try:
        yield srv
        check_clean_exit(C, srv, what)
    finally:
        srv.close()
