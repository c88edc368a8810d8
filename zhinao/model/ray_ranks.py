"""The `ray` launcher: each rank is a Ray actor that runs `python -m zhinao.model.train` (or the run's own rank
module) on its node.

The ranks' bundles are reserved together in a placement group (packed onto as few nodes as
possible), so a run starts whole or not at all. Rank 0's node and a free port there are the
rendezvous. On GPUs every rank on a node sees all that node's GPUs Ray gave the run and picks its
own by LOCAL_RANK (so NCCL can use peer links); on CPU the ranks on a node share its cores. The
checkpoint folder must be on storage every node sees, as it must for resuming anyway."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import ray

from .ranks import (TRAIN_MODULE, cpu_threads, describe_exit, free_port, rank_env, terminate, train_command,
                    with_own_tools)
from .shared_paths import require_visible
from .tail import LineTail

READY_TIMEOUT_S = 120


@ray.remote(max_concurrency=2)    # stop() has to get in while run() waits on the rank
class RankActor:
    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.stopped = False

    def where(self) -> dict:
        return {"ip": ray.util.get_node_ip_address(), "port": free_port(""), "cpus": os.cpu_count() or 1,
                "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def run(self, spec_path: str, env: dict[str, str], log: str, module: str = TRAIN_MODULE) -> int:
        if self.stopped:
            return -signal.SIGTERM
        require_visible({"the rank log folder": os.path.dirname(log), "the run spec": spec_path})
        with open(log, "a") as fh:
            self.proc = subprocess.Popen(train_command(Path(spec_path), module),
                                         env=with_own_tools({**os.environ, **env}), stdout=fh,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self.proc.wait()

    def stop(self, grace_s: float) -> None:
        self.stopped = True
        if self.proc is not None:
            terminate(self.proc, grace_s)


class RayRank:
    def __init__(self, actor, future, log: Path, on_line: Callable[[str], None] | None):
        self.actor, self.future, self.on_line = actor, future, on_line
        self.tail = LineTail(log)

    def _follow(self) -> None:
        if self.on_line is not None:
            for line in self.tail.read():
                self.on_line(line)

    def poll(self) -> str | None:
        self._follow()
        ready, _ = ray.wait([self.future], timeout=0)
        if not ready:
            return None
        try:
            code = ray.get(self.future)
        except ray.exceptions.RayError as err:
            return f"lost its Ray actor ({type(err).__name__}: {str(err).splitlines()[0]})"
        return "" if code == 0 else describe_exit(code)

    def stop(self, deadline: float) -> None:
        try:
            ray.get(self.actor.stop.remote(max(0.1, deadline - time.time())), timeout=max(1.0, deadline - time.time() + 5))
        except ray.exceptions.RayError:
            pass
        ray.kill(self.actor)

    def flush(self) -> None:
        self._follow()


def _bundle() -> dict[str, float]:
    gpus = ray.cluster_resources().get("GPU", 0)
    return {"CPU": 1, "GPU": 1} if gpus else {"CPU": 1}


def _passed_env() -> dict[str, str]:
    """The driver's settings a rank must see wherever it runs (ZHINAO_* and the usual knobs)."""
    keep = ("ZHINAO_", "NCCL_", "OMP_NUM_THREADS", "DS_")
    return {k: v for k, v in os.environ.items() if k.startswith(keep)}


def plan_envs(places: list[dict]) -> list[dict[str, str]]:
    """Each rank's torch.distributed environment from where its actor landed."""
    world = len(places)
    by_node: dict[str, list[int]] = defaultdict(list)
    for rank, place in enumerate(places):
        by_node[place["ip"]].append(rank)
    head = places[0]
    envs = []
    for rank, place in enumerate(places):
        here = by_node[place["ip"]]
        env = rank_env(rank, world, here.index(rank), len(here), head["ip"], head["port"])
        if place["gpus"]:
            node_gpus = sorted({g for r in here for g in places[r]["gpus"]}, key=int)
            env["CUDA_VISIBLE_DEVICES"] = ",".join(node_gpus)
            env["LOCAL_RANK"] = str(node_gpus.index(place["gpus"][0]))
        else:
            env["OMP_NUM_THREADS"] = cpu_threads(len(here), place["cpus"])
        envs.append(env)
    return envs


def start_ray_ranks(spec_path: Path, world: int, logs: Path, on_line: Callable[[str], None] | None,
                    module: str = TRAIN_MODULE) -> tuple[list[RayRank], Callable[[], None]]:
    """Reserve, place and start `world` rank actors; the ranks and a release function."""
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    if not ray.is_initialized():
        raise RuntimeError("launcher=ray needs a running Ray (ray.init or RAY_ADDRESS) before the launch")
    bundle = _bundle()
    group = placement_group([bundle] * world, strategy="PACK")
    try:
        ray.get(group.ready(), timeout=READY_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        remove_placement_group(group)
        raise RuntimeError(f"the Ray cluster could not reserve {world} rank(s) of {bundle} within "
                           f"{READY_TIMEOUT_S}s (it has {ray.available_resources()} free)") from None
    actors = [RankActor.options(num_cpus=bundle["CPU"], num_gpus=bundle.get("GPU", 0),
                                scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=i))
              .remote() for i in range(world)]

    def release() -> None:
        for actor in actors:
            ray.kill(actor)
        remove_placement_group(group)

    try:
        places = ray.get([a.where.remote() for a in actors])
        passed = _passed_env()
        ranks = []
        for rank, (actor, env) in enumerate(zip(actors, plan_envs(places))):
            log = logs / f"rank-{rank}.log"
            future = actor.run.remote(str(spec_path), {**env, **passed}, str(log), module)
            ranks.append(RayRank(actor, future, log, on_line if rank == 0 else None))
    except BaseException:
        release()
        raise
    return ranks, release
