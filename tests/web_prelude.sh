# web_prelude.sh: sourced by the tests that drive tests/web (Node: the browser test, the OpenAI SDK tests).
# web_skip_or_fail NAME WHY: a missing tool FAILS the test, except with SNACRT_SKIP_BROWSER=1, which skips it with a
# message. web_require NAME MODULE [TOOL...]: node, npm and each TOOL (a path or command) present, and `npm ci` run
# in tests/web when node_modules lacks MODULE.
export SNACRT_SRC=${SNACRT_SRC:-.} SNACRT_BIN=${SNACRT_BIN:-build}
WEB="$SNACRT_SRC/tests/web"
web_skip_or_fail() {
  if [ "${SNACRT_SKIP_BROWSER:-0}" = 1 ]; then echo "$1: SKIP (SNACRT_SKIP_BROWSER=1): $2"; exit 77; fi
  echo "$1: FAIL: $2 (install it, or set SNACRT_SKIP_BROWSER=1 to skip this test)" >&2
  exit 1
}
web_require() {
  local name=$1 module=$2 tool
  shift 2
  command -v node >/dev/null || web_skip_or_fail "$name" "node is not installed"
  command -v npm >/dev/null || web_skip_or_fail "$name" "npm is not installed"
  for tool in "$@"; do command -v "$tool" >/dev/null || web_skip_or_fail "$name" "$tool is not installed"; done
  if [ ! -d "$WEB/node_modules/$module" ]; then
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || web_skip_or_fail "$name" "npm ci in tests/web failed"
  fi
}
