#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv from the lock: exactly the
# versions and files in requirements/venv.txt (torch's CPU build among them), installed without
# resolving anything, then the project itself; packages the lock does not name are removed.
# ZHINAO_BENCH=1 adds requirements/bench.txt (the dedup benchmark's baselines).
# To move to newer versions, see deployments/local/lock.sh (an upgrade is a commit of its own).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "zhinao-pipeline needs Python 3.11 (found $("$PY" --version 2>&1)); set PYTHON=" >&2; exit 1; }
locks=(requirements/venv.txt)
[ "${ZHINAO_BENCH:-0}" = 1 ] && locks+=(requirements/bench.txt)
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=".venv/.zhinao-setup-$(cat "${locks[@]}" pyproject.toml deployments/local/setup.sh deployments/local/lockfile.py | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  # TORCH_INDEX_URL: where a machine without a local CPU wheel of torch finds the locked one.
  quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  for lock in "${locks[@]}"; do
    quiet .venv/bin/python -m pip install -q --no-deps --require-hashes -r "$lock" \
      ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
  done
  .venv/bin/python deployments/local/lockfile.py prune "${locks[@]}"
  # the project: no dependencies to resolve (the lock has them), built with the locked setuptools
  quiet .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/python deployments/local/lockfile.py check "${locks[@]}" >/dev/null
  rm -f .venv/.zhinao-setup-* && touch "$stamp"
fi
