#!/bin/bash
# test_serve_chat_route.sh: `snacrt serve --layout spoken-chat` answers /v1/chat/completions (text and audio,
# streamed chunks == the non-streamed answer) and /v1/audio/transcriptions (multipart) with the tiny models
# (tests/serve_chat_route.py, python3 stdlib).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_chat_route.py"
