"""Whatever a `zhinao` command started ends with it, even when the command is killed with SIGKILL.

A command that starts processes (its Prefect API server, a local Ray, training ranks, vLLM
servers) also starts this reaper: `python -m zhinao.app.reaper`, in a session of its own so a
Ctrl-C meant for the command does not reach it. It keeps a list of the command's descendants
(pid and start time, so a reused pid is never mistaken for one of them), refreshed every half
second. When the command is gone, however it went, the reaper marks the Prefect flow runs the
command left running as crashed (they carry the command's tag), then stops every listed process
still alive: SIGTERM, and SIGKILL after a grace period. A command that ends cleanly says "done"
on the reaper's stdin (and names its Prefect API there); the reaper then only stops what the
command left behind, if anything.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import psutil

POLL_S = 0.5
GRACE_S = 5.0
LOG_NAME = "reaper.log"


def driver_tag(pid: int | None = None) -> str:
    """The Prefect tag on every flow run a command starts: which process on which machine ran it."""
    return f"zhinao-driver:{socket.gethostname()}:{pid or os.getpid()}"


def start(log_dir: str | None = None) -> subprocess.Popen:
    """Start the reaper of this process. Keep the handle: `finish()` tells it the command ended."""
    out = open(os.path.join(log_dir, LOG_NAME), "ab") if log_dir else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "zhinao.app.reaper", str(os.getpid())],
                                stdin=subprocess.PIPE, stdout=out, stderr=out, start_new_session=True,
                                close_fds=True)
    finally:
        if out is not subprocess.DEVNULL:
            out.close()


def tell(reaper: subprocess.Popen | None, line: str) -> None:
    if reaper is None:
        return
    try:
        reaper.stdin.write(line.encode() + b"\n")
        reaper.stdin.flush()
    except OSError:
        pass


def use_api(reaper: subprocess.Popen | None, api_url: str) -> None:
    """The Prefect API the command's flow runs report to: where the reaper marks them crashed."""
    tell(reaper, f"api {api_url}")


def finish(reaper: subprocess.Popen | None) -> None:
    """The command ends normally: the reaper stops only what it left behind."""
    tell(reaper, "done")
    if reaper is not None:
        try:
            reaper.stdin.close()
        except OSError:
            pass


def _snapshot(parent: psutil.Process, known: dict[int, float]) -> None:
    me = os.getpid()
    for child in parent.children(recursive=True):
        if child.pid == me:          # the reaper is a child of the command too
            continue
        try:
            known.setdefault(child.pid, child.create_time())
        except psutil.Error:
            pass


def _alive(known: dict[int, float]) -> list[psutil.Process]:
    out = []
    for pid, born in known.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == born and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def stop_all(procs: list[psutil.Process], grace_s: float = GRACE_S) -> list[int]:
    """SIGTERM each, SIGKILL what is left after `grace_s`; the pids that needed SIGKILL."""
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, left = psutil.wait_procs(procs, timeout=grace_s)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=grace_s)
    return [p.pid for p in left]


def crash_flow_runs(api_url: str, tag: str) -> list[str]:
    """Mark the tagged flow runs that are still running (or about to) as crashed."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
                                                FlowRunFilterTags)
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    async def go() -> list[str]:
        live = [StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED, StateType.CANCELLING]
        async with get_client() as client:
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[tag]), state=FlowRunFilterState(type=FlowRunFilterStateType(any_=live))))
            for run in runs:
                await client.set_flow_run_state(run.id, Crashed(message="the zhinao command running it was "
                                                                      "killed"), force=True)
            return [str(r.id) for r in runs]

    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return asyncio.run(go())


def _warm_prefect() -> None:
    """Import the Prefect client ahead of need: a killed command's runs are marked without delay."""
    try:
        import prefect.client.orchestration  # noqa: F401
    except Exception:
        pass


def _listens_on(proc: psutil.Process, api_url: str) -> bool:
    port = urllib.parse.urlsplit(api_url).port
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in proc.net_connections("inet"))
    except psutil.Error:
        return False


def watch(pid: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0
    known: dict[int, float] = {}
    api_url = None
    clean = False
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], POLL_S)
        if ready:
            line = sys.stdin.readline()
            if not line:       # the command closed its end: it exited, one way or the other
                break
            word, _, value = line.strip().partition(" ")
            clean = clean or word == "done"
            if word == "api" and value:
                api_url = value
                os.environ["PREFECT_API_URL"] = value     # before Prefect is imported: it reads it then
                threading.Thread(target=_warm_prefect, daemon=True).start()
        try:
            if not parent.is_running():
                break
            _snapshot(parent, known)
        except psutil.NoSuchProcess:
            break
    while parent.is_running() and clean:      # a clean exit closes stdin a moment before it ends
        time.sleep(0.05)
    left = _alive(known)
    report: dict = {"pid": pid, "clean": clean, "left": [p.pid for p in left]}
    if not clean and api_url:
        # everything but the API server first (Ray, ranks, vLLM stop writing now), then the flow runs
        # are marked crashed through the server, then it goes too
        server = [p for p in left if _listens_on(p, api_url)]
        report["killed"] = stop_all([p for p in left if p not in server])
        try:
            report["crashed_flow_runs"] = crash_flow_runs(api_url, driver_tag(pid))
        except Exception as e:      # the API went with the command: nothing to mark
            report["crash_error"] = repr(e)[:300]
        report["killed"] += stop_all(server)
    elif left:
        report["killed"] = stop_all(left)
    if left or not clean:
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1])))
