"""The cluster configuration: the settings every process of a run must share (where the store is and
how to reach it, the lineage catalog, the Prefect API), taken from the driver's environment and
handed to the Ray workers of a cluster it joins (and through them to training ranks), so a worker
on another node writes to the same store and reports to the same server as the driver.

On a remote cluster, an address that means "this machine" (a local store folder, a loopback S3
endpoint or Prefect API) would mean each node's own machine: it is refused with what to set."""
from __future__ import annotations

import ipaddress
import os
from urllib.parse import parse_qs, urlparse

from ..settings import get_settings

# what shapes where a process reads and writes, or whom it reports to
SHARED = ("ZHINAO_STORE", "ZHINAO_CATALOG", "PREFECT_API_URL", "PREFECT_API_KEY", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL",
          "ZHINAO_LEASE_TTL", "ZHINAO_LEASE_WAIT", "ZHINAO_STAGE_MODULES")


def shared_env() -> dict[str, str]:
    """The driver's values of SHARED, the store and catalog as the settings resolve them (a default
    under ZHINAO_HOME made explicit)."""
    settings = get_settings()
    out = {k: os.environ[k] for k in SHARED if os.environ.get(k)}
    out["ZHINAO_STORE"] = settings.store_root
    out["ZHINAO_CATALOG"] = str(settings.catalog_path)
    return out


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_remote(address: str | None) -> bool:
    """A Ray address of another machine: not unset, not `local`/`auto`, not a loopback host."""
    if not address or address in ("local", "auto"):
        return False
    host = urlparse(address if "://" in address else f"ray://{address}").hostname
    return not is_loopback_host(host)


def local_only(env: dict[str, str]) -> list[str]:
    """What in `env` names this machine only: a problem for every node of a remote cluster."""
    problems = []
    store = env.get("ZHINAO_STORE", "")
    parsed = urlparse(store)
    if "://" not in store or parsed.scheme == "file":
        problems.append(f"the store {store} is a local folder: other nodes cannot reach it; set ZHINAO_STORE to a "
                        "shared store (s3://bucket/prefix?endpoint_override=HOST:PORT, or a folder every node mounts "
                        "at the same path)")
    else:
        endpoint = (parse_qs(parsed.query).get("endpoint_override") or [env.get("AWS_ENDPOINT_URL", "")])[0]
        host = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}").hostname if endpoint else None
        if is_loopback_host(host):
            problems.append(f"the store's endpoint {endpoint} is a loopback address: each node would reach its "
                            "own machine; give the endpoint's network address")
    api = env.get("PREFECT_API_URL")
    if api and is_loopback_host(urlparse(api).hostname):
        problems.append(f"PREFECT_API_URL {api} is a loopback address: workers on other nodes would report to "
                        "their own machine (or fall back to localhost:4200); give the server's network address")
    return problems


def cluster_env(address: str | None) -> dict[str, str]:
    """The environment a cluster's workers get; raises ValueError when a remote cluster is given an
    address of this machine only."""
    env = shared_env()
    if is_remote(address):
        problems = local_only(env)
        if problems:
            raise ValueError(f"Ray cluster {address}: " + "; ".join(problems))
    return env
