"""The Prefect API a `zhinao run` talks to: the user's `zhinao server` when one answers, else a
server of the command's own over the same database (PREFECT_HOME/prefect.db), stopped when the
command ends, so its runs, logs and artifacts show when `zhinao server` is started later.

Why not Prefect's temporary server: it waits 20 s (counting only its sleeps) for a first start that
imports the server and migrates an empty database, which takes 46-74 s on a busy machine. Here the
wait lasts while the server process lives, up to ZHINAO_SERVER_START_TIMEOUT seconds of wall time,
and a server that dies says why."""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from zhinao.model.launch import free_port, terminate
from zhinao.tasks.settings import get_settings

from .prefect_env import healthy, home_server_url, server_url

log = logging.getLogger("zhinao.server")

TIMEOUT_ENV = "ZHINAO_SERVER_START_TIMEOUT"
DEFAULT_TIMEOUT = 900.0
PROGRESS_EVERY = 15.0


class ServerError(RuntimeError):
    """The Prefect API cannot be reached or started; the message names the fix."""


def start_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ServerError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ServerError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def server_command(port: int) -> list[str]:
    """The API alone, as Prefect's temporary server runs it (no UI, ephemeral-server services)."""
    import importlib.util

    prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
    return [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory",
            "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on"]


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:].strip()
    except OSError:
        return ""


def wait_healthy(proc: subprocess.Popen, api_url: str, log_path: Path, timeout: float) -> float:
    """Seconds until `api_url` answers its health check. Fails as soon as the process exits, or
    after `timeout` seconds of wall time, with the server's log tail and the setting to change."""
    start = time.monotonic()
    next_note = start + PROGRESS_EVERY
    while not healthy(api_url):
        now = time.monotonic()
        if proc.poll() is not None:
            raise ServerError(f"the Prefect server exited with status {proc.returncode} before it answered "
                              f"{api_url}/health; its log ({log_path}):\n{_tail(log_path)}")
        if now - start > timeout:
            raise ServerError(f"the Prefect server did not answer {api_url}/health within {timeout:.0f} s "
                              f"({TIMEOUT_ENV}={timeout:.0f}); on a slow or busy machine raise {TIMEOUT_ENV}, "
                              f"or start `zhinao server` first and rerun. Its log: {log_path}")
        if now >= next_note:
            log.info("waiting for the Prefect server (a first start creates its database): %.0f s", now - start)
            next_note = now + PROGRESS_EVERY
        time.sleep(0.25)
    return time.monotonic() - start


def require_answer(url: str) -> None:
    """An API URL the user set must answer: otherwise every flow call would fail far from here."""
    if not healthy(url, timeout=10):
        raise ServerError(f"PREFECT_API_URL={url} does not answer {url}/health: start that server "
                          "(`zhinao server` for the local one) or unset PREFECT_API_URL to let "
                          "`zhinao` run its own")


def _drain_prefect() -> None:
    """Send the logs and events still queued in this process before their server goes away."""
    if "prefect" not in sys.modules:
        return
    from prefect._internal.concurrency.services import QueueService

    for service in QueueService.__subclasses__():
        with contextlib.suppress(Exception):
            service.drain_all(timeout=30, at_exit=False)


class Server:
    """A Prefect API server process of this command's; `ready()` waits for it once."""

    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path, timeout: float):
        self.proc, self.url, self.log_path, self.timeout = proc, url, log_path, timeout
        self._ready = False

    def ready(self) -> None:
        if not self._ready:
            took = wait_healthy(self.proc, self.url, self.log_path, self.timeout)
            self._ready = True
            log.info("Prefect API for this command on %s (ready in %.0f s); `zhinao server` shows its runs "
                     "afterwards", self.url, took)


@contextlib.contextmanager
def own_server(home: Path, command: Sequence[str] | None = None, port: int | None = None,
               timeout: float | None = None) -> Iterator[Server]:
    """A Prefect API server on 127.0.0.1 for the duration of the block, started at once and waited
    for by `ready()`, so the caller's own imports overlap the server's start."""
    port = port or free_port()
    url = server_url(port)
    log_path = home / "logs" / "prefect-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    timeout = start_timeout() if timeout is None else timeout
    with open(log_path, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting on port {port}\n".encode())
        out.flush()
        proc = subprocess.Popen(list(command or server_command(port)), env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield Server(proc, url, log_path, timeout)
    finally:
        _drain_prefect()
        terminate(proc, grace_s=15)


@contextlib.contextmanager
def run_api() -> Iterator[Callable[[], None]]:
    """The API for a command that runs flows: PREFECT_API_URL when set (it must answer), the running
    `zhinao server` of this home (never another home's: a run reports into its own database),
    else a server of this command's own. Yields `ready`, to call
    before the first flow. Enter before importing Prefect: it reads PREFECT_API_URL at import."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        require_answer(url)
        yield lambda: None
        return
    home = Path(os.environ["PREFECT_HOME"])
    announced = home_server_url(home)     # this home's `zhinao server`, never whatever answers on 4200
    url = announced if announced and healthy(announced) else None
    shown = announced or server_url()
    with contextlib.ExitStack() as stack:
        if url is None:
            server = stack.enter_context(own_server(get_settings().home))
            url, ready = server.url, server.ready
            # flow-run links point at the UI `zhinao server` will serve over the same database
            os.environ.setdefault("PREFECT_UI_URL", shown.removesuffix("/api"))
        else:
            ready = lambda: None  # noqa: E731
        os.environ["PREFECT_API_URL"] = url
        try:
            yield ready
        finally:
            os.environ.pop("PREFECT_API_URL", None)
