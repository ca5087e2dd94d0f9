# cuda_kind.sh: sourced by the shell tests that run the "cuda" device where it is the simulator.
# cuda_is_simulator BUILD_DIR: true when that build's "cuda" device is tests/cudasim (-DSNACRT_CUDA=OFF
# -DSNACRT_CUDASIM=ON, what test.sh builds). In the README's plain nvcc build SNACRT_CUDASIM is on too (for the
# simulator's own tests) but "cuda" is the real GPU, absent on most test machines: the simulated parts skip there.
cuda_is_simulator() {
  grep -q '^SNACRT_CUDASIM:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null &&
    ! grep -q '^SNACRT_CUDA:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null
}
