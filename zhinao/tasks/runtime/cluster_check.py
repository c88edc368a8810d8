"""`zhinao cluster check`: one task on every live Ray node checks what a stage's work there needs and
names what is missing on which node:

- env: the cluster configuration (cluster.py) arrived, with the driver's values;
- store: the shared store round trip: the node reads a token the driver wrote and writes its own,
  which the driver reads back (a folder that only looks shared fails here);
- prefect: the Prefect API answers from the node;
- python: the same Python, the same installed packages (the lock) and the same project code.

The catalog is checked on the driver, the one process that opens it."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .cluster import SHARED, shared_env

CHECK_DIR = ".cluster-check"


def environment() -> dict[str, str]:
    """What must be the same on every node: Python, the installed distributions, the project's code."""
    dists = sorted(f"{d.metadata['Name']}=={d.version}".lower() for d in importlib.metadata.distributions()
                   if d.metadata["Name"])
    code = hashlib.sha256()
    package = Path(__file__).resolve().parents[2]
    for path in sorted(package.rglob("*.py")):
        code.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return {"python": platform.python_version(),
            "packages": hashlib.sha256("\n".join(dists).encode()).hexdigest()[:16],
            "code": code.hexdigest()[:16]}


def _prefect(api: str | None, timeout: float = 5.0) -> str | None:
    if not api:
        return None
    import httpx

    try:
        response = httpx.get(api.rstrip("/") + "/health", timeout=timeout)
        response.raise_for_status()
    except Exception as e:
        return f"the Prefect API {api} does not answer from here ({type(e).__name__}: {e})"
    return None


def node_report(expected_env: dict[str, str], expected_python: dict[str, str], token: str,
                node_id: str) -> dict[str, Any]:
    """On one node: {node, problems by check}."""
    from ..store.fs import open_root

    problems: dict[str, list[str]] = {"env": [], "store": [], "prefect": [], "python": []}
    mine_env = shared_env()             # as this node resolves them (a store under ZHINAO_HOME included)
    for key in SHARED:
        here, there = mine_env.get(key), expected_env.get(key)
        if there is not None and here != there:
            shown = "set differently" if "SECRET" in key or "KEY" in key or "TOKEN" in key else repr(here)
            problems["env"].append(f"{key} is {'unset' if here is None else shown} here (the driver's: "
                                   f"{'***' if shown == 'set differently' else repr(there)})")
    store = mine_env.get("ZHINAO_STORE")
    if store:
        try:
            root = open_root(store)
            if root.read_text(root.join(CHECK_DIR, token, "driver")) != token:
                problems["store"].append(f"{store}: the driver's check file has other contents here")
            root.write_text(root.join(CHECK_DIR, token, f"node-{node_id}"), token)
        except FileNotFoundError:
            problems["store"].append(f"{store}: the driver's check file is not there: this node sees another store "
                                     "(a local folder of its own?)")
        except Exception as e:
            problems["store"].append(f"{store}: {type(e).__name__}: {e}")
    else:
        problems["store"].append("ZHINAO_STORE is unset here")
    if failed := _prefect(os.environ.get("PREFECT_API_URL")):
        problems["prefect"].append(failed)
    mine = environment()
    for key, value in expected_python.items():
        if mine[key] != value:
            what = {"python": "Python", "packages": "installed packages (not the driver's lock)",
                    "code": "project code (another checkout or version)"}[key]
            problems["python"].append(f"{what}: {mine[key]} here, {value} on the driver")
    return {"host": socket.gethostname(), "problems": problems}


def check_cluster(timeout_s: float = 120.0) -> dict[str, Any]:
    """Every live node's report ({node id: report}) and the driver's checks of the catalog and the
    Prefect settings; raises TimeoutError when a node's task does not finish in `timeout_s`."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from ..home import open_store
    from .ray_exec import init_ray

    init_ray()
    env, python = shared_env(), environment()
    store = open_store()
    token = uuid.uuid4().hex
    store.root.fs.create_dir(store.root.join(CHECK_DIR, token), recursive=True)
    store.root.write_text(store.root.join(CHECK_DIR, token, "driver"), token)
    driver: list[str] = []
    try:
        store.catalog.currents()
    except Exception as e:
        driver.append(f"the catalog {store.catalog.path} cannot be read: {type(e).__name__}: {e}")
    if not env.get("PREFECT_API_URL"):
        driver.append("PREFECT_API_URL is unset: runs report to a temporary server that workers on other nodes "
                      "cannot reach; start one (zhinao server) and set it")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    task = ray.remote(num_cpus=0)(node_report)
    pending = {n["NodeID"]: task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
               .remote(env, python, token, n["NodeID"]) for n in nodes}
    reports, began = {}, time.monotonic()
    for node_id, ref in pending.items():
        left = max(1.0, timeout_s - (time.monotonic() - began))
        ready, _ = ray.wait([ref], timeout=left)
        if not ready:
            raise TimeoutError(f"node {node_id}: the check did not finish in {timeout_s:.0f} s")
        reports[node_id] = ray.get(ref)
    written = {f.base_name for f in store.root.listdir(store.root.join(CHECK_DIR, token))}
    for node in nodes:
        report = reports[node["NodeID"]]
        report["address"] = node.get("NodeManagerAddress")
        if not report["problems"]["store"] and f"node-{node['NodeID']}" not in written:
            report["problems"]["store"].append("the node's check file did not reach the driver's store")
    store.root.fs.delete_dir_contents(store.root.join(CHECK_DIR, token), missing_dir_ok=True)
    store.root.fs.delete_dir(store.root.join(CHECK_DIR, token))
    return {"nodes": reports, "driver": driver, "env": sorted(env)}


def problem_count(result: dict[str, Any]) -> int:
    return len(result["driver"]) + sum(len(p) for r in result["nodes"].values() for p in r["problems"].values())
