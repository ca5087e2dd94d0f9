"""serve_browser.py: start `snacrt serve` with the tiny models and run the headless Chromium test of its page
(tests/web/browser_test.mjs) against it, screenshots kept in $SNACRT_BIN/web-screenshots; the server must have
streamed the speech, encoded and decoded codes (log) and exit 0 on SIGTERM.
Run by tests/test_serve_browser.sh, which sees to node, npm and chromium first."""
import os
import subprocess
import sys

from serve_util import BIN, Checker, SRC, Server, serving

C = Checker("serve_browser")


def main():
    with serving(C, Server("--max-tokens", 84, name="browser")) as srv:
        shots = os.path.abspath(os.path.join(BIN, "web-screenshots"))
        r = subprocess.run(["node", os.path.join(SRC, "tests/web/browser_test.mjs"), f"http://127.0.0.1:{srv.port}/",
                            os.path.abspath(os.path.join(SRC, "tests/data/speech/hello.wav")), shots],
                           cwd=os.path.join(SRC, "tests/web"), timeout=300)
        C.check(r.returncode == 0, f"browser test exit code {r.returncode}")
        log = srv.log()
        C.check("GET / 200" in log and "GET /v1/voices 200" in log and "POST /v1/audio/speech 200" in log,
                "the page loaded, listed voices and streamed speech (server log)")
        C.check("POST /v1/codec/encode 200" in log and "POST /v1/codec/decode 200" in log,
                "the codec view encoded and decoded (server log)")
        C.check(all(os.path.getsize(os.path.join(shots, f + ".png")) > 10000 for f in ("answer", "codec")
                    if os.path.exists(os.path.join(shots, f + ".png"))) and
                os.path.exists(os.path.join(shots, "codec.png")), f"screenshots in {shots}")
    C.finish()


if __name__ == "__main__":
    main()
