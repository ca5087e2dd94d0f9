#!/usr/bin/env bash
# test_install.sh: the installed library is usable on its own. `cmake --install` of this build into a temporary
# prefix must put the public headers (include/*.h), lib/libsnacrt.a, lib/libsnacrt.so and lib/pkgconfig/snacrt.pc
# in place; then, with only that prefix (no source tree, no build tree on the include path):
#   - every installed header compiles alone as C11 and as C++ (extern "C"), and includes nothing that is not installed
#   - docs/example/example.c builds with `pkg-config --cflags --libs snacrt` (shared) and with
#     `pkg-config --static ...` against libsnacrt.a (static), and both run the codec, LM and TTS engine on the tiny
#     models in tests/data to "example: ok"
#   - the shared library exports only functions the public headers declare (no internal srt_ symbol)
set -u
SRC=${SNACRT_SRC:-$(pwd)}
BIN=${SNACRT_BIN:-$SRC/build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
P=$T/prefix
CODEC=$SRC/tests/data/snac/tiny24
LM=$SRC/tests/data/llama/tiny-orpheus

check "cmake --install" "cmake --install '$BIN' --prefix '$P' > $T/install.log 2>&1 || { cat $T/install.log >&2; false; }"
for h in "$SRC"/include/*.h; do
  check "installed $(basename "$h")" "cmp -s '$h' '$P/include/$(basename "$h")'"
done
check "installed libsnacrt.a" "test -f $P/lib/libsnacrt.a"
check "installed libsnacrt.so" "test -f $P/lib/libsnacrt.so"
check "installed snacrt.pc" "test -f $P/lib/pkgconfig/snacrt.pc"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
check "pkg-config knows snacrt" "pkg-config --exists snacrt"

# each installed header on its own, C and C++, only the prefix on the include path
for h in "$P"/include/*.h; do
  b=$(basename "$h")
  printf '#include <%s>\nint main(void) { return 0; }\n' "$b" > $T/h.c
  check "$b alone (C11)" "cc -std=c11 -Wall -Wextra -Werror -pedantic -I'$P/include' -c $T/h.c -o $T/h.o"
  check "$b alone (C++)" "c++ -std=c++17 -Wall -Wextra -Werror -x c++ -I'$P/include' -c $T/h.c -o $T/h.o"
done

# the example, outside the tree
cp "$SRC/docs/example/example.c" $T/example.c
cd $T
CF="-std=c11 -Wall -Wextra -Werror -O1"
check "example builds (shared)" "cc $CF example.c \$(pkg-config --cflags --libs snacrt) -o example_shared 2> build_shared.log || { cat build_shared.log >&2; false; }"
check "example links libsnacrt.so" "ldd ./example_shared | grep -q 'libsnacrt.so'"
check "example runs (shared)" "LD_LIBRARY_PATH='$P/lib' ./example_shared '$CODEC' '$LM' out.wav > run_shared.log 2>&1 && grep -q '^example: ok' run_shared.log || { cat run_shared.log >&2; false; }"
check "example wrote a wav" "test -s out.wav"
STATIC_FLAGS=$(pkg-config --static --cflags --libs snacrt | sed 's/-lsnacrt\b/-l:libsnacrt.a/')
check "example builds (static)" "cc $CF example.c $STATIC_FLAGS -o example_static 2> build_static.log || { cat build_static.log >&2; false; }"
check "static example does not load libsnacrt.so" "! ldd ./example_static | grep -q 'libsnacrt'"
check "example runs (static)" "./example_static '$CODEC' '$LM' > run_static.log 2>&1 && grep -q '^example: ok' run_static.log || { cat run_static.log >&2; false; }"
check "static and shared runs print the same" "cmp -s run_shared.log run_static.log"

# the shared library's exports are the public functions, nothing else
cat "$P"/include/*.h | grep -oE '[^A-Za-z0-9_]srt_[a-z0-9_]+\(' | grep -oE 'srt_[a-z0-9_]+' | sort -u > public.txt
nm -D --defined-only "$P/lib/libsnacrt.so" | awk '{print $3}' | sed 's/@.*//' | sort -u > exported.txt
check "libsnacrt.so exports only srt_ functions of the public headers" "test -s exported.txt && comm -23 exported.txt public.txt > extra.txt && ! test -s extra.txt || { echo 'exported but not public:' >&2; head -20 extra.txt >&2; false; }"
check "libsnacrt.so exports the core API" "grep -qx srt_codec_encode exported.txt && grep -qx srt_tts_submit exported.txt && grep -qx srt_last_error exported.txt"
check "libsnacrt.so hides internals" "! grep -qx srt_calloc exported.txt && ! grep -qx srt_backend_create exported.txt"

echo "test_install: $pass passed, $fail failed"
[ $fail -eq 0 ]
