#!/usr/bin/env bash
# One command: set up, then run the test suite (GPU-only tests skip themselves on CPU machines).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deployments/local/setup.sh
bash deployments/local/setup-vllm.sh     # the tests generate through a real vLLM server too
bash deployments/local/setup-browser.sh  # the lineage page is tested in headless Chromium
. .venv/bin/activate
python -m pytest "$@"
