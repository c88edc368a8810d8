"""Training checkpoints: DeepSpeed's (module, optimizer and LR-scheduler state, per rank) under
`step-<n>` tags, plus our trainer state. A tag counts only once its `complete` marker exists, so a
run killed while saving resumes from the previous checkpoint; older checkpoints are pruned.

The marker lists the sha256 of every file the save wrote; a resume checks them first and skips a
tag that does not match (the previous one is used, or the run starts over, and the log says which).
Files are then read weights-only (zhinao/model/weights_only.py), so a forged tag cannot run code."""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch.distributed as dist

MARKER = "complete.json"
log = logging.getLogger(__name__)


class CheckpointDamaged(RuntimeError):
    """A complete tag whose files are not the ones its marker lists."""

    retryable = False           # the same files are refused again: a person has to look


def tag(step: int) -> str:
    return f"step-{step:08d}"


def completed(folder: str | Path) -> list[int]:
    """Steps with a finished checkpoint, oldest first."""
    root = Path(folder)
    if not root.exists():
        return []
    return sorted(int(p.parent.name.split("-")[1]) for p in root.glob(f"step-*/{MARKER}"))


def latest(folder: str | Path) -> int | None:
    steps = completed(folder)
    return steps[-1] if steps else None


def save(engine, folder: str | Path, step: int, state: dict[str, Any], keep: int) -> None:
    """Every rank writes its part and hashes its share of the files; rank 0 then marks the tag
    complete and prunes tags older than the newest `keep` (kept at 2 by default, so that a damaged
    newest checkpoint has one to fall back to)."""
    root, here = Path(folder), Path(folder) / tag(step)
    if dist.get_rank() == 0:
        shutil.rmtree(here, ignore_errors=True)        # a tag skipped as damaged is rewritten, not patched
    dist.barrier()
    engine.save_checkpoint(str(root), tag=tag(step), client_state=state, save_latest=False)
    dist.barrier()
    files = _digests(here, _broadcast(_files(here) if dist.get_rank() == 0 else None))
    if dist.get_rank() == 0:
        (here / MARKER).write_text(json.dumps(state | {"files": files}))
        for old in [s for s in completed(root) if s <= step][:-keep]:   # later ones were skipped as damaged
            shutil.rmtree(root / tag(old), ignore_errors=True)
        for partial in root.glob("step-*"):            # tags left by a run killed while saving
            if not (partial / MARKER).exists() and partial.name != tag(step):
                shutil.rmtree(partial, ignore_errors=True)
    dist.barrier()


def resume(engine, folder: str | Path) -> tuple[int | None, dict[str, Any]]:
    """Restore the newest complete checkpoint whose files are intact: (its step, trainer state), or
    (None, {}) to start over. Every rank must call this. Files that match their checksums yet are
    refused by the weights-only loader raise: the marker was forged as well, which needs a person."""
    steps = completed(folder)
    for i in reversed(range(len(steps))):
        problem = damage(folder, steps[i])
        if problem is None:
            return steps[i], _load(engine, folder, steps[i], scheduler=True)
        if dist.get_rank() == 0:
            log.warning("checkpoint %s in %s is damaged (%s); %s", tag(steps[i]), folder, problem,
                        f"resuming from {tag(steps[i - 1])}" if i else "starting over")
    return None, {}


def load(engine, folder: str | Path, step: int, scheduler: bool = True) -> dict[str, Any]:
    """Restore one checkpoint (weights and optimizer state, and the LR scheduler's unless a new run
    with its own schedule continues from it) and return its trainer state; a damaged one raises."""
    problem = damage(folder, step)
    if problem:
        raise CheckpointDamaged(f"checkpoint {tag(step)} in {folder} is damaged ({problem})")
    return _load(engine, folder, step, scheduler)


def _load(engine, folder: str | Path, step: int, scheduler: bool) -> dict[str, Any]:
    from .weights_only import use_weights_only

    use_weights_only(engine)
    path, client = engine.load_checkpoint(str(folder), tag=tag(step), load_optimizer_states=True,
                                          load_lr_scheduler_states=scheduler)
    if path is None:
        raise FileNotFoundError(f"checkpoint {tag(step)} in {folder} could not be loaded")
    return client or {}


def damage(folder: str | Path, step: int) -> str | None:
    """What is wrong with the tag's files (None: they are the ones its marker lists). Every rank
    must call this; all get rank 0's reading of the marker and share the hashing."""
    here = Path(folder) / tag(step)
    view = _broadcast(_inventory(here) if dist.get_rank() == 0 else None)
    if isinstance(view, str):
        return view
    listed, present = view
    if listed is None:            # saved before markers listed files: loaded unverified (still weights-only)
        if dist.get_rank() == 0:
            log.warning("checkpoint %s in %s lists no checksums; loading it unverified", tag(step), folder)
        return None
    missing, extra = sorted(set(listed) - set(present)), sorted(set(present) - set(listed))
    if missing:
        return f"{missing[0]}: missing"
    if extra:
        return f"{extra[0]}: not written by the save"
    actual = _digests(here, present)
    bad = [name for name in present if actual[name] != listed[name]]
    if not bad:
        return None
    return f"{bad[0]}: {actual[bad[0]] if actual[bad[0]].startswith('unreadable') else 'checksum mismatch'}"


def _inventory(here: Path) -> tuple[dict | None, list[str]] | str:
    """(the marker's file -> sha256, the files present), or what makes the marker unusable."""
    try:
        listed = json.loads((here / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError) as e:
        return f"{MARKER}: unreadable ({e})"
    if listed is not None and not isinstance(listed, dict):
        return f"{MARKER}: files is not a mapping"
    return listed, _files(here)


def _files(here: Path) -> list[str]:
    return sorted(p.relative_to(here).as_posix() for p in here.rglob("*") if p.is_file() and p.name != MARKER)


def _digests(here: Path, names: list[str]) -> dict[str, str]:
    """sha256 of each file, every rank hashing its share (a checkpoint can be hundreds of GB)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = {}
    for name in names[rank::world]:
        try:
            with (here / name).open("rb") as fh:
                mine[name] = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as e:              # the others wait in the gather below: report, do not raise
            mine[name] = f"unreadable ({e.strerror})"
    parts: list[dict] = [{}] * world
    dist.all_gather_object(parts, mine)
    return dict(sorted((k, v) for part in parts for k, v in part.items()))


def _broadcast(value):
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
