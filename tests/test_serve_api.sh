#!/bin/bash
# test_serve_api.sh: `snacrt serve` over HTTP with the tiny models: endpoints, audio formats and streaming, every
# 4xx with its JSON error, 413, API key, queue full -> 503, SIGTERM -> exit 0 (tests/serve_api.py, python3 stdlib).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_api.py"
