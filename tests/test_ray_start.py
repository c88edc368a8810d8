"""A local Ray start that times out on a busy machine is tried again; other errors are not."""
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
