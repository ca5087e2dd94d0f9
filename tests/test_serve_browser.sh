#!/bin/bash
# test_serve_browser.sh: the web page of `snacrt serve` in headless Chromium: type text, press Speak, audio streams
# in (tests/web/browser_test.mjs with playwright-core, driven by tests/serve_browser.py). Needs node + npm (Debian
# nodejs, npm) and chromium (or CHROMIUM=path); runs `npm ci` in tests/web when node_modules is missing.
# A missing tool FAILS the test, except with SNACRT_SKIP_BROWSER=1, which skips it with a message.
set -u
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}
export CHROMIUM
source "$(dirname "$0")/web_prelude.sh"
web_require test_serve_browser playwright-core "$CHROMIUM"
exec python3 "$SNACRT_SRC/tests/serve_browser.py"
