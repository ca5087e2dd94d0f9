#!/bin/bash
# test_serve_attack.sh: `snacrt serve` under attack (issue #17): slow clients while /health answers, FLAC
# compression bombs in the "audio" field, a request too big for the KV cache, RSS over 200 requests
# (tests/serve_attack.py, python3 stdlib, loopback only).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_attack.py"
