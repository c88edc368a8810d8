"""Start the ranks of a training run and watch them.

`processes` (default): one `python -m zhinao.model.train` (or another rank module) per rank on this
machine, with the torch.distributed environment set (gloo on CPU, one GPU per rank on CUDA).
`deepspeed`: DeepSpeed's own launcher (`--hostfile` for several nodes). `ray`: one Ray actor per
rank in a placement group, across the nodes of the Ray cluster (zhinao/model/ray_ranks.py). Each rank's
output goes to `logs/rank-<r>.log` beside the checkpoints; rank 0's lines also reach `on_line`. When a rank fails,
the others are stopped and the error names the rank, how it ended and the tail of its log."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

# what a rank process needs however it is started; imported here for the callers of this module too
from .ranks import (TRAIN_MODULE, cpu_threads, describe_exit, free_port, rank_env, terminate, train_command,
                    with_own_tools)

LAUNCHERS = ("processes", "deepspeed", "ray")


class TrainingFailed(RuntimeError):
    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


# A rank's exit status for a failure another attempt would meet again (a refused checkpoint): the
# launcher's TrainingFailed then says so, and the stage does not retry it.
FINAL_EXIT = 3


DRIVER_ENV = "ZHINAO_DRIVER_PID"     # the process a rank on this machine lives and dies with


def _commands(spec_path: Path, world: int, launcher: str, hostfile: str | None,
              module: str) -> list[tuple[list[str], dict]]:
    port, gpus = free_port(), _gpus()
    if launcher == "deepspeed":
        base = with_own_tools({**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                               "PYTHONUNBUFFERED": "1"} | ({} if hostfile else {DRIVER_ENV: str(os.getpid())}))
        # the runner of this interpreter's DeepSpeed, not whichever `deepspeed` PATH finds first
        cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--master_port", str(port), "--no_local_rank"]
        cmd += ["--hostfile", hostfile] if hostfile else ["--num_gpus", str(world)] if gpus else []
        return [(cmd + ["--module", module, str(spec_path)], base)]
    if gpus and world > gpus:
        raise ValueError(f"world_size {world} > {gpus} GPUs on this machine; use launcher=deepspeed with a "
                         "hostfile, or launcher=ray on a Ray cluster")
    out = []
    for rank in range(world):
        env = with_own_tools({**os.environ, **rank_env(rank, world, rank, world, "127.0.0.1", port),
                              DRIVER_ENV: str(os.getpid())})
        if not gpus:
            env.setdefault("OMP_NUM_THREADS", cpu_threads(world))
        out.append((train_command(spec_path, module), env))
    return out


def die_with_driver(poll_s: float = 0.5) -> None:
    """In a rank: end this process when the driver that launched it ends, killed included. An
    orphaned rank would go on training and writing checkpoints into the folder that the next run
    of the stage resumes from."""
    pid = int(os.environ.get(DRIVER_ENV) or 0)
    if not pid:
        return
    import psutil

    def born() -> float | None:
        try:
            return psutil.Process(pid).create_time()
        except psutil.Error:
            return None

    first = born()

    def watch() -> None:
        while True:
            if first is None or born() != first:
                try:        # its output went to the driver: the pipe may be broken
                    print(f"rank {os.environ.get('RANK', '?')}: its driver (pid {pid}) is gone; stopping",
                          file=sys.stderr, flush=True)
                finally:
                    os._exit(1)
            time.sleep(poll_s)

    threading.Thread(target=watch, daemon=True, name="zhinao-driver-watch").start()


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class ProcessRank:
    """One rank (or the whole deepspeed launcher) as a child process of this one."""

    def __init__(self, cmd: list[str], env: dict, log: Path, on_line: Callable[[str], None] | None):
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.pump = threading.Thread(target=self._pump, args=(log, on_line), daemon=True)
        self.pump.start()

    def _pump(self, log: Path, on_line: Callable[[str], None] | None) -> None:
        with log.open("a") as fh:
            for line in self.proc.stdout:
                fh.write(line)
                fh.flush()
                if on_line is not None:
                    on_line(line.rstrip())

    def poll(self) -> str | None:
        """None while running, "" on success, else how it ended."""
        code = self.proc.poll()
        return None if code is None else "" if code == 0 else describe_exit(code)

    def stop(self, deadline: float) -> None:
        terminate(self.proc, max(0.1, deadline - time.time()))

    def flush(self) -> None:
        self.pump.join(timeout=5)


def launch(spec_path: str | Path, world: int, launcher: str = "processes", hostfile: str | None = None,
           on_line: Callable[[str], None] | None = None, poll: Callable[[], None] | None = None,
           poll_s: float = 1.0, module: str = TRAIN_MODULE) -> None:
    """Run `python -m module SPEC` on `world` ranks (zhinao.model.train: pretraining) and wait for them."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher {launcher!r}: choose one of {', '.join(LAUNCHERS)}")
    spec_path = Path(spec_path)
    logs = spec_path.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if launcher == "ray":
        from .ray_ranks import start_ray_ranks

        ranks, release = start_ray_ranks(spec_path, world, logs, on_line, module)
        try:
            watch(ranks, spec_path, logs, poll, poll_s)
        finally:
            release()
        return
    ranks = [ProcessRank(cmd, env, logs / f"rank-{r}.log", on_line if r == 0 else None)
             for r, (cmd, env) in enumerate(_commands(spec_path, world, launcher, hostfile, module))]
    watch(ranks, spec_path, logs, poll, poll_s)


def watch(ranks: list, spec_path: Path, logs: Path, poll: Callable[[], None] | None, poll_s: float) -> None:
    """Wait for every rank to succeed; on the first failure stop the others and raise TrainingFailed."""
    try:
        while True:
            ends = [r.poll() for r in ranks]
            failed = next((i for i, e in enumerate(ends) if e), None)
            if failed is not None:
                stop(ranks)
                ranks[failed].flush()
                tail = (logs / f"rank-{failed}.log").read_text(errors="replace").splitlines()[-20:]
                if ends[failed] == describe_exit(FINAL_EXIT):
                    raise TrainingFailed(f"training rank {failed} stopped on a failure a rerun would meet again "
                                         f"(see {logs / f'rank-{failed}.log'}):\n" + "\n".join(tail), retryable=False)
                raise TrainingFailed(f"training rank {failed} {ends[failed]}; the last complete checkpoint "
                                     f"stays in {spec_path.parent} and a rerun resumes from it. Log tail:\n"
                                     + "\n".join(tail))
            if all(e == "" for e in ends):
                break
            if poll is not None:
                poll()
            time.sleep(poll_s)
    except BaseException:
        stop(ranks)
        raise
    for rank in ranks:
        rank.flush()
    if poll is not None:
        poll()


def stop(ranks: list) -> None:
    deadline = time.time() + 10
    for rank in ranks:
        rank.stop(deadline)
