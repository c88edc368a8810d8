"""Run a stage's splits as Ray tasks, each writing its own shards into the staging folder."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tqdm.auto import tqdm

from ..stats import StageStats
from ..store.fs import Root
from ..store.manifest import Shard
from .cluster import cluster_env
from .sink import ShardSink

log = logging.getLogger("zhinao.ray")

Process = Callable[[Any, Any, ShardSink, StageStats], None]


@dataclass
class SplitResult:
    index: int
    shards: list[Shard]
    audit_shards: list[Shard]
    stats: StageStats
    worker: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    drop_shards: list[Shard] = field(default_factory=list)   # the drop record (zhinao/tasks/runtime/drops.py)
    drop_seconds: float = 0.0


LOCAL_START_ATTEMPTS = 3
# Ray's switch between a one-machine Ray on the loopback address and a cluster node on the network;
# its name says Windows/macOS, but Linux honours it too (ray._private.services.get_node_ip_address).
RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _loopback_only() -> None:
    """A local Ray serves this process, not the network: its GCS, raylet, agents and workers listen
    on 127.0.0.1 (by default Ray takes the machine's address and listens on every interface).
    Set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 to keep Ray's own choice."""
    if os.environ.get(RAY_CLUSTER_ENV, "0") != "0":
        return
    from ray._private import ray_constants

    os.environ[RAY_CLUSTER_ENV] = "0"          # the processes ray.init starts read it too
    ray_constants.ENABLE_RAY_CLUSTER = False   # read once when ray was imported


@contextlib.contextmanager
def _own_signal_handlers():
    """Keep the process's SIGINT/SIGTERM handlers: ray.init replaces SIGTERM's with sys.exit, which
    would bypass a command's own stop handling."""
    main = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def init_ray(num_cpus: int | None = None) -> None:
    """Join RAY_ADDRESS when set (a cluster: its workers get the cluster configuration,
    zhinao/tasks/runtime/cluster.py), else start a local Ray with this machine's CPUs."""
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        env = cluster_env(address)          # the store, catalog and Prefect API every worker must share
        log.info("joining Ray cluster at %s", address)
        with _own_signal_handlers():
            ray.init(address=address, logging_level=logging.WARNING, runtime_env={"env_vars": env})
    else:
        for attempt in range(LOCAL_START_ATTEMPTS):
            try:
                with _own_signal_handlers():
                    _loopback_only()
                    ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                             configure_logging=False)
                break
            except Exception as e:
                # Ray waits a fixed 30 s for its raylet; on a busy machine that can pass: start again
                if "timed out during startup" not in str(e) or attempt == LOCAL_START_ATTEMPTS - 1:
                    raise
                log.warning("local Ray did not start in Ray's 30 s wait (busy machine?); starting it again")
                ray.shutdown()
        log.info("started local Ray with %s CPUs", ray.cluster_resources().get("CPU"))


def run_one_split(process: Process, split: Any, index: int, params: Any, root: Root, folder: str,
                  audit_folder: str | None) -> SplitResult:
    start = time.perf_counter()
    sink = ShardSink(root, folder, index, audit_folder)
    stats = StageStats()
    process(split, params, sink, stats)
    worker = {"pid": os.getpid()}
    try:
        import ray

        if ray.is_initialized():
            ctx = ray.get_runtime_context()
            worker |= {"node": ctx.get_node_id(), "worker": ctx.get_worker_id()}
    except ImportError:  # pragma: no cover - ray is a hard dependency
        pass
    return SplitResult(index, sink.shards, sink.audit_shards, stats, worker, time.perf_counter() - start,
                       sink.drop_shards, sink.drop_seconds)


@dataclass(frozen=True)
class Actors:
    """Run splits on a pool of long-lived actors instead of tasks: for model-backed work, so each
    actor loads its model once (process functions cache it per process) and keeps it."""
    count: int = 0          # 0: one per CPU of the cluster (or per GPU when gpus > 0)
    gpus: float = 0.0       # GPUs per actor, when the cluster has them
    cpus: float = 1.0       # CPUs per actor


