"""Point Prefect at the project's home before it is imported (its settings are read at import)."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from zhinao.tasks.settings import get_settings
from zhinao.tasks.store.writer import pid_alive

DEFAULT_PORT = 4200
STATE_FILE = "zhinao-server.json"     # where `zhinao server` says which URL it serves


def server_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/api"


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:
            return r.status == 200 and json.loads(r.read() or b"false") is True
    except (OSError, ValueError):
        return False


def home_server_url(prefect_home: Path) -> str | None:
    """The API URL the running `zhinao server` of this Prefect home announced; None when none was
    started or its process is gone (whatever answers on that port now is not this home's)."""
    path = prefect_home / STATE_FILE
    try:
        state = json.loads(path.read_text())
        url, pid = state["api_url"], int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid):
        path.unlink(missing_ok=True)
        return None
    return url


def configure() -> None:
    """Prefect's home (and so its SQLite database) lives under ZHINAO_HOME, so `zhinao server`
    shows every run made from this home. Which API a command uses is decided where it needs one
    (zhinao/app/api_server.py)."""
    s = get_settings()
    try:
        s.ensure()
        os.environ.setdefault("PREFECT_HOME", str(s.prefect_home))
        Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot write under ZHINAO_HOME={s.home} ({e.strerror or e}): set ZHINAO_HOME "
                              "to a folder you can write to (default: ./.zhinao in the working folder)") from None
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")


def use_home_server() -> str | None:
    """Commands that need a lasting server (deploy, worker) use the running `zhinao server`."""
    if "PREFECT_API_URL" not in os.environ:
        url = home_server_url(Path(os.environ["PREFECT_HOME"]))
        if url and healthy(url):
            os.environ["PREFECT_API_URL"] = url
    return os.environ.get("PREFECT_API_URL")
