"""The cluster configuration and `zhinao cluster check`: a remote cluster given addresses of this
machine only is refused, naming each; on a real two-node Ray cluster (`ray start` head on 127.0.0.2,
a worker node on 127.0.0.3, the driver through Ray Client) every node is checked and reports the store round trip, the Prefect API
and its Python environment, and a node running another checkout of the code is named."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from zhinao.model.launch import free_port
from zhinao.model.ranks import terminate
from zhinao.tasks.runtime.cluster import cluster_env, is_remote, local_only, shared_env

RAY = str(Path(sys.executable).with_name("ray"))


def test_a_remote_cluster_is_refused_addresses_of_this_machine(monkeypatch, tmp_path):
    assert not is_remote(None) and not is_remote("auto") and not is_remote("127.0.0.2:6379")
    assert is_remote("10.1.2.3:6379") and is_remote("ray://head.example:10001")
    monkeypatch.setenv("ZHINAO_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("PREFECT_API_URL", "http://localhost:4200/api")
    assert cluster_env("127.0.0.1:6379")["ZHINAO_STORE"] == str(tmp_path / "store")     # a local cluster: fine
    with pytest.raises(ValueError) as refused:
        cluster_env("10.1.2.3:6379")
    assert "is a local folder" in str(refused.value) and "PREFECT_API_URL http://localhost:4200/api" in str(refused.value)
    monkeypatch.setenv("ZHINAO_STORE", "s3://bucket/p?endpoint_override=127.0.0.1:9000&scheme=http")
    monkeypatch.setenv("PREFECT_API_URL", "http://10.1.2.3:4200/api")
    assert local_only(shared_env()) == [
        "the store's endpoint 127.0.0.1:9000 is a loopback address: each node would reach its own machine; give the "
        "endpoint's network address"]
    monkeypatch.setenv("ZHINAO_STORE", "s3://bucket/p?endpoint_override=10.1.2.4:9000&scheme=http")
    assert local_only(shared_env()) == [] and cluster_env("10.1.2.3:6379")["PREFECT_API_URL"] == "http://10.1.2.3:4200/api"


def _start(args: list[str], env: dict) -> subprocess.Popen:
    """`ray start --block` in its own process group: stopping it stops the node's processes (a
    `ray stop` would stop every Ray on the machine)."""
    return subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", "--num-cpus=1", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _check(env: dict, wait: bool = False) -> dict | None:
    """`zhinao cluster check --json`'s result (exit 0: no problems, 1: some); while the cluster
    starts (`wait`), None when it cannot be reached yet."""
    out = subprocess.run([sys.executable, "-m", "zhinao.app.cli", "cluster", "check", "--json", "--timeout", "120"],
                         env=env, capture_output=True, text=True, timeout=240)
    if wait and not out.stdout.startswith("{"):
        return None
    assert out.returncode in (0, 1) and out.stdout.startswith("{"), (out.stdout[-2000:], out.stderr[-3000:])
    return json.loads(out.stdout)


def test_cluster_check_runs_on_every_node_and_names_what_is_missing_where(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PREFECT_"))}
    env |= {"ZHINAO_HOME": str(tmp_path / "home"), "RAY_AUTH_MODE": "disabled"}
    # the worker node runs another checkout: a copy of the package with one file changed
    other = tmp_path / "other-checkout"
    shutil.copytree(Path(__file__).resolve().parents[1] / "zhinao", other / "zhinao",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "zhinao" / "tasks" / "runtime" / "cluster.py", "a") as f:
        f.write("\n# another version\n")
    # node addresses 127.0.0.2 and .3: Ray replaces 127.0.0.1 by the machine's address (which this
    # sandbox does not connect to); the driver, on no node of its own, joins through Ray Client
    client = free_port()
    ray_dir = tempfile.mkdtemp(prefix="zr-", dir="/tmp")      # short: Ray's socket paths must fit AF_UNIX
    head = _start(["--head", "--node-ip-address=127.0.0.2", f"--port={port}", f"--ray-client-server-port={client}",
                   "--include-dashboard=false", f"--temp-dir={ray_dir}"], env)
    worker = None
    try:
        time.sleep(5)
        worker = _start([f"--address=127.0.0.2:{port}", "--node-ip-address=127.0.0.3"],
                        env | {"PYTHONPATH": str(other)})
        driver = env | {"RAY_ADDRESS": f"ray://127.0.0.2:{client}"}
        deadline = time.monotonic() + 120
        while True:         # both nodes up
            result = _check(driver, wait=time.monotonic() < deadline)
            if result is not None and len(result["nodes"]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(3)
        result = result or _check(driver)
        nodes = {r["address"]: r["problems"] for r in result["nodes"].values()}
        assert set(nodes) == {"127.0.0.2", "127.0.0.3"}
        assert all(not p["env"] and not p["store"] and not p["prefect"] for p in nodes.values()), nodes
        assert nodes["127.0.0.2"]["python"] == []
        assert [p.split(":")[0] for p in nodes["127.0.0.3"]["python"]] == ["project code (another checkout or version)"]
        assert any("PREFECT_API_URL is unset" in line for line in result["driver"])

        closed = f"http://127.0.0.1:{free_port()}/api"          # a Prefect API nobody serves
        result = _check(driver | {"PREFECT_API_URL": closed})
        assert all(any(closed in p for p in r["problems"]["prefect"]) for r in result["nodes"].values())
        assert not any("PREFECT_API_URL is unset" in line for line in result["driver"])
    finally:
        for proc in (worker, head):
            if proc is not None:
                terminate(proc, 60)
        shutil.rmtree(ray_dir, ignore_errors=True)
