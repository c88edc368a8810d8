"""Atomic version writes: shards into a staging folder of the attempt, manifest last (local disk:
then a rename; object stores: a create-if-absent put)."""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import posixpath
import socket
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from .conditional import Conditional
from .fs import Root
from .manifest import MANIFEST, Manifest, Shard

log = logging.getLogger("zhinao.store")
_HOST = socket.gethostname().replace("-", "_")


def writer_tag() -> str:
    """Who is writing: host, pid (stale-folder cleanup checks it) and a random part."""
    return f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreFull(OSError):
    """No space left where the store writes: another attempt cannot succeed until space is freed."""

    retryable = False


class StagingGone(FileNotFoundError):
    """A task wrote into an attempt that was aborted meanwhile (its staging folder was removed)."""


class _Hashing:
    """A write-only stream that hashes what passes through it (pyarrow writes Parquet into it)."""

    closed = False

    def __init__(self, raw):
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True


def write_shard(root: Root, folder: str, name: str, table: pa.Table) -> Shard:
    """Write one Parquet shard, streamed, with the checksum of the bytes as they pass (no second
    read); used by Ray tasks, which each own their shard names."""
    ensure_folder(root, folder)
    path = root.join(folder, name)
    try:
        with root.fs.open_output_stream(path) as out:
            sink = _Hashing(out)
            pq.write_table(table, sink, compression="zstd")
    except OSError as e:
        raise_if_full(root, e, path, table.nbytes)
        raise
    return Shard(path=name, rows=table.num_rows, bytes=sink.size, sha256=sink.sha.hexdigest())


def write_bytes(root: Root, folder: str, name: str, data) -> None:
    """Write one file of an attempt: never into a staging folder an abort removed (that would bring
    it back for good), and a full disk named as such."""
    ensure_folder(root, folder)
    path = root.join(folder, name)
    try:
        with root.fs.open_output_stream(path) as out:
            out.write(data)
    except OSError as e:
        raise_if_full(root, e, path, len(data))
        raise


def ensure_folder(root: Root, folder: str) -> None:
    staging = _staging_of(folder)
    if staging is not None and not root.exists(root.join(staging)):
        raise StagingGone(f"{staging} is gone: its attempt was aborted")
    root.fs.create_dir(root.join(folder), recursive=True)


def _staging_of(folder: str) -> str | None:
    """The local staging folder (`<dataset>/.tmp-<version>-<writer>`) a path lies in, if any."""
    parts = folder.split("/")
    for i, part in enumerate(parts):
        if part.startswith(".tmp-"):
            return "/".join(parts[:i + 1])
    return None


def raise_if_full(root: Root, e: OSError, path: str, size: int) -> None:
    if getattr(e, "errno", None) not in (errno.ENOSPC, errno.EDQUOT) and not any(
            w in str(e) for w in ("No space left", "Disk quota exceeded")):
        return
    try:
        root.fs.delete_file(path)              # a partial file is no use and holds space
    except OSError:
        pass
    free = ""
    if root.is_local:
        free = f", {shutil.disk_usage(root.base).free:,} bytes free"
    raise StoreFull(errno.ENOSPC, f"the store {root.uri} is full: writing {path} ({size:,} bytes) failed{free}. "
                    "Free space there, or point ZHINAO_STORE at a larger disk") from e


