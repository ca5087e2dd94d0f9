#!/usr/bin/env bash
# test.sh: build snacrt and run every test. The one test command of the README and of CI.
#  1. release build; where the CUDA toolkit headers are found, the CUDA backend is built against tests/cudasim
#     so every kernel runs on the CPU ("cuda" device = simulator), and the SNAC golden tests run on it too
#  2. AddressSanitizer + UndefinedBehaviorSanitizer build, all tests (codec golden tests on the fast cpu backend)
#  2b. where clang is found: the libFuzzer targets (fuzz/run.sh: every file parser and the HTTP request parser under
#     ASan + UBSan, FUZZ_SECONDS per target, default 30: ~5 minutes in all); any crash input lands in fuzz/regress/
#  3. where nvcc is found: the real CUDA build (sm_80, sm_90 + PTX) compiles and links; its check program
#     runs (it reports "no CUDA device" on a machine without a GPU; on a GPU machine the tests run on the device)
# Usage: bash test.sh [--quick]   (--quick: stage 1 only)
set -u
cd "$(dirname "$0")"
JOBS=${JOBS:-$(nproc)}
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
CUDA_HEADERS=no
[ -f /usr/local/cuda/include/cuda_runtime_api.h ] && CUDA_HEADERS=yes
passed=0; failed=0
stage() { # name, command...
  local name=$1; shift
  echo "=== test.sh: $name"
  if "$@"; then passed=$((passed+1)); echo "=== test.sh: $name: ok"; else failed=$((failed+1)); echo "=== test.sh: $name: FAILED"; fi
}

SIM=OFF
if [ "$CUDA_HEADERS" = yes ]; then SIM=ON; echo "test.sh: CUDA headers found: CUDA kernels run through tests/cudasim"
else echo "test.sh: no CUDA toolkit in /usr/local/cuda: CPU build only (cudasim and nvcc stages skipped)"; fi

stage "release build (cudasim $SIM)" bash -c "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSNACRT_CUDA=OFF \
  -DSNACRT_CUDASIM=$SIM -DSNACRT_NCCL=OFF > build.log 2>&1 && cmake --build build -j$JOBS >> build.log 2>&1 || { tail -50 build.log; exit 1; }"
stage "release tests" bash -c "cd build && ctest --output-on-failure -j1"

if [ "${1:-}" != "--quick" ]; then
  stage "sanitizer build" bash -c "cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNACRT_SANITIZE=ON \
    -DSNACRT_CUDA=OFF -DSNACRT_CUDASIM=OFF -DSNACRT_NCCL=OFF > build-asan.log 2>&1 && cmake --build build-asan -j$JOBS >> build-asan.log 2>&1 || { tail -50 build-asan.log; exit 1; }"
  stage "sanitizer tests" bash -c "cd build-asan && SNACRT_TEST_BACKENDS=cpu ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j1"
  if command -v clang > /dev/null && command -v clang++ > /dev/null; then
    stage "fuzzing (libFuzzer, ASan + UBSan, ${FUZZ_SECONDS:-30} s per target)" bash fuzz/run.sh "${FUZZ_SECONDS:-30}"
  else
    echo "test.sh: clang not found: fuzzing skipped (setup.sh installs it)"
  fi
  if [ -n "$NVCC" ]; then
    stage "nvcc build (sm_80, sm_90 + PTX)" bash -c "cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DSNACRT_CUDA=ON \
      -DSNACRT_CUDASIM=OFF -DSNACRT_NCCL=ON > build-cuda.log 2>&1 && cmake --build build-cuda -j$JOBS >> build-cuda.log 2>&1 || { tail -50 build-cuda.log; exit 1; }"
    # exit 2 + "no CUDA device" without a GPU; with a GPU run the whole suite on the device
    stage "nvcc device check" bash -c "out=\$(./build-cuda/cuda/snacrt_cuda_check 2>&1); rc=\$?; echo \"\$out\";
      if [ \$rc = 0 ]; then cd build-cuda && SNACRT_TEST_BACKENDS=cpu,cuda ctest --output-on-failure; else echo \"\$out\" | grep -q 'no CUDA device'; fi"
  else
    echo "test.sh: nvcc not found: real CUDA build skipped"
  fi
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
