"""A local Ray start that times out on a busy machine is tried again; other errors are not; a local Ray
listens on the loopback address only."""
import os
import subprocess
import sys

import pytest

from zhinao.tasks.runtime import ray_exec


def _fake_ray(monkeypatch, errors):
    import ray

    calls = []

    def init(**kw):
        calls.append(kw)
        if errors:
            raise errors.pop(0)

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    return calls


def test_a_startup_timeout_starts_ray_again(monkeypatch):
    calls = _fake_ray(monkeypatch, [Exception("The current node timed out during startup. This could happen ...")])
    ray_exec.init_ray()
    assert len(calls) == 2


def test_other_start_errors_are_raised_at_once(monkeypatch):
    calls = _fake_ray(monkeypatch, [ValueError("bad num_cpus")])
    with pytest.raises(ValueError, match="bad num_cpus"):
        ray_exec.init_ray()
    assert len(calls) == 1


def test_a_local_ray_listens_on_the_loopback_address_only():
    probe = """
import psutil, ray
from zhinao.tasks.runtime.ray_exec import init_ray
init_ray(1)
ray.get(ray.remote(lambda: 1).remote())            # a worker too
me = psutil.Process()
pids = {p.pid for p in me.children(recursive=True)} | {me.pid}
print(ray.nodes()[0]["NodeManagerAddress"])
print(sorted({c.laddr.ip for c in psutil.net_connections("inet") if c.status == "LISTEN" and c.pid in pids}))
ray.shutdown()
"""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    node, addresses = out.stdout.strip().splitlines()[-2:]
    assert node == "127.0.0.1"
    assert set(eval(addresses)) <= {"127.0.0.1", "::ffff:127.0.0.1"}, addresses
