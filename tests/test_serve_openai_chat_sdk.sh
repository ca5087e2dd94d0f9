#!/bin/bash
# test_serve_openai_chat_sdk.sh: the official OpenAI Node SDK (npm "openai", tests/web): chat.completions with
# input_audio and modalities ["text","audio"], streamed == whole, and audio.transcriptions against `snacrt serve
# --layout spoken-chat` (tests/serve_openai_chat_sdk.py drives tests/web/openai_chat_sdk_test.mjs). Needs node + npm;
# a missing tool FAILS the test, except with SNACRT_SKIP_BROWSER=1, which skips it with a message.
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
WEB="$SNACRT_SRC/tests/web"
skip_or_fail() {
  if [ "${SNACRT_SKIP_BROWSER:-0}" = 1 ]; then echo "test_serve_openai_chat_sdk: SKIPPED (SNACRT_SKIP_BROWSER=1): $1"; exit 0; fi
  echo "test_serve_openai_chat_sdk: FAIL: $1 (install it, or set SNACRT_SKIP_BROWSER=1 to skip this test)" >&2
  exit 1
}
command -v node >/dev/null || skip_or_fail "node is not installed"
command -v npm >/dev/null || skip_or_fail "npm is not installed"
if [ ! -d "$WEB/node_modules/openai" ]; then
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || skip_or_fail "npm ci in tests/web failed"
fi
exec python3 "$SNACRT_SRC/tests/serve_openai_chat_sdk.py"
