"""Rebuild the catalog from the manifests in the store: the store is the truth, the catalog an
index of it (a second machine on a shared store, a lost or stale catalog file)."""
from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field

from tqdm import tqdm

from .integrity import file_problems, summary
from .manifest import MANIFEST, Manifest

log = logging.getLogger("zhinao.store")


@dataclass
class Rebuilt:
    added: list[str] = field(default_factory=list)       # refs the catalog did not know
    known: int = 0                                        # refs it already had
    incomplete: list[str] = field(default_factory=list)  # version folders without a manifest
    unreadable: list[str] = field(default_factory=list)  # manifests that do not parse ("path: why")
    removed: list[str] = field(default_factory=list)     # catalog entries whose files are gone (prune)
    damaged: list[str] = field(default_factory=list)     # "ref: what" for versions whose files are not whole


def rebuild_catalog(store, prune: bool = False) -> Rebuilt:
    """Register every committed version found under the store root; with `prune`, unregister
    catalog entries whose manifest is gone. Hidden folders (.resume, .leases, staging) are skipped."""
    root, out, found = store.root, Rebuilt(), set()
    datasets = [d for d in root.listdir(root.base) if _visible(d)]
    for d in tqdm(datasets, desc="catalog rebuild", unit="dataset", disable=None):
        for v in root.listdir(d.path):
            if not _visible(v):
                continue
            path = posixpath.join(v.path, MANIFEST)
            if not root.exists(path):
                out.incomplete.append(f"{d.base_name}/{v.base_name}")
                continue
            try:
                m = Manifest.from_json(root.read_text(path))
            except (ValueError, TypeError, KeyError) as e:
                out.unreadable.append(f"{d.base_name}/{v.base_name}: {e}")
                continue
            found.add(m.version)
            if problems := file_problems(root, m):
                out.damaged.append(f"{m.ref}: {summary(problems)}")
            if store.catalog.get(m.version) is None:
                store.catalog.register(m)
                out.added.append(m.ref)
            else:
                out.known += 1
    if prune:
        for row in store.catalog.all():
            if row["version"] not in found:
                store.catalog.remove(row["version"])
                out.removed.append(f"{row['dataset']}@{row['version']}")
    log.info("catalog rebuilt from %s: %d added, %d known, %d incomplete, %d unreadable, %d damaged, %d removed",
             root.uri, len(out.added), out.known, len(out.incomplete), len(out.unreadable), len(out.damaged),
             len(out.removed))
    return out


def _visible(info) -> bool:
    import pyarrow.fs as pafs

    return info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
