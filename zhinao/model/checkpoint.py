"""Training checkpoints: DeepSpeed's (module, optimizer and LR-scheduler state, per rank) under
`step-<n>` tags, plus our trainer state. A tag counts only once its `complete` marker exists, so a
run killed while saving resumes from the previous checkpoint; older checkpoints are pruned."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch.distributed as dist

MARKER = "complete.json"


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
    """Every rank writes its part; rank 0 then marks the tag complete and prunes old tags."""
    root = Path(folder)
    engine.save_checkpoint(str(root), tag=tag(step), client_state=state, save_latest=False)
    dist.barrier()
    if dist.get_rank() == 0:
        (root / tag(step) / MARKER).write_text(json.dumps(state))
        for old in completed(root)[:-keep]:
            shutil.rmtree(root / tag(old), ignore_errors=True)
        for partial in root.glob("step-*"):            # tags left by a run killed while saving
            if not (partial / MARKER).exists() and partial.name != tag(step):
                shutil.rmtree(partial, ignore_errors=True)
    dist.barrier()


def load(engine, folder: str | Path, step: int, scheduler: bool = True) -> dict[str, Any]:
    """Restore a checkpoint (weights and optimizer state, and the LR scheduler's unless a new run
    with its own schedule continues from it) and return its trainer state."""
    path, client = engine.load_checkpoint(str(folder), tag=tag(step), load_optimizer_states=True,
                                          load_lr_scheduler_states=scheduler)
    if path is None:
        raise FileNotFoundError(f"checkpoint {tag(step)} in {folder} could not be loaded")
    return client or {}
