"""Model versions: a folder of files (HF checkpoint, fastText model ...) committed like a dataset.

The files sit where shards would (<root>/<dataset>/<version>[/<attempt>]/files...), listed in the manifest as
shards with rows=0, so the same atomic commit, catalog and lineage apply to models.
"""
from __future__ import annotations

import hashlib
import posixpath
import shutil
from pathlib import Path
from typing import Any

from .fs import Root
from .manifest import MANIFEST, Manifest, Shard
from .writer import ensure_folder, raise_if_full


def folder_files(folder: Path) -> list[Path]:
    """A model folder's files; a store version folder's own manifest is the store's, not the model's."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts
                  and p != folder / MANIFEST)


def folder_version(dataset: str, folder: Path, params: dict[str, Any], parents: list[str]) -> str:
    """Content hash of the files (names and bytes), the params and the parents."""
    h = hashlib.sha256(f"{dataset}\n{sorted(params.items())}\n{sorted(parents)}".encode())
    for f in folder_files(folder):
        h.update(f.relative_to(folder).as_posix().encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def copy_into(root: Root, staging_rel: str, folder: Path) -> list[Shard]:
    """Copy a folder's files into an attempt, each with its checksum taken while copying."""
    shards = []
    for f in folder_files(folder):
        rel = f.relative_to(folder).as_posix()
        dest = root.join(staging_rel, rel)
        ensure_folder(root, posixpath.dirname(posixpath.join(staging_rel, rel)))
        h, size = hashlib.sha256(), 0
        try:
            with f.open("rb") as src, root.fs.open_output_stream(dest) as out:
                while block := src.read(1 << 20):
                    h.update(block)
                    out.write(block)
                    size += len(block)
        except OSError as e:
            raise_if_full(root, e, dest, f.stat().st_size)
            raise
        shards.append(Shard(path=rel, rows=0, bytes=size, sha256=h.hexdigest()))
    return shards


def materialize(root: Root, m: Manifest, cache: Path) -> Path:
    """A local folder holding the model's files: the version folder itself on a local store, else
    a copy under `cache` (made once; the copy is renamed into place when complete)."""
    if root.is_local:
        return Path(root.join(m.folder))
    target = cache / m.dataset / m.version
    if target.exists():
        return target
    tmp = target.with_name(target.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    for s in m.shards:
        dest = tmp / s.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        with root.fs.open_input_stream(root.join(m.folder, s.path)) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    tmp.rename(target)
    return target
