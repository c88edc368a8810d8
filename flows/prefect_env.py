"""Point Prefect at the project's home before it is imported (its settings are read at import)."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from tasks.settings import get_settings

DEFAULT_PORT = 4200


def server_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/api"


def healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as r:
            return r.status == 200 and json.loads(r.read() or b"false") is True
    except (OSError, ValueError):
        return False


def configure() -> None:
    """Prefect's home (and so its embedded SQLite database) lives under ZHINAO_HOME. When no API
    URL is set and `zhinao server` is running, runs go to it so they show in the UI; otherwise
    Prefect runs them against a temporary local server."""
    s = get_settings().ensure()
    os.environ.setdefault("PREFECT_HOME", str(s.prefect_home))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")
    if "PREFECT_API_URL" not in os.environ:
        state = Path(os.environ["PREFECT_HOME"]) / "zhinao-server.json"
        url = json.loads(state.read_text())["api_url"] if state.exists() else server_url()
        if healthy(url):
            os.environ["PREFECT_API_URL"] = url
