"""Finished generation batches kept across attempts of a stage: a retried stage (a killed worker, a
Prefect retry, a rerun after a crash) takes them back instead of generating again.

The folder is per version (.resume/<stage>/<version>), outside the attempt's staging folder, and
removed when the version commits. A batch is stored whole (its key names its input rows and job),
written under a temporary name and renamed, so a half-written batch is never read back.
"""
from __future__ import annotations

import hashlib
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from ..store.fs import Root


def batch_key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


class BatchCache:
    def __init__(self, root: Root, folder: str | None):
        self.root, self.folder = root, folder

    def _path(self, key: str) -> str:
        return self.root.join(self.folder, f"{key}.parquet")

    def get(self, key: str) -> pa.Table | None:
        if self.folder is None or not self.root.exists(self._path(key)):
            return None
        return pq.read_table(self._path(key), filesystem=self.root.fs)

    def put(self, key: str, table: pa.Table) -> None:
        if self.folder is None:
            return
        self.root.fs.create_dir(self.root.join(self.folder), recursive=True)
        tmp = self.root.join(self.folder, f".{key}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(table, tmp, filesystem=self.root.fs)
        self.root.fs.move(tmp, self._path(key))
