"""Is a committed version whole? Each file's sha256 is recorded in the manifest as it is written;
readers check it, a cache hit checks that the files are there at their sizes (one listing), and
`zhinao verify` checks whole versions. A damaged version gets a mark beside its manifest, is shown
as damaged, and is set aside (kept, hidden) when its stage runs again, which recomputes it."""
from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow.fs as pafs

from .fs import Root
from .manifest import MANIFEST, Manifest

log = logging.getLogger("zhinao.store")
DAMAGED = "DAMAGED.json"
_BLOCK = 8 << 20
# path -> (size, mtime) of files whose content matched this process's last check: a pipeline reads
# most versions more than once, and a changed file has a new mtime
_verified: dict[str, tuple[int, int]] = {}


@dataclass(frozen=True)
class Problem:
    file: str          # relative to the version's files folder ("manifest.json" for the manifest)
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what}"


def summary(problems: list[Problem], n: int = 3) -> str:
    """The first problems on one line."""
    return "; ".join(map(str, problems[:n])) + (f" (+{len(problems) - n} more)" if len(problems) > n else "")


class DamagedVersion(LookupError):
    """A committed version whose manifest or files are not what was written. Not retried: another
    attempt reads the same bytes."""

    retryable = False

    def __init__(self, ref: str, problems: list[Problem], stage: str = ""):
        self.ref, self.problems = ref, problems
        first = summary(problems)
        super().__init__(f"{ref} is damaged: {first}. Way out: `zhinao verify --recompute {ref}` sets it aside and "
                         f"recomputes it" + (f" (stage {stage!r}, same inputs and parameters)" if stage else ""))


def sha256_file(root: Root, path: str) -> str:
    h = hashlib.sha256()
    with root.fs.open_input_stream(path) as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def version_root(root: Root, dataset: str, version: str) -> str:
    return root.join(dataset, version)


def listing(root: Root, m: Manifest) -> dict[str, int]:
    """Every file under the version's folder -> its size, by path relative to Manifest.folder."""
    base = root.join(m.folder)
    if not root.exists(base):
        return {}
    infos = root.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return {posixpath.relpath(i.path, base): int(i.size or 0) for i in infos if i.type == pafs.FileType.File}


def file_problems(root: Root, m: Manifest, use_mark: bool = True) -> list[Problem]:
    """The cheap check: every file the manifest names is there at its size, and no mark says the
    version was found damaged before."""
    found = marked(root, m) if use_mark else []
    if found:
        return found
    files = listing(root, m)
    out = []
    for s in m.shards + m.drops:
        size = files.get(s.path)
        if size is None:
            out.append(Problem(s.path, "missing"))
        elif s.bytes and size != s.bytes:
            out.append(Problem(s.path, f"{size} bytes, the manifest says {s.bytes}"))
    return out


def marked(root: Root, m: Manifest) -> list[Problem]:
    """What an earlier check found and wrote beside the manifest."""
    mark = posixpath.join(version_root(root, m.dataset, m.version), DAMAGED)
    if not root.exists(mark):
        return []
    try:
        return [Problem(f["file"], f["what"]) for f in json.loads(root.read_text(mark))["problems"]]
    except (ValueError, KeyError, TypeError):
        return [Problem(DAMAGED, "marked damaged")]


def unmark(root: Root, m: Manifest) -> None:
    """A mark whose finding a fresh check no longer makes (the file was restored) is removed."""
    mark = posixpath.join(version_root(root, m.dataset, m.version), DAMAGED)
    if root.exists(mark):
        root.fs.delete_file(mark)
        log.warning("%s: the files match their manifest again; removed its damage mark", m.ref)


def content_problems(root: Root, m: Manifest, shards=None) -> list[Problem]:
    """Hash the files (those whose checksum the manifest records) and compare."""
    was_marked = bool(marked(root, m))     # checked afresh: the bytes decide, not an old finding
    out = file_problems(root, m, use_mark=False)
    out += _content_only(root, m, None if was_marked else shards, skip={p.file for p in out})
    if was_marked and not out:
        unmark(root, m)
    return out


def _content_only(root: Root, m: Manifest, shards=None, skip=frozenset()) -> list[Problem]:
    out = []
    bad = set(skip)
    for s in shards if shards is not None else m.shards + m.drops:
        if s.path in bad or not getattr(s, "sha256", ""):
            continue
        path = root.join(m.folder, s.path)
        stamp = _stamp(root, path)
        if stamp is not None and _verified.get(path) == stamp:
            continue
        try:
            got = sha256_file(root, path)
        except FileNotFoundError:
            out.append(Problem(s.path, "missing"))
            continue
        # any other read error (a timeout, EIO, too many open files) is raised as it is: it says
        # nothing about the bytes, and the attempt that met it may be retried
        if got != s.sha256:
            out.append(Problem(s.path, f"checksum mismatch (sha256 {got[:12]}..., the manifest says {s.sha256[:12]}...)"))
            _verified.pop(path, None)
        elif stamp is not None:
            _verified[path] = stamp
    return out


def _stamp(root: Root, path: str) -> tuple[int, int] | None:
    info = root.fs.get_file_info(path)
    if info.type != pafs.FileType.File or info.mtime_ns is None:
        return None
    return int(info.size or 0), int(info.mtime_ns)


def mark_damaged(root: Root, dataset: str, version: str, problems: list[Problem]) -> None:
    """Leave the finding beside the manifest, so listings and the next run of the stage see it."""
    path = posixpath.join(version_root(root, dataset, version), DAMAGED)
    body = {"at": datetime.now(timezone.utc).isoformat(), "problems": [p.__dict__ for p in problems]}
    try:
        root.write_text(path, json.dumps(body, indent=2))
    except OSError as e:      # a read-only store: the error still names the damage
        log.warning("could not mark %s@%s damaged: %s", dataset, version, e)


def set_aside(root: Root, dataset: str, version: str) -> str:
    """Move a damaged version out of the way (kept for inspection), so it can be computed again.
    Local: the folder becomes hidden; object stores: the manifest moves, which hides the attempt
    folder it named (the next attempt's writer removes it)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = version_root(root, dataset, version)
    if root.is_local:
        target = root.join(dataset, f".damaged-{version}-{stamp}")
        root.fs.move(folder, target)
        return target
    target = posixpath.join(folder, f"damaged-{stamp}", MANIFEST)
    if root.exists(posixpath.join(folder, MANIFEST)):
        root.fs.move(posixpath.join(folder, MANIFEST), target)
    if root.exists(posixpath.join(folder, DAMAGED)):
        root.fs.delete_file(posixpath.join(folder, DAMAGED))
    return target


def stored_exists(root: Root, m: Manifest) -> bool:
    """Whether the version's folder still holds its manifest (a mark goes only where there is one)."""
    return root.exists(posixpath.join(version_root(root, m.dataset, m.version), MANIFEST))
