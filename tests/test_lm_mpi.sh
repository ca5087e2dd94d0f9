#!/bin/bash
# test_lm_mpi.sh: tensor parallelism across processes (srt_lm_options.mpi, host/lm/comm_mpi.c) on the CPU backend,
# under Open MPI's mpirun on this one machine (shared memory between processes, loopback for the launcher; works as
# root and without a network). Reported as skipped (exit 77) when the build has no MPI (SNACRT_MPI off).
#  - mpi_tp_check comm (np 2, 3): all-reduce bit-identical to the thread communicator (sizes 1..20000), gather,
#    broadcast, abort releasing the other processes;
#  - mpi_tp_check model: tiny-qwen2 np 2 tp 2 and np 4 tp 4, tiny-orpheus np 4 tp 2 (2 data-parallel groups):
#    logits bit-identical to thread ranks, within 1e-4 of tp 1, greedy ids = golden, sampled ids agree;
#  - snacrt generate under mpirun: one output, identical to --tp N in one process and to tp 1 (greedy), with --mpi
#    and auto-detected; errors for a world size that is not a multiple of --tp, for processes given different
#    models and for --mpi without a launcher.
# In an ASan build Open MPI's own allocations that live until exit are suppressed (tests/lsan_mpi.supp), and only a
# subset runs (Open MPI starts slowly under ASan).
set -u
SRC=${SNACRT_SRC:-.}
BUILD=${SNACRT_BIN:-build}
BIN=$BUILD/snacrt
CHECK=$BUILD/mpi_tp_check
if ! grep -q '^SNACRT_MPI:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: this build has no MPI (SNACRT_MPI is off in $BUILD/CMakeCache.txt)"
  exit 77
fi
for f in "$BIN" "$CHECK"; do
  [ -x "$f" ] || { echo "FAIL: $f not built (cmake --build $BUILD --target snacrt_cli mpi_tp_check)" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "FAIL: the build has MPI but mpirun is not on PATH" >&2; exit 1; }

# Root (CI), shared memory + self only, the launcher on loopback, no oversubscription warnings, one thread each.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
export OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1
# the exact LM paths of cpu and cuda (their bf16 defaults: test_cpu_lm_bf16, test_cudasim_lm_bf16): cuda = cpu greedy ids
export SNACRT_CPU_LM_PRECISION=exact SNACRT_CUDA_LM_PRECISION=exact
full=1
if grep -q '^SNACRT_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  full=0                  # Open MPI under ASan starts slowly: the subset marked below (comm np 2, qwen2 np 2, CLI np 2)
  export LSAN_OPTIONS="suppressions=$SRC/tests/lsan_mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export OMPI_MCA_mca_base_component_disable_dlclose=1   # keep the components' symbols for the leak stacks
fi
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
QWEN=$SRC/tests/data/llama/tiny-qwen2
ORPHEUS=$SRC/tests/data/llama/tiny-orpheus

passed=0; failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL $3: got '$1' want '$2'" >&2; fi; }
# run an mpi_tp_check case; its processes print their own failures
run_check() {
  local np=$1; shift
  local out; out=$("${MPIRUN[@]}" -np "$np" "$CHECK" "$@" 2>&1); local rc=$?
  local n_ok; n_ok=$(echo "$out" | grep -c ' 0 failed$')
  if [ $rc -eq 0 ] && [ "$n_ok" = "$np" ]; then passed=$((passed+1))
  else failed=$((failed+1)); echo "FAIL mpi_tp_check $* on $np processes (exit $rc):" >&2; echo "$out" >&2; fi
}

run_check 2 comm
[ $full = 1 ] && run_check 3 comm
run_check 2 model "$QWEN" 2
if [ $full = 1 ]; then
  run_check 4 model "$QWEN" 4
  run_check 4 model "$ORPHEUS" 2
fi

