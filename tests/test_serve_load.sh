#!/bin/bash
# test_serve_load.sh: `snacrt serve` under load: 200 requests at concurrency 32 (all succeed, whole frame groups,
# seeded audio equal to a reference run), plus slow / disconnecting clients that must not stall the others and
# must show up as cancelled in /metrics (tests/serve_load.py, python3 stdlib).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
exec python3 "$SNACRT_SRC/tests/serve_load.py"