class Unplaceable(RuntimeError):
    """Ray cannot place what a stage asks for: more than the cluster has (another attempt cannot
    help: not retryable), or not freed in time (retryable: the holder may be gone by then)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def placement_timeout_s() -> float:
    """How long a stage waits for its actors to be placed before it fails, naming what holds the
    resources (ZHINAO_PLACEMENT_TIMEOUT_S; a busy shared cluster may want more)."""
    return float(os.environ.get("ZHINAO_PLACEMENT_TIMEOUT_S", "300"))


class SplitRunner:
    """The actor body: runs splits one after another in one process."""

    def ready(self) -> int:
        return os.getpid()

    def run(self, process, split, index, params, root, folder, audit_folder) -> SplitResult:
        return run_one_split(process, split, index, params, root, folder, audit_folder)


def _holders() -> str:
    """The live actors of the cluster, by class and job: what holds the resources a wait is for."""
    import ray
    from ray._private import state   # the GCS actor table; the public state API needs the dashboard

    try:
        alive = [a for a in state.actors().values() if a.get("State") == "ALIVE"]
    except Exception as e:      # pragma: no cover - diagnostics only
        return f"(the actor table could not be read: {e})"
    if not alive:
        return "no live actors (tasks or another job's placement groups hold them)"
    mine = ray.get_runtime_context().get_job_id()
    groups: dict[tuple[str, str], list[str]] = {}
    for a in alive:
        job = "this run" if a.get("JobID") == mine else f"job {a.get('JobID')}"
        groups.setdefault((a.get("ActorClassName", "?").rsplit(".", 1)[-1], job), []).append(str(a.get("Pid", "?")))
    return "; ".join(f"{len(pids)} {cls} actor(s) of {job} (pid {', '.join(pids)})"
                     for (cls, job), pids in sorted(groups.items()))


def _need_text(need: dict[str, float]) -> str:
    return ", ".join(f"{v:g} {k}" for k, v in need.items() if v)


def _actor_pool(actors: Actors, n_splits: int, desc: str) -> tuple[Any, list]:
    """A pool of placed actors: it fails at once when the cluster could never hold them, and after
    placement_timeout_s() when it could but something else holds the resources."""
    import ray
    from ray.util import ActorPool

    resources = ray.cluster_resources()
    gpus = actors.gpus if resources.get("GPU", 0) >= max(actors.gpus, 1e-9) else 0
    count = actors.count or int(resources.get("GPU", 0) // gpus if gpus else resources.get("CPU", 1) // actors.cpus)
    count = max(1, min(count, n_splits))
    need = {"CPU": count * actors.cpus, "GPU": count * gpus}
    short = {k: v for k, v in need.items() if v > resources.get(k, 0) + 1e-9}
    if short:
        raise Unplaceable(f"{desc}: {count} actor(s) need {_need_text(need)} at once; the cluster has "
                          f"{', '.join(f'{resources.get(k, 0):g} {k}' for k in short)} in all. "
                          f"Ask for fewer actors or join a bigger cluster (RAY_ADDRESS).", retryable=False)
    cls = ray.remote(num_gpus=gpus, num_cpus=actors.cpus, max_restarts=2, max_task_retries=2)(SplitRunner)
    log.info("starting %d actor(s)%s", count, f" with {gpus} GPU each" if gpus else "")
    handles = [cls.remote() for _ in range(count)]
    timeout = placement_timeout_s()
    _, waiting = ray.wait([h.ready.remote() for h in handles], num_returns=count, timeout=timeout)
    if waiting:
        free = ray.available_resources()
        _release(handles, [])
        raise Unplaceable(
            f"{desc}: {len(waiting)} of {count} actor(s) ({_need_text({'CPU': actors.cpus, 'GPU': gpus})} each) "
            f"were not placed in {timeout:g} s; the cluster has {_need_text(resources_of(resources))} in all, "
            f"{_need_text(resources_of(free)) or 'nothing'} free. Held by: {_holders()}. "
            f"Stop what holds them, or wait longer (ZHINAO_PLACEMENT_TIMEOUT_S).", retryable=True)
    return ActorPool(handles), handles


def resources_of(resources: dict[str, float]) -> dict[str, float]:
    return {k: resources.get(k, 0.0) for k in ("CPU", "GPU")}


def _release(actors: list, refs: list) -> None:
    """Give back what an attempt holds now, not when the garbage collector drops the last handle: a
    failed attempt's traceback keeps its handles alive, and its actors would hold the CPUs that
    the retry's actors wait for."""
    import ray

    for ref in refs:
        try:
            ray.cancel(ref, force=True)
        except Exception:   # already finished, or its worker is gone
            pass
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:
            pass


def run_splits(process: Process, splits: list[Any], params: Any, root: Root, folder: str,
               audit_folder: str | None = None, desc: str = "splits", use_ray: bool = True,
               max_retries: int = 2, actors: Actors | None = None) -> list[SplitResult]:
    """One Ray task per split (or one actor call, with `actors`); a task whose worker dies is
    retried by Ray (it rewrites the same shard names, so a retry overwrites rather than duplicates).
    However it ends, its actors are killed and its unfinished tasks cancelled before it returns."""
    bar = tqdm(total=len(splits), desc=desc, unit="split", disable=not sys.stderr.isatty())
    results: list[SplitResult] = []

    def progress(n: int) -> None:
        bar.update(n)
        done = len(results)
        if splits and done * 10 // len(splits) != (done - n) * 10 // len(splits):
            log.info("%s: %d/%d done", desc, done, len(splits))

    held: list = []      # actors and pending task refs of this call, released however it ends
    pending: list = []
    try:
        if not use_ray:
            for i, split in enumerate(splits):
                results.append(run_one_split(process, split, i, params, root, folder, audit_folder))
                progress(1)
        elif actors is not None and splits:
            pool, held = _actor_pool(actors, len(splits), desc)
            args = list(enumerate(splits))
            for result in pool.map_unordered(
                    lambda actor, a: actor.run.remote(process, a[1], a[0], params, root, folder, audit_folder), args):
                results.append(result)
                progress(1)
        else:
            import ray

            remote = ray.remote(max_retries=max_retries)(run_one_split)
            pending = [remote.remote(process, s, i, params, root, folder, audit_folder)
                       for i, s in enumerate(splits)]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                results.extend(ray.get(done))
                progress(len(done))
    finally:
        bar.close()
        if held or pending:
            _release(held, pending)
    return sorted(results, key=lambda r: r.index)
