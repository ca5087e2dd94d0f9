#!/bin/bash
# test_serve_replicas.sh: `snacrt serve` over engine replicas: 64 concurrent requests over 2 CPU replicas (tp 2 each)
# equal to one engine; chats routed to replicas equal to one engine's; a hung-up stream cancelled on its replica;
# 64 concurrent requests over 2 replicas x tp 2 on 4 simulated GPUs (CUDASIM_DEVICES=4) equal to one simulated
# device; an injected replica failure loses none of the other replica's requests (tests/serve_replicas.py).
set -u
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
# the simulated-GPU part needs the cuda device of a cudasim build
source "$SNACRT_SRC/tests/cuda_kind.sh"
if ! cuda_is_simulator "$SNACRT_BIN"; then
    echo "NOTE: the cuda device of $SNACRT_BIN is not the simulator: the simulated-GPU part is skipped"
    export SNACRT_TEST_NO_CUDASIM=1
fi
exec python3 "$SNACRT_SRC/tests/serve_replicas.py"
