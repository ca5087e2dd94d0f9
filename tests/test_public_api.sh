#!/usr/bin/env bash
# test_public_api.sh: the clients of the library use only its public API (include/snacrt*.h; see the top of
# include/snacrt.h). For every translation unit of the CLI (host/cli), the benchmarks (bench/) and the tests
# (tests/test_*.c), unless it is listed below as a user of internals with its reason:
#   - its quoted #includes name only public headers (snacrt*.h) or the client's own helpers
#     (cli/cli_common.h, bench_common.h, testutil.h, ...: files of its own folder that obey the same rule)
#   - every srt_ function its object file calls is exported by lib/libsnacrt.so (which exports exactly the
#     functions the public headers declare), or is defined by the client itself (the CLI's srt_cmd_*)
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }

# Files that use internals, and why. Tests of internals belong here; behaviour tests, benchmarks of behaviour and
# CLI commands do not (a CLI file here is work left: move what it needs into include/).
declare -A INTERNAL=(
  [bench/bench_gemm.c]="benchmarks one backend op (the GEMM kernels)"
  [bench/bench_gpu_model.c]="reads the CUDA simulator's traffic counters (tests/cudasim/cudasim_api.h)"
  [bench/bench_lm_ops.c]="benchmarks the cpu and cpu-ref LM op tables side by side (lm/lm_ops.h)"
  [tests/mpi_tp_check.c]="tensor-parallel groups and the communicator (lm/comm.h)"
  [tests/test_backend_ops.c]="backend op tables against cpu-ref"
  [tests/test_gemm_bf16.c]="the bf16 GEMM kernels"
  [tests/test_lm_ops.c]="language-model ops of the backends"
  [tests/test_backend_tables.c]="walks the backend op tables"
  [tests/test_cpu_scalar_paths.c]="the cpu backend's scalar fallbacks (force-scalar hook)"
  [tests/test_cpu_lm_fast.c]="the cpu LM op table against cpu-ref, called directly (lm/lm_ops.h)"
  [tests/test_cpu_threads.c]="the cpu backend's thread count in every LM op region and gemm, through its op table"
  [tests/test_cpu_lm_bf16.c]="the cpu backend's bf16 GEMM kernels (ISA hook) against cpu-ref, with golden weights from the internal reader"
  [tests/test_lm_sample_op.c]="the sample op and sample_pick"
  [tests/test_lm_tp.c]="the communicator and tensor-parallel ranks"
  [tests/test_ds_format.c]="shard formats, tar and manifest readers"
  [tests/test_layout.c]="token layouts (tts/layout.h)"
  [tests/test_serve_http.c]="the HTTP server's pure functions (routing, request parsing, responses, metrics)"
  [tests/test_weights.c]="the safetensors / PyTorch readers"
  [tests/test_weights_corrupt.c]="the safetensors / PyTorch readers on corrupt files"
  [tests/test_config_hostile.c]="config parsers, the pickle reader and the tokenizer loader on hostile numbers"
  [tests/test_tokenizer.c]="the Unicode tables of the pre-tokenizer (lm/unicode.h)"
  [tests/test_snac_stream.c]="the streaming decoder's stage plan and a backend wrapper that counts ops"
  [tests/test_tts_engine.c]="token layouts (codes of a request) and the text splitter"
  [tests/test_snac_golden.c]="reads the golden tensors with the internal safetensors reader"
  [tests/test_lm_golden.c]="reads the golden tensors with the internal safetensors reader"
  [tests/test_snac_chunked.c]="reads the golden tensors with the internal safetensors reader"
  [tests/test_audio_encode.c]="the streaming audio encoder (audio/audio_encode.h)"
  [tests/test_chat_demux.c]="the conversation output demultiplexer (tts/chat_demux.h)"
  [tests/test_chat_engine.c]="audio ids to codes of a layout (tts/layout.h) to check each audio segment"
  [tests/test_layout_chat.c]="the conversation templates of the token layouts (tts/layout.h)"
  [tests/test_lm_kv_bf16.c]="reads the golden tensors with the internal safetensors reader"
  [tests/test_lm_int8.c]="reads the golden tensors with the internal safetensors reader"
  [tests/test_fp8_e4m3.c]="the fp8 e4m3 conversions of host/dtype.c (the KV cache codes) against the format's definition"
  [tests/test_cpu_gemm_fixed_small_n.c]="the few-columns packed-A kernel of host/cpu/cpu_gemm_fixed.c against the fmaf chain and cpu-ref"
  [tests/test_serve_chat.c]="the chat and transcription request parsers and response builders (serve/http_chat.h)"
  [tests/test_serve_speech_stream.c]="the speech endpoint's chunk and event framing (serve/http_server.h)"
)

SO=$BIN/lib/libsnacrt.so
check "libsnacrt.so is built" "test -f '$SO'"
nm -D --defined-only "$SO" 2>/dev/null | awk '{print $3}' | sed 's/@.*//' | sort -u > $T/exported.txt
# the CLI's own srt_ definitions (srt_cmd_*)
nm --defined-only "$BIN"/CMakeFiles/snacrt_cli.dir/host/cli/*.o 2>/dev/null | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u > $T/cli_defs.txt

checked=0
check_unit() {   # source path (relative to SRC), object file, file of symbols the unit may define itself
  local rel=$1 obj=$2 own=$3
  if [ -n "${INTERNAL[$rel]+x}" ]; then return; fi
  checked=$((checked+1))
  local dir; dir=$(dirname "$SRC/$rel")
  local bad=""
  for inc in $(grep -oE '^#include "[^"]+"' "$SRC/$rel" | sed 's/#include "//; s/"$//'); do
    case "$inc" in
      snacrt*.h) ;;
      cli/cli_common.h) ;;
      *) [ -f "$dir/$inc" ] && [ "$(dirname "$rel")" != host/cli ] || bad="$bad $inc" ;;
    esac
  done
  check "$rel includes only public headers (found:$bad)" "test -z '$bad'"
  if [ ! -f "$obj" ]; then check "$rel: object $obj built" false; return; fi
  nm -u "$obj" | awk '$1 == "U" {print $2}' | grep '^srt_' | sort -u | comm -23 - $T/exported.txt | comm -23 - "$own" > $T/extra.txt
  check "$rel calls only public functions (calls: $(tr '\n' ' ' < $T/extra.txt))" "! test -s $T/extra.txt"
}

: > $T/none.txt
for f in "$SRC"/host/cli/*.c; do
  b=$(basename "$f")
  check_unit "host/cli/$b" "$BIN/CMakeFiles/snacrt_cli.dir/host/cli/$b.o" $T/cli_defs.txt
done
for f in "$SRC"/bench/bench_*.c; do
  n=$(basename "$f" .c)
  [ -d "$BIN/CMakeFiles/$n.dir" ] || continue
  check_unit "bench/$n.c" "$BIN/CMakeFiles/$n.dir/bench/$n.c.o" $T/none.txt
done
for f in "$SRC"/tests/test_*.c; do
  n=$(basename "$f" .c)
  check_unit "tests/$n.c" "$BIN/CMakeFiles/$n.dir/tests/$n.c.o" $T/none.txt
done
# the allowlist names files that exist (a renamed file must leave it)
for k in "${!INTERNAL[@]}"; do check "listed $k exists" "test -f '$SRC/$k'"; done

echo "test_public_api: $checked files checked as clients of the public API; $pass passed, $fail failed"
[ $fail -eq 0 ]
