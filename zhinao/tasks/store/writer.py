"""Atomic version writes: shards into a staging folder of the attempt, manifest last (local disk:
then a rename; object stores: a create-if-absent put)."""
from __future__ import annotations

import logging
import os
import posixpath
import socket
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


def write_shard(root: Root, folder: str, name: str, table: pa.Table) -> Shard:
    """Write one Parquet shard; used by Ray tasks, which each own their shard names."""
    path = root.join(folder, name)
    root.fs.create_dir(root.join(folder), recursive=True)
    pq.write_table(table, path, filesystem=root.fs, compression="zstd")
    size = root.fs.get_file_info(path).size
    return Shard(path=name, rows=table.num_rows, bytes=int(size or 0))


def sweep_staging(root: Root, dataset: str) -> list[str]:
    """Remove the staging folders of `dataset`, any version, left by writers on this host that died
    (a killed run whose version id has changed since would otherwise leave its folder for good)."""
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
        if not pid_alive(pid):
            root.fs.delete_dir(info.path)
            gone.append(f"{dataset}/{name}")
    if gone:
        log.warning("cleaned up %d staging folder(s) of writers that died: %s", len(gone), ", ".join(gone))
    return gone


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
        self.root.write_text(posixpath.join(self.staging, MANIFEST), manifest.to_json())
        try:
            os.rename(self.staging, self.final)
            self.committed = True
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
        try:
            self.root.fs.delete_dir(self.staging)
        except OSError:  # already gone
            pass
