"""Stopping is clean and a killed command leaves nothing running.

`zhinao run` is stopped mid-stage by SIGINT, SIGTERM and SIGKILL: it ends within seconds, every
process it started (its Prefect API server, the local Ray, the reaper) is gone 10 s later, no
partial version is visible, its flow runs are marked crashed, and the next run commits the same
version an uninterrupted run does. Below that: the reaper alone, and a training rank whose driver
is killed."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _survivors(procs: list[psutil.Process], timeout: float = 10.0) -> list[str]:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return [" ".join(p.cmdline()[:4]) for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_the_reaper_stops_what_a_killed_command_started(tmp_path):
    script = textwrap.dedent("""
        import subprocess, sys, time
        from zhinao.app import reaper
        r = reaper.start(sys.argv[1])
        # a server-like child in its own session (as the API server and ranks are), and its child
        child = subprocess.Popen(["bash", "-c", "sleep 300 & sleep 300"], start_new_session=True)
        print(r.pid, child.pid, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    reaper_pid, child_pid = map(int, parent.stdout.readline().split())
    reaper = psutil.Process(reaper_pid)
    procs = _wait_for(lambda: len(_tree(parent.pid)) >= 4 and _tree(parent.pid), 30, "the children")
    time.sleep(1.5)                              # the reaper's list is refreshed every 0.5 s
    procs = [p for p in procs if p.pid != reaper_pid]
    parent.kill()
    parent.wait()
    assert _survivors(procs) == []
    assert _survivors([reaper]) == [], "the reaper ends when its work is done"
    report = json.loads((tmp_path / "reaper.log").read_text().strip().splitlines()[-1])
    assert report["clean"] is False and child_pid in report["left"]


def test_a_training_rank_ends_with_its_killed_driver(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    driver = textwrap.dedent(f"""
        from zhinao.model.launch import launch
        launch({str(spec)!r}, world=1, module="tests.sleepy_rank", poll_s=0.2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", driver], cwd=REPO)
    ranks = _wait_for(lambda: [p for p in _tree(proc.pid) if "tests.sleepy_rank" in " ".join(p.cmdline())],
                      60, "the rank")
    time.sleep(1.0)                              # past its imports: the watch is running
    proc.kill()                                  # no finally, no reaper: the rank must notice alone
    proc.wait()
    assert _survivors(ranks, timeout=10) == []


@pytest.fixture(scope="module")
def uninterrupted(sample_crawl, tmp_path_factory):
    """The ingest version a run that nobody stops commits: its id and row ids."""
    home = tmp_path_factory.mktemp("calm")
    out = _zhinao(home, ["run", "ingest", "-p", f"sources={sample_crawl}", "-p", "use_ray=false"])
    assert out.returncode == 0, out.stdout[-3000:]
    return _committed(home)


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZHINAO_", "RAY_ADDRESS"))}
    return env | {"ZHINAO_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _zhinao(home: Path, argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zhinao.app.cli", *argv], cwd=home.parent, env=_env(home),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, **kw)


def _committed(home: Path) -> tuple[str, list[str]] | None:
    folder = home / "store" / "ingest"
    versions = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []
    if not versions:
        return None
    assert len(versions) == 1 and (versions[0] / "manifest.json").exists()
    ids = sorted(i for f in sorted(versions[0].glob("*.parquet")) for i in pq.read_table(f, columns=["id"])["id"].to_pylist())
    return versions[0].name, ids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_mid_stage_stops_zhinao_run_and_the_rerun_commits_the_same_version(
        sig, sample_crawl, uninterrupted, tmp_path):
    home = tmp_path / "home"
    argv = [sys.executable, "-m", "zhinao.app.cli", "run", "ingest", "-p", f"sources={sample_crawl}"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    leases = home / "store" / ".leases" / "ingest"
    _wait_for(lambda: leases.exists() and list(leases.glob("*.json")), 180, "the stage to take its lease")
    time.sleep(1.0)                                   # into the stage's work (Ray starting, tasks running)
    started = _tree(proc.pid)
    assert any("uvicorn" in " ".join(p.cmdline()) for p in started), "the command's own API server runs"
    sent = time.time()
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    took = time.time() - sent
    assert _survivors(started) == [], "every process the command started is gone 10 s later"
    assert _committed(home) is None, "no partial version is visible"
    assert not list((home / "store" / "ingest").glob(".tmp-*")) or sig == signal.SIGKILL
    if sig == signal.SIGKILL:
        report = json.loads((home / "logs" / "reaper.log").read_text().strip().splitlines()[-1])
        assert len(report.get("crashed_flow_runs", [])) == 1, report
    else:
        assert took < 30, f"stopping took {took:.0f} s"
        assert proc.returncode == 128 + sig, out[-3000:]
        assert f"stopped by {sig.name}" in out and "Crashed(" in out, out[-3000:]
        assert not list(leases.glob("*.json")), "the lease is released"

    stale = list((home / "store" / "ingest").glob(".tmp-*"))
    held = list(leases.glob("*.json"))
    again = _zhinao(home, ["run", "ingest", "-p", f"sources={sample_crawl}"])
    assert again.returncode == 0, again.stdout[-3000:]
    assert _committed(home) == uninterrupted
    for left in stale:                          # a SIGKILLed attempt's folder and lease: the rerun says so
        assert "cleaned up" in again.stdout and left.name in again.stdout, (left, again.stdout[-3000:])
    if held:
        assert "took over the lease" in again.stdout and "process is gone" in again.stdout, again.stdout[-3000:]
    assert not list((home / "store" / "ingest").glob(".tmp-*")), "nothing of the killed attempt is left"


TRAIN = dict(steps=12, checkpoint_every=4, seq_len=64, micro_batch=8, max_lr=3e-3, warmup_steps=3)


@pytest.fixture(scope="module")
def trained_uninterrupted(tmp_path_factory):
    """pretrain-stage1 on the test token shards, nobody stopping it: its version and loss records."""
    from tests.pretrain_data import token_versions
    from zhinao.tasks.pretrain.stage import PRETRAIN_STAGE1, PretrainParams
    from zhinao.flows.stage import execute_stage
    from zhinao.model.metrics import read_metrics
    from zhinao.tasks.home import open_store

    saved = os.environ.get("ZHINAO_HOME")
    os.environ["ZHINAO_HOME"] = str(tmp_path_factory.mktemp("calm-training"))
    try:
        refs = token_versions()
        done = execute_stage(PRETRAIN_STAGE1, PretrainParams(**TRAIN), inputs={"tokens-stage1": refs["tokens-stage1"]})
        return done.ref, read_metrics(open_store().model_path(done.ref) / "metrics.jsonl")
    finally:
        if saved is None:
            os.environ.pop("ZHINAO_HOME", None)
        else:
            os.environ["ZHINAO_HOME"] = saved


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_mid_training_stops_the_ranks_and_the_rerun_has_the_uninterrupted_losses(
        sig, trained_uninterrupted, zhinao_home, tmp_path):
    from tests.pretrain_data import token_versions
    from zhinao.model.metrics import read_metrics
    from zhinao.tasks.home import open_store

    tokens = token_versions()["tokens-stage1"]
    argv = ["run", "pretrain-stage1", "-i", f"tokens-stage1={tokens}"]
    for k, v in TRAIN.items():
        argv += ["-p", f"{k}={v}"]
    proc = subprocess.Popen([sys.executable, "-m", "zhinao.app.cli", *argv], cwd=tmp_path, env=_env(zhinao_home),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    resume = zhinao_home / "store" / ".resume" / "pretrain-stage1"

    def past_first_checkpoint():
        files = list(resume.glob("*/metrics.jsonl"))
        return files and len(files[0].read_text().splitlines()) >= 5
    _wait_for(past_first_checkpoint, 300, "training past its first checkpoint")
    started = _tree(proc.pid)
    assert any("zhinao.model.train" in " ".join(p.cmdline()) for p in started), "a rank process runs"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert _survivors(started) == [], "the ranks, Ray, the API server and the reaper are gone 10 s later"
    assert not [p for p in (zhinao_home / "store" / "pretrain-stage1").glob("*") if not p.name.startswith(".")]
    if sig != signal.SIGKILL:
        assert proc.returncode == 128 + sig, out[-3000:]

    again = subprocess.run([sys.executable, "-m", "zhinao.app.cli", *argv], cwd=tmp_path, env=_env(zhinao_home),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:]
    ref, reference = trained_uninterrupted
    version = open_store().resolve("pretrain-stage1")
    assert version.version == ref.split("@")[1]
    rows = read_metrics(open_store().model_path(version.ref) / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 13)), "one loss record per step, none twice"
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in reference], rel=1e-6)
