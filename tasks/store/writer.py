"""Atomic version writes: shards into a hidden staging folder, manifest last, then rename."""
from __future__ import annotations

import logging
import os
import socket
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from .fs import Root
from .manifest import MANIFEST, Manifest, Shard

log = logging.getLogger("zhinao.store")
_HOST = socket.gethostname().replace("-", "_")


def staging_name(version: str) -> str:
    return f".tmp-{version}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
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


class VersionWriter:
    """Stages one version. On a local disk the staging folder is renamed into place (atomic); on an
    object store shards go straight to the final prefix and the manifest, written last, is what
    makes the version visible (readers ignore a prefix without one)."""

    def __init__(self, root: Root, dataset: str, version: str):
        self.root, self.dataset, self.version = root, dataset, version
        self.final = root.join(dataset, version)
        self.staging_rel = f"{dataset}/{staging_name(version)}" if root.is_local else f"{dataset}/{version}"
        self.staging = root.join(self.staging_rel)
        self._gc_stale()
        root.fs.create_dir(self.staging, recursive=True)

    def _gc_stale(self) -> None:
        """Remove staging folders of this version left by writers on this host that died."""
        if not self.root.is_local:
            return
        prefix = f".tmp-{self.version}-{_HOST}-"
        for info in self.root.listdir(self.root.join(self.dataset)):
            if info.base_name.startswith(prefix):
                pid = int(info.base_name[len(prefix):].split("-")[0])
                if not _pid_alive(pid):
                    log.info("removing stale staging folder %s (writer pid %d is gone)", info.base_name, pid)
                    self.root.fs.delete_dir(info.path)

    def commit(self, manifest: Manifest) -> Manifest:
        for shard in manifest.shards:
            if not self.root.exists(self.root.join(self.staging, shard.path)):
                raise FileNotFoundError(f"shard {shard.path} of {manifest.ref} was not written")
        if self.root.is_local and self.root.exists(self.final):
            log.info("%s was committed concurrently; keeping that copy", manifest.ref)
            self.abort()
            return manifest
        self.root.write_text(self.root.join(self.staging, MANIFEST), manifest.to_json())
        if self.root.is_local:
            try:
                os.rename(self.staging, self.final)
            except OSError:
                if not self.root.exists(self.root.join(self.final, MANIFEST)):
                    raise
                self.abort()  # lost a race to an identical writer
        return manifest

    def abort(self) -> None:
        try:
            self.root.fs.delete_dir(self.staging)
        except OSError:  # already gone
            pass
