"""The new user's path, without a test harness: the `zhinao` command of this environment, as run.sh
calls it, in a fresh folder with a fresh ZHINAO_HOME and PREFECT_HOME (a Prefect database never
migrated), no Prefect settings inherited, no compiled bytecode, and every core kept busy by another
process, then a model-backed stage (embed) in Ray actors. Then `zhinao server` shows what those
commands ran: flow runs, logs and artifacts."""
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from zhinao.app.api_server import wait_healthy
from zhinao.app.prefect_env import server_url
from zhinao.model.launch import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def _fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZHINAO_", "RAY_"))}
    (tmp_path / "pyc").mkdir()
    return env | {"ZHINAO_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect-home"),
                  "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc"),
                  "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")])}   # what `. .venv/bin/activate` does


def _zhinao(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> str:
    r = subprocess.run([str(BIN / "zhinao"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"zhinao {' '.join(args)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r.stdout + r.stderr


def _post(api: str, path: str, body: dict) -> list[dict]:
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_first_commands_on_a_fresh_busy_machine_then_the_ui_shows_them(tmp_path):
    env, cwd = _fresh_env(tmp_path), tmp_path / "work"
    cwd.mkdir()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        _zhinao(["sample-corpus", "--out", str(tmp_path / "crawl"), "--pages", "60", "--files", "2"], env, cwd)
        first = _zhinao(["run", "ingest", "-p", f"sources={tmp_path / 'crawl'}"], env, cwd)
        assert "computed" in first and "Timed out" not in first
        _zhinao(["run", "extract"], env, cwd)
        again = _zhinao(["run", "ingest", "-p", f"sources={tmp_path / 'crawl'}"], env, cwd)
        assert "cache hit" in again
    finally:
        for p in busy:
            p.kill()
            p.wait()
    # a model-backed stage (on the extracted pages): transformers, and the `kernels` package it may
    # import, inside Ray actors beside the project's own modules
    assert "computed" in _zhinao(["run", "embed", "-i", "dedup-minhash=extract"], env, cwd)

    port = free_port()
    api = server_url(port)
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([str(BIN / "zhinao"), "server", "--port", str(port)], cwd=cwd, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(server, api, tmp_path / "server.log", timeout=300)    # fails with its log if it exits
        runs = _post(api, "/flow_runs/filter", {"limit": 50})
        flows = {f["id"]: f["name"] for f in _post(api, "/flows/filter", {})}
        assert sorted(flows[r["flow_id"]] for r in runs) == ["embed", "extract", "ingest", "ingest"]
        assert all(r["state"]["type"] == "COMPLETED" for r in runs)
        for r in runs:
            logs = _post(api, "/logs/filter", {"logs": {"flow_run_id": {"any_": [r["id"]]}}, "limit": 100})
            assert logs, f"no logs for flow run {r['name']}"
        artifacts = _post(api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [r["id"] for r in runs]}}})
        keys = {a["key"] for a in artifacts}
        assert {"ingest-stats", "ingest-lineage", "extract-stats", "extract-lineage"} <= keys

        second = subprocess.run([str(BIN / "zhinao"), "server", "--port", str(port)], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "already runs" in second.stdout
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
