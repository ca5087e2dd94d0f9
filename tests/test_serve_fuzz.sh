#!/bin/bash
# test_serve_fuzz.sh: a bounded, seeded fuzz run (2000 cases) of `snacrt serve` over raw sockets: the server must
# never crash, answer every complete request with well-formed HTTP, still work afterwards and exit 0 on SIGTERM
# (tests/serve_fuzz.py, python3 stdlib). SNACRT_FUZZ_CASES / SNACRT_FUZZ_SEED change the run.
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_fuzz.py"
