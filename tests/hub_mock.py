#!/usr/bin/env python3
"""hub_mock.py: a local stand-in for the Hugging Face hub's API, for tests/test_fetch_hub.sh (no network in CI).

    python3 hub_mock.py ROOT PORT_FILE LOG_FILE

Serves the repositories ROOT/<owner>/<name>/ on 127.0.0.1 (a free port, written to PORT_FILE):
  GET /api/models/<owner>/<name>/revision/<rev>[?blobs=true]   siblings with rfilename, size, blobId (git blob id)
                                                                and lfs {sha256, size} for *.safetensors / *.bin
  GET /<owner>/<name>/resolve/<rev>/<path>                      the file; LFS files through a 302 to /cdn/...
                                                                (as the hub does); Range: bytes=N- gets a 206
Repositories of owner "gated" answer 401 without "Authorization: Bearer secret-token". Repository "acme/liar"
reports a wrong SHA-256 for its LFS files. Every request is logged to LOG_FILE as "METHOD PATH RANGE AUTH"."""
import hashlib, http.server, json, os, sys, urllib.parse

ROOT, PORT_FILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = "secret-token"


def is_lfs(path):
    return path.endswith(".safetensors") or path.endswith(".bin")


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        path = urllib.parse.unquote(url.path)
        with open(LOG, "a") as log:
            log.write("GET %s %s %s\n" % (path, self.headers.get("Range", "-"),
                                          "auth" if self.headers.get("Authorization") else "-"))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 6 and parts[1] == "models" and parts[4] == "revision":
            return self.api(parts[2], parts[3])
        if parts[0] == "cdn":
            return self.file(os.path.join(ROOT, *parts[1:]))
        if len(parts) >= 5 and parts[2] == "resolve":
            owner, name, rel = parts[0], parts[1], "/".join(parts[4:])
            if not self.allowed(owner):
                return self.send(401, b'{"error":"Access to model is restricted"}')
            if is_lfs(rel):
                self.send_response(302)
                self.send_header("Location", "/cdn/%s/%s/%s" % (owner, name, rel))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.file(os.path.join(ROOT, owner, name, rel))
        self.send(404, b'{"error":"not found"}')

    def allowed(self, owner):
        return owner != "gated" or self.headers.get("Authorization") == "Bearer " + TOKEN

    def api(self, owner, name):
        repo = os.path.join(ROOT, owner, name)
        if not self.allowed(owner):
            return self.send(401, b'{"error":"Access to model gated/x is restricted. You must be authenticated."}')
        if not os.path.isdir(repo):
            return self.send(404, b'{"error":"Repository not found"}')
        siblings = []
        for dirpath, _, files in sorted(os.walk(repo)):
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, repo)
                data = open(full, "rb").read()
                s = {"rfilename": rel, "size": len(data),
                     "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
                if is_lfs(rel):
                    sha = hashlib.sha256(data).hexdigest()
                    if name == "liar":
                        sha = hashlib.sha256(b"not this file").hexdigest()
                    s["blobId"] = hashlib.sha1(b"pointer " + rel.encode()).hexdigest()   # the pointer's id
                    s["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 134}
                siblings.append(s)
        body = {"id": owner + "/" + name, "modelId": owner + "/" + name, "sha": "0" * 40, "siblings": siblings}
        self.send(200, json.dumps(body).encode())

    def file(self, full):
        if not os.path.isfile(full):
            return self.send(404, b"Entry not found", "text/plain")
        data = open(full, "rb").read()
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.send(416, b"", "text/plain", {"Content-Range": "bytes */%d" % len(data)})
            return self.send(206, data[start:], "application/octet-stream",
                             {"Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data))})
        self.send(200, data, "application/octet-stream")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