# the CLI: the same output as one process at tp N and at tp 1, printed once
gen() { "$@" --max-tokens 6 --format json 2>&1; }
Q=(generate -m "$QWEN" --ids 2000,5,77)
O=(generate -m "$ORPHEUS" --prompt "tara: hello there")
q1=$(gen "$BIN" "${Q[@]}" --tp 1)
check "$(gen "$BIN" "${Q[@]}" --tp 2)" "$q1" "qwen2 --tp 2 threads = tp 1"
case "$q1" in '{"ids":['*) passed=$((passed+1));; *) failed=$((failed+1)); echo "FAIL qwen2 tp 1 output: $q1" >&2;; esac
check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --tp 2 --mpi)" "$q1" "mpirun -np 2 qwen2 --tp 2 --mpi"
if [ $full = 1 ]; then
  check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --tp 2)" "$q1" "mpirun -np 2 qwen2 --tp 2 (auto)"
  check "$(gen "${MPIRUN[@]}" -np 4 "$BIN" "${Q[@]}" --tp 2 --mpi)" "$q1" "mpirun -np 4 qwen2 --tp 2 (dp 2)"
  check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --tp 1 --mpi)" "$q1" "mpirun -np 2 qwen2 --tp 1 (dp 2)"
  S=(--temperature 1 --top-k 50 --seed 3)
  check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --tp 2 --mpi "${S[@]}")" "$(gen "$BIN" "${Q[@]}" --tp 2 "${S[@]}")" \
        "mpirun -np 2 sampled = --tp 2 threads sampled"
  o1=$(gen "$BIN" "${O[@]}" --tp 1)
  check "$(gen "$BIN" "${O[@]}" --tp 2)" "$o1" "orpheus --tp 2 threads = tp 1"
  check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${O[@]}" --tp 2 --mpi)" "$o1" "mpirun -np 2 orpheus --tp 2 --mpi --prompt"
  # --no-mpi under mpirun: every process runs the whole model with thread ranks and prints
  check "$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --tp 2 --no-mpi | grep -c '"ids"')" "2" \
        "mpirun -np 2 --no-mpi prints from each process"
  err=$("${MPIRUN[@]}" -np 3 "$BIN" generate -m "$QWEN" --ids 5 --tp 2 --mpi 2>&1); rc=$?
  check "$([ $rc -ne 0 ] && echo nonzero)" "nonzero" "np 3 --tp 2 fails"
  case "$err" in *"not a multiple of the tensor-parallel size 2"*) passed=$((passed+1));;
    *) failed=$((failed+1)); echo "FAIL np 3 --tp 2 message: $err" >&2;; esac
  # two processes of one group given different models: refused at load on both, no hang
  err=$("${MPIRUN[@]}" -np 1 "$BIN" generate -m "$QWEN" --ids 5 --tp 2 --mpi : \
        -np 1 "$BIN" generate -m "$ORPHEUS" --ids 5 --tp 2 --mpi 2>&1); rc=$?
  check "$([ $rc -ne 0 ] && echo nonzero)" "nonzero" "different models per process fail"
  case "$err" in *"unlike rank 0's"*"loaded another model"*|*"loaded another model"*"unlike rank 0's"*)
      passed=$((passed+1));;
    *) failed=$((failed+1)); echo "FAIL different models message: $err" >&2;; esac
fi
# NCCL ranks over MPI (cuda/comm_nccl.c: rank 0 of each group takes ncclGetUniqueId, MPI_Bcast gives it to the
# group, every process ncclCommInitRank). In a cudasim build the "cuda" device is the simulator and NCCL its
# substitute, whose cliques live inside one process: groups of one rank each (data-parallel replicas) run the whole
# id exchange; a real multi-GPU node runs the same command with --tp 2 and more processes.
source "$SRC/tests/cuda_kind.sh"
if ! cuda_is_simulator "$BUILD"; then
  echo "NOTE: the cuda device of $BUILD is not the simulator: the NCCL id exchange over MPI is not run"
elif [ $full = 1 ]; then
  qc=$(gen "$BIN" "${Q[@]}" --device cuda --tp 1)
  check "$qc" "$q1" "qwen2 on the cuda device = cpu (greedy)"
  out=$(gen "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --device cuda --tp 1 --mpi)
  check "$out" "$q1" "mpirun -np 2 --device cuda --tp 1 --mpi (NCCL ids over MPI, 2 replicas)"
  err=$("${MPIRUN[@]}" -np 1 "$BIN" generate -m "$QWEN" --ids 5 --device cuda --tp 1 --mpi --max-tokens 2 2>&1); rc=$?
  check "$rc" "0" "mpirun -np 1 --device cuda --mpi exit code ($err)"
fi
err=$("$BIN" generate -m "$QWEN" --ids 5 --tp 2 --mpi 2>&1); rc=$?
check "$rc" "1" "--mpi without a launcher exit code"
case "$err" in *"1 MPI process(es) is not a multiple"*) passed=$((passed+1));;
  *) failed=$((failed+1)); echo "FAIL --mpi without a launcher message: $err" >&2;; esac

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
