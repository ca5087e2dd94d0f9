#!/usr/bin/env bash
# test_cli_devices.sh: `snacrt devices` answers in every build: the CPU (cores as nproc, SIMD extensions as
# /proc/cpuinfo flags, memory, BLAS) and each CUDA device, or why there is none (no CUDA backend in this build; the
# simulator's device, and no device when CUDASIM_NO_DEVICE=1); --json is valid JSON with the same facts.
set -u
source "$(dirname "$0")/sh_prelude.sh"
$S devices > $T/text 2> $T/err; rc=$?
check "devices exits 0 (rc $rc: $(cat $T/err))" "[ $rc = 0 ]"
check "text lists the cpu with nproc cores" "grep -q '^cpu ' $T/text && grep -q \"^ *$(nproc) cores, SIMD: \" $T/text"
check "text names the BLAS" "grep -q 'BLAS: ' $T/text"
$S devices --json > $T/json; rc=$?
check "--json exits 0" "[ $rc = 0 ]"
# one python3 run (it may be a slow wrapper script): the facts of the JSON as shell assignments
facts=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["devices"][0]
print("J_N=%d J_NAME=%s J_CORES=%d J_MEM=%d" % (len(d["devices"]), c["name"], c["cores"], c["memory_bytes"]))
print("J_SIMD=\"%s\"" % c["simd"])
print("J_NOTE=\"%s\"" % d["cuda_note"].replace("\"", ""))
if len(d["devices"]) > 1:
    g = d["devices"][1]
    print("J_CUDA=\"%s %s %s\"" % (g["name"], g["compute"], "simulated" if g["simulated"] else "gpu"))
' $T/json 2> $T/pyerr)
check "--json parses ($(cat $T/pyerr))" "[ -n \"\$facts\" ]"
J_N=0 J_NAME= J_CORES=0 J_MEM=0 J_SIMD= J_NOTE= J_CUDA=
eval "$facts"
check "--json: cpu first" "[ '$J_NAME' = cpu ]"
check "--json: cpu cores = nproc" "[ $J_CORES = $(nproc) ]"
check "--json: cpu memory > 0" "[ $J_MEM -gt 0 ]"
# each SIMD extension reported is one /proc/cpuinfo lists (spelled sse4_2, avx512_bf16 there), and avx2 is
# reported when the CPU has it
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
for ext in $J_SIMD; do
  case "$ext" in none|neon|\(scalar|kernels\)) continue ;; esac
  name=${ext/./_}; name=${name/avx512bf16/avx512_bf16}
  check "SIMD $ext is in /proc/cpuinfo" "[[ \"\$flags\" == *\" $name \"* ]]"
done
if [[ "$flags" == *" avx2 "* ]]; then check "avx2 reported" "[[ ' $J_SIMD ' == *' avx2 '* ]]"; fi

build=$($S --version | grep '^build:')
if [[ "$build" == *"CUDA off, cudasim off"* ]]; then
  check "no CUDA backend: only the cpu" "[ $J_N = 1 ]"
  check "no CUDA backend: says why" "grep -q '^cuda      none: this build has no CUDA backend' $T/text && [[ '$J_NOTE' == *'no CUDA backend'* ]]"
elif [[ "$build" == *"cudasim on"* && "$build" == *"CUDA off"* ]]; then
  check "cudasim: cuda:0 is the simulator ($J_CUDA)" "[ '$J_CUDA' = 'cuda:0 sm_90 simulated' ]"
  check "cudasim: text says simulator" "grep -q '^cuda:0 .*CUDA simulator' $T/text"
  CUDASIM_NO_DEVICE=1 $S devices > $T/nodev; rc=$?
  check "no device: exits 0 and says why" "[ $rc = 0 ] && grep -q '^cuda      none: no CUDA device is visible' $T/nodev"
else
  # a real CUDA build: devices found, or a reason
  check "cuda: devices or a reason" "grep -q '^cuda:0 ' $T/text || grep -q '^cuda      none: ' $T/text"
fi
$S devices --bogus > /dev/null 2> $T/err2; rc=$?
check "unknown option exits 2" "[ $rc = 2 ] && grep -q bogus $T/err2"
echo "test_cli_devices: $pass passed, $fail failed"
[ $fail = 0 ]
