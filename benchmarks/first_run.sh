#!/usr/bin/env bash
# A newcomer's first and second run of the README's main command: a fresh clone of this repository
# (its committed HEAD) in a temporary folder, no pip cache, no DeepSpeed op cache, no Prefect or
# zhinao settings inherited; prints setup, first job and the cached rerun as a share of the first.
#   bash benchmarks/first_run.sh [WORK_FOLDER]
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/zhinao-first-run-XXXX)}"
rm -rf "$work/main" && mkdir -p "$work"
git clone -q "$repo" "$work/main" && cd "$work/main" || exit 1
for v in $(env | grep -oE "^(PREFECT|ZHINAO)_[A-Z_]+"); do unset "$v"; done
export PIP_NO_CACHE_DIR=1 TORCH_EXTENSIONS_DIR="$work/torch-extensions"
now() { date +%s.%N; }
t0=$(now); bash deployments/local/setup.sh > "$work/setup.log" 2>&1 || { echo "setup failed: $work/setup.log"; exit 1; }
t1=$(now); bash deployments/local/run.sh > "$work/run1.log" 2>&1 || { echo "first run failed: $work/run1.log"; exit 1; }
t2=$(now); bash deployments/local/run.sh > "$work/run2.log" 2>&1 || { echo "second run failed: $work/run2.log"; exit 1; }
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
setup, job, again = t1 - t0, t2 - t1, t3 - t2
print(f"setup {setup:.0f} s, first job {job:.0f} s, first run.sh {setup + job:.0f} s")
print(f"second run.sh {again:.1f} s = {100 * again / (setup + job):.1f}% of the first run.sh, "
      f"{100 * again / job:.1f}% of the first job")
PY
echo "logs in $work"
