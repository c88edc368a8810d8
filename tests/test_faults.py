"""The fault-injection command's short run (benchmarks/faults.py --quick): a kill -9 of a real
`zhinao run`, damaged versions, a full disk and the bad-input corpus; nothing partial, nothing
silent, no good record lost."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_quick_fault_run_finds_nothing_partial_silent_or_lost(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "faults.py"), "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1200)
    out = done.stdout + done.stderr
    summary = re.search(r"kill trials (\d+): partial versions (\d+), reruns identical (\d+)/(\d+); damage trials "
                        r"(\d+): silent (\d+), named (\d+); good records lost (\d+)", out)
    assert summary, out[-3000:]
    kills, partial, identical, survived, damage, silent, named, lost = map(int, summary.groups())
    assert kills >= 1 and partial == 0 and identical == survived == kills, out[-3000:]
    assert damage >= 3 and silent == 0 and named == damage, out[-3000:]
    assert lost == 0 and done.returncode == 0, out[-3000:]
