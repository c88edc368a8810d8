"""Start the ranks of a training run and watch them.

`processes` (default): one `python -m model.train` per rank on this machine, with the
torch.distributed environment set (gloo on CPU, one GPU per rank on CUDA). `deepspeed`: DeepSpeed's
own launcher (`--hostfile` for several nodes). Each rank's output goes to `logs/rank-<r>.log` beside
the checkpoints; rank 0's lines also reach `on_line`. When a rank fails, the others are stopped and
the error names the rank, how it ended and the tail of its log."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable


class TrainingFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _commands(spec_path: Path, world: int, launcher: str, hostfile: str | None) -> list[tuple[list[str], dict]]:
    port = str(free_port())
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "PYTHONUNBUFFERED": "1"}
    if launcher == "deepspeed":
        cmd = ["deepspeed", "--master_port", port, "--no_local_rank"]
        cmd += ["--hostfile", hostfile] if hostfile else ["--num_gpus", str(world)] if _gpus() else []
        return [(cmd + ["--module", "model.train", str(spec_path)], base)]
    if launcher != "processes":
        raise ValueError(f"launcher {launcher!r}: choose processes or deepspeed")
    if _gpus() and world > _gpus():
        raise ValueError(f"world_size {world} > {_gpus()} GPUs on this machine; use launcher=deepspeed with a hostfile")
    threads = str(max(1, (os.cpu_count() or 1) // world))
    out = []
    for rank in range(world):
        env = base | {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                      "LOCAL_WORLD_SIZE": str(world)}
        if not _gpus():    # ranks share the CPU cores instead of each taking all of them
            env.setdefault("OMP_NUM_THREADS", threads)
        out.append(([sys.executable, "-m", "model.train", str(spec_path)], env))
    return out


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _pump(proc: subprocess.Popen, log: Path, on_line: Callable[[str], None] | None) -> None:
    with log.open("a") as fh:
        for line in proc.stdout:
            fh.write(line)
            fh.flush()
            if on_line is not None:
                on_line(line.rstrip())


def _describe(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def launch(spec_path: str | Path, world: int, launcher: str = "processes", hostfile: str | None = None,
           on_line: Callable[[str], None] | None = None, poll: Callable[[], None] | None = None,
           poll_s: float = 1.0) -> None:
    spec_path = Path(spec_path)
    logs = spec_path.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs, pumps = [], []
    for rank, (cmd, env) in enumerate(_commands(spec_path, world, launcher, hostfile)):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        pump = threading.Thread(target=_pump, args=(proc, logs / f"rank-{rank}.log", on_line if rank == 0 else None),
                                daemon=True)
        pump.start()
        procs.append(proc)
        pumps.append(pump)
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = next((r for r, c in enumerate(codes) if c not in (None, 0)), None)
            if failed is not None:
                _stop(procs)
                pumps[failed].join(timeout=5)
                tail = (logs / f"rank-{failed}.log").read_text(errors="replace").splitlines()[-20:]
                raise TrainingFailed(f"training rank {failed} {_describe(codes[failed])}; the last complete "
                                     f"checkpoint stays in {spec_path.parent} and a rerun resumes from it. "
                                     "Log tail:\n" + "\n".join(tail))
            if all(c == 0 for c in codes):
                break
            if poll is not None:
                poll()
            time.sleep(poll_s)
    except BaseException:
        _stop(procs)
        raise
    for pump in pumps:
        pump.join(timeout=5)
    if poll is not None:
        poll()


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.time() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
