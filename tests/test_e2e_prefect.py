"""A real Prefect server and process worker, deployments from prefect.yaml, a stage run by name."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.prefect_env import healthy
from tasks.store import Store

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zhinao(*args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=REPO, env=env,
                            start_new_session=True, **kw)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_deployment_triggered_by_name_commits_a_version(zhinao_home, tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = os.environ | {"ZHINAO_HOME": str(zhinao_home), "PREFECT_HOME": str(tmp_path / "prefect"),
                        "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    logs = tmp_path / "logs"
    logs.mkdir()
    server = _zhinao("server", "--port", str(port), env=env, stdout=open(logs / "server", "w"),
                     stderr=subprocess.STDOUT)
    worker = None
    try:
        deadline = time.time() + 120
        while not healthy(api):
            assert server.poll() is None, (logs / "server").read_text()[-3000:]
            assert time.time() < deadline, "Prefect server did not come up"
            time.sleep(1)
        deploy = subprocess.run([sys.executable, "-m", "flows.cli", "deploy"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        assert "ingest/default" in deploy.stdout and "data/default" in deploy.stdout
        worker = _zhinao("worker", env=env, stdout=open(logs / "worker", "w"), stderr=subprocess.STDOUT)
        run = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run", "ingest/default",
                              "--param", 'params={"num_cpus": 2}', "--watch", "--watch-timeout", "400"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=450)
        assert run.returncode == 0 and "Completed" in run.stdout, (
            run.stdout[-3000:] + run.stderr[-2000:] + (logs / "worker").read_text()[-4000:])
        versions = Store().catalog.find("ingest")
        assert len(versions) == 1 and versions[0].rows > 400
        assert versions[0].flow_run_id and versions[0].stats["dropped"]["corrupt_gzip"] == 1
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
