"""Running model-written Python: a separate interpreter (isolated mode, empty environment, a
throwaway working folder) with CPU-time, memory and output limits and a wall-clock timeout.
It contains accidents (infinite loops, memory blow-ups, stray files), not attackers: at scale,
run the judge stage's workers in a container."""
from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass


@dataclass
class RunResult:
    ok: bool
    stdout: str
    error: str = ""


def _limits(cpu_s: int, mem_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    return apply


def run_python(code: str, timeout_s: float = 5.0, mem_mb: int = 512, max_output: int = 10000) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="zhinao-sandbox-") as work:
        try:
            p = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=work, env={"PATH": "/usr/bin:/bin"},
                               capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                               preexec_fn=_limits(int(timeout_s) + 1, mem_mb << 20))
        except subprocess.TimeoutExpired:
            return RunResult(False, "", "timeout")
    out = p.stdout.decode(errors="replace")[:max_output]
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        return RunResult(False, out, err[-1] if err else f"exit code {p.returncode}")
    return RunResult(True, out)
