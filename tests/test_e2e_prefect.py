"""A real Prefect server and process worker, deployments from prefect.yaml, a stage run by name."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from zhinao.app.api_server import wait_healthy
from zhinao.model.metrics import read_metrics
from zhinao.model.ranks import terminate
from zhinao.tasks.home import open_store

from .pretrain_data import token_versions

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _zhinao(*args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "zhinao.app.cli", *args], cwd=REPO, env=env,
                            start_new_session=True, **kw)


def _stop(proc):
    terminate(proc, 30)


def test_deployments_triggered_by_name_commit_versions(zhinao_home, tmp_path):
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
        wait_healthy(server, api, logs / "server", timeout=120)    # fails with its log if it exits
        deploy = subprocess.run([sys.executable, "-m", "zhinao.app.cli", "deploy"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        assert "ingest/default" in deploy.stdout and "data/default" in deploy.stdout
        worker = _zhinao("worker", env=env, stdout=open(logs / "worker", "w"), stderr=subprocess.STDOUT)
        run = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run", "ingest/default",
                              "--param", 'params={"num_cpus": 2}', "--watch", "--watch-timeout", "400"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=450)
        assert run.returncode == 0 and "Completed" in run.stdout, (
            run.stdout[-3000:] + run.stderr[-2000:] + (logs / "worker").read_text()[-4000:])
        versions = open_store().catalog.find("ingest")
        assert len(versions) == 1 and versions[0].rows > 400
        assert versions[0].flow_run_id and versions[0].stats["dropped"]["corrupt_gzip"] == 1

        # pretraining stage 1 then stage 2, each triggered by its deployment name
        token_versions()
        small = '"seq_len": 64, "micro_batch": 8, "checkpoint_every": 10'
        for name, params in (("pretrain-stage1/default", f'params={{{small}, "steps": 30, "max_lr": 0.003}}'),
                             ("pretrain-stage2/default", f'params={{{small}, "steps": 10}}')):
            run = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run", name, "--param", params,
                                  "--watch", "--watch-timeout", "400"],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=450)
            assert run.returncode == 0 and "Completed" in run.stdout, (
                run.stdout[-3000:] + run.stderr[-2000:] + (logs / "worker").read_text()[-4000:])
        store = open_store()
        stage1, stage2 = store.resolve("pretrain-stage1"), store.resolve("pretrain-stage2")
        assert stage1.flow_run_id and stage2.flow_run_id and stage1.ref in stage2.parents
        losses = [r["loss"] for r in read_metrics(store.model_path(stage1) / "metrics.jsonl")]
        assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.8
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
