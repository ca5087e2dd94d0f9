#!/usr/bin/env bash
# setup.sh: install the Debian packages snacrt needs (build tools, libsndfile, libsoxr, OpenBLAS, cJSON, PCRE2,
# zlib, boost.context for tests/cudasim, espeak-ng + sox for the audio tests, libmicrohttpd for `snacrt serve`,
# OpenMPI for multi-process tensor parallelism, chromium for the web page test; libmp3lame-dev and libunistring-dev
# because the Libs.private of sndfile.pc and gnutls.pc name them, so `pkg-config --static --libs snacrt` needs them:
# tests/test_install.sh; clang + its fuzzer runtime and OpenMP for the libFuzzer targets of fuzz/run.sh). The CUDA
# toolkit is not a Debian package: when /usr/local/cuda exists it is used, otherwise the CPU build is made alone.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq build-essential cmake pkg-config git python3 \
  libsndfile1-dev libsoxr-dev libopenblas-dev libcjson-dev libpcre2-dev zlib1g-dev libboost-context-dev \
  espeak-ng sox libmicrohttpd-dev libopenmpi-dev openmpi-bin chromium python3-numpy \
  libmp3lame-dev libunistring-dev clang libclang-rt-14-dev libomp-dev
# the Python package's test (tests/test_python.sh: pip install ./python into a venv, offline)
$SUDO apt-get install -y -qq python3-pip python3-venv
# the browser test of the web page drives Debian's chromium with playwright-core from npm (tests/web)
command -v npm > /dev/null || $SUDO apt-get install -y -qq nodejs npm
# libsonic: the speech endpoint's "speed" (time-stretch without pitch change, host/audio/audio_speed.c)
$SUDO apt-get install -y -qq libsonic-dev
echo "setup.sh: done"
