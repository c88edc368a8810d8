"""The dataset store: resolve, read and commit versions; walk lineage."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .catalog import Catalog
from .fs import Root, open_root
from .integrity import (DamagedVersion, Problem, content_problems, file_problems, mark_damaged, set_aside,
                        stored_exists)
from .manifest import MANIFEST, Manifest, schema_fields
from .models import copy_into, folder_version, materialize
from .writer import VersionWriter, write_shard

log = logging.getLogger("zhinao.store")


class VersionNotFound(LookupError):
    pass


_PART = re.compile(r"[^\x00-\x1f\x7f/\\]+")


def check_name(name: str, what: str, hidden: bool = False) -> None:
    """Dataset and version names become paths under the store root: never `..`, `.`, an absolute
    path, a backslash or a control character, and no hidden folder (the store's own, with `hidden`)."""
    parts = name.split("/") if what == "dataset" else [name]
    ok = bool(name) and all(_PART.fullmatch(p) and p not in (".", "..") and (not p.startswith(".") or
                                                                             (hidden and i == 0))
                            for i, p in enumerate(parts))
    if not ok:
        raise ValueError(f"bad {what} name {name!r}: a name becomes a folder of the store, so it cannot be "
                         "empty, absolute, '..', hidden (starting with '.') or hold a backslash or control "
                         "character" + (" (parts are joined by /)" if what == "dataset" else ""))


@dataclass
class LineageNode:
    manifest: Manifest
    parents: list["LineageNode"] = field(default_factory=list)


def parse_ref(ref: str) -> tuple[str, str]:
    """'dataset' -> (dataset, ''); 'dataset@abc' -> (dataset, 'abc') (a version-id prefix)."""
    dataset, _, version = ref.partition("@")
    if not dataset:
        raise ValueError(f"bad dataset reference {ref!r}: expected DATASET or DATASET@VERSION")
    return dataset, version


class Store:
    """Versions under `root` (a folder or an object-store URI), registered in the SQLite `catalog`;
    model files of a remote store are copied once into `cache`. The caller says where all three are
    (zhinao.tasks.home.open_store: from ZHINAO_HOME and its overrides); the store reads no
    environment."""

    def __init__(self, root: str, catalog: str | Path, cache: str | Path | None = None):
        self.root: Root = open_root(root)
        self.catalog = Catalog(catalog)
        self.cache = Path(cache) if cache is not None else Path(catalog).parent / "model-cache"

    # ---- reading -----------------------------------------------------------------------------
    def _read_manifest(self, dataset: str, version: str) -> Manifest | None:
        check_name(dataset, "dataset")
        check_name(version, "version")
        path = self.root.join(dataset, version, MANIFEST)
        if not self.root.exists(path):
            return None
        try:
            return Manifest.from_json(self.root.read_text(path))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
            known = self.catalog.get(version)
            raise DamagedVersion(f"{dataset}@{version}", [Problem(MANIFEST, f"unreadable ({e})")],
                                 known.stage if known else "") from None

    def lookup(self, dataset: str, version: str) -> Manifest | None:
        """The committed version or None. The manifest on storage is the truth; a version committed
        but never registered (writer died in between) is registered here."""
        m = self._read_manifest(dataset, version)
        if m is None:
            if self.catalog.get(version) is not None:
                log.warning("%s@%s is in the catalog but not in the store; unregistering", dataset, version)
                self.catalog.remove(version)
            return None
        if self.catalog.get(version) is None:
            self.catalog.register(m)
        return m

    def resolve(self, ref: str) -> Manifest:
        """A version by `dataset@prefix`; a bare dataset is its latest: what the last run of its stage
        resolved to (a cache hit of an older version counts), else the newest created."""
        dataset, prefix = parse_ref(ref)
        if not prefix and (current := self.catalog.current(dataset)):
            m = self.lookup(dataset, current)
            if m is not None:
                return m
        found = self.catalog.find(dataset, prefix)
        if not found:
            raise VersionNotFound(f"no version of dataset {dataset!r}" + (f" matching {prefix!r}" if prefix else "")
                                  + " in the catalog (see `zhinao datasets`)")
        if prefix and len({m.version for m in found}) > 1:
            raise VersionNotFound(f"{ref!r} is ambiguous: " + ", ".join(m.version for m in found))
        if not prefix:      # the newest with rows: an empty one is never the latest by default
            found = sorted(found, key=lambda m: m.kind == "dataset" and m.rows == 0)
        m = self.lookup(found[0].dataset, found[0].version)
        if m is None:
            raise VersionNotFound(f"{found[0].ref} is registered but its files are gone")
        return m

    def shard_paths(self, m: Manifest, verify: bool = False) -> list[str]:
        """The version's data files; with `verify`, checked against the manifest's checksums first.
        A stage's inputs are checked once, before it computes (flows/stage.py), never on a cache hit."""
        if verify:
            self.verify(m, content=True, raise_=True, shards=m.shards)
        return [self.root.join(m.folder, s.path) for s in m.shards]

    def verify(self, m: Manifest, content: bool = True, raise_: bool = False, shards=None,
               mark: bool = True) -> list[Problem]:
        """What is wrong with a committed version: the manifest (as stored), then its files (there,
        at their sizes; with `content`, their checksums). A finding is marked beside the manifest."""
        try:
            stored = self._read_manifest(m.dataset, m.version)
        except DamagedVersion as e:
            problems = e.problems
        else:
            if stored is None:
                problems = [Problem(MANIFEST, "missing (the version's folder is gone)")]
            else:       # the stored manifest is the truth (a catalog's copy may name an older attempt)
                if shards is not None and stored.attempt != m.attempt:
                    shards = None
                problems = content_problems(self.root, stored, shards) if content else \
                    file_problems(self.root, stored)
        if problems and mark and stored_exists(self.root, m):
            mark_damaged(self.root, m.dataset, m.version, problems)
        if problems and raise_:
            raise DamagedVersion(m.ref, problems, m.stage)
        return problems

    def set_aside(self, dataset: str, version: str, why: str = "damaged") -> str:
        """Hide a damaged version (kept for inspection) so its stage computes it again."""
        where = set_aside(self.root, dataset, version)
        self.catalog.remove(version)
        log.warning("set %s@%s aside (%s): %s", dataset, version, why, where)
        return where

    def open_arrow(self, ref: str | Manifest, columns: list[str] | None = None) -> pa.Table:
        m = ref if isinstance(ref, Manifest) else self.resolve(ref)
        tables = [pq.read_table(p, columns=columns, filesystem=self.root.fs) for p in self.shard_paths(m, verify=True)]
        return pa.concat_tables(tables, promote_options="default")

    def open_ray(self, ref: str | Manifest):
        import ray.data

        m = ref if isinstance(ref, Manifest) else self.resolve(ref)
        return ray.data.read_parquet(self.shard_paths(m, verify=True), filesystem=self.root.fs)

    # ---- writing -----------------------------------------------------------------------------
    def writer(self, dataset: str, version: str) -> VersionWriter:
        check_name(dataset, "dataset", hidden=True)
        check_name(version, "version")
        return VersionWriter(self.root, dataset, version)

    def commit(self, writer: VersionWriter, manifest: Manifest) -> Manifest:
        manifest.created_at = manifest.created_at or datetime.now(timezone.utc).isoformat()
        writer.commit(manifest)
        committed = self._read_manifest(manifest.dataset, manifest.version)
        self.catalog.register(committed)
        return committed

    def import_tables(self, dataset: str, tables: list[pa.Table], stage: str = "import") -> Manifest:
        """Commit in-memory tables as a version of `dataset` (one shard each); the version id is a
        hash of their content, so importing the same data again finds the same version."""
        import hashlib

        check_name(dataset, "dataset")
        h = hashlib.sha256(dataset.encode())
        for t in tables:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, t.schema) as w:
                w.write_table(t)
            h.update(sink.getvalue())
        version = h.hexdigest()[:16]
        existing = self.lookup(dataset, version)
        if existing is not None:
            return existing
        writer = self.writer(dataset, version)
        shards = [write_shard(self.root, writer.staging_rel, f"part-{i:05d}.parquet", t) for i, t in enumerate(tables)]
        return self.commit(writer, Manifest(dataset=dataset, version=version, stage=stage, params={}, code="",
                                            parents=[], schema=schema_fields(tables[0].schema), shards=shards))

    def import_model(self, dataset: str, folder: str | Path, parents: list[str] | None = None,
                     params: dict | None = None, stage: str = "import", stats: dict | None = None) -> Manifest:
        """Commit a model folder (e.g. an HF checkpoint) as a version of `dataset` (kind "model");
        the id hashes the files, params and parents, so the same model imports to the same version."""
        check_name(dataset, "dataset")
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"model folder {folder} does not exist")
        parents, params = list(parents or []), dict(params or {})
        version = folder_version(dataset, folder, params, parents)
        existing = self.lookup(dataset, version)
        if existing is not None:
            return existing
        writer = self.writer(dataset, version)
        try:
            shards = copy_into(self.root, writer.staging_rel, folder)
            return self.commit(writer, Manifest(dataset=dataset, version=version, stage=stage, params=params,
                                                code="", parents=parents, kind="model", shards=shards,
                                                stats=stats or {}))
        except BaseException:
            writer.abort()
            raise

    def model_path(self, ref: str | Manifest, kind: str = "model") -> Path:
        """A local folder with the files of a file-folder version (a model, token shards), copied
        once from a remote store."""
        m = ref if isinstance(ref, Manifest) else self.resolve(ref)
        if m.kind != kind:
            raise ValueError(f"{m.ref} is a {m.kind} version, not a {kind}")
        return materialize(self.root, m, self.cache)

    # ---- lineage -----------------------------------------------------------------------------
    def lineage(self, ref: str | Manifest) -> LineageNode:
        """Upstream graph of a version (inputs, their inputs, ... down to raw sources)."""
        return self._graph(ref if isinstance(ref, Manifest) else self.resolve(ref), self.parents)

    def downstream_graph(self, ref: str | Manifest) -> LineageNode:
        """Derived versions as a graph: each node's `parents` hold the versions made from it."""
        return self._graph(ref if isinstance(ref, Manifest) else self.resolve(ref), self.children)

    def parents(self, m: Manifest) -> list[Manifest]:
        """The versions `m` was made from (those still known)."""
        found = (self.catalog.get(v) or self._read_manifest(d, v) for d, v in map(parse_ref, m.parents))
        return [p for p in found if p is not None]

    def children(self, m: Manifest) -> list[Manifest]:
        """The versions made directly from `m`."""
        return [c for c in map(self.catalog.get, self.catalog.children(m.version)) if c is not None]

    @staticmethod
    def _graph(m: Manifest, nexts) -> LineageNode:
        seen: dict[str, LineageNode] = {}      # a version reached twice is one node

        def walk(man: Manifest) -> LineageNode:
            if man.version in seen:
                return seen[man.version]
            node = seen[man.version] = LineageNode(man)
            node.parents.extend(walk(n) for n in nexts(man))
            return node

        return walk(m)

    def downstream(self, ref: str | Manifest) -> list[Manifest]:
        """Every version derived from this one (datasets and models trained on it)."""
        m = ref if isinstance(ref, Manifest) else self.resolve(ref)
        out, stack, seen = [], [m], {m.version}
        while stack:
            for cm in self.children(stack.pop()):
                if cm.version not in seen:
                    seen.add(cm.version)
                    out.append(cm)
                    stack.append(cm)
        return out
