"""What starting and stopping one rank process needs, wherever it is started: its torch.distributed
environment, its command line, a free rendezvous port and how its end is told and brought about.
Both launchers use it: this machine's processes (zhinao/model/launch.py) and Ray actors
(zhinao/model/ray_ranks.py)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

TRAIN_MODULE = "zhinao.model.train"        # the pretraining rank; other runs name their own `python -m` module


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` ("" for every interface: a rendezvous other nodes connect to)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def rank_env(rank: int, world: int, local_rank: int, local_world: int, addr: str, port: int) -> dict[str, str]:
    """torch.distributed's environment for one rank."""
    return {"MASTER_ADDR": addr, "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(local_rank), "LOCAL_WORLD_SIZE": str(local_world), "PYTHONUNBUFFERED": "1"}


def cpu_threads(ranks_here: int, cpus: int | None = None) -> str:
    """OMP threads per rank, so the ranks on one machine (of `cpus` cores, default this one's) share
    its cores instead of each taking all."""
    return str(max(1, (cpus or os.cpu_count() or 1) // ranks_here))


def train_command(spec_path: Path, module: str = TRAIN_MODULE) -> list[str]:
    return [sys.executable, "-m", module, str(spec_path)]


def with_own_tools(env: dict[str, str]) -> dict[str, str]:
    """The interpreter's own bin folder first on PATH: a venv that is not activated still finds its
    tools (DeepSpeed builds its CPU ops with the venv's ninja)."""
    here = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    return env if path.split(os.pathsep)[0] == here else {**env, "PATH": os.pathsep.join(filter(None, (here, path)))}


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def terminate(proc: subprocess.Popen, grace_s: float) -> None:
    """Stop a rank's process group: SIGTERM, then SIGKILL after `grace_s`."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
