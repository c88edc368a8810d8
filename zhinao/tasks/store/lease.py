"""One writer per version: a lease (owner, heartbeat, expiry) in the store, next to the versions,
so every machine sharing the store sees it.

The holder rewrites its lease every ttl/4 with a compare-and-swap write. A waiter judges the
lease by its own clock: a lease whose content has not changed for `ttl` seconds is expired (no
clock agreement between machines is needed), and one held by a process of this host that is gone
is expired at once. A holder whose heartbeat finds the lease taken over has lost it: `check()`
raises, so it commits nothing more."""
from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass

from .conditional import Conditional
from .fs import Root
from .writer import pid_alive

log = logging.getLogger("zhinao.store")

LEASES = ".leases"


class LeaseHeld(RuntimeError):
    """Another live run holds the lease and the wait ran out."""


class LeaseLost(RuntimeError):
    """This run's lease expired and another run took the version over."""


@dataclass
class Holder:
    owner: str           # user@host:pid, plus the flow run when there is one
    host: str
    pid: int
    token: str           # tells two holders with the same pid apart (a restarted container)
    acquired: float
    heartbeat: float

    def describe(self, now: float) -> str:
        return f"{self.owner} (heartbeat {now - self.heartbeat:.0f} s ago by its clock)"


def _alive_here(holder: Holder) -> bool:
    if holder.host != socket.gethostname():
        return True                      # another machine: only its heartbeat tells
    return pid_alive(holder.pid)


def sweep_dead(root: Root, prefix: str, keep: str = "") -> list[str]:
    """Remove the leases under `prefix` (a stage's folder of leases) whose holder was a process of
    this host that is gone: a killed run's lease on a version no run asks for again stays otherwise.
    Leases of other hosts are left to their TTL, judged by whoever wants them; `keep` (the version
    the caller is about to lease) is taken over the usual way, which says so."""
    folder = root.join(LEASES, prefix)
    if not root.exists(folder):
        return []
    gone = []
    for info in root.listdir(folder):
        if not info.base_name.endswith(".json") or info.base_name == f"{keep}.json":
            continue
        try:
            holder = _parse(root.read_text(info.path).encode())
        except OSError:
            continue
        if holder is not None and not _alive_here(holder):
            try:
                root.fs.delete_file(info.path)
                gone.append(f"{prefix}/{info.base_name}")
            except OSError:
                pass
    if gone:
        log.warning("cleaned up %d lease(s) of runs that died: %s", len(gone), ", ".join(gone))
    return gone


class Lease:
    """`ttl`: seconds without a heartbeat before the holder counts as dead; `wait`: how long a second
    run waits for the holder (None: until it finishes or dies; 0: not at all). The caller says both
    (the flows read ZHINAO_LEASE_TTL / ZHINAO_LEASE_WAIT through the settings)."""

    def __init__(self, root: Root, name: str, owner: str = "", ttl: float = 60.0,
                 wait: float | None = None, poll: float | None = None):
        self.root, self.name = root, name
        self.path = root.join(LEASES, f"{name}.json")
        self.ttl, self.wait = ttl, wait
        self.poll = poll if poll is not None else min(5.0, max(0.2, self.ttl / 10))
        who = f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"
        self.me = Holder(owner=f"{who} {owner}".strip(), host=socket.gethostname(), pid=os.getpid(),
                         token=uuid.uuid4().hex, acquired=0.0, heartbeat=0.0)
        self.cond = Conditional(root)
        self.tag: str | None = None
        self.lost = threading.Event()
        self.waited = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- acquire / release -----------------------------------------------------------------------
    def acquire(self) -> "Lease":
        started = time.monotonic()
        seen: tuple[str, float] | None = None          # (tag, when this run first saw it)
        last_log = -1e9
        while True:
            now = time.time()
            self.me.acquired = self.me.heartbeat = now
            tag = self.cond.create(self.path, self._body())
            if tag is not None:
                return self._hold(tag, started)
            current = self.cond.read(self.path)
            if current is None:
                continue                               # released between our two calls
            data, ctag = current
            holder = _parse(data)
            if holder is None or not _alive_here(holder):
                why = "its holder's process is gone" if holder else "it is unreadable"
            elif seen and seen[0] == ctag and time.monotonic() - seen[1] >= self.ttl:
                why = f"its heartbeat stopped {self.ttl:.0f} s ago"
            else:
                why = ""
            if why:
                tag = self.cond.replace(self.path, self._body(), ctag)
                if tag is not None:
                    log.warning("took over the lease on %s from %s: %s", self.name,
                                holder.owner if holder else "?", why)
                    return self._hold(tag, started)
                continue                               # someone else changed it first: look again
            if seen is None or seen[0] != ctag:
                seen = (ctag, time.monotonic())
            waited = time.monotonic() - started
            if self.wait is not None and waited >= self.wait:
                raise LeaseHeld(f"{self.name} is being computed by {holder.describe(now)}; "
                                f"waited {waited:.0f} s (ZHINAO_LEASE_WAIT={self.wait:g}); run again when "
                                f"it is done (it will be a cache hit), or unset ZHINAO_LEASE_WAIT to wait")
            if time.monotonic() - last_log >= 60:
                log.info("waiting for %s: it is being computed by %s", self.name, holder.describe(now))
                last_log = time.monotonic()
            time.sleep(self.poll)

    def _hold(self, tag: str, started: float) -> "Lease":
        self.tag, self.waited = tag, time.monotonic() - started
        self._thread = threading.Thread(target=self._beat, name=f"lease {self.name}", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.tag is not None and not self.lost.is_set():
                self.cond.delete(self.path, self.tag)
            self.tag = None

    def __enter__(self) -> "Lease":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    # ---- while holding ---------------------------------------------------------------------------
    def check(self) -> None:
        """Raise if another run has taken the version over (this one stalled past the ttl)."""
        if self.lost.is_set():
            raise LeaseLost(f"the lease on {self.name} expired and another run took it over; this run "
                            f"stops without committing (raise ZHINAO_LEASE_TTL, now {self.ttl:g} s, if it was "
                            f"only slow)")

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            with self._lock:
                self.me.heartbeat = time.time()
                try:
                    tag = self.cond.replace(self.path, self._body(), self.tag)
                except Exception as e:         # a store hiccup: try again at the next beat
                    log.warning("lease heartbeat on %s failed: %s", self.name, e)
                    continue
                if tag is None:
                    log.error("lost the lease on %s: another run took it over", self.name)
                    self.lost.set()
                    return
                self.tag = tag

    def _body(self) -> bytes:
        return json.dumps(asdict(self.me)).encode()


def _parse(data: bytes) -> Holder | None:
    try:
        return Holder(**json.loads(data))
    except (ValueError, TypeError):
        return None
