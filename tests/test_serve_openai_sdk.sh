#!/bin/bash
# test_serve_openai_sdk.sh: the official OpenAI Node SDK (npm "openai", tests/web) against `snacrt serve`
# (tests/serve_openai_sdk.py drives tests/web/openai_sdk_test.mjs). Needs node + npm (Debian nodejs, npm); runs
# `npm ci` in tests/web when node_modules lacks the SDK. A missing tool FAILS the test, except with
# SNACRT_SKIP_BROWSER=1 (the same switch as the browser test), which skips it with a message.
set -u
source "$(dirname "$0")/web_prelude.sh"
web_require test_serve_openai_sdk openai
exec python3 "$SNACRT_SRC/tests/serve_openai_sdk.py"
