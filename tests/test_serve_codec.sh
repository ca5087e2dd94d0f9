#!/bin/bash
# test_serve_codec.sh: POST /v1/codec/encode and /v1/codec/decode of `snacrt serve` against `snacrt encode` /
# `snacrt decode`, and their refusals (tests/serve_codec.py, python3 stdlib).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_codec.py"
