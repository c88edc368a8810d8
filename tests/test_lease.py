"""One writer per version: a lease in the store, with heartbeats, waits and takeovers."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zhinao.tasks.home import open_store
from zhinao.tasks.store.lease import Lease, LeaseHeld, LeaseLost

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    if request.param == "local":
        return open_store(root=str(tmp_path / "store")).root
    return open_store(root=request.getfixturevalue("s3_server").bucket() + "/store").root


def test_a_live_holder_keeps_the_lease_and_a_waiter_is_told_who(root):
    with Lease(root, "numbers/v1", owner="flow run A", ttl=1.0):
        start = time.monotonic()
        with pytest.raises(LeaseHeld, match="flow run A"):
            Lease(root, "numbers/v1", ttl=1.0, wait=2.5).acquire()
        assert time.monotonic() - start >= 2.5           # heartbeats kept it alive past the ttl
    with Lease(root, "numbers/v1", ttl=1.0, wait=0):      # released: free at once
        pass


def test_a_lease_whose_heartbeat_stopped_is_taken_over_and_its_holder_told(root):
    a = Lease(root, "numbers/v1", ttl=1.0).acquire()
    a._lock.acquire()                                    # A stalls: no heartbeat gets through
    b = Lease(root, "numbers/v1", ttl=1.0, wait=10).acquire()
    assert 1.0 <= b.waited < 10
    a._lock.release()
    deadline = time.time() + 5
    while not a.lost.is_set() and time.time() < deadline:
        time.sleep(0.05)
    with pytest.raises(LeaseLost):
        a.check()
    a.release()                                          # must not remove B's lease
    with pytest.raises(LeaseHeld):
        Lease(root, "numbers/v1", ttl=1.0, wait=0).acquire()
    b.release()


def test_a_lease_of_another_machine_expires_by_the_waiters_clock(root):
    from zhinao.tasks.store.conditional import Conditional

    holder = {"owner": "ops@elsewhere:7", "host": "elsewhere", "pid": 7, "token": "x",
              "acquired": time.time() + 3600, "heartbeat": time.time() + 3600}   # a clock an hour ahead
    Conditional(root).create(root.join(".leases", "numbers", "v1.json"), json.dumps(holder).encode())
    b = Lease(root, "numbers/v1", ttl=1.0, wait=10).acquire()
    assert 1.0 <= b.waited < 10
    b.release()


def _run(env, slow: float, calls: Path) -> subprocess.Popen:
    code = ("import logging; logging.basicConfig(level=logging.INFO); "
            "from zhinao.flows.stage import execute_stage; from tests.stages import NUMBERS, NumParams; "
            f"print(execute_stage(NUMBERS, NumParams(use_ray=False, slow_after_first_shard={slow}, "
            f"calls_file={str(calls)!r})).model_dump_json())")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while not path.exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.05)


def test_two_concurrent_runs_of_one_stage_compute_it_once(zhinao_home, tmp_path):
    signal_file, calls = tmp_path / "first-shard-written", tmp_path / "calls"
    env = os.environ | {"ZHINAO_TEST_SIGNAL": str(signal_file), "ZHINAO_LEASE_TTL": "2"}
    first = _run(env, slow=4, calls=calls)
    _wait_for(signal_file, first)
    second = _run(env, slow=0, calls=calls)               # starts while the first computes
    out1, err1 = first.communicate(timeout=180)
    out2, err2 = second.communicate(timeout=180)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    r1, r2 = json.loads(out1.splitlines()[-1]), json.loads(out2.splitlines()[-1])
    assert not r1["cache_hit"] and r2["cache_hit"] and r1["version"] == r2["version"]
    assert "waiting for numbers/" in err2 and "by the run this one waited for" in err2
    assert sorted(calls.read_text().split()) == ["0", "10", "15", "5"]   # every split computed once
    assert [p.name for p in (zhinao_home / "store" / "numbers").iterdir()] == [r1["version"]]


def test_a_run_killed_holding_the_lease_is_taken_over(zhinao_home, tmp_path):
    signal_file, calls = tmp_path / "first-shard-written", tmp_path / "calls"
    env = os.environ | {"ZHINAO_TEST_SIGNAL": str(signal_file), "ZHINAO_LEASE_TTL": "600"}
    holder = _run(env, slow=300, calls=calls)
    _wait_for(signal_file, holder)
    holder.kill()
    holder.wait()
    leases = list((zhinao_home / "store" / ".leases" / "numbers").glob("*.json"))
    assert len(leases) == 1                                # the dead run's lease is still there
    signal_file.unlink()
    rerun = _run(env, slow=0, calls=calls)
    out, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert "took over the lease" in err and "process is gone" in err   # at once, not after the 600 s ttl
    assert not json.loads(out.splitlines()[-1])["cache_hit"]
    assert not list((zhinao_home / "store" / ".leases" / "numbers").glob("*.json"))   # released
