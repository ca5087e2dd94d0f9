#!/bin/bash
# test_serve_openai_chat_sdk.sh: the official OpenAI Node SDK (npm "openai", tests/web): chat.completions with
# input_audio and modalities ["text","audio"], streamed == whole, and audio.transcriptions against `snacrt serve
# --layout spoken-chat` (tests/serve_openai_chat_sdk.py drives tests/web/openai_chat_sdk_test.mjs). Needs node + npm;
# a missing tool FAILS the test, except with SNACRT_SKIP_BROWSER=1, which skips it with a message.
set -u
source "$(dirname "$0")/web_prelude.sh"
web_require test_serve_openai_chat_sdk openai
exec python3 "$SNACRT_SRC/tests/serve_openai_chat_sdk.py"