def sweep_staging(root: Root, dataset: str) -> list[str]:
    """Remove the staging folders of `dataset`, any version, left by writers on this host that died
    (a killed run whose version id has changed since would otherwise leave its folder for good), and
    this process's own that no live writer holds (an abort that lost a race to a late task)."""
    if not root.is_local or not root.exists(root.join(dataset)):
        return []
    mine = f"-{_HOST}-"
    gone = []
    for info in root.listdir(root.join(dataset)):
        name = info.base_name
        if not name.startswith(".tmp-") or mine not in name:
            continue
        try:
            pid = int(name.split(mine, 1)[1].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid() and info.path not in _ACTIVE or pid != os.getpid() and not pid_alive(pid):
            _delete(root, info.path)
            gone.append(f"{dataset}/{name}")
    if gone:
        log.warning("cleaned up %d staging folder(s) of writers that died: %s", len(gone), ", ".join(gone))
    return gone


_ACTIVE: set[str] = set()      # staging folders of this process's writers not yet committed or aborted


def _delete(root: Root, path: str, tries: int = 5) -> None:
    """Remove a folder; a task still closing a file in it can make one try fail, so try again."""
    for i in range(tries):
        try:
            root.fs.delete_dir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if not root.exists(path):
                return
            if i == tries - 1:
                raise
            time.sleep(0.2 * (i + 1))


class VersionWriter:
    """Stages one version of `dataset`, so that a failed or concurrent attempt never shows.

    Local disk: shards go to a hidden staging folder that is renamed into place (atomic; a rename
    onto a committed version fails, so the first writer wins). Object stores: each attempt writes
    under its own folder inside the version's prefix, and the manifest, written last with a
    create-if-absent put, names that folder: the first manifest wins, readers ignore a prefix
    without one, and nothing is ever deleted once a manifest names it."""

    def __init__(self, root: Root, dataset: str, version: str):
        self.root, self.dataset, self.version = root, dataset, version
        self.final = root.join(dataset, version)
        tag = writer_tag()
        self.attempt = "" if root.is_local else f"attempt-{tag}"
        self.staging_rel = f"{dataset}/.tmp-{version}-{tag}" if root.is_local else f"{dataset}/{version}/{self.attempt}"
        self.staging = root.join(self.staging_rel)
        self.committed = False
        self._gc_stale()
        _ACTIVE.add(self.staging)          # before it exists: a sweep in this process never takes it
        root.fs.create_dir(self.staging, recursive=True)

    def _gc_stale(self) -> None:
        sweep_staging(self.root, self.dataset)

    def remove_abandoned(self) -> list[str]:
        """Attempt folders of this version that no manifest names (writers that died or lost);
        only safe while holding the version's lease, which guarantees nobody else is writing."""
        if self.root.is_local or self.root.exists(posixpath.join(self.final, MANIFEST)):
            return []
        gone = []
        for info in self.root.listdir(self.final):
            if info.base_name.startswith("attempt-") and info.path != self.staging:
                self.root.fs.delete_dir(info.path)
                gone.append(info.base_name)
        if gone:
            log.info("removed %d abandoned attempt folder(s) of %s/%s", len(gone), self.dataset, self.version)
        return gone

    def commit(self, manifest: Manifest) -> Manifest:
        for shard in manifest.shards + manifest.drops:
            if not self.root.exists(posixpath.join(self.staging, shard.path)):
                raise FileNotFoundError(f"shard {shard.path} of {manifest.ref} was not written")
        if not self.root.is_local:
            return self._commit_remote(manifest)
        if self.root.exists(self.final):
            log.info("%s was committed concurrently; keeping that copy", manifest.ref)
            self.abort()
            return manifest
        write_bytes(self.root, self.staging_rel, MANIFEST, manifest.to_json().encode())
        try:
            os.rename(self.staging, self.final)
            self.committed = True
            _ACTIVE.discard(self.staging)
        except OSError:
            if not self.root.exists(posixpath.join(self.final, MANIFEST)):
                raise
            self.abort()  # lost a race to an identical writer
        return manifest

    def _commit_remote(self, manifest: Manifest) -> Manifest:
        manifest.attempt = self.attempt
        path = posixpath.join(self.final, MANIFEST)
        if Conditional(self.root).create(path, manifest.to_json().encode()) is not None:
            self.committed = True
            return manifest
        if self._named_by_manifest():        # our own earlier put whose answer was lost
            self.committed = True
            return manifest
        log.info("%s was committed concurrently; keeping that copy", manifest.ref)
        self.abort()
        return manifest

    def _named_by_manifest(self) -> bool:
        path = posixpath.join(self.final, MANIFEST)
        if not self.root.exists(path):
            return False
        return Manifest.from_json(self.root.read_text(path)).attempt == self.attempt

    def abort(self) -> None:
        """Remove this attempt's files, unless they are committed (a failure after the manifest
        was written, a catalog timeout say, must not delete the version)."""
        if self.committed or (not self.root.is_local and self._named_by_manifest()):
            return
        _ACTIVE.discard(self.staging)
        try:
            _delete(self.root, self.staging)
        except OSError as e:  # left for the next run's sweep, which knows it is no one's
            log.warning("could not remove the aborted attempt's folder %s: %s", self.staging, e)
