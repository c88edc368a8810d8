"""Run a stage's splits as Ray tasks, each writing its own shards into the staging folder."""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tqdm.auto import tqdm

from ..stats import StageStats
from ..store.fs import Root
from ..store.manifest import Shard
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


def init_ray(num_cpus: int | None = None) -> None:
    """Join RAY_ADDRESS when set (a cluster), else start a local Ray with this machine's CPUs."""
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        log.info("joining Ray cluster at %s", address)
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                 configure_logging=False)
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
    return SplitResult(index, sink.shards, sink.audit_shards, stats, worker, time.perf_counter() - start)


def run_splits(process: Process, splits: list[Any], params: Any, root: Root, folder: str,
               audit_folder: str | None = None, desc: str = "splits", use_ray: bool = True,
               max_retries: int = 2) -> list[SplitResult]:
    """One Ray task per split; a task whose worker dies is retried by Ray (it rewrites the same
    shard names, so a retry overwrites rather than duplicates)."""
    bar = tqdm(total=len(splits), desc=desc, unit="split", disable=not sys.stderr.isatty())
    results: list[SplitResult] = []
    try:
        if not use_ray:
            for i, split in enumerate(splits):
                results.append(run_one_split(process, split, i, params, root, folder, audit_folder))
                bar.update()
        else:
            import ray

            remote = ray.remote(max_retries=max_retries)(run_one_split)
            pending = [remote.remote(process, s, i, params, root, folder, audit_folder)
                       for i, s in enumerate(splits)]
            done_count, next_log = 0, 0.1
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                results.extend(ray.get(done))
                done_count += len(done)
                bar.update(len(done))
                if done_count / len(splits) >= next_log:
                    log.info("%s: %d/%d done", desc, done_count, len(splits))
                    next_log += 0.1
    finally:
        bar.close()
    return sorted(results, key=lambda r: r.index)
