"""A failed attempt gives its Ray actors back before the retry, and a wait for resources ends.

All on the session's local Ray of 2 CPUs (`ray_local`): a pool of actors takes both, so a retry
whose first attempt kept its actors could never place its own."""
import dataclasses
import time

import pytest

from tests.stages import NUMBERS, NumParams
from zhinao.flows.stage import make_flow
from zhinao.tasks.runtime.ray_exec import Actors, Unplaceable, run_splits
from zhinao.tasks.home import open_store


def _alive(cls: str) -> int:
    from ray._private import state

    return sum(a.get("State") == "ALIVE" and a.get("ActorClassName") == cls for a in state.actors().values())


def _wait_gone(cls: str, timeout: float = 20.0) -> int:
    deadline = time.time() + timeout       # ray.kill is asynchronous: the actor table follows
    while _alive(cls) and time.time() < deadline:
        time.sleep(0.2)
    return _alive(cls)


def test_an_attempt_that_raises_in_an_actor_releases_the_pool_for_the_retry(
        ray_local, prefect_harness, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHINAO_PLACEMENT_TIMEOUT_S", "60")   # the old leak would fail here, not hang
    marker = tmp_path / "failed-once"

    def flaky(split, params, sink, stats):
        NUMBERS.process(split, params, sink, stats)
        if split["start"] == 5 and not marker.exists():
            marker.touch()
            raise RuntimeError("model fell over")

    stage = dataclasses.replace(NUMBERS, name="flaky-actors", process=flaky, actors=Actors(),
                                retries=1, retry_delay_s=0)
    start = time.time()
    result = make_flow(stage)(NumParams(use_ray=True))
    assert marker.exists() and result.rows == 20 and not result.cache_hit
    assert time.time() - start < 60, "the retry waited for the failed attempt's actors"
    assert len(open_store().catalog.find("flaky-actors")) == 1
    assert _wait_gone("SplitRunner") == 0, "a finished stage keeps no actors"


def test_actors_the_cluster_could_never_hold_fail_at_once(ray_local, tmp_path):
    start = time.time()
    with pytest.raises(Unplaceable, match=r"3 actor\(s\) need 3 CPU at once; the cluster has 2 CPU in all"):
        run_splits(NUMBERS.process, [{"start": i, "stop": i + 1} for i in range(3)], NumParams(),
                   open_store().root, "staging/x", desc="greedy", actors=Actors(count=3))
    assert time.time() - start < 10
    assert _alive("SplitRunner") == 0


def test_a_wait_for_held_resources_ends_naming_the_holder(ray_local, monkeypatch):
    import ray

    monkeypatch.setenv("ZHINAO_PLACEMENT_TIMEOUT_S", "3")

    @ray.remote(num_cpus=1)
    class Squatter:
        def ready(self):
            return True

    squatters = [Squatter.remote() for _ in range(2)]
    ray.get([s.ready.remote() for s in squatters])
    try:
        start = time.time()
        with pytest.raises(Unplaceable) as err:
            run_splits(NUMBERS.process, [{"start": i, "stop": i + 1} for i in range(2)], NumParams(),
                       open_store().root, "staging/x", desc="embed", actors=Actors())
        assert time.time() - start < 15
        message = str(err.value)
        assert "embed: 2 of 2 actor(s) (1 CPU each) were not placed in 3 s" in message
        assert "0 CPU free" in message or "nothing free" in message
        assert "2 Squatter actor(s) of this run" in message and "ZHINAO_PLACEMENT_TIMEOUT_S" in message
        assert _wait_gone("SplitRunner") == 0, "the actors that never placed are not left queued"
    finally:
        for s in squatters:
            ray.kill(s)
