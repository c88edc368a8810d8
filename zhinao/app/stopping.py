"""Ctrl-C and SIGTERM stop a `zhinao` command within seconds.

The first signal raises KeyboardInterrupt in the main thread: the running flow is marked crashed
by Prefect, the lease's `with` block releases it, the staging folder is never committed, and each
`finally` stops what its block started (actors, ranks, the API server). A deadline bounds that
cleanup: after GRACE_S seconds, or at a second signal, the process exits at once and its reaper
(zhinao/app/reaper.py) stops whatever is left."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

GRACE_S = float(os.environ.get("ZHINAO_STOP_GRACE_S", "20"))
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[int] = []


class Stopped(KeyboardInterrupt):
    """The command was asked to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def exit_code(signum: int) -> int:
    return 128 + signum


def _deadline(signum: int) -> None:
    time.sleep(GRACE_S)
    print(f"zhinao: still stopping after {GRACE_S:.0f} s; exiting now (its reaper stops what is left)",
          file=sys.stderr, flush=True)
    os._exit(exit_code(signum))


def _handle(signum: int, frame) -> None:
    if _received:        # a second signal: no more waiting on cleanup
        os._exit(exit_code(signum))
    _received.append(signum)
    threading.Thread(target=_deadline, args=(signum,), daemon=True, name="zhinao-stop-deadline").start()
    raise Stopped(signum)


def received() -> int | None:
    """The first stop signal this process got, if any."""
    return _received[0] if _received else None


def install() -> None:
    """Handle SIGINT and SIGTERM in this (main) thread."""
    for sig in SIGNALS:
        signal.signal(sig, _handle)

