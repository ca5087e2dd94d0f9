#!/bin/bash
# test_serve_browser.sh: the web page of `snacrt serve` in headless Chromium: type text, press Speak, audio streams
# in (tests/web/browser_test.mjs with playwright-core, driven by tests/serve_browser.py). Needs node + npm (Debian
# nodejs, npm) and chromium (or CHROMIUM=path); runs `npm ci` in tests/web when node_modules is missing.
# A missing tool FAILS the test, except with SNACRT_SKIP_BROWSER=1, which skips it with a message.
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
WEB="$SNACRT_SRC/tests/web"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}
export CHROMIUM
skip_or_fail() {
  if [ "${SNACRT_SKIP_BROWSER:-0}" = 1 ]; then echo "test_serve_browser: SKIPPED (SNACRT_SKIP_BROWSER=1): $1"; exit 0; fi
  echo "test_serve_browser: FAIL: $1 (install it, or set SNACRT_SKIP_BROWSER=1 to skip this test)" >&2
  exit 1
}
command -v node >/dev/null || skip_or_fail "node is not installed"
command -v npm >/dev/null || skip_or_fail "npm is not installed"
[ -x "$CHROMIUM" ] || skip_or_fail "chromium is not installed ($CHROMIUM)"
if [ ! -d "$WEB/node_modules/playwright-core" ]; then
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || skip_or_fail "npm ci in tests/web failed"
fi
exec python3 "$SNACRT_SRC/tests/serve_browser.py"
