"""serve_browser.py: start `snacrt serve` with the tiny models and run the headless Chromium test of its page
(tests/web/browser_test.mjs) against it; the server must have streamed the speech (log) and exit 0 on SIGTERM.
Run by tests/test_serve_browser.sh, which sees to node, npm and chromium first."""
import os
import subprocess
import sys

from serve_util import Checker, SRC, Server, check_clean_exit

C = Checker("serve_browser")


def main():
    srv = Server("--max-tokens", 84, name="browser")
    try:
        r = subprocess.run(["node", os.path.join(SRC, "tests/web/browser_test.mjs"), f"http://127.0.0.1:{srv.port}/"],
                           cwd=os.path.join(SRC, "tests/web"), timeout=180)
        C.check(r.returncode == 0, f"browser test exit code {r.returncode}")
        log = srv.log()
        C.check("GET / 200" in log and "GET /v1/voices 200" in log and "POST /v1/audio/speech 200" in log,
                "the page loaded, listed voices and streamed speech (server log)")
        check_clean_exit(C, srv)
    finally:
        srv.close()
    C.finish()


if __name__ == "__main__":
    main()
